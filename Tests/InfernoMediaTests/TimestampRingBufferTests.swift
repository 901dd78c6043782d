import Testing
@testable import InfernoMedia

@Suite("Timestamp ring buffer")
struct TimestampRingBufferTests {
    private func write(_ rb: TimestampRingBuffer, _ t: UInt64, _ samples: [Int32]) {
        samples.withUnsafeBufferPointer { rb.write(at: t, count: samples.count / rb.channels, from: $0.baseAddress!) }
    }
    private func read(_ rb: TimestampRingBuffer, _ t: UInt64, _ count: Int) -> ([Int32], Int) {
        var out = [Int32](repeating: -7, count: count * rb.channels)
        let n = out.withUnsafeMutableBufferPointer { rb.read(at: t, count: count, into: $0.baseAddress!) }
        return (out, n)
    }

    @Test func readsBackByTimestampWithHolesAsZeros() {
        let rb = TimestampRingBuffer(channels: 2, capacity: 8)
        let base: UInt64 = 1_700_000_000 * 48_000
        write(rb, base + 2, [1, 2, 3, 4])          // frames base+2, base+3
        write(rb, base, [9, 9])                     // out of order: base
        let (out, n) = read(rb, base, 5)
        #expect(out == [9, 9, 0, 0, 1, 2, 3, 4, 0, 0] && n == 3)
        #expect(rb.contains(base + 3) && !rb.contains(base + 1))
    }

    @Test func staleLapsReadAsZeros() {
        let rb = TimestampRingBuffer(channels: 1, capacity: 4)
        write(rb, 10, [1, 2, 3, 4])
        write(rb, 14, [5])                          // overwrites slot of 10
        #expect(read(rb, 10, 5).0 == [0, 2, 3, 4, 5])
        #expect(read(rb, 18, 1).0 == [0])           // a later lap that was never written
        #expect(read(rb, 6, 4).0 == [0, 0, 0, 0])   // an earlier lap
    }

    @Test func wrapsAcross64Bits() {
        let rb = TimestampRingBuffer(channels: 1, capacity: 16)
        write(rb, UInt64.max - 3, [1, 2, 3])        // max-3, max-2, max-1
        write(rb, 0, [5, 6])
        let (out, n) = read(rb, UInt64.max - 3, 6)  // max is the reserved empty tag: always a hole
        #expect(out == [1, 2, 3, 0, 5, 6] && n == 5)
    }

    @Test func concurrentProducerAndConsumer() async {
        let rb = TimestampRingBuffer(channels: 2, capacity: 64)
        let frames = 20_000
        let producer = Task.detached {
            var buf = [Int32](repeating: 0, count: 2)
            for t in 0..<frames {
                buf[0] = Int32(t); buf[1] = -Int32(t)
                buf.withUnsafeBufferPointer { rb.write(at: UInt64(t), count: 1, from: $0.baseAddress!) }
            }
        }
        let consumer = Task.detached { () -> Int in
            var torn = 0
            var out = [Int32](repeating: 0, count: 2)
            for i in 0..<(frames * 2) {
                let t = UInt64(i / 2)
                out.withUnsafeMutableBufferPointer { _ = rb.read(at: t, count: 1, into: $0.baseAddress!) }
                if !(out == [0, 0] || out == [Int32(t), -Int32(t)]) { torn += 1 }
            }
            return torn
        }
        await producer.value
        #expect(await consumer.value == 0)
    }
}
