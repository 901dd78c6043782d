import Testing
@testable import InfernoProtocol

/// Golden vectors: built from the layouts in docs/ptp.md and checked field by field with tshark 4.0.17.
enum PTPVectors {
    static let leader: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
    static let follower: [UInt8] = [0x02, 0, 0, 0, 0, 0x02]
    static let v1Sync = hexBytes("""
        00 01 00 01 5f 44 46 4c 54 00 00 00 00 00 00 00 00 00 00 00
        01 01 02 00 00 00 00 01 00 01 01 02 00 00 00 08 00 00 00 00
        65 53 f1 00 07 5b cd 15 00 00 00 25 00 01 02 00 00 00 00 01
        00 01 01 02 00 00 00 04 44 46 4c 54 00 00 f0 60 00 00 00 00
        00 00 00 fe 00 00 f0 60 00 00 00 00 00 00 00 04 44 46 4c 54
        00 01 02 00 00 00 00 01 00 00 00 01 00 00 00 00 00 00 00 00
        00 00 00 00
        """)
    static let v1FollowUp = hexBytes("""
        00 01 00 01 5f 44 46 4c 54 00 00 00 00 00 00 00 00 00 00 00
        02 01 02 00 00 00 00 01 00 01 01 02 02 00 00 00 00 00 00 00
        00 00 01 02 65 53 f1 00 07 5b cd e8
        """)
    static let v1DelayResp = hexBytes("""
        00 01 00 01 5f 44 46 4c 54 00 00 00 00 00 00 00 00 00 00 00
        02 01 02 00 00 00 00 01 00 01 01 03 03 00 00 00 00 00 00 00
        65 53 f1 00 0b eb f2 39 00 01 02 00 00 00 00 02 00 01 00 07
        """)
    static let v2Announce = hexBytes("""
        0b 02 00 40 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00 00
        02 00 00 ff fe 00 00 01 00 01 00 10 05 01 00 00 00 00 00 00
        00 00 00 00 00 25 00 80 f8 fe ff ff 80 02 00 00 ff fe 00 00
        01 00 00 a0
        """)
    static let zeros12 = String(repeating: "00 ", count: 12)
    static let v2Sync = hexBytes("00 02 00 2c 00 00 02 00 " + zeros12 + "02 00 00 ff fe 00 00 01 00 01 00 11 00 fd 00 00 65 53 f1 00 00 00 00 00")
    static let v2FollowUp = hexBytes("08 02 00 2c 00 00 00 00 " + zeros12 + "02 00 00 ff fe 00 00 01 00 01 00 11 02 fd 00 00 65 53 f1 00 07 5b cd 15")
    static let v2DelayResp = hexBytes("09 02 00 36 00 00 00 00 " + zeros12
        + "02 00 00 ff fe 00 00 01 00 01 00 05 03 00 00 00 65 53 f1 00 0b eb f2 39 02 00 00 ff fe 00 00 02 00 01")
}

@Suite struct PTPCodecTests {
    @Test func v1SyncGolden() throws {
        guard case .sync(let s) = try PTPv1Message.decode(PTPVectors.v1Sync) else { Issue.record("not a Sync"); return }
        #expect(s.header.sequenceId == 258)
        #expect(s.header.flags == PTPv1.flagAssist)
        #expect(s.header.sourceUuid == PTPVectors.leader)
        #expect(s.originTimestamp == PTPTimestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789))
        #expect(s.currentUTCOffset == 37)
        #expect(s.grandmaster == PTPv1ClockQuality(stratum: 4, variance: -4000, preferred: false))
        #expect(s.syncInterval == -2)
        #expect(s.parentUuid == PTPVectors.leader)
        #expect(PTPv1Message.sync(s).encode() == PTPVectors.v1Sync)
    }

    @Test func v1FollowUpAndDelayRespGolden() throws {
        guard case .followUp(let f) = try PTPv1Message.decode(PTPVectors.v1FollowUp) else { Issue.record("not a Follow_Up"); return }
        #expect(f.associatedSequenceId == 258)
        #expect(f.preciseOriginTimestamp.ns == 1_700_000_000_123_457_000)
        #expect(PTPv1Message.followUp(f).encode() == PTPVectors.v1FollowUp)
        guard case .delayResp(let d) = try PTPv1Message.decode(PTPVectors.v1DelayResp) else { Issue.record("not a Delay_Resp"); return }
        #expect(d.delayReceiptTimestamp.ns == 1_700_000_000_200_012_345)
        #expect(d.requestingSourceUuid == PTPVectors.follower)
        #expect(d.requestingSourcePortId == 1 && d.requestingSourceSequenceId == 7)
        #expect(PTPv1Message.delayResp(d).encode() == PTPVectors.v1DelayResp)
    }

    @Test func v2Golden() throws {
        guard case .announce(let a) = try PTPv2Message.decode(PTPVectors.v2Announce) else { Issue.record("not an Announce"); return }
        #expect(a.header.sequenceId == 16 && a.header.logMessageInterval == 1)
        #expect(a.header.flags == PTPv2.flagPTPTimescale)
        #expect(a.currentUtcOffset == 37 && a.grandmasterPriority1 == 128 && a.grandmasterClockClass == 248)
        #expect(a.grandmasterClockAccuracy == 0xFE && a.grandmasterOffsetScaledLogVariance == 0xFFFF)
        #expect(a.grandmasterIdentity == PTPPortIdentity.eui64(mac: PTPVectors.leader))
        #expect(a.timeSource == 0xA0)
        #expect(PTPv2Message.announce(a).encode() == PTPVectors.v2Announce)

        guard case .sync(let sh, _) = try PTPv2Message.decode(PTPVectors.v2Sync) else { Issue.record("not a Sync"); return }
        #expect(sh.flags & PTPv2.flagTwoStep != 0 && sh.sequenceId == 17 && sh.logMessageInterval == -3)
        #expect(try PTPv2Message.decode(PTPVectors.v2Sync).encode() == PTPVectors.v2Sync)
        guard case .followUp(_, let t) = try PTPv2Message.decode(PTPVectors.v2FollowUp) else { Issue.record("not a Follow_Up"); return }
        #expect(t.ns == 1_700_000_000_123_456_789)
        #expect(try PTPv2Message.decode(PTPVectors.v2FollowUp).encode() == PTPVectors.v2FollowUp)
        guard case .delayResp(let d) = try PTPv2Message.decode(PTPVectors.v2DelayResp) else { Issue.record("not a Delay_Resp"); return }
        #expect(d.receiveTimestamp.ns == 1_700_000_000_200_012_345)
        #expect(d.requestingPortIdentity == PTPPortIdentity(clockIdentity: PTPPortIdentity.eui64(mac: PTPVectors.follower), portNumber: 1))
        #expect(PTPv2Message.delayResp(d).encode() == PTPVectors.v2DelayResp)
    }

    @Test func versionDiscriminator() {
        #expect(PTP.version(of: PTPVectors.v1Sync) == 1)
        #expect(PTP.version(of: PTPVectors.v2Announce) == 2)
        #expect(PTP.version(of: [0x00]) == nil)
        #expect(PTP.version(of: [0x12, 0x34]) == nil)
    }

    @Test func malformedIsATypedError() {
        // Truncated at every length.
        for n in 0..<PTPVectors.v1Sync.count {
            #expect(throws: WireError.self) { try PTPv1Message.decode(Array(PTPVectors.v1Sync.prefix(n))) }
        }
        for n in 0..<PTPVectors.v2Announce.count {
            #expect(throws: WireError.self) { try PTPv2Message.decode(Array(PTPVectors.v2Announce.prefix(n))) }
        }
        // Nanoseconds ≥ 10⁹.
        var bad = PTPVectors.v1FollowUp
        bad[48] = 0x3B; bad[49] = 0x9A; bad[50] = 0xCA; bad[51] = 0x00
        #expect(throws: WireError.invalidValue(field: "preciseOriginTimestamp", value: 1_000_000_000)) { try PTPv1Message.decode(bad) }
        // A Sync sent as a general message.
        var wrongType = PTPVectors.v1Sync
        wrongType[20] = 2
        #expect(throws: WireError.invalidValue(field: "messageType", value: 2)) { try PTPv1Message.decode(wrongType) }
        // messageLength larger than the datagram, and smaller than the body.
        var long = PTPVectors.v2Sync
        long[3] = 0x80
        #expect(throws: WireError.badLength(declared: 0x80, actual: 44)) { try PTPv2Message.decode(long) }
        var short = PTPVectors.v2DelayResp
        short[3] = 44
        #expect(throws: WireError.badLength(declared: 44, actual: 54)) { try PTPv2Message.decode(short) }
    }

    @Test func fuzzRoundTrips() {
        let v1 = conmonFuzz(seeds: [PTPVectors.v1Sync, PTPVectors.v1FollowUp, PTPVectors.v1DelayResp],
                            decode: PTPv1Message.decode, encode: { $0.encode() })
        #expect(v1.mismatches == 0)
        #expect(v1.accepted > 0)
        let v2 = conmonFuzz(seeds: [PTPVectors.v2Announce, PTPVectors.v2Sync, PTPVectors.v2FollowUp, PTPVectors.v2DelayResp],
                            decode: PTPv2Message.decode, encode: { $0.encode() })
        #expect(v2.mismatches == 0)
        #expect(v2.accepted > 0)
    }
}

@Suite struct PTPBestMasterTests {
    func v1(_ mac: UInt8, stratum: UInt8 = 4, preferred: Bool = false, variance: Int16 = 32767, steps: UInt16 = 0) -> PTPv1Dataset {
        PTPv1Dataset(grandmaster: PTPv1ClockQuality(stratum: stratum, variance: variance, preferred: preferred),
                     grandmasterUuid: [2, 0, 0, 0, 0, mac], grandmasterPortId: 1, stepsRemoved: steps,
                     senderUuid: [2, 0, 0, 0, 0, mac], senderPortId: 1)
    }

    @Test func v1Order() {
        #expect(PTPBestMaster.isBetter(v1(1), than: v1(2)))                       // lower MAC
        #expect(!PTPBestMaster.isBetter(v1(2), than: v1(1)))
        #expect(PTPBestMaster.isBetter(v1(9, preferred: true), than: v1(1)))       // preferred dominates
        #expect(PTPBestMaster.isBetter(v1(9, preferred: true), than: v1(1, stratum: 1)))
        #expect(PTPBestMaster.isBetter(v1(9, stratum: 2), than: v1(1)))            // stratum before MAC
        #expect(PTPBestMaster.isBetter(v1(9, variance: -4000), than: v1(1)))       // variance beyond the threshold
        #expect(PTPBestMaster.isBetter(v1(1, variance: 100), than: v1(9, variance: 0)))  // within it: MAC
        var relay = v1(1); relay.stepsRemoved = 1; relay.senderUuid = [2, 0, 0, 0, 0, 5]
        #expect(PTPBestMaster.isBetter(v1(1), than: relay))                        // same GM: fewer steps
    }

    @Test func v2Order() {
        func d(_ p1: UInt8, _ cls: UInt8, _ id: UInt8) -> PTPv2Dataset {
            PTPv2Dataset(priority1: p1, clockClass: cls, clockAccuracy: 0xFE, offsetScaledLogVariance: 0xFFFF, priority2: 128,
                         grandmasterIdentity: [0, 0, 0, 0xff, 0xfe, 0, 0, id], stepsRemoved: 0,
                         sender: PTPPortIdentity(clockIdentity: [0, 0, 0, 0xff, 0xfe, 0, 0, id], portNumber: 1))
        }
        #expect(PTPBestMaster.isBetter(d(100, 248, 9), than: d(250, 248, 1)))
        #expect(PTPBestMaster.isBetter(d(128, 6, 9), than: d(128, 248, 1)))
        #expect(PTPBestMaster.isBetter(d(128, 248, 1), than: d(128, 248, 9)))
        #expect(!PTPBestMaster.isBetter(d(128, 248, 9), than: d(128, 248, 1)))
    }

    @Test func powMatchesKnownValues() {
        #expect(abs(powPositive(0.25, -0.3) - 1.515716566510398) < 1e-9)
        #expect(abs(powPositive(0.125, 0.4) - 0.4352752816480621) < 1e-9)
        #expect(abs(powPositive(2, 0.5) - 1.4142135623730951) < 1e-9)
    }
}

@Suite struct PTPServoTests {
    /// A leader 5 ms away running 20 ppm fast, sampled every 125 ms with ±2 µs noise and one 800 µs outlier
    /// every 40 samples: the servo locks, ends within 5 µs and 0.5 ppm, and no outlier moves the clock.
    @Test func locksAndRejectsOutliers() {
        var servo = PTPServo(configuration: .init(intervalSeconds: 0.125, hardwareTimestamps: false))
        var o = ClockOverlay(clockID: 4, lastSync: 0, shift: 0, freqScale: 0)
        var rng = SplitMix64(seed: 7)
        func leader(_ u: Int64) -> Int64 { u + 5_000_000 + Int64(Double(u) * 20e-6) }
        var u: Int64 = 1_000_000_000
        var rejected = 0
        for k in 0..<800 {
            u += 125_000_000
            let noise = Int64(rng.next() % 4001) - 2000
            let outlier: Int64 = k % 40 == 39 ? 800_000 : 0
            let theta = o.overlayTime(underlyingNs: u) - leader(u) + noise + outlier
            let before = o
            let r = servo.sample(offsetNs: theta, at: u, overlay: &o)
            if outlier != 0 && servo.state == .locked || r == .rejected {
                if r == .rejected { rejected += 1; #expect(o == before) }
            }
        }
        #expect(servo.state == .locked)
        #expect(rejected >= 15)
        #expect(abs(o.overlayTime(underlyingNs: u) - leader(u)) < 5_000)
        #expect(abs(servo.frequencyEstimate(o) - 20e-6) < 0.5e-6)
    }

    @Test func followsARealJumpAfterThreeSamples() {
        var servo = PTPServo(configuration: .init(intervalSeconds: 0.25, hardwareTimestamps: true))
        var o = ClockOverlay(clockID: 4, lastSync: 0, shift: 0, freqScale: 0)
        var u: Int64 = 0
        var jump: Int64 = 0
        var steps = 0
        for k in 0..<100 {
            u += 250_000_000
            if k == 60 { jump = 3_000_000 }
            let r = servo.sample(offsetNs: o.overlayTime(underlyingNs: u) - (u + 1_000_000_000 + jump), at: u, overlay: &o)
            if case .stepped = r { steps += 1 }
        }
        #expect(steps == 4)   // first lock (step + end of acquisition) and again after the jump
        #expect(abs(o.overlayTime(underlyingNs: u) - (u + 1_000_000_000 + jump)) < 1_000)
    }
}

/// Simulated network for whole cores: one underlying clock for all (one host), a multicast segment with
/// per-packet delay 10…30 µs, transmit stamps 2 µs after the send.
struct PTPSimulation {
    struct Node { var core: PTPClockCore; var alive = true }
    var nodes: [Node]
    var queue: [(at: Int64, to: Int, bytes: [UInt8], event: Bool)] = []
    var stamps: [(at: Int64, node: Int, token: UInt32)] = []
    var rng = SplitMix64(seed: 42)
    var u: Int64 = 5_000_000_000
    let taiMinusRaw: Int64 = 1_700_000_000_000_000_000
    var sent: [(node: Int, version: Int, bytes: [UInt8])] = []
    var changes: [(node: Int, action: PTPClockCore.Action)] = []

    init(_ configs: [PTPClockCore.Configuration]) { nodes = configs.map { Node(core: PTPClockCore(configuration: $0)) } }

    mutating func handle(_ i: Int, _ actions: [PTPClockCore.Action]) {
        for a in actions {
            switch a {
            case let .send(bytes, event, version, token):
                sent.append((i, version, bytes))
                for j in nodes.indices where j != i {
                    queue.append((u + 10_000 + Int64(rng.next() % 20_000), j, bytes, event))
                }
                if let token { stamps.append((u + 2_000, i, token)) }
            case .overlay: break
            case .stateChanged: changes.append((i, a))
            }
        }
    }

    mutating func run(seconds: Double) {
        let end = u + Int64(seconds * 1e9)
        while u < end {
            u += 1_000_000
            for i in nodes.indices where nodes[i].alive {
                if u % 250_000_000 == 0 { handle(i, nodes[i].core.hostSample(taiMinusUnderlyingNs: taiMinusRaw, at: u)) }
            }
            let due = queue.filter { $0.at <= u }
            queue.removeAll { $0.at <= u }
            for p in due where nodes[p.to].alive { handle(p.to, nodes[p.to].core.receive(p.bytes, event: p.event, at: p.at)) }
            let st = stamps.filter { $0.at <= u }
            stamps.removeAll { $0.at <= u }
            for s in st where nodes[s.node].alive { handle(s.node, nodes[s.node].core.transmitted(token: s.token, at: s.at)) }
            for i in nodes.indices where nodes[i].alive { handle(i, nodes[i].core.tick(now: u)) }
        }
    }

    func time(_ i: Int) -> Int64 { nodes[i].core.overlay!.overlayTime(underlyingNs: u) }
    func leaders() -> [Int] {
        nodes.indices.filter { nodes[$0].alive && (nodes[$0].core.status.v1State == .master) }
    }

    static func config(_ mac: UInt8, v1: Bool = true, v2: Bool = false, leader: PTPClockCore.LeaderMode = .auto,
                       offset: Int64 = 0, ppm: Double = 0) -> PTPClockCore.Configuration {
        var c = PTPClockCore.Configuration(mac: [2, 0, 0, 0, 0, mac])
        c.v1 = v1; c.v2 = v2; c.leader = leader; c.timescaleOffsetNs = offset; c.timescalePpm = ppm
        c.seed = UInt64(mac) &* 0x1234_5678_9ABC
        return c
    }
}

@Suite struct PTPClockCoreTests {
    @Test func v1FollowerLocksToAShiftedLeader() {
        var sim = PTPSimulation([PTPSimulation.config(1, leader: .preferred, offset: 5_000_000, ppm: 20),
                                 PTPSimulation.config(2, leader: .never)])
        sim.run(seconds: 25)
        let a = sim.nodes[0].core.status, b = sim.nodes[1].core.status
        #expect(a.v1State == .master)
        #expect(b.v1State == .slave && b.reference == .v1 && b.servo == .locked)
        #expect(abs(sim.time(1) - sim.time(0)) < 20_000)
        #expect(abs(b.freqScale - a.freqScale) < 1e-6)
        #expect(abs(sim.time(0) - (sim.u + sim.taiMinusRaw + 5_000_000)) < 1_000_000)
        #expect(b.pathDelayNs > 5_000 && b.pathDelayNs < 40_000)
        #expect(b.counters.delayResponses > 10)
        // Every datagram either side sent decodes.
        for s in sim.sent where s.version == 1 { #expect((try? PTPv1Message.decode(s.bytes)) != nil) }
    }

    @Test func v2FollowerLocks() {
        var sim = PTPSimulation([PTPSimulation.config(1, v1: false, v2: true, leader: .preferred, offset: -3_000_000, ppm: -15),
                                 PTPSimulation.config(2, v1: false, v2: true, leader: .auto)])
        sim.run(seconds: 25)
        let b = sim.nodes[1].core.status
        #expect(sim.nodes[0].core.status.v2State == .master)
        #expect(b.v2State == .slave && b.reference == .v2 && b.servo == .locked)
        #expect(abs(sim.time(1) - sim.time(0)) < 20_000)
        for s in sim.sent where s.version == 2 { #expect((try? PTPv2Message.decode(s.bytes)) != nil) }
    }

    /// A follow-only core with nobody to follow has no deadline left once its listening time is over (a past
    /// deadline would make the runtime wake in a loop).
    @Test func followerWithoutLeaderHasNoPastDeadline() {
        var sim = PTPSimulation([PTPSimulation.config(1, v1: true, v2: true, leader: .never)])
        sim.run(seconds: 10)
        let d = sim.nodes[0].core.nextDeadline
        #expect(d == nil || d! > sim.u)
        #expect(sim.nodes[0].core.status.v1State == .listening && sim.nodes[0].core.status.v2State == .listening)
        #expect(sim.sent.isEmpty)
    }

    @Test func electionPreferredAndTakeover() {
        var sim = PTPSimulation([PTPSimulation.config(3), PTPSimulation.config(2)])
        sim.run(seconds: 8)
        #expect(sim.leaders() == [1])          // lower MAC wins
        sim.nodes.append(.init(core: PTPClockCore(configuration: PTPSimulation.config(9, leader: .preferred))))
        sim.run(seconds: 8)
        #expect(sim.leaders() == [2])          // preferred wins over the lower MAC
        #expect(sim.nodes[1].core.status.v1State == .slave && sim.nodes[0].core.status.v1State == .slave)
        let before = sim.time(0)
        sim.nodes[2].alive = false             // the leader dies
        sim.run(seconds: 6)
        #expect(sim.leaders() == [1])
        #expect(sim.nodes[0].core.status.reference == .v1)
        // The new leader kept the network's timescale (holdover), so its follower did not jump.
        #expect(abs(sim.time(0) - sim.time(1)) < 50_000)
        #expect(abs((sim.time(0) - before) - 6_000_000_000) < 1_000_000)
    }

    @Test func badAndForgedPacketsDoNotMoveTheClock() {
        var sim = PTPSimulation([PTPSimulation.config(1, leader: .preferred, offset: 2_000_000), PTPSimulation.config(2, leader: .never)])
        sim.run(seconds: 20)
        #expect(sim.nodes[1].core.status.servo == .locked)
        let steps = sim.nodes[1].core.counters.steps
        // Garbage, truncations and a Follow_Up from the leader's identity with a time 1 s off.
        var rng = SplitMix64(seed: 3)
        for _ in 0..<500 {
            let n = Int(rng.next() % 130)
            _ = sim.nodes[1].core.receive((0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, event: true, at: sim.u)
            _ = sim.nodes[1].core.receive(Array(PTPVectors.v1Sync.prefix(n)), event: true, at: sim.u)
        }
        #expect(sim.nodes[1].core.counters.malformed >= 500)
        let sync = sim.sent.last { $0.node == 0 && PTP.version(of: $0.bytes) == 1 && $0.bytes[32] == 0 }!
        guard case .sync(var s) = try! PTPv1Message.decode(sync.bytes) else { Issue.record("no sync"); return }
        s.header.sequenceId &+= 1000
        s.header.flags = 0                      // one-step, origin 1 s off
        s.originTimestamp = PTPTimestamp(ns: s.originTimestamp.ns + 1_000_000_000)
        _ = sim.nodes[1].core.receive(PTPv1Message.sync(s).encode(), event: true, at: sim.u)
        // A flood of Syncs from 200 made-up (worse) leaders: the foreign-leader table stays bounded.
        for k in 0..<200 {
            var f = s
            f.header.sourceUuid = [6, 0, 0, 0, UInt8(k >> 8), UInt8(k & 0xFF)]
            f.grandmasterUuid = f.header.sourceUuid
            f.grandmaster.stratum = 200
            f.grandmaster.preferred = false
            for _ in 0..<2 { _ = sim.nodes[1].core.receive(PTPv1Message.sync(f).encode(), event: true, at: sim.u) }
        }
        #expect(sim.nodes[1].core.counters.foreignDropped >= 200 * 2 - 2 * 16)
        sim.run(seconds: 3)
        #expect(sim.nodes[1].core.status.reference == .v1 && sim.nodes[1].core.status.leaderMAC == [2, 0, 0, 0, 0, 1])
        #expect(sim.nodes[1].core.counters.steps == steps)
        #expect(sim.nodes[1].core.counters.rejectedSamples >= 1)
        #expect(abs(sim.time(1) - sim.time(0)) < 20_000)
    }
}

@Suite struct PTPConmonTests {
    /// Conmon 0x0020 as the device sends it: the fields netaudio 0.4.2 reads sit where the real capture has them.
    @Test func clockStatusLayout() throws {
        let own: [UInt8] = [2, 0, 0, 0, 0, 2, 0, 0], gm: [UInt8] = [2, 0, 0, 0, 0, 1, 0, 0]
        let st = ClockStatus(portState: 9, v2State: 3, preferredLeader: true, synchronized: true, frequencyOffsetPPB: -1601,
                             ownID: own, parentID: gm, grandmasterID: gm)
        let bytes = ConmonPacket(deviceID: [0, 0, 0, 0, 0, 0, 0, 1], sequence: 5, classVersion: 0x0724,
                                 message: .clockStatus(st)).encode()
        #expect(bytes.count == 0xCC)
        #expect(bytes[0x20...0x23] == [0, 3, 0, 3])                  // disciplined, synchronized
        #expect(bytes[0x26] == 1)                                    // preferred
        #expect(bytes[0x28...0x2B] == [0xFF, 0xFF, 0xF9, 0xBF])      // −1601 ppb
        #expect(Array(bytes[0x2C..<0x34]) == own && Array(bytes[0x3C..<0x44]) == gm)
        #expect(bytes[0x48...0x49] == [0, 9] && bytes[0x88...0x89] == [0, 9] && bytes[0x98...0x99] == [0, 3])
        #expect(bytes[0x50...0x51] == [0x02, 0x94])                  // capabilities: preferred leader changeable
        guard case .clockStatus(let back) = try ConmonPacket.decode(bytes).message else { Issue.record("not 0x0020"); return }
        #expect(back == st && back.portState == 9 && back.preferredLeader && back.frequencyOffsetPPB == -1601)
        #expect(back.grandmasterID == gm)
    }
}
