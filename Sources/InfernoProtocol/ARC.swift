/// ARC (Audio Routing Control, UDP 4440): opcodes, request/response packets and shared helpers.
///
/// See dante-protocol.md §3 (framing, pointers, paging) and §4 (opcodes). Every ARC message is the 10-byte
/// `PacketHeader` followed by an opcode-specific body. Strings and descriptors are reached through 16-bit
/// **absolute** pointers; decoders here always follow pointers and never scan the string area, because real
/// devices leave stale bytes between strings (§13.2 C).

/// ARC opcodes (§4.1).
public enum ARCOpcode {
    public static let channelCounts: UInt16 = 0x1000
    public static let setDeviceName: UInt16 = 0x1001
    public static let deviceName: UInt16 = 0x1002
    public static let deviceInfo: UInt16 = 0x1003
    public static let settingsQuery: UInt16 = 0x1100
    public static let settingsSet: UInt16 = 0x1101
    public static let extendedSettings: UInt16 = 0x1102
    public static let txChannels: UInt16 = 0x2000
    public static let txChannelNames: UInt16 = 0x2010
    public static let setTxChannelNames: UInt16 = 0x2013
    public static let txFlows: UInt16 = 0x2200
    public static let createTxFlow: UInt16 = 0x2201
    public static let deleteTxFlow: UInt16 = 0x2202
    public static let setTxChannelLabels: UInt16 = 0x2320
    public static let txFlowStatus2809: UInt16 = 0x2600
    public static let rxChannels: UInt16 = 0x3000
    public static let setRxChannelNames: UInt16 = 0x3001
    public static let subscribe: UInt16 = 0x3010
    public static let bulkUnsubscribe: UInt16 = 0x3014
    public static let rxFlows: UInt16 = 0x3200
    public static let portRanges: UInt16 = 0x3300
    public static let rxChannelStatus2809: UInt16 = 0x3400
    public static let subscriptionModify: UInt16 = 0x3410
    public static let rxFlowStatus2809: UInt16 = 0x3600
}

/// Limits shared by the ARC codecs.
public enum ARCLimits {
    /// Real devices page TX lists (0x2000/0x2010) by 32 (§3.5, §14.1 item 2).
    public static let txPageSize = 32
    /// Real devices page RX lists (0x3000) by 16 (§3.5).
    public static let rxPageSize = 16
    /// Longest string a decoder accepts (Dante names are at most 31 bytes; this is generous on purpose).
    public static let maxStringLength = 255
    /// Smallest pointer that can point into an ARC body.
    public static let minPointer = PacketHeader.size
}

// MARK: - Requests

/// An ARC request (§4). `protocolID` is any 0x27xx/0x28xx value; the responder echoes it.
public struct ARCRequest: Equatable, Sendable {
    public var protocolID: UInt16
    public var transactionID: UInt16
    public var body: ARCRequestBody

    public init(protocolID: UInt16 = ProtocolID.arcGeneric, transactionID: UInt16, body: ARCRequestBody) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.body = body
    }

    public var opcode: UInt16 { body.opcode }

    public func encode() -> [UInt8] {
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: opcode).start()
        body.write(to: &w)
        return PacketHeader.finish(w)
    }

    /// Decodes a request. The status field must be 0 and the protocol id an ARC one (0x27xx/0x28xx).
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> ARCRequest {
        let (h, r) = try PacketHeader.decode(bytes)
        guard ProtocolID.isARC(h.protocolID) else { throw .invalidValue(field: "ARC protocol id", value: Int(h.protocolID)) }
        guard h.status == 0 else { throw .invalidValue(field: "ARC request status", value: Int(h.status)) }
        return ARCRequest(protocolID: h.protocolID, transactionID: h.transactionID,
                          body: try ARCRequestBody.decode(opcode: h.opcode, r))
    }
}

/// The opcode-specific part of an ARC request.
public enum ARCRequestBody: Equatable, Sendable {
    /// 0x1000 (§4.4.1), no body.
    case channelCounts
    /// 0x1001 (§4.4.2): the new name, or nil for "reset to the factory name" (bare header).
    case setDeviceName(String?)
    /// 0x1002 (§4.4.3), no body.
    case deviceName
    /// 0x1003 (§4.4.4), no body.
    case deviceInfo
    /// 0x1100 (§4.4.5): the info codes to read.
    case settingsQuery([UInt16])
    /// 0x1101 (§4.4.5): info-code table and values; nil = empty body (netaudio's lock probe).
    case settingsSet(ARCSettingsSet?)
    /// 0x2000 (§4.4.6).
    case txChannels(ARCPageRequest)
    /// 0x2010 (§4.4.7).
    case txChannelNames(ARCPageRequest)
    /// 0x2013 (§4.4.8).
    case setTxChannelNames(ARCChannelRename)
    /// 0x3000 (§4.4.10).
    case rxChannels(ARCPageRequest)
    /// 0x3001 (§4.4.11).
    case setRxChannelNames(ARCChannelRename)
    /// 0x3010 (§4.4.12).
    case subscribe(ARCSubscriptionRequest)
    /// 0x3014 (§4.4.13): RX channel numbers whose subscriptions to remove.
    case bulkUnsubscribe([UInt16])
    /// 0x3410 on protocol 0x2809 (§4.4.14).
    case subscriptionModify(ARCSubscriptionModify)
    /// 0x2200 (§4.4.9, §4.4.15): nil = bare request (netaudio), else DC's paged form.
    case txFlows(ARCPageRequest?)
    /// 0x3200 (§4.4.15).
    case rxFlows(ARCPageRequest?)
    /// 0x3300 (§4.4.15), no body.
    case portRanges
    /// Anything else, kept verbatim so a device can answer 0x0030.
    case other(opcode: UInt16, body: [UInt8])

    public var opcode: UInt16 {
        switch self {
        case .channelCounts: ARCOpcode.channelCounts
        case .setDeviceName: ARCOpcode.setDeviceName
        case .deviceName: ARCOpcode.deviceName
        case .deviceInfo: ARCOpcode.deviceInfo
        case .settingsQuery: ARCOpcode.settingsQuery
        case .settingsSet: ARCOpcode.settingsSet
        case .txChannels: ARCOpcode.txChannels
        case .txChannelNames: ARCOpcode.txChannelNames
        case .setTxChannelNames: ARCOpcode.setTxChannelNames
        case .rxChannels: ARCOpcode.rxChannels
        case .setRxChannelNames: ARCOpcode.setRxChannelNames
        case .subscribe: ARCOpcode.subscribe
        case .bulkUnsubscribe: ARCOpcode.bulkUnsubscribe
        case .subscriptionModify: ARCOpcode.subscriptionModify
        case .txFlows: ARCOpcode.txFlows
        case .rxFlows: ARCOpcode.rxFlows
        case .portRanges: ARCOpcode.portRanges
        case let .other(opcode, _): opcode
        }
    }

    func write(to w: inout WireWriter) {
        switch self {
        case .channelCounts, .deviceName, .deviceInfo, .portRanges, .settingsSet(nil), .txFlows(nil), .rxFlows(nil):
            break
        case let .setDeviceName(name):
            if let name { w.cString(name) }
        case let .settingsQuery(codes):
            w.u16(UInt16(truncatingIfNeeded: codes.count))
            for c in codes { w.u16(c) }
        case let .settingsSet(set?):
            set.write(to: &w)
        case let .txChannels(p), let .txChannelNames(p), let .rxChannels(p), let .txFlows(p?), let .rxFlows(p?):
            p.write(to: &w)
        case let .setTxChannelNames(r):
            r.write(to: &w, kind: .tx)
        case let .setRxChannelNames(r):
            r.write(to: &w, kind: .rx)
        case let .subscribe(s):
            s.write(to: &w)
        case let .bulkUnsubscribe(channels):
            w.u16(UInt16(truncatingIfNeeded: channels.count))
            for c in channels { w.u32(UInt32(c)) }
        case let .subscriptionModify(m):
            m.write(to: &w)
        case let .other(_, body):
            w.append(body)
        }
    }

    static func decode(opcode: UInt16, _ r: WireReader) throws(WireError) -> ARCRequestBody {
        var r = r
        switch opcode {
        case ARCOpcode.channelCounts: return .channelCounts
        case ARCOpcode.deviceName: return .deviceName
        case ARCOpcode.deviceInfo: return .deviceInfo
        case ARCOpcode.portRanges: return .portRanges
        case ARCOpcode.setDeviceName:
            if r.isAtEnd { return .setDeviceName(nil) }
            return .setDeviceName(try r.arcString(at: r.offset, field: "device name"))
        case ARCOpcode.settingsQuery:
            let n = Int(try r.u16())
            guard n * 2 <= r.remaining else { throw .countTooLarge(field: "0x1100 info codes", count: n, max: r.remaining / 2) }
            var codes: [UInt16] = []
            codes.reserveCapacity(n)
            for _ in 0..<n { codes.append(try r.u16()) }
            return .settingsQuery(codes)
        case ARCOpcode.settingsSet:
            if r.isAtEnd { return .settingsSet(nil) }
            return .settingsSet(try ARCSettingsSet.decode(&r))
        case ARCOpcode.txChannels: return .txChannels(try ARCPageRequest.decode(&r))
        case ARCOpcode.txChannelNames: return .txChannelNames(try ARCPageRequest.decode(&r))
        case ARCOpcode.rxChannels: return .rxChannels(try ARCPageRequest.decode(&r))
        case ARCOpcode.txFlows: return .txFlows(r.isAtEnd ? nil : try ARCPageRequest.decode(&r))
        case ARCOpcode.rxFlows: return .rxFlows(r.isAtEnd ? nil : try ARCPageRequest.decode(&r))
        case ARCOpcode.setTxChannelNames: return .setTxChannelNames(try ARCChannelRename.decode(&r, kind: .tx))
        case ARCOpcode.setRxChannelNames: return .setRxChannelNames(try ARCChannelRename.decode(&r, kind: .rx))
        case ARCOpcode.subscribe: return .subscribe(try ARCSubscriptionRequest.decode(&r))
        case ARCOpcode.bulkUnsubscribe:
            let n = Int(try r.u16())
            guard n * 4 <= r.remaining else { throw .countTooLarge(field: "0x3014 channels", count: n, max: r.remaining / 4) }
            var channels: [UInt16] = []
            channels.reserveCapacity(n)
            for _ in 0..<n {
                let at = r.offset
                let v = try r.u32()
                guard v <= UInt32(UInt16.max) else { throw .invalidValue(field: "0x3014 channel at \(at)", value: Int(v)) }
                channels.append(UInt16(v))
            }
            return .bulkUnsubscribe(channels)
        case ARCOpcode.subscriptionModify: return .subscriptionModify(try ARCSubscriptionModify.decode(&r))
        default:
            return .other(opcode: opcode, body: r.rest())
        }
    }
}

/// The paging body `00 01 | start:u16 | max:u16` of 0x2000/0x2010/0x3000/0x2200/0x3200 requests (§3.5).
public struct ARCPageRequest: Equatable, Hashable, Sendable {
    /// The first u16; 0x0001 in every capture.
    public var marker: UInt16
    /// 1-based first channel (or flow) of the page.
    public var start: UInt16
    /// "Max entries": netaudio sends 0, DC sends its capacity for 0x2010 (e.g. 256).
    public var maxEntries: UInt16

    public init(start: UInt16, maxEntries: UInt16 = 0, marker: UInt16 = 1) {
        self.marker = marker
        self.start = start
        self.maxEntries = maxEntries
    }

    /// netaudio's request for page `page` (0-based) of a list paged by `pageSize`.
    public static func page(_ page: Int, pageSize: Int) -> ARCPageRequest {
        ARCPageRequest(start: UInt16(truncatingIfNeeded: page * pageSize + 1))
    }

    func write(to w: inout WireWriter) { w.u16(marker); w.u16(start); w.u16(maxEntries) }

    /// Needs at least marker and start; a missing max reads as 0. Extra bytes are ignored.
    static func decode(_ r: inout WireReader) throws(WireError) -> ARCPageRequest {
        let marker = try r.u16(), start = try r.u16()
        let max = r.remaining >= 2 ? try r.u16() : 0
        return ARCPageRequest(start: start, maxEntries: max, marker: marker)
    }
}

// MARK: - Responses

/// An ARC response (§3, §4). Decoding needs the opcode from the header to pick the body type.
public struct ARCResponse: Equatable, Sendable {
    public var protocolID: UInt16
    public var transactionID: UInt16
    public var opcode: UInt16
    public var status: ResultCode
    public var body: ARCResponseBody

    public init(protocolID: UInt16 = ProtocolID.arcGeneric, transactionID: UInt16, opcode: UInt16,
                status: ResultCode = .success, body: ARCResponseBody = .empty) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.opcode = opcode
        self.status = status
        self.body = body
    }

    /// A response to `request`: same protocol id, transaction id and opcode (§3.1).
    public init(answering request: ARCRequest, status: ResultCode = .success, body: ARCResponseBody = .empty) {
        self.init(protocolID: request.protocolID, transactionID: request.transactionID, opcode: request.opcode,
                  status: status, body: body)
    }

    public func encode() -> [UInt8] {
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: opcode,
                             status: status.rawValue).start(capacity: 256)
        body.write(to: &w)
        return PacketHeader.finish(w)
    }

    /// Decodes a response. The status must be non-zero. Typed bodies are decoded only for success statuses
    /// (0x0001, 0x8112); an empty body is `.empty`; error statuses with a body, and unknown opcodes, give `.raw`.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> ARCResponse {
        let (h, r) = try PacketHeader.decode(bytes)
        guard ProtocolID.isARC(h.protocolID) else { throw .invalidValue(field: "ARC protocol id", value: Int(h.protocolID)) }
        guard h.status != 0 else { throw .invalidValue(field: "ARC response status", value: 0) }
        let status = ResultCode(h.status)
        let body: ARCResponseBody
        if r.isAtEnd {
            body = .empty
        } else if status.isSuccess {
            body = try ARCResponseBody.decode(opcode: h.opcode, r)
        } else {
            var r = r
            body = .raw(r.rest())
        }
        return ARCResponse(protocolID: h.protocolID, transactionID: h.transactionID, opcode: h.opcode,
                           status: status, body: body)
    }
}

/// The opcode-specific part of an ARC response.
public enum ARCResponseBody: Equatable, Sendable {
    /// No body (status only): 0x1001, 0x2013, 0x3001, 0x3010, 0x3014, errors.
    case empty
    /// 0x1002 (§4.4.3).
    case deviceName(String)
    /// 0x1000 (§4.4.1).
    case channelCounts(ARCChannelCounts)
    /// 0x1003 (§4.4.4).
    case deviceInfo(ARCDeviceInfo)
    /// 0x1100 / 0x1101 (§4.4.5).
    case settings(ARCSettingsTable)
    /// 0x2000 (§4.4.6).
    case txChannels(ARCTxChannelPage)
    /// 0x2010 (§4.4.7).
    case txChannelNames(ARCTxChannelNamePage)
    /// 0x3000 (§4.4.10).
    case rxChannels(ARCRxChannelPage)
    /// 0x2200 / 0x3200 (§4.4.9, §4.4.15).
    case flows(ARCFlowTable)
    /// 0x3300 (§4.4.15).
    case portRanges([ARCPortRange])
    /// Any other body, verbatim.
    case raw([UInt8])

    func write(to w: inout WireWriter) {
        switch self {
        case .empty: break
        case let .deviceName(name): w.cString(name)
        case let .channelCounts(c): c.write(to: &w)
        case let .deviceInfo(i): i.write(to: &w)
        case let .settings(t): t.write(to: &w)
        case let .txChannels(p): p.write(to: &w)
        case let .txChannelNames(p): p.write(to: &w)
        case let .rxChannels(p): p.write(to: &w)
        case let .flows(f): f.write(to: &w)
        case let .portRanges(ranges): for p in ranges { w.u16(p.first); w.u16(p.last) }
        case let .raw(b): w.append(b)
        }
    }

    static func decode(opcode: UInt16, _ r: WireReader) throws(WireError) -> ARCResponseBody {
        var r = r
        switch opcode {
        case ARCOpcode.deviceName: return .deviceName(try r.arcString(at: r.offset, field: "device name"))
        case ARCOpcode.channelCounts: return .channelCounts(try ARCChannelCounts.decode(&r))
        case ARCOpcode.deviceInfo: return .deviceInfo(try ARCDeviceInfo.decode(r))
        case ARCOpcode.settingsQuery, ARCOpcode.settingsSet: return .settings(try ARCSettingsTable.decode(&r))
        case ARCOpcode.txChannels: return .txChannels(try ARCTxChannelPage.decode(&r))
        case ARCOpcode.txChannelNames: return .txChannelNames(try ARCTxChannelNamePage.decode(&r))
        case ARCOpcode.rxChannels: return .rxChannels(try ARCRxChannelPage.decode(&r))
        case ARCOpcode.txFlows, ARCOpcode.rxFlows: return .flows(try ARCFlowTable.decode(&r))
        case ARCOpcode.portRanges:
            guard r.remaining % 4 == 0 else { throw .invalidValue(field: "0x3300 body length", value: r.remaining) }
            var ranges: [ARCPortRange] = []
            ranges.reserveCapacity(r.remaining / 4)
            while !r.isAtEnd { ranges.append(ARCPortRange(first: try r.u16(), last: try r.u16())) }
            return .portRanges(ranges)
        default:
            return .raw(r.rest())
        }
    }
}

// MARK: - Shared helpers

extension WireReader {
    /// A NUL-terminated string at an absolute ARC pointer (never into the header).
    func arcString(at pointer: Int, field: String) throws(WireError) -> String {
        try cString(at: pointer, field: field, minPointer: ARCLimits.minPointer, maxLength: ARCLimits.maxStringLength)
    }

    /// Like `arcString`, but pointer 0 means "absent".
    func arcOptionalString(at pointer: UInt16, field: String) throws(WireError) -> String? {
        pointer == 0 ? nil : try arcString(at: Int(pointer), field: field)
    }

    /// Checks that `count` records of `size` bytes fit in what is left, before anything is allocated.
    func checkRecords(_ count: Int, size: Int, field: String) throws(WireError) {
        guard count * size <= remaining else {
            throw .countTooLarge(field: field, count: count, max: remaining / size)
        }
    }
}

/// Collects the string area of a message being encoded and hands out absolute pointers.
/// With `sharing`, identical strings are written once (as DC and real devices do).
struct ARCStringArea {
    let base: Int
    let sharing: Bool
    private(set) var bytes: [UInt8] = []
    private var pool: [String: UInt16] = [:]

    init(base: Int, sharing: Bool) {
        self.base = base
        self.sharing = sharing
    }

    mutating func add(_ s: String) -> UInt16 {
        if sharing, let p = pool[s] { return p }
        let p = UInt16(truncatingIfNeeded: base + bytes.count)
        bytes.append(contentsOf: s.utf8); bytes.append(0)
        if sharing { pool[s] = p }
        return p
    }

    mutating func add(_ s: String?) -> UInt16 { s.map { add($0) } ?? 0 }
}
