import InfernoDevice

/// The PipeWire settings of inferno-wired (flags win over `INFERNO_PW_*` variables).
struct WiredSettings: Equatable {
    enum ClockMode: String { case driver, follow }
    var clockMode = ClockMode.driver
    /// priority.driver of the media-clock driver: above every sound card (ALSA uses ~1000–2000), below
    /// PipeWire's own Dummy/Freewheel drivers (19000–20000).
    var driverPriority = 10000
    /// Requested graph quantum (node.latency), nil = the graph's default.
    var quantum: Int?
    /// Seconds between status lines (timing mode, drift); 0 = only on changes.
    var statusInterval: Double = 60

    static func resolve(flags: [String: String], environment: [String: String]) throws(ConfigError) -> WiredSettings {
        var s = WiredSettings()
        func value(_ flag: String, _ env: String) -> (String, String)? {
            let setting = "--\(flag) (\(env))"
            if let v = flags[flag] { return (v, setting) }
            if let v = environment[env], !v.isEmpty { return (v, setting) }
            return nil
        }
        if let (v, setting) = value("pw-clock", "INFERNO_PW_CLOCK") {
            guard let m = ClockMode(rawValue: v) else {
                throw ConfigError(setting: setting, value: v, reason: "must be driver or follow")
            }
            s.clockMode = m
        }
        if let (v, setting) = value("pw-priority", "INFERNO_PW_PRIORITY") {
            guard let p = Int(v), p >= 0, p <= 1_000_000 else {
                throw ConfigError(setting: setting, value: v, reason: "must be a whole number from 0 to 1000000")
            }
            s.driverPriority = p
        }
        if let (v, setting) = value("pw-quantum", "INFERNO_PW_QUANTUM") {
            guard let q = Int(v), q >= 16, q <= 8192 else {
                throw ConfigError(setting: setting, value: v, reason: "must be a whole number of samples from 16 to 8192")
            }
            s.quantum = q
        }
        if let (v, setting) = value("status-interval", "INFERNO_PW_STATUS_INTERVAL") {
            guard let d = Double(v), d.isFinite, d >= 0, d <= 86400 else {
                throw ConfigError(setting: setting, value: v, reason: "must be a number of seconds from 0 to 86400")
            }
            s.statusInterval = d
        }
        return s
    }
}
