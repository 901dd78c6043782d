/// ARC subscription requests: 0x3010 (§4.4.12), 0x3014 (§4.4.13, see `ARCRequestBody.bulkUnsubscribe`)
/// and the 0x2809-generation 0x3410 (§4.4.14).

/// One record of a 0x3010 request: subscribe `rxChannel` to `txChannel@txDevice`; either one nil = unsubscribe.
public struct ARCSubscriptionRecord: Equatable, Hashable, Sendable {
    public var rxChannel: UInt16
    public var txChannel: String?
    public var txDevice: String?

    public init(rxChannel: UInt16, txChannel: String?, txDevice: String?) {
        self.rxChannel = rxChannel; self.txChannel = txChannel; self.txDevice = txDevice
    }

    public static func unsubscribe(_ rxChannel: UInt16) -> ARCSubscriptionRecord {
        ARCSubscriptionRecord(rxChannel: rxChannel, txChannel: nil, txDevice: nil)
    }

    /// Either pointer 0 means "remove the subscription" (Inferno, DC).
    public var isUnsubscribe: Bool { txChannel == nil || txDevice == nil }
}

/// 0x3010 request body (§4.4.12): marker, count, 6-byte records (rx, ptr tx channel, ptr tx device), padding,
/// strings.
///
/// The marker picks the layout, so captured requests re-encode byte for byte:
/// * 0x02 (netaudio): strings at 8 + max(44, 10 + 6(n − 1)); every string written, none shared.
/// * anything else (Dante Controller, 0x20): the marker is the record capacity; strings at 12 + capacity × 20;
///   identical strings share one pointer.
///
/// `trailing` keeps unreferenced bytes after the last string: DC appends the first TX channel name of its next
/// batch (a look-ahead, like LX-DANTE's 0x2000 pages), so its 32-record requests only round-trip with it.
public struct ARCSubscriptionRequest: Equatable, Hashable, Sendable {
    public static let netaudioMarker: UInt8 = 0x02
    public static let controllerMarker: UInt8 = 0x20

    public var marker: UInt8
    public var records: [ARCSubscriptionRecord]
    public var trailing: [UInt8]

    public init(records: [ARCSubscriptionRecord], marker: UInt8 = ARCSubscriptionRequest.netaudioMarker,
                trailing: [UInt8] = []) {
        self.marker = marker; self.records = records; self.trailing = trailing
    }

    /// Absolute offset where the string area starts for `n` records in this layout.
    static func stringsOffset(marker: UInt8, count n: Int) -> Int {
        let table = PacketHeader.size + 2
        let at = marker == netaudioMarker ? 8 + max(44, 10 + 6 * (n - 1)) : table + 20 * max(Int(marker), n)
        return max(at, table + 6 * n)
    }

    func write(to w: inout WireWriter) {
        let n = records.count
        w.u8(marker); w.u8(UInt8(truncatingIfNeeded: n))
        let table = w.count
        let netaudio = marker == Self.netaudioMarker
        w.pad(to: Self.stringsOffset(marker: marker, count: n))
        var strings = ARCStringArea(base: w.count, sharing: !netaudio)
        for (k, rec) in records.enumerated() {
            let at = table + 6 * k
            w.setU16(rec.rxChannel, at: at)
            w.setU16(strings.add(rec.txChannel), at: at + 2)
            w.setU16(strings.add(rec.txDevice), at: at + 4)
        }
        w.append(strings.bytes)
        w.append(trailing)
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCSubscriptionRequest {
        let marker = try r.u8(), n = Int(try r.u8())
        try r.checkRecords(n, size: 6, field: "0x3010 records")
        var records: [ARCSubscriptionRecord] = []
        records.reserveCapacity(n)
        var stringsEnd = stringsOffset(marker: marker, count: n)
        func string(_ p: UInt16, _ field: String) throws(WireError) -> String? {
            let s = try r.arcOptionalString(at: p, field: field)
            if let s { stringsEnd = max(stringsEnd, Int(p) + s.utf8.count + 1) }
            return s
        }
        for _ in 0..<n {
            let rx = try r.u16(), txc = try r.u16(), txd = try r.u16()
            records.append(ARCSubscriptionRecord(rxChannel: rx, txChannel: try string(txc, "0x3010 tx channel"),
                                                 txDevice: try string(txd, "0x3010 tx device")))
        }
        let trailing = stringsEnd < r.end ? try r.bytes(at: stringsEnd, count: r.end - stringsEnd) : []
        return ARCSubscriptionRequest(records: records, marker: marker, trailing: trailing)
    }
}

/// One record of a 0x3410 request.
public struct ARCSubscriptionModifyRecord: Equatable, Hashable, Sendable {
    public var rxChannel: UInt16
    /// 0x0003 in the captures. UNSURE.
    public var flags: UInt16
    public var txChannel: String?
    public var txDevice: String?

    public init(rxChannel: UInt16, txChannel: String?, txDevice: String?, flags: UInt16 = 0x0003) {
        self.rxChannel = rxChannel; self.flags = flags; self.txChannel = txChannel; self.txDevice = txDevice
    }

    /// Both pointers 0 = remove (§13.2 G).
    public var isRemove: Bool { txChannel == nil || txDevice == nil }
}

/// 0x3410 "subscription modify" request body, protocol 0x2809 (§4.4.14):
/// `00×6 08 00 | kind | count | (rx, flags, ptr tx channel, ptr tx device) × count | 00×8 | strings`.
///
/// Only single-record captures exist, so the multi-record layout (8-byte records back to back, then the 8 zero
/// bytes) is a guess.
public struct ARCSubscriptionModify: Equatable, Hashable, Sendable {
    /// Body bytes 0–7 (`00 00 00 00 00 00 08 00` in the captures). Meaning unknown.
    public var leading: UInt64
    /// 0x02 in the captures.
    public var kind: UInt8
    public var records: [ARCSubscriptionModifyRecord]

    public init(records: [ARCSubscriptionModifyRecord], kind: UInt8 = 2, leading: UInt64 = 0x0800) {
        self.leading = leading; self.kind = kind; self.records = records
    }

    func write(to w: inout WireWriter) {
        w.u64(leading); w.u8(kind); w.u8(UInt8(truncatingIfNeeded: records.count))
        let table = w.count
        w.zeros(8 * records.count + 8)
        var strings = ARCStringArea(base: w.count, sharing: false)
        for (k, rec) in records.enumerated() {
            let at = table + 8 * k
            w.setU16(rec.rxChannel, at: at); w.setU16(rec.flags, at: at + 2)
            w.setU16(strings.add(rec.txChannel), at: at + 4)
            w.setU16(strings.add(rec.txDevice), at: at + 6)
        }
        w.append(strings.bytes)
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCSubscriptionModify {
        let leading = try r.u64(), kind = try r.u8(), n = Int(try r.u8())
        try r.checkRecords(n, size: 8, field: "0x3410 records")
        var records: [ARCSubscriptionModifyRecord] = []
        records.reserveCapacity(n)
        for _ in 0..<n {
            let rx = try r.u16(), flags = try r.u16(), txc = try r.u16(), txd = try r.u16()
            records.append(ARCSubscriptionModifyRecord(
                rxChannel: rx,
                txChannel: try r.arcOptionalString(at: txc, field: "0x3410 tx channel"),
                txDevice: try r.arcOptionalString(at: txd, field: "0x3410 tx device"), flags: flags))
        }
        return ARCSubscriptionModify(records: records, kind: kind, leading: leading)
    }
}
