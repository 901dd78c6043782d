import Synchronization

/// A single-producer/single-consumer ring of interleaved Int32 frames indexed by **absolute** UInt64 media-clock
/// sample indices (dante-protocol.md §8.5, §14.3 item 21).
///
/// * The capacity is a power of two; index T lives in slot `T & (capacity − 1)`.
/// * Every slot carries a tag: the absolute index last written there. A read of index T returns the stored frame
///   only if the tag equals T, so holes (never written) and stale data (an older lap) read as **zeros**.
/// * Writes may arrive out of order. A frame is published with a seqlock-style protocol (tag invalidated, data
///   written, tag set with release ordering); the reader re-checks the tag after copying, so a frame being
///   overwritten concurrently reads as zeros, never torn.
/// * Samples are copied with relaxed atomic loads and stores (plain moves on x86-64 and arm64), so the reader's
///   copy racing with a rewrite is allowed by the memory model, and the tag re-check discards such a frame.
///   (Plain copies were a data race ThreadSanitizer reported: an AudioSocket call's I/O thread writing a ring
///   the TX engine was reading.) Whole frames are written (tags are per frame), so use one ring per flow or
///   per channel group.
/// * No allocation, locks or logging after `init`. Index `UInt64.max` is reserved as the "empty" tag.
public final class TimestampRingBuffer: @unchecked Sendable {
    public let channels: Int
    public let capacity: Int
    @usableFromInline let mask: UInt64
    @usableFromInline let frames: UnsafeMutablePointer<Atomic<Int32>>
    @usableFromInline let tags: UnsafeMutablePointer<Atomic<UInt64>>
    public static let emptyTag = UInt64.max
    /// False for a ring laid over memory someone else owns (a shared mapping).
    let ownsStorage: Bool

    /// Precondition: channels ≥ 1, capacity a power of two ≥ 1.
    public init(channels: Int, capacity: Int) {
        precondition(channels >= 1 && capacity >= 1 && capacity & (capacity - 1) == 0,
                     "capacity must be a power of two")
        self.channels = channels
        self.capacity = capacity
        self.mask = UInt64(capacity - 1)
        frames = .allocate(capacity: capacity * channels)
        for i in 0..<(capacity * channels) { (frames + i).initialize(to: Atomic(0)) }
        tags = .allocate(capacity: capacity)
        for i in 0..<capacity { (tags + i).initialize(to: Atomic(TimestampRingBuffer.emptyTag)) }
        ownsStorage = true
    }

    /// Bytes of storage a ring needs: 8 per frame for the tags, then `4 × channels` per frame for the samples.
    public static func storageBytes(channels: Int, capacity: Int) -> Int { capacity * 8 + capacity * channels * 4 }

    /// A ring over caller-owned memory of `storageBytes(channels:capacity:)` bytes, 8-byte aligned (for example
    /// a `MAP_SHARED` mapping that another process reads or writes: the tag protocol is address-free, so producer
    /// and consumer may live in different processes). `initialize` empties it; pass false to join a ring another
    /// process already initialized. The memory must outlive the ring.
    public init(channels: Int, capacity: Int, storage: UnsafeMutableRawPointer, initialize: Bool) {
        precondition(channels >= 1 && capacity >= 1 && capacity & (capacity - 1) == 0,
                     "capacity must be a power of two")
        precondition(Int(bitPattern: storage) % 8 == 0, "ring storage must be 8-byte aligned")
        self.channels = channels
        self.capacity = capacity
        self.mask = UInt64(capacity - 1)
        let tagBase = storage.bindMemory(to: Atomic<UInt64>.self, capacity: capacity)
        if initialize {
            for i in 0..<capacity { (tagBase + i).initialize(to: Atomic<UInt64>(TimestampRingBuffer.emptyTag)) }
        }
        tags = tagBase
        frames = (storage + capacity * 8).bindMemory(to: Atomic<Int32>.self, capacity: capacity * channels)
        if initialize { for i in 0..<(capacity * channels) { (frames + i).initialize(to: Atomic(0)) } }
        ownsStorage = false
    }

    deinit {
        guard ownsStorage else { return }
        tags.deinitialize(count: capacity)
        tags.deallocate()
        frames.deinitialize(count: capacity * channels)
        frames.deallocate()
    }

    /// Producer: forgets frames t, t+1, … (count of them) so they read as silence, e.g. audio an application
    /// queued and then dropped. Only frames still holding exactly those indices are cleared.
    @inlinable
    public func invalidate(at t: UInt64, count: Int) {
        for i in 0..<min(max(count, 0), capacity) {
            let index = t &+ UInt64(i)
            let slot = Int(truncatingIfNeeded: index & mask)
            _ = tags[slot].compareExchange(expected: index, desired: TimestampRingBuffer.emptyTag, ordering: .releasing)
        }
    }

    /// Producer: stores `count` interleaved frames (`count × channels` samples from `src`) at indices t, t+1, ….
    @inlinable
    public func write(at t: UInt64, count: Int, from src: UnsafePointer<Int32>) {
        precondition(count >= 0)
        var s = src
        for i in 0..<count {
            let index = t &+ UInt64(i)
            let slot = Int(truncatingIfNeeded: index & mask)
            tags[slot].store(TimestampRingBuffer.emptyTag, ordering: .relaxed)
            atomicMemoryFence(ordering: .releasing)
            let base = slot * channels
            for c in 0..<channels { frames[base + c].store(s[c], ordering: .relaxed) }
            tags[slot].store(index, ordering: .releasing)
            s += channels
        }
    }

    /// Consumer: copies frames t, t+1, … (`count × channels` samples) to `dst`; frames not present (holes,
    /// stale laps, concurrent overwrites) are zero-filled. Returns how many frames were present.
    @inlinable
    @discardableResult
    public func read(at t: UInt64, count: Int, into dst: UnsafeMutablePointer<Int32>) -> Int {
        precondition(count >= 0)
        var present = 0
        var d = dst
        for i in 0..<count {
            let index = t &+ UInt64(i)
            let slot = Int(truncatingIfNeeded: index & mask)
            let before = tags[slot].load(ordering: .acquiring)
            if before == index && index != TimestampRingBuffer.emptyTag {
                let base = slot * channels
                for c in 0..<channels { d[c] = frames[base + c].load(ordering: .relaxed) }
                atomicMemoryFence(ordering: .acquiring)
                if tags[slot].load(ordering: .relaxed) == index {
                    present += 1
                } else {
                    d.update(repeating: 0, count: channels)
                }
            } else {
                d.update(repeating: 0, count: channels)
            }
            d += channels
        }
        return present
    }

    /// Consumer: one channel of frames t, t+1, … to `dst[0], dst[stride], …`; absent frames read as zero.
    /// Returns how many frames were present.
    @inlinable
    @discardableResult
    public func readChannel(_ channel: Int, at t: UInt64, count: Int, into dst: UnsafeMutablePointer<Int32>,
                            stride: Int = 1) -> Int {
        precondition(count >= 0 && channel >= 0 && channel < channels)
        var present = 0
        var d = dst
        for i in 0..<count {
            let index = t &+ UInt64(i)
            let slot = Int(truncatingIfNeeded: index & mask)
            let before = tags[slot].load(ordering: .acquiring)
            var v: Int32 = 0
            if before == index && index != TimestampRingBuffer.emptyTag {
                v = frames[slot * channels + channel].load(ordering: .relaxed)
                atomicMemoryFence(ordering: .acquiring)
                if tags[slot].load(ordering: .relaxed) == index { present += 1 } else { v = 0 }
            }
            d.pointee = v
            d += stride
        }
        return present
    }

    /// Producer: one channel's samples for frames t, t+1, … from `src[0], src[stride], …` in a single-channel
    /// ring (precondition: `channels == 1`).
    @inlinable
    public func writeMono(at t: UInt64, count: Int, from src: UnsafePointer<Int32>, stride: Int) {
        precondition(channels == 1 && count >= 0)
        var s = src
        for i in 0..<count {
            let index = t &+ UInt64(i)
            let slot = Int(truncatingIfNeeded: index & mask)
            tags[slot].store(TimestampRingBuffer.emptyTag, ordering: .relaxed)
            atomicMemoryFence(ordering: .releasing)
            frames[slot].store(s.pointee, ordering: .relaxed)
            tags[slot].store(index, ordering: .releasing)
            s += stride
        }
    }

    /// True if frame `t` is currently stored.
    @inlinable
    public func contains(_ t: UInt64) -> Bool {
        t != TimestampRingBuffer.emptyTag && tags[Int(truncatingIfNeeded: t & mask)].load(ordering: .acquiring) == t
    }
}
