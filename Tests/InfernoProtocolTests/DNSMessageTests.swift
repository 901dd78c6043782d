import Testing
@testable import InfernoProtocol

private func name(_ s: String) -> DNSName { try! DNSName(s) }

/// The response a Dante device sends for its ARC service (dante-protocol.md §2.2): PTR, SRV, TXT answers and the
/// host's A record in the additionals. Bytes computed by hand, offsets in the comments.
private let arcResponseHex = """
0000 8400 0000 0003 0000 0001
0d 5f6e6574617564696f2d617263 04 5f756470 05 6c6f63616c 00
000c 0001 00001194 0006  03 646576 c00c
c030 0021 8001 00001194 0011  0000 0000 1158  03 646576 05 6c6f63616c 00
c030 0010 8001 00001194 0020  10 617263705f766572733d322e372e3431  0e 617263705f6d696e3d302e322e34
c048 0001 8001 00000078 0004  0a630001
"""
// offsets: 12 "_netaudio-arc._udp.local", 48 "dev" + →12 (PTR target), 72 "dev.local" (SRV target)

private func arcResponse() -> DNSMessage {
    let service = name("_netaudio-arc._udp.local")
    let instance = name("dev._netaudio-arc._udp.local")
    let host = name("dev.local")
    return DNSMessage.mdnsResponse(
        answers: [
            DNSRecord(name: service, ttl: 4500, data: .ptr(instance)),
            DNSRecord(name: instance, cacheFlush: true, ttl: 4500,
                      data: .srv(priority: 0, weight: 0, port: 4440, target: host)),
            DNSRecord(name: instance, cacheFlush: true, ttl: 4500,
                      data: .txt(strings: ["arcp_vers=2.7.41", "arcp_min=0.2.4"])),
        ],
        additionals: [DNSRecord(name: host, cacheFlush: true, ttl: 120, data: .ipv4(10, 99, 0, 1))])
}

private func expectError(_ bytes: [UInt8], _ check: (WireError) -> Bool,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let m = try DNSMessage.decode(bytes)
        Issue.record("decoded \(m) instead of failing", sourceLocation: sourceLocation)
    } catch {
        #expect(check(error), "unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

/// A 1-question message whose question name starts at offset 12 with `nameBytes` (type/class appended).
private func question(_ nameBytes: [UInt8], extra: [UInt8] = []) -> [UInt8] {
    hexBytes("0000 0000 0001 0000 0000 0000") + nameBytes + [0, 1, 0, 1] + extra
}

@Suite("DNS message codec")
struct DNSMessageTests {
    @Test func arcResponseGoldenEncode() {
        let bytes = arcResponse().encode()
        #expect(bytes == hexBytes(arcResponseHex))
        #expect(bytes.count == 143)
    }

    @Test func arcResponseGoldenDecode() throws {
        let m = try DNSMessage.decode(hexBytes(arcResponseHex))
        #expect(m == arcResponse())
        #expect(m.isResponse && m.authoritative && !m.truncated && m.id == 0)
        #expect(m.answers.map(\.type) == [.ptr, .srv, .txt])
        #expect(m.additionals.first?.data == .ipv4(10, 99, 0, 1))
        #expect(m.answers[1].cacheFlush && !m.answers[0].cacheFlush)
        #expect(m.answers[2].data.txtKeyValues.map(\.key) == ["arcp_vers", "arcp_min"])
        #expect(m.answers[2].data.txtKeyValues.first?.value == "2.7.41")
    }

    @Test func compressionPointersAreUsed() {
        let bytes = arcResponse().encode()
        // PTR target "dev" → 12, SRV/TXT owners → 48 (0x30), A owner → SRV target at 72 (0x48).
        #expect(Array(bytes[52...53]) == [0xC0, 0x0C])
        #expect(Array(bytes[54...55]) == [0xC0, 0x30])
        #expect(Array(bytes[83...84]) == [0xC0, 0x30])
        #expect(Array(bytes[127...128]) == [0xC0, 0x48])
        let uncompressed = 12 + arcResponse().answers.reduce(0) { $0 + $1.name.wireLength + 10 }
        #expect(bytes.count < uncompressed + 40)
    }

    @Test func goodbyeHasZeroTTL() throws {
        var m = arcResponse()
        m.answers = m.answers.map(\.goodbye)
        let d = try DNSMessage.decode(m.encode())
        #expect(d.answers.allSatisfy { $0.ttl == 0 })
    }

    @Test func queryWithQUBit() throws {
        let hex = """
        0000 0000 0002 0000 0000 0000
        06 30314064657600 0e 5f6e6574617564696f2d6368616e 04 5f756470 05 6c6f63616c 00 0021 8001
        c00c 0010 8001
        """.replacingOccurrences(of: "06 30314064657600", with: "06 303140646576")
        let q = DNSMessage.mdnsQuery([
            DNSQuestion(name: name("01@dev._netaudio-chan._udp.local"), type: .srv, unicastResponse: true),
            DNSQuestion(name: name("01@dev._netaudio-chan._udp.local"), type: .txt, unicastResponse: true),
        ])
        #expect(q.encode() == hexBytes(hex))
        let d = try DNSMessage.decode(hexBytes(hex))
        #expect(d == q)
        #expect(d.questions.allSatisfy { $0.unicastResponse && $0.qclass == .internet })
        #expect(!d.isResponse)
    }

    @Test func compressionLoopIsRejected() {
        // Pointer to itself.
        expectError(question([0xC0, 0x0C])) { $0 == .dnsNameLoop(offset: 12) }
        // A label, then a pointer back to the start of the same name.
        expectError(question([0x01, 0x61, 0xC0, 0x0C])) { $0 == .dnsNameLoop(offset: 14) }
        // Second question points into the first, which points back into the second's segment.
        let twoStep = hexBytes("0000 0000 0002 0000 0000 0000") +
            [0x01, 0x61, 0x00, 0, 1, 0, 1] +          // 12: "a", 19 next
            [0x01, 0x62, 0xC0, 0x13, 0, 1, 0, 1]       // 19: "b" → 19 (own segment)
        expectError(twoStep) { $0 == .dnsNameLoop(offset: 21) }
    }

    @Test func forwardPointerIsRejected() {
        expectError(question([0xC0, 0x12], extra: [0x00, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00])) {
            $0 == .badPointer(field: "DNS name", pointer: 0x12)
        }
    }

    @Test func pointerPastEndIsRejected() {
        expectError(question([0xC0, 0xFF])) { $0 == .badPointer(field: "DNS name", pointer: 0xFF) }
        expectError(question([0xFF, 0xFF])) { $0 == .badPointer(field: "DNS name", pointer: 0x3FFF) }
        // Into the header.
        expectError(question([0x01, 0x61, 0xC0, 0x02])) { $0 == .badPointer(field: "DNS name", pointer: 2) }
    }

    @Test func longLabelIsRejected() {
        expectError(question([0x40] + [UInt8](repeating: 0x61, count: 64) + [0])) { $0 == .dnsLabelTooLong(length: 64) }
        #expect(throws: WireError.dnsLabelTooLong(length: 64)) {
            try DNSName(labels: [[UInt8](repeating: 0x61, count: 64)])
        }
        // 63 is fine.
        #expect((try? DNSName(labels: [[UInt8](repeating: 0x61, count: 63)])) != nil)
    }

    @Test func longNameIsRejected() {
        var bytes: [UInt8] = []
        for len in [63, 63, 63, 62] { bytes += [UInt8(len)] + [UInt8](repeating: 0x62, count: len) }
        bytes.append(0)
        expectError(question(bytes)) { $0 == .dnsNameTooLong(length: 256) }
        let labels = [63, 63, 63, 62].map { [UInt8](repeating: 0x62, count: $0) }
        #expect(throws: WireError.dnsNameTooLong(length: 256)) { try DNSName(labels: labels) }
        // 255 is fine.
        #expect((try? DNSName(labels: [63, 63, 63, 61].map { [UInt8](repeating: 0x62, count: $0) })) != nil)
    }

    @Test func countsAndLengthsAreValidated() {
        expectError(hexBytes("0000 0000 ffff 0000 0000 0000 00 0001 0001")) {
            if case .countTooLarge = $0 { return true } else { return false }
        }
        expectError(hexBytes("0000 8400")) { if case .truncated = $0 { return true } else { return false } }
        // A record whose RDLENGTH runs past the end.
        expectError(hexBytes("0000 8400 0000 0001 0000 0000 00 0001 0001 00000078 0010 0a630001")) {
            if case .truncated = $0 { return true } else { return false }
        }
        // A record with RDLENGTH 3.
        expectError(hexBytes("0000 8400 0000 0001 0000 0000 00 0001 0001 00000078 0003 0a6300")) {
            $0 == .invalidValue(field: "A rdlength", value: 3)
        }
        // PTR whose name does not fill RDATA.
        expectError(hexBytes("0000 8400 0000 0001 0000 0000 00 000c 0001 00000078 0003 00 0000")) {
            if case .invalidValue = $0 { return true } else { return false }
        }
        // Two OPT records.
        expectError(hexBytes("0000 0000 0000 0000 0000 0002 00 0029 04d0 00000000 0000 00 0029 04d0 00000000 0000")) {
            $0 == .invalidValue(field: "OPT record count", value: 2)
        }
    }

    @Test func ednsRoundTrip() throws {
        var m = DNSMessage(id: 0x1234, questions: [DNSQuestion(name: name("SeQuEnCe.music.example.com"), type: .txt)])
        m.recursionDesired = true
        m.edns = EDNS(udpPayloadSize: 1232, extendedRCode: 1, version: 0, dnssecOK: true,
                      options: [EDNS.Option(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])
        let bytes = m.encode()
        // OPT: root, type 41, class 1232, ttl 0x01008000, rdlength 12.
        #expect(Array(bytes.suffix(23)) == hexBytes("00 0029 04d0 01008000 000c 000a 0008 0102030405060708"))
        let d = try DNSMessage.decode(bytes)
        #expect(d == m)
        #expect(d.fullRCode == 0x10)
        #expect(d.questions[0].name.description == "SeQuEnCe.music.example.com.")   // 0x20 spelling kept
        #expect(d.questions[0].name.isEquivalent(to: name("sequence.MUSIC.example.com")))
    }

    @Test func txtVariants() throws {
        let owner = name("config.example.com")
        let m = DNSMessage(answers: [
            DNSRecord(name: owner, ttl: 300, data: .txt(strings: ["aodns=2", "codec=opus", "rate=16000"])),
            DNSRecord(name: owner, ttl: 300, data: .txt([])),
            DNSRecord(name: owner, ttl: 300, data: .txt(strings: ["", "", "default", "=x", "id=1", "ID=2"])),
        ])
        let d = try DNSMessage.decode(m.encode())
        #expect(d.answers[0] == m.answers[0])
        #expect(d.answers[1].data == .txt([[]]))   // empty TXT is one zero-length string
        #expect(d.answers[2].data.txtKeyValues.map(\.key) == ["default", "id"])
        #expect(d.answers[2].data.txtKeyValues.last?.value == "1")
    }

    @Test func nsecAndUnknownRoundTrip() throws {
        let host = name("dev.local")
        let m = DNSMessage.mdnsResponse(answers: [
            DNSRecord(name: host, cacheFlush: true, ttl: 120, data: .nsec(next: host, types: [.a, .txt, .aaaa, .srv, DNSType(1234)])),
            DNSRecord(name: host, ttl: 120, data: .unknown(type: DNSType(99), data: [1, 2, 3])),
            DNSRecord(name: host, ttl: 120, data: .aaaa([0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1])),
        ])
        let bytes = m.encode()
        let d = try DNSMessage.decode(bytes)
        #expect(d == m)
        // NSEC bitmap for window 0: A(1), TXT(16), AAAA(28), SRV(33) → 5 bytes.
        #expect(bytes.count > 0)
    }

    @Test func dnsNameBasics() throws {
        let n = try DNSName("TX 1@Dev._netaudio-chan._udp.local.")
        #expect(n.labels.count == 4)
        #expect(n.firstLabel == "TX 1@Dev")
        #expect(n != (try DNSName("tx 1@dev._netaudio-chan._udp.local")))
        #expect(n.key == (try DNSName("tx 1@dev._NETAUDIO-chan._udp.local")).key)
        #expect(Set([n.key, n.lowercased.key]).count == 1)
        #expect(n.isSubdomain(of: try DNSName("_UDP.local")))
        let dotted = try DNSName(labelStrings: ["a.b", "local"])
        #expect(dotted.description == "a\\.b.local.")
        #expect(try DNSName(dotted.description) == dotted)
        #expect(try DNSName(".") == .root && (try DNSName("")) == .root)
        #expect(throws: WireError.self) { try DNSName("a..b") }
        #expect(try DNSName("_netaudio-arc._udp.local").prepending("dev") == name("dev._netaudio-arc._udp.local"))
    }

    @Test func sizeLimitedEncodingSetsTC() throws {
        let owner = name("seq_1.music.example.com")
        let records = (0..<20).map { i in
            DNSRecord(name: owner, ttl: 10, data: .txt([[UInt8](repeating: UInt8(0x41 + i), count: 100)]))
        }
        var m = DNSMessage(id: 7, flags: 0x8400, questions: [DNSQuestion(name: owner, type: .txt)], answers: records)
        m.edns = EDNS(udpPayloadSize: 1232)
        let (bytes, tc) = m.encode(maxSize: 512)
        #expect(tc && bytes.count <= 512)
        let d = try DNSMessage.decode(bytes)
        #expect(d.truncated && d.edns == m.edns)
        // 12 header + 29 question + 4 × 113 (pointer, fixed part, 101-byte TXT) + 11 OPT = 504 ≤ 512 < 617.
        #expect(d.answers.count == 4 && d.answers == Array(records.prefix(4)))
        #expect(bytes.count == 504)
        // Everything fits: no TC.
        let (all, tc2) = m.encode(maxSize: 4096)
        #expect(!tc2 && all == m.encode())
        // Dropping only additionals does not set TC.
        var m2 = DNSMessage(answers: [records[0]], additionals: Array(records[1...]))
        m2.isResponse = true
        let (b3, tc3) = m2.encode(maxSize: 512)
        let d3 = try DNSMessage.decode(b3)
        #expect(!tc3 && !d3.truncated && d3.answers.count == 1 && d3.additionals.count < 19)
    }

    @Test func randomMessagesRoundTrip() throws {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let m = randomMessage(&rng)
            let bytes = m.encode()
            let d = try DNSMessage.decode(bytes)
            #expect(d == m)
            if d != m { break }
            #expect(d.encode() == bytes)
        }
    }

    @Test func fuzzDecoder() {
        var rng = SplitMix64(seed: 7)
        let seeds = [hexBytes(arcResponseHex), arcResponse().encode()] + (0..<30).map { _ in randomMessage(&rng).encode() }
        var rejected = 0
        var unstable = 0
        let accepted = Fuzz.run(seeds: seeds) { bytes in
            do {
                let m = try DNSMessage.decode(bytes)
                // Whatever was accepted re-encodes to a stable form.
                let b1 = m.encode()
                if let m2 = try? DNSMessage.decode(b1), m2.encode() == b1 {} else { unstable += 1 }
                return true
            } catch {
                rejected += 1
                return false
            }
        }
        #expect(accepted > 1000)
        #expect(rejected > 1000)
        #expect(accepted + rejected == Fuzz.iterations)
        #expect(unstable == 0)
    }
}

// MARK: random messages

private let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_@ ".utf8)
private let pool = ["local", "_udp", "_netaudio-arc", "_netaudio-chan", "Dev", "dev", "example", "com"]

private func randomName(_ rng: inout SplitMix64) -> DNSName {
    let n = Int(rng.next() % 5)
    var labels: [[UInt8]] = []
    var wire = 1
    for _ in 0..<n {
        let label: [UInt8]
        if rng.next() % 2 == 0 {
            label = Array(pool[Int(rng.next() % UInt64(pool.count))].utf8)
        } else {
            let len = 1 + Int(rng.next() % (rng.next() % 8 == 0 ? 63 : 12))
            label = (0..<len).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
        }
        if wire + label.count + 1 > 255 { break }
        wire += label.count + 1
        labels.append(label)
    }
    return try! DNSName(labels: labels)
}

private func randomBytes(_ rng: inout SplitMix64, _ n: Int) -> [UInt8] {
    (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

private func randomData(_ rng: inout SplitMix64) -> DNSRData {
    switch rng.next() % 9 {
    case 0: return .a(UInt32(truncatingIfNeeded: rng.next()))
    case 1: return .aaaa(randomBytes(&rng, 16))
    case 2: return .ptr(randomName(&rng))
    case 3: return .cname(randomName(&rng))
    case 4: return .ns(randomName(&rng))
    case 5:
        return .srv(priority: UInt16(truncatingIfNeeded: rng.next()), weight: UInt16(truncatingIfNeeded: rng.next()),
                    port: UInt16(truncatingIfNeeded: rng.next()), target: randomName(&rng))
    case 6: return .txt((0..<(1 + Int(rng.next() % 4))).map { _ in randomBytes(&rng, Int(rng.next() % 40)) })
    case 7:
        let types = Set((0..<Int(rng.next() % 6)).map { _ in UInt16(truncatingIfNeeded: rng.next() % 600) })
        return .nsec(next: randomName(&rng), types: types.sorted().map(DNSType.init(rawValue:)))
    default:
        var t = UInt16(truncatingIfNeeded: rng.next())
        if [1, 2, 5, 12, 16, 28, 33, 41, 47].contains(t) { t = 999 }
        return .unknown(type: DNSType(t), data: randomBytes(&rng, Int(rng.next() % 20)))
    }
}

private func randomRecords(_ rng: inout SplitMix64) -> [DNSRecord] {
    (0..<Int(rng.next() % 4)).map { _ in
        DNSRecord(name: randomName(&rng), rclass: DNSClass(UInt16(truncatingIfNeeded: rng.next() % 3 == 0 ? rng.next() : 1)),
                  cacheFlush: rng.next() % 2 == 0, ttl: UInt32(truncatingIfNeeded: rng.next()), data: randomData(&rng))
    }
}

private func randomMessage(_ rng: inout SplitMix64) -> DNSMessage {
    var m = DNSMessage(id: UInt16(truncatingIfNeeded: rng.next()), flags: UInt16(truncatingIfNeeded: rng.next()))
    m.questions = (0..<Int(rng.next() % 3)).map { _ in
        DNSQuestion(name: randomName(&rng), type: DNSType(UInt16(truncatingIfNeeded: rng.next() % 300)),
                    qclass: DNSClass(UInt16(truncatingIfNeeded: rng.next() % 4)), unicastResponse: rng.next() % 2 == 0)
    }
    m.answers = randomRecords(&rng)
    m.authorities = randomRecords(&rng)
    m.additionals = randomRecords(&rng)
    if rng.next() % 3 == 0 {
        m.edns = EDNS(udpPayloadSize: UInt16(truncatingIfNeeded: rng.next()), extendedRCode: UInt8(truncatingIfNeeded: rng.next()),
                      version: UInt8(truncatingIfNeeded: rng.next() % 2), dnssecOK: rng.next() % 2 == 0,
                      z: UInt16(truncatingIfNeeded: rng.next()) & 0x7FFF,
                      options: (0..<Int(rng.next() % 3)).map { _ in
                          EDNS.Option(code: UInt16(truncatingIfNeeded: rng.next()), data: randomBytes(&rng, Int(rng.next() % 10)))
                      })
    }
    return m
}
