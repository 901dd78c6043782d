import InfernoProtocol
import NIOCore
import NIOPosix

/// One-shot mDNS questions (RFC 6762 §5.1, "legacy unicast"): a query is multicast from an ephemeral port on
/// the bind interface, and responders answer unicast to that port with the query's id. Every answer that
/// arrives within `window` is collected; no cache, no continuous querying.
///
/// Used by the subscriber (resolve `chan@device._netaudio-chan._udp.local`: SRV + TXT, A in additionals) and by
/// the controller commands (browse `_netaudio-arc._udp.local`).
public final class MDNSQuerier: @unchecked Sendable {
    let endpoint: UDPEndpoint
    let loop: EventLoop
    let iface: HostInterface
    /// Touched only on `loop`.
    private var pending: [UInt16: Pending] = [:]
    private var nextID: UInt16 = 1
    public private(set) var malformed = 0

    struct Pending {
        var messages: [DNSMessage] = []
        var done: ([DNSMessage]) -> Void
        var stopEarly: (([DNSMessage]) -> Bool)?
    }

    public init(group: EventLoopGroup, interface: HostInterface) throws {
        iface = interface
        var options = UDPEndpoint.Options()
        options.multicastInterface = interface.addressString
        options.multicastTTL = 255
        let box = QuerierBox()
        endpoint = try UDPEndpoint.bind(group: group, host: interface.addressString, port: 0, options: options) { _, bytes, from in
            box.querier?.receive(bytes, from: from)
        }
        loop = endpoint.channel.eventLoop
        box.querier = self
    }

    /// Sends `questions` once and calls `done` on the event loop with every response received within `window`
    /// (or as soon as `stopEarly` returns true for what has arrived so far).
    public func query(_ questions: [DNSQuestion], window: TimeAmount,
                      stopEarly: (@Sendable ([DNSMessage]) -> Bool)? = nil,
                      done: @escaping @Sendable ([DNSMessage]) -> Void) {
        loop.execute {
            let id = self.nextID
            self.nextID = self.nextID &+ 1 == 0 ? 1 : self.nextID &+ 1
            self.pending[id] = Pending(done: done, stopEarly: stopEarly)
            var message = DNSMessage.mdnsQuery(questions)
            message.id = id
            if let dest = try? SocketAddress(ipAddress: MDNSServer.group, port: Int(MDNSResponder.port)) {
                self.endpoint.send(message.encode(), to: dest)
            }
            self.loop.scheduleTask(in: window) { self.finish(id) }
        }
    }

    /// The same, as an async call.
    public func query(_ questions: [DNSQuestion], window: TimeAmount,
                      stopEarly: (@Sendable ([DNSMessage]) -> Bool)? = nil) async -> [DNSMessage] {
        await withCheckedContinuation { c in
            query(questions, window: window, stopEarly: stopEarly) { c.resume(returning: $0) }
        }
    }

    private func finish(_ id: UInt16) {
        guard let p = pending.removeValue(forKey: id) else { return }
        p.done(p.messages)
    }

    private func receive(_ bytes: [UInt8], from: SocketAddress) {
        guard let message = try? DNSMessage.decode(bytes), message.isResponse else { malformed += 1; return }
        guard var p = pending[message.id] else { return }
        p.messages.append(message)
        pending[message.id] = p
        if let stop = p.stopEarly, stop(p.messages) { finish(message.id) }
    }

    public func close() { endpoint.close() }
}

final class QuerierBox: @unchecked Sendable {
    weak var querier: MDNSQuerier?
}

/// What a `_netaudio-chan` lookup yields (dante-protocol.md §2.3–2.4).
public struct ResolvedChannel: Equatable, Sendable {
    public var txChannel: String
    public var txDevice: String
    /// Flow-control address of the transmitter (host order IPv4, port from SRV).
    public var ipv4: UInt32
    public var port: UInt16
    /// TXT `id`: the channel number to put in flow requests.
    public var channelID: UInt16
    public var sampleRate: Int?
    public var encoding: Int
    public var latencyNs: UInt64
    public var fppMax: Int
    public var fppMin: Int
    public var nchan: Int
    public var dbcp1: UInt16

    /// Parses SRV + TXT answers and the target's A record (answers or additionals) for
    /// `<txChannel>@<txDevice>._netaudio-chan._udp.local`. Missing required keys → nil.
    public static func parse(_ messages: [DNSMessage], txChannel: String, txDevice: String) -> ResolvedChannel? {
        guard let owner = try? DNSName("\(txChannel)@\(txDevice)._netaudio-chan._udp.local") else { return nil }
        let records = messages.flatMap { $0.answers + $0.additionals }
        var srv: (UInt16, DNSName)?
        var txt: [String: String] = [:]
        for r in records where r.name.isEquivalent(to: owner) && r.ttl > 0 {
            switch r.data {
            case let .srv(_, _, port, target): srv = (port, target)
            case let .txt(strings):
                for s in strings {
                    guard let str = String(validating: s, as: UTF8.self), let eq = str.firstIndex(of: "=") else { continue }
                    txt[String(str[..<eq])] = String(str[str.index(after: eq)...])
                }
            default: break
            }
        }
        guard let (port, target) = srv else { return nil }
        var ip: UInt32?
        for r in records where r.name.isEquivalent(to: target) { if case .a(let a) = r.data { ip = a } }
        func int(_ k: String) -> Int? {
            guard let v = txt[k] else { return nil }
            if v.hasPrefix("0x") || v.hasPrefix("0X") { return Int(v.dropFirst(2), radix: 16) }
            return Int(v)
        }
        guard let ip, let id = int("id"), id > 0, id <= 0xFFFF, let enc = int("enc") ?? int("en"),
              let lat = int("latency_ns"), lat >= 0, let nchan = int("nchan"), nchan > 0 else { return nil }
        let fppParts = (txt["fpp"] ?? "").split(separator: ",").compactMap { Int($0) }
        guard let fppMax = fppParts.first, fppMax > 0 else { return nil }
        return ResolvedChannel(txChannel: txChannel, txDevice: txDevice, ipv4: ip, port: port, channelID: UInt16(id),
                               sampleRate: int("rate"), encoding: enc, latencyNs: UInt64(lat), fppMax: fppMax,
                               fppMin: fppParts.count > 1 ? fppParts[1] : 1, nchan: nchan,
                               dbcp1: UInt16(truncatingIfNeeded: int("dbcp1") ?? 0x1102))
    }
}
