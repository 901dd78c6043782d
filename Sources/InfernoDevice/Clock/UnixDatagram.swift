import Glibc

/// Small helpers shared by the usrvclock client and server: Unix datagram sockets addressed by path and a
/// wake-up pipe for interruptible waits. None of this runs on a real-time thread.
enum UnixDatagram {
    /// sun_path is 108 bytes including the terminating NUL.
    static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// The socket address for `path`, or nil when the path is empty or too long for sun_path.
    static func address(_ path: String) -> (sockaddr_un, socklen_t)? {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= maxPathBytes, !bytes.contains(0) else { return nil }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let len = MemoryLayout<sa_family_t>.size + bytes.count + 1
        return (addr, socklen_t(len))
    }

    /// A new SOCK_DGRAM | SOCK_CLOEXEC Unix socket.
    static func socket() throws(ClockSocketError) -> CInt {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket(AF_UNIX)", "", errno) }
        return fd
    }

    static func bind(_ fd: CInt, _ path: String) throws(ClockSocketError) {
        guard let (a, len) = address(path) else { throw .pathTooLong(path) }
        var addr = a
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, len) }
        }
        guard rc == 0 else { throw .system("bind", path, errno) }
    }

    static func connect(_ fd: CInt, _ path: String) throws(ClockSocketError) {
        guard let (a, len) = address(path) else { throw .pathTooLong(path) }
        var addr = a
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, len) }
        }
        guard rc == 0 else { throw .system("connect", path, errno) }
    }

    /// Which file a path names: device, inode and change time (an inode number alone is reused at once when a
    /// server removes its socket and a new one binds the same path).
    struct FileIdentity: Equatable {
        var dev: UInt64, ino: UInt64, ctimeNs: Int64
    }

    /// What is at `path`: nil if nothing, else the file type bits (S_IFSOCK, S_IFCHR, …) and its identity.
    static func fileType(_ path: String) -> (type: mode_t, identity: FileIdentity)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        let ctime = Int64(st.st_ctim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_ctim.tv_nsec)
        return (st.st_mode & S_IFMT, FileIdentity(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), ctimeNs: ctime))
    }

    static func errorText(_ e: Int32) -> String { String(cString: strerror(e)) }

    /// The directory for client sockets: $TMPDIR (as Rust's `std::env::temp_dir()`), else /tmp.
    static func tempDirectory() -> String {
        if let p = getenv("TMPDIR") {
            let s = String(cString: p)
            if !s.isEmpty { return s.hasSuffix("/") && s.count > 1 ? String(s.dropLast()) : s }
        }
        return "/tmp"
    }
}

/// A socket problem in the clock code, one line.
public enum ClockSocketError: Error, Equatable, CustomStringConvertible {
    case system(String, String, Int32)
    case pathTooLong(String)
    case alreadyServing(String)
    case notASocket(String)
    public var description: String {
        switch self {
        case let .system(call, path, e):
            return path.isEmpty ? "\(call): \(UnixDatagram.errorText(e))" : "\(call) \(path): \(UnixDatagram.errorText(e))"
        case .pathTooLong(let p):
            return "socket path \"\(p)\" is empty or longer than \(UnixDatagram.maxPathBytes) bytes"
        case .alreadyServing(let p): return "another usrvclock server is already serving \(p)"
        case .notASocket(let p): return "\(p) exists and is not a socket; refusing to replace it"
        }
    }
}

/// A pipe whose read end is polled next to a socket, so that `close()`/`stop()` wakes a waiting thread at once.
final class WakePipe: @unchecked Sendable {
    let readFD: CInt
    let writeFD: CInt
    init() throws(ClockSocketError) {
        var fds: [CInt] = [-1, -1]
        guard pipe(&fds) == 0 else { throw .system("pipe", "", errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        readFD = fds[0]; writeFD = fds[1]
    }
    func wake() {
        var b: UInt8 = 1
        _ = Glibc.write(writeFD, &b, 1)
    }
    func close() {
        Glibc.close(readFD); Glibc.close(writeFD)
    }

    /// Waits up to `timeoutNs` for `fd` (may be −1) to become readable or for a wake-up.
    /// Returns `.readable`, `.woken` or `.timeout`.
    func wait(fd: CInt, timeoutNs: Int64) -> WaitResult {
        var pfds = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        let ms = timeoutNs <= 0 ? 0 : CInt(clamping: (timeoutNs + 999_999) / 1_000_000)
        let rc = poll(&pfds, fd >= 0 ? 2 : 1, ms)
        if rc <= 0 { return .timeout }
        if pfds[0].revents != 0 { return .woken }
        return .readable
    }
    enum WaitResult { case readable, woken, timeout }
}


/// A readable name for a POSIX clock id as announced in an overlay.
func clockName(_ id: Int64) -> String {
    switch id {
    case 0: return "CLOCK_REALTIME"
    case 1: return "CLOCK_MONOTONIC"
    case 4: return "CLOCK_MONOTONIC_RAW"
    case 7: return "CLOCK_BOOTTIME"
    case 11: return "CLOCK_TAI"
    default: return id < 0 && id & 7 == 3 ? "dynamic clock \(id) (PHC fd \(~(id >> 3)))" : "clock \(id)"
    }
}
