/// Places the cycles of an audio graph (PipeWire) on the Dante media-time line.
///
/// Each cycle the caller says where the cycle starts: either the driver's position when the graph is driven by
/// the media clock itself (`drivenPosition`, exact by construction), or the media time at which another driver
/// started the cycle. The follower answers with a `Mapping`: the media time (device samples, integer plus
/// fraction) of the cycle's first sample and how many device samples one graph sample spans.
///
/// * **Driven**: the mapping is the driver's position, ratio 1. Nothing to correct.
/// * **Exact**: following another driver whose clock runs at the media clock's rate (same rates, no measurable
///   drift): positions advance by whole samples, ratio exactly 1, so audio passes bit for bit. The error (media
///   time minus where the cycle was placed) is watched; once it leaves `deadband` the follower switches to…
/// * **Resampling**: a PI loop steers the ratio (±`maxAdjust`) so the error returns to zero with time constant
///   `timeConstant`; the integral term converges to the drift between the two clocks (`driftPPM`).
/// * An error beyond `resyncThreshold` (a stall, a clock step, a new driver) re-anchors the mapping (`resyncs`).
///
/// Real-time safe: a value type with no allocation.
public struct GraphClockFollower: Sendable {
    public enum Mode: UInt8, Sendable { case unlocked = 0, driven, exact, resampling }

    public struct Mapping: Equatable, Sendable {
        /// Media time of the cycle's first sample: `start + frac`, frac in [0, 1).
        public var start: UInt64
        public var frac: Double
        /// Device samples per graph sample.
        public var ratio: Double
        /// True when every graph sample lands on a whole device sample (frac 0, ratio 1).
        public var exact: Bool { frac == 0 && ratio == 1 }
        public init(start: UInt64, frac: Double, ratio: Double) {
            self.start = start; self.frac = frac; self.ratio = ratio
        }
    }

    public private(set) var mode: Mode = .unlocked
    public private(set) var mapping = Mapping(start: 0, frac: 0, ratio: 1)
    /// Media time minus the cycle's placement at the last cycle, device samples (0 when driven).
    public private(set) var error: Double = 0
    /// Re-anchors after the first lock.
    public private(set) var resyncs: Int = 0
    /// The loop's estimate of the graph clock's drift against the media clock, ppm (resampling mode only).
    public var driftPPM: Double { integral * 1e6 }

    public var deadband: Double
    public var resyncThreshold: Double
    public var timeConstant: Double
    public var maxAdjust: Double

    private var integral: Double = 0
    private var nominal: Double = 1
    private var generation: UInt32 = 0

    /// `deadband`/`resyncThreshold` in seconds of device time.
    public init(deadband: Double = 0.001, resyncThreshold: Double = 0.1, timeConstant: Double = 2,
                maxAdjust: Double = 0.002) {
        self.deadband = deadband
        self.resyncThreshold = resyncThreshold
        self.timeConstant = timeConstant
        self.maxAdjust = maxAdjust
    }

    /// Starts a cycle of `samples` graph samples. `media` is the media time at the cycle's start
    /// (device samples: whole + fraction) with its clock generation, or nil without a media clock (the caller
    /// plays silence; the follower unlocks). `drivenPosition` is the driver's position when the media-clock
    /// driver runs this cycle and the graph runs at the device rate.
    public mutating func begin(samples: Int, graphRate: UInt32, deviceRate: UInt32, drivenPosition: UInt64?,
                               media: (whole: UInt64, frac: Double, generation: UInt32)?) -> Mapping? {
        guard let media, graphRate > 0, deviceRate > 0 else {
            mode = .unlocked
            return nil
        }
        if let p = drivenPosition, graphRate == deviceRate {
            if mode == .driven && p != mapping.start { resyncs += 1 }
            else if mode != .driven && mode != .unlocked { resyncs += 1 }
            mode = .driven
            mapping = Mapping(start: p, frac: 0, ratio: 1)
            error = 0
            integral = 0
            generation = media.generation
            return mapping
        }
        let nominal = Double(deviceRate) / Double(graphRate)
        let e = Double(Int64(bitPattern: media.whole &- mapping.start)) + (media.frac - mapping.frac)
        let rate = Double(deviceRate)
        if mode == .unlocked || mode == .driven || nominal != self.nominal || media.generation != generation
            || abs(e) > resyncThreshold * rate {
            if mode != .unlocked { resyncs += 1 }
            self.nominal = nominal
            generation = media.generation
            integral = 0
            error = 0
            let whole = media.whole &+ (media.frac >= 0.5 ? 1 : 0)
            mapping = Mapping(start: whole, frac: 0, ratio: nominal)
            mode = nominal == 1 ? .exact : .resampling
            return mapping
        }
        error = e
        if mode == .exact && abs(e) > deadband * rate { mode = .resampling }
        if mode == .resampling {
            let kp = 1 / (timeConstant * rate)
            let dt = Double(samples) / Double(graphRate)
            integral = min(maxAdjust, max(-maxAdjust, integral + kp * e * dt / (4 * timeConstant)))
            let adjust = min(maxAdjust, max(-maxAdjust, kp * e + integral))
            mapping.ratio = nominal * (1 + adjust)
        }
        return mapping
    }

    /// Ends the cycle: the next one starts `samples` graph samples later.
    public mutating func end(samples: Int) {
        guard mode != .unlocked else { return }
        let total = mapping.frac + Double(samples) * mapping.ratio
        let whole = total.rounded(.down)
        mapping.start = mapping.start &+ UInt64(whole)
        mapping.frac = total - whole
    }
}

/// Float ↔ left-justified Int32 for DSP ports: x/2³¹ both ways, so any 24-bit-clean sample survives the round
/// trip bit for bit. Floats are clipped; NaN reads as 0.
public enum FloatSamples {
    public static let scale: Double = 2_147_483_648

    @inlinable public static func toFloat(_ s: Int32) -> Float { Float(s) * (1 / 2_147_483_648) }

    @inlinable public static func toInt32(_ f: Float) -> Int32 { toInt32(Double(f)) }

    @inlinable public static func toInt32(_ d: Double) -> Int32 {
        let v = (d * scale).rounded()
        if v >= 2_147_483_647 { return .max }
        if v <= -2_147_483_648 { return .min }
        if v.isNaN { return 0 }
        return Int32(v)
    }

    /// Catmull-Rom interpolation between p1 (t = 0) and p2 (t = 1); exactly p1 at t = 0.
    @inlinable public static func interpolate(_ p0: Double, _ p1: Double, _ p2: Double, _ p3: Double, _ t: Double) -> Double {
        if t == 0 { return p1 }
        let a = -0.5 * p0 + 1.5 * p1 - 1.5 * p2 + 0.5 * p3
        let b = p0 - 2.5 * p1 + 2 * p2 - 0.5 * p3
        let c = -0.5 * p0 + 0.5 * p2
        return ((a * t + b) * t + c) * t + p1
    }
}

/// Reads a mono timestamp ring into a graph buffer along a `GraphClockFollower.Mapping` (capture: Dante RX →
/// graph). Exact mappings copy; fractional ones interpolate. Preallocated; real-time safe.
public final class RingToGraph: @unchecked Sendable {
    public let maxFrames: Int
    let scratch: UnsafeMutablePointer<Int32>
    let scratchCapacity: Int

    public init(maxFrames: Int, maxRatio: Double = 4) {
        self.maxFrames = maxFrames
        scratchCapacity = Int(Double(maxFrames) * maxRatio) + 8
        scratch = .allocate(capacity: scratchCapacity)
        scratch.initialize(repeating: 0, count: scratchCapacity)
    }

    deinit { scratch.deallocate() }

    /// Fills `frames` samples of `out` with the ring's media times mapping − `delay` (device samples).
    /// Returns how many ring samples were present.
    @discardableResult
    public func render(ring: TimestampRingBuffer, mapping m: GraphClockFollower.Mapping, delay: UInt64, frames: Int,
                       into out: UnsafeMutablePointer<Float>) -> Int {
        let frames = min(frames, maxFrames)
        let start = m.start &- delay
        if m.exact {
            let present = ring.readChannel(0, at: start, count: frames, into: scratch)
            for i in 0..<frames { out[i] = FloatSamples.toFloat(scratch[i]) }
            return present
        }
        // Samples start-1 … start+span+2 cover every interpolation window.
        let span = Int((m.frac + Double(max(0, frames - 1)) * m.ratio).rounded(.down))
        let count = min(scratchCapacity, span + 4)
        let present = ring.readChannel(0, at: start &- 1, count: count, into: scratch)
        for j in 0..<frames {
            let pos = m.frac + Double(j) * m.ratio
            let i = Int(pos.rounded(.down))
            guard i + 3 < count else { out[j] = 0; continue }
            let t = pos - Double(i)
            let v = FloatSamples.interpolate(Double(scratch[i]), Double(scratch[i + 1]), Double(scratch[i + 2]),
                                             Double(scratch[i + 3]), t)
            out[j] = Float(v / FloatSamples.scale)
        }
        return present
    }
}

/// Writes graph buffers into a multichannel timestamp ring along a mapping (playback: graph → Dante TX).
/// Every media time is written once, in order, from a write cursor; with a fractional mapping each output
/// sample is interpolated from the inputs around it (two samples of look-ahead, kept across cycles).
/// Preallocated; real-time safe.
public final class GraphToRing: @unchecked Sendable {
    public let channels: Int
    public let maxFrames: Int
    static let history = 3
    /// Per channel: `history` samples of the previous cycle, then this cycle's input.
    let ext: UnsafeMutablePointer<Float>
    let extStride: Int
    let frames: UnsafeMutablePointer<Int32>
    let maxOut: Int
    /// The next media time to write (nil: not started).
    public private(set) var next: UInt64?
    public private(set) var written: UInt64 = 0

    /// `maxRatio`: the largest device/graph sample ratio to serve (96 kHz device on a 44.1 kHz graph: 2.18).
    public init(channels: Int, maxFrames: Int, maxRatio: Double = 2.5) {
        self.channels = max(1, channels)
        self.maxFrames = maxFrames
        extStride = maxFrames + Self.history
        ext = .allocate(capacity: self.channels * extStride)
        ext.initialize(repeating: 0, count: self.channels * extStride)
        maxOut = Int(Double(maxFrames) * maxRatio) + 8
        frames = .allocate(capacity: maxOut * self.channels)
        frames.initialize(repeating: 0, count: maxOut * self.channels)
    }

    deinit {
        ext.deallocate()
        frames.deallocate()
    }

    /// Forgets the cursor (the next cycle starts a new run).
    public func reset() { next = nil }

    /// Writes one cycle: `inputs(c)` is channel c's buffer of `count` graph samples (nil = silence), placed at
    /// media time mapping + `delay`. Returns the number of media samples written.
    @discardableResult
    public func write(count: Int, mapping m: GraphClockFollower.Mapping, delay: UInt64, to ring: TimestampRingBuffer,
                      inputs: (Int) -> UnsafePointer<Float>?) -> Int {
        let n = min(count, maxFrames)
        let h = Self.history
        // Shift the history and append this cycle's input (as Double) per channel.
        for c in 0..<channels {
            let e = ext + c * extStride
            let src = inputs(c)
            // The previous cycle's last `h` samples sit at e[lastCount ..< lastCount + h]: move them to the front.
            for k in 0..<h { e[k] = e[lastCount + k] }
            if let src {
                (e + h).update(from: src, count: n)
            } else {
                for j in 0..<n { e[h + j] = 0 }
            }
        }
        lastCount = n
        let base = m.start &+ delay   // media time of ext index h (this cycle's first sample), plus m.frac
        var produced = 0
        if m.exact {
            // Whole samples: write this cycle's input as is (the history is not needed).
            if let nx = next, nx != base { discontinuities &+= 1 }
            for j in 0..<n {
                for c in 0..<channels { frames[j * channels + c] = FloatSamples.toInt32(ext[c * extStride + h + j]) }
            }
            ring.write(at: base, count: n, from: frames)
            next = base &+ UInt64(n)
            produced = n
        } else {
            // Media time d ↔ ext position u = (d − base − frac)/ratio + h; interpolation needs u−1 … u+2.
            var d = next ?? base
            var u = (Double(Int64(bitPattern: d &- base)) - m.frac) / m.ratio + Double(h)
            if next == nil || u < 1 || u > Double(n + h) {
                if next != nil { discontinuities &+= 1 }
                // (Re)start at the first media sample at or after this cycle's first input sample.
                let first = (m.frac == 0 ? 0 : 1)
                d = base &+ UInt64(first)
                u = (Double(first) - m.frac) / m.ratio + Double(h)
            }
            let start = d
            while produced < maxOut {
                let i = Int(u.rounded(.down))
                if i > n { break }          // needs ext[i+2] ≤ ext[n+h-1]
                let t = u - Double(i)
                for c in 0..<channels {
                    let e = ext + c * extStride
                    frames[produced * channels + c] = FloatSamples.toInt32(
                        FloatSamples.interpolate(Double(e[i - 1]), Double(e[i]), Double(e[i + 1]), Double(e[i + 2]), t))
                }
                produced += 1
                d = d &+ 1
                u = (Double(Int64(bitPattern: d &- base)) - m.frac) / m.ratio + Double(h)
            }
            if produced > 0 { ring.write(at: start, count: produced, from: frames) }
            next = d
        }
        written &+= UInt64(produced)
        return produced
    }

    private var lastCount = 0
    public private(set) var discontinuities: UInt64 = 0
}
