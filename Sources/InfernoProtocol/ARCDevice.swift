/// ARC device-level bodies: 0x1000 channel counts (§4.4.1) and 0x1003 device info (§4.4.4).
/// (0x1001 set name and 0x1002 name are plain strings, handled in `ARCRequestBody`/`ARCResponseBody`.)

/// 0x1000 response body: a list of u16 words (§4.4.1). All words are kept so captures round-trip;
/// the ones with a known meaning have accessors.
public struct ARCChannelCounts: Equatable, Hashable, Sendable {
    public var words: [UInt16]

    public init(words: [UInt16]) { self.words = words }

    /// Inferno's 32-byte layout (§13.4): tx/rx counts, w7 = 8, w10 = 1, everything else 0.
    public static func inferno(tx: UInt16, rx: UInt16) -> ARCChannelCounts {
        var w = [UInt16](repeating: 0, count: 16)
        w[1] = tx; w[2] = rx; w[7] = 8; w[10] = 1
        return ARCChannelCounts(words: w)
    }

    /// A 34-byte body with plausible values in the words real devices fill (§4.4.1, §14.1 item 6):
    /// counts, flow limits, w9 = w10 = 1 (w10 must be non-zero for DC), and the lock word 0 (unlocked).
    public static func standard(tx: UInt16, rx: UInt16, maxTxFlows: UInt16, maxRxFlows: UInt16) -> ARCChannelCounts {
        var w = [UInt16](repeating: 0, count: 17)
        w[1] = tx; w[2] = rx; w[3] = tx; w[4] = rx
        w[5] = maxTxFlows; w[6] = maxRxFlows; w[7] = maxRxFlows; w[8] = rx
        w[9] = 1; w[10] = 1
        return ARCChannelCounts(words: w)
    }

    private func word(_ i: Int) -> UInt16 { i < words.count ? words[i] : 0 }

    /// w0, "capability flags" in netaudio (UNSURE).
    public var capabilityFlags: UInt16 { word(0) }
    /// w1: TX channel count.
    public var txChannelCount: UInt16 { word(1) }
    /// w2: RX channel count.
    public var rxChannelCount: UInt16 { word(2) }
    /// Body bytes 24..26 (abs 34..36): netaudio treats a non-zero value as "locked".
    public var lockWord: UInt16 { word(12) }
    public var isLocked: Bool { lockWord != 0 }

    func write(to w: inout WireWriter) { for x in words { w.u16(x) } }

    static func decode(_ r: inout WireReader) throws(WireError) -> ARCChannelCounts {
        guard r.remaining % 2 == 0 else { throw .invalidValue(field: "0x1000 body length", value: r.remaining) }
        var words: [UInt16] = []
        words.reserveCapacity(r.remaining / 2)
        while !r.isAtEnd { words.append(try r.u16()) }
        return ARCChannelCounts(words: words)
    }
}

/// 0x1003 response body: device names and board (§4.4.4).
///
/// Two real layouts exist. Decoding follows each layout's pointers; encoding computes every pointer
/// (Inferno's hard-coded 0x0090 pointer past the end of the packet is not reproduced).
public struct ARCDeviceInfo: Equatable, Hashable, Sendable {
    public enum Layout: Equatable, Hashable, Sendable {
        /// Brooklyn/DCM (LX-DANTE, AD4D) and Inferno: name pointers at body offsets 12/14/16, 38-byte fixed part.
        case brooklyn
        /// AVIO adapters: name pointers at body offsets 20/22/24, 50-byte fixed part.
        case avio
    }

    public var layout: Layout
    /// The current (user) device name.
    public var friendlyName: String
    /// The factory default name, e.g. "LX-DANTE-081258".
    public var factoryName: String
    /// Board / model string, e.g. "Audinate DCM", "DIOBT".
    public var boardName: String
    /// The ":702"/":705"/":800" string; nil when its pointer is 0.
    public var versionSuffix: String?
    /// The device's ARC protocol id (0x2729 Brooklyn, 0x2809 AVIO) [GUESS].
    public var arcProtocolID: UInt16
    /// The flow-control protocol id (0x1102 Brooklyn/Inferno, 0x1200 AVIO) [GUESS].
    public var flowControlProtocolID: UInt16

    public init(friendlyName: String, factoryName: String, boardName: String, versionSuffix: String? = ":705",
                arcProtocolID: UInt16 = ProtocolID.arcBrooklyn, flowControlProtocolID: UInt16 = ProtocolID.flowControl,
                layout: Layout = .brooklyn) {
        self.layout = layout
        self.friendlyName = friendlyName
        self.factoryName = factoryName
        self.boardName = boardName
        self.versionSuffix = versionSuffix
        self.arcProtocolID = arcProtocolID
        self.flowControlProtocolID = flowControlProtocolID
    }

    /// Body offsets of the fields that differ between the layouts.
    private struct Offsets {
        let fixedSize: Int, friendly: Int, factory: Int, friendly2: Int, arcProto: Int, flowProto: Int
    }
    private static func offsets(_ l: Layout) -> Offsets {
        switch l {
        case .brooklyn: Offsets(fixedSize: 38, friendly: 12, factory: 14, friendly2: 16, arcProto: 30, flowProto: 34)
        case .avio: Offsets(fixedSize: 50, friendly: 20, factory: 22, friendly2: 24, arcProto: 38, flowProto: 42)
        }
    }
    private static let boardPointer = 6, suffixPointer = 8

    func write(to w: inout WireWriter) {
        let o = Self.offsets(layout)
        let body = w.count
        var fixed = [UInt16](repeating: 0, count: o.fixedSize / 2)
        if layout == .avio {
            // Constant words seen in every AVIO capture (meaning unknown).
            fixed[0] = 0x001c; fixed[1] = 0x001c; fixed[2] = 0x0028; fixed[9] = 0x0500
            fixed[15] = 0x0a0a; fixed[17] = 0x0403; fixed[20] = 0x0204; fixed[22] = 0x1004
        }
        for x in fixed { w.u16(x) }
        // Names go in NUL-padded fields of at least 32 bytes (real devices use 32), then board and suffix.
        func field(_ s: String) -> UInt16 {
            let p = UInt16(truncatingIfNeeded: w.count)
            let n = s.utf8.count
            w.paddedString(s, size: max(32, n + 1))
            return p
        }
        let friendly = field(friendlyName), factory = field(factoryName)
        let board = UInt16(truncatingIfNeeded: w.count); w.cString(boardName)
        var suffix: UInt16 = 0
        if let versionSuffix { suffix = UInt16(truncatingIfNeeded: w.count); w.cString(versionSuffix) }
        w.setU16(board, at: body + Self.boardPointer)
        w.setU16(suffix, at: body + Self.suffixPointer)
        w.setU16(friendly, at: body + o.friendly)
        w.setU16(factory, at: body + o.factory)
        w.setU16(friendly, at: body + o.friendly2)
        w.setU16(arcProtocolID, at: body + o.arcProto)
        w.setU16(flowControlProtocolID, at: body + o.flowProto)
    }

    /// The layout is told by the first body word: 0x0000 in Brooklyn/Inferno responses, 0x001c in AVIO ones.
    static func decode(_ r: WireReader) throws(WireError) -> ARCDeviceInfo {
        let body = r.offset
        let layout: Layout = try r.u16(at: body) == 0 ? .brooklyn : .avio
        let o = offsets(layout)
        try r.check(body, o.fixedSize)
        func ptr(_ off: Int) throws(WireError) -> UInt16 { try r.u16(at: body + off) }
        return ARCDeviceInfo(
            friendlyName: try r.arcString(at: Int(try ptr(o.friendly)), field: "0x1003 friendly name"),
            factoryName: try r.arcString(at: Int(try ptr(o.factory)), field: "0x1003 factory name"),
            boardName: try r.arcString(at: Int(try ptr(boardPointer)), field: "0x1003 board name"),
            versionSuffix: try r.arcOptionalString(at: try ptr(suffixPointer), field: "0x1003 version suffix"),
            arcProtocolID: try ptr(o.arcProto), flowControlProtocolID: try ptr(o.flowProto), layout: layout)
    }
}
