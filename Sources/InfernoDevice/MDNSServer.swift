import InfernoProtocol
import NIOCore
import NIOPosix

/// The embedded mDNS responder: one socket on *:5353 (SO_REUSEPORT, so it coexists with Avahi or another
/// responder), joined to 224.0.0.251 on the bind interface only, sending through that interface only.
/// Queries from outside the bind interface's subnet are ignored, so a device bound to loopback never answers
/// (or sends) anything off the machine.
public final class MDNSServer: @unchecked Sendable {
    public static let group = "224.0.0.251"

    let endpoint: UDPEndpoint
    let iface: HostInterface
    let loop: EventLoop
    /// Touched only on `loop`.
    private var responder: MDNSResponder
    private var stopped = false
    public private(set) var malformed = 0
    public private(set) var answered = 0
    /// Unicast answers not sent because their destination was over its per-source limit.
    public private(set) var rateLimited = 0
    var replyLimiter = DNSRateLimiter(config: .controlReplies)
    /// Called on the event loop when another host answers for one of our names with other data (RFC 6762 §9),
    /// e.g. our probe was answered; the owner picks a new name and calls `update(zone:)`.
    let onConflict: (@Sendable () -> Void)?
    /// Called on the event loop with every mDNS response heard (announcements of other devices included).
    let onResponse: (@Sendable (DNSMessage) -> Void)?
    private var probing = false

    public init(group: EventLoopGroup, interface: HostInterface, zone: MDNSZone, port: Int = Int(MDNSResponder.port),
                onConflict: (@Sendable () -> Void)? = nil, onResponse: (@Sendable (DNSMessage) -> Void)? = nil) throws {
        iface = interface
        self.onConflict = onConflict
        self.onResponse = onResponse
        responder = try MDNSResponder(zone: zone)
        var options = UDPEndpoint.Options()
        options.reusePort = true
        options.joinGroups = [Self.group]
        options.multicastInterface = interface.addressString
        options.multicastTTL = 255
        let box = ServerBox()
        endpoint = try UDPEndpoint.bind(group: group, host: "0.0.0.0", port: port, options: options) { _, bytes, from in
            box.server?.receive(bytes, from: from)
        }
        loop = endpoint.channel.eventLoop
        box.server = self
    }

    /// Probes three times 250 ms apart (RFC 6762 §8.1), then announces twice, one second apart (§8.3).
    /// A conflict seen while probing or later calls `onConflict`.
    public func start() {
        loop.execute { self.probe() }
    }

    func probe() {
        probing = true
        let generation = responder.zone
        for i in 0..<3 {
            loop.scheduleTask(in: .milliseconds(Int64(250 * i))) {
                guard self.probing, self.responder.zone == generation else { return }
                self.sendMulticast(self.responder.probe())
            }
        }
        loop.scheduleTask(in: .milliseconds(750)) {
            guard self.probing, self.responder.zone == generation else { return }
            self.probing = false
            self.announce()
            self.loop.scheduleTask(in: .seconds(1)) { self.announce() }
        }
    }

    /// Replaces the published records (rename, channel rename): goodbye for what disappears, then announce.
    public func update(zone: MDNSZone) {
        loop.execute {
            guard let next = try? MDNSResponder(zone: zone), next.zone != self.responder.zone else { return }
            let gone = self.responder.allRecords.filter { old in !next.allRecords.contains(old) }
            if !gone.isEmpty { self.sendMulticast(DNSMessage.mdnsResponse(answers: gone.map(\.goodbye))) }
            let renamed = next.hostName != self.responder.hostName
            self.responder = next
            if renamed {
                self.probe()
            } else {
                self.announce()
                self.loop.scheduleTask(in: .seconds(1)) { self.announce() }
            }
        }
    }

    /// Sends goodbyes and closes the socket.
    public func stop() {
        let done = loop.submit {
            self.stopped = true
            self.sendMulticast(self.responder.goodbye())
        }
        _ = try? done.wait()
        endpoint.close()
    }

    func announce() {
        guard !stopped else { return }
        sendMulticast(responder.announcement())
    }

    func sendMulticast(_ message: DNSMessage) {
        guard let dest = try? SocketAddress(ipAddress: Self.group, port: Int(MDNSResponder.port)) else { return }
        // Keep datagrams within a typical MTU; the zone of a many-channel device is split into several.
        for part in responder.split(message) { endpoint.send(part.encode(), to: dest) }
    }

    func receive(_ bytes: [UInt8], from: SocketAddress) {
        guard case .v4(let v4) = from else { return }
        let src = UInt32(bigEndian: v4.address.sin_addr.s_addr)
        guard iface.contains(src) || (iface.isLoopback && src >> 24 == 127) else { return }
        let query: DNSMessage
        do { query = try DNSMessage.decode(bytes) } catch { malformed += 1; return }
        // Only answers from other hosts count (our own announcements loop back, and may carry data we have just
        // replaced); a newcomer probing for our name gets our answer and renames itself (§8.1).
        if query.isResponse { onResponse?(query) }
        if query.isResponse, src != iface.address, responder.conflicts(with: query) {
            probing = false
            onConflict?()
            return
        }
        guard let reply = responder.respond(to: query, sourcePort: UInt16(from.port ?? 0)) else { return }
        switch reply.destination {
        case .unicast:
            // Unicast answers go wherever the query says it came from: limited per source, so a forged source
            // cannot turn the responder into an amplifier (multicast answers only reach the link).
            guard replyLimiter.decide(source: DNSRateLimiter.key(ipv4: src), now: UInt64(max(0, monotonicNow()))) == .answer else {
                rateLimited += 1
                return
            }
            answered += 1
            for part in responder.split(reply.message) { endpoint.send(part.encode(), to: from) }
        case .multicast:
            answered += 1
            sendMulticast(reply.message)
        }
    }
}

final class ServerBox: @unchecked Sendable {
    weak var server: MDNSServer?
}
