import InfernoProtocol

/// The published state of one AoDNS stream, and the zone built from it. Pure: packets and times in, zones out.
///
/// v1 (the original Python client reads these unchanged): `sequence`, `seq_N`.
/// v2 additions: `config`, `head`, `seq_N.<epoch>` (the same RRset under an epoch-scoped name).
///
/// Packs have a fixed number of packets (`config.packetsPerPack`), so each pack has a known duration and every
/// `seq_N` answer stays within `AoDNSPublication.answerBudget` (1232 bytes with EDNS).
public struct AoDNSPublication: Sendable {
    public struct Pack: Sendable, Equatable {
        public var n: UInt64
        public var closedAtMs: UInt64
        public var strings: [[UInt8]]
    }

    public let config: AoDNSConfig
    public let names: AoDNSNames
    public private(set) var packs: [Pack] = []
    /// The number the next pack gets.
    public private(set) var nextN: UInt64
    /// When the stream started (Unix ms), for `head` before the first pack.
    public let startedAtMs: UInt64
    /// Packets refused because their text would exceed 244 characters (cannot happen with `maxPacketBytes`).
    public private(set) var oversizePackets = 0

    /// The largest DNS answer a `seq_N` query may produce (EDNS0 payload size of DNS Flag Day 2020).
    public static let answerBudget = 1232

    /// `firstN` defaults to the Unix time in pack units, so numbers keep increasing across restarts (old `seq_N`
    /// in caches are never mistaken for new audio by v1 clients, aodns.md F10).
    public init(zone: DNSName, config: AoDNSConfig, startedAtMs: UInt64, firstN: UInt64? = nil) {
        self.config = config
        names = AoDNSNames(zone: zone)
        self.startedAtMs = startedAtMs
        nextN = firstN ?? startedAtMs / UInt64(max(1, config.packMs))
    }

    /// Largest Opus packet (bytes) such that a `seq_N.<epoch>.<zone>` answer with `packetsPerPack` packets fits in
    /// `answerBudget` bytes, and no string exceeds 250 octets (v1's limit). nil if not even a tiny packet fits.
    public static func maxPacketBytes(zone: DNSName, packetsPerPack: Int) -> Int? {
        guard packetsPerPack >= 1 else { return nil }
        // Question: "seq_" + up to 13 digits, the 8-hex epoch label, the zone; + type and class.
        let question = (1 + 4 + 13) + (1 + 8) + zone.wireLength + 4
        let opt = 11
        let available = answerBudget - DNSMessage.headerSize - question - opt
        // Each RR: name pointer 2, type/class/TTL/RDLENGTH 10, string length 1, "DDD'''" 6, basE91 text.
        let perRR = available / packetsPerPack - (2 + 10 + 1 + 6)
        let chars = min(AoDNSPack.maxPayloadChars, perRR)
        let bytes = Base91.maxDecodedLength(fittingIn: chars)
        return bytes >= 16 ? min(bytes, 1275) : nil
    }

    /// Publishes one pack of Opus packets closed at `closedAtMs`; the oldest pack leaves the window.
    @discardableResult
    public mutating func append(packets: [[UInt8]], closedAtMs: UInt64) -> UInt64 {
        var strings: [[UInt8]] = []
        strings.reserveCapacity(packets.count)
        for (i, p) in packets.enumerated() {
            if let s = AoDNSPack.string(index: i, packet: p) { strings.append(s) } else { oversizePackets += 1 }
        }
        let n = nextN
        packs.append(Pack(n: n, closedAtMs: closedAtMs, strings: strings))
        if packs.count > config.window { packs.removeFirst(packs.count - config.window) }
        nextN &+= 1
        return n
    }

    public var head: AoDNSHead {
        AoDNSHead(epoch: config.epoch, first: packs.first?.n ?? nextN, count: packs.count,
                  closedAtMs: packs.last?.closedAtMs ?? startedAtMs)
    }

    /// The zone as it stands: SOA (TTL 1, MINIMUM 1), config, head, sequence (only once a pack exists), and every
    /// published pack under both names. Future pack names answer NODATA (they may exist soon), other unknown names
    /// NXDOMAIN.
    public func zone() -> DNSZone {
        let apex = names.zone
        let soa = DNSSOA(mname: .root, rname: .root, serial: UInt32(truncatingIfNeeded: nextN),
                         minimum: AoDNSTTL.negative)
        var z = DNSZone(apex: apex, soa: soa, soaTTL: AoDNSTTL.negative)
        z.set(names.config, .txt, DNSRRSet(ttl: AoDNSTTL.config, data: [.txt(config.strings)]))
        z.set(names.head, .txt, DNSRRSet(ttl: AoDNSTTL.head, data: [.txt([head.text])]))
        if !packs.isEmpty {
            let (text, _) = AoDNSSequence.encodeFitting(packs.map(\.n))
            z.set(names.sequence, .txt, DNSRRSet(ttl: AoDNSTTL.sequence, data: [.txt([text])]))
        }
        let ttl = AoDNSTTL.seq(packMs: config.packMs, window: config.window)
        for p in packs {
            let set = DNSRRSet(ttl: ttl, data: p.strings.map { .txt([$0]) })
            z.set(names.seq(p.n), .txt, set)
            z.set(names.seq(p.n, epoch: config.epoch), .txt, set)
        }
        let names = self.names, epoch = config.epoch, next = nextN
        z.mayExist = { name in
            guard let (n, e) = names.parseSeq(name) else { return false }
            return n >= next && n < next &+ 100_000 && (e == nil || e == epoch)
        }
        return z
    }
}
