import Testing
import InfernoProtocol
import NIOCore
@testable import InfernoDevice

@Suite struct DeviceConfigTests {
    @Test func defaults() throws {
        let c = try DeviceConfig.resolve(flags: [:], environment: [:])
        #expect(c.txChannels == 2 && c.rxChannels == 2)
        #expect(c.bind == "127.0.0.1")
        #expect(c.ports == DevicePorts(base: nil))
        #expect(c.ports.arc == 4440 && c.ports.cmc == 8800 && c.ports.flowControl == 4455 && c.ports.conmon == 8700)
        #expect(c.sampleRate == 48000 && c.encoding == 24 && c.latencyMs == 4)
    }

    @Test func flagsWinOverEnvironment() throws {
        let env = ["INFERNO_NAME": "from-env", "INFERNO_TX_CHANNELS": "8", "INFERNO_ALT_PORT": "5000"]
        let c = try DeviceConfig.resolve(flags: ["name": "from-flag"], environment: env)
        #expect(c.name == "from-flag")
        #expect(c.txChannels == 8)
        #expect(c.ports.arc == 5000 && c.ports.cmc == 5001 && c.ports.flowControl == 5002 && c.ports.conmon == 5003)
    }

    @Test func mistakesNameTheSetting() {
        func message(_ flags: [String: String], _ env: [String: String] = [:]) -> String? {
            do { _ = try DeviceConfig.resolve(flags: flags, environment: env); return nil } catch { return error.description }
        }
        #expect(message(["name": "my device"]) == #"--name (INFERNO_NAME): "my device" is not DNS-safe: use letters, digits and inner hyphens"#)
        #expect(message(["name": String(repeating: "a", count: 32)])?.contains("at most 31") == true)
        #expect(message(["name": "-x"]) != nil)
        #expect(message([:], ["INFERNO_TX_CHANNELS": "lots"]) == #"--tx (INFERNO_TX_CHANNELS): "lots" must be a whole number from 0 to 512"#)
        #expect(message(["sample-rate": "22050"])?.hasPrefix("--sample-rate (INFERNO_SAMPLE_RATE)") == true)
        #expect(message(["encoding": "20"])?.hasPrefix("--encoding") == true)
        #expect(message(["device-id": "xyz"])?.hasPrefix("--device-id (INFERNO_DEVICE_ID)") == true)
        #expect(message(["latency-ms": "-1"])?.hasPrefix("--latency-ms") == true)
        #expect(message(["ports": "65535"]) != nil)
        #expect(message(["log-level": "loud"]) != nil)
        #expect(message(["shm": "../etc"])?.hasPrefix("--shm (INFERNO_SHM)") == true)
        #expect(message(["shm": "studio", "tx-source": "pattern"])?.contains("cannot be combined with --tx-source") == true)
        #expect(message(["shm-owner-fd": "x"])?.hasPrefix("--shm-owner-fd") == true)
        for m in [message(["name": "my device"]), message(["ports": "0"])] { #expect(m?.contains("\n") == false) }
    }

    @Test func deviceIDs() {
        #expect(DeviceID(hex: "001dc1fffe5279b6")?.bytes == [0x00, 0x1d, 0xc1, 0xff, 0xfe, 0x52, 0x79, 0xb6])
        #expect(DeviceID(eui64FromMAC: [0x00, 0x1d, 0xc1, 0x52, 0x79, 0xb6])?.description == "001dc1fffe5279b6")
        #expect(DeviceID(hex: "001dc1fffe5279b6")?.shortHex == "5279b6")
        #expect(DeviceID(hex: "001dc1fffe5279") == nil)
        #expect(DeviceID(hex: "001dc1fffe5279bg") == nil)
    }
}

@Suite struct AudioSocketSettingsTests {
    func message(_ flags: [String: String], _ env: [String: String] = [:]) -> String? {
        do { _ = try DeviceConfig.resolve(flags: flags, environment: env); return nil } catch { return error.description }
    }

    @Test func offByDefault() throws {
        let c = try DeviceConfig.resolve(flags: [:], environment: [:])
        #expect(!c.audioSocket.enabled)
        #expect(c.extraChannelNames.isEmpty)
    }

    @Test func listenCallsAndChannelNames() throws {
        let c = try DeviceConfig.resolve(flags: ["audiosocket-listen": "127.0.0.1:9092,[::1]:9093", "audiosocket-calls": "3"], environment: [:])
        #expect(c.audioSocket.listen == [HostPort(host: "127.0.0.1", port: 9092, isIPv6: false), HostPort(host: "::1", port: 9093, isIPv6: true)])
        #expect(c.extraChannelNames == ["call 1", "call 2", "call 3"])
        let e = try DeviceConfig.resolve(flags: [:], environment: ["INFERNO_AUDIOSOCKET_LISTEN": "*:9092", "INFERNO_AUDIOSOCKET_CALLS": "2"])
        #expect(e.audioSocket.listen.first?.host == "0.0.0.0")
        #expect(e.audioSocket.calls == 2)
        // The device model and the runtime's channel counts follow.
        let id = DeviceID(hex: "0000000000000001")!
        let m = DeviceModel(config: c, deviceID: id, state: DeviceState())
        #expect(m.tx.map(\.name) == ["TX 1", "TX 2", "call 1", "call 2", "call 3"])
        #expect(m.rx.map(\.name) == ["RX 1", "RX 2", "call 1", "call 2", "call 3"])
        #expect(m.tx.map(\.factory) == ["01", "02", "03", "04", "05"])
    }

    @Test func connectTargets() throws {
        let c = try DeviceConfig.resolve(flags: ["audiosocket-connect": "127.0.0.1:9000,40325ec2-5efd-4bd3-805f-53576e581d13 [::1]:9001,40325ec2-5efd-4bd3-805f-53576e581d14,16000"], environment: [:])
        #expect(c.audioSocket.connect.count == 2)
        #expect(c.audioSocket.connect[0].sampleRate == 8000)
        #expect(c.audioSocket.connect[1].sampleRate == 16000)
        #expect(c.audioSocket.connect[1].endpoint.isIPv6)
        #expect(c.audioSocket.connect[0].uuid.description == "40325ec2-5efd-4bd3-805f-53576e581d13")
        #expect(c.audioSocket.enabled && c.extraChannelNames.count == 4)
    }

    @Test func mistakesNameTheSetting() {
        #expect(message(["audiosocket-listen": "127.0.0.1"])?.hasPrefix("--audiosocket-listen (INFERNO_AUDIOSOCKET_LISTEN): \"127.0.0.1\"") == true)
        #expect(message(["audiosocket-listen": "127.0.0.1:0"])?.contains("port") == true)
        #expect(message(["audiosocket-listen": "[::1:9092"])?.hasPrefix("--audiosocket-listen") == true)
        #expect(message(["audiosocket-calls": "2"])?.contains("needs --audiosocket-listen") == true)
        #expect(message(["audiosocket-listen": "127.0.0.1:9092"], ["INFERNO_AUDIOSOCKET_CALLS": "0"])?
                    .hasPrefix("--audiosocket-calls (INFERNO_AUDIOSOCKET_CALLS)") == true)
        #expect(message(["audiosocket-connect": "127.0.0.1:9000"])?.contains("HOST:PORT,UUID") == true)
        #expect(message(["audiosocket-connect": "127.0.0.1:9000,nope"])?.contains("UUID") == true)
        #expect(message(["audiosocket-connect": "127.0.0.1:9000,40325ec2-5efd-4bd3-805f-53576e581d13,11025"])?.contains("rate") == true)
        #expect(message(["audiosocket-connect": "*:9000,40325ec2-5efd-4bd3-805f-53576e581d13"])?.contains("host") == true)
        #expect(message(["audiosocket-listen": "127.0.0.1:9092", "audiosocket-calls": "128", "tx": "500"])?.contains("512") == true)
        #expect(message(["audiosocket-listen": "no-such-host.invalid:9092"])?.contains("cannot be resolved") == true)
        for m in [message(["audiosocket-listen": "x"]), message(["audiosocket-connect": "y"])] { #expect(m?.contains("\n") == false) }
    }

    @Test func allowControllers() throws {
        let c = try DeviceConfig.resolve(flags: ["allow-controllers": "10.99.1.0/24, 127.0.0.1"], environment: [:])
        let list = try #require(c.allowControllers)
        #expect(list.allows(parseIPv4("10.99.1.77")!) && list.allows(parseIPv4("127.0.0.1")!))
        #expect(!list.allows(parseIPv4("10.99.2.1")!) && !list.allows(parseIPv4("127.0.0.2")!))
        #expect(list.description == "10.99.1.0/24,127.0.0.1/32")
        let env = try DeviceConfig.resolve(flags: [:], environment: ["INFERNO_ALLOW_CONTROLLERS": "0.0.0.0/0"])
        #expect(env.allowControllers?.allows(parseIPv4("192.0.2.1")!) == true)
        #expect(try DeviceConfig.resolve(flags: [:], environment: [:]).allowControllers == nil)
        for bad in ["10.0.0.0/33", "10.0.0", "x", "10.0.0.1,", "10.0.0.1/"] {
            #expect(throws: ConfigError.self) { try DeviceConfig.resolve(flags: ["allow-controllers": bad], environment: [:]) }
        }
        do { _ = try DeviceConfig.resolve(flags: [:], environment: ["INFERNO_ALLOW_CONTROLLERS": "nope"]) } catch {
            #expect(error.description.hasPrefix("--allow-controllers (INFERNO_ALLOW_CONTROLLERS)"))
        }
    }

    /// A flow request from a sender outside `--allow-controllers` is answered 0x0022 with its own ids and opens
    /// nothing; anything that is not a request, update or stop gets no answer.
    @Test func flowRequestRefusal() throws {
        let req = FlowRequest(protocolID: 0x1102, transactionID: 77, receiverName: "rx", sampleRate: 48000, bitsPerSample: 24,
                              channels: [1], framesPerPacket: 32, flowName: "0_1", receiverIPv4: 0x0A00_0002, receiverPort: 40000)
        let r = try FlowResponse.decode(try #require(FlowControlServer.refusal(req.encode())))
        #expect(r.status == .error && r.transactionID == 77 && r.opcode == FlowOpcode.request && r.handle == nil)
        #expect(FlowControlServer.refusal([0x11, 0x02, 0x00]) == nil)
        let list = try #require(ControllerAllowList("10.0.0.0/8"))
        #expect(list.allows(try SocketAddress(ipAddress: "10.1.2.3", port: 4440)))
        #expect(!list.allows(try SocketAddress(ipAddress: "11.0.0.1", port: 4440)))
        #expect(!list.allows(try SocketAddress(ipAddress: "::1", port: 4440)))
    }
}
