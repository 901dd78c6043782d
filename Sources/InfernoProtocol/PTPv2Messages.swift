/// PTPv2 (IEEE 1588-2008) messages for the E2E default profile over UDPv4: a 34-byte header, then Sync /
/// Delay_Req (44), Follow_Up (44), Delay_Resp (54), Announce (64 + TLVs). Other message types (peer delay,
/// signaling, management) are recognised by their header and not interpreted. messageLength must fit the
/// datagram and cover the body; bytes past it are ignored (UDP padding). Offsets: docs/ptp.md §3.

public enum PTPv2 {
    public static let headerSize = 34
    public static let syncSize = 44
    public static let followUpSize = 44
    public static let delayRespSize = 54
    public static let announceSize = 64

    public enum MessageType: UInt8, Sendable {
        case sync = 0x0, delayReq = 0x1, pdelayReq = 0x2, pdelayResp = 0x3
        case followUp = 0x8, delayResp = 0x9, pdelayRespFollowUp = 0xA, announce = 0xB, signaling = 0xC, management = 0xD
        public var isEvent: Bool { rawValue < 0x8 }
        /// controlField for this type (1588-2008 Table 23).
        public var control: UInt8 {
            switch self {
            case .sync: return 0
            case .delayReq: return 1
            case .followUp: return 2
            case .delayResp: return 3
            case .management: return 4
            default: return 5
            }
        }
    }

    // Flags: byte 6 in the high byte, byte 7 in the low byte of the u16.
    public static let flagTwoStep: UInt16 = 0x0200
    public static let flagUnicast: UInt16 = 0x0400
    public static let flagLI61: UInt16 = 0x0001
    public static let flagLI59: UInt16 = 0x0002
    public static let flagUTCOffsetValid: UInt16 = 0x0004
    public static let flagPTPTimescale: UInt16 = 0x0008
    public static let flagTimeTraceable: UInt16 = 0x0010
    public static let flagFrequencyTraceable: UInt16 = 0x0020

    /// timeSource INTERNAL_OSCILLATOR.
    public static let timeSourceInternalOscillator: UInt8 = 0xA0
}

/// An 8-byte clockIdentity plus a port number.
public struct PTPPortIdentity: Equatable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var clockIdentity: [UInt8]
    public var portNumber: UInt16
    public init(clockIdentity: [UInt8], portNumber: UInt16) {
        self.clockIdentity = PTPv1Header.fixed(clockIdentity, 8); self.portNumber = portNumber
    }
    /// The EUI-64 of a MAC (FF FE in the middle), as Dante and linuxptp build v2 identities.
    public static func eui64(mac: [UInt8]) -> [UInt8] {
        let m = PTPv1Header.fixed(mac, 6)
        return [m[0], m[1], m[2], 0xFF, 0xFE, m[3], m[4], m[5]]
    }
    public static func < (a: Self, b: Self) -> Bool {
        if a.clockIdentity != b.clockIdentity { return a.clockIdentity.lexicographicallyPrecedes(b.clockIdentity) }
        return a.portNumber < b.portNumber
    }
    /// ptp4l's spelling: `001122.fffe.334455-1`.
    public var description: String { "\(PTPPortIdentity.text(clockIdentity))-\(portNumber)" }
    public static func text(_ id: [UInt8]) -> String {
        func h(_ b: UInt8) -> String { let s = String(b, radix: 16); return b < 16 ? "0" + s : s }
        let p = id.map(h)
        guard p.count == 8 else { return p.joined() }
        return p[0..<3].joined() + "." + p[3..<5].joined() + "." + p[5..<8].joined()
    }
}

public struct PTPv2Header: Equatable, Hashable, Sendable {
    public var messageType: PTPv2.MessageType
    public var transportSpecific: UInt8
    public var minorVersion: UInt8
    public var messageLength: UInt16
    public var domainNumber: UInt8
    public var flags: UInt16
    /// ns × 2¹⁶.
    public var correctionField: Int64
    public var sourcePortIdentity: PTPPortIdentity
    public var sequenceId: UInt16
    public var controlField: UInt8
    public var logMessageInterval: Int8

    public init(messageType: PTPv2.MessageType, messageLength: UInt16 = 0, domainNumber: UInt8 = 0, flags: UInt16 = 0,
                correctionField: Int64 = 0, sourcePortIdentity: PTPPortIdentity, sequenceId: UInt16,
                controlField: UInt8? = nil, logMessageInterval: Int8, transportSpecific: UInt8 = 0, minorVersion: UInt8 = 0) {
        self.messageType = messageType; self.transportSpecific = transportSpecific; self.minorVersion = minorVersion
        self.messageLength = messageLength; self.domainNumber = domainNumber; self.flags = flags
        self.correctionField = correctionField; self.sourcePortIdentity = sourcePortIdentity; self.sequenceId = sequenceId
        self.controlField = controlField ?? messageType.control; self.logMessageInterval = logMessageInterval
    }

    /// The correction in whole ns (rounded towards −∞).
    public var correctionNs: Int64 { correctionField >> 16 }

    static func decode(_ r: inout WireReader) throws(WireError) -> PTPv2Header {
        let b0 = try r.u8()
        let b1 = try r.u8()
        guard b1 & 0x0F == 2 else { throw .unsupportedVersion(Int(b1 & 0x0F)) }
        guard let mt = PTPv2.MessageType(rawValue: b0 & 0x0F) else { throw .unknownOpcode(UInt16(b0 & 0x0F)) }
        let len = try r.u16()
        let domain = try r.u8()
        try r.skip(1)
        let flags = try r.u16()
        let corr = Int64(bitPattern: try r.u64())
        try r.skip(4)
        let id = try r.bytes(8)
        let port = try r.u16()
        let seq = try r.u16()
        let control = try r.u8()
        let log = Int8(bitPattern: try r.u8())
        return PTPv2Header(messageType: mt, messageLength: len, domainNumber: domain, flags: flags, correctionField: corr,
                           sourcePortIdentity: PTPPortIdentity(clockIdentity: id, portNumber: port), sequenceId: seq,
                           controlField: control, logMessageInterval: log, transportSpecific: b0 >> 4, minorVersion: b1 >> 4)
    }

    func encode(_ w: inout WireWriter, length: Int) {
        w.u8(transportSpecific << 4 | messageType.rawValue); w.u8(minorVersion << 4 | 2); w.u16(UInt16(length))
        w.u8(domainNumber); w.u8(0); w.u16(flags); w.u64(UInt64(bitPattern: correctionField)); w.zeros(4)
        w.append(sourcePortIdentity.clockIdentity); w.u16(sourcePortIdentity.portNumber); w.u16(sequenceId)
        w.u8(controlField); w.u8(UInt8(bitPattern: logMessageInterval))
    }
}

/// The Announce body: what the 2008 best-master algorithm compares.
public struct PTPv2Announce: Equatable, Hashable, Sendable {
    public var header: PTPv2Header
    public var originTimestamp: PTPTimestamp
    public var currentUtcOffset: Int16
    public var grandmasterPriority1: UInt8
    public var grandmasterClockClass: UInt8
    public var grandmasterClockAccuracy: UInt8
    public var grandmasterOffsetScaledLogVariance: UInt16
    public var grandmasterPriority2: UInt8
    public var grandmasterIdentity: [UInt8]
    public var stepsRemoved: UInt16
    public var timeSource: UInt8

    public init(header: PTPv2Header, originTimestamp: PTPTimestamp = PTPTimestamp(seconds: 0, nanoseconds: 0),
                currentUtcOffset: Int16 = 0, grandmasterPriority1: UInt8, grandmasterClockClass: UInt8,
                grandmasterClockAccuracy: UInt8, grandmasterOffsetScaledLogVariance: UInt16, grandmasterPriority2: UInt8,
                grandmasterIdentity: [UInt8], stepsRemoved: UInt16, timeSource: UInt8) {
        self.header = header; self.originTimestamp = originTimestamp; self.currentUtcOffset = currentUtcOffset
        self.grandmasterPriority1 = grandmasterPriority1; self.grandmasterClockClass = grandmasterClockClass
        self.grandmasterClockAccuracy = grandmasterClockAccuracy
        self.grandmasterOffsetScaledLogVariance = grandmasterOffsetScaledLogVariance
        self.grandmasterPriority2 = grandmasterPriority2; self.grandmasterIdentity = PTPv1Header.fixed(grandmasterIdentity, 8)
        self.stepsRemoved = stepsRemoved; self.timeSource = timeSource
    }
}

public struct PTPv2DelayResp: Equatable, Hashable, Sendable {
    public var header: PTPv2Header
    public var receiveTimestamp: PTPTimestamp
    public var requestingPortIdentity: PTPPortIdentity
    public init(header: PTPv2Header, receiveTimestamp: PTPTimestamp, requestingPortIdentity: PTPPortIdentity) {
        self.header = header; self.receiveTimestamp = receiveTimestamp; self.requestingPortIdentity = requestingPortIdentity
    }
}

public enum PTPv2Message: Equatable, Hashable, Sendable {
    /// Sync, Delay_Req and Follow_Up: a header and one timestamp.
    case sync(PTPv2Header, originTimestamp: PTPTimestamp)
    case delayReq(PTPv2Header, originTimestamp: PTPTimestamp)
    case followUp(PTPv2Header, preciseOriginTimestamp: PTPTimestamp)
    case delayResp(PTPv2DelayResp)
    case announce(PTPv2Announce)
    /// Peer delay, signaling, management: recognised, not interpreted.
    case other(PTPv2Header)

    public var header: PTPv2Header {
        switch self {
        case .sync(let h, _), .delayReq(let h, _), .followUp(let h, _), .other(let h): return h
        case .delayResp(let m): return m.header
        case .announce(let m): return m.header
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> PTPv2Message {
        var r = WireReader(bytes)
        let h = try PTPv2Header.decode(&r)
        let len = Int(h.messageLength)
        guard len <= bytes.count else { throw .badLength(declared: len, actual: bytes.count) }
        let need: Int
        switch h.messageType {
        case .sync, .delayReq, .followUp: need = PTPv2.syncSize
        case .delayResp: need = PTPv2.delayRespSize
        case .announce: need = PTPv2.announceSize
        default: need = PTPv2.headerSize
        }
        guard len >= need else { throw .badLength(declared: len, actual: need) }
        r = WireReader(bytes, offset: PTPv2.headerSize, end: len)
        switch h.messageType {
        case .sync: return .sync(h, originTimestamp: try r.ptpV2Time(field: "originTimestamp"))
        case .delayReq: return .delayReq(h, originTimestamp: try r.ptpV2Time(field: "originTimestamp"))
        case .followUp: return .followUp(h, preciseOriginTimestamp: try r.ptpV2Time(field: "preciseOriginTimestamp"))
        case .delayResp:
            let t = try r.ptpV2Time(field: "receiveTimestamp")
            let id = try r.bytes(8)
            let port = try r.u16()
            return .delayResp(PTPv2DelayResp(header: h, receiveTimestamp: t,
                                             requestingPortIdentity: PTPPortIdentity(clockIdentity: id, portNumber: port)))
        case .announce:
            let t = try r.ptpV2Time(field: "originTimestamp")
            let utc = Int16(bitPattern: try r.u16())
            try r.skip(1)
            let p1 = try r.u8()
            let cls = try r.u8()
            let acc = try r.u8()
            let v = try r.u16()
            let p2 = try r.u8()
            let gm = try r.bytes(8)
            let steps = try r.u16()
            let src = try r.u8()
            return .announce(PTPv2Announce(header: h, originTimestamp: t, currentUtcOffset: utc, grandmasterPriority1: p1,
                                           grandmasterClockClass: cls, grandmasterClockAccuracy: acc,
                                           grandmasterOffsetScaledLogVariance: v, grandmasterPriority2: p2,
                                           grandmasterIdentity: gm, stepsRemoved: steps, timeSource: src))
        default:
            return .other(h)
        }
    }

    /// Encodes with messageLength = the body's size, or the header's own messageLength when that is larger (the
    /// bytes past the body, e.g. TLVs, come out as zeros).
    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: PTPv2.announceSize)
        switch self {
        case .sync(let h, let t), .delayReq(let h, let t), .followUp(let h, let t):
            h.encode(&w, length: PTPv2.syncSize); w.ptpV2Time(t)
        case .delayResp(let m):
            m.header.encode(&w, length: PTPv2.delayRespSize); w.ptpV2Time(m.receiveTimestamp)
            w.append(m.requestingPortIdentity.clockIdentity); w.u16(m.requestingPortIdentity.portNumber)
        case .announce(let m):
            m.header.encode(&w, length: PTPv2.announceSize); w.ptpV2Time(m.originTimestamp)
            w.u16(UInt16(bitPattern: m.currentUtcOffset)); w.u8(0); w.u8(m.grandmasterPriority1)
            w.u8(m.grandmasterClockClass); w.u8(m.grandmasterClockAccuracy); w.u16(m.grandmasterOffsetScaledLogVariance)
            w.u8(m.grandmasterPriority2); w.append(m.grandmasterIdentity); w.u16(m.stepsRemoved); w.u8(m.timeSource)
        case .other(let h):
            h.encode(&w, length: PTPv2.headerSize)
        }
        let declared = Int(header.messageLength)
        if declared > w.count {
            w.setU16(UInt16(declared), at: 2)
            w.pad(to: declared)
        }
        return w.bytes
    }
}
