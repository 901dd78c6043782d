import Glibc
import InfernoProtocol
import Logging
import Synchronization

/// A usrvclock server (dante-protocol.md §9.1) publishing the host clock, so that single-host setups and tests
/// run the real usrvclock path without a PTP daemon (`inferno clock serve`).
///
/// It binds a Unix datagram socket (a stale socket file is removed first; a live server on the path is refused),
/// records every client address it receives any datagram from, sends that client the overlay at once and then
/// pushes the overlay to all clients every `intervalNs`. A client whose send fails with anything but EAGAIN is
/// dropped.
///
/// Sources:
/// * `.system`: clock id CLOCK_TAI (11; CLOCK_REALTIME if TAI is unreadable), shift 0, freq 0. Devices following
///   this server and devices on `--clock system` agree exactly.
/// * `.monotonicRaw`: clock id CLOCK_MONOTONIC_RAW (4), shift = TAI − MONOTONIC_RAW measured at start and
///   re-measured at every push (with the long-run rate as freq_scale), so it stays on the host's TAI timescale
///   even though MONOTONIC_RAW is not disciplined.
/// * `.fixed(overlay)`: exactly this overlay (tests, `setOverlay`).
public final class USrvClockServer: @unchecked Sendable {
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case system
        case monotonicRaw
        case fixed(ClockOverlay)

        /// "system" or "monotonic-raw"; nil for anything else.
        public init?(name: String) {
            switch name.lowercased() {
            case "system": self = .system
            case "monotonic-raw", "monotonic_raw": self = .monotonicRaw
            default: return nil
            }
        }
        public var description: String {
            switch self {
            case .system: return "system"
            case .monotonicRaw: return "monotonic-raw"
            case .fixed: return "fixed overlay"
            }
        }
    }

    public static let defaultIntervalNs: Int64 = 250_000_000

    public let path: String
    public let intervalNs: Int64
    private let fd: CInt
    private let identity: UnixDatagram.FileIdentity
    private let log: Logger
    private let wake: WakePipe
    private let stopped = ClosedFlag()
    private var thread: RealtimeThread?
    private let state: Mutex<State>

    private struct State {
        var source: Source
        var overlay: ClockOverlay
        var clients: [[UInt8]] = []      // raw sockaddr_un bytes (up to the address length)
        var sent = 0
        /// MONOTONIC_RAW anchor for the long-run rate: (raw, TAI − raw) at start.
        var anchor: (raw: Int64, shift: Int64)?
        var initialized = false
    }

    /// Binds `path` and starts serving at once. `intervalNs` is clamped to 1 ms … 1 s (servers push at least once a second).
    public init(path: String = ClockSpec.defaultUSrvClockPath, source: Source = .system,
                intervalNs: Int64 = USrvClockServer.defaultIntervalNs, logger: Logger) throws(ClockSocketError) {
        guard UnixDatagram.address(path) != nil else { throw .pathTooLong(path) }
        self.path = path
        self.intervalNs = min(max(intervalNs, 1_000_000), 1_000_000_000)
        self.log = logger

        // A socket file already there: another live server (refuse) or a stale one (remove).
        if let (type, _) = UnixDatagram.fileType(path) {
            guard type == S_IFSOCK else { throw .notASocket(path) }
            let probe = try UnixDatagram.socket()
            defer { Glibc.close(probe) }
            do throws(ClockSocketError) {
                try UnixDatagram.connect(probe, path)
                throw .alreadyServing(path)
            } catch {
                guard case .system(_, _, let e) = error, e == ECONNREFUSED else { throw error }
                unlink(path)
                logger.info("usrvclock server: removed the stale socket \(path)")
            }
        }
        let fd = try UnixDatagram.socket()
        do throws(ClockSocketError) {
            try UnixDatagram.bind(fd, path)
        } catch {
            Glibc.close(fd)
            throw error
        }
        // Devices may run as other users: sending to a Unix socket needs write permission on its file.
        chmod(path, 0o666)
        guard let (_, identity) = UnixDatagram.fileType(path) else {
            Glibc.close(fd)
            throw .system("stat", path, errno)
        }
        self.fd = fd
        self.identity = identity
        do throws(ClockSocketError) {
            self.wake = try WakePipe()
        } catch {
            Glibc.close(fd); unlink(path)
            throw error
        }
        var initial = State(source: source, overlay: ClockOverlay(clockID: 0, lastSync: 0, shift: 0, freqScale: 0))
        USrvClockServer.refresh(&initial)
        self.state = Mutex(initial)
        logger.info("usrvclock server on \(path): \(source) (\(clockName(initial.overlay.clockID)), shift \(initial.overlay.shift) ns), pushed every \(USrvClockClient.seconds(intervalNs))")
        thread = RealtimeThread.start(name: "usrvclock-srv") { [self] in self.run() }
    }

    /// Registered clients.
    public var clientCount: Int { state.withLock { $0.clients.count } }
    /// Overlays sent so far (all clients).
    public var overlaysSent: Int { state.withLock { $0.sent } }
    /// The overlay being published.
    public var currentOverlay: ClockOverlay { state.withLock { $0.overlay } }

    /// Publishes `overlay` from now on (source becomes `.fixed`) and pushes it to every client at once.
    public func setOverlay(_ overlay: ClockOverlay) {
        state.withLock { s in
            s.source = .fixed(overlay)
            s.overlay = overlay
            broadcast(overlay.encode(), &s)
        }
    }

    /// Sends `bytes` as is to every client at once (for tests: malformed overlays).
    public func sendRaw(_ bytes: [UInt8]) {
        state.withLock { s in broadcast(bytes, &s) }
    }

    /// Stops the thread, closes the socket and removes its file (if it is still ours). Idempotent.
    public func stop() {
        guard stopped.set() else { return }
        wake.wake()
        thread?.join()
        thread = nil
        Glibc.close(fd)
        if UnixDatagram.fileType(path)?.identity == identity { unlink(path) }
        wake.close()
        log.info("usrvclock server on \(path) stopped")
    }

    // MARK: Thread

    private func run() {
        var nextTick = monotonicNow() &+ intervalNs
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let now = monotonicNow()
            if now >= nextTick {
                state.withLock { s in
                    USrvClockServer.refresh(&s)
                    broadcast(s.overlay.encode(), &s)
                }
                nextTick &+= intervalNs
                if nextTick <= now { nextTick = now &+ intervalNs }
                continue
            }
            switch wake.wait(fd: fd, timeoutNs: nextTick &- now) {
            case .woken: return
            case .timeout: continue
            case .readable:
                // Drain: every datagram (whatever its content) registers its sender.
                while true {
                    var addr = sockaddr_un()
                    var len = socklen_t(MemoryLayout<sockaddr_un>.size)
                    let n = buffer.withUnsafeMutableBytes { b in
                        withUnsafeMutablePointer(to: &addr) {
                            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                recvfrom(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, &len)
                            }
                        }
                    }
                    if n < 0 { break }
                    guard Int(len) > MemoryLayout<sa_family_t>.size else {
                        log.debug("usrvclock server: ignoring a datagram from an unbound socket (no address to answer)")
                        continue
                    }
                    let key = withUnsafeBytes(of: &addr) { Array($0.prefix(Int(len))) }
                    state.withLock { s in
                        if !s.clients.contains(key) {
                            s.clients.append(key)
                            log.debug("usrvclock server: client registered: \(Self.name(key)) (\(s.clients.count) in all)")
                        }
                        send(s.overlay.encode(), to: key, &s)
                    }
                }
            }
        }
    }

    /// Recomputes the published overlay for the source (called with the state locked).
    private static func refresh(_ s: inout State) {
        switch s.source {
        case .fixed(let o):
            s.overlay = o
        case .system:
            if !s.initialized {
                let id = SystemMediaClock().clockID
                s.overlay = ClockOverlay(clockID: Int64(id), lastSync: readClock(id) ?? 0, shift: 0, freqScale: 0)
            }
        case .monotonicRaw:
            let (raw, shift) = measureTAIMinusRaw()
            var f = 0.0
            if let a = s.anchor {
                let span = raw &- a.raw
                if span >= 5_000_000_000 { f = min(max(Double(shift &- a.shift) / Double(span), -5e-4), 5e-4) }
            } else {
                s.anchor = (raw, shift)
            }
            s.overlay = ClockOverlay(clockID: Int64(CLOCK_MONOTONIC_RAW), lastSync: raw, shift: shift, freqScale: f)
        }
        s.initialized = true
    }

    /// (MONOTONIC_RAW, TAI − MONOTONIC_RAW) from the tightest of a few raw/TAI/raw sandwiches.
    static func measureTAIMinusRaw() -> (raw: Int64, shift: Int64) {
        let tai = SystemMediaClock().clockID
        var best: (gap: Int64, raw: Int64, shift: Int64) = (.max, 0, 0)
        for _ in 0..<7 {
            guard let r1 = readClock(CLOCK_MONOTONIC_RAW), let t = readClock(tai), let r2 = readClock(CLOCK_MONOTONIC_RAW)
            else { continue }
            let gap = r2 &- r1
            if gap < best.gap {
                let mid = r1 &+ gap / 2
                best = (gap, mid, t &- mid)
            }
        }
        return (best.raw, best.shift)
    }

    private func broadcast(_ bytes: [UInt8], _ s: inout State) {
        for key in s.clients { send(bytes, to: key, &s) }
    }

    /// Sends to one client; drops it on any error but EAGAIN/EWOULDBLOCK (its queue is full: just skip).
    private func send(_ bytes: [UInt8], to key: [UInt8], _ s: inout State) {
        var addr = sockaddr_un()
        withUnsafeMutableBytes(of: &addr) { $0.copyBytes(from: key.prefix($0.count)) }
        let rc = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { b in
                    sendto(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), sa, socklen_t(key.count))
                }
            }
        }
        if rc >= 0 { s.sent += 1; return }
        let e = errno
        if e == EAGAIN || e == EWOULDBLOCK { return }
        s.clients.removeAll { $0 == key }
        log.debug("usrvclock server: dropped client \(Self.name(key)): \(UnixDatagram.errorText(e)) (\(s.clients.count) left)")
    }

    /// The path (or "@abstract") in a raw sockaddr_un.
    static func name(_ key: [UInt8]) -> String {
        let p = key.dropFirst(MemoryLayout<sa_family_t>.size)
        if p.first == 0 { return "@" + String(decoding: p.dropFirst(), as: UTF8.self) }
        return String(decoding: p.prefix { $0 != 0 }, as: UTF8.self)
    }
}
