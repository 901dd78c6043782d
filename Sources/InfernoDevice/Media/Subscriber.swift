import Glibc
import InfernoMedia
import InfernoProtocol
import Logging
import NIOCore

/// The receiving side's subscription manager (dante-protocol.md §10, with the fixes of §14.4). Runs on the
/// control event loop, ticking every 250 ms:
///
/// 1. picks up subscription changes from the device model (ARC 0x3010/0x3014, state file at start);
/// 2. resolves `chan@device` over mDNS (SRV + TXT + A) — at once for new subscriptions and when the
///    transmitter announces itself, else with backoff (0.5 s doubling to 4 s); checks the advertised `rate`;
/// 3. reuses a flow that already carries the TX channel, else requests a flow (0x0100, with the transmitter's
///    `dbcp1` as protocol id) for up to min(`nchan`, 8) channels of one transmitter, fpp chosen to fit the
///    datagram limit and a quarter of the latency; failures are retried promptly with backoff;
/// 4. keeps flows alive (`13 37` every 250 ms to the source of the last media packet), marks channels
///    connected while packets arrive, and tears a flow down after 1 s without media (once it is 2 s old):
///    its channels go back to unresolved and are re-resolved immediately, so a restarted transmitter is picked
///    up again without any new subscribe command;
/// 5. stops flows nobody uses (0x0101).
final class Subscriber: @unchecked Sendable {
    struct Channel {
        var subscription: DeviceState.Subscription?
        var flow: Int?
        var slot = 0
        var status: ARCSubscriptionStatus = .none
        var receiving = false
        var nextResolve: Int64 = 0
        var backoff: Int64 = 0
        var resolving = false
    }

    struct Flow {
        var txIP: UInt32
        var txPort: UInt16
        var protocolID: UInt16
        var txDevice: String
        var channelIDs: [UInt16]
        var encoding: PCMEncoding
        var fpp: Int
        var fd: Int32
        var localPort: UInt16
        var handle: FlowHandle?
        var transaction: UInt16 = 0
        var requestSent: Int64 = 0
        var attempts = 0
        var established: Int64 = 0
        var pendingRX: [(rx: Int, slot: Int)] = []
    }

    static let tick: Int64 = 250_000_000
    static let silenceTimeout: Int64 = 1_000_000_000
    static let minFlowAge: Int64 = 2_000_000_000
    static let maxBackoff: Int64 = 4_000_000_000
    static let maxChannelsPerFlow = 8
    static let keepalive: [UInt8] = [0x13, 0x37]

    let engine: RxEngine
    let resolver: ChannelResolver
    let loop: EventLoop
    let flowClient: UDPEndpoint
    let bindIP: UInt32
    let processID: UInt16
    let log: Logger
    var sampleRate: UInt32
    var latencyNs: UInt64
    /// Frames per packet to ask for (`--fpp`); nil = a quarter of the latency. Always within the transmitter's
    /// advertised range and the datagram limit.
    var requestedFPP: Int?
    var deviceName: () -> String
    /// Called when a channel's status or receiving flag changes (1-based channel numbers).
    var onStatus: ([Int]) -> Void = { _ in }

    private(set) var channels: [Channel]
    private var flows: [Flow?] = Array(repeating: nil, count: RxEngine.maxFlows)
    private var pending: [Int] = []   // RX channels (0-based) resolved and waiting for a flow
    /// The last lookup result per RX channel (0-based), used to group and request flows.
    private var resolved: [Int: ResolvedChannel] = [:]
    private var nextTransaction: UInt16 = 1
    private var lastRateWarning: Int64 = 0
    private var requestScheduled = false

    init(engine: RxEngine, resolver: ChannelResolver, loop: EventLoop, flowClient: UDPEndpoint, bindIP: UInt32, processID: UInt16,
         sampleRate: UInt32, latencyNs: UInt64, logger: Logger, deviceName: @escaping () -> String) {
        self.engine = engine
        self.resolver = resolver
        self.loop = loop
        self.flowClient = flowClient
        self.bindIP = bindIP
        self.processID = processID
        self.sampleRate = sampleRate
        self.latencyNs = latencyNs
        self.log = logger
        self.deviceName = deviceName
        channels = Array(repeating: Channel(), count: engine.channels)
    }

    static var now: Int64 { monotonicNow() }

    // MARK: inputs

    /// The model's subscriptions (index = RX channel − 1). Changed ones are torn down and resolved afresh.
    func sync(_ subscriptions: [DeviceState.Subscription?]) {
        var changed: [Int] = []
        for (i, s) in subscriptions.enumerated() where i < channels.count && channels[i].subscription != s {
            detach(i)
            channels[i].subscription = s
            channels[i].status = s == nil ? .none : .unresolved
            channels[i].receiving = false
            // A lookup for the old subscription may still be out (500 ms window; a vanished transmitter never
            // answers): its answer ignores this channel now, so it must not keep it marked as resolving, or
            // the new subscription would never be looked up.
            channels[i].resolving = false
            resolved[i] = nil
            channels[i].nextResolve = 0
            channels[i].backoff = 0
            changed.append(i + 1)
        }
        if !changed.isEmpty { onStatus(changed) }
    }

    /// A transmitter announced itself (names lowercased): if we wait for it, resolve now.
    func heard(devices: Set<String>) {
        guard !devices.isEmpty else { return }
        for i in channels.indices where channels[i].flow == nil && !channels[i].resolving {
            if let s = channels[i].subscription, devices.contains(txDevice(s).lowercased()) { channels[i].nextResolve = 0 }
        }
    }

    func flowResponse(_ bytes: [UInt8]) {
        guard let r = try? FlowResponse.decode(bytes), r.opcode == FlowOpcode.request,
              let f = flows.firstIndex(where: { $0?.transaction == r.transactionID && $0?.handle == nil }),
              var flow = flows[f] else { return }
        if r.status == .success, let handle = r.handle {
            flow.handle = handle
            flow.established = Self.now
            flows[f] = flow
            engine.addFlow(f, fd: flow.fd, encoding: flow.encoding, slots: flow.channelIDs.count, source: flow.txIP)
            var changed: [Int] = []
            for (rx, slot) in flow.pendingRX { attach(rx, flow: f, slot: slot); changed.append(rx + 1) }
            flows[f]!.pendingRX = []
            log.info("RX flow \(f) from \(flow.txDevice) (\(ipv4String(flow.txIP)):\(flow.txPort)): TX channels \(flow.channelIDs), \(flow.encoding.bits)-bit, fpp \(flow.fpp)")
            onStatus(changed)
        } else {
            let status: ARCSubscriptionStatus = r.status == .tooManyFlows ? .tooManyTxFlows : .txFail
            log.warning("\(flow.txDevice) refused a flow for TX channels \(flow.channelIDs): status \(r.status)")
            fail(f, status: status)
        }
    }

    // MARK: the periodic pass

    func tick() {
        let now = Self.now
        while let e = engine.released.pop() { close(e.fd) }
        var changed: [Int] = []
        // Health of established flows.
        for f in flows.indices {
            guard let flow = flows[f] else { continue }
            if flow.handle == nil {
                if now - flow.requestSent > 1_000_000_000 {
                    if flow.attempts >= 3 { fail(f, status: .txFail) } else { sendRequest(f) }
                }
                continue
            }
            let users = channels.indices.filter { channels[$0].flow == f }
            if users.isEmpty { stop(f); continue }
            let last = engine.flowStats[f].lastPacket.load(ordering: .relaxed)
            let receiving = last != 0 && now - last < Self.silenceTimeout
            if !receiving && now - flow.established > Self.minFlowAge {
                log.warning("RX flow \(f) from \(flow.txDevice): no media for 1 s; re-resolving its channels")
                for rx in users {
                    detach(rx)
                    channels[rx].status = .unresolved
                    channels[rx].receiving = false
                    channels[rx].nextResolve = now
                    changed.append(rx + 1)
                }
                continue
            }
            for rx in users where channels[rx].receiving != receiving {
                channels[rx].receiving = receiving
                channels[rx].status = receiving ? .unicast : .inProgress
                changed.append(rx + 1)
            }
            let src = engine.flowStats[f].lastSource.load(ordering: .relaxed)
            if src != 0 {
                MediaSockets.send(Self.keepalive, fd: flow.fd, to: UInt32(truncatingIfNeeded: src >> 16),
                                  port: UInt16(truncatingIfNeeded: src))
            }
        }
        // Resolve what needs it.
        for i in channels.indices {
            guard let sub = channels[i].subscription, channels[i].flow == nil, !channels[i].resolving,
                  !pending.contains(i), channels[i].nextResolve <= now else { continue }
            resolve(i, sub)
        }
        requestFlows()
        if !changed.isEmpty { onStatus(changed) }
    }

    // MARK: internals

    func txDevice(_ s: DeviceState.Subscription) -> String { s.txDevice == "." ? deviceName() : s.txDevice }

    private func resolve(_ i: Int, _ sub: DeviceState.Subscription) {
        // Several RX channels subscribed to the same TX channel share one lookup.
        let key = sub
        let group = channels.indices.filter { channels[$0].subscription == key && channels[$0].flow == nil && !pending.contains($0) }
        for g in group { channels[g].resolving = true }
        let device = txDevice(sub)
        resolver.resolveChannel(txChannel: sub.txChannel, txDevice: device) { [self] r in
            let now = Self.now
            for g in group where channels[g].subscription == key && channels[g].resolving {
                channels[g].resolving = false
                guard let r else {
                    backoff(g, now)
                    continue
                }
                if let rate = r.sampleRate, rate != Int(sampleRate) {
                    if now - lastRateWarning > 5_000_000_000 {
                        lastRateWarning = now
                        log.warning("\(sub.txChannel)@\(device) runs at \(rate) Hz, this device at \(sampleRate) Hz: not subscribing")
                    }
                    backoff(g, now)
                    continue
                }
                resolved[g] = r
                if let (f, slot) = existingSlot(for: r) {
                    attach(g, flow: f, slot: slot)
                    onStatus([g + 1])
                } else {
                    pending.append(g)
                }
            }
            // Lookups started together (a state file, a multi-channel 0x3010) finish within milliseconds of
            // each other: while any is still out, wait a moment (40 ms at most) so they share one flow instead
            // of each taking its own; when none is, ask at once (a single subscribe costs no extra 40 ms).
            if !channels.contains(where: { $0.resolving }) {
                requestFlows()
            } else if !requestScheduled {
                requestScheduled = true
                loop.scheduleTask(in: .milliseconds(40)) { [self] in
                    requestScheduled = false
                    requestFlows()
                }
            }
        }
    }

    private func backoff(_ i: Int, _ now: Int64) {
        channels[i].backoff = min(Self.maxBackoff, max(500_000_000, channels[i].backoff * 2))
        channels[i].nextResolve = now + channels[i].backoff
    }

    /// An established flow from the same transmitter that already carries this TX channel.
    private func existingSlot(for r: ResolvedChannel) -> (Int, Int)? {
        for f in flows.indices {
            guard let flow = flows[f], flow.handle != nil, flow.txIP == r.ipv4, flow.txPort == r.port,
                  let slot = flow.channelIDs.firstIndex(of: r.channelID) else { continue }
            return (f, slot)
        }
        return nil
    }

    private func attach(_ rx: Int, flow f: Int, slot: Int) {
        channels[rx].flow = f
        channels[rx].slot = slot
        channels[rx].status = .inProgress
        channels[rx].receiving = false
        channels[rx].backoff = 0
        let txLatency = resolved[rx]?.latencyNs ?? 0
        let ns = max(latencyNs, txLatency)
        // The ring must hold the latency plus in-flight packets: clamp to half of it (logged).
        var samples = Int64(MediaClock.samples(forDuration: ns, sampleRate: sampleRate))
        let cap = Int64(engine.ringCapacity / 2)
        if samples > cap {
            log.warning("latency \(ns / 1_000_000) ms exceeds the receive buffer (\(engine.ringCapacity) samples, sized at start): using \(cap) samples; restart the device to enlarge it")
            samples = cap
        }
        engine.setLatency(channel: rx, samples: samples)
        engine.map(rx: rx, flow: f, slot: slot)
    }

    private func detach(_ rx: Int) {
        if let p = pending.firstIndex(of: rx) { pending.remove(at: p) }
        for f in flows.indices { flows[f]?.pendingRX.removeAll { $0.rx == rx } }
        guard channels[rx].flow != nil else { return }
        channels[rx].flow = nil
        engine.unmap(rx: rx)
    }

    /// Groups pending channels by transmitter and requests one flow per group of up to min(nchan, 8) channels.
    private func requestFlows() {
        guard !pending.isEmpty else { return }
        var byTx: [UInt64: [Int]] = [:]
        for rx in pending {
            guard let r = resolved[rx] else { continue }
            // One request at a time per transmitter (§7.7).
            if flows.contains(where: { $0 != nil && $0!.handle == nil && $0!.txIP == r.ipv4 && $0!.txPort == r.port }) { continue }
            byTx[UInt64(r.ipv4) << 16 | UInt64(r.port), default: []].append(rx)
        }
        for (_, group) in byTx.sorted(by: { $0.key < $1.key }) {
            guard let first = resolved[group[0]] else { continue }
            let cap = max(1, min(first.nchan, Self.maxChannelsPerFlow))
            var ids: [UInt16] = []
            var members: [(rx: Int, slot: Int)] = []
            for rx in group {
                guard let r = resolved[rx], r.encoding == first.encoding else { continue }
                if let slot = ids.firstIndex(of: r.channelID) {
                    members.append((rx, slot))
                } else if ids.count < cap {
                    ids.append(r.channelID)
                    members.append((rx, ids.count - 1))
                }
            }
            guard !ids.isEmpty, let encoding = PCMEncoding(bits: first.encoding),
                  let f = flows.firstIndex(where: { $0 == nil }) else { continue }
            let latencySamples = Int(MediaClock.samples(forDuration: max(latencyNs, first.latencyNs), sampleRate: sampleRate))
            let byLimit = 1400 / (ids.count * encoding.bytesPerSample)
            let fpp = max(max(1, first.fppMin), min(first.fppMax, byLimit, requestedFPP ?? max(1, latencySamples / 4)))
            let socket: (fd: Int32, port: UInt16)
            do { socket = try MediaSockets.bound(bindIP: bindIP) } catch {
                log.error("cannot open a receive socket: \(error)")
                continue
            }
            pending.removeAll { rx in members.contains { $0.rx == rx } }
            flows[f] = Flow(txIP: first.ipv4, txPort: first.port, protocolID: first.dbcp1, txDevice: first.txDevice,
                            channelIDs: ids, encoding: encoding, fpp: fpp, fd: socket.fd, localPort: socket.port,
                            pendingRX: members)
            sendRequest(f)
        }
    }

    private func sendRequest(_ f: Int) {
        guard var flow = flows[f] else { return }
        let tid = nextTransaction
        nextTransaction = nextTransaction &+ 1 == 0 ? 1 : nextTransaction &+ 1
        flow.transaction = tid
        flow.requestSent = Self.now
        flow.attempts += 1
        flows[f] = flow
        let request = FlowRequest(protocolID: flow.protocolID, transactionID: tid, receiverName: deviceName(),
                                  sampleRate: sampleRate, bitsPerSample: UInt32(flow.encoding.bits),
                                  channels: flow.channelIDs, framesPerPacket: UInt16(flow.fpp),
                                  flowName: "\(processID)_\(f + 1)", receiverIPv4: bindIP, receiverPort: flow.localPort)
        flowClient.send(request.encode(), to: socketAddress(flow.txIP, flow.txPort))
    }

    /// A request failed: channels back to waiting with backoff and the given status.
    private func fail(_ f: Int, status: ARCSubscriptionStatus) {
        guard let flow = flows[f] else { return }
        close(flow.fd)
        flows[f] = nil
        let now = Self.now
        var changed: [Int] = []
        for (rx, _) in flow.pendingRX {
            channels[rx].status = status
            backoff(rx, now)
            changed.append(rx + 1)
        }
        onStatus(changed)
    }

    /// Stops an established flow: 0x0101 to the transmitter, socket released by the engine.
    private func stop(_ f: Int) {
        guard let flow = flows[f] else { return }
        flows[f] = nil
        if let handle = flow.handle {
            let tid = nextTransaction
            nextTransaction = nextTransaction &+ 1 == 0 ? 1 : nextTransaction &+ 1
            flowClient.send(FlowStopRequest(protocolID: flow.protocolID, transactionID: tid, handle: handle).encode(),
                            to: socketAddress(flow.txIP, flow.txPort))
            engine.removeFlow(f)
            log.info("RX flow \(f) from \(flow.txDevice) stopped")
        } else {
            close(flow.fd)
        }
    }

    /// Stops every flow (device shutdown, sample-rate change).
    func stopAll() {
        for f in flows.indices where flows[f] != nil { stop(f) }
        for i in channels.indices where channels[i].flow != nil { channels[i].flow = nil }
    }

    func status(_ rx: Int) -> (ARCSubscriptionStatus, Bool) { (channels[rx].status, channels[rx].receiving) }
}
