import Testing
import InfernoProtocol
@testable import InfernoAoDNS

let zoneName = try! DNSName("music.example.com")

/// A publication with `packs` packs of `fpp` maximum-size packets (random bytes: the worst case for basE91).
func publication(packs: Int, fpp: Int = 4, window: Int = 75, firstN: UInt64 = 0) -> AoDNSPublication {
    let config = AoDNSConfig(sampleRate: 16000, channels: 1, packetsPerPack: fpp, window: window, epoch: 0x0badcafe,
                             bitrate: 20000)
    var p = AoDNSPublication(zone: zoneName, config: config, startedAtMs: 1_700_000_000_000, firstN: firstN)
    let size = AoDNSPublication.maxPacketBytes(zone: zoneName, packetsPerPack: fpp)!
    var g = XorShift(UInt64(fpp * 1000 + packs))
    for k in 0..<packs {
        p.append(packets: (0..<fpp).map { _ in g.bytes(size) }, closedAtMs: 1_700_000_000_000 + UInt64(k + 1) * UInt64(fpp * 60))
    }
    return p
}

func query(_ name: String, _ type: DNSType = .txt, id: UInt16 = 0x1234, edns: UInt16? = nil,
           rd: Bool = true) -> [UInt8] {
    var m = DNSMessage(id: id, flags: rd ? 0x0100 : 0, questions: [DNSQuestion(name: try! DNSName(name), type: type)])
    if let edns { m.edns = EDNS(udpPayloadSize: edns) }
    return m.encode()
}

func answer(_ q: [UInt8], _ zone: DNSZone, _ t: DNSAuthority.Transport = .udp, slip: Bool = false)
    -> (DNSMessage, DNSAuthority.Response)? {
    guard case let .success(r) = DNSAuthority.respond(to: q, zone: zone, transport: t, slip: slip) else { return nil }
    guard let m = try? DNSMessage.decode(r.bytes) else { return nil }
    return (m, r)
}

@Suite("authoritative answerer")
struct AuthorityTests {
    @Test func sequenceAnswerMatchesTheOriginalsAnswerSection() throws {
        let zone = publication(packs: 4, firstN: 0).zone()
        // The query of aodns.md §2.2 (44 bytes).
        let q = hex("1234 0100 0001 0000 0000 0000 08 73657175656e6365 05 6d75736963 07 6578616d706c65 03 636f6d 00 0010 0001")
        let (m, r) = try #require(answer(q, zone))
        #expect(r.outcome == .answer)
        #expect(m.id == 0x1234 && m.isResponse && m.authoritative && m.recursionDesired && !m.recursionAvailable)
        #expect(m.rcode == 0 && m.authorities.isEmpty && m.answers.count == 1)
        // Answer section: pointer to the question name, TXT IN, TTL 2 (the original: 10), one 19-octet string.
        let expected = hex("c00c 0010 0001 00000002 0014 13") + ascii("q:yEDjaK}[$IY4BN|eC")
        #expect(Array(r.bytes[44..<(44 + expected.count)]) == expected)
        #expect(r.bytes.count == 44 + expected.count)
        #expect(try AoDNSSequence.decode(m.answers[0].data.txtStrings!.first.map { Array($0.utf8) }!) == [0, 1, 2, 3])
    }

    @Test func caseRandomisedNamesAreEchoed() throws {
        let zone = publication(packs: 3).zone()
        let q = query("SeQuEnCe.MUSic.exAMPLE.cOm")
        let (m, r) = try #require(answer(q, zone))
        #expect(r.outcome == .answer)
        #expect(m.questions[0].name.description == "SeQuEnCe.MUSic.exAMPLE.cOm.")
        #expect(Array(r.bytes[12..<(12 + 32)]) == Array(q[12..<(12 + 32)]))   // question bytes identical
        #expect(m.answers[0].name.description == "SeQuEnCe.MUSic.exAMPLE.cOm.")
        let (soa, _) = try #require(answer(query("nothing.MUSIC.example.COM"), zone))
        #expect(soa.rcode == 3 && soa.authorities.first?.name.description == "MUSIC.example.COM.")
    }

    @Test func packAnswersFitIn1232WithEDNS() throws {
        for fpp in [1, 2, 4, 6, 8, 12] {
            let p = publication(packs: 2, fpp: fpp)
            let zone = p.zone()
            let n = p.packs[1].n
            for name in [p.names.seq(n), p.names.seq(n, epoch: p.config.epoch)] {
                let (m, r) = try #require(answer(query(name.description, edns: 4096), zone))
                #expect(r.outcome == .answer, "fpp \(fpp)")
                #expect(r.bytes.count <= 1232, "fpp \(fpp): \(r.bytes.count) bytes")
                #expect(m.answers.count == fpp && m.edns?.udpPayloadSize == 1232)
                let d = AoDNSPack.decode(strings: m.answers.compactMap { $0.data.txtStrings?.first.map { Array($0.utf8) } },
                                         expected: fpp)
                #expect(d.isComplete)
            }
        }
    }

    @Test func truncationAndTCP() throws {
        let p = publication(packs: 2)
        let zone = p.zone()
        let name = p.names.seq(p.packs[0].n).description
        // No EDNS: 512 bytes max → TC=1, empty sections.
        let (m, r) = try #require(answer(query(name), zone))
        #expect(r.outcome == .truncated && m.truncated && m.answers.isEmpty && m.authorities.isEmpty)
        #expect(r.bytes.count <= 512 && m.questions.count == 1)
        // EDNS 512: same. EDNS below 512 counts as 512.
        let (m2, _) = try #require(answer(query(name, edns: 512), zone))
        #expect(m2.truncated && m2.edns != nil)
        let (m3, r3) = try #require(answer(query(name, edns: 100), zone))
        #expect(m3.truncated && r3.bytes.count <= 512)
        // TCP: the whole RRset.
        let (t, tr) = try #require(answer(query(name), zone, .tcp))
        #expect(tr.outcome == .answer && !t.truncated && t.answers.count == 4)
        // An advertised 65535 is capped at 1232.
        let (_, big) = try #require(answer(query(name, edns: 65535), zone))
        #expect(big.bytes.count <= 1232)
    }

    @Test func negativeAnswers() throws {
        let p = publication(packs: 3, firstN: 1000)
        let zone = p.zone()
        func outcome(_ name: String, _ type: DNSType = .txt) throws -> (DNSMessage, DNSAuthority.Outcome) {
            let (m, r) = try #require(answer(query(name, type), zone))
            return (m, r.outcome)
        }
        let (nx, o1) = try outcome("nothing.music.example.com")
        #expect(o1 == .nxdomain && nx.rcode == 3 && nx.authoritative && nx.answers.isEmpty)
        let soa = try #require(nx.authorities.first)
        #expect(soa.type == .soa && soa.ttl == 1)
        guard case let .unknown(_, rdata) = soa.data else { Issue.record("SOA RDATA"); return }
        #expect(try DNSSOA(rdata: rdata).minimum == 1)
        let (nd, o2) = try outcome("head.music.example.com", .aaaa)
        #expect(o2 == .nodata && nd.rcode == 0 && nd.answers.isEmpty && nd.authorities.count == 1)
        // The epoch label is an empty non-terminal; the next pack may exist soon; an expired one never again.
        #expect(try outcome("0badcafe.music.example.com").1 == .nodata)
        #expect(try outcome(p.names.seq(p.nextN).description).1 == .nodata)
        #expect(try outcome(p.names.seq(p.nextN + 5, epoch: 0x0badcafe).description).1 == .nodata)
        #expect(try outcome(p.names.seq(p.nextN, epoch: 0x12345678).description).1 == .nxdomain)
        #expect(try outcome(p.names.seq(p.packs[0].n - 1).description).1 == .nxdomain)
        // SOA at the apex.
        let (s, o3) = try outcome("music.example.com", .soa)
        #expect(o3 == .answer && s.answers.first?.type == .soa && s.authorities.isEmpty)
    }

    @Test func refusals() throws {
        let zone = publication(packs: 1).zone()
        let (any, r1) = try #require(answer(query("sequence.music.example.com", .any), zone))
        #expect(r1.outcome == .minimalANY && any.answers.count == 1 && any.answers[0].type == DNSType(13))
        #expect(r1.bytes.count < 100)
        let (out, r2) = try #require(answer(query("www.example.org"), zone))
        #expect(r2.outcome == .refused && out.rcode == 5 && !out.authoritative && out.answers.isEmpty)
        #expect(try #require(answer(query("example.com"), zone)).1.outcome == .refused)
        #expect(try #require(answer(query("xmusic.example.com"), zone)).1.outcome == .refused)   // label-aware
        #expect(try #require(answer(query("music.example.com", DNSType(252)), zone, .tcp)).1.outcome == .refused)
        // CHAOS class, opcode NOTIFY, EDNS version 1.
        var chaos = DNSMessage(id: 9, questions: [DNSQuestion(name: zoneName, type: .txt, qclass: .chaos)])
        #expect(try #require(answer(chaos.encode(), zone)).1.outcome == .refused)
        chaos.questions[0].qclass = .internet
        chaos.opcode = 4
        let (n, r3) = try #require(answer(chaos.encode(), zone))
        #expect(r3.outcome == .notimp && n.rcode == 4)
        var v1 = DNSMessage(id: 9, questions: [DNSQuestion(name: zoneName, type: .txt)])
        v1.edns = EDNS(udpPayloadSize: 1232, version: 1)
        let (bv, r4) = try #require(answer(v1.encode(), zone))
        #expect(r4.outcome == .badvers && bv.fullRCode == 16 && bv.edns?.version == 0)
    }

    @Test func malformedQueries() throws {
        let zone = publication(packs: 1).zone()
        func formerr(_ q: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
            guard case let .success(r) = DNSAuthority.respond(to: q, zone: zone, transport: .udp) else {
                Issue.record("dropped", sourceLocation: sourceLocation); return
            }
            #expect(r.outcome == .formerr, sourceLocation: sourceLocation)
            #expect(r.bytes.count == 12 && r.bytes[0] == q[0] && r.bytes[1] == q[1], sourceLocation: sourceLocation)
            #expect(r.bytes[3] & 0x0F == 1 && r.bytes[2] & 0x80 != 0, sourceLocation: sourceLocation)
        }
        let good = query("sequence.music.example.com")
        // Truncated anywhere after the header.
        for cut in 12..<good.count { formerr(Array(good[0..<cut])) }
        // No question; two questions.
        formerr(hex("abcd 0100 0000 0000 0000 0000"))
        let two = DNSMessage(id: 1, questions: [DNSQuestion(name: zoneName, type: .txt), DNSQuestion(name: zoneName, type: .a)])
        formerr(two.encode())
        // A compression pointer to itself, and a two-pointer loop.
        formerr(hex("0001 0000 0001 0000 0000 0000 c00c 0010 0001"))
        formerr(hex("0001 0000 0001 0000 0000 0000 01 61 c011 0010 0001 c00c"))
        // Huge counts.
        formerr(hex("0001 0000 ffff ffff ffff ffff 00 0010 0001"))
        formerr(Array(good[0..<4]) + [0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff] + Array(good[12...]))
        // Shorter than a header, and responses: dropped.
        #expect(DNSAuthority.respond(to: [1, 2, 3], zone: zone, transport: .udp) == .failure(.shortHeader))
        #expect(DNSAuthority.respond(to: [], zone: zone, transport: .udp) == .failure(.shortHeader))
        var resp = good; resp[2] |= 0x80
        #expect(DNSAuthority.respond(to: resp, zone: zone, transport: .udp) == .failure(.response))
        // Trailing junk after a valid question is ignored (byte-exact parsing, nothing stripped).
        #expect(try #require(answer(good + [0x20, 0x0a], zone)).1.outcome == .answer)
        // IDs and EDNS bytes that the original's .strip() corrupted (aodns.md F1).
        for id: UInt16 in [0x2034, 0x0934, 0x0a0a, 0x200d] {
            let (m, r) = try #require(answer(query("sequence.music.example.com", id: id, edns: 1232), zone))
            #expect(r.outcome == .answer && m.id == id)
        }
    }

    @Test func slipIsMinimal() throws {
        let p = publication(packs: 2)
        let (m, r) = try #require(answer(query(p.names.seq(p.packs[0].n).description, edns: 1232), p.zone(), slip: true))
        #expect(r.outcome == .slipped && m.truncated && m.answers.isEmpty && r.bytes.count < 80)
    }

    @Test func floodSlipWithoutParsing() throws {
        let q = query("SEQ_1.music.example.com", id: 0xbeef, edns: 1232)
        let slip = try #require(q.withUnsafeBytes { DNSAuthority.minimalTruncated($0) })
        let m = try DNSMessage.decode(slip)
        #expect(m.id == 0xbeef && m.isResponse && m.truncated && m.recursionDesired && m.answers.isEmpty && m.edns == nil)
        #expect(m.questions.first?.name.description == "SEQ_1.music.example.com.")
        #expect(Array(slip[12...]) == Array(q[12..<slip.count]))
        for bad in [[UInt8](), Array(q.prefix(16)), hex("0001 0000 0002 0000 0000 0000 00 0010 0001"),
                    hex("0001 0000 0001 0000 0000 0000 c00c 0010 0001"), hex("0001 8000 0001 0000 0000 0000 00 0010 0001")] {
            #expect(bad.withUnsafeBytes { DNSAuthority.minimalTruncated($0) } == nil)
        }
        var g = XorShift(9)
        for _ in 0..<5000 { _ = g.bytes(g.below(40)).withUnsafeBytes { DNSAuthority.minimalTruncated($0) } }
    }

    @Test func fuzzNeverTraps() {
        let zone = publication(packs: 3).zone()
        var g = XorShift(42)
        let seeds = [query("sequence.music.example.com", edns: 1232), query("seq_1.music.example.com"),
                     query("head.music.example.com", .any)]
        for i in 0..<20000 {
            var q: [UInt8]
            if i % 3 == 0 {
                q = g.bytes(g.below(80))
            } else {
                q = seeds[g.below(seeds.count)]
                for _ in 0..<(1 + g.below(4)) where !q.isEmpty { q[g.below(q.count)] = g.byte() }
                if g.below(4) == 0 { q = Array(q.prefix(g.below(q.count + 1))) }
            }
            if case let .success(r) = DNSAuthority.respond(to: q, zone: zone, transport: g.below(2) == 0 ? .udp : .tcp) {
                #expect(r.bytes.count >= 12)
                if r.bytes.count > 1232 { #expect(Bool(false), "oversize answer to fuzzed query") }
            }
        }
    }
}

@Suite("rate limiter")
struct RateLimiterTests {
    @Test func burstThenSlipAndDrop() {
        var rl = DNSRateLimiter(config: .init(responsesPerSecond: 10, burst: 20, slipEvery: 2, maxSources: 8))
        let a = DNSRateLimiter.key(ipv4: 0x7F00_0001), b = DNSRateLimiter.key(ipv4: 0x7F00_0002)
        var decisions: [DNSRateLimiter.Decision] = []
        for _ in 0..<40 { decisions.append(rl.decide(source: a, now: 1_000_000_000)) }
        #expect(decisions.prefix(20).allSatisfy { $0 == .answer })
        #expect(decisions.suffix(20).filter { $0 == .slip }.count == 10)
        #expect(decisions.suffix(20).filter { $0 == .drop }.count == 10)
        // Another source is not affected.
        #expect(rl.decide(source: b, now: 1_000_000_000) == .answer)
        // 0.5 s later, 5 tokens are back.
        let later = (0..<8).map { _ in rl.decide(source: a, now: 1_500_000_000) }
        #expect(later.filter { $0 == .answer }.count == 5)
    }

    @Test func memoryIsBounded() {
        var rl = DNSRateLimiter(config: .init(responsesPerSecond: 10, burst: 10, slipEvery: 0, maxSources: 100))
        var now: UInt64 = 1_000_000_000
        for i in 0..<100_000 {
            _ = rl.decide(source: UInt64(i), now: now)
            now += 10_000
        }
        #expect(rl.trackedSources <= 101)
        // Overflow sources share one bucket: a spoofed flood from many addresses is limited too.
        var answered = 0
        for i in 0..<1000 where rl.decide(source: UInt64(500_000 + i), now: now) == .answer { answered += 1 }
        #expect(answered < 1000)
        #expect(DNSRateLimiter(config: .init(responsesPerSecond: 0)).config.responsesPerSecond == 0)
        var off = DNSRateLimiter(config: .init(responsesPerSecond: 0))
        #expect((0..<1000).allSatisfy { _ in off.decide(source: 1, now: 1) == .answer })
    }
}
