import ArgumentParser
import Foundation
import InfernoAudioSocket
import InfernoCommandLine
import InfernoDevice
import InfernoProtocol
import Logging

/// `inferno audiosocket …`: Asterisk's AudioSocket protocol without a Dante network.
struct AudioSocketCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audiosocket",
        abstract: "AudioSocket (Asterisk) tools; on a device use `inferno run --audiosocket-listen`.",
        subcommands: [Serve.self])

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An AudioSocket server on its own: records every call, plays the same audio to every caller.",
            discussion: """
                Asterisk connects with AudioSocket(uuid,host:port) or Dial(AudioSocket/host:port/uuid). Each call is \
                recorded to DIR/<uuid>.wav (16-bit mono at the call's rate). Events (call, dtmf, rate, hangup, \
                refused, rejected) are JSON lines on stdout; the log goes to stderr. Runs until SIGINT/SIGTERM \
                (every call gets 00 00 00) or --duration.
                """)

        @Option(help: "ADDR:PORT or [V6]:PORT to listen on; repeat for several (INFERNO_AUDIOSOCKET_LISTEN).")
        var listen: [String] = []
        @Option(help: "Directory for one WAV per call, named by the call's UUID.")
        var record: String?
        @Option(help: "What every caller hears: silence, tone[:HZ] (−20 dBFS) or wav:FILE (then silence).")
        var play = "silence"
        @Option(name: .customLong("max-calls"), help: "Concurrent calls (1-1024); more are refused with 00 00 00.")
        var maxCalls = 64
        @Option(name: .customLong("max-pending"), help: "Connections waiting for their UUID (the oldest is dropped beyond).")
        var maxPending = 64
        @Option(name: .customLong("uuid-timeout"), help: "Seconds to wait for the UUID.")
        var uuidTimeout = 3.0
        @Option(name: .customLong("message-timeout"), help: "Seconds a started message may take to complete.")
        var messageTimeout = 1.0
        @Option(name: .customLong("idle-timeout"), help: "Seconds without any message before a call is dropped.")
        var idleTimeout = 10.0
        @Option(help: "Stop after this many seconds.")
        var duration: Double?
        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
        var logLevel = "info"

        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("inferno: \(message)\n".utf8))
            return ExitCode(2)
        }

        func run() throws {
            var addresses: [HostPort] = []
            var listenTexts = listen
            if listenTexts.isEmpty, let env = ProcessInfo.processInfo.environment["INFERNO_AUDIOSOCKET_LISTEN"], !env.isEmpty {
                listenTexts = env.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            }
            guard !listenTexts.isEmpty else { throw fail("--listen: give at least one ADDR:PORT, e.g. 127.0.0.1:9092") }
            for t in listenTexts {
                do { addresses.append(try HostPort.parse(t, setting: "--listen (INFERNO_AUDIOSOCKET_LISTEN)", listening: true)) } catch {
                    throw fail(error.description)
                }
            }
            guard let playSpec = ServeMedia.Play.parse(play) else {
                throw fail("--play: \"\(play)\" must be silence, tone[:HZ] or wav:FILE")
            }
            guard (1...1024).contains(maxCalls) else { throw fail("--max-calls: \"\(maxCalls)\" must be from 1 to 1024") }
            guard (1...4096).contains(maxPending) else { throw fail("--max-pending: \"\(maxPending)\" must be from 1 to 4096") }
            for (name, v) in [("--uuid-timeout", uuidTimeout), ("--message-timeout", messageTimeout), ("--idle-timeout", idleTimeout)] {
                guard v.isFinite, v > 0, v <= 3600 else { throw fail("\(name): \"\(v)\" must be seconds above 0, at most 3600") }
            }
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(logLevel) else { throw fail("--log-level: \"\(logLevel)\" must be one of \(levels.joined(separator: ", "))") }
            let level = Logger.Level(rawValue: logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            let logger = Logger(label: "inferno")
            let media: ServeMedia
            do {
                media = try ServeMedia(slots: maxCalls, recordDir: record, play: playSpec) { slot, path in
                    writeLine("{\"event\":\"recorded\",\"path\":\"\(path)\",\"slot\":\(slot + 1)}")
                }
            } catch {
                throw fail(error.description)
            }
            var options = AudioSocketHubOptions()
            options.listen = addresses
            options.slots = maxCalls
            options.maxPending = maxPending
            options.limits.uuidTimeoutNs = UInt64(uuidTimeout * 1e9)
            options.limits.messageTimeoutNs = UInt64(messageTimeout * 1e9)
            options.limits.idleTimeoutNs = UInt64(idleTimeout * 1e9)
            let hub = AudioSocketHub(options: options, media: media) { printEvent($0, logger: logger) }
            do { try hub.start() } catch { throw fail("\(error)".replacingOccurrences(of: "--audiosocket-listen", with: "--listen")) }
            if !hub.realtime { logger.notice("AudioSocket pacer runs without real-time priority (SCHED_FIFO not permitted)") }
            let end = duration.map { Date().addingTimeInterval($0) }
            waitForSignal { end.map { Date() >= $0 } ?? false }
            hub.stop()
            logger.info("AudioSocket: stopped after \(hub.accepted.load(ordering: .relaxed)) connections, \(hub.refusedCount.load(ordering: .relaxed)) refused")
        }
    }
}
