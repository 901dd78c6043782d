/// DNS resource-record types (RFC 1035, 3596, 2782, 6891, 4034).
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ v: UInt16) { rawValue = v }

    public static let a = DNSType(1)
    public static let ns = DNSType(2)
    public static let cname = DNSType(5)
    public static let soa = DNSType(6)
    public static let ptr = DNSType(12)
    public static let txt = DNSType(16)
    public static let aaaa = DNSType(28)
    public static let srv = DNSType(33)
    public static let opt = DNSType(41)
    public static let nsec = DNSType(47)
    public static let any = DNSType(255)

    public var description: String {
        switch rawValue {
        case 1: "A"
        case 2: "NS"
        case 5: "CNAME"
        case 6: "SOA"
        case 12: "PTR"
        case 16: "TXT"
        case 28: "AAAA"
        case 33: "SRV"
        case 41: "OPT"
        case 47: "NSEC"
        case 255: "ANY"
        default: "TYPE\(rawValue)"
        }
    }
}

/// DNS classes (the low 15 bits of the wire class; the top bit is split out as mDNS QU / cache-flush).
public struct DNSClass: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x7FFF }
    public init(_ v: UInt16) { self.init(rawValue: v) }
    public static let internet = DNSClass(1)
    public static let chaos = DNSClass(3)
    public static let any = DNSClass(255)
}

/// One question. In mDNS the top bit of the class is the "unicast response requested" (QU) bit (RFC 6762 §5.4).
public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    public var qclass: DNSClass
    public var unicastResponse: Bool

    public init(name: DNSName, type: DNSType, qclass: DNSClass = .internet, unicastResponse: Bool = false) {
        self.name = name; self.type = type; self.qclass = qclass; self.unicastResponse = unicastResponse
    }
}

/// RDATA of the record types this codec understands; anything else is kept raw (`.unknown`).
/// OPT (EDNS0) is not an RDATA case: it is lifted into `DNSMessage.edns`.
public enum DNSRData: Hashable, Sendable {
    /// IPv4 address, most significant octet first (10.99.0.1 = 0x0A63_0001).
    case a(UInt32)
    /// IPv6 address, exactly 16 bytes (the encoder zero-pads or truncates other lengths).
    case aaaa([UInt8])
    case ptr(DNSName)
    case cname(DNSName)
    case ns(DNSName)
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
    /// Character-strings, each ≤ 255 bytes (longer ones are truncated by the encoder). `[]` is written as one
    /// empty string (RFC 6763 §6.1), so it decodes back as `[[]]`.
    case txt([[UInt8]])
    /// NSEC (RFC 4034 §4; mDNS negative responses, RFC 6762 §6.1): next name and the set of types present.
    case nsec(next: DNSName, types: [DNSType])
    case unknown(type: DNSType, data: [UInt8])

    public var type: DNSType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ptr: .ptr
        case .cname: .cname
        case .ns: .ns
        case .srv: .srv
        case .txt: .txt
        case .nsec: .nsec
        case let .unknown(t, _): t
        }
    }

    /// An A record from four octets.
    public static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> DNSRData {
        .a(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    /// TXT from UTF-8 strings, e.g. `["arcp_vers=2.7.41", "arcp_min=0.2.4"]`.
    public static func txt(strings: [String]) -> DNSRData { .txt(strings.map { Array($0.utf8) }) }

    /// TXT strings as text (invalid UTF-8 replaced); nil for other types.
    public var txtStrings: [String]? {
        guard case let .txt(s) = self else { return nil }
        return s.map { String(decoding: $0, as: UTF8.self) }
    }

    /// DNS-SD key/value pairs (RFC 6763 §6.3–6.4): key before the first `=`, value after it (nil when there is no
    /// `=`). Empty keys are skipped; the first occurrence of a key wins (keys compared case-insensitively).
    public var txtKeyValues: [(key: String, value: String?)] {
        guard case let .txt(s) = self else { return [] }
        var out: [(key: String, value: String?)] = []
        var seen = Set<String>()
        for str in s {
            let (k, v): ([UInt8], [UInt8]?)
            if let eq = str.firstIndex(of: UInt8(ascii: "=")) {
                (k, v) = (Array(str[..<eq]), Array(str[(eq + 1)...]))
            } else {
                (k, v) = (str, nil)
            }
            if k.isEmpty { continue }
            let key = String(decoding: k, as: UTF8.self)
            if !seen.insert(key.lowercased()).inserted { continue }
            out.append((key, v.map { String(decoding: $0, as: UTF8.self) }))
        }
        return out
    }
}

/// One resource record. In mDNS the top bit of the class is the cache-flush bit (RFC 6762 §10.2).
public struct DNSRecord: Hashable, Sendable {
    public var name: DNSName
    public var rclass: DNSClass
    public var cacheFlush: Bool
    /// Seconds. 0 in an mDNS response is a goodbye.
    public var ttl: UInt32
    public var data: DNSRData

    public init(name: DNSName, rclass: DNSClass = .internet, cacheFlush: Bool = false, ttl: UInt32,
                data: DNSRData) {
        self.name = name; self.rclass = rclass; self.cacheFlush = cacheFlush; self.ttl = ttl; self.data = data
    }

    public var type: DNSType { data.type }

    /// The same record with TTL 0 (mDNS goodbye, RFC 6762 §10.1).
    public var goodbye: DNSRecord { var r = self; r.ttl = 0; return r }
}

/// EDNS0 (RFC 6891): the OPT pseudo-record, lifted out of the additional section.
public struct EDNS: Hashable, Sendable {
    public struct Option: Hashable, Sendable {
        public var code: UInt16
        public var data: [UInt8]
        public init(code: UInt16, data: [UInt8]) { self.code = code; self.data = data }
    }

    /// Requester's UDP payload size (the OPT "class").
    public var udpPayloadSize: UInt16
    /// Upper 8 bits of the 12-bit RCODE.
    public var extendedRCode: UInt8
    public var version: UInt8
    /// DNSSEC OK.
    public var dnssecOK: Bool
    /// The other 15 flag bits (must be zero today; kept for round trips).
    public var z: UInt16
    public var options: [Option]

    public init(udpPayloadSize: UInt16 = 1232, extendedRCode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false,
                z: UInt16 = 0, options: [Option] = []) {
        self.udpPayloadSize = udpPayloadSize; self.extendedRCode = extendedRCode; self.version = version
        self.dnssecOK = dnssecOK; self.z = z & 0x7FFF; self.options = options
    }

    var ttlField: UInt32 {
        UInt32(extendedRCode) << 24 | UInt32(version) << 16 | (dnssecOK ? 0x8000 : 0) | UInt32(z & 0x7FFF)
    }
    /// Bytes of the OPT record on the wire.
    var wireLength: Int { 11 + options.reduce(0) { $0 + 4 + min($1.data.count, 0xFFFF) } }
}
