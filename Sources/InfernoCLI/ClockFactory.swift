import InfernoDevice
import Logging

/// `--clock` → a clock source. (The usrvclock/PHC sources plug in here.)
func makeClock(_ spec: String, environment: [String: String], logger: Logger) throws -> MediaClockSource {
    switch spec {
    case "auto", "system": return SystemMediaClock()
    default:
        throw ConfigError(setting: "--clock (INFERNO_CLOCK)", value: spec, reason: "must be auto, system, usrvclock[:PATH] or phc:/dev/ptpN")
    }
}
