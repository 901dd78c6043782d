import Testing
@testable import InfernoProtocol

/// What a parser reported, collected into values (audio as one concatenated sample stream per kind).
struct ParsedStream: Equatable {
    var uuids: [AudioSocketUUID] = []
    var samples: [Int16] = []
    var kinds: [UInt8] = []           // kind of each audio delivery, deduplicated consecutively
    var digits: [UInt8] = []
    var hangups = 0
    var peerErrors: [UInt8?] = []
    var failures: [AudioSocketError] = []
    var order: [String] = []          // event order, audio runs collapsed

    mutating func take(_ e: AudioSocketParser.Event) {
        switch e {
        case .uuid(let u): uuids.append(u); order.append("uuid")
        case .audio(let k, let rate, let bytes):
            #expect(bytes.count % 2 == 0)
            #expect(k.sampleRate == rate)
            for i in stride(from: 0, to: bytes.count, by: 2) {
                samples.append(Int16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8))
            }
            if kinds.last != k.rawValue { kinds.append(k.rawValue) }
            if order.last != "audio" { order.append("audio") }
        case .dtmf(let d): digits.append(d); order.append("dtmf")
        case .hangup: hangups += 1; order.append("hangup")
        case .peerError(let c): peerErrors.append(c); order.append("error")
        case .failed(let f): failures.append(f); order.append("failed")
        }
    }
}

/// Feeds `bytes` in chunks of the given sizes (the last chunk takes the rest).
func parse(_ bytes: [UInt8], chunks: [Int] = [], role: AudioSocketParser.Role = .server,
           limits: AudioSocketParser.Limits = .init()) -> (ParsedStream, AudioSocketParser) {
    var p = AudioSocketParser(role: role, limits: limits, now: 0)
    var out = ParsedStream()
    var i = 0
    var sizes = chunks[...]
    while i < bytes.count {
        let n = min(bytes.count - i, max(1, sizes.popFirst() ?? bytes.count))
        p.feed(Array(bytes[i..<(i + n)]), now: 1) { out.take($0) }
        i += n
    }
    return (out, p)
}

let exampleUUID = AudioSocketUUID("40325ec2-5efd-4bd3-805f-53576e581d13")!

func sine(_ n: Int, hz: Double, rate: Double, amplitude: Double = 8000, phase: Int = 0) -> [Int16] {
    (0..<n).map { Int16((amplitude * sinApprox(2 * Double.pi * hz * Double($0 + phase) / rate)).rounded()) }
}

/// A sine without Foundation (Taylor series after range reduction; plenty for test signals).
func sinApprox(_ x: Double) -> Double {
    var y = x.truncatingRemainder(dividingBy: 2 * Double.pi)
    if y > Double.pi { y -= 2 * Double.pi } else if y < -Double.pi { y += 2 * Double.pi }
    var term = y, sum = y
    for k in 1...12 { term *= -y * y / Double((2 * k) * (2 * k + 1)); sum += term }
    return sum
}

@Suite struct AudioSocketFrameTests {
    // MARK: codec, worked examples of the reference (§11)

    @Test func workedExamples() {
        #expect(AudioSocketMessage.uuid(exampleUUID).encoded
                == hexBytes("01 00 10 40 32 5e c2 5e fd 4b d3 80 5f 53 57 6e 58 1d 13"))
        #expect(exampleUUID.description == "40325ec2-5efd-4bd3-805f-53576e581d13")
        #expect(AudioSocketUUID("40325EC25EFD4BD3805F53576E581D13") == exampleUUID)
        #expect(AudioSocketUUID("40325ec2-5efd-4bd3-805f-53576e581d1") == nil)
        #expect(AudioSocketUUID("40325ec2-5efd-4bd3-805f-53576e581d1g") == nil)
        #expect(AudioSocketUUID("40325ec25-efd-4bd3-805f-53576e581d13") == nil)
        #expect(AudioSocketMessage.dtmf(0x35).encoded == hexBytes("03 00 01 35"))
        #expect(AudioSocketMessage.dtmf(0x23).encoded == hexBytes("03 00 01 23"))
        #expect(AudioSocketMessage.hangup.encoded == hexBytes("00 00 00"))
        #expect(AudioSocketMessage.error(0x01).encoded == hexBytes("ff 00 01 01"))
        #expect(AudioSocketMessage.audio(.slin8, [-2, 1]).encoded == hexBytes("10 00 04 fe ff 01 00"))
        let sixteen = AudioSocketMessage.audio(.slin16, [Int16](repeating: 0, count: 320)).encoded
        #expect(Array(sixteen[0..<3]) == hexBytes("12 02 80"))
        #expect(sixteen.count == 643)
        let eight = AudioSocketMessage.audio(.slin8, [Int16](repeating: 0, count: 160)).encoded
        #expect(Array(eight[0..<3]) == hexBytes("10 01 40"))
    }

    @Test func kindsAndRates() {
        let expected = [(0x10, 8000), (0x11, 12000), (0x12, 16000), (0x13, 24000), (0x14, 32000), (0x15, 44100),
                        (0x16, 48000), (0x17, 96000), (0x18, 192_000)]
        for (k, r) in expected {
            #expect(AudioSocketKind(UInt8(k)).sampleRate == r)
            #expect(AudioSocketKind.audio(sampleRate: r)?.rawValue == UInt8(k))
        }
        for k in [0x00, 0x01, 0x02, 0x03, 0x0F, 0x19, 0x42, 0xFF] { #expect(AudioSocketKind(UInt8(k)).sampleRate == nil) }
        #expect(AudioSocketKind.audio(sampleRate: 11025) == nil)
        #expect(AudioSocketKind.slin16.description == "slin16")
        #expect(AudioSocketKind.slin44.description == "slin44.1")
    }

    @Test func writeAudioMatchesEncoded() {
        let s: [Int16] = [-2, 1, .max, .min, 0, 12345]
        var buf = [UInt8](repeating: 0xAA, count: 3 + 12)
        let n = s.withUnsafeBufferPointer { sp in
            buf.withUnsafeMutableBytes { AudioSocketCodec.writeAudio(.slin12, samples: sp.baseAddress!, count: s.count, to: $0.baseAddress!) }
        }
        #expect(n == 15)
        #expect(buf == AudioSocketMessage.audio(.slin12, s).encoded)
    }

    // MARK: P-1, P-2: every chunking gives the same stream

    static func callBytes(frames: Int, frameSamples: Int = 160, kind: AudioSocketKind = .slin8) -> ([UInt8], [Int16]) {
        var bytes = AudioSocketMessage.uuid(exampleUUID).encoded
        var all: [Int16] = []
        for f in 0..<frames {
            let s = sine(frameSamples, hz: 440, rate: 8000, phase: f * frameSamples)
            all += s
            bytes += AudioSocketMessage.audio(kind, s).encoded
        }
        return (bytes, all)
    }

    @Test func p1FiftySecondsAnyChunking() {
        let (bytes, samples) = Self.callBytes(frames: 2500)
        #expect(bytes.count == 19 + 2500 * 323)
        var rng = SplitMix64(seed: 7)
        for round in 0..<6 {
            let chunks: [Int]
            switch round {
            case 0: chunks = []                                   // all at once
            case 1: chunks = Array(repeating: 323, count: 3000)  // one message per read, offset by the UUID
            case 2: chunks = Array(repeating: 1460, count: 1000) // MSS-sized reads
            default: chunks = (0..<200_000).map { _ in 1 + Int(rng.next() % 700) }
            }
            let (out, p) = parse(bytes, chunks: chunks)
            #expect(out.uuids == [exampleUUID])
            #expect(out.samples == samples)
            #expect(out.failures.isEmpty)
            #expect(p.counters.audioMessages == 2500)
            #expect(p.counters.audioBytes == 2500 * 320)
            #expect(p.state == .active)
        }
    }

    @Test func p2EverySplitPointAndOneByteFeeding() {
        // UUID, an odd-length frame, a DTMF, a 16 kHz switch, an unknown kind, a hangup.
        var bytes = AudioSocketMessage.uuid(exampleUUID).encoded
        let a = sine(80, hz: 1000, rate: 8000)
        bytes += AudioSocketMessage.audio(.slin8, a).encoded
        bytes += AudioSocketMessage.dtmf(0x37).encoded
        bytes += AudioSocketMessage.other(AudioSocketKind(0x42), [1, 2, 3, 4, 5]).encoded
        let b = sine(40, hz: 1000, rate: 16000)
        bytes += AudioSocketMessage.audio(.slin16, b).encoded
        bytes += AudioSocketMessage.hangup.encoded
        let (reference, _) = parse(bytes)
        #expect(reference.samples == a + b)
        #expect(reference.digits == [0x37])
        #expect(reference.kinds == [0x10, 0x12])
        #expect(reference.order == ["uuid", "audio", "dtmf", "audio", "hangup"])
        for split in 1..<bytes.count {
            let (out, _) = parse(bytes, chunks: [split])
            #expect(out == reference, "split at \(split)")
        }
        for split in stride(from: 1, to: bytes.count - 2, by: 7) {
            let (out, _) = parse(bytes, chunks: [split, 2, 1])
            #expect(out == reference, "splits at \(split), +2, +1")
        }
        let (ones, _) = parse(bytes, chunks: Array(repeating: 1, count: bytes.count))
        #expect(ones == reference)
    }

    // MARK: P-3 … P-5: the UUID

    @Test func p3AudioBeforeUUID() {
        let (out, p) = parse(AudioSocketMessage.audio(.slin8, [1, 2, 3]).encoded + AudioSocketMessage.uuid(exampleUUID).encoded)
        #expect(out.failures == [.expectedUUID(kind: 0x10)])
        #expect(out.uuids.isEmpty && out.samples.isEmpty)
        #expect(p.state == .closing)
        #expect(p.uuid == nil)
    }

    @Test(arguments: [0, 15, 17, 65535])
    func p4UUIDOfWrongLength(length: Int) {
        // The failure comes from the header alone: no waiting for a 65 535-byte payload.
        let (out, p) = parse(AudioSocketCodec.header(.uuid, length: length))
        #expect(out.failures == [.badUUIDLength(length)])
        #expect(p.state == .closing)
        #expect(out.uuids.isEmpty)
    }

    @Test func p5SecondUUIDIgnoredAndCounted() {
        let other = AudioSocketUUID("00000000-0000-0000-0000-000000000001")!
        let s = sine(160, hz: 300, rate: 8000)
        let bytes = AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketMessage.uuid(other).encoded
            + AudioSocketMessage.audio(.slin8, s).encoded
        let (out, p) = parse(bytes)
        #expect(out.uuids == [exampleUUID])
        #expect(p.uuid == exampleUUID)
        #expect(p.counters.extraUUIDs == 1)
        #expect(out.samples == s)
    }

    // MARK: P-6 … P-9: payload handling

    @Test func p6UnknownKindsSkippedInSync() {
        var bytes = AudioSocketMessage.uuid(exampleUUID).encoded
        var expected: [Int16] = []
        var unknownBytes = 0
        var count = 0
        for kind: UInt8 in [0x02, 0x04, 0x42, 0x7F, 0xFE] {
            for len in [0, 1, 2, 319, 1000] {
                // Unknown payloads full of plausible headers, to prove they are skipped, not parsed.
                let junk = (0..<len).map { i -> UInt8 in [0x00, 0x10, 0x01, 0xFF][i % 4] }
                bytes += AudioSocketMessage.other(AudioSocketKind(kind), junk).encoded
                unknownBytes += len
                count += 1
            }
            let s = sine(160, hz: 500, rate: 8000, phase: expected.count)
            expected += s
            bytes += AudioSocketMessage.audio(.slin8, s).encoded
        }
        let (out, p) = parse(bytes, chunks: Array(repeating: 97, count: 1000))
        #expect(out.samples == expected)
        #expect(out.failures.isEmpty && out.hangups == 0)
        #expect(p.counters.unknownMessages == count)
        #expect(p.counters.unknownBytes == unknownBytes)
        #expect(p.state == .active)
    }

    @Test func p7ZeroLengthAudioIgnored() {
        let s = sine(160, hz: 700, rate: 8000)
        let bytes = AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketMessage.audio(.slin8, []).encoded
            + AudioSocketMessage.audio(.slin8, s).encoded + AudioSocketMessage.audio(.slin8, []).encoded
        let (out, p) = parse(bytes)
        #expect(out.samples == s)
        #expect(p.counters.zeroLengthAudio == 2)
        #expect(p.counters.audioMessages == 3)
    }

    @Test func p8OddLengthsCarryTheByte() {
        // 640 bytes of samples sent as a 319-byte and a 321-byte message: the same 320 samples come out.
        let s = sine(320, hz: 1000, rate: 8000)
        let raw = AudioSocketMessage.audio(.slin8, s).encoded.dropFirst(3)
        let bytes = AudioSocketMessage.uuid(exampleUUID).encoded
            + AudioSocketMessage.other(.slin8, Array(raw.prefix(319))).encoded
            + AudioSocketMessage.other(.slin8, Array(raw.suffix(321))).encoded
        for chunks in [[], [19 + 3 + 100, 222, 5], Array(repeating: 1, count: 700)] {
            let (out, p) = parse(bytes, chunks: chunks)
            #expect(out.samples == s)
            #expect(p.counters.oddLengthAudio == 2)
            #expect(p.counters.carryDropped == 0)
        }
        // A kind change drops the carried byte (counted) instead of mixing rates.
        let switched = AudioSocketMessage.uuid(exampleUUID).encoded
            + AudioSocketMessage.other(.slin8, [1, 0, 7]).encoded
            + AudioSocketMessage.other(.slin16, [2, 0]).encoded
        let (out, p) = parse(switched)
        #expect(out.samples == [1, 2])
        #expect(p.counters.carryDropped == 1)
        #expect(p.counters.rateChanges == 1)
    }

    @Test func p9LargestMessageKeepsSync() {
        let big = (0..<65535).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let s = sine(160, hz: 400, rate: 8000)
        let bytes = AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketMessage.other(.slin8, big).encoded
            + AudioSocketMessage.other(.slin8, [9]).encoded + AudioSocketMessage.audio(.slin8, s).encoded
        let (out, p) = parse(bytes, chunks: Array(repeating: 4096, count: 100))
        #expect(out.samples.count == 32768 + 160)
        #expect(Array(out.samples.suffix(160)) == s)
        #expect(out.samples[32767] == Int16(bitPattern: UInt16(big[65534]) | 9 << 8))
        #expect(p.counters.oversizeAudio == 1)
        #expect(p.state == .active)
    }

    // MARK: P-10, P-11: dishonest lengths

    @Test func p10LengthBeyondDataTimesOut() {
        var p = AudioSocketParser(now: 0)
        var out = ParsedStream()
        p.feed(AudioSocketMessage.uuid(exampleUUID).encoded, now: 0) { out.take($0) }
        p.feed(AudioSocketCodec.header(.slin8, length: 1000) + [UInt8](repeating: 1, count: 320), now: 10_000_000) { out.take($0) }
        #expect(p.inMessage)
        #expect(p.nextDeadline == 1_010_000_000)
        p.tick(now: 1_009_999_999) { out.take($0) }
        #expect(out.failures.isEmpty)
        p.tick(now: 1_010_000_000) { out.take($0) }
        #expect(out.failures == [.messageTimeout])
        #expect(p.state == .closing)
        // Later bytes are ignored: nothing leaks into anything else.
        p.feed(AudioSocketMessage.audio(.slin8, [5]).encoded, now: 1_020_000_000) { out.take($0) }
        #expect(out.samples.count == 160)
    }

    @Test func p11LengthBeyondThenFramesNeverTraps() {
        // 1000 claimed, then ordinary frames: the parser desynchronises (unavoidable) and must end cleanly.
        var bytes = AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketCodec.header(.slin8, length: 1000)
        for f in 0..<500 { bytes += AudioSocketMessage.audio(.slin8, sine(160, hz: 440, rate: 8000, phase: f * 160)).encoded }
        let (out, p) = parse(bytes, chunks: Array(repeating: 333, count: 1000))
        #expect(out.uuids == [exampleUUID])
        // Either it ended (desync detected, a stray hangup/error byte) or it is still in some message: never more
        // audio than was sent.
        #expect(out.samples.count <= 500 * 160 + 500)
        #expect(out.failures.count + out.hangups + out.peerErrors.count <= 1)
        if p.state == .closing { #expect(!out.order.isEmpty) }
    }

    @Test func desyncDetectedAfterUnknownRun() {
        var limits = AudioSocketParser.Limits()
        limits.maxUnknownRun = 4
        var bytes = AudioSocketMessage.uuid(exampleUUID).encoded
        for _ in 0..<3 { bytes += AudioSocketMessage.other(AudioSocketKind(0x42), [1]).encoded }
        bytes += AudioSocketMessage.audio(.slin8, [1]).encoded     // resets the run
        for _ in 0..<4 { bytes += AudioSocketMessage.other(AudioSocketKind(0x43), []).encoded }
        bytes += AudioSocketMessage.audio(.slin8, [2]).encoded
        let (out, p) = parse(bytes, limits: limits)
        #expect(out.samples == [1])
        #expect(out.failures == [.desynchronised(unknownRun: 4)])
        #expect(p.counters.unknownMessages == 7)
    }

    // MARK: P-12 … P-14: hangup, errors, DTMF

    @Test(arguments: [0, 5])
    func p12HangupAfterItsPayload(length: Int) {
        let bytes = AudioSocketMessage.uuid(exampleUUID).encoded
            + AudioSocketMessage.other(.hangup, [UInt8](repeating: 0x10, count: length)).encoded
            + AudioSocketMessage.audio(.slin8, [1, 2]).encoded
        let (out, p) = parse(bytes, chunks: [20, 1, 1, 1, 1])
        #expect(out.hangups == 1)
        #expect(out.samples.isEmpty)
        #expect(p.state == .closing)
        #expect(out.order == ["uuid", "hangup"])
    }

    @Test func p13PeerErrors() {
        for code: UInt8? in [nil, 0x01, 0x02, 0x04, 0x07] {
            let (out, p) = parse(AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketMessage.error(code).encoded)
            #expect(out.peerErrors == [code])
            #expect(p.state == .closing)
            #expect(p.counters.errorMessages == 1)
        }
    }

    @Test func p14DTMFDigitsInOrder() {
        let digits = Array("0123456789*#ABCD".utf8)
        var bytes = AudioSocketMessage.uuid(exampleUUID).encoded
        for d in digits { bytes += AudioSocketMessage.dtmf(d).encoded }
        bytes += AudioSocketMessage.other(.dtmf, []).encoded          // L = 0: malformed
        bytes += AudioSocketMessage.other(.dtmf, [0x39, 0x31]).encoded // L = 2: first byte used
        bytes += AudioSocketMessage.dtmf(0x78).encoded                  // 'x': not a digit
        bytes += AudioSocketMessage.dtmf(0x61).encoded                  // 'a' → 'A'
        let (out, p) = parse(bytes, chunks: Array(repeating: 1, count: bytes.count))
        #expect(out.digits == digits + [0x39, 0x41])
        #expect(p.counters.dtmfDigits == 18)
        #expect(p.counters.malformedDTMF == 2)
    }

    // MARK: P-15: rates

    @Test func p15EveryRateAndASwitch() {
        var bytes = AudioSocketMessage.uuid(exampleUUID).encoded
        var expected: [Int16] = []
        for k: UInt8 in 0x10...0x18 {
            let kind = AudioSocketKind(k)
            let s = sine(kind.sampleRate! / 50, hz: 1000, rate: Double(kind.sampleRate!))
            expected += s
            bytes += AudioSocketMessage.audio(kind, s).encoded
        }
        let (out, p) = parse(bytes, chunks: Array(repeating: 1000, count: 100))
        #expect(out.samples == expected)
        #expect(out.kinds == Array(0x10...0x18))
        #expect(p.counters.rateChanges == 8)
        #expect(p.audioKind == .slin192)
    }

    // MARK: timeouts

    @Test func uuidTimeout() {
        var p = AudioSocketParser(now: 100)
        var out = ParsedStream()
        #expect(p.nextDeadline == 3_000_000_100)
        p.tick(now: 3_000_000_099) { out.take($0) }
        #expect(out.failures.isEmpty)
        p.tick(now: 3_000_000_100) { out.take($0) }
        #expect(out.failures == [.uuidTimeout])
        p.tick(now: 9_000_000_000) { out.take($0) }
        #expect(out.failures.count == 1)
        #expect(p.nextDeadline == nil)
    }

    @Test func slowLorisHeaderHitsMessageTimeout() {
        var p = AudioSocketParser(now: 0)
        var out = ParsedStream()
        p.feed([0x01], now: 500_000_000) { out.take($0) }
        p.tick(now: 1_400_000_000) { out.take($0) }
        p.feed([0x00], now: 1_400_000_000) { out.take($0) }
        p.tick(now: 1_500_000_000) { out.take($0) }
        #expect(out.failures == [.messageTimeout])
    }

    @Test func idleTimeoutAfterLastMessage() {
        var limits = AudioSocketParser.Limits()
        limits.idleTimeoutNs = 5_000_000_000
        var p = AudioSocketParser(limits: limits, now: 0)
        var out = ParsedStream()
        p.feed(AudioSocketMessage.uuid(exampleUUID).encoded, now: 1_000_000_000) { out.take($0) }
        p.feed(AudioSocketMessage.audio(.slin8, [1]).encoded, now: 2_000_000_000) { out.take($0) }
        #expect(p.nextDeadline == 7_000_000_000)
        p.tick(now: 6_999_999_999) { out.take($0) }
        #expect(out.failures.isEmpty)
        p.tick(now: 7_000_000_000) { out.take($0) }
        #expect(out.failures == [.idleTimeout])
    }

    @Test func clientRoleStartsActive() {
        let s = sine(160, hz: 1000, rate: 16000)
        let (out, p) = parse(AudioSocketMessage.audio(.slin16, s).encoded + AudioSocketMessage.uuid(exampleUUID).encoded,
                             role: .client)
        #expect(out.samples == s)
        #expect(out.uuids.isEmpty)
        #expect(p.counters.extraUUIDs == 1)
        #expect(p.state == .active)
    }

    // MARK: R-7: anything as input

    @Test func fuzzNeverTrapsAndStaysConsistent() {
        let seeds: [[UInt8]] = [
            AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketMessage.audio(.slin8, sine(20, hz: 300, rate: 8000)).encoded,
            AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketMessage.dtmf(0x31).encoded + AudioSocketMessage.hangup.encoded,
            AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketMessage.error(2).encoded,
            AudioSocketMessage.uuid(exampleUUID).encoded + AudioSocketMessage.other(AudioSocketKind(0x55), [1, 2, 3]).encoded,
        ]
        var rng = SplitMix64(seed: 99)
        var closed = 0
        Fuzz.run(seeds: seeds, count: 30_000, maxLength: 400) { input in
            var p = AudioSocketParser(role: rng.next() % 4 == 0 ? .client : .server, now: 0)
            var events = 0
            var audioBytes = 0
            var i = 0
            var now: UInt64 = 0
            while i < input.count {
                let n = min(input.count - i, 1 + Int(rng.next() % 40))
                now += rng.next() % 400_000_000
                p.feed(Array(input[i..<(i + n)]), now: now) { e in
                    events += 1
                    if case .audio(_, _, let s) = e { audioBytes += s.count; #expect(s.count % 2 == 0) }
                }
                p.tick(now: now) { _ in events += 1 }
                i += n
            }
            #expect(audioBytes <= input.count)
            #expect(events <= input.count + 2)
            if p.state == .closing { closed += 1 }
            return true
        }
        #expect(closed > 0)
    }
}
