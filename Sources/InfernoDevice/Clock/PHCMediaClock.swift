import Glibc
import Synchronization

/// Media time straight from a PTP hardware clock character device (`--clock phc:/dev/ptp0`), e.g. one that
/// ptp4l disciplines. The device is opened read-only and read with clock_gettime on its dynamic POSIX clock id,
/// ((~fd) << 3) | 3 (Linux's FD_TO_CLOCKID), the same id usrvclock synthesises for a character device (§9.1).
public final class PHCMediaClock: MediaClockSource, @unchecked Sendable {
    public let path: String
    public let clockID: clockid_t
    public var description: String { "phc \(path)" }
    private let fd: CInt
    private let closeLock = ClosedFlag()

    /// The dynamic clock id for an open PHC file descriptor.
    @inlinable
    public static func clockID(forFileDescriptor fd: CInt) -> clockid_t {
        clockid_t(((~fd) << 3) | 3)
    }

    /// Opens `path`. Throws a one-line `ConfigError` naming `--clock (INFERNO_CLOCK)` when the device cannot be
    /// opened or is not a clock.
    public init(path: String) throws(ConfigError) {
        let value = "phc:\(path)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ConfigError(setting: ClockSpec.setting, value: value,
                              reason: "cannot open \(path): \(UnixDatagram.errorText(errno))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFCHR else {
            Glibc.close(fd)
            throw ConfigError(setting: ClockSpec.setting, value: value,
                              reason: "\(path) is not a character device (expected a PTP hardware clock such as /dev/ptp0)")
        }
        let id = PHCMediaClock.clockID(forFileDescriptor: fd)
        guard readClock(id) != nil else {
            let e = errno
            Glibc.close(fd)
            throw ConfigError(setting: ClockSpec.setting, value: value,
                              reason: "\(path) is not a PTP hardware clock (clock_gettime: \(UnixDatagram.errorText(e)))")
        }
        self.path = path
        self.fd = fd
        self.clockID = id
    }

    /// Lock-free: one clock_gettime. nil if the device went away (or after `close()`).
    @inline(__always)
    public func now() -> ClockReading? {
        guard let ns = readClock(clockID) else { return nil }
        return ClockReading(ns: ns, generation: 1)
    }

    public var status: String {
        if closeLock.isSet { return "closed" }
        if now() == nil { return "PTP hardware clock \(path) cannot be read: \(UnixDatagram.errorText(errno))" }
        return "following the PTP hardware clock \(path)"
    }

    public func close() {
        guard closeLock.set() else { return }
        Glibc.close(fd)
    }
}

/// A set-once flag.
final class ClosedFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    /// True the first time only.
    func set() -> Bool { !flag.exchange(true, ordering: .acquiringAndReleasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
