import CALSA
import COpus
import CPipeWire
import CZlib

/// Versions of the C libraries the device links against, as reported by the libraries themselves at run time.
public enum SystemLibraries {
    public static var alsa: String { String(cString: snd_asoundlib_version()) }
    public static var opus: String { String(cString: opus_get_version_string()) }
    public static var zlib: String { String(cString: CZlib.zlibVersion()) }
    public static var pipewire: String { String(cString: pw_get_library_version()) }

    public static var summary: String {
        "alsa-lib \(alsa), libpipewire \(pipewire), \(opus), zlib \(zlib)"
    }
}

/// The project version, printed by `inferno --version`.
public enum InfernoVersion {
    public static let string = "0.1.0"
}
