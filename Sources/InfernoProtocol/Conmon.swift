/// Conmon ("control and monitoring") messages: the 32-byte header shared by settings, status and notification
/// packets (start code 0xFFFF, UDP 8700 unicast requests / 224.0.0.231:8702 multicast status) and by the
/// heartbeat (start code 0xFFFE, 224.0.0.233:8708). dante-protocol.md §6.
///
/// Decoding bounds the message by the header's `total_length`: trailing bytes beyond it are ignored, and a length
/// below 32 or beyond the datagram is an error. Message content is everything after byte 32.
public struct ConmonHeader: Equatable, Hashable, Sendable {
    public static let size = 32
    public static let conmonStartCode: UInt16 = 0xFFFF
    public static let heartbeatStartCode: UInt16 = 0xFFFE
    /// ASCII "Audinate", the only vendor string seen on the wire.
    public static let audinate: [UInt8] = Array("Audinate".utf8)

    /// 0xFFFF (conmon) or 0xFFFE (heartbeat); nothing else decodes.
    public var startCode: UInt16
    /// The sender's running packet counter.
    public var sequence: UInt16
    public var process: UInt16
    /// The sender's 8-byte id (EUI-64, or MAC + `00 00`). Encoded zero-padded/truncated to 8 bytes.
    public var deviceID: [UInt8]
    /// 8 bytes, normally "Audinate". Kept raw (not validated) so odd senders still decode.
    public var vendor: [UInt8]
    /// Bytes 24–25: 0x07xx for conmon (device-specific low byte), 0x0008 for the heartbeat.
    public var classVersion: UInt16
    /// Bytes 26–27.
    public var messageType: UInt16
    /// Bytes 28–31: 0 from devices, 0x00000064 in many controller requests, 0x10000000 in heartbeats.
    public var trailer: UInt32

    public init(startCode: UInt16 = ConmonHeader.conmonStartCode, sequence: UInt16 = 0, process: UInt16 = 0,
                deviceID: [UInt8], vendor: [UInt8] = ConmonHeader.audinate, classVersion: UInt16 = 0x072A,
                messageType: UInt16, trailer: UInt32 = 0) {
        self.startCode = startCode
        self.sequence = sequence
        self.process = process
        self.deviceID = deviceID
        self.vendor = vendor
        self.classVersion = classVersion
        self.messageType = messageType
        self.trailer = trailer
    }

    /// Decodes the header and returns the message content (bytes 32 ..< total_length).
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> (ConmonHeader, [UInt8]) {
        var r = WireReader(bytes)
        let start = try r.u16()
        guard start == conmonStartCode || start == heartbeatStartCode else {
            throw .badMagic(expected: UInt32(conmonStartCode), found: UInt32(start))
        }
        let len = Int(try r.u16())
        guard len >= size, len <= bytes.count else { throw .badLength(declared: len, actual: bytes.count) }
        let seq = try r.u16(), proc = try r.u16()
        let id = try r.bytes(8), vendor = try r.bytes(8)
        let cls = try r.u16(), type = try r.u16(), trailer = try r.u32()
        let header = ConmonHeader(startCode: start, sequence: seq, process: proc, deviceID: id, vendor: vendor,
                                  classVersion: cls, messageType: type, trailer: trailer)
        return (header, Array(bytes[size..<len]))
    }

    /// The id field netaudio and Dante Controller put in a model query addressed to device `deviceID`
    /// (§6.8): an EUI-64 `xx xx xx ff fe yy yy yy` collapses to its MAC + `00 00`; anything else keeps its first
    /// 6 bytes + `00 00`.
    public static func queryID(forDeviceID id: [UInt8]) -> [UInt8] {
        let b = ConmonBytes.fixed(id, 8)
        if b[3] == 0xff, b[4] == 0xfe { return [b[0], b[1], b[2], b[5], b[6], b[7], 0, 0] }
        return Array(b.prefix(6)) + [0, 0]
    }

    /// The datagram: this header (with `total_length` computed) followed by `content`.
    public func encode(content: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: ConmonHeader.size + content.count)
        w.u16(startCode)
        w.u16(UInt16(truncatingIfNeeded: ConmonHeader.size + content.count))
        w.u16(sequence); w.u16(process)
        w.append(ConmonBytes.fixed(deviceID, 8)); w.append(ConmonBytes.fixed(vendor, 8))
        w.u16(classVersion); w.u16(messageType); w.u32(trailer)
        w.append(content)
        return w.bytes
    }
}

/// Conmon message types (bytes 26–27) this module gives names to (§6.3, §6.6).
public enum ConmonMessageType {
    public static let interfaceStatus: UInt16 = 0x0011
    public static let interfaceConfig: UInt16 = 0x0013
    public static let clockStatus: UInt16 = 0x0020
    public static let clockConfig: UInt16 = 0x0021
    public static let boardInfo: UInt16 = 0x0060
    public static let boardInfoQuery: UInt16 = 0x0061
    public static let identify: UInt16 = 0x0063
    public static let sampleRateStatus: UInt16 = 0x0080
    public static let setSampleRate: UInt16 = 0x0081
    public static let encodingStatus: UInt16 = 0x0082
    public static let setEncoding: UInt16 = 0x0083
    public static let reboot: UInt16 = 0x0090
    public static let rebootAck: UInt16 = 0x0092
    public static let productInfo: UInt16 = 0x00C0
    public static let productInfoQuery: UInt16 = 0x00C1
    public static let routingReady: UInt16 = 0x0100
    public static let txChannelChange: UInt16 = 0x0101
    public static let rxChannelChange: UInt16 = 0x0102
    public static let txLabelChange: UInt16 = 0x0103
    public static let txFlowChange: UInt16 = 0x0104
    public static let rxFlowChange: UInt16 = 0x0105
    public static let aes67Config: UInt16 = 0x1006
    public static let aes67Status: UInt16 = 0x1007
    public static let settingsStatus: UInt16 = 0x100E
}

/// The content of a 0xFFFF conmon packet, by message type. Unknown types stay raw in `.other`, so
/// decode → encode reproduces every packet this decoder accepts.
///
/// Fixed-layout messages (queries, set rate/encoding, reboot, AES67, notifications) require their exact content
/// length; larger status messages keep their content raw and expose fields through accessors
/// (`BoardInfo`, `ProductInfo`, `InterfaceStatus`, `ClockStatus`, …).
public enum ConmonMessage: Equatable, Hashable, Sendable {
    case interfaceStatus(InterfaceStatus)                 // 0x0011
    case interfaceConfig(InterfaceConfigRequest)          // 0x0013
    case clockStatus(ClockStatus)                         // 0x0020
    case clockConfig(PreferredLeaderRequest)              // 0x0021
    case boardInfo(BoardInfo)                             // 0x0060
    case boardInfoQuery                                   // 0x0061
    case identify                                         // 0x0063
    case sampleRateStatus(ConmonChoiceStatus)             // 0x0080
    case setSampleRate(ConmonSetting)                     // 0x0081
    case encodingStatus(ConmonChoiceStatus)               // 0x0082
    case setEncoding(ConmonSetting)                       // 0x0083
    /// 0x0090; netaudio and DC send `00 01 00 00`.
    case reboot(argument: UInt32)
    /// 0x0092; real devices send 4 zero bytes.
    case rebootAck(argument: UInt32)
    case productInfo(ProductInfo)                         // 0x00C0
    case productInfoQuery                                 // 0x00C1
    case txChannelChange(ChannelBitmap)                   // 0x0101
    case rxChannelChange(ChannelBitmap)                   // 0x0102
    case txFlowChange(ChannelBitmap)                      // 0x0104
    case rxFlowChange(ChannelBitmap)                      // 0x0105
    case aes67Config(AES67Request)                        // 0x1006
    case aes67Status(AES67Status)                         // 0x1007
    case other(type: UInt16, content: [UInt8])

    public var messageType: UInt16 {
        typealias T = ConmonMessageType
        switch self {
        case .interfaceStatus: return T.interfaceStatus
        case .interfaceConfig: return T.interfaceConfig
        case .clockStatus: return T.clockStatus
        case .clockConfig: return T.clockConfig
        case .boardInfo: return T.boardInfo
        case .boardInfoQuery: return T.boardInfoQuery
        case .identify: return T.identify
        case .sampleRateStatus: return T.sampleRateStatus
        case .setSampleRate: return T.setSampleRate
        case .encodingStatus: return T.encodingStatus
        case .setEncoding: return T.setEncoding
        case .reboot: return T.reboot
        case .rebootAck: return T.rebootAck
        case .productInfo: return T.productInfo
        case .productInfoQuery: return T.productInfoQuery
        case .txChannelChange: return T.txChannelChange
        case .rxChannelChange: return T.rxChannelChange
        case .txFlowChange: return T.txFlowChange
        case .rxFlowChange: return T.rxFlowChange
        case .aes67Config: return T.aes67Config
        case .aes67Status: return T.aes67Status
        case let .other(type, _): return type
        }
    }

    /// Decodes `content` (the bytes after the 32-byte header) for message `type`.
    public static func decode(type: UInt16, content: [UInt8]) throws(WireError) -> ConmonMessage {
        typealias T = ConmonMessageType
        switch type {
        case T.interfaceStatus: return .interfaceStatus(try InterfaceStatus(content: content))
        case T.interfaceConfig: return .interfaceConfig(try InterfaceConfigRequest(content: content))
        case T.clockStatus: return .clockStatus(try ClockStatus(content: content))
        case T.clockConfig: return .clockConfig(try PreferredLeaderRequest(content: content))
        case T.boardInfo: return .boardInfo(try BoardInfo(content: content))
        case T.boardInfoQuery: try ConmonBytes.exact(content, 0); return .boardInfoQuery
        case T.identify: try ConmonBytes.exact(content, 0); return .identify
        case T.sampleRateStatus: return .sampleRateStatus(try ConmonChoiceStatus.decode(content))
        case T.setSampleRate: return .setSampleRate(try ConmonSetting.decode(content))
        case T.encodingStatus: return .encodingStatus(try ConmonChoiceStatus.decode(content))
        case T.setEncoding: return .setEncoding(try ConmonSetting.decode(content))
        case T.reboot:
            try ConmonBytes.exact(content, 4); return .reboot(argument: try WireReader(content).u32(at: 0))
        case T.rebootAck:
            try ConmonBytes.exact(content, 4); return .rebootAck(argument: try WireReader(content).u32(at: 0))
        case T.productInfo: return .productInfo(try ProductInfo(content: content))
        case T.productInfoQuery: try ConmonBytes.exact(content, 0); return .productInfoQuery
        case T.txChannelChange: return .txChannelChange(try ChannelBitmap.decode(content))
        case T.rxChannelChange: return .rxChannelChange(try ChannelBitmap.decode(content))
        case T.txFlowChange: return .txFlowChange(try ChannelBitmap.decode(content))
        case T.rxFlowChange: return .rxFlowChange(try ChannelBitmap.decode(content))
        case T.aes67Config: return .aes67Config(try AES67Request.decode(content))
        case T.aes67Status: return .aes67Status(try AES67Status.decode(content))
        default: return .other(type: type, content: content)
        }
    }

    /// The content bytes (everything after the 32-byte header).
    public func encodeContent() -> [UInt8] {
        switch self {
        case let .interfaceStatus(m): return m.content
        case let .interfaceConfig(m): return m.content
        case let .clockStatus(m): return m.content
        case let .clockConfig(m): return m.content
        case let .boardInfo(m): return m.content
        case .boardInfoQuery, .identify, .productInfoQuery: return []
        case let .sampleRateStatus(m), let .encodingStatus(m): return m.encode()
        case let .setSampleRate(m), let .setEncoding(m): return m.encode()
        case let .reboot(a), let .rebootAck(a): var w = WireWriter(); w.u32(a); return w.bytes
        case let .productInfo(m): return m.content
        case let .txChannelChange(m), let .rxChannelChange(m), let .txFlowChange(m), let .rxFlowChange(m):
            return m.encode()
        case let .aes67Config(m): return m.encode()
        case let .aes67Status(m): return m.encode()
        case let .other(_, content): return content
        }
    }
}

/// One 0xFFFF conmon datagram: header + typed message. `encode()` writes `message.messageType` into bytes 26–27
/// (whatever `header.messageType` says) and computes the length.
public struct ConmonPacket: Equatable, Hashable, Sendable {
    public var header: ConmonHeader
    public var message: ConmonMessage

    public init(header: ConmonHeader, message: ConmonMessage) {
        self.header = header
        self.message = message
        self.header.messageType = message.messageType
    }

    /// A device → network message with Inferno's class/version 0x072A and a zero trailer.
    public init(deviceID: [UInt8], sequence: UInt16, classVersion: UInt16 = 0x072A, trailer: UInt32 = 0,
                message: ConmonMessage) {
        self.init(header: ConmonHeader(sequence: sequence, deviceID: deviceID, classVersion: classVersion,
                                       messageType: message.messageType, trailer: trailer),
                  message: message)
    }

    /// Decodes a 0xFFFF packet. A 0xFFFE heartbeat is rejected with `.badMagic` (use `Heartbeat.decode`).
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> ConmonPacket {
        let (header, content) = try ConmonHeader.decode(bytes)
        guard header.startCode == ConmonHeader.conmonStartCode else {
            throw .badMagic(expected: UInt32(ConmonHeader.conmonStartCode), found: UInt32(header.startCode))
        }
        return ConmonPacket(header: header, message: try ConmonMessage.decode(type: header.messageType, content: content))
    }

    public func encode() -> [UInt8] {
        var h = header
        h.messageType = message.messageType
        return h.encode(content: message.encodeContent())
    }
}

// MARK: - Small fixed-layout messages

/// Content of 0x0081 (set sample rate) and 0x0083 (set encoding): `presence:u32 | value:u32` (8 bytes).
/// presence 1 = set, 0 = query (real DC probes with all zeros). The value is the rate in Hz or bits per sample.
public struct ConmonSetting: Equatable, Hashable, Sendable {
    public var presence: UInt32
    public var value: UInt32
    public init(presence: UInt32 = 1, value: UInt32) { self.presence = presence; self.value = value }

    public var isSet: Bool { presence != 0 }

    public static func decode(_ content: [UInt8]) throws(WireError) -> ConmonSetting {
        try ConmonBytes.exact(content, 8)
        let r = WireReader(content)
        return ConmonSetting(presence: try r.u32(at: 0), value: try r.u32(at: 4))
    }
    public func encode() -> [UInt8] { var w = WireWriter(); w.u32(presence); w.u32(value); return w.bytes }
}

/// Content of 0x0080 (sample-rate status) and 0x0082 (encoding status):
/// `00 18 | count:u16 | current:u32 | 0:u32 | 00 02 00 00 | option:u32 × count` [REAL].
public struct ConmonChoiceStatus: Equatable, Hashable, Sendable {
    public var current: UInt32
    public var options: [UInt32]
    /// Leading word, 0x0018 in every capture.
    public var word0: UInt16
    /// u32 at content 8 (0 in captures) and 12 (0x00020000 in captures).
    public var word8: UInt32
    public var word12: UInt32

    public init(current: UInt32, options: [UInt32], word0: UInt16 = 0x0018, word8: UInt32 = 0,
                word12: UInt32 = 0x0002_0000) {
        self.current = current; self.options = options
        self.word0 = word0; self.word8 = word8; self.word12 = word12
    }

    public static func decode(_ content: [UInt8]) throws(WireError) -> ConmonChoiceStatus {
        var r = WireReader(content)
        let w0 = try r.u16(), count = Int(try r.u16())
        let cur = try r.u32(), w8 = try r.u32(), w12 = try r.u32()
        guard content.count == 16 + 4 * count else {
            throw .countTooLarge(field: "options", count: count, max: (content.count - 16) / 4)
        }
        var opts: [UInt32] = []
        opts.reserveCapacity(count)
        for _ in 0..<count { opts.append(try r.u32()) }
        return ConmonChoiceStatus(current: cur, options: opts, word0: w0, word8: w8, word12: w12)
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 16 + 4 * options.count)
        w.u16(word0); w.u16(UInt16(truncatingIfNeeded: options.count))
        w.u32(current); w.u32(word8); w.u32(word12)
        for o in options { w.u32(o) }
        return w.bytes
    }
}

/// Content of 0x1006 (AES67 set/probe): `presence:u16 | enable:u16`. presence 1 = set, 0 = probe.
public struct AES67Request: Equatable, Hashable, Sendable {
    public var presence: UInt16
    public var enable: UInt16
    public init(presence: UInt16, enable: UInt16) { self.presence = presence; self.enable = enable }
    public static let probe = AES67Request(presence: 0, enable: 0)
    public static func set(_ on: Bool) -> AES67Request { AES67Request(presence: 1, enable: on ? 1 : 0) }

    public static func decode(_ content: [UInt8]) throws(WireError) -> AES67Request {
        try ConmonBytes.exact(content, 4)
        let r = WireReader(content)
        return AES67Request(presence: try r.u16(at: 0), enable: try r.u16(at: 2))
    }
    public func encode() -> [UInt8] { var w = WireWriter(); w.u16(presence); w.u16(enable); return w.bytes }
}

/// Content of 0x1007 (AES67 status): `state:u16 | 0:u16`. The state (its low byte is abs 0x21) is
/// 0 = off/off, 1 = on/off, 2 = off/on, 3 = on/on (current/after reboot).
public struct AES67Status: Equatable, Hashable, Sendable {
    public var state: UInt16
    public var reserved: UInt16
    public init(state: UInt16, reserved: UInt16 = 0) { self.state = state; self.reserved = reserved }
    public init(current: Bool, pending: Bool) { self.init(state: (current ? 1 : 0) | (pending ? 2 : 0)) }
    public var isEnabled: Bool { state & 1 != 0 }
    public var isEnabledAfterReboot: Bool { state & 2 != 0 }

    public static func decode(_ content: [UInt8]) throws(WireError) -> AES67Status {
        try ConmonBytes.exact(content, 4)
        let r = WireReader(content)
        return AES67Status(state: try r.u16(at: 0), reserved: try r.u16(at: 2))
    }
    public func encode() -> [UInt8] { var w = WireWriter(); w.u16(state); w.u16(reserved); return w.bytes }
}

/// Content of the change notifications 0x0101/0x0102/0x0104/0x0105: `length:u16 | bitmap[length]`.
/// Bit `i % 8` of byte `i / 8` stands for channel number `i + 1` (1-based). The real and Inferno form for up to
/// 8 channels is `00 01 MM`; longer bitmaps extend the same encoding (the exact real form is UNSURE, §6.6).
public struct ChannelBitmap: Equatable, Hashable, Sendable {
    public var bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The smallest bitmap (at least one byte) naming `channels` (1-based; values < 1 are ignored).
    public init<S: Sequence>(channels: S) where S.Element == Int {
        let valid = channels.filter { $0 >= 1 && $0 <= 8 * 0xFFFF }
        var b = [UInt8](repeating: 0, count: max(1, ((valid.max() ?? 1) + 7) / 8))
        for c in valid { b[(c - 1) / 8] |= UInt8(1 << ((c - 1) % 8)) }
        bytes = b
    }

    /// 1-based channel numbers whose bit is set, ascending.
    public var channels: [Int] {
        var out: [Int] = []
        for (i, byte) in bytes.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (1 << bit) != 0 { out.append(i * 8 + bit + 1) }
        }
        return out
    }

    public static func decode(_ content: [UInt8]) throws(WireError) -> ChannelBitmap {
        let n = Int(try WireReader(content).u16(at: 0))
        guard content.count == 2 + n else { throw .badLength(declared: 2 + n, actual: content.count) }
        return ChannelBitmap(bytes: Array(content[2...]))
    }
    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 2 + bytes.count)
        w.u16(UInt16(truncatingIfNeeded: bytes.count)); w.append(bytes)
        return w.bytes
    }
}

// MARK: - Helpers

/// Internal helpers shared by the conmon, CMC and flow-control codecs.
enum ConmonBytes {
    /// `content` must be exactly `n` bytes.
    static func exact(_ content: [UInt8], _ n: Int) throws(WireError) {
        guard content.count == n else { throw .badLength(declared: n, actual: content.count) }
    }

    /// `content` must be at least `n` bytes.
    static func atLeast(_ content: [UInt8], _ n: Int) throws(WireError) {
        guard content.count >= n else { throw .truncated(offset: 0, needed: n, available: content.count) }
    }

    /// `b` zero-padded or truncated to exactly `n` bytes.
    static func fixed(_ b: [UInt8], _ n: Int) -> [UInt8] {
        b.count == n ? b : Array(b.prefix(n)) + [UInt8](repeating: 0, count: max(0, n - b.count))
    }

    /// Overwrites `content[at ..< at + bytes.count]`, growing `content` with zeros if needed.
    static func put(_ bytes: [UInt8], into content: inout [UInt8], at i: Int) {
        if content.count < i + bytes.count { content += [UInt8](repeating: 0, count: i + bytes.count - content.count) }
        for (k, b) in bytes.enumerated() { content[i + k] = b }
    }
    static func putU16(_ v: UInt16, into c: inout [UInt8], at i: Int) { put([UInt8(v >> 8), UInt8(v & 0xff)], into: &c, at: i) }
    static func putU32(_ v: UInt32, into c: inout [UInt8], at i: Int) {
        put([UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)], into: &c, at: i)
    }
    /// Text zero-padded/truncated to `size` bytes.
    static func putText(_ s: String, into c: inout [UInt8], at i: Int, size: Int) {
        put(fixed(Array(s.utf8), size), into: &c, at: i)
    }

    // Non-throwing reads for accessors on content whose minimum length was validated at decode.
    static func u16(_ c: [UInt8], _ i: Int) -> UInt16 {
        i + 2 <= c.count ? UInt16(c[i]) << 8 | UInt16(c[i + 1]) : 0
    }
    static func u32(_ c: [UInt8], _ i: Int) -> UInt32 {
        i + 4 <= c.count ? UInt32(c[i]) << 24 | UInt32(c[i + 1]) << 16 | UInt32(c[i + 2]) << 8 | UInt32(c[i + 3]) : 0
    }
    static func slice(_ c: [UInt8], _ i: Int, _ n: Int) -> [UInt8] {
        i + n <= c.count ? Array(c[i..<i + n]) : [UInt8](repeating: 0, count: n)
    }
    /// NUL-terminated text inside a fixed field (invalid UTF-8 repaired, as `WireReader.paddedString`).
    static func text(_ c: [UInt8], _ i: Int, _ size: Int) -> String {
        guard i < c.count else { return "" }
        let end = min(c.count, i + size)
        var j = i
        while j < end, c[j] != 0 { j += 1 }
        return String(decoding: c[i..<j], as: UTF8.self)
    }
}
