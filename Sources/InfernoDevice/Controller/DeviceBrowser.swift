import InfernoProtocol
import NIOCore
import NIOPosix

/// A Dante device as discovery sees it (dante-protocol.md §2.3, §2.5).
public struct DanteDevice: Equatable, Sendable {
    /// The `_netaudio-arc` instance label: the device name.
    public var name: String
    public var ipv4: UInt32
    public var arcPort: UInt16
    /// From the `_netaudio-cmc` service sharing the device's host; nil when it was not seen.
    public var cmcPort: UInt16?
    /// TXT `id` of the CMC service (16 hex digits).
    public var deviceID: String?
    /// TXT `model` and `mf` of the ARC service.
    public var model: String?
    public var manufacturer: String?
    /// The SRV target host, e.g. `studio.local`.
    public var host: String

    public init(name: String, ipv4: UInt32, arcPort: UInt16, cmcPort: UInt16? = nil, deviceID: String? = nil,
                model: String? = nil, manufacturer: String? = nil, host: String = "") {
        self.name = name; self.ipv4 = ipv4; self.arcPort = arcPort; self.cmcPort = cmcPort
        self.deviceID = deviceID; self.model = model; self.manufacturer = manufacturer; self.host = host
    }
}

/// Finds Dante devices with one-shot mDNS queries on the bind interface: PTR browses for `_netaudio-arc` and
/// `_netaudio-cmc`, whose answers carry SRV, TXT and A as additional records. Instances whose SRV or address did
/// not come along are asked for directly once more.
public final class DeviceBrowser: @unchecked Sendable {
    public static let defaultWindow: TimeAmount = .milliseconds(1500)
    static let arcType = try! DNSName("_netaudio-arc._udp.local")
    static let cmcType = try! DNSName("_netaudio-cmc._udp.local")

    public let interface: HostInterface
    let querier: MDNSQuerier

    public init(group: EventLoopGroup, interface: HostInterface) throws {
        self.interface = interface
        querier = try MDNSQuerier(group: group, interface: interface)
    }

    public func close() { querier.close() }

    /// Every device that answers within `window`, sorted by name. With `until`, returns as soon as it holds for
    /// what has arrived.
    public func browse(window: TimeAmount = DeviceBrowser.defaultWindow,
                       until: (@Sendable ([DanteDevice]) -> Bool)? = nil) async -> [DanteDevice] {
        let questions = [DNSQuestion(name: Self.arcType, type: .ptr), DNSQuestion(name: Self.cmcType, type: .ptr)]
        var messages = await querier.query(questions, window: window, stopEarly: until.map { until in
            { @Sendable messages in until(Self.parse(messages).devices) }
        })
        let first = Self.parse(messages)
        if let until, until(first.devices) { return first.devices }
        // Second round for instances seen without SRV or address.
        if !first.incomplete.isEmpty {
            var follow: [DNSQuestion] = []
            for name in first.incomplete {
                follow.append(DNSQuestion(name: name, type: .srv))
                follow.append(DNSQuestion(name: name, type: .txt))
            }
            for host in first.unresolvedHosts { follow.append(DNSQuestion(name: host, type: .a)) }
            let shorter = TimeAmount.nanoseconds(min(window.nanoseconds, TimeAmount.seconds(1).nanoseconds))
            messages += await querier.query(follow, window: shorter)
        }
        return Self.parse(messages).devices
    }

    /// The device called `name` (case-insensitively), or `notFound` listing what answered.
    public func find(_ name: String, window: TimeAmount = DeviceBrowser.defaultWindow) async throws(ControllerError) -> DanteDevice {
        let devices = await browse(window: window) { Self.match(name, in: $0) != nil }
        guard let d = Self.match(name, in: devices) else {
            throw .notFound(name: name, interface: interface.name, found: devices.map(\.name))
        }
        return d
    }

    /// Several devices in one browse; returns as soon as all are there. Missing ones are simply absent.
    public func find(all names: [String], window: TimeAmount = DeviceBrowser.defaultWindow) async -> (found: [String: DanteDevice], all: [DanteDevice]) {
        let devices = await browse(window: window) { devices in names.allSatisfy { Self.match($0, in: devices) != nil } }
        var found: [String: DanteDevice] = [:]
        for n in names { if let d = Self.match(n, in: devices) { found[n] = d } }
        return (found, devices)
    }

    /// Case-insensitive name match (DNS names are case-insensitive).
    public static func match(_ name: String, in devices: [DanteDevice]) -> DanteDevice? {
        devices.first { $0.name == name } ?? devices.first { $0.name.lowercased() == name.lowercased() }
    }

    public struct ParseResult: Sendable {
        public var devices: [DanteDevice]
        /// ARC/CMC instances seen in a PTR but lacking their SRV record.
        public var incomplete: [DNSName]
        /// SRV targets without an A record.
        public var unresolvedHosts: [DNSName]
    }

    /// Builds devices from every answer and additional record of `messages` (a record later withdrawn with TTL 0
    /// does not count). Pure, for tests.
    public static func parse(_ messages: [DNSMessage]) -> ParseResult {
        var records: [DNSRecord] = []
        for m in messages {
            for r in m.answers + m.additionals {
                if r.ttl == 0 {
                    records.removeAll { $0.name.isEquivalent(to: r.name) && $0.data == r.data }
                } else if !records.contains(r) {
                    records.append(r)
                }
            }
        }
        func instances(of type: DNSName) -> [DNSName] {
            var out: [DNSName] = []
            for r in records where r.name.isEquivalent(to: type) {
                if case .ptr(let target) = r.data, !out.contains(where: { $0.isEquivalent(to: target) }) { out.append(target) }
            }
            return out
        }
        func srv(_ name: DNSName) -> (port: UInt16, target: DNSName)? {
            for r in records where r.name.isEquivalent(to: name) {
                if case let .srv(_, _, port, target) = r.data { return (port, target) }
            }
            return nil
        }
        func txt(_ name: DNSName) -> [String: String] {
            var out: [String: String] = [:]
            for r in records where r.name.isEquivalent(to: name) {
                for (k, v) in r.data.txtKeyValues where out[k.lowercased()] == nil { out[k.lowercased()] = v ?? "" }
            }
            return out
        }
        func address(_ host: DNSName) -> UInt32? {
            for r in records where r.name.isEquivalent(to: host) { if case .a(let ip) = r.data { return ip } }
            return nil
        }

        var incomplete: [DNSName] = []
        var unresolved: [DNSName] = []
        // CMC services by host and by instance label.
        var cmc: [(label: String, host: DNSName?, port: UInt16?, id: String?)] = []
        for inst in instances(of: cmcType) {
            let s = srv(inst)
            if s == nil { incomplete.append(inst) }
            cmc.append((inst.firstLabel ?? "", s?.target, s?.port, txt(inst)["id"]))
        }
        var devices: [DanteDevice] = []
        for inst in instances(of: arcType) {
            guard let label = inst.firstLabel else { continue }
            guard let s = srv(inst) else { incomplete.append(inst); continue }
            guard let ip = address(s.target) else {
                if !unresolved.contains(where: { $0.isEquivalent(to: s.target) }) { unresolved.append(s.target) }
                continue
            }
            let t = txt(inst)
            let c = cmc.first { $0.host.map { $0.isEquivalent(to: s.target) } ?? false && $0.label.lowercased() == label.lowercased() }
                ?? cmc.first { $0.host.map { $0.isEquivalent(to: s.target) } ?? false }
                ?? cmc.first { $0.label.lowercased() == label.lowercased() }
            devices.append(DanteDevice(name: label, ipv4: ip, arcPort: s.port, cmcPort: c?.port, deviceID: c?.id,
                                       model: t["model"], manufacturer: t["mf"],
                                       host: s.target.description.hasSuffix(".") ? String(s.target.description.dropLast()) : s.target.description))
        }
        devices.sort { $0.name.lowercased() < $1.name.lowercased() }
        return ParseResult(devices: devices, incomplete: incomplete, unresolvedHosts: unresolved)
    }
}
