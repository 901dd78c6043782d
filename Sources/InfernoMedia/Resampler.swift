import CInfernoDSP
import Glibc
import Synchronization

/// A windowed-sinc (Kaiser) low-pass, tabulated as a polyphase bank, for one input/output rate pair.
/// Immutable after `init`, so every resampler of the same pair shares one (`shared(…)`).
public final class ResamplerFilter: @unchecked Sendable {
    public let inputRate: Int
    public let outputRate: Int
    /// Coefficients per phase (even).
    public let taps: Int
    /// Phases tabulated (plus one extra row for interpolation).
    public let phases: Int
    /// The −6 dB cutoff, Hz.
    public let cutoff: Double
    /// Upper edge of the flat passband and lower edge of the stopband, Hz.
    public let passbandEdge: Double
    public let stopbandEdge: Double
    public let attenuationDB: Double
    let table: UnsafeMutablePointer<Float>

    /// - passband: the flat band as a fraction of the lower Nyquist frequency (0.85 keeps 3.4 kHz at 8 kHz).
    /// - attenuationDB: stopband rejection (aliases and images).
    public init(inputRate: Int, outputRate: Int, passband: Double = 0.85, attenuationDB: Double = 80, phases: Int = 256) {
        precondition(inputRate > 0 && outputRate > 0 && phases >= 2)
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.phases = phases
        self.attenuationDB = attenuationDB
        let nyquist = Double(min(inputRate, outputRate)) / 2
        stopbandEdge = nyquist
        passbandEdge = nyquist * passband
        cutoff = (passbandEdge + stopbandEdge) / 2
        // Kaiser's estimate of the length for this attenuation and transition width (in input samples).
        let transition = (stopbandEdge - passbandEdge) / Double(inputRate)
        var n = Int(((attenuationDB - 7.95) / (14.36 * transition)).rounded(.up)) + 1
        n += n & 1
        taps = max(4, n)
        let beta = attenuationDB > 50 ? 0.1102 * (attenuationDB - 8.7)
            : attenuationDB >= 21 ? 0.5842 * pow(attenuationDB - 21, 0.4) + 0.07886 * (attenuationDB - 21) : 0
        let fc = 2 * cutoff / Double(inputRate)        // normalised to the input rate: h(x) = fc·sinc(fc·x)
        let half = Double(taps / 2)
        let i0beta = Self.besselI0(beta)
        table = .allocate(capacity: (phases + 1) * taps)
        for q in 0...phases {
            var sum = 0.0
            var row = [Double](repeating: 0, count: taps)
            for j in 0..<taps {
                let x = Double(q) / Double(phases) + half - 1 - Double(j)
                let r = x / half
                let w = abs(r) >= 1 ? 0 : Self.besselI0(beta * (1 - r * r).squareRoot()) / i0beta
                let u = fc * x
                let sinc = u == 0 ? 1 : sin(Double.pi * u) / (Double.pi * u)
                row[j] = fc * sinc * w
                sum += row[j]
            }
            // Exactly unity gain at DC for every phase (no phase-dependent gain ripple).
            for j in 0..<taps { table[q * taps + j] = Float(row[j] / sum) }
        }
    }

    deinit { table.deallocate() }

    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0
        let y = x * x / 4
        for k in 1..<64 {
            term *= y / Double(k * k)
            sum += term
            if term < sum * 1e-17 { break }
        }
        return sum
    }

    nonisolated(unsafe) private static var cache: [Int: ResamplerFilter] = [:]
    private static let cacheLock = Mutex<Void>(())

    /// One shared filter per rate pair (designing a long filter takes milliseconds; call off the audio path).
    public static func shared(inputRate: Int, outputRate: Int) -> ResamplerFilter {
        cacheLock.withLock { _ in
            let key = inputRate << 32 | outputRate
            if let f = cache[key] { return f }
            let f = ResamplerFilter(inputRate: inputRate, outputRate: outputRate)
            cache[key] = f
            return f
        }
    }
}

/// A streaming, band-limited sample-rate converter with a fine-adjustable ratio for drift correction.
///
/// * Polyphase windowed-sinc (`ResamplerFilter`), linear interpolation between 256 phases, so any ratio works
///   (8 k ↔ 48 k, 44.1 k ↔ 48 k, …) and the ratio can be nudged by parts per million while running.
/// * Output sample k corresponds to input time k × in/out × (1 + adjust) exactly (no group delay); the price is
///   a look-ahead of `filter.taps / 2` input samples before an output can be computed.
/// * Push (`process` with everything that arrived) or pull (`inputNeeded(forOutputs:)`, then `process`).
/// * No allocation, locks or logging after `init`. Not thread-safe: one owner at a time.
public final class Resampler: @unchecked Sendable {
    public let filter: ResamplerFilter
    public var inputRate: Int { filter.inputRate }
    public var outputRate: Int { filter.outputRate }
    /// Input samples the buffer can hold.
    public let bufferCapacity: Int
    /// The ratio adjustment in use (fraction, e.g. 1e-4 consumes 100 ppm more input per output).
    public private(set) var ratioAdjust: Double = 0
    /// Input samples dropped because the caller pushed more than the buffer holds without taking output.
    public private(set) var droppedInput = 0

    let buffer: UnsafeMutablePointer<Float>
    var count = 0
    var position: UInt64 = 0
    var step: UInt64 = 0
    let nominalStep: Double
    let history: Int

    public convenience init(inputRate: Int, outputRate: Int, maxInput: Int = 16384) {
        self.init(filter: .shared(inputRate: inputRate, outputRate: outputRate), maxInput: maxInput)
    }

    public init(filter: ResamplerFilter, maxInput: Int = 16384) {
        self.filter = filter
        history = filter.taps / 2 - 1
        bufferCapacity = maxInput + filter.taps
        buffer = .allocate(capacity: bufferCapacity)
        buffer.initialize(repeating: 0, count: bufferCapacity)
        nominalStep = Double(filter.inputRate) / Double(filter.outputRate)
        setRatioAdjust(0)
        reset()
    }

    deinit { buffer.deallocate() }

    /// Back to the initial state: empty, silent history, position at the first input sample.
    public func reset() {
        buffer.update(repeating: 0, count: history)
        count = history
        position = UInt64(history) << 32
        droppedInput = 0
    }

    /// Sets the ratio adjustment, clamped to ±2 %. Positive: more input per output (output runs shorter).
    public func setRatioAdjust(_ adjust: Double) {
        ratioAdjust = min(0.02, max(-0.02, adjust.isFinite ? adjust : 0))
        step = UInt64((nominalStep * (1 + ratioAdjust) * 4_294_967_296.0).rounded())
    }

    /// Input samples buffered that no output has consumed yet (including the look-ahead), as a time in input
    /// samples: what the resampler holds back.
    public var pendingInput: Double {
        Double(count) - Double(position) / 4_294_967_296.0
    }

    /// The most outputs one `process` call with `count` new input samples can produce (what is buffered
    /// included): the size for the caller's output buffer.
    public func maxOutput(forInput count: Int) -> Int {
        Int((Double(count + filter.taps) / nominalStep).rounded(.up)) + 2
    }

    /// How many more input samples are needed before `n` more outputs can be produced.
    public func inputNeeded(forOutputs n: Int) -> Int {
        guard n > 0 else { return 0 }
        let last = (position &+ UInt64(n - 1) &* step) >> 32
        let required = Int(last) + filter.taps / 2 + 1
        return max(0, required - count)
    }

    /// Appends `n` input samples and writes up to `capacity` outputs; returns how many were written. Input that
    /// cannot be used yet stays buffered (up to `bufferCapacity`; beyond that the oldest is dropped, counted).
    public func process(_ input: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>, capacity: Int) -> Int {
        var produced = 0
        var consumed = 0
        while true {
            let room = bufferCapacity - count
            let take = min(room, n - consumed)
            if take > 0 {
                (buffer + count).update(from: input + consumed, count: take)
                count += take
                consumed += take
            }
            produced += run(into: out + produced, capacity: capacity - produced)
            compact()
            if consumed == n { break }
            if produced == capacity && bufferCapacity - count == 0 {
                // Output full and buffer full: drop the oldest unconsumed input to make room.
                let drop = min(n - consumed, bufferCapacity / 2)
                dropOldest(drop)
            }
        }
        return produced
    }

    /// Writes up to `capacity` outputs from what is buffered, without new input.
    public func drain(into out: UnsafeMutablePointer<Float>, capacity: Int) -> Int {
        let p = run(into: out, capacity: capacity)
        compact()
        return p
    }

    private func run(into out: UnsafeMutablePointer<Float>, capacity: Int) -> Int {
        guard capacity > 0 else { return 0 }
        var pos = position
        let p = inferno_resample_f32(filter.table, UInt32(filter.phases), filter.taps, buffer, count, &pos, step, out, capacity)
        position = pos
        return p
    }

    /// Moves the window so that the history needed by the next output starts at buffer[0].
    private func compact() {
        let first = Int(position >> 32) - history
        guard first > 0 else { return }
        let keep = max(0, count - first)
        if keep > 0 { buffer.update(from: buffer + min(first, count), count: keep) }
        let shift = min(first, count)
        count = keep
        position -= UInt64(shift) << 32
        if first > shift {
            // The position ran past the buffered input (cannot happen with run's guard, kept for safety).
            position = UInt64(history) << 32
            buffer.update(repeating: 0, count: history)
            count = history
        }
    }

    private func dropOldest(_ n: Int) {
        let removable = max(0, count - history - filter.taps)
        let k = min(n, removable)
        guard k > 0 else { return }
        buffer.update(from: buffer + k, count: count - k)
        count -= k
        let back = UInt64(k) << 32
        position = position > back + (UInt64(history) << 32) ? position - back : UInt64(history) << 32
        droppedInput += k
    }
}

/// Sample-format conversions around the resampler (C loops, fast in debug builds too).
public enum SampleFormat {
    /// Little-endian s16 bytes (`2 × n` bytes) → floats in [−1, 1).
    public static func floats(fromS16LE src: UnsafeRawPointer, count n: Int, into dst: UnsafeMutablePointer<Float>) {
        inferno_s16le_to_f32(src.assumingMemoryBound(to: UInt8.self), n, dst)
    }
    /// Floats → s16, rounded and clamped.
    public static func s16(from src: UnsafePointer<Float>, count n: Int, into dst: UnsafeMutablePointer<Int16>) {
        inferno_f32_to_s16(src, n, dst)
    }
    /// Floats → left-justified s32 (the device format), rounded and clamped.
    public static func s32(from src: UnsafePointer<Float>, count n: Int, into dst: UnsafeMutablePointer<Int32>) {
        inferno_f32_to_s32(src, n, dst)
    }
    /// Left-justified s32 → floats.
    public static func floats(fromS32 src: UnsafePointer<Int32>, count n: Int, into dst: UnsafeMutablePointer<Float>) {
        inferno_s32_to_f32(src, n, dst)
    }
}

/// A jitter buffer's fill control: keeps the fill level of a buffer between a producer and a consumer on
/// (possibly) different clocks at a set point by steering a resampler's ratio, with no steady-state error.
///
/// Fed the fill level at each event (seconds of audio ahead of the consumer: at an arrival for a network
/// receiver, before the new frame is added; at each tick for a paced reader), it measures each window of events
/// by a low order statistic of the levels (the late events are the ones that matter: an early frame only adds
/// margin; the third smallest rather than the smallest, so one long tail does not move the measure). Then:
///
/// 1. The first window is short (`firstWindow` events) and judged by the smallest level of its second half,
///    which is moved to `target` at once (a `.shift`): a late or bunched start is fixed before much is heard.
/// 2. The next three full windows set the set point without touching the ratio: their median, when within
///    `snap / 2` of the target, else the target (by another shift). A short window sees less of the jitter
///    than a full one; adopting what the full windows saw keeps the loop from pulling the pitch to correct a
///    difference nobody hears.
/// 3. From then on the median of the last five window measures (one late burst moves nothing), smoothed, drives
///    a critically damped PI loop. Its integral is the clock-rate difference, so the fill settles exactly on
///    the set point and the ratio on the true rate ratio: with both sides on one clock it converges to exactly
///    1. The loop starts at 0.05 rad/s (absorbs 0.1 % of drift with ~10 ms of fill error) and halves its
///    bandwidth after every 20 s spent within 2 ms of the set point, down to 0.01 rad/s, where measurement
///    noise moves the ratio by a few ppm; a persistent error (> 6 ms for three windows) widens it again.
/// 4. A fill that stays more than `snap` off (median and latest window agreeing: a stall without catch-up, a
///    caller that restarted its stream) is shifted back at once; the integral keeps what it learnt.
///
/// No allocation: the pacer calls it on the real-time thread.
public struct FillController: Sendable {
    public enum Action: Equatable, Sendable {
        /// Keep the ratio as it is.
        case none
        /// Set the resampler's ratio adjustment to this (positive: the buffer is too full, consume more input
        /// per output).
        case adjust(Double)
        /// Change the fill level by this many seconds at once (positive: more audio ahead of the consumer;
        /// for a writer that is a later write position, for a reader an earlier read position). The ratio stays.
        case shift(Double)
    }

    public var target: Double
    public var snap: Double
    public let window: Int
    public let firstWindow: Int
    public let maxBandwidth: Double
    public let minBandwidth: Double
    /// The fill level the loop holds (seconds); `nil` until three full windows were seen.
    public private(set) var setPoint: Double?
    /// The current ratio adjustment (what the last `.adjust` said).
    public private(set) var adjust: Double = 0
    /// The integral term: the estimated rate difference between the two clocks.
    public private(set) var integral: Double = 0
    /// The loop's natural frequency now (rad/s).
    public private(set) var bandwidth: Double
    /// The smoothed fill error (seconds).
    public private(set) var error: Double = 0
    /// Shifts asked for since the last reset.
    public private(set) var shifts = 0

    private var count = 0
    /// The three smallest levels of the window so far, ascending (`lowCount` of them valid).
    private var lows: (Double, Double, Double) = (0, 0, 0)
    private var lowCount = 0
    private var windowStart: Double?
    private var decided = false
    private var history: (Double, Double, Double, Double, Double) = (0, 0, 0, 0, 0)
    private var historyCount = 0
    private var historyNext = 0
    private var smoothed = false
    private var calm = 0.0
    private var persistent = 0
    static let limit = 0.005
    static let smoothing = 0.1

    public init(target: Double, snap: Double = 0.025, window: Int = 50, firstWindow: Int = 10,
                maxBandwidth: Double = 0.05, minBandwidth: Double = 0.01) {
        precondition(window >= 3 && firstWindow >= 2)
        self.target = target
        self.snap = snap
        self.window = window
        self.firstWindow = firstWindow
        self.maxBandwidth = maxBandwidth
        self.minBandwidth = minBandwidth
        bandwidth = maxBandwidth
    }

    /// Forgets everything (a new stream).
    public mutating func reset() {
        count = 0; lowCount = 0; windowStart = nil; decided = false
        setPoint = nil; adjust = 0; integral = 0; bandwidth = maxBandwidth; error = 0; shifts = 0
        clearHistory()
        calm = 0; persistent = 0
    }

    private mutating func clearHistory() {
        historyCount = 0; historyNext = 0; smoothed = false
    }

    private mutating func push(_ m: Double) {
        withUnsafeMutableBytes(of: &history) { $0.storeBytes(of: m, toByteOffset: historyNext * 8, as: Double.self) }
        historyNext = (historyNext + 1) % 5
        historyCount = min(5, historyCount + 1)
    }

    /// The median of what the history holds (no allocation: five values at most).
    private func median() -> Double {
        withUnsafeBytes(of: history) { raw in
            let n = historyCount
            for i in 0..<n {
                let v = raw.load(fromByteOffset: i * 8, as: Double.self)
                var below = 0, equal = 0
                for j in 0..<n {
                    let w = raw.load(fromByteOffset: j * 8, as: Double.self)
                    if w < v { below += 1 } else if w == v { equal += 1 }
                }
                if below <= n / 2 && n / 2 < below + equal { return v }
            }
            return raw.load(fromByteOffset: 0, as: Double.self)
        }
    }

    private mutating func note(_ v: Double) {
        if lowCount < 3 { lowCount += 1 } else if v >= lows.2 { return }
        // Insert into the ascending triple, dropping the largest.
        if lowCount == 1 || v < lows.0 { lows = (v, lows.0, lows.1) }
        else if lowCount == 2 || v < lows.1 { lows = (lows.0, v, lows.1) }
        else { lows.2 = v }
    }

    private mutating func shift(_ d: Double) -> Action {
        shifts += 1
        clearHistory()
        return .shift(d)
    }

    /// `level`: seconds ahead of the consumer at this event; `time`: seconds on any monotonic clock.
    public mutating func arrival(level: Double, time: Double) -> Action {
        if windowStart == nil { windowStart = time }
        count += 1
        // The first window judges by its second half: the first frames of a stream often come bunched (the
        // server was busy when the call started) and the position was anchored on them.
        if decided || count > firstWindow / 2 { note(level) }
        guard count >= (decided ? window : firstWindow) else { return .none }
        let m = decided ? lows.2 : lows.0
        let dt = max(0.001, time - (windowStart ?? time))
        count = 0
        lowCount = 0
        windowStart = time
        guard decided else {
            decided = true
            return shift(target - m)
        }
        push(m)
        guard let sp = setPoint else {
            guard historyCount >= 3 else { return .none }
            let med = median()
            clearHistory()
            if abs(med - target) <= snap / 2 {
                setPoint = med
                return .none
            }
            setPoint = target
            return shift(target - med)
        }
        let e0 = median() - sp
        if historyCount >= 3 && abs(e0) > snap && abs(m - sp) > snap {
            return shift(-e0)
        }
        if smoothed { error += Self.smoothing * (e0 - error) } else { error = e0; smoothed = true }
        let e = error
        if abs(e) < 0.002 {
            persistent = 0
            calm += dt
            if calm >= 20, bandwidth > minBandwidth { bandwidth = max(minBandwidth, bandwidth / 2); calm = 0 }
        } else if abs(e) > 0.006 {
            calm = 0
            persistent += 1
            if persistent >= 3 { bandwidth = min(maxBandwidth, bandwidth * 2); persistent = 0 }
        }
        // Critically damped: kp = 2ω, ki = ω².
        integral = min(Self.limit, max(-Self.limit, integral + bandwidth * bandwidth * e * dt))
        adjust = min(Self.limit, max(-Self.limit, 2 * bandwidth * e + integral))
        return .adjust(adjust)
    }
}
