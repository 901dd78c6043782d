import CInfernoPipeWire
import Foundation
import InfernoDevice
import InfernoMedia
import Logging
import Synchronization

/// Connects a running Dante device to PipeWire: a source node with the device's RX channels, a sink node with
/// its TX channels, and (in driver mode) a driver node clocked by the media clock. A control thread keeps the
/// connection: when the daemon goes away the nodes are dropped and re-created once it is back, while the Dante
/// device stays on the network the whole time.
///
/// The audio path runs on PipeWire's data thread (`process`): no allocation, locks, logging or Foundation there.
final class WiredBridge: @unchecked Sendable {
    static let maxFrames = 8192

    let runtime: DeviceRuntime
    let settings: WiredSettings
    let log: Logger
    /// Where the sink writes TX audio (nil when `--tx-source` feeds TX instead).
    let txRing: TimestampRingBuffer?
    let rxCount: Int
    let txCount: Int
    let groupID: String

    // Control side.
    private var pw: OpaquePointer?
    private var names: DeviceRuntime.Names
    private let pendingNames = Mutex<DeviceRuntime.Names?>(nil)
    private let disconnected = Atomic<Bool>(false)
    private let stopFlag = Atomic<Bool>(false)
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    // Shared with the data thread.
    let deviceRate: Atomic<UInt32>
    let resetRequested = Atomic<Bool>(false)
    let stats = [NodeStats(), NodeStats()]

    // Data-thread state, one per node.
    private var followers = [GraphClockFollower(), GraphClockFollower()]
    private var sourceLead: UInt64 = 0
    private var sinkLead: UInt64 = 0
    private let ringToGraph = RingToGraph(maxFrames: WiredBridge.maxFrames)
    private let graphToRing: GraphToRing?

    final class NodeStats: Sendable {
        let cycles = Atomic<UInt64>(0)
        let mode = Atomic<UInt8>(0)
        let errorBits = Atomic<UInt64>(0)
        let driftBits = Atomic<UInt64>(0)
        let resyncs = Atomic<Int>(0)
        let noClock = Atomic<UInt64>(0)
        let graphRate = Atomic<UInt32>(0)
        let quantum = Atomic<UInt32>(0)
        let oversized = Atomic<UInt64>(0)
        /// Our media-clock driver ran the last cycle.
        let ourDriver = Atomic<Bool>(false)
        var error: Double { Double(bitPattern: errorBits.load(ordering: .relaxed)) }
        var drift: Double { Double(bitPattern: driftBits.load(ordering: .relaxed)) }
    }

    init(runtime: DeviceRuntime, txRing: TimestampRingBuffer?, settings: WiredSettings, logger: Logger) {
        self.runtime = runtime
        self.settings = settings
        self.txRing = txRing
        log = logger
        rxCount = runtime.rx.channels
        txCount = txRing?.channels ?? 0
        groupID = "inferno.\(runtime.deviceID)"
        names = runtime.names
        deviceRate = Atomic(UInt32(runtime.config.sampleRate))
        graphToRing = txRing.map { GraphToRing(channels: $0.channels, maxFrames: WiredBridge.maxFrames) }
        deviceRate.store(UInt32(runtime.sampleRate), ordering: .relaxed)
    }

    // MARK: connection (control thread)

    var nodeName: String { "inferno.\(names.device)" }

    /// Opens the PipeWire connection and creates the nodes; throws a one-line reason.
    func connect() throws {
        var err = [CChar](repeating: 0, count: 512)
        let n = names
        var strings: [UnsafeMutablePointer<CChar>] = []
        func c(_ s: String) -> UnsafePointer<CChar> {
            let p = strdup(s)!
            strings.append(p)
            return UnsafePointer(p)
        }
        defer { strings.forEach { free($0) } }
        var cfg = inferno_pw_config()
        cfg.node_name = c(nodeName)
        cfg.group = c(groupID)
        cfg.clock_name = c(groupID)
        cfg.driver_name = c("\(nodeName).clock")
        cfg.description = (c("\(n.device) (Dante RX)"), c("\(n.device) (Dante TX)"))
        cfg.nick = (c("\(n.device) RX"), c("\(n.device) TX"))
        cfg.n_ports = (UInt32(rxCount), UInt32(txCount))
        cfg.port_names = (c(n.rx.prefix(rxCount).joined(separator: "\n")), c(n.tx.prefix(txCount).joined(separator: "\n")))
        cfg.port_aliases = (c(n.rx.prefix(rxCount).map { Self.alias($0, n.device) }.joined(separator: "\n")),
                            c(n.tx.prefix(txCount).map { Self.alias($0, n.device) }.joined(separator: "\n")))
        cfg.rate = deviceRate.load(ordering: .relaxed)
        cfg.quantum = UInt32(settings.quantum ?? 0)
        cfg.drive = settings.clockMode == .driver ? 1 : 0
        cfg.driver_priority = Int32(clamping: settings.driverPriority)
        cfg.ctx = Unmanaged.passUnretained(self).toOpaque()
        cfg.process = { ctx, node, cycle, ports, count in
            guard let ctx, let cycle, let ports else { return }
            Unmanaged<WiredBridge>.fromOpaque(ctx).takeUnretainedValue()
                .process(node: Int(node), cycle: cycle, ports: ports, count: Int(count))
        }
        cfg.clock = { ctx, media, mono in
            guard let ctx, let media, let mono else { return -1 }
            let bridge = Unmanaged<WiredBridge>.fromOpaque(ctx).takeUnretainedValue()
            guard let now = bridge.runtime.clock.now() else { return -1 }
            mono.pointee = monotonicNow()
            media.pointee = now.ns
            return 0
        }
        cfg.event = { ctx, kind, value, message in
            guard let ctx else { return }
            Unmanaged<WiredBridge>.fromOpaque(ctx).takeUnretainedValue()
                .event(kind: kind, value: value, message: message.map { String(cString: $0) } ?? "")
        }
        resetRequested.store(true, ordering: .relaxed)
        disconnected.store(false, ordering: .relaxed)
        guard let p = inferno_pw_open(&cfg, &err, err.count) else {
            throw RuntimeError(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        pw = p
    }

    static func alias(_ channel: String, _ device: String) -> String { "\(channel)@\(device)" }

    /// Called on PipeWire's main-loop thread.
    private func event(kind: Int32, value: Int32, message: String) {
        switch Int(kind) {
        case Int(INFERNO_PW_EVENT_DISCONNECTED):
            if !disconnected.exchange(true, ordering: .relaxed) { log.warning("\(message)") }
        case Int(INFERNO_PW_EVENT_ERROR):
            log.error("PipeWire: \(message)")
        default:
            log.debug("PipeWire \(value == 0 ? "source" : "sink") node: \(message)")
        }
    }

    /// Starts the control thread: reconnection, renames, sample-rate changes, status lines.
    func start() {
        let t = Thread { [self] in control() }
        t.name = "inferno-pw-ctl"
        thread = t
        t.start()
    }

    /// Stops the control thread and removes the nodes.
    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        if thread != nil { finished.wait() }
        if let p = pw { inferno_pw_close(p); pw = nil }
    }

    /// From the runtime's event loop: names changed (applied by the control thread).
    func namesChanged(_ n: DeviceRuntime.Names) {
        pendingNames.withLock { $0 = n }
    }

    private func control() {
        var nextRetry = Date.distantPast
        var retryDelay = 0.25
        var lastRateCheck = Date.distantPast
        var lastStatus = Date()
        var lastMode = ""
        var statusBase = StatusBase(bridge: self)
        while !stopFlag.load(ordering: .relaxed) {
            Thread.sleep(forTimeInterval: 0.05)
            if disconnected.load(ordering: .relaxed), let p = pw {
                inferno_pw_close(p)
                pw = nil
                log.warning("PipeWire nodes removed; the Dante device stays on the network. Reconnecting…")
                nextRetry = Date()
                retryDelay = 0.25
            }
            if pw == nil && Date() >= nextRetry {
                do {
                    try connect()
                    log.notice("reconnected to PipeWire: \(describeNodes())")
                    statusBase = StatusBase(bridge: self)
                    lastMode = ""
                } catch {
                    log.debug("PipeWire still unavailable: \(error)")
                    nextRetry = Date() + retryDelay
                    retryDelay = min(retryDelay * 2, 2)
                }
            }
            if let n = pendingNames.withLock({ v -> DeviceRuntime.Names? in defer { v = nil }; return v }) {
                applyNames(n)
            }
            if Date().timeIntervalSince(lastRateCheck) >= 1 {
                lastRateCheck = Date()
                let r = UInt32(runtime.sampleRate)
                if deviceRate.exchange(r, ordering: .relaxed) != r {
                    log.notice("device sample rate now \(r) Hz: the PipeWire nodes re-lock")
                }
            }
            guard pw != nil else { continue }
            let mode = modeSummary()
            let interval = settings.statusInterval
            // Mode changes are reported at once, once drift has a second of history.
            if (mode != lastMode || (interval > 0 && Date().timeIntervalSince(lastStatus) >= interval))
                && Date().timeIntervalSince(statusBase.time) >= 1 {
                log.info("\(statusLine(since: statusBase))")
                if let p = pw, let rd = statusBase.mediaVsMonotonic(now: StatusBase(bridge: self)) {
                    inferno_pw_set_rate_diff(p, 1 + rd * 1e-6)
                }
                statusBase = StatusBase(bridge: self)
                lastStatus = Date()
                lastMode = mode
            }
        }
        finished.signal()
    }

    func describeNodes() -> String {
        var parts: [String] = []
        if rxCount > 0 { parts.append("source \(nodeName) (\(rxCount) RX ports)") }
        if txCount > 0 { parts.append("sink \(nodeName) (\(txCount) TX ports)") }
        if settings.clockMode == .driver { parts.append("driver \(nodeName).clock (priority \(settings.driverPriority))") }
        return parts.joined(separator: ", ")
    }

    private func applyNames(_ n: DeviceRuntime.Names) {
        let old = names
        names = n
        guard let p = pw else { return }
        let deviceChanged = old.device != n.device
        if deviceChanged {
            if rxCount > 0 { _ = inferno_pw_set_description(p, 0, "\(n.device) (Dante RX)", "\(n.device) RX") }
            if txCount > 0 { _ = inferno_pw_set_description(p, 1, "\(n.device) (Dante TX)", "\(n.device) TX") }
        }
        for (node, count, new, prev) in [(Int32(0), rxCount, n.rx, old.rx), (Int32(1), txCount, n.tx, old.tx)] {
            for i in 0..<min(count, new.count) where deviceChanged || i >= prev.count || prev[i] != new[i] {
                _ = inferno_pw_set_port(p, node, UInt32(i), new[i], Self.alias(new[i], n.device))
                log.info("PipeWire \(node == 0 ? "source" : "sink") port \(i + 1): \(new[i]) (alias \(Self.alias(new[i], n.device)))")
            }
        }
    }

    // MARK: status

    struct StatusBase {
        var time = Date()
        var mono: Int64
        var media: Int64?
        var errors: [Double]
        var modes: [UInt8]
        var resyncs: [Int]
        init(bridge: WiredBridge) {
            mono = monotonicNow()
            media = bridge.runtime.clock.now()?.ns
            errors = bridge.stats.map(\.error)
            modes = bridge.stats.map { $0.mode.load(ordering: .relaxed) }
            resyncs = bridge.stats.map { $0.resyncs.load(ordering: .relaxed) }
        }
        /// Media clock rate against CLOCK_MONOTONIC since this base, ppm.
        func mediaVsMonotonic(now: StatusBase) -> Double? {
            guard let m0 = media, let m1 = now.media, now.mono - mono > 500_000_000 else { return nil }
            let dMono = Double(now.mono - mono), dMedia = Double(m1 - m0)
            return (dMedia - dMono) / dMono * 1e6
        }
    }

    static func modeName(_ m: UInt8, cycles: UInt64 = 1, ourDriver: Bool = false) -> String {
        if cycles == 0 { return "waiting for the graph to run" }
        let who = ourDriver ? "driven by the media clock at another rate" : "following another driver"
        return switch GraphClockFollower.Mode(rawValue: m) ?? .unlocked {
        case .unlocked: "no media clock (silence)"
        case .driven: "driven by the media clock"
        case .exact: "\(who), exact"
        case .resampling: "\(who), resampling"
        }
    }

    private func modeSummary() -> String {
        var s: [String] = []
        if let p = pw, settings.clockMode == .driver {
            var cycles: UInt64 = 0, resyncs: UInt64 = 0, noClock: UInt64 = 0
            var driving: Int32 = 0
            inferno_pw_driver_stats(p, &cycles, &resyncs, &noClock, &driving)
            s.append("driver \(driving)")
        }
        for i in 0..<2 where (i == 0 ? rxCount : txCount) > 0 {
            s.append(Self.modeName(stats[i].mode.load(ordering: .relaxed), cycles: stats[i].cycles.load(ordering: .relaxed),
                                   ourDriver: stats[i].ourDriver.load(ordering: .relaxed)))
        }
        return s.joined(separator: "/")
    }

    private func statusLine(since base: StatusBase) -> String {
        let now = StatusBase(bridge: self)
        var cycles: UInt64 = 0, resyncs: UInt64 = 0, noClock: UInt64 = 0
        var driving: Int32 = 0
        if let p = pw { inferno_pw_driver_stats(p, &cycles, &resyncs, &noClock, &driving) }
        var parts: [String] = []
        let active = stats.indices.filter { ($0 == 0 ? rxCount : txCount) > 0 }
        let dt = max(1e-3, Double(now.mono - base.mono) / 1e9)
        let rate = Double(deviceRate.load(ordering: .relaxed))
        for i in active {
            let st = stats[i]
            let mode = GraphClockFollower.Mode(rawValue: st.mode.load(ordering: .relaxed)) ?? .unlocked
            let cycles = st.cycles.load(ordering: .relaxed)
            var line = "\(i == 0 ? "source" : "sink"): \(Self.modeName(mode.rawValue, cycles: cycles, ourDriver: st.ourDriver.load(ordering: .relaxed)))"
            guard cycles > 0 else { parts.append(line); continue }
            switch mode {
            case .driven:
                break
            case .exact:
                // Drift = how fast the placement error grows (no correction applied while it stays in the deadband).
                if base.modes[i] == mode.rawValue && base.resyncs[i] == now.resyncs[i] {
                    let ppm = (now.errors[i] - base.errors[i]) / (dt * rate) * 1e6
                    line += String(format: ", drift %+.2f ppm, offset %.2f samples", ppm, st.error)
                } else {
                    line += String(format: ", drift (measuring), offset %.2f samples", st.error)
                }
            case .resampling:
                line += String(format: ", drift %+.2f ppm (corrected), offset %.2f samples", st.drift, st.error)
            case .unlocked:
                break
            }
            line += ", device \(Int(rate)) Hz, graph \(st.graphRate.load(ordering: .relaxed)) Hz / quantum \(st.quantum.load(ordering: .relaxed)), resyncs \(st.resyncs.load(ordering: .relaxed))"
            parts.append(line)
        }
        var head = "pipewire: "
        if settings.clockMode == .driver {
            switch driving {
            case 1: head += "driving the graph from the media clock (\(runtime.clock.description))"
            case 0: head += "media-clock driver stands by (another driver runs the graph)"
            default: head += "media-clock driver idle (PipeWire suspends the nodes while nothing is linked)"
            }
            if let ppm = base.mediaVsMonotonic(now: now) {
                head += String(format: ", media clock vs CLOCK_MONOTONIC %+.2f ppm", ppm)
            }
            head += ", driver re-anchors \(resyncs)"
            if noClock > 0 { head += ", cycles without media clock \(noClock)" }
        } else {
            head += "following the graph's driver (--pw-clock follow)"
        }
        return ([head] + parts).joined(separator: "; ")
    }

    // MARK: audio (PipeWire data thread)

    private func process(node: Int, cycle: UnsafePointer<inferno_pw_cycle>, ports: UnsafePointer<UnsafeMutablePointer<Float>?>,
                         count: Int) {
        let c = cycle.pointee
        let n = Int(c.samples)
        let st = stats[node]
        st.cycles.add(1, ordering: .relaxed)
        st.graphRate.store(c.rate, ordering: .relaxed)
        st.ourDriver.store(c.driving != 0, ordering: .relaxed)
        st.quantum.store(c.samples, ordering: .relaxed)
        if resetRequested.exchange(false, ordering: .relaxed) {
            followers[0] = GraphClockFollower()
            followers[1] = GraphClockFollower()
            graphToRing?.reset()
            sourceLead = 0
            sinkLead = 0
        }
        guard n <= Self.maxFrames else {
            st.oversized.add(1, ordering: .relaxed)
            silence(node: node, ports: ports, count: count, frames: n)
            return
        }
        let devRate = deviceRate.load(ordering: .relaxed)
        var media: (whole: UInt64, frac: Double, generation: UInt32)?
        if let now = runtime.clock.now() {
            // Media time at the cycle's start: the driver stamped it on CLOCK_MONOTONIC.
            let ns = now.ns &- (monotonicNow() &- Int64(bitPattern: c.nsec))
            if ns > 0 {
                let whole = MediaClock.samples(atNanoseconds: UInt64(ns), sampleRate: devRate)
                let rest = UInt64(ns) &- MediaClock.nanoseconds(atSample: whole, sampleRate: devRate)
                media = (whole, Double(rest) * Double(devRate) / 1e9, now.generation)
            }
        }
        let driven: UInt64? = c.driving != 0 ? c.position : nil
        let before = followers[node].resyncs
        guard let m = followers[node].begin(samples: n, graphRate: c.rate, deviceRate: devRate,
                                            drivenPosition: driven, media: media) else {
            st.noClock.add(1, ordering: .relaxed)
            st.mode.store(GraphClockFollower.Mode.unlocked.rawValue, ordering: .relaxed)
            silence(node: node, ports: ports, count: count, frames: n)
            return
        }
        let relocked = followers[node].resyncs != before
        // How far ahead of the media position the device side is read/written: one cycle for RX (only
        // samples older than the playout point exist), two for TX (the transmitter reads each sample when its
        // time comes). Grows (with one glitch) when the quantum grows; never shrinks while locked.
        let span = UInt64((Double(n) * m.ratio).rounded(.up))
        if node == 0 {
            if relocked || span > sourceLead { sourceLead = span }
            for ch in 0..<min(count, rxCount) {
                guard let out = ports[ch] else { continue }
                let delay = sourceLead &+ UInt64(max(0, runtime.rx.latencySamples(channel: ch)))
                ringToGraph.render(ring: runtime.rx.rings[ch], mapping: m, delay: delay, frames: n, into: out)
            }
        } else if let ring = txRing, let g = graphToRing {
            if relocked || 2 * span > sinkLead { sinkLead = 2 * span; if relocked { g.reset() } }
            g.write(count: n, mapping: m, delay: sinkLead, to: ring) { ch in
                ch < count ? UnsafePointer(ports[ch]) : nil
            }
        }
        followers[node].end(samples: n)
        st.mode.store(followers[node].mode.rawValue, ordering: .relaxed)
        st.errorBits.store(followers[node].error.bitPattern, ordering: .relaxed)
        st.driftBits.store(followers[node].driftPPM.bitPattern, ordering: .relaxed)
        st.resyncs.store(followers[node].resyncs, ordering: .relaxed)
    }

    private func silence(node: Int, ports: UnsafePointer<UnsafeMutablePointer<Float>?>, count: Int, frames: Int) {
        guard node == 0 else { return }
        for ch in 0..<count { ports[ch]?.update(repeating: 0, count: frames) }
    }
}
