import InfernoProtocol

/// The AoDNS wire format (aodns.md): v1 names and records, byte-compatible with the original Python
/// implementation, and the compatible v2 additions (`config`, `head`, epoch-scoped pack names).
/// Pure: no I/O; every decoder returns a typed error for bad input and never traps.
public enum AoDNSFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    case notBase91Zlib(String)
    case badSequenceList(String)
    case badPackString(String)
    case badHead(String)
    case badConfig(String)

    public var description: String {
        switch self {
        case .notBase91Zlib(let s): return "sequence record: \(s)"
        case .badSequenceList(let s): return "sequence list: \(s)"
        case .badPackString(let s): return "pack string: \(s)"
        case .badHead(let s): return "head record: \(s)"
        case .badConfig(let s): return "config record: \(s)"
        }
    }
}

// MARK: - names

/// Owner names of an AoDNS zone.
public struct AoDNSNames: Sendable {
    public let zone: DNSName
    public init(zone: DNSName) { self.zone = zone }

    public var sequence: DNSName { child("sequence") }
    public var head: DNSName { child("head") }
    public var config: DNSName { child("config") }
    /// `seq_N.<zone>` (v1).
    public func seq(_ n: UInt64) -> DNSName { child("seq_\(n)") }
    /// `seq_N.<epoch>.<zone>` (v2: immutable for the epoch, so stale caches after a restart never alias).
    public func seq(_ n: UInt64, epoch: UInt32) -> DNSName {
        (try? DNSName(labels: [Array("seq_\(n)".utf8), Array(AoDNSHead.epochText(epoch).utf8)] + zone.labels)) ?? zone
    }

    func child(_ label: String) -> DNSName { (try? zone.prepending(label)) ?? zone }

    /// `N` if `name` is `seq_N.<zone>` (epoch nil) or `seq_N.<epoch>.<zone>`; nil otherwise. Case-insensitive.
    public func parseSeq(_ name: DNSName) -> (n: UInt64, epoch: UInt32?)? {
        guard name.isSubdomain(of: zone) else { return nil }
        let extra = name.labels.count - zone.labels.count
        guard extra == 1 || extra == 2 else { return nil }
        let first = name.labels[0]
        guard first.count > 4, first.count <= 24,
              first[0] | 0x20 == UInt8(ascii: "s"), first[1] | 0x20 == UInt8(ascii: "e"),
              first[2] | 0x20 == UInt8(ascii: "q"), first[3] == UInt8(ascii: "_"),
              first[4] != UInt8(ascii: "0") || first.count == 5,   // canonical: no leading zeros
              let n = AoDNSText.decimal(first[4...]) else { return nil }
        if extra == 1 { return (n, nil) }
        guard let e = AoDNSText.hex32(name.labels[1]) else { return nil }
        return (n, e)
    }

    /// The zone's name as a Dante channel name: dots become underscores, at most 31 bytes.
    public var channelLabel: String {
        let s = String(zone.description.dropLast()).replacingDots()
        return String(decoding: Array(s.utf8.prefix(31)), as: UTF8.self)
    }
}

extension String {
    func replacingDots() -> String { String(self.map { $0 == "." ? "_" : $0 }) }
}

/// Small text helpers for the ASCII records (no Foundation).
enum AoDNSText {
    /// Plain decimal (1…20 digits, no sign), nil otherwise or on overflow.
    static func decimal<C: Collection>(_ s: C) -> UInt64? where C.Element == UInt8 {
        guard !s.isEmpty, s.count <= 20 else { return nil }
        var v: UInt64 = 0
        for c in s {
            guard c >= 0x30, c <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }

    /// Exactly 8 hex digits (either case).
    static func hex32<C: Collection>(_ s: C) -> UInt32? where C.Element == UInt8 {
        guard s.count == 8 else { return nil }
        var v: UInt32 = 0
        for c in s {
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    static func padded(_ v: UInt64, width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

// MARK: - sequence

/// `sequence.<zone>`: basE91( zlib level 9( "n1,n2,…" ) ), one character-string (aodns.md §4).
public enum AoDNSSequence {
    /// The longest string a TXT character-string can hold.
    public static let maxOctets = 255

    /// The encoded record text for `numbers` (ascending).
    public static func encode(_ numbers: [UInt64]) -> [UInt8] {
        let list = numbers.map(String.init).joined(separator: ",")
        return Base91.encode(Zlib.compress(Array(list.utf8), level: 9))
    }

    /// The newest packs whose list fits in 255 octets: the text and how many of `numbers` (their tail) it lists.
    /// The original crashed when the list grew past 255 octets (aodns.md §4.1); this never does.
    public static func encodeFitting(_ numbers: [UInt64], maxOctets: Int = maxOctets) -> (text: [UInt8], count: Int) {
        let full = encode(numbers)
        if full.count <= maxOctets { return (full, numbers.count) }
        // Longest fitting tail, by binary search (the encoded length grows with the count, nearly monotonically;
        // the final answer is re-checked).
        var lo = 0, hi = numbers.count
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if encode(Array(numbers.suffix(mid))).count <= maxOctets { lo = mid } else { hi = mid - 1 }
        }
        var k = lo
        var text = encode(Array(numbers.suffix(k)))
        while k > 0 && text.count > maxOctets { k -= 1; text = encode(Array(numbers.suffix(k))) }
        return (text, k)
    }

    /// Parses the record text into pack numbers (as the original client: basE91 → inflate → split on ',').
    /// At most `maxEntries` numbers are accepted.
    public static func decode(_ text: [UInt8], maxEntries: Int = 10_000) throws(AoDNSFormatError) -> [UInt64] {
        let z = Base91.decode(text)
        let plain: [UInt8]
        do { plain = try Zlib.decompress(z, limit: 256 * 1024) } catch {
            throw .notBase91Zlib("not a zlib stream after basE91 decoding (\(error))")
        }
        if plain.isEmpty { return [] }
        var out: [UInt64] = []
        for part in plain.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            // Python's int() tolerates surrounding whitespace.
            let trimmed = part.drop(while: { $0 == 0x20 }).reversed().drop(while: { $0 == 0x20 }).reversed()
            guard let n = AoDNSText.decimal(trimmed) else {
                throw .badSequenceList("\"\(String(decoding: part.prefix(24), as: UTF8.self))\" is not a pack number")
            }
            out.append(n)
            if out.count > maxEntries { throw .badSequenceList("more than \(maxEntries) entries") }
        }
        return out
    }
}

// MARK: - packs

/// `seq_N`: one TXT RR per Opus packet, each one character-string `DDD'''<basE91 packet>` (aodns.md §5).
public enum AoDNSPack {
    /// v1 servers die on a string over 250 octets; 6 of them are the prefix.
    public static let maxStringOctets = 250
    public static let maxPayloadChars = maxStringOctets - 6
    public static let separator: [UInt8] = Array("'''".utf8)

    /// `DDD'''` + basE91(packet); nil if the text would exceed 250 octets or the index 999.
    public static func string(index: Int, packet: [UInt8]) -> [UInt8]? {
        guard index >= 0, index <= 999 else { return nil }
        let text = Base91.encode(packet)
        guard text.count <= maxPayloadChars else { return nil }
        return Array(AoDNSText.padded(UInt64(index), width: 3).utf8) + separator + text
    }

    /// Index and packet of one string. The index may carry surrounding spaces and leading zeros (Python's int()).
    public static func parse(_ s: [UInt8]) throws(AoDNSFormatError) -> (index: Int, packet: [UInt8]) {
        guard let at = firstSeparator(s) else { throw .badPackString("no ''' separator") }
        let head = s[..<at].drop(while: { $0 == 0x20 }).reversed().drop(while: { $0 == 0x20 }).reversed()
        guard head.count <= 6, let n = AoDNSText.decimal(head), n <= 999 else {
            throw .badPackString("index \"\(String(decoding: s[..<at].prefix(8), as: UTF8.self))\" is not 0…999")
        }
        let rest = s[(at + 3)...]
        if firstSeparator(Array(rest)) != nil { throw .badPackString("more than one ''' separator") }
        let packet = Base91.decode(rest)
        guard !packet.isEmpty else { throw .badPackString("empty packet") }
        return (Int(n), packet)
    }

    static func firstSeparator(_ s: [UInt8]) -> Int? {
        guard s.count >= 3 else { return nil }
        for i in 0...(s.count - 3) where s[i] == 0x27 && s[i + 1] == 0x27 && s[i + 2] == 0x27 { return i }
        return nil
    }

    /// A pack read from an RRset (any RR order), with its continuity checked.
    public struct Decoded: Equatable, Sendable {
        /// Packets by index 0…(count−1); nil where an index is missing (or its string was damaged).
        public var packets: [[UInt8]?]
        /// Strings that could not be parsed, duplicated indices.
        public var damaged: Int
        public var duplicates: Int
        /// Missing indices inside 0…max (and up to `expected`, when the packet count is known).
        public var missing: Int { packets.reduce(0) { $0 + ($1 == nil ? 1 : 0) } }
        public var isComplete: Bool { missing == 0 && damaged == 0 && duplicates == 0 && !packets.isEmpty }
    }

    /// Reads the first character-string of every RR (as the original client does). `expected` (v2's `fpp`)
    /// sizes the pack so trailing losses count as missing.
    public static func decode(strings: [[UInt8]], expected: Int? = nil) -> Decoded {
        var byIndex: [Int: [UInt8]] = [:]
        var damaged = 0, duplicates = 0
        for s in strings {
            guard let (i, p) = try? parse(s) else { damaged += 1; continue }
            if let e = expected, i >= e { damaged += 1; continue }
            if byIndex[i] != nil { duplicates += 1; continue }
            byIndex[i] = p
        }
        let count = max(expected ?? 0, (byIndex.keys.max() ?? -1) + 1)
        var packets = [[UInt8]?](repeating: nil, count: count)
        for (i, p) in byIndex where i < count { packets[i] = p }
        return Decoded(packets: packets, damaged: damaged, duplicates: duplicates)
    }
}

// MARK: - TTLs

public enum AoDNSTTL {
    /// The original `seq_N` TTL (aodns.md §3), unit error included: `frame_size` (samples per channel) divided by
    /// `rate·channels·2` — half the pack duration for mono, a quarter for stereo. Kept for reference and tests.
    public static func originalSeq(frameSize: Int, frameCount: Int, sampleRate: Int, channels: Int,
                                   maxSequences: Int) -> UInt32 {
        let secs = Double(frameSize * frameCount) / Double(sampleRate * channels * 2)
        return UInt32(max(5, Int((secs * Double(maxSequences) * 0.8).rounded(.down))))
    }

    /// Fixed: 80 % of the published window's duration (pack duration × window), at least 5 s. Packs are immutable,
    /// so a resolver may keep one while it is still listed.
    public static func seq(packMs: Int, window: Int) -> UInt32 {
        UInt32(max(5, packMs * window * 8 / 10 / 1000))
    }

    /// `sequence`: 2 s (the original's constant 10 s made new packs visible late, aodns.md §13.1).
    public static let sequence: UInt32 = 2
    /// `head`: 1 s.
    public static let head: UInt32 = 1
    /// `config`: 60 s (it changes only when the server restarts with other settings; `head` carries the epoch).
    public static let config: UInt32 = 60
    /// SOA TTL and MINIMUM: negative answers are cached at most 1 s (RFC 2308).
    public static let negative: UInt32 = 1
}

// MARK: - head

/// `head.<zone>` (v2): one fixed-size string `e=<8 hex>;f=<10+ digits>;n=<3 digits>;t=<13+ digits>`:
/// epoch, first published pack, number of packs, and the Unix time (ms) when pack f+n−1 was closed.
public struct AoDNSHead: Equatable, Sendable {
    public var epoch: UInt32
    public var first: UInt64
    public var count: Int
    public var closedAtMs: UInt64

    public init(epoch: UInt32, first: UInt64, count: Int, closedAtMs: UInt64) {
        self.epoch = epoch; self.first = first; self.count = count; self.closedAtMs = closedAtMs
    }

    static let limit: UInt64 = 1_000_000_000_000_000

    /// The newest pack, nil when nothing is published yet.
    public var newest: UInt64? { count > 0 ? first &+ UInt64(count - 1) : nil }

    static func epochText(_ e: UInt32) -> String {
        let s = String(e, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    public var text: [UInt8] {
        Array(("e=" + Self.epochText(epoch) + ";f=" + AoDNSText.padded(first, width: 10)
               + ";n=" + AoDNSText.padded(UInt64(min(max(count, 0), 999)), width: 3)
               + ";t=" + AoDNSText.padded(closedAtMs, width: 13)).utf8)
    }

    public init(text s: [UInt8]) throws(AoDNSFormatError) {
        guard s.count <= 80 else { throw .badHead("\(s.count) octets") }
        var e: UInt32?, f: UInt64?, n: UInt64?, t: UInt64?
        for field in s.split(separator: UInt8(ascii: ";")) {
            guard field.count >= 3, field[field.startIndex + 1] == UInt8(ascii: "=") else {
                throw .badHead("field \"\(String(decoding: field.prefix(16), as: UTF8.self))\"")
            }
            let v = field.dropFirst(2)
            switch field[field.startIndex] {
            case UInt8(ascii: "e"): e = AoDNSText.hex32(v)
            case UInt8(ascii: "f"): f = AoDNSText.decimal(v)
            case UInt8(ascii: "n"): n = AoDNSText.decimal(v)
            case UInt8(ascii: "t"): t = AoDNSText.decimal(v)
            default: continue   // unknown keys are ignored (room for later additions)
            }
        }
        guard let e, let f, let n, n <= 999, let t else { throw .badHead("needs e=, f=, n= (≤ 999) and t=") }
        // Bounds that keep every later time computation far from overflow (10^15 ms is the year 33658).
        guard f < Self.limit, t < Self.limit else { throw .badHead("f= or t= beyond 10^15") }
        self.init(epoch: e, first: f, count: Int(n), closedAtMs: t)
    }
}

// MARK: - config

/// `config.<zone>` (v2): one RR, several `key=value` strings (aodns.md §13.1), plus `br` (Opus bitrate, bit/s).
public struct AoDNSConfig: Equatable, Sendable {
    public var version = 2
    public var codec = "opus"
    public var sampleRate: Int
    public var channels: Int
    public var frameMs = 60
    public var encoding = "base91"
    public var separator = "'''"
    /// Opus packets per pack.
    public var packetsPerPack: Int
    public var window: Int
    public var epoch: UInt32
    public var bitrate: Int

    public init(sampleRate: Int, channels: Int, packetsPerPack: Int, window: Int, epoch: UInt32, bitrate: Int) {
        self.sampleRate = sampleRate; self.channels = channels; self.packetsPerPack = packetsPerPack
        self.window = window; self.epoch = epoch; self.bitrate = bitrate
    }

    public var packMs: Int { frameMs * packetsPerPack }

    public var strings: [[UInt8]] {
        [("aodns", String(version)), ("codec", codec), ("rate", String(sampleRate)), ("ch", String(channels)),
         ("fms", String(frameMs)), ("enc", encoding), ("sep", separator), ("fpp", String(packetsPerPack)),
         ("pms", String(packMs)), ("win", String(window)), ("epoch", AoDNSHead.epochText(epoch)),
         ("br", String(bitrate))].map { Array(($0.0 + "=" + $0.1).utf8) }
    }

    /// Parses the strings; refuses what this client cannot play (codec, text encoding, separator, frame size).
    public init(strings: [[UInt8]]) throws(AoDNSFormatError) {
        var kv: [String: String] = [:]
        for s in strings.prefix(64) {
            guard let eq = s.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let k = String(decoding: s[..<eq], as: UTF8.self)
            if kv[k] == nil { kv[k] = String(decoding: s[(eq + 1)...], as: UTF8.self) }
        }
        func int(_ k: String, _ range: ClosedRange<Int>) throws(AoDNSFormatError) -> Int {
            guard let v = kv[k], let n = Int(v), range.contains(n) else {
                throw .badConfig("\(k)=\(kv[k] ?? "(missing)") is not \(range.lowerBound)…\(range.upperBound)")
            }
            return n
        }
        let version = try int("aodns", 1...1_000_000)
        guard version >= 2 else { throw .badConfig("aodns=\(version)") }
        guard kv["codec"] == "opus" else { throw .badConfig("codec=\(kv["codec"] ?? "(missing)") (only opus is played)") }
        guard kv["enc"] == "base91" else { throw .badConfig("enc=\(kv["enc"] ?? "(missing)") (only base91 is read)") }
        if let sep = kv["sep"], sep != "'''" { throw .badConfig("sep=\(sep)") }
        let rate = try int("rate", 8000...48000)
        let ch = try int("ch", 1...2)
        let fms = try int("fms", 60...60)
        let fpp = try int("fpp", 1...999)
        let win = try int("win", 1...100_000)
        guard let e = kv["epoch"].flatMap({ AoDNSText.hex32(Array($0.utf8)) }) else { throw .badConfig("epoch") }
        let br = (try? int("br", 1...1_000_000)) ?? 0
        self.init(sampleRate: rate, channels: ch, packetsPerPack: fpp, window: win, epoch: e, bitrate: br)
        self.version = version
        self.frameMs = fms
        if let pms = kv["pms"], Int(pms) != fms * fpp { throw .badConfig("pms=\(pms) is not fms×fpp") }
    }
}
