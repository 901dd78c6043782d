import InfernoProtocol

/// The mDNS records of one Dante device (dante-protocol.md §2.3), built from its identity and state.
///
/// One host name (`<device name>.local`) with one A record; every service's SRV points at it:
/// `_netaudio-arc` (ARC port), `_netaudio-cmc` (CMC port, TXT `id`), and one `_netaudio-chan` per TX channel
/// under its factory name (with the bare TXT key `default`) and, when it differs, under its friendly name.
public struct DanteAdvertisement: Equatable, Sendable {
    public var name: String
    public var ipv4: UInt32
    public var ports: DevicePorts
    public var deviceID: DeviceID
    public var processID: UInt16
    public var sampleRate: Int
    public var encoding: Int
    public var latencyNs: UInt32
    /// (factory name, friendly name) per TX channel, in channel order.
    public var txChannels: [(factory: String, friendly: String)]

    public static let manufacturer = "Inferno-Swift"
    public static let model = "INFERNO-SWIFT"
    /// Frames per packet we offer: "max,min".
    public static let fppRange = "32,2"
    public static let maxChannelsPerFlow = 8

    public init(name: String, ipv4: UInt32, ports: DevicePorts, deviceID: DeviceID, processID: UInt16, sampleRate: Int,
                encoding: Int, latencyNs: UInt32, txChannels: [(factory: String, friendly: String)]) {
        self.name = name; self.ipv4 = ipv4; self.ports = ports; self.deviceID = deviceID; self.processID = processID
        self.sampleRate = sampleRate; self.encoding = encoding; self.latencyNs = latencyNs; self.txChannels = txChannels
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.ipv4 == b.ipv4 && a.ports == b.ports && a.deviceID == b.deviceID
            && a.processID == b.processID && a.sampleRate == b.sampleRate && a.encoding == b.encoding
            && a.latencyNs == b.latencyNs && a.txChannels.map(\.factory) == b.txChannels.map(\.factory)
            && a.txChannels.map(\.friendly) == b.txChannels.map(\.friendly)
    }

    public var zone: MDNSZone {
        var services = [
            MDNSService(instance: name, type: "_netaudio-arc._udp", port: ports.arc, txt: [
                "arcp_vers=2.7.41", "arcp_min=0.2.4", "router_vers=4.0.2",
                "router_info=\(Self.manufacturer)", "mf=\(Self.manufacturer)", "model=\(Self.model)",
            ], ttl: 4500),
            MDNSService(instance: name, type: "_netaudio-cmc._udp", port: ports.cmc, txt: [
                "id=\(deviceID)", "process=\(processID)", "cmcp_vers=1.2.0", "cmcp_min=1.0.0",
                "server_vers=4.0.2", "channels=0x6000004d", "mf=\(Self.manufacturer)", "model=\(Self.model)",
            ]),
        ]
        let nchan = max(1, min(Self.maxChannelsPerFlow, txChannels.count))
        for (i, ch) in txChannels.enumerated() {
            let txt = [
                "txtvers=2", "dbcp1=0x1102", "dbcp=0x1004", "id=\(i + 1)", "rate=\(sampleRate)",
                "pcm=\(encoding / 8) e", "enc=\(encoding)", "en=\(encoding)", "latency_ns=\(latencyNs)",
                "fpp=\(Self.fppRange)", "nchan=\(nchan)",
            ]
            services.append(MDNSService(instance: "\(ch.factory)@\(name)", type: "_netaudio-chan._udp",
                                        port: ports.flowControl, txt: txt + ["default"]))
            if ch.friendly != ch.factory {
                services.append(MDNSService(instance: "\(ch.friendly)@\(name)", type: "_netaudio-chan._udp",
                                            port: ports.flowControl, txt: txt))
            }
        }
        return MDNSZone(host: name, ipv4: ipv4, services: services)
    }
}
