import Glibc
import InfernoDevice

/// Thin wrappers over the BSD socket calls the bridge uses (non-blocking TCP, IPv4 and IPv6).
enum TCP {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ what: String, _ err: Int32 = errno) { description = "\(what): \(String(cString: strerror(err)))" }
    }

    /// A sockaddr for `hp`, passed to `body` with its length.
    static func withAddress<R>(_ hp: HostPort, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if hp.isIPv6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = hp.port.bigEndian
            _ = inet_pton(AF_INET6, hp.host, &a.sin6_addr)
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = hp.port.bigEndian
        _ = inet_pton(AF_INET, hp.host, &a.sin_addr)
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A small send buffer (the kernel doubles it: 32 KB, 2 s of 8 kHz audio, 0.3 s at 48 kHz): a caller that
    /// stops reading fills it quickly, and the pacer's bounded queue then drops the oldest frames instead of the
    /// kernel queueing seconds of stale audio.
    static func limitSendBuffer(_ fd: Int32) {
        var size: Int32 = 16384
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A non-blocking listening socket on `hp` (SO_REUSEADDR; IPv6 sockets are IPv6-only).
    static func listen(_ hp: HostPort, backlog: Int32 = 512) throws(Failure) -> Int32 {
        let fd = socket(hp.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if hp.isIPv6 { _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let rc = withAddress(hp) { bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            close(fd)
            if e == EADDRINUSE { throw Failure("\(hp) is already in use", e) }
            throw Failure("cannot listen on \(hp)", e)
        }
        guard Glibc.listen(fd, backlog) == 0 else { let e = errno; close(fd); throw Failure("listen on \(hp)", e) }
        setNonBlocking(fd)
        return fd
    }

    /// Starts a non-blocking connect; returns the socket (connected or in progress).
    static func connect(_ hp: HostPort) throws(Failure) -> (fd: Int32, done: Bool) {
        let fd = socket(hp.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket") }
        setNonBlocking(fd)
        setNoDelay(fd)
        limitSendBuffer(fd)
        let rc = withAddress(hp) { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return (fd, true) }
        if errno == EINPROGRESS { return (fd, false) }
        let e = errno
        close(fd)
        throw Failure("connect to \(hp)", e)
    }

    /// The pending error of a non-blocking connect (0 = connected).
    static func connectError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 else { return errno }
        return err
    }

    /// "host:port" of the peer of `fd`.
    static func peerName(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        } == 0
        guard ok else { return "?" }
        return describe(&storage)
    }

    static func describe(_ storage: inout sockaddr_storage) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        if Int32(storage.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p -> String in
                    var a = p.pointee.sin6_addr
                    inet_ntop(AF_INET6, &a, &buf, 64)
                    return "[\(cString(buf))]:\(UInt16(bigEndian: p.pointee.sin6_port))"
                }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p -> String in
                var a = p.pointee.sin_addr
                inet_ntop(AF_INET, &a, &buf, 64)
                return "\(cString(buf)):\(UInt16(bigEndian: p.pointee.sin_port))"
            }
        }
    }

    static func cString(_ b: [CChar]) -> String {
        String(decoding: b.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes all of `bytes` with one send when the socket has room (control-side messages: UUID, hangup).
    @discardableResult
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { b in
            send(fd, b.baseAddress, b.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) == b.count
        }
    }
}

/// A pipe that wakes a poll() loop from another thread.
final class WakePipe: @unchecked Sendable {
    let readFD: Int32
    let writeFD: Int32
    init() {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe failed")
        readFD = fds[0]; writeFD = fds[1]
        TCP.setNonBlocking(readFD); TCP.setNonBlocking(writeFD)
    }
    func wake() { var b: UInt8 = 1; _ = write(writeFD, &b, 1) }
    func drain() { var buf = [UInt8](repeating: 0, count: 64); while read(readFD, &buf, 64) > 0 {} }
    deinit { close(readFD); close(writeFD) }
}

/// CLOCK_MONOTONIC in ns as UInt64 (the parser's time base).
@inline(__always)
func nowNs() -> UInt64 { UInt64(max(0, monotonicNow())) }
