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

    /// A caller's 20 ms frames as the bridge sees them: `skew` is how much slower the caller's clock runs than the
    /// consumer's, `lateness` the jitter model (frame index → seconds late). The fill controller runs as the bridge
    /// runs it (level = write position − arrival time), the write position moves by what the ratio gives. Returns
    /// the window minima (time, level) and the ratio adjustment after each frame (time, adjust).
    struct FillRun {
        var minima: [(Double, Double)] = []
        var adjusts: [(Double, Double)] = []
        var control = FillController(target: 0.06)

        init(seconds: Double, skew: Double, lateness: (Int) -> Double) {
            var position: Double?
            var adjust = 0.0
            var currentMin = Double.infinity
            for k in 0..<Int(seconds * 50) {
                let arrival = Double(k) * 0.02 * (1 + skew) + lateness(k)
                guard let p = position else { position = arrival + 0.06 + 0.02; continue }
                let level = p - arrival
                currentMin = min(currentMin, level)
                switch control.arrival(level: level, time: arrival) {
                case .none: break
                case .adjust(let a): adjust = a
                case .shift(let d): position = p + d
                }
                if k % 50 == 0 { minima.append((arrival, currentMin)); currentMin = .infinity }
                position! += 0.02 / (1 + adjust)
                adjusts.append((arrival, adjust))
            }
        }

        func meanAdjust(after t: Double) -> Double {
            let w = adjusts.filter { $0.0 > t }.map(\.1)
            return w.reduce(0, +) / Double(max(1, w.count))
        }
    }

    struct XorShift {
        var state: UInt64
        mutating func unit() -> Double {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Double(state % 1_000_001) / 1_000_000
        }
    }

    /// Jitter models: up to 15 ms late at random; mostly on time with a 30 ms stall every 7 s whose frames then
    /// come at once (a busy server); and exponential lateness (mean 2 ms, rare long tails) after a bunched start.
    static func lateness(_ model: String) -> (Int) -> Double {
        var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        switch model {
        case "uniform": return { _ in rng.unit() * 0.015 }
        case "bursty": return { k in
            let stall = k % 350 < 2 ? 0.03 - Double(k % 350) * 0.02 : 0
            return stall + rng.unit() * 0.004 }
        default: return { k in k < 3 ? 0.045 : min(0.04, -0.002 * log(max(1e-9, rng.unit()))) }
        }
    }

    /// Issue 19: two sides on one clock: whatever the jitter, the ratio converges to exactly 1: the loop's rate
    /// estimate within 1 ppm (2 ppm with exponential tails up to 40 ms), the mean ratio over the last two minutes
    /// within 2 ppm (4), never more than 15 ppm (30) off in the last minute; the fill stays at its set point and
    /// nothing but the start moves the write position.
    @Test(arguments: [("uniform", 1.0), ("bursty", 1.0), ("exponential", 2.0)])
    func fillControllerConvergesToUnityOnOneClock(model: String, tails: Double) {
        let run = FillRun(seconds: 600, skew: 0, lateness: Self.lateness(model))
        #expect(abs(run.control.integral) < tails * 1e-6, "rate estimate \(run.control.integral * 1e6) ppm")
        let mean = run.meanAdjust(after: 480)
        #expect(abs(mean) < tails * 2e-6, "mean ratio adjustment \(mean * 1e6) ppm")
        let worst = run.adjusts.filter { $0.0 > 540 }.map { abs($0.1) }.max() ?? 1
        #expect(worst < tails * 15e-6, "ratio adjustment up to \(worst * 1e6) ppm in the last minute")
        #expect(run.control.shifts <= 1, "\(run.control.shifts) shifts")
        #expect(run.control.bandwidth == run.control.minBandwidth)
        let settled = run.minima.filter { $0.0 > 4 }.map(\.1)
        #expect(settled.allSatisfy { $0 > 0.02 && $0 < 0.09 }, "fill from \(settled.min()!) to \(settled.max()!) s")
    }

    /// A caller whose clock is off by 0.01 % or 0.1 %: the integral learns the rate difference (no lasting pitch
    /// error), the fill never runs low, and the only shifts are the start's.
    @Test(arguments: [1e-4, -1e-4, 1e-3, -1e-3])
    func fillControllerFollowsDrift(skew: Double) {
        let run = FillRun(seconds: 600, skew: skew, lateness: Self.lateness("uniform"))
        let mean = run.meanAdjust(after: 480)
        #expect(abs(mean + skew) < 8e-6, "ratio \(mean) for skew \(skew)")
        #expect(abs(run.control.integral + skew) < 8e-6, "rate estimate \(run.control.integral) for skew \(skew)")
        #expect(run.control.shifts <= 1, "\(run.control.shifts) shifts")
        let settled = run.minima.filter { $0.0 > 4 }.map(\.1)
        #expect(settled.allSatisfy { $0 > 0.03 && $0 < 0.09 }, "fill from \(settled.min()!) to \(settled.max()!) s")
    }

    /// A late, bunched start (three frames at once, 45 ms late) is fixed by the first window; the set point is
    /// taken from the next three (within half the snap of the target) and the fill stays on it. A short call on
    /// one clock keeps its pitch: the mean ratio over seconds 1–5 within 20 ppm.
    @Test func fillControllerFixesABadStart() {
        let run = FillRun(seconds: 5, skew: 0, lateness: { k in k < 3 ? 0.045 : 0.001 * Double(k % 2) })
        #expect(run.control.setPoint.map { abs($0 - 0.06) < 0.0125 } == true)
        let settled = run.minima.filter { $0.0 > 0.5 }.map(\.1)
        #expect(settled.allSatisfy { abs($0 - 0.06) < 0.003 }, "\(settled)")
        #expect(abs(run.meanAdjust(after: 1)) < 20e-6)
        #expect(run.control.shifts == 1)
    }

    /// A stall without catch-up (the caller paused 40 ms and went on from where it was) is more than the snap
    /// away for good: the controller shifts once and the fill is back at the set point.
    @Test func fillControllerShiftsAfterAPersistentStep() {
        let run = FillRun(seconds: 30, skew: 0, lateness: { k in (k < 500 ? 0 : 0.04) + 0.0005 * Double(k % 3) })
        #expect(run.control.shifts == 2)
        let end = run.minima.filter { $0.0 > 20 }.map(\.1)
        #expect(end.allSatisfy { abs($0 - run.control.setPoint!) < 0.003 }, "\(end)")
    }

    /// Issue 19, the whole inbound path: a 997 Hz tone at −20 dBFS from an 8 kHz caller on the consumer's clock,
    /// arriving with up to 15 ms of jitter, through the real resampler (8 k → 48 k) steered by the fill
    /// controller, written at media-time positions. The last 10 s of the timeline hold 997 Hz ± 0.01 Hz at
    /// −20 dBFS ± 0.1 dB.
    @Test func toneThroughTheFillLoopKeepsPitchAndLevel() {
        let seconds = 60.0
        let r = Resampler(inputRate: 8000, outputRate: 48000, maxInput: 2048)
        var control = FillController(target: 0.06)
        var rng = XorShift(state: 0x2545_F491_4F6C_DD1D)
        var timeline = [Float](repeating: 0, count: Int((seconds + 1) * 48000))
        var frame = [Float](repeating: 0, count: 160)
        var out = [Float](repeating: 0, count: 2000)
        let amplitude = 0.1    // −20 dBFS peak
        var position: Double?  // write position, 48 kHz samples
        var inputIndex = 0
        for k in 0..<Int(seconds * 50) {
            for i in 0..<160 {
                frame[i] = Float(amplitude * sin(2 * Double.pi * 997 * Double(inputIndex + i) / 8000))
            }
            inputIndex += 160
            let arrival = Double(k) * 0.02 + rng.unit() * 0.015
            if let p = position {
                let level = (p / 48000 - arrival) + r.pendingInput / 8000
                switch control.arrival(level: level, time: arrival) {
                case .none: break
                case .adjust(let a): r.setRatioAdjust(a)
                case .shift(let d): position = p + d * 48000
                }
            } else {
                position = (arrival + 0.06) * 48000
            }
            let n = frame.withUnsafeBufferPointer { fp in
                out.withUnsafeMutableBufferPointer { r.process(fp.baseAddress!, count: 160, into: $0.baseAddress!, capacity: 2000) }
            }
            var p = Int(position!.rounded())
            for i in 0..<n where p + i >= 0 && p + i < timeline.count { timeline[p + i] = out[i] }
            p += n
            position = Double(p)
        }
        // Phase of 997 Hz in consecutive 1 s blocks of the last 10 s: its slope is the frequency error.
        let start = Int((seconds - 11) * 48000)
        var phases: [Double] = []
        var levels: [Double] = []
        for b in 0..<10 {
            let from = start + b * 48000
            let fit = SineFit(timeline[from..<(from + 48000)], hz: 997, rate: 48000, startIndex: from)
            phases.append(fit.phase)
            levels.append(20 * log10(fit.amplitude))
        }
        var turned = 0.0
        for b in 1..<phases.count {
            var d = phases[b] - phases[b - 1]
            while d > Double.pi { d -= 2 * Double.pi }
            while d < -Double.pi { d += 2 * Double.pi }
            turned += d
        }
        let hzError = abs(turned / (2 * Double.pi * Double(phases.count - 1)))
        #expect(hzError < 0.01, "997 Hz off by \(hzError) Hz")
        #expect(levels.allSatisfy { abs($0 + 20) < 0.1 }, "levels \(levels)")
    }
}
