import Foundation
import InfernoMedia
import InfernoProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization

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
    var mdns: ServiceAdvertiser!
    var resolver: ChannelResolver!
    /// The libdns_sd thread of the Avahi backend (nil with the embedded responder).
    var dnssd: DNSSDThread?
    /// The mDNS backend chosen at `start()` (`--mdns auto` resolved to one of the two).
    public private(set) var mdnsBackend: MDNSBackendChoice = .embedded
    var flowControl: UDPEndpoint!
    var flowClient: UDPEndpoint!
    var flowServer: FlowControlServer!
    var subscriber: Subscriber!
    var mediaTask: RepeatedTask?
    var statsTask: RepeatedTask?
    public let clock: MediaClockSource
    var feeder: FileFeeder?
    /// The shared-memory port applications play into and record from (`--shm`), nil otherwise.
    public let appPort: SharedAudioPort?
    private var portThread: Thread?
    private let portStop = Atomic<Bool>(false)
    public let tx: TxEngine
    public let rx: RxEngine
    public private(set) var counters = Counters()
    /// Control requests refused because their sender is outside `--allow-controllers` (touched only on `loop`).
    lazy var refusals = RefusalLog(logger: log)
    /// Per-source limit on ARC replies (anti-amplification; touched only on `loop`).
    var arcReplyLimiter = DNSRateLimiter(config: .controlReplies)
    /// Called on the event loop with the current names after the device or a channel was renamed (by a
    /// controller or after an mDNS name conflict). Set it before `start()`.
    public var onNamesChanged: (@Sendable (Names) -> Void)?
    /// Run first by `stop()`, last added first (bridges that read or feed the device's channels).
    var stopHooks: [() -> Void] = []

    /// Registers `hook` to run at the start of `stop()`, before the engines stop.
    public func addStopHook(_ hook: @escaping () -> Void) { stopHooks.append(hook) }

    public struct Counters: Sendable {
        public var arcRequests = 0, arcMalformed = 0
        public var cmcRequests = 0, cmcMalformed = 0
        public var conmonRequests = 0, conmonMalformed = 0
        /// ARC, conmon and flow-control requests refused by `--allow-controllers`.
        public var refused = 0
        /// ARC replies not sent: their destination was over its per-source reply limit.
        public var arcRateLimited = 0
    }

    /// May the sender of a request change the device (`--allow-controllers`)? The device's own address always may:
    /// its subscriber asks its own flow-control port when a controller patches it to itself.
    func mayChange(_ from: SocketAddress) -> Bool {
        guard let list = config.allowControllers else { return true }
        if case .v4(let a) = from, UInt32(bigEndian: a.address.sin_addr.s_addr) == interface.address { return true }
        return list.allows(from)
    }

    func refuse(_ what: @autoclosure () -> String, from: SocketAddress) {
        counters.refused += 1
        refusals.refused(what(), from: from)
    }

    static let conmonGroup = "224.0.0.231"
    static let heartbeatGroup = "224.0.0.233"

    /// Resolves the interface, device id and state; binds nothing yet.
    public init(config: DeviceConfig, environment: [String: String], logger: Logger,
                clock: MediaClockSource? = nil, txSource: TxSampleSource? = nil, extraTxSource: TxSampleSource? = nil) throws {
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
        let dropped = loaded.state.subscriptions.keys.filter { $0 > config.rxChannels + config.extraChannelNames.count }.sorted()
        if !dropped.isEmpty {
            logger.warning("saved subscriptions for RX channels \(dropped) exceed --rx \(config.rxChannels); they are dropped at the next save")
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        let clock = clock ?? SystemMediaClock()
        self.clock = clock
        let rate = UInt32(model.sampleRate)
        if let name = config.shm {
            do {
                // Applications capture every RX channel, AudioSocket calls included; they play the device's own TX.
                appPort = try SharedAudioPort.create(name: name, sampleRate: rate, txChannels: config.txChannels,
                                                     rxChannels: config.rxChannels + config.extraChannelNames.count)
            } catch {
                throw RuntimeError("--shm (INFERNO_SHM): \(error)")
            }
        } else {
            appPort = nil
        }
        var source = txSource ?? appPort.map { RingSource(ring: $0.txRing) } ?? Self.makeSource(config.txSource, sampleRate: rate)
        if txSource == nil && appPort == nil {
            switch config.txSource {
            case .wav, .raw, .stdin:
                let f = try FileFeeder(spec: config.txSource, txChannels: config.txChannels, clock: clock, sampleRate: rate)
                feeder = f
                source = f.source
            default: break
            }
        }
        if !config.extraChannelNames.isEmpty {
            // Extra channels (AudioSocket calls) follow the device's own TX channels.
            source = CompositeTxSource(main: source, mainChannels: config.txChannels, extra: extraTxSource ?? SilenceSource())
        }
        tx = TxEngine(clock: clock, source: source, sampleRate: rate, dither: config.dither ? .tpdf : .none)
        // Room for the latency plus a safety margin, at least ~0.7 s at 48 kHz.
        let latencySamples = Int(Double(rate) * Double(model.latencyNs) / 1e9)
        rx = RxEngine(clock: clock, channels: config.rxChannels + config.extraChannelNames.count, sampleRate: rate, ringCapacity: max(32768, latencySamples * 4),
                      defaultLatencySamples: Int64(MediaClock.samples(forDuration: UInt64(model.latencyNs), sampleRate: rate)),
                      sharedRings: appPort?.rxRings)
    }

    /// Keeps the shared port's clock, heartbeat, RX latencies and TX read-ahead current (every 2 ms), so
    /// applications can place frames in media time on their own.
    func startPortPublisher(_ port: SharedAudioPort) {
        let publish: @Sendable () -> Void = { [self] in
            let mono = monotonicNow()
            let reading = clock.now()
            port.publishClock(monotonic: mono, media: reading?.ns, generation: reading?.generation ?? 0)
            for c in 0..<rx.channels { port.setRxLatency(channel: c, samples: rx.latencySamples(channel: c)) }
            port.setTxReadAhead(frames: tx.stats.maxFramesPerPacket.load(ordering: .relaxed))
            port.heartbeat()
        }
        publish()
        port.markReady()
        let t = Thread { [self] in
            while !portStop.load(ordering: .relaxed) {
                publish()
                sleepNanoseconds(2_000_000)
            }
        }
        t.name = "inferno-port"
        t.start()
        portThread = t
    }

    static func makeSource(_ spec: TxSourceSpec, sampleRate: UInt32) -> TxSampleSource {
        switch spec {
        case .pattern: return PatternSource()
        case .tone(let hz): return ToneSource(frequency: hz, sampleRate: sampleRate)
        default: return SilenceSource()
        }
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
            flowControl = try bind(host, ports.flowControl, what: "flow control") { [unowned self] ep, b, from in
                if mayChange(from) {
                    flowServer.handle(b, from: from) { ep.send($0, to: from) }
                } else if let r = FlowControlServer.refusal(b) {
                    refuse("flow request", from: from)
                    ep.send(r, to: from)
                }
            }
            flowClient = try bind(host, 0, what: "flow client") { [unowned self] _, b, _ in subscriber.flowResponse(b) }
            try startMDNS()
        } catch {
            shutdownSockets()
            try? group.syncShutdownGracefully()
            throw error
        }
        flowServer = FlowControlServer(engine: tx, bindIP: interface.address, limits: txLimits, logger: log)
        subscriber = Subscriber(engine: rx, resolver: resolver, loop: loop, flowClient: flowClient, bindIP: interface.address,
                                processID: config.processID, sampleRate: UInt32(model.sampleRate),
                                latencyNs: UInt64(model.latencyNs), logger: log) { [unowned self] in model.name }
        subscriber.onStatus = { [unowned self] changed in statusChanged(changed) }
        subscriber.requestedFPP = config.fpp
        tx.start()
        rx.start()
        feeder?.start()
        if let appPort {
            startPortPublisher(appPort)
            log.info("applications reach the channels through \(appPort.path) (\(appPort.txChannels) TX, \(appPort.rxChannels) RX at \(appPort.sampleRate) Hz)")
        }
        if !tx.realtime || !rx.realtime {
            log.notice("audio threads run without real-time priority (SCHED_FIFO not permitted: run as root, or grant CAP_SYS_NICE / an rtprio limit)")
        }
        log.info("media clock: \(clock.description) — \(clock.status)")
        mdns.start()
        try loop.submit {
            self.subscriber.sync(self.model.rx.map(\.subscription))
            self.mediaTask = self.loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(250)) { _ in
                self.flowServer.poll()
                self.subscriber.sync(self.model.rx.map(\.subscription))
                self.subscriber.tick()
            }
            self.sendConmon(.boardInfo(self.boardInfo))
            self.sendConmon(.productInfo(self.productInfo))
            self.heartbeatTask = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .seconds(1)) { _ in
                self.sendHeartbeat()
            }
            if self.config.statsSeconds > 0 {
                let every = Int64(self.config.statsSeconds)
                self.statsTask = self.loop.scheduleRepeatedTask(initialDelay: .seconds(every), delay: .seconds(every)) { _ in
                    self.log.info("media totals: \(self.mediaTotalsText)")
                    self.log.info("control totals: \(self.controlTotalsText)")
                }
            }
        }.wait()
        log.info("device \(model.name) (id \(deviceID)) on \(interface.addressString) [\(interface.name)]: ARC \(ports.arc), CMC \(ports.cmc), conmon \(ports.conmon), \(model.tx.count) TX / \(model.rx.count) RX")
    }

    /// Picks the mDNS backend (`--mdns`), logs the choice, and creates its advertiser and resolver (not started).
    func startMDNS() throws {
        let onConflict: @Sendable () -> Void = { [unowned self] in
            let old = model.name
            let new = model.renameAfterConflict()
            log.warning("another device on the network uses the name \(old): renamed to \(new) (saved)")
            apply(.name)
        }
        switch config.mdns {
        case .embedded:
            mdnsBackend = .embedded
            log.info("mDNS: embedded responder (--mdns embedded)")
        case .avahi:
            if interface.isLoopback {
                throw RuntimeError("--mdns avahi (INFERNO_MDNS): Avahi does not serve the loopback interface; bind to a network interface or use --mdns embedded")
            }
            let code = AvahiProbe.daemonAnswers()
            guard code == 0 else {
                throw RuntimeError("--mdns avahi (INFERNO_MDNS): no Avahi daemon answers on the system D-Bus (dns_sd error \(code)); start avahi-daemon or use --mdns embedded")
            }
            mdnsBackend = .avahi
            log.info("mDNS: Avahi (--mdns avahi)")
            let n = advertisement.zone.services.count
            if n > DNSSD.autoServiceLimit {
                log.warning("mDNS: \(n) services go to Avahi, one system D-Bus connection each (the bus allows 256 per user by default): some may be refused")
            }
        case .auto:
            let (useAvahi, reason) = AvahiProbe.check(interface: interface, services: advertisement.zone.services.count)
            mdnsBackend = useAvahi ? .avahi : .embedded
            log.info("mDNS: \(useAvahi ? "Avahi" : "embedded responder") (--mdns auto: \(reason))")
        }
        switch mdnsBackend {
        case .avahi:
            let thread = try DNSSDThread()
            dnssd = thread
            let index = if_nametoindex(interface.name)
            mdns = AvahiAdvertiser(dnssd: thread, interfaceIndex: index, zone: advertisement.zone, loop: loop, logger: log,
                                   onConflict: onConflict)
            resolver = AvahiResolver(dnssd: thread, interfaceIndex: index, loop: loop, logger: log) { [unowned self] device in
                subscriber?.heard(devices: [device])
            }
        default:
            let querier = try MDNSQuerier(group: group, interface: interface)
            resolver = EmbeddedChannelResolver(querier: querier)
            mdns = try MDNSServer(group: group, interface: interface, zone: advertisement.zone, onConflict: onConflict,
                                  onResponse: { [unowned self] message in subscriber?.heard(devices: announcedDevices(message)) })
        }
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
        for hook in stopHooks.reversed() { hook() }
        stopHooks = []
        log.info("media totals: \(mediaTotalsText)")
        _ = try? loop.submit {
            self.log.info("control totals: \(self.controlTotalsText)")
            self.statsTask?.cancel()
            self.heartbeatTask?.cancel()
            self.mediaTask?.cancel()
            self.subscriber?.stopAll()
            self.persist()
        }.wait()
        feeder?.stop()
        portStop.store(true, ordering: .relaxed)
        appPort?.retire()
        tx.stop()
        rx.stop()
        mdns?.stop()
        resolver?.close()
        dnssd?.shutdown()
        shutdownSockets()
        clock.close()
        try? group.syncShutdownGracefully()
        log.info("device stopped")
    }

    func shutdownSockets() {
        for ep in [arc, cmc, conmon, flowControl, flowClient] { ep?.close() }
    }

    // MARK: media

    /// Subscribes (or, with nil names, unsubscribes) RX channel `rx` (1-based), as ARC 0x3010 would.
    public func subscribe(rx: Int, txChannel: String?, txDevice: String?) {
        _ = try? loop.submit {
            var changes: DeviceChanges = []
            _ = self.model.apply([(UInt16(rx), txChannel, txDevice)], changes: &changes)
            self.apply(changes)
        }.wait()
    }

    /// Peak level (dBFS, -inf as nil) of each RX channel over the `window` samples just played out.
    public func rxPeaks(window: Int) -> [Double?] {
        guard let now = clock.now() else { return Array(repeating: nil, count: rx.channels) }
        let t = now.samples(rate: UInt32(config.sampleRate))
        var buf = [Int32](repeating: 0, count: window)
        return (0..<rx.channels).map { c in
            let start = t &- UInt64(rx.latencySamples(channel: c)) &- UInt64(window)
            buf.withUnsafeMutableBufferPointer { _ = rx.rings[c].readChannel(0, at: start, count: window, into: $0.baseAddress!) }
            let peak = buf.reduce(Int32(0)) { max($0, $1 == .min ? .max : abs($1)) }
            return peak == 0 ? nil : 20 * log10(Double(peak) / 2147483648.0)
        }
    }

    var txLimits: TxFlowTable.Limits {
        TxFlowTable.Limits(sampleRate: UInt32(model.sampleRate), txChannels: model.tx.count)
    }

    /// The subscriber changed channel statuses: mirror them into the model (ARC 0x3000) and notify (0x0102).
    func statusChanged(_ changed: [Int]) {
        var notify: [Int] = []
        for ch in changed where ch >= 1 && ch <= model.rx.count {
            let (status, receiving) = subscriber.status(ch - 1)
            if model.rx[ch - 1].status != status || model.rx[ch - 1].receiving != receiving {
                model.rx[ch - 1].status = status
                model.rx[ch - 1].receiving = receiving
                notify.append(ch)
                let sub = model.rx[ch - 1].subscription.map { "\($0.txChannel)@\($0.txDevice)" } ?? "-"
                log.info("RX \(ch) (\(sub)): \(Self.statusText(status, receiving))")
            }
        }
        if !notify.isEmpty { sendConmon(.rxChannelChange(ChannelBitmap(channels: notify))) }
    }

    /// The controller's wording (`ARCSubscriptionStatus.text`), plus whether media is arriving.
    static func statusText(_ s: ARCSubscriptionStatus, _ receiving: Bool) -> String {
        s == .unicast && receiving ? "\(s.text), receiving" : s.text
    }

    /// Statistics for status lines.
    public struct MediaStatus: Sendable {
        public var clockAvailable: Bool
        public var txPackets: UInt64, txFlows: Int, txDropouts: UInt64, txNoClock: UInt64 = 0
        public var rxPackets: UInt64, rxLate: UInt64, rxOutOfWindow: UInt64, rxMalformed: UInt64, rxForeign: UInt64 = 0
        public var flowRequestsRefused = 0, flowRequestsMalformed = 0
    }

    public var mediaStatus: MediaStatus {
        var s = MediaStatus(clockAvailable: tx.stats.clockAvailable.load(ordering: .relaxed),
                            txPackets: tx.stats.packets.load(ordering: .relaxed),
                            txFlows: tx.stats.activeFlows.load(ordering: .relaxed),
                            txDropouts: tx.stats.dropouts.load(ordering: .relaxed),
                            rxPackets: 0, rxLate: 0, rxOutOfWindow: 0, rxMalformed: 0)
        s.txNoClock = tx.stats.noClockLoops.load(ordering: .relaxed)
        for f in rx.flowStats + [rx.retired] {
            s.rxPackets += f.packets.load(ordering: .relaxed)
            s.rxLate += f.late.load(ordering: .relaxed)
            s.rxOutOfWindow += f.outOfWindow.load(ordering: .relaxed)
            s.rxMalformed += f.malformed.load(ordering: .relaxed)
            s.rxForeign += f.foreign.load(ordering: .relaxed)
        }
        if loop.inEventLoop {
            s.flowRequestsRefused = flowServer?.refused ?? 0; s.flowRequestsMalformed = flowServer?.malformed ?? 0
        } else if let (r, m) = try? loop.submit({ (self.flowServer?.refused ?? 0, self.flowServer?.malformed ?? 0) }).wait() {
            s.flowRequestsRefused = r; s.flowRequestsMalformed = m
        }
        return s
    }

    /// One line of counters (logged at exit and every `--stats-seconds`); the monotonic time lets tools compute rates.
    var mediaTotalsText: String {
        let m = mediaStatus
        return "tx packets \(m.txPackets), tx dropouts \(m.txDropouts), tx waits without clock \(m.txNoClock), flow requests refused \(m.flowRequestsRefused), malformed \(m.flowRequestsMalformed); rx packets \(m.rxPackets), late \(m.rxLate), out-of-window \(m.rxOutOfWindow), malformed \(m.rxMalformed), foreign \(m.rxForeign); monotonic ns \(monotonicNow())"
    }

    /// Control-plane counters (read on `loop`).
    var controlTotalsText: String {
        let c = counters
        return "ARC requests \(c.arcRequests), malformed \(c.arcMalformed), replies over the per-source limit \(c.arcRateLimited); mDNS unicast answers over the limit \((mdns as? MDNSServer)?.rateLimited ?? 0); CMC \(c.cmcRequests), malformed \(c.cmcMalformed); conmon \(c.conmonRequests), malformed \(c.conmonMalformed); refused by --allow-controllers \(c.refused)"
    }

    // MARK: state derived from the model

    /// The device's current sample rate.
    public var sampleRate: Int { (try? loop.submit { self.model.sampleRate }.wait()) ?? config.sampleRate }

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
        guard let out = model.handleARC(bytes, allowChanges: mayChange(from)) else { counters.arcMalformed += 1; return }
        counters.arcRequests += 1
        if out.refused {
            refuse(String(format: "ARC 0x%04x", out.request.body.opcode), from: from)
        }
        log.trace("ARC from \(from.ipAddress ?? "?"): \(out.request)")
        // A change is on disk before the controller hears "done": a crash after the reply cannot lose it.
        if !out.changes.isEmpty { persist() }
        if let response = out.response {
            let src: UInt64 = if case .v4(let a) = from { DNSRateLimiter.key(ipv4: UInt32(bigEndian: a.address.sin_addr.s_addr)) } else { 0 }
            if arcReplyLimiter.decide(source: src, now: UInt64(max(0, monotonicNow()))) == .answer {
                ep.send(response, to: from)
            } else {
                counters.arcRateLimited += 1
            }
        }
        apply(out.changes, persisted: true)
    }

    func apply(_ changes: DeviceChanges, persisted: Bool = false) {
        guard !changes.isEmpty else { return }
        if !persisted { persist() }
        if !changes.intersection([.name, .txNames, .settings]).isEmpty {
            mdns.update(zone: advertisement.zone)
        }
        if changes.contains(.name) { log.info("renamed to \(model.name)") }
        if !changes.intersection([.name, .txNames, .rxNames]).isEmpty { onNamesChanged?(currentNames) }
        if changes.contains(.settings) { mediaSettingsChanged() }
        if changes.contains(.subscriptions) { subscriber?.sync(model.rx.map(\.subscription)); subscriber?.tick() }
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

    func mediaSettingsChanged() {
        guard let subscriber else { return }
        if UInt32(model.sampleRate) != subscriber.sampleRate {
            log.info("sample rate now \(model.sampleRate) Hz: restarting flows")
            tx.setSampleRate(UInt32(model.sampleRate))
            flowServer.removeAll()
            flowServer.table.limits = txLimits
            subscriber.sampleRate = UInt32(model.sampleRate)
            subscriber.stopAll()
            subscriber.sync(model.rx.map { _ in nil })
            if let appPort, appPort.sampleRate != UInt32(model.sampleRate) {
                appPort.retire()
                log.warning("the shared port \(appPort.path) was made for \(appPort.sampleRate) Hz: applications lose it; restart the device to serve them at \(model.sampleRate) Hz")
            }
        }
        subscriber.latencyNs = UInt64(model.latencyNs)
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
        if !mayChange(from), let what = Self.conmonChange(packet.message) {
            refuse("conmon \(what)", from: from)
            return
        }
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
        case .clockConfig(let req):
            if req.isSet, let ptp = clock as? PTPClock {
                log.notice("preferred leader \(req.preferred ? "set" : "cleared") by \(from.ipAddress ?? "?")")
                ptp.setPreferred(req.preferred)
            }
            sendConmon(.clockStatus(clockStatus(afterSetting: req.isSet ? req.preferred : nil)))
        case .aes67Config:
            sendConmon(.aes67Status(AES67Status(current: false, pending: false)))
        case .reboot:
            log.notice("reboot requested by \(from.ipAddress ?? "?"): acknowledged, not rebooting")
            sendConmon(.rebootAck(argument: 0))
        default:
            break
        }
    }

    /// Conmon 0x0020 for the clock in use: the built-in PTP clock's real state, else a follower of an external
    /// clock (state 9, not preferred). `afterSetting` is the preferred flag just requested (the PTP thread applies
    /// it a moment later).
    func clockStatus(afterSetting preferred: Bool? = nil) -> ClockStatus {
        let own = (interface.mac ?? [0, 0, 0, 0, 0, 0]) + [0, 0]
        guard let ptp = clock as? PTPClock else { return ClockStatus(portState: 9, preferredLeader: false) }
        let snap = ptp.snapshot
        let st = snap.status
        let gm = st.leaderMAC.map { $0 + [0, 0] } ?? own
        let ppb = Int32(clamping: Int64((st.freqScale * 1e9).rounded()))
        let following = (st.reference == .v1 || st.reference == .v2) && st.servo == .locked
        return ClockStatus(portState: snap.reportedState.rawValue, v2State: st.v2State.rawValue,
                           preferredLeader: preferred ?? st.preferred, synchronized: following, frequencyOffsetPPB: ppb,
                           ownID: own, parentID: gm, grandmasterID: gm)
    }

    /// What a conmon message would change, nil for queries and probes.
    static func conmonChange(_ m: ConmonMessage) -> String? {
        switch m {
        case .clockConfig(let r) where r.isSet: return "preferred-leader change"
        case .setSampleRate(let s) where s.presence != 0: return "sample rate change"
        case .setEncoding(let s) where s.presence != 0: return "encoding change"
        case .interfaceConfig(let r) where !r.isProbe: return "interface change"
        case .reboot: return "reboot"
        default: return nil
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
        // 0x0020 goes out with the class/version of the captured real status (0x0724): netaudio 0.4.2 reads that
        // revision's layout and rejects the same bytes under 0x072A.
        var version: UInt16 = 0x072A
        if case .clockStatus = message { version = 0x0724 }
        let packet = ConmonPacket(deviceID: deviceID.bytes, sequence: nextSequence(), classVersion: version, message: message)
        conmon.send(packet.encode(), to: dest)
    }

    func sendHeartbeat() {
        guard let dest = try? SocketAddress(ipAddress: Self.heartbeatGroup, port: Int(DantePorts.heartbeatMulticast)) else { return }
        // The frequency offset the clock runs at against its host oscillator (the PTP servo's estimate; 0 otherwise).
        let ppb = (clock as? PTPClock).map { Int32(clamping: Int64(($0.snapshot.status.freqScale * 1e9).rounded())) } ?? 0
        conmon.send(Heartbeat(deviceID: deviceID.bytes, sequence: nextSequence(), frequencyOffsetPPB: ppb).encode(), to: dest)
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
