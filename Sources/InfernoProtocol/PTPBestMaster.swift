/// The best-master comparisons of both versions, as pure functions over the datasets a Sync (v1) or an Announce
/// (v2) carries. "Better" means: this clock should be the leader. docs/ptp.md §2.6 and §3.3.

/// What a v1 Sync says about its grandmaster and sender.
public struct PTPv1Dataset: Equatable, Hashable, Sendable {
    public var grandmaster: PTPv1ClockQuality
    public var grandmasterCommunicationTechnology: UInt8
    public var grandmasterUuid: [UInt8]
    public var grandmasterPortId: UInt16
    public var stepsRemoved: UInt16
    public var senderUuid: [UInt8]
    public var senderPortId: UInt16

    public init(grandmaster: PTPv1ClockQuality, grandmasterCommunicationTechnology: UInt8 = PTPv1.ethernet,
                grandmasterUuid: [UInt8], grandmasterPortId: UInt16, stepsRemoved: UInt16,
                senderUuid: [UInt8], senderPortId: UInt16) {
        self.grandmaster = grandmaster
        self.grandmasterCommunicationTechnology = grandmasterCommunicationTechnology
        self.grandmasterUuid = grandmasterUuid; self.grandmasterPortId = grandmasterPortId
        self.stepsRemoved = stepsRemoved; self.senderUuid = senderUuid; self.senderPortId = senderPortId
    }

    public init(sync s: PTPv1Sync) {
        self.init(grandmaster: s.grandmaster, grandmasterCommunicationTechnology: s.grandmasterCommunicationTechnology,
                  grandmasterUuid: s.grandmasterUuid, grandmasterPortId: s.grandmasterPortId,
                  stepsRemoved: s.localStepsRemoved, senderUuid: s.header.sourceUuid, senderPortId: s.header.sourcePortId)
    }
}

/// What a v2 Announce says about its grandmaster and sender.
public struct PTPv2Dataset: Equatable, Hashable, Sendable {
    public var priority1: UInt8
    public var clockClass: UInt8
    public var clockAccuracy: UInt8
    public var offsetScaledLogVariance: UInt16
    public var priority2: UInt8
    public var grandmasterIdentity: [UInt8]
    public var stepsRemoved: UInt16
    public var sender: PTPPortIdentity

    public init(priority1: UInt8, clockClass: UInt8, clockAccuracy: UInt8, offsetScaledLogVariance: UInt16,
                priority2: UInt8, grandmasterIdentity: [UInt8], stepsRemoved: UInt16, sender: PTPPortIdentity) {
        self.priority1 = priority1; self.clockClass = clockClass; self.clockAccuracy = clockAccuracy
        self.offsetScaledLogVariance = offsetScaledLogVariance; self.priority2 = priority2
        self.grandmasterIdentity = grandmasterIdentity; self.stepsRemoved = stepsRemoved; self.sender = sender
    }

    public init(announce a: PTPv2Announce) {
        self.init(priority1: a.grandmasterPriority1, clockClass: a.grandmasterClockClass,
                  clockAccuracy: a.grandmasterClockAccuracy, offsetScaledLogVariance: a.grandmasterOffsetScaledLogVariance,
                  priority2: a.grandmasterPriority2, grandmasterIdentity: a.grandmasterIdentity,
                  stepsRemoved: a.stepsRemoved, sender: a.header.sourcePortIdentity)
    }
}

public enum PTPBestMaster {
    /// 2002 identifier order: ATOM = GPS < NTP < HAND < INIT < DFLT < anything else.
    public static func identifierRank(_ id: [UInt8]) -> Int {
        switch id {
        case Array("ATOM".utf8), [0x47, 0x50, 0x53, 0]: return 1
        case [0x4E, 0x54, 0x50, 0]: return 2
        case Array("HAND".utf8): return 3
        case Array("INIT".utf8): return 4
        case Array("DFLT".utf8): return 5
        default: return 6
        }
    }

    /// Variances closer than this are equal (1588-2002).
    public static let v1VarianceThreshold = 256

    /// True when `a` should lead rather than `b` (IEEE 1588-2002 as ptpd-1 implements it, with the preferred
    /// flag dominating as Dante documents). Same grandmaster: fewer steps removed, then the lower sender.
    public static func isBetter(_ a: PTPv1Dataset, than b: PTPv1Dataset) -> Bool {
        let gmA = (a.grandmasterCommunicationTechnology, a.grandmasterUuid, a.grandmasterPortId)
        let gmB = (b.grandmasterCommunicationTechnology, b.grandmasterUuid, b.grandmasterPortId)
        if gmA.0 == gmB.0 && gmA.1 == gmB.1 && gmA.2 == gmB.2 {
            if a.stepsRemoved != b.stepsRemoved { return a.stepsRemoved < b.stepsRemoved }
            if a.senderUuid != b.senderUuid { return a.senderUuid.lexicographicallyPrecedes(b.senderUuid) }
            return a.senderPortId < b.senderPortId
        }
        let qa = a.grandmaster, qb = b.grandmaster
        if qa.preferred != qb.preferred { return qa.preferred }
        if qa.stratum != qb.stratum { return qa.stratum < qb.stratum }
        let ra = identifierRank(qa.identifier), rb = identifierRank(qb.identifier)
        if ra != rb { return ra < rb }
        if abs(Int(qa.variance) - Int(qb.variance)) > v1VarianceThreshold { return qa.variance < qb.variance }
        if qa.isBoundaryClock != qb.isBoundaryClock { return qa.isBoundaryClock }
        if gmA.0 != gmB.0 { return gmA.0 < gmB.0 }
        if gmA.1 != gmB.1 { return gmA.1.lexicographicallyPrecedes(gmB.1) }
        return gmA.2 < gmB.2
    }

    /// True when `a` should lead rather than `b` (IEEE 1588-2008 §9.3.4 dataset comparison).
    public static func isBetter(_ a: PTPv2Dataset, than b: PTPv2Dataset) -> Bool {
        if a.grandmasterIdentity == b.grandmasterIdentity {
            if a.stepsRemoved != b.stepsRemoved { return a.stepsRemoved < b.stepsRemoved }
            return a.sender < b.sender
        }
        let ka = (a.priority1, a.clockClass, a.clockAccuracy, a.offsetScaledLogVariance, a.priority2)
        let kb = (b.priority1, b.clockClass, b.clockAccuracy, b.offsetScaledLogVariance, b.priority2)
        if ka != kb { return ka < kb }
        return a.grandmasterIdentity.lexicographicallyPrecedes(b.grandmasterIdentity)
    }
}
