import Foundation
import InfernoProtocol
import NIOPosix
import Testing
@testable import InfernoDevice

/// A UDP client socket on loopback for tests.
struct TestSocket {
    let fd: Int32
    init(timeout: Int = 2) {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
    func send(_ bytes: [UInt8], to host: String = "127.0.0.1", port: Int) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
    func receive() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 9000)
        let n = recv(fd, &buf, buf.count, 0)
        return n < 0 ? nil : Array(buf.prefix(n))
    }
    func close() { _ = Glibc.close(fd) }
}

@Suite struct MDNSServerTests {
    @Test func answersLegacyUnicastQueriesAndSurvivesGarbage() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let iface = try NetworkInterfaces.resolve("127.0.0.1")
        let ad = DanteAdvertisement(name: "mdnstest", ipv4: iface.address, ports: DevicePorts(base: nil),
                                    deviceID: DeviceID(hex: "0200000000000001")!, processID: 0, sampleRate: 48000,
                                    encoding: 24, latencyNs: 1_000_000, txChannels: [("01", "TX 1")])
        // Port 0: a private port, so the test does not touch 5353.
        let server = try MDNSServer(group: group, interface: iface, zone: ad.zone, port: 0)
        defer { server.stop() }
        let client = TestSocket()
        defer { client.close() }
        // Garbage first: dropped and counted, the server keeps answering.
        client.send([0xde, 0xad], port: server.endpoint.localPort)
        var q = DNSMessage.mdnsQuery([DNSQuestion(name: try DNSName("TX 1@mdnstest._netaudio-chan._udp.local"), type: .srv)])
        q.id = 77
        client.send(q.encode(), port: server.endpoint.localPort)
        let reply = try DNSMessage.decode(try #require(client.receive()))
        #expect(reply.id == 77)
        #expect(reply.answers.first?.data == .srv(priority: 0, weight: 0, port: 4455, target: try DNSName("mdnstest.local")))
        #expect(reply.additionals.contains { $0.data == .a(iface.address) })
        #expect(server.malformed == 1)
    }

    @Test func splitsLargeMessages() throws {
        let ad = DanteAdvertisement(name: "big", ipv4: 0x7F00_0001, ports: DevicePorts(base: nil),
                                    deviceID: DeviceID(hex: "0200000000000001")!, processID: 0, sampleRate: 48000,
                                    encoding: 24, latencyNs: 1_000_000,
                                    txChannels: (1...64).map { (String(format: "%02d", $0), "TX \($0)") })
        let r = try MDNSResponder(zone: ad.zone)
        let parts = r.split(r.announcement())
        #expect(parts.count > 1)
        #expect(parts.allSatisfy { $0.encode().count <= 1400 })
        #expect(parts.reduce(0) { $0 + $1.answers.count } == r.announcement().answers.count)
        // A browse for 128 channel instances: every part fits, and each PTR has its SRV/TXT/A alongside.
        let browse = DNSMessage.mdnsQuery([DNSQuestion(name: try DNSName("_netaudio-chan._udp.local"), type: .ptr)])
        let reply = try #require(r.respond(to: browse, sourcePort: 5353))
        let replyParts = r.split(reply.message)
        #expect(replyParts.count > 1 && replyParts.allSatisfy { $0.encode().count <= 1400 })
        for p in replyParts {
            for a in p.answers { if case .ptr(let t) = a.data { #expect(p.additionals.contains { $0.name == t && $0.type == .srv }) } }
        }
    }
}
