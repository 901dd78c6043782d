import Testing
@testable import InfernoProtocol

@Suite struct MDNSResponderTests {
    let zone = MDNSZone(host: "studio", ipv4: 0x0A63_0001, services: [
        MDNSService(instance: "studio", type: "_netaudio-arc._udp", port: 4440,
                    txt: ["arcp_vers=2.7.41", "arcp_min=0.2.4"], ttl: 4500),
        MDNSService(instance: "studio", type: "_netaudio-cmc._udp", port: 8800, txt: ["id=001dc1fffe5279b6"]),
        MDNSService(instance: "01@studio", type: "_netaudio-chan._udp", port: 4455, txt: ["id=1", "default"]),
        MDNSService(instance: "TX 1@studio", type: "_netaudio-chan._udp", port: 4455, txt: ["id=1"]),
    ])

    func query(_ name: String, _ type: DNSType, qu: Bool = false, id: UInt16 = 0) throws -> DNSMessage {
        var m = DNSMessage.mdnsQuery([DNSQuestion(name: try DNSName(name), type: type, unicastResponse: qu)])
        m.id = id
        return m
    }

    @Test func browseAnswersPTRWithSRVTXTAndAInAdditionals() throws {
        let r = try MDNSResponder(zone: zone)
        let reply = try #require(r.respond(to: try query("_netaudio-arc._udp.local", .ptr), sourcePort: 5353))
        #expect(reply.destination == .multicast)
        #expect(reply.message.isResponse && reply.message.authoritative && reply.message.id == 0)
        #expect(reply.message.answers.count == 1)
        #expect(reply.message.answers[0].data == .ptr(try DNSName("studio._netaudio-arc._udp.local")))
        #expect(reply.message.answers[0].ttl == 4500)
        #expect(reply.message.answers[0].cacheFlush == false)
        let types = Set(reply.message.additionals.map(\.type.rawValue))
        #expect(types == [DNSType.srv.rawValue, DNSType.txt.rawValue, DNSType.a.rawValue])
        #expect(reply.message.additionals.allSatisfy { $0.cacheFlush })
        // The reply survives the wire.
        #expect(try DNSMessage.decode(reply.message.encode()) == reply.message)
    }

    @Test func channelResolutionAsInfernoDoesIt() throws {
        // Inferno's receiver asks SRV and TXT for chan@host and needs the A record among the additionals.
        let r = try MDNSResponder(zone: zone)
        var q = try query("TX 1@studio._netaudio-chan._udp.local", .srv)
        q.questions.append(DNSQuestion(name: try DNSName("tx 1@STUDIO._netaudio-chan._udp.local"), type: .txt))
        let reply = try #require(r.respond(to: q, sourcePort: 5353))
        #expect(reply.message.answers.map(\.type) == [.srv, .txt])
        #expect(reply.message.answers[0].data == .srv(priority: 0, weight: 0, port: 4455, target: try DNSName("studio.local")))
        #expect(reply.message.additionals.map(\.data) == [.a(0x0A63_0001)])
    }

    @Test func legacyUnicastEchoesIdAndCapsTTL() throws {
        let r = try MDNSResponder(zone: zone)
        let reply = try #require(r.respond(to: try query("studio.local", .a, id: 0x1234), sourcePort: 40000))
        #expect(reply.destination == .unicast)
        #expect(reply.message.id == 0x1234)
        #expect(reply.message.questions.count == 1)
        #expect(reply.message.answers.allSatisfy { $0.ttl <= 10 && !$0.cacheFlush })
    }

    @Test func quQuestionsGetUnicastReplies() throws {
        let r = try MDNSResponder(zone: zone)
        let reply = try #require(r.respond(to: try query("studio.local", .a, qu: true), sourcePort: 5353))
        #expect(reply.destination == .unicast)
    }

    @Test func knownAnswersAreSuppressed() throws {
        let r = try MDNSResponder(zone: zone)
        var q = try query("_netaudio-chan._udp.local", .ptr)
        let full = try #require(r.respond(to: q, sourcePort: 5353))
        #expect(full.message.answers.count == 2)
        q.answers = [full.message.answers[0]]
        let rest = try #require(r.respond(to: q, sourcePort: 5353))
        #expect(rest.message.answers == [full.message.answers[1]])
        q.answers = full.message.answers
        #expect(r.respond(to: q, sourcePort: 5353) == nil)
        // A known answer with less than half our TTL does not suppress.
        q.answers = full.message.answers.map { var a = $0; a.ttl = 10; return a }
        #expect(r.respond(to: q, sourcePort: 5353)?.message.answers.count == 2)
    }

    @Test func serviceEnumerationAndUnknownNames() throws {
        let r = try MDNSResponder(zone: zone)
        let reply = try #require(r.respond(to: try query("_services._dns-sd._udp.local", .ptr), sourcePort: 5353))
        #expect(reply.message.answers.count == 3)
        #expect(r.respond(to: try query("other.local", .a), sourcePort: 5353) == nil)
        #expect(r.respond(to: try query("studio.local", .aaaa), sourcePort: 5353) == nil)
        // Responses are not queries.
        var resp = try query("studio.local", .a); resp.isResponse = true
        #expect(r.respond(to: resp, sourcePort: 5353) == nil)
    }

    @Test func goodbyeAnnouncementProbeAndConflicts() throws {
        let r = try MDNSResponder(zone: zone)
        #expect(r.goodbye().answers.count == r.allRecords.count)
        #expect(r.goodbye().answers.allSatisfy { $0.ttl == 0 })
        let ann = r.announcement()
        #expect(ann.answers.count + ann.additionals.count == r.allRecords.count)
        let probe = r.probe()
        #expect(probe.questions.allSatisfy { $0.type == .any && $0.unicastResponse })
        #expect(!r.conflicts(with: r.announcement()))
        var other = try MDNSResponder(zone: MDNSZone(host: "studio", ipv4: 0x0A63_0002, services: [])).announcement()
        #expect(r.conflicts(with: other))
        other.answers = other.answers.map(\.goodbye); other.additionals = other.additionals.map(\.goodbye)
        #expect(!r.conflicts(with: other))
    }

    @Test func labelsTooLongAreTypedErrors() {
        #expect(throws: WireError.self) {
            try MDNSResponder(zone: MDNSZone(host: String(repeating: "x", count: 64), ipv4: 1, services: []))
        }
    }
}
