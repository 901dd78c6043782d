import Glibc
import InfernoDevice
import InfernoMedia
import InfernoProtocol
import Synchronization

/// The calls as channels of the device: caller k's audio is TX channel "call k", RX channel "call k" is what
/// caller k hears.
///
/// * Inbound (I/O thread): samples → resampler (call rate → device rate) → a mono timestamp ring per call,
///   written at media-time positions `lead` (60 ms) ahead of the clock; the TX engine reads the ring
///   (`txSource`). A drift controller steers the resampler's ratio so the lead stays put even when the caller's
///   clock runs fast or slow; a stall (or a burst) beyond the bounds re-anchors the position (the gap is
///   silence, never stale audio). When the call ends the rest of its ring is cleared at once.
/// * Outbound (pacer, real time): every 20 ms it reads the RX ring of "call k" at the playout point
///   (media time − the channel's latency), resamples device rate → call rate (ratio steered against the media
///   clock by a fill controller, so pacer ticks and media time never drift apart) and hands the samples to the
///   pacer. Nothing patched → silence, which still feeds Asterisk's 2 s idle timer.
public final class DeviceCallMedia: AudioSocketMedia, @unchecked Sendable {
    public let slots: Int
    /// The device's sample rate (set by `attach`).
    public private(set) var deviceRate = 48000
    /// TX channels "call 1"… as a source (give it to `DeviceRuntime(extraTxSource:)`).
    public let txSource: CallTxSource
    let rings: [TimestampRingBuffer]
    /// Seconds the inbound write position runs ahead of the clock.
    public static let lead = 0.06
    /// Seconds the outbound read position trails the playout point.
    public static let trail = 0.015

    // Attached once the runtime exists.
    private var clock: MediaClockSource?
    private var rx: RxEngine?
    private var rxBase = 0

    // Inbound state (I/O thread).
    /// Per-call counters: inbound re-anchorings, position shifts, samples dropped; outbound re-anchorings.
    final class Counters: @unchecked Sendable {
        let inReanchor = Atomic<Int>(0), inShift = Atomic<Int>(0), inDropped = Atomic<Int>(0), outReanchor = Atomic<Int>(0)
        func reset() {
            inReanchor.store(0, ordering: .relaxed); inShift.store(0, ordering: .relaxed)
            inDropped.store(0, ordering: .relaxed); outReanchor.store(0, ordering: .relaxed)
        }
    }
    let counters: [Counters]

    final class Inbound {
        var resamplers: [Int: Resampler] = [:]
        var position: UInt64?
        var control = FillController(target: DeviceCallMedia.lead)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: 1024)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: 1024 * 24 + 512)
        let s32 = UnsafeMutablePointer<Int32>.allocate(capacity: 1024 * 24 + 512)
        deinit { floats.deallocate(); out.deallocate(); s32.deallocate() }
    }
    private var inbound: [Inbound]

    // Outbound state (pacer). Resamplers are made by `prepare` (I/O thread) before the pacer can see the rate.
    let outResamplers: UnsafeMutablePointer<Resampler?>
    let outPosition: UnsafeMutablePointer<UInt64>
    let outControl: UnsafeMutablePointer<FillController>
    let outRate: UnsafeMutablePointer<Int>
    let outLive: UnsafeMutablePointer<Bool>
    let outS32: UnsafeMutablePointer<Int32>
    let outFloats: UnsafeMutablePointer<Float>
    let outResult: UnsafeMutablePointer<Float>
    static let outScratch = 16384
    /// Re-anchorings (inbound, outbound) for status lines.
    public let inboundResets = Atomic<Int>(0)
    /// Inbound samples dropped because a message reached too far ahead of the clock.
    public let droppedInbound = Atomic<Int>(0)
    public let outboundResets = Atomic<Int>(0)

    public init(slots: Int) {
        self.slots = slots
        // 0.68 s at 48 kHz (0.34 s at 96 kHz): the write position never runs more than 0.15 s ahead.
        rings = (0..<slots).map { _ in TimestampRingBuffer(channels: 1, capacity: 32768) }
        txSource = CallTxSource(rings: rings)
        inbound = (0..<slots).map { _ in Inbound() }
        counters = (0..<slots).map { _ in Counters() }
        let rates = AudioSocketKind.audioRates.count
        outResamplers = .allocate(capacity: slots * rates)
        outResamplers.initialize(repeating: nil, count: slots * rates)
        outPosition = .allocate(capacity: slots); outPosition.initialize(repeating: 0, count: slots)
        outControl = .allocate(capacity: slots)
        outControl.initialize(repeating: FillController(target: Self.trail), count: slots)
        outRate = .allocate(capacity: slots); outRate.initialize(repeating: 0, count: slots)
        outLive = .allocate(capacity: slots); outLive.initialize(repeating: false, count: slots)
        outS32 = .allocate(capacity: Self.outScratch); outS32.initialize(repeating: 0, count: Self.outScratch)
        outFloats = .allocate(capacity: Self.outScratch); outFloats.initialize(repeating: 0, count: Self.outScratch)
        outResult = .allocate(capacity: 4096); outResult.initialize(repeating: 0, count: 4096)
    }

    deinit {
        outResamplers.deinitialize(count: slots * AudioSocketKind.audioRates.count); outResamplers.deallocate()
        outPosition.deallocate(); outControl.deallocate(); outRate.deallocate(); outLive.deallocate()
        outS32.deallocate(); outFloats.deallocate(); outResult.deallocate()
    }

    /// Connects the media to a started device: its clock and the RX channels "call 1"… (after `rxBase` own ones).
    public func attach(clock: MediaClockSource, rx: RxEngine, rxBase: Int, deviceRate: Int) {
        precondition(rxBase + slots <= rx.channels, "the device has no RX channels for the calls")
        self.deviceRate = deviceRate
        // Design the usual filters now (milliseconds each, more in debug builds), not when the first call waits.
        for r in [8000, 16000] {
            _ = ResamplerFilter.shared(inputRate: r, outputRate: deviceRate)
            _ = ResamplerFilter.shared(inputRate: deviceRate, outputRate: r)
        }
        self.clock = clock
        self.rx = rx
        self.rxBase = rxBase
    }

    private func mediaNow() -> UInt64? { clock?.now()?.samples(rate: UInt32(deviceRate)) }

    // MARK: I/O thread

    public func prepare(slot: Int, sampleRate: Int) {
        guard let idx = AudioSocketKind.audioRates.firstIndex(of: sampleRate) else { return }
        let k = slot * AudioSocketKind.audioRates.count + idx
        if outResamplers[k] == nil {
            outResamplers[k] = Resampler(inputRate: deviceRate, outputRate: sampleRate, maxInput: 4096)
        }
    }

    public func callStats(slot: Int) -> [(String, Int)] {
        let c = counters[slot]
        return [("in_reanchored", c.inReanchor.load(ordering: .relaxed)), ("in_shifted", c.inShift.load(ordering: .relaxed)),
                ("in_dropped", c.inDropped.load(ordering: .relaxed)), ("out_reanchored", c.outReanchor.load(ordering: .relaxed))]
    }

    public func callStarted(slot: Int, uuid: AudioSocketUUID) {
        counters[slot].reset()
        let s = inbound[slot]
        s.position = nil
        s.control.reset()
        for r in s.resamplers.values { r.reset() }
    }

    public func callAudio(slot: Int, kind: AudioSocketKind, samples: UnsafeRawBufferPointer) {
        guard let rate = kind.sampleRate, let now = mediaNow() else { return }
        let s = inbound[slot]
        let res: Resampler
        if let r = s.resamplers[rate] { res = r } else {
            res = Resampler(inputRate: rate, outputRate: deviceRate, maxInput: 2048)
            s.resamplers[rate] = res
        }
        // How far ahead of the clock the audio reaches when this message arrives, counting what the resampler
        // holds back. The fill controller keeps the smallest such level (the latest arrivals) at `lead`: by the
        // ratio for drift, by moving the position for a bad start or a stall.
        let t = Double(monotonicNow()) / 1e9
        if let pos = s.position {
            let level = Double(MediaClock.distance(from: now, to: pos)) / Double(deviceRate) + res.pendingInput / Double(rate)
            if level < 0.002 || level > 0.25 {
                // Behind the clock (a stall) or far ahead (a burst): start again `lead` ahead; the gap is silence,
                // nothing stale is replayed.
                s.position = nil
                inboundResets.add(1, ordering: .relaxed)
                counters[slot].inReanchor.add(1, ordering: .relaxed)
            } else {
                switch s.control.arrival(level: level, time: t) {
                case .none: break
                case .adjust(let a): res.setRatioAdjust(a)
                case .shift(let d):
                    s.position = MediaClock.advance(pos, by: Int64((d * Double(deviceRate)).rounded()))
                    counters[slot].inShift.add(1, ordering: .relaxed)
                }
            }
        }
        if s.position == nil {
            let held = UInt64(res.pendingInput * Double(deviceRate) / Double(rate))
            s.position = now &+ UInt64(Self.lead * Double(deviceRate)) &- held
            s.control.reset()
            res.setRatioAdjust(0)
        }
        var pos = s.position!
        let limit = Int64(Double(deviceRate) * 0.3)
        var offset = 0
        let total = samples.count / 2
        while offset < total {
            let n = min(1024, total - offset)
            SampleFormat.floats(fromS16LE: samples.baseAddress! + 2 * offset, count: n, into: s.floats)
            let produced = res.process(s.floats, count: n, into: s.out, capacity: 1024 * 24 + 512)
            // A message longer than the ring can hold ahead of the clock (e.g. 4 s at once): keep the first
            // 0.3 s, drop the rest (counted).
            if MediaClock.distance(from: now, to: pos) + Int64(produced) <= limit {
                SampleFormat.s32(from: s.out, count: produced, into: s.s32)
                rings[slot].writeMono(at: pos, count: produced, from: s.s32, stride: 1)
                pos = pos &+ UInt64(produced)
            } else {
                droppedInbound.add(produced, ordering: .relaxed)
                counters[slot].inDropped.add(produced, ordering: .relaxed)
            }
            offset += n
        }
        s.position = pos
    }

    public func callEnded(slot: Int) {
        // Silence at once: clear what was written ahead of the clock (the next call starts clean).
        let s = inbound[slot]
        if let pos = s.position, let now = mediaNow() {
            let ahead = MediaClock.distance(from: now, to: pos)
            if ahead > 0 && ahead < Int64(rings[slot].capacity) {
                let chunk = 1024 * 24 + 512
                s.s32.update(repeating: 0, count: chunk)
                var k: Int64 = 0
                while k < ahead {
                    let n = Int(min(Int64(chunk), ahead - k))
                    rings[slot].writeMono(at: now &+ UInt64(k), count: n, from: s.s32, stride: 1)
                    k += Int64(n)
                }
            }
        }
        s.position = nil
    }

    // MARK: pacer (real time)

    public func render(slot: Int, sampleRate: Int, restart: Bool, into dst: UnsafeMutablePointer<Int16>, count: Int) {
        guard let rx, let now = mediaNow(),
              let idx = AudioSocketKind.audioRates.firstIndex(of: sampleRate),
              let res = outResamplers[slot * AudioSocketKind.audioRates.count + idx] else {
            dst.update(repeating: 0, count: count)
            return
        }
        let channel = rxBase + slot
        let playout = now &- UInt64(max(0, rx.latencySamples(channel: channel)))
        let trail = UInt64(Self.trail * Double(deviceRate))
        if restart || outRate[slot] != sampleRate || !outLive[slot] {
            res.reset()
            res.setRatioAdjust(0)
            outControl[slot].reset()
            outPosition[slot] = playout &- trail
            outRate[slot] = sampleRate
            outLive[slot] = true
        }
        // How far the read position trails the playout point, counting what the resampler has read but not yet
        // used: `trail` in steady state; the controller keeps it there against the pacer's clock.
        var level = (Double(MediaClock.distance(from: outPosition[slot], to: playout)) + res.pendingInput) / Double(deviceRate)
        if level < 0 || level > 0.15 {
            res.reset()
            res.setRatioAdjust(0)
            outControl[slot].reset()
            outPosition[slot] = playout &- trail
            level = Self.trail
            outboundResets.add(1, ordering: .relaxed)
            counters[slot].outReanchor.add(1, ordering: .relaxed)
        }
        // The smallest trail of each window is the one of an on-time tick (a late wake-up only adds to it).
        switch outControl[slot].arrival(level: level, time: Double(monotonicNow()) / 1e9) {
        case .none: break
        case .adjust(let a): res.setRatioAdjust(a)
        case .shift(let d):
            // More trail: read from an earlier position.
            outPosition[slot] = MediaClock.advance(outPosition[slot], by: -Int64((d * Double(deviceRate)).rounded()))
        }
        let need = min(Self.outScratch, res.inputNeeded(forOutputs: count))
        rx.rings[channel].readChannel(0, at: outPosition[slot], count: need, into: outS32)
        outPosition[slot] = outPosition[slot] &+ UInt64(need)
        SampleFormat.floats(fromS32: outS32, count: need, into: outFloats)
        let produced = res.process(outFloats, count: need, into: outResult, capacity: min(count, 4096))
        SampleFormat.s16(from: outResult, count: produced, into: dst)
        if produced < count { (dst + produced).update(repeating: 0, count: count - produced) }
    }
}

/// TX channels "call 1"…: each reads its call's ring at the media time being sent.
public final class CallTxSource: TxSampleSource, @unchecked Sendable {
    let rings: [TimestampRingBuffer]
    init(rings: [TimestampRingBuffer]) { self.rings = rings }
    public var significantBits: Int { 24 }
    public func render(channel: Int, at t: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>) {
        guard channel >= 0 && channel < rings.count else { dst.update(repeating: 0, count: frames); return }
        rings[channel].readChannel(0, at: t, count: frames, into: dst)
    }
}
