import CInfernoSys
import Glibc
import InfernoMedia
import InfernoProtocol
import Synchronization

/// The receive engine (dante-protocol.md §8.5, with the fixes of §14.3): one thread, SCHED_FIFO when permitted,
/// that reads every flow socket with `recvmmsg` and places each slot's samples by timestamp into the rings of the
/// RX channels mapped to it.
///
/// * One `TimestampRingBuffer` per RX channel (power-of-two capacity, 64-bit absolute sample indices, per-sample
///   tags): holes and stale laps read as silence, so nothing stale is ever replayed after a flow ends.
/// * Consumers (recorder, ALSA, PipeWire) read channel c at media time `t − latencySamples(c)`.
/// * A packet is checked against the local media clock: outside ±½ ring it is dropped as out-of-window (clock
///   domain mismatch); entirely before the channel's playout point it is counted late and dropped; a datagram
///   that is not a whole number of frames is counted malformed. Without a clock packets are dropped (silence).
/// * Flows and channel mappings change through a lock-free command queue; the thread never allocates, locks or
///   logs after `start`. Per-flow counters and the last packet time/source are atomics for the control side.
public final class RxEngine: @unchecked Sendable {
    public static let maxFlows = 128
    static let batch = 16
    static let datagramCapacity = 2048

    public final class FlowStats: Sendable {
        public let packets = Atomic<UInt64>(0)
        public let late = Atomic<UInt64>(0)
        public let outOfWindow = Atomic<UInt64>(0)
        public let malformed = Atomic<UInt64>(0)
        public let noClock = Atomic<UInt64>(0)
        /// Datagrams from an address other than the flow's transmitter (dropped).
        public let foreign = Atomic<UInt64>(0)
        /// CLOCK_MONOTONIC ns of the last accepted packet (0 = none yet).
        public let lastPacket = Atomic<Int64>(0)
        /// Source of the last packet: IPv4 << 16 | port (0 = none yet).
        public let lastSource = Atomic<UInt64>(0)
        /// Largest (arrival media time − first-sample time) seen, in samples: how early playout could be.
        public let maxTransit = Atomic<Int64>(0)
        func reset() {
            packets.store(0, ordering: .relaxed); late.store(0, ordering: .relaxed)
            outOfWindow.store(0, ordering: .relaxed); malformed.store(0, ordering: .relaxed)
            noClock.store(0, ordering: .relaxed); foreign.store(0, ordering: .relaxed)
            lastPacket.store(0, ordering: .relaxed); lastSource.store(0, ordering: .relaxed)
            maxTransit.store(0, ordering: .relaxed)
        }
    }

    struct Command: BitwiseCopyable {
        enum Kind: UInt8, BitwiseCopyable { case add, remove, map, unmap, shutdown }
        var kind: Kind
        var flow: Int32 = 0
        var fd: Int32 = -1
        var bytesPerSample: Int32 = 3
        var slots: Int32 = 0
        var rx: Int32 = 0
        var slot: Int32 = 0
        var source: UInt32 = 0
    }

    public struct Event: BitwiseCopyable, Sendable {
        public var flow: Int32
        public var fd: Int32
    }

    struct Flow {
        var active = false
        var fd: Int32 = -1
        var encoding = PCMEncoding.int24
        var slots = 0
        var pairCount = 0
        var source: UInt32 = 0
    }

    public let channels: Int
    public let ringCapacity: Int
    public let rings: [TimestampRingBuffer]
    /// Playout latency per RX channel, samples (set by the subscriber, read by consumers and the engine).
    public let latency: UnsafeMutablePointer<Atomic<Int64>>
    public let flowStats: [FlowStats]
    /// The counters of flows that were replaced (a flow slot's stats restart at zero when it is reused), so totals
    /// over the engine's life are `retired` + every slot's (control side only; `DeviceRuntime.mediaStatus`).
    public let retired = FlowStats()
    public private(set) var realtime = false
    let clock: MediaClockSource
    private(set) var rate: UInt32
    let commands = SPSCQueue<Command>(capacity: 4096)
    /// Removed flows' sockets, for the control side to close.
    public let released = SPSCQueue<Event>(capacity: 1024)
    private var thread: RealtimeThread?

    // Engine-thread state.
    private let flows: UnsafeMutablePointer<Flow>
    /// Per RX channel: flow << 16 | slot, or −1.
    private let rxMap: UnsafeMutablePointer<Int32>
    /// Per flow, `channels` entries of (slot << 16 | rx).
    private let pairs: UnsafeMutablePointer<Int32>
    private let pollfds: UnsafeMutablePointer<pollfd>
    private let pollFlow: UnsafeMutablePointer<Int32>
    private var pollCount = 0
    private let buffers: UnsafeMutableRawPointer
    private let iov: UnsafeMutablePointer<iovec>
    private let addrs: UnsafeMutablePointer<sockaddr_in>
    private let msgs: UnsafeMutablePointer<inferno_mmsghdr>
    private let scratch: UnsafeMutablePointer<Int32>

    /// `ringCapacity` is rounded up to a power of two (at least 4096 frames). `sharedRings` (one mono ring per
    /// channel, e.g. in a `SharedAudioPort`) replaces the engine's own rings; their capacity wins.
    public init(clock: MediaClockSource, channels: Int, sampleRate: UInt32, ringCapacity: Int = 32768,
                defaultLatencySamples: Int64? = nil, sharedRings: [TimestampRingBuffer]? = nil) {
        self.clock = clock
        self.channels = channels
        self.rate = sampleRate
        var cap = 4096
        while cap < ringCapacity { cap <<= 1 }
        if let sharedRings {
            precondition(sharedRings.count == channels && sharedRings.allSatisfy { $0.channels == 1 })
            cap = sharedRings.first?.capacity ?? cap
            rings = sharedRings
        } else {
            rings = (0..<channels).map { _ in TimestampRingBuffer(channels: 1, capacity: cap) }
        }
        self.ringCapacity = cap
        latency = .allocate(capacity: max(1, channels))
        for i in 0..<max(1, channels) { (latency + i).initialize(to: Atomic(defaultLatencySamples ?? Int64(sampleRate / 250))) }
        flowStats = (0..<Self.maxFlows).map { _ in FlowStats() }
        flows = .allocate(capacity: Self.maxFlows)
        flows.initialize(repeating: Flow(), count: Self.maxFlows)
        rxMap = .allocate(capacity: max(1, channels))
        rxMap.initialize(repeating: -1, count: max(1, channels))
        pairs = .allocate(capacity: Self.maxFlows * max(1, channels))
        pairs.initialize(repeating: 0, count: Self.maxFlows * max(1, channels))
        pollfds = .allocate(capacity: Self.maxFlows)
        pollFlow = .allocate(capacity: Self.maxFlows)
        buffers = .allocate(byteCount: Self.batch * Self.datagramCapacity, alignment: 16)
        iov = .allocate(capacity: Self.batch)
        addrs = .allocate(capacity: Self.batch)
        msgs = .allocate(capacity: Self.batch)
        for i in 0..<Self.batch {
            iov[i] = iovec(iov_base: buffers + i * Self.datagramCapacity, iov_len: Self.datagramCapacity)
            addrs[i] = sockaddr_in()
            var m = inferno_mmsghdr()
            m.msg_hdr.msg_iov = iov + i
            m.msg_hdr.msg_iovlen = 1
            m.msg_hdr.msg_name = UnsafeMutableRawPointer(addrs + i)
            m.msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            msgs[i] = m
        }
        scratch = .allocate(capacity: 2048)
    }

    deinit {
        latency.deinitialize(count: max(1, channels)); latency.deallocate()
        flows.deinitialize(count: Self.maxFlows); flows.deallocate()
        rxMap.deallocate(); pairs.deallocate(); pollfds.deallocate(); pollFlow.deallocate()
        buffers.deallocate(); iov.deallocate(); addrs.deallocate(); msgs.deallocate(); scratch.deallocate()
    }

    public func start() {
        let t = RealtimeThread.start(name: "inferno-rx", priority: 79) { [self] in run() }
        realtime = t.realtime
        thread = t
    }

    public func stop() {
        guard let t = thread else { return }
        send(Command(kind: .shutdown))
        t.join()
        thread = nil
    }

    // MARK: control side

    public func latencySamples(channel: Int) -> Int64 { latency[channel].load(ordering: .relaxed) }
    public func setLatency(channel: Int, samples: Int64) { latency[channel].store(samples, ordering: .relaxed) }

    /// Starts receiving on `fd` (bound, non-blocking) as flow `flow` with `slots` channel slots; only datagrams
    /// from IPv4 `source` (host order; 0 = any) are accepted.
    public func addFlow(_ flow: Int, fd: Int32, encoding: PCMEncoding, slots: Int, source: UInt32 = 0) {
        let old = flowStats[flow]
        func fold(_ from: borrowing Atomic<UInt64>, into to: borrowing Atomic<UInt64>) {
            to.add(from.load(ordering: .relaxed), ordering: .relaxed)
        }
        fold(old.packets, into: retired.packets); fold(old.late, into: retired.late)
        fold(old.outOfWindow, into: retired.outOfWindow); fold(old.malformed, into: retired.malformed)
        fold(old.noClock, into: retired.noClock); fold(old.foreign, into: retired.foreign)
        old.reset()
        var c = Command(kind: .add)
        c.source = source
        c.flow = Int32(flow); c.fd = fd; c.bytesPerSample = Int32(encoding.bytesPerSample); c.slots = Int32(slots)
        send(c)
    }

    /// Stops a flow and unmaps its channels; the fd comes back through `released`.
    public func removeFlow(_ flow: Int) {
        var c = Command(kind: .remove); c.flow = Int32(flow)
        send(c)
    }

    /// Feeds RX channel `rx` (0-based) from `slot` of `flow`.
    public func map(rx: Int, flow: Int, slot: Int) {
        var c = Command(kind: .map); c.rx = Int32(rx); c.flow = Int32(flow); c.slot = Int32(slot)
        send(c)
    }

    public func unmap(rx: Int) {
        var c = Command(kind: .unmap); c.rx = Int32(rx)
        send(c)
    }

    private func send(_ c: Command) {
        while !commands.push(c) { sleepNanoseconds(1_000_000) }
    }

    // MARK: engine thread

    private func run() {
        while true {
            var changed = false
            while let c = commands.pop() {
                if c.kind == .shutdown { return }
                apply(c)
                changed = true
            }
            if changed { rebuildPoll() }
            let n = poll(pollfds, nfds_t(pollCount), 5)
            guard n > 0 else { continue }
            for k in 0..<pollCount where pollfds[k].revents != 0 {
                receive(flow: Int(pollFlow[k]))
            }
        }
    }

    private func apply(_ c: Command) {
        switch c.kind {
        case .add:
            let f = Int(c.flow)
            if flows[f].active { removeFlowNow(f) }
            flows[f] = Flow(active: true, fd: c.fd, encoding: PCMEncoding(bytesPerSample: Int(c.bytesPerSample)) ?? .int24,
                            slots: Int(c.slots), pairCount: 0, source: c.source)
        case .remove:
            removeFlowNow(Int(c.flow))
        case .map:
            let rx = Int(c.rx)
            guard rx >= 0, rx < channels else { return }
            let old = rxMap[rx]
            rxMap[rx] = c.flow << 16 | c.slot
            if old >= 0 { rebuildPairs(Int(old >> 16)) }
            rebuildPairs(Int(c.flow))
        case .unmap:
            let rx = Int(c.rx)
            guard rx >= 0, rx < channels else { return }
            let old = rxMap[rx]
            rxMap[rx] = -1
            if old >= 0 { rebuildPairs(Int(old >> 16)) }
        case .shutdown:
            break
        }
    }

    private func removeFlowNow(_ f: Int) {
        guard flows[f].active else { return }
        let fd = flows[f].fd
        flows[f] = Flow()
        for rx in 0..<channels where rxMap[rx] >= 0 && Int(rxMap[rx] >> 16) == f { rxMap[rx] = -1 }
        _ = released.push(Event(flow: Int32(f), fd: fd))
    }

    private func rebuildPairs(_ f: Int) {
        guard f >= 0, f < Self.maxFlows else { return }
        var n = 0
        let base = pairs + f * max(1, channels)
        for rx in 0..<channels where rxMap[rx] >= 0 && Int(rxMap[rx] >> 16) == f {
            let slot = rxMap[rx] & 0xFFFF
            if Int(slot) < flows[f].slots { base[n] = slot << 16 | Int32(rx); n += 1 }
        }
        flows[f].pairCount = n
    }

    private func rebuildPoll() {
        pollCount = 0
        for f in 0..<Self.maxFlows where flows[f].active {
            pollfds[pollCount] = pollfd(fd: flows[f].fd, events: Int16(POLLIN), revents: 0)
            pollFlow[pollCount] = Int32(f)
            pollCount += 1
        }
    }

    private func receive(flow f: Int) {
        let fd = flows[f].fd
        while true {
            for i in 0..<Self.batch { msgs[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size) }
            let r = inferno_recvmmsg(fd, msgs, UInt32(Self.batch), Int32(MSG_DONTWAIT))
            if r <= 0 { return }
            let reading = clock.now()
            let mono = monotonicNow()
            for i in 0..<Int(r) {
                place(flow: f, bytes: UnsafeRawBufferPointer(start: buffers + i * Self.datagramCapacity,
                                                             count: Int(msgs[i].msg_len)),
                      from: addrs[i], reading: reading, mono: mono)
            }
            if Int(r) < Self.batch { return }
        }
    }

    private func place(flow f: Int, bytes: UnsafeRawBufferPointer, from: sockaddr_in, reading: ClockReading?, mono: Int64) {
        let stats = flowStats[f]
        if flows[f].source != 0 && UInt32(bigEndian: from.sin_addr.s_addr) != flows[f].source {
            stats.foreign.add(1, ordering: .relaxed); return
        }
        let encoding = flows[f].encoding
        let slots = flows[f].slots
        let b = encoding.bytesPerSample
        guard slots > 0, bytes.count >= AudioPacketHeader.size,
              (bytes.count - AudioPacketHeader.size) % (slots * b) == 0 else {
            stats.malformed.add(1, ordering: .relaxed); return
        }
        let frames = (bytes.count - AudioPacketHeader.size) / (slots * b)
        guard frames > 0, frames <= 2048 else { stats.malformed.add(1, ordering: .relaxed); return }
        guard let reading else { stats.noClock.add(1, ordering: .relaxed); return }
        let now = reading.samples(rate: rate)
        guard let header = try? AudioPacketHeader.decode(bytes),
              let t = try? header.timestamp(sampleRate: rate, near: now) else {
            stats.malformed.add(1, ordering: .relaxed); return
        }
        let d = MediaClock.distance(from: now, to: t)
        let half = Int64(ringCapacity / 2)
        guard d < half, d > -half else { stats.outOfWindow.add(1, ordering: .relaxed); return }
        stats.packets.add(1, ordering: .relaxed)
        stats.lastPacket.store(mono, ordering: .relaxed)
        stats.lastSource.store(UInt64(UInt32(bigEndian: from.sin_addr.s_addr)) << 16 | UInt64(UInt16(bigEndian: from.sin_port)),
                               ordering: .relaxed)
        if -d > stats.maxTransit.load(ordering: .relaxed) { stats.maxTransit.store(-d, ordering: .relaxed) }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[AudioPacketHeader.size...])
        let base = pairs + f * max(1, channels)
        var wasLate = false
        for k in 0..<flows[f].pairCount {
            let slot = Int(base[k] >> 16), rx = Int(base[k] & 0xFFFF)
            // Entirely behind this channel's playout point: the reader has passed it.
            let playout = MediaClock.advance(now, by: -latency[rx].load(ordering: .relaxed))
            if MediaClock.distance(from: t &+ UInt64(frames), to: playout) > 0 { wasLate = true; continue }
            SampleConversion.deinterleave(from: payload, encoding: encoding, channels: slots, frames: frames,
                                          slot: slot, to: scratch)
            rings[rx].writeMono(at: t, count: frames, from: scratch, stride: 1)
        }
        if wasLate { stats.late.add(1, ordering: .relaxed) }
    }
}
