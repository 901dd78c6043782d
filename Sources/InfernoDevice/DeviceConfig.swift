import InfernoMedia
/// Configuration of one device, from flags and `INFERNO_*` environment variables (flags win).
///
/// Every mistake is a `ConfigError` whose description is one line naming the setting, e.g.
/// `--name (INFERNO_NAME): "my device" is not DNS-safe: use letters, digits and inner hyphens`.
public struct DeviceConfig: Equatable, Sendable {
    public var name: String?
    public var txChannels: Int = 2
    public var rxChannels: Int = 2
    /// An IPv4 address or an interface name. Default: loopback, so a device started without `--bind`
    /// never sends anything off the machine.
    public var bind: String = "127.0.0.1"
    /// ARC = base, CMC = base+1, flow control = base+2, conmon requests = base+3. nil = Dante's defaults.
    public var basePort: UInt16?
    public var processID: UInt16 = 0
    public var deviceID: DeviceID?
    public var sampleRate: Int = 48000
    public var encoding: Int = 24
    public var latencyMs: Double = 4
    public var stateDir: String?
    public var logLevel: String = "info"
    /// What the TX channels carry when no app feeds them: silence, tone[:HZ], pattern, wav:FILE, raw:FILE, -.
    public var txSource: TxSourceSpec = .silence
    /// TPDF dither when reducing depth (`--dither tpdf|off`).
    public var dither: Bool = true
    /// `--clock` (auto, system, usrvclock[:PATH], phc:/dev/ptpN; INFERNO_CLOCK, INFERNO_CLOCK_PATH).
    public var clock: ClockSpec = .auto(path: ClockSpec.defaultUSrvClockPath)
    /// `--ptp-*`: the built-in PTP clock's settings (used by `--clock ptp` and `auto`).
    public var ptp = PTPSettings()
    /// `--shm NAME` (INFERNO_SHM): serve the TX/RX channels to applications (the ALSA plugin) through the shared
    /// memory port `/dev/shm/inferno-NAME` instead of `--tx-source`.
    public var shm: String?
    /// `--fpp N` (INFERNO_FPP): frames per packet this device asks transmitters for (default: a quarter of the
    /// latency), within the transmitter's advertised range and the datagram size.
    public var fpp: Int?
    /// `--stats-seconds N` (INFERNO_STATS_SECONDS): log the media totals every N seconds (0 = only at exit).
    public var statsSeconds: Int = 0
    /// `--mdns auto|embedded|avahi` (INFERNO_MDNS): who publishes and resolves the mDNS records.
    public var mdns: MDNSBackendChoice = .auto
    /// `--allow-controllers CIDR[,…]` (INFERNO_ALLOW_CONTROLLERS): who may change the device; nil = anyone.
    public var allowControllers: ControllerAllowList?
    /// `--shm-owner-fd N`: the read end of a pipe held by the process that started this device; when it closes
    /// (the owner closed its PCM or died) the device stops. Set by the ALSA plugin.
    public var shmOwnerFD: Int32?
    /// Settings given by flag or environment (flag names). Those override what a controller saved in the state
    /// file (sample-rate, encoding, latency-ms); settings not given keep the saved value.
    public var explicit: Set<String> = []
    /// AudioSocket bridge (`--audiosocket-listen`, `--audiosocket-calls`, `--audiosocket-connect`): call slots
    /// appended as extra TX/RX channels named "call N".
    public var audioSocket = AudioSocketSettings()
    /// Channels appended after the `--tx`/`--rx` channels (same names on both sides), e.g. "call 1".
    public var extraChannelNames: [String] { audioSocket.channelNames }

    public init() {}

    public static let maxChannels = 512
    public static let sampleRates = [44100, 48000, 88200, 96000]
    public static let encodings = [16, 24, 32]

    public var ports: DevicePorts { DevicePorts(base: basePort) }

    /// Fills the settings not given as flags from the environment, then validates everything.
    /// `flags` holds only the settings given on the command line, keyed by flag name without dashes.
    public static func resolve(flags: [String: String], environment: [String: String]) throws(ConfigError) -> DeviceConfig {
        var c = DeviceConfig()
        func value(_ flag: String, _ env: String?) -> (String, String)? {
            if let v = flags[flag] { c.explicit.insert(flag); return (v, setting(flag, env)) }
            if let env, let v = environment[env], !v.isEmpty { c.explicit.insert(flag); return (v, setting(flag, env)) }
            return nil
        }
        if let (v, s) = value("name", "INFERNO_NAME") {
            try validateName(v, setting: s)
            c.name = v
        }
        if let (v, s) = value("tx", "INFERNO_TX_CHANNELS") { c.txChannels = try int(v, s, 0...maxChannels) }
        if let (v, s) = value("rx", "INFERNO_RX_CHANNELS") { c.rxChannels = try int(v, s, 0...maxChannels) }
        if let (v, s) = value("bind", "INFERNO_BIND_IP") {
            guard !v.isEmpty, v.count <= 64 else { throw ConfigError(setting: s, value: v, reason: "must be an IPv4 address or an interface name") }
            c.bind = v
        }
        if let (v, s) = value("ports", "INFERNO_ALT_PORT") {
            let p = try int(v, s, 1...65532)
            c.basePort = UInt16(p)
        }
        if let (v, s) = value("process-id", "INFERNO_PROCESS_ID") { c.processID = UInt16(try int(v, s, 0...65535)) }
        if let (v, s) = value("device-id", "INFERNO_DEVICE_ID") {
            guard let id = DeviceID(hex: v) else {
                throw ConfigError(setting: s, value: v, reason: "must be 16 hexadecimal digits (8 bytes)")
            }
            c.deviceID = id
        }
        if let (v, s) = value("sample-rate", "INFERNO_SAMPLE_RATE") {
            let r = try int(v, s, 1...1_000_000)
            guard sampleRates.contains(r) else {
                throw ConfigError(setting: s, value: v, reason: "must be one of 44100, 48000, 88200, 96000")
            }
            c.sampleRate = r
        }
        if let (v, s) = value("encoding", "INFERNO_ENCODING") {
            let e = try int(v, s, 1...64)
            guard encodings.contains(e) else { throw ConfigError(setting: s, value: v, reason: "must be 16, 24 or 32") }
            c.encoding = e
        }
        if let (v, s) = value("latency-ms", "INFERNO_LATENCY_MS") {
            guard let ms = Double(v), ms.isFinite, ms >= 0.1, ms <= 1000 else {
                throw ConfigError(setting: s, value: v, reason: "must be a number of milliseconds from 0.1 to 1000")
            }
            c.latencyMs = ms
        }
        if let (v, _) = value("state-dir", "INFERNO_STATE_DIR") { c.stateDir = v }
        if let (v, s) = value("mdns", "INFERNO_MDNS") {
            guard let m = MDNSBackendChoice(rawValue: v) else { throw ConfigError(setting: s, value: v, reason: "must be auto, embedded or avahi") }
            c.mdns = m
        }
        if let (v, s) = value("tx-source", "INFERNO_TX_SOURCE") { c.txSource = try TxSourceSpec.parse(v, setting: s) }
        if let (v, s) = value("dither", "INFERNO_DITHER") {
            switch v {
            case "tpdf", "on": c.dither = true
            case "off", "none": c.dither = false
            default: throw ConfigError(setting: s, value: v, reason: "must be tpdf or off")
            }
        }
        c.clock = try ClockSpec.parse(flags["clock"], environment: environment)
        c.ptp = try PTPSettings.resolve(value)
        if let (v, s) = value("shm", "INFERNO_SHM") {
            do { _ = try SharedAudioPort.path(forName: v) } catch {
                throw ConfigError(setting: s, value: v, reason: "must be 1 to 64 letters, digits, '.', '_' or '-'")
            }
            if c.explicit.contains("tx-source") {
                throw ConfigError(setting: s, value: v, reason: "cannot be combined with --tx-source: applications feed the TX channels")
            }
            c.shm = v
        }
        if let (v, s) = value("fpp", "INFERNO_FPP") { c.fpp = try int(v, s, 1...256) }
        if let (v, s) = value("stats-seconds", "INFERNO_STATS_SECONDS") { c.statsSeconds = try int(v, s, 0...86400) }
        if let (v, s) = value("allow-controllers", "INFERNO_ALLOW_CONTROLLERS") {
            guard let list = ControllerAllowList(v) else {
                throw ConfigError(setting: s, value: v, reason: "must be IPv4 networks A.B.C.D[/0-32], comma-separated")
            }
            c.allowControllers = list
        }
        if let v = flags["shm-owner-fd"] {
            c.shmOwnerFD = Int32(try int(v, "--shm-owner-fd", 0...65535))
        }
        if let (v, s) = value("log-level", "INFERNO_LOG_LEVEL") {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(v) else { throw ConfigError(setting: s, value: v, reason: "must be one of \(levels.joined(separator: ", "))") }
            c.logLevel = v
        }
        c.audioSocket = try AudioSocketSettings.resolve(value)
        if c.txChannels + c.extraChannelNames.count > maxChannels || c.rxChannels + c.extraChannelNames.count > maxChannels {
            throw ConfigError(setting: setting("audiosocket-calls", "INFERNO_AUDIOSOCKET_CALLS"), value: String(c.audioSocket.calls),
                              reason: "with --tx/--rx makes more than \(maxChannels) channels")
        }
        return c
    }

    static func setting(_ flag: String, _ env: String?) -> String {
        env.map { "--\(flag) (\($0))" } ?? "--\(flag)"
    }

    static func int(_ v: String, _ setting: String, _ range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let n = Int(v.trimmingSpaces), range.contains(n) else {
            throw ConfigError(setting: setting, value: v, reason: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// Dante names: letters, digits and inner hyphens, 1 to 31 characters (Dante Controller ignores longer ones).
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.count > 31 { return "is \(name.utf8.count) characters long, at most 31 allowed" }
        let ok = name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d }
        if !ok || name.hasPrefix("-") || name.hasSuffix("-") {
            return "is not DNS-safe: use letters, digits and inner hyphens"
        }
        return nil
    }

    static func validateName(_ name: String, setting: String) throws(ConfigError) {
        if let p = nameProblem(name) { throw ConfigError(setting: setting, value: name, reason: p) }
    }
}

/// `--tx-source`: what the device transmits on its TX channels.
public enum TxSourceSpec: Equatable, Sendable {
    case silence
    case tone(Double)
    case pattern
    case wav(String)
    case raw(String)
    case stdin

    public static func parse(_ v: String, setting: String) throws(ConfigError) -> TxSourceSpec {
        switch v {
        case "silence": return .silence
        case "pattern": return .pattern
        case "tone": return .tone(1000)
        case "-": return .stdin
        default: break
        }
        if v.hasPrefix("tone:") {
            guard let hz = Double(v.dropFirst(5)), hz > 0, hz < 100_000 else {
                throw ConfigError(setting: setting, value: v, reason: "tone frequency must be a number of Hz above 0 and below 100000")
            }
            return .tone(hz)
        }
        if v.hasPrefix("wav:"), v.count > 4 { return .wav(String(v.dropFirst(4))) }
        if v.hasPrefix("raw:"), v.count > 4 { return .raw(String(v.dropFirst(4))) }
        throw ConfigError(setting: setting, value: v, reason: "must be silence, tone[:HZ], pattern, wav:FILE, raw:FILE or -")
    }
}

/// A configuration mistake: one line, naming the setting.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var setting: String
    public var value: String
    public var reason: String
    public init(setting: String, value: String, reason: String) {
        self.setting = setting; self.value = value; self.reason = reason
    }
    public var description: String { "\(setting): \"\(value)\" \(reason)" }
}

/// The four unicast ports of a device.
public struct DevicePorts: Equatable, Sendable {
    public var arc: UInt16, cmc: UInt16, flowControl: UInt16, conmon: UInt16
    public init(base: UInt16?) {
        if let b = base {
            arc = b; cmc = b &+ 1; flowControl = b &+ 2; conmon = b &+ 3
        } else {
            arc = 4440; cmc = 8800; flowControl = 4455; conmon = 8700
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
