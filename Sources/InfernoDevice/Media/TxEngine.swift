import CInfernoSys
import Glibc
import InfernoMedia
import InfernoProtocol
import Synchronization

/// The transmit engine (dante-protocol.md §8.4, with the fixes of §14.3): one thread, SCHED_FIFO when permitted,
/// that sends every flow's packets on fpp-aligned boundaries of absolute media time.
///
/// * Flows are configured from the control thread through a lock-free command queue; the thread owns all flow
///   state. Each flow has its own UDP socket connected to the receiver (opened and closed by the control side).
/// * Per wake-up a flow sends every packet that is due, in one `sendmmsg` (up to 8 packets).
/// * Keep-alives: any datagram on a flow's socket counts; a flow silent for `expirySeconds` is reported as
///   expired through the event queue and stops sending.
/// * No clock → nothing is sent (`stats.noClock` counts loops); a new clock generation (jump, recovery)
///   re-bootstraps every flow. Falling more than 100 ms behind skips ahead (counted as a dropout).
/// * After `start`, the thread never allocates, locks or logs.
public final class TxEngine: @unchecked Sendable {
    public static let maxFlows = 128
    public static let maxChannelsPerFlow = 64
    static let maxBatch = 8
    static let packetCapacity = 1536

    public struct Event: BitwiseCopyable, Sendable, Equatable {
        public enum Kind: UInt8, BitwiseCopyable, Sendable { case expired, removed }
        public var kind: Kind
        public var slot: Int32
        public var fd: Int32
    }

    public final class Stats: Sendable {
        public let packets = Atomic<UInt64>(0)
        public let sendErrors = Atomic<UInt64>(0)
        public let dropouts = Atomic<UInt64>(0)
        public let noClockLoops = Atomic<UInt64>(0)
        public let rebootstraps = Atomic<UInt64>(0)
        public let expired = Atomic<UInt64>(0)
        public let clockAvailable = Atomic<Bool>(false)
        public let activeFlows = Atomic<Int>(0)
        /// The largest frames-per-packet among active flows (0 = none): how far ahead of the media clock the
        /// engine reads its source.
        public let maxFramesPerPacket = Atomic<Int>(0)
    }

    struct Command: BitwiseCopyable {
        enum Kind: UInt8, BitwiseCopyable { case start, configure, remove, setRate, shutdown }
        var kind: Kind
        var slot: Int32 = 0
        var fd: Int32 = -1
        var bytesPerSample: Int32 = 3
        var fpp: Int32 = 32
        var count: Int32 = 0
        var value: UInt32 = 0
        var channels = SIMD64<UInt16>()
    }

    struct Flow {
        var active = false
        var fd: Int32 = -1
        var encoding = PCMEncoding.int24
        var count = 0
        var channels = SIMD64<UInt16>()
        var fpp = 32
        var nextTs: UInt64 = 0
        var bootstrapped = false
        var lastHeard: Int64 = 0
    }

    public let stats = Stats()
    public private(set) var realtime = false
    let clock: MediaClockSource
    let source: TxSampleSource
    let dither: DitherMode
    let expiryNs: Int64
    let commands = SPSCQueue<Command>(capacity: 1024)
    public let events = SPSCQueue<Event>(capacity: 1024)
    private var thread: RealtimeThread?

    // Owned by the engine thread after start.
    private var rate: UInt32
    private let flows: UnsafeMutablePointer<Flow>
    private let packets: UnsafeMutableRawPointer
    private let iov: UnsafeMutablePointer<iovec>
    private let msgs: UnsafeMutablePointer<inferno_mmsghdr>
    private let scratch: UnsafeMutablePointer<Int32>
    private let drain: UnsafeMutableRawPointer
    private var rng = XorShift64Star(seed: 0x1234_5678_9abc_def1)
    private var generation: UInt32 = 0
    private var lastKeepaliveCheck: Int64 = 0

    public init(clock: MediaClockSource, source: TxSampleSource, sampleRate: UInt32, dither: DitherMode,
                expirySeconds: Double = 4) {
        self.clock = clock
        self.source = source
        self.rate = sampleRate
        self.dither = dither
        expiryNs = Int64(expirySeconds * 1e9)
        flows = .allocate(capacity: Self.maxFlows)
        flows.initialize(repeating: Flow(), count: Self.maxFlows)
        packets = .allocate(byteCount: Self.maxBatch * Self.packetCapacity, alignment: 16)
        iov = .allocate(capacity: Self.maxBatch)
        msgs = .allocate(capacity: Self.maxBatch)
        for i in 0..<Self.maxBatch {
            iov[i] = iovec(iov_base: packets + i * Self.packetCapacity, iov_len: 0)
            var m = inferno_mmsghdr()
            m.msg_hdr.msg_iov = iov + i
            m.msg_hdr.msg_iovlen = 1
            msgs[i] = m
        }
        scratch = .allocate(capacity: 256)
        drain = .allocate(byteCount: 2048, alignment: 8)
    }

    deinit {
        flows.deinitialize(count: Self.maxFlows); flows.deallocate()
        packets.deallocate(); iov.deallocate(); msgs.deallocate(); scratch.deallocate(); drain.deallocate()
    }

    public func start() {
        let t = RealtimeThread.start(name: "inferno-tx", priority: 80) { [self] in run() }
        realtime = t.realtime
        thread = t
    }

    /// Stops the thread and waits for it. Sockets stay open: the caller closes the fds it opened.
    public func stop() {
        guard let t = thread else { return }
        while !commands.push(Command(kind: .shutdown)) { sleepNanoseconds(1_000_000) }
        t.join()
        thread = nil
    }

    // MARK: control side

    /// Starts (or reconfigures) a flow in `slot`, sending on connected socket `fd`.
    public func startFlow(slot: Int, fd: Int32, encoding: PCMEncoding, framesPerPacket: Int, channels: [UInt16]) {
        push(.start, slot: slot, fd: fd, encoding: encoding, fpp: framesPerPacket, channels: channels)
    }

    public func configureFlow(slot: Int, encoding: PCMEncoding, framesPerPacket: Int, channels: [UInt16]) {
        push(.configure, slot: slot, fd: -1, encoding: encoding, fpp: framesPerPacket, channels: channels)
    }

    /// Stops a flow; its fd comes back as a `.removed` event (close it then).
    public func removeFlow(slot: Int) {
        var c = Command(kind: .remove); c.slot = Int32(slot)
        while !commands.push(c) { sleepNanoseconds(1_000_000) }
    }

    /// A new device sample rate: flows keep their sockets and re-bootstrap at the new rate.
    public func setSampleRate(_ r: UInt32) {
        var c = Command(kind: .setRate); c.value = r
        while !commands.push(c) { sleepNanoseconds(1_000_000) }
    }

    private func push(_ kind: Command.Kind, slot: Int, fd: Int32, encoding: PCMEncoding, fpp: Int, channels: [UInt16]) {
        precondition(slot >= 0 && slot < Self.maxFlows && channels.count <= Self.maxChannelsPerFlow)
        var c = Command(kind: kind)
        c.slot = Int32(slot); c.fd = fd; c.bytesPerSample = Int32(encoding.bytesPerSample)
        c.fpp = Int32(fpp); c.count = Int32(channels.count)
        for (i, ch) in channels.enumerated() { c.channels[i] = ch }
        while !commands.push(c) { sleepNanoseconds(1_000_000) }
    }

    // MARK: engine thread

    private func run() {
        while true {
            while let c = commands.pop() {
                if c.kind == .shutdown { return }
                apply(c)
            }
            let mono = monotonicNow()
            if mono &- lastKeepaliveCheck >= 50_000_000 {
                lastKeepaliveCheck = mono
                checkKeepalives(mono)
            }
            guard let reading = clock.now() else {
                stats.clockAvailable.store(false, ordering: .relaxed)
                stats.noClockLoops.add(1, ordering: .relaxed)
                sleepNanoseconds(5_000_000)
                continue
            }
            stats.clockAvailable.store(true, ordering: .relaxed)
            if reading.generation != generation {
                if generation != 0 { stats.rebootstraps.add(1, ordering: .relaxed) }
                generation = reading.generation
                for i in 0..<Self.maxFlows { flows[i].bootstrapped = false }
            }
            let now = reading.samples(rate: rate)
            var earliest = UInt64.max
            for i in 0..<Self.maxFlows where flows[i].active {
                service(i, now: now)
                let n = flows[i].nextTs
                if n < earliest { earliest = n }
            }
            var sleepNs: Int64 = 2_000_000
            if earliest != .max, earliest > now {
                let mediaNs = MediaClock.nanosecondsCeiling(atSample: earliest - now, sampleRate: rate)
                sleepNs = min(sleepNs, MediaClock.hostDuration(mediaNanoseconds: Int64(clamping: mediaNs), freqScale: reading.freqScale))
            } else if earliest != .max {
                sleepNs = 0
            }
            sleepNanoseconds(sleepNs)
        }
    }

    private func apply(_ c: Command) {
        switch c.kind {
        case .start, .configure:
            let i = Int(c.slot)
            if c.kind == .start {
                flows[i] = Flow()
                flows[i].fd = c.fd
                flows[i].lastHeard = monotonicNow()
                flows[i].active = true
            } else if flows[i].fd < 0 {
                return
            } else {
                flows[i].active = true
                flows[i].lastHeard = monotonicNow()
            }
            flows[i].encoding = PCMEncoding(bytesPerSample: Int(c.bytesPerSample)) ?? .int24
            flows[i].fpp = max(1, Int(c.fpp))
            flows[i].count = Int(c.count)
            flows[i].channels = c.channels
            flows[i].bootstrapped = false
        case .remove:
            let i = Int(c.slot)
            let fd = flows[i].fd
            flows[i] = Flow()
            if fd >= 0 { _ = events.push(Event(kind: .removed, slot: c.slot, fd: fd)) }
        case .setRate:
            rate = c.value
            for i in 0..<Self.maxFlows { flows[i].bootstrapped = false }
        case .shutdown:
            break
        }
        var n = 0, fpp = 0
        for i in 0..<Self.maxFlows where flows[i].active { n += 1; fpp = max(fpp, flows[i].fpp) }
        stats.activeFlows.store(n, ordering: .relaxed)
        stats.maxFramesPerPacket.store(fpp, ordering: .relaxed)
    }

    private func checkKeepalives(_ mono: Int64) {
        for i in 0..<Self.maxFlows where flows[i].active {
            while true {
                let r = recv(flows[i].fd, drain, 2048, Int32(MSG_DONTWAIT))
                if r >= 0 { flows[i].lastHeard = mono; continue }
                if errno == EINTR { continue }
                break   // EAGAIN, or ECONNREFUSED from an ICMP error (cleared by reading it)
            }
            if mono &- flows[i].lastHeard > expiryNs {
                flows[i].active = false
                stats.expired.add(1, ordering: .relaxed)
                _ = events.push(Event(kind: .expired, slot: Int32(i), fd: flows[i].fd))
            }
        }
    }

    private func service(_ i: Int, now: UInt64) {
        let fpp = UInt64(flows[i].fpp)
        if !flows[i].bootstrapped {
            flows[i].nextTs = MediaClock.nextPacketTimestamp(after: now, framesPerPacket: fpp)
            flows[i].bootstrapped = true
            return
        }
        let ahead = MediaClock.distance(from: now, to: flows[i].nextTs)
        if ahead > Int64(rate) {
            // The clock went backwards by more than a second: start again from now.
            flows[i].nextTs = MediaClock.nextPacketTimestamp(after: now, framesPerPacket: fpp)
            stats.rebootstraps.add(1, ordering: .relaxed)
            return
        }
        if -ahead > Int64(rate / 10) {
            // More than 100 ms behind: skip ahead rather than burst stale packets.
            flows[i].nextTs = MediaClock.alignDown(now, to: fpp)
            stats.dropouts.add(1, ordering: .relaxed)
        }
        var k = 0
        let count = flows[i].count
        let encoding = flows[i].encoding
        let frames = flows[i].fpp
        let bytes = AudioPacketHeader.size + frames * count * encoding.bytesPerSample
        while k < Self.maxBatch && flows[i].nextTs <= now {
            let t = flows[i].nextTs
            let base = packets + k * Self.packetCapacity
            let packet = UnsafeMutableRawBufferPointer(start: base, count: bytes)
            AudioPacketHeader(timestamp: t, sampleRate: rate).write(to: packet)
            let payload = UnsafeMutableRawBufferPointer(rebasing: packet[AudioPacketHeader.size...])
            for s in 0..<count {
                let ch = Int(flows[i].channels[s])
                if ch == 0 {
                    SampleConversion.zeroSlot(s, channels: count, frames: frames, encoding: encoding, in: payload)
                } else {
                    source.render(channel: ch - 1, at: t, frames: frames, into: scratch)
                    SampleConversion.interleave(from: scratch, frames: frames, slot: s, channels: count,
                                                encoding: encoding, to: payload, sourceBits: source.significantBits,
                                                dither: dither, rng: &rng)
                }
            }
            iov[k].iov_len = bytes
            k += 1
            flows[i].nextTs = t &+ fpp
        }
        guard k > 0 else { return }
        let sent = inferno_sendmmsg(flows[i].fd, msgs, UInt32(k), Int32(MSG_DONTWAIT))
        if sent > 0 { stats.packets.add(UInt64(sent), ordering: .relaxed) }
        if sent < k { stats.sendErrors.add(UInt64(k - max(0, Int(sent))), ordering: .relaxed) }
    }
}
