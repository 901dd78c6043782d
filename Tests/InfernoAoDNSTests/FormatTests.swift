import Testing
import InfernoProtocol
@testable import InfernoAoDNS

func hex(_ s: String) -> [UInt8] {
    let digits = Array(s.utf8).filter { $0 != 0x20 && $0 != 0x0A }
    var out: [UInt8] = []
    var i = 0
    while i + 1 < digits.count {
        out.append(UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16)!)
        i += 2
    }
    return out
}

func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A deterministic byte generator for round-trip and fuzz tests.
struct XorShift {
    var s: UInt64
    init(_ seed: UInt64) { s = seed | 1 }
    mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in byte() } }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}

@Suite("basE91 (aodns.md §6)")
struct Base91Tests {
    @Test func referenceVectors() {
        #expect(Base91.encode([UInt8]()) == [])
        #expect(Base91.encodeString([0x00]) == "AA")
        #expect(Base91.encodeString([0xFF, 0xFF]) == "B\"H")
        #expect(Base91.encodeString(ascii("test")) == "fPNKd")
        #expect(Base91.encodeString(ascii("Hello, world!")) == ">OwJh>}A\"=r@@Y?F")
        #expect(Base91.encodeString(ascii("0,1,2")) == "aidEajA")
        #expect(Base91.decode("fPNKd") == ascii("test"))
        #expect(Base91.decode(">OwJh>}A\"=r@@Y?F") == ascii("Hello, world!"))
        #expect(Base91.decode("B\"H") == [0xFF, 0xFF])
    }

    @Test func alphabetIsTheReferenceOne() {
        #expect(Base91.alphabet.count == 91)
        #expect(Set(Base91.alphabet).count == 91)
        #expect(Base91.alphabet.last == UInt8(ascii: "\""))
        for c in ascii(" '-\\") { #expect(!Base91.isAlphabet(c)) }
    }

    @Test func roundTripsAndLengthBound() {
        var g = XorShift(91)
        for n in 0..<600 {
            let data = g.bytes(n)
            let text = Base91.encode(data)
            #expect(text.allSatisfy(Base91.isAlphabet))
            #expect(text.count <= Base91.maxEncodedLength(n))
            #expect(Base91.decode(text) == data)
        }
        // Worst case for the bound: inputs whose 13-bit groups all take the 13-bit path.
        for n in [1, 2, 13, 100, 198, 199] {
            let data = [UInt8](repeating: 0xFF, count: n)
            #expect(Base91.encode(data).count <= Base91.maxEncodedLength(n))
        }
        #expect(Base91.maxDecodedLength(fittingIn: 244) == 198)
        #expect(Base91.maxEncodedLength(198) <= 244 && Base91.maxEncodedLength(199) > 244)
    }

    @Test func decodingSkipsForeignBytesAndNeverTraps() {
        #expect(Base91.decode(ascii("fP NK\nd")) == ascii("test"))
        var g = XorShift(7)
        for _ in 0..<2000 { _ = Base91.decode(g.bytes(g.below(300))) }
    }
}

@Suite("sequence record (aodns.md §4)")
struct SequenceTests {
    @Test func workedExample() throws {
        #expect(Zlib.compress(ascii("0,1,2,3,4"), level: 9) == hex("78da33d031d431d231d6310100084701ab"))
        #expect(String(decoding: AoDNSSequence.encode([0, 1, 2, 3, 4]), as: UTF8.self) == "q:yEDjaK}[TfoNAA[J:hV")
        #expect(try AoDNSSequence.decode(ascii("q:yEDjaK}[TfoNAA[J:hV")) == [0, 1, 2, 3, 4])
        // The measured answer of §2.2.
        #expect(String(decoding: AoDNSSequence.encode([0, 1, 2, 3]), as: UTF8.self) == "q:yEDjaK}[$IY4BN|eC")
        #expect(try AoDNSSequence.decode(ascii("q:yEDjaK}[$IY4BN|eC")) == [0, 1, 2, 3])
    }

    /// §4.1: string lengths of windows starting at N = 0 with the real encoder.
    @Test func lengthsMatchTheMeasuredTable() {
        func len(_ k: Int) -> Int { AoDNSSequence.encode((0..<UInt64(k)).map { $0 }).count }
        #expect(len(50) == 101)
        #expect(len(75) == 141)
        #expect(len(100) == 180)
        #expect(len(150) == 302)
        #expect(len(130) <= 255 && len(131) > 255)   // smallest overflowing window from 0: 131
    }

    @Test func neverOverflowsPublishesTheNewest() throws {
        let numbers = (0..<UInt64(150)).map { $0 }
        let (text, count) = AoDNSSequence.encodeFitting(numbers)
        #expect(text.count <= 255)
        #expect(count >= 100 && count < 150)
        #expect(try AoDNSSequence.decode(text) == Array(numbers.suffix(count)))
        let big = (0..<UInt64(400)).map { 9_000_000_000 + $0 }
        let (t2, c2) = AoDNSSequence.encodeFitting(big)
        #expect(t2.count <= 255 && c2 > 20)
        #expect(try AoDNSSequence.decode(t2) == Array(big.suffix(c2)))
        // The next one would not fit.
        #expect(AoDNSSequence.encode(Array(big.suffix(c2 + 1))).count > 255)
    }

    @Test func badInputIsATypedError() throws {
        #expect(throws: AoDNSFormatError.self) { try AoDNSSequence.decode(ascii("not zlib at all")) }
        #expect(throws: AoDNSFormatError.self) {
            try AoDNSSequence.decode(Base91.encode(Zlib.compress(ascii("1,2,x"))))
        }
        #expect(throws: AoDNSFormatError.self) {
            try AoDNSSequence.decode(Base91.encode(Zlib.compress(ascii("1,99999999999999999999999"))))
        }
        // Truncated zlib, bad Adler-32.
        var z = Zlib.compress(ascii("0,1,2,3,4"))
        #expect(throws: AoDNSFormatError.self) { try AoDNSSequence.decode(Base91.encode(z.dropLast(3))) }
        z[z.count - 1] ^= 1
        #expect(throws: AoDNSFormatError.self) { try AoDNSSequence.decode(Base91.encode(z)) }
        #expect(throws: Zlib.Failure.tooLarge(limit: 100)) {
            try Zlib.decompress(Zlib.compress([UInt8](repeating: 0x30, count: 1000)), limit: 100)
        }
        #expect(try Zlib.decompress(Zlib.compress([UInt8](repeating: 0x30, count: 100)), limit: 100).count == 100)
        var g = XorShift(3)
        for _ in 0..<2000 { _ = try? AoDNSSequence.decode(g.bytes(g.below(260))) }
    }
}

@Suite("seq_N packs (aodns.md §5)")
struct PackTests {
    @Test func stringLayout() throws {
        let s = try #require(AoDNSPack.string(index: 1, packet: [0x58, 0xE7, 0xFE, 0x01]))
        #expect(Array(s.prefix(6)) == ascii("001'''"))
        let (i, p) = try AoDNSPack.parse(s)
        #expect(i == 1 && p == [0x58, 0xE7, 0xFE, 0x01])
        // The measured example string starts "001'''8U_~XDp,|Z]i$5h…" and its packet starts 58 e7 fe (TOC 0x58).
        let (i2, p2) = try AoDNSPack.parse(ascii("001'''8U_~XDp,|Z]i$5hl]uW95U)afQ4HVyk%1{"))
        #expect(i2 == 1)
        #expect(Array(p2.prefix(3)) == [0x58, 0xE7, 0xFE])
        #expect(AoDNSPack.string(index: 1000, packet: [1]) == nil)
        #expect(AoDNSPack.string(index: 0, packet: [UInt8](repeating: 0xFF, count: 199)) == nil)   // > 244 chars
        #expect(AoDNSPack.string(index: 0, packet: [UInt8](repeating: 0xFF, count: 198))?.count ?? 999 <= 250)
    }

    @Test func lenientIndexLikePythonInt() throws {
        #expect(try AoDNSPack.parse(ascii(" 7 '''AA")).index == 7)
        #expect(try AoDNSPack.parse(ascii("0012'''AA")).index == 12)
        for bad in ["'''AA", "abc'''AA", "1000'''AA", "001AA", "001'''", "001'''AA'''AA", "-1'''AA"] {
            #expect(throws: AoDNSFormatError.self, "\(bad)") { try AoDNSPack.parse(ascii(bad)) }
        }
    }

    @Test func anyOrderAndContinuity() {
        let packets: [[UInt8]] = (0..<6).map { [UInt8($0), 0xAA, 0x55] }
        var strings = packets.enumerated().map { AoDNSPack.string(index: $0.offset, packet: $0.element)! }
        strings = Array(strings[3...] + strings[..<3])   // a resolver rotated the RRset
        let d = AoDNSPack.decode(strings: strings)
        #expect(d.isComplete && d.packets.compactMap { $0 } == packets)

        var gap = strings; gap.remove(at: 1)             // index 4 lost
        let g = AoDNSPack.decode(strings: gap)
        #expect(!g.isComplete && g.missing == 1 && g.packets[4] == nil)

        let tail = AoDNSPack.decode(strings: Array(strings[0..<2]), expected: 6)  // 3, 4 present; 0-2, 5 lost
        #expect(tail.packets.count == 6 && tail.missing == 4)

        let dup = AoDNSPack.decode(strings: strings + [strings[0]])
        #expect(dup.duplicates == 1 && !dup.isComplete)
        let junk = AoDNSPack.decode(strings: strings + [ascii("garbage")])
        #expect(junk.damaged == 1)
        #expect(AoDNSPack.decode(strings: []).packets.isEmpty)
    }

    @Test func fuzzNeverTraps() {
        var g = XorShift(11)
        for _ in 0..<3000 {
            var s = g.bytes(g.below(60))
            if g.below(2) == 0 { s = ascii("00\(g.below(10))'''") + s }
            _ = try? AoDNSPack.parse(s)
            _ = AoDNSPack.decode(strings: [s, g.bytes(g.below(10))], expected: g.below(3) == 0 ? nil : g.below(20))
        }
    }
}

@Suite("TTLs (aodns.md §3)")
struct TTLTests {
    @Test func originalFormulaWithItsUnitError() {
        // Measured on the original: 11 packets → 19 s, 13 → 23 s, 18 → 32 s (16 kHz mono, window 75).
        #expect(AoDNSTTL.originalSeq(frameSize: 960, frameCount: 11, sampleRate: 16000, channels: 1, maxSequences: 75) == 19)
        #expect(AoDNSTTL.originalSeq(frameSize: 960, frameCount: 13, sampleRate: 16000, channels: 1, maxSequences: 75) == 23)
        #expect(AoDNSTTL.originalSeq(frameSize: 960, frameCount: 18, sampleRate: 16000, channels: 1, maxSequences: 75) == 32)
    }

    @Test func fixedRuleIsEightyPercentOfTheWindow() {
        // 13 packets of 60 ms = 780 ms; 75 packs = 58.5 s; 80 % = 46 s (the original said 23 s).
        #expect(AoDNSTTL.seq(packMs: 780, window: 75) == 46)
        #expect(AoDNSTTL.seq(packMs: 240, window: 75) == 14)
        #expect(AoDNSTTL.seq(packMs: 60, window: 10) == 5)
    }
}

@Suite("head and config records (v2)")
struct HeadConfigTests {
    @Test func headIsFixedSize() throws {
        let a = AoDNSHead(epoch: 0x1234abcd, first: 7_000_000_000, count: 75, closedAtMs: 1_700_000_000_123)
        #expect(String(decoding: a.text, as: UTF8.self) == "e=1234abcd;f=7000000000;n=075;t=1700000000123")
        let b = AoDNSHead(epoch: 0, first: 0, count: 0, closedAtMs: 0)
        #expect(a.text.count == b.text.count)
        #expect(try AoDNSHead(text: a.text) == a)
        #expect(a.newest == 7_000_000_074 && b.newest == nil)
        #expect(try AoDNSHead(text: ascii("t=5;n=1;f=2;e=0000000a;x=future")) == AoDNSHead(epoch: 10, first: 2, count: 1, closedAtMs: 5))
        for bad in ["", "e=1;f=2;n=3;t=4", "e=0000000a;f=2;n=1000;t=4", "e=0000000a;f=x;n=1;t=4", "garbage", ";;;",
                    "e=0000000a;f=2;n=1;t=99999999999999999999", "e=0000000a;f=18446744073709551615;n=1;t=4"] {
            #expect(throws: AoDNSFormatError.self, "\(bad)") { try AoDNSHead(text: ascii(bad)) }
        }
    }

    @Test func configRoundTripAndRefusals() throws {
        let c = AoDNSConfig(sampleRate: 16000, channels: 1, packetsPerPack: 4, window: 75, epoch: 0xdeadbeef, bitrate: 20000)
        let strings = c.strings.map { String(decoding: $0, as: UTF8.self) }
        #expect(strings.contains("aodns=2") && strings.contains("pms=240") && strings.contains("sep='''")
                && strings.contains("epoch=deadbeef") && strings.contains("br=20000") && strings.contains("fms=60"))
        #expect(try AoDNSConfig(strings: c.strings) == c)
        var s = c.strings
        s[1] = ascii("codec=codec2")
        #expect(throws: AoDNSFormatError.self) { try AoDNSConfig(strings: s) }
        s = c.strings; s[5] = ascii("enc=base64")
        #expect(throws: AoDNSFormatError.self) { try AoDNSConfig(strings: s) }
        s = c.strings; s[8] = ascii("pms=480")
        #expect(throws: AoDNSFormatError.self) { try AoDNSConfig(strings: s) }
        #expect(throws: AoDNSFormatError.self) { try AoDNSConfig(strings: []) }
    }

    @Test func names() throws {
        let n = AoDNSNames(zone: try DNSName("music.example.com"))
        #expect(n.sequence.description == "sequence.music.example.com.")
        #expect(n.seq(27).description == "seq_27.music.example.com.")
        #expect(n.seq(27, epoch: 0xab).description == "seq_27.000000ab.music.example.com.")
        #expect(n.parseSeq(try DNSName("SEQ_27.Music.Example.COM"))! == (27, nil))
        #expect(n.parseSeq(try DNSName("seq_27.000000AB.music.example.com"))! == (27, 0xab))
        #expect(n.parseSeq(try DNSName("seq_027.music.example.com")) == nil)
        #expect(n.parseSeq(try DNSName("seq_.music.example.com")) == nil)
        #expect(n.parseSeq(try DNSName("seq_1.x.music.example.com")) == nil)
        #expect(n.parseSeq(try DNSName("seq_1.example.com")) == nil)
        #expect(n.channelLabel == "music_example_com")
    }
}
