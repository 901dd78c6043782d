import Testing
import InfernoProtocol
@testable import InfernoMedia

private struct Rng {
    var s: UInt64
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Sample conversion and dither")
struct SampleConversionTests {
    @Test(arguments: PCMEncoding.allCases)
    func payloadRoundTripIsExact(_ enc: PCMEncoding) {
        var rng = Rng(s: UInt64(enc.bits))
        let channels = 5, frames = 37
        let payload = (0..<(channels * frames * enc.bytesPerSample)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let planar = SampleConversion.deinterleave(payload, encoding: enc, channels: channels)
        #expect(planar.count == channels && planar.allSatisfy { $0.count == frames })
        // Low bits below the depth are zero (left-justified).
        let mask = Int32(bitPattern: (UInt32(1) << UInt32(32 - enc.bits)) &- 1)
        #expect(planar.allSatisfy { $0.allSatisfy { $0 & mask == 0 } })
        #expect(SampleConversion.interleave(planar, encoding: enc) == payload)
        // Dither requested but the source is no deeper than the target: still exact.
        var d = XorShift64Star(seed: 1)
        #expect(SampleConversion.interleave(planar, encoding: enc, sourceBits: enc.bits, dither: .tpdf, rng: &d) == payload)
        #expect(SampleConversion.interleave(planar, encoding: enc, sourceBits: 32, dither: .tpdf, rng: &d) == payload)
    }

    @Test func stridedAndPlanarAgree() {
        let enc = PCMEncoding.int24, channels = 3, frames = 16
        var rng = Rng(s: 9)
        let payload = (0..<(channels * frames * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var planar = [Int32](repeating: 0, count: channels * frames)
        var interleaved = [Int32](repeating: 0, count: channels * frames)
        payload.withUnsafeBytes { raw in
            planar.withUnsafeMutableBufferPointer { p in
                SampleConversion.deinterleave(from: raw, encoding: enc, channels: channels, frames: frames, toPlanar: p)
            }
            interleaved.withUnsafeMutableBufferPointer { p in
                for slot in 0..<channels {
                    SampleConversion.deinterleave(from: raw, encoding: enc, channels: channels, frames: frames, slot: slot,
                                                  to: p.baseAddress! + slot, stride: channels)
                }
            }
        }
        for f in 0..<frames { for c in 0..<channels { #expect(planar[c * frames + f] == interleaved[f * channels + c]) } }
        // Strided source back into a payload; zeroSlot clears one slot only.
        var out = [UInt8](repeating: 0xAA, count: payload.count)
        out.withUnsafeMutableBytes { raw in
            interleaved.withUnsafeBufferPointer { s in
                for slot in 0..<channels {
                    SampleConversion.interleave(from: s.baseAddress! + slot, stride: channels, frames: frames, slot: slot,
                                                channels: channels, encoding: enc, to: raw)
                }
            }
        }
        #expect(out == payload)
        out.withUnsafeMutableBytes { SampleConversion.zeroSlot(1, channels: channels, frames: frames, encoding: enc, in: $0) }
        for f in 0..<frames {
            #expect(out[(f * channels + 1) * 3..<(f * channels + 2) * 3].allSatisfy { $0 == 0 })
            #expect(out[(f * channels) * 3..<(f * channels + 1) * 3] == payload[(f * channels) * 3..<(f * channels + 1) * 3])
        }
    }

    @Test func ditherPolicy() {
        #expect(!Requantize.dithers(mode: .tpdf, targetBits: 32, sourceBits: 32))
        #expect(!Requantize.dithers(mode: .tpdf, targetBits: 24, sourceBits: 24))
        #expect(!Requantize.dithers(mode: .tpdf, targetBits: 24, sourceBits: 16))
        #expect(!Requantize.dithers(mode: .none, targetBits: 16, sourceBits: 24))
        #expect(Requantize.dithers(mode: .tpdf, targetBits: 16, sourceBits: 24))
        #expect(Requantize.dithers(mode: .tpdf, targetBits: 24, sourceBits: 32))
        // 16-bit-clean samples are never altered, even when dithering to 16 bits.
        var rng = XorShift64Star(seed: 3)
        for v in [Int32.min, Int32.max & ~0xFFFF, 0, 1 << 16, -(1 << 16)] {
            #expect(Requantize.tpdf(v, bits: 16, rng: &rng) == v)
        }
        // Digital silence stays silent.
        let silence = [[Int32]](repeating: [Int32](repeating: 0, count: 64), count: 2)
        #expect(SampleConversion.interleave(silence, encoding: .int16, sourceBits: 24, dither: .tpdf, rng: &rng)
                    .allSatisfy { $0 == 0 })
    }

    @Test(arguments: [16, 24])
    func ditherStatistics(_ bits: Int) {
        let enc = PCMEncoding(bits: bits)!
        let k = 32 - bits
        let lsb = Double(1 << k)
        var src = Rng(s: 77)
        let n = 200_000
        // Source samples with random low bits (a 24-bit-or-deeper signal), away from full scale.
        let samples = (0..<n).map { _ in Int32(truncatingIfNeeded: src.next() >> 32) >> 1 | 1 }
        var rng = XorShift64Star(seed: 12345)
        let dithered = SampleConversion.interleave([samples], encoding: enc, sourceBits: 32, dither: .tpdf, rng: &rng)
        let truncated = SampleConversion.interleave([samples], encoding: enc)
        let outD = SampleConversion.deinterleave(dithered, encoding: enc, channels: 1)[0]
        let outT = SampleConversion.deinterleave(truncated, encoding: enc, channels: 1)[0]
        var sumD = 0.0, sumT = 0.0, differ = 0, maxAbs = 0.0
        for i in 0..<n {
            let eD = Double(Int64(outD[i]) - Int64(samples[i])) / lsb
            let eT = Double(Int64(outT[i]) - Int64(samples[i])) / lsb
            sumD += eD; sumT += eT
            maxAbs = max(maxAbs, abs(eD))
            if outD[i] != outT[i] { differ += 1 }
            #expect(eT <= 0 && eT > -1)   // truncation floors
        }
        #expect(maxAbs < 1.5)                       // within ±1 LSB plus the rounding half LSB
        #expect(abs(sumD / Double(n)) < 0.01)       // unbiased
        #expect(abs(sumT / Double(n) + 0.5) < 0.01) // truncation is biased by −½ LSB
        #expect(differ > n / 3)                     // dither changes many samples
        // TPDF error variance is 1/12 (rounding) + 1/6 (triangular) = 1/4 LSB².
        var rng2 = XorShift64Star(seed: 99)
        let x = Int32(0x0123_4567) | 1
        var sq = 0.0, distinct = Set<Int32>()
        for _ in 0..<20_000 {
            let y = Requantize.tpdf(x, bits: bits, rng: &rng2)
            distinct.insert(y)
            let e = Double(Int64(y) - Int64(x)) / lsb
            sq += e * e
        }
        #expect(distinct.count >= 2)
        #expect(abs(sq / 20_000 - 0.25) < 0.1)
    }

    @Test func ditherSaturatesAtFullScale() {
        var rng = XorShift64Star(seed: 5)
        for _ in 0..<1000 {
            #expect(Requantize.tpdf(Int32.max, bits: 16, rng: &rng) == Int32.max & ~0xFFFF)
            let lo = Requantize.tpdf(Int32.min + 1, bits: 24, rng: &rng)
            #expect(lo == Int32.min || lo == Int32.min + 256)
        }
        #expect(Requantize.truncate(-1, bits: 16) == -65536 && Requantize.truncate(-1, bits: 32) == -1)
        var z = XorShift64Star(seed: 0)
        #expect(z.next() != 0)
    }
}
