import Testing
@testable import InfernoProtocol

@Suite struct CMCTests {
    static let realRequest = hexBytes("12 00 00 14 29 0b 10 01 00 00 00 00 3e 42 27 4c ff 24 00 00")
    static let realResponse = hexBytes("12 00 00 20 29 0b 10 01 00 01 00 00 00 1d c1 ff fe 52 79 b6 00 01 00 00 c0 a8 01 3d 21 fc 00 00")

    @Test func registrationFromDanteController() throws {
        let req = try CMCRegistrationRequest.decode(Self.realRequest)
        #expect(req == CMCRegistrationRequest(transactionID: 0x290b, controllerMAC: hexBytes("3e 42 27 4c ff 24")))
        #expect(req.encode() == Self.realRequest)
        let resp = try CMCRegistrationResponse.decode(Self.realResponse)
        #expect(resp.deviceID == hexBytes("00 1d c1 ff fe 52 79 b6"))
        #expect(resp.ipv4 == 0xC0A8_013D)
        #expect(resp.conmonPort == 8700)
        #expect(resp.status == .success)
        #expect(resp.encode() == Self.realResponse)
        // A device builds the same bytes from the request.
        #expect(req.response(deviceID: hexBytes("00 1d c1 ff fe 52 79 b6"), ipv4: 0xC0A8_013D).encode() == Self.realResponse)
        #expect(try CMCPacket.decode(Self.realRequest) == .registrationRequest(req))
        #expect(try CMCPacket.decode(Self.realResponse) == .registrationResponse(resp))
    }

    @Test func infernoRegistrationResponse() {
        let resp = CMCRegistrationResponse(transactionID: 7, deviceID: hexBytes("00 00 c0 a8 01 0a 00 00"), ipv4: 0xC0A8_010A)
        #expect(resp.encode() == hexBytes("12 00 00 20 00 07 10 01 00 01 00 00 00 00 c0 a8 01 0a 00 00 00 01 00 00 c0 a8 01 0a 21 fc 00 00"))
    }

    @Test func everyProvenanceCMCPacketRoundTrips() throws {
        let captures = Fixtures.provenance.filter { $0.bytes.count >= 2 && $0.bytes[0] == 0x12 && $0.bytes[1] == 0x00 }
        #expect(captures.count == 8)
        var polls = 0
        for p in captures {
            let pkt = try CMCPacket.decode(p.bytes)
            #expect(pkt.encode() == p.bytes, "\(p.path)")
            if case .other = pkt { Issue.record("untyped \(p.path)") }
            if case let .meteringPoll(m) = pkt { polls += 1; #expect(m.name == "lx-dante") }
        }
        #expect(polls == 6)
    }

    @Test func meteringPollFieldsAndResponse() throws {
        let pairs = ["session_27_set_latency_full_provenance/protocol_1200_opcode_3010_id_23",
                     "session_46_subscription_discovery/protocol_1200_opcode_3010_id_2916",
                     "session_47_replay_session_27_set_latency_full_provenance/protocol_1200_opcode_3010_id_3369"]
        let all = Fixtures.provenance(protocolID: 0x1200, opcode: 0x3010)
        var checked = 0
        for prefix in pairs {
            let req = try #require(all.first { $0.path.hasPrefix(prefix) && $0.direction == "request" })
            let resp = try #require(all.first { $0.path.hasPrefix(prefix) && $0.direction == "response" })
            let poll = try CMCMeteringPoll.decode(req.bytes)
            #expect(poll.status == 0)
            #expect(poll.controllerMAC == hexBytes("3e 42 27 4c ff 24"))
            #expect(poll.name == "lx-dante")
            #expect(try poll.blockOffset() == 0x28)
            #expect(poll.meteringPort == 8751)
            #expect(poll.isStart)
            #expect(poll.controllerIPv4 == 0xC0A8_019C)
            let answer = poll.response(deviceID: hexBytes("00 1d c1 08 12 58 00 00"))
            #expect(answer.encode() == resp.bytes)
            let decodedResp = try CMCMeteringPoll.decode(resp.bytes)
            #expect(decodedResp.deviceID == hexBytes("00 1d c1 08 12 58 00 00"))
            #expect(decodedResp.status == 1)
            checked += 1
        }
        #expect(checked == 3)
    }

    @Test func malformed() throws {
        // ARC-framed packet to the CMC port decodes as .other (the server answers 0x0020).
        let arc = hexBytes("27 ff 00 0a 00 01 10 02 00 00")
        #expect(try CMCPacket.decode(arc) == .other(PacketHeader(protocolID: 0x27ff, length: 10, transactionID: 1, opcode: 0x1002), body: []))
        #expect(throws: WireError.badLength(declared: 10, actual: 8)) { try CMCRegistrationRequest.decode(Array(Self.realRequest.prefix(18)).patchedLength()) }
        #expect(throws: WireError.invalidValue(field: "status", value: 1)) { try CMCRegistrationRequest.decode(Self.realResponse) }
        var badPtr = Fixtures.provenance(protocolID: 0x1200, opcode: 0x3010)[0].bytes
        badPtr[22] = 0xff
        #expect(throws: WireError.badPointer(field: "metering block", pointer: 20 + 0xff14)) { try CMCMeteringPoll.decode(badPtr) }
        var noNul = Fixtures.provenance(protocolID: 0x1200, opcode: 0x3010)[0].bytes
        for i in 30..<noNul.count { noNul[i] = 0x41 }
        #expect(throws: WireError.self) { try CMCMeteringPoll.decode(noNul) }
        // Error reply to 0x1001 with an empty body.
        let err = hexBytes("12 00 00 0a 00 01 10 01 00 20")
        #expect(try CMCPacket.decode(err).encode() == err)
    }

    static var seeds: [[UInt8]] {
        Fixtures.provenance.filter { $0.bytes.first == 0x12 }.map(\.bytes) + [
            CMCRegistrationRequest(transactionID: 1, controllerMAC: [1, 2, 3, 4, 5, 6]).encode(),
            CMCRegistrationResponse(transactionID: 2, deviceID: [9], ipv4: 1).encode(),
        ]
    }

    @Test func fuzzCMCPacket() {
        let r = conmonFuzz(seeds: Self.seeds, prefix: [0x12, 0x00], decode: CMCPacket.decode, encode: { $0.encode() })
        #expect(r.accepted > 1000); #expect(r.rejected > 1000); #expect(r.mismatches == 0)
    }

    @Test func fuzzCMCDecoders() {
        let a = conmonFuzz(seeds: Self.seeds, decode: CMCRegistrationRequest.decode, encode: { $0.encode() })
        let b = conmonFuzz(seeds: Self.seeds, decode: CMCRegistrationResponse.decode, encode: { $0.encode() })
        let c = conmonFuzz(seeds: Self.seeds, decode: CMCMeteringPoll.decode, encode: { $0.encode() })
        for r in [a, b, c] {
            #expect(r.accepted > 100); #expect(r.rejected > 1000); #expect(r.mismatches == 0)
        }
    }
}

fileprivate extension Array where Element == UInt8 {
    /// Rewrites the 10-byte header's length field to the array's size.
    func patchedLength() -> [UInt8] {
        var b = self
        b[2] = UInt8(count >> 8); b[3] = UInt8(count & 0xff)
        return b
    }
}
