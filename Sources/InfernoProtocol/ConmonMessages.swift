/// Conmon status and configuration messages whose layout is only partly known. Each keeps its content raw (so
/// decode → encode is lossless, stale bytes and all) and exposes the known fields as accessors that read and write
/// in place. Offsets in comments are content offsets (abs − 32) unless marked abs. dante-protocol.md §6.4–6.9.

/// 0x0060 "dante model" / board info (§6.4). At least 188 content bytes (up to the 0xBB flag byte); Inferno sends
/// 200, an AVIO-BT 270.
public struct BoardInfo: Equatable, Hashable, Sendable {
    public static let minimumContent = 0xBC
    public var content: [UInt8]

    public init(content: [UInt8]) throws(WireError) {
        try ConmonBytes.atLeast(content, BoardInfo.minimumContent)
        self.content = content
    }

    /// A 200-byte board info as Inferno lays it out, with the given fields.
    public init(boardCodename: String, boardName: String, firmwareVersion: [UInt8] = [0, 3, 0, 0],
                hardwareVersion: [UInt8] = [1, 3, 0, 3], bootVersion: [UInt8] = [1, 0, 0, 0],
                featureFlags: UInt32 = 0x0000_1000, infoRequestFlag: UInt8 = 0x1F) {
        content = [UInt8](repeating: 0, count: 200)
        self.firmwareVersion = firmwareVersion
        self.hardwareVersion = hardwareVersion
        self.boardCodename = boardCodename
        self.featureFlags = featureFlags
        content[0x27] = 7
        self.bootVersion = bootVersion
        self.boardName = boardName
        self.infoRequestFlag = infoRequestFlag
    }

    /// [4] at 0x00 (abs 32).
    public var firmwareVersion: [UInt8] {
        get { ConmonBytes.slice(content, 0x00, 4) }
        set { ConmonBytes.put(ConmonBytes.fixed(newValue, 4), into: &content, at: 0x00) }
    }
    /// [4] at 0x04 (abs 36).
    public var hardwareVersion: [UInt8] {
        get { ConmonBytes.slice(content, 0x04, 4) }
        set { ConmonBytes.put(ConmonBytes.fixed(newValue, 4), into: &content, at: 0x04) }
    }
    /// 8-byte text at 0x0C (abs 0x2C), e.g. "PCIe", "Bklyn2", "DIOBT". netaudio's "board codename".
    public var boardCodename: String {
        get { ConmonBytes.text(content, 0x0C, 8) }
        set { ConmonBytes.putText(newValue, into: &content, at: 0x0C, size: 8) }
    }
    /// u32 at 0x14 (abs 52).
    public var featureFlags: UInt32 {
        get { ConmonBytes.u32(content, 0x14) }
        set { ConmonBytes.putU32(newValue, into: &content, at: 0x14) }
    }
    /// [4] at 0x28 (abs 72).
    public var bootVersion: [UInt8] {
        get { ConmonBytes.slice(content, 0x28, 4) }
        set { ConmonBytes.put(ConmonBytes.fixed(newValue, 4), into: &content, at: 0x28) }
    }
    /// Text at 0x38 (abs 0x58–0x97, the 64 bytes netaudio reads), e.g. "Brooklyn II". netaudio's "board name".
    public var boardName: String {
        get { ConmonBytes.text(content, 0x38, 64) }
        set { ConmonBytes.putText(newValue, into: &content, at: 0x38, size: 64) }
    }
    /// Byte 0xBB (abs 219): 0x1F from Inferno/AVIO-BT, 0x1B from LX-DANTE/AD4D. 0 makes DC flood with queries.
    public var infoRequestFlag: UInt8 {
        get { content.count > 0xBB ? content[0xBB] : 0 }
        set { ConmonBytes.put([newValue], into: &content, at: 0xBB) }
    }
}

/// 0x00C0 "make/model" / product info (§6.5). At least 304 content bytes (through the version); Inferno and real
/// devices send 336.
public struct ProductInfo: Equatable, Hashable, Sendable {
    public static let minimumContent = 0x130
    public var content: [UInt8]

    public init(content: [UInt8]) throws(WireError) {
        try ConmonBytes.atLeast(content, ProductInfo.minimumContent)
        self.content = content
    }

    /// A 336-byte product info as Inferno lays it out.
    public init(manufacturer: String, model: String, boardName: String, version: [UInt8] = [0, 3, 0, 0]) {
        content = [UInt8](repeating: 0, count: 336)
        ConmonBytes.putText(manufacturer, into: &content, at: 0x000, size: 8)
        ConmonBytes.putText(boardName, into: &content, at: 0x008, size: 8)
        self.manufacturer = manufacturer
        self.model = model
        self.version = version
    }

    /// 8-byte text at 0x000 (abs 32).
    public var shortManufacturer: String { ConmonBytes.text(content, 0x000, 8) }
    /// 8-byte text at 0x008 (abs 40), e.g. "LX-DANTE", "DIOBT".
    public var shortBoardName: String { ConmonBytes.text(content, 0x008, 8) }
    /// Text at abs 0x4C–0xCB (netaudio's "manufacturer"); leading bytes below 0x20 are skipped when reading.
    public var manufacturer: String {
        get {
            var i = 0x2C
            while i < 0xAC, i < content.count, content[i] != 0, content[i] < 0x20 { i += 1 }
            return ConmonBytes.text(content, i, 0xAC - i)
        }
        set { ConmonBytes.putText(newValue, into: &content, at: 0x2C, size: 128) }
    }
    /// Text at abs 0xCC–0x14B: the product/model name Dante Controller shows.
    public var model: String {
        get { ConmonBytes.text(content, 0xAC, 128) }
        set { ConmonBytes.putText(newValue, into: &content, at: 0xAC, size: 128) }
    }
    /// [4] at abs 0x14C.
    public var version: [UInt8] {
        get { ConmonBytes.slice(content, 0x12C, 4) }
        set { ConmonBytes.put(ConmonBytes.fixed(newValue, 4), into: &content, at: 0x12C) }
    }
    /// netaudio's rendering "b0.b1.b3".
    public var versionString: String { let v = version; return "\(v[0]).\(v[1]).\(v[3])" }
}

/// 0x0011 interface status (§6.9). At least 42 content bytes (through the reboot flag at abs 0x48).
public struct InterfaceStatus: Equatable, Hashable, Sendable {
    public static let minimumContent = 0x2A
    public var content: [UInt8]

    public init(content: [UInt8]) throws(WireError) {
        try ConmonBytes.atLeast(content, InterfaceStatus.minimumContent)
        self.content = content
    }

    /// A one-interface status shaped like a real AVIO's 96-byte packet.
    public init(mode: UInt16 = 3, mac: [UInt8], ipv4: UInt32, netmask: UInt32, dns: UInt32, gateway: UInt32) {
        content = [UInt8](repeating: 0, count: 64)
        ConmonBytes.putU16(1, into: &content, at: 0x00)
        ConmonBytes.putU32(0x64, into: &content, at: 0x04)
        ConmonBytes.putU16(0x18, into: &content, at: 0x20)
        ConmonBytes.putU16(0x30, into: &content, at: 0x22)
        self.mode = mode
        self.mac = mac
        self.ipv4 = ipv4
        self.netmask = netmask
        self.dnsServer = dns
        self.gateway = gateway
    }

    /// u16 at abs 0x20.
    public var interfaceCount: UInt16 { ConmonBytes.u16(content, 0x00) }
    /// u16 at abs 0x28: 1 = dynamic, 3 = static.
    public var mode: UInt16 {
        get { ConmonBytes.u16(content, 0x08) }
        set { ConmonBytes.putU16(newValue, into: &content, at: 0x08) }
    }
    /// [6] at abs 0x2A.
    public var mac: [UInt8] {
        get { ConmonBytes.slice(content, 0x0A, 6) }
        set { ConmonBytes.put(ConmonBytes.fixed(newValue, 6), into: &content, at: 0x0A) }
    }
    /// IPv4 (host-order u32) at abs 0x30.
    public var ipv4: UInt32 {
        get { ConmonBytes.u32(content, 0x10) }
        set { ConmonBytes.putU32(newValue, into: &content, at: 0x10) }
    }
    /// At abs 0x34.
    public var netmask: UInt32 {
        get { ConmonBytes.u32(content, 0x14) }
        set { ConmonBytes.putU32(newValue, into: &content, at: 0x14) }
    }
    /// At abs 0x38 (the DNS server in static mode; the order of 0x38/0x3C depends on the mode, §6.9).
    public var dnsServer: UInt32 {
        get { ConmonBytes.u32(content, 0x18) }
        set { ConmonBytes.putU32(newValue, into: &content, at: 0x18) }
    }
    /// At abs 0x3C.
    public var gateway: UInt32 {
        get { ConmonBytes.u32(content, 0x1C) }
        set { ConmonBytes.putU32(newValue, into: &content, at: 0x1C) }
    }
    /// u16 at abs 0x48: 0x0004 = pending DHCP, 0x0006 = pending static.
    public var rebootFlag: UInt16 {
        get { ConmonBytes.u16(content, 0x28) }
        set { ConmonBytes.putU16(newValue, into: &content, at: 0x28) }
    }
}

/// 0x0013 interface probe / configuration request (§6.8). Content: 8 zero bytes (probe), or
/// `01 1c FF 10 | 0×4 | mode:u32 | ip | mask | dns | gw | 00 02 00 00 | 0×4` (36 bytes; mode 2 = static with
/// FF = 0x0f, mode 0 = DHCP with FF = 0 and zero addresses, as Dante Controller sends it).
public struct InterfaceConfigRequest: Equatable, Hashable, Sendable {
    public var content: [UInt8]
    /// Any content is accepted (its meaning depends on the first bytes).
    public init(content: [UInt8]) throws(WireError) { self.content = content }
    private init(raw: [UInt8]) { content = raw }

    public static let probe = InterfaceConfigRequest(raw: [UInt8](repeating: 0, count: 8))
    public static let dhcp = InterfaceConfigRequest(raw: make(staticMode: false, 0, 0, 0, 0))
    public static func staticAddress(ipv4: UInt32, netmask: UInt32, dns: UInt32, gateway: UInt32) -> Self {
        InterfaceConfigRequest(raw: make(staticMode: true, ipv4, netmask, dns, gateway))
    }
    private static func make(staticMode: Bool, _ ip: UInt32, _ mask: UInt32, _ dns: UInt32, _ gw: UInt32) -> [UInt8] {
        var w = WireWriter(capacity: 36)
        w.u8(0x01); w.u8(0x1c); w.u8(staticMode ? 0x0f : 0x00); w.u8(0x10)
        w.zeros(4); w.u32(staticMode ? 2 : 0)
        w.u32(ip); w.u32(mask); w.u32(dns); w.u32(gw)
        w.u32(0x0002_0000); w.zeros(4)
        return w.bytes
    }

    public var isProbe: Bool { content.allSatisfy { $0 == 0 } }
    /// u32 at abs 0x28: 2 = static, 0 = DHCP (meaningful only for a set request).
    public var addressMode: UInt32 { ConmonBytes.u32(content, 0x08) }
    public var ipv4: UInt32 { ConmonBytes.u32(content, 0x0C) }
    public var netmask: UInt32 { ConmonBytes.u32(content, 0x10) }
    public var dnsServer: UInt32 { ConmonBytes.u32(content, 0x14) }
    public var gateway: UInt32 { ConmonBytes.u32(content, 0x18) }
}

/// 0x0020 PTP clock status (§6.3). At least 42 content bytes (through the port state at abs 0x48).
public struct ClockStatus: Equatable, Hashable, Sendable {
    public static let minimumContent = 0x2A
    public static let portStateMaster: UInt16 = 0x0006
    public static let portStateSlave: UInt16 = 0x0009
    public var content: [UInt8]

    public init(content: [UInt8]) throws(WireError) {
        try ConmonBytes.atLeast(content, ClockStatus.minimumContent)
        self.content = content
    }

    /// A minimal status: zeros except the fields below (the rest of the real layout is not understood).
    public init(portState: UInt16, preferredLeader: Bool) {
        content = [UInt8](repeating: 0, count: 0x2C)
        self.portState = portState
        self.preferredLeader = preferredLeader
    }

    /// The 0xAC-byte content real devices send (shaped like an LX-DANTE capture; the fields netaudio 0.4.2 reads
    /// are set, the rest is the capture's constant layout): clock state at abs 0x20 (3 disciplined, 2 not),
    /// servo state 0x22 (3 synchronized, 6 none), preferred flag 0x26, frequency offset (ppb) 0x28, own / parent /
    /// grandmaster ids (MAC + 00 00) 0x2C / 0x34 / 0x3C, two base port states from 0x48, and the port records
    /// from 0x7C whose first two (v1, v2 multicast) carry `portState` and `v2State`. The clock capability word at
    /// 0x50 is the capture's 0x02B4 without bits 0x20 and 0x100: netaudio 0.4.2 refuses preferred-leader changes
    /// while either is set. The packet must go out with class/version 0x0724. docs/ptp.md, "Conmon".
    public init(portState: UInt16, v2State: UInt16, preferredLeader: Bool, synchronized: Bool, frequencyOffsetPPB: Int32,
                ownID: [UInt8], parentID: [UInt8], grandmasterID: [UInt8]) {
        content = ClockStatus.template
        ConmonBytes.putU16(synchronized ? 3 : 2, into: &content, at: 0x00)
        ConmonBytes.putU16(synchronized ? 3 : 6, into: &content, at: 0x02)
        ConmonBytes.put(withUnsafeBytes(of: frequencyOffsetPPB.bigEndian) { Array($0) }, into: &content, at: 0x08)
        for (id, at) in [(ownID, 0x0C), (parentID, 0x14), (grandmasterID, 0x1C)] {
            ConmonBytes.put(Array((id + [UInt8](repeating: 0, count: 8)).prefix(8)), into: &content, at: at)
        }
        self.portState = portState
        self.preferredLeader = preferredLeader
        ConmonBytes.putU16(v2State, into: &content, at: 0x2C)
        ConmonBytes.putU16(portState, into: &content, at: 0x68)
        ConmonBytes.putU16(v2State, into: &content, at: 0x78)
    }

    static let template: [UInt8] = [
        0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x79, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x38, 0x00, 0x06, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x02, 0x94, 0x00, 0x00, 0x00, 0x03, 0x0d, 0x40, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x5c, 0x00, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, 0x64, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01,
        0x01, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x06, 0x00, 0x07, 0x00, 0x00, 0x00, 0x02,
        0x02, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x06, 0x00, 0x07, 0x00, 0x02, 0x00, 0x03,
        0x01, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x03, 0x00, 0x07, 0x00, 0x01, 0x00, 0x04,
        0x01, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x03, 0x00, 0x03, 0x00, 0x01, 0x00, 0x05,
        0x02, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x03, 0x00, 0x03,
    ]

    /// i32 at abs 0x28: the frequency offset in ppb.
    public var frequencyOffsetPPB: Int32 { Int32(bitPattern: ConmonBytes.u32(content, 0x08)) }
    /// 8 bytes at abs 0x3C: the grandmaster's id (MAC + 00 00).
    public var grandmasterID: [UInt8] { content.count >= 0x24 ? Array(content[0x1C..<0x24]) : [] }

    /// u16 at abs 0x48: PTPv1 port state, 0x0006 = MASTER ("Leader"), 0x0009 = SLAVE ("Follower").
    public var portState: UInt16 {
        get { ConmonBytes.u16(content, 0x28) }
        set { ConmonBytes.putU16(newValue, into: &content, at: 0x28) }
    }
    /// Byte abs 0x26: preferred-leader flag.
    public var preferredLeader: Bool {
        get { content.count > 0x06 && content[0x06] != 0 }
        set { ConmonBytes.put([newValue ? 1 : 0], into: &content, at: 0x06) }
    }
}

/// 0x0021 preferred-leader set/probe (§6.8): `presence:u16 (2 = set, 0 = probe) | clock_source:u16 | pref:u8 | …`,
/// 60 content bytes. Dante Controller fills the tail with stale memory, so the content is kept raw.
public struct PreferredLeaderRequest: Equatable, Hashable, Sendable {
    public static let minimumContent = 5
    public var content: [UInt8]

    public init(content: [UInt8]) throws(WireError) {
        try ConmonBytes.atLeast(content, PreferredLeaderRequest.minimumContent)
        self.content = content
    }
    public init(presence: UInt16, clockSource: UInt16 = 0, preferred: Bool) {
        content = [UInt8](repeating: 0, count: 60)
        ConmonBytes.putU16(presence, into: &content, at: 0)
        ConmonBytes.putU16(clockSource, into: &content, at: 2)
        content[4] = preferred ? 1 : 0
    }
    public static let probe = PreferredLeaderRequest(presence: 0, preferred: false)
    public static func set(preferred: Bool) -> Self { PreferredLeaderRequest(presence: 2, preferred: preferred) }

    public var presence: UInt16 { ConmonBytes.u16(content, 0) }
    public var isSet: Bool { presence == 2 }
    public var clockSource: UInt16 { ConmonBytes.u16(content, 2) }
    public var preferred: Bool { content.count > 4 && content[4] != 0 }
}
