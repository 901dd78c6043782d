import Testing
@testable import InfernoMedia

private let rates: [UInt32] = [1, 44_100, 48_000, 88_200, 96_000, 192_000, 384_000, 999_999_999, 1_000_000_000,
                               1_000_000_001, UInt32.max]
private let extremeNs: [UInt64] = [0, 1, 999_999_999, 1_000_000_000, 1_000_000_001, 1_700_000_000_000_000_000,
                                   1 << 63, (1 << 63) - 1, UInt64.max - 1, UInt64.max, UInt64.max / 48_000,
                                   UInt64.max / 1_000_000_000]

@Suite("Media clock math")
struct MediaClockTests {
    @Test func nanosecondsToSamplesIsExact() {
        var rng = XorShift64Star(seed: 11)
        let values = extremeNs + (0..<200).map { _ in rng.next() }
        for rate in rates {
            for ns in values {
                let exact = UInt128(ns) * UInt128(rate) / 1_000_000_000
                #expect(MediaClock.samples(atNanoseconds: ns, sampleRate: rate) == UInt64(truncatingIfNeeded: exact),
                        "ns \(ns) rate \(rate)")
            }
        }
        #expect(MediaClock.samples(atNanoseconds: 10_000_000, sampleRate: 48_000) == 480)
        #expect(MediaClock.samples(forDuration: 10_000_000, sampleRate: 44_100) == 441)
    }

    @Test func samplesToNanosecondsIsExact() {
        var rng = XorShift64Star(seed: 12)
        let values = extremeNs + (0..<200).map { _ in rng.next() }
        for rate in rates {
            for t in values {
                let num = UInt128(t) * 1_000_000_000
                let floor = num / UInt128(rate)
                let ceil = (num + UInt128(rate) - 1) / UInt128(rate)
                #expect(MediaClock.nanoseconds(atSample: t, sampleRate: rate) == UInt64(truncatingIfNeeded: floor))
                #expect(MediaClock.nanosecondsCeiling(atSample: t, sampleRate: rate) == UInt64(truncatingIfNeeded: ceil))
            }
        }
        // The ceiling instant is the first one that reaches the sample.
        for rate: UInt32 in [44_100, 48_000, 96_000] {
            for t: UInt64 in [1, 12_345, 1_700_000_000 * UInt64(rate) + 7] {
                let ns = MediaClock.nanosecondsCeiling(atSample: t, sampleRate: rate)
                #expect(MediaClock.samples(atNanoseconds: ns, sampleRate: rate) == t)
                #expect(MediaClock.samples(atNanoseconds: ns - 1, sampleRate: rate) == t - 1)
            }
        }
    }

    @Test func signedNanoseconds() {
        for rate: UInt32 in [44_100, 48_000] {
            for ns: Int64 in [0, 1, -1, -999_999_999, -1_000_000_000, Int64.min, Int64.max, -20_833, -20_834] {
                let num = Int128(ns) * Int128(rate)
                var q = num / 1_000_000_000
                if num % 1_000_000_000 != 0 && num < 0 { q -= 1 }
                #expect(MediaClock.samples(atSignedNanoseconds: ns, sampleRate: rate) == Int64(truncatingIfNeeded: q), "\(ns)")
            }
        }
    }

    @Test func packetAlignment() {
        #expect(MediaClock.alignUp(0, to: 32) == 0)
        #expect(MediaClock.alignUp(1, to: 32) == 32)
        #expect(MediaClock.alignUp(64, to: 32) == 64)
        #expect(MediaClock.alignDown(63, to: 32) == 32)
        #expect(MediaClock.nextPacketTimestamp(after: 64, framesPerPacket: 32) == 96)
        #expect(MediaClock.nextPacketTimestamp(after: 65, framesPerPacket: 32) == 96)
        let now: UInt64 = 1_700_000_000 * 48_000 + 12_345
        let next = MediaClock.nextPacketTimestamp(after: now, framesPerPacket: 16)
        #expect(next % 16 == 0 && next > now && next - now <= 16)
        #expect(MediaClock.nextPacketTimestamp(after: UInt64.max, framesPerPacket: 1) == 0)   // wraps, no trap
        #expect(MediaClock.alignUp(UInt64.max, to: 32) == 0)
    }

    @Test func wrappingIndexArithmetic() {
        let a = UInt64.max - 5
        let b = MediaClock.advance(a, by: 10)
        #expect(b == 4)
        #expect(MediaClock.distance(from: a, to: b) == 10)
        #expect(MediaClock.distance(from: b, to: a) == -10)
        #expect(MediaClock.isBefore(a, b) && !MediaClock.isBefore(b, a) && !MediaClock.isBefore(a, a))
        #expect(MediaClock.advance(3, by: -5) == UInt64.max - 1)
        #expect(MediaClock.ringSlot(UInt64.max, size: 524_288) == 524_287)
        #expect(MediaClock.ringSlot(524_288 + 7, size: 524_288) == 7)
    }

    @Test func hostDuration() {
        #expect(MediaClock.hostDuration(mediaNanoseconds: 1_000_000, freqScale: 0) == 1_000_000)
        // 100 ppm fast overlay: the host must wait slightly less, d / (1 + f).
        #expect(MediaClock.hostDuration(mediaNanoseconds: 1_000_000_000, freqScale: 1e-4) == 999_900_010)
        #expect(MediaClock.hostDuration(mediaNanoseconds: 1, freqScale: -1) == .max)
        #expect(MediaClock.hostDuration(mediaNanoseconds: 5, freqScale: .nan) == 0)
    }
}
