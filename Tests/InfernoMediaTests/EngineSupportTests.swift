import Testing
@testable import InfernoMedia

@Suite struct EngineSupportTests {
    @Test func spscQueueIsFIFOAndBounded() {
        let q = SPSCQueue<Int>(capacity: 4)
        #expect(q.capacity == 4)
        for i in 0..<4 { #expect(q.push(i)) }
        #expect(!q.push(99))
        #expect(q.pop() == 0)
        #expect(q.push(4))
        var out: [Int] = []
        while let v = q.pop() { out.append(v) }
        #expect(out == [1, 2, 3, 4])
        #expect(q.pop() == nil)
    }

    @Test func spscQueueAcrossThreads() async {
        let q = SPSCQueue<UInt64>(capacity: 64)
        let n: UInt64 = 100_000
        let producer = Task.detached {
            var i: UInt64 = 0
            while i < n { if q.push(i) { i += 1 } }
        }
        var expected: UInt64 = 0
        while expected < n { if let v = q.pop() { #expect(v == expected); expected += 1 } }
        await producer.value
        #expect(expected == n)
    }

    @Test func patternMatchesTheIssueFormula() {
        // v_c(t) = (t(2c−1) + (c−1)·65536) mod 2^24 in the top 24 bits.
        #expect(TestPattern.sample(channel: 1, at: 5) == 5 << 8)
        #expect(TestPattern.sample(channel: 2, at: 5) == Int32((15 + 65536) << 8))
        let big: UInt64 = 86_174_190_607_361
        let v = (big * 15 + 7 * 65536) & 0xFF_FFFF
        #expect(TestPattern.sample(channel: 8, at: big) == Int32(bitPattern: UInt32(v) << 8))
        #expect(TestPattern.sample(channel: 3, at: big) & 0xFF == 0)
        #expect(TestPattern.time(fromChannel1: TestPattern.sample(channel: 1, at: big), near: big + 1000) == big)
    }

    @Test func toneIsPhaseLockedToMediaTime() {
        let g = ToneGenerator(frequency: 1000, amplitude: 0.5, sampleRate: 48000)
        #expect(g.sample(at: 0) == 0)
        #expect(g.sample(at: 48) == 0 || abs(g.sample(at: 48)) < 2000)   // one full period at 1 kHz
        #expect(abs(Double(g.sample(at: 12)) - 0.5 * 2147483647) < 2)   // quarter period: peak
        #expect(g.sample(at: 86_174_190_607_356) == g.sample(at: 12))    // 48 × 1795295637653 + 12: same phase
    }

    @Test func ringReadsOneChannelAndMonoWrites() {
        let r = TimestampRingBuffer(channels: 1, capacity: 8)
        let src: [Int32] = [1, 2, 3]
        src.withUnsafeBufferPointer { r.writeMono(at: 100, count: 3, from: $0.baseAddress!, stride: 1) }
        var out = [Int32](repeating: -1, count: 5)
        let present = out.withUnsafeMutableBufferPointer { r.readChannel(0, at: 99, count: 5, into: $0.baseAddress!) }
        #expect(present == 3)
        #expect(out == [0, 1, 2, 3, 0])
        // A later lap overwrites; the old index reads as silence, never stale audio.
        [Int32(9)].withUnsafeBufferPointer { r.writeMono(at: 108, count: 1, from: $0.baseAddress!, stride: 1) }
        #expect(!r.contains(100) && r.contains(108))
    }
}
