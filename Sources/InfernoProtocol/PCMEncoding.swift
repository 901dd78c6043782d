/// Big-endian two's-complement PCM sample formats of Dante audio packets (dante-protocol.md §8.1–8.2).
///
/// Samples are exchanged as **left-justified Int32** (full scale = Int32 range): reading 16-bit `b0 b1` gives
/// `b0<<24 | b1<<16`, 24-bit `b0 b1 b2` gives `b0<<24 | b1<<16 | b2<<8`, 32-bit is as is. Writing stores the top
/// `bytesPerSample` bytes (plain truncation; rounding/dither is InfernoMedia's job).
///
/// The pointer accessors do no bounds checking: callers pass pointers inside a buffer whose geometry they have
/// validated (see `AudioPacketView`). They never allocate, so they are safe on a real-time thread.
public enum PCMEncoding: Int, Hashable, Sendable, CaseIterable {
    case int16 = 16
    case int24 = 24
    case int32 = 32

    /// nil for anything but 16, 24, 32 (e.g. a bogus `enc` TXT value).
    public init?(bits: Int) { self.init(rawValue: bits) }

    /// nil for anything but 2, 3, 4.
    public init?(bytesPerSample: Int) { self.init(rawValue: bytesPerSample * 8) }

    @inlinable public var bits: Int { rawValue }
    @inlinable public var bytesPerSample: Int { rawValue >> 3 }

    /// Reads one sample at `p`, left-justified into Int32.
    @inlinable @inline(__always)
    public func read(_ p: UnsafeRawPointer) -> Int32 {
        switch self {
        case .int16: PCMEncoding.read16(p)
        case .int24: PCMEncoding.read24(p)
        case .int32: PCMEncoding.read32(p)
        }
    }

    /// Writes the top `bytesPerSample` bytes of `v` at `p`, big-endian.
    @inlinable @inline(__always)
    public func write(_ v: Int32, to p: UnsafeMutableRawPointer) {
        switch self {
        case .int16: PCMEncoding.write16(v, to: p)
        case .int24: PCMEncoding.write24(v, to: p)
        case .int32: PCMEncoding.write32(v, to: p)
        }
    }

    @inlinable @inline(__always)
    public static func read16(_ p: UnsafeRawPointer) -> Int32 {
        Int32(bitPattern: UInt32(p.load(as: UInt8.self)) << 24 | UInt32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16)
    }
    @inlinable @inline(__always)
    public static func read24(_ p: UnsafeRawPointer) -> Int32 {
        Int32(bitPattern: UInt32(p.load(as: UInt8.self)) << 24 | UInt32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16
            | UInt32(p.load(fromByteOffset: 2, as: UInt8.self)) << 8)
    }
    @inlinable @inline(__always)
    public static func read32(_ p: UnsafeRawPointer) -> Int32 {
        Int32(bitPattern: UInt32(bigEndian: p.loadUnaligned(as: UInt32.self)))
    }
    @inlinable @inline(__always)
    public static func write16(_ v: Int32, to p: UnsafeMutableRawPointer) {
        let u = UInt32(bitPattern: v)
        p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 24), as: UInt8.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 16), toByteOffset: 1, as: UInt8.self)
    }
    @inlinable @inline(__always)
    public static func write24(_ v: Int32, to p: UnsafeMutableRawPointer) {
        let u = UInt32(bitPattern: v)
        p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 24), as: UInt8.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 16), toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 8), toByteOffset: 2, as: UInt8.self)
    }
    @inlinable @inline(__always)
    public static func write32(_ v: Int32, to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: UInt32(bitPattern: v).bigEndian, as: UInt32.self)
    }
}
