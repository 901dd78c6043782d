/// PTPv1 (IEEE 1588-2002) messages as Dante devices exchange them: a 40-byte header, then Sync / Delay_Req
/// (124 bytes, one body), Follow_Up (52), Delay_Resp (60). Management (≥ 60) is recognised and left alone.
/// v1 has no length field: a datagram shorter than its message's size is `.truncated`; extra bytes are ignored,
/// as every v1 implementation does. Offsets: docs/ptp.md §2.

public enum PTPv1 {
    public static let headerSize = 40
    public static let syncSize = 124
    public static let followUpSize = 52
    public static let delayRespSize = 60
    public static let managementSize = 60
    /// `_DFLT` padded with NULs to 16 bytes.
    public static let defaultSubdomain: [UInt8] = Array("_DFLT".utf8) + [UInt8](repeating: 0, count: 11)

    /// messageType (byte 20).
    public static let eventMessage: UInt8 = 1
    public static let generalMessage: UInt8 = 2

    /// control (byte 32).
    public enum Control: UInt8, Sendable {
        case sync = 0, delayReq = 1, followUp = 2, delayResp = 3, management = 4
    }

    /// flags (bytes 34–35).
    public static let flagLI61: UInt16 = 0x0001
    public static let flagLI59: UInt16 = 0x0002
    public static let flagBoundaryClock: UInt16 = 0x0004
    public static let flagAssist: UInt16 = 0x0008

    /// Communication technology 1 = Ethernet.
    public static let ethernet: UInt8 = 1
    /// The clock identifiers (4 ASCII bytes), in best-master order.
    public static let identifierDFLT: [UInt8] = Array("DFLT".utf8)
}

/// The 40-byte v1 header.
public struct PTPv1Header: Equatable, Hashable, Sendable {
    public var subdomain: [UInt8]
    public var messageType: UInt8
    public var sourceCommunicationTechnology: UInt8
    /// 6 bytes: the sender's MAC.
    public var sourceUuid: [UInt8]
    public var sourcePortId: UInt16
    public var sequenceId: UInt16
    public var control: PTPv1.Control
    public var flags: UInt16

    public init(subdomain: [UInt8] = PTPv1.defaultSubdomain, messageType: UInt8, sourceCommunicationTechnology: UInt8 = PTPv1.ethernet,
                sourceUuid: [UInt8], sourcePortId: UInt16, sequenceId: UInt16, control: PTPv1.Control, flags: UInt16 = 0) {
        self.subdomain = subdomain; self.messageType = messageType
        self.sourceCommunicationTechnology = sourceCommunicationTechnology
        self.sourceUuid = sourceUuid; self.sourcePortId = sourcePortId; self.sequenceId = sequenceId
        self.control = control; self.flags = flags
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> PTPv1Header {
        let vp = try r.u16()
        guard vp == 1 else { throw .unsupportedVersion(Int(vp)) }
        let vn = try r.u16()
        guard vn == 1 else { throw .invalidValue(field: "versionNetwork", value: Int(vn)) }
        let sub = try r.bytes(16)
        let mt = try r.u8()
        let tech = try r.u8()
        let uuid = try r.bytes(6)
        let port = try r.u16()
        let seq = try r.u16()
        let c = try r.u8()
        guard let control = PTPv1.Control(rawValue: c) else { throw .unknownOpcode(UInt16(c)) }
        try r.skip(1)
        let flags = try r.u16()
        try r.skip(4)
        return PTPv1Header(subdomain: sub, messageType: mt, sourceCommunicationTechnology: tech, sourceUuid: uuid,
                           sourcePortId: port, sequenceId: seq, control: control, flags: flags)
    }

    func encode(_ w: inout WireWriter) {
        w.u16(1); w.u16(1)
        w.append(Self.fixed(subdomain, 16)); w.u8(messageType); w.u8(sourceCommunicationTechnology)
        w.append(Self.fixed(sourceUuid, 6)); w.u16(sourcePortId); w.u16(sequenceId); w.u8(control.rawValue); w.u8(0)
        w.u16(flags); w.zeros(4)
    }

    static func fixed(_ b: [UInt8], _ n: Int) -> [UInt8] {
        b.count == n ? b : Array((b + [UInt8](repeating: 0, count: n)).prefix(n))
    }
}

/// The grandmaster and local clock fields a v1 Sync carries: what the 2002 best-master algorithm compares.
public struct PTPv1ClockQuality: Equatable, Hashable, Sendable {
    public var stratum: UInt8
    /// 4 ASCII bytes (ATOM, GPS\0, NTP\0, HAND, INIT, DFLT).
    public var identifier: [UInt8]
    /// Lower is better.
    public var variance: Int16
    public var preferred: Bool
    public var isBoundaryClock: Bool

    public init(stratum: UInt8, identifier: [UInt8] = PTPv1.identifierDFLT, variance: Int16, preferred: Bool,
                isBoundaryClock: Bool = false) {
        self.stratum = stratum; self.identifier = PTPv1Header.fixed(identifier, 4); self.variance = variance
        self.preferred = preferred; self.isBoundaryClock = isBoundaryClock
    }
}

/// Sync and Delay_Req (same 84-byte body after the header; gaps are zero).
public struct PTPv1Sync: Equatable, Hashable, Sendable {
    public var header: PTPv1Header
    public var originTimestamp: PTPTimestamp
    public var epochNumber: UInt16
    public var currentUTCOffset: Int16
    public var grandmasterCommunicationTechnology: UInt8
    public var grandmasterUuid: [UInt8]
    public var grandmasterPortId: UInt16
    public var grandmasterSequenceId: UInt16
    public var grandmaster: PTPv1ClockQuality
    public var syncInterval: Int8
    public var localClockVariance: Int16
    public var localStepsRemoved: UInt16
    public var localClockStratum: UInt8
    public var localClockIdentifier: [UInt8]
    public var parentCommunicationTechnology: UInt8
    public var parentUuid: [UInt8]
    public var parentPortField: UInt16
    public var estimatedMasterVariance: Int16
    public var estimatedMasterDrift: Int32
    public var utcReasonable: Bool

    public init(header: PTPv1Header, originTimestamp: PTPTimestamp, epochNumber: UInt16 = 0, currentUTCOffset: Int16 = 0,
                grandmasterCommunicationTechnology: UInt8 = PTPv1.ethernet, grandmasterUuid: [UInt8], grandmasterPortId: UInt16,
                grandmasterSequenceId: UInt16, grandmaster: PTPv1ClockQuality, syncInterval: Int8,
                localClockVariance: Int16, localStepsRemoved: UInt16, localClockStratum: UInt8,
                localClockIdentifier: [UInt8] = PTPv1.identifierDFLT, parentCommunicationTechnology: UInt8 = PTPv1.ethernet,
                parentUuid: [UInt8], parentPortField: UInt16, estimatedMasterVariance: Int16 = 0,
                estimatedMasterDrift: Int32 = 0, utcReasonable: Bool = false) {
        self.header = header; self.originTimestamp = originTimestamp; self.epochNumber = epochNumber
        self.currentUTCOffset = currentUTCOffset
        self.grandmasterCommunicationTechnology = grandmasterCommunicationTechnology
        self.grandmasterUuid = grandmasterUuid; self.grandmasterPortId = grandmasterPortId
        self.grandmasterSequenceId = grandmasterSequenceId; self.grandmaster = grandmaster
        self.syncInterval = syncInterval; self.localClockVariance = localClockVariance
        self.localStepsRemoved = localStepsRemoved; self.localClockStratum = localClockStratum
        self.localClockIdentifier = PTPv1Header.fixed(localClockIdentifier, 4)
        self.parentCommunicationTechnology = parentCommunicationTechnology; self.parentUuid = parentUuid
        self.parentPortField = parentPortField; self.estimatedMasterVariance = estimatedMasterVariance
        self.estimatedMasterDrift = estimatedMasterDrift; self.utcReasonable = utcReasonable
    }

    static func decodeBody(header: PTPv1Header, _ r: inout WireReader) throws(WireError) -> PTPv1Sync {
        let origin = try r.ptpV1Time(field: "originTimestamp")        // 40
        let epoch = try r.u16()                                       // 48
        let utc = Int16(bitPattern: try r.u16())                      // 50
        try r.skip(1)
        let gmTech = try r.u8()                                       // 53
        let gmUuid = try r.bytes(6)                                   // 54
        let gmPort = try r.u16()                                      // 60
        let gmSeq = try r.u16()                                       // 62
        try r.skip(3)
        let gmStratum = try r.u8()                                    // 67
        let gmId = try r.bytes(4)                                     // 68
        try r.skip(2)
        let gmVar = Int16(bitPattern: try r.u16())                    // 74
        try r.skip(1)
        let gmPref = try r.u8()                                       // 77
        try r.skip(1)
        let gmBC = try r.u8()                                         // 79
        try r.skip(3)
        let interval = Int8(bitPattern: try r.u8())                   // 83
        try r.skip(2)
        let localVar = Int16(bitPattern: try r.u16())                 // 86
        try r.skip(2)
        let steps = try r.u16()                                       // 90
        try r.skip(3)
        let localStratum = try r.u8()                                 // 95
        let localId = try r.bytes(4)                                  // 96
        try r.skip(1)
        let pTech = try r.u8()                                        // 101
        let pUuid = try r.bytes(6)                                    // 102
        try r.skip(2)
        let pPort = try r.u16()                                       // 110
        try r.skip(2)
        let emVar = Int16(bitPattern: try r.u16())                    // 114
        let emDrift = try r.i32()                                     // 116
        try r.skip(3)
        let utcOK = try r.u8()                                        // 123
        return PTPv1Sync(header: header, originTimestamp: origin, epochNumber: epoch, currentUTCOffset: utc,
                         grandmasterCommunicationTechnology: gmTech, grandmasterUuid: gmUuid, grandmasterPortId: gmPort,
                         grandmasterSequenceId: gmSeq,
                         grandmaster: PTPv1ClockQuality(stratum: gmStratum, identifier: gmId, variance: gmVar,
                                                        preferred: gmPref != 0, isBoundaryClock: gmBC != 0),
                         syncInterval: interval, localClockVariance: localVar, localStepsRemoved: steps,
                         localClockStratum: localStratum, localClockIdentifier: localId,
                         parentCommunicationTechnology: pTech, parentUuid: pUuid, parentPortField: pPort,
                         estimatedMasterVariance: emVar, estimatedMasterDrift: emDrift, utcReasonable: utcOK != 0)
    }

    func encodeBody(_ w: inout WireWriter) {
        w.ptpV1Time(originTimestamp); w.u16(epochNumber); w.u16(UInt16(bitPattern: currentUTCOffset)); w.u8(0)
        w.u8(grandmasterCommunicationTechnology); w.append(PTPv1Header.fixed(grandmasterUuid, 6))
        w.u16(grandmasterPortId); w.u16(grandmasterSequenceId); w.zeros(3)
        w.u8(grandmaster.stratum); w.append(grandmaster.identifier); w.zeros(2)
        w.u16(UInt16(bitPattern: grandmaster.variance)); w.u8(0); w.u8(grandmaster.preferred ? 1 : 0); w.u8(0)
        w.u8(grandmaster.isBoundaryClock ? 1 : 0); w.zeros(3)
        w.u8(UInt8(bitPattern: syncInterval)); w.zeros(2); w.u16(UInt16(bitPattern: localClockVariance)); w.zeros(2)
        w.u16(localStepsRemoved); w.zeros(3); w.u8(localClockStratum); w.append(localClockIdentifier); w.u8(0)
        w.u8(parentCommunicationTechnology); w.append(PTPv1Header.fixed(parentUuid, 6)); w.zeros(2)
        w.u16(parentPortField); w.zeros(2); w.u16(UInt16(bitPattern: estimatedMasterVariance))
        w.i32(estimatedMasterDrift); w.zeros(3); w.u8(utcReasonable ? 1 : 0)
    }
}

public struct PTPv1FollowUp: Equatable, Hashable, Sendable {
    public var header: PTPv1Header
    public var associatedSequenceId: UInt16
    public var preciseOriginTimestamp: PTPTimestamp
    public init(header: PTPv1Header, associatedSequenceId: UInt16, preciseOriginTimestamp: PTPTimestamp) {
        self.header = header; self.associatedSequenceId = associatedSequenceId
        self.preciseOriginTimestamp = preciseOriginTimestamp
    }
}

public struct PTPv1DelayResp: Equatable, Hashable, Sendable {
    public var header: PTPv1Header
    public var delayReceiptTimestamp: PTPTimestamp
    public var requestingSourceCommunicationTechnology: UInt8
    public var requestingSourceUuid: [UInt8]
    public var requestingSourcePortId: UInt16
    public var requestingSourceSequenceId: UInt16
    public init(header: PTPv1Header, delayReceiptTimestamp: PTPTimestamp,
                requestingSourceCommunicationTechnology: UInt8 = PTPv1.ethernet, requestingSourceUuid: [UInt8],
                requestingSourcePortId: UInt16, requestingSourceSequenceId: UInt16) {
        self.header = header; self.delayReceiptTimestamp = delayReceiptTimestamp
        self.requestingSourceCommunicationTechnology = requestingSourceCommunicationTechnology
        self.requestingSourceUuid = requestingSourceUuid; self.requestingSourcePortId = requestingSourcePortId
        self.requestingSourceSequenceId = requestingSourceSequenceId
    }
}

/// One decoded v1 datagram.
public enum PTPv1Message: Equatable, Hashable, Sendable {
    case sync(PTPv1Sync)
    case delayReq(PTPv1Sync)
    case followUp(PTPv1FollowUp)
    case delayResp(PTPv1DelayResp)
    /// Recognised, not interpreted (Dante control goes through conmon).
    case management(PTPv1Header)

    public var header: PTPv1Header {
        switch self {
        case .sync(let m), .delayReq(let m): return m.header
        case .followUp(let m): return m.header
        case .delayResp(let m): return m.header
        case .management(let h): return h
        }
    }

    /// Decodes one datagram. Checks the versions, the control code, the size the control needs, and that the
    /// messageType matches it (event for Sync/Delay_Req, general otherwise); timestamps need 0 ≤ ns < 10⁹.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> PTPv1Message {
        var r = WireReader(bytes)
        let h = try PTPv1Header.decode(&r)
        let need: Int
        switch h.control {
        case .sync, .delayReq: need = PTPv1.syncSize
        case .followUp: need = PTPv1.followUpSize
        case .delayResp: need = PTPv1.delayRespSize
        case .management: need = PTPv1.managementSize
        }
        guard bytes.count >= need else { throw .truncated(offset: bytes.count, needed: need - bytes.count, available: 0) }
        let event = h.control == .sync || h.control == .delayReq
        guard h.messageType == (event ? PTPv1.eventMessage : PTPv1.generalMessage) else {
            throw .invalidValue(field: "messageType", value: Int(h.messageType))
        }
        switch h.control {
        case .sync: return .sync(try PTPv1Sync.decodeBody(header: h, &r))
        case .delayReq: return .delayReq(try PTPv1Sync.decodeBody(header: h, &r))
        case .followUp:
            try r.skip(2)
            let assoc = try r.u16()
            return .followUp(PTPv1FollowUp(header: h, associatedSequenceId: assoc,
                                           preciseOriginTimestamp: try r.ptpV1Time(field: "preciseOriginTimestamp")))
        case .delayResp:
            let t = try r.ptpV1Time(field: "delayReceiptTimestamp")
            try r.skip(1)
            let tech = try r.u8()
            let uuid = try r.bytes(6)
            let port = try r.u16()
            let seq = try r.u16()
            return .delayResp(PTPv1DelayResp(header: h, delayReceiptTimestamp: t, requestingSourceCommunicationTechnology: tech,
                                             requestingSourceUuid: uuid, requestingSourcePortId: port,
                                             requestingSourceSequenceId: seq))
        case .management:
            return .management(h)
        }
    }

    /// Encodes with the header's fields as given (the caller sets messageType and control to match).
    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: PTPv1.syncSize)
        header.encode(&w)
        switch self {
        case .sync(let m), .delayReq(let m): m.encodeBody(&w)
        case .followUp(let m):
            w.u16(0); w.u16(m.associatedSequenceId); w.ptpV1Time(m.preciseOriginTimestamp)
        case .delayResp(let m):
            w.ptpV1Time(m.delayReceiptTimestamp); w.u8(0); w.u8(m.requestingSourceCommunicationTechnology)
            w.append(PTPv1Header.fixed(m.requestingSourceUuid, 6)); w.u16(m.requestingSourcePortId)
            w.u16(m.requestingSourceSequenceId)
        case .management:
            w.zeros(PTPv1.managementSize - PTPv1.headerSize)
        }
        return w.bytes
    }
}
