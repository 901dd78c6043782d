/// The sans-I/O PTP clock: one v1 port (Dante) and one v2 port (AES67, linuxptp) around one servo and one
/// overlay. It takes datagrams with their receive times, transmit times of its own messages, host-clock samples
/// and timer ticks, and returns actions: datagrams to send (with a token when it needs their transmit time) and
/// overlay updates. Every time is underlying-clock ns (the runtime uses CLOCK_MONOTONIC_RAW); the PTP timescale
/// is the overlay of that clock.
///
/// What the overlay follows (its reference), in order: the v1 leader when the v1 port follows one (the Dante
/// network), else the v2 leader, else the host clock (CLOCK_TAI, plus the test-only shift) while the device
/// has never followed anyone, else holdover (the last frequency, free running) — so a follower that takes over
/// as leader keeps the network's timescale instead of jumping back to its host's.
///
/// Elections: v1 by the 2002 algorithm over Syncs (a foreign leader qualifies with 2 Syncs within 4 of its
/// intervals, expires after 10 intervals of silence); v2 by the 2008 algorithm over Announces (2 within 4
/// intervals, expiry after 3). A port with no better leader becomes leader after its receipt timeout plus a random
/// 0–1 s (`--ptp-leader auto|preferred`); `never` only follows. docs/ptp.md has the decisions behind each number.
public struct PTPClockCore: Sendable {
    public enum LeaderMode: String, Sendable, CaseIterable { case never, auto, preferred }

    public struct Configuration: Sendable {
        /// The interface's MAC: v1 uuid, and (as EUI-64) the v2 clock identity.
        public var mac: [UInt8]
        /// Port number of both ports (distinct per process on one host).
        public var portNumber: UInt16 = 1
        public var v1 = true
        public var v2 = true
        public var domain: UInt8 = 0
        public var subdomain: [UInt8] = PTPv1.defaultSubdomain
        public var leader: LeaderMode = .auto
        public var v1LogSyncInterval: Int8 = -2
        public var v2LogSyncInterval: Int8 = -3
        public var v2LogAnnounceInterval: Int8 = 0
        /// Follower Delay_Req period (randomised ×0.5…1.5).
        public var delayRequestIntervalNs: Int64 = 1_000_000_000
        public var hardwareTimestamps = false
        /// Test only: the leader's timescale is host + offset + ppm·(u − start).
        public var timescaleOffsetNs: Int64 = 0
        public var timescalePpm: Double = 0
        public var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        /// Foreign leaders remembered per port; more are counted and dropped.
        public var maxForeignMasters = 16

        public init(mac: [UInt8]) { self.mac = PTPv1Header.fixed(mac, 6) }

        public var clockIdentity: [UInt8] { PTPPortIdentity.eui64(mac: mac) }
        public var portIdentity: PTPPortIdentity { PTPPortIdentity(clockIdentity: clockIdentity, portNumber: portNumber) }
    }

    /// Something for the runtime to do.
    public enum Action: Equatable, Sendable {
        /// Send on the event (319) or general (320) socket of `version`'s TOS. With a token, report the transmit
        /// time through `transmitted(token:at:)`.
        case send([UInt8], event: Bool, version: Int, token: UInt32?)
        /// Publish this overlay; `stepNs` when the timescale jumped (by −stepNs).
        case overlay(ClockOverlay, stepNs: Int64?)
        /// A port changed state or leader (for the log).
        case stateChanged(version: Int, state: PTPPortState, leader: String?)
    }

    public enum Reference: String, Sendable { case host, v1, v2, holdover }

    /// What `inferno clock show` prints.
    public struct Status: Equatable, Sendable {
        public var reference: Reference
        public var v1State: PTPPortState
        public var v2State: PTPPortState
        public var leader: String?
        public var servo: PTPServo.State
        public var offsetNs: Int64
        public var pathDelayNs: Int64
        public var freqScale: Double
        public var lastSyncUnderlyingNs: Int64?
        public var counters: Counters
        public var preferred: Bool
        /// The followed leader's MAC (v1 uuid, or the v2 identity without FF FE), nil when not following.
        public var leaderMAC: [UInt8]?
    }

    public struct Counters: Equatable, Sendable {
        public var received = 0
        public var malformed = 0
        /// Our own datagrams (multicast loop) and other domains/subdomains.
        public var ignored = 0
        public var syncsUsed = 0
        public var delayResponses = 0
        public var rejectedSamples = 0
        public var steps = 0
        public var foreignDropped = 0
        public var sent = 0
    }

    public private(set) var configuration: Configuration
    public private(set) var counters = Counters()
    public private(set) var reference: Reference = .host
    public private(set) var servo: PTPServo
    public private(set) var overlay: ClockOverlay?
    public private(set) var preferred: Bool
    private var hostServo: PTPServo
    private var rng: UInt64
    private var nextToken: UInt32 = 1
    private var pending: [UInt32: PendingTX] = [:]
    private var startU: Int64?
    private var stepEpoch = 0
    private var delays = DelayFilter()
    private var lastSyncU: Int64?

    private var p1 = PortV1()
    private var p2 = PortV2()

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.preferred = configuration.leader == .preferred
        servo = PTPServo(configuration: .init(intervalSeconds: 0.25, hardwareTimestamps: configuration.hardwareTimestamps))
        hostServo = PTPServo(configuration: .init(intervalSeconds: 0.25, hardwareTimestamps: true))
        rng = configuration.seed
        if !configuration.v1 { p1.state = .disabled }
        if !configuration.v2 { p2.state = .disabled }
    }

    // MARK: Inputs

    /// A host-clock sample: TAI − underlying at `u` (the runtime takes it every 250 ms). Drives the overlay
    /// while the reference is the host, and starts the ports on the first call.
    public mutating func hostSample(taiMinusUnderlyingNs d: Int64, at u: Int64) -> [Action] {
        var out: [Action] = []
        if startU == nil {
            startU = u
            let listen = receiptV1Ns + random(upTo: 1_000_000_000)
            if p1.state != .disabled { p1.state = .listening; p1.listenUntil = u &+ listen }
            if p2.state != .disabled { p2.state = .listening; p2.listenUntil = u &+ receiptV2Ns(configuration.v2LogAnnounceInterval) + random(upTo: 1_000_000_000) }
        }
        guard reference == .host else { return out }
        let elapsed = Double(u &- (startU ?? u))
        let target = u &+ d &+ configuration.timescaleOffsetNs &+ Int64((elapsed * configuration.timescalePpm * 1e-6).rounded())
        var o = overlay ?? ClockOverlay(clockID: 4, lastSync: u, shift: 0, freqScale: 0)
        let r = hostServo.sample(referenceNs: target, at: u, overlay: &o)
        let step: Int64?
        if case .stepped(let s) = r { step = s } else { step = nil }
        overlay = o
        out.append(.overlay(o, stepNs: step))
        return out
    }

    /// A datagram from the event (319) or general (320) socket, received at underlying time `rx`.
    public mutating func receive(_ bytes: [UInt8], event: Bool, at rx: Int64) -> [Action] {
        counters.received += 1
        var out: [Action] = []
        switch PTP.version(of: bytes) {
        case 1 where configuration.v1:
            do throws(WireError) {
                let m = try PTPv1Message.decode(bytes)
                receiveV1(m, at: rx, &out)
            } catch { counters.malformed += 1 }
        case 2 where configuration.v2:
            do throws(WireError) {
                let m = try PTPv2Message.decode(bytes)
                receiveV2(m, at: rx, &out)
            } catch { counters.malformed += 1 }
        case 1, 2:
            counters.ignored += 1
        default:
            counters.malformed += 1
        }
        return out
    }

    /// The transmit time of a datagram sent with `token`.
    public mutating func transmitted(token: UInt32, at u: Int64) -> [Action] {
        guard let p = pending.removeValue(forKey: token), let o = overlay else { return [] }
        var out: [Action] = []
        let t = o.overlayTime(underlyingNs: u)
        switch p {
        case .v1Sync(let seq):
            var h = v1Header(.followUp, seq: seq)
            h.messageType = PTPv1.generalMessage
            out.append(sendV1(.followUp(PTPv1FollowUp(header: h, associatedSequenceId: seq,
                                                      preciseOriginTimestamp: PTPTimestamp(ns: t))), event: false))
        case .v2Sync(let seq):
            let h = PTPv2Header(messageType: .followUp, domainNumber: configuration.domain, flags: v2Flags,
                                sourcePortIdentity: configuration.portIdentity, sequenceId: seq,
                                logMessageInterval: configuration.v2LogSyncInterval)
            out.append(sendV2(.followUp(h, preciseOriginTimestamp: PTPTimestamp(ns: t)), event: false))
        case .v1DelayReq(let seq):
            if p1.delayReqSeq == seq { p1.t3 = (t, stepEpoch) }
        case .v2DelayReq(let seq):
            if p2.delayReqSeq == seq { p2.t3 = (t, stepEpoch) }
        }
        return out
    }

    /// Timers: call at `nextDeadline` (or sooner).
    public mutating func tick(now u: Int64) -> [Action] {
        var out: [Action] = []
        guard startU != nil else { return out }
        tickV1(u, &out)
        tickV2(u, &out)
        // Stamps that never came back are forgotten after a second.
        if pending.count > 64 { pending.removeAll() }
        return out
    }

    /// The earliest time `tick` has something to do.
    public var nextDeadline: Int64? {
        [p1.nextSync, p1.nextDelayReq, p1.listenUntil, p1.expiry, p2.nextSync, p2.nextAnnounce, p2.nextDelayReq,
         p2.listenUntil, p2.expiry].compactMap { $0 }.min()
    }

    /// Conmon 0x0021 at run time.
    public mutating func setPreferred(_ on: Bool) {
        preferred = on
        if !on, p1.state == .master || p2.state == .master { /* re-evaluated on the next foreign Sync */ }
    }

    public var status: Status {
        Status(reference: reference, v1State: p1.state, v2State: p2.state, leader: leaderText,
               servo: reference == .host ? hostServo.state : servo.state, offsetNs: servo.lastOffsetNs,
               pathDelayNs: delays.median, freqScale: frequencyEstimate, lastSyncUnderlyingNs: lastSyncU,
               counters: counters, preferred: preferred, leaderMAC: leaderMAC)
    }

    private var leaderMAC: [UInt8]? {
        switch reference {
        case .v1: return p1.master?.uuid
        case .v2:
            guard let id = p2.master?.clockIdentity, id.count == 8 else { return nil }
            return [id[0], id[1], id[2], id[5], id[6], id[7]]
        case .host, .holdover: return nil
        }
    }

    /// The frequency of the overlay against the underlying clock (smoothed: the servo's integral term).
    public var frequencyEstimate: Double {
        guard let o = overlay else { return 0 }
        switch reference {
        case .host: return hostServo.frequencyEstimate(o)
        case .v1, .v2: return servo.frequencyEstimate(o)
        case .holdover: return o.freqScale
        }
    }

    /// The v1 port state conmon 0x0020 reports (1588-2008 numbers), v2's when v1 is off.
    public var reportedState: PTPPortState { configuration.v1 ? p1.state : p2.state }

    private var leaderText: String? {
        switch reference {
        case .v1: return p1.master.map { "v1 " + PTPPortIdentity.text($0.uuid) + "-\($0.port)" }
        case .v2: return p2.master.map { "v2 " + $0.description }
        case .host, .holdover:
            if p1.state == .master || p2.state == .master { return "self" }
            return nil
        }
    }

    // MARK: v1

    private struct V1Key: Hashable, Sendable { var uuid: [UInt8]; var port: UInt16 }
    private struct PortV1: Sendable {
        var state: PTPPortState = .initializing
        var foreign = ForeignLeaders<V1Key, PTPv1Dataset>(expiryIntervals: 10)
        var master: V1Key?
        var listenUntil: Int64?
        var expiry: Int64?
        var nextSync: Int64?
        var nextDelayReq: Int64?
        var syncSeq: UInt16 = 0
        var delayReqSeq: UInt16 = 0
        var delayRespSeq: UInt16 = 0
        var lastSync: (seq: UInt16, rx: Int64, twoStep: Bool)?
        var rawSync: (ns: Int64, epoch: Int)?
        var t3: (ns: Int64, epoch: Int)?
        var lastMasterSync: PTPv1Sync?
    }

    private var receiptV1Ns: Int64 { 10 * intervalNs(configuration.v1LogSyncInterval) }

    private var ownV1Dataset: PTPv1Dataset {
        PTPv1Dataset(grandmaster: ownV1Quality, grandmasterUuid: configuration.mac, grandmasterPortId: configuration.portNumber,
                     stepsRemoved: 0, senderUuid: configuration.mac, senderPortId: configuration.portNumber)
    }
    private var ownV1Quality: PTPv1ClockQuality {
        // Loses to any hardware unless preferred (docs/ptp.md §1.2).
        PTPv1ClockQuality(stratum: configuration.leader == .never ? 255 : 4, variance: 32767, preferred: preferred)
    }

    private mutating func receiveV1(_ m: PTPv1Message, at rx: Int64, _ out: inout [Action]) {
        let h = m.header
        guard h.subdomain == configuration.subdomain else { counters.ignored += 1; return }
        let key = V1Key(uuid: h.sourceUuid, port: h.sourcePortId)
        if h.sourceUuid == configuration.mac && h.sourcePortId == configuration.portNumber { counters.ignored += 1; return }
        switch m {
        case .sync(let s):
            guard s.localStepsRemoved < 255 else { counters.ignored += 1; return }
            guard p1.foreign.record(key, PTPv1Dataset(sync: s), at: rx, logInterval: s.syncInterval,
                                    capacity: configuration.maxForeignMasters) else { counters.foreignDropped += 1; return }
            decideV1(now: rx, &out)
            if p1.master == key {
                p1.lastMasterSync = s
                p1.expiry = rx &+ 10 * intervalNs(p1.foreign.logInterval(key) ?? -2)
                let twoStep = h.flags & PTPv1.flagAssist != 0
                p1.lastSync = (h.sequenceId, rx, twoStep)
                if !twoStep { syncSampleV1(t1: s.originTimestamp.ns, t2u: rx, &out) }
                if p1.nextDelayReq == nil { p1.nextDelayReq = rx &+ 50_000_000 }
            }
        case .followUp(let fu):
            guard p1.master == key, let ls = p1.lastSync, ls.twoStep,
                  fu.associatedSequenceId == ls.seq || h.sequenceId == ls.seq else { return }
            p1.lastSync = nil
            syncSampleV1(t1: fu.preciseOriginTimestamp.ns, t2u: ls.rx, &out)
        case .delayReq(let d):
            guard p1.state == .master, let o = overlay else { return }
            var rh = v1Header(.delayResp, seq: p1.delayRespSeq)
            rh.messageType = PTPv1.generalMessage
            p1.delayRespSeq &+= 1
            out.append(sendV1(.delayResp(PTPv1DelayResp(
                header: rh, delayReceiptTimestamp: PTPTimestamp(ns: o.overlayTime(underlyingNs: rx)),
                requestingSourceCommunicationTechnology: d.header.sourceCommunicationTechnology,
                requestingSourceUuid: d.header.sourceUuid, requestingSourcePortId: d.header.sourcePortId,
                requestingSourceSequenceId: d.header.sequenceId)), event: false))
        case .delayResp(let r):
            guard p1.master == key, r.requestingSourceUuid == configuration.mac,
                  r.requestingSourcePortId == configuration.portNumber, r.requestingSourceSequenceId == p1.delayReqSeq,
                  let t3 = p1.t3, let raw = p1.rawSync, t3.epoch == stepEpoch, raw.epoch == stepEpoch else { return }
            p1.t3 = nil
            counters.delayResponses += 1
            delays.add((raw.ns + (r.delayReceiptTimestamp.ns &- t3.ns)) / 2)
        case .management:
            counters.ignored += 1
        }
    }

    private mutating func syncSampleV1(t1: Int64, t2u: Int64, _ out: inout [Action]) {
        guard reference == .v1 else { return }
        timingSample(t1: t1, t2u: t2u, intervalLog: p1.master.flatMap { p1.foreign.logInterval($0) } ?? -2, &out)
        p1.rawSync = lastRaw
    }

    private mutating func decideV1(now u: Int64, _ out: inout [Action]) {
        guard p1.state != .disabled, p1.state != .initializing else { return }
        p1.foreign.expire(now: u)
        let best = p1.foreign.best(by: PTPBestMaster.isBetter)
        let mayLead = configuration.leader != .never || preferred
        if let (k, d) = best, !mayLead || PTPBestMaster.isBetter(d, than: ownV1Dataset) {
            if p1.master != k || p1.state != .slave {
                p1.master = k
                setV1(.slave, now: u, &out)
            }
            return
        }
        if p1.master != nil { p1.master = nil }
        switch p1.state {
        case .slave:
            enterListeningV1(u, &out)
        case .listening:
            if best != nil || (p1.listenUntil.map { u >= $0 } ?? false), mayLead { setV1(.master, now: u, &out) }
            // A follower-only port has nothing to do when the listening time is over: no deadline left (else the
            // runtime would wake at once, forever).
            if !mayLead, let l = p1.listenUntil, u >= l { p1.listenUntil = nil }
        default: break
        }
    }

    private mutating func enterListeningV1(_ u: Int64, _ out: inout [Action]) {
        p1.listenUntil = u &+ receiptV1Ns &+ random(upTo: 1_000_000_000)
        setV1(.listening, now: u, &out)
    }

    private mutating func setV1(_ s: PTPPortState, now u: Int64, _ out: inout [Action]) {
        p1.state = s
        p1.nextSync = nil; p1.nextDelayReq = nil; p1.expiry = nil; p1.lastSync = nil; p1.t3 = nil; p1.rawSync = nil
        if s != .listening { p1.listenUntil = nil }
        if s == .master { p1.nextSync = u }
        if s == .slave { p1.expiry = u &+ receiptV1Ns }
        updateReference(&out)
        out.append(.stateChanged(version: 1, state: s, leader: p1.master.map { PTPPortIdentity.text($0.uuid) + "-\($0.port)" }))
    }

    private mutating func tickV1(_ u: Int64, _ out: inout [Action]) {
        guard p1.state != .disabled else { return }
        if let e = p1.expiry, u >= e, p1.state == .slave {
            // The leader went silent: holdover, and elect again.
            if let m = p1.master { p1.foreign.remove(m) }
            p1.master = nil
            enterListeningV1(u, &out)
        }
        if p1.state == .listening || p1.state == .master { decideV1(now: u, &out) }
        if let due = p1.nextSync, u >= due, p1.state == .master, let o = overlay {
            p1.nextSync = max(due &+ intervalNs(configuration.v1LogSyncInterval), u)
            let seq = p1.syncSeq
            p1.syncSeq &+= 1
            var h = v1Header(.sync, seq: seq)
            h.flags = PTPv1.flagAssist
            let q = ownV1Quality
            let body = PTPv1Sync(header: h, originTimestamp: PTPTimestamp(ns: o.overlayTime(underlyingNs: u)),
                                 grandmasterUuid: configuration.mac, grandmasterPortId: configuration.portNumber,
                                 grandmasterSequenceId: seq, grandmaster: q, syncInterval: configuration.v1LogSyncInterval,
                                 localClockVariance: q.variance, localStepsRemoved: 0, localClockStratum: q.stratum,
                                 parentUuid: configuration.mac, parentPortField: configuration.portNumber,
                                 estimatedMasterVariance: -1, estimatedMasterDrift: .max)
            let token = newToken(.v1Sync(seq))
            out.append(sendV1(.sync(body), event: true, token: token))
        }
        if let due = p1.nextDelayReq, u >= due, p1.state == .slave, let s = p1.lastMasterSync, let o = overlay {
            p1.nextDelayReq = u &+ jittered(configuration.delayRequestIntervalNs)
            p1.delayReqSeq &+= 1
            let seq = p1.delayReqSeq
            let h = v1Header(.delayReq, seq: seq)
            let body = PTPv1Sync(header: h, originTimestamp: PTPTimestamp(ns: o.overlayTime(underlyingNs: u)),
                                 grandmasterCommunicationTechnology: s.grandmasterCommunicationTechnology,
                                 grandmasterUuid: s.grandmasterUuid, grandmasterPortId: s.grandmasterPortId,
                                 grandmasterSequenceId: s.grandmasterSequenceId, grandmaster: s.grandmaster,
                                 syncInterval: 0x7F, localClockVariance: 32767, localStepsRemoved: s.localStepsRemoved &+ 1,
                                 localClockStratum: 255, parentUuid: s.header.sourceUuid,
                                 parentPortField: s.header.sourcePortId)
            p1.t3 = nil
            out.append(sendV1(.delayReq(body), event: true, token: newToken(.v1DelayReq(seq))))
        }
    }

    private func v1Header(_ c: PTPv1.Control, seq: UInt16) -> PTPv1Header {
        PTPv1Header(subdomain: configuration.subdomain, messageType: PTPv1.eventMessage, sourceUuid: configuration.mac,
                    sourcePortId: configuration.portNumber, sequenceId: seq, control: c)
    }

    private mutating func sendV1(_ m: PTPv1Message, event: Bool, token: UInt32? = nil) -> Action {
        counters.sent += 1
        return .send(m.encode(), event: event, version: 1, token: token)
    }

    // MARK: v2

    private struct PortV2: Sendable {
        var state: PTPPortState = .initializing
        var foreign = ForeignLeaders<PTPPortIdentity, PTPv2Dataset>(expiryIntervals: 3)
        var master: PTPPortIdentity?
        var listenUntil: Int64?
        var expiry: Int64?
        var nextSync: Int64?
        var nextAnnounce: Int64?
        var nextDelayReq: Int64?
        var syncSeq: UInt16 = 0
        var announceSeq: UInt16 = 0
        var delayReqSeq: UInt16 = 0
        var lastSync: (seq: UInt16, rx: Int64, correction: Int64, twoStep: Bool)?
        var rawSync: (ns: Int64, epoch: Int)?
        var t3: (ns: Int64, epoch: Int)?
        var syncLog: Int8 = 0
    }

    private func receiptV2Ns(_ log: Int8) -> Int64 { 3 * intervalNs(log) }

    private var ownV2Dataset: PTPv2Dataset {
        PTPv2Dataset(priority1: preferred ? 127 : 250, clockClass: configuration.leader == .never && !preferred ? 255 : 248,
                     clockAccuracy: 0xFE, offsetScaledLogVariance: 0xFFFF, priority2: 128,
                     grandmasterIdentity: configuration.clockIdentity, stepsRemoved: 0, sender: configuration.portIdentity)
    }

    /// ARB timescale: the leader's epoch is its host clock, not traceable.
    private var v2Flags: UInt16 { 0 }

    private mutating func receiveV2(_ m: PTPv2Message, at rx: Int64, _ out: inout [Action]) {
        let h = m.header
        guard h.domainNumber == configuration.domain else { counters.ignored += 1; return }
        if h.sourcePortIdentity.clockIdentity == configuration.clockIdentity
            && h.sourcePortIdentity.portNumber == configuration.portNumber { counters.ignored += 1; return }
        let key = h.sourcePortIdentity
        switch m {
        case .announce(let a):
            guard a.stepsRemoved < 255, a.grandmasterIdentity != configuration.clockIdentity else { counters.ignored += 1; return }
            guard p2.foreign.record(key, PTPv2Dataset(announce: a), at: rx, logInterval: h.logMessageInterval,
                                    capacity: configuration.maxForeignMasters) else { counters.foreignDropped += 1; return }
            decideV2(now: rx, &out)
            if p2.master == key { p2.expiry = rx &+ receiptV2Ns(p2.foreign.logInterval(key) ?? 1) }
        case .sync(_, let origin):
            guard p2.master == key, p2.state == .slave else { return }
            p2.syncLog = min(max(h.logMessageInterval, -7), 4)
            let twoStep = h.flags & PTPv2.flagTwoStep != 0
            p2.lastSync = (h.sequenceId, rx, h.correctionNs, twoStep)
            if !twoStep { syncSampleV2(t1: origin.ns &+ h.correctionNs, t2u: rx, &out) }
            if p2.nextDelayReq == nil { p2.nextDelayReq = rx &+ 50_000_000 }
        case .followUp(_, let precise):
            guard p2.master == key, let ls = p2.lastSync, ls.twoStep, ls.seq == h.sequenceId else { return }
            p2.lastSync = nil
            syncSampleV2(t1: precise.ns &+ ls.correction &+ h.correctionNs, t2u: ls.rx, &out)
        case .delayReq:
            guard p2.state == .master, let o = overlay else { return }
            let rh = PTPv2Header(messageType: .delayResp, domainNumber: configuration.domain, flags: v2Flags,
                                 sourcePortIdentity: configuration.portIdentity, sequenceId: h.sequenceId,
                                 logMessageInterval: 0)
            out.append(sendV2(.delayResp(PTPv2DelayResp(header: rh, receiveTimestamp: PTPTimestamp(ns: o.overlayTime(underlyingNs: rx) &- h.correctionNs),
                                                        requestingPortIdentity: h.sourcePortIdentity)), event: false))
        case .delayResp(let r):
            guard p2.master == key, r.requestingPortIdentity == configuration.portIdentity, h.sequenceId == p2.delayReqSeq,
                  let t3 = p2.t3, let raw = p2.rawSync, t3.epoch == stepEpoch, raw.epoch == stepEpoch else { return }
            p2.t3 = nil
            counters.delayResponses += 1
            let t4 = r.receiveTimestamp.ns &- h.correctionNs
            delays.add((raw.ns + (t4 &- t3.ns)) / 2)
        case .other:
            counters.ignored += 1
        }
    }

    private mutating func syncSampleV2(t1: Int64, t2u: Int64, _ out: inout [Action]) {
        guard reference == .v2 else { return }
        timingSample(t1: t1, t2u: t2u, intervalLog: p2.syncLog, &out)
        p2.rawSync = lastRaw
    }

    private mutating func decideV2(now u: Int64, _ out: inout [Action]) {
        guard p2.state != .disabled, p2.state != .initializing else { return }
        p2.foreign.expire(now: u)
        let best = p2.foreign.best(by: PTPBestMaster.isBetter)
        let mayLead = configuration.leader != .never || preferred
        if let (k, d) = best, !mayLead || PTPBestMaster.isBetter(d, than: ownV2Dataset) {
            if p2.master != k || p2.state != .slave {
                p2.master = k
                setV2(.slave, now: u, &out)
            }
            return
        }
        p2.master = nil
        switch p2.state {
        case .slave:
            enterListeningV2(u, &out)
        case .listening:
            if best != nil || (p2.listenUntil.map { u >= $0 } ?? false), mayLead { setV2(.master, now: u, &out) }
            if !mayLead, let l = p2.listenUntil, u >= l { p2.listenUntil = nil }
        default: break
        }
    }

    private mutating func enterListeningV2(_ u: Int64, _ out: inout [Action]) {
        p2.listenUntil = u &+ receiptV2Ns(configuration.v2LogAnnounceInterval) &+ random(upTo: 1_000_000_000)
        setV2(.listening, now: u, &out)
    }

    private mutating func setV2(_ s: PTPPortState, now u: Int64, _ out: inout [Action]) {
        p2.state = s
        p2.nextSync = nil; p2.nextAnnounce = nil; p2.nextDelayReq = nil; p2.expiry = nil; p2.lastSync = nil
        p2.t3 = nil; p2.rawSync = nil
        if s != .listening { p2.listenUntil = nil }
        if s == .master { p2.nextSync = u; p2.nextAnnounce = u }
        if s == .slave { p2.expiry = u &+ receiptV2Ns(p2.master.flatMap { p2.foreign.logInterval($0) } ?? 1) }
        updateReference(&out)
        out.append(.stateChanged(version: 2, state: s, leader: p2.master?.description))
    }

    private mutating func tickV2(_ u: Int64, _ out: inout [Action]) {
        guard p2.state != .disabled else { return }
        if let e = p2.expiry, u >= e, p2.state == .slave {
            if let m = p2.master { p2.foreign.remove(m) }
            p2.master = nil
            enterListeningV2(u, &out)
        }
        if p2.state == .listening || p2.state == .master { decideV2(now: u, &out) }
        guard let o = overlay else { return }
        if let due = p2.nextAnnounce, u >= due, p2.state == .master {
            p2.nextAnnounce = max(due &+ intervalNs(configuration.v2LogAnnounceInterval), u)
            let d = ownV2Dataset
            let h = PTPv2Header(messageType: .announce, domainNumber: configuration.domain, flags: v2Flags,
                                sourcePortIdentity: configuration.portIdentity, sequenceId: p2.announceSeq,
                                logMessageInterval: configuration.v2LogAnnounceInterval)
            p2.announceSeq &+= 1
            out.append(sendV2(.announce(PTPv2Announce(header: h, grandmasterPriority1: d.priority1, grandmasterClockClass: d.clockClass,
                                                      grandmasterClockAccuracy: d.clockAccuracy,
                                                      grandmasterOffsetScaledLogVariance: d.offsetScaledLogVariance,
                                                      grandmasterPriority2: d.priority2, grandmasterIdentity: d.grandmasterIdentity,
                                                      stepsRemoved: 0, timeSource: PTPv2.timeSourceInternalOscillator)), event: false))
        }
        if let due = p2.nextSync, u >= due, p2.state == .master {
            p2.nextSync = max(due &+ intervalNs(configuration.v2LogSyncInterval), u)
            let seq = p2.syncSeq
            p2.syncSeq &+= 1
            let h = PTPv2Header(messageType: .sync, domainNumber: configuration.domain, flags: v2Flags | PTPv2.flagTwoStep,
                                sourcePortIdentity: configuration.portIdentity, sequenceId: seq,
                                logMessageInterval: configuration.v2LogSyncInterval)
            out.append(sendV2(.sync(h, originTimestamp: PTPTimestamp(ns: o.overlayTime(underlyingNs: u))), event: true,
                              token: newToken(.v2Sync(seq))))
        }
        if let due = p2.nextDelayReq, u >= due, p2.state == .slave {
            p2.nextDelayReq = u &+ jittered(configuration.delayRequestIntervalNs)
            p2.delayReqSeq &+= 1
            let h = PTPv2Header(messageType: .delayReq, domainNumber: configuration.domain,
                                sourcePortIdentity: configuration.portIdentity, sequenceId: p2.delayReqSeq,
                                logMessageInterval: 0x7F)
            p2.t3 = nil
            out.append(sendV2(.delayReq(h, originTimestamp: PTPTimestamp(ns: o.overlayTime(underlyingNs: u))), event: true,
                              token: newToken(.v2DelayReq(p2.delayReqSeq))))
        }
    }

    private mutating func sendV2(_ m: PTPv2Message, event: Bool, token: UInt32? = nil) -> Action {
        counters.sent += 1
        return .send(m.encode(), event: event, version: 2, token: token)
    }

    // MARK: Shared timing

    private enum PendingTX: Sendable {
        case v1Sync(UInt16), v1DelayReq(UInt16), v2Sync(UInt16), v2DelayReq(UInt16)
    }

    private var lastRaw: (ns: Int64, epoch: Int)?

    /// One (t1, t2) pair from the followed leader: offset = (t2 − t1) − delay into the servo.
    private mutating func timingSample(t1: Int64, t2u: Int64, intervalLog: Int8, _ out: inout [Action]) {
        guard var o = overlay else { return }
        let raw = o.overlayTime(underlyingNs: t2u) &- t1
        counters.syncsUsed += 1
        lastSyncU = t2u
        let wanted = PTPServo.Configuration(intervalSeconds: Double(intervalNs(intervalLog)) / 1e9,
                                            hardwareTimestamps: configuration.hardwareTimestamps)
        servo.configuration.kp = wanted.kp
        servo.configuration.ki = wanted.ki
        let r = servo.sample(referenceNs: t1 &+ delays.median, rateReferenceNs: t1, at: t2u, overlay: &o)
        switch r {
        case .stepped(let s):
            counters.steps += 1
            stepEpoch += 1
            overlay = o
            lastRaw = (raw &- s, stepEpoch)
            out.append(.overlay(o, stepNs: s))
        case .adjusted:
            overlay = o
            lastRaw = (raw, stepEpoch)
            out.append(.overlay(o, stepNs: nil))
        case .acquiring:
            lastRaw = (raw, stepEpoch)
        case .rejected:
            counters.rejectedSamples += 1
            lastRaw = (raw, stepEpoch)
        }
    }

    private mutating func updateReference(_ out: inout [Action]) {
        let new: Reference
        if p1.state == .slave { new = .v1 } else if p2.state == .slave { new = .v2 }
        else if reference == .host { new = .host } else { new = .holdover }
        guard new != reference else { return }
        if new == .holdover, let o = overlay, let u = lastSyncU {
            // Free-run at the servo's rate estimate, without the last phase-steering term.
            let f = servo.frequencyEstimate(o)
            overlay = PTPServo.rebase(o, at: u, freqScale: f, stepNs: 0)
            out.append(.overlay(overlay!, stepNs: nil))
        }
        reference = new
        if new == .v1 || new == .v2 { servo.reset(); delays = DelayFilter() }
    }

    private mutating func newToken(_ p: PendingTX) -> UInt32 {
        let t = nextToken
        nextToken &+= 1
        if nextToken == 0 { nextToken = 1 }
        pending[t] = p
        return t
    }

    private mutating func random(upTo n: Int64) -> Int64 {
        // SplitMix64.
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return n > 0 ? Int64(z % UInt64(n)) : 0
    }

    private mutating func jittered(_ ns: Int64) -> Int64 { ns / 2 &+ random(upTo: ns) }
}

/// 2^log seconds in ns, for log in −7…4 (clamped).
@inlinable
func intervalNs(_ log: Int8) -> Int64 {
    let l = min(max(Int(log), -7), 4)
    return l >= 0 ? 1_000_000_000 << l : 1_000_000_000 >> -l
}

/// The foreign leaders one port has heard (both versions): the last dataset of each, its last arrivals and its
/// interval. A leader qualifies with 2 messages within 4 of its intervals and is forgotten after
/// `expiryIntervals` of silence; at most `capacity` are kept (more are refused, for the caller to count).
struct ForeignLeaders<Key: Hashable & Sendable, Dataset: Sendable>: Sendable {
    struct Entry: Sendable {
        var dataset: Dataset
        var arrivals: [Int64]
        var logInterval: Int8
    }
    let expiryIntervals: Int64
    private var entries: [Key: Entry] = [:]

    init(expiryIntervals: Int64) { self.expiryIntervals = expiryIntervals }

    /// False when the table is full and `key` is new.
    mutating func record(_ key: Key, _ dataset: Dataset, at rx: Int64, logInterval: Int8, capacity: Int) -> Bool {
        if entries[key] == nil && entries.count >= capacity { return false }
        var e = entries[key] ?? Entry(dataset: dataset, arrivals: [], logInterval: 0)
        e.dataset = dataset
        e.logInterval = min(max(logInterval, -7), 4)
        e.arrivals.append(rx)
        if e.arrivals.count > 4 { e.arrivals.removeFirst(e.arrivals.count - 4) }
        entries[key] = e
        return true
    }

    mutating func expire(now u: Int64) {
        entries = entries.filter { u &- ($0.value.arrivals.last ?? u) < expiryIntervals * intervalNs($0.value.logInterval) }
    }

    mutating func remove(_ key: Key) { entries[key] = nil }

    func logInterval(_ key: Key) -> Int8? { entries[key]?.logInterval }

    /// The best qualified leader by `isBetter`.
    func best(by isBetter: (Dataset, Dataset) -> Bool) -> (Key, Dataset)? {
        var best: (Key, Dataset)?
        for (k, e) in entries where e.arrivals.count >= 2
            && e.arrivals[e.arrivals.count - 1] &- e.arrivals[e.arrivals.count - 2] <= 4 * intervalNs(e.logInterval) {
            if best == nil || isBetter(e.dataset, best!.1) { best = (k, e.dataset) }
        }
        return best
    }
}

/// Median of the last 9 path delays (ns), clamped at ≥ 0; 0 before the first.
struct DelayFilter: Sendable {
    private var values: [Int64] = []
    mutating func add(_ d: Int64) {
        values.append(d)
        if values.count > 9 { values.removeFirst() }
    }
    var median: Int64 {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        return max(0, s[s.count / 2])
    }
}
