import Testing
@testable import InfernoProtocol

/// Golden vectors: netaudio fixtures (§13.1/§13.2), DC captures from the provenance bundles, and the
/// synthetic vectors of §13.4.
@Suite struct ARCGoldenDecodeTests {
    static let names: [(String, String)] = [
        ("192_168_1_108_get_device_name", "lx-dante"), ("192_168_1_193_get_device_name", "avio-bt-1"),
        ("192_168_1_94_get_device_name", "avio-usb-3"), ("192_168_1_18_get_device_name", "avio-aes3-1"),
        ("192_168_1_247_get_device_name", "avio-usb-1"), ("192_168_1_36_get_device_name", "avio-usb-2"),
    ]

    @Test(arguments: names) func deviceName(fragment: String, name: String) throws {
        let (req, resp) = Fixtures.pair(fragment)
        let q = try ARCRequest.decode(req)
        #expect(q.body == .deviceName)
        #expect(ARCRequest(transactionID: q.transactionID, body: .deviceName).encode() == req)
        let r = try ARCResponse.decode(resp)
        #expect(r.transactionID == q.transactionID && r.status == .success && r.opcode == ARCOpcode.deviceName)
        #expect(r.body == .deviceName(name))
        #expect(r.encode() == resp)
    }

    static let counts: [(String, UInt16, UInt16)] = [
        ("lx-dante_get_channel_count", 128, 128), ("avio-bt-1_get_channel_count", 2, 1),
        ("avio-usb-3_get_channel_count", 2, 2), ("avio-aes3-1_get_channel_count", 2, 2),
        ("avio-usb-1_get_channel_count", 2, 2), ("avio-usb-2_get_channel_count", 2, 2),
    ]

    @Test(arguments: counts) func channelCounts(fragment: String, tx: UInt16, rx: UInt16) throws {
        let (req, resp) = Fixtures.pair(fragment)
        let q = try ARCRequest.decode(req)
        #expect(q.body == .channelCounts)
        #expect(ARCRequest(transactionID: q.transactionID, body: .channelCounts).encode() == req)
        let r = try ARCResponse.decode(resp)
        guard case let .channelCounts(c) = r.body else { Issue.record("not counts: \(r.body)"); return }
        #expect(c.txChannelCount == tx && c.rxChannelCount == rx)
        #expect(!c.isLocked)
        #expect(c.words.count == (resp.count - 10) / 2)
        #expect(r.encode() == resp)
    }

    func rxPage(_ fragment: String) throws -> (ARCRequest, ARCResponse, ARCRxChannelPage) {
        let (req, resp) = Fixtures.pair(fragment)
        let q = try ARCRequest.decode(req)
        #expect(q.body == .rxChannels(ARCPageRequest(start: 1)))
        #expect(ARCRequest(transactionID: q.transactionID, body: .rxChannels(.page(0, pageSize: 16))).encode() == req)
        let r = try ARCResponse.decode(resp)
        guard case let .rxChannels(p) = r.body else { throw WireError.unknownOpcode(r.opcode) }
        return (q, r, p)
    }

    @Test(arguments: ["avio-usb-3_get_receivers", "avio-usb-1_get_receivers", "avio-usb-2_get_receivers"])
    func aviousbReceivers(fragment: String) throws {
        let (_, r, p) = try rxPage(fragment)
        #expect(r.status == .success)
        #expect(p.capacity == 2 && p.channels.count == 2)
        for (k, c) in p.channels.enumerated() {
            #expect(c.number == UInt16(k + 1))
            #expect(c.flags == 6)
            #expect(c.txChannel == "mic-mix-high" && c.txDevice == "lx-dante")
            #expect(c.rxChannelStatus == .receiving && c.subscriptionStatus == .unicast)
            #expect(c.format?.sampleRate == 48000 && c.format?.pcmType == 0x0004)
        }
        #expect(p.channels.map(\.name) == ["mic-mix-1", "mic-mix-2"])
    }

    @Test func aviobtReceivers() throws {
        let (_, _, p) = try rxPage("avio-bt-1_get_receivers")
        #expect(p.channels.count == 1)
        let c = try #require(p.channels.first)
        #expect(c.name == "mic-mix" && c.txChannel == "shelford-channel" && c.txDevice == "a32")
        #expect(c.rxChannelStatus == .idle && c.subscriptionStatus == .unresolved)
    }

    @Test func aes3Receivers() throws {
        let (_, _, p) = try rxPage("avio-aes3-1_get_receivers")
        #expect(p.channels.map(\.name) == ["unused-1", "unused-2"])
        #expect(p.channels.allSatisfy { $0.txChannel == "linux-mic-mix:high" && $0.txDevice == "lx-dante" })
        #expect(p.channels.allSatisfy { $0.subscriptionStatus == .unresolved && $0.format?.pcmType == 0x000e })
    }

    @Test func lxDanteReceiversPage1() throws {
        let (_, r, p) = try rxPage("lx-dante_get_receivers")
        #expect(r.status == .morePages)
        #expect(p.capacity == 16 && p.channels.count == 16)
        #expect(p.channels.map(\.number) == Array(1...16))
        #expect(p.channels.allSatisfy { $0.flags == 0x000f && $0.format?.sampleRate == 48000 })
        let c = p.channels
        #expect(c[0].txChannel == "01" && c[0].txDevice == "ad4d" && c[0].name == "wireless-mic:1")
        #expect(c[0].rxChannelStatus == .idle && c[0].subscriptionStatus == .unresolved)
        #expect(c[6].txDevice == "avio-usb-1" && c[6].rxChannelStatus == .receiving && c[6].subscriptionStatus == .unicast)
        #expect(c[8].txChannel == nil && c[8].txDevice == nil && c[8].name == "dinet:left")
        #expect(c[8].subscriptionStatus == ARCSubscriptionStatus.none && c[8].rxChannelStatus == .idle)
        #expect(c[10].txDevice == "avio-usb-2" && c[10].subscriptionStatus == .multicast)
        #expect(c[15].name == "vrroom:right" && c[15].txDevice == "avio-aes3-1")
    }

    @Test func subscriptionModifyRequests() throws {
        let add = Fixtures.load("netaudio/subscription/subscription_add_request.bin")
        let q = try ARCRequest.decode(add)
        #expect(q.protocolID == ProtocolID.arcAVIO && q.transactionID == 0x3b99)
        let expected = ARCSubscriptionModify(records: [
            ARCSubscriptionModifyRecord(rxChannel: 1, txChannel: "mic-mix-high", txDevice: "lx-dante"),
        ])
        #expect(q.body == .subscriptionModify(expected))
        #expect(ARCRequest(protocolID: 0x2809, transactionID: 0x3b99, body: .subscriptionModify(expected)).encode() == add)

        let remove = Fixtures.load("netaudio/subscription/subscription_remove_request.bin")
        let rq = try ARCRequest.decode(remove)
        let removeBody = ARCSubscriptionModify(records: [ARCSubscriptionModifyRecord(rxChannel: 1, txChannel: nil, txDevice: nil)])
        #expect(rq.body == .subscriptionModify(removeBody))
        #expect(ARCRequest(protocolID: 0x2809, transactionID: 0x3b87, body: .subscriptionModify(removeBody)).encode() == remove)

        let resp = try ARCResponse.decode(Fixtures.load("netaudio/subscription/subscription_remove_response.bin"))
        #expect(resp.status == .success && resp.opcode == ARCOpcode.subscriptionModify)
        #expect(resp.body == .raw([0, 0, 0, 0, 0, 0, 1, 0, 0, 0]))
    }

    @Test func otherSubscriptionFixturesDecodeAsOther() throws {
        for name in ["rx_channel_status_request", "rx_flow_status_request"] {
            let q = try ARCRequest.decode(Fixtures.load("netaudio/subscription/\(name).bin"))
            guard case .other = q.body else { Issue.record("\(name): \(q.body)"); continue }
        }
        for name in ["rx_channel_status_subscribed_response", "rx_channel_status_unsubscribed_response",
                     "rx_flow_status_response"] {
            let r = try ARCResponse.decode(Fixtures.load("netaudio/subscription/\(name).bin"))
            guard case .raw = r.body else { Issue.record("\(name): \(r.body)"); continue }
        }
    }
}

@Suite struct ARCGoldenEncodeTests {
    /// §13.4, "Requests as netaudio 0.2.4-src builds them".
    static let netaudioRequests: [(String, ARCRequest, String)] = [
        ("add 1", ARCRequest(transactionID: 0, body: .subscribe(ARCSubscriptionRequest(records: [
            ARCSubscriptionRecord(rxChannel: 1, txChannel: "mic-mix-high", txDevice: "lx-dante")]))),
         "27 ff 00 4a 00 00 30 10 00 00 02 01 00 01 00 34 00 41" + String(repeating: " 00", count: 34)
            + "6d 69 63 2d 6d 69 78 2d 68 69 67 68 00 6c 78 2d 64 61 6e 74 65 00"),
        ("add 2", ARCRequest(transactionID: 0, body: .subscribe(ARCSubscriptionRequest(records: [
            ARCSubscriptionRecord(rxChannel: 1, txChannel: "01", txDevice: "inferno"),
            ARCSubscriptionRecord(rxChannel: 2, txChannel: "02", txDevice: "inferno")]))),
         "27 ff 00 4a 00 00 30 10 00 00 02 02 00 01 00 34 00 37 00 02 00 3f 00 42" + String(repeating: " 00", count: 28)
            + "30 31 00 69 6e 66 65 72 6e 6f 00 30 32 00 69 6e 66 65 72 6e 6f 00"),
        ("remove 1", ARCRequest(transactionID: 0, body: .bulkUnsubscribe([1])),
         "27 ff 00 10 00 00 30 14 00 00 00 01 00 00 00 01"),
        ("remove 1,2", ARCRequest(transactionID: 0, body: .bulkUnsubscribe([1, 2])),
         "27 ff 00 14 00 00 30 14 00 00 00 02 00 00 00 01 00 00 00 02"),
        ("set name", ARCRequest(transactionID: 0, body: .setDeviceName("newname")),
         "27 ff 00 12 00 00 10 01 00 00 6e 65 77 6e 61 6d 65 00"),
        ("reset name", ARCRequest(transactionID: 0, body: .setDeviceName(nil)), "27 ff 00 0a 00 00 10 01 00 00"),
        ("rx page 0", ARCRequest(transactionID: 0, body: .rxChannels(.page(0, pageSize: 16))),
         "27 ff 00 10 00 00 30 00 00 00 00 01 00 01 00 00"),
        ("rx page 1", ARCRequest(transactionID: 0, body: .rxChannels(.page(1, pageSize: 16))),
         "27 ff 00 10 00 00 30 00 00 00 00 01 00 11 00 00"),
        ("tx friendly page 0", ARCRequest(transactionID: 0, body: .txChannelNames(.page(0, pageSize: 32))),
         "27 ff 00 10 00 00 20 10 00 00 00 01 00 01 00 00"),
        ("tx raw page 1", ARCRequest(transactionID: 0, body: .txChannels(.page(1, pageSize: 32))),
         "27 ff 00 10 00 00 20 00 00 00 00 01 00 21 00 00"),
        ("rx rename", ARCRequest(transactionID: 0, body: .setRxChannelNames(ARCChannelRename(names: [
            ARCChannelName(channel: 3, name: "Vox")]))),
         "27 ff 00 18 00 00 30 01 00 00 02 01 00 03 00 14 00 00 00 00 56 6f 78 00"),
        ("tx rename", ARCRequest(transactionID: 0, body: .setTxChannelNames(ARCChannelRename(names: [
            ARCChannelName(channel: 3, name: "Vox")]))),
         "27 ff 00 1c 00 00 20 13 00 00 02 01 00 00 00 03 00 18 00 00 00 00 00 00 56 6f 78 00"),
        ("settings query", ARCRequest(protocolID: 0x2809, transactionID: 7, body: .settingsQuery(ARCInfoCode.standardQuery)),
         "28 09 00 3a 00 07 11 00 00 00 00 17 02 01 82 04 82 05 02 10 02 11 82 18 82 19 83 01 83 02 83 06 03 10 03 11"
            + " 03 03 80 21 00 f0 80 60 00 22 00 63 00 64 00 65 02 22 02 12 83 21"),
    ]

    @Test(arguments: netaudioRequests) func netaudioBuiltRequest(name: String, request: ARCRequest, hex: String) throws {
        let bytes = hexBytes(hex)
        #expect(request.encode() == bytes, "\(name)")
        #expect(try ARCRequest.decode(bytes) == request, "\(name)")
    }

    @Test func resetRenameHasPointerAtEnd() throws {
        let reset = ARCRequest(transactionID: 0, body: .setRxChannelNames(ARCChannelRename(names: [
            ARCChannelName(channel: 3, name: "")])))
        let bytes = reset.encode()
        #expect(bytes == hexBytes("27 ff 00 14 00 00 30 01 00 00 02 01 00 03 00 14 00 00 00 00"))
        #expect(try ARCRequest.decode(bytes) == reset)
        let txReset = ARCRequest(transactionID: 0, body: .setTxChannelNames(ARCChannelRename(names: [
            ARCChannelName(channel: 3, name: "")])))
        #expect(txReset.encode() == hexBytes("27 ff 00 18 00 00 20 13 00 00 02 01 00 00 00 03 00 18 00 00 00 00 00 00"))
    }

    func provenance(_ op: UInt16, _ path: String) throws -> [UInt8] {
        try #require(Fixtures.provenance(opcode: op, direction: "request").first { $0.path.hasSuffix(path) }).bytes
    }

    @Test func controllerSubscribeAndUnsubscribe() throws {
        let sub = try provenance(0x3010, "session_46_subscription_discovery/protocol_2729_opcode_3010_id_29606.bin")
        let built = ARCRequest(protocolID: 0x2729, transactionID: 0x29ab, body: .subscribe(ARCSubscriptionRequest(
            records: [ARCSubscriptionRecord(rxChannel: 1, txChannel: "bluetooth:left", txDevice: "avio-bt-1")],
            marker: ARCSubscriptionRequest.controllerMarker)))
        #expect(built.encode() == sub)
        #expect(try ARCRequest.decode(sub) == built)

        let unsub = try provenance(0x3010, "session_46_subscription_discovery/protocol_2729_opcode_3010_id_29441.bin")
        let builtUnsub = ARCRequest(protocolID: 0x2729, transactionID: 0x297a, body: .subscribe(ARCSubscriptionRequest(
            records: [.unsubscribe(1)], marker: 0x20)))
        #expect(builtUnsub.encode() == unsub)
        #expect(unsub.count == 652)
    }

    @Test func controllerSubscribeSharesDeviceNames() throws {
        let bytes = try provenance(0x3010, "dc_preset_load/protocol_2729_opcode_3010_id_947041.bin")
        let q = try ARCRequest.decode(bytes)
        guard case let .subscribe(s) = q.body else { Issue.record("\(q.body)"); return }
        #expect(s.marker == 0x20 && s.records.count == 32)
        #expect(s.records.allSatisfy { $0.txDevice == "." })
        #expect(s.records.first?.txChannel == "65" && s.records.first?.rxChannel == 0x41)
        #expect(s.trailing == Array("97".utf8) + [0])  // DC's look-ahead string
        #expect(q.encode() == bytes)
    }

    @Test func bulkRemoveFromPresetLoad() throws {
        let bytes = try provenance(0x3014, "dc_preset_load/protocol_27FF_opcode_3014_id_1010499.bin")
        let built = ARCRequest(transactionID: 0, body: .bulkUnsubscribe(Array(1...17)))
        #expect(built.encode() == bytes)
        #expect(try ARCRequest.decode(bytes) == built)
    }

    @Test func latencySetTemplates() throws {
        let dc = try provenance(0x1101, "session_latency_250000ns/protocol_2729_opcode_1101_id_24571.bin")
        let built = ARCRequest(protocolID: 0x2729, transactionID: 0, body: .settingsSet(.latency(nanoseconds: 250_000)))
        #expect(built.encode() == dc)
        guard case let .settingsSet(set?) = try ARCRequest.decode(dc).body else { Issue.record("no set"); return }
        #expect(set.latencyNanoseconds == 250_000)
        #expect(set.values.map(\.code) == [0x8205, 0x0211, 0x8301, 0x0310])

        // netaudio's 39-byte variant (§4.4.5): 24-bit values.
        let na = ARCRequest(transactionID: 0, body: .settingsSet(.netaudioLatency(milliseconds: 5)))
        let naBytes = na.encode()
        #expect(naBytes.count == 39)
        #expect(Array(naBytes[0..<32]) == hexBytes("27 ff 00 27 00 00 11 01 00 00 05 03 82 05 00 20 02 11 00 10 83 01 00 24 82 19 83 01 83 02 83 06"))
        guard case let .settingsSet(naSet?) = try ARCRequest.decode(naBytes).body else { Issue.record("no set"); return }
        #expect(naSet.hasNetaudio24BitValues && naSet.latencyNanoseconds == 5_000_000 & 0xff_ffff)

        // Empty 0x1101 = lock probe.
        #expect(try ARCRequest.decode(hexBytes("27 ff 00 0a 00 00 11 01 00 00")).body == .settingsSet(nil))
    }

    // MARK: §13.4 synthetic device responses

    static let format = ARCFormatDescriptor(sampleRate: 48000, pcmType: 0x0e)

    @Test func syntheticChannelCounts() {
        let r = ARCResponse(transactionID: 1, opcode: ARCOpcode.channelCounts, body: .channelCounts(.inferno(tx: 2, rx: 2)))
        #expect(r.encode() == hexBytes("27 ff 00 2a 00 01 10 00 00 01 00 00 00 02 00 02 00 00 00 00 00 00 00 00 00 08 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00"))
    }

    @Test func syntheticTxChannels() throws {
        let all = [ARCTxChannel(number: 1, name: "01", format: Self.format), ARCTxChannel(number: 2, name: "02", format: Self.format)]
        let (page, status) = ARCTxChannelPage.page(of: all, start: 1)
        #expect(status == .success)
        let vector = hexBytes("27 ff 00 32 00 03 20 00 00 01 02 02 00 01 00 07 00 1c 00 2c 00 02 00 07 00 1c 00 2f 00 00 bb 80 01 01 00 18 04 00 00 18 00 18 00 0e 30 31 00 30 32 00")
        // With 2 channels, min(32, 2) = 2 equals Inferno's record count, so the bytes match exactly.
        #expect(ARCResponse(transactionID: 3, opcode: 0x2000, status: status, body: .txChannels(page)).encode() == vector)
        #expect(try ARCResponse.decode(vector).body == .txChannels(page))
    }

    @Test func syntheticTxNames() throws {
        let (page, status) = ARCTxChannelNamePage.page(of: [(1, "TX 1"), (2, "TX 2")], start: 1)
        let vector = hexBytes("27 ff 00 26 00 04 20 10 00 01 02 02 00 01 00 01 00 1c 00 02 00 02 00 21 00 00 00 00 54 58 20 31 00 54 58 20 32 00")
        // Real devices reserve 8 × capacity table bytes; for capacity 2 that equals Inferno's 4 padding bytes.
        #expect(ARCResponse(transactionID: 4, opcode: 0x2010, status: status, body: .txChannelNames(page)).encode() == vector)
        #expect(try ARCResponse.decode(vector).body == .txChannelNames(page))
    }

    @Test func syntheticRxChannels() throws {
        let all = [
            ARCRxChannel(number: 1, name: "RX 1", format: Self.format, txChannel: "01", txDevice: "lx-dante",
                         rxChannelStatus: .receiving, subscriptionStatus: .unicast),
            ARCRxChannel(number: 2, name: "RX 2", format: Self.format),
        ]
        let (page, status) = ARCRxChannelPage.page(of: all, start: 1)
        let vector = hexBytes("""
            27 ff 00 5a 00 05 30 00 00 01 02 02 00 01 00 06 00 34 00 44 00 47 00 50 01 01 00 09 00 00 00 00
            00 02 00 06 00 34 00 00 00 00 00 55 00 00 00 00 00 00 00 00 00 00 bb 80 01 01 00 18 04 00 00 18 00 18 00 0e
            30 31 00 6c 78 2d 64 61 6e 74 65 00 52 58 20 31 00 52 58 20 32 00
            """)
        #expect(ARCResponse(transactionID: 5, opcode: 0x3000, status: status, body: .rxChannels(page)).encode() == vector)
        #expect(try ARCResponse.decode(vector).body == .rxChannels(page))
    }

    @Test func deviceInfoComputesEveryPointer() throws {
        let inferno = hexBytes("27 ff 00 8d 00 09 10 03 00 01 00 00 00 00 00 00 00 70 00 90 00 00 00 30 00 50 00 30 00 00 00 00 00 00 00 00 00 00 00 00 27 29 00 00 11 02 00 00")
            + Array("inferno-test".utf8) + Array(repeating: 0, count: 20)
            + Array("InfernoTest-0000c0a8010a0000".utf8) + Array(repeating: 0, count: 4)
            + Array("Inferno-AoIP".utf8) + Array(repeating: 0, count: 12) + Array(":705".utf8) + [0]
        #expect(inferno.count == 141)
        // Inferno's vector points its ":705" pointer at 0x90, past the end: a strict decoder rejects it.
        #expect(throws: WireError.badPointer(field: "0x1003 version suffix", pointer: 0x90)) { try ARCResponse.decode(inferno) }

        let info = ARCDeviceInfo(friendlyName: "inferno-test", factoryName: "InfernoTest-0000c0a8010a0000",
                                 boardName: "Inferno-AoIP", versionSuffix: ":705")
        let ours = ARCResponse(transactionID: 9, opcode: ARCOpcode.deviceInfo, body: .deviceInfo(info)).encode()
        // Same as Inferno up to the board name, except the suffix pointer (body offset 8, abs 18) and the length.
        #expect(Array(ours[4..<18]) == Array(inferno[4..<18]))
        #expect(Array(ours[20..<0x7d]) == Array(inferno[20..<0x7d]))
        let suffixPtr = Int(ours[18]) << 8 | Int(ours[19])
        #expect(suffixPtr == 0x7d && Array(ours[suffixPtr...]) == Array(":705".utf8) + [0])
        #expect(try ARCResponse.decode(ours).body == .deviceInfo(info))
    }

    @Test func realDeviceInfoLayouts() throws {
        let packets = Fixtures.provenance(opcode: ARCOpcode.deviceInfo, direction: "response")
        #expect(packets.count == 7)
        var boards: Set<String> = []
        for p in packets {
            guard case let .deviceInfo(info) = try ARCResponse.decode(p.bytes).body else { Issue.record("\(p.path)"); continue }
            boards.insert(info.boardName)
            #expect(info.versionSuffix?.hasPrefix(":") == true)
            if info.layout == .avio { #expect(info.factoryName.hasPrefix("AVIO")) }
        }
        #expect(boards.isSuperset(of: ["Audinate DCM", "DIOBT", "DIOUSB", "DIOAES3"]))
    }

    @Test func realSettingsAndFlows() throws {
        let s = try #require(Fixtures.provenance(opcode: 0x1100, direction: "response")
            .first { $0.path.hasSuffix("session_41_latency_config_refresh/protocol_2729_opcode_1100_id_26985.bin") })
        guard case let .settings(t) = try ARCResponse.decode(s.bytes).body else { Issue.record("no table"); return }
        #expect(t.requestedCount == 23 && t.records.count == 23)
        #expect(t.records.map(\.code) == ARCInfoCode.standardQuery)
        #expect(t.value(of: ARCInfoCode.defaultLatency) == 1_000_000)
        #expect(t.value(of: ARCInfoCode.maximumLatency) == 21_333_334)
        #expect(t.value(of: ARCInfoCode.minimumLatency) == 150_000)
        #expect(t.records[5] == .unsupported(code: 0x8218))

        let tx = try #require(Fixtures.provenance(opcode: 0x2200, direction: "response").first)
        guard case let .flows(ft) = try ARCResponse.decode(tx.bytes).body else { Issue.record("no flows"); return }
        #expect(ft.slots == 16 && ft.flows.map(\.flowID) == [1, 2, 3])
        #expect(ft.flows.allSatisfy { $0.flowType == 0x11 && $0.sampleRate == 48000 && $0.encoding == 24 })

        let ports = try #require(Fixtures.provenance(opcode: 0x3300, direction: "response").first)
        #expect(try ARCResponse.decode(ports.bytes).body == .portRanges([
            ARCPortRange(first: 0x3800, last: 0x397f), ARCPortRange(first: 0x3980, last: 0x39ff)]))
        #expect(try ARCResponse.decode(ports.bytes).encode() == ports.bytes)
    }

    @Test func pagingPicksStatusAndCapacity() {
        let all = (1...40).map { ARCTxChannel(number: UInt16($0), name: "ch\($0)", format: Self.format) }
        let first = ARCTxChannelPage.page(of: all, start: 1)
        #expect(first.status == .morePages && first.page.capacity == 32 && first.page.channels.count == 32)
        let second = ARCTxChannelPage.page(of: all, start: 33)
        #expect(second.status == .success && second.page.capacity == 8 && second.page.channels.map(\.number) == Array(33...40))
        let beyond = ARCTxChannelPage.page(of: all, start: 100)
        #expect(beyond.status == .success && beyond.page.channels.isEmpty)
        let zero = ARCTxChannelPage.page(of: all, start: 0)
        #expect(zero.page.channels.first?.number == 1)

        let rx = (1...20).map { ARCRxChannel(number: UInt16($0), name: "rx\($0)", format: Self.format) }
        let r1 = ARCRxChannelPage.page(of: rx, start: 1)
        #expect(r1.status == .morePages && r1.page.capacity == 16 && r1.page.channels.count == 16)
        let r2 = ARCRxChannelPage.page(of: rx, start: 17)
        #expect(r2.status == .success && r2.page.channels.count == 4)
        let small = ARCRxChannelPage.page(of: Array(rx.prefix(2)), start: 1)
        #expect(small.status == .success && small.page.capacity == 2)
    }

    @Test func answeringEchoesHeader() {
        let q = ARCRequest(protocolID: 0x2729, transactionID: 0x1234, body: .other(opcode: 0x1004, body: []))
        let r = ARCResponse(answering: q, status: .unsupported)
        #expect(r.encode() == hexBytes("27 29 00 0a 12 34 10 04 00 30"))
    }
}
