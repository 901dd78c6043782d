import Glibc
import Testing
@testable import InfernoAudioSocket
import InfernoProtocol

@Suite struct OutboundQueueTests {
    /// A connected pair of non-blocking stream sockets.
    func pair(sendBuffer: Int32? = nil) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        if var size = sendBuffer {
            _ = setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        TCP.setNonBlocking(fds[0]); TCP.setNonBlocking(fds[1])
        return (fds[0], fds[1])
    }

    func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    func push(_ q: OutboundQueue, _ byte: UInt8, length: Int = 323) -> Bool {
        var dropped = false
        guard let p = q.reserve(dropped: &dropped) else { return true }
        AudioSocketCodec.writeHeader(.slin8, length: length - 3, to: p)
        (p + 3).initializeMemory(as: UInt8.self, repeating: byte, count: length - 3)
        q.commit(length: length)
        return dropped
    }

    @Test func sendsInOrderOneMessageEach() {
        let (a, b) = pair()
        defer { close(a); close(b) }
        let q = OutboundQueue(capacity: 4)
        for k: UInt8 in 1...3 { #expect(!push(q, k)) }
        guard case .sent = q.flush(fd: a) else { Issue.record("not sent"); return }
        let got = readAll(b)
        #expect(got.count == 3 * 323)
        #expect(got[3] == 1 && got[323 + 3] == 2 && got[646 + 3] == 3)
        #expect(Array(got[323..<326]) == [0x10, 0x01, 0x40])
    }

    @Test func fullQueueDropsTheOldestAndAShortWriteIsFinishedFirst() {
        let (a, b) = pair(sendBuffer: 4096)
        defer { close(a); close(b) }
        let q = OutboundQueue(capacity: 4)
        // Fill the socket until a write comes up short: the head is half-sent and must be completed first.
        var k: UInt8 = 0
        var blocked = false
        for _ in 0..<1000 {
            k &+= 1
            _ = push(q, k, length: 1003)
            if case .wouldBlock = q.flush(fd: a) { blocked = true; break }
        }
        #expect(blocked)
        // Now overfill the queue: the oldest whole messages go (never the half-sent head).
        var drops = 0
        for _ in 0..<10 { k &+= 1; if push(q, k, length: 1003) { drops += 1 } }
        #expect(drops >= 6)
        #expect(q.count <= q.capacity)
        // Drain everything: the stream must still be whole messages.
        var stream: [UInt8] = []
        for _ in 0..<1000 {
            stream += readAll(b)
            if case .sent = q.flush(fd: a) { stream += readAll(b); break }
        }
        var off = 0, messages = 0
        while off + 3 <= stream.count {
            #expect(stream[off] == 0x10)
            let len = Int(stream[off + 1]) << 8 | Int(stream[off + 2])
            #expect(len == 1000)
            off += 3 + len
            messages += 1
        }
        #expect(off == stream.count)
        #expect(messages > 4)
    }

    @Test func closedPeerFailsWithoutSignal() {
        signal(SIGPIPE, SIG_IGN)
        let (a, b) = pair()
        close(b)
        defer { close(a) }
        let q = OutboundQueue(capacity: 2)
        _ = push(q, 1)
        guard case .failed(let e) = q.flush(fd: a) else { Issue.record("expected a failure"); return }
        #expect(e == EPIPE)
    }
}

@Suite struct ServeMediaTests {
    @Test func playSpecs() {
        #expect(ServeMedia.Play.parse("silence") == .silence)
        #expect(ServeMedia.Play.parse("tone") == .tone(1000))
        #expect(ServeMedia.Play.parse("tone:440") == .tone(440))
        #expect(ServeMedia.Play.parse("wav:/x.wav") == .wav("/x.wav"))
        for bad in ["tone:0", "tone:x", "wav:", "beep", ""] { #expect(ServeMedia.Play.parse(bad) == nil) }
    }

    @Test func toneIsPhaseContinuousAcrossFrames() throws {
        let m = try ServeMedia(slots: 1, recordDir: nil, play: .tone(1000))
        var a = [Int16](repeating: 0, count: 160), b = a
        a.withUnsafeMutableBufferPointer { m.render(slot: 0, sampleRate: 8000, restart: true, into: $0.baseAddress!, count: 160) }
        b.withUnsafeMutableBufferPointer { m.render(slot: 0, sampleRate: 8000, restart: false, into: $0.baseAddress!, count: 160) }
        // 1 kHz at 8 kHz: period 8 samples, 20 periods per frame: the second frame repeats the first.
        #expect(a == b)
        #expect(a.max()! > 3200 && a.max()! <= 3277)
    }

    @Test func recordsAndReadsBackAWAV() throws {
        let dir = "/tmp/inferno-as-test-\(getpid())"
        defer { _ = unlink("\(dir)/40325ec2-5efd-4bd3-805f-53576e581d13.wav"); rmdir(dir) }
        let m = try ServeMedia(slots: 1, recordDir: dir, play: .silence)
        let u = AudioSocketUUID("40325ec2-5efd-4bd3-805f-53576e581d13")!
        m.callStarted(slot: 0, uuid: u)
        let samples: [Int16] = (0..<1600).map { Int16(truncatingIfNeeded: $0 * 37) }
        samples.withUnsafeBytes { m.callAudio(slot: 0, kind: .slin16, samples: $0) }
        m.callEnded(slot: 0)
        let (floats, rate) = try WAVReader.readMono("\(dir)/\(u).wav")
        #expect(rate == 16000)
        #expect(floats.count == 1600)
        #expect(floats.enumerated().allSatisfy { Int16(($0.element * 32768).rounded()) == samples[$0.offset] })
    }
}

@Suite struct EventTests {
    @Test func jsonLines() {
        let u = AudioSocketUUID("40325ec2-5efd-4bd3-805f-53576e581d13")!
        #expect(AudioSocketEvent.dtmf(slot: 0, uuid: u, digit: "#").jsonLine
                == ##"{"event":"dtmf","digit":"#","slot":1,"uuid":"40325ec2-5efd-4bd3-805f-53576e581d13"}"##)
        #expect(AudioSocketEvent.rejected(peer: "1.2.3.4:5", reason: "a\"b").jsonLine
                == #"{"event":"rejected","peer":"1.2.3.4:5","reason":"a\"b"}"#)
        #expect(AudioSocketEvent.callStarted(slot: 2, uuid: u, peer: "p", outbound: true).logLine.contains("\"call 3\""))
    }
}
