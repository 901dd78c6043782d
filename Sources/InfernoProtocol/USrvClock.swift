/// The usrvclock overlay datagram (dante-protocol.md §9.1): 40 bytes pushed by the PTP daemon over a Unix datagram
/// socket, in the **host's** byte order. Every Linux target this project builds for (x86-64, ARM64) is
/// little-endian, so this codec reads and writes little-endian explicitly rather than depending on the build host.
///
/// ```
/// 0: "VC" | 2: major:u16 (1) | 4: minor:u16 | 6: flags:u16 (bit 0 = valid) | 8: clock_id:i64
/// 16: last_sync:i64 | 24: shift:i64 | 32: freq_scale:f64
/// ```
///
/// The math is pure: callers pass the underlying clock's reading (`clock_gettime(clockID)`) in.
public struct ClockOverlay: Equatable, Hashable, Sendable {
    public static let size = 40
    /// "VC" as the big-endian u16 0x5643 (used in `WireError.badMagic`).
    public static let magic: UInt16 = 0x5643
    public static let majorVersion: UInt16 = 1
    public static let validFlag: UInt16 = 0x0001

    public var versionMajor: UInt16
    public var versionMinor: UInt16
    public var flags: UInt16
    /// POSIX clock id of the underlying clock (0 REALTIME, 1 MONOTONIC, 4 MONOTONIC_RAW, 11 TAI, or a PHC id).
    public var clockID: Int64
    /// Underlying-clock time (ns) of the last servo update.
    public var lastSync: Int64
    /// ns added to the underlying clock.
    public var shift: Int64
    /// Fractional rate correction (+ = overlay runs faster).
    public var freqScale: Double

    public init(clockID: Int64, lastSync: Int64, shift: Int64, freqScale: Double, flags: UInt16 = ClockOverlay.validFlag,
                versionMajor: UInt16 = ClockOverlay.majorVersion, versionMinor: UInt16 = 0) {
        self.versionMajor = versionMajor
        self.versionMinor = versionMinor
        self.flags = flags
        self.clockID = clockID
        self.lastSync = lastSync
        self.shift = shift
        self.freqScale = freqScale
    }

    public var isValid: Bool { flags & ClockOverlay.validFlag != 0 }

    /// Decodes and validates: exactly 40 bytes (`.badLength`), magic "VC" (`.badMagic`), major version 1
    /// (`.unsupportedVersion`), valid flag set (`.invalidValue("flags")`), finite freq_scale with |f| < 1
    /// (`.invalidValue("freq_scale")`, value in ppb, saturated).
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> ClockOverlay {
        guard bytes.count == size else { throw .badLength(declared: size, actual: bytes.count) }
        let m = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard m == magic else { throw .badMagic(expected: UInt32(magic), found: UInt32(m)) }
        let major = UInt16(truncatingIfNeeded: le(bytes, 2, 2)), minor = UInt16(truncatingIfNeeded: le(bytes, 4, 2))
        let flags = UInt16(truncatingIfNeeded: le(bytes, 6, 2))
        guard major == majorVersion else { throw .unsupportedVersion(Int(major)) }
        guard flags & validFlag != 0 else { throw .invalidValue(field: "flags", value: Int(flags)) }
        let f = Double(bitPattern: le(bytes, 32, 8))
        guard f.isFinite, f.magnitude < 1 else {
            throw .invalidValue(field: "freq_scale", value: f.isNaN ? 0 : Int(saturating: f * 1e9))
        }
        return ClockOverlay(clockID: Int64(bitPattern: le(bytes, 8, 8)), lastSync: Int64(bitPattern: le(bytes, 16, 8)),
                            shift: Int64(bitPattern: le(bytes, 24, 8)), freqScale: f, flags: flags,
                            versionMajor: major, versionMinor: minor)
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = [0x56, 0x43]  // "VC"
        out.reserveCapacity(ClockOverlay.size)
        putLE(&out, UInt64(versionMajor), 2); putLE(&out, UInt64(versionMinor), 2); putLE(&out, UInt64(flags), 2)
        putLE(&out, UInt64(bitPattern: clockID), 8); putLE(&out, UInt64(bitPattern: lastSync), 8)
        putLE(&out, UInt64(bitPattern: shift), 8); putLE(&out, freqScale.bitPattern, 8)
        return out
    }

    // MARK: Math (ns, wrapping Int64 as usrvclock does)

    /// overlay(t) = t + shift + round((t − last_sync) × freq_scale).
    public func overlayTime(underlyingNs t: Int64) -> Int64 {
        let elapsed = t &- lastSync
        return t &+ shift &+ Int64(saturating: (Double(elapsed) * freqScale).rounded())
    }

    /// The underlying-clock time at which the overlay reads `x`: the inverse of `overlayTime`, using the exact
    /// factor 1/(1 + freq_scale) (Inferno uses the approximation 1 − freq_scale).
    ///
    /// t = last_sync + d / (1 + f) with d = x − shift − last_sync, computed as d − round(d·f/(1 + f)) so that the
    /// floating-point error applies only to the small correction term.
    public func underlyingTime(forOverlayNs x: Int64) -> Int64 {
        let d = x &- shift &- lastSync
        let correction = Int64(saturating: (Double(d) * (freqScale / (1 + freqScale))).rounded())
        return lastSync &+ d &- correction
    }

    /// How long (underlying-clock ns) from underlying time `now` until the overlay reads `x`; negative if past.
    public func underlyingDuration(untilOverlayNs x: Int64, from now: Int64) -> Int64 {
        underlyingTime(forOverlayNs: x) &- now
    }

    // MARK: Little-endian helpers

    private static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in stride(from: n - 1, through: 0, by: -1) { v = v << 8 | UInt64(b[at + k]) }
        return v
    }
    private func putLE(_ out: inout [UInt8], _ v: UInt64, _ n: Int) {
        for k in 0..<n { out.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * k))) }
    }
}

fileprivate extension Int64 {
    /// `Int64(d)` clamped to the representable range; NaN → 0. Never traps.
    init(saturating d: Double) {
        if d.isNaN { self = 0 } else if d >= 9.223372036854775807e18 { self = .max }
        else if d <= -9.223372036854775808e18 { self = .min } else { self = Int64(d) }
    }
}

fileprivate extension Int {
    init(saturating d: Double) { self = Int(Int64(saturating: d)) }
}
