/// Flow control (UDP 4455 on the transmitter), dante-protocol.md §7. Uses the 10-byte `PacketHeader`.
/// Any protocol id decodes and is kept so a server can echo it; Inferno's client sends 0x1102, real devices
/// advertise `dbcp1=0x1200`.
public enum FlowOpcode {
    public static let request: UInt16 = 0x0100
    public static let stop: UInt16 = 0x0101
    public static let update: UInt16 = 0x0102
}

/// The opaque 6-byte flow handle a transmitter returns (Inferno: `flow_number:u32 | cookie:u16`).
public struct FlowHandle: Equatable, Hashable, Sendable {
    public var bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = ConmonBytes.fixed(bytes, 6) }
    public init(flowNumber: UInt32, cookie: UInt16) {
        var w = WireWriter(); w.u32(flowNumber); w.u16(cookie)
        bytes = w.bytes
    }
    public var flowNumber: UInt32 { ConmonBytes.u32(bytes, 0) }
    public var cookie: UInt16 { ConmonBytes.u16(bytes, 4) }
}

/// 0x0100 request flow (§7.1), receiver → transmitter.
///
/// Layout with N channel slots (absolute offsets): `10: ptr name | 12: rate:u32 | 16: bits:u32 | 20: 1:u16 |
/// 22: N | 24: ptr address | 26: ch:u16 × N | 26+2N: ptr(=28+2N) | 28+2N: 0x0A00 | 30+2N: 0x0002 | 32+2N: fpp |
/// 34+2N: ptr flow name | 36+2N: 12 zero bytes | 48+2N: name\0 flowName\0 pad to 8 | address record
/// `08 02 | port:u16 | IPv4`.
public struct FlowRequest: Equatable, Hashable, Sendable {
    public static let addressRecordTag: UInt16 = 0x0802
    /// A sanity bound on channel slots: a 1500-byte datagram cannot hold more.
    public static let maxChannels = 700

    public var protocolID: UInt16
    public var transactionID: UInt16
    public var receiverName: String
    public var sampleRate: UInt32
    public var bitsPerSample: UInt32
    /// TX channel ids per slot (1-based; 0 = empty slot).
    public var channels: [UInt16]
    public var framesPerPacket: UInt16
    public var flowName: String
    public var receiverIPv4: UInt32
    public var receiverPort: UInt16
    /// The u16 at 20 (1).
    public var word20: UInt16
    /// The sub-block words at 28+2N (0x0A00) and 30+2N (0x0002); meaning unknown.
    public var subBlockTag: UInt16
    public var subBlockValue: UInt16

    public init(protocolID: UInt16 = 0x1102, transactionID: UInt16, receiverName: String, sampleRate: UInt32,
                bitsPerSample: UInt32, channels: [UInt16], framesPerPacket: UInt16, flowName: String,
                receiverIPv4: UInt32, receiverPort: UInt16, word20: UInt16 = 1, subBlockTag: UInt16 = 0x0A00,
                subBlockValue: UInt16 = 0x0002) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.receiverName = receiverName
        self.sampleRate = sampleRate
        self.bitsPerSample = bitsPerSample
        self.channels = channels
        self.framesPerPacket = framesPerPacket
        self.flowName = flowName
        self.receiverIPv4 = receiverIPv4
        self.receiverPort = receiverPort
        self.word20 = word20
        self.subBlockTag = subBlockTag
        self.subBlockValue = subBlockValue
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> FlowRequest {
        let (h, r) = try PacketHeader.decode(bytes)
        guard h.opcode == FlowOpcode.request else { throw .unknownOpcode(h.opcode) }
        guard h.status == 0 else { throw .invalidValue(field: "status", value: Int(h.status)) }
        let namePtr = Int(try r.u16(at: 10))
        let rate = try r.u32(at: 12), bits = try r.u32(at: 16), w20 = try r.u16(at: 20)
        let n = Int(try r.u16(at: 22))
        let addrPtr = Int(try r.u16(at: 24))
        // The fixed part after the channel list ends at 48 + 2N.
        let maxN = max(0, (r.end - 48) / 2)
        guard n <= maxN, n <= maxChannels else { throw .countTooLarge(field: "channels", count: n, max: min(maxN, maxChannels)) }
        var channels: [UInt16] = []
        channels.reserveCapacity(n)
        for k in 0..<n { channels.append(try r.u16(at: 26 + 2 * k)) }
        let t = 26 + 2 * n
        let tag = try r.u16(at: t + 2), value = try r.u16(at: t + 4), fpp = try r.u16(at: t + 6)
        let flowPtr = Int(try r.u16(at: t + 8))
        let name = try r.cString(at: namePtr, field: "receiver name", minPointer: PacketHeader.size, maxLength: 255)
        let flowName = try r.cString(at: flowPtr, field: "flow name", minPointer: PacketHeader.size, maxLength: 255)
        guard addrPtr >= PacketHeader.size, addrPtr + 8 <= r.end else {
            throw .badPointer(field: "receiver address", pointer: addrPtr)
        }
        let addrTag = try r.u16(at: addrPtr)
        guard addrTag == addressRecordTag else { throw .invalidValue(field: "address record tag", value: Int(addrTag)) }
        return FlowRequest(protocolID: h.protocolID, transactionID: h.transactionID, receiverName: name,
                           sampleRate: rate, bitsPerSample: bits, channels: channels, framesPerPacket: fpp,
                           flowName: flowName, receiverIPv4: try r.u32(at: addrPtr + 4),
                           receiverPort: try r.u16(at: addrPtr + 2), word20: w20, subBlockTag: tag,
                           subBlockValue: value)
    }

    /// Encodes exactly as Inferno's client (§7.1 worked example).
    public func encode() -> [UInt8] {
        let n = channels.count
        let stringsAt = 48 + 2 * n
        let nameBytes = Array(receiverName.utf8), flowBytes = Array(flowName.utf8)
        let flowAt = stringsAt + nameBytes.count + 1
        var addrAt = flowAt + flowBytes.count + 1
        addrAt = (addrAt + 7) / 8 * 8
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: FlowOpcode.request)
            .start(capacity: addrAt + 8)
        w.u16(UInt16(truncatingIfNeeded: stringsAt))
        w.u32(sampleRate); w.u32(bitsPerSample); w.u16(word20)
        w.u16(UInt16(truncatingIfNeeded: n))
        w.u16(UInt16(truncatingIfNeeded: addrAt))
        for c in channels { w.u16(c) }
        w.u16(UInt16(truncatingIfNeeded: 0x1C + 2 * n))
        w.u16(subBlockTag); w.u16(subBlockValue); w.u16(framesPerPacket)
        w.u16(UInt16(truncatingIfNeeded: flowAt))
        w.zeros(12)
        w.append(nameBytes); w.u8(0); w.append(flowBytes); w.u8(0)
        w.align(to: 8)
        w.u16(FlowRequest.addressRecordTag); w.u16(receiverPort); w.u32(receiverIPv4)
        return PacketHeader.finish(w)
    }
}

/// A transmitter's reply to 0x0100/0x0101/0x0102 (§7.2–7.4): the request's protocol id, transaction id and opcode;
/// status 0x0001 with a 6-byte handle (0x0100) or an empty body; errors (0x0103, 0x0301, 0x0302, 0x0315) have an
/// empty body.
public struct FlowResponse: Equatable, Hashable, Sendable {
    public var protocolID: UInt16
    public var transactionID: UInt16
    public var opcode: UInt16
    public var status: ResultCode
    public var handle: FlowHandle?

    public init(protocolID: UInt16 = 0x1102, transactionID: UInt16, opcode: UInt16, status: ResultCode,
                handle: FlowHandle? = nil) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.opcode = opcode
        self.status = status
        self.handle = handle
    }

    /// The body must be empty or exactly a 6-byte handle; status 0 (a request) is rejected.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> FlowResponse {
        let (h, r) = try PacketHeader.decode(bytes)
        guard h.status != 0 else { throw .invalidValue(field: "status", value: 0) }
        let handle: FlowHandle?
        switch r.remaining {
        case 0: handle = nil
        case 6: handle = FlowHandle(bytes: try r.bytes(at: r.offset, count: 6))
        default: throw .badLength(declared: 6, actual: r.remaining)
        }
        return FlowResponse(protocolID: h.protocolID, transactionID: h.transactionID, opcode: h.opcode,
                            status: ResultCode(h.status), handle: handle)
    }

    public func encode() -> [UInt8] {
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: opcode,
                             status: status.rawValue).start(capacity: 16)
        if let handle { w.append(handle.bytes) }
        return PacketHeader.finish(w)
    }
}

/// 0x0102 update flow (§7.3): `hdr | handle[6] | N:u16 | ch:u16 × N`.
public struct FlowUpdateRequest: Equatable, Hashable, Sendable {
    public var protocolID: UInt16
    public var transactionID: UInt16
    public var handle: FlowHandle
    public var channels: [UInt16]

    public init(protocolID: UInt16 = 0x1102, transactionID: UInt16, handle: FlowHandle, channels: [UInt16]) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.handle = handle
        self.channels = channels
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> FlowUpdateRequest {
        let (h, r) = try PacketHeader.decode(bytes)
        guard h.opcode == FlowOpcode.update else { throw .unknownOpcode(h.opcode) }
        guard h.status == 0 else { throw .invalidValue(field: "status", value: Int(h.status)) }
        let handle = FlowHandle(bytes: try r.bytes(at: 10, count: 6))
        let n = Int(try r.u16(at: 16))
        guard r.end == 18 + 2 * n else {
            throw .countTooLarge(field: "channels", count: n, max: max(0, (r.end - 18) / 2))
        }
        var channels: [UInt16] = []
        channels.reserveCapacity(n)
        for k in 0..<n { channels.append(try r.u16(at: 18 + 2 * k)) }
        return FlowUpdateRequest(protocolID: h.protocolID, transactionID: h.transactionID, handle: handle,
                                 channels: channels)
    }

    public func encode() -> [UInt8] {
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: FlowOpcode.update)
            .start(capacity: 18 + 2 * channels.count)
        w.append(handle.bytes); w.u16(UInt16(truncatingIfNeeded: channels.count))
        for c in channels { w.u16(c) }
        return PacketHeader.finish(w)
    }
}

/// 0x0101 stop flow (§7.4): `hdr | handle[6]`; the body must be exactly 6 bytes.
public struct FlowStopRequest: Equatable, Hashable, Sendable {
    public var protocolID: UInt16
    public var transactionID: UInt16
    public var handle: FlowHandle

    public init(protocolID: UInt16 = 0x1102, transactionID: UInt16, handle: FlowHandle) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.handle = handle
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> FlowStopRequest {
        let (h, r) = try PacketHeader.decode(bytes)
        guard h.opcode == FlowOpcode.stop else { throw .unknownOpcode(h.opcode) }
        guard h.status == 0 else { throw .invalidValue(field: "status", value: Int(h.status)) }
        guard r.remaining == 6 else { throw .badLength(declared: 16, actual: r.end) }
        return FlowStopRequest(protocolID: h.protocolID, transactionID: h.transactionID,
                               handle: FlowHandle(bytes: try r.bytes(at: 10, count: 6)))
    }

    public func encode() -> [UInt8] {
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: FlowOpcode.stop)
            .start(capacity: 16)
        w.append(handle.bytes)
        return PacketHeader.finish(w)
    }
}

/// Any flow-control datagram: requests by opcode when status is 0, else a response.
public enum FlowControlPacket: Equatable, Hashable, Sendable {
    case request(FlowRequest)
    case update(FlowUpdateRequest)
    case stop(FlowStopRequest)
    case response(FlowResponse)
    case other(PacketHeader, body: [UInt8])

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> FlowControlPacket {
        let (h, r) = try PacketHeader.decode(bytes)
        if h.status != 0 { return .response(try .decode(bytes)) }
        switch h.opcode {
        case FlowOpcode.request: return .request(try .decode(bytes))
        case FlowOpcode.update: return .update(try .decode(bytes))
        case FlowOpcode.stop: return .stop(try .decode(bytes))
        default: return .other(h, body: Array(bytes[r.offset..<r.end]))
        }
    }

    public func encode() -> [UInt8] {
        switch self {
        case let .request(m): return m.encode()
        case let .update(m): return m.encode()
        case let .stop(m): return m.encode()
        case let .response(m): return m.encode()
        case let .other(h, body):
            var w = h.start(capacity: 10 + body.count)
            w.append(body)
            return PacketHeader.finish(w)
        }
    }
}
