import Glibc
import InfernoProtocol

/// `--audiosocket-listen`, `--audiosocket-calls`, `--audiosocket-connect` (INFERNO_AUDIOSOCKET_*): Asterisk calls
/// as extra channels of the device. Parsed here (with the other settings) so mistakes are one-line errors naming
/// the setting; the bridge itself lives in InfernoAudioSocket.
public struct AudioSocketSettings: Equatable, Sendable {
    /// Addresses the AudioSocket server listens on (Asterisk connects to them).
    public var listen: [HostPort] = []
    /// Servers the device dials out to, one call each (the Go library's side).
    public var connect: [AudioSocketTarget] = []
    /// Call slots: each adds TX and RX channels named "call N" after the device's own channels.
    public var calls = 4
    public static let maxCalls = 128

    public init() {}

    public var enabled: Bool { !listen.isEmpty || !connect.isEmpty }

    /// The names of the extra channels (TX and RX alike), empty when the bridge is off.
    public var channelNames: [String] { enabled ? (1...calls).map { "call \($0)" } : [] }

    static func resolve(_ value: (String, String) -> (String, String)?) throws(ConfigError) -> AudioSocketSettings {
        var s = AudioSocketSettings()
        if let (v, setting) = value("audiosocket-listen", "INFERNO_AUDIOSOCKET_LISTEN") {
            s.listen = try v.split(whereSeparator: { $0 == "," || $0 == " " }).map { part throws(ConfigError) in
                try HostPort.parse(String(part), setting: setting, listening: true)
            }
            if s.listen.isEmpty { throw ConfigError(setting: setting, value: v, reason: "must be ADDR:PORT, e.g. 127.0.0.1:9092 or [::1]:9092") }
        }
        if let (v, setting) = value("audiosocket-connect", "INFERNO_AUDIOSOCKET_CONNECT") {
            s.connect = try v.split(whereSeparator: { $0 == " " || $0 == ";" }).map { part throws(ConfigError) in
                try AudioSocketTarget.parse(String(part), setting: setting)
            }
            if s.connect.isEmpty { throw ConfigError(setting: setting, value: v, reason: "must be HOST:PORT,UUID") }
        }
        if let (v, setting) = value("audiosocket-calls", "INFERNO_AUDIOSOCKET_CALLS") {
            s.calls = try DeviceConfig.int(v, setting, 1...maxCalls)
            if !s.enabled {
                throw ConfigError(setting: setting, value: v, reason: "needs --audiosocket-listen or --audiosocket-connect")
            }
        }
        if s.connect.count > s.calls {
            throw ConfigError(setting: DeviceConfig.setting("audiosocket-calls", "INFERNO_AUDIOSOCKET_CALLS"), value: String(s.calls),
                              reason: "is fewer than the \(s.connect.count) --audiosocket-connect targets")
        }
        return s
    }
}

/// A numeric address and a port. Host names are resolved once, when the setting is read.
public struct HostPort: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var isIPv6: Bool

    public init(host: String, port: UInt16, isIPv6: Bool) { self.host = host; self.port = port; self.isIPv6 = isIPv6 }

    /// `ADDR:PORT` or `[V6]:PORT`; ADDR may be a name (resolved now), `*` (all IPv4 interfaces, listening only).
    public static func parse(_ text: String, setting: String, listening: Bool = false) throws(ConfigError) -> HostPort {
        let fail = { (reason: String) in ConfigError(setting: setting, value: text, reason: reason) }
        var host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw fail("must be [IPv6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw fail("must be ADDR:PORT, e.g. 127.0.0.1:9092 or [::1]:9092") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), port > 0 else { throw fail("has no valid port (1-65535)") }
        if host == "*" || (host.isEmpty && listening) {
            guard listening else { throw fail("needs a host to connect to") }
            return HostPort(host: "0.0.0.0", port: port, isIPv6: false)
        }
        guard !host.isEmpty else { throw fail("needs a host") }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 { return HostPort(host: String(host), port: port, isIPv6: false) }
        if inet_pton(AF_INET6, String(host), &v6) == 1 { return HostPort(host: String(host), port: port, isIPv6: true) }
        // A name: resolve now, first address wins.
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(String(host), nil, &hints, &res) == 0, let first = res else {
            throw fail("host \(host) cannot be resolved")
        }
        defer { freeaddrinfo(res) }
        var buf = [CChar](repeating: 0, count: 64)
        let family = first.pointee.ai_family
        if family == AF_INET6 {
            var a = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            inet_ntop(AF_INET6, &a, &buf, 64)
        } else {
            var a = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            inet_ntop(AF_INET, &a, &buf, 64)
        }
        let numeric = buf.withUnsafeBufferPointer { String(decoding: $0.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return HostPort(host: numeric, port: port, isIPv6: family == AF_INET6)
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `HOST:PORT,UUID[,RATE]`: a server to dial, the UUID to announce and the audio rate to send (default 8000,
/// any AudioSocket rate: 8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000).
public struct AudioSocketTarget: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var endpoint: HostPort
    public var uuid: AudioSocketUUID
    public var sampleRate: Int

    public init(endpoint: HostPort, uuid: AudioSocketUUID, sampleRate: Int = 8000) {
        self.endpoint = endpoint; self.uuid = uuid; self.sampleRate = sampleRate
    }

    public static func parse(_ text: String, setting: String) throws(ConfigError) -> AudioSocketTarget {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3 else {
            throw ConfigError(setting: setting, value: text, reason: "must be HOST:PORT,UUID[,RATE]")
        }
        let endpoint = try HostPort.parse(parts[0], setting: setting)
        guard let uuid = AudioSocketUUID(parts[1]) else {
            throw ConfigError(setting: setting, value: text, reason: "has no valid UUID (8-4-4-4-12 hex digits)")
        }
        var rate = 8000
        if parts.count == 3 {
            guard let r = Int(parts[2]), AudioSocketKind.audio(sampleRate: r) != nil else {
                throw ConfigError(setting: setting, value: text, reason: "rate must be one of \(AudioSocketKind.audioRates.map(String.init).joined(separator: ", "))")
            }
            rate = r
        }
        return AudioSocketTarget(endpoint: endpoint, uuid: uuid, sampleRate: rate)
    }

    public var description: String { "\(endpoint),\(uuid)" + (sampleRate == 8000 ? "" : ",\(sampleRate)") }
}
