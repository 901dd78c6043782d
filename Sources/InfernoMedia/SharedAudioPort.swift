import Glibc
import Synchronization

/// The shared-memory face of a running device: the rings an application process (the ALSA plugin) plays into
/// and records from, plus the device's media clock, published so the application can place frames in media
/// time without a socket round trip.
///
/// One file `/dev/shm/inferno-<name>`, mapped `MAP_SHARED` by the device (creator) and by applications:
///
/// | offset | content |
/// |---|---|
/// | 0 | header: 8-byte atomic words (`Word`), then one latency word per RX channel |
/// | `headerBytes` | TX ring: `TimestampRingBuffer` storage, `txChannels` interleaved (written by the app) |
/// | then | one mono RX ring per RX channel (written by the device's receive engine, read by apps) |
///
/// Everything after `create`/`attach` is lock-free and allocation-free, so both sides may call it from their
/// audio threads. The clock is published under a sequence lock (`publishClock` / `clock(monotonicNow:)`).
public final class SharedAudioPort: @unchecked Sendable {
    public static let magic: UInt64 = 0x494E_4653_484D_3031   // "INFSHM01"
    public static let version: UInt64 = 1
    public static let headerBytes = 8192
    public static let maxChannels = 512

    /// Header words (8 bytes each).
    public enum Word: Int {
        case magic = 0, version, sampleRate, txChannels, rxChannels, ringFrames, state, daemonPID
        /// CLOCK_MONOTONIC ns of the device's last sign of life.
        case heartbeat
        case clockSequence, clockMonotonic, clockMedia, clockGeneration, clockValid
        /// pid of the process that owns playback (one writer for the TX ring), 0 = free.
        case playbackOwner
        /// How far ahead of the media clock the transmit engine reads (its largest frames-per-packet).
        case txReadAhead
        static let latencyBase = 32
    }

    public enum State: UInt64 { case initializing = 0, ready = 1, stopped = 2 }

    public enum PortError: Error, CustomStringConvertible, Equatable {
        case badName(String)
        case system(String, Int32)
        case notAPort(String)
        case inUse(String, pid: Int64)
        case notServed(String)

        public var description: String {
            switch self {
            case .badName(let n): return "shared port name \"\(n)\" must be 1 to 64 letters, digits, '.', '_' or '-'"
            case .system(let what, let e): return "\(what): \(String(cString: strerror(e)))"
            case .notAPort(let p): return "\(p) is not an inferno shared port (or from another version)"
            case .inUse(let p, let pid): return "\(p) is served by running process \(pid)"
            case .notServed(let p): return "no running inferno device serves \(p) (start one with: inferno run --shm NAME)"
            }
        }
    }

    public let path: String
    public let sampleRate: UInt32
    public let txChannels: Int
    public let rxChannels: Int
    public let ringFrames: Int
    public let txRing: TimestampRingBuffer
    public let rxRings: [TimestampRingBuffer]
    let base: UnsafeMutableRawPointer
    let size: Int
    let creator: Bool

    public static func path(forName name: String) throws(PortError) -> String {
        let ok = !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a)
                || $0 == 0x2d || $0 == 0x2e || $0 == 0x5f
        }
        guard ok, name != ".", name != ".." else { throw .badName(name) }
        return "/dev/shm/inferno-" + name
    }

    public static func byteCount(txChannels: Int, rxChannels: Int, ringFrames: Int) -> Int {
        headerBytes + TimestampRingBuffer.storageBytes(channels: max(1, txChannels), capacity: ringFrames)
            + rxChannels * TimestampRingBuffer.storageBytes(channels: 1, capacity: ringFrames)
    }

    private init(path: String, base: UnsafeMutableRawPointer, size: Int, creator: Bool, rate: UInt32, tx: Int, rx: Int,
                 ring: Int) {
        self.path = path; self.base = base; self.size = size; self.creator = creator
        sampleRate = rate; txChannels = tx; rxChannels = rx; ringFrames = ring
        var offset = Self.headerBytes
        txRing = TimestampRingBuffer(channels: max(1, tx), capacity: ring, storage: base + offset, initialize: creator)
        offset += TimestampRingBuffer.storageBytes(channels: max(1, tx), capacity: ring)
        var rings: [TimestampRingBuffer] = []
        for _ in 0..<rx {
            rings.append(TimestampRingBuffer(channels: 1, capacity: ring, storage: base + offset, initialize: creator))
            offset += TimestampRingBuffer.storageBytes(channels: 1, capacity: ring)
        }
        rxRings = rings
    }

    /// Device side: creates (or replaces a stale) port file and maps it, not yet ready (`markReady`). Fails if a
    /// live device serves it.
    public static func create(name: String, sampleRate: UInt32, txChannels: Int, rxChannels: Int,
                              ringFrames: Int = 32768) throws(PortError) -> SharedAudioPort {
        precondition(ringFrames >= 1024 && ringFrames & (ringFrames - 1) == 0)
        let path = try path(forName: name)
        guard txChannels <= maxChannels, rxChannels <= maxChannels else { throw .badName(name) }
        if let existing = try? attach(path: path) {
            let pid = existing.word(.daemonPID).pointee.load(ordering: .relaxed)
            if existing.isAlive() { throw .inUse(path, pid: Int64(bitPattern: pid)) }
        }
        unlink(path)
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system("cannot create \(path)", errno) }
        defer { close(fd) }
        let size = byteCount(txChannels: txChannels, rxChannels: rxChannels, ringFrames: ringFrames)
        guard ftruncate(fd, off_t(size)) == 0 else {
            let e = errno; unlink(path); throw .system("cannot size \(path)", e)
        }
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            let e = errno; unlink(path); throw .system("cannot map \(path)", e)
        }
        let words = base.bindMemory(to: Atomic<UInt64>.self, capacity: headerBytes / 8)
        for i in 0..<(headerBytes / 8) { (words + i).initialize(to: Atomic(0)) }
        let port = SharedAudioPort(path: path, base: base, size: size, creator: true, rate: sampleRate, tx: txChannels,
                                   rx: rxChannels, ring: ringFrames)
        port.word(.magic).pointee.store(magic, ordering: .relaxed)
        port.word(.version).pointee.store(version, ordering: .relaxed)
        port.word(.sampleRate).pointee.store(UInt64(sampleRate), ordering: .relaxed)
        port.word(.txChannels).pointee.store(UInt64(txChannels), ordering: .relaxed)
        port.word(.rxChannels).pointee.store(UInt64(rxChannels), ordering: .relaxed)
        port.word(.ringFrames).pointee.store(UInt64(ringFrames), ordering: .relaxed)
        port.word(.daemonPID).pointee.store(UInt64(getpid()), ordering: .relaxed)
        port.word(.txReadAhead).pointee.store(32, ordering: .relaxed)
        port.heartbeat()
        return port
    }

    /// Device side: opens the port to applications (call after the first `publishClock`).
    public func markReady() {
        heartbeat()
        word(.state).pointee.store(State.ready.rawValue, ordering: .releasing)
    }

    /// Application side: maps an existing port. Validates the header against the file size.
    public static func attach(name: String) throws(PortError) -> SharedAudioPort {
        try attach(path: path(forName: name))
    }

    static func attach(path: String) throws(PortError) -> SharedAudioPort {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw e == ENOENT ? .notServed(path) : .system("cannot open \(path)", e)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system("cannot stat \(path)", errno) }
        let size = Int(st.st_size)
        guard size >= headerBytes else { throw .notAPort(path) }
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw .system("cannot map \(path)", errno)
        }
        let words = base.assumingMemoryBound(to: Atomic<UInt64>.self)
        func w(_ k: Word) -> UInt64 { words[k.rawValue].load(ordering: .acquiring) }
        // Every word is checked before it is used as a size (the file may hold anything).
        let txWord = w(.txChannels), rxWord = w(.rxChannels), ringWord = w(.ringFrames), rate = w(.sampleRate)
        guard w(.magic) == magic, w(.version) == version, txWord <= UInt64(maxChannels), rxWord <= UInt64(maxChannels),
              ringWord >= 1024, ringWord <= 1 << 22, ringWord & (ringWord - 1) == 0, rate > 0, rate <= 1_000_000,
              byteCount(txChannels: Int(txWord), rxChannels: Int(rxWord), ringFrames: Int(ringWord)) == size else {
            munmap(base, size)
            throw .notAPort(path)
        }
        let tx = Int(txWord), rx = Int(rxWord), ring = Int(ringWord)
        return SharedAudioPort(path: path, base: base, size: size, creator: false, rate: UInt32(rate), tx: tx, rx: rx,
                               ring: ring)
    }

    deinit {
        munmap(base, size)
    }

    @inline(__always)
    public func word(_ w: Word) -> UnsafeMutablePointer<Atomic<UInt64>> {
        base.assumingMemoryBound(to: Atomic<UInt64>.self) + w.rawValue
    }

    @inline(__always)
    func latencyWord(_ channel: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        base.assumingMemoryBound(to: Atomic<UInt64>.self) + Word.latencyBase + channel
    }

    public var state: State { State(rawValue: word(.state).pointee.load(ordering: .acquiring)) ?? .stopped }
    public var daemonPID: Int32 { Int32(truncatingIfNeeded: word(.daemonPID).pointee.load(ordering: .relaxed)) }

    // MARK: device side

    /// Records a sign of life (CLOCK_MONOTONIC now).
    public func heartbeat() {
        word(.heartbeat).pointee.store(UInt64(bitPattern: Self.monotonic()), ordering: .releasing)
    }

    /// Publishes one simultaneous reading of CLOCK_MONOTONIC and the media clock (nil media = no clock).
    public func publishClock(monotonic: Int64, media: Int64?, generation: UInt32) {
        let seq = word(.clockSequence)
        let s = seq.pointee.load(ordering: .relaxed)
        seq.pointee.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        word(.clockMonotonic).pointee.store(UInt64(bitPattern: monotonic), ordering: .relaxed)
        word(.clockMedia).pointee.store(UInt64(bitPattern: media ?? 0), ordering: .relaxed)
        word(.clockGeneration).pointee.store(UInt64(generation), ordering: .relaxed)
        word(.clockValid).pointee.store(media == nil ? 0 : 1, ordering: .relaxed)
        seq.pointee.store(s &+ 2, ordering: .releasing)
    }

    public func setRxLatency(channel: Int, samples: Int64) {
        guard channel >= 0, channel < rxChannels else { return }
        latencyWord(channel).pointee.store(UInt64(bitPattern: samples), ordering: .relaxed)
    }

    public func setTxReadAhead(frames: Int) { word(.txReadAhead).pointee.store(UInt64(max(0, frames)), ordering: .relaxed) }

    /// Marks the port stopped and removes its file (mappings stay valid until unmapped).
    public func retire() {
        word(.state).pointee.store(State.stopped.rawValue, ordering: .releasing)
        if creator { unlink(path) }
    }

    // MARK: application side

    public struct ClockSample: Equatable, Sendable {
        /// Media time (ns) extrapolated to the requested CLOCK_MONOTONIC instant.
        public var mediaNs: Int64
        public var generation: UInt32
    }

    /// The device's media clock at `monotonicNow` (CLOCK_MONOTONIC ns), extrapolated from the last publication;
    /// nil when the device has no clock. Lock-free (retries while a publication is in progress).
    public func clock(monotonicNow: Int64) -> ClockSample? {
        let seq = word(.clockSequence)
        for _ in 0..<64 {
            let before = seq.pointee.load(ordering: .acquiring)
            if before & 1 == 1 { continue }
            let mono = Int64(bitPattern: word(.clockMonotonic).pointee.load(ordering: .relaxed))
            let media = Int64(bitPattern: word(.clockMedia).pointee.load(ordering: .relaxed))
            let gen = UInt32(truncatingIfNeeded: word(.clockGeneration).pointee.load(ordering: .relaxed))
            let valid = word(.clockValid).pointee.load(ordering: .relaxed) == 1
            atomicMemoryFence(ordering: .acquiring)
            guard seq.pointee.load(ordering: .relaxed) == before else { continue }
            guard valid, before != 0 else { return nil }
            return ClockSample(mediaNs: media &+ (monotonicNow &- mono), generation: gen)
        }
        return nil
    }

    /// True while the device's heartbeat is younger than `maxAgeNs` and it has not retired the port.
    public func isAlive(maxAgeNs: Int64 = 1_000_000_000) -> Bool {
        guard state == .ready else { return false }
        let beat = Int64(bitPattern: word(.heartbeat).pointee.load(ordering: .acquiring))
        return Self.monotonic() - beat < maxAgeNs
    }

    public func rxLatency(channel: Int) -> Int64 {
        guard channel >= 0, channel < rxChannels else { return 0 }
        return Int64(bitPattern: latencyWord(channel).pointee.load(ordering: .relaxed))
    }

    public var txReadAhead: Int { Int(word(.txReadAhead).pointee.load(ordering: .relaxed)) }

    /// Claims playback (the TX ring has one writer). A previous owner that no longer exists is replaced.
    public func claimPlayback(pid: Int32) -> Bool {
        let owner = word(.playbackOwner)
        while true {
            let current = owner.pointee.load(ordering: .acquiring)
            if current == UInt64(pid) { return true }
            if current != 0, kill(pid_t(truncatingIfNeeded: current), 0) == 0 || errno != ESRCH { return false }
            if owner.pointee.compareExchange(expected: current, desired: UInt64(pid), ordering: .acquiringAndReleasing).exchanged {
                return true
            }
        }
    }

    public func releasePlayback(pid: Int32) {
        _ = word(.playbackOwner).pointee.compareExchange(expected: UInt64(pid), desired: 0, ordering: .releasing)
    }

    public var playbackOwner: Int32 { Int32(truncatingIfNeeded: word(.playbackOwner).pointee.load(ordering: .relaxed)) }

    @inline(__always)
    public static func monotonic() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}
