/// Word-length reduction for transmit (dante-protocol.md §8.2, §14.3 item 23).
///
/// Policy (unlike Inferno, which always dithers 16/24-bit output):
/// * Dither is applied **only** when the target depth is smaller than the source's significant depth
///   (`sourceBits`, e.g. 24 for a 24-bit capture). Equal or greater depth is a bit-exact copy of the top bytes.
/// * Even then, a sample that is already representable at the target depth (its dropped bits are all zero,
///   e.g. digital silence or 16-bit-clean material) is passed through exactly, so such signals stay bit-perfect.
/// * `.tpdf` adds triangular dither plus half an LSB and truncates: `s' = s +sat (r1 − r2 + half)`, r1 and r2
///   uniform over the dropped width (Inferno's formula). Mean error is 2⁻ᵏ of an LSB (≈ 0), |error| < 1.5 LSB.
/// * `.none` truncates (takes the top bytes), the classic "bit-perfect transmitter" behaviour.
public enum DitherMode: Sendable, Hashable {
    case none
    case tpdf
}

/// A source of uniformly distributed 32-bit words for dither. Implementations must not allocate or lock.
public protocol DitherNoiseSource {
    mutating func nextUInt32() -> UInt32
}

/// xorshift64* (Vigna): fast, allocation-free, deterministic for tests. The top 32 bits of each output are used.
public struct XorShift64Star: DitherNoiseSource, Sendable {
    public var state: UInt64
    /// A zero seed is replaced by a fixed non-zero constant (xorshift must not start at 0).
    public init(seed: UInt64 = 0x9E37_79B9_7F4A_7C15) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    @inlinable @inline(__always)
    public mutating func nextUInt32() -> UInt32 { UInt32(truncatingIfNeeded: next() >> 32) }
}

public enum Requantize {
    /// Whether a reduction from `sourceBits` to `targetBits` is dithered under `mode`.
    @inlinable
    public static func dithers(mode: DitherMode, targetBits: Int, sourceBits: Int) -> Bool {
        mode == .tpdf && targetBits < 32 && targetBits < sourceBits
    }

    /// Keeps the top `bits` bits of a left-justified sample (plain truncation, rounds towards −∞).
    @inlinable @inline(__always)
    public static func truncate(_ s: Int32, bits: Int) -> Int32 {
        bits >= 32 ? s : s & ~Int32(bitPattern: (UInt32(1) << UInt32(32 - bits)) &- 1)
    }

    /// TPDF-dithered reduction to the top `bits` bits (1…31); samples already at that depth are returned as is.
    @inlinable @inline(__always)
    public static func tpdf<R: DitherNoiseSource>(_ s: Int32, bits: Int, rng: inout R) -> Int32 {
        if bits >= 32 { return s }
        let k = UInt32(32 - bits)
        let mask = Int32(bitPattern: (UInt32(1) << k) &- 1)
        if s & mask == 0 { return s }
        let r1 = Int64(rng.nextUInt32() >> (32 - k))
        let r2 = Int64(rng.nextUInt32() >> (32 - k))
        var v = Int64(s) + r1 - r2 + Int64(1) << Int64(k - 1)
        if v > Int64(Int32.max) { v = Int64(Int32.max) } else if v < Int64(Int32.min) { v = Int64(Int32.min) }
        return Int32(truncatingIfNeeded: v) & ~mask
    }
}
