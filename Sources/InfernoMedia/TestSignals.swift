import Glibc

/// Deterministic signals that are a function of absolute media time, so any recording can be checked sample by
/// sample without knowing when it started.
public enum TestPattern {
    /// The 24-bit value on TX channel `channel` (1-based) at media time `t` (samples):
    /// v_c(t) = (t × (2c − 1) + (c − 1) × 65536) mod 2²⁴, as a two's-complement 24-bit sample in the top 24 bits
    /// of the Int32 (low 8 bits zero).
    @inlinable @inline(__always)
    public static func sample(channel: Int, at t: UInt64) -> Int32 {
        let c = UInt64(channel)
        let v = (t &* (2 &* c &- 1) &+ (c &- 1) &* 65536) & 0xFF_FFFF
        return Int32(bitPattern: UInt32(truncatingIfNeeded: v) << 8)
    }

    /// Recovers t mod 2²⁴ from a channel-1 sample (v_1(t) = t mod 2²⁴).
    @inlinable
    public static func time24(fromChannel1 s: Int32) -> UInt64 { UInt64(UInt32(bitPattern: s) >> 8) }

    /// Given a channel-1 sample and a reference time near the true t (within ±2²³ samples, about 3 minutes at
    /// 48 kHz), the full media time t.
    @inlinable
    public static func time(fromChannel1 s: Int32, near reference: UInt64) -> UInt64 {
        let low = time24(fromChannel1: s)
        let d = Int64(bitPattern: (low &- reference) & 0xFF_FFFF)
        let delta = d >= 0x80_0000 ? d - 0x100_0000 : d
        return reference &+ UInt64(bitPattern: delta)
    }
}

/// A sine at `frequency` Hz and `amplitude` (0…1 of full scale) whose phase is a function of absolute media time
/// (channels are in phase; every device on one clock produces identical samples).
public struct ToneGenerator: Sendable {
    public let frequency: Double
    public let amplitude: Double
    public let sampleRate: UInt32
    /// Phase increment in millihertz units: phase(t) = ((t × mHz) mod (rate × 1000)) / (rate × 1000).
    @usableFromInline let milliHz: UInt64
    @usableFromInline let period: UInt64

    public init(frequency: Double, amplitude: Double = 0.1, sampleRate: UInt32) {
        self.frequency = frequency
        self.amplitude = amplitude
        self.sampleRate = sampleRate
        milliHz = UInt64(max(0, (frequency * 1000).rounded()))
        period = UInt64(sampleRate) * 1000
    }

    @inlinable
    public func sample(at t: UInt64) -> Int32 {
        let (hi, lo) = t.multipliedFullWidth(by: milliHz)
        let r = period.dividingFullWidth((hi % period, lo)).remainder
        let phase = Double(r) / Double(period)
        let v = sin(2 * Double.pi * phase) * amplitude * 2147483647.0
        return Int32(v.rounded())
    }
}
