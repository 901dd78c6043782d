import Glibc
import Testing
@testable import InfernoMedia

/// Least-squares fit of a·sin + b·cos + c at `hz` to `y` (sampled at `rate`): amplitude, phase and the RMS of
/// what is left (noise, distortion, aliases, images).
struct SineFit {
    var amplitude: Double
    var phase: Double
    var residualRMS: Double

    init(_ y: ArraySlice<Float>, hz: Double, rate: Double, startIndex: Int) {
        var m = [[Double]](repeating: [0, 0, 0], count: 3)
        var v = [0.0, 0.0, 0.0]
        var basis: [(Double, Double)] = []
        basis.reserveCapacity(y.count)
        for (k, s) in y.enumerated() {
            let t = 2 * Double.pi * hz * Double(startIndex + k) / rate
            let f = [sin(t), cos(t), 1.0]
            basis.append((f[0], f[1]))
            for i in 0..<3 { v[i] += f[i] * Double(s); for j in 0..<3 { m[i][j] += f[i] * f[j] } }
        }
        let x = Self.solve3(m, v)
        amplitude = (x[0] * x[0] + x[1] * x[1]).squareRoot()
        phase = atan2(x[1], x[0])
        var r = 0.0
        for (k, s) in y.enumerated() {
            let e = Double(s) - (x[0] * basis[k].0 + x[1] * basis[k].1 + x[2])
            r += e * e
        }
        residualRMS = (r / Double(max(1, y.count))).squareRoot()
    }

    static func solve3(_ a: [[Double]], _ b: [Double]) -> [Double] {
        var m = a, v = b
        for c in 0..<3 {
            var p = c
            for r in c..<3 where abs(m[r][c]) > abs(m[p][c]) { p = r }
            m.swapAt(c, p); v.swapAt(c, p)
            for r in 0..<3 where r != c {
                let f = m[r][c] / m[c][c]
                for k in 0..<3 { m[r][k] -= f * m[c][k] }
                v[r] -= f * v[c]
            }
        }
        return (0..<3).map { v[$0] / m[$0][$0] }
    }
}

func db(_ x: Double) -> Double { 20 * log10(max(x, 1e-20)) }

func tone(_ n: Int, hz: Double, rate: Double, amplitude: Double = 0.5) -> [Float] {
    (0..<n).map { Float(amplitude * sin(2 * Double.pi * hz * Double($0) / rate)) }
}

/// Runs `input` through a resampler in blocks of `block` samples (push mode) and returns every output.
func resample(_ r: Resampler, _ input: [Float], block: Int = 160) -> [Float] {
    var out: [Float] = []
    let cap = block * r.outputRate / r.inputRate + 64
    var buf = [Float](repeating: 0, count: cap)
    var i = 0
    while i < input.count {
        let n = min(block, input.count - i)
        let produced = input[i..<(i + n)].withUnsafeBufferPointer { ip in
            buf.withUnsafeMutableBufferPointer { r.process(ip.baseAddress!, count: n, into: $0.baseAddress!, capacity: cap) }
        }
        out += buf[0..<produced]
        i += n
    }
    return out
}

@Suite struct ResamplerTests {
    static let pairs = [(8000, 48000), (12000, 48000), (16000, 48000), (24000, 48000), (44100, 48000), (48000, 48000),
                        (48000, 8000), (48000, 16000), (48000, 44100), (96000, 48000), (192_000, 48000),
                        (8000, 44100), (44100, 16000), (16000, 8000)]

    @Test(arguments: pairs)
    func passbandToneIsExact(pair: (Int, Int)) {
        let (inRate, outRate) = pair
        let r = Resampler(inputRate: inRate, outputRate: outRate)
        // A tone at 80 % of the passband edge, and 1 kHz when that fits: gain, timing and purity.
        for hz in [min(1000.0, r.filter.passbandEdge * 0.5), r.filter.passbandEdge * 0.95] {
            r.reset()
            let input = tone(inRate / 2, hz: hz, rate: Double(inRate))   // 0.5 s
            let out = resample(r, input, block: inRate / 50)
            let expected = Int(Double(input.count) * Double(outRate) / Double(inRate))
            // Short by the look-ahead (half the filter, in output samples), no more.
            let lookahead = (r.filter.taps / 2 + 1) * outRate / inRate + 2
            #expect(abs(out.count - expected) <= lookahead, "output count \(out.count) vs \(expected)")
            // Skip the start (history of zeros) and fit the steady state.
            let skip = outRate / 20
            let fit = SineFit(out[skip..<(out.count - 1)], hz: hz, rate: Double(outRate), startIndex: skip)
            #expect(abs(db(fit.amplitude / 0.5)) < 0.02, "\(inRate)→\(outRate) \(hz) Hz gain \(db(fit.amplitude / 0.5)) dB")
            #expect(abs(fit.phase) < 2e-3, "\(inRate)→\(outRate) \(hz) Hz phase \(fit.phase) rad: output k ≠ input time k·in/out")
            #expect(db(fit.residualRMS / fit.amplitude) < -75, "\(inRate)→\(outRate) \(hz) Hz residual \(db(fit.residualRMS / fit.amplitude)) dB")
        }
    }

    @Test(arguments: [(48000, 8000), (48000, 16000), (44100, 8000), (192_000, 48000), (16000, 8000)])
    func aliasesAreRejected(pair: (Int, Int)) {
        let (inRate, outRate) = pair
        let r = Resampler(inputRate: inRate, outputRate: outRate)
        let nyq = Double(outRate) / 2
        // Tones just above, well above and far above the output Nyquist frequency: each would alias into the band.
        for hz in [nyq * 1.02, nyq * 1.25, nyq * 1.75, min(Double(inRate) / 2 * 0.9, nyq * 3.3)] {
            r.reset()
            let out = resample(r, tone(inRate / 2, hz: hz, rate: Double(inRate)), block: inRate / 50)
            let steady = out[(outRate / 20)...]
            let rms = (steady.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(steady.count)).squareRoot()
            #expect(db(rms / (0.5 / 2.0.squareRoot())) < -78, "\(inRate)→\(outRate): \(hz) Hz leaks at \(db(rms / 0.3536)) dB")
        }
    }

    @Test func imagesAreRejectedWhenUpsampling() {
        // 8 k → 48 k: a 3 kHz tone has images at 5, 11, 13 … kHz; after the fit, nothing of them may remain.
        let r = Resampler(inputRate: 8000, outputRate: 48000)
        let out = resample(r, tone(8000, hz: 3000, rate: 8000))
        let fit = SineFit(out[4800..<(out.count - 1)], hz: 3000, rate: 48000, startIndex: 4800)
        #expect(db(fit.residualRMS / fit.amplitude) < -75)
    }

    @Test func frequencyResponseEdges() {
        // Flat to the passband edge, down by the stopband attenuation from the output Nyquist frequency.
        let f = ResamplerFilter(inputRate: 48000, outputRate: 8000)
        #expect(f.passbandEdge == 3400)
        #expect(f.stopbandEdge == 4000)
        func response(_ hz: Double) -> Double {
            var re = 0.0, im = 0.0
            for j in 0..<f.taps {
                let x = Double(f.taps / 2 - 1 - j)
                re += Double(f.table[j]) * cos(2 * Double.pi * hz / 48000 * x)
                im += Double(f.table[j]) * sin(2 * Double.pi * hz / 48000 * x)
            }
            return db((re * re + im * im).squareRoot())
        }
        for hz in stride(from: 0.0, through: 3400, by: 100) { #expect(abs(response(hz)) < 0.01, "\(hz) Hz") }
        for hz in stride(from: 4000.0, through: 24000, by: 250) { #expect(response(hz) < -79, "\(hz) Hz: \(response(hz)) dB") }
    }

    @Test func pullModeGivesExactCounts() {
        // The outbound pacer's use: ask how much input 160 outputs need, give exactly that, get exactly 160.
        let r = Resampler(inputRate: 48000, outputRate: 8000)
        let input = tone(48000 * 2, hz: 700, rate: 48000)
        var pos = 0
        var out: [Float] = []
        var buf = [Float](repeating: 0, count: 400)
        for k in 0..<90 {
            r.setRatioAdjust(k % 3 == 0 ? 0.003 : -0.002)
            let need = r.inputNeeded(forOutputs: 160)
            let got = input[pos..<(pos + need)].withUnsafeBufferPointer { ip in
                buf.withUnsafeMutableBufferPointer { r.process(ip.baseAddress!, count: need, into: $0.baseAddress!, capacity: 160) }
            }
            #expect(got == 160)
            #expect(r.inputNeeded(forOutputs: 0) == 0)
            pos += need
            out += buf[0..<160]
        }
        #expect(out.count == 90 * 160)
    }

    @Test func ratioAdjustShiftsTheRate() {
        let r = Resampler(inputRate: 8000, outputRate: 48000)
        r.setRatioAdjust(0.001)                  // 0.1 % more input per output
        let input = tone(80000, hz: 1000, rate: 8000)
        let out = resample(r, input)
        let expected = 480000.0 / 1.001
        #expect(abs(Double(out.count) - expected) < Double(r.filter.taps * 6))
        // Pitch follows: 1 kHz in comes out at 1001 Hz.
        let fit = SineFit(out[48000..<96000], hz: 1001, rate: 48000, startIndex: 48000)
        #expect(abs(db(fit.amplitude / 0.5)) < 0.05)
        r.setRatioAdjust(1)                      // clamped
        #expect(r.ratioAdjust == 0.02)
        r.setRatioAdjust(.nan)
        #expect(r.ratioAdjust == 0)
    }

    @Test func overfullBufferDropsOldestInput() {
        let r = Resampler(inputRate: 8000, outputRate: 48000, maxInput: 1000)
        var out = [Float](repeating: 0, count: 10)
        let input = [Float](repeating: 0.25, count: 5000)
        let n = input.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { r.process(ip.baseAddress!, count: 5000, into: $0.baseAddress!, capacity: 10) }
        }
        #expect(n == 10)
        #expect(r.droppedInput > 0)
        #expect(r.pendingInput <= Double(r.bufferCapacity))
    }

    @Test func conversions() {
        let s16: [UInt8] = [0x00, 0x80, 0xFF, 0x7F, 0xFE, 0xFF, 0x00, 0x00]
        var f = [Float](repeating: 9, count: 4)
        s16.withUnsafeBytes { b in f.withUnsafeMutableBufferPointer { SampleFormat.floats(fromS16LE: b.baseAddress!, count: 4, into: $0.baseAddress!) } }
        #expect(f == [-1, Float(32767) / 32768, -2 / 32768, 0])
        var back = [Int16](repeating: 0, count: 6)
        let g: [Float] = f + [2, -3]
        g.withUnsafeBufferPointer { gp in back.withUnsafeMutableBufferPointer { SampleFormat.s16(from: gp.baseAddress!, count: 6, into: $0.baseAddress!) } }
        #expect(back == [-32768, 32767, -2, 0, 32767, -32768])
        var s32 = [Int32](repeating: 0, count: 6)
        g.withUnsafeBufferPointer { gp in s32.withUnsafeMutableBufferPointer { SampleFormat.s32(from: gp.baseAddress!, count: 6, into: $0.baseAddress!) } }
        #expect(s32 == [.min, 32767 << 16, -2 << 16, 0, .max, .min])
        var f2 = [Float](repeating: 0, count: 6)
        s32.withUnsafeBufferPointer { sp in f2.withUnsafeMutableBufferPointer { SampleFormat.floats(fromS32: sp.baseAddress!, count: 6, into: $0.baseAddress!) } }
        #expect(f2[0] == -1 && f2[3] == 0)
    }

    /// T-3/T-4 in miniature: a caller whose clock runs 0.1 % slow (and then fast) sends 20 ms frames with ±10 ms
    /// jitter; the inbound path resamples 8 k → 48 k and writes at a media-time position steered by the
    /// controller. The fill level must stay bounded (no underrun, no overrun) for ten simulated minutes each way.
    @Test(arguments: [0.001, -0.001])
    func driftIsAbsorbed(skew: Double) {
        let r = Resampler(inputRate: 8000, outputRate: 48000)
        var control = DriftController(target: 0.06)
        var rng = UInt64(0x9E37_79B9_7F4A_7C15)
        func jitter() -> Double {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            return (Double(rng % 20001) / 20000 - 0.5) * 0.02     // ±10 ms
        }
        let frame = [Float](repeating: 0.1, count: 160)
        var out = [Float](repeating: 0, count: 2000)
        var written = 0.0            // output samples written = media-time position relative to the start (48 kHz)
        let start = 0.06             // first frame written 60 ms ahead of the clock
        var minLevel = 1.0, maxLevel = -1.0
        var lastArrival = 0.0
        for k in 0..<(10 * 60 * 50) {
            let arrival = Double(k) * 0.02 * (1 + skew) + jitter()   // media-clock seconds
            let n = frame.withUnsafeBufferPointer { fp in
                out.withUnsafeMutableBufferPointer { r.process(fp.baseAddress!, count: 160, into: $0.baseAddress!, capacity: 2000) }
            }
            written += Double(n)
            let level = start + written / 48000 - max(arrival, lastArrival)
            lastArrival = max(arrival, lastArrival)
            r.setRatioAdjust(control.update(level: level, dt: 0.02))
            if k > 50 * 30 { minLevel = min(minLevel, level); maxLevel = max(maxLevel, level) }
        }
        #expect(minLevel > 0.03, "fill fell to \(minLevel) s")
        #expect(maxLevel < 0.10, "fill rose to \(maxLevel) s")
        #expect(abs(r.ratioAdjust + skew) < 0.0003, "adjust \(r.ratioAdjust) for skew \(skew)")
    }

    /// The inbound jitter buffer as the bridge runs it: frames of a caller whose clock is 0.1 % off, arriving with
    /// up to 15 ms of lateness, after a start where the first three frames came at once (the server was busy).
    /// The smallest fill of each window must settle near the target within a second and stay there; the ratio must
    /// end up compensating the skew (no lasting pitch error).
    @Test(arguments: [0.001, -0.001, 0.0])
    func fillControllerSettlesAfterABadStart(skew: Double) {
        var control = FillController(target: 0.06)
        var rng = UInt64(0x2545_F491_4F6C_DD1D)
        func lateness() -> Double {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            return Double(rng % 15001) / 1_000_000            // 0 … 15 ms late
        }
        var position: Double?          // seconds of media time written so far (write position)
        var adjust = 0.0
        var windowMins: [(Double, Double)] = []
        var currentMin = Double.infinity
        for k in 0..<(5 * 60 * 50) {
            var arrival = Double(k) * 0.02 * (1 + skew) + lateness()
            if k < 3 { arrival = 0.045 }                        // a late, bunched start
            guard let p = position else {
                position = arrival + 0.06 + 0.02 / (1 + adjust)
                continue
            }
            let level = p - arrival
            currentMin = min(currentMin, level)
            switch control.arrival(level: level, time: arrival) {
            case .none: break
            case .adjust(let a): adjust = a
            case .shift(let d): position = p + d
            }
            if k % 25 == 0 { windowMins.append((arrival, currentMin)); currentMin = .infinity }
            position! += 0.02 / (1 + adjust)                   // 20 ms of caller audio at the adjusted ratio
        }
        let settled = windowMins.filter { $0.0 > 1.0 }
        let worst = settled.map { abs($0.1 - 0.06) }.max() ?? 1
        // The PI loop's transient for a 0.1 % skew plus the lateness spread; without control the skew alone would move
        // it by 300 ms over these five minutes.
        #expect(worst < 0.012, "window minimum strays \(worst) s from the target")
        #expect(settled.allSatisfy { $0.1 > 0.04 }, "the buffer ran low")
        #expect(abs(adjust + skew) < 0.0003, "ratio \(adjust) for skew \(skew)")
    }
}
