/// A DNS domain name as a list of labels (RFC 1035 §3.1), keeping the original spelling.
///
/// * `==` and `hash` are **exact** (byte-for-byte, case-sensitive), so a decoded name re-encodes to the same bytes
///   and a server can echo a query's 0x20 case randomisation.
/// * DNS comparisons are ASCII case-insensitive: use `isEquivalent(to:)`, `lowercased` or `DNSName.Key`
///   (a case-insensitive `Hashable` wrapper) for lookups.
/// * Invariants (checked by every initialiser and by the decoder): no empty label, each label ≤ 63 bytes,
///   wire length (labels + length bytes + root byte) ≤ 255.
public struct DNSName: Hashable, Sendable {
    public static let maxLabelLength = 63
    public static let maxWireLength = 255

    /// Labels from left to right, without the root (empty) label. `[]` is the root name.
    public private(set) var labels: [[UInt8]]

    public static let root = DNSName(unchecked: [])

    @usableFromInline
    init(unchecked labels: [[UInt8]]) { self.labels = labels }

    /// Validates label and name lengths.
    public init(labels: [[UInt8]]) throws(WireError) {
        var wire = 1
        for l in labels {
            if l.isEmpty { throw .invalidValue(field: "DNS label length", value: 0) }
            if l.count > DNSName.maxLabelLength { throw .dnsLabelTooLong(length: l.count) }
            wire += l.count + 1
        }
        if wire > DNSName.maxWireLength { throw .dnsNameTooLong(length: wire) }
        self.labels = labels
    }

    /// Labels given as strings (UTF-8), used verbatim: a label may contain dots or spaces (`"TX 1@dev"`).
    public init(labelStrings: [String]) throws(WireError) {
        try self.init(labels: labelStrings.map { Array($0.utf8) })
    }

    /// A dotted name, e.g. `"_netaudio-arc._udp.local"` (a trailing dot is optional; `""` and `"."` are the root).
    /// `\.` puts a literal dot into a label and `\\` a backslash; no other escapes are interpreted.
    public init(_ dotted: String) throws(WireError) {
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        var escaped = false
        let utf8 = Array(dotted.utf8)
        if utf8 == [UInt8(ascii: ".")] { self.init(unchecked: []); return }
        for b in utf8 {
            if escaped { current.append(b); escaped = false; continue }
            if b == UInt8(ascii: "\\") { escaped = true; continue }
            if b == UInt8(ascii: ".") {
                if current.isEmpty { throw .invalidValue(field: "DNS label length", value: 0) }
                labels.append(current); current = []
                continue
            }
            current.append(b)
        }
        if escaped { current.append(UInt8(ascii: "\\")) }
        if !current.isEmpty { labels.append(current) }
        try self.init(labels: labels)
    }

    public var isRoot: Bool { labels.isEmpty }

    /// Bytes this name takes uncompressed on the wire (including the root byte).
    public var wireLength: Int { labels.reduce(1) { $0 + $1.count + 1 } }

    /// The name with ASCII A–Z folded to a–z (DNS canonical case).
    public var lowercased: DNSName {
        DNSName(unchecked: labels.map { $0.map(DNSName.fold) })
    }

    /// ASCII case-insensitive equality (RFC 4343).
    public func isEquivalent(to other: DNSName) -> Bool {
        guard labels.count == other.labels.count else { return false }
        for (a, b) in zip(labels, other.labels) {
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where DNSName.fold(x) != DNSName.fold(y) { return false }
        }
        return true
    }

    /// True if `suffix` is this name or an ancestor of it (case-insensitive).
    public func isSubdomain(of suffix: DNSName) -> Bool {
        guard suffix.labels.count <= labels.count else { return false }
        let tail = DNSName(unchecked: Array(labels.suffix(suffix.labels.count)))
        return tail.isEquivalent(to: suffix)
    }

    /// `label.self`, e.g. `try DNSName("_netaudio-arc._udp.local").prepending("dev")`.
    public func prepending(_ label: String) throws(WireError) -> DNSName {
        try DNSName(labels: [Array(label.utf8)] + labels)
    }

    /// `self.suffix`.
    public func appending(_ suffix: DNSName) throws(WireError) -> DNSName {
        try DNSName(labels: labels + suffix.labels)
    }

    /// The first label as text (invalid UTF-8 replaced), e.g. the instance name of a service.
    public var firstLabel: String? { labels.first.map { String(decoding: $0, as: UTF8.self) } }

    @inline(__always) @usableFromInline
    static func fold(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// A case-insensitive key for dictionaries and sets of names.
    public struct Key: Hashable, Sendable {
        public let name: DNSName
        public init(_ name: DNSName) { self.name = name }
        public static func == (a: Key, b: Key) -> Bool { a.name.isEquivalent(to: b.name) }
        public func hash(into h: inout Hasher) {
            h.combine(name.labels.count)
            for l in name.labels {
                h.combine(l.count)
                for b in l { h.combine(DNSName.fold(b)) }
            }
        }
    }
    public var key: Key { Key(self) }
}

extension DNSName: CustomStringConvertible {
    /// Dotted text with a trailing dot; dots and backslashes inside labels are escaped; invalid UTF-8 is replaced.
    public var description: String {
        if labels.isEmpty { return "." }
        var s = ""
        for l in labels {
            for ch in String(decoding: l, as: UTF8.self) {
                if ch == "." || ch == "\\" { s.append("\\") }
                s.append(ch)
            }
            s.append(".")
        }
        return s
    }
}

// MARK: - Wire format

extension DNSName {
    /// Upper bound on compression pointers followed in one name. Each pointer must also point strictly before the
    /// segment it came from, so chains terminate anyway; this is a second fence.
    static let maxPointerJumps = 126

    /// Decodes a (possibly compressed) name at `start`. Returns the name and the offset just after it
    /// (after its first pointer if compressed).
    ///
    /// Pointers must land inside the message, after the 12-byte header, and strictly before the start of the
    /// segment that contains them (so every chain strictly moves backwards and cannot loop).
    static func decode(_ bytes: [UInt8], at start: Int, end: Int) throws(WireError) -> (DNSName, Int) {
        var labels: [[UInt8]] = []
        var pos = start
        var segmentStart = start
        var next: Int? = nil
        var wire = 1
        var jumps = 0
        while true {
            guard pos >= 0, pos < end else { throw .truncated(offset: pos, needed: 1, available: 0) }
            let len = Int(bytes[pos])
            switch len >> 6 {
            case 0:
                if len == 0 {
                    pos += 1
                    return (DNSName(unchecked: labels), next ?? pos)
                }
                guard end - (pos + 1) >= len else {
                    throw .truncated(offset: pos + 1, needed: len, available: end - (pos + 1))
                }
                wire += len + 1
                if wire > maxWireLength { throw .dnsNameTooLong(length: wire) }
                labels.append(Array(bytes[(pos + 1)..<(pos + 1 + len)]))
                pos += 1 + len
            case 3:
                guard end - pos >= 2 else { throw .truncated(offset: pos, needed: 2, available: end - pos) }
                let ptr = (len & 0x3F) << 8 | Int(bytes[pos + 1])
                if ptr >= end || ptr < DNSMessage.headerSize {
                    throw .badPointer(field: "DNS name", pointer: ptr)
                }
                if ptr > pos { throw .badPointer(field: "DNS name", pointer: ptr) }  // forward
                if ptr >= segmentStart { throw .dnsNameLoop(offset: pos) }          // self / non-decreasing chain
                jumps += 1
                if jumps > maxPointerJumps { throw .dnsNameLoop(offset: pos) }
                if next == nil { next = pos + 2 }
                pos = ptr
                segmentStart = ptr
            default:
                // 0x40 / 0x80 label types (extended / reserved): read as lengths 64…191, i.e. too long.
                throw .dnsLabelTooLong(length: len)
            }
        }
    }
}

/// Name compression state for one message being written: exact-spelling suffixes → offsets.
struct DNSCompressor {
    private var table: [ArraySlice<[UInt8]>: Int] = [:]

    /// Writes `name`, using a pointer for the longest suffix already written if `compress` is true.
    /// Every suffix written at an offset < 0x4000 is remembered either way.
    mutating func write(_ name: DNSName, into w: inout WireWriter, compress: Bool) {
        let labels = name.labels
        var i = 0
        while i < labels.count {
            let suffix = labels[i...]
            if compress, let off = table[suffix] {
                w.u16(0xC000 | UInt16(off))
                return
            }
            if w.count < 0x4000, table[suffix] == nil { table[suffix] = w.count }
            w.u8(UInt8(labels[i].count))
            w.append(labels[i])
            i += 1
        }
        w.u8(0)
    }

    /// Forgets suffixes at or after `offset` (the bytes were rolled back).
    mutating func rollback(to offset: Int) {
        table = table.filter { $0.value < offset }
    }
}
