import ArgumentParser
import Foundation
import InfernoDevice
import Logging

/// The options every device-running command shares (`run`, `record`).
struct DeviceOptions: ParsableArguments {
    @Option(help: "Device name: letters, digits and inner hyphens, at most 31 (INFERNO_NAME). Default inferno-<6 hex of the device id>.")
    var name: String?
    @Option(help: "Number of transmit channels (INFERNO_TX_CHANNELS). Default 2.")
    var tx: String?
    @Option(help: "Number of receive channels (INFERNO_RX_CHANNELS). Default 2.")
    var rx: String?
    @Option(help: "IPv4 address or interface to serve on (INFERNO_BIND_IP). Default 127.0.0.1.")
    var bind: String?
    @Option(help: "Base port: ARC on BASE, CMC BASE+1, flow control BASE+2, conmon BASE+3 (INFERNO_ALT_PORT). Default 4440/8800/4455/8700.")
    var ports: String?
    @Option(name: .customLong("process-id"), help: "Process id, distinct per instance on one host (INFERNO_PROCESS_ID). Default 0.")
    var processID: String?
    @Option(name: .customLong("device-id"), help: "16 hex digits (INFERNO_DEVICE_ID). Default: EUI-64 of the interface MAC.")
    var deviceID: String?
    @Option(name: .customLong("sample-rate"), help: "44100, 48000, 88200 or 96000 (INFERNO_SAMPLE_RATE). Default 48000.")
    var sampleRate: String?
    @Option(help: "Bits per sample on the wire: 16, 24 or 32 (INFERNO_ENCODING). Default 24.")
    var encoding: String?
    @Option(name: .customLong("latency-ms"), help: "Receive latency in milliseconds, never below the transmitter's (INFERNO_LATENCY_MS). Default 4.")
    var latencyMs: String?
    @Option(name: .customLong("tx-source"), help: "What TX channels carry: silence, tone[:HZ], pattern, wav:FILE, raw:FILE or - (S32_LE on stdin) (INFERNO_TX_SOURCE). Default silence.")
    var txSource: String?
    @Option(help: "tpdf or off: dither when the wire depth is below the source's (INFERNO_DITHER). Default tpdf.")
    var dither: String?
    @Option(help: "auto, system, usrvclock[:PATH] or phc:/dev/ptpN (INFERNO_CLOCK; INFERNO_CLOCK_PATH sets the usrvclock socket). Default auto.")
    var clock: String?
    @Option(name: .customLong("state-dir"), help: "Where state is kept, one file per device id (INFERNO_STATE_DIR). Default $XDG_STATE_HOME/inferno.")
    var stateDir: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (INFERNO_LOG_LEVEL). Default info.")
    var logLevel: String?
    @Option(help: "Serve the channels to applications (the ALSA plugin's `mode attach`) through /dev/shm/inferno-NAME instead of --tx-source (INFERNO_SHM).")
    var shm: String?
    @Option(name: .customLong("shm-owner-fd"), help: .hidden)
    var shmOwnerFD: String?

    var flags: [String: String] {
        var flags: [String: String] = [:]
        let given: [(String, String?)] = [
            ("name", name), ("tx", tx), ("rx", rx), ("bind", bind), ("ports", ports), ("process-id", processID),
            ("device-id", deviceID), ("sample-rate", sampleRate), ("encoding", encoding), ("latency-ms", latencyMs),
            ("tx-source", txSource), ("dither", dither), ("clock", clock), ("state-dir", stateDir), ("log-level", logLevel),
            ("shm", shm), ("shm-owner-fd", shmOwnerFD),
        ]
        for (k, v) in given { if let v { flags[k] = v } }
        return flags
    }

    /// Resolves the configuration, sets up logging and starts a device; one-line errors exit with status 2.
    func startDevice(overrides: [String: String] = [:]) throws -> DeviceRuntime {
        let env = ProcessInfo.processInfo.environment
        do {
            let config = try DeviceConfig.resolve(flags: flags.merging(overrides) { a, _ in a }, environment: env)
            let level = Logger.Level(rawValue: config.logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            let logger = Logger(label: "inferno")
            let clock = try config.clock.makeSource(logger: logger)
            let runtime = try DeviceRuntime(config: config, environment: env, logger: logger, clock: clock)
            try runtime.start()
            return runtime
        } catch {
            FileHandle.standardError.write(Data("inferno: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// Blocks until SIGINT or SIGTERM (or `until` returns true, polled every 100 ms).
func waitForSignal(until: (() -> Bool)? = nil) {
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

/// `inferno run`: a Dante device on the network until SIGINT/SIGTERM.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Dante device: it appears in Dante Controller and netaudio until stopped (SIGINT/SIGTERM).",
        discussion: """
            Every option can also come from the environment variable named in its help; flags win.
            Without --bind the device serves on loopback (127.0.0.1) only, so nothing leaves the machine; \
            use --bind eth0 (or an address) to put it on a real network.
            """)

    @OptionGroup var device: DeviceOptions
    @OptionGroup var aodns: AoDNSRunOptions

    func run() throws {
        var bridges: AoDNSRunOptions.Running?
        let runtime: DeviceRuntime
        if aodns.isEnabled { (runtime, bridges) = try aodns.startDevice(device) } else { runtime = try device.startDevice() }
        if let fd = runtime.config.shmOwnerFD {
            // Started by the ALSA plugin: live as long as the plugin holds the pipe's write end.
            waitForSignal(until: { ownerGone(fd) })
        } else {
            waitForSignal()
        }
        bridges?.stop()
        runtime.stop()
    }

    /// True once every writer of the pipe `fd` has closed it (read gives end-of-file or an error).
    func ownerGone(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        return read(fd, &byte, 1) <= 0
    }
}
