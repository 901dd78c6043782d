import Foundation
import Testing
@testable import InfernoMedia

@Suite("Graph clock follower (PipeWire timing)")
struct GraphClockFollowerTests {
    static let base: UInt64 = 1_763_000_000 * 48_000    // a media time of today's order (≈ 8.5e13 samples)

    /// Media time `base + offset` as the follower takes it.
    static func media(_ offset: Double, generation: UInt32 = 1) -> (whole: UInt64, frac: Double, generation: UInt32) {
        let w = offset.rounded(.down)
        return (base &+ UInt64(bitPattern: Int64(w)), offset - w, generation)
    }

    /// Runs `seconds` of cycles of `n` graph samples whose media time advances by n·(device/graph)·(1+drift),
    /// with ±`jitter` samples of noise on each reading. Returns the follower and the placement errors.
    static func simulate(_ f: inout GraphClockFollower, seconds: Double, n: Int = 1024, graphRate: UInt32 = 48000,
                         deviceRate: UInt32 = 48000, driftPPM: Double, jitter: Double = 0.05,
                         start: Double = 0) -> (errors: [Double], modes: [GraphClockFollower.Mode], end: Double) {
        var rng = SystemRandomNumberGenerator()
        let step = Double(n) * Double(deviceRate) / Double(graphRate) * (1 + driftPPM * 1e-6)
        let cycles = Int(seconds * Double(graphRate) / Double(n))
        var t = start
        var errors: [Double] = [], modes: [GraphClockFollower.Mode] = []
        for _ in 0..<cycles {
            let noise = jitter == 0 ? 0 : Double.random(in: -jitter...jitter, using: &rng)
            let m = f.begin(samples: n, graphRate: graphRate, deviceRate: deviceRate, drivenPosition: nil,
                            media: media(t + noise))
            #expect(m != nil)
            if let m {
                // The true placement error: where the media clock is minus where the cycle was put.
                errors.append(t - (Double(Int64(bitPattern: m.start &- base)) + m.frac))
            }
            modes.append(f.mode)
            f.end(samples: n)
            t += step
        }
        return (errors, modes, t)
    }

    @Test func drivenCyclesUseTheDriverPositionExactly() {
        var f = GraphClockFollower()
        var p = Self.base
        for _ in 0..<100 {
            let m = f.begin(samples: 256, graphRate: 48000, deviceRate: 48000, drivenPosition: p, media: Self.media(0))
            #expect(m == .init(start: p, frac: 0, ratio: 1) && m!.exact)
            f.end(samples: 256)
            p += 256
        }
        #expect(f.mode == .driven && f.resyncs == 0)
        // The driver re-anchored (a clock step): counted, and followed.
        let m = f.begin(samples: 256, graphRate: 48000, deviceRate: 48000, drivenPosition: p + 48000, media: Self.media(0))
        #expect(m?.start == p + 48000 && f.resyncs == 1)
    }

    @Test func noMediaClockMeansNoMapping() {
        var f = GraphClockFollower()
        #expect(f.begin(samples: 256, graphRate: 48000, deviceRate: 48000, drivenPosition: nil, media: nil) == nil)
        #expect(f.mode == .unlocked)
    }

    @Test func sameRateClocksStayExactForAnHour() {
        // Another driver on the same crystal: jitter only. Every cycle lands on whole samples, ratio exactly 1,
        // so audio passes bit for bit; no correction ever engages.
        var f = GraphClockFollower()
        let r = Self.simulate(&f, seconds: 3600, driftPPM: 0, jitter: 0.3, start: 0.4)
        #expect(r.modes.allSatisfy { $0 == .exact })
        #expect(f.mapping.frac == 0 && f.mapping.ratio == 1 && f.resyncs == 0)
        #expect(r.errors.allSatisfy { abs($0) < 1 })
    }

    @Test(arguments: [50.0, -80.0, 300.0, -1000.0])
    func driftingDriverIsResampledAndTheMediaSideStaysLocked(ppm: Double) {
        var f = GraphClockFollower()
        let r = Self.simulate(&f, seconds: 120, driftPPM: ppm)
        #expect(f.mode == .resampling && f.resyncs == 0)
        // Never further off than the deadband plus one second of drift while the loop engages…
        #expect(r.errors.map(abs).max()! < 48 + max(8, abs(ppm) * 0.048))
        // …and locked to within a sample over the last 30 s, with the drift measured.
        let tail = r.errors.suffix(Int(30 * 48000 / 1024))
        #expect(tail.map(abs).max()! < 1, "max error \(tail.map(abs).max()!)")
        #expect(abs(f.driftPPM - ppm) < 2, "measured \(f.driftPPM) ppm for \(ppm)")
    }

    @Test func otherGraphRatesAreResampledFromTheStart() {
        var f = GraphClockFollower()
        let r = Self.simulate(&f, seconds: 60, graphRate: 44100, deviceRate: 48000, driftPPM: 20)
        #expect(r.modes.allSatisfy { $0 == .resampling })
        #expect(abs(f.mapping.ratio / (48000.0 / 44100.0) - 1 - 20e-6) < 3e-6)
        #expect(r.errors.suffix(500).map(abs).max()! < 1)
    }

    @Test func jumpsAndNewGenerationsReanchor() {
        var f = GraphClockFollower()
        var r = Self.simulate(&f, seconds: 2, driftPPM: 0)
        // The media clock steps by half a second: re-anchored there, not slewed.
        r = Self.simulate(&f, seconds: 2, driftPPM: 0, start: r.end + 24000)
        #expect(f.resyncs == 1 && r.errors.allSatisfy { abs($0) < 1 })
        // A new clock generation re-anchors even without a jump.
        _ = f.begin(samples: 1024, graphRate: 48000, deviceRate: 48000, drivenPosition: nil,
                    media: Self.media(r.end, generation: 2))
        #expect(f.resyncs == 2 && f.mode == .exact)
    }
}

@Suite("Graph ↔ ring sample paths")
struct GraphRingTests {
    static let base = GraphClockFollowerTests.base

    @Test func floatConversionIsBitExactFor24BitSamplesAndClips() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let s = Int32.random(in: .min ... .max, using: &rng) & ~0xFF
            #expect(FloatSamples.toInt32(FloatSamples.toFloat(s)) == s)
        }
        #expect(FloatSamples.toInt32(Float(1.0)) == .max && FloatSamples.toInt32(Float(-1.5)) == .min)
        #expect(FloatSamples.toInt32(Float.nan) == 0 && FloatSamples.toInt32(Float.infinity) == .max)
        #expect(FloatSamples.toInt32(Float(-1.0)) == .min)
    }

    @Test func exactMappingsCopyBothWays() {
        // Playback: graph cycles of 100 samples written at media time start + 300; read back unchanged.
        let ring = TimestampRingBuffer(channels: 2, capacity: 4096)
        let g = GraphToRing(channels: 2, maxFrames: 256)
        var inputs = [[Float]](repeating: [], count: 2)
        var start = Self.base
        for cycle in 0..<5 {
            for c in 0..<2 {
                inputs[c] = (0..<100).map { (j: Int) -> Float in
                    let v: Int32 = Int32((cycle * 100 + j) * (c + 1)) << 8
                    return FloatSamples.toFloat(v)
                }
            }
            let written = inputs[0].withUnsafeBufferPointer { i0 in
                inputs[1].withUnsafeBufferPointer { i1 in
                    g.write(count: 100, mapping: .init(start: start, frac: 0, ratio: 1), delay: 300, to: ring) {
                        $0 == 0 ? i0.baseAddress! : i1.baseAddress!
                    }
                }
            }
            #expect(written == 100)
            start += 100
        }
        var out = [Int32](repeating: 0, count: 1000)
        let present = out.withUnsafeMutableBufferPointer { ring.read(at: Self.base + 300, count: 500, into: $0.baseAddress!) }
        #expect(present == 500)
        let want: [Int32] = (0..<500).flatMap { (k: Int) -> [Int32] in [Int32(k) << 8, Int32(2 * k) << 8] }
        #expect(out == want)
        #expect(g.discontinuities == 0)

        // Capture: a mono ring read back 48 samples behind the mapping, bit for bit, holes as silence.
        let rx = TimestampRingBuffer(channels: 1, capacity: 4096)
        let src = (0..<400).map { Int32($0 * 3 - 600) << 8 }
        src.withUnsafeBufferPointer { rx.write(at: Self.base, count: 300, from: $0.baseAddress!) }
        let reader = RingToGraph(maxFrames: 512)
        var f = [Float](repeating: 1, count: 400)
        let got = f.withUnsafeMutableBufferPointer {
            reader.render(ring: rx, mapping: .init(start: Self.base + 48, frac: 0, ratio: 1), delay: 48, frames: 400,
                          into: $0.baseAddress!)
        }
        #expect(got == 300)
        #expect((0..<300).allSatisfy { FloatSamples.toInt32(f[$0]) == src[$0] } && f[300...].allSatisfy { $0 == 0 })
    }

    /// A sine at `hz` (device samples) in a mono ring; rendering with ratio r must give a sine at hz·r per graph
    /// sample, continuous across cycles (fractional positions carried over).
    @Test func fractionalReadsInterpolateContinuously() {
        let rx = TimestampRingBuffer(channels: 1, capacity: 1 << 16)
        let hz = 1000.0, rate = 48000.0
        let sine = (0..<40000).map { FloatSamples.toInt32(0.5 * sin(2 * .pi * hz * Double($0) / rate)) }
        sine.withUnsafeBufferPointer { rx.write(at: Self.base, count: sine.count, from: $0.baseAddress!) }
        let reader = RingToGraph(maxFrames: 512)
        var mapping = GraphClockFollower.Mapping(start: Self.base + 100, frac: 0.37, ratio: 1.000_5)
        var out: [Float] = []
        var buf = [Float](repeating: 0, count: 256)
        for _ in 0..<100 {
            buf.withUnsafeMutableBufferPointer { _ = reader.render(ring: rx, mapping: mapping, delay: 0, frames: 256, into: $0.baseAddress!) }
            out += buf
            let total = mapping.frac + 256 * mapping.ratio
            mapping.start += UInt64(total.rounded(.down))
            mapping.frac = total - total.rounded(.down)
        }
        var worst = 0.0
        for (j, v) in out.enumerated() {
            let pos = 100.37 + Double(j) * 1.000_5
            worst = max(worst, abs(Double(v) - 0.5 * sin(2 * .pi * hz * pos / rate)))
        }
        #expect(worst < 1e-4, "worst deviation \(worst)")   // < −80 dB at 1 kHz
    }

    /// Playback with a drifting graph: every media time is written exactly once (no gaps, no duplicates), and
    /// the written signal is the input sine stretched by the ratio.
    @Test func fractionalWritesCoverEveryMediaTimeOnce() {
        let ring = TimestampRingBuffer(channels: 1, capacity: 1 << 17)
        let g = GraphToRing(channels: 1, maxFrames: 512)
        let ratio = 0.999_7, hz = 1000.0, rate = 48000.0
        var mapping = GraphClockFollower.Mapping(start: Self.base, frac: 0.25, ratio: ratio)
        var j0 = 0
        var total = 0
        var input = [Float](repeating: 0, count: 480)
        for _ in 0..<200 {
            for j in 0..<480 { input[j] = Float(0.5 * sin(2 * .pi * hz * Double(j0 + j) / rate)) }
            total += input.withUnsafeBufferPointer { p in
                g.write(count: 480, mapping: mapping, delay: 1000, to: ring) { _ in p.baseAddress! }
            }
            j0 += 480
            let t = mapping.frac + 480 * ratio
            mapping.start += UInt64(t.rounded(.down))
            mapping.frac = t - t.rounded(.down)
        }
        let first = Self.base + 1001            // first whole media time at or after base + 1000.25
        #expect(g.next == first + UInt64(total) && g.discontinuities == 0)
        #expect((0..<UInt64(total)).allSatisfy { ring.contains(first + $0) })
        // Media time d holds the input at graph position (d − base − 1000 − 0.25)/ratio.
        var worst = 0.0, worstAt = 0
        var v: Int32 = 0
        for k in 2..<total {       // (the first samples interpolate against the silence before the input)
            ring.readChannel(0, at: first + UInt64(k), count: 1, into: &v)
            let pos = (Double(k + 1) - 0.25) / ratio
            let d = abs(Double(v) / 2_147_483_648 - 0.5 * sin(2 * .pi * hz * pos / rate))
            if d > worst { worst = d; worstAt = k }
        }
        #expect(worst < 1e-4, "worst deviation \(worst) at \(worstAt)")
    }
}
