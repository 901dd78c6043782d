/// A big-endian writer that builds one datagram. Pointers are patched in place once targets are known.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }
    public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xff)) }
    public mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8((v >> 16) & 0xff))
        bytes.append(UInt8((v >> 8) & 0xff)); bytes.append(UInt8(v & 0xff))
    }
    public mutating func u64(_ v: UInt64) {
        for k in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(k)) & 0xff)) }
    }
    public mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    public mutating func append<S: Sequence>(_ s: S) where S.Element == UInt8 { bytes.append(contentsOf: s) }
    public mutating func zeros(_ n: Int) { if n > 0 { bytes.append(contentsOf: repeatElement(0, count: n)) } }
    /// UTF-8 bytes followed by one NUL.
    public mutating func cString(_ s: String) { bytes.append(contentsOf: s.utf8); bytes.append(0) }
    /// UTF-8 bytes truncated or zero-padded to exactly `size` bytes.
    public mutating func paddedString(_ s: String, size: Int) {
        let u = Array(s.utf8.prefix(size))
        bytes.append(contentsOf: u); zeros(size - u.count)
    }
    /// Zero-pads until `count` is a multiple of `n`.
    public mutating func align(to n: Int) { while bytes.count % n != 0 { bytes.append(0) } }
    /// Zero-pads until `count == offset` (no-op if already past).
    public mutating func pad(to offset: Int) { zeros(offset - bytes.count) }

    public mutating func setU16(_ v: UInt16, at i: Int) { bytes[i] = UInt8(v >> 8); bytes[i + 1] = UInt8(v & 0xff) }
    public mutating func setU32(_ v: UInt32, at i: Int) {
        bytes[i] = UInt8(v >> 24); bytes[i + 1] = UInt8((v >> 16) & 0xff)
        bytes[i + 2] = UInt8((v >> 8) & 0xff); bytes[i + 3] = UInt8(v & 0xff)
    }
}
