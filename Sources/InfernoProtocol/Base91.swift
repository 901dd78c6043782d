/// basE91 (Joachim Henke's variant, as the PyPI `base91` 1.0.1 package AoDNS uses): 91 printable ASCII characters,
/// 13 or 14 bits per pair of characters, little-endian bit order (aodns.md §6).
///
/// Pure and total: encoding never fails; decoding skips bytes outside the alphabet (as the reference does), so
/// any input decodes to something and nothing traps.
public enum Base91 {
    /// The alphabet, index 0…90.
    public static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&()*+,./:;<=>?@[]^_`{|}~\"".utf8)

    /// Byte → alphabet index, 0xFF for bytes outside the alphabet.
    static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// True if `byte` is one of the 91 characters.
    public static func isAlphabet(_ byte: UInt8) -> Bool { decodeTable[Int(byte)] != 0xFF }

    /// Encodes `data` as ASCII bytes.
    public static func encode<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(maxEncodedLength(data.count))
        var queue: UInt32 = 0
        var bits: UInt32 = 0
        for byte in data {
            queue |= UInt32(byte) << bits
            bits += 8
            if bits > 13 {
                var v = queue & 0x1FFF
                if v > 88 {
                    queue >>= 13; bits -= 13
                } else {
                    v = queue & 0x3FFF
                    queue >>= 14; bits -= 14
                }
                out.append(alphabet[Int(v % 91)])
                out.append(alphabet[Int(v / 91)])
            }
        }
        if bits > 0 {
            out.append(alphabet[Int(queue % 91)])
            if bits > 7 || queue > 90 { out.append(alphabet[Int(queue / 91)]) }
        }
        return out
    }

    /// Encodes `data` as a String.
    public static func encodeString<C: Collection>(_ data: C) -> String where C.Element == UInt8 {
        String(decoding: encode(data), as: UTF8.self)
    }

    /// Decodes basE91 text; characters outside the alphabet are skipped.
    public static func decode<C: Collection>(_ text: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 14 / 16 + 1)
        var queue: UInt32 = 0
        var bits: UInt32 = 0
        var pending: Int32 = -1
        for c in text {
            let d = decodeTable[Int(c)]
            if d == 0xFF { continue }
            if pending < 0 { pending = Int32(d); continue }
            let v = UInt32(pending) + UInt32(d) * 91
            pending = -1
            queue |= v << bits
            bits += (v & 0x1FFF) > 88 ? 13 : 14
            repeat {
                out.append(UInt8(truncatingIfNeeded: queue))
                queue >>= 8
                bits -= 8
            } while bits > 7
        }
        if pending >= 0 {
            out.append(UInt8(truncatingIfNeeded: queue | UInt32(pending) << bits))
        }
        return out
    }

    /// Decodes a String.
    public static func decode(_ text: String) -> [UInt8] { decode(Array(text.utf8)) }

    /// An upper bound on the encoded length of `n` bytes (at least 13 bits per character pair, plus a tail of at
    /// most two characters).
    public static func maxEncodedLength(_ n: Int) -> Int {
        guard n > 0 else { return 0 }
        return 2 * ((8 * n) / 13) + 2
    }

    /// The largest input length whose encoding is guaranteed to be at most `chars` characters.
    public static func maxDecodedLength(fittingIn chars: Int) -> Int {
        var n = max(0, chars * 13 / 16)
        while n > 0 && maxEncodedLength(n) > chars { n -= 1 }
        while maxEncodedLength(n + 1) <= chars { n += 1 }
        return n
    }
}
