import Glibc
import Logging

/// Where the media clock comes from: `--clock auto|system|ptp|usrvclock[:PATH]|phc:/dev/ptpN` (INFERNO_CLOCK), with
/// INFERNO_CLOCK_PATH as the default usrvclock socket path (else /tmp/ptp-usrvclock).
///
/// * `auto` (the default): usrvclock when a server at the path answers within `autoProbeTimeoutNs`; else, on a
///   network interface where the PTP ports can be opened, the built-in PTP clock (on the host clock until a
///   leader is heard, then following it; it offers itself as leader only when `--ptp-leader` is given); else
///   system. `auto:PATH` probes PATH instead.
/// * `system`: the host's CLOCK_TAI (falling back to CLOCK_REALTIME); every device on one host agrees.
/// * `ptp`: the built-in PTP clock (`PTPClock`): follows the network's PTPv1/PTPv2 leader, or leads per
///   `--ptp-leader` (default auto).
/// * `usrvclock[:PATH]`: follow a usrvclock server (a PTP daemon, or `inferno clock serve`).
/// * `phc:/dev/ptpN`: read a PTP hardware clock directly.
public enum ClockSpec: Equatable, Sendable, CustomStringConvertible {
    case auto(path: String)
    case system
    case ptp
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
        case .ptp: return "ptp"
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
        let usage = "must be auto, system, ptp, usrvclock[:PATH] or phc:/dev/ptpN"
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
        case "ptp":
            guard arg == nil else { throw ConfigError(setting: setting, value: raw, reason: "\(usage) (ptp takes no path: use --bind)") }
            return .ptp
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

    /// Where the built-in PTP clock runs: the device's interface, its PTP port number (process id + 1) and settings.
    public struct PTPContext: Sendable {
        public var interface: HostInterface
        public var portNumber: UInt16
        public var settings: PTPSettings
        public init(interface: HostInterface, portNumber: UInt16, settings: PTPSettings) {
            self.interface = interface; self.portNumber = portNumber; self.settings = settings
        }
        /// From a resolved device configuration (resolves `--bind`).
        public init(config: DeviceConfig) throws(ConfigError) {
            self.init(interface: try NetworkInterfaces.resolve(config.bind), portNumber: config.processID &+ 1,
                      settings: config.ptp)
        }
    }

    /// Builds the clock source and logs the choice (`auto` probes the usrvclock socket first).
    /// Throws `ConfigError` for an unusable PHC or PTP interface and `ClockSocketError` for an unusable socket path.
    public func makeSource(logger: Logger, ptp: PTPContext? = nil,
                           autoProbeTimeoutNs: Int64 = ClockSpec.autoProbeTimeoutNs) throws -> any MediaClockSource {
        try select(logger: logger, ptp: ptp, autoProbeTimeoutNs: autoProbeTimeoutNs).source
    }

    /// As `makeSource`, also returning the reason for the choice.
    public func select(logger: Logger, ptp: PTPContext? = nil,
                       autoProbeTimeoutNs: Int64 = ClockSpec.autoProbeTimeoutNs) throws -> Selection {
        let selection: Selection
        /// auto without usrvclock: the PTP clock when it can run here, else the host clock.
        func autoWithoutUSrvClock(_ why: String) -> Selection {
            if let ptp, !ptp.interface.isLoopback {
                do {
                    let c = try PTPClock(interface: ptp.interface, portNumber: ptp.portNumber, settings: ptp.settings,
                                         followOnly: !ptp.settings.leaderExplicit, logger: logger)
                    let role = ptp.settings.leaderExplicit ? "leads per --ptp-leader \(ptp.settings.leader.rawValue)" : "only follows"
                    return Selection(source: c, reason: "\(why); PTP on \(ptp.interface.name): host clock until a leader is heard, then that leader (\(role))")
                } catch {
                    return Selection(source: SystemMediaClock(), reason: "\(why); no PTP (\(error.reason))")
                }
            }
            return Selection(source: SystemMediaClock(), reason: why)
        }
        switch self {
        case .system:
            let s = SystemMediaClock()
            selection = Selection(source: s, reason: "--clock system")
        case .ptp:
            guard let ptp else {
                throw ConfigError(setting: ClockSpec.setting, value: "ptp", reason: "is only for commands that run a device on an interface (--bind)")
            }
            let c = try PTPClock(interface: ptp.interface, portNumber: ptp.portNumber, settings: ptp.settings,
                                 waitForLeader: ptp.settings.leader == .never, logger: logger)
            selection = Selection(source: c, reason: "--clock ptp (--ptp-leader \(ptp.settings.leader.rawValue))")
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
                    selection = autoWithoutUSrvClock("auto: no usrvclock overlay from \(path) within \(USrvClockClient.seconds(autoProbeTimeoutNs)) (\(why))")
                }
            } else if let (type, _) = UnixDatagram.fileType(path), type == S_IFCHR {
                // usrvclock's own special case: a character device path is a PHC.
                selection = Selection(source: try PHCMediaClock(path: path), reason: "auto: \(path) is a character device")
            } else {
                selection = autoWithoutUSrvClock("auto: no usrvclock server at \(path)")
            }
        }
        logger.info("clock: \(selection.source.description) (\(selection.reason))")
        return selection
    }
}
