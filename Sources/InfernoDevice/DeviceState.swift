import Foundation

/// Everything a device remembers across restarts. Stored as JSON, one file per device id.
public struct DeviceState: Codable, Equatable, Sendable {
    public static let currentVersion = 1

    public var version: Int = DeviceState.currentVersion
    /// The friendly name set by a controller (nil = the configured/default name).
    public var name: String?
    /// Friendly names set by a controller, keyed by 1-based channel number.
    public var txChannelNames: [Int: String] = [:]
    public var rxChannelNames: [Int: String] = [:]
    /// RX channel number → its subscription.
    public var subscriptions: [Int: Subscription] = [:]
    public var latencyNs: UInt32?
    public var sampleRate: Int?
    public var encoding: Int?

    public struct Subscription: Codable, Equatable, Sendable {
        public var txChannel: String
        public var txDevice: String
        public init(txChannel: String, txDevice: String) {
            self.txChannel = txChannel
            self.txDevice = txDevice
        }
    }

    public init() {}
}

/// Loads and saves `DeviceState` with atomic writes: a temporary file in the same directory is written,
/// flushed and renamed over the old one, so a crash leaves either the old or the new state, never half of one.
/// A file that cannot be read or parsed is moved aside (`<file>.corrupt-<unix time>`) and the device starts
/// from defaults; `load` reports that as a warning.
public struct StateStore: Sendable {
    public let directory: String
    public let deviceID: DeviceID

    public init(directory: String, deviceID: DeviceID) {
        self.directory = directory
        self.deviceID = deviceID
    }

    public var path: String { directory + "/" + deviceID.description + ".json" }

    /// `$XDG_STATE_HOME/inferno`, else `~/.local/state/inferno`.
    public static func defaultDirectory(environment: [String: String]) -> String {
        if let x = environment["XDG_STATE_HOME"], !x.isEmpty { return x + "/inferno" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/inferno"
    }

    public struct LoadResult: Sendable {
        public var state: DeviceState
        /// Set when the file existed but could not be used.
        public var warning: String?
    }

    public func load() -> LoadResult {
        let fm = FileManager.default
        removeStaleTemporaries()
        guard fm.fileExists(atPath: path) else { return LoadResult(state: DeviceState(), warning: nil) }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard data.count <= 16 << 20 else { throw StateFileError.tooLarge(data.count) }
            let state = try JSONDecoder().decode(DeviceState.self, from: data)
            guard state.version == DeviceState.currentVersion else { throw StateFileError.version(state.version) }
            return LoadResult(state: state, warning: nil)
        } catch {
            let aside = path + ".corrupt-\(Int(Date().timeIntervalSince1970))"
            try? fm.moveItem(atPath: path, toPath: aside)
            return LoadResult(state: DeviceState(),
                              warning: "state file \(path) is unreadable (\(error)); moved to \(aside), starting from defaults")
        }
    }

    /// A process killed in the middle of `save` leaves `<file>.tmp-<pid>` behind (the state file itself is intact:
    /// the rename never happened). Those of processes that no longer exist are removed.
    func removeStaleTemporaries() {
        let prefix = deviceID.description + ".json.tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + name) }
        }
    }

    public func save(_ state: DeviceState) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(state)
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateFileError.io("open \(tmp)", errno) }
        var ok = true
        data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                off += n
            }
        }
        let err = errno
        if ok { ok = fsync(fd) == 0 }
        close(fd)
        guard ok else { unlink(tmp); throw StateFileError.io("write \(tmp)", err) }
        guard rename(tmp, path) == 0 else { let e = errno; unlink(tmp); throw StateFileError.io("rename to \(path)", e) }
        // Make the rename itself durable.
        let dfd = open(directory, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

enum StateFileError: Error, CustomStringConvertible {
    case tooLarge(Int)
    case version(Int)
    case io(String, Int32)
    var description: String {
        switch self {
        case .tooLarge(let n): return "file is \(n) bytes, larger than any valid state"
        case .version(let v): return "unknown state version \(v)"
        case let .io(what, e): return "\(what): \(String(cString: strerror(e)))"
        }
    }
}
