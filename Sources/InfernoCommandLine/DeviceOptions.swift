import ArgumentParser
import Foundation
import InfernoAudioSocket
import InfernoDevice
import Logging

/// The AudioSocket call channels `makeDevice` gave the device it made, for `start` to bridge (the commands run one
/// device per process).
nonisolated(unsafe) private var pendingCalls: DeviceCallMedia?

/// The options every device-running command shares (`inferno run`, `inferno record`, `inferno-wired`).
public struct DeviceOptions: ParsableArguments {
    public init() {}

    @Option(help: "Device name: letters, digits and inner hyphens, at most 31 (INFERNO_NAME). Default inferno-<6 hex of the device id>.")
    public var name: String?
    @Option(help: "Number of transmit channels (INFERNO_TX_CHANNELS). Default 2.")
    public var tx: String?
    @Option(help: "Number of receive channels (INFERNO_RX_CHANNELS). Default 2.")
    public var rx: String?
    @Option(help: "IPv4 address or interface to serve on (INFERNO_BIND_IP). Default 127.0.0.1.")
    public var bind: String?
    @Option(help: "Base port: ARC on BASE, CMC BASE+1, flow control BASE+2, conmon BASE+3 (INFERNO_ALT_PORT). Default 4440/8800/4455/8700.")
    public var ports: String?
    @Option(name: .customLong("process-id"), help: "Process id, distinct per instance on one host (INFERNO_PROCESS_ID). Default 0.")
    public var processID: String?
    @Option(name: .customLong("device-id"), help: "16 hex digits (INFERNO_DEVICE_ID). Default: EUI-64 of the interface MAC.")
    public var deviceID: String?
    @Option(name: .customLong("sample-rate"), help: "44100, 48000, 88200 or 96000 (INFERNO_SAMPLE_RATE). Default 48000.")
    public var sampleRate: String?
    @Option(help: "Bits per sample on the wire: 16, 24 or 32 (INFERNO_ENCODING). Default 24.")
    public var encoding: String?
    @Option(name: .customLong("latency-ms"), help: "Receive latency in milliseconds, never below the transmitter's (INFERNO_LATENCY_MS). Default 4.")
    public var latencyMs: String?
    @Option(name: .customLong("tx-source"), help: "What TX channels carry: silence, tone[:HZ], pattern, wav:FILE, raw:FILE or - (S32_LE on stdin) (INFERNO_TX_SOURCE). Default silence.")
    public var txSource: String?
    @Option(help: "tpdf or off: dither when the wire depth is below the source's (INFERNO_DITHER). Default tpdf.")
    public var dither: String?
    @Option(help: "auto, system, ptp, usrvclock[:PATH] or phc:/dev/ptpN (INFERNO_CLOCK; INFERNO_CLOCK_PATH sets the usrvclock socket). Default auto.")
    public var clock: String?
    @OptionGroup(title: "PTP clock (--clock ptp, or auto)") public var ptp: PTPOptions
    @Option(name: .customLong("state-dir"), help: "Where state is kept, one file per device id (INFERNO_STATE_DIR). Default $XDG_STATE_HOME/inferno.")
    public var stateDir: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (INFERNO_LOG_LEVEL). Default info.")
    public var logLevel: String?
    @Option(help: "Serve the channels to applications (the ALSA plugin's `mode attach`) through /dev/shm/inferno-NAME instead of --tx-source (INFERNO_SHM).")
    public var shm: String?
    @Option(help: "Frames per packet to ask transmitters for (INFERNO_FPP). Default: a quarter of the latency, within the transmitter's range.")
    public var fpp: String?
    @Option(help: "mDNS backend: auto, embedded or avahi (INFERNO_MDNS). Default auto: avahi-daemon when it answers on the system D-Bus, else the embedded responder.")
    public var mdns: String?
    @Option(name: .customLong("stats-seconds"), help: "Log the media counters every N seconds (INFERNO_STATS_SECONDS). Default 0: only at exit.")
    public var statsSeconds: String?
    @Option(name: .customLong("allow-controllers"), help: "Only controllers in these IPv4 networks may change the device, e.g. 10.0.0.0/24,10.1.2.3 (INFERNO_ALLOW_CONTROLLERS). Reads stay open. Default: anyone.")
    public var allowControllers: String?
    @Option(name: .customLong("audiosocket-listen"), help: "AudioSocket server for Asterisk: ADDR:PORT, [V6]:PORT, comma-separated for several (INFERNO_AUDIOSOCKET_LISTEN). Each call takes a free slot: TX and RX channels \"call N\".")
    public var audiosocketListen: String?
    @Option(name: .customLong("audiosocket-calls"), help: "Call slots, 1-128 (INFERNO_AUDIOSOCKET_CALLS). Default 4.")
    public var audiosocketCalls: String?
    @Option(name: .customLong("audiosocket-connect"), help: "Dial an AudioSocket server: HOST:PORT,UUID[,RATE]; repeat for several (INFERNO_AUDIOSOCKET_CONNECT, space-separated).")
    public var audiosocketConnect: [String] = []
    @Option(name: .customLong("shm-owner-fd"), help: .hidden)
    public var shmOwnerFD: String?

    public var flags: [String: String] {
        var flags: [String: String] = [:]
        let given: [(String, String?)] = [
            ("name", name), ("tx", tx), ("rx", rx), ("bind", bind), ("ports", ports), ("process-id", processID),
            ("device-id", deviceID), ("sample-rate", sampleRate), ("encoding", encoding), ("latency-ms", latencyMs),
            ("tx-source", txSource), ("dither", dither), ("clock", clock), ("state-dir", stateDir), ("log-level", logLevel),
            ("shm", shm), ("shm-owner-fd", shmOwnerFD), ("fpp", fpp), ("stats-seconds", statsSeconds), ("mdns", mdns),
            ("allow-controllers", allowControllers),
            ("audiosocket-listen", audiosocketListen), ("audiosocket-calls", audiosocketCalls),
            ("audiosocket-connect", audiosocketConnect.isEmpty ? nil : audiosocketConnect.joined(separator: " ")),
        ] + ptp.given
        for (k, v) in given { if let v { flags[k] = v } }
        return flags
    }

    /// Resolves the configuration, sets up logging and creates a device without starting it (nothing is bound
    /// yet). `txSource` may supply what TX carries for the resolved configuration, given the device's clock and
    /// logger (nil: the configured `--tx-source`); an error it throws is reported like a configuration error.
    /// One-line errors, prefixed with `program`, exit with status 2.
    public func makeDevice(overrides: [String: String] = [:], program: String = "inferno",
                           txSource: ((DeviceConfig, MediaClockSource, Logger) throws -> TxSampleSource?)? = nil) throws -> DeviceRuntime {
        let env = ProcessInfo.processInfo.environment
        do {
            let config = try DeviceConfig.resolve(flags: flags.merging(overrides) { a, _ in a }, environment: env)
            let level = Logger.Level(rawValue: config.logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            let logger = Logger(label: program)
            let clock = try config.clock.makeSource(logger: logger, ptp: ClockSpec.PTPContext(config: config))
            // AudioSocket calls: extra channels "call N", fed and read by the bridge `start` starts.
            let calls = config.audioSocket.enabled ? DeviceCallMedia(slots: config.audioSocket.calls) : nil
            let runtime = try DeviceRuntime(config: config, environment: env, logger: logger, clock: clock,
                                            txSource: txSource?(config, clock, logger), extraTxSource: calls?.txSource)
            pendingCalls = calls
            return runtime
        } catch {
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Starts a device made by `makeDevice`; a port in use is a one-line error (exit status 2).
    public func start(_ runtime: DeviceRuntime, program: String = "inferno") throws {
        do {
            try runtime.start()
            if let calls = pendingCalls {
                pendingCalls = nil
                let logger = Logger(label: program)
                do {
                    _ = try AudioSocketBridge.start(on: runtime, media: calls) { event in printEvent(event, logger: logger) }
                } catch {
                    runtime.stop()
                    throw error
                }
            }
        } catch {
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Resolves the configuration, sets up logging and starts a device; one-line errors exit with status 2.
    public func startDevice(overrides: [String: String] = [:]) throws -> DeviceRuntime {
        let runtime = try makeDevice(overrides: overrides)
        try start(runtime)
        return runtime
    }
}

/// Blocks until SIGINT or SIGTERM (or `until` returns true, polled every 100 ms).
public func waitForSignal(until: (() -> Bool)? = nil) {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let done = DispatchSemaphore(value: 0)
    var sources: [DispatchSourceSignal] = []
    for sig in [SIGINT, SIGTERM] {
        let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        s.setEventHandler { done.signal() }
        s.resume()
        sources.append(s)
    }
    if let until {
        while done.wait(timeout: .now() + .milliseconds(100)) == .timedOut { if until() { break } }
    } else {
        done.wait()
    }
    _ = sources
}

/// AudioSocket events: a JSON line on stdout (for scripts and hooks) and a log line.
public func printEvent(_ event: AudioSocketEvent, logger: Logger) {
    switch event {
    case .refused, .rejected, .dialFailed: logger.notice("\(event.logLine)")
    default: logger.info("\(event.logLine)")
    }
    writeLine(event.jsonLine)
}

/// One line to stdout with a single write (events come from one thread; lines never interleave).
public func writeLine(_ s: String) {
    let bytes = Array((s + "\n").utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + off, $0.count - off) }
        if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
        off += n
    }
}

/// The `--ptp-*` options (device commands and `inferno clock`).
public struct PTPOptions: ParsableArguments {
    public init() {}
    @Option(name: .customLong("ptp-version"), help: "1 (Dante), 2 (AES67, linuxptp) or both (INFERNO_PTP_VERSION). Default both.")
    public var version: String?
    @Option(name: .customLong("ptp-domain"), help: "PTPv2 domain 0-127 (INFERNO_PTP_DOMAIN). Default 0.")
    public var domain: String?
    @Option(name: .customLong("ptp-leader"), help: "never, auto (lead when no better leader is heard) or preferred (INFERNO_PTP_LEADER). Default auto with --clock ptp; with --clock auto the device only follows unless this is given.")
    public var leader: String?
    @Option(name: .customLong("ptp-timestamping"), help: "auto or software: kernel software timestamps (INFERNO_PTP_TIMESTAMPING). Default auto.")
    public var timestamping: String?
    @Option(name: .customLong("ptp-test-timescale-offset-ns"), help: "Test only: lead with the host clock shifted by this many ns (INFERNO_PTP_TEST_TIMESCALE_OFFSET_NS).")
    public var testOffset: String?
    @Option(name: .customLong("ptp-test-timescale-ppm"), help: "Test only: lead with the host clock running this many ppm fast (INFERNO_PTP_TEST_TIMESCALE_PPM).")
    public var testPpm: String?

    public var given: [(String, String?)] {
        [("ptp-version", version), ("ptp-domain", domain), ("ptp-leader", leader), ("ptp-timestamping", timestamping),
         ("ptp-test-timescale-offset-ns", testOffset), ("ptp-test-timescale-ppm", testPpm)]
    }
}
