import Testing
@testable import InfernoProtocol

@Suite struct FlowControlTests {
    /// §7.1 worked example.
    static let example = hexBytes("""
        11 02 00 50 00 01 01 00 00 00 00 34 00 00 bb 80
        00 00 00 18 00 01 00 02 00 48 00 01 00 02 00 20
        0a 00 00 02 00 20 00 3f 00 00 00 00 00 00 00 00
        00 00 00 00 69 6e 66 65 72 6e 6f 2d 72 78 00 30
        5f 31 00 00 00 00 00 00 08 02 9c 40 c0 a8 01 14
        """)
    static let exampleRequest = FlowRequest(transactionID: 1, receiverName: "inferno-rx", sampleRate: 48000,
                                            bitsPerSample: 24, channels: [1, 2], framesPerPacket: 32,
                                            flowName: "0_1", receiverIPv4: 0xC0A8_0114, receiverPort: 40000)

    @Test func workedExampleEncodes() {
        #expect(Self.exampleRequest.encode() == Self.example)
    }

    @Test func workedExampleDecodes() throws {
        let r = try FlowRequest.decode(Self.example)
        #expect(r == Self.exampleRequest)
        #expect(try FlowControlPacket.decode(Self.example) == .request(Self.exampleRequest))
        // Any protocol id is accepted and kept.
        var dbcp = Self.example; dbcp[0] = 0x12; dbcp[1] = 0x00
        #expect(try FlowRequest.decode(dbcp).protocolID == 0x1200)
        #expect(try FlowRequest.decode(dbcp).encode() == dbcp)
    }

    @Test func responsesUpdateAndStop() throws {
        let handle = FlowHandle(flowNumber: 0, cookie: 0xbeef)
        let ok = hexBytes("11 02 00 10 00 01 01 00 00 01 00 00 00 00 be ef")
        let resp = FlowResponse(transactionID: 1, opcode: 0x0100, status: .success, handle: handle)
        #expect(resp.encode() == ok)
        #expect(try FlowResponse.decode(ok) == resp)
        #expect(try FlowControlPacket.decode(ok) == .response(resp))
        #expect(handle.flowNumber == 0 && handle.cookie == 0xbeef)

        let err = FlowResponse(transactionID: 1, opcode: 0x0100, status: .sampleRateMismatch)
        #expect(err.encode() == hexBytes("11 02 00 0a 00 01 01 00 03 01"))
        #expect(try FlowResponse.decode(err.encode()) == err)

        let update = hexBytes("11 02 00 16 00 02 01 02 00 00 00 00 00 00 be ef 00 02 00 01 00 00")
        let u = FlowUpdateRequest(transactionID: 2, handle: handle, channels: [1, 0])
        #expect(u.encode() == update)
        #expect(try FlowUpdateRequest.decode(update) == u)
        #expect(try FlowControlPacket.decode(update) == .update(u))

        let stop = hexBytes("11 02 00 10 00 03 01 01 00 00 00 00 00 00 be ef")
        let s = FlowStopRequest(transactionID: 3, handle: handle)
        #expect(s.encode() == stop)
        #expect(try FlowStopRequest.decode(stop) == s)
        #expect(try FlowControlPacket.decode(stop) == .stop(s))
        let notFound = FlowResponse(transactionID: 3, opcode: 0x0101, status: .flowNotFound)
        #expect(try FlowControlPacket.decode(notFound.encode()) == .response(notFound))
    }

    static let generated: [FlowRequest] = [
        FlowRequest(transactionID: 0, receiverName: "", sampleRate: 44100, bitsPerSample: 16, channels: [],
                    framesPerPacket: 2, flowName: "", receiverIPv4: 0, receiverPort: 0),
        FlowRequest(protocolID: 0x1200, transactionID: 0xffff, receiverName: "a", sampleRate: 96000, bitsPerSample: 32,
                    channels: [0, 0, 3], framesPerPacket: 256, flowName: "0_128", receiverIPv4: 0x0A00_0001,
                    receiverPort: 14337),
        FlowRequest(transactionID: 9, receiverName: "ünïcødé-rx", sampleRate: 48000, bitsPerSample: 24,
                    channels: Array(1...64), framesPerPacket: 16, flowName: "x", receiverIPv4: 0xFFFF_FFFF,
                    receiverPort: 0xFFFF, word20: 2, subBlockTag: 0x0A01, subBlockValue: 1),
    ] + (0..<8).map { k in
        FlowRequest(transactionID: UInt16(k), receiverName: String(repeating: "n", count: k), sampleRate: 48000,
                    bitsPerSample: 24, channels: (0..<k).map { UInt16($0) }, framesPerPacket: 32,
                    flowName: String(repeating: "f", count: 7 - k), receiverIPv4: 1, receiverPort: 2)
    }

    @Test(arguments: generated)
    func requestRoundTrips(_ r: FlowRequest) throws {
        let bytes = r.encode()
        #expect(bytes.count % 8 == 0)
        #expect(Int(bytes[24]) << 8 | Int(bytes[25]) == bytes.count - 8)
        #expect(try FlowRequest.decode(bytes) == r)
    }

    @Test func otherRoundTrips() throws {
        for n in [0, 1, 8, 100] {
            let u = FlowUpdateRequest(protocolID: 0x1200, transactionID: UInt16(n), handle: FlowHandle(bytes: [1, 2, 3, 4, 5, 6]),
                                      channels: (0..<n).map { UInt16($0 * 3) })
            #expect(try FlowUpdateRequest.decode(u.encode()) == u)
        }
        for status in [ResultCode.success, .flowNotFound, .framesPerPacketTooLarge, .tooManyFlows] {
            let r = FlowResponse(transactionID: 5, opcode: 0x0102, status: status)
            #expect(try FlowResponse.decode(r.encode()) == r)
        }
        let other = FlowControlPacket.other(PacketHeader(protocolID: 0x1102, length: 12, transactionID: 1, opcode: 0x0200), body: [1, 2])
        #expect(try FlowControlPacket.decode(other.encode()) == other)
    }

    @Test func rejectsMalformedRequests() {
        // N = 0xffff.
        var huge = Self.example; huge[22] = 0xff; huge[23] = 0xff
        #expect(throws: WireError.countTooLarge(field: "channels", count: 0xffff, max: 16)) { try FlowRequest.decode(huge) }
        // Name pointer out of range / into the header.
        var name = Self.example; name[10] = 0x00; name[11] = 0x50
        #expect(throws: WireError.badPointer(field: "receiver name", pointer: 0x50)) { try FlowRequest.decode(name) }
        name[11] = 0x04
        #expect(throws: WireError.badPointer(field: "receiver name", pointer: 4)) { try FlowRequest.decode(name) }
        var flow = Self.example; flow[38] = 0xff; flow[39] = 0xff
        #expect(throws: WireError.badPointer(field: "flow name", pointer: 0xffff)) { try FlowRequest.decode(flow) }
        // Address record pointer past the end, and a bad tag.
        var addr = Self.example; addr[25] = 0x49
        #expect(throws: WireError.badPointer(field: "receiver address", pointer: 0x49)) { try FlowRequest.decode(addr) }
        var tag = Self.example; tag[0x48] = 0x08; tag[0x49] = 0x03
        #expect(throws: WireError.invalidValue(field: "address record tag", value: 0x0803)) { try FlowRequest.decode(tag) }
        // Unterminated name (string area runs into the address record with no NUL).
        var unterminated = Self.example
        for i in 0x34..<0x48 { unterminated[i] = 0x41 }
        unterminated[0x48] = 0x41
        #expect(throws: WireError.self) { try FlowRequest.decode(unterminated) }
        // Too short for even the fixed part.
        #expect(throws: WireError.self) { try FlowRequest.decode(Array(Self.example.prefix(30)).withLength()) }
        // Update whose count disagrees with the bytes; stop with a long body.
        #expect(throws: WireError.countTooLarge(field: "channels", count: 3, max: 2)) {
            try FlowUpdateRequest.decode(hexBytes("11 02 00 16 00 02 01 02 00 00 00 00 00 00 be ef 00 03 00 01 00 00"))
        }
        #expect(throws: WireError.badLength(declared: 16, actual: 17)) {
            try FlowStopRequest.decode(hexBytes("11 02 00 11 00 03 01 01 00 00 00 00 00 00 be ef 00"))
        }
        #expect(throws: WireError.badLength(declared: 6, actual: 2)) {
            try FlowResponse.decode(hexBytes("11 02 00 0c 00 01 01 00 00 01 00 00"))
        }
    }

    static var seeds: [[UInt8]] {
        [example] + generated.map { $0.encode() } + [
            FlowUpdateRequest(transactionID: 2, handle: FlowHandle(flowNumber: 1, cookie: 2), channels: [1, 2, 3]).encode(),
            FlowStopRequest(transactionID: 3, handle: FlowHandle(flowNumber: 1, cookie: 2)).encode(),
            FlowResponse(transactionID: 1, opcode: 0x0100, status: .success, handle: FlowHandle(flowNumber: 7, cookie: 9)).encode(),
            FlowResponse(transactionID: 1, opcode: 0x0100, status: .tooManyFlows).encode(),
        ]
    }

    @Test func fuzzFlowControlPacket() {
        let r = conmonFuzz(seeds: Self.seeds, prefix: [0x11, 0x02], decode: FlowControlPacket.decode, encode: { $0.encode() })
        #expect(r.accepted > 1000); #expect(r.rejected > 1000); #expect(r.mismatches == 0)
    }

    @Test func fuzzFlowDecoders() {
        let a = conmonFuzz(seeds: Self.seeds, decode: FlowRequest.decode, encode: { $0.encode() })
        let b = conmonFuzz(seeds: Self.seeds, decode: FlowUpdateRequest.decode, encode: { $0.encode() })
        let c = conmonFuzz(seeds: Self.seeds, decode: FlowStopRequest.decode, encode: { $0.encode() })
        let d = conmonFuzz(seeds: Self.seeds, decode: FlowResponse.decode, encode: { $0.encode() })
        for r in [a, b, c, d] {
            #expect(r.accepted > 100); #expect(r.rejected > 1000); #expect(r.mismatches == 0)
        }
    }
}

fileprivate extension Array where Element == UInt8 {
    func withLength() -> [UInt8] {
        var b = self
        b[2] = UInt8(count >> 8); b[3] = UInt8(count & 0xff)
        return b
    }
}
