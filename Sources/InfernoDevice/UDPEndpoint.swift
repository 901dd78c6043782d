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
        /// Multicast groups to join on the interface that owns `interfaceAddress`.
        public var joinGroups: [String] = []
        /// Outgoing multicast interface (IP_MULTICAST_IF) and TTL; loop enabled so local peers hear us.
        public var multicastInterface: String?
        public var multicastTTL: UInt8 = 1
        public init() {}
    }

    /// Binds `host:port`. A port already in use throws `EndpointError.portInUse`.
    public static func bind(group: EventLoopGroup, host: String, port: Int, options: Options = Options(),
                            onDatagram: @escaping @Sendable (UDPEndpoint, [UInt8], SocketAddress) -> Void) throws -> UDPEndpoint {
        let box = HandlerBox()
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: options.reusePort ? 1 : 0)
            .channelOption(ChannelOptions.socketOption(.init(rawValue: SO_REUSEPORT)), value: options.reusePort ? 1 : 0)
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 9216))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramHandler(box: box))
                }
            }
        let channel: Channel
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch let e as IOError where e.errnoCode == EADDRINUSE {
            throw EndpointError.portInUse(port)
        } catch let e as IOError where e.errnoCode == EADDRNOTAVAIL {
            throw EndpointError.addressNotAvailable(host)
        }
        if let ifAddr = options.multicastInterface {
            let addr = try SocketAddress(ipAddress: ifAddr, port: 0)
            guard case .v4(let v4) = addr else { throw EndpointError.addressNotAvailable(ifAddr) }
            if let provider = channel as? SocketOptionProvider {
                try provider.setIPMulticastIF(v4.address.sin_addr).wait()
                try provider.setIPMulticastTTL(options.multicastTTL).wait()
                try provider.setIPMulticastLoop(1).wait()
            }
        }
        if !options.joinGroups.isEmpty, let mc = channel as? MulticastChannel {
            let device = try options.multicastInterface.flatMap { ip in
                try System.enumerateDevices().first { d in
                    if case .v4(let a)? = d.address, let s = try? SocketAddress(ipAddress: ip, port: 0), case .v4(let b) = s {
                        return a.address.sin_addr.s_addr == b.address.sin_addr.s_addr
                    }
                    return false
                }
            }
            for g in options.joinGroups {
                try mc.joinGroup(try SocketAddress(ipAddress: g, port: port), device: device).wait()
            }
        }
        let endpoint = UDPEndpoint(channel: channel, localPort: channel.localAddress?.port ?? port)
        box.set(endpoint: endpoint, handler: onDatagram)
        return endpoint
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
    public var description: String {
        switch self {
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
