/// ARC flow tables and port ranges: 0x2200 (TX flows), 0x3200 (RX flows), 0x3300 (media port ranges),
/// dante-protocol.md §4.4.9 and §4.4.15.

/// The fixed start of one flow record. Real records continue with channel lists, address records and
/// sub-blocks (§4.4.15) that are only partly understood and are not decoded here.
public struct ARCFlowSummary: Equatable, Hashable, Sendable {
    public var flowID: UInt16
    /// 0x0011 unicast TX flow, 0x0001 RX flow, 0x0002 multicast [GUESS].
    public var flowType: UInt16
    public var sampleRate: UInt32
    /// 24 in every capture (bit depth).
    public var encoding: UInt32

    public static let size = 12

    public init(flowID: UInt16, flowType: UInt16, sampleRate: UInt32, encoding: UInt32) {
        self.flowID = flowID; self.flowType = flowType; self.sampleRate = sampleRate; self.encoding = encoding
    }
}

/// 0x2200 / 0x3200 response body: body[0] = flow slots, body[1] = active count, then `count` absolute pointers
/// to flow records (the real layout; netaudio's (number, pointer) reading mis-parses it, §4.4.15).
public struct ARCFlowTable: Equatable, Hashable, Sendable {
    public var slots: UInt8
    public var flows: [ARCFlowSummary]

    public init(slots: UInt8, flows: [ARCFlowSummary] = []) { self.slots = slots; self.flows = flows }

    func write(to w: inout WireWriter) {
        w.u8(slots); w.u8(UInt8(truncatingIfNeeded: flows.count))
        let table = w.count
        w.zeros(2 * flows.count)
        for (k, f) in flows.enumerated() {
            w.setU16(UInt16(truncatingIfNeeded: w.count), at: table + 2 * k)
            w.u16(f.flowID); w.u16(f.flowType); w.u32(f.sampleRate); w.u32(f.encoding)
        }
    }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCFlowTable {
        let slots = try r.u8(), n = Int(try r.u8())
        try r.checkRecords(n, size: 2, field: "flow pointers")
        var flows: [ARCFlowSummary] = []
        flows.reserveCapacity(n)
        for _ in 0..<n {
            let p = Int(try r.u16())
            guard p >= ARCLimits.minPointer, p + ARCFlowSummary.size <= r.end else {
                throw .badPointer(field: "flow record", pointer: p)
            }
            flows.append(ARCFlowSummary(flowID: try r.u16(at: p), flowType: try r.u16(at: p + 2),
                                        sampleRate: try r.u32(at: p + 4), encoding: try r.u32(at: p + 8)))
        }
        return ARCFlowTable(slots: slots, flows: flows)
    }
}

/// One media receive port range from 0x3300 (e.g. 14336–14719 unicast, 14720–14847 multicast on LX-DANTE).
public struct ARCPortRange: Equatable, Hashable, Sendable {
    public var first: UInt16
    public var last: UInt16
    public init(first: UInt16, last: UInt16) { self.first = first; self.last = last }
}
