/// A DNS message (RFC 1035 §4) as mDNS (RFC 6762) and a small authoritative server need it.
///
/// * The header flags are kept as the raw 16-bit word (`flags`) with typed accessors, so any header round-trips.
/// * The mDNS QU bit (questions) and cache-flush bit (records) are split out of the class.
/// * An OPT record in the additional section becomes `edns`; the encoder writes it last.
/// * Decoding validates every count, length and compression pointer and throws `WireError`; it never traps,
///   loops or allocates more than the datagram justifies.
/// * Encoding compresses owner names and the names inside PTR/CNAME/NS RDATA against every suffix written
///   before (exact spelling). SRV targets and NSEC next names are written uncompressed (RFC 2782 / RFC 4034
///   forbid compressing them in unicast DNS; mDNS decoders accept both), but later names may point into them.
/// * The encoder never fails: it writes at most 65,535 entries per section and truncates strings to their field
///   limits; a record whose RDATA would exceed 65,535 bytes is the caller's error (its RDLENGTH wraps).
public struct DNSMessage: Hashable, Sendable {
    public static let headerSize = 12

    public var id: UInt16
    public var flags: UInt16
    public var questions: [DNSQuestion]
    public var answers: [DNSRecord]
    public var authorities: [DNSRecord]
    public var additionals: [DNSRecord]
    public var edns: EDNS?

    public init(id: UInt16 = 0, flags: UInt16 = 0, questions: [DNSQuestion] = [], answers: [DNSRecord] = [],
                authorities: [DNSRecord] = [], additionals: [DNSRecord] = [], edns: EDNS? = nil) {
        self.id = id; self.flags = flags; self.questions = questions; self.answers = answers
        self.authorities = authorities; self.additionals = additionals; self.edns = edns
    }

    /// An mDNS query (id 0, no flags). Set `unicastResponse` on the questions for QU.
    public static func mdnsQuery(_ questions: [DNSQuestion]) -> DNSMessage {
        DNSMessage(questions: questions)
    }

    /// An mDNS response: id 0, QR and AA set, no questions (RFC 6762 §18).
    public static func mdnsResponse(answers: [DNSRecord], additionals: [DNSRecord] = []) -> DNSMessage {
        var m = DNSMessage(answers: answers, additionals: additionals)
        m.isResponse = true; m.authoritative = true
        return m
    }

    // MARK: flags

    @inline(__always) private func bit(_ n: UInt16) -> Bool { flags & (1 << n) != 0 }
    @inline(__always) private mutating func set(_ n: UInt16, _ v: Bool) {
        if v { flags |= 1 << n } else { flags &= ~(1 << n) }
    }

    /// QR.
    public var isResponse: Bool { get { bit(15) } set { set(15, newValue) } }
    /// 0 = QUERY.
    public var opcode: UInt8 {
        get { UInt8((flags >> 11) & 0xF) }
        set { flags = flags & ~0x7800 | (UInt16(newValue & 0xF) << 11) }
    }
    /// AA.
    public var authoritative: Bool { get { bit(10) } set { set(10, newValue) } }
    /// TC.
    public var truncated: Bool { get { bit(9) } set { set(9, newValue) } }
    /// RD.
    public var recursionDesired: Bool { get { bit(8) } set { set(8, newValue) } }
    /// RA.
    public var recursionAvailable: Bool { get { bit(7) } set { set(7, newValue) } }
    /// AD.
    public var authenticData: Bool { get { bit(5) } set { set(5, newValue) } }
    /// CD.
    public var checkingDisabled: Bool { get { bit(4) } set { set(4, newValue) } }
    /// The low 4 bits of RCODE (0 NOERROR, 1 FORMERR, 2 SERVFAIL, 3 NXDOMAIN, 4 NOTIMP, 5 REFUSED).
    public var rcode: UInt8 {
        get { UInt8(flags & 0xF) }
        set { flags = flags & ~0xF | UInt16(newValue & 0xF) }
    }
    /// The 12-bit RCODE including the EDNS extension (RFC 6891 §6.1.3).
    public var fullRCode: UInt16 { UInt16(edns?.extendedRCode ?? 0) << 4 | UInt16(rcode) }

    // MARK: decode

    /// Decodes one datagram. Trailing bytes after the last record are ignored.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> DNSMessage {
        let r = WireReader(bytes)
        guard bytes.count >= headerSize else {
            throw .truncated(offset: 0, needed: headerSize, available: bytes.count)
        }
        var m = DNSMessage(id: try r.u16(at: 0), flags: try r.u16(at: 2))
        let qd = Int(try r.u16(at: 4)), an = Int(try r.u16(at: 6))
        let ns = Int(try r.u16(at: 8)), ar = Int(try r.u16(at: 10))
        // Smallest possible question is 5 bytes (root name + type + class), record 11 bytes.
        let available = bytes.count - headerSize
        let minimum = qd * 5 + (an + ns + ar) * 11
        if minimum > available {
            throw .countTooLarge(field: "DNS questions and records", count: qd + an + ns + ar,
                                 max: available / 5)
        }
        var pos = headerSize
        m.questions.reserveCapacity(qd)
        for _ in 0..<qd {
            let (name, after) = try DNSName.decode(bytes, at: pos, end: bytes.count)
            let type = try r.u16(at: after), cls = try r.u16(at: after + 2)
            m.questions.append(DNSQuestion(name: name, type: DNSType(type), qclass: DNSClass(cls),
                                           unicastResponse: cls & 0x8000 != 0))
            pos = after + 4
        }
        var edns: EDNS? = nil
        m.answers = try decodeRecords(bytes, count: an, pos: &pos, edns: &edns, liftOPT: false)
        m.authorities = try decodeRecords(bytes, count: ns, pos: &pos, edns: &edns, liftOPT: false)
        m.additionals = try decodeRecords(bytes, count: ar, pos: &pos, edns: &edns, liftOPT: true)
        m.edns = edns
        return m
    }

    private static func decodeRecords(_ bytes: [UInt8], count: Int, pos: inout Int, edns: inout EDNS?,
                                      liftOPT: Bool) throws(WireError) -> [DNSRecord] {
        var out: [DNSRecord] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            if let rec = try decodeRecord(bytes, pos: &pos, ednsSlot: &edns, liftOPT: liftOPT) { out.append(rec) }
        }
        return out
    }

    /// Decodes one record at `pos`. With `liftOPT`, an OPT record is stored in `ednsSlot` and nil returned.
    private static func decodeRecord(_ bytes: [UInt8], pos: inout Int, ednsSlot: inout EDNS?,
                                     liftOPT: Bool) throws(WireError) -> DNSRecord? {
        let r = WireReader(bytes)
        let (name, after) = try DNSName.decode(bytes, at: pos, end: bytes.count)
        let type = DNSType(try r.u16(at: after))
        let cls = try r.u16(at: after + 2)
        let ttl = try r.u32(at: after + 4)
        let rdlength = Int(try r.u16(at: after + 8))
        let start = after + 10
        guard bytes.count - start >= rdlength else {
            throw .truncated(offset: start, needed: rdlength, available: bytes.count - start)
        }
        let end = start + rdlength
        pos = end

        if type == .opt && liftOPT {
            guard name.isRoot else { throw .invalidValue(field: "OPT owner name labels", value: name.labels.count) }
            guard ednsSlot == nil else { throw .invalidValue(field: "OPT record count", value: 2) }
            var options: [EDNS.Option] = []
            var p = start
            while p < end {
                guard end - p >= 4 else { throw .truncated(offset: p, needed: 4, available: end - p) }
                let code = try r.u16(at: p)
                let len = Int(try r.u16(at: p + 2))
                guard end - (p + 4) >= len else {
                    throw .truncated(offset: p + 4, needed: len, available: end - (p + 4))
                }
                options.append(EDNS.Option(code: code, data: Array(bytes[(p + 4)..<(p + 4 + len)])))
                p += 4 + len
            }
            ednsSlot = EDNS(udpPayloadSize: cls, extendedRCode: UInt8(ttl >> 24), version: UInt8((ttl >> 16) & 0xFF),
                            dnssecOK: ttl & 0x8000 != 0, z: UInt16(ttl & 0x7FFF), options: options)
            return nil
        }

        let data: DNSRData
        switch type {
        case .a:
            guard rdlength == 4 else { throw .invalidValue(field: "A rdlength", value: rdlength) }
            data = .a(try r.u32(at: start))
        case .aaaa:
            guard rdlength == 16 else { throw .invalidValue(field: "AAAA rdlength", value: rdlength) }
            data = .aaaa(Array(bytes[start..<end]))
        case .ptr, .cname, .ns:
            let target = try rdataName(bytes, at: start, end: end, field: "\(type) rdlength")
            data = type == .ptr ? .ptr(target) : type == .cname ? .cname(target) : .ns(target)
        case .srv:
            guard rdlength >= 7 else { throw .invalidValue(field: "SRV rdlength", value: rdlength) }
            let prio = try r.u16(at: start), weight = try r.u16(at: start + 2), port = try r.u16(at: start + 4)
            let target = try rdataName(bytes, at: start + 6, end: end, field: "SRV rdlength")
            data = .srv(priority: prio, weight: weight, port: port, target: target)
        case .txt:
            var strings: [[UInt8]] = []
            var p = start
            while p < end {
                let len = Int(bytes[p])
                guard end - (p + 1) >= len else {
                    throw .truncated(offset: p + 1, needed: len, available: end - (p + 1))
                }
                strings.append(Array(bytes[(p + 1)..<(p + 1 + len)]))
                p += 1 + len
            }
            data = .txt(strings)
        case .nsec:
            let (next, afterName) = try DNSName.decode(bytes, at: start, end: end)
            var types: [DNSType] = []
            var p = afterName
            while p < end {
                guard end - p >= 2 else { throw .truncated(offset: p, needed: 2, available: end - p) }
                let window = Int(bytes[p]), len = Int(bytes[p + 1])
                guard len >= 1, len <= 32 else { throw .invalidValue(field: "NSEC bitmap length", value: len) }
                guard end - (p + 2) >= len else {
                    throw .truncated(offset: p + 2, needed: len, available: end - (p + 2))
                }
                for i in 0..<len {
                    let b = bytes[p + 2 + i]
                    for bitIndex in 0..<8 where b & (0x80 >> UInt8(bitIndex)) != 0 {
                        types.append(DNSType(UInt16(window << 8 | (i * 8 + bitIndex))))
                    }
                }
                p += 2 + len
            }
            data = .nsec(next: next, types: types)
        default:
            data = .unknown(type: type, data: Array(bytes[start..<end]))
        }
        return DNSRecord(name: name, rclass: DNSClass(cls), cacheFlush: cls & 0x8000 != 0, ttl: ttl, data: data)
    }

    /// A name that must fill the RDATA exactly.
    private static func rdataName(_ bytes: [UInt8], at start: Int, end: Int,
                                  field: String) throws(WireError) -> DNSName {
        let (name, after) = try DNSName.decode(bytes, at: start, end: end)
        guard after == end else { throw .invalidValue(field: field, value: end - start) }
        return name
    }

    // MARK: encode

    /// The whole message, compressed.
    public func encode() -> [UInt8] { encode(maxSize: Int.max).bytes }

    /// Encodes at most `maxSize` bytes (e.g. 512, or the requester's EDNS size). Records are written in order;
    /// at the first one that does not fit (leaving room for the OPT record) encoding stops. If an answer or
    /// authority record was dropped, TC is set (`truncated` = true); dropping only additionals does not set TC
    /// (RFC 2181 §9). Questions and OPT are always written.
    public func encode(maxSize: Int) -> (bytes: [UInt8], truncated: Bool) {
        var w = WireWriter(capacity: 512)
        var c = DNSCompressor()
        w.u16(id); w.u16(flags)
        w.u16(UInt16(min(questions.count, 0xFFFF)))
        w.u16(0); w.u16(0); w.u16(0)   // patched below
        for q in questions.prefix(0xFFFF) {
            c.write(q.name, into: &w, compress: true)
            w.u16(q.type.rawValue)
            w.u16(q.qclass.rawValue | (q.unicastResponse ? 0x8000 : 0))
        }
        let reserve = edns?.wireLength ?? 0
        var counts = [0, 0, 0]
        var tc = false
        var full = false
        for (si, records) in [answers, authorities, additionals].enumerated() {
            for rec in records {
                if full { break }
                let limit = si == 2 && edns != nil ? 0xFFFE : 0xFFFF
                let mark = w.count
                if counts[si] < limit {
                    DNSMessage.write(rec, into: &w, compressor: &c)
                    if w.count + reserve <= maxSize { counts[si] += 1; continue }
                    var shorter = WireWriter(capacity: mark + reserve)
                    shorter.append(w.bytes[0..<mark])
                    w = shorter
                    c.rollback(to: mark)
                }
                full = true
                if si < 2 { tc = true }
            }
        }
        if let e = edns {
            w.u8(0)
            w.u16(DNSType.opt.rawValue)
            w.u16(e.udpPayloadSize)
            w.u32(e.ttlField)
            let lenAt = w.count
            w.u16(0)
            for o in e.options {
                let d = o.data.prefix(0xFFFF)
                w.u16(o.code); w.u16(UInt16(d.count)); w.append(d)
            }
            w.setU16(UInt16(truncatingIfNeeded: w.count - lenAt - 2), at: lenAt)
            counts[2] += 1
        }
        w.setU16(UInt16(counts[0]), at: 6)
        w.setU16(UInt16(counts[1]), at: 8)
        w.setU16(UInt16(counts[2]), at: 10)
        if tc { w.setU16(flags | 0x0200, at: 2) }
        return (w.bytes, tc)
    }

    static func write(_ rec: DNSRecord, into w: inout WireWriter, compressor c: inout DNSCompressor) {
        c.write(rec.name, into: &w, compress: true)
        w.u16(rec.type.rawValue)
        w.u16(rec.rclass.rawValue | (rec.cacheFlush ? 0x8000 : 0))
        w.u32(rec.ttl)
        let lenAt = w.count
        w.u16(0)
        switch rec.data {
        case let .a(addr):
            w.u32(addr)
        case let .aaaa(bytes):
            let b = bytes.prefix(16)
            w.append(b); w.zeros(16 - b.count)
        case let .ptr(n), let .cname(n), let .ns(n):
            c.write(n, into: &w, compress: true)
        case let .srv(prio, weight, port, target):
            w.u16(prio); w.u16(weight); w.u16(port)
            c.write(target, into: &w, compress: false)
        case let .txt(strings):
            if strings.isEmpty { w.u8(0) }
            for s in strings {
                let t = s.prefix(255)
                w.u8(UInt8(t.count)); w.append(t)
            }
        case let .nsec(next, types):
            c.write(next, into: &w, compress: false)
            let sorted = Set(types.map(\.rawValue)).sorted()
            var i = 0
            while i < sorted.count {
                let window = sorted[i] >> 8
                var bitmap = [UInt8](repeating: 0, count: 32)
                var used = 0
                while i < sorted.count, sorted[i] >> 8 == window {
                    let low = Int(sorted[i] & 0xFF)
                    bitmap[low / 8] |= 0x80 >> UInt8(low % 8)
                    used = low / 8 + 1
                    i += 1
                }
                w.u8(UInt8(window)); w.u8(UInt8(used)); w.append(bitmap[0..<used])
            }
        case let .unknown(_, data):
            w.append(data.prefix(0xFFFF))
        }
        w.setU16(UInt16(truncatingIfNeeded: w.count - lenAt - 2), at: lenAt)
    }
}
