import Foundation
import InfernoProtocol
import NIOCore
import NIOPosix
import Testing
@testable import InfernoDevice

/// A fake device on 127.0.0.1 (ephemeral port): a `DeviceModel` answers ARC, optionally after dropping the
/// first few requests, or never. Everything runs on the endpoint's event loop.
final class FakeARCDevice: @unchecked Sendable {
    enum Mode { case answer, silent, status(ResultCode), wrongTransaction }
    var model: DeviceModel
    var mode: Mode
    var drop: Int
    private(set) var received = 0
    /// When each datagram arrived (event-loop time, unaffected by a busy Swift concurrency pool).
    private(set) var arrivals: [NIODeadline] = []
    var endpoint: UDPEndpoint!

    init(group: EventLoopGroup, tx: Int = 40, rx: Int = 20, mode: Mode = .answer, drop: Int = 0) throws {
        var c = DeviceConfig()
        c.name = "fake"
        c.txChannels = tx
        c.rxChannels = rx
        model = DeviceModel(config: c, deviceID: DeviceID(hex: "020000fffe000001")!, state: DeviceState())
        self.mode = mode
        self.drop = drop
        endpoint = try UDPEndpoint.bind(group: group, host: "127.0.0.1", port: 0) { [unowned self] ep, bytes, from in
            handle(ep, bytes, from)
        }
    }

    var port: UInt16 { UInt16(endpoint.localPort) }

    private func handle(_ ep: UDPEndpoint, _ bytes: [UInt8], _ from: SocketAddress) {
        received += 1
        arrivals.append(.now())
        if drop > 0 { drop -= 1; return }
        switch mode {
        case .silent:
            return
        case .answer:
            if let out = model.handleARC(bytes), let r = out.response { ep.send(r, to: from) }
        case .status(let s):
            guard let req = try? ARCRequest.decode(bytes) else { return }
            ep.send(ARCResponse(answering: req, status: s).encode(), to: from)
        case .wrongTransaction:
            guard let req = try? ARCRequest.decode(bytes) else { return }
            var r = ARCResponse(answering: req)
            r.transactionID &+= 1
            ep.send(r.encode(), to: from)
        }
    }

    /// Reads state on the event loop.
    func read<T: Sendable>(_ f: @escaping @Sendable (FakeARCDevice) -> T) throws -> T {
        try endpoint.channel.eventLoop.submit { f(self) }.wait()
    }

    func close() { endpoint.close() }
}

@Suite struct ControllerTests {
    // MARK: CH@DEV

    @Test func parsesChannelReferences() throws {
        #expect(try ChannelReference.parse("1@B") == ChannelReference(channel: .number(1), device: "B"))
        #expect(try ChannelReference.parse("02@A") == ChannelReference(channel: .number(2), device: "A"))
        #expect(try ChannelReference.parse("TX 2@desk") == ChannelReference(channel: .name("TX 2"), device: "desk"))
        #expect(try ChannelReference.parse("Vox@10.0.0.5") == ChannelReference(channel: .name("Vox"), device: "10.0.0.5"))
        // Split at the last @.
        #expect(try ChannelReference.parse("a@b@c") == ChannelReference(channel: .name("a@b"), device: "c"))
        #expect(try ChannelReference.parse("1a@dev") == ChannelReference(channel: .name("1a"), device: "dev"))
        for bad in ["1B", "@B", "1@", "@", "", "0@B", "00@B", "65536@B"] {
            #expect(throws: ControllerError.self) { try ChannelReference.parse(bad) }
            do { _ = try ChannelReference.parse(bad) } catch { #expect(error.exitCode == 2) }
        }
        #expect(try ChannelReference.parse("65535@B").channel == .number(65535))
    }

    @Test func parsesDeviceAddresses() {
        #expect(DanteController.parseAddress("10.0.0.5")! == (0x0A00_0005, 4440))
        #expect(DanteController.parseAddress("10.0.0.5:5440")! == (0x0A00_0005, 5440))
        #expect(DanteController.parseAddress("studio") == nil)
        #expect(DanteController.parseAddress("10.0.0.5:0") == nil)
        #expect(DanteController.parseAddress("10.0.0.5:x") == nil)
        #expect(DanteController.parseAddress("10.0.0") == nil)
    }

    // MARK: status text

    @Test func statusText() {
        let cases: [(UInt16, String)] = [
            (0, "none"), (1, "unresolved"), (4, "connected (self)"), (8, "in progress"),
            (9, "connected (unicast)"), (10, "connected (multicast)"), (0x14, "too many TX flows"),
            (0x15, "TX flow failed"), (0x42, "status 0x0042"),
        ]
        for (code, text) in cases { #expect(ARCSubscriptionStatus(code).text == text) }
        #expect(millisecondsText(2_000_000) == "2")
        #expect(millisecondsText(250_000) == "0.25")
        #expect(millisecondsText(150_000) == "0.15")
        #expect(millisecondsText(21_333_334) == "21.333")
    }

    @Test func errorMessages() {
        let t = ControllerError.timeout(device: "desk", address: "10.0.0.5:4440", request: arcRequestName(0x1002),
                                        attempts: 3, seconds: 1)
        #expect(t.description == "no answer from desk (10.0.0.5:4440) to ARC 0x1002 (device name): timed out after 3 attempts in 3 s")
        #expect(t.exitCode == 1)
        let n = ControllerError.notFound(name: "X", interface: "eth0", found: ["a", "b"])
        #expect(n.description == "no Dante device named X on eth0 (found: a, b)")
        #expect(ControllerError.notFound(name: "X", interface: "lo", found: []).description.hasSuffix("(found: none)"))
        let s = ControllerError.status(device: "desk", request: arcRequestName(0x1001), status: .locked)
        #expect(s.description == "desk refused ARC 0x1001 (set device name): status 0x0600 (device is locked)")
    }

    // MARK: ARC client over UDP

    func withGroup(_ body: (EventLoopGroup) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do { try await body(group) } catch { try? await group.shutdownGracefully(); throw error }
        try? await group.shutdownGracefully()
    }

    func withClient(_ fake: FakeARCDevice, group: EventLoopGroup, timeoutMs: Int64 = 1000, retries: Int = 2,
                    _ body: (ARCClient) async throws -> Void) async throws {
        let socket = try ControlSocket(group: group, address: "127.0.0.1")
        defer { socket.close() }
        let client = ARCClient(socket: socket, device: "fake", ipv4: 0x7F00_0001, port: fake.port,
                               timeout: .milliseconds(timeoutMs), retries: retries)
        try await body(client)
    }

    @Test func talksToADevice() async throws {
        try await withGroup { group in
            let fake = try FakeARCDevice(group: group)
            defer { fake.close() }
            try await withClient(fake, group: group) { c in
                #expect(try await c.deviceName() == "fake")
                let counts = try await c.channelCounts()
                #expect(counts.txChannelCount == 40 && counts.rxChannelCount == 20)
                // Paging: 40 TX in two pages of 32, 20 RX in two of 16.
                let tx = try await c.txChannels(count: 40)
                #expect(tx.map(\.number) == Array(1...40) && tx.last?.name == "40")
                let names = try await c.txChannelNames(count: 40)
                #expect(names.count == 40 && names[39].name == "TX 40")
                try await c.subscribe([ARCSubscriptionRecord(rxChannel: 18, txChannel: "TX 2", txDevice: "desk")])
                let rx = try await c.rxChannels(count: 20)
                #expect(rx.count == 20)
                #expect(rx[17].txChannel == "TX 2" && rx[17].txDevice == "desk" && rx[17].subscriptionStatus == .unresolved)
                try await c.subscribe([.unsubscribe(18)])
                #expect(try await c.rxChannels(count: 20)[17].txChannel == nil)
                try await c.renameChannel(tx: true, channel: 3, name: "Vox")
                #expect(try await c.txChannelNames(count: 40)[2].name == "Vox")
                try await c.setLatency(nanoseconds: 2_000_000)
                #expect(try await c.settings().value(of: ARCInfoCode.latency) == 2_000_000)
                try await c.setDeviceName("renamed")
                #expect(try await c.deviceName() == "renamed")
            }
            #expect(try fake.read { $0.model.latencyNs } == 2_000_000)
        }
    }

    @Test func retriesALostRequest() async throws {
        try await withGroup { group in
            let fake = try FakeARCDevice(group: group, drop: 2)
            defer { fake.close() }
            try await withClient(fake, group: group, timeoutMs: 100) { c in
                let name = try await c.deviceName()
                #expect(name == "fake")
            }
            #expect(try fake.read { $0.received } == 3)
        }
    }

    @Test func silentDeviceTimesOut() async throws {
        try await withGroup { group in
            let fake = try FakeARCDevice(group: group, mode: .silent)
            defer { fake.close() }
            try await withClient(fake, group: group, timeoutMs: 100, retries: 2) { c in
                do {
                    _ = try await c.channelCounts()
                    Issue.record("expected a timeout")
                } catch let error as ControllerError {
                    #expect(error == .timeout(device: "fake", address: "127.0.0.1:\(fake.port)",
                                              request: "ARC 0x1000 (channel counts)", attempts: 3, seconds: 0.1))
                    #expect(error.description.contains("no answer from fake"))
                    #expect(error.exitCode == 1)
                }
            }
            // Three attempts, 100 ms apart, timed where the datagrams arrive: in a busy test run the continuation
            // itself may resume much later.
            let arrivals = try fake.read { $0.arrivals }
            #expect(arrivals.count == 3)
            if let first = arrivals.first, let last = arrivals.last {
                #expect(last - first >= .milliseconds(190) && last - first < .seconds(5))
            }
        }
    }

    @Test func ignoresRepliesWithAnotherTransactionID() async throws {
        try await withGroup { group in
            let fake = try FakeARCDevice(group: group, mode: .wrongTransaction)
            defer { fake.close() }
            try await withClient(fake, group: group, timeoutMs: 100, retries: 0) { c in
                await #expect(throws: ControllerError.self) { _ = try await c.deviceName() }
            }
        }
    }

    @Test func errorStatusIsTyped() async throws {
        try await withGroup { group in
            let fake = try FakeARCDevice(group: group, mode: .status(.locked))
            defer { fake.close() }
            try await withClient(fake, group: group) { c in
                do {
                    try await c.setDeviceName("x")
                    Issue.record("expected an error status")
                } catch let error as ControllerError {
                    #expect(error == .status(device: "fake", request: "ARC 0x1001 (set device name)", status: .locked))
                }
            }
        }
    }

    @Test func concurrentRequestsShareOneSocket() async throws {
        try await withGroup { group in
            let fake = try FakeARCDevice(group: group)
            defer { fake.close() }
            try await withClient(fake, group: group) { c in
                let results = try await withThrowingTaskGroup(of: UInt16.self) { g in
                    for _ in 0..<20 { g.addTask { try await c.channelCounts().txChannelCount } }
                    var out: [UInt16] = []
                    for try await r in g { out.append(r) }
                    return out
                }
                #expect(results == Array(repeating: 40, count: 20))
            }
        }
    }

    // MARK: CMC and conmon

    @Test func conmonPortFromRegistration() async throws {
        try await withGroup { group in
            let cmc = try UDPEndpoint.bind(group: group, host: "127.0.0.1", port: 0) { ep, bytes, from in
                guard let req = try? CMCRegistrationRequest.decode(bytes) else { return }
                ep.send(req.response(deviceID: [2, 0, 0, 0xff, 0xfe, 0, 0, 1], ipv4: 0x7F00_0001, conmonPort: 8703).encode(), to: from)
            }
            defer { cmc.close() }
            let socket = try ControlSocket(group: group, address: "127.0.0.1")
            defer { socket.close() }
            var client = ConmonClient(socket: socket, device: "fake", ipv4: 0x7F00_0001, cmcPort: UInt16(cmc.localPort),
                                      controllerMAC: nil)
            #expect(await client.conmonPort() == 8703)
            // No CMC answer: Dante's default conmon port.
            let silent = try UDPEndpoint.bind(group: group, host: "127.0.0.1", port: 0) { _, _, _ in }
            defer { silent.close() }
            client = ConmonClient(socket: socket, device: "fake", ipv4: 0x7F00_0001, cmcPort: UInt16(silent.localPort),
                                  controllerMAC: nil)
            client.timeout = .milliseconds(50)
            #expect(await client.conmonPort() == 8700)
        }
    }

    @Test func conmonCommandMatchesDanteController() throws {
        // Dante Controller's real sample-rate command (dante-protocol.md §6.8).
        let dc = parseHexBytes("ffff002818b000003e42274cff240000") + Array("Audinate".utf8)
            + parseHexBytes("073a008100000064000000010000ac44")
        let ours = ConmonClient.command(.setSampleRate(ConmonSetting(value: 44100)),
                                        controllerMAC: [0x3e, 0x42, 0x27, 0x4c, 0xff, 0x24], sequence: 0x18b0)
        #expect(ours == dc)
        let enc = try ConmonPacket.decode(ConmonClient.command(.setEncoding(ConmonSetting(value: 16)),
                                                               controllerMAC: [0, 0, 0, 0, 0, 0], sequence: 1))
        #expect(enc.message == .setEncoding(ConmonSetting(presence: 1, value: 16)))
    }

    // MARK: discovery

    func zone(_ name: String, ip: UInt32, arc: UInt16 = 4440) -> MDNSResponder {
        var ports = DevicePorts(base: nil)
        ports.arc = arc
        let ad = DanteAdvertisement(name: name, ipv4: ip, ports: ports, deviceID: DeviceID(hex: "0200000000000001")!,
                                    processID: 0, sampleRate: 48000, encoding: 24, latencyNs: 1_000_000,
                                    txChannels: [("01", "TX 1")])
        return try! MDNSResponder(zone: ad.zone)
    }

    @Test func parsesBrowseAnswers() throws {
        let browse = DNSMessage.mdnsQuery([DNSQuestion(name: try DNSName("_netaudio-arc._udp.local"), type: .ptr),
                                           DNSQuestion(name: try DNSName("_netaudio-cmc._udp.local"), type: .ptr)])
        let a = try #require(zone("Desk", ip: 0x0A63_2901).respond(to: browse, sourcePort: 40000)).message
        let b = try #require(zone("stage", ip: 0x0A63_2902, arc: 5440).respond(to: browse, sourcePort: 40000)).message
        let parsed = DeviceBrowser.parse([b, a])
        #expect(parsed.incomplete.isEmpty && parsed.unresolvedHosts.isEmpty)
        #expect(parsed.devices.map(\.name) == ["Desk", "stage"])
        let desk = parsed.devices[0]
        #expect(desk.ipv4 == 0x0A63_2901 && desk.arcPort == 4440 && desk.cmcPort == 8800)
        #expect(desk.deviceID == "0200000000000001" && desk.model == "INFERNO-SWIFT" && desk.host == "Desk.local")
        #expect(parsed.devices[1].arcPort == 5440)
        // Case-insensitive lookup.
        #expect(DeviceBrowser.match("desk", in: parsed.devices)?.name == "Desk")
        #expect(DeviceBrowser.match("STAGE", in: parsed.devices)?.ipv4 == 0x0A63_2902)
        #expect(DeviceBrowser.match("nope", in: parsed.devices) == nil)
        // A goodbye withdraws the device.
        let bye = DNSMessage.mdnsResponse(answers: a.answers.map(\.goodbye))
        #expect(DeviceBrowser.parse([b, a, bye]).devices.map(\.name) == ["stage"])
        // A PTR without its SRV/A is reported for a follow-up query.
        let ptrOnly = DNSMessage.mdnsResponse(answers: a.answers.filter { $0.type == .ptr })
        let partial = DeviceBrowser.parse([ptrOnly])
        #expect(partial.devices.isEmpty && partial.incomplete.count == 2)
    }
}

func parseHexBytes(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}
