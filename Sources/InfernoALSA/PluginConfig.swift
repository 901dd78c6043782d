import Glibc

/// The settings of one `pcm.NAME { type inferno … }` entry. Keys the asoundrc does not give fall back to the
/// `INFERNO_*` environment (the device process inherits it) and then to `inferno run`'s defaults.
///
/// Values are checked here so a mistake is an ALSA error naming the key; the device process checks them again
/// with the same rules as `inferno run`. No Foundation (the plugin links the Swift runtime statically).
final class PluginConfig {
    enum Mode: String { case host, attach }

    /// asoundrc key → `inferno run` flag.
    static let deviceKeys: [(key: String, flag: String)] = [
        ("name", "--name"), ("tx_channels", "--tx"), ("rx_channels", "--rx"), ("bind", "--bind"),
        ("ports", "--ports"), ("process_id", "--process-id"), ("device_id", "--device-id"), ("clock", "--clock"),
        ("latency_ms", "--latency-ms"), ("sample_rate", "--sample-rate"), ("encoding", "--encoding"),
        ("state_dir", "--state-dir"), ("log_level", "--log-level"),
    ]
    static let otherKeys = ["mode", "shm", "inferno"]

    var device: [String: String] = [:]
    var mode = Mode.host
    var shm: String?
    var inferno: String?
    var pluginDirectory: String?

    struct Problem: Error { var message: String; var unknownKey: Bool }

    /// Validates and stores one key.
    func set(_ key: String, _ value: String) throws(Problem) {
        func bad(_ why: String) -> Problem { Problem(message: "inferno: \(key) \"\(value)\" \(why)", unknownKey: false) }
        func int(_ range: ClosedRange<Int>) throws(Problem) {
            guard let n = Int(value), range.contains(n) else {
                throw bad("must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
        }
        switch key {
        case "name":
            let ok = !value.isEmpty && value.utf8.count <= 31 && !value.hasPrefix("-") && !value.hasSuffix("-")
                && value.utf8.allSatisfy { Self.isAlnum($0) || $0 == 0x2d }
            guard ok else { throw bad("must be 1 to 31 letters, digits and inner hyphens") }
        case "tx_channels", "rx_channels": try int(0...512)
        case "ports": try int(1...65532)
        case "process_id": try int(0...65535)
        case "bind": guard !value.isEmpty, value.utf8.count <= 64 else { throw bad("must be an IPv4 address or an interface name") }
        case "device_id":
            guard value.utf8.count == 16, value.utf8.allSatisfy({ Self.isHex($0) }) else { throw bad("must be 16 hexadecimal digits") }
        case "clock":
            let ok = ["auto", "system", "ptp", "usrvclock"].contains(value) || value.hasPrefix("usrvclock:")
                || (value.hasPrefix("phc:") && value.utf8.count > 4)
            guard ok else { throw bad("must be auto, system, ptp, usrvclock[:PATH] or phc:/dev/ptpN") }
        case "latency_ms":
            guard let ms = Double(value), ms.isFinite, ms >= 0.1, ms <= 1000 else {
                throw bad("must be a number of milliseconds from 0.1 to 1000")
            }
        case "sample_rate":
            guard let r = Int(value), [44100, 48000, 88200, 96000].contains(r) else { throw bad("must be one of 44100, 48000, 88200, 96000") }
        case "encoding":
            guard let e = Int(value), [16, 24, 32].contains(e) else { throw bad("must be 16, 24 or 32") }
        case "state_dir": guard !value.isEmpty else { throw bad("must be a directory") }
        case "log_level":
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(value) else {
                throw bad("must be one of trace, debug, info, notice, warning, error, critical")
            }
        case "mode":
            guard let m = Mode(rawValue: value) else { throw bad("must be host (the PCM runs its own device) or attach (use a running inferno run --shm)") }
            mode = m
            return
        case "shm":
            let ok = !value.isEmpty && value.utf8.count <= 64 && value != "." && value != ".."
                && value.utf8.allSatisfy { Self.isAlnum($0) || $0 == 0x2d || $0 == 0x2e || $0 == 0x5f }
            guard ok else { throw bad("must be 1 to 64 letters, digits, '.', '_' or '-'") }
            shm = value
            return
        case "inferno":
            guard value.hasPrefix("/") else { throw bad("must be an absolute path to the inferno executable") }
            inferno = value
            return
        default:
            let known = (Self.deviceKeys.map(\.key) + Self.otherKeys).joined(separator: ", ")
            throw Problem(message: "inferno: unknown setting \"\(key)\" (known: \(known))", unknownKey: true)
        }
        device[key] = value
    }

    /// The arguments for `inferno run` (without the shared-port ones). The log level defaults to warning so an
    /// application's terminal shows only what matters (INFERNO_LOG_LEVEL still applies when set).
    var runArguments: [String] {
        var args = ["run"]
        for (key, flag) in Self.deviceKeys { if let v = device[key] { args += [flag, v] } }
        if device["log_level"] == nil, getenv("INFERNO_LOG_LEVEL") == nil { args += ["--log-level", "warning"] }
        return args
    }

    /// Identifies the device this entry describes within this process (so a capture and a playback PCM of
    /// one entry share one device).
    var identity: String {
        Self.deviceKeys.compactMap { k in device[k.key].map { "\(k.key)=\($0)" } }.joined(separator: ";")
    }

    static func isAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) }
    static func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) }
}
