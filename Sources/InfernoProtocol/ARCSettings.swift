/// ARC device settings: info-code tables of 0x1100 (query) and 0x1101 (set), dante-protocol.md §4.4.5.

/// Known info codes (§4.4.5). Codes with the high bit set carry a pointer to a u32 value.
public enum ARCInfoCode {
    public static let defaultLatency: UInt16 = 0x8204
    public static let latency: UInt16 = 0x8205
    public static let latencyRelated: UInt16 = 0x8301
    public static let maximumLatency: UInt16 = 0x8302
    public static let minimumLatency: UInt16 = 0x8306
    public static let sampleRate: UInt16 = 0x8020

    /// The 23-code list DC and netaudio (`command_query_latency_config`, protocol 0x2809) send.
    public static let standardQuery: [UInt16] = [
        0x0201, 0x8204, 0x8205, 0x0210, 0x0211, 0x8218, 0x8219, 0x8301, 0x8302, 0x8306, 0x0310, 0x0311,
        0x0303, 0x8021, 0x00f0, 0x8060, 0x0022, 0x0063, 0x0064, 0x0065, 0x0222, 0x0212, 0x8321,
    ]

    public static func pointsToValue(_ code: UInt16) -> Bool { code & 0x8000 != 0 }
}

/// One record of a 0x1100/0x1101 response table.
public enum ARCSetting: Equatable, Hashable, Sendable {
    /// A code without the high bit and its inline u16 value.
    case inline(code: UInt16, value: UInt16)
    /// A 0x8xxx code whose record holds a pointer to this u32.
    case pointer(code: UInt16, value: UInt32)
    /// `0x0000, code`: the device does not support `code`.
    case unsupported(code: UInt16)

    public var code: UInt16 {
        switch self {
        case let .inline(c, _), let .pointer(c, _), let .unsupported(c): c
        }
    }
}

/// 0x1100 / 0x1101 response body: body[0] = count requested, body[1] = record count, 4-byte records in request
/// order, then the u32 values the 0x8xxx records point at.
///
/// Captured oddity: an AVIO answered a 0x1101 with the record `0002 0211`, which decodes as `.inline(code: 2, ...)`.
public struct ARCSettingsTable: Equatable, Hashable, Sendable {
    public var requestedCount: UInt8
    public var records: [ARCSetting]

    public init(requestedCount: UInt8? = nil, records: [ARCSetting]) {
        self.requestedCount = requestedCount ?? UInt8(truncatingIfNeeded: records.count)
        self.records = records
    }

    /// The value of `code` (u16 values widened), or nil if absent or unsupported.
    public func value(of code: UInt16) -> UInt32? {
        for r in records {
            switch r {
            case let .inline(c, v) where c == code: return UInt32(v)
            case let .pointer(c, v) where c == code: return v
            default: continue
            }
        }
        return nil
    }

    func write(to w: inout WireWriter) {
        w.u8(requestedCount); w.u8(UInt8(truncatingIfNeeded: records.count))
        let valuesAt = w.count + 4 * records.count
        var values: [UInt32] = []
        for r in records {
            switch r {
            case let .inline(c, v): w.u16(c); w.u16(v)
            case let .pointer(c, v):
                w.u16(c); w.u16(UInt16(truncatingIfNeeded: valuesAt + 4 * values.count)); values.append(v)
            case let .unsupported(c): w.u16(0); w.u16(c)
            }
        }
        for v in values { w.u32(v) }
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCSettingsTable {
        let requested = try r.u8(), n = Int(try r.u8())
        try r.checkRecords(n, size: 4, field: "settings records")
        let tableEnd = r.offset + 4 * n
        var records: [ARCSetting] = []
        records.reserveCapacity(n)
        for _ in 0..<n {
            let code = try r.u16(), value = try r.u16()
            if code == 0 {
                records.append(.unsupported(code: value))
            } else if ARCInfoCode.pointsToValue(code) {
                guard Int(value) >= tableEnd, Int(value) + 4 <= r.end else {
                    throw .badPointer(field: "settings value of \(hex(code))", pointer: Int(value))
                }
                records.append(.pointer(code: code, value: try r.u32(at: Int(value))))
            } else {
                records.append(.inline(code: code, value: value))
            }
        }
        return ARCSettingsTable(requestedCount: requested, records: records)
    }
}

/// One slot of a 0x1101 request table: two u16 words, kept as sent.
public struct ARCInfoEntry: Equatable, Hashable, Sendable {
    public var code: UInt16
    /// A pointer (absolute) for 0x8xxx codes among the records, an inline value otherwise.
    public var value: UInt16
    public init(_ code: UInt16, _ value: UInt16) { self.code = code; self.value = value }
}

/// 0x1101 request body (§4.4.5): body[0] = number of table slots, body[1] = number of slots that are records
/// to set, the slots (4 bytes each), then the value area the 0x8xxx records point at.
///
/// Two real templates are accepted: Dante Controller's 40-byte one (`05 04`, u32 values) and netaudio's 39-byte
/// `command_set_latency` (`05 03`, 24-bit values at the pointers). The raw slots and value area are kept so the
/// captured bytes round-trip; `values` resolves them.
public struct ARCSettingsSet: Equatable, Hashable, Sendable {
    public var entries: [ARCInfoEntry]
    public var recordCount: UInt8
    public var valueArea: [UInt8]

    public init(entries: [ARCInfoEntry], recordCount: UInt8, valueArea: [UInt8]) {
        self.entries = entries
        self.recordCount = recordCount
        self.valueArea = valueArea
    }

    /// Dante Controller's latency template (40 bytes): 0x8205 and 0x8301 both set to `nanoseconds`.
    public static func latency(nanoseconds ns: UInt32) -> ARCSettingsSet {
        var v = WireWriter(); v.u32(ns); v.u32(ns)
        return ARCSettingsSet(entries: [ARCInfoEntry(0x8205, 0x0020), ARCInfoEntry(0x0211, 0x0004),
                                        ARCInfoEntry(0x8301, 0x0024), ARCInfoEntry(0x0310, 0x0004),
                                        ARCInfoEntry(0x8302, 0x8306)],
                              recordCount: 4, valueArea: v.bytes)
    }

    /// netaudio's 39-byte latency packet: the low 24 bits of ms × 1,000,000 twice, as netaudio writes them.
    public static func netaudioLatency(milliseconds ms: UInt32) -> ARCSettingsSet {
        let ns = ms &* 1_000_000
        let x = [UInt8((ns >> 16) & 0xff), UInt8((ns >> 8) & 0xff), UInt8(ns & 0xff)]
        return ARCSettingsSet(entries: [ARCInfoEntry(0x8205, 0x0020), ARCInfoEntry(0x0211, 0x0010),
                                        ARCInfoEntry(0x8301, 0x0024), ARCInfoEntry(0x8219, 0x8301),
                                        ARCInfoEntry(0x8302, 0x8306)],
                              recordCount: 3, valueArea: x + [0] + x)
    }

    /// Absolute offset of the value area.
    var valueAreaOffset: Int { PacketHeader.size + 2 + 4 * entries.count }

    /// netaudio's variant: 7 value bytes, so every value is 24 bits wide at its pointer.
    public var hasNetaudio24BitValues: Bool { valueArea.count == 7 }

    /// The records to set, with 0x8xxx values resolved through their pointers.
    public var values: [(code: UInt16, value: UInt32)] {
        entries.prefix(Int(recordCount)).map { e in
            guard ARCInfoCode.pointsToValue(e.code) else { return (e.code, UInt32(e.value)) }
            let i = Int(e.value) - valueAreaOffset
            let width = hasNetaudio24BitValues ? 3 : 4
            var v: UInt32 = 0
            if i >= 0, i + width <= valueArea.count {
                for k in 0..<width { v = v << 8 | UInt32(valueArea[i + k]) }
            }
            return (e.code, v)
        }
    }

    /// The requested latency (0x8205) in nanoseconds.
    public var latencyNanoseconds: UInt32? { values.first { $0.code == ARCInfoCode.latency }?.value }

    func write(to w: inout WireWriter) {
        w.u8(UInt8(truncatingIfNeeded: entries.count)); w.u8(recordCount)
        for e in entries { w.u16(e.code); w.u16(e.value) }
        w.append(valueArea)
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCSettingsSet {
        let n = Int(try r.u8()), records = try r.u8()
        guard Int(records) <= n else { throw .countTooLarge(field: "0x1101 records", count: Int(records), max: n) }
        try r.checkRecords(n, size: 4, field: "0x1101 table")
        var entries: [ARCInfoEntry] = []
        entries.reserveCapacity(n)
        for _ in 0..<n { entries.append(ARCInfoEntry(try r.u16(), try r.u16())) }
        let set = ARCSettingsSet(entries: entries, recordCount: records, valueArea: r.rest())
        let width = set.hasNetaudio24BitValues ? 3 : 4
        for e in entries.prefix(Int(records)) where ARCInfoCode.pointsToValue(e.code) {
            let i = Int(e.value) - set.valueAreaOffset
            guard i >= 0, i + width <= set.valueArea.count else {
                throw .badPointer(field: "0x1101 value of \(hex(e.code))", pointer: Int(e.value))
            }
        }
        return set
    }
}
