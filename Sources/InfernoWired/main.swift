import ArgumentParser
import CInfernoPipeWire
import Foundation
import InfernoCommandLine
import InfernoDevice
import InfernoMedia
import Logging

/// `inferno-wired`: a Dante device whose channels are PipeWire ports.
struct InfernoWired: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inferno-wired",
        abstract: "Run a Dante device as PipeWire nodes: a source with its RX channels, a sink with its TX channels.",
        discussion: """
            Every `inferno run` option applies (flags or INFERNO_* variables; flags win). PipeWire clients (and \
            JACK and Pulse clients through it) see one mono port per Dante channel, named after the channel; \
            renames from a controller rename the ports. The device stays on the network while applications come \
            and go and while PipeWire restarts (the nodes come back when it does).

            Timing: by default (--pw-clock driver) a driver node starts each graph cycle from the Dante media \
            clock, like a sound card's driver; whatever is linked to the nodes runs on Dante time. When a \
            driver of higher priority runs the group, or with --pw-clock follow, the nodes follow that driver \
            and resample so the Dante side stays locked. A status line reports the mode and the drift.
            """,
        version: "inferno-wired \(InfernoVersion.string) (\(SystemLibraries.summary))")

    @OptionGroup var device: DeviceOptions
    @Option(name: .customLong("pw-clock"), help: "driver (a media-clock driver runs the graph) or follow (follow the graph's driver, resampling) (INFERNO_PW_CLOCK). Default driver.")
    var pwClock: String?
    @Option(name: .customLong("pw-priority"), help: "priority.driver of the media-clock driver (INFERNO_PW_PRIORITY). Default 10000: above sound cards, below PipeWire's dummy driver.")
    var pwPriority: String?
    @Option(name: .customLong("pw-quantum"), help: "Requested graph quantum in samples, 16–8192 (INFERNO_PW_QUANTUM). Default: the graph's.")
    var pwQuantum: String?
    @Option(name: .customLong("status-interval"), help: "Seconds between status lines (timing mode, drift); 0 = only on changes (INFERNO_PW_STATUS_INTERVAL). Default 60.")
    var statusInterval: String?

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        var pwFlags: [String: String] = [:]
        for (k, v) in [("pw-clock", pwClock), ("pw-priority", pwPriority), ("pw-quantum", pwQuantum),
                       ("status-interval", statusInterval)] {
            if let v { pwFlags[k] = v }
        }
        let settings: WiredSettings
        do {
            settings = try WiredSettings.resolve(flags: pwFlags, environment: env)
        } catch {
            FileHandle.standardError.write(Data("inferno-wired: \(error)\n".utf8))
            throw ExitCode(2)
        }
        inferno_pw_init()
        // A missing daemon is reported before anything else happens (nothing goes on the network).
        var err = [CChar](repeating: 0, count: 512)
        if inferno_pw_probe(&err, err.count) != 0 {
            let msg = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            FileHandle.standardError.write(Data("inferno-wired: \(msg)\n".utf8))
            throw ExitCode(2)
        }

        // TX carries what the PipeWire sink receives, unless --tx-source or --shm says otherwise.
        var txRing: TimestampRingBuffer?
        let runtime = try device.makeDevice(program: "inferno-wired") { config, _, _ in
            guard config.txSource == .silence, config.shm == nil, config.txChannels > 0 else { return nil }
            // 0.68 s at 48 kHz: two quanta of lead (≤ 2 × 8192) plus a cycle, with room to spare.
            let ring = TimestampRingBuffer(channels: config.txChannels, capacity: 32768)
            txRing = ring
            return RingSource(ring: ring, significantBits: 32)
        }
        let log = Logger(label: "inferno-wired")
        if txRing == nil && runtime.config.txChannels > 0 {
            let what = runtime.config.shm.map { "what applications write to --shm \($0)" } ?? "--tx-source (\(runtime.config.txSource))"
            log.notice("TX channels carry \(what); no PipeWire sink node")
        }
        let bridge = WiredBridge(runtime: runtime, txRing: txRing, settings: settings, logger: log)
        do {
            try bridge.connect()
        } catch {
            FileHandle.standardError.write(Data("inferno-wired: \(error)\n".utf8))
            throw ExitCode(2)
        }
        runtime.onNamesChanged = { [bridge] names in bridge.namesChanged(names) }
        do {
            try device.start(runtime, program: "inferno-wired")
        } catch {
            bridge.stop()
            throw error
        }
        log.info("PipeWire: \(bridge.describeNodes()); timing: \(settings.clockMode == .driver ? "media-clock driver" : "follow the graph's driver")")
        bridge.start()
        waitForSignal()
        bridge.stop()
        runtime.stop()
    }
}

// Like `InfernoWired.main()`, except that usage errors exit 2 (ArgumentParser's default is 64).
do {
    var command = try InfernoWired.parseAsRoot()
    try command.run()
} catch {
    if InfernoWired.exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((InfernoWired.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    InfernoWired.exit(withError: error)
}
