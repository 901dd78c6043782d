/// Deterministic input generation for the robustness suites: random buffers and mutations of valid messages
/// (truncations, bit flips, extreme counts and pointers, spliced and repeated regions).

/// SplitMix64: small, fast, reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fuzz {
    /// The number of inputs each decoder must survive (issue 2: at least 100,000).
    static let iterations = 100_000

    /// Calls `body` with `count` inputs: about a quarter random buffers (optionally starting with `prefix`),
    /// the rest mutations of `seeds`. Returns how many inputs `body` accepted (returned true for).
    @discardableResult
    static func run(seeds: [[UInt8]], prefix: [UInt8] = [], count: Int = iterations, seed: UInt64 = 0x1d_c1ff_fe52,
                    maxLength: Int = 1500, _ body: ([UInt8]) -> Bool) -> Int {
        var rng = SplitMix64(seed: seed)
        var accepted = 0
        for i in 0..<count {
            let input: [UInt8]
            if seeds.isEmpty || i % 4 == 0 {
                input = random(&rng, prefix: prefix, maxLength: maxLength)
            } else {
                input = mutate(seeds[Int(rng.next() % UInt64(seeds.count))], &rng, maxLength: maxLength)
            }
            if body(input) { accepted += 1 }
        }
        return accepted
    }

    static func random(_ rng: inout SplitMix64, prefix: [UInt8], maxLength: Int) -> [UInt8] {
        let n = Int(rng.next() % UInt64(min(maxLength, 300) + 1))
        var out = prefix
        out.reserveCapacity(prefix.count + n)
        for _ in 0..<n { out.append(UInt8(truncatingIfNeeded: rng.next())) }
        return out
    }

    static func mutate(_ seed: [UInt8], _ rng: inout SplitMix64, maxLength: Int) -> [UInt8] {
        var b = seed
        let rounds = 1 + Int(rng.next() % 4)
        for _ in 0..<rounds {
            switch rng.next() % 9 {
            case 0: // truncate
                if !b.isEmpty { b.removeLast(Int(rng.next() % UInt64(b.count + 1))) }
            case 1: // flip a bit
                if !b.isEmpty { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 << (rng.next() % 8)) }
            case 2, 3: // extreme u16 (counts, pointers, lengths)
                if b.count >= 2 {
                    let i = Int(rng.next() % UInt64(b.count - 1))
                    let extremes: [UInt16] = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
                                              UInt16(truncatingIfNeeded: b.count), UInt16(truncatingIfNeeded: b.count - 1),
                                              UInt16(truncatingIfNeeded: b.count + 1), 9, 10, 11, 12,
                                              0xC000 | UInt16(truncatingIfNeeded: i)]
                    let v = extremes[Int(rng.next() % UInt64(extremes.count))]
                    b[i] = UInt8(v >> 8); b[i + 1] = UInt8(v & 0xff)
                }
            case 4: // random byte
                if !b.isEmpty { b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 5: // append garbage
                for _ in 0..<Int(rng.next() % 32) { b.append(UInt8(truncatingIfNeeded: rng.next())) }
            case 6: // duplicate a region
                if b.count > 2 {
                    let s = Int(rng.next() % UInt64(b.count)), e = min(b.count, s + Int(rng.next() % 64))
                    b.insert(contentsOf: b[s..<e], at: Int(rng.next() % UInt64(b.count)))
                }
            case 7: // zero a region
                if !b.isEmpty {
                    let s = Int(rng.next() % UInt64(b.count)), e = min(b.count, s + Int(rng.next() % 16))
                    for k in s..<e { b[k] = 0 }
                }
            default: // 0xff a region
                if !b.isEmpty {
                    let s = Int(rng.next() % UInt64(b.count)), e = min(b.count, s + Int(rng.next() % 8))
                    for k in s..<e { b[k] = 0xff }
                }
            }
        }
        if b.count > maxLength { b.removeLast(b.count - maxLength) }
        return b
    }
}
