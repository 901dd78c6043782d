import Testing
@testable import InfernoProtocol

/// Robustness (§14.2): every ARC decoder, fed 100,000 random and mutated inputs per message family, only ever
/// returns a value or throws a `WireError`; every accepted value re-encodes to bytes that decode to the same value.
@Suite struct ARCFuzzTests {
    /// Seeds per family: valid encodings of generated values plus matching captures.
    static func requestSeeds(_ op: UInt16) -> [[UInt8]] {
        var g = ARCGen(seed: UInt64(op))
        var seeds: [[UInt8]] = []
        var tries = 0
        while seeds.count < 24, tries < 20_000 {
            tries += 1
            let body = g.requestBody()
            if body.opcode == op { seeds.append(ARCRequest(transactionID: g.u16(), body: body).encode()) }
        }
        seeds += Fixtures.provenance(opcode: op, direction: "request").prefix(8).map(\.bytes)
        return seeds
    }

    static func responseSeeds(_ ops: Set<UInt16>) -> [[UInt8]] {
        var g = ARCGen(seed: UInt64(ops.min() ?? 0) + 99)
        var seeds: [[UInt8]] = []
        var tries = 0
        while seeds.count < 24, tries < 20_000 {
            tries += 1
            let (op, status, body) = g.response()
            if ops.contains(op) { seeds.append(ARCResponse(transactionID: g.u16(), opcode: op, status: status, body: body).encode()) }
        }
        for op in ops { seeds += Fixtures.provenance(opcode: op, direction: "response").prefix(8).map(\.bytes) }
        return seeds
    }

    static let requestFamilies: [UInt16] = [0x1000, 0x1001, 0x1100, 0x1101, 0x2000, 0x2010, 0x2013, 0x3000, 0x3001,
                                            0x3010, 0x3014, 0x3410, 0x2200, 0x3200]

    @Test(arguments: requestFamilies) func requestDecoder(opcode: UInt16) {
        let seeds = Self.requestSeeds(opcode)
        #expect(!seeds.isEmpty)
        var rejected = 0, unstable = 0
        let accepted = Fuzz.run(seeds: seeds, seed: 0xA2C0 ^ UInt64(opcode)) { bytes in
            do {
                let q = try ARCRequest.decode(bytes)
                if (try? ARCRequest.decode(q.encode())) != q { unstable += 1 }
                return true
            } catch {
                rejected += 1   // typed throws: `error` is a WireError
                return false
            }
        }
        #expect(accepted > 1000, "accepted \(accepted)")
        #expect(rejected > 1000, "rejected \(rejected)")
        #expect(unstable == 0)
    }

    static let responseFamilies: [[UInt16]] = [[0x1002], [0x1000], [0x1003], [0x1100, 0x1101], [0x2000], [0x2010],
                                               [0x3000], [0x2200, 0x3200], [0x3300]]

    @Test(arguments: responseFamilies) func responseDecoder(opcodes: [UInt16]) {
        let seeds = Self.responseSeeds(Set(opcodes))
        #expect(!seeds.isEmpty)
        var rejected = 0, unstable = 0
        let accepted = Fuzz.run(seeds: seeds, seed: 0xA2C1 ^ UInt64(opcodes[0])) { bytes in
            do {
                let r = try ARCResponse.decode(bytes)
                if (try? ARCResponse.decode(r.encode())) != r { unstable += 1 }
                return true
            } catch {
                rejected += 1
                return false
            }
        }
        #expect(accepted > 1000, "accepted \(accepted)")
        #expect(rejected > 1000, "rejected \(rejected)")
        #expect(unstable == 0)
    }

    // MARK: Targeted malformed inputs

    static func packet(_ op: UInt16, status: UInt16 = 0, _ body: [UInt8]) -> [UInt8] {
        var w = PacketHeader(protocolID: 0x27ff, transactionID: 1, opcode: op, status: status).start()
        w.append(body)
        return PacketHeader.finish(w)
    }

    @Test func pointersOutOfRange() throws {
        // 0x3010 record pointing at 0 (absent), 5 (header), and past the end.
        #expect(try ARCRequest.decode(Self.packet(0x3010, [2, 1, 0, 1, 0, 0, 0, 0])).body
                == .subscribe(ARCSubscriptionRequest(records: [.unsubscribe(1)])))
        #expect(throws: WireError.badPointer(field: "0x3010 tx channel", pointer: 5)) {
            try ARCRequest.decode(Self.packet(0x3010, [2, 1, 0, 1, 0, 5, 0, 5]))
        }
        #expect(throws: WireError.badPointer(field: "0x3010 tx channel", pointer: 0x200)) {
            try ARCRequest.decode(Self.packet(0x3010, [2, 1, 0, 1, 2, 0, 2, 0]))
        }
        // RX page whose name pointer is 0 (a required string).
        #expect(throws: WireError.badPointer(field: "0x3000 rx name", pointer: 0)) {
            try ARCResponse.decode(Self.packet(0x3000, status: 1, [1, 1] + [0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 8)))
        }
        // Descriptor pointer that leaves fewer than 16 bytes.
        #expect(throws: WireError.badPointer(field: "0x2000 descriptor", pointer: 0x12)) {
            try ARCResponse.decode(Self.packet(0x2000, status: 1, [1, 1, 0, 1, 0, 7, 0, 0x12, 0, 0x14, 0x41, 0]))
        }
        // Settings value pointer into the table.
        #expect(throws: WireError.badPointer(field: "settings value of 0x8205", pointer: 0x0c)) {
            try ARCResponse.decode(Self.packet(0x1100, status: 1, [1, 1, 0x82, 0x05, 0, 0x0c]))
        }
        // Flow record pointer beyond the end.
        #expect(throws: WireError.badPointer(field: "flow record", pointer: 0xffff)) {
            try ARCResponse.decode(Self.packet(0x2200, status: 1, [16, 1, 0xff, 0xff]))
        }
    }

    @Test func countsWithoutRecords() {
        #expect(throws: WireError.countTooLarge(field: "0x3000 records", count: 0xff, max: 0)) {
            try ARCResponse.decode(Self.packet(0x3000, status: 1, [0xff, 0xff]))
        }
        #expect(throws: WireError.countTooLarge(field: "0x2000 records", count: 0xff, max: 0)) {
            try ARCResponse.decode(Self.packet(0x2000, status: 1, [0x20, 0xff]))
        }
        #expect(throws: WireError.countTooLarge(field: "0x3010 records", count: 0xff, max: 0)) {
            try ARCRequest.decode(Self.packet(0x3010, [0x20, 0xff]))
        }
        #expect(throws: WireError.countTooLarge(field: "settings records", count: 0xff, max: 0)) {
            try ARCResponse.decode(Self.packet(0x1100, status: 1, [0xff, 0xff]))
        }
        #expect(throws: WireError.countTooLarge(field: "0x3014 channels", count: 0xffff, max: 1)) {
            try ARCRequest.decode(Self.packet(0x3014, [0xff, 0xff, 0, 0, 0, 1]))
        }
        #expect(throws: WireError.countTooLarge(field: "0x1100 info codes", count: 0xffff, max: 0)) {
            try ARCRequest.decode(Self.packet(0x1100, [0xff, 0xff]))
        }
        #expect(throws: WireError.invalidValue(field: "0x3014 channel at 12", value: 0x10001)) {
            try ARCRequest.decode(Self.packet(0x3014, [0, 1, 0, 1, 0, 1]))
        }
    }

    @Test func unterminatedAndBadStrings() {
        #expect(throws: WireError.unterminatedString(pointer: 10)) {
            try ARCResponse.decode(Self.packet(0x1002, status: 1, Array("lx-dante".utf8)))
        }
        #expect(throws: WireError.unterminatedString(pointer: 10)) {
            try ARCRequest.decode(Self.packet(0x1001, Array("name".utf8)))
        }
        #expect(throws: WireError.invalidUTF8(pointer: 10)) {
            try ARCResponse.decode(Self.packet(0x1002, status: 1, [0xff, 0xfe, 0]))
        }
        let long = [UInt8](repeating: 0x41, count: 300) + [0]
        #expect(throws: WireError.stringTooLong(field: "device name", length: 256, max: 255)) {
            try ARCResponse.decode(Self.packet(0x1002, status: 1, long))
        }
    }

    @Test func headerChecks() {
        #expect(throws: WireError.invalidValue(field: "ARC request status", value: 1)) {
            try ARCRequest.decode(Self.packet(0x1000, status: 1, []))
        }
        #expect(throws: WireError.invalidValue(field: "ARC response status", value: 0)) {
            try ARCResponse.decode(Self.packet(0x1000, []))
        }
        #expect(throws: WireError.invalidValue(field: "ARC protocol id", value: 0x1200)) {
            try ARCRequest.decode([0x12, 0x00, 0, 10, 0, 0, 0x10, 0x00, 0, 0])
        }
        #expect(throws: WireError.truncated(offset: 12, needed: 2, available: 0)) {
            try ARCRequest.decode(Self.packet(0x3000, [0, 1]))
        }
        #expect(throws: WireError.invalidValue(field: "0x1000 body length", value: 3)) {
            try ARCResponse.decode(Self.packet(0x1000, status: 1, [0, 2, 0]))
        }
    }
}
