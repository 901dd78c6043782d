/// Media-clock arithmetic (dante-protocol.md §9.2, §14.3 items 21–22). Pure functions: the current time is
/// always a parameter. No allocation, no locks, no overflow traps.
///
/// * Media time T (samples) = ⌊ns × rate / 10⁹⌋ on the PTP epoch, computed with a 128-bit intermediate
///   (`multipliedFullWidth` / `dividingFullWidth`), exact for every UInt64 ns and UInt32 rate.
/// * Absolute sample indices are UInt64 and compared with wrapping arithmetic (`distance`, `isBefore`), so code
///   stays correct even across 2⁶⁴ (and never mixes in platform-width integers).
public enum MediaClock {
    public static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    /// Inferno's `CLOCK_OFFSET_NS`: its "now" runs 0.5 ms behind PTP (§9.2).
    public static let infernoClockOffsetNanoseconds: Int64 = -500_000

    /// ⌊ns × rate / 10⁹⌋. Exact; the result is reduced mod 2⁶⁴ only if it exceeds UInt64 (possible only for
    /// rates above 10⁹). Precondition: none (rate 0 gives 0).
    @inlinable
    public static func samples(atNanoseconds ns: UInt64, sampleRate: UInt32) -> UInt64 {
        let (hi, lo) = ns.multipliedFullWidth(by: UInt64(sampleRate))
        let r = hi % nanosecondsPerSecond      // keeps dividingFullWidth from overflowing
        return nanosecondsPerSecond.dividingFullWidth((r, lo)).quotient
    }

    /// ⌊T × 10⁹ / rate⌋: the media-clock instant (ns) at which sample T starts, reduced mod 2⁶⁴.
    /// Precondition: rate > 0.
    @inlinable
    public static func nanoseconds(atSample t: UInt64, sampleRate: UInt32) -> UInt64 {
        precondition(sampleRate > 0, "sample rate must be positive")
        let rate = UInt64(sampleRate)
        let (hi, lo) = t.multipliedFullWidth(by: nanosecondsPerSecond)
        return rate.dividingFullWidth((hi % rate, lo)).quotient
    }

    /// ⌈T × 10⁹ / rate⌉: the first ns for which `samples(atNanoseconds:)` ≥ T (when to send a packet stamped T),
    /// reduced mod 2⁶⁴. Precondition: rate > 0.
    @inlinable
    public static func nanosecondsCeiling(atSample t: UInt64, sampleRate: UInt32) -> UInt64 {
        precondition(sampleRate > 0, "sample rate must be positive")
        let rate = UInt64(sampleRate)
        let (hi, lo) = t.multipliedFullWidth(by: nanosecondsPerSecond)
        let (q, r) = rate.dividingFullWidth((hi % rate, lo))
        return r == 0 ? q : q &+ 1
    }

    /// Signed variant for overlay times (i64 ns): floor division, so negative instants round towards −∞.
    @inlinable
    public static func samples(atSignedNanoseconds ns: Int64, sampleRate: UInt32) -> Int64 {
        if ns >= 0 { return Int64(bitPattern: samples(atNanoseconds: UInt64(ns), sampleRate: sampleRate)) }
        let m = ns.magnitude
        let (hi, lo) = m.multipliedFullWidth(by: UInt64(sampleRate))
        let (q, r) = nanosecondsPerSecond.dividingFullWidth((hi % nanosecondsPerSecond, lo))
        let c = r == 0 ? q : q &+ 1
        return 0 &- Int64(bitPattern: c)
    }

    /// A latency or duration in ns → samples, floor (e.g. 10 ms at 48 kHz → 480).
    @inlinable
    public static func samples(forDuration ns: UInt64, sampleRate: UInt32) -> UInt64 {
        samples(atNanoseconds: ns, sampleRate: sampleRate)
    }

    // MARK: packet alignment

    /// The smallest multiple of `fpp` that is ≥ `t` (wraps to 0 past the top). Precondition: fpp > 0.
    @inlinable
    public static func alignUp(_ t: UInt64, to fpp: UInt64) -> UInt64 {
        precondition(fpp > 0)
        let r = t % fpp
        return r == 0 ? t : t &+ (fpp - r)
    }

    /// The largest multiple of `fpp` that is ≤ `t`. Precondition: fpp > 0.
    @inlinable
    public static func alignDown(_ t: UInt64, to fpp: UInt64) -> UInt64 {
        precondition(fpp > 0)
        return t - t % fpp
    }

    /// The first fpp-aligned packet timestamp strictly after `now` (how a transmitter bootstraps `next_ts`,
    /// §8.4: packet timestamps sit on fpp boundaries of the absolute media clock).
    @inlinable
    public static func nextPacketTimestamp(after now: UInt64, framesPerPacket fpp: UInt64) -> UInt64 {
        alignDown(now, to: fpp) &+ fpp
    }

    // MARK: wrapping-safe absolute sample indices

    /// b − a as a signed distance (positive if b is later), correct across 2⁶⁴ wrap for |b − a| < 2⁶³.
    @inlinable @inline(__always)
    public static func distance(from a: UInt64, to b: UInt64) -> Int64 { Int64(bitPattern: b &- a) }

    /// a + d with wrapping.
    @inlinable @inline(__always)
    public static func advance(_ a: UInt64, by d: Int64) -> UInt64 { a &+ UInt64(bitPattern: d) }

    /// True if `a` is strictly earlier than `b` in wrapping order.
    @inlinable @inline(__always)
    public static func isBefore(_ a: UInt64, _ b: UInt64) -> Bool { distance(from: a, to: b) > 0 }

    /// The slot of an absolute index in a power-of-two ring of `size` (mask, no division).
    @inlinable @inline(__always)
    public static func ringSlot(_ index: UInt64, size: Int) -> Int {
        Int(truncatingIfNeeded: index & UInt64(size &- 1))
    }

    // MARK: host time

    /// Host-clock duration for `mediaNanoseconds` of media time when the overlay runs at rate (1 + freqScale):
    /// d / (1 + f), the correct form of Inferno's (1 − f) approximation (§14.3 item 22). Saturates at Int64 range.
    @inlinable
    public static func hostDuration(mediaNanoseconds d: Int64, freqScale: Double) -> Int64 {
        let v = (Double(d) / (1 + freqScale)).rounded()
        if !(v == v) { return 0 }
        if v >= 9.2e18 { return .max }
        if v <= -9.2e18 { return .min }
        return Int64(v)
    }
}
