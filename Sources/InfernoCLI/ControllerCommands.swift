import ArgumentParser
import Foundation
import InfernoDevice
import InfernoProtocol

// The controller commands: they speak ARC (and CMC/conmon for sample rate and encoding) to any Dante device,
// ours or not. Exit codes: 0 done, 1 device error / timeout / not found, 2 usage error.

struct ControllerOptions: ParsableArguments {
    @Option(help: "IPv4 address or interface to talk from (INFERNO_BIND_IP). Default 127.0.0.1.")
    var bind: String?
    @Option(help: ArgumentHelp("Seconds to wait for devices to answer discovery (mDNS). Default 1.5.", valueName: "seconds"))
    var timeout: Double?

    static let defaultWindow = 1.5

    func validate() throws {
        if let t = timeout, !(t.isFinite && t >= 0.1 && t <= 60) {
            throw ValidationError("--timeout must be a number of seconds from 0.1 to 60")
        }
    }

    var resolvedBind: String {
        if let bind { return bind }
        if let env = ProcessInfo.processInfo.environment["INFERNO_BIND_IP"], !env.isEmpty { return env }
        return "127.0.0.1"
    }
}

/// Opens the controller on `--bind`, runs `body`, and turns a `ControllerError` into a one-line message on stderr
/// and its exit code.
func withController(_ options: ControllerOptions, _ body: (DanteController) async throws -> Void) async throws {
    let controller: DanteController
    do {
        controller = try DanteController(bind: options.resolvedBind,
                                         discoverySeconds: options.timeout ?? ControllerOptions.defaultWindow)
    } catch {
        fail(error)
    }
    defer { controller.shutdown() }
    do {
        try await body(controller)
    } catch let error as ControllerError {
        report(error)
        throw ExitCode(error.exitCode)
    }
}

func fail(_ error: ControllerError) -> Never {
    report(error)
    exit(error.exitCode)
}

func report(_ error: ControllerError) {
    FileHandle.standardError.write(Data("inferno: \(error)\n".utf8))
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("inferno: \(message)\n".utf8))
}

/// Left-aligned columns separated by two spaces.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0.indices.contains(i) ? $0[i].count : 0 }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

func jsonEncoder() -> JSONEncoder {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return e
}

/// A JSON array with one object per line.
func jsonArray<T: Encodable>(_ items: [T]) -> String {
    let e = jsonEncoder()
    let lines = items.map { String(decoding: (try? e.encode($0)) ?? Data("{}".utf8), as: UTF8.self) }
    return lines.isEmpty ? "[]" : "[\n" + lines.map { "  " + $0 }.joined(separator: ",\n") + "\n]"
}

func jsonObject<T: Encodable>(_ item: T) -> String {
    String(decoding: (try? jsonEncoder().encode(item)) ?? Data("{}".utf8), as: UTF8.self)
}

func ms(_ ns: UInt32?) -> String { ns.map { millisecondsText($0) + " ms" } ?? "-" }

// MARK: - ls

struct ListDevices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the Dante devices on the network: name, address, ARC port, channel counts, sample rate, latency.",
        discussion: "Exits 1 when a device was discovered but did not answer ARC (it is still listed, with the error).")

    @OptionGroup var options: ControllerOptions
    @Flag(help: "Print a JSON array, one object per device.")
    var json = false

    struct Row: Encodable {
        var name: String
        var ipv4: String
        var arcPort: Int
        var cmcPort: Int?
        var id: String?
        var model: String?
        var manufacturer: String?
        var txCount: Int?
        var rxCount: Int?
        var sampleRate: Int?
        var latencyNs: UInt32?
        var error: String?

        init(_ s: DanteController.Summary) {
            name = s.device.name; ipv4 = ipv4String(s.device.ipv4); arcPort = Int(s.device.arcPort)
            cmcPort = s.device.cmcPort.map(Int.init); id = s.device.deviceID; model = s.device.model
            manufacturer = s.device.manufacturer; txCount = s.txCount; rxCount = s.rxCount
            sampleRate = s.sampleRate; latencyNs = s.latencyNs; error = s.error?.description
        }
    }

    func run() async throws {
        try await withController(options) { c in
            let rows = await c.summaries(await c.devices())
            if json {
                print(jsonArray(rows.map(Row.init)))
            } else if rows.isEmpty {
                warn("no Dante devices found on \(c.interface.name) (\(c.interface.addressString))")
            } else {
                print(table(["NAME", "IP", "ARC", "TX", "RX", "RATE", "LATENCY"], rows.map { s in
                    [s.device.name, ipv4String(s.device.ipv4), String(s.device.arcPort),
                     s.txCount.map(String.init) ?? "-", s.rxCount.map(String.init) ?? "-",
                     s.sampleRate.map(String.init) ?? "-", s.error == nil ? ms(s.latencyNs) : "(no answer)"]
                }))
            }
            let failed = rows.compactMap(\.error)
            for e in failed { report(e) }
            if !failed.isEmpty { throw ExitCode(1) }
        }
    }
}

// MARK: - channels

struct Channels: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a device's TX channels (number, factory and friendly name) and RX channels (name, subscription, status).")

    @OptionGroup var options: ControllerOptions
    @Argument(help: "Device name (case-insensitive), or IPv4[:ARC port].")
    var device: String
    @Flag(help: "Print one JSON object.")
    var json = false

    struct Output: Encodable {
        struct Tx: Encodable { var number: Int; var name: String; var friendlyName: String }
        struct Rx: Encodable {
            var number: Int
            var name: String
            var subscription: String?
            var txChannel: String?
            var txDevice: String?
            var status: String
            var statusCode: Int
            var rxStatusCode: Int
        }
        var device: String
        var ipv4: String
        var tx: [Tx]
        var rx: [Rx]
    }

    func run() async throws {
        try await withController(options) { c in
            let d = try await c.device(device)
            let ch = try await c.channels(d)
            let rx = ch.rx.map { r in
                Output.Rx(number: Int(r.number), name: r.name,
                          subscription: r.txChannel.flatMap { tc in r.txDevice.map { "\(tc)@\($0)" } },
                          txChannel: r.txChannel, txDevice: r.txDevice, status: r.subscriptionStatus.text,
                          statusCode: Int(r.subscriptionStatus.rawValue), rxStatusCode: Int(r.rxChannelStatus.rawValue))
            }
            let tx = ch.tx.map { Output.Tx(number: Int($0.number), name: $0.factoryName, friendlyName: $0.name) }
            if json {
                print(jsonObject(Output(device: d.name, ipv4: ipv4String(d.ipv4), tx: tx, rx: rx)))
                return
            }
            print("TX channels of \(d.name) (\(tx.count))")
            if !tx.isEmpty {
                print(table(["  #", "NAME", "FRIENDLY NAME"], tx.map { ["  \($0.number)", $0.name, $0.friendlyName] }))
            }
            print("RX channels of \(d.name) (\(rx.count))")
            if !rx.isEmpty {
                print(table(["  #", "NAME", "SUBSCRIPTION", "STATUS"],
                            rx.map { ["  \($0.number)", $0.name, $0.subscription ?? "-", $0.status] }))
            }
        }
    }
}

// MARK: - subscribe / unsubscribe

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Route a TX channel of one device to an RX channel of another (ARC 0x3010 to the receiver).",
        discussion: """
            CH is a channel number or a name. Dante subscriptions carry the TX channel's name: a TX name is sent \
            as given (the TX device may even be offline); a TX number is looked up on the TX device (its friendly \
            name). An RX name is looked up on the receiver.
            """)

    @OptionGroup var options: ControllerOptions
    @Option(help: ArgumentHelp("The receiving channel, e.g. 1@stage or \"RX 1@stage\".", valueName: "CH@RXDEV"))
    var rx: String
    @Option(help: ArgumentHelp("The transmitting channel, e.g. 2@desk or \"TX 2@desk\".", valueName: "CH@TXDEV"))
    var tx: String
    @Flag(help: "Also print when the ARC 0x3010 request left (CLOCK_MONOTONIC ns) and how long the answer took.")
    var timing = false

    func validate() throws {
        do {
            _ = try ChannelReference.parse(rx, what: "--rx")
            _ = try ChannelReference.parse(tx, what: "--tx")
        } catch { throw ValidationError(error.description) }
    }

    func run() async throws {
        try await withController(options) { c in
            let s = try await c.subscribe(rx: try ChannelReference.parse(rx, what: "--rx"),
                                          tx: try ChannelReference.parse(tx, what: "--tx"))
            if let note = s.note { warn(note) }
            print("\(s.rxDevice) RX \(s.rxChannel) <- \(s.txChannel)@\(s.txDevice)")
            if timing {
                print("timing: ARC 0x3010 sent at monotonic ns \(s.requestSentNs), answered after \(String(format: "%.2f", Double(s.answeredNs - s.requestSentNs) / 1e6)) ms")
            }
        }
    }
}

struct Unsubscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove subscriptions on a receiving device (ARC 0x3010 with no TX channel).")

    @OptionGroup var options: ControllerOptions
    @Option(help: ArgumentHelp("CH@RXDEV for one channel, or RXDEV for all of its channels; repeatable.",
                               valueName: "CH@RXDEV"))
    var rx: [String]

    func validate() throws {
        guard !rx.isEmpty else { throw ValidationError("give at least one --rx CH@RXDEV (or --rx RXDEV for all channels)") }
        for r in rx where r.contains("@") {
            do { _ = try ChannelReference.parse(r, what: "--rx") } catch { throw ValidationError(error.description) }
        }
    }

    func run() async throws {
        try await withController(options) { c in
            for r in rx {
                let device: String, channels: [UInt16]
                if r.contains("@") {
                    let ref = try ChannelReference.parse(r, what: "--rx")
                    (device, channels) = try await c.unsubscribe(device: ref.device, channel: ref.channel)
                } else {
                    (device, channels) = try await c.unsubscribe(device: r, channel: nil)
                }
                if channels.count == 1 {
                    print("\(device) RX \(channels[0]): unsubscribed")
                } else {
                    print("\(device): \(channels.count) RX channels unsubscribed")
                }
            }
        }
    }
}

// MARK: - rename / rename-channel

struct Rename: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rename a device (ARC 0x1001); an empty NEW (\"\") restores its factory name.")

    @OptionGroup var options: ControllerOptions
    @Argument(help: "Device name (case-insensitive), or IPv4[:ARC port].")
    var device: String
    @Argument(help: "New name: letters, digits and inner hyphens, at most 31.")
    var new: String

    func validate() throws {
        if !new.isEmpty, let p = DeviceConfig.nameProblem(new) { throw ValidationError("new name \"\(new)\" \(p)") }
    }

    func run() async throws {
        try await withController(options) { c in
            let old = try await c.rename(device, to: new)
            print(new.isEmpty ? "\(old): name reset to the factory name" : "\(old) renamed to \(new)")
        }
    }
}

enum Direction: String, ExpressibleByArgument, CaseIterable {
    case tx, rx
}

struct RenameChannel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rename-channel",
        abstract: "Rename a TX (ARC 0x2013) or RX (0x3001) channel; an empty NEW (\"\") restores its default name.")

    @OptionGroup var options: ControllerOptions
    @Argument(help: "tx or rx.")
    var direction: Direction
    @Argument(help: ArgumentHelp("The channel, by number or current name.", valueName: "CH@DEV"))
    var channel: String
    @Argument(help: "New name: 1 to 31 bytes, no '@' or '.'.")
    var new: String

    func validate() throws {
        do { _ = try ChannelReference.parse(channel) } catch { throw ValidationError(error.description) }
        if !new.isEmpty, !DeviceModel.validChannelName(new) {
            throw ValidationError("new channel name \"\(new)\" must be 1 to 31 bytes of printable text without '@' or '.'")
        }
    }

    func run() async throws {
        try await withController(options) { c in
            let (device, number) = try await c.renameChannel(tx: direction == .tx, try ChannelReference.parse(channel), to: new)
            let dir = direction.rawValue.uppercased()
            print(new.isEmpty ? "\(device) \(dir) \(number): name reset" : "\(device) \(dir) \(number) renamed to \(new)")
        }
    }
}

// MARK: - config

struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change a device's latency (ARC 0x1101), sample rate or encoding (conmon 0x0081/0x0083).",
        discussion: """
            Sample rate and encoding go to the device's conmon port (learned from its CMC registration answer, \
            else 8700) and are confirmed by reading its ARC format descriptor back: an unconfirmed sample rate \
            exits 1; an unconfirmed encoding only warns (not every device reports it there).
            """)

    @OptionGroup var options: ControllerOptions
    @Argument(help: "Device name (case-insensitive), or IPv4[:ARC port].")
    var device: String
    @Option(name: .customLong("latency-ms"), help: ArgumentHelp("Latency in milliseconds, e.g. 0.25, 1, 2, 5.", valueName: "ms"))
    var latencyMs: Double?
    @Option(name: .customLong("sample-rate"), help: "44100, 48000, 88200, 96000, 176400 or 192000.")
    var sampleRate: Int?
    @Option(help: "Bits per sample: 16, 24 or 32.")
    var encoding: Int?

    static let sampleRates = [44100, 48000, 88200, 96000, 176400, 192000]

    func validate() throws {
        guard latencyMs != nil || sampleRate != nil || encoding != nil else {
            throw ValidationError("nothing to change: give --latency-ms, --sample-rate and/or --encoding")
        }
        if let l = latencyMs, !(l.isFinite && l > 0 && l <= 1000) {
            throw ValidationError("--latency-ms must be a number of milliseconds above 0, at most 1000")
        }
        if let r = sampleRate, !Self.sampleRates.contains(r) {
            throw ValidationError("--sample-rate must be one of \(Self.sampleRates.map(String.init).joined(separator: ", "))")
        }
        if let e = encoding, ![16, 24, 32].contains(e) { throw ValidationError("--encoding must be 16, 24 or 32") }
    }

    func run() async throws {
        try await withController(options) { c in
            let d = try await c.device(device)
            var failed = false
            if let latencyMs {
                let ns = UInt32((latencyMs * 1_000_000).rounded())
                let now = try await c.setLatency(d, nanoseconds: ns)
                if let now, now != ns {
                    warn("\(d.name) applied a latency of \(ms(now)) (asked for \(ms(ns)))")
                }
                print("\(d.name): latency \(ms(now ?? ns))")
            }
            if let encoding {
                switch try await c.set(d, encoding: encoding) {
                case .confirmed: print("\(d.name): encoding \(encoding) bit")
                case .unconfirmed(let current):
                    warn("sent encoding \(encoding) to \(d.name), not confirmed (its format descriptor says \(current.map(String.init) ?? "nothing"))")
                }
            }
            if let sampleRate {
                switch try await c.set(d, sampleRate: sampleRate) {
                case .confirmed: print("\(d.name): sample rate \(sampleRate)")
                case .unconfirmed(let current):
                    report(.failed("\(d.name) still reports sample rate \(current.map(String.init) ?? "unknown") after being sent \(sampleRate) (refused, or it needs a reboot)"))
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }
}
