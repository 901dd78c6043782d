import Testing
@testable import InfernoProtocol

@Suite struct USrvClockTests {
    static let overlay = ClockOverlay(clockID: 4, lastSync: 0x0102_0304_0506_0708, shift: -1, freqScale: 1e-6)
    /// Hand-computed little-endian layout of `overlay`.
    static let bytes = hexBytes("""
        56 43 01 00 00 00 01 00 04 00 00 00 00 00 00 00
        08 07 06 05 04 03 02 01 ff ff ff ff ff ff ff ff
        8d ed b5 a0 f7 c6 b0 3e
        """)

    @Test func encodesLittleEndian() throws {
        #expect(Self.overlay.encode() == Self.bytes)
        #expect(try ClockOverlay.decode(Self.bytes) == Self.overlay)
        let simple = ClockOverlay(clockID: 1, lastSync: 0, shift: 256, freqScale: -0.25, flags: 3, versionMinor: 2)
        #expect(simple.encode() == hexBytes("56 43 01 00 02 00 03 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 d0 bf"))
        #expect(try ClockOverlay.decode(simple.encode()) == simple)
        #expect(simple.isValid)
    }

    @Test func validation() {
        #expect(throws: WireError.badLength(declared: 40, actual: 39)) { try ClockOverlay.decode(Array(Self.bytes.prefix(39))) }
        #expect(throws: WireError.badLength(declared: 40, actual: 41)) { try ClockOverlay.decode(Self.bytes + [0]) }
        #expect(throws: WireError.badLength(declared: 40, actual: 0)) { try ClockOverlay.decode([]) }
        var magic = Self.bytes; magic[1] = 0x44
        #expect(throws: WireError.badMagic(expected: 0x5643, found: 0x5644)) { try ClockOverlay.decode(magic) }
        var v2 = Self.bytes; v2[2] = 2
        #expect(throws: WireError.unsupportedVersion(2)) { try ClockOverlay.decode(v2) }
        var invalid = Self.bytes; invalid[6] = 0x02
        #expect(throws: WireError.invalidValue(field: "flags", value: 2)) { try ClockOverlay.decode(invalid) }
        var nan = Self.overlay; nan.freqScale = .nan
        #expect(throws: WireError.invalidValue(field: "freq_scale", value: 0)) { try ClockOverlay.decode(nan.encode()) }
        var inf = Self.overlay; inf.freqScale = -.infinity
        #expect(throws: WireError.self) { try ClockOverlay.decode(inf.encode()) }
        var big = Self.overlay; big.freqScale = 2
        #expect(throws: WireError.invalidValue(field: "freq_scale", value: 2_000_000_000)) { try ClockOverlay.decode(big.encode()) }
    }

    @Test func overlayMath() {
        // shift only
        let s = ClockOverlay(clockID: 4, lastSync: 1_000, shift: 500, freqScale: 0)
        #expect(s.overlayTime(underlyingNs: 10_000) == 10_500)
        #expect(s.underlyingTime(forOverlayNs: 10_500) == 10_000)
        #expect(s.underlyingDuration(untilOverlayNs: 20_500, from: 10_000) == 10_000)
        #expect(s.underlyingDuration(untilOverlayNs: 500, from: 10_000) == -10_000)
        // +100 ppm: 1 s after last sync the overlay has gained 100 µs.
        let f = ClockOverlay(clockID: 4, lastSync: 5_000_000_000, shift: -5_000_000_000, freqScale: 1e-4)
        #expect(f.overlayTime(underlyingNs: 6_000_000_000) == 1_000_100_000)
        #expect(f.overlayTime(underlyingNs: 5_000_000_000) == 0)
        #expect(f.overlayTime(underlyingNs: 4_000_000_000) == -1_000_100_000)  // before last sync
        // Rounding to nearest: 0.5 ns rounds away from zero.
        let h = ClockOverlay(clockID: 0, lastSync: 0, shift: 0, freqScale: 0.5)
        #expect(h.overlayTime(underlyingNs: 3) == 5)  // 3 + round(1.5)
        #expect(h.overlayTime(underlyingNs: -3) == -5)
    }

    @Test func wrapAround() {
        // Wrapping i64 arithmetic as in usrvclock: no trap near the ends of the range.
        let w = ClockOverlay(clockID: 11, lastSync: .max - 10, shift: 100, freqScale: 0)
        #expect(w.overlayTime(underlyingNs: .max - 10) == Int64.min + 89)
        #expect(w.underlyingTime(forOverlayNs: Int64.min + 89) == .max - 10)
        let across = ClockOverlay(clockID: 11, lastSync: .max - 1_000, shift: 0, freqScale: 1e-3)
        // t wraps past Int64.max: elapsed = 2000 → +2 ns
        let t = Int64.max &+ 1_000
        #expect(across.overlayTime(underlyingNs: t) == t &+ 2)
        #expect(across.underlyingTime(forOverlayNs: t &+ 2) == t)
        // Extreme inputs never trap.
        let e = ClockOverlay(clockID: 0, lastSync: .min, shift: .max, freqScale: 0.999)
        _ = e.overlayTime(underlyingNs: .max)
        _ = e.underlyingTime(forOverlayNs: .min)
        _ = e.underlyingDuration(untilOverlayNs: .max, from: .min)
    }

    @Test func inverseIsExactWithinOneNanosecond() {
        // Exactly representable cases: f = ±1/1024, d a multiple of 1025 / 1023.
        let up = ClockOverlay(clockID: 4, lastSync: 7, shift: 3, freqScale: 1.0 / 1024)
        #expect(up.underlyingTime(forOverlayNs: 7 + 3 + 1025 * 1_000_000_007) == 7 + 1024 * 1_000_000_007)
        let down = ClockOverlay(clockID: 4, lastSync: 7, shift: 3, freqScale: -1.0 / 1024)
        #expect(down.underlyingTime(forOverlayNs: 7 + 3 + 1023 * 1_000_000_007) == 7 + 1024 * 1_000_000_007)

        // General case: t = underlyingTime(x) must satisfy |overlay_exact(t) − x| ≤ (1 + f) ns, i.e. t is within 1 ns
        // of the exact real solution. overlay_exact is evaluated with the integer part exact and only the
        // correction in floating point.
        var rng = SplitMix64(seed: 42)
        var worst = 0.0, inverseVsInferno = 0
        let scales: [Double] = [1e-3, -1e-3, 1e-6, -1e-6, 3.3e-7, -7.77e-5, 0, 9.99e-4, -9.99e-4]
        for f in scales {
            for _ in 0..<2000 {
                let lastSync = Int64(bitPattern: rng.next() % (1 << 62))
                let shift = Int64(bitPattern: rng.next()) >> 2
                let d = Int64(bitPattern: rng.next() % (1 << 50)) - (1 << 49)  // ±6.5 days around last sync
                let o = ClockOverlay(clockID: 4, lastSync: lastSync, shift: shift, freqScale: f)
                let x = lastSync &+ shift &+ d
                let t = o.underlyingTime(forOverlayNs: x)
                let e = t &- lastSync  // elapsed underlying time
                let residual = Double(e &- d) + Double(e) * f  // overlay_exact(t) − x
                worst = max(worst, abs(residual) / (1 + f))
                #expect(abs(residual) <= (1 + f) + 1e-6, "f=\(f) d=\(d)")
                // Inferno's (1 − f) factor is off by about d·f² (up to ~6 ns at these spans for 1e-3).
                let inferno = Int64((Double(d) * (1 - f)).rounded())
                if abs(inferno - e) > 1 { inverseVsInferno += 1 }
            }
        }
        #expect(worst <= 1.0)
        #expect(inverseVsInferno > 0)
        // And the round trip through overlayTime is within 1 ns.
        let o = ClockOverlay(clockID: 4, lastSync: 123_456_789, shift: -42, freqScale: 5e-4)
        for x: Int64 in [0, 1, 1_000_000_000, -1_000_000_000, 86_400_000_000_000, 1 << 52] {
            #expect(abs(o.overlayTime(underlyingNs: o.underlyingTime(forOverlayNs: x)) - x) <= 1)
        }
    }

    @Test func fuzzOverlay() {
        let seeds = [Self.bytes, ClockOverlay(clockID: 1, lastSync: 2, shift: 3, freqScale: -1e-5).encode()]
        let r = conmonFuzz(seeds: seeds, prefix: [0x56, 0x43], decode: ClockOverlay.decode, encode: { $0.encode() })
        #expect(r.accepted > 100); #expect(r.rejected > 1000); #expect(r.mismatches == 0)
    }
}
