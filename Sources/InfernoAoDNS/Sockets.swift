import Glibc

/// An IPv4 or IPv6 socket address parsed from `A.B.C.D:PORT` or `[V6]:PORT` (no name resolution).
public struct SocketEndpoint: Equatable, Sendable, CustomStringConvertible {
    public enum Family: Sendable { case v4, v6 }
    public let family: Family
    /// 4 or 16 bytes, network order.
    public let address: [UInt8]
    public let port: UInt16

    public init?(_ text: String, defaultPort: UInt16? = nil) {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if rest.hasPrefix(":") { portText = rest.dropFirst() } else if !rest.isEmpty { return nil }
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        let port: UInt16
        if let portText {
            guard let p = UInt16(portText) else { return nil }   // 0: any free port (servers)
            port = p
        } else {
            guard let d = defaultPort else { return nil }
            port = d
        }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 {
            family = .v4
            address = withUnsafeBytes(of: v4) { Array($0) }
        } else if inet_pton(AF_INET6, String(host), &v6) == 1 {
            family = .v6
            address = withUnsafeBytes(of: v6) { Array($0) }
        } else {
            return nil
        }
        self.port = port
    }

    init(storage: sockaddr_storage) {
        var s = storage
        if Int32(s.ss_family) == AF_INET6 {
            let sa = withUnsafeBytes(of: &s) { $0.load(as: sockaddr_in6.self) }
            family = .v6
            address = withUnsafeBytes(of: sa.sin6_addr) { Array($0) }
            port = UInt16(bigEndian: sa.sin6_port)
        } else {
            let sa = withUnsafeBytes(of: &s) { $0.load(as: sockaddr_in.self) }
            family = .v4
            address = withUnsafeBytes(of: sa.sin_addr) { Array($0) }
            port = UInt16(bigEndian: sa.sin_port)
        }
    }

    var domain: Int32 { family == .v4 ? AF_INET : AF_INET6 }

    /// Calls `body` with this address as a sockaddr.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .v4:
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin_addr) { $0.copyBytes(from: address) }
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6:
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: address) }
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    public var hostString: String {
        switch family {
        case .v4: return address.map(String.init).joined(separator: ".")
        case .v6:
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            var a = in6_addr()
            withUnsafeMutableBytes(of: &a) { $0.copyBytes(from: address) }
            inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
            return String(cString: buf)
        }
    }

    public var description: String { family == .v4 ? "\(hostString):\(port)" : "[\(hostString)]:\(port)" }
}

/// A socket error with the call that failed.
public struct SocketFailure: Error, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public var description: String { "\(call): \(String(cString: strerror(code)))" }
    static func last(_ call: String) -> SocketFailure { SocketFailure(call: call, code: errno) }
}

/// Unix time in milliseconds (CLOCK_REALTIME).
public func unixMillis() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC).
func monoNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func setNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL, 0)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
}

func setIntOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
    var v = value
    _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
}

func setTimeout(_ fd: Int32, _ option: Int32, ms: Int) {
    var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
    _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
}
