import Glibc

/// A band-limited rational resampler (mono, Float): a Kaiser-windowed sinc, evaluated as a polyphase filter bank
/// for the exact ratio outputRate/inputRate (reduced to L/M). Pass band to 0.45 × the lower of the two rates,
/// stop band about −80 dB. Outputs are time-aligned with the input (no group delay), at the cost of `lookaheadInputSamples` of lookahead.
///
/// No Foundation, no locks; all memory is allocated in `init` (`process` never allocates, as long as each call
/// gives at most `maxInputChunk` samples). One thread at a time.
public final class SincResampler {
    public let inputRate: Int
    public let outputRate: Int
    /// Reduced ratio: L output samples for every M input samples.
    public let up: Int, down: Int
    public let taps: Int
    public let maxInputChunk: Int
    /// Input samples the filter must see beyond an output's position before it can compute it (the output itself
    /// is aligned: output j is the input signal at time j × inputRate/outputRate).
    public var lookaheadInputSamples: Int { half }

    private let half: Int
    private let table: UnsafeMutablePointer<Float>    // up × taps
    private let buffer: UnsafeMutablePointer<Float>   // history + input
    private let bufferCapacity: Int
    private var filled: Int       // samples in buffer
    private var position: Int     // buffer index of the next output's base sample
    private var phase: Int        // 0..<up

    public init(inputRate: Int, outputRate: Int, zeroCrossings: Int = 16, maxInputChunk: Int = 8192) {
        precondition(inputRate > 0 && outputRate > 0 && maxInputChunk > 0)
        self.inputRate = inputRate
        self.outputRate = outputRate
        var a = inputRate, b = outputRate
        while b != 0 { (a, b) = (b, a % b) }
        up = outputRate / a
        down = inputRate / a
        self.maxInputChunk = maxInputChunk
        // Cutoff relative to the input Nyquist frequency; below 1 when decimating.
        let fc = min(1.0, Double(up) / Double(down)) * 0.9
        half = Int((Double(zeroCrossings) / fc).rounded(.up))
        taps = 2 * half
        table = .allocate(capacity: up * taps)
        let beta = 8.0
        let i0beta = Self.besselI0(beta)
        for p in 0..<up {
            let frac = Double(p) / Double(up)
            var sum = 0.0
            for i in 0..<taps {
                // Distance (input samples) from tap i to the output position.
                let t = frac + Double(half - 1 - i)
                let x = fc * t
                let sinc = abs(x) < 1e-12 ? 1.0 : sin(Double.pi * x) / (Double.pi * x)
                let r = t / Double(half)
                let w = abs(r) >= 1 ? 0 : Self.besselI0(beta * (1 - r * r).squareRoot()) / i0beta
                let v = fc * sinc * w
                table[p * taps + i] = Float(v)
                sum += v
            }
            // Unity DC gain for every phase.
            for i in 0..<taps { table[p * taps + i] = Float(Double(table[p * taps + i]) / sum) }
        }
        bufferCapacity = taps + maxInputChunk + 1
        buffer = .allocate(capacity: bufferCapacity)
        buffer.initialize(repeating: 0, count: bufferCapacity)
        // Start as if preceded by silence: the first output sits at input 0, which is buffer index taps - 1
        // after `taps - 1` zeros (its window spans half - 1 samples before and half after).
        filled = taps - 1
        position = half   // first tap of the first output: input index 1 - half, at buffer index taps - half
        phase = 0
    }

    deinit {
        table.deallocate()
        buffer.deallocate()
    }

    /// Output samples `count` input samples can produce at most.
    public func maxOutput(forInput count: Int) -> Int { (count * up + down - 1) / down + 1 }

    /// Resamples `count` (≤ `maxInputChunk`) samples; writes up to `maxOutput(forInput:)` samples to `output` and
    /// returns how many.
    @discardableResult
    public func process(_ input: UnsafePointer<Float>, count: Int, output: UnsafeMutablePointer<Float>) -> Int {
        precondition(count >= 0 && count <= maxInputChunk)
        (buffer + filled).update(from: input, count: count)
        filled += count
        var produced = 0
        // An output needs taps samples from `position`.
        while position + taps <= filled {
            let h = table + phase * taps
            let x = buffer + position
            var acc: Float = 0
            var i = 0
            while i < taps { acc += h[i] * x[i]; i += 1 }
            output[produced] = acc
            produced += 1
            phase += down
            position += phase / up
            phase %= up
        }
        // Keep what later outputs still need.
        let keep = filled - position
        if position > 0 {
            if keep > 0 { memmove(buffer, buffer + position, keep * MemoryLayout<Float>.stride) }
            filled = max(0, keep)
            position = 0
        }
        return produced
    }

    /// Forgets all history (the next input starts after silence).
    public func reset() {
        buffer.update(repeating: 0, count: bufferCapacity)
        filled = taps - 1
        position = half
        phase = 0
    }

    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0
        let q = x * x / 4
        for k in 1..<64 {
            term *= q / Double(k * k)
            sum += term
            if term < sum * 1e-17 { break }
        }
        return sum
    }
}
