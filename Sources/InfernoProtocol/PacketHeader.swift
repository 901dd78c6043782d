/// The 10-byte header shared by ARC, CMC and flow control (dante-protocol.md §3.1).
///
/// `length` counts the whole datagram including the header. Decoding bounds the message by `length`:
/// trailing bytes beyond it are ignored, and a `length` below 10 or beyond the datagram is an error.
public struct PacketHeader: Equatable, Hashable, Sendable {
    public static let size = 10

    public var protocolID: UInt16
    public var length: UInt16
    public var transactionID: UInt16
    public var opcode: UInt16
    /// 0x0000 in requests, a `ResultCode` in responses.
    public var status: UInt16

    public init(protocolID: UInt16, length: UInt16 = 0, transactionID: UInt16, opcode: UInt16, status: UInt16 = 0) {
        self.protocolID = protocolID
        self.length = length
        self.transactionID = transactionID
        self.opcode = opcode
        self.status = status
    }

    public var isRequest: Bool { status == 0 }

    /// Decodes the header and returns a reader bounded to `length`, positioned at the body.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> (PacketHeader, WireReader) {
        var r = WireReader(bytes)
        let proto = try r.u16(), len = try r.u16(), txn = try r.u16(), op = try r.u16(), st = try r.u16()
        guard Int(len) >= size, Int(len) <= bytes.count else {
            throw .badLength(declared: Int(len), actual: bytes.count)
        }
        return (PacketHeader(protocolID: proto, length: len, transactionID: txn, opcode: op, status: st),
                WireReader(bytes, offset: size, end: Int(len)))
    }

    /// Writes the header with a placeholder length; call `finish` once the body is written.
    public func start(capacity: Int = 64) -> WireWriter {
        var w = WireWriter(capacity: capacity)
        w.u16(protocolID); w.u16(0); w.u16(transactionID); w.u16(opcode); w.u16(status)
        return w
    }

    /// Patches the length field and returns the datagram.
    public static func finish(_ w: consuming WireWriter) -> [UInt8] {
        var w = w
        w.setU16(UInt16(truncatingIfNeeded: w.count), at: 2)
        return w.bytes
    }
}

/// Result codes in the header's status field (§3.3).
public struct ResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ v: UInt16) { rawValue = v }

    public static let request = ResultCode(0x0000)
    public static let success = ResultCode(0x0001)
    /// Success, and more pages follow.
    public static let morePages = ResultCode(0x8112)
    public static let cmcWrongProtocol = ResultCode(0x0020)
    public static let error = ResultCode(0x0022)
    public static let unsupported = ResultCode(0x0030)
    public static let locked = ResultCode(0x0600)
    public static let flowNotFound = ResultCode(0x0103)
    public static let sampleRateMismatch = ResultCode(0x0301)
    public static let framesPerPacketTooLarge = ResultCode(0x0302)
    public static let tooManyFlows = ResultCode(0x0315)

    public var isSuccess: Bool { self == .success || self == .morePages }
    public var description: String { hex(rawValue) }
}

/// Protocol identifiers in the first u16 (§3.2).
public enum ProtocolID {
    public static let arcGeneric: UInt16 = 0x27FF
    public static let arcBrooklyn: UInt16 = 0x2729
    public static let arcAD4D: UInt16 = 0x2801
    public static let arcAVIO: UInt16 = 0x2809
    public static let cmc: UInt16 = 0x1200
    public static let flowControl: UInt16 = 0x1102
    public static let conmon: UInt16 = 0xFFFF
    public static let heartbeat: UInt16 = 0xFFFE

    /// ARC accepts any 0x27xx/0x28xx id and echoes it.
    public static func isARC(_ id: UInt16) -> Bool { id >> 8 == 0x27 || id >> 8 == 0x28 }
}

/// Well-known ports (§1). With a base port P, ARC = P, CMC = P+1, flow control = P+2, conmon requests = P+3.
public enum DantePorts {
    public static let arc: UInt16 = 4440
    public static let cmc: UInt16 = 8800
    public static let flowControl: UInt16 = 4455
    public static let conmonRequests: UInt16 = 8700
    public static let conmonMulticast: UInt16 = 8702
    public static let heartbeatMulticast: UInt16 = 8708
    public static let mdns: UInt16 = 5353
    /// 224.0.0.231, 224.0.0.233, 224.0.0.251 as host-order u32.
    public static let conmonGroup: UInt32 = 0xE000_00E7
    public static let heartbeatGroup: UInt32 = 0xE000_00E9
    public static let mdnsGroup: UInt32 = 0xE000_00FB
}
