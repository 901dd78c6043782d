import InfernoProtocol
import Testing
@testable import InfernoDevice

/// The backend choice and what the Avahi backend computes without a daemon (the daemon itself is exercised by
/// Tests/interop/avahi.sh).
@Suite struct MDNSBackendTests {
    @Test func choiceFromFlagOrEnvironment() throws {
        #expect(try DeviceConfig.resolve(flags: [:], environment: [:]).mdns == .auto)
        #expect(try DeviceConfig.resolve(flags: ["mdns": "avahi"], environment: [:]).mdns == .avahi)
        #expect(try DeviceConfig.resolve(flags: [:], environment: ["INFERNO_MDNS": "embedded"]).mdns == .embedded)
        #expect(try DeviceConfig.resolve(flags: ["mdns": "auto"], environment: ["INFERNO_MDNS": "avahi"]).mdns == .auto)
        do {
            _ = try DeviceConfig.resolve(flags: [:], environment: ["INFERNO_MDNS": "bonjour"])
            Issue.record("accepted an unknown backend")
        } catch {
            #expect(error.description == #"--mdns (INFERNO_MDNS): "bonjour" must be auto, embedded or avahi"#)
        }
    }

    @Test func autoNeverPicksAvahiOnLoopback() {
        let lo = HostInterface(name: "lo", address: 0x7F00_0001, netmask: 0xFF00_0000, isLoopback: true, mac: nil)
        let (available, reason) = AvahiProbe.check(interface: lo)
        #expect(!available)
        #expect(reason.contains("loopback"))
    }

    @Test func autoLeavesLargeDevicesToTheEmbeddedResponder() {
        // Checked before the daemon is asked: each service is one system D-Bus connection with libdns_sd.
        let eth = HostInterface(name: "eth0", address: 0x0A63_3D01, netmask: 0xFFFF_FF00, isLoopback: false, mac: nil)
        let (available, reason) = AvahiProbe.check(interface: eth, services: DNSSD.autoServiceLimit + 1)
        #expect(!available)
        #expect(reason.contains("\(DNSSD.autoServiceLimit + 1) services"))
    }

    @Test func txtRecordRoundTrip() {
        let strings = ["txtvers=2", "pcm=3 e", "default", "", String(repeating: "x", count: 300)]
        let bytes = DNSSD.txtBytes(strings)
        // Each string is length-prefixed, truncated to 255 bytes; the empty string is an empty entry.
        #expect(bytes.count == strings.map { min(255, $0.utf8.count) + 1 }.reduce(0, +))
        let back = bytes.withUnsafeBufferPointer { DNSSD.txtStrings($0) }
        #expect(back == ["txtvers=2", "pcm=3 e", "default", String(repeating: "x", count: 255)].map { Array($0.utf8) })
        // A truncated record yields the complete entries only.
        let cut = Array(bytes.prefix(12))
        #expect(cut.withUnsafeBufferPointer { DNSSD.txtStrings($0) } == [Array("txtvers=2".utf8)])
        #expect(DNSSD.txtBytes([]) == [0])
    }

    /// Same answers both ways: a channel resolved from the embedded responder's reply and the same channel
    /// resolved from what Avahi reports (SRV target, port, TXT bytes as registered, A record) are equal.
    @Test func avahiAnswerEqualsEmbeddedAnswer() throws {
        let ad = DanteAdvertisement(name: "studio", ipv4: 0x0A63_3D01, ports: DevicePorts(base: nil),
                                    deviceID: DeviceID(hex: "00000000000a0001")!, processID: 0, sampleRate: 48000,
                                    encoding: 24, latencyNs: 4_000_000,
                                    txChannels: [("01", "TX 1"), ("02", "Vox")])
        let responder = try MDNSResponder(zone: ad.zone)
        for (channel, id) in [("02", 2), ("Vox", 2), ("TX 1", 1)] {
            let q = DNSMessage.mdnsQuery([DNSQuestion(name: try DNSName("\(channel)@studio._netaudio-chan._udp.local"), type: .any)])
            let reply = try #require(responder.respond(to: q, sourcePort: 5353))
            let embedded = try #require(ResolvedChannel.parse([reply.message], txChannel: channel, txDevice: "studio"))
            let service = try #require(ad.zone.services.first { $0.instance == "\(channel)@studio" && $0.type == "_netaudio-chan._udp" })
            let txt = DNSSD.txtBytes(service.txt).withUnsafeBufferPointer { DNSSD.txtStrings($0) }
            let avahi = try #require(AvahiResolver.answer(txChannel: channel, txDevice: "studio", host: "avahi-h1.local.",
                                                          port: service.port, txt: txt, ipv4: 0x0A63_3D01))
            #expect(avahi == embedded)
            #expect(avahi.channelID == UInt16(id) && avahi.port == 4455 && avahi.ipv4 == 0x0A63_3D01)
        }
        // Without the address record nothing resolves (no half answers).
        #expect(AvahiResolver.answer(txChannel: "02", txDevice: "studio", host: "bad..name", port: 4455, txt: [], ipv4: 1) == nil)
    }
}
