import InfernoProtocol
import Testing
@testable import InfernoDevice

@Suite struct DanteAdvertisementTests {
    @Test func recordsFollowTheReference() throws {
        let ad = DanteAdvertisement(name: "studio", ipv4: 0x0A63_0001, ports: DevicePorts(base: nil),
                                    deviceID: DeviceID(hex: "001dc1fffe5279b6")!, processID: 0, sampleRate: 48000,
                                    encoding: 24, latencyNs: 1_000_000,
                                    txChannels: [("01", "TX 1"), ("02", "02")])
        let zone = ad.zone
        #expect(zone.services.map(\.instance) == ["studio", "studio", "01@studio", "TX 1@studio", "02@studio"])
        #expect(zone.services[0].port == 4440 && zone.services[0].ttl == 4500)
        #expect(zone.services[1].port == 8800 && zone.services[1].txt.contains("id=001dc1fffe5279b6"))
        #expect(zone.services[2].port == 4455 && zone.services[2].txt.contains("default"))
        #expect(!zone.services[3].txt.contains("default") && zone.services[3].txt.contains("id=1"))
        #expect(zone.services[4].txt.contains("id=2") && zone.services[4].txt.contains("nchan=2"))
        #expect(zone.services[2].txt.contains("latency_ns=1000000") && zone.services[2].txt.contains("enc=24"))
        // Every SRV points at the one host, whose A record is there.
        let r = try MDNSResponder(zone: zone)
        let host = try DNSName("studio.local")
        for rec in r.unique {
            if case .srv(_, _, _, let target) = rec.data { #expect(target == host) }
        }
        #expect(r.unique.contains { $0.name == host && $0.data == .a(0x0A63_0001) })
    }
}
