import Synchronization

/// A bounded single-producer/single-consumer queue of plain values, for handing work between a control thread
/// and a real-time thread. Storage is allocated once in `init`; `push` and `pop` never allocate, lock or block.
/// Capacity is rounded up to a power of two. Elements must be trivially copyable (no references, no arrays), so
/// nothing is retained or freed on the real-time side.
public final class SPSCQueue<Element: BitwiseCopyable>: @unchecked Sendable {
    @usableFromInline let storage: UnsafeMutablePointer<Element>
    @usableFromInline let mask: Int
    @usableFromInline let head = Atomic<Int>(0)   // next slot to read (consumer)
    @usableFromInline let tail = Atomic<Int>(0)   // next slot to write (producer)

    public init(capacity: Int) {
        var c = 1
        while c < max(2, capacity) { c <<= 1 }
        storage = .allocate(capacity: c)
        mask = c - 1
    }

    deinit { storage.deallocate() }

    public var capacity: Int { mask + 1 }

    /// Producer side. Returns false (and drops nothing already queued) when full.
    @inlinable @discardableResult
    public func push(_ value: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t &- head.load(ordering: .acquiring) > mask { return false }
        (storage + (t & mask)).initialize(to: value)
        tail.store(t &+ 1, ordering: .releasing)
        return true
    }

    /// Consumer side. nil when empty.
    @inlinable
    public func pop() -> Element? {
        let h = head.load(ordering: .relaxed)
        if h == tail.load(ordering: .acquiring) { return nil }
        let v = (storage + (h & mask)).pointee
        head.store(h &+ 1, ordering: .releasing)
        return v
    }

    /// Approximate (exact when called from either side with the other idle).
    public var count: Int { tail.load(ordering: .acquiring) &- head.load(ordering: .acquiring) }
}
