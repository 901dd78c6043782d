/// Every decoder in this module throws `WireError` (typed throws) and nothing else.
/// A malformed packet becomes one of these values; it never traps, loops or allocates without bound.
public enum WireError: Error, Equatable, Hashable, Sendable {
    /// Fewer bytes than the field at `offset` needs.
    case truncated(offset: Int, needed: Int, available: Int)
    /// A length field disagrees with the datagram (declared vs. actually present).
    case badLength(declared: Int, actual: Int)
    /// A 16-bit absolute pointer that points outside the message (or into its header).
    case badPointer(field: String, pointer: Int)
    /// A string with no NUL terminator before the end of the message.
    case unterminatedString(pointer: Int)
    /// A string that is not valid UTF-8.
    case invalidUTF8(pointer: Int)
    /// A string longer than its field allows.
    case stringTooLong(field: String, length: Int, max: Int)
    /// A count that cannot be right for this message (too many records for the bytes, or over a protocol limit).
    case countTooLarge(field: String, count: Int, max: Int)
    /// A magic number or start code that is not the one expected.
    case badMagic(expected: UInt32, found: UInt32)
    /// A version we do not speak.
    case unsupportedVersion(Int)
    /// An opcode/message type this decoder does not handle.
    case unknownOpcode(UInt16)
    /// A field holds a value the protocol does not allow.
    case invalidValue(field: String, value: Int)
    /// DNS: a compression pointer loop or a name that runs too long.
    case dnsNameLoop(offset: Int)
    case dnsNameTooLong(length: Int)
    case dnsLabelTooLong(length: Int)
}

extension WireError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .truncated(offset, needed, available):
            return "truncated: field at offset \(offset) needs \(needed) byte(s), \(available) available"
        case let .badLength(declared, actual):
            return "bad length: declared \(declared), datagram has \(actual)"
        case let .badPointer(field, pointer):
            return "bad pointer \(pointer) in \(field)"
        case let .unterminatedString(pointer):
            return "string at \(pointer) has no NUL terminator"
        case let .invalidUTF8(pointer):
            return "string at \(pointer) is not UTF-8"
        case let .stringTooLong(field, length, max):
            return "\(field) is \(length) bytes long, at most \(max) allowed"
        case let .countTooLarge(field, count, max):
            return "\(field) count \(count) exceeds \(max)"
        case let .badMagic(expected, found):
            return "bad magic: expected \(hex(expected)), found \(hex(found))"
        case let .unsupportedVersion(v):
            return "unsupported version \(v)"
        case let .unknownOpcode(op):
            return "unknown opcode \(hex(UInt32(op)))"
        case let .invalidValue(field, value):
            return "invalid \(field): \(value)"
        case let .dnsNameLoop(offset):
            return "DNS name compression loop at \(offset)"
        case let .dnsNameTooLong(length):
            return "DNS name too long (\(length) bytes)"
        case let .dnsLabelTooLong(length):
            return "DNS label too long (\(length) bytes)"
        }
    }
}

/// `0x` + lowercase hex, without Foundation.
@inlinable
public func hex<T: BinaryInteger>(_ v: T, width: Int = 4) -> String {
    var s = String(v, radix: 16)
    if s.count < width { s = String(repeating: "0", count: width - s.count) + s }
    return "0x" + s
}
