/// CMC (UDP 8800, protocol id 0x1200), dante-protocol.md §5. Uses the 10-byte `PacketHeader`.
/// Any protocol id decodes (and is kept, so a reply can echo it); `ProtocolID.cmc` is the default when encoding.
public enum CMCOpcode {
    public static let registration: UInt16 = 0x1001
    public static let meteringPoll: UInt16 = 0x3010
}

/// 0x1001 request (20 bytes): `hdr | 0:u16 | controller MAC[6] | 0:u16`.
public struct CMCRegistrationRequest: Equatable, Hashable, Sendable {
    public var protocolID: UInt16
    public var transactionID: UInt16
    public var controllerMAC: [UInt8]

    public init(protocolID: UInt16 = ProtocolID.cmc, transactionID: UInt16, controllerMAC: [UInt8]) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.controllerMAC = controllerMAC
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> CMCRegistrationRequest {
        let (h, body) = try CMCPacket.header(bytes, opcode: CMCOpcode.registration, request: true)
        try ConmonBytes.exact(Array(body.bytes[body.offset..<body.end]), 10)
        return CMCRegistrationRequest(protocolID: h.protocolID, transactionID: h.transactionID,
                                      controllerMAC: try body.bytes(at: 12, count: 6))
    }

    public func encode() -> [UInt8] {
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: CMCOpcode.registration)
            .start(capacity: 20)
        w.u16(0); w.append(ConmonBytes.fixed(controllerMAC, 6)); w.u16(0)
        return PacketHeader.finish(w)
    }

    /// The answer a device gives (status 0x0001, same protocol and transaction id).
    public func response(deviceID: [UInt8], ipv4: UInt32, conmonPort: UInt16 = DantePorts.conmonRequests,
                         processID: UInt16 = 0) -> CMCRegistrationResponse {
        CMCRegistrationResponse(protocolID: protocolID, transactionID: transactionID, processID: processID,
                                deviceID: deviceID, ipv4: ipv4, conmonPort: conmonPort)
    }
}

/// 0x1001 response (32 bytes): `hdr(status) | process:u16 | device id[8] | 1:u16 | 0:u16 | IPv4 | conmon port:u16 | 0:u16`.
public struct CMCRegistrationResponse: Equatable, Hashable, Sendable {
    public var protocolID: UInt16
    public var transactionID: UInt16
    public var status: ResultCode
    public var processID: UInt16
    public var deviceID: [UInt8]
    /// u16 at 20 (1) and 22 (0).
    public var word20: UInt16
    public var word22: UInt16
    /// Host-order IPv4 (0xC0A8013D = 192.168.1.61).
    public var ipv4: UInt32
    public var conmonPort: UInt16
    public var word30: UInt16

    public init(protocolID: UInt16 = ProtocolID.cmc, transactionID: UInt16, status: ResultCode = .success,
                processID: UInt16 = 0, deviceID: [UInt8], word20: UInt16 = 1, word22: UInt16 = 0, ipv4: UInt32,
                conmonPort: UInt16 = DantePorts.conmonRequests, word30: UInt16 = 0) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.status = status
        self.processID = processID
        self.deviceID = deviceID
        self.word20 = word20
        self.word22 = word22
        self.ipv4 = ipv4
        self.conmonPort = conmonPort
        self.word30 = word30
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> CMCRegistrationResponse {
        let (h, body) = try CMCPacket.header(bytes, opcode: CMCOpcode.registration, request: false)
        try ConmonBytes.exact(Array(body.bytes[body.offset..<body.end]), 22)
        return CMCRegistrationResponse(protocolID: h.protocolID, transactionID: h.transactionID,
                                       status: ResultCode(h.status), processID: try body.u16(at: 10),
                                       deviceID: try body.bytes(at: 12, count: 8), word20: try body.u16(at: 20),
                                       word22: try body.u16(at: 22), ipv4: try body.u32(at: 24),
                                       conmonPort: try body.u16(at: 28), word30: try body.u16(at: 30))
    }

    public func encode() -> [UInt8] {
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: CMCOpcode.registration,
                             status: status.rawValue).start(capacity: 32)
        w.u16(processID); w.append(ConmonBytes.fixed(deviceID, 8)); w.u16(word20); w.u16(word22)
        w.u32(ipv4); w.u16(conmonPort); w.u16(word30)
        return PacketHeader.finish(w)
    }
}

/// CMC 0x3010: Dante Controller's ~3 s subscription-status poll / netaudio's metering start-stop (§5.2). Request and
/// response share the layout, so the body is kept raw (lossless) with accessors:
///
/// ```
/// 10: 0:u16 | 12: controller MAC[6] (device id[8] in the response) | 20: 0x0004 | 22: off1 | 24: 0x0002 | 26: off2
/// 28: 0x000A | 30: name\0, padded to even | P = 20 + off1: u16 | P+2: 1 | P+4: tail off | P+6: 1
/// P+8: metering port | P+10: 1 = start / 0 = stop | P+12: 0 | P+14: IPv4 | P+18: port | P+20: 10 bytes
/// ```
/// (offsets off1/off2/tail are relative to abs 20 [REAL].)
public struct CMCMeteringPoll: Equatable, Hashable, Sendable {
    public var protocolID: UInt16
    public var transactionID: UInt16
    public var status: UInt16
    /// Everything after the 10-byte header.
    public var body: [UInt8]

    public init(protocolID: UInt16 = ProtocolID.cmc, transactionID: UInt16, status: UInt16 = 0, body: [UInt8]) {
        self.protocolID = protocolID
        self.transactionID = transactionID
        self.status = status
        self.body = body
    }

    /// Decodes and validates the parts the accessors use: the name (NUL-terminated inside the body) and the block
    /// at P..P+20 must lie inside the message.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> CMCMeteringPoll {
        let (h, r) = try PacketHeader.decode(bytes)
        guard h.opcode == CMCOpcode.meteringPoll else { throw .unknownOpcode(h.opcode) }
        let poll = CMCMeteringPoll(protocolID: h.protocolID, transactionID: h.transactionID, status: h.status,
                                   body: Array(bytes[r.offset..<r.end]))
        let m = WireReader(Array(bytes[0..<r.end]))
        _ = try m.cString(at: 30, field: "name", minPointer: 30, maxLength: 256)
        let p = try poll.blockOffset()
        _ = try m.bytes(at: p, count: 20)
        return poll
    }

    public func encode() -> [UInt8] {
        var w = PacketHeader(protocolID: protocolID, transactionID: transactionID, opcode: CMCOpcode.meteringPoll,
                             status: status).start(capacity: 10 + body.count)
        w.append(body)
        return PacketHeader.finish(w)
    }

    private var full: [UInt8] { encode() }

    /// Absolute offset P of the metering block (20 + off1).
    public func blockOffset() throws(WireError) -> Int {
        let off1 = Int(try WireReader(full).u16(at: 22))
        let p = 20 + off1
        guard p >= 30, p + 20 <= 10 + body.count else { throw .badPointer(field: "metering block", pointer: p) }
        return p
    }

    /// Bytes 12..<18: the controller MAC in a request (the first 6 bytes of the device id in a response).
    public var controllerMAC: [UInt8] { ConmonBytes.slice(full, 12, 6) }
    /// Bytes 12..<20 (device id in a response).
    public var deviceID: [UInt8] { ConmonBytes.slice(full, 12, 8) }
    /// The name at abs 30 (the polled device's name in DC's requests).
    public var name: String { (try? WireReader(full).cString(at: 30, maxLength: 256)) ?? "" }
    public var meteringPort: UInt16 { (try? blockOffset()).map { ConmonBytes.u16(full, $0 + 8) } ?? 0 }
    public var isStart: Bool { (try? blockOffset()).map { ConmonBytes.u16(full, $0 + 10) != 0 } ?? false }
    public var controllerIPv4: UInt32 { (try? blockOffset()).map { ConmonBytes.u32(full, $0 + 14) } ?? 0 }

    /// The device's answer, shaped like real devices' (status 0x0001, own device id at 12..<20, the name's padding
    /// byte, the word at P and the last 10 bytes zeroed, everything else echoed).
    public func response(deviceID: [UInt8]) -> CMCMeteringPoll {
        var b = body
        ConmonBytes.put(ConmonBytes.fixed(deviceID, 8), into: &b, at: 2)
        if let p = try? blockOffset() {
            // name padding: from the NUL after the name up to P
            var i = 20
            while i < p - 10, b[i] != 0 { i += 1 }
            for k in i..<(p - 10) { b[k] = 0 }
            b[p - 10] = 0; b[p - 9] = 0
            for k in (p + 10)..<min(b.count, p + 20) { b[k] = 0 }
        }
        return CMCMeteringPoll(protocolID: protocolID, transactionID: transactionID, status: ResultCode.success.rawValue,
                               body: b)
    }
}

/// Any CMC datagram.
public enum CMCPacket: Equatable, Hashable, Sendable {
    case registrationRequest(CMCRegistrationRequest)
    case registrationResponse(CMCRegistrationResponse)
    case meteringPoll(CMCMeteringPoll)
    /// Anything else, header and body kept raw.
    case other(PacketHeader, body: [UInt8])

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> CMCPacket {
        let (h, r) = try PacketHeader.decode(bytes)
        switch (h.opcode, h.status == 0) {
        case (CMCOpcode.registration, true): return .registrationRequest(try .decode(bytes))
        case (CMCOpcode.registration, false):
            // Error replies carry no body; keep them raw.
            if r.remaining == 0 { return .other(h, body: []) }
            return .registrationResponse(try .decode(bytes))
        case (CMCOpcode.meteringPoll, _): return .meteringPoll(try .decode(bytes))
        default: return .other(h, body: Array(bytes[r.offset..<r.end]))
        }
    }

    public func encode() -> [UInt8] {
        switch self {
        case let .registrationRequest(m): return m.encode()
        case let .registrationResponse(m): return m.encode()
        case let .meteringPoll(m): return m.encode()
        case let .other(h, body):
            var w = h.start(capacity: 10 + body.count)
            w.append(body)
            return PacketHeader.finish(w)
        }
    }

    static func header(_ bytes: [UInt8], opcode: UInt16, request: Bool) throws(WireError) -> (PacketHeader, WireReader) {
        let (h, r) = try PacketHeader.decode(bytes)
        guard h.opcode == opcode else { throw .unknownOpcode(h.opcode) }
        guard (h.status == 0) == request else { throw .invalidValue(field: "status", value: Int(h.status)) }
        return (h, r)
    }
}
