import Glibc
import Logging

/// Where the media clock comes from: `--clock auto|system|usrvclock[:PATH]|phc:/dev/ptpN` (INFERNO_CLOCK), with
/// INFERNO_CLOCK_PATH as the default usrvclock socket path (else /tmp/ptp-usrvclock).
///
/// * `auto` (the default): usrvclock when a server at the path answers within `autoProbeTimeoutNs`, else system.
///   `auto:PATH` probes PATH instead.
/// * `system`: the host's CLOCK_TAI (falling back to CLOCK_REALTIME); every device on one host agrees.
/// * `usrvclock[:PATH]`: follow a usrvclock server (a PTP daemon, or `inferno clock serve`).
/// * `phc:/dev/ptpN`: read a PTP hardware clock directly.
public enum ClockSpec: Equatable, Sendable, CustomStringConvertible {
    case auto(path: String)
    case system
    case usrvclock(path: String)
    case phc(path: String)

    /// §9.1 `DEFAULT_SERVER_SOCKET_PATH`.
    public static let defaultUSrvClockPath = "/tmp/ptp-usrvclock"
    /// How errors name the setting.
    public static let setting = "--clock (INFERNO_CLOCK)"
    public static let environmentKey = "INFERNO_CLOCK"
    public static let pathEnvironmentKey = "INFERNO_CLOCK_PATH"
    /// How long `auto` waits for a first overlay.
    public static let autoProbeTimeoutNs: Int64 = 1_500_000_000

    /// The canonical spelling, e.g. "usrvclock:/tmp/ptp-usrvclock".
    public var description: String {
        switch self {
        case .auto(let p): return "auto:\(p)"
        case .system: return "system"
        case .usrvclock(let p): return "usrvclock:\(p)"
        case .phc(let p): return "phc:\(p)"
        }
    }

    /// Parses the `--clock` flag value (nil when the flag was not given), falling back to INFERNO_CLOCK in
    /// `environment`, then to `auto`. A usrvclock/auto path not given defaults to INFERNO_CLOCK_PATH, else
    /// /tmp/ptp-usrvclock. Errors are one line naming `--clock (INFERNO_CLOCK)` (or INFERNO_CLOCK_PATH).
    public static func parse(_ value: String?, environment: [String: String]) throws(ConfigError) -> ClockSpec {
        var defaultPath = defaultUSrvClockPath
        if let p = environment[pathEnvironmentKey], !p.isEmpty {
            try checkSocketPath(p, setting: pathEnvironmentKey, value: p)
            defaultPath = p
        }
        let raw: String
        if let value { raw = value } else if let e = environment[environmentKey], !e.isEmpty { raw = e } else {
            return .auto(path: defaultPath)
        }
        let v = raw.trimmingSpaces
        let kind: Substring, arg: Substring?
        if let colon = v.firstIndex(of: ":") {
            kind = v[..<colon]; arg = v[v.index(after: colon)...]
        } else {
            kind = Substring(v); arg = nil
        }
        let usage = "must be auto, system, usrvclock[:PATH] or phc:/dev/ptpN"
        switch kind.lowercased() {
        case "auto", "usrvclock":
            var path = defaultPath
            if let arg {
                guard !arg.isEmpty else {
                    throw ConfigError(setting: setting, value: raw, reason: "has an empty socket path after \"\(kind):\"")
                }
                path = String(arg)
                try checkSocketPath(path, setting: setting, value: raw)
            }
            return kind.lowercased() == "auto" ? .auto(path: path) : .usrvclock(path: path)
        case "system":
            guard arg == nil else { throw ConfigError(setting: setting, value: raw, reason: "\(usage) (system takes no path)") }
            return .system
        case "phc":
            guard let arg, !arg.isEmpty else {
                throw ConfigError(setting: setting, value: raw, reason: "needs a device path, e.g. phc:/dev/ptp0")
            }
            return .phc(path: String(arg))
        default:
            throw ConfigError(setting: setting, value: raw, reason: usage)
        }
    }

    static func checkSocketPath(_ path: String, setting: String, value: String) throws(ConfigError) {
        guard UnixDatagram.address(path) != nil else {
            throw ConfigError(setting: setting, value: value,
                              reason: "socket path must be 1 to \(UnixDatagram.maxPathBytes) bytes without NUL")
        }
    }

    /// The source this spec selects and why (for logs and `inferno clock show`).
    public struct Selection {
        public var source: any MediaClockSource
        public var reason: String
    }

    /// Builds the clock source and logs the choice (`auto` probes the usrvclock socket first).
    /// Throws `ConfigError` for an unusable PHC and `ClockSocketError` for an unusable socket path.
    public func makeSource(logger: Logger, autoProbeTimeoutNs: Int64 = ClockSpec.autoProbeTimeoutNs) throws -> any MediaClockSource {
        try select(logger: logger, autoProbeTimeoutNs: autoProbeTimeoutNs).source
    }

    /// As `makeSource`, also returning the reason for the choice.
    public func select(logger: Logger, autoProbeTimeoutNs: Int64 = ClockSpec.autoProbeTimeoutNs) throws -> Selection {
        let selection: Selection
        switch self {
        case .system:
            let s = SystemMediaClock()
            selection = Selection(source: s, reason: "--clock system")
        case .usrvclock(let path):
            if let (type, _) = UnixDatagram.fileType(path), type == S_IFCHR {
                // usrvclock's special case (§9.1): a character device path is a PTP hardware clock.
                selection = Selection(source: try PHCMediaClock(path: path), reason: "--clock usrvclock: \(path) is a character device")
            } else {
                let c = try USrvClockClient(path: path, logger: logger)
                selection = Selection(source: c, reason: "--clock usrvclock")
            }
        case .phc(let path):
            selection = Selection(source: try PHCMediaClock(path: path), reason: "--clock phc")
        case .auto(let path):
            if let (type, _) = UnixDatagram.fileType(path), type == S_IFSOCK {
                let c = try USrvClockClient(path: path, logger: logger)
                if c.waitUntilAvailable(timeoutNs: autoProbeTimeoutNs) {
                    selection = Selection(source: c, reason: "auto: the usrvclock server at \(path) answered")
                } else {
                    let why = c.status
                    c.close()
                    selection = Selection(source: SystemMediaClock(),
                                          reason: "auto: no usrvclock overlay from \(path) within \(USrvClockClient.seconds(autoProbeTimeoutNs)) (\(why))")
                }
            } else if let (type, _) = UnixDatagram.fileType(path), type == S_IFCHR {
                // usrvclock's own special case: a character device path is a PHC.
                selection = Selection(source: try PHCMediaClock(path: path), reason: "auto: \(path) is a character device")
            } else {
                selection = Selection(source: SystemMediaClock(), reason: "auto: no usrvclock server at \(path)")
            }
        }
        logger.info("clock: \(selection.source.description) (\(selection.reason))")
        return selection
    }
}
