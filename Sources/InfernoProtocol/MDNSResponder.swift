/// The mDNS responder's logic (RFC 6762 / RFC 6763), without sockets or clocks: which records a host
/// publishes, and what to send in reply to a query. The runtime feeds it decoded queries and sends what it
/// returns; probing and announcing are driven by the runtime's timers with the messages built here.

/// One DNS-SD service instance, e.g. `studio._netaudio-arc._udp.local` on port 4440.
public struct MDNSService: Equatable, Hashable, Sendable {
    /// The instance label, e.g. `studio` or `01@studio` (may contain spaces, `@`, dots are not allowed).
    public var instance: String
    /// The service type without the domain, e.g. `_netaudio-arc._udp`.
    public var type: String
    public var port: UInt16
    /// TXT strings in order (`key=value`, or a bare key).
    public var txt: [String]
    public var ttl: UInt32

    public init(instance: String, type: String, port: UInt16, txt: [String], ttl: UInt32 = 120) {
        self.instance = instance; self.type = type; self.port = port; self.txt = txt; self.ttl = ttl
    }
}

/// Everything one host publishes: its host name and IPv4 address, and its services, all pointing at that host.
public struct MDNSZone: Equatable, Sendable {
    /// The host label: `studio` publishes `studio.local`.
    public var host: String
    /// IPv4 address, most significant octet first.
    public var ipv4: UInt32
    public var services: [MDNSService]
    public var hostTTL: UInt32

    public init(host: String, ipv4: UInt32, services: [MDNSService], hostTTL: UInt32 = 120) {
        self.host = host; self.ipv4 = ipv4; self.services = services; self.hostTTL = hostTTL
    }
}

/// Answers queries for one `MDNSZone`.
public struct MDNSResponder: Sendable {
    public static let port: UInt16 = 5353
    /// TTL cap for legacy unicast replies (RFC 6762 §6.7).
    public static let legacyTTL: UInt32 = 10

    public let zone: MDNSZone
    public let hostName: DNSName
    /// Shared records (PTR): no cache-flush bit.
    public private(set) var shared: [DNSRecord] = []
    /// Unique records (SRV, TXT, A): cache-flush bit set in multicast answers.
    public private(set) var unique: [DNSRecord] = []
    let servicesName: DNSName

    /// Builds the record set. Throws when a label is too long for DNS (over 63 bytes) or a name over 255.
    public init(zone: MDNSZone) throws(WireError) {
        self.zone = zone
        let local = try DNSName("local")
        hostName = try DNSName(labels: [Array(zone.host.utf8)]).appending(local)
        servicesName = try DNSName("_services._dns-sd._udp.local")
        unique.append(DNSRecord(name: hostName, cacheFlush: true, ttl: zone.hostTTL, data: .a(zone.ipv4)))
        var types: [DNSName] = []
        for s in zone.services {
            let typeName = try DNSName(s.type).appending(local)
            let instanceName = try typeName.prepending(s.instance)
            shared.append(DNSRecord(name: typeName, ttl: s.ttl, data: .ptr(instanceName)))
            unique.append(DNSRecord(name: instanceName, cacheFlush: true, ttl: s.ttl,
                                    data: .srv(priority: 0, weight: 0, port: s.port, target: hostName)))
            unique.append(DNSRecord(name: instanceName, cacheFlush: true, ttl: s.ttl, data: .txt(strings: s.txt)))
            if !types.contains(where: { $0.isEquivalent(to: typeName) }) { types.append(typeName) }
        }
        for t in types {
            shared.append(DNSRecord(name: servicesName, ttl: 4500, data: .ptr(t)))
        }
    }

    public var allRecords: [DNSRecord] { shared + unique }

    public enum Destination: Equatable, Sendable {
        /// To 224.0.0.251:5353.
        case multicast
        /// Back to the querier's address and port.
        case unicast
    }

    public struct Reply: Equatable, Sendable {
        public var message: DNSMessage
        public var destination: Destination
    }

    /// The reply to a query received from `sourcePort`, or nil when we have nothing to say.
    /// Handles QU questions, legacy unicast (source port ≠ 5353: id and questions echoed, TTLs capped),
    /// known-answer suppression, `_services._dns-sd._udp` enumeration and additional records.
    public func respond(to query: DNSMessage, sourcePort: UInt16) -> Reply? {
        guard !query.isResponse, query.opcode == 0, !query.questions.isEmpty else { return nil }
        let legacy = sourcePort != Self.port
        var answers: [DNSRecord] = []
        var allQU = true
        for q in query.questions {
            guard q.qclass == .internet || q.qclass == .any else { continue }
            let matching = allRecords.filter { r in
                r.name.isEquivalent(to: q.name) && (q.type == .any || q.type == r.type)
            }
            if !matching.isEmpty && !q.unicastResponse { allQU = false }
            for r in matching where !answers.contains(r) { answers.append(r) }
        }
        // Known-answer suppression (RFC 6762 §7.1): skip what the querier already holds with at least half our TTL.
        answers.removeAll { r in
            query.answers.contains { k in
                k.name.isEquivalent(to: r.name) && k.data == r.data && k.ttl >= r.ttl / 2
            }
        }
        guard !answers.isEmpty else { return nil }
        let additionals = self.additionals(for: answers)
        var message = DNSMessage.mdnsResponse(answers: answers, additionals: additionals)
        if legacy {
            message.id = query.id
            message.questions = query.questions.map { var q = $0; q.unicastResponse = false; return q }
            message.answers = message.answers.map(Self.legacy)
            message.additionals = message.additionals.map(Self.legacy)
            return Reply(message: message, destination: .unicast)
        }
        return Reply(message: message, destination: allQU ? .unicast : .multicast)
    }

    /// The additional records that go with `answers` (RFC 6763 §12): SRV, TXT and A for a PTR's instance,
    /// A for an SRV's target; none that are already answers.
    public func additionals(for answers: [DNSRecord]) -> [DNSRecord] {
        var out: [DNSRecord] = []
        func add(_ r: DNSRecord) {
            if !answers.contains(r) && !out.contains(r) { out.append(r) }
        }
        for a in answers {
            switch a.data {
            case .ptr(let target):
                for r in unique where r.name.isEquivalent(to: target) { add(r) }
                if unique.contains(where: { $0.name.isEquivalent(to: target) && $0.type == .srv }) {
                    for r in unique where r.name.isEquivalent(to: hostName) { add(r) }
                }
            case .srv(_, _, _, let target):
                for r in unique where r.name.isEquivalent(to: target) { add(r) }
            default:
                break
            }
        }
        return out
    }

    /// Splits a response into messages of at most `limit` bytes (python-zeroconf, for one, drops datagrams over
    /// 8966 bytes, and fragments are fragile): answers are chunked, each chunk carries its own additionals,
    /// which are dropped from a chunk only when even a single answer with them would not fit.
    public func split(_ message: DNSMessage, limit: Int = 1400) -> [DNSMessage] {
        if message.encode().count <= limit { return [message] }
        var parts: [DNSMessage] = []
        var chunk: [DNSRecord] = []
        func build(_ answers: [DNSRecord], withAdditionals: Bool) -> DNSMessage {
            var m = message
            m.answers = answers
            m.additionals = withAdditionals ? additionals(for: answers).map { r in
                message.additionals.first { $0.name == r.name && $0.data == r.data } ?? r
            } : []
            m.questions = parts.isEmpty ? message.questions : []
            return m
        }
        for a in message.answers {
            let candidate = build(chunk + [a], withAdditionals: true)
            if candidate.encode().count <= limit || chunk.isEmpty {
                chunk.append(a)
                if chunk.count == 1 && candidate.encode().count > limit {
                    parts.append(build(chunk, withAdditionals: false)); chunk = []
                }
            } else {
                parts.append(build(chunk, withAdditionals: true))
                chunk = [a]
            }
        }
        if !chunk.isEmpty { parts.append(build(chunk, withAdditionals: true)) }
        return parts
    }

    static func legacy(_ r: DNSRecord) -> DNSRecord {
        var r = r
        r.cacheFlush = false
        r.ttl = min(r.ttl, legacyTTL)
        return r
    }

    /// The unsolicited announcement (RFC 6762 §8.3): every record, A records as additionals.
    public func announcement() -> DNSMessage {
        DNSMessage.mdnsResponse(answers: shared + unique.filter { $0.type != .a },
                                additionals: unique.filter { $0.type == .a })
    }

    /// Goodbye (RFC 6762 §10.1): every record with TTL 0.
    public func goodbye() -> DNSMessage {
        DNSMessage.mdnsResponse(answers: allRecords.map(\.goodbye))
    }

    /// A probe (RFC 6762 §8.1): ANY questions for each unique name, our proposed records in the authority section.
    public func probe() -> DNSMessage {
        var names: [DNSName] = []
        for r in unique where !names.contains(where: { $0.isEquivalent(to: r.name) }) { names.append(r.name) }
        var m = DNSMessage.mdnsQuery(names.map { DNSQuestion(name: $0, type: .any, unicastResponse: true) })
        m.authorities = unique.map { var r = $0; r.cacheFlush = false; return r }
        return m
    }

    /// True when `message` (from another host) claims one of our unique names with different data:
    /// a response answering for it, or a probe proposing it. The runtime then picks another name.
    public func conflicts(with message: DNSMessage) -> Bool {
        let claimed = message.isResponse ? message.answers + message.additionals : message.authorities
        return claimed.contains { other in
            guard other.ttl > 0 else { return false }
            let ours = unique.filter { $0.name.isEquivalent(to: other.name) && $0.type == other.type }
            return !ours.isEmpty && !ours.contains { $0.data == other.data }
        }
    }
}
