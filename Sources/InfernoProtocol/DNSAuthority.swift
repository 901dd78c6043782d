/// An authoritative-only DNS answerer for one zone, sans I/O: query bytes (+ transport) in, response bytes or a
/// drop out. Never recursive; answers only for its zone.
///
/// * Parsing is byte-exact (no stripping of any kind); malformed queries with a readable header get FORMERR,
///   shorter ones and responses (QR=1) are dropped.
/// * Names match ASCII case-insensitively; the question and every owner name are echoed in the query's own
///   spelling, so 0x20 case randomisation (unbound `use-caps-for-id`) works.
/// * EDNS0: an OPT in the query is answered with an OPT (payload size `ednsPayloadSize`, version 0); the UDP answer
///   is bounded by the requester's size (512 without OPT) and by `maxUDPSize`; an answer that does not fit is sent
///   as TC=1 with empty answer and authority sections, so the client retries over TCP. Version > 0 → BADVERS.
/// * NXDOMAIN for names that do not exist (and that `DNSZone.mayExist` does not claim), NODATA for names that do
///   (including empty non-terminals, RFC 8020) but lack the type; both carry the SOA, whose TTL and MINIMUM make
///   the negative-caching time (RFC 2308).
/// * QTYPE ANY gets the minimal RFC 8482 answer (one synthesized HINFO "RFC8482" ""); AXFR/IXFR/MAILA/MAILB and
///   names outside the zone get REFUSED; opcodes other than QUERY get NOTIMP; classes other than IN get REFUSED.
public enum DNSAuthority {
    public enum Transport: Sendable { case udp, tcp }

    /// What happened to one query (for counters and tests).
    public enum Outcome: Equatable, Sendable {
        case answer, nodata, nxdomain, refused, formerr, notimp, badvers, minimalANY
        /// UDP answer too large for the requester: TC=1, empty sections.
        case truncated
        /// Rate-limited: TC=1, empty sections (RRL "slip").
        case slipped
    }

    public enum Drop: Error, Equatable, Sendable {
        /// Fewer than 12 bytes: not even an id to answer to.
        case shortHeader
        /// QR=1: responses are never answered (no loops, no reflection).
        case response
    }

    public struct Policy: Sendable {
        /// Largest UDP answer ever sent, whatever the requester advertises (DNS Flag Day 2020: 1232).
        public var maxUDPSize = 1232
        /// The payload size advertised in our OPT.
        public var ednsPayloadSize: UInt16 = 1232
        /// TTL of the RFC 8482 HINFO answer to ANY.
        public var anyTTL: UInt32 = 60
        public init() {}
    }

    public struct Response: Equatable, Sendable {
        public var bytes: [UInt8]
        public var outcome: Outcome
    }

    /// Answers `query` from `zone`. `slip` (from a rate limiter) turns any answer into a minimal TC=1 response.
    public static func respond(to query: [UInt8], zone: DNSZone, transport: Transport, slip: Bool = false,
                               policy: Policy = Policy()) -> Result<Response, Drop> {
        guard query.count >= DNSMessage.headerSize else { return .failure(.shortHeader) }
        if query[2] & 0x80 != 0 { return .failure(.response) }
        var hint = CacheHint.none
        return .success(build(query, zone: zone, transport: transport, slip: slip, policy: policy, hint: &hint))
    }

    /// Whether an answer may be reused by `DNSAnswerCache` for another query with the same question (names
    /// compared case-insensitively), EDNS presence and size limit.
    enum CacheHint {
        /// Not reusable (slip, TC, error, REFUSED, ANY, NXDOMAIN, or NODATA that came from `DNSZone.mayExist`).
        case none
        /// Reusable for any spelling of the name: every name after the question is either the question name or
        /// its apex suffix in the query's own spelling (written as pointers into the question at offsets that
        /// depend only on label lengths), and all RDATA is name-free raw bytes.
        case anySpelling
        /// Reusable only for exactly the same spelling: some RDATA holds a name (PTR, CNAME, NS, SRV, NSEC) in the
        /// zone's spelling, which the encoder may or may not compress into the question depending on its case.
        case exactSpelling
    }

    /// The slow path with the cache hint, for `DNSAnswerCache`.
    static func respondForCache(to query: [UInt8], zone: DNSZone, transport: Transport,
                                policy: Policy) -> (Result<Response, Drop>, CacheHint) {
        guard query.count >= DNSMessage.headerSize else { return (.failure(.shortHeader), .none) }
        if query[2] & 0x80 != 0 { return (.failure(.response), .none) }
        var hint = CacheHint.none
        let r = build(query, zone: zone, transport: transport, slip: false, policy: policy, hint: &hint)
        return (.success(r), hint)
    }

    /// A rate-limited "slip" built straight from the query bytes, without decoding the message: header (id,
    /// opcode and RD echoed, QR, TC), the one question copied verbatim, no other sections. nil (drop) unless the
    /// query has exactly one question with an uncompressed name. Cheap enough for a flood.
    public static func minimalTruncated(_ q: UnsafeRawBufferPointer) -> [UInt8]? {
        guard q.count >= 17, q[2] & 0x80 == 0, q[4] == 0, q[5] == 1 else { return nil }
        var i = 12
        while true {
            guard i < q.count else { return nil }
            let len = Int(q[i])
            if len == 0 { break }
            guard len <= 63 else { return nil }
            i += 1 + len
        }
        let end = i + 1 + 4
        guard end <= q.count, end - 12 <= DNSName.maxWireLength + 4 else { return nil }   // name ≤ 255 octets
        var out = [UInt8](repeating: 0, count: end)
        out[0] = q[0]; out[1] = q[1]
        out[2] = 0x80 | (q[2] & 0x79) | 0x02          // QR, opcode and RD echoed, TC
        out[3] = 0
        out[5] = 1
        for k in 12..<end { out[k] = q[k] }
        return out
    }

    private static func build(_ query: [UInt8], zone: DNSZone, transport: Transport, slip: Bool,
                              policy: Policy, hint: inout CacheHint) -> Response {
        let id = UInt16(query[0]) << 8 | UInt16(query[1])
        let flags = UInt16(query[2]) << 8 | UInt16(query[3])
        let opcode = UInt8((flags >> 11) & 0xF)

        func headerOnly(rcode: UInt8) -> Response {
            var m = DNSMessage(id: id, flags: 0)
            m.isResponse = true
            m.opcode = opcode
            m.recursionDesired = flags & 0x0100 != 0
            m.rcode = rcode
            return Response(bytes: m.encode(), outcome: rcode == 4 ? .notimp : .formerr)
        }

        let q: DNSMessage
        do { q = try DNSMessage.decode(query) } catch { return headerOnly(rcode: 1) }
        guard q.questions.count == 1 else { return headerOnly(rcode: 1) }
        let question = q.questions[0]

        var r = DNSMessage(id: id, flags: 0, questions: [question])
        r.isResponse = true
        r.opcode = opcode
        r.recursionDesired = q.recursionDesired
        r.checkingDisabled = q.checkingDisabled
        if q.edns != nil { r.edns = EDNS(udpPayloadSize: policy.ednsPayloadSize) }

        let limit: Int
        switch transport {
        case .tcp: limit = 0xFFFF
        case .udp:
            if let e = q.edns { limit = min(policy.maxUDPSize, max(512, Int(e.udpPayloadSize))) } else { limit = 512 }
        }

        func finish(_ outcome: Outcome) -> Response {
            if slip {
                var s = r
                s.answers = []; s.authorities = []; s.additionals = []
                s.truncated = true
                return Response(bytes: s.encode(maxSize: limit).bytes, outcome: .slipped)
            }
            let (bytes, tc) = r.encode(maxSize: limit)
            if !tc { return Response(bytes: bytes, outcome: outcome) }
            var t = r
            t.answers = []; t.authorities = []; t.additionals = []
            t.truncated = true
            return Response(bytes: t.encode(maxSize: limit).bytes, outcome: .truncated)
        }

        if opcode != 0 { r.rcode = 4; return finish(.notimp) }
        /// A positive answer or NODATA for a name the zone itself holds (never `mayExist`), unless TC or slip.
        func cacheable(_ outcome: Outcome) -> Response {
            let resp = finish(outcome)
            guard !slip, resp.outcome == .answer || resp.outcome == .nodata else { return resp }
            var names = false
            for rec in r.answers {
                switch rec.data {
                case .ptr, .cname, .ns, .srv, .nsec: names = true
                case .a, .aaaa, .txt, .unknown: break
                }
            }
            hint = names ? .exactSpelling : .anySpelling
            return resp
        }
        if let e = q.edns, e.version != 0 {
            r.edns = EDNS(udpPayloadSize: policy.ednsPayloadSize, extendedRCode: 1)   // BADVERS = 16
            r.rcode = 0
            return finish(.badvers)
        }
        guard !question.unicastResponse, question.qclass == .internet || question.qclass == .any else {
            r.rcode = 5; return finish(.refused)
        }
        guard question.name.isSubdomain(of: zone.apex) else { r.rcode = 5; return finish(.refused) }
        if (251...254).contains(question.type.rawValue) { r.rcode = 5; return finish(.refused) }

        r.authoritative = true
        let qname = question.name
        // The apex as the query spelled it, so the SOA's owner compresses into the question.
        let apexSpelled = (try? DNSName(labels: Array(qname.labels.suffix(zone.apex.labels.count)))) ?? zone.apex
        let soa = DNSRecord(name: apexSpelled, ttl: zone.soaTTL, data: zone.soa.rdata)

        let key = qname.key
        guard let node = zone.nodes[key] else {
            if zone.isEmptyNonTerminal(key) {
                r.authorities = [soa]
                return cacheable(.nodata)
            }
            if zone.mayExist?(qname) == true {
                r.authorities = [soa]
                return finish(.nodata)
            }
            r.rcode = 3
            r.authorities = [soa]
            return finish(.nxdomain)
        }
        if question.type == .any {
            r.answers = [DNSRecord(name: qname, ttl: policy.anyTTL,
                                   data: .unknown(type: DNSType(13), data: [7] + Array("RFC8482".utf8) + [0]))]
            return finish(.minimalANY)
        }
        let type = question.type
        if type == .soa && key == zone.apex.key {
            r.answers = [soa]
            return cacheable(.answer)
        }
        guard let set = node[type] else {
            r.authorities = [soa]
            return cacheable(.nodata)
        }
        r.answers = set.data.map { DNSRecord(name: qname, ttl: set.ttl, data: $0) }
        return cacheable(.answer)
    }
}

/// One RRset: a TTL and its RDATAs, in order.
public struct DNSRRSet: Hashable, Sendable {
    public var ttl: UInt32
    public var data: [DNSRData]
    public init(ttl: UInt32, data: [DNSRData]) { self.ttl = ttl; self.data = data }
}

/// SOA RDATA (RFC 1035 §3.3.13). Names are written uncompressed.
public struct DNSSOA: Hashable, Sendable {
    public var mname: DNSName
    public var rname: DNSName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// Negative-caching TTL bound (RFC 2308).
    public var minimum: UInt32

    public init(mname: DNSName, rname: DNSName, serial: UInt32, refresh: UInt32 = 3600, retry: UInt32 = 600,
                expire: UInt32 = 86400, minimum: UInt32) {
        self.mname = mname; self.rname = rname; self.serial = serial
        self.refresh = refresh; self.retry = retry; self.expire = expire; self.minimum = minimum
    }

    public var rdata: DNSRData {
        var w = WireWriter(capacity: mname.wireLength + rname.wireLength + 20)
        for n in [mname, rname] {
            for l in n.labels { w.u8(UInt8(l.count)); w.append(l) }
            w.u8(0)
        }
        for v in [serial, refresh, retry, expire, minimum] { w.u32(v) }
        return .unknown(type: .soa, data: w.bytes)
    }

    /// Parses SOA RDATA whose names are uncompressed (as in `.unknown(type: .soa, …)` from a decoded message only
    /// when the sender did not compress them).
    public init(rdata: [UInt8]) throws(WireError) {
        guard rdata.count >= 22 else { throw .truncated(offset: 0, needed: 22, available: rdata.count) }
        var pos = 0
        func name() throws(WireError) -> DNSName {
            var labels: [[UInt8]] = []
            while true {
                guard pos < rdata.count else { throw .truncated(offset: pos, needed: 1, available: 0) }
                let len = Int(rdata[pos])
                if len == 0 { pos += 1; break }
                guard len <= 63 else { throw .dnsLabelTooLong(length: len) }
                guard rdata.count - pos - 1 >= len else {
                    throw .truncated(offset: pos + 1, needed: len, available: rdata.count - pos - 1)
                }
                labels.append(Array(rdata[(pos + 1)..<(pos + 1 + len)]))
                pos += 1 + len
            }
            return try DNSName(labels: labels)
        }
        mname = try name()
        rname = try name()
        let r = WireReader(rdata)
        serial = try r.u32(at: pos); refresh = try r.u32(at: pos + 4); retry = try r.u32(at: pos + 8)
        expire = try r.u32(at: pos + 12); minimum = try r.u32(at: pos + 16)
    }
}

/// An immutable-once-built authoritative zone: apex, SOA, RRsets by case-insensitive owner name. Build a new one
/// and swap it in whole (the server never mutates a zone that is being read).
public struct DNSZone: Sendable {
    public let apex: DNSName
    public var soa: DNSSOA { didSet { generation = Generation() } }
    public var soaTTL: UInt32 { didSet { generation = Generation() } }
    public private(set) var nodes: [DNSName.Key: [DNSType: DNSRRSet]] = [:]
    /// Ancestors of owner names below the apex that own nothing themselves (RFC 8020: they exist, NODATA).
    public private(set) var emptyNonTerminals: Set<DNSName.Key> = []
    /// Names that do not exist now but may later (answered NODATA rather than NXDOMAIN).
    public var mayExist: (@Sendable (DNSName) -> Bool)? { didSet { generation = Generation() } }

    /// The identity of this zone's contents: a fresh object on every change, shared by unchanged copies.
    /// `DNSAnswerCache` keeps a strong reference to the one it was filled from (so the address cannot be reused)
    /// and drops everything when the zone it is given carries another.
    final class Generation: Sendable { init() {} }
    private(set) var generation = Generation()

    public init(apex: DNSName, soa: DNSSOA, soaTTL: UInt32) {
        self.apex = apex; self.soa = soa; self.soaTTL = soaTTL
        nodes[apex.key] = [:]
    }

    /// Adds (replaces) the RRset `type` at `name`. Names outside the zone are ignored (returns false).
    @discardableResult
    public mutating func set(_ name: DNSName, _ type: DNSType, _ set: DNSRRSet) -> Bool {
        guard name.isSubdomain(of: apex) else { return false }
        generation = Generation()
        nodes[name.key, default: [:]][type] = set
        emptyNonTerminals.remove(name.key)
        var labels = name.labels
        while labels.count > apex.labels.count + 1 {
            labels.removeFirst()
            let parent = DNSName(unchecked: labels).key
            if nodes[parent] == nil { emptyNonTerminals.insert(parent) }
        }
        return true
    }

    public func rrset(_ name: DNSName, _ type: DNSType) -> DNSRRSet? { nodes[name.key]?[type] }

    func isEmptyNonTerminal(_ key: DNSName.Key) -> Bool { emptyNonTerminals.contains(key) }
}

/// Response rate limiting per source (a pure state machine): a token bucket per source address, so the server
/// cannot be used as an amplifier against a spoofed victim. Over the limit, every `slipEvery`-th response is sent
/// as a minimal TC=1 answer (a real client retries over TCP), the others are dropped.
///
/// Memory is bounded: at most `maxSources` buckets; idle ones are purged, and when the table is full of active
/// sources the newcomers share one overflow bucket.
public struct DNSRateLimiter: Sendable {
    public struct Config: Sendable {
        /// Responses per second per source (0 = unlimited).
        public var responsesPerSecond: Int
        public var burst: Int
        /// Over the limit: 1 in `slipEvery` responses is a TC=1 slip (0 = drop all).
        public var slipEvery: Int
        public var maxSources: Int
        public init(responsesPerSecond: Int = 200, burst: Int = 400, slipEvery: Int = 2, maxSources: Int = 4096) {
            self.responsesPerSecond = responsesPerSecond; self.burst = max(1, burst)
            self.slipEvery = slipEvery; self.maxSources = max(1, maxSources)
        }
    }

    public enum Decision: Equatable, Sendable { case answer, slip, drop }

    struct Bucket { var tokens: Double; var last: UInt64; var suppressed: Int }

    public let config: Config
    private var buckets: [UInt64: Bucket] = [:]
    private var lastPurge: UInt64 = 0
    static let overflowKey = UInt64.max

    public init(config: Config = Config()) {
        self.config = config
        buckets.reserveCapacity(min(config.maxSources, 4096) + 1)
    }

    public var trackedSources: Int { buckets.count }

    /// A source key: the IPv4 address, or the first 64 bits of an IPv6 address (a /64).
    public static func key(ipv4: UInt32) -> UInt64 { UInt64(ipv4) }
    public static func key(ipv6 bytes: [UInt8]) -> UInt64 {
        var k: UInt64 = 1 << 63  // IPv4 keys stay below 2^32
        for b in bytes.prefix(8) { k = k &* 31 &+ UInt64(b) }
        return k | 1 << 63
    }

    /// Decides for one response to `source` at monotonic time `now` (nanoseconds).
    public mutating func decide(source: UInt64, now: UInt64) -> Decision {
        guard config.responsesPerSecond > 0 else { return .answer }
        var key = source
        if buckets[key] == nil && buckets.count >= config.maxSources {
            purge(now: now)
            if buckets.count >= config.maxSources { key = Self.overflowKey }
        }
        let rate = Double(config.responsesPerSecond)
        var b = buckets[key] ?? Bucket(tokens: Double(config.burst), last: now, suppressed: 0)
        let elapsed = now >= b.last ? Double(now - b.last) / 1e9 : 0
        b.tokens = min(Double(config.burst), b.tokens + elapsed * rate)
        b.last = now
        let decision: Decision
        if b.tokens >= 1 {
            b.tokens -= 1
            decision = .answer
        } else {
            b.suppressed &+= 1
            decision = config.slipEvery > 0 && b.suppressed % config.slipEvery == 0 ? .slip : .drop
        }
        buckets[key] = b
        return decision
    }

    /// Forgets buckets that are full again (idle long enough to have refilled), at most every 100 ms.
    mutating func purge(now: UInt64) {
        guard now &- lastPurge >= 100_000_000 || now < lastPurge else { return }
        lastPurge = now
        let refill = UInt64(Double(config.burst) / Double(config.responsesPerSecond) * 1e9)
        buckets = buckets.filter { now < $0.value.last || now - $0.value.last < refill }
    }
}
