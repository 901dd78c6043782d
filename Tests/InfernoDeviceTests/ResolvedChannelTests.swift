import InfernoProtocol
import Testing
@testable import InfernoDevice

@Suite struct ResolvedChannelTests {
    func zoneAnswer(txt: [String]) throws -> DNSMessage {
        let owner = try DNSName("TX 1@alpha._netaudio-chan._udp.local")
        let host = try DNSName("alpha.local")
        return DNSMessage.mdnsResponse(
            answers: [DNSRecord(name: owner, ttl: 120, data: .srv(priority: 0, weight: 0, port: 4455, target: host)),
                      DNSRecord(name: owner, ttl: 120, data: .txt(txt.map { Array($0.utf8) }))],
            additionals: [DNSRecord(name: host, ttl: 120, data: .a(0x0A63_1501))])
    }

    @Test func parsesSRVTXTAndTheAdditionalA() throws {
        let m = try zoneAnswer(txt: ["txtvers=2", "dbcp1=0x1200", "id=3", "rate=48000", "enc=24", "latency_ns=1000000",
                                     "fpp=16,4", "nchan=64", "default"])
        let r = try #require(ResolvedChannel.parse([m], txChannel: "tx 1", txDevice: "ALPHA"))
        #expect(r.ipv4 == 0x0A63_1501 && r.port == 4455 && r.channelID == 3)
        #expect(r.encoding == 24 && r.sampleRate == 48000 && r.latencyNs == 1_000_000)
        #expect(r.fppMax == 16 && r.fppMin == 4 && r.nchan == 64 && r.dbcp1 == 0x1200)
    }

    @Test func missingRequiredKeysFail() throws {
        #expect(ResolvedChannel.parse([try zoneAnswer(txt: ["id=1", "enc=24", "fpp=32,2", "nchan=8"])],
                                      txChannel: "TX 1", txDevice: "alpha") == nil)   // no latency_ns
        #expect(ResolvedChannel.parse([try zoneAnswer(txt: ["en=16", "latency_ns=1", "fpp=32,2", "nchan=8"])],
                                      txChannel: "TX 1", txDevice: "alpha") == nil)   // no id
        let ok = try zoneAnswer(txt: ["id=1", "en=16", "latency_ns=1", "fpp=32", "nchan=8"])
        #expect(ResolvedChannel.parse([ok], txChannel: "TX 1", txDevice: "alpha")?.encoding == 16)
        #expect(ResolvedChannel.parse([ok], txChannel: "TX 2", txDevice: "alpha") == nil)
    }
}
