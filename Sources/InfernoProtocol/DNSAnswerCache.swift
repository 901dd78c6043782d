/// A small answer cache in front of `DNSAuthority.respond(to:zone:transport:)`, byte-identical to it, for one
/// serving thread (a value type: no locks; each thread owns its own).
///
/// A hit skips decoding, the zone lookup and encoding: the response is the query's id, the cached flags (with RD
/// and CD echoed from the query, as the slow path does), the cached counts, the query's own question bytes
/// verbatim (so 0x20 case randomisation is echoed) and the cached bytes after the question.
///
/// Why reusing the bytes after the question is exact: the slow path writes the question first, then records whose
/// owner names are the question name or its apex suffix *in the query's spelling* (the compressor finds them in
/// the question and writes a pointer at an offset fixed by the label lengths alone), then RDATA. RDATA without
/// names (A, AAAA, TXT, SOA and other raw RDATA) is copied as is. RDATA with names (PTR, CNAME, NS, SRV, NSEC) is
/// written in the zone's spelling and may or may not compress into the question depending on its case, so such
/// answers are reused only for exactly the same question bytes. The size limit (and thus TC) depends only on the
/// lengths, which are the same for every spelling.
///
/// * Key: the question with the name folded to lower case (ASCII), QTYPE and QCLASS as sent, whether the query had
///   an OPT record, and the size limit (transport, EDNS payload size and `policy`).
/// * Only for a well-formed query with QR=0, opcode QUERY, one question with an uncompressed name, no answer or
///   authority records, and either no additional record or exactly one OPT (root owner written as one zero byte,
///   version 0, well-formed options). Everything else goes to the slow path unchanged.
/// * Only positive answers and NODATA for names the zone holds (RRsets or empty non-terminals) are stored, never
///   NXDOMAIN, `mayExist` NODATA, REFUSED, ANY, TC or errors; so a flood of random names does not fill it, and
///   at `capacity` entries it is emptied before the next insertion.
/// * Tied to the zone's contents: any change to a `DNSZone` (`set`, `soa`, `soaTTL`, `mayExist`) gives it a new
///   generation, and a query against another generation than the cache's empties the cache first.
public struct DNSAnswerCache {
    public let policy: DNSAuthority.Policy
    public let capacity: Int
    /// Answers served from the cache / queries that took the slow path (for tests and counters).
    public private(set) var hits = 0
    public private(set) var misses = 0

    struct Entry {
        /// Response flags without RD and CD.
        var flags: UInt16
        var an: UInt16, ns: UInt16, ar: UInt16
        /// Everything after the question.
        var tail: [UInt8]
        var outcome: DNSAuthority.Outcome
        /// The question name as sent, when the answer is valid only for this spelling.
        var exactName: [UInt8]?
    }

    private var generation: DNSZone.Generation?
    private var entries: [[UInt8]: Entry] = [:]
    /// The key being looked up, reused from query to query.
    private var scratch: [UInt8] = []

    public init(capacity: Int = 4096, policy: DNSAuthority.Policy = DNSAuthority.Policy()) {
        self.capacity = max(1, capacity)
        self.policy = policy
        scratch.reserveCapacity(DNSName.maxWireLength + 16)
    }

    public var count: Int { entries.count }

    /// Same result as `DNSAuthority.respond(to: query, zone: zone, transport: transport, policy: policy)`.
    public mutating func respond(to query: [UInt8], zone: DNSZone,
                                 transport: DNSAuthority.Transport) -> Result<DNSAuthority.Response, DNSAuthority.Drop> {
        query.withUnsafeBytes { respond(to: $0, zone: zone, transport: transport, array: query) }
    }

    /// The same from raw bytes (a receive buffer): copied into an array only on a miss.
    public mutating func respond(to query: UnsafeRawBufferPointer, zone: DNSZone,
                                 transport: DNSAuthority.Transport) -> Result<DNSAuthority.Response, DNSAuthority.Drop> {
        respond(to: query, zone: zone, transport: transport, array: nil)
    }

    private mutating func respond(to q: UnsafeRawBufferPointer, zone: DNSZone, transport: DNSAuthority.Transport,
                                  array: [UInt8]?) -> Result<DNSAuthority.Response, DNSAuthority.Drop> {
        if generation !== zone.generation {
            entries.removeAll(keepingCapacity: true)
            generation = zone.generation
        }
        guard let qEnd = makeKey(q, transport: transport) else {
            misses += 1
            return DNSAuthority.respond(to: array ?? Array(q), zone: zone, transport: transport, policy: policy)
        }
        let nameEnd = qEnd - 4
        if let e = entries[scratch], e.exactName.map({ Self.equal($0, at: 0, q, 12..<nameEnd) }) ?? true {
            hits += 1
            let qLen = qEnd - 12
            let flags = e.flags | (UInt16(q[2]) << 8 | UInt16(q[3])) & 0x0110
            let bytes = [UInt8](unsafeUninitializedCapacity: qEnd + e.tail.count) { out, n in
                out[0] = q[0]; out[1] = q[1]
                out[2] = UInt8(flags >> 8); out[3] = UInt8(flags & 0xFF)
                out[4] = 0; out[5] = 1
                out[6] = UInt8(e.an >> 8); out[7] = UInt8(e.an & 0xFF)
                out[8] = UInt8(e.ns >> 8); out[9] = UInt8(e.ns & 0xFF)
                out[10] = UInt8(e.ar >> 8); out[11] = UInt8(e.ar & 0xFF)
                let base = out.baseAddress!
                (base + 12).initialize(from: q.baseAddress!.assumingMemoryBound(to: UInt8.self) + 12, count: qLen)
                e.tail.withUnsafeBufferPointer { t in
                    if t.count > 0 { (base + qEnd).initialize(from: t.baseAddress!, count: t.count) }
                }
                n = qEnd + e.tail.count
            }
            return .success(DNSAuthority.Response(bytes: bytes, outcome: e.outcome))
        }
        misses += 1
        let query = array ?? Array(q)
        let (result, hint) = DNSAuthority.respondForCache(to: query, zone: zone, transport: transport, policy: policy)
        guard case .success(let r) = result, hint != .none, r.bytes.count >= qEnd,
              r.bytes[4] == 0, r.bytes[5] == 1, Self.equal(r.bytes, at: 12, q, 12..<qEnd) else { return result }
        let b = r.bytes
        let entry = Entry(flags: (UInt16(b[2]) << 8 | UInt16(b[3])) & ~0x0110,
                          an: UInt16(b[6]) << 8 | UInt16(b[7]), ns: UInt16(b[8]) << 8 | UInt16(b[9]),
                          ar: UInt16(b[10]) << 8 | UInt16(b[11]), tail: Array(b[qEnd...]), outcome: r.outcome,
                          exactName: hint == .exactSpelling ? Array(q[12..<nameEnd]) : nil)
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[scratch] = entry
        return result
    }

    /// `a[at..<(at + range.count)] == q[range]`.
    private static func equal(_ a: [UInt8], at: Int, _ q: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard a.count - at >= range.count else { return false }
        for i in range where a[at + i - range.lowerBound] != q[i] { return false }
        return true
    }

    /// Validates the query as the cache requires and writes its key into `scratch`. Returns the offset just after
    /// the question, or nil (slow path).
    private mutating func makeKey(_ q: UnsafeRawBufferPointer, transport: DNSAuthority.Transport) -> Int? {
        let n = q.count
        guard n >= 17, q[2] & 0xF8 == 0,                       // QR=0, opcode QUERY
              q[4] == 0, q[5] == 1, q[6] == 0, q[7] == 0, q[8] == 0, q[9] == 0, q[10] == 0, q[11] <= 1
        else { return nil }
        scratch.removeAll(keepingCapacity: true)
        var i = 12
        var wire = 1
        while true {
            guard i < n else { return nil }
            let len = Int(q[i])
            if len == 0 { break }
            guard len <= 63 else { return nil }               // pointers and extended label types: slow path
            wire += len + 1
            guard wire <= DNSName.maxWireLength, n - (i + 1) >= len else { return nil }
            scratch.append(UInt8(len))
            for k in (i + 1)...(i + len) { scratch.append(DNSName.fold(q[k])) }
            i += 1 + len
        }
        let qEnd = i + 5
        guard qEnd <= n else { return nil }
        scratch.append(0)
        for k in (i + 1)..<qEnd { scratch.append(q[k]) }
        var hasOPT = false
        var payload = 0
        if q[11] == 1 {
            // Exactly one OPT: root owner, type 41, version 0, options that fill RDLENGTH exactly.
            let p = qEnd
            guard n - p >= 11, q[p] == 0, q[p + 1] == 0, q[p + 2] == 41, q[p + 6] == 0 else { return nil }
            payload = Int(q[p + 3]) << 8 | Int(q[p + 4])
            let start = p + 11
            let end = start + (Int(q[p + 9]) << 8 | Int(q[p + 10]))
            guard end <= n else { return nil }
            var o = start
            while o < end {
                guard end - o >= 4 else { return nil }
                let len = Int(q[o + 2]) << 8 | Int(q[o + 3])
                guard end - (o + 4) >= len else { return nil }
                o += 4 + len
            }
            hasOPT = true
        }
        let limit: Int
        switch transport {
        case .tcp: limit = 0xFFFF
        case .udp: limit = hasOPT ? min(policy.maxUDPSize, max(512, payload)) : 512
        }
        let l = UInt32(clamping: limit)
        scratch.append(hasOPT ? 1 : 0)
        scratch.append(UInt8(l >> 24)); scratch.append(UInt8((l >> 16) & 0xFF))
        scratch.append(UInt8((l >> 8) & 0xFF)); scratch.append(UInt8(l & 0xFF))
        return qEnd
    }
}
