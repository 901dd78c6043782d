import Glibc
import Testing
import InfernoProtocol
@testable import InfernoAoDNS

/// The listener against our server on loopback, with a zone built by hand: one packet missing inside a pack and
/// one whole pack missing. Continuity checks must find both and conceal exactly their duration.
@Suite("listener continuity and concealment", .serialized)
struct ListenerTests {
    @Test func missingPacketAndPackAreConcealedForTheirExactDuration() throws {
        let fpp = 4, packs = 10
        let enc = try OpusFrameEncoder(sampleRate: 16000, channels: 1, bitrate: 20000, maxPacketBytes: 198)
        let config = AoDNSConfig(sampleRate: 16000, channels: 1, packetsPerPack: fpp, window: 75, epoch: 0x1234_5678, bitrate: 20000)
        let now = unixMillis()
        var pub = AoDNSPublication(zone: zoneName, config: config, startedAtMs: now - 5000, firstN: 1000)
        var t: UInt64 = 0
        for k in 0..<packs {
            var packets: [[UInt8]] = []
            for _ in 0..<fpp {
                let pcm = (0..<960).map { i in Int16(3000 * sin(2 * Double.pi * 1000 * Double(t + UInt64(i)) / 16000)) }
                t += 960
                packets.append(try enc.encode(pcm))
            }
            // Pack 1003 loses packet 2; pack 1006 is never published (kept below as a gap in the zone).
            if k == 3 { packets.remove(at: 2) }
            pub.append(packets: packets, closedAtMs: now - UInt64(packs - 1 - k) * 240)
        }
        var zone = pub.zone()
        // Rebuild without pack 1006 (the zone type is immutable per snapshot: copy every other RRset).
        var z2 = DNSZone(apex: zone.apex, soa: zone.soa, soaTTL: zone.soaTTL)
        for (key, sets) in zone.nodes {
            if let p = pub.names.parseSeq(key.name), p.n == 1006 { continue }
            for (type, set) in sets where key != zone.apex.key || type != .soa { z2.set(key.name, type, set) }
        }
        z2.mayExist = zone.mayExist
        zone = z2
        #expect(zone.rrset(pub.names.seq(1006, epoch: 0x1234_5678), .txt) == nil)
        #expect(zone.rrset(pub.names.seq(1005, epoch: 0x1234_5678), .txt) != nil)

        let server = try DNSServer(endpoint: SocketEndpoint("127.0.0.1:0")!, zone: zone)
        server.start()
        defer { server.stop() }
        var settings = AoDNSListenSettings(zone: zoneName, server: SocketEndpoint("127.0.0.1:\(server.boundPort)")!)
        settings.fromOldest = true
        let listener = try AoDNSListener(settings: settings)
        listener.start()
        defer { listener.stop() }
        // Wait until the 9 published packs are in and 1006 has been given up (NXDOMAIN, three tries).
        let deadline = monoNanos() + 10_000_000_000
        while monoNanos() < deadline {
            if listener.stats.packsFetched.load(ordering: .relaxed) >= 9 && listener.shared.withLock({ $0.failed.contains(1006) }) { break }
            usleep(20_000)
        }
        #expect(listener.mode == .v2)
        #expect(listener.stats.packsFetched.load(ordering: .relaxed) == 9)
        var frames = 0
        while frames < packs * fpp * 960 {
            let got = listener.pull(frames: 960)
            if got.isEmpty { usleep(10_000); continue }
            frames += got.count
        }
        #expect(listener.stats.packetsDecoded.load(ordering: .relaxed) == packs * fpp - 1 - fpp)
        #expect(listener.stats.framesConcealed.load(ordering: .relaxed) == 1 + fpp)
        #expect(listener.stats.waits.load(ordering: .relaxed) == 0)
        #expect(listener.stats.packsSkipped.load(ordering: .relaxed) == 1)
    }
}

/// A hostile or broken server: absurd head values, an absurd v1 list, packs that are garbage. The listener must
/// keep running, keep producing output once started, and stop promptly.
@Suite("listener against a hostile zone", .serialized)
struct HostileZoneTests {
    func zone(head: String, sequence: [UInt8]?, config: Bool) -> DNSZone {
        var z = DNSZone(apex: zoneName, soa: DNSSOA(mname: .root, rname: .root, serial: 1, minimum: 1), soaTTL: 1)
        let names = AoDNSNames(zone: zoneName)
        if config {
            let c = AoDNSConfig(sampleRate: 16000, channels: 1, packetsPerPack: 4, window: 75, epoch: 1, bitrate: 20000)
            z.set(names.config, .txt, DNSRRSet(ttl: 1, data: [.txt(c.strings)]))
        }
        z.set(names.head, .txt, DNSRRSet(ttl: 1, data: [.txt([Array(head.utf8)])]))
        if let sequence { z.set(names.sequence, .txt, DNSRRSet(ttl: 1, data: [.txt([sequence])])) }
        for n: UInt64 in [0, 1, 2, 999_999_999_999_000] {
            z.set(names.seq(n), .txt, DNSRRSet(ttl: 1, data: [.txt([Array("000'''".utf8) + [0xFF, 0x27, 0x27]]), .txt([[1, 2, 3]])]))
            z.set(names.seq(n, epoch: 1), .txt, DNSRRSet(ttl: 1, data: [.txt([Array("001'''AAAA".utf8)])]))
        }
        return z
    }

    func run(_ z: DNSZone, mode: AoDNSListenSettings.Mode) throws -> AoDNSListener.Stats {
        let server = try DNSServer(endpoint: SocketEndpoint("127.0.0.1:0")!, zone: z)
        server.start()
        defer { server.stop() }
        var settings = AoDNSListenSettings(zone: zoneName, server: SocketEndpoint("127.0.0.1:\(server.boundPort)")!)
        settings.mode = mode
        settings.latencyMs = 100
        let listener = try AoDNSListener(settings: settings)
        listener.start()
        let end = monoNanos() + 800_000_000
        while monoNanos() < end {
            _ = listener.pull(frames: 960)
            usleep(20_000)
        }
        let t0 = monoNanos()
        listener.stop()
        #expect(monoNanos() - t0 < 2_000_000_000)
        return listener.stats
    }

    @Test func absurdHeadValues() throws {
        for head in ["e=00000001;f=999999999999999;n=999;t=999999999999999", "e=00000001;f=0;n=999;t=0",
                     "e=00000001;f=18446744073709551615;n=1;t=18446744073709551615", "garbage"] {
            let s = try run(zone(head: head, sequence: nil, config: true), mode: .auto)
            #expect(s.queries.load(ordering: .relaxed) > 0)
        }
    }

    @Test func absurdV1List() throws {
        for list in ["0,18446744073709551615", "0,1,2,999999999999000", "1,1,1", ""] {
            let seq = AoDNSSequence.encode(list.split(separator: ",").compactMap { UInt64($0) })
            let s = try run(zone(head: "x", sequence: seq, config: false), mode: .v1)
            #expect(s.queries.load(ordering: .relaxed) > 0)
        }
        _ = try run(zone(head: "x", sequence: Array("not basE91 zlib".utf8), config: false), mode: .v1)
    }
}
