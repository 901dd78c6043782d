import InfernoProtocol
import Logging
import NIOCore

/// `--allow-controllers CIDR[,…]` (INFERNO_ALLOW_CONTROLLERS): the IPv4 networks whose hosts may change the device.
///
/// Dante control is unauthenticated; this is the one knob the device has. Reads stay open to anyone (controllers
/// list devices, channels and subscriptions before they act); renames, subscriptions, latency, sample rate,
/// encoding and flow requests from other sources are refused. A bare address means /32.
public struct ControllerAllowList: Equatable, Sendable, CustomStringConvertible {
    public struct Network: Equatable, Sendable {
        public var address: UInt32
        public var prefix: Int
        var mask: UInt32 { prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix) }
        public func contains(_ ip: UInt32) -> Bool { ip & mask == address & mask }
    }

    public var networks: [Network]

    /// nil when `text` is not a comma-separated list of `A.B.C.D[/0-32]`.
    public init?(_ text: String) {
        var out: [Network] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let s = String(item).trimmingSpaces
            let parts = s.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let ip = parseIPv4(String(parts[0])) else { return nil }
            var prefix = 32
            if parts.count == 2 {
                guard parts[1].count <= 2, parts[1].allSatisfy(\.isASCIIDigit), let p = Int(parts[1]), p <= 32 else { return nil }
                prefix = p
            }
            out.append(Network(address: ip, prefix: prefix))
        }
        guard !out.isEmpty else { return nil }
        networks = out
    }

    public func allows(_ ip: UInt32) -> Bool { networks.contains { $0.contains(ip) } }

    /// IPv4 senders inside one of the networks; anything else (IPv6, Unix) is refused.
    public func allows(_ address: SocketAddress) -> Bool {
        guard case .v4(let a) = address else { return false }
        return allows(UInt32(bigEndian: a.address.sin_addr.s_addr))
    }

    public var description: String {
        networks.map { "\(ipv4String($0.address & $0.mask))/\($0.prefix)" }.joined(separator: ",")
    }
}

/// Counts refused control requests and logs them at most once a second (a flood must not flood the log).
final class RefusalLog: @unchecked Sendable {
    private(set) var count = 0
    private var lastLog: Int64 = 0
    private var sinceLog = 0
    let log: Logger

    init(logger: Logger) { log = logger }

    func refused(_ what: @autoclosure () -> String, from: SocketAddress) {
        count += 1
        sinceLog += 1
        let now = monotonicNow()
        if lastLog == 0 || now - lastLog >= 1_000_000_000 {
            log.warning("refused \(what()) from \(from.ipAddress ?? "?"): not in --allow-controllers (\(sinceLog) refused since the last report, \(count) in all)")
            lastLog = now
            sinceLog = 0
        }
    }
}

extension DNSRateLimiter.Config {
    /// Replies of the control plane (ARC, unicast mDNS answers) per source address: 1,000 a second with bursts of
    /// 2,000, the rest dropped. Controllers ask far less; a forged source gets at most that, not an amplifier.
    public static let controlReplies = DNSRateLimiter.Config(responsesPerSecond: 1000, burst: 2000, slipEvery: 0)
}
