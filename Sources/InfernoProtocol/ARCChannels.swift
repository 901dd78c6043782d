/// ARC channel lists and renames: 0x2000 (§4.4.6), 0x2010 (§4.4.7), 0x2013 (§4.4.8), 0x3000 (§4.4.10),
/// 0x3001 (§4.4.11), and the 16-byte format descriptor (§4.3).

/// The 16-byte format descriptor TX and RX records point at (§4.3). Only the sample rate is understood.
public struct ARCFormatDescriptor: Equatable, Hashable, Sendable {
    public static let size = 16

    public var sampleRate: UInt32
    /// Bytes 4–5: 0x0101 on most devices (0x0202 on an AD4D group). UNSURE.
    public var field4: UInt16
    /// Byte 6: 0x0018 (24, bit depth?).
    public var field6: UInt16
    /// Byte 8: 0x0400. UNSURE.
    public var field8: UInt16
    public var field10: UInt16
    public var field12: UInt16
    /// Byte 14: supported encodings bitmask [GUESS] (0x0e = 16/24/32 bit, 0x04 = 24 only); matches `pcm=` in TXT.
    public var pcmType: UInt16

    public init(sampleRate: UInt32, pcmType: UInt16 = 0x000e, field4: UInt16 = 0x0101, field6: UInt16 = 0x0018,
                field8: UInt16 = 0x0400, field10: UInt16 = 0x0018, field12: UInt16 = 0x0018) {
        self.sampleRate = sampleRate
        self.field4 = field4; self.field6 = field6; self.field8 = field8
        self.field10 = field10; self.field12 = field12
        self.pcmType = pcmType
    }

    func write(to w: inout WireWriter) {
        w.u32(sampleRate); w.u16(field4); w.u16(field6); w.u16(field8); w.u16(field10); w.u16(field12); w.u16(pcmType)
    }

    /// Reads the descriptor at absolute `pointer`; 0 means none.
    static func read(_ r: WireReader, at pointer: UInt16, field: String) throws(WireError) -> ARCFormatDescriptor? {
        if pointer == 0 { return nil }
        let p = Int(pointer)
        guard p >= ARCLimits.minPointer, p + size <= r.end else { throw .badPointer(field: field, pointer: p) }
        return ARCFormatDescriptor(sampleRate: try r.u32(at: p), pcmType: try r.u16(at: p + 14),
                                   field4: try r.u16(at: p + 4), field6: try r.u16(at: p + 6),
                                   field8: try r.u16(at: p + 8), field10: try r.u16(at: p + 10),
                                   field12: try r.u16(at: p + 12))
    }
}

/// Writes each distinct descriptor once, in order of first use, and returns the pointer for each input.
private func writeDescriptors(_ formats: [ARCFormatDescriptor?], to w: inout WireWriter) -> [UInt16] {
    var written: [(ARCFormatDescriptor, UInt16)] = []
    return formats.map { f in
        guard let f else { return 0 }
        if let hit = written.first(where: { $0.0 == f }) { return hit.1 }
        let p = UInt16(truncatingIfNeeded: w.count)
        f.write(to: &w)
        written.append((f, p))
        return p
    }
}

// MARK: - Paging

/// Page selection for list responses (§3.5, §14.1 item 2): 32 per TX page, 16 per RX page,
/// status 0x8112 while more records follow.
///
/// body[0] is the number of records in this page. Real devices' captures cannot tell that apart from
/// min(page size, total) (their pages are full, or hold every channel), but netaudio 0.4.2 rejects a partial
/// last page whose body[0] exceeds its record count, so the record count is the compatible choice.
public enum ARCPaging {
    /// The page of `numbers` (ascending 1-based channel numbers) that starts at channel `start`.
    /// Start 0 is treated as 1; a start beyond the last channel gives an empty, final page.
    public static func page(numbers: [UInt16], start: UInt16, pageSize: Int)
        -> (range: Range<Int>, capacity: UInt8, status: ResultCode) {
        let first = max(start, 1)
        let lower = numbers.firstIndex { $0 >= first } ?? numbers.count
        let upper = min(numbers.count, lower + pageSize)
        let capacity = UInt8(clamping: upper - lower)
        return (lower..<upper, capacity, upper < numbers.count ? .morePages : .success)
    }
}

// MARK: - 0x2000 TX channels

/// One record of a 0x2000 response.
public struct ARCTxChannel: Equatable, Hashable, Sendable {
    public var number: UInt16
    /// 0x0007 (Inferno, AVIO) or 0x0107 (LX-DANTE, AD4D). UNSURE.
    public var flags: UInt16
    public var format: ARCFormatDescriptor?
    /// The factory channel name.
    public var name: String

    public init(number: UInt16, name: String, format: ARCFormatDescriptor?, flags: UInt16 = 0x0007) {
        self.number = number; self.flags = flags; self.format = format; self.name = name
    }
}

/// 0x2000 response body: capacity, count, 8-byte records, descriptors, names.
public struct ARCTxChannelPage: Equatable, Hashable, Sendable {
    public var capacity: UInt8
    public var channels: [ARCTxChannel]

    public init(capacity: UInt8, channels: [ARCTxChannel]) { self.capacity = capacity; self.channels = channels }

    /// Page starting at channel `start` of `all` (ascending by number), 32 per page, with the status to send.
    public static func page(of all: [ARCTxChannel], start: UInt16) -> (page: ARCTxChannelPage, status: ResultCode) {
        let p = ARCPaging.page(numbers: all.map(\.number), start: start, pageSize: ARCLimits.txPageSize)
        return (ARCTxChannelPage(capacity: p.capacity, channels: Array(all[p.range])), p.status)
    }

    func write(to w: inout WireWriter) {
        w.u8(capacity); w.u8(UInt8(truncatingIfNeeded: channels.count))
        let table = w.count
        w.zeros(8 * channels.count)
        let formats = writeDescriptors(channels.map(\.format), to: &w)
        var strings = ARCStringArea(base: w.count, sharing: false)
        for (k, c) in channels.enumerated() {
            let at = table + 8 * k
            w.setU16(c.number, at: at); w.setU16(c.flags, at: at + 2)
            w.setU16(formats[k], at: at + 4); w.setU16(strings.add(c.name), at: at + 6)
        }
        w.append(strings.bytes)
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCTxChannelPage {
        let capacity = try r.u8(), n = Int(try r.u8())
        try r.checkRecords(n, size: 8, field: "0x2000 records")
        var channels: [ARCTxChannel] = []
        channels.reserveCapacity(n)
        for _ in 0..<n {
            let number = try r.u16(), flags = try r.u16(), fmt = try r.u16(), name = try r.u16()
            channels.append(ARCTxChannel(
                number: number, name: try r.arcString(at: Int(name), field: "0x2000 channel name"),
                format: try ARCFormatDescriptor.read(r, at: fmt, field: "0x2000 descriptor"), flags: flags))
        }
        return ARCTxChannelPage(capacity: capacity, channels: channels)
    }
}

// MARK: - 0x2010 TX friendly names

/// One record of a 0x2010 response.
public struct ARCTxChannelName: Equatable, Hashable, Sendable {
    /// Entry index (real devices: 1..N; Inferno: the channel number).
    public var index: UInt16
    /// The TX channel number (what netaudio reads).
    public var channel: UInt16
    public var name: String

    public init(index: UInt16, channel: UInt16, name: String) {
        self.index = index; self.channel = channel; self.name = name
    }
}

/// 0x2010 response body: capacity, count, 6-byte records, zero padding up to 8 × capacity bytes
/// (as real devices reserve), then the names.
public struct ARCTxChannelNamePage: Equatable, Hashable, Sendable {
    public var capacity: UInt8
    public var entries: [ARCTxChannelName]

    public init(capacity: UInt8, entries: [ARCTxChannelName]) { self.capacity = capacity; self.entries = entries }

    /// Page starting at channel `start` of `names` (channel, friendly name; ascending), 32 per page.
    /// Entries are indexed 1..N across the whole list.
    public static func page(of names: [(channel: UInt16, name: String)], start: UInt16)
        -> (page: ARCTxChannelNamePage, status: ResultCode) {
        let p = ARCPaging.page(numbers: names.map(\.channel), start: start, pageSize: ARCLimits.txPageSize)
        let entries = p.range.map {
            ARCTxChannelName(index: UInt16(truncatingIfNeeded: $0 + 1), channel: names[$0].channel, name: names[$0].name)
        }
        return (ARCTxChannelNamePage(capacity: p.capacity, entries: entries), p.status)
    }

    func write(to w: inout WireWriter) {
        w.u8(capacity); w.u8(UInt8(truncatingIfNeeded: entries.count))
        let table = w.count
        w.zeros(8 * max(Int(capacity), entries.count))
        var strings = ARCStringArea(base: w.count, sharing: false)
        for (k, e) in entries.enumerated() {
            let at = table + 6 * k
            w.setU16(e.index, at: at); w.setU16(e.channel, at: at + 2); w.setU16(strings.add(e.name), at: at + 4)
        }
        w.append(strings.bytes)
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCTxChannelNamePage {
        let capacity = try r.u8(), n = Int(try r.u8())
        try r.checkRecords(n, size: 6, field: "0x2010 records")
        var entries: [ARCTxChannelName] = []
        entries.reserveCapacity(n)
        for _ in 0..<n {
            let index = try r.u16(), channel = try r.u16(), name = try r.u16()
            entries.append(ARCTxChannelName(index: index, channel: channel,
                                            name: try r.arcString(at: Int(name), field: "0x2010 name")))
        }
        return ARCTxChannelNamePage(capacity: capacity, entries: entries)
    }
}

// MARK: - 0x3000 RX channels

/// Subscription status, the u16 at record offset +14 of 0x3000 (§4.4.10, §12.4).
public struct ARCSubscriptionStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ v: UInt16) { rawValue = v }

    public static let none = ARCSubscriptionStatus(0)
    /// Requested, but the transmitter is not (yet) resolved or its flow died.
    public static let unresolved = ARCSubscriptionStatus(1)
    /// Connected to this device itself (TX device name ".").
    public static let selfConnected = ARCSubscriptionStatus(4)
    /// Flow requested, no media yet (Inferno).
    public static let inProgress = ARCSubscriptionStatus(8)
    public static let unicast = ARCSubscriptionStatus(9)
    public static let multicast = ARCSubscriptionStatus(10)
    public static let tooManyTxFlows = ARCSubscriptionStatus(0x14)
    public static let txFail = ARCSubscriptionStatus(0x15)

    public var description: String { hex(rawValue) }
}

/// RX channel status, the u16 at record offset +12 of 0x3000: 0x0101 while receiving.
public struct ARCRxChannelStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ v: UInt16) { rawValue = v }

    public static let idle = ARCRxChannelStatus(0)
    public static let receiving = ARCRxChannelStatus(0x0101)

    public var description: String { hex(rawValue) }
}

/// One record of a 0x3000 response.
public struct ARCRxChannel: Equatable, Hashable, Sendable {
    public var number: UInt16
    /// 0x0006 (Inferno, AVIO) or 0x000f (LX-DANTE). UNSURE.
    public var flags: UInt16
    public var format: ARCFormatDescriptor?
    /// Subscribed TX channel name; nil when not subscribed.
    public var txChannel: String?
    /// Subscribed TX device name; nil when not subscribed, "." for this device.
    public var txDevice: String?
    /// The RX channel's own name.
    public var name: String
    public var rxChannelStatus: ARCRxChannelStatus
    public var subscriptionStatus: ARCSubscriptionStatus

    public init(number: UInt16, name: String, format: ARCFormatDescriptor?, txChannel: String? = nil,
                txDevice: String? = nil, rxChannelStatus: ARCRxChannelStatus = .idle,
                subscriptionStatus: ARCSubscriptionStatus = .none, flags: UInt16 = 0x0006) {
        self.number = number; self.flags = flags; self.format = format
        self.txChannel = txChannel; self.txDevice = txDevice; self.name = name
        self.rxChannelStatus = rxChannelStatus; self.subscriptionStatus = subscriptionStatus
    }
}

/// 0x3000 response body: capacity, count, 20-byte records, descriptors, then for each record its TX channel,
/// TX device and RX name (identical strings are shared, which keeps a 16-record page under the MTU).
public struct ARCRxChannelPage: Equatable, Hashable, Sendable {
    public var capacity: UInt8
    public var channels: [ARCRxChannel]

    public init(capacity: UInt8, channels: [ARCRxChannel]) { self.capacity = capacity; self.channels = channels }

    /// Page starting at channel `start` of `all` (ascending by number), 16 per page, with the status to send.
    public static func page(of all: [ARCRxChannel], start: UInt16) -> (page: ARCRxChannelPage, status: ResultCode) {
        let p = ARCPaging.page(numbers: all.map(\.number), start: start, pageSize: ARCLimits.rxPageSize)
        return (ARCRxChannelPage(capacity: p.capacity, channels: Array(all[p.range])), p.status)
    }

    func write(to w: inout WireWriter) {
        w.u8(capacity); w.u8(UInt8(truncatingIfNeeded: channels.count))
        let table = w.count
        w.zeros(20 * channels.count)
        let formats = writeDescriptors(channels.map(\.format), to: &w)
        var strings = ARCStringArea(base: w.count, sharing: true)
        for (k, c) in channels.enumerated() {
            let at = table + 20 * k
            w.setU16(c.number, at: at); w.setU16(c.flags, at: at + 2); w.setU16(formats[k], at: at + 4)
            w.setU16(strings.add(c.txChannel), at: at + 6)
            w.setU16(strings.add(c.txDevice), at: at + 8)
            w.setU16(strings.add(c.name), at: at + 10)
            w.setU16(c.rxChannelStatus.rawValue, at: at + 12)
            w.setU16(c.subscriptionStatus.rawValue, at: at + 14)
        }
        w.append(strings.bytes)
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCRxChannelPage {
        let capacity = try r.u8(), n = Int(try r.u8())
        try r.checkRecords(n, size: 20, field: "0x3000 records")
        var channels: [ARCRxChannel] = []
        channels.reserveCapacity(n)
        for _ in 0..<n {
            let number = try r.u16(), flags = try r.u16(), fmt = try r.u16()
            let txc = try r.u16(), txd = try r.u16(), name = try r.u16()
            let rxStatus = try r.u16(), subStatus = try r.u16()
            try r.skip(4)
            channels.append(ARCRxChannel(
                number: number, name: try r.arcString(at: Int(name), field: "0x3000 rx name"),
                format: try ARCFormatDescriptor.read(r, at: fmt, field: "0x3000 descriptor"),
                txChannel: try r.arcOptionalString(at: txc, field: "0x3000 tx channel"),
                txDevice: try r.arcOptionalString(at: txd, field: "0x3000 tx device"),
                rxChannelStatus: ARCRxChannelStatus(rxStatus), subscriptionStatus: ARCSubscriptionStatus(subStatus),
                flags: flags))
        }
        return ARCRxChannelPage(capacity: capacity, channels: channels)
    }
}

// MARK: - 0x2013 / 0x3001 channel renames

/// One (channel, new name) pair; an empty name resets the channel to its default.
public struct ARCChannelName: Equatable, Hashable, Sendable {
    public var channel: UInt16
    public var name: String
    public init(channel: UInt16, name: String) { self.channel = channel; self.name = name }
}

/// 0x2013 (TX, §4.4.8) and 0x3001 (RX, §4.4.11) request body.
///
/// body[0] is a layout marker: 0x02 = netaudio (records, one record's worth of zeros, strings);
/// anything else = Dante Controller's capacity layout (strings at 12 + capacity × record size, e.g. `20 20`).
/// TX records are (0x0000, channel, ptr), RX records (channel, ptr). A reset has no string: its pointer
/// points at the end of the packet.
///
/// `trailing` keeps unreferenced bytes after the last string (DC appends the next batch's first name).
public struct ARCChannelRename: Equatable, Hashable, Sendable {
    public static let netaudioMarker: UInt8 = 0x02

    public var marker: UInt8
    public var names: [ARCChannelName]
    public var trailing: [UInt8]

    public init(names: [ARCChannelName], marker: UInt8 = ARCChannelRename.netaudioMarker, trailing: [UInt8] = []) {
        self.marker = marker; self.names = names; self.trailing = trailing
    }

    enum Kind { case tx, rx }
    static func recordSize(_ k: Kind) -> Int { k == .tx ? 6 : 4 }

    static func stringsOffset(marker: UInt8, count n: Int, kind: Kind) -> Int {
        let table = PacketHeader.size + 2, size = recordSize(kind)
        return marker == netaudioMarker ? table + size * (n + 1) : table + size * max(Int(marker), n)
    }

    func write(to w: inout WireWriter, kind: Kind) {
        let size = Self.recordSize(kind)
        w.u8(marker); w.u8(UInt8(truncatingIfNeeded: names.count))
        let table = w.count
        let stringsAt = Self.stringsOffset(marker: marker, count: names.count, kind: kind)
        w.pad(to: stringsAt)
        var strings = ARCStringArea(base: stringsAt, sharing: false)
        var resets: [Int] = []
        for (k, n) in names.enumerated() {
            let at = table + size * k + (kind == .tx ? 2 : 0)
            w.setU16(n.channel, at: at)
            if n.name.isEmpty { resets.append(at + 2) } else { w.setU16(strings.add(n.name), at: at + 2) }
        }
        w.append(strings.bytes)
        w.append(trailing)
        for at in resets { w.setU16(UInt16(truncatingIfNeeded: w.count), at: at) }
    }

    static func decode(_ r: inout WireReader, kind: Kind) throws(WireError) -> ARCChannelRename {
        let size = recordSize(kind)
        let marker = try r.u8(), n = Int(try r.u8())
        try r.checkRecords(n, size: size, field: "channel rename records")
        var names: [ARCChannelName] = []
        names.reserveCapacity(n)
        var stringsEnd = stringsOffset(marker: marker, count: n, kind: kind)
        for _ in 0..<n {
            if kind == .tx { try r.skip(2) }
            let channel = try r.u16(), p = Int(try r.u16())
            var name = ""
            if p != r.end {
                name = try r.arcString(at: p, field: "channel rename name")
                stringsEnd = max(stringsEnd, p + name.utf8.count + 1)
            }
            names.append(ARCChannelName(channel: channel, name: name))
        }
        let trailing = stringsEnd < r.end ? try r.bytes(at: stringsEnd, count: r.end - stringsEnd) : []
        return ARCChannelRename(names: names, marker: marker, trailing: trailing)
    }
}
