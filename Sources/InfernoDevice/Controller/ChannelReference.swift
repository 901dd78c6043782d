import InfernoProtocol

/// `CH@DEV` on the command line: a channel of a device, by number or by name.
///
/// The text is split at the **last** `@` (channel names never contain one; netaudio splits the same way).
/// A channel part made only of ASCII digits is a number (`2`, `02`); anything else is a name (`TX 2`, `Vox`).
public struct ChannelReference: Equatable, Sendable {
    public enum Channel: Equatable, Sendable {
        case number(UInt16)
        case name(String)
    }

    public var channel: Channel
    public var device: String

    public init(channel: Channel, device: String) {
        self.channel = channel
        self.device = device
    }

    public static func parse(_ text: String, what: String = "channel") throws(ControllerError) -> ChannelReference {
        guard let at = text.lastIndex(of: "@") else {
            throw .usage("\(what) \"\(text)\" must be CHANNEL@DEVICE, e.g. 1@studio or \"TX 1@studio\"")
        }
        let ch = String(text[..<at]), dev = String(text[text.index(after: at)...])
        guard !ch.isEmpty, !dev.isEmpty else {
            throw .usage("\(what) \"\(text)\" must be CHANNEL@DEVICE with both parts non-empty")
        }
        if ch.unicodeScalars.allSatisfy({ $0.value >= 0x30 && $0.value <= 0x39 }) {
            guard let n = Int(ch), n >= 1, n <= Int(UInt16.max) else {
                throw .usage("\(what) \"\(text)\": channel numbers run from 1 to 65535")
            }
            return ChannelReference(channel: .number(UInt16(n)), device: dev)
        }
        return ChannelReference(channel: .name(ch), device: dev)
    }
}

extension ARCSubscriptionStatus {
    /// What a controller shows for the 0x3000 subscription status (dante-protocol.md §4.4.10, §10.4).
    public var text: String {
        switch self {
        case .none: "none"
        case .unresolved: "unresolved"
        case .selfConnected: "connected (self)"
        case .inProgress: "in progress"
        case .unicast: "connected (unicast)"
        case .multicast: "connected (multicast)"
        case .tooManyTxFlows: "too many TX flows"
        case .txFail: "TX flow failed"
        default: "status \(hex(rawValue))"
        }
    }
}

/// A latency in ns as milliseconds for people: 2000000 → "2", 250000 → "0.25".
public func millisecondsText(_ ns: UInt32) -> String {
    let us = (UInt64(ns) + 500) / 1000
    let whole = us / 1000, frac = us % 1000
    if frac == 0 { return "\(whole)" }
    var f = String(frac)
    while f.count < 3 { f = "0" + f }
    while f.hasSuffix("0") { f.removeLast() }
    return "\(whole).\(f)"
}
