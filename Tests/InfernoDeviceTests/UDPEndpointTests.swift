import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import InfernoDevice

@Suite struct UDPEndpointTests {
    @Test func echoesAndReportsPortInUse() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let server = try UDPEndpoint.bind(group: group, host: "127.0.0.1", port: 0) { ep, bytes, from in
            ep.send(bytes.reversed(), to: from)
        }
        defer { server.close() }
        #expect(server.localPort > 0)
        // A second bind on the same port is a typed, readable error.
        #expect(throws: EndpointError.self) {
            try UDPEndpoint.bind(group: group, host: "127.0.0.1", port: server.localPort) { _, _, _ in }
        }
        do {
            _ = try UDPEndpoint.bind(group: group, host: "127.0.0.1", port: server.localPort) { _, _, _ in }
        } catch {
            #expect("\(error)" == "UDP port \(server.localPort) is already in use")
        }
        // Round trip through a plain socket.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(server.localPort).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let msg: [UInt8] = [1, 2, 3]
        let sent = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, msg, msg.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(sent == 3)
        var buf = [UInt8](repeating: 0, count: 16)
        let n = recv(fd, &buf, buf.count, 0)
        #expect(n == 3)
        #expect(Array(buf.prefix(3)) == [3, 2, 1])
    }
}
