import Testing
@testable import InfernoProtocol

/// dante-protocol.md §8.3.
private let workedHex = """
02 65 53 f1 00 00 00 30 39 12 34 56 ff ff ff 7f
ff ff 80 00 00 00 00 00 00 00 01 00 01 00 00 02
00
"""
/// The §8.3 frames, left-justified (24-bit value << 8).
private let workedSamples: [Int32] = [0x1234_5600, -1 << 8, 0x7FFF_FF00, Int32.min, 0, 1 << 8, 0x100 << 8, 0x200 << 8]

@Suite("Audio packet codec")
struct AudioPacketTests {
    let stereo24 = try! AudioPacketFormat(channels: 2, encoding: .int24)

    @Test func workedPacketEncode() {
        let header = AudioPacketHeader(timestamp: 1_700_000_000 * 48_000 + 12_345, sampleRate: 48_000)
        #expect(header == AudioPacketHeader(type: 2, seconds: 1_700_000_000, subsecond: 12_345))
        let p = AudioPacket(header: header, format: stereo24, samples: workedSamples)
        #expect(p.encode() == hexBytes(workedHex))

        // The non-allocating writer produces the same bytes into a larger preallocated buffer.
        var buffer = [UInt8](repeating: 0xEE, count: 1500)
        let n = buffer.withUnsafeMutableBytes { raw -> Int in
            let w = try! AudioPacketWriter(buffer: raw, format: stereo24, frames: 4)
            w.zeroPayload()
            w.setHeader(header)
            for f in 0..<4 { for s in 0..<2 { w.setSample(workedSamples[f * 2 + s], frame: f, slot: s) } }
            return w.byteCount
        }
        #expect(Array(buffer.prefix(n)) == hexBytes(workedHex))
    }

    @Test func workedPacketDecode() throws {
        let bytes = hexBytes(workedHex)
        let p = try AudioPacket.decode(bytes, format: stereo24)
        #expect(p.samples == workedSamples && p.frames == 4)
        #expect(try p.header.timestamp(sampleRate: 48_000) == 1_700_000_000 * 48_000 + 12_345)
        try bytes.withUnsafeBytes { raw in
            let v = try AudioPacketView(raw, format: stereo24)
            #expect(v.frames == 4 && v.header.type == 2)
            #expect(v.sample(frame: 0, slot: 0) == 0x1234_5600)
            #expect(v.sample(frame: 1, slot: 1) == Int32.min)
            #expect(v.sample(frame: 3, slot: 1) == 0x0002_0000)
        }
    }

    @Test(arguments: PCMEncoding.allCases)
    func extremesAreBitExact(_ enc: PCMEncoding) throws {
        let shift = 32 - enc.bits
        let native: [Int64] = [-(1 << (enc.bits - 1)), (1 << (enc.bits - 1)) - 1, -1, 0, 1]
        let samples = native.map { Int32(truncatingIfNeeded: $0 << shift) }
        let fmt = try AudioPacketFormat(channels: 1, encoding: enc)
        let bytes = AudioPacket(header: AudioPacketHeader(seconds: 1, subsecond: 2), format: fmt, samples: samples).encode()
        #expect(bytes.count == 9 + 5 * enc.bytesPerSample)
        // Big-endian two's complement of the native value.
        for (i, v) in native.enumerated() {
            let b = bytes[(9 + i * enc.bytesPerSample)...].prefix(enc.bytesPerSample)
            var expected: [UInt8] = []
            for k in stride(from: enc.bits - 8, through: 0, by: -8) { expected.append(UInt8(truncatingIfNeeded: v >> Int64(k))) }
            #expect(Array(b) == expected)
        }
        #expect(try AudioPacket.decode(bytes, format: fmt).samples == samples)
    }

    @Test func every16BitValueRoundTrips() {
        var buf = [UInt8](repeating: 0, count: 2)
        buf.withUnsafeMutableBytes { raw in
            for v in Int32(Int16.min)...Int32(Int16.max) {
                PCMEncoding.int16.write(v << 16, to: raw.baseAddress!)
                #expect(raw[0] == UInt8(truncatingIfNeeded: v >> 8) && raw[1] == UInt8(truncatingIfNeeded: v))
                let back = PCMEncoding.int16.read(UnsafeRawPointer(raw.baseAddress!))
                if back != v << 16 { Issue.record("16-bit \(v) → \(back)"); return }
            }
        }
    }

    @Test func writeTakesTopBytes() {
        var buf = [UInt8](repeating: 0, count: 4)
        buf.withUnsafeMutableBytes { raw in
            PCMEncoding.int24.write(0x1234_56FF, to: raw.baseAddress!)
            #expect(Array(raw.prefix(3)) == [0x12, 0x34, 0x56])
            PCMEncoding.int16.write(-1, to: raw.baseAddress!)
            #expect(Array(raw.prefix(2)) == [0xFF, 0xFF])
            PCMEncoding.int32.write(0x0102_0304, to: raw.baseAddress!)
            #expect(Array(raw) == [1, 2, 3, 4])
        }
        #expect(PCMEncoding(bits: 20) == nil && PCMEncoding(bytesPerSample: 3) == .int24)
    }

    @Test(arguments: [UInt32(44_100), 48_000, 88_200, 96_000])
    func timestampConversion(_ rate: UInt32) throws {
        let r = UInt64(rate)
        for t: UInt64 in [0, 1, r - 1, r, r + 1, 1_700_000_000 * r + 12_345, UInt64(UInt32.max) * r + r - 1] {
            let h = AudioPacketHeader(timestamp: t, sampleRate: rate)
            #expect(UInt64(h.seconds) == t / r && UInt64(h.subsecond) == t % r)
            #expect(try h.timestamp(sampleRate: rate) == t)
            #expect(try AudioPacketHeader.decode(h.encode()) == h)
        }
        // Past 2³² seconds the seconds field wraps; unwrapping against a nearby reference recovers T.
        let period = r << 32
        for t: UInt64 in [period, period + 5, period + r * 3 + 7, 2 * period + 1] {
            let h = AudioPacketHeader(timestamp: t, sampleRate: rate)
            #expect(UInt64(h.seconds) == (t / r) & 0xFFFF_FFFF)
            #expect(try h.timestamp(sampleRate: rate) == t % period)
            for ref in [t, t - min(t, 1000 * r), t + 1000 * r] {
                #expect(try h.timestamp(sampleRate: rate, near: ref) == t)
            }
        }
        // Just before the wrap, with a reference just after it.
        let before = period - 10
        let h = AudioPacketHeader(timestamp: before, sampleRate: rate)
        #expect(try h.timestamp(sampleRate: rate, near: period + 100) == before)
        #expect(try h.timestamp(sampleRate: rate, near: 0) == before)  // nearest would be negative: next period up
        // Sub-second out of range.
        let bad = AudioPacketHeader(seconds: 1, subsecond: rate)
        #expect(!bad.isValid(sampleRate: rate))
        #expect(throws: WireError.invalidValue(field: "audio subsecond", value: Int(rate))) {
            try bad.timestamp(sampleRate: rate)
        }
    }

    @Test func geometry() throws {
        let f = try AudioPacketFormat(channels: 8, encoding: .int24)
        #expect(f.packetSize(frames: 32) == 777)
        #expect(try f.frames(datagramLength: 777) == 32)
        #expect(try f.frames(datagramLength: 9) == 0)
        #expect(throws: WireError.invalidValue(field: "audio payload length", value: 769)) { try f.frames(datagramLength: 778) }
        #expect(throws: WireError.truncated(offset: 0, needed: 9, available: 8)) { try f.frames(datagramLength: 8) }
        #expect(f.maxFrames() == 58)
        #expect(throws: WireError.self) { try AudioPacketFormat(channels: 0, encoding: .int16) }
        var small = [UInt8](repeating: 0, count: 100)
        _ = small.withUnsafeMutableBytes { raw in
            #expect(throws: WireError.truncated(offset: 0, needed: 777, available: 100)) {
                try AudioPacketWriter(buffer: raw, format: f, frames: 32)
            }
        }
    }

    @Test func fuzzDecoder() throws {
        let seeds = [hexBytes(workedHex), hexBytes(workedHex) + [1, 2, 3, 4, 5, 6], Array(hexBytes(workedHex).prefix(9))]
        let formats = [stereo24, try AudioPacketFormat(channels: 1, encoding: .int16),
                       try AudioPacketFormat(channels: 3, encoding: .int32)]
        var rejected = 0
        var inconsistent = 0
        let accepted = Fuzz.run(seeds: seeds) { bytes in
            let fmt = formats[bytes.count % formats.count]
            do {
                let p = try AudioPacket.decode(bytes, format: fmt)
                let ok = bytes.withUnsafeBytes { raw -> Bool in
                    guard let v = try? AudioPacketView(raw, format: fmt), v.frames == p.frames else { return false }
                    return p.frames == 0 || v.sample(frame: p.frames - 1, slot: fmt.channels - 1) == p.samples.last
                }
                if !ok || p.encode() != bytes { inconsistent += 1 }
                _ = p.header.isValid(sampleRate: 48_000)
                return true
            } catch {
                rejected += 1
                return false
            }
        }
        #expect(accepted > 1000 && rejected > 1000)
        #expect(accepted + rejected == Fuzz.iterations)
        #expect(inconsistent == 0)
    }
}
