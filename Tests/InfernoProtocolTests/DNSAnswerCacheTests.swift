import Testing
@testable import InfernoProtocol

/// `DNSAnswerCache` must answer byte for byte what `DNSAuthority.respond` answers, hit or miss.
private extension SplitMix64 {
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func bool() -> Bool { next() & 1 == 0 }
}

@Suite("DNS answer cache")
struct DNSAnswerCacheTests {
    static let apex = try! DNSName("Zone.example")

    /// A zone with every kind of answer: TXT (small and too large for 512), A, AAAA, names in RDATA (CNAME, NS,
    /// PTR, SRV), an empty non-terminal, and `mayExist` names.
    static func zone(ttl: UInt32 = 60, bigStrings: Int = 6, serial: UInt32 = 1) -> DNSZone {
        var z = DNSZone(apex: apex, soa: DNSSOA(mname: try! DNSName("ns.zone.example"),
                                                 rname: try! DNSName("hostmaster.zone.example"), serial: serial,
                                                 minimum: 5), soaTTL: 5)
        func n(_ s: String) -> DNSName { try! DNSName(s) }
        z.set(n("head.zone.example"), .txt, DNSRRSet(ttl: ttl, data: [.txt([Array("f=1;n=2".utf8)])]))
        z.set(n("big.zone.example"), .txt, DNSRRSet(ttl: ttl, data: (0..<bigStrings).map {
            .txt([[UInt8](repeating: UInt8(0x41 + $0), count: 200)])
        }))
        z.set(n("host.zone.example"), .a, DNSRRSet(ttl: ttl, data: [.a(0x0A00_0001), .a(0x0A00_0002)]))
        z.set(n("host.zone.example"), .aaaa, DNSRRSet(ttl: ttl, data: [.aaaa([UInt8](repeating: 1, count: 16))]))
        z.set(n("alias.zone.example"), .cname, DNSRRSet(ttl: ttl, data: [.cname(n("host.zone.example"))]))
        z.set(n("zone.example"), .ns, DNSRRSet(ttl: ttl, data: [.ns(n("ns.zone.example"))]))
        z.set(n("ns.zone.example"), .a, DNSRRSet(ttl: ttl, data: [.a(0x0A00_0035)]))
        z.set(n("ptr.zone.example"), .ptr, DNSRRSet(ttl: ttl, data: [.ptr(n("Host.Zone.Example"))]))
        z.set(n("_dns._udp.zone.example"), .srv, DNSRRSet(ttl: ttl, data: [
            .srv(priority: 0, weight: 0, port: 53, target: n("ns.zone.example"))]))
        z.set(n("leaf.ent.zone.example"), .txt, DNSRRSet(ttl: ttl, data: [.txt([Array("leaf".utf8)])]))
        z.mayExist = { name in name.labels.first.map { $0.starts(with: Array("seq_".utf8)) } ?? false }
        return z
    }

    static let names = ["head", "big", "host", "alias", "", "ns", "ptr", "_dns._udp", "leaf.ent", "ent", "nothing",
                        "seq_9", "a.b.c.nothing", "host.other"].map { $0.isEmpty ? "zone.example" : $0 + ".zone.example" }
        + ["example", "other.test", "."]
    static let types: [UInt16] = [16, 1, 28, 5, 2, 12, 33, 6, 255, 252, 99, 47]

    /// `name` with each ASCII letter's case flipped at random.
    static func spell(_ name: String, _ g: inout SplitMix64) -> DNSName {
        if name == "." { return .root }
        let dn = try! DNSName(name)
        return try! DNSName(labels: dn.labels.map { l in
            l.map { b in (b >= 0x61 && b <= 0x7A && g.bool()) ? b - 0x20 : b }
        })
    }

    static func query(_ g: inout SplitMix64) -> [UInt8] {
        var flags: UInt16 = g.bool() ? 0x0100 : 0
        if g.int(4) == 0 { flags |= 0x0010 }          // CD
        if g.int(8) == 0 { flags |= 0x0020 }          // AD
        if g.int(16) == 0 { flags |= 0x0400 }         // AA (ignored)
        if g.int(16) == 0 { flags |= UInt16(g.int(16)) << 11 }   // another opcode
        var cls: UInt16 = 1
        switch g.int(20) { case 0: cls = 3; case 1: cls = 255; case 2: cls = 0x8001; default: break }
        let type = types[g.int(types.count)]
        var m = DNSMessage(id: UInt16(truncatingIfNeeded: g.next()), flags: flags, questions: [
            DNSQuestion(name: spell(names[g.int(names.count)], &g), type: DNSType(type), qclass: DNSClass(cls & 0x7FFF),
                        unicastResponse: cls & 0x8000 != 0)])
        if g.int(3) != 0 {
            let sizes: [UInt16] = [0, 511, 512, 513, 700, 1232, 1400, 4096, 65535]
            m.edns = EDNS(udpPayloadSize: sizes[g.int(sizes.count)], version: g.int(10) == 0 ? 1 : 0,
                          dnssecOK: g.bool(),
                          options: g.int(4) == 0 ? [EDNS.Option(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])] : [])
        }
        var bytes = m.encode()
        if g.int(10) == 0 { bytes += [0xDE, 0xAD] }    // trailing bytes (ignored)
        return bytes
    }

    static func check(_ cache: inout DNSAnswerCache, _ q: [UInt8], _ zone: DNSZone,
                      _ t: DNSAuthority.Transport) -> Bool {
        let slow = DNSAuthority.respond(to: q, zone: zone, transport: t)
        let fast = cache.respond(to: q, zone: zone, transport: t)
        let raw = q.withUnsafeBytes { cache.respond(to: $0, zone: zone, transport: t) }
        return fast == slow && raw == slow
    }

    @Test func cachedAnswersEqualTheSlowPathByteForByte() {
        var g = SplitMix64(seed: 1)
        var zone = Self.zone()
        var udp = DNSAnswerCache(), tcp = DNSAnswerCache()
        var mismatches = 0
        for i in 0..<20_000 {
            if i % 2_500 == 2_499 { zone = Self.zone(ttl: UInt32(60 + i), bigStrings: 2 + i % 7, serial: UInt32(i)) }
            let q = Self.query(&g)
            let t: DNSAuthority.Transport = g.int(4) == 0 ? .tcp : .udp
            if t == .udp { if !Self.check(&udp, q, zone, .udp) { mismatches += 1 } } else {
                if !Self.check(&tcp, q, zone, .tcp) { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(udp.hits > 5_000 && tcp.hits > 1_000)   // the cache is actually used
        #expect(udp.count <= udp.capacity)
    }

    @Test func damagedQueriesEqualTheSlowPath() {
        var g = SplitMix64(seed: 2)
        let zone = Self.zone()
        var cache = DNSAnswerCache()
        var mismatches = 0
        for _ in 0..<30_000 {
            var q = Self.query(&g)
            for _ in 0...g.int(3) {
                guard q.count > 12 else { break }
                switch g.int(4) {
                case 0: q[g.int(q.count)] = UInt8(truncatingIfNeeded: g.next())
                case 1: q.removeLast(min(q.count, 1 + g.int(8)))
                case 2: q[12 + g.int(min(q.count - 12, 20))] ^= UInt8(1 << g.int(8))
                default: q[4 + g.int(8)] = UInt8(g.int(3))
                }
            }
            let t: DNSAuthority.Transport = g.bool() ? .udp : .tcp
            // Twice: the second time may be a hit.
            if !Self.check(&cache, q, zone, t) || !Self.check(&cache, q, zone, t) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    /// The reason a tail can be reused for any spelling: the same question in another case gives the same bytes
    /// after the question (owner names are pointers into the question at offsets fixed by label lengths).
    @Test func tailsDoNotDependOnTheQuestionsCase() throws {
        let zone = Self.zone()
        for (name, type) in [("head.zone.example", 16), ("host.zone.example", 1), ("host.zone.example", 28),
                             ("host.zone.example", 16), ("ent.zone.example", 1), ("zone.example", 6),
                             ("big.zone.example", 16)] as [(String, UInt16)] {
            var tails: Set<[UInt8]> = []
            var g = SplitMix64(seed: UInt64(type))
            for k in 0..<16 {
                let spelled = k == 0 ? try DNSName(name) : Self.spell(name, &g)
                let m = DNSMessage(id: UInt16(k), flags: 0x0100,
                                   questions: [DNSQuestion(name: spelled, type: DNSType(type))],
                                   edns: EDNS(udpPayloadSize: 1232))
                let q = m.encode()
                guard case .success(let r) = DNSAuthority.respond(to: q, zone: zone, transport: .udp) else {
                    Issue.record("no answer"); continue
                }
                let qEnd = 12 + spelled.wireLength + 4
                #expect(Array(r.bytes[12..<qEnd]) == Array(q[12..<qEnd]))
                tails.insert(Array(r.bytes[qEnd...]))
            }
            #expect(tails.count == 1, "\(name) \(type)")
        }
    }

    /// Names in RDATA are written in the zone's spelling and compress into the question only when the case
    /// matches, so those answers are reused only for the same spelling; the cache still equals the slow path.
    @Test func namesInRDATAAreReusedOnlyForTheSameSpelling() throws {
        let zone = Self.zone()
        func q(_ name: String, _ type: DNSType, id: UInt16) throws -> [UInt8] {
            DNSMessage(id: id, questions: [DNSQuestion(name: try DNSName(name), type: type)]).encode()
        }
        let lower = try q("alias.zone.example", .cname, id: 1), upper = try q("ALIAS.ZONE.EXAMPLE", .cname, id: 2)
        guard case .success(let a) = DNSAuthority.respond(to: lower, zone: zone, transport: .udp),
              case .success(let b) = DNSAuthority.respond(to: upper, zone: zone, transport: .udp) else {
            Issue.record("no answer"); return
        }
        #expect(a.bytes.count != b.bytes.count)   // the target compressed only against the lower-case question
        var cache = DNSAnswerCache()
        for query in [lower, upper, upper, lower, lower, upper] {
            #expect(cache.respond(to: query, zone: zone, transport: .udp)
                    == DNSAuthority.respond(to: query, zone: zone, transport: .udp))
        }
        #expect(cache.hits == 2)
    }

    @Test func aZoneChangeIsNeverAnsweredFromTheOldZone() throws {
        var cache = DNSAnswerCache()
        let q = DNSMessage(id: 7, questions: [DNSQuestion(name: try DNSName("head.zone.example"), type: .txt)]).encode()
        let z1 = Self.zone(ttl: 10)
        _ = cache.respond(to: q, zone: z1, transport: .udp)
        _ = cache.respond(to: q, zone: z1, transport: .udp)
        #expect(cache.hits == 1 && cache.count == 1)
        // A copy is the same zone; changing it in any way makes another.
        let copy = z1
        #expect(cache.respond(to: q, zone: copy, transport: .udp) == DNSAuthority.respond(to: q, zone: z1, transport: .udp))
        #expect(cache.hits == 2)
        var changes: [DNSZone] = []
        var z = z1; z.set(try DNSName("head.zone.example"), .txt, DNSRRSet(ttl: 10, data: [.txt([[0x41]])])); changes.append(z)
        z = z1; z.soaTTL = 9; changes.append(z)
        z = z1; z.soa.serial = 2; changes.append(z)
        z = z1; z.mayExist = nil; changes.append(z)
        changes.append(Self.zone(ttl: 10))   // equal contents, built anew: still a new generation
        for (i, zz) in changes.enumerated() {
            let hits = cache.hits
            #expect(cache.respond(to: q, zone: zz, transport: .udp) == DNSAuthority.respond(to: q, zone: zz, transport: .udp), "\(i)")
            #expect(cache.hits == hits, "change \(i) was answered from the cache")
        }
        // Alternating between two zones: every answer matches its own zone.
        let z2 = Self.zone(ttl: 20)
        for k in 0..<10 {
            let zz = k % 2 == 0 ? z1 : z2
            #expect(cache.respond(to: q, zone: zz, transport: .udp) == DNSAuthority.respond(to: q, zone: zz, transport: .udp))
        }
    }

    @Test func sizeIsBounded() throws {
        let zone = Self.zone()
        var cache = DNSAnswerCache(capacity: 8)
        var g = SplitMix64(seed: 3)
        // Random names: NXDOMAIN or mayExist NODATA, never stored.
        for _ in 0..<2_000 {
            let label = (0..<8).map { _ in UInt8(0x61 + g.int(26)) }
            let name = try DNSName(labels: [g.bool() ? Array("seq_".utf8) + label : label] + Self.apex.labels)
            _ = cache.respond(to: DNSMessage(questions: [DNSQuestion(name: name, type: .txt)]).encode(),
                              zone: zone, transport: .udp)
        }
        #expect(cache.count == 0)
        // Random types at an existing name (NODATA): bounded by the capacity.
        for _ in 0..<2_000 {
            let q = DNSMessage(questions: [DNSQuestion(name: try DNSName("head.zone.example"),
                                                       type: DNSType(UInt16(truncatingIfNeeded: g.next() % 250)))]).encode()
            #expect(cache.respond(to: q, zone: zone, transport: .udp) == DNSAuthority.respond(to: q, zone: zone, transport: .udp))
            #expect(cache.count <= 8)
        }
    }
}
