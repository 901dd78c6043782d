import CInfernoSys
import Glibc
import InfernoProtocol
import Logging
import Synchronization

/// The PTP settings of a device (`--ptp-*` flags and their INFERNO_PTP_* variables).
public struct PTPSettings: Equatable, Sendable {
    public enum Versions: String, Sendable { case v1 = "1", v2 = "2", both }
    public enum Timestamping: String, Sendable { case auto, software, hardware }

    public var versions: Versions = .both
    public var domain: UInt8 = 0
    public var leader: PTPClockCore.LeaderMode = .auto
    /// True when `--ptp-leader` was given (under `--clock auto` the device only follows unless it was).
    public var leaderExplicit = false
    public var timestamping: Timestamping = .auto
    /// Test only: the timescale this device leads with is host + offset (+ ppm).
    public var testOffsetNs: Int64 = 0
    public var testPpm: Double = 0
    public init() {}

    /// Reads the settings through `value(flag, env)` (DeviceConfig's flag-or-environment lookup).
    public static func resolve(_ value: (String, String?) -> (String, String)?) throws(ConfigError) -> PTPSettings {
        var p = PTPSettings()
        if let (v, s) = value("ptp-version", "INFERNO_PTP_VERSION") {
            guard let x = Versions(rawValue: v) else { throw ConfigError(setting: s, value: v, reason: "must be 1, 2 or both") }
            p.versions = x
        }
        if let (v, s) = value("ptp-domain", "INFERNO_PTP_DOMAIN") {
            guard let d = Int(v), (0...127).contains(d) else { throw ConfigError(setting: s, value: v, reason: "must be a whole number from 0 to 127") }
            p.domain = UInt8(d)
        }
        if let (v, s) = value("ptp-leader", "INFERNO_PTP_LEADER") {
            guard let m = PTPClockCore.LeaderMode(rawValue: v) else {
                throw ConfigError(setting: s, value: v, reason: "must be never, auto or preferred")
            }
            p.leader = m
            p.leaderExplicit = true
        }
        if let (v, s) = value("ptp-timestamping", "INFERNO_PTP_TIMESTAMPING") {
            guard let t = Timestamping(rawValue: v) else { throw ConfigError(setting: s, value: v, reason: "must be auto, software or hardware") }
            if t == .hardware {
                throw ConfigError(setting: s, value: v, reason: "is not available yet (software kernel timestamps only): use auto or software")
            }
            p.timestamping = t
        }
        if let (v, s) = value("ptp-test-timescale-offset-ns", "INFERNO_PTP_TEST_TIMESCALE_OFFSET_NS") {
            guard let n = Int64(v), n.magnitude <= 1_000_000_000_000_000 else {
                throw ConfigError(setting: s, value: v, reason: "must be a whole number of ns within ±10^18")
            }
            p.testOffsetNs = n
        }
        if let (v, s) = value("ptp-test-timescale-ppm", "INFERNO_PTP_TEST_TIMESCALE_PPM") {
            guard let x = Double(v), x.isFinite, x.magnitude <= 400 else {
                throw ConfigError(setting: s, value: v, reason: "must be a number of ppm within ±400")
            }
            p.testPpm = x
        }
        return p
    }
}

/// The built-in PTP clock: a `MediaClockSource` whose overlay of CLOCK_MONOTONIC_RAW is steered by
/// `PTPClockCore` from PTPv1/PTPv2 traffic on one interface. One control thread ("inferno-ptp") owns two
/// multicast sockets (224.0.1.129:319 and :320, joined on the bind interface only, TTL 1, v1 TOS CS7 / v2 EF per
/// datagram) with kernel software timestamps (SO_TIMESTAMPING, RX and TX; user-space stamps when the kernel
/// gives none, logged once). `now()` is lock-free (the same seqlocked overlay cell as the usrvclock client).
///
/// The clock is available at once on the host's timescale (CLOCK_TAI); when the core follows a leader the overlay
/// moves onto its timescale, and a move of more than 200 ms is a new generation (engines re-bootstrap their flows).
/// Only one process per network namespace and interface may lead (an abstract-socket lock); others only follow.
public final class PTPClock: MediaClockSource, @unchecked Sendable {
    public struct Snapshot: Sendable {
        public var status: PTPClockCore.Status
        public var reportedState: PTPPortState
        public var stamping: String
        public var interface: String
    }

    public let description: String
    private let log: Logger
    private let cell = OverlayCell()
    private let stopping = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)
    private let wake: WakePipe
    private var thread: RealtimeThread?
    private let shared: Mutex<Shared>
    private let eventFD: CInt
    private let generalFD: CInt
    private var lockFD: CInt = -1
    private let ifindex: CInt
    private let stamping: Int32

    private struct Shared {
        var core: PTPClockCore
        var statusText = "starting"
        var preferredRequest: Bool?
    }

    /// Opens the sockets and starts the thread. `followOnly` forces `--ptp-leader never` (the `--clock auto`
    /// default). `waitForLeader`: no time at all (`now()` is nil) until the clock has locked to a leader once —
    /// what `--clock ptp --ptp-leader never` means; otherwise the host clock serves until then. Throws a ConfigError naming `--clock` when the interface cannot carry PTP or the ports cannot be
    /// opened (port 319 needs root or CAP_NET_BIND_SERVICE).
    public init(interface: HostInterface, portNumber: UInt16, settings: PTPSettings, followOnly: Bool = false,
                waitForLeader: Bool = false, logger: Logger) throws(ConfigError) {
        released = !waitForLeader
        let setting = ClockSpec.setting
        guard !interface.isLoopback else {
            throw ConfigError(setting: setting, value: "ptp", reason: "needs --bind on a network interface (PTP is multicast; loopback has none)")
        }
        let idx = CInt(bitPattern: if_nametoindex(interface.name))
        guard idx > 0 else { throw ConfigError(setting: setting, value: "ptp", reason: "cannot find interface \(interface.name)") }
        ifindex = idx
        log = logger
        do { wake = try WakePipe() } catch {
            throw ConfigError(setting: setting, value: "ptp", reason: "\(error)")
        }
        let fallback = NetworkInterfaces.defaultDeviceID(for: interface, processID: 0).bytes
        var cfg = PTPClockCore.Configuration(mac: interface.mac ?? [fallback[0], fallback[1], fallback[2], fallback[5], fallback[6], fallback[7]])
        cfg.portNumber = portNumber
        cfg.v1 = settings.versions != .v2
        cfg.v2 = settings.versions != .v1
        cfg.domain = settings.domain
        cfg.leader = followOnly ? .never : settings.leader
        cfg.timescaleOffsetNs = settings.testOffsetNs
        cfg.timescalePpm = settings.testPpm
        cfg.seed = UInt64(bitPattern: readClock(CLOCK_MONOTONIC_RAW) ?? 1) ^ UInt64(getpid())

        // One leader per namespace and interface: an abstract socket named after the interface is the lock.
        var lock: CInt = -1
        if cfg.leader != .never {
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let name = Array("inferno-ptp-leader.\(interface.name)".utf8)
            withUnsafeMutableBytes(of: &addr.sun_path) { p in
                p[0] = 0
                for (i, b) in name.prefix(p.count - 1).enumerated() { p[i + 1] = b }
            }
            let len = socklen_t(MemoryLayout<sa_family_t>.size + 1 + min(name.count, 106))
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } } == 0
            if ok { lock = fd } else {
                Glibc.close(fd)
                logger.notice("ptp: another inferno process in this network namespace may lead on \(interface.name); this one only follows")
                cfg.leader = .never
            }
        }

        var fds: [CInt] = []
        var modes: [Int32] = []
        for port in [PTP.eventPort, PTP.generalPort] {
            var mode: Int32 = 0
            let fd = inferno_ptp_socket(port, Self.groupBE, interface.address.bigEndian, idx, interface.name, 0, &mode)
            if fd < 0 {
                fds.forEach { Glibc.close($0) }
                if lock >= 0 { Glibc.close(lock) }
                let e = -fd
                let hint = e == EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : ""
                throw ConfigError(setting: setting, value: "ptp", reason: "cannot open PTP port \(port) on \(interface.name): \(UnixDatagram.errorText(e))\(hint)")
            }
            fds.append(fd); modes.append(mode)
        }
        eventFD = fds[0]; generalFD = fds[1]
        lockFD = lock
        stamping = modes.min() ?? 0
        description = "ptp \(interface.name) (v\(settings.versions == .both ? "1+2" : settings.versions.rawValue), domain \(settings.domain))"
        shared = Mutex(Shared(core: PTPClockCore(configuration: cfg)))
        if stamping < 2 {
            logger.warning("ptp: the kernel gives \(stamping == 1 ? "no transmit" : "no") timestamps on \(interface.name); using user-space stamps (less precise)")
        }
        logger.info("ptp: on \(interface.name) as \(cfg.portIdentity) (leader \(cfg.leader.rawValue))")
        // The first host sample right away, so the clock is available when init returns.
        let u = readClock(CLOCK_MONOTONIC_RAW) ?? 0
        handle(shared.withLock { $0.core.hostSample(taiMinusUnderlyingNs: Self.taiMinusRaw(), at: u) })
        thread = RealtimeThread.start(name: "inferno-ptp") { [self] in self.run() }
    }

    static let groupBE: UInt32 = {
        let g = PTP.multicastGroup
        return (UInt32(g.0) << 24 | UInt32(g.1) << 16 | UInt32(g.2) << 8 | UInt32(g.3)).bigEndian
    }()

    // MARK: MediaClockSource

    @inline(__always)
    public func now() -> ClockReading? {
        guard let s = cell.read(), s.available else { return nil }
        guard let t = readClock(CLOCK_MONOTONIC_RAW) else { return nil }
        return ClockReading(ns: s.overlay.overlayTime(underlyingNs: t), generation: s.generation, freqScale: s.overlay.freqScale)
    }

    public var status: String { shared.withLock { $0.statusText } }

    public var snapshot: Snapshot {
        shared.withLock { s in
            Snapshot(status: s.core.status, reportedState: s.core.reportedState,
                     stamping: stamping >= 2 ? "software (kernel RX and TX)" : stamping == 1 ? "software (kernel RX, user TX)" : "user space",
                     interface: description)
        }
    }

    /// The overlay in force (for `inferno clock serve --source ptp`).
    public var currentOverlay: ClockOverlay? { cell.read().map(\.overlay) }

    /// Conmon 0x0021: the preferred-leader flag at run time.
    public func setPreferred(_ on: Bool) {
        shared.withLock { $0.preferredRequest = on }
        wake.wake()
    }

    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopping.store(true, ordering: .releasing)
        wake.wake()
        thread?.join()
        thread = nil
        Glibc.close(eventFD); Glibc.close(generalFD)
        if lockFD >= 0 { Glibc.close(lockFD) }
        wake.close()
    }

    // MARK: Thread

    private struct Pending { var token: UInt32; var userStamp: Int64; var sentAt: Int64 }
    private var sendCount: [UInt32] = [0, 0]
    private var pendingTX: [[UInt32: Pending]] = [[:], [:]]
    private var warnedUserTX = false
    private var nextHost: Int64 = 0
    private var nextStatus: Int64 = 0
    private var buffer = [UInt8](repeating: 0, count: 2048)
    private var generation: UInt32 = 1
    private var lastPublished: ClockOverlay?
    /// False while waiting for the first lock to a leader (`waitForLeader`).
    private var released: Bool

    private func run() {
        while !stopping.load(ordering: .acquiring) {
            let now = readClock(CLOCK_MONOTONIC_RAW) ?? 0
            let deadline = shared.withLock { $0.core.nextDeadline } ?? (now + 100_000_000)
            var wait = min(deadline, nextHost, now + 100_000_000) - now
            if pendingTX.contains(where: { !$0.isEmpty }) { wait = min(wait, 5_000_000) }
            // Never spin: the core's timers are coarse (≥ 125 ms periods), 1 ms of slack costs nothing.
            wait = max(wait, 1_000_000)
            var pfds = [pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0),
                        pollfd(fd: eventFD, events: Int16(POLLIN), revents: 0),
                        pollfd(fd: generalFD, events: Int16(POLLIN), revents: 0)]
            let ms = wait <= 0 ? 0 : CInt(clamping: (wait + 999_999) / 1_000_000)
            _ = poll(&pfds, 3, ms)
            if pfds[0].revents != 0 {
                var b = [UInt8](repeating: 0, count: 64)
                _ = Glibc.read(wake.readFD, &b, 64)
            }
            if stopping.load(ordering: .acquiring) { break }
            if let p = shared.withLock({ s -> Bool? in defer { s.preferredRequest = nil }; return s.preferredRequest }) {
                shared.withLock { $0.core.setPreferred(p) }
                log.notice("ptp: preferred leader \(p ? "on" : "off")")
            }
            drainTXStamps(0, eventFD)
            drainTXStamps(1, generalFD)
            drainReceive(eventFD, event: true)
            drainReceive(generalFD, event: false)
            let t = readClock(CLOCK_MONOTONIC_RAW) ?? 0
            expireTX(t)
            if t >= nextHost {
                nextHost = t + 250_000_000
                handle(shared.withLock { $0.core.hostSample(taiMinusUnderlyingNs: Self.taiMinusRaw(), at: t) })
            }
            handle(shared.withLock { $0.core.tick(now: t) })
            if t >= nextStatus {
                nextStatus = t + 1_000_000_000
                updateStatusText(t)
            }
        }
        cell.setUnavailable()
    }

    private func drainReceive(_ fd: CInt, event: Bool) {
        for _ in 0..<256 {
            var stamp: Int64 = 0
            var idx: CInt = 0
            var src: UInt32 = 0
            let n = buffer.withUnsafeMutableBytes { inferno_ptp_recv(fd, $0.baseAddress, $0.count, &stamp, &idx, &src) }
            if n == -Int(EAGAIN) || n == -Int(EWOULDBLOCK) { return }
            if n < 0 { continue }
            // Only the bind interface (the socket is also joined there alone; this guards the rest).
            if idx != 0 && idx != ifindex { continue }
            let u: Int64
            if stamp != 0 { u = stamp &- inferno_clock_offset(CLOCK_REALTIME, CLOCK_MONOTONIC_RAW) }
            else { u = readClock(CLOCK_MONOTONIC_RAW) ?? 0 }
            let bytes = Array(buffer[0..<n])
            handle(shared.withLock { $0.core.receive(bytes, event: event, at: u) })
        }
    }

    private func drainTXStamps(_ k: Int, _ fd: CInt) {
        for _ in 0..<64 {
            var id: UInt32 = 0
            var stamp: Int64 = 0
            let r = inferno_ptp_txstamp(fd, &id, &stamp)
            if r == 0 || r < 0 { return }
            guard r == 1, let p = pendingTX[k].removeValue(forKey: id) else { continue }
            let u = stamp &- inferno_clock_offset(CLOCK_REALTIME, CLOCK_MONOTONIC_RAW)
            handle(shared.withLock { $0.core.transmitted(token: p.token, at: u) })
        }
    }

    /// A TX stamp not back within 20 ms: use the user-space time taken right after the send.
    private func expireTX(_ now: Int64) {
        for k in 0..<2 {
            for (id, p) in pendingTX[k] where now - p.sentAt > 20_000_000 {
                pendingTX[k][id] = nil
                if !warnedUserTX {
                    warnedUserTX = true
                    log.warning("ptp: no kernel transmit timestamp within 20 ms; using user-space stamps when that happens")
                }
                handle(shared.withLock { $0.core.transmitted(token: p.token, at: p.userStamp) })
            }
        }
    }

    private func handle(_ actions: [PTPClockCore.Action]) {
        for a in actions {
            switch a {
            case let .send(bytes, event, version, token):
                let fd = event ? eventFD : generalFD
                let port = event ? PTP.eventPort : PTP.generalPort
                let tos = Int32(version == 1 ? PTP.v1TOS : PTP.v2TOS)
                let n = bytes.withUnsafeBytes { inferno_ptp_send(fd, $0.baseAddress, $0.count, Self.groupBE, port, tos) }
                let user = readClock(CLOCK_MONOTONIC_RAW) ?? 0
                let k = event ? 0 : 1
                if n >= 0 {
                    let id = sendCount[k]
                    sendCount[k] &+= 1
                    if let token {
                        if stamping >= 2 { pendingTX[k][id] = Pending(token: token, userStamp: user, sentAt: user) }
                        else { handle(shared.withLock { $0.core.transmitted(token: token, at: user) }) }
                    }
                } else {
                    log.debug("ptp: send on port \(port) failed: \(UnixDatagram.errorText(Int32(-n)))")
                }
            case let .overlay(o, stepNs):
                if !released {
                    let st = shared.withLock { $0.core.status }
                    guard (st.reference == .v1 || st.reference == .v2) && st.servo == .locked else { continue }
                    released = true
                    log.info("ptp: locked to \(st.leader ?? "the leader"): media time available")
                }
                if let s = stepNs, s.magnitude > 200_000_000, lastPublished != nil {
                    generation &+= 1
                    if generation == 0 { generation = 1 }
                    log.warning("ptp: timescale moved by \(USrvClockClient.millis(-s)) ms: flows re-bootstrap (generation \(generation))")
                }
                lastPublished = o
                cell.publish(o, generation: generation)
            case let .stateChanged(version, state, leader):
                log.notice("ptp: v\(version) \(state)\(leader.map { " of \($0)" } ?? "")")
            }
        }
    }

    private func updateStatusText(_ now: Int64) {
        let waiting = !released
        let text = shared.withLock { s -> String in
            let st = s.core.status
            return (waiting ? "waiting for a PTP leader (no media time yet); " : "") + Self.statusLine(st, now: now)
        }
        shared.withLock { $0.statusText = text }
    }

    /// One line: "v1 follower of 020000.fffe.000001-1 (locked), offset 120 ns, delay 2100 ns, -3.210 ppm, last
    /// sync 0.12 s ago".
    static func statusLine(_ st: PTPClockCore.Status, now: Int64) -> String {
        var parts: [String] = []
        let states = "v1 \(st.v1State), v2 \(st.v2State)"
        switch st.reference {
        case .v1, .v2:
            parts.append("following \(st.leader ?? "?") (\(st.servo.rawValue)); \(states)")
            parts.append("offset \(st.offsetNs) ns, delay \(st.pathDelayNs) ns")
        case .host:
            parts.append("on the host clock (CLOCK_TAI)\(st.leader == "self" ? ", leading" : ""); \(states)")
        case .holdover:
            parts.append("holdover\(st.leader == "self" ? ", leading" : ""); \(states)")
        }
        parts.append("\(ppm(st.freqScale)) ppm")
        if let l = st.lastSyncUnderlyingNs { parts.append("last sync \(Double((now - l) / 10_000_000) / 100) s ago") }
        return parts.joined(separator: ", ")
    }

    /// A frequency offset (fraction) as signed ppm with three decimals.
    public static func ppmText(_ f: Double) -> String { ppm(f) }

    static func ppm(_ f: Double) -> String {
        let v = (f * 1e9).rounded() / 1000
        return v >= 0 ? "+\(abs(v))" : "\(v)"
    }

    static func taiMinusRaw() -> Int64 {
        readClock(CLOCK_TAI) != nil ? inferno_clock_offset(CLOCK_TAI, CLOCK_MONOTONIC_RAW)
            : inferno_clock_offset(CLOCK_REALTIME, CLOCK_MONOTONIC_RAW)
    }
}
