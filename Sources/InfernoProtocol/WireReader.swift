/// A bounds-checked big-endian reader over one datagram.
///
/// `end` bounds every read (sequential and absolute), so a decoder that trusts only the reader cannot
/// read past the message, whatever its counts and pointers say.
public struct WireReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// One past the last readable byte.
    public let end: Int

    public init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = max(0, min(offset, bytes.count))
        self.end = max(self.offset, min(end ?? bytes.count, bytes.count))
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    @inline(__always)
    func check(_ at: Int, _ n: Int) throws(WireError) {
        guard at >= 0, n >= 0, at <= end, end - at >= n else {
            throw .truncated(offset: at, needed: n, available: max(0, end - max(0, at)))
        }
    }

    public mutating func u8() throws(WireError) -> UInt8 {
        let v = try u8(at: offset); offset += 1; return v
    }
    public mutating func u16() throws(WireError) -> UInt16 {
        let v = try u16(at: offset); offset += 2; return v
    }
    public mutating func u32() throws(WireError) -> UInt32 {
        let v = try u32(at: offset); offset += 4; return v
    }
    public mutating func u64() throws(WireError) -> UInt64 {
        let v = try u64(at: offset); offset += 8; return v
    }
    public mutating func i32() throws(WireError) -> Int32 { Int32(bitPattern: try u32()) }

    public mutating func bytes(_ n: Int) throws(WireError) -> [UInt8] {
        try check(offset, n)
        let v = Array(bytes[offset..<offset + n]); offset += n; return v
    }
    public mutating func skip(_ n: Int) throws(WireError) {
        try check(offset, n); offset += n
    }
    /// Moves to an absolute offset inside the message.
    public mutating func seek(to position: Int) throws(WireError) {
        try check(position, 0); offset = position
    }
    /// The rest of the message.
    public mutating func rest() -> [UInt8] {
        let v = Array(bytes[offset..<end]); offset = end; return v
    }

    public func u8(at i: Int) throws(WireError) -> UInt8 {
        try check(i, 1); return bytes[i]
    }
    public func u16(at i: Int) throws(WireError) -> UInt16 {
        try check(i, 2); return UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
    }
    public func u32(at i: Int) throws(WireError) -> UInt32 {
        try check(i, 4)
        return UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }
    public func u64(at i: Int) throws(WireError) -> UInt64 {
        try check(i, 8)
        var v: UInt64 = 0
        for k in 0..<8 { v = v << 8 | UInt64(bytes[i + k]) }
        return v
    }
    public func bytes(at i: Int, count n: Int) throws(WireError) -> [UInt8] {
        try check(i, n); return Array(bytes[i..<i + n])
    }

    /// A NUL-terminated UTF-8 string at absolute `pointer`.
    /// `minPointer` rejects pointers into the header (ARC: 10); `maxLength` bounds the string (excluding NUL).
    public func cString(at pointer: Int, field: String = "string", minPointer: Int = 0,
                        maxLength: Int = 1024) throws(WireError) -> String {
        guard pointer >= minPointer, pointer < end else { throw .badPointer(field: field, pointer: pointer) }
        var i = pointer
        while i < end, bytes[i] != 0 {
            i += 1
            if i - pointer > maxLength { throw .stringTooLong(field: field, length: i - pointer, max: maxLength) }
        }
        guard i < end else { throw .unterminatedString(pointer: pointer) }
        guard let s = String(validating: bytes[pointer..<i], as: UTF8.self) else { throw .invalidUTF8(pointer: pointer) }
        return s
    }

    /// A fixed-size, NUL-padded text field (conmon, 0x1003): the text up to the first NUL.
    /// Invalid UTF-8 is replaced rather than rejected, since real devices put arbitrary bytes here.
    public func paddedString(at i: Int, size: Int) throws(WireError) -> String {
        try check(i, size)
        var j = i
        while j < i + size, bytes[j] != 0 { j += 1 }
        return String(decoding: bytes[i..<j], as: UTF8.self)
    }
}
