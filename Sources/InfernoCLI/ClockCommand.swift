import ArgumentParser
import Foundation
import InfernoCommandLine
import InfernoDevice
import Logging

/// `inferno clock`: the media clock tools. `serve` publishes the host clock over usrvclock; `show` prints what
/// `--clock` would follow.
struct ClockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clock",
        abstract: "Media clock tools: a usrvclock server for one host, and what --clock selects.",
        subcommands: [Serve.self, Show.self])

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the host clock over usrvclock until SIGINT/SIGTERM.",
            discussion: """
                Devices started with --clock usrvclock[:PATH] (or auto) follow it. Source system publishes \
                CLOCK_TAI as is; monotonic-raw publishes CLOCK_MONOTONIC_RAW shifted onto TAI. Either way devices \
                on this server and devices on --clock system agree on one host.
                """)

        @Option(help: "Socket path (INFERNO_CLOCK_PATH). Default /tmp/ptp-usrvclock.")
        var socket: String?
        @Option(help: "system (CLOCK_TAI) or monotonic-raw. Default system.")
        var source: String = "system"
        @Option(name: .customLong("interval-ms"), help: "Push interval in milliseconds, 1 to 1000. Default 250.")
        var intervalMs: Int = 250
        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (INFERNO_LOG_LEVEL). Default info.")
        var logLevel: String?

        func validate() throws {
            guard USrvClockServer.Source(name: source) != nil else {
                throw ValidationError("--source: \"\(source)\" must be system or monotonic-raw")
            }
            guard (1...1000).contains(intervalMs) else {
                throw ValidationError("--interval-ms: \"\(intervalMs)\" must be a whole number from 1 to 1000")
            }
        }

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            let log = bootstrapLogging(logLevel ?? env["INFERNO_LOG_LEVEL"], label: "inferno.clock")
            let path = socket ?? env[ClockSpec.pathEnvironmentKey].flatMap { $0.isEmpty ? nil : $0 }
                ?? ClockSpec.defaultUSrvClockPath
            let server: USrvClockServer
            do {
                server = try USrvClockServer(path: path, source: USrvClockServer.Source(name: source)!,
                                             intervalNs: Int64(intervalMs) * 1_000_000, logger: log)
            } catch {
                FileHandle.standardError.write(Data("inferno: \(error)\n".utf8))
                throw ExitCode(2)
            }
            waitForSignal()
            server.stop()
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the clock source --clock selects, its status and the current media time, then exit.",
            discussion: """
                Output lines: source, reason, status, time_ns (PTP-timescale ns, or "none"), generation. \
                Exits 1 when no clock is available within --wait-ms.
                """)

        @Option(help: "auto, system, usrvclock[:PATH] or phc:/dev/ptpN (INFERNO_CLOCK; INFERNO_CLOCK_PATH is the usrvclock path). Default auto.")
        var clock: String?
        @Option(name: .customLong("wait-ms"), help: "How long to wait for a usrvclock overlay, in milliseconds. Default 2000.")
        var waitMs: Int = 2000
        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (INFERNO_LOG_LEVEL). Default warning.")
        var logLevel: String?

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            let log = bootstrapLogging(logLevel ?? env["INFERNO_LOG_LEVEL"] ?? "warning", label: "inferno.clock")
            let selection: ClockSpec.Selection
            do {
                let spec = try ClockSpec.parse(clock, environment: env)
                selection = try spec.select(logger: log)
            } catch {
                FileHandle.standardError.write(Data("inferno: \(error)\n".utf8))
                throw ExitCode(2)
            }
            let source = selection.source
            defer { source.close() }
            if let client = source as? USrvClockClient {
                _ = client.waitUntilAvailable(timeoutNs: Int64(max(0, waitMs)) * 1_000_000)
            }
            let reading = source.now()
            print("source: \(source.description)")
            print("reason: \(selection.reason)")
            print("status: \(source.status)")
            if let reading {
                print("time_ns: \(reading.ns)")
                print("generation: \(reading.generation)")
            } else {
                print("time_ns: none")
                print("generation: none")
                throw ExitCode(1)
            }
        }
    }
}

/// Logs to stderr at `level` (default info). Bootstraps swift-log once per process.
private func bootstrapLogging(_ level: String?, label: String) -> Logger {
    let lvl = level.flatMap { Logger.Level(rawValue: $0) } ?? .info
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = lvl
        return h
    }
    return Logger(label: label)
}

