import Testing
@testable import InfernoProtocol

/// Inputs the fuzz targets (Tests/fuzz, `make fuzz`) found, kept as byte literals with the fix they led to.
@Suite("fuzz regressions")
struct FuzzRegressionTests {
    /// fuzz target `audio`: a packet timestamp unwrapped near a local clock reference close to 2⁶⁴ wrapped past
    /// 2⁶⁴ and came back as a small number not congruent to the packet's own timestamp.
    @Test func audioTimestampNearTopOfRangeStaysCongruent() throws {
        // The fuzz input: selector byte, 8 reference bytes, then the datagram (header 0xff, seconds 0xffffff81).
        let input = hexBytes("00 ff ff ff ff ff ff ff ff ff ff ff ff 81 00 00 00 65 53 f1 90 00 00 a0 00 00 b0 00 00 00 01 e0")
        let reference = input[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(reference == .max)
        let header = try AudioPacketHeader.decode(Array(input[9...]))
        let rate: UInt32 = 44100
        let base = try header.timestamp(sampleRate: rate)
        let t = try header.timestamp(sampleRate: rate, near: reference)
        let period = UInt64(rate) << 32
        #expect(t % period == base)
        #expect(reference - t <= period)   // the period just below the reference, not a wrapped-around value
    }

    /// fuzz target `dns-authority`: the rate limiter's minimal truncated answer copied a question name of 256
    /// octets (the limit is 255), so the "answer" was a message no resolver (nor our decoder) accepts.
    @Test func minimalTruncatedRefusesOverlongNames() {
        let query = hexBytes("""
        00 01 00 00 00 01 00 00 00 00 00 00 05 73 65 71 5f 31 05 73 65 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d
        1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 26 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 30
        30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30
        30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30
        30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 36 31 34 38 39 31 34 36 39 31 32 33 36 35 31 37
        32 30 34 8e 0d 33 1d 1d 1d 1d d6 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 19 1d 1d 1d 32 05 72 61 64 69 1d
        1d 1d 1d 1d e0 e0 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d
        1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 1d 72 5f 71 05 72 61
        64 69 6f 07 6c d0 85 00 00 00 00 00 01 00 00 00
        """)
        #expect(query.count == 12 + 256 + 4)
        #expect(throws: WireError.self) { try DNSMessage.decode(query) }
        query.withUnsafeBytes { #expect(DNSAuthority.minimalTruncated($0) == nil) }
        // A 255-octet name (one byte shorter last label) still gets its truncated answer.
        var ok = DNSMessage(id: 1, questions: [DNSQuestion(name: try! DNSName(labels: [[UInt8](repeating: 0x61, count: 63),
            [UInt8](repeating: 0x62, count: 63), [UInt8](repeating: 0x63, count: 63), [UInt8](repeating: 0x64, count: 61)]),
                                                        type: .txt)])
        ok.recursionDesired = true
        let okBytes = ok.encode()
        #expect(okBytes.count == 12 + 255 + 4)
        let tc = okBytes.withUnsafeBytes { DNSAuthority.minimalTruncated($0) }
        #expect(tc.flatMap { try? DNSMessage.decode($0) }?.truncated == true)
    }
}
