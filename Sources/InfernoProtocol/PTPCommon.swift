/// What PTPv1 (IEEE 1588-2002, as Dante uses it) and PTPv2 (1588-2008, E2E over UDPv4) share: the transport
/// constants, timestamps, the version discriminator and the port states. Layouts: docs/ptp.md.

public enum PTP {
    /// Both versions use the same group and ports on UDPv4.
    public static let multicastGroup: (UInt8, UInt8, UInt8, UInt8) = (224, 0, 1, 129)
    public static let multicastGroupText = "224.0.1.129"
    /// Sync and Delay_Req.
    public static let eventPort: UInt16 = 319
    /// Follow_Up, Delay_Resp, Announce, Management.
    public static let generalPort: UInt16 = 320
    /// IP TOS for PTPv1 (DSCP CS7, as Dante sends it).
    public static let v1TOS: UInt8 = 0xE0
    /// IP TOS for PTPv2 (DSCP EF, as AES67 recommends).
    public static let v2TOS: UInt8 = 0xB8

    /// Which protocol a datagram speaks (Wireshark's rule): v1 when the u16 at 0 is 1, v2 when the low nibble of
    /// byte 1 is 2. nil for anything else (counted and dropped by the caller).
    public static func version(of bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        if bytes[0] == 0 && bytes[1] == 1 { return 1 }
        if bytes[1] & 0x0F == 2 { return 2 }
        return nil
    }
}

/// A PTP instant: seconds (48 bits in v2; 32 bits plus a 16-bit epoch in v1) and nanoseconds < 10⁹.
/// Internally every time in the PTP core is signed Int64 ns of the PTP timescale (good until 2262).
public struct PTPTimestamp: Equatable, Hashable, Sendable {
    public var seconds: UInt64
    public var nanoseconds: UInt32

    public init(seconds: UInt64, nanoseconds: UInt32) {
        self.seconds = seconds; self.nanoseconds = nanoseconds
    }

    /// From timescale ns; negative times (never valid on the wire) clamp to 0.
    public init(ns: Int64) {
        let v = max(0, ns)
        seconds = UInt64(v / 1_000_000_000); nanoseconds = UInt32(v % 1_000_000_000)
    }

    /// Timescale ns (saturating at Int64.max for seconds beyond 2262).
    public var ns: Int64 {
        guard seconds < 9_223_372_036 else { return .max }
        return Int64(seconds) * 1_000_000_000 + Int64(nanoseconds)
    }
}

/// Port states with the 1588-2008 numbers (what conmon 0x0020 reports).
public enum PTPPortState: UInt16, Sendable, CustomStringConvertible {
    case initializing = 1, faulty = 2, disabled = 3, listening = 4, preMaster = 5, master = 6, passive = 7,
         uncalibrated = 8, slave = 9

    public var description: String {
        switch self {
        case .initializing: return "initializing"
        case .faulty: return "faulty"
        case .disabled: return "disabled"
        case .listening: return "listening"
        case .preMaster: return "pre-leader"
        case .master: return "leader"
        case .passive: return "passive"
        case .uncalibrated: return "uncalibrated"
        case .slave: return "follower"
        }
    }
}

/// Newer-than in 16-bit sequence space: (a − b) mod 2¹⁶ in 1…2¹⁵−1.
@inlinable
public func ptpSequenceIsNewer(_ a: UInt16, than b: UInt16) -> Bool {
    let d = a &- b
    return d != 0 && d < 0x8000
}

extension WireReader {
    /// v1 time: u32 seconds, i32 nanoseconds (0 ≤ ns < 10⁹ for absolute times).
    mutating func ptpV1Time(field: String) throws(WireError) -> PTPTimestamp {
        let s = try u32()
        let n = try i32()
        guard n >= 0, n < 1_000_000_000 else { throw .invalidValue(field: field, value: Int(n)) }
        return PTPTimestamp(seconds: UInt64(s), nanoseconds: UInt32(n))
    }

    /// v2 time: u48 seconds, u32 nanoseconds < 10⁹.
    mutating func ptpV2Time(field: String) throws(WireError) -> PTPTimestamp {
        let hi = UInt64(try u16())
        let lo = UInt64(try u32())
        let n = try u32()
        guard n < 1_000_000_000 else { throw .invalidValue(field: field, value: Int(n)) }
        return PTPTimestamp(seconds: hi << 32 | lo, nanoseconds: n)
    }
}

extension WireWriter {
    mutating func ptpV1Time(_ t: PTPTimestamp) {
        u32(UInt32(truncatingIfNeeded: t.seconds)); u32(t.nanoseconds)
    }
    mutating func ptpV2Time(_ t: PTPTimestamp) {
        u16(UInt16(truncatingIfNeeded: t.seconds >> 32)); u32(UInt32(truncatingIfNeeded: t.seconds)); u32(t.nanoseconds)
    }
}
