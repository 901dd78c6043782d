import Testing
@testable import InfernoProtocol

@Suite struct PacketHeaderTests {
    @Test func decodesGetDeviceNameRequest() throws {
        let bytes: [UInt8] = [0x27, 0xff, 0x00, 0x0a, 0xc5, 0x46, 0x10, 0x02, 0x00, 0x00]
        let (h, body) = try PacketHeader.decode(bytes)
        #expect(h == PacketHeader(protocolID: 0x27ff, length: 10, transactionID: 0xc546, opcode: 0x1002, status: 0))
        #expect(body.remaining == 0)
    }

    @Test func rejectsBadLengths() {
        #expect(throws: WireError.badLength(declared: 9, actual: 10)) {
            try PacketHeader.decode([0x27, 0xff, 0x00, 0x09, 0, 0, 0x10, 0x02, 0, 0])
        }
        #expect(throws: WireError.badLength(declared: 11, actual: 10)) {
            try PacketHeader.decode([0x27, 0xff, 0x00, 0x0b, 0, 0, 0x10, 0x02, 0, 0])
        }
        #expect(throws: WireError.truncated(offset: 8, needed: 2, available: 1)) {
            try PacketHeader.decode([0x27, 0xff, 0x00, 0x0a, 0, 0, 0x10, 0x02, 0])
        }
    }

    @Test func bodyIsBoundedByDeclaredLength() throws {
        let bytes: [UInt8] = [0x27, 0xff, 0x00, 0x0c, 0, 1, 0x10, 0x02, 0, 1, 0x41, 0x00, 0xEE, 0xEE]
        let (_, body) = try PacketHeader.decode(bytes)
        #expect(body.remaining == 2)
        #expect(try body.cString(at: 10) == "A")
        #expect(throws: WireError.badPointer(field: "string", pointer: 12)) { try body.cString(at: 12) }
    }

    @Test func writerPatchesLength() {
        let h = PacketHeader(protocolID: 0x27ff, transactionID: 7, opcode: 0x1002, status: 1)
        var w = h.start()
        w.cString("lx")
        #expect(PacketHeader.finish(w) == [0x27, 0xff, 0x00, 0x0d, 0x00, 0x07, 0x10, 0x02, 0x00, 0x01, 0x6c, 0x78, 0x00])
    }
}

@Suite struct FixtureLoaderTests {
    @Test func fixturesAreThere() {
        #expect(Fixtures.pair("lx-dante_get_channel_count").response.count == 44)
        #expect(Fixtures.provenance.count > 300)
        #expect(!Fixtures.provenance(opcode: 0x3010).isEmpty)
    }
}
