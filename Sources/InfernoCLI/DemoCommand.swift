import ArgumentParser
import Foundation
import InfernoCommandLine
import InfernoDevice
import Logging

/// `inferno demo` (what `make run` starts): two devices on loopback in one process. `demo-tx` transmits a tone,
/// `demo-rx` is subscribed to it and its level meters are shown until Ctrl-C.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Self-contained demo on loopback: a tone from one device to another, with live level meters.")

    @Option(help: "Tone frequency in Hz.") var hz: Double = 440
    @Option(help: "Stop after this many seconds (default: until Ctrl-C).") var seconds: Double?
    @Option(name: .customLong("log-level")) var logLevel: String = "warning"

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label); h.logLevel = level; return h
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inferno-demo-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func device(_ flags: [String: String]) throws -> DeviceRuntime {
            let config = try DeviceConfig.resolve(flags: flags.merging(["bind": "127.0.0.1", "state-dir": dir, "clock": "system"]) { a, _ in a },
                                                  environment: [:])
            let r = try DeviceRuntime(config: config, environment: [:], logger: Logger(label: "inferno"))
            try r.start()
            return r
        }
        let a: DeviceRuntime, b: DeviceRuntime
        do {
            a = try device(["name": "demo-tx", "tx": "2", "rx": "0", "tx-source": "tone:\(hz)", "ports": "24440", "process-id": "1"])
            b = try device(["name": "demo-rx", "tx": "0", "rx": "2", "ports": "24450", "process-id": "2"])
        } catch {
            FileHandle.standardError.write(Data("inferno: \(error)\n".utf8))
            throw ExitCode(2)
        }
        b.subscribe(rx: 1, txChannel: "01", txDevice: "demo-tx")
        b.subscribe(rx: 2, txChannel: "02", txDevice: "demo-tx")
        FileHandle.standardOutput.write(Data("demo-tx (127.0.0.1, ports 24440…) sends a \(Int(hz)) Hz tone; demo-rx (ports 24450…) is subscribed to it.\n".utf8))
        FileHandle.standardOutput.write(Data("Clock: \(b.clock.description). Ctrl-C stops. Other controllers (netaudio on lo) see both devices.\n".utf8))
        let start = Date()
        waitForSignal {
            let peaks = b.rxPeaks(window: 4800)
            let m = b.mediaStatus
            let meters = peaks.enumerated().map { i, p -> String in
                let db = p ?? -120
                let n = max(0, min(30, Int((db + 60) / 2)))
                return "RX\(i + 1) [" + String(repeating: "#", count: n) + String(repeating: " ", count: 30 - n) + "] "
                    + (p.map { String(format: "%6.1f dBFS", $0) } ?? "  -inf dBFS")
            }
            let line = meters.joined(separator: "  ") + String(format: "  | packets %llu late %llu", m.rxPackets, m.rxLate)
            FileHandle.standardOutput.write(Data(("\r" + line).utf8))
            if let seconds { return Date().timeIntervalSince(start) >= seconds }
            return false
        }
        print("")
        b.stop()
        a.stop()
    }
}
