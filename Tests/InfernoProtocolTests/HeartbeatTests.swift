import Testing
@testable import InfernoProtocol

@Suite struct HeartbeatTests {
    static let infernoSeq5 = hexBytes("""
        ff fe 00 30 00 05 00 00 00 00 c0 a8 01 0a 00 00 41 75 64 69 6e 61 74 65 00 08 00 01 10 00 00 00
        00 10 80 01 00 04 00 04 00 05 00 00 00 00 00 00
        """)

    @Test func encodesInfernoHeartbeat() throws {
        let hb = Heartbeat(deviceID: hexBytes("00 00 c0 a8 01 0a 00 00"), sequence: 5)
        #expect(hb.encode() == Self.infernoSeq5)
        let d = try Heartbeat.decode(Self.infernoSeq5)
        #expect(d == hb)
        #expect(d.frequencyOffsetPPB == 0)
        #expect(d.lockState == nil)
    }

    @Test func realLXDanteHeartbeat() throws {
        let captures = Fixtures.provenance.filter { $0.bytes.count >= 2 && $0.bytes[0] == 0xff && $0.bytes[1] == 0xfe }
        #expect(captures.count == 1)
        let bytes = try #require(captures.first).bytes
        #expect(bytes.count == 588)
        let hb = try Heartbeat.decode(bytes)
        #expect(hb.header.deviceID == hexBytes("00 1d c1 08 12 58 00 00"))
        #expect(hb.header.sequence == 0xd662)
        #expect(hb.header.classVersion == 0x0008)
        #expect(hb.header.messageType == 0x0001)
        #expect(hb.header.trailer == 0x1000_0000)
        #expect(hb.blocks.map(\.type) == [0x8003, 0x8004])
        #expect(hb.blocks.map(\.size) == [280, 276])
        #expect(hb.blocks.allSatisfy { $0.counter == 0x6a03 && $0.word4 == 4 && $0.word10 == 0 })
        // 0x8003 carries 24-bit / 48 kHz.
        let fmt = hb.blocks[0].payload
        #expect(Array(fmt[0..<12]) == hexBytes("00 40 00 00 00 18 00 00 00 00 bb 80"))
        #expect(hb.frequencyOffsetPPB == nil)
        #expect(hb.lockState == nil)
        #expect(hb.encode() == bytes)
    }

    @Test func blocksRoundTrip() throws {
        let hb = Heartbeat(deviceID: hexBytes("00 1d c1 ff fe 00 00 01"), sequence: 0xFFFF,
                           frequencyOffsetPPB: -12345, lockState: .locked)
        let bytes = hb.encode()
        #expect(bytes.count == 32 + 16 + 28)
        #expect(Array(bytes[48..<52]) == hexBytes("00 1c 80 02"))
        #expect(Array(bytes[48 + 16..<48 + 18]) == [0, 1])  // lock state at block offset 16
        let d = try Heartbeat.decode(bytes)
        #expect(d == hb)
        #expect(d.frequencyOffsetPPB == -12345)
        #expect(d.lockState == .locked)

        let raw = Heartbeat(header: hb.header, blocks: [
            HeartbeatBlock(type: 0x8000, counter: 1, payload: []),
            HeartbeatBlock(type: 0x8003, counter: 2, payload: Array(0..<20), word4: 5, word10: 7),
            .lockState(.unlocked, counter: 3),
        ])
        #expect(try Heartbeat.decode(raw.encode()) == raw)
        #expect(try Heartbeat.decode(raw.encode()).lockState == .unlocked)
        let empty = Heartbeat(header: hb.header, blocks: [])
        #expect(try Heartbeat.decode(empty.encode()).blocks.isEmpty)
    }

    @Test func malformedBlocks() {
        var zero = Self.infernoSeq5
        zero[32] = 0; zero[33] = 0  // block size 0: must not loop forever
        #expect(throws: WireError.invalidValue(field: "heartbeat block size", value: 0)) { try Heartbeat.decode(zero) }
        var eleven = Self.infernoSeq5
        eleven[33] = 11
        #expect(throws: WireError.invalidValue(field: "heartbeat block size", value: 11)) { try Heartbeat.decode(eleven) }
        var long = Self.infernoSeq5
        long[33] = 0x20  // 32 bytes, only 16 present
        #expect(throws: WireError.truncated(offset: 32, needed: 32, available: 16)) { try Heartbeat.decode(long) }
        var inner = Self.infernoSeq5
        inner[39] = 5
        #expect(throws: WireError.badLength(declared: 5, actual: 4)) { try Heartbeat.decode(inner) }
        // A partial block header at the end.
        var tail = Self.infernoSeq5 + [0x00, 0x10, 0x80]
        tail[3] = UInt8(tail.count)
        #expect(throws: WireError.self) { try Heartbeat.decode(tail) }
        // 0xFFFF is not a heartbeat.
        var conmon = Self.infernoSeq5
        conmon[1] = 0xff
        #expect(throws: WireError.badMagic(expected: 0xFFFE, found: 0xFFFF)) { try Heartbeat.decode(conmon) }
    }

    @Test func fuzzHeartbeat() {
        let seeds = Fixtures.provenance.filter { $0.bytes.first == 0xff && $0.bytes.dropFirst().first == 0xfe }.map(\.bytes)
            + [Self.infernoSeq5,
               Heartbeat(deviceID: [1], sequence: 2, frequencyOffsetPPB: 3, lockState: .unlocked).encode()]
        let r = conmonFuzz(seeds: seeds, prefix: [0xff, 0xfe], decode: Heartbeat.decode, encode: { $0.encode() })
        #expect(r.accepted > 1000)
        #expect(r.rejected > 1000)
        #expect(r.mismatches == 0)
    }
}
