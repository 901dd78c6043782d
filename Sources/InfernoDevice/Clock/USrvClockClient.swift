import Glibc
import InfernoProtocol
import Logging
import Synchronization

/// The client side of the usrvclock protocol (dante-protocol.md §9.1): media time = the overlay a PTP daemon (or
/// `inferno clock serve`) pushes over a Unix datagram socket, applied to the underlying clock it announces.
///
/// A background thread binds `$TMPDIR/usrvclock-client.<pid>.<n>`, connects to the server path, registers with an
/// empty datagram and applies each 40-byte overlay. Bad overlays are rejected with a logged reason and counted;
/// the last good one stays in force. On a socket error, or when no good overlay arrived for `staleTimeoutNs`, the
/// client re-registers under a new name (n+1), retrying every `retryIntervalNs`; after that silence the clock is
/// reported unavailable (`now()` returns nil, `status` says why).
///
/// `now()` is lock-free and allocation-free: the overlay is published through a seqlock of atomics.
/// The reading's `generation` starts at 1 with the first overlay and changes when the clock comes back after an
/// outage and when a new overlay moves media time by more than `jumpThresholdNs` (logged as a jump).
public final class USrvClockClient: MediaClockSource, @unchecked Sendable {
    public struct Options: Sendable {
        /// The server's socket (§9.1 default /tmp/ptp-usrvclock).
        public var serverPath: String
        /// Where the client socket is bound; default $TMPDIR, else /tmp.
        public var tempDirectory: String
        /// No good overlay for this long → clock unavailable and re-register. Default 3 s.
        public var staleTimeoutNs: Int64 = 3_000_000_000
        /// Delay between failed registration attempts. Default 250 ms.
        public var retryIntervalNs: Int64 = 250_000_000
        /// A new overlay moving media time by more than this is a jump (new generation). Default 200 ms.
        public var jumpThresholdNs: Int64 = 200_000_000
        public init(serverPath: String = ClockSpec.defaultUSrvClockPath, tempDirectory: String? = nil) {
            self.serverPath = serverPath
            self.tempDirectory = tempDirectory ?? UnixDatagram.tempDirectory()
        }
    }

    public let options: Options
    public var description: String { "usrvclock \(options.serverPath)" }
    private let log: Logger
    private let cell = OverlayCell()
    private let stopping = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)
    private let wake: WakePipe
    private var thread: RealtimeThread?
    private let info: Mutex<Info>

    private struct Info {
        var status: String
        var accepted = 0
        var rejected = 0
        var registrations = 0
        var jumps = 0
        var lastRejectReason: String?
        var lastRejectLogNs: Int64 = .min
        var lastConnectError: String?
        var clientPath: String?
    }

    /// Process-wide counter for client socket names (several clients may live in one process).
    private static let socketCounter = Atomic<Int>(0)

    /// Starts the background thread at once; the clock becomes available with the first good overlay.
    public init(options: Options, logger: Logger) throws(ClockSocketError) {
        guard UnixDatagram.address(options.serverPath) != nil else { throw .pathTooLong(options.serverPath) }
        let probe = "\(options.tempDirectory)/usrvclock-client.\(getpid()).\(Int.max)"
        guard UnixDatagram.address(probe) != nil else { throw .pathTooLong(probe) }
        self.options = options
        self.log = logger
        self.wake = try WakePipe()
        self.info = Mutex(Info(status: "waiting for the first usrvclock overlay from \(options.serverPath)"))
        thread = RealtimeThread.start(name: "usrvclock-client") { [self] in self.run() }
    }

    public convenience init(path: String = ClockSpec.defaultUSrvClockPath, logger: Logger) throws(ClockSocketError) {
        try self.init(options: Options(serverPath: path), logger: logger)
    }

    // MARK: MediaClockSource

    /// Lock-free, allocation-free: a seqlock read of the published overlay plus one clock_gettime.
    @inline(__always)
    public func now() -> ClockReading? {
        guard let s = cell.read(), s.available else { return nil }
        guard let t = readClock(clockid_t(truncatingIfNeeded: s.overlay.clockID)) else { return nil }
        return ClockReading(ns: s.overlay.overlayTime(underlyingNs: t), generation: s.generation,
                            freqScale: s.overlay.freqScale)
    }

    public var status: String { info.withLock { $0.status } }

    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopping.store(true, ordering: .releasing)
        wake.wake()
        thread?.join()
        thread = nil
        wake.close()
    }

    // MARK: Counters (for tests and the CLI)

    /// Good overlays applied.
    public var acceptedOverlays: Int { info.withLock { $0.accepted } }
    /// Datagrams rejected (bad length, magic, version, flag, freq_scale, unreadable clock).
    public var rejectedOverlays: Int { info.withLock { $0.rejected } }
    public var lastRejectReason: String? { info.withLock { $0.lastRejectReason } }
    /// Successful registrations (1 + re-registrations).
    public var registrations: Int { info.withLock { $0.registrations } }
    /// Overlay updates that moved media time by more than the jump threshold.
    public var jumps: Int { info.withLock { $0.jumps } }
    /// The client socket currently bound, if any.
    public var clientSocketPath: String? { info.withLock { $0.clientPath } }
    /// The overlay in force (nil before the first one or while unavailable).
    public var currentOverlay: ClockOverlay? {
        guard let s = cell.read(), s.available else { return nil }
        return s.overlay
    }

    /// Blocks up to `timeoutNs` until the clock is available. Not for real-time threads.
    public func waitUntilAvailable(timeoutNs: Int64) -> Bool {
        let deadline = monotonicNow() &+ timeoutNs
        while true {
            if now() != nil { return true }
            if monotonicNow() >= deadline || closed.load(ordering: .acquiring) { return false }
            sleepNanoseconds(5_000_000)
        }
    }

    // MARK: Background thread

    private func run() {
        var fd: CInt = -1
        var myPath = ""
        var registeredAt: Int64 = 0
        var serverIdentity: UnixDatagram.FileIdentity? = nil   // the server socket file we registered with
        var lastGood: Int64? = nil          // monotonic time of the last good overlay
        var everAvailable = false
        var buffer = [UInt8](repeating: 0, count: 256)

        func dropSocket() {
            if fd >= 0 { Glibc.close(fd); fd = -1 }
            if !myPath.isEmpty { unlink(myPath); myPath = "" }
            info.withLock { $0.clientPath = nil }
        }
        func markUnavailable(_ why: String) {
            guard cell.read()?.available == true else {
                info.withLock { $0.status = why }
                return
            }
            cell.setUnavailable()
            info.withLock { $0.status = why }
            log.warning("clock unavailable: \(why)")
        }
        func staleText() -> String {
            "no usrvclock overlay from \(options.serverPath) for \(Self.seconds(options.staleTimeoutNs))"
        }

        while !stopping.load(ordering: .acquiring) {
            if fd < 0 {
                // Register under a fresh name.
                let n = Self.socketCounter.wrappingAdd(1, ordering: .relaxed).oldValue
                let path = "\(options.tempDirectory)/usrvclock-client.\(getpid()).\(n)"
                do throws(ClockSocketError) {
                    fd = try UnixDatagram.socket()
                    unlink(path)
                    try UnixDatagram.bind(fd, path)
                    myPath = path
                    try UnixDatagram.connect(fd, options.serverPath)
                    // A server running as another user must be able to send to us. Once connected, the socket
                    // accepts datagrams from the server only, so opening the file mode is safe.
                    chmod(path, 0o666)
                    let sent = Glibc.send(fd, nil, 0, 0)
                    guard sent == 0 else { throw .system("send", options.serverPath, errno) }
                    registeredAt = monotonicNow()
                    serverIdentity = UnixDatagram.fileType(options.serverPath)?.identity
                    let first = info.withLock { i in
                        i.registrations += 1
                        i.clientPath = path
                        defer { i.lastConnectError = nil }
                        return i.registrations == 1 || i.lastConnectError != nil
                    }
                    if first { log.info("usrvclock: registered with \(options.serverPath) as \(path)") }
                    else { log.debug("usrvclock: re-registered with \(options.serverPath) as \(path)") }
                } catch {
                    dropSocket()
                    let text = "\(error)"
                    let changed = info.withLock { i in
                        defer { i.lastConnectError = text }
                        return i.lastConnectError != text
                    }
                    if changed {
                        log.warning("usrvclock: cannot register with \(options.serverPath): \(text); retrying every \(Self.seconds(options.retryIntervalNs))")
                    }
                    let now = monotonicNow()
                    if let g = lastGood, now &- g >= options.staleTimeoutNs {
                        markUnavailable(staleText() + " (\(text))")
                    } else if lastGood == nil {
                        info.withLock { $0.status = "no usrvclock server at \(options.serverPath): \(text)" }
                    }
                    if wake.wait(fd: -1, timeoutNs: options.retryIntervalNs) == .woken { break }
                    continue
                }
            }

            // Wait for an overlay, at most until the silence limit.
            let now = monotonicNow()
            let since = max(lastGood ?? registeredAt, registeredAt)
            let remaining = options.staleTimeoutNs &- (now &- since)
            if remaining <= 0 {
                if lastGood != nil || everAvailable {
                    markUnavailable(staleText())
                } else {
                    info.withLock { $0.status = "no usrvclock overlay from \(options.serverPath) yet (registered \(Self.seconds(options.staleTimeoutNs)) ago)" }
                }
                log.debug("usrvclock: no overlay for \(Self.seconds(options.staleTimeoutNs)); re-registering")
                dropSocket()
                continue
            }
            // Also mark unavailable on time if an earlier registration kept the counter going.
            if let g = lastGood, now &- g >= options.staleTimeoutNs { markUnavailable(staleText()) }

            // A restarted server (new socket file) does not know us: re-register at once rather than after the
            // silence limit, so a quick restart costs no clock outage.
            if let id = serverIdentity {
                let cur = UnixDatagram.fileType(options.serverPath)?.identity
                if cur != id {
                    log.debug("usrvclock: server socket \(options.serverPath) was replaced or removed; re-registering")
                    dropSocket()
                    if cur == nil, wake.wait(fd: -1, timeoutNs: options.retryIntervalNs) == .woken { break }
                    continue
                }
            }

            switch wake.wait(fd: fd, timeoutNs: min(remaining, options.retryIntervalNs)) {
            case .woken: break
            case .timeout: continue
            case .readable:
                let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n < 0 {
                    let e = errno
                    if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { continue }
                    log.warning("usrvclock: receive from \(options.serverPath) failed: \(UnixDatagram.errorText(e)); re-registering")
                    dropSocket()
                    if wake.wait(fd: -1, timeoutNs: options.retryIntervalNs) == .woken { break }
                    continue
                }
                if apply(Array(buffer[0..<n]), everAvailable: &everAvailable) { lastGood = monotonicNow() }
                continue
            }
            break
        }
        dropSocket()
        cell.setUnavailable()
        info.withLock { $0.status = "closed" }
    }

    /// Validates and publishes one datagram. Returns true when it was a good overlay.
    private func apply(_ bytes: [UInt8], everAvailable: inout Bool) -> Bool {
        let overlay: ClockOverlay
        do {
            overlay = try ClockOverlay.decode(bytes)
        } catch {
            reject(Self.rejectReason(error, bytes: bytes))
            return false
        }
        guard let tNew = readClock(clockid_t(truncatingIfNeeded: overlay.clockID)) else {
            reject("announced \(clockName(overlay.clockID)) cannot be read: \(UnixDatagram.errorText(errno))")
            return false
        }
        let previous = cell.read()
        var generation = previous?.generation ?? 0
        var jumpNs: Int64? = nil
        if let p = previous, p.available {
            let tOld = p.overlay.clockID == overlay.clockID ? tNew : readClock(clockid_t(truncatingIfNeeded: p.overlay.clockID))
            if let tOld {
                let delta = overlay.overlayTime(underlyingNs: tNew) &- p.overlay.overlayTime(underlyingNs: tOld)
                if delta.magnitude > UInt64(options.jumpThresholdNs) {
                    generation &+= 1
                    jumpNs = delta
                }
            } else {
                generation &+= 1
            }
        } else {
            generation &+= 1   // first overlay, or back after an outage
        }
        if generation == 0 { generation = 1 }
        cell.publish(overlay, generation: generation)
        let wasAvailable = previous?.available ?? false
        let statusText = "following usrvclock \(options.serverPath): \(clockName(overlay.clockID)), shift \(overlay.shift) ns, "
            + "freq \(Self.ppb(overlay.freqScale)) ppb"
        info.withLock { i in
            i.accepted += 1
            i.status = statusText
            if jumpNs != nil { i.jumps += 1 }
        }
        if let jumpNs {
            log.warning("usrvclock: overlay jumps media time by \(Self.millis(jumpNs)) ms (over \(Self.millis(options.jumpThresholdNs)) ms): flows re-bootstrap (generation \(generation))")
        }
        if !wasAvailable {
            log.info("clock available: usrvclock \(options.serverPath), \(clockName(overlay.clockID)) (generation \(generation))")
            everAvailable = true
        }
        return true
    }

    private func reject(_ reason: String) {
        let now = monotonicNow()
        let shouldLog = info.withLock { i in
            i.rejected += 1
            defer { i.lastRejectReason = reason }
            if i.lastRejectReason != reason || now &- i.lastRejectLogNs >= 1_000_000_000 {
                i.lastRejectLogNs = now
                return true
            }
            return false
        }
        if shouldLog { log.warning("usrvclock: rejected a datagram from \(options.serverPath): \(reason)") }
    }

    static func rejectReason(_ error: WireError, bytes: [UInt8]) -> String {
        switch error {
        case let .badLength(_, actual):
            return "\(actual) bytes, an overlay is exactly \(ClockOverlay.size)"
        case let .badMagic(_, found):
            return "bad magic 0x\(String(found, radix: 16)) (expected \"VC\")"
        case let .unsupportedVersion(v):
            return "unsupported major version \(v) (this client speaks \(ClockOverlay.majorVersion))"
        case let .invalidValue(field, value) where field == "flags":
            return "valid flag (bit 0) clear in flags 0x\(String(value, radix: 16)) (server says the overlay is not valid, or client too old?)"
        case let .invalidValue(field, value) where field == "freq_scale":
            return "freq_scale out of range (\(value) ppb)"
        default:
            return "\(error)"
        }
    }

    static func seconds(_ ns: Int64) -> String {
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000) s" }
        return "\(ns / 1_000_000) ms"
    }
    static func millis(_ ns: Int64) -> String {
        let us = ns / 1000
        let sign = us < 0 ? "-" : ""
        let a = us.magnitude
        let frac = a % 1000
        return "\(sign)\(a / 1000).\(frac < 10 ? "00" : frac < 100 ? "0" : "")\(frac)"
    }
    static func ppb(_ f: Double) -> String {
        let v = (f * 1e9 * 1000).rounded() / 1000
        return v >= 0 ? "+\(v)" : "\(v)"
    }
}

/// The published overlay: an atomic-indexed double buffer of seqlocked slots. One writer (the client thread),
/// any number of lock-free readers. The writer fills the slot readers are *not* directed to and then flips the
/// index, so a writer preempted mid-update never makes a reader wait: the reader's slot is only rewritten after two
/// further updates, and then its sequence check fails and it re-reads the index. Every field is an atomic
/// (relaxed), so there is no formal data race; the sequence numbers order them.
final class OverlayCell: Sendable {
    struct Snapshot {
        var overlay: ClockOverlay
        var generation: UInt32
        var available: Bool
    }

    final class Slot: Sendable {
        let seq = Atomic<UInt64>(0)
        let clockID = Atomic<Int64>(0)
        let lastSync = Atomic<Int64>(0)
        let shift = Atomic<Int64>(0)
        let freqBits = Atomic<UInt64>(0)
        let generation = Atomic<UInt32>(0)
        let available = Atomic<Bool>(false)
    }

    private let slot0 = Slot()
    private let slot1 = Slot()
    /// 0 or 1: the slot readers use; −1 before the first overlay.
    private let index = Atomic<Int>(-1)

    /// nil before the first overlay was ever published. Lock-free, allocation-free.
    @inline(__always)
    func read() -> Snapshot? {
        while true {
            let i = index.load(ordering: .acquiring)
            if i < 0 { return nil }
            let slot = i == 0 ? slot0 : slot1
            let s1 = slot.seq.load(ordering: .acquiring)
            if s1 & 1 != 0 { continue }
            let o = ClockOverlay(clockID: slot.clockID.load(ordering: .relaxed),
                                 lastSync: slot.lastSync.load(ordering: .relaxed),
                                 shift: slot.shift.load(ordering: .relaxed),
                                 freqScale: Double(bitPattern: slot.freqBits.load(ordering: .relaxed)))
            let g = slot.generation.load(ordering: .relaxed)
            let a = slot.available.load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            if slot.seq.load(ordering: .relaxed) == s1 { return Snapshot(overlay: o, generation: g, available: a) }
        }
    }

    /// Writer only (one thread).
    private func write(_ snap: Snapshot) {
        let current = index.load(ordering: .relaxed)
        let j = current == 0 ? 1 : 0
        let slot = j == 0 ? slot0 : slot1
        let s = slot.seq.load(ordering: .relaxed)
        slot.seq.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        slot.clockID.store(snap.overlay.clockID, ordering: .relaxed)
        slot.lastSync.store(snap.overlay.lastSync, ordering: .relaxed)
        slot.shift.store(snap.overlay.shift, ordering: .relaxed)
        slot.freqBits.store(snap.overlay.freqScale.bitPattern, ordering: .relaxed)
        slot.generation.store(snap.generation, ordering: .relaxed)
        slot.available.store(snap.available, ordering: .relaxed)
        slot.seq.store(s &+ 2, ordering: .releasing)
        index.store(j, ordering: .releasing)
    }

    func publish(_ o: ClockOverlay, generation g: UInt32) {
        write(Snapshot(overlay: o, generation: g, available: true))
    }

    /// Keeps the last overlay and generation, marks the clock unavailable (no-op before the first overlay).
    func setUnavailable() {
        guard var snap = read(), snap.available else { return }
        snap.available = false
        write(snap)
    }
}
