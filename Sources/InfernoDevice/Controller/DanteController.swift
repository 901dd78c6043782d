import InfernoProtocol
import NIOCore
import NIOPosix

/// The controller side of the `inferno` CLI: discovery plus the ARC/CMC/conmon operations behind `ls`,
/// `channels`, `subscribe`, `unsubscribe`, `rename`, `rename-channel` and `config`. Works with any Dante device.
public final class DanteController: @unchecked Sendable {
    public let interface: HostInterface
    public let socket: ControlSocket
    public let browser: DeviceBrowser
    public let window: TimeAmount
    let group: MultiThreadedEventLoopGroup
    /// Conmon header sequence numbers (any running counter will do, §6.1).
    private let sequenceBase = UInt16.random(in: 0x1000...0x7000)

    /// Resolves `bind` (an IPv4 address of this host or an interface name) and opens the sockets.
    /// `discoverySeconds` is the mDNS answer window.
    public init(bind: String, discoverySeconds: Double) throws(ControllerError) {
        do { interface = try NetworkInterfaces.resolve(bind) } catch { throw .usage(error.description) }
        window = .nanoseconds(Int64(discoverySeconds * 1e9))
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            socket = try ControlSocket(group: group, address: interface.addressString)
            browser = try DeviceBrowser(group: group, interface: interface)
        } catch {
            try? group.syncShutdownGracefully()
            throw .failed("cannot open a socket on \(interface.addressString) [\(interface.name)]: \(error)")
        }
    }

    public func shutdown() {
        socket.close()
        browser.close()
        try? group.syncShutdownGracefully()
    }

    // MARK: finding devices

    /// Every device answering on the interface.
    public func devices() async -> [DanteDevice] { await browser.browse(window: window) }

    /// A device by name (case-insensitive), or by address: `IPv4` or `IPv4:ARC-port` skips discovery.
    public func device(_ ref: String) async throws(ControllerError) -> DanteDevice {
        if let (ip, port) = Self.parseAddress(ref) {
            var d = DanteDevice(name: ipv4String(ip), ipv4: ip, arcPort: port)
            d.name = try await arc(d).deviceName()
            return d
        }
        return try await browser.find(ref, window: window)
    }

    /// `10.0.0.5` or `10.0.0.5:4440`.
    public static func parseAddress(_ s: String) -> (UInt32, UInt16)? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let ip = parseIPv4(String(parts[0])) else { return nil }
        if parts.count == 1 { return (ip, DantePorts.arc) }
        guard let port = UInt16(parts[1]), port > 0 else { return nil }
        return (ip, port)
    }

    public func arc(_ d: DanteDevice) -> ARCClient {
        ARCClient(socket: socket, device: d.name, ipv4: d.ipv4, port: d.arcPort)
    }

    public func conmon(_ d: DanteDevice) -> ConmonClient {
        ConmonClient(socket: socket, device: d.name, ipv4: d.ipv4, cmcPort: d.cmcPort, controllerMAC: interface.mac)
    }

    // MARK: ls

    public struct Summary: Sendable {
        public var device: DanteDevice
        public var txCount: Int?
        public var rxCount: Int?
        public var sampleRate: Int?
        public var latencyNs: UInt32?
        /// Set when the device did not answer ARC (name and counts).
        public var error: ControllerError?
    }

    /// Counts, sample rate and latency of each device, asked concurrently.
    public func summaries(_ devices: [DanteDevice]) async -> [Summary] {
        await withTaskGroup(of: (Int, Summary).self) { g in
            for (i, d) in devices.enumerated() { g.addTask { (i, await self.summary(d)) } }
            var out: [(Int, Summary)] = []
            for await r in g { out.append(r) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    public func summary(_ d: DanteDevice) async -> Summary {
        var s = Summary(device: d)
        let client = arc(d)
        do {
            let counts = try await client.channelCounts()
            s.txCount = Int(counts.txChannelCount)
            s.rxCount = Int(counts.rxChannelCount)
            s.sampleRate = (try? await format(client, counts)).map { Int($0.sampleRate) }
            s.latencyNs = (try? await client.settings())?.value(of: ARCInfoCode.latency)
        } catch {
            s.error = error
        }
        return s
    }

    /// The format descriptor of TX channel 1, else RX channel 1 (§4.3): current sample rate, encoding.
    public func format(_ client: ARCClient, _ counts: ARCChannelCounts) async throws(ControllerError) -> ARCFormatDescriptor? {
        if counts.txChannelCount > 0 {
            let r = try await client.request(.txChannels(ARCPageRequest(start: 1)))
            if case .txChannels(let p) = r.body, let f = p.channels.first?.format { return f }
        }
        if counts.rxChannelCount > 0 {
            let r = try await client.request(.rxChannels(ARCPageRequest(start: 1)))
            if case .rxChannels(let p) = r.body, let f = p.channels.first?.format { return f }
        }
        return nil
    }

    // MARK: channels

    public struct TxChannel: Equatable, Sendable {
        public var number: UInt16
        public var factoryName: String
        /// From 0x2010; nil when the device lists none for this channel (real devices list custom names only).
        public var friendlyName: String?
        /// What a subscription to this channel carries: the friendly name, else the factory name.
        public var name: String { friendlyName ?? factoryName }
    }

    public struct Channels: Sendable {
        public var tx: [TxChannel]
        public var rx: [ARCRxChannel]
    }

    public func channels(_ d: DanteDevice) async throws(ControllerError) -> Channels {
        let client = arc(d)
        let counts = try await client.channelCounts()
        let tx = try await txChannels(client, count: Int(counts.txChannelCount))
        let rx = try await client.rxChannels(count: Int(counts.rxChannelCount))
        return Channels(tx: tx, rx: rx)
    }

    func txChannels(_ client: ARCClient, count: Int) async throws(ControllerError) -> [TxChannel] {
        guard count > 0 else { return [] }
        let factory = try await client.txChannels(count: count)
        let friendly = try await client.txChannelNames(count: count)
        var names: [UInt16: String] = [:]
        for e in friendly where names[e.channel] == nil { names[e.channel] = e.name }
        return factory.map { TxChannel(number: $0.number, factoryName: $0.name, friendlyName: names[$0.number]) }
    }

    /// A TX channel by number or name (friendly first, then factory; exact, then case-insensitive).
    func resolveTx(_ ch: ChannelReference.Channel, in all: [TxChannel], device: String) throws(ControllerError) -> TxChannel {
        switch ch {
        case .number(let n):
            if let c = all.first(where: { $0.number == n }) { return c }
            throw .failed("\(device) has no TX channel \(n) (it has \(all.count))")
        case .name(let s):
            if let c = all.first(where: { $0.friendlyName == s }) ?? all.first(where: { $0.factoryName == s })
                ?? all.first(where: { $0.name.lowercased() == s.lowercased() || $0.factoryName.lowercased() == s.lowercased() }) {
                return c
            }
            throw .failed("\(device) has no TX channel named \"\(s)\" (TX channels: \(Self.list(all.map(\.name))))")
        }
    }

    /// An RX channel number by number or name.
    func resolveRx(_ ch: ChannelReference.Channel, client: ARCClient, device: String) async throws(ControllerError) -> ARCRxChannel? {
        let count = Int(try await client.channelCounts().rxChannelCount)
        switch ch {
        case .number(let n):
            guard Int(n) <= count else { throw .failed("\(device) has no RX channel \(n) (it has \(count))") }
            return nil
        case .name(let s):
            let all = try await client.rxChannels(count: count)
            if let c = all.first(where: { $0.name == s }) ?? all.first(where: { $0.name.lowercased() == s.lowercased() }) {
                return c
            }
            throw .failed("\(device) has no RX channel named \"\(s)\" (RX channels: \(Self.list(all.map(\.name))))")
        }
    }

    static func list(_ names: [String]) -> String {
        if names.isEmpty { return "none" }
        let shown = names.prefix(12).joined(separator: ", ")
        return names.count > 12 ? shown + ", …" : shown
    }

    // MARK: subscriptions

    public struct Subscription: Equatable, Sendable {
        public var rxDevice: String
        public var rxChannel: UInt16
        public var txChannel: String
        public var txDevice: String
        /// Set when the TX device was not found and the names were used as given.
        public var note: String?
        /// CLOCK_MONOTONIC ns just before the ARC 0x3010 request was sent, and when its answer arrived
        /// (`inferno subscribe --timing`; the time-to-audio benchmark starts its clock here).
        public var requestSentNs: Int64 = 0
        public var answeredNs: Int64 = 0
    }

    /// Subscribes `rx` to `tx` with ARC 0x3010 on the receiving device. Dante subscriptions carry the TX channel's
    /// *name*: a name is sent as given; a number is looked up on the TX device (its friendly name, else its factory
    /// name). An RX channel name is looked up on the RX device (0x3000).
    public func subscribe(rx: ChannelReference, tx: ChannelReference) async throws(ControllerError) -> Subscription {
        let (found, all) = await browser.find(all: [rx.device, tx.device], window: window)
        guard let rxDev = try await lookup(rx.device, found, all) else {
            throw .notFound(name: rx.device, interface: interface.name, found: all.map(\.name))
        }
        let txDev = try await lookup(tx.device, found, all)
        let rxClient = arc(rxDev)
        let rxNumber: UInt16
        if let c = try await resolveRx(rx.channel, client: rxClient, device: rxDev.name) { rxNumber = c.number }
        else if case .number(let n) = rx.channel { rxNumber = n } else { rxNumber = 0 }

        var txChannel: String
        var note: String?
        switch tx.channel {
        case .name(let s):
            txChannel = s
            if txDev == nil {
                note = "TX device \(tx.device) not seen on \(interface.name); subscribed by name anyway"
            }
        case .number:
            guard let txDev else { throw .notFound(name: tx.device, interface: interface.name, found: all.map(\.name)) }
            let txClient = arc(txDev)
            let count = Int(try await txClient.channelCounts().txChannelCount)
            txChannel = try resolveTx(tx.channel, in: try await txChannels(txClient, count: count), device: txDev.name).name
        }
        let txDevice = txDev?.name ?? tx.device
        let sent = monotonicNow()
        try await rxClient.subscribe([ARCSubscriptionRecord(rxChannel: rxNumber, txChannel: txChannel, txDevice: txDevice)])
        return Subscription(rxDevice: rxDev.name, rxChannel: rxNumber, txChannel: txChannel, txDevice: txDevice, note: note,
                            requestSentNs: sent, answeredNs: monotonicNow())
    }

    /// A device found by browsing, or given as an address.
    private func lookup(_ ref: String, _ found: [String: DanteDevice], _ all: [DanteDevice]) async throws(ControllerError) -> DanteDevice? {
        if let d = found[ref] { return d }
        if Self.parseAddress(ref) != nil { return try await device(ref) }
        return nil
    }

    /// Removes subscriptions (0x3010 with both names absent). `channel` nil = every RX channel of the device.
    /// Returns the device name and the channels cleared.
    public func unsubscribe(device ref: String, channel: ChannelReference.Channel?) async throws(ControllerError) -> (String, [UInt16]) {
        let d = try await device(ref)
        let client = arc(d)
        let numbers: [UInt16]
        if let channel {
            if let c = try await resolveRx(channel, client: client, device: d.name) { numbers = [c.number] }
            else if case .number(let n) = channel { numbers = [n] } else { numbers = [] }
        } else {
            let count = try await client.channelCounts().rxChannelCount
            numbers = count == 0 ? [] : Array(1...count)
        }
        try await client.subscribe(numbers.map { ARCSubscriptionRecord.unsubscribe($0) })
        return (d.name, numbers)
    }

    // MARK: names

    /// 0x1001; nil or "" resets the factory name. Returns the device's name before.
    public func rename(_ ref: String, to name: String?) async throws(ControllerError) -> String {
        let d = try await device(ref)
        try await arc(d).setDeviceName(name?.isEmpty == true ? nil : name)
        return d.name
    }

    /// 0x2013 / 0x3001; "" resets the default name. Returns (device, channel number).
    public func renameChannel(tx: Bool, _ ref: ChannelReference, to name: String) async throws(ControllerError) -> (String, UInt16) {
        let d = try await device(ref.device)
        let client = arc(d)
        let number: UInt16
        if tx {
            let count = Int(try await client.channelCounts().txChannelCount)
            number = try resolveTx(ref.channel, in: try await txChannels(client, count: count), device: d.name).number
        } else if let c = try await resolveRx(ref.channel, client: client, device: d.name) {
            number = c.number
        } else if case .number(let n) = ref.channel {
            number = n
        } else {
            number = 0
        }
        try await client.renameChannel(tx: tx, channel: number, name: name)
        return (d.name, number)
    }

    // MARK: settings

    /// 0x1101 latency, then 0x1100 to read back what the device applied (nil if it does not say).
    public func setLatency(_ d: DanteDevice, nanoseconds: UInt32) async throws(ControllerError) -> UInt32? {
        let client = arc(d)
        let echo = try await client.setLatency(nanoseconds: nanoseconds)
        if let v = try? await client.settings().value(of: ARCInfoCode.latency) { return v }
        return echo?.value(of: ARCInfoCode.latency)
    }

    public enum SettingOutcome: Equatable, Sendable {
        /// The device's ARC format descriptor shows the new value.
        case confirmed
        /// It still shows `current` after the wait.
        case unconfirmed(current: Int?)
    }

    /// Conmon 0x0081 / 0x0083 to the device's conmon port (from its CMC registration answer, else 8700), then
    /// watch the ARC format descriptor (sample rate at offset 0, bits at offset 6) for up to `seconds`; the command
    /// is sent again half-way, conmon being one-way UDP.
    public func set(_ d: DanteDevice, sampleRate: Int? = nil, encoding: Int? = nil,
                    seconds: Double = 2) async throws(ControllerError) -> SettingOutcome {
        let conmon = conmon(d)
        let port = await conmon.conmonPort()
        let message: ConmonMessage
        if let sampleRate { message = .setSampleRate(ConmonSetting(value: UInt32(sampleRate))) }
        else if let encoding { message = .setEncoding(ConmonSetting(value: UInt32(encoding))) }
        else { return .confirmed }
        let client = arc(d)
        let counts = try await client.channelCounts()
        func current() async throws(ControllerError) -> Int? {
            guard let f = try await format(client, counts) else { return nil }
            return sampleRate != nil ? Int(f.sampleRate) : Int(f.field6)
        }
        let want = sampleRate ?? encoding!
        let steps = max(1, Int(seconds / 0.2))
        var last: Int?
        for step in 0..<steps {
            if step == 0 || step == steps / 2 { conmon.send(message, port: port, sequence: sequenceBase &+ UInt16(step)) }
            try? await Task.sleep(nanoseconds: 200_000_000)
            last = try await current()
            if last == want { return .confirmed }
        }
        return .unconfirmed(current: last)
    }
}
