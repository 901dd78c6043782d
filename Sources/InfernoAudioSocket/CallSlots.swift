import Glibc
import InfernoDevice
import InfernoMedia
import InfernoProtocol
import Synchronization

/// Where the calls' audio comes from and goes to: the device's channels (`DeviceCallMedia`) or files and a
/// test signal (`ServeMedia`). Slot numbers are 0-based.
public protocol AudioSocketMedia: AnyObject, Sendable {
    /// I/O thread, before the pacer sees `sampleRate` for `slot`: allocate whatever rendering at that rate
    /// needs (called again whenever the caller switches rate).
    func prepare(slot: Int, sampleRate: Int)
    /// I/O thread: a call took `slot`.
    func callStarted(slot: Int, uuid: AudioSocketUUID)
    /// I/O thread: audio from the caller (little-endian s16, an even number of bytes).
    func callAudio(slot: Int, kind: AudioSocketKind, samples: UnsafeRawBufferPointer)
    /// I/O thread: the call in `slot` is over and the pacer no longer renders for it.
    func callEnded(slot: Int)
    /// Pacer thread (real time: no allocation, locks, logging): `count` samples at `sampleRate` for the caller.
    /// `restart` is true on the first frame of a new call in this slot.
    func render(slot: Int, sampleRate: Int, restart: Bool, into: UnsafeMutablePointer<Int16>, count: Int)
    /// I/O thread, when the call in `slot` has ended (before `callEnded`): counters worth reporting.
    func callStats(slot: Int) -> [(String, Int)]
}

extension AudioSocketMedia {
    public func callStats(slot: Int) -> [(String, Int)] { [] }
}

/// Messages waiting to go to one caller, owned by the pacer. Bounded: when full the oldest whole message is
/// dropped (counted), so a caller that stops reading never makes anything wait or grow.
final class OutboundQueue: @unchecked Sendable {
    static let maxMessage = AudioSocketCodec.headerSize + 2 * 3840     // 20 ms at 192 kHz
    let capacity: Int
    let storage: UnsafeMutableRawPointer
    let lengths: UnsafeMutablePointer<Int>
    var head = 0
    var count = 0
    /// Bytes of the head message already sent (a short write); it must be finished before anything else.
    var offset = 0

    init(capacity: Int) {
        self.capacity = max(2, capacity)
        storage = .allocate(byteCount: self.capacity * Self.maxMessage, alignment: 16)
        lengths = .allocate(capacity: self.capacity)
        lengths.initialize(repeating: 0, count: self.capacity)
    }

    deinit { storage.deallocate(); lengths.deallocate() }

    func clear() { head = 0; count = 0; offset = 0 }

    /// Room for the next message; returns nil (and counts nothing) only if the queue cannot take one because
    /// the head is half-sent and the queue is full. Drops the oldest otherwise. `dropped` is set when it did.
    func reserve(dropped: inout Bool) -> UnsafeMutableRawPointer? {
        if count == capacity {
            if offset > 0 { dropped = true; return nil }
            head = (head + 1) % capacity
            count -= 1
            dropped = true
        }
        return storage + ((head + count) % capacity) * Self.maxMessage
    }

    func commit(length: Int) {
        lengths[(head + count) % capacity] = length
        count += 1
    }

    enum Flush { case sent, wouldBlock, failed(Int32) }

    /// Sends queued messages in order, one `send` per message, until the socket is full.
    func flush(fd: Int32) -> Flush {
        while count > 0 {
            let base = storage + head * Self.maxMessage
            let len = lengths[head]
            let n = send(fd, base + offset, len - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .wouldBlock }
                return .failed(errno)
            }
            offset += n
            if offset < len { return .wouldBlock }
            offset = 0
            head = (head + 1) % capacity
            count -= 1
        }
        return .sent
    }
}

/// One call slot, shared by the I/O thread (which owns the call) and the pacer (which sends to it).
///
/// Lifecycle: free → active (I/O thread, after setting fd and generation) → draining (I/O thread: the call ends)
/// → stopped (pacer: it will not touch the socket again) → free (I/O thread, after closing the socket).
final class CallSlot: @unchecked Sendable {
    enum State: Int { case free = 0, active = 1, draining = 2, stopped = 3 }
    static let histogramBins = 1000          // 0.05 ms bins up to 50 ms

    let index: Int
    let state = Atomic<Int>(State.free.rawValue)
    let generation = Atomic<Int>(0)
    let fd = Atomic<Int32>(-1)
    /// The caller's rate (the pacer sends at it).
    let sampleRate = Atomic<Int>(8000)
    /// CLOCK_MONOTONIC ns before which the pacer sends nothing: a new call waits (up to 100 ms) for the caller's
    /// first audio, so the first frames it hears are already at its rate.
    let holdUntil = Atomic<Int64>(0)

    // Written by the pacer, read by the I/O thread after `stopped` (or racily, for status).
    let framesSent = Atomic<Int>(0)
    let framesDropped = Atomic<Int>(0)
    let sendFailed = Atomic<Int32>(0)
    let halfSent = Atomic<Bool>(false)
    var intervals = 0
    var intervalSumNs: Int64 = 0
    var intervalMaxNs: Int64 = 0
    let histogram: UnsafeMutablePointer<Int>

    // Pacer-owned.
    var pacerGeneration = -1
    var lastSendNs: Int64 = 0
    let queue: OutboundQueue

    init(index: Int, queueFrames: Int) {
        self.index = index
        queue = OutboundQueue(capacity: queueFrames)
        histogram = .allocate(capacity: Self.histogramBins)
        histogram.initialize(repeating: 0, count: Self.histogramBins)
    }

    deinit { histogram.deallocate() }

    /// Pacing seen by this slot's sends (valid once the pacer stopped for it): mean, p99 and max, ms.
    var pacing: (mean: Double, p99: Double, max: Double)? {
        guard intervals > 0 else { return nil }
        var acc = 0
        var p99 = Double(intervalMaxNs) / 1e6
        let target = Int((Double(intervals) * 0.99).rounded(.up))
        for b in 0..<Self.histogramBins {
            acc += histogram[b]
            if acc >= target { p99 = Double(b + 1) * 0.05; break }
        }
        return (Double(intervalSumNs) / Double(intervals) / 1e6, min(p99, Double(intervalMaxNs) / 1e6), Double(intervalMaxNs) / 1e6)
    }
}

/// The real-time sender: every 20 ms (absolute CLOCK_MONOTONIC deadlines, so no drift) it renders one frame
/// per active call at the caller's rate and queues and flushes it with one `send` per message
/// (MSG_NOSIGNAL | MSG_DONTWAIT: it never blocks, never raises SIGPIPE). More than three frames behind, it
/// skips ahead instead of bursting. No allocation, locks or logging in the loop.
final class Pacer: @unchecked Sendable {
    static let frameNs: Int64 = 20_000_000
    let slots: [CallSlot]
    let media: AudioSocketMedia
    let stopFlag = Atomic<Bool>(false)
    let skips = Atomic<Int>(0)
    let scratch: UnsafeMutablePointer<Int16>
    private var thread: RealtimeThread?
    var realtime: Bool { thread?.realtime ?? false }

    init(slots: [CallSlot], media: AudioSocketMedia) {
        self.slots = slots
        self.media = media
        scratch = .allocate(capacity: 3840)
        scratch.initialize(repeating: 0, count: 3840)
    }

    deinit { scratch.deallocate() }

    func start(priority: Int32?) {
        thread = RealtimeThread.start(name: "inferno-as-pace", priority: priority) { [self] in run() }
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        thread?.join()
    }

    private func run() {
        var next = monotonicNow() + Self.frameNs
        while !stopFlag.load(ordering: .relaxed) {
            var ts = timespec(tv_sec: Int(next / 1_000_000_000), tv_nsec: Int(next % 1_000_000_000))
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
            for slot in slots { tick(slot) }
            next += Self.frameNs
            let now = monotonicNow()
            if now - next > 3 * Self.frameNs {
                next = now + Self.frameNs
                skips.add(1, ordering: .relaxed)
            }
        }
        // Leave every slot stopped so the I/O thread can finish its calls.
        for slot in slots where slot.state.load(ordering: .acquiring) == CallSlot.State.draining.rawValue {
            slot.state.store(CallSlot.State.stopped.rawValue, ordering: .releasing)
        }
    }

    private func tick(_ slot: CallSlot) {
        let st = slot.state.load(ordering: .acquiring)
        if st == CallSlot.State.draining.rawValue {
            slot.halfSent.store(slot.queue.offset > 0, ordering: .relaxed)
            slot.state.store(CallSlot.State.stopped.rawValue, ordering: .releasing)
            return
        }
        guard st == CallSlot.State.active.rawValue else { return }
        if slot.holdUntil.load(ordering: .acquiring) > monotonicNow() { return }
        let gen = slot.generation.load(ordering: .acquiring)
        let restart = gen != slot.pacerGeneration
        if restart {
            slot.pacerGeneration = gen
            slot.queue.clear()
            slot.lastSendNs = 0
            slot.intervals = 0; slot.intervalSumNs = 0; slot.intervalMaxNs = 0
            slot.histogram.update(repeating: 0, count: CallSlot.histogramBins)
        }
        let fd = slot.fd.load(ordering: .relaxed)
        guard fd >= 0, slot.sendFailed.load(ordering: .relaxed) == 0 else { return }
        let rate = slot.sampleRate.load(ordering: .acquiring)
        guard let kind = AudioSocketKind.audio(sampleRate: rate) else { return }
        let count = rate / 50
        media.render(slot: slot.index, sampleRate: rate, restart: restart, into: scratch, count: count)
        var dropped = false
        if let p = slot.queue.reserve(dropped: &dropped) {
            let len = AudioSocketCodec.writeAudio(kind, samples: scratch, count: count, to: p)
            slot.queue.commit(length: len)
        }
        if dropped { slot.framesDropped.add(1, ordering: .relaxed) }
        let before = slot.queue.count
        switch slot.queue.flush(fd: fd) {
        case .failed(let e): slot.sendFailed.store(e, ordering: .relaxed)
        case .sent, .wouldBlock: break
        }
        let sent = before - slot.queue.count
        if sent > 0 {
            slot.framesSent.add(sent, ordering: .relaxed)
            let now = monotonicNow()
            if slot.lastSendNs != 0 {
                let d = now - slot.lastSendNs
                slot.intervals += 1
                slot.intervalSumNs += d
                if d > slot.intervalMaxNs { slot.intervalMaxNs = d }
                let bin = min(CallSlot.histogramBins - 1, Int(d / 50_000))
                slot.histogram[bin] += 1
            }
            slot.lastSendNs = now
        }
    }
}
