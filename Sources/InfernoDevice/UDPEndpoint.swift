import InfernoProtocol
import NIOCore
import NIOPosix

/// One bound UDP socket on the control plane (ARC, CMC, conmon, mDNS), served by SwiftNIO.
///
/// Datagrams are handed to `onDatagram` on the channel's event loop as plain byte arrays together with the
/// sender; the handler answers by calling `send`. Nothing here runs on an audio thread.
public final class UDPEndpoint: @unchecked Sendable {
    public let channel: Channel
    public let localPort: Int

    public struct Options: Sendable {
        /// SO_REUSEADDR + SO_REUSEPORT (needed on 5353 to coexist with other responders).
        public var reusePort = false
        /// Multicast groups to join on the interface whose address is `multicastInterface`.
        public var joinGroups: [String] = []
        /// Outgoing multicast interface (IP_MULTICAST_IF) and TTL; loop enabled so local peers hear us.
        public var multicastInterface: String?
        public var multicastTTL: UInt8 = 1
        public init() {}
    }

    /// Binds `host:port`. A port already in use throws `EndpointError.portInUse`.
    ///
    /// The socket is made here with plain system calls and then handed to NIO: group membership and the outgoing
    /// multicast interface are set by address (`ip_mreq`), which also works on a loopback interface that lacks
    /// the MULTICAST flag (NIO's own join refuses such interfaces).
    public static func bind(group: EventLoopGroup, host: String, port: Int, options: Options = Options(),
                            onDatagram: @escaping @Sendable (UDPEndpoint, [UInt8], SocketAddress) -> Void) throws -> UDPEndpoint {
        let fd = try makeSocket(host: host, port: port, options: options)
        let box = HandlerBox()
        let channel: Channel
        do {
            channel = try DatagramBootstrap(group: group)
                .channelOption(ChannelOptions.maxMessagesPerRead, value: 16)
                .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 9216))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramHandler(box: box))
                    }
                }
                .withBoundSocket(fd).wait()
        } catch {
            Glibc.close(fd)
            throw error
        }
        let endpoint = UDPEndpoint(channel: channel, localPort: channel.localAddress?.port ?? port)
        box.set(endpoint: endpoint, handler: onDatagram)
        return endpoint
    }

    static func makeSocket(host: String, port: Int, options: Options) throws -> CInt {
        func inAddr(_ s: String) throws -> in_addr {
            var a = in_addr()
            guard inet_pton(AF_INET, s, &a) == 1 else { throw EndpointError.addressNotAvailable(s) }
            return a
        }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EndpointError.system("socket", errno) }
        func opt<T>(_ level: CInt, _ name: CInt, _ value: T) throws {
            var v = value
            guard setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<T>.size)) == 0 else {
                let e = errno; Glibc.close(fd); throw EndpointError.system("setsockopt \(name)", e)
            }
        }
        if options.reusePort {
            try opt(SOL_SOCKET, SO_REUSEADDR, CInt(1))
            try opt(SOL_SOCKET, SO_REUSEPORT, CInt(1))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        addr.sin_addr = try inAddr(host)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let e = errno
            Glibc.close(fd)
            switch e {
            case EADDRINUSE: throw EndpointError.portInUse(port)
            case EADDRNOTAVAIL: throw EndpointError.addressNotAvailable(host)
            default: throw EndpointError.system("bind \(host):\(port)", e)
            }
        }
        if let ifAddr = options.multicastInterface {
            let a = try inAddr(ifAddr)
            try opt(CInt(IPPROTO_IP), IP_MULTICAST_IF, a)
            try opt(CInt(IPPROTO_IP), IP_MULTICAST_TTL, CInt(options.multicastTTL))
            try opt(CInt(IPPROTO_IP), IP_MULTICAST_LOOP, CInt(1))
            // Deliver only the groups this socket joined, not every group some other socket joined.
            try opt(CInt(IPPROTO_IP), 49 /* IP_MULTICAST_ALL */, CInt(0))
            for g in options.joinGroups {
                try opt(CInt(IPPROTO_IP), IP_ADD_MEMBERSHIP, ip_mreq(imr_multiaddr: try inAddr(g), imr_interface: a))
            }
        }
        return fd
    }

    init(channel: Channel, localPort: Int) {
        self.channel = channel
        self.localPort = localPort
    }

    public func send(_ bytes: [UInt8], to remote: SocketAddress) {
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
    }

    public func close() {
        try? channel.close().wait()
    }
}

public enum EndpointError: Error, CustomStringConvertible {
    case portInUse(Int)
    case addressNotAvailable(String)
    case system(String, Int32)
    public var description: String {
        switch self {
        case let .system(call, e): return "\(call): \(String(cString: strerror(e)))"
        case .portInUse(let p): return "UDP port \(p) is already in use"
        case .addressNotAvailable(let a): return "address \(a) is not available on this host"
        }
    }
}

/// Holds the endpoint and handler, set once right after bind; read on the event loop.
final class HandlerBox: @unchecked Sendable {
    private(set) var endpoint: UDPEndpoint?
    private(set) var handler: (@Sendable (UDPEndpoint, [UInt8], SocketAddress) -> Void)?
    func set(endpoint: UDPEndpoint, handler: @escaping @Sendable (UDPEndpoint, [UInt8], SocketAddress) -> Void) {
        self.endpoint = endpoint
        self.handler = handler
    }
}

final class DatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let box: HandlerBox
    init(box: HandlerBox) { self.box = box }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let endpoint = box.endpoint, let handler = box.handler else { return }
        let bytes = envelope.data.getBytes(at: envelope.data.readerIndex, length: envelope.data.readableBytes) ?? []
        handler(endpoint, bytes, envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP errors (ECONNREFUSED from an earlier send) and the like: keep serving.
    }
}
