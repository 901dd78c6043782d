import Glibc

/// Plain UDP sockets for media flows (the engines use them with sendmmsg/recvmmsg; NIO is for the control plane).
public enum MediaSockets {
    /// A non-blocking socket bound to `bindIP`:ephemeral and connected to `ip:port` (a transmit flow).
    public static func connected(bindIP: UInt32, to ip: UInt32, port: UInt16) throws -> Int32 {
        let fd = try make(bindIP: bindIP, port: 0)
        var addr = sockaddr_in(ip: ip, port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { let e = errno; close(fd); throw EndpointError.system("connect", e) }
        return fd
    }

    /// A non-blocking socket bound to `bindIP:port` (0 = ephemeral); returns the fd and the bound port.
    public static func bound(bindIP: UInt32, port: UInt16 = 0) throws -> (fd: Int32, port: UInt16) {
        let fd = try make(bindIP: bindIP, port: port)
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    /// Sends one datagram on `fd` to `ip:port` (keep-alives from a receive socket).
    @discardableResult
    public static func send(_ bytes: [UInt8], fd: Int32, to ip: UInt32, port: UInt16) -> Bool {
        var addr = sockaddr_in(ip: ip, port: port)
        return bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } == bytes.count
    }

    static func make(bindIP: UInt32, port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw EndpointError.system("socket", errno) }
        var size: Int32 = 1 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in(ip: bindIP, port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { let e = errno; close(fd); throw EndpointError.system("bind", e) }
        return fd
    }
}

extension sockaddr_in {
    init(ip: UInt32, port: UInt16) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = in_port_t(port.bigEndian)
        sin_addr = in_addr(s_addr: ip.bigEndian)
    }
}
