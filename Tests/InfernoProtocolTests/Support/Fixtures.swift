import Foundation

/// Loads golden vectors from `Tests/InfernoProtocolTests/Fixtures` (copied from ../shared/fixtures/netaudio).
enum Fixtures {
    static var root: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures") }

    /// Bytes of one fixture, e.g. `load("netaudio/subscription/subscription_add_request.bin")`.
    static func load(_ path: String) -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: root.appendingPathComponent(path).path) else {
            fatalError("missing fixture \(path)")
        }
        return [UInt8](d)
    }

    /// The netaudio request/response pair whose file name contains `fragment` (e.g. "avio-usb-3_get_receivers").
    static func pair(_ fragment: String) -> (request: [UInt8], response: [UInt8]) {
        let dir = root.appendingPathComponent("netaudio").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        guard let req = names.first(where: { $0.contains(fragment) && $0.hasSuffix("_request.bin") }),
              let resp = names.first(where: { $0.contains(fragment) && $0.hasSuffix("_response.bin") }) else {
            fatalError("no fixture pair \(fragment)")
        }
        return (load("netaudio/" + req), load("netaudio/" + resp))
    }

    struct ProvenancePacket {
        let path: String
        let direction: String   // "request", "response" or "" (multicast/unknown)
        let srcPort: Int?
        let dstPort: Int?
        let bytes: [UInt8]
    }

    /// Every packet of every provenance bundle, with direction and ports from the bundle manifests.
    static let provenance: [ProvenancePacket] = {
        let index = root.appendingPathComponent("provenance/index.tsv")
        guard let text = try? String(contentsOf: index, encoding: .utf8) else { fatalError("missing index.tsv") }
        return text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 4 else { return nil }
            return ProvenancePacket(path: f[0], direction: f[1], srcPort: Int(f[2]), dstPort: Int(f[3]),
                                    bytes: load("provenance/" + f[0]))
        }
    }()

    /// Provenance packets whose first u16 is `protocolID` (nil = any) and opcode matches.
    /// For ARC/CMC/flow control the opcode is the u16 at 6; for conmon (0xFFFF/0xFFFE) the message type at 26.
    static func provenance(protocolID: UInt16? = nil, opcode: UInt16, direction: String? = nil) -> [ProvenancePacket] {
        provenance.filter { p in
            guard p.bytes.count >= 8 else { return false }
            let proto = UInt16(p.bytes[0]) << 8 | UInt16(p.bytes[1])
            if let protocolID, proto != protocolID { return false }
            if let direction, p.direction != direction { return false }
            let isConmon = proto == 0xFFFF || proto == 0xFFFE
            let opAt = isConmon ? 26 : 6
            guard p.bytes.count >= opAt + 2 else { return false }
            return (UInt16(p.bytes[opAt]) << 8 | UInt16(p.bytes[opAt + 1])) == opcode
        }
    }
}

/// "27 ff 00 0a" → bytes; spaces, newlines and `|` are ignored.
func hexBytes(_ s: String) -> [UInt8] {
    let digits = s.filter { $0.isHexDigit }
    var out: [UInt8] = []
    var it = digits.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}
