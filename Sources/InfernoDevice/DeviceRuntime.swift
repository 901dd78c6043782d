import Foundation
import InfernoProtocol
import Logging
import NIOCore
import NIOPosix

/// A running Dante device: mDNS, ARC, CMC and conmon on one interface, state persisted across restarts.
///
/// Everything on the control plane runs on one event-loop thread, so the `DeviceModel` needs no locks.
/// Malformed packets are counted (`counters`) and dropped.
public final class DeviceRuntime: @unchecked Sendable {
    public let config: DeviceConfig
    public let interface: HostInterface
    public let deviceID: DeviceID
    public let ports: DevicePorts
    let log: Logger
    let group: MultiThreadedEventLoopGroup
    let loop: EventLoop
    let store: StateStore

    // Touched only on `loop`.
    var model: DeviceModel
    var conmonSequence: UInt16 = 1
    var heartbeatTask: RepeatedTask?
    var arc: UDPEndpoint!
    var cmc: UDPEndpoint!
    var conmon: UDPEndpoint!
    var mdns: MDNSServer!
    public private(set) var counters = Counters()

    public struct Counters: Sendable {
        public var arcRequests = 0, arcMalformed = 0
        public var cmcRequests = 0, cmcMalformed = 0
        public var conmonRequests = 0, conmonMalformed = 0
    }

    static let conmonGroup = "224.0.0.231"
    static let heartbeatGroup = "224.0.0.233"

    /// Resolves the interface, device id and state; binds nothing yet.
    public init(config: DeviceConfig, environment: [String: String], logger: Logger) throws {
        self.config = config
        log = logger
        interface = try NetworkInterfaces.resolve(config.bind)
        deviceID = config.deviceID ?? NetworkInterfaces.defaultDeviceID(for: interface, processID: config.processID)
        ports = config.ports
        store = StateStore(directory: config.stateDir ?? StateStore.defaultDirectory(environment: environment),
                           deviceID: deviceID)
        let loaded = store.load()
        if let w = loaded.warning { logger.warning("\(w)") }
        model = DeviceModel(config: config, deviceID: deviceID, state: loaded.state)
        let dropped = loaded.state.subscriptions.keys.filter { $0 > config.rxChannels }.sorted()
        if !dropped.isEmpty {
            logger.warning("saved subscriptions for RX channels \(dropped) exceed --rx \(config.rxChannels); they are dropped at the next save")
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
    }

    /// Binds every socket and starts announcing. A port in use is an error naming the port and the option.
    public func start() throws {
        do {
            let host = interface.addressString
            arc = try bind(host, ports.arc, what: "ARC") { [unowned self] ep, b, from in handleARC(ep, b, from) }
            cmc = try bind(host, ports.cmc, what: "CMC") { [unowned self] ep, b, from in handleCMC(ep, b, from) }
            var conmonOptions = UDPEndpoint.Options()
            conmonOptions.multicastInterface = host
            conmon = try bind(host, ports.conmon, what: "conmon", options: conmonOptions) { [unowned self] ep, b, from in
                handleConmon(ep, b, from)
            }
            mdns = try MDNSServer(group: group, interface: interface, zone: advertisement.zone) { [unowned self] in
                let old = model.name
                let new = model.renameAfterConflict()
                log.warning("another device on the network uses the name \(old): renamed to \(new)")
                apply(.name)
            }
        } catch {
            shutdownSockets()
            try? group.syncShutdownGracefully()
            throw error
        }
        mdns.start()
        try loop.submit {
            self.sendConmon(.boardInfo(self.boardInfo))
            self.sendConmon(.productInfo(self.productInfo))
            self.heartbeatTask = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .seconds(1)) { _ in
                self.sendHeartbeat()
            }
        }.wait()
        log.info("device \(model.name) (id \(deviceID)) on \(interface.addressString) [\(interface.name)]: ARC \(ports.arc), CMC \(ports.cmc), conmon \(ports.conmon), \(model.tx.count) TX / \(model.rx.count) RX")
    }

    func bind(_ host: String, _ port: UInt16, what: String, options: UDPEndpoint.Options = .init(),
              _ handler: @escaping @Sendable (UDPEndpoint, [UInt8], SocketAddress) -> Void) throws -> UDPEndpoint {
        do {
            return try UDPEndpoint.bind(group: group, host: host, port: Int(port), options: options, onDatagram: handler)
        } catch EndpointError.portInUse(let p) {
            throw RuntimeError("\(what) port \(p) on \(host) is already in use: choose other ports with --ports BASE (INFERNO_ALT_PORT) and a distinct --process-id")
        }
    }

    /// Sends goodbyes, closes every socket and stops the event loop.
    public func stop() {
        _ = try? loop.submit {
            self.heartbeatTask?.cancel()
            self.persist()
        }.wait()
        mdns?.stop()
        shutdownSockets()
        try? group.syncShutdownGracefully()
        log.info("device stopped")
    }

    func shutdownSockets() {
        for ep in [arc, cmc, conmon] { ep?.close() }
    }

    // MARK: state derived from the model

    var advertisement: DanteAdvertisement {
        DanteAdvertisement(name: model.name, ipv4: interface.address, ports: ports, deviceID: deviceID,
                           processID: config.processID, sampleRate: model.sampleRate, encoding: model.encoding,
                           latencyNs: model.latencyNs, txChannels: model.tx.map { ($0.factory, $0.name) })
    }

    /// Feature flags (content 0x14, big-endian u32) as netaudio 0.4.2's parser reads them: bit 0 identify,
    /// bit 3 sample rate configurable, bit 4 encoding configurable (bit 9 pull-up, 13 redundancy, 14 static IP,
    /// 15 metering, 26 AES67, 27 locking: not offered). 0x1000 is Inferno's "has manufacturer name".
    static let featureFlags: UInt32 = 0x0000_1000 | 0x01 | 0x08 | 0x10

    var boardInfo: BoardInfo {
        BoardInfo(boardCodename: "Inferno", boardName: DeviceModel.boardName, featureFlags: Self.featureFlags)
    }
    var productInfo: ProductInfo {
        ProductInfo(manufacturer: DanteAdvertisement.manufacturer, model: DanteAdvertisement.model, boardName: "Inferno")
    }

    func persist() {
        do { try store.save(model.state) } catch { log.error("could not save state to \(store.path): \(error)") }
    }

    // MARK: ARC

    func handleARC(_ ep: UDPEndpoint, _ bytes: [UInt8], _ from: SocketAddress) {
        guard let out = model.handleARC(bytes) else { counters.arcMalformed += 1; return }
        counters.arcRequests += 1
        log.trace("ARC from \(from.ipAddress ?? "?"): \(out.request)")
        if let response = out.response { ep.send(response, to: from) }
        apply(out.changes)
    }

    func apply(_ changes: DeviceChanges) {
        guard !changes.isEmpty else { return }
        persist()
        if !changes.intersection([.name, .txNames, .settings]).isEmpty {
            mdns.update(zone: advertisement.zone)
        }
        if changes.contains(.name) { log.info("renamed to \(model.name)") }
        let rx = model.takeChangedRx()
        if !rx.isEmpty {
            sendConmon(.rxChannelChange(ChannelBitmap(channels: rx)))
            for ch in rx {
                let s = model.rx[ch - 1].subscription
                log.info("RX \(ch): \(s.map { "subscribed to \($0.txChannel)@\($0.txDevice)" } ?? "unsubscribed")")
            }
        }
        if changes.contains(.rxNames) { sendConmon(.rxChannelChange(ChannelBitmap(channels: 1...max(1, model.rx.count)))) }
        if changes.contains(.txNames) { sendConmon(.txChannelChange(ChannelBitmap(channels: 1...max(1, model.tx.count)))) }
    }

    // MARK: CMC

    func handleCMC(_ ep: UDPEndpoint, _ bytes: [UInt8], _ from: SocketAddress) {
        guard let packet = try? CMCPacket.decode(bytes) else { counters.cmcMalformed += 1; return }
        counters.cmcRequests += 1
        switch packet {
        case .registrationRequest(let r):
            ep.send(r.response(deviceID: deviceID.bytes, ipv4: interface.address, conmonPort: ports.conmon,
                               processID: config.processID).encode(), to: from)
        case .meteringPoll(let p) where p.status == 0:
            ep.send(p.response(deviceID: deviceID.bytes).encode(), to: from)
        case .other(let h, _) where h.status == 0:
            let w = PacketHeader(protocolID: h.protocolID, transactionID: h.transactionID, opcode: h.opcode,
                                 status: ResultCode.unsupported.rawValue).start()
            ep.send(PacketHeader.finish(w), to: from)
        default:
            break
        }
    }

    // MARK: conmon

    func handleConmon(_ ep: UDPEndpoint, _ bytes: [UInt8], _ from: SocketAddress) {
        guard let packet = try? ConmonPacket.decode(bytes) else { counters.conmonMalformed += 1; return }
        counters.conmonRequests += 1
        switch packet.message {
        case .boardInfoQuery: sendConmon(.boardInfo(boardInfo))
        case .productInfoQuery: sendConmon(.productInfo(productInfo))
        case .identify: log.notice("identify requested by \(from.ipAddress ?? "?")")
        case .setSampleRate(let s):
            applySetting(s, allowed: DeviceConfig.sampleRates, \.sampleRate, what: "sample rate", from: from)
            sendConmon(.sampleRateStatus(ConmonChoiceStatus(current: UInt32(model.sampleRate),
                                                            options: DeviceConfig.sampleRates.map(UInt32.init))))
        case .setEncoding(let s):
            applySetting(s, allowed: DeviceConfig.encodings, \.encoding, what: "encoding", from: from)
            sendConmon(.encodingStatus(ConmonChoiceStatus(current: UInt32(model.encoding),
                                                          options: DeviceConfig.encodings.map(UInt32.init))))
        case .interfaceConfig(let req):
            if !req.isProbe { log.warning("ignored a request to change the interface configuration (managed by the host)") }
            sendConmon(.interfaceStatus(InterfaceStatus(mac: interface.mac ?? [0, 0, 0, 0, 0, 0], ipv4: interface.address,
                                                        netmask: interface.netmask, dns: 0, gateway: 0)))
        case .clockConfig:
            // Follower, not preferred leader (PTP port state 9 = SLAVE).
            sendConmon(.clockStatus(ClockStatus(portState: 9, preferredLeader: false)))
        case .aes67Config:
            sendConmon(.aes67Status(AES67Status(current: false, pending: false)))
        case .reboot:
            log.notice("reboot requested by \(from.ipAddress ?? "?"): acknowledged, not rebooting")
            sendConmon(.rebootAck(argument: 0))
        default:
            break
        }
    }

    /// A conmon set request (presence 1) for one of `allowed`; a probe (presence 0) changes nothing.
    func applySetting(_ s: ConmonSetting, allowed: [Int], _ field: WritableKeyPath<DeviceModel, Int>, what: String,
                      from: SocketAddress) {
        guard s.presence != 0 else { return }
        let value = Int(s.value)
        guard allowed.contains(value) else {
            log.warning("refused \(what) \(value) from \(from.ipAddress ?? "?")")
            return
        }
        guard value != model[keyPath: field] else { return }
        model[keyPath: field] = value
        log.info("\(what) set to \(value) by \(from.ipAddress ?? "?")")
        apply(.settings)
    }

    func sendConmon(_ message: ConmonMessage) {
        guard let dest = try? SocketAddress(ipAddress: Self.conmonGroup, port: Int(DantePorts.conmonMulticast)) else { return }
        let packet = ConmonPacket(deviceID: deviceID.bytes, sequence: nextSequence(), message: message)
        conmon.send(packet.encode(), to: dest)
    }

    func sendHeartbeat() {
        guard let dest = try? SocketAddress(ipAddress: Self.heartbeatGroup, port: Int(DantePorts.heartbeatMulticast)) else { return }
        conmon.send(Heartbeat(deviceID: deviceID.bytes, sequence: nextSequence()).encode(), to: dest)
    }

    func nextSequence() -> UInt16 {
        defer { conmonSequence = conmonSequence &+ 1; if conmonSequence == 0 { conmonSequence = 1 } }
        return conmonSequence
    }
}

/// A one-line, user-facing failure of the runtime.
public struct RuntimeError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
