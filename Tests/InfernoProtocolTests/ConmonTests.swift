import Testing
@testable import InfernoProtocol

/// Runs `Fuzz.run` over `decode`; every accepted input must re-encode to something that decodes to the same value.
/// Returns (accepted, rejected, round-trip mismatches).
func conmonFuzz<T: Equatable>(seeds: [[UInt8]], prefix: [UInt8] = [], decode: ([UInt8]) throws(WireError) -> T,
                              encode: (T) -> [UInt8]) -> (accepted: Int, rejected: Int, mismatches: Int) {
    var mismatches = 0
    let accepted = Fuzz.run(seeds: seeds, prefix: prefix) { bytes in
        do {
            let v = try decode(bytes)
            let again = encode(v)
            if (try? decode(again)) != v { mismatches += 1 }
            return true
        } catch {
            return false  // typed throws: `error` is a WireError
        }
    }
    return (accepted, Fuzz.iterations - accepted, mismatches)
}

let audinate = Array("Audinate".utf8)

@Suite struct ConmonTests {
    static let conmonCaptures = Fixtures.provenance.filter { $0.bytes.count >= 2 && $0.bytes[0] == 0xff && $0.bytes[1] == 0xff }

    // MARK: Golden decode

    @Test func rxChannelChangeNotification() throws {
        let bytes = Fixtures.load("netaudio/subscription/multicast_rx_channel_change.bin")
        let p = try ConmonPacket.decode(bytes)
        #expect(p.header.deviceID == hexBytes("00 1d c1 ff fe 51 02 95"))
        #expect(p.header.sequence == 0xdc87)
        #expect(p.header.vendor == audinate)
        #expect(p.header.classVersion == 0x0738)
        #expect(p.header.messageType == 0x0102)
        #expect(p.header.trailer == 0)
        #expect(p.message == .rxChannelChange(ChannelBitmap(channels: [1])))
        if case let .rxChannelChange(b) = p.message { #expect(b.channels == [1]) }
        #expect(p.encode() == bytes)
    }

    @Test func rxFlowChangeNotification() throws {
        let bytes = Fixtures.load("netaudio/subscription/multicast_rx_flow_change.bin")
        let p = try ConmonPacket.decode(bytes)
        #expect(p.header.deviceID == hexBytes("00 1d c1 ff fe 51 02 95"))
        #expect(p.header.messageType == 0x0105)
        #expect(p.message == .rxFlowChange(ChannelBitmap(bytes: [0x01])))
        #expect(p.encode() == bytes)
    }

    @Test func bluetoothStatusStaysRaw() throws {
        for name in ["connected", "disconnected"] {
            let bytes = Fixtures.load("netaudio/avio-bt-1_bluetooth_status_\(name).bin")
            let p = try ConmonPacket.decode(bytes)
            guard case let .other(type, content) = p.message else { Issue.record("not .other"); continue }
            #expect(type == 0x100E)
            #expect(content == Array(bytes[32...]))
            #expect(p.header.deviceID == hexBytes("00 1d c1 ff fe 52 79 b6"))
            #expect(p.encode() == bytes)
        }
    }

    @Test func everyProvenanceConmonPacketRoundTrips() throws {
        var decoded = 0, truncated = 0, typed = 0
        for p in Self.conmonCaptures {
            do {
                let packet = try ConmonPacket.decode(p.bytes)
                #expect(packet.encode() == p.bytes, "\(p.path)")
                decoded += 1
                if case .other = packet.message {} else { typed += 1 }
            } catch {
                // One capture in session 63 is a 4-byte fragment `ff ff 00 20`.
                #expect(p.bytes.count < 32, "\(p.path): \(error)")
                #expect(error == .badLength(declared: 32, actual: 4))
                truncated += 1
            }
        }
        #expect(Self.conmonCaptures.count == 99)
        #expect(decoded == 98)
        #expect(truncated == 1)
        #expect(typed == 80)
    }

    @Test func modelDiscoveryBoardAndProductInfo() throws {
        func packets(_ type: UInt16) throws -> [String: ConmonMessage] {
            var out: [String: ConmonMessage] = [:]
            for p in Fixtures.provenance(protocolID: 0xFFFF, opcode: type) {
                let pkt = try ConmonPacket.decode(p.bytes)
                out[pkt.header.deviceID.map { String($0, radix: 16) }.joined(separator: ":")] = pkt.message
            }
            return out
        }
        let boards = try packets(0x0060), products = try packets(0x00C0)
        // AD4D (Shure), LX-DANTE (Digigram), AVIO-BT.
        let ad4d = "0:e:dd:fd:4e:13:0:0", lx = "0:1d:c1:8:12:58:0:0", avio = "0:1d:c1:ff:fe:52:79:b6"
        guard case let .boardInfo(a)? = boards[ad4d], case let .boardInfo(l)? = boards[lx],
              case let .boardInfo(v)? = boards[avio] else { Issue.record("missing 0x0060"); return }
        #expect(a.boardCodename == "Bklyn2"); #expect(a.boardName == "Brooklyn II")
        #expect(a.infoRequestFlag == 0x1B); #expect(a.featureFlags == 0x8e7c_d4cb)
        #expect(a.firmwareVersion == [4, 2, 0, 0]); #expect(a.bootVersion == [1, 3, 0, 0x47])
        #expect(l.boardCodename == "PCIe"); #expect(l.boardName == "Dante PCIe IF"); #expect(l.infoRequestFlag == 0x1B)
        #expect(v.boardCodename == "DIOBT"); #expect(v.boardName == "DIOBT"); #expect(v.infoRequestFlag == 0x1F)
        #expect(v.content.count == 270)

        guard case let .productInfo(pa)? = products[ad4d], case let .productInfo(pl)? = products[lx],
              case let .productInfo(pv)? = products[avio] else { Issue.record("missing 0x00C0"); return }
        #expect(pa.manufacturer == "Shure Inc."); #expect(pa.model == "AD4D"); #expect(pa.version == [0, 0, 0, 1])
        #expect(pa.shortManufacturer == "Shure")
        #expect(pl.manufacturer == "Digigram"); #expect(pl.model == "LX-DANTE"); #expect(pl.versionString == "1.0.0")
        #expect(pl.shortBoardName == "LX-DANTE")
        #expect(pv.manufacturer == "Audinate"); #expect(pv.model == "Audinate Dante AVIO Bluetooth")
        #expect(pv.versionString == "1.1.3")
    }

    @Test func sampleRateRequestsAndStatus() throws {
        let reqs = try Fixtures.provenance(protocolID: 0xFFFF, opcode: 0x0081).map { try ConmonPacket.decode($0.bytes) }
        #expect(reqs.count == 5)
        let settings = reqs.compactMap { p -> ConmonSetting? in if case let .setSampleRate(s) = p.message { s } else { nil } }
        #expect(settings.count == 5)
        #expect(Set(settings.map(\.value)) == [48000, 192000, 0, 44100])
        // netaudio's 48 kHz command ("RT" id, class 0x0727, seq 0x03D4).
        let netaudio = try #require(reqs.first { $0.header.sequence == 0x03D4 })
        #expect(netaudio.message == .setSampleRate(ConmonSetting(value: 48000)))
        #expect(netaudio.header.deviceID == [0x52, 0x54, 0, 0, 0, 0, 0, 0])
        // A probe with all zeros.
        #expect(settings.contains(ConmonSetting(presence: 0, value: 0)))

        let status = try ConmonPacket.decode(try #require(Fixtures.provenance(protocolID: 0xFFFF, opcode: 0x0080).first).bytes)
        guard case let .sampleRateStatus(s) = status.message else { Issue.record("not 0x0080"); return }
        #expect(s.current == 48000)
        #expect(s.options == [44100, 48000, 88200, 96000, 176400, 192000])
        let enc = try ConmonPacket.decode(try #require(Fixtures.provenance(protocolID: 0xFFFF, opcode: 0x0082).first).bytes)
        #expect(enc.message == .encodingStatus(ConmonChoiceStatus(current: 24, options: [24, 16, 32])))
    }

    @Test func statusMessagesFromCaptures() throws {
        func first(_ type: UInt16, _ bundle: String) throws -> ConmonMessage {
            let p = try #require(Fixtures.provenance(protocolID: 0xFFFF, opcode: type).first { $0.path.hasPrefix(bundle) })
            return try ConmonPacket.decode(p.bytes).message
        }
        guard case let .interfaceStatus(i) = try first(0x0011, "interface_config_set_toggle") else { Issue.record(); return }
        #expect(i.interfaceCount == 1); #expect(i.mode == 3)
        #expect(i.mac == hexBytes("00 1d c1 50 ca c5")); #expect(i.ipv4 == 0xC0A8_0124)
        #expect(i.netmask == 0xFFFF_FF00); #expect(i.dnsServer == 0x0808_0808); #expect(i.gateway == 0xC0A8_0101)
        #expect(i.rebootFlag == 4)

        guard case let .clockStatus(c) = try first(0x0020, "clock_master_control") else { Issue.record(); return }
        #expect(c.portState == ClockStatus.portStateMaster); #expect(c.preferredLeader)
        guard case let .clockStatus(c2) = try first(0x0020, "aes67_toggle") else { Issue.record(); return }
        #expect(c2.portState == ClockStatus.portStateSlave); #expect(!c2.preferredLeader)

        let aes = try Fixtures.provenance(protocolID: 0xFFFF, opcode: 0x1007).map { try ConmonPacket.decode($0.bytes).message }
        #expect(aes.contains(.aes67Status(AES67Status(current: false, pending: true))))
        #expect(aes.contains(.aes67Status(AES67Status(state: 0))))
        let aesReq = try Fixtures.provenance(protocolID: 0xFFFF, opcode: 0x1006).map { try ConmonPacket.decode($0.bytes).message }
        #expect(aesReq.contains(.aes67Config(.probe)))
        #expect(aesReq.contains(.aes67Config(.set(false))))

        #expect(try first(0x0090, "session_43") == .reboot(argument: 0x0001_0000))
        #expect(try first(0x0092, "session_43") == .rebootAck(argument: 0))
        #expect(try first(0x0104, "session_42") == .txFlowChange(ChannelBitmap(channels: [1])))

        guard case let .clockConfig(set) = try first(0x0021, "clock_master_control") else { Issue.record(); return }
        #expect(set.content.count == 60)
        let leaders = try Fixtures.provenance(protocolID: 0xFFFF, opcode: 0x0021).map { try ConmonPacket.decode($0.bytes).message }
        let sets = leaders.compactMap { m -> PreferredLeaderRequest? in if case let .clockConfig(r) = m { r } else { nil } }
        #expect(sets.contains { $0.isSet && $0.preferred })
        #expect(sets.contains { $0.isSet && !$0.preferred })
        #expect(sets.contains { !$0.isSet })

        let iface = try Fixtures.provenance(protocolID: 0xFFFF, opcode: 0x0013).map { try ConmonPacket.decode($0.bytes).message }
        #expect(iface.contains(.interfaceConfig(.probe)))
        #expect(iface.contains(.interfaceConfig(.dhcp)))
        #expect(iface.contains(.interfaceConfig(.staticAddress(ipv4: 0xC0A8_0124, netmask: 0xFFFF_FF00,
                                                               dns: 0x0808_0808, gateway: 0xC0A8_0101))))
    }

    @Test func modelQueriesFromCaptures() throws {
        for type: UInt16 in [0x0061, 0x00C1] {
            let ps = Fixtures.provenance(protocolID: 0xFFFF, opcode: type)
            #expect(ps.count >= 6)
            for p in ps {
                let pkt = try ConmonPacket.decode(p.bytes)
                #expect(pkt.message == (type == 0x0061 ? .boardInfoQuery : .productInfoQuery))
            }
        }
    }

    // MARK: Golden encode (§13.4)

    @Test func encodesSetSampleRate96k() {
        let p = ConmonPacket(header: ConmonHeader(sequence: 0x03D4, deviceID: [0x52, 0x54], classVersion: 0x0727,
                                                  messageType: 0, trailer: 0x64),
                             message: .setSampleRate(ConmonSetting(value: 96000)))
        #expect(p.encode() == hexBytes("ff ff 00 28 03 d4 00 00 52 54 00 00 00 00 00 00 41 75 64 69 6e 61 74 65 07 27 00 81 00 00 00 64 00 00 00 01 00 01 77 00"))
    }

    @Test func encodesIdentify() {
        let p = ConmonPacket(header: ConmonHeader(sequence: 0x0BC8, deviceID: [], classVersion: 0x0731,
                                                  messageType: 0, trailer: 0x64), message: .identify)
        #expect(p.encode() == hexBytes("ff ff 00 20 0b c8 00 00 00 00 00 00 00 00 00 00 41 75 64 69 6e 61 74 65 07 31 00 63 00 00 00 64"))
    }

    @Test func encodesModelQueries() throws {
        let id = ConmonHeader.queryID(forDeviceID: hexBytes("00 1d c1 ff fe 52 79 b6"))
        #expect(id == hexBytes("00 1d c1 52 79 b6 00 00"))
        #expect(ConmonHeader.queryID(forDeviceID: hexBytes("00 0e dd fd 4e 13 00 00")) == hexBytes("00 0e dd fd 4e 13 00 00"))
        let q = ConmonPacket(deviceID: id, sequence: 0x0FDB, classVersion: 0x0731, message: .boardInfoQuery)
        let expected = hexBytes("ff ff 00 20 0f db 00 00 00 1d c1 52 79 b6 00 00 41 75 64 69 6e 61 74 65 07 31 00 61 00 00 00 00")
        #expect(q.encode() == expected)
        // Identical to the real capture in session 63.
        #expect(Fixtures.provenance(protocolID: 0xFFFF, opcode: 0x0061).contains { $0.bytes == expected })
        var mm = expected; mm[27] = 0xc1
        #expect(ConmonPacket(deviceID: id, sequence: 0x0FDB, classVersion: 0x0731, message: .productInfoQuery).encode() == mm)
    }

    @Test func encodesInfernoStyleNotification() {
        let p = ConmonPacket(deviceID: hexBytes("00 00 c0 a8 01 0a 00 00"), sequence: 9,
                             message: .rxChannelChange(ChannelBitmap(channels: [1, 3])))
        #expect(p.encode() == hexBytes("ff ff 00 23 00 09 00 00 00 00 c0 a8 01 0a 00 00 41 75 64 69 6e 61 74 65 07 2a 01 02 00 00 00 00 00 01 05"))
        // More than 8 channels: u16 length + multi-byte bitmap.
        let wide = ChannelBitmap(channels: [1, 9, 16, 17])
        #expect(wide.encode() == [0x00, 0x03, 0x01, 0x81, 0x01])
        #expect(wide.channels == [1, 9, 16, 17])
        #expect(ChannelBitmap(channels: []).encode() == [0x00, 0x01, 0x00])
    }

    @Test func builtBoardAndProductInfoLayout() throws {
        let b = BoardInfo(boardCodename: "Inferno", boardName: "Inferno Swift")
        #expect(b.content.count == 200)
        #expect(b.content[0xBB] == 0x1F)
        let bytes = ConmonPacket(deviceID: hexBytes("00 00 c0 a8 01 0a 00 00"), sequence: 1, message: .boardInfo(b)).encode()
        #expect(bytes.count == 232)
        #expect(Array(bytes[0x2C..<0x33]) == Array("Inferno".utf8))
        #expect(Array(bytes[0x58..<0x65]) == Array("Inferno Swift".utf8))
        #expect(Array(bytes[32..<36]) == [0, 3, 0, 0])
        #expect(Array(bytes[52..<56]) == [0, 0, 0x10, 0])

        let p = ProductInfo(manufacturer: "Inferno", model: "Inferno for Swift", boardName: "inferno")
        let pb = ConmonPacket(deviceID: [], sequence: 2, message: .productInfo(p)).encode()
        #expect(pb.count == 368)
        #expect(Array(pb[0x4C..<0x53]) == Array("Inferno".utf8))
        #expect(Array(pb[0xCC..<0xDD]) == Array("Inferno for Swift".utf8))
        #expect(Array(pb[0x14C..<0x150]) == [0, 3, 0, 0])
    }

    // MARK: Round trips

    static let generated: [ConmonMessage] = [
        .interfaceStatus(InterfaceStatus(mac: [2, 0, 0, 0, 0, 1], ipv4: 0x0A00_0001, netmask: 0xFFFF_0000,
                                         dns: 0x0A00_00FE, gateway: 0x0A00_00FE)),
        .interfaceConfig(.probe), .interfaceConfig(.dhcp),
        .interfaceConfig(.staticAddress(ipv4: 1, netmask: 2, dns: 3, gateway: 4)),
        .clockStatus(ClockStatus(portState: ClockStatus.portStateSlave, preferredLeader: true)),
        .clockConfig(.probe), .clockConfig(.set(preferred: true)),
        .boardInfo(BoardInfo(boardCodename: "X", boardName: "Y")), .boardInfoQuery, .identify,
        .sampleRateStatus(ConmonChoiceStatus(current: 96000, options: [44100, 48000, 96000])),
        .sampleRateStatus(ConmonChoiceStatus(current: 0, options: [])),
        .setSampleRate(ConmonSetting(value: 44100)), .setSampleRate(ConmonSetting(presence: 0, value: 0)),
        .encodingStatus(ConmonChoiceStatus(current: 32, options: [16, 24, 32])),
        .setEncoding(ConmonSetting(value: 24)), .reboot(argument: 0x0001_0000), .rebootAck(argument: 0),
        .productInfo(ProductInfo(manufacturer: "M", model: "Mod", boardName: "B")), .productInfoQuery,
        .txChannelChange(ChannelBitmap(channels: [2])), .rxChannelChange(ChannelBitmap(channels: Array(1...64))),
        .txFlowChange(ChannelBitmap(bytes: [])), .rxFlowChange(ChannelBitmap(channels: [8])),
        .aes67Config(.set(true)), .aes67Config(.probe), .aes67Status(AES67Status(current: true, pending: false)),
        .other(type: 0x100E, content: [1, 2, 3]), .other(type: 0xABCD, content: []),
    ]

    @Test(arguments: generated)
    func roundTrips(_ m: ConmonMessage) throws {
        let p = ConmonPacket(deviceID: hexBytes("00 1d c1 ff fe 00 00 01"), sequence: 0xBEEF, classVersion: 0x0738,
                             trailer: 0x64, message: m)
        let bytes = p.encode()
        #expect(Int(bytes[2]) << 8 | Int(bytes[3]) == bytes.count)
        #expect(try ConmonPacket.decode(bytes) == p)
    }

    @Test func accessorsWriteInPlace() throws {
        var b = try BoardInfo(content: [UInt8](repeating: 0xEE, count: 0xBC))
        b.boardName = "Z"
        #expect(b.boardName == "Z")
        #expect(b.content.count == 0xBC)
        var s = InterfaceStatus(mac: [], ipv4: 0, netmask: 0, dns: 0, gateway: 0)
        s.rebootFlag = 6
        #expect(s.rebootFlag == 6)
    }

    // MARK: Robustness

    @Test func rejectsMalformedHeadersAndContent() {
        #expect(throws: WireError.badMagic(expected: 0xFFFF, found: 0x1234)) { try ConmonPacket.decode([0x12, 0x34, 0, 32] + [UInt8](repeating: 0, count: 28)) }
        var hb = [UInt8](repeating: 0, count: 32); hb[0] = 0xff; hb[1] = 0xfe; hb[3] = 32
        #expect(throws: WireError.badMagic(expected: 0xFFFF, found: 0xFFFE)) { try ConmonPacket.decode(hb) }
        var p = [UInt8](repeating: 0, count: 32); p[0] = 0xff; p[1] = 0xff; p[3] = 31
        #expect(throws: WireError.badLength(declared: 31, actual: 32)) { try ConmonPacket.decode(p) }
        p[3] = 33
        #expect(throws: WireError.badLength(declared: 33, actual: 32)) { try ConmonPacket.decode(p) }
        // Notification whose bitmap length runs past the content.
        #expect(throws: WireError.badLength(declared: 0xFFFF + 2, actual: 3)) { try ChannelBitmap.decode([0xff, 0xff, 1]) }
        // Sample-rate status with a huge count.
        let status = hexBytes("00 18 ff ff 00 00 bb 80 00 00 00 00 00 02 00 00 00 00 ac 44")
        #expect(throws: WireError.countTooLarge(field: "options", count: 0xffff, max: 1)) { try ConmonChoiceStatus.decode(status) }
        #expect(throws: WireError.truncated(offset: 0, needed: 0xBC, available: 10)) { try BoardInfo(content: [UInt8](repeating: 0, count: 10)) }
        // Set sample rate with content of the wrong size.
        #expect(throws: WireError.badLength(declared: 8, actual: 4)) {
            try ConmonMessage.decode(type: 0x0081, content: [0, 0, 0, 1])
        }
        // Trailing bytes beyond total_length are ignored.
        let bytes = Fixtures.load("netaudio/subscription/multicast_rx_channel_change.bin")
        #expect((try? ConmonPacket.decode(bytes + [0xAA, 0xBB]))?.encode() == bytes)
    }

    @Test func fuzzConmonPacket() {
        let seeds = Self.conmonCaptures.map(\.bytes) + Self.generated.map {
            ConmonPacket(deviceID: [1, 2, 3, 4, 5, 6, 7, 8], sequence: 1, message: $0).encode()
        }
        let r = conmonFuzz(seeds: seeds, prefix: [0xff, 0xff], decode: ConmonPacket.decode, encode: { $0.encode() })
        #expect(r.accepted > 1000)
        #expect(r.rejected > 1000)
        #expect(r.mismatches == 0)
    }

    @Test func fuzzConmonHeader() {
        let seeds = Self.conmonCaptures.map(\.bytes)
        let r = conmonFuzz(seeds: seeds, prefix: [0xff, 0xff], decode: { (b: [UInt8]) throws(WireError) in
            let (h, c) = try ConmonHeader.decode(b); return h.encode(content: c)
        }, encode: { $0 })
        #expect(r.accepted > 1000)
        #expect(r.rejected > 1000)
        #expect(r.mismatches == 0)
    }
}
