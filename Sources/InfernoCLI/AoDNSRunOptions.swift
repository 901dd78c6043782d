import ArgumentParser
import Foundation
import InfernoAoDNS
import InfernoCommandLine
import InfernoDevice
import InfernoProtocol
import Logging

/// `inferno run --aodns-serve/--aodns-listen`: AoDNS streams as virtual channels of the device.
///
/// * `--aodns-serve ZONE[@ADDR:PORT]`: the RX channels of `--aodns-channels` (default all) are mixed into one
///   mono 16 kHz stream and published as ZONE; those RX channels are named after the zone.
/// * `--aodns-listen ZONE@SERVER:PORT[,…]`: stream k plays on TX channel k (resampled to the device rate);
///   those TX channels are named after the zone, the others carry `--tx-source` (silence, tone or pattern).
struct AoDNSRunOptions: ParsableArguments {
    @Option(name: .customLong("aodns-serve"), help: "Publish RX channels as an AoDNS zone: ZONE[@ADDR:PORT] (default 127.0.0.1:5053) (INFERNO_AODNS_SERVE).")
    var serve: String?
    @Option(name: .customLong("aodns-channels"), help: "RX channels mixed into the --aodns-serve stream, e.g. 1-2 or 1,3 (INFERNO_AODNS_CHANNELS). Default all.")
    var channels: String?
    @Option(name: .customLong("aodns-listen"), help: "Play AoDNS streams on the first TX channels: ZONE@SERVER:PORT[,…] (INFERNO_AODNS_LISTEN).")
    var listen: String?
    @Option(name: .customLong("aodns-latency-ms"), help: "Capture-to-playout delay the --aodns-listen listeners aim for (INFERNO_AODNS_LATENCY_MS). Default 800.")
    var latencyMs: String?

    var env: [String: String] { ProcessInfo.processInfo.environment }
    var serveValue: String? { serve ?? env["INFERNO_AODNS_SERVE"].flatMap { $0.isEmpty ? nil : $0 } }
    var channelsValue: String? { channels ?? env["INFERNO_AODNS_CHANNELS"].flatMap { $0.isEmpty ? nil : $0 } }
    var listenValue: String? { listen ?? env["INFERNO_AODNS_LISTEN"].flatMap { $0.isEmpty ? nil : $0 } }
    var latencyValue: String? { latencyMs ?? env["INFERNO_AODNS_LATENCY_MS"].flatMap { $0.isEmpty ? nil : $0 } }

    /// Any AoDNS option given (the others are then checked: --aodns-channels alone is a mistake).
    var isEnabled: Bool { serveValue != nil || listenValue != nil || channelsValue != nil || latencyValue != nil }

    /// The bridges started on a device (stopped before the device).
    final class Running: @unchecked Sendable {
        /// The device's sample rate (a controller may change it), read at most twice a second.
        final class Rate: @unchecked Sendable {
            weak var runtime: DeviceRuntime?
            var value = 48000
            var checked: Int64 = 0
            let lock = NSLock()
            var current: Int {
                lock.lock(); defer { lock.unlock() }
                let now = monotonicNow()
                if now - checked > 500_000_000, let r = runtime { value = r.sampleRate; checked = now }
                return value
            }
        }
        let rate = Rate()
        var serve: AoDNSServeBridge?
        var listen: AoDNSListenBridge?
        var status: DispatchSourceTimer?
        func stop() {
            status?.cancel()
            serve?.stop()
            listen?.stop()
        }
    }

    /// Validates the options, starts the device (like `DeviceOptions.startDevice`) with the AoDNS channels, then the
    /// bridges. One-line errors exit 2.
    func startDevice(_ device: DeviceOptions) throws -> (DeviceRuntime, Running) {
        // Parse everything before anything starts.
        var serveZone: DNSName?, serveEndpoint = SocketEndpoint("127.0.0.1:5053")!
        if let s = serveValue {
            if let at = s.lastIndex(of: "@") {
                serveZone = try parseZone(String(s[..<at]), option: "--aodns-serve")
                guard let ep = SocketEndpoint(String(s[s.index(after: at)...]), defaultPort: 5053) else {
                    throw fail("--aodns-serve (INFERNO_AODNS_SERVE): \"\(s)\": the address must be ADDR:PORT or [V6]:PORT")
                }
                serveEndpoint = ep
            } else {
                serveZone = try parseZone(s, option: "--aodns-serve (INFERNO_AODNS_SERVE)")
            }
        }
        var streams: [(zone: DNSName, server: SocketEndpoint)] = []
        if let l = listenValue {
            for part in l.split(separator: ",") {
                streams.append(try parseZoneAtServer(String(part), option: "--aodns-listen (INFERNO_AODNS_LISTEN)"))
            }
            guard !streams.isEmpty, streams.count <= 64 else {
                throw fail("--aodns-listen (INFERNO_AODNS_LISTEN): \"\(l)\" must list 1 to 64 ZONE@SERVER:PORT")
            }
        }
        var latency = 800
        if let v = latencyValue {
            guard let n = Int(v), n >= 100, n <= 60_000 else { throw fail("--aodns-latency-ms (INFERNO_AODNS_LATENCY_MS): \"\(v)\" must be 100 to 60000") }
            latency = n
        }
        if latencyValue != nil && streams.isEmpty {
            throw fail("--aodns-latency-ms (INFERNO_AODNS_LATENCY_MS): \"\(latencyValue!)\" needs --aodns-listen")
        }
        if channelsValue != nil && serveZone == nil {
            throw fail("--aodns-channels (INFERNO_AODNS_CHANNELS): \"\(channelsValue!)\" needs --aodns-serve")
        }

        let env = ProcessInfo.processInfo.environment
        var overrides: [String: String] = [:]
        // Enough TX channels for the streams when --tx is not given.
        if !streams.isEmpty, device.tx == nil, env["INFERNO_TX_CHANNELS"] == nil { overrides["tx"] = String(max(2, streams.count)) }
        let config: DeviceConfig
        do { config = try DeviceConfig.resolve(flags: device.flags.merging(overrides) { a, _ in a }, environment: env) } catch {
            throw fail("\(error)")
        }
        if !streams.isEmpty {
            if streams.count > config.txChannels {
                throw fail("--aodns-listen (INFERNO_AODNS_LISTEN): \(streams.count) streams need at least \(streams.count) TX channels (--tx \(config.txChannels))")
            }
            switch config.txSource {
            case .wav, .raw, .stdin: throw fail("--aodns-listen (INFERNO_AODNS_LISTEN): cannot be combined with --tx-source \(device.txSource ?? "file"): use silence, tone or pattern")
            default: break
            }
            if config.shm != nil { throw fail("--aodns-listen (INFERNO_AODNS_LISTEN): cannot be combined with --shm") }
        }
        var rxList: [Int] = []
        if serveZone != nil {
            if let c = channelsValue {
                guard let l = Record.parseChannels(c), l.allSatisfy({ $0 <= config.rxChannels }) else {
                    throw fail("--aodns-channels (INFERNO_AODNS_CHANNELS): \"\(c)\" must be RX channels like 1-2 or 1,3 within --rx \(config.rxChannels)")
                }
                rxList = Array(Set(l)).sorted()
            } else {
                rxList = Array(1...max(1, config.rxChannels))
            }
            guard config.rxChannels >= 1 else { throw fail("--aodns-serve (INFERNO_AODNS_SERVE): the device has no RX channels (--rx 0)") }
        }
        var settings = AoDNSServeSettings()
        if let z = serveZone, let problem = settings.validate(zone: z) { throw fail("--aodns-serve: \(problem)") }
        settings.window = 75

        let running = Running()
        // The device as every face makes it (logging, clock, AudioSocket channels), with the listened streams
        // feeding the first TX channels.
        let runtime = try device.makeDevice(overrides: overrides) { config, clock, logger in
            guard !streams.isEmpty else { return nil }
            let rate = config.sampleRate
            let rates = running.rate
            rates.value = rate
            let listenBridge = try AoDNSListenBridge(streams: streams, latencyMs: latency, clock: clock,
                                                     sampleRate: { rates.current }, log: { logger.notice("\($0)") })
            running.listen = listenBridge
            let rest: TxSampleSource
            switch config.txSource {
            case .tone(let hz): rest = ToneSource(frequency: hz, sampleRate: UInt32(rate))
            case .pattern: rest = PatternSource()
            default: rest = SilenceSource()
            }
            return listenBridge.txSource(rest: rest)
        }
        let logger = Logger(label: "inferno")
        running.rate.runtime = runtime
        var txNames: [Int: String] = [:], rxNames: [Int: String] = [:]
        var used = Set<String>()
        for (k, s) in streams.enumerated() {
            var label = AoDNSNames(zone: s.zone).channelLabel
            var n = 2
            while used.contains(label) {
                let suffix = "-\(n)"
                label = String(decoding: Array(AoDNSNames(zone: s.zone).channelLabel.utf8.prefix(31 - suffix.utf8.count)), as: UTF8.self) + suffix
                n += 1
            }
            used.insert(label)
            txNames[k + 1] = label
        }
        if let z = serveZone {
            let label = AoDNSNames(zone: z).channelLabel
            for (i, c) in rxList.enumerated() {
                let suffix = rxList.count > 1 ? " \(i + 1)" : ""
                rxNames[c] = String(decoding: Array(label.utf8.prefix(31 - suffix.utf8.count)), as: UTF8.self) + suffix
            }
        }
        runtime.setDefaultChannelNames(tx: txNames, rx: rxNames)
        try device.start(runtime)
        do {
            if let z = serveZone {
                settings.sampleRate = 16000
                let (server, streamer) = try startAoDNSServer(zone: z, listen: serveEndpoint, settings: settings,
                                                              options: DNSServer.Options(),
                                                              option: "--aodns-serve (INFERNO_AODNS_SERVE)")
                let bridge = AoDNSServeBridge(runtime: runtime, channels: rxList.map { $0 - 1 }, server: server, streamer: streamer)
                bridge.start()
                running.serve = bridge
                logger.info("aodns: RX \(rxList.map(String.init).joined(separator: ",")) published as \(z) on \(serveEndpoint) (UDP+TCP), epoch \(String(streamer.epoch, radix: 16)), 16000 Hz mono, \(settings.packetsPerPack)×60 ms packs, \(streamer.bitrate) bit/s")
            }
            if let l = running.listen {
                l.start()
                for (k, s) in streams.enumerated() { logger.info("aodns: TX \(k + 1) plays \(s.zone)@\(s.server) (latency \(latency) ms)") }
            }
        } catch {
            running.stop()
            runtime.stop()
            throw error
        }
        let r = running
        running.status = statusTimer(every: 10) {
            var parts: [String] = []
            if let s = r.serve { parts.append("aodns serve: \(s.streamer.summary) | \(s.server.counters.summary)") }
            if let l = r.listen {
                for (k, x) in l.listeners.enumerated() { parts.append("aodns TX \(k + 1): \(x.stats.summary)") }
            }
            return parts.joined(separator: "\n")
        }
        return (runtime, running)
    }
}
