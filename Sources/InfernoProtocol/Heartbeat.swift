/// The heartbeat (start code 0xFFFE, multicast 224.0.0.233:8708), dante-protocol.md §6.7.
///
/// After the 32-byte conmon header (bytes 24–31 `00 08 00 01 10 00 00 00`) comes a list of blocks filling the rest
/// of the message. Each block: `size:u16` (including its 12-byte header) `| type:u16 | 0x0004:u16 | size−12:u16 |
/// counter:u16 | 0:u16 | payload[size−12]`.
public struct HeartbeatBlock: Equatable, Hashable, Sendable {
    public static let headerSize = 12
    public static let frequencyOffsetType: UInt16 = 0x8001
    public static let lockStateType: UInt16 = 0x8002

    public var type: UInt16
    public var counter: UInt16
    public var payload: [UInt8]
    /// The word at block offset 4 (0x0004 everywhere seen).
    public var word4: UInt16
    /// The word at block offset 10 (0 everywhere seen).
    public var word10: UInt16

    public init(type: UInt16, counter: UInt16, payload: [UInt8], word4: UInt16 = 4, word10: UInt16 = 0) {
        self.type = type
        self.counter = counter
        self.payload = payload
        self.word4 = word4
        self.word10 = word10
    }

    /// 0x8001: frequency offset in ppb (Inferno's only block; 16 bytes).
    public static func frequencyOffset(ppb: Int32, counter: UInt16) -> HeartbeatBlock {
        var w = WireWriter(); w.i32(ppb)
        return HeartbeatBlock(type: frequencyOffsetType, counter: counter, payload: w.bytes)
    }

    /// 0x8002: lock state (28 bytes as in Inferno's template; the state is the u16 at block offset 16).
    public static func lockState(_ state: HeartbeatLockState, counter: UInt16) -> HeartbeatBlock {
        var p = [UInt8](repeating: 0, count: 16)
        ConmonBytes.putU16(state.rawValue, into: &p, at: 4)
        return HeartbeatBlock(type: lockStateType, counter: counter, payload: p)
    }

    /// The frequency offset (ppb) of a 0x8001 block, else nil.
    public var frequencyOffsetPPB: Int32? {
        guard type == HeartbeatBlock.frequencyOffsetType, payload.count >= 4 else { return nil }
        return Int32(bitPattern: ConmonBytes.u32(payload, 0))
    }

    /// The lock state of a 0x8002 block (u16 at block offset 16), else nil.
    public var lockState: HeartbeatLockState? {
        guard type == HeartbeatBlock.lockStateType, payload.count >= 6 else { return nil }
        return HeartbeatLockState(rawValue: ConmonBytes.u16(payload, 4))
    }

    public var size: Int { HeartbeatBlock.headerSize + payload.count }
}

/// The 0x8002 lock-state word.
public struct HeartbeatLockState: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let locked = HeartbeatLockState(rawValue: 1)
    public static let unlocked = HeartbeatLockState(rawValue: 2)
}

public struct Heartbeat: Equatable, Hashable, Sendable {
    public static let classVersion: UInt16 = 0x0008
    public static let messageType: UInt16 = 0x0001
    public static let trailer: UInt32 = 0x1000_0000

    /// `startCode` is always written as 0xFFFE.
    public var header: ConmonHeader
    public var blocks: [HeartbeatBlock]

    public init(header: ConmonHeader, blocks: [HeartbeatBlock]) {
        self.header = header
        self.header.startCode = ConmonHeader.heartbeatStartCode
        self.blocks = blocks
    }

    /// Inferno's 48-byte heartbeat: one 0x8001 block whose counter is the sequence number.
    public init(deviceID: [UInt8], sequence: UInt16, frequencyOffsetPPB: Int32 = 0,
                lockState: HeartbeatLockState? = nil) {
        var blocks = [HeartbeatBlock.frequencyOffset(ppb: frequencyOffsetPPB, counter: sequence)]
        if let lockState { blocks.append(.lockState(lockState, counter: sequence)) }
        self.init(header: ConmonHeader(startCode: ConmonHeader.heartbeatStartCode, sequence: sequence,
                                       deviceID: deviceID, classVersion: Heartbeat.classVersion,
                                       messageType: Heartbeat.messageType, trailer: Heartbeat.trailer),
                  blocks: blocks)
    }

    public var frequencyOffsetPPB: Int32? { blocks.lazy.compactMap(\.frequencyOffsetPPB).first }
    public var lockState: HeartbeatLockState? { blocks.lazy.compactMap(\.lockState).first }

    /// Decodes a 0xFFFE datagram. Blocks must tile the content exactly: a block smaller than its 12-byte header,
    /// one running past the end, or one whose length word disagrees with its size is an error.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Heartbeat {
        let (header, content) = try ConmonHeader.decode(bytes)
        guard header.startCode == ConmonHeader.heartbeatStartCode else {
            throw .badMagic(expected: UInt32(ConmonHeader.heartbeatStartCode), found: UInt32(header.startCode))
        }
        var r = WireReader(content)
        var blocks: [HeartbeatBlock] = []
        while !r.isAtEnd {
            let at = r.offset
            let size = Int(try r.u16()), type = try r.u16(), w4 = try r.u16(), inner = Int(try r.u16())
            let counter = try r.u16(), w10 = try r.u16()
            guard size >= HeartbeatBlock.headerSize else {
                throw .invalidValue(field: "heartbeat block size", value: size)
            }
            guard size - HeartbeatBlock.headerSize <= r.remaining else {
                throw .truncated(offset: ConmonHeader.size + at, needed: size, available: r.remaining + 12)
            }
            guard inner == size - HeartbeatBlock.headerSize else {
                throw .badLength(declared: inner, actual: size - HeartbeatBlock.headerSize)
            }
            blocks.append(HeartbeatBlock(type: type, counter: counter, payload: try r.bytes(inner),
                                         word4: w4, word10: w10))
        }
        return Heartbeat(header: header, blocks: blocks)
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: blocks.reduce(0) { $0 + $1.size })
        for b in blocks {
            w.u16(UInt16(truncatingIfNeeded: b.size)); w.u16(b.type); w.u16(b.word4)
            w.u16(UInt16(truncatingIfNeeded: b.payload.count)); w.u16(b.counter); w.u16(b.word10)
            w.append(b.payload)
        }
        var h = header
        h.startCode = ConmonHeader.heartbeatStartCode
        return h.encode(content: w.bytes)
    }
}
