// Kept in its own file (no imports) so the fuzz build can compile the state-file loader (DeviceState.swift)
// without the rest of InfernoDevice: see README.md, "Fuzzing and sanitizers".

/// The 8-byte Dante device id (TXT `id`, CMC, conmon header, state key).
public struct DeviceID: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init?(bytes: [UInt8]) {
        guard bytes.count == 8 else { return nil }
        self.bytes = bytes
    }
    public init?(hex: String) {
        let digits = Array(hex.lowercased().utf8)
        guard digits.count == 16 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: 16, by: 2) {
            guard let hi = hexValue(digits[i]), let lo = hexValue(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        bytes = out
    }
    /// EUI-64 from a 48-bit MAC: `aa bb cc ff fe dd ee ff`, as real Dante devices do.
    public init?(eui64FromMAC mac: [UInt8]) {
        guard mac.count == 6 else { return nil }
        bytes = [mac[0], mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]]
    }
    /// 16 lowercase hex digits.
    public var description: String { bytes.map { b in let s = String(b, radix: 16); return b < 16 ? "0" + s : s }.joined() }
    /// The last three bytes as six hex digits (default name suffix).
    public var shortHex: String { String(description.suffix(6)) }
}

func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x61...0x66: return c - 0x61 + 10
    case 0x41...0x46: return c - 0x41 + 10
    default: return nil
    }
}
