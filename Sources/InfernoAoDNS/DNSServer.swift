import Glibc
import InfernoDevice
import InfernoProtocol
import Synchronization

/// An authoritative DNS server for one zone over UDP and TCP (plain sockets, two threads), answering with
/// `DNSAuthority`. The zone is an immutable snapshot swapped atomically (`setZone`); a query always sees one
/// whole snapshot.
///
/// * UDP: every response passes the per-source rate limiter first (over the limit: TC=1 slips or drops);
///   answers never exceed 1232 bytes or the requester's EDNS size.
/// * TCP: 2-byte length framing, read exactly; any number of queries per connection, answered in order; a
///   connection idle for `idleTimeoutMs` (or whose peer stops reading) is closed; at most `maxConnections`.
/// * Bad input is counted and answered FORMERR or dropped; nothing a client sends can crash or block the server.
/// * Each thread answers through its own `DNSAnswerCache` (byte-identical to `DNSAuthority.respond`; emptied
///   whenever the zone snapshot it is given changes), so a repeated question skips parsing and encoding.
public final class DNSServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var rateLimit = DNSRateLimiter.Config()
        public var maxConnections = 64
        public var idleTimeoutMs = 10_000
        public init() {}
    }

    /// Counters, readable from any thread.
    public final class Counters: Sendable {
        public let udpQueries = Atomic<Int>(0)
        public let tcpQueries = Atomic<Int>(0)
        public let answers = Atomic<Int>(0)
        public let nxdomain = Atomic<Int>(0)
        public let nodata = Atomic<Int>(0)
        public let refused = Atomic<Int>(0)
        public let formerr = Atomic<Int>(0)
        public let truncated = Atomic<Int>(0)
        public let rateLimitedDrops = Atomic<Int>(0)
        public let rateLimitedSlips = Atomic<Int>(0)
        public let dropped = Atomic<Int>(0)
        public let tcpConnections = Atomic<Int>(0)
        public let tcpRefused = Atomic<Int>(0)
        public let tcpIdleClosed = Atomic<Int>(0)
        /// Queries whose name had upper-case letters (0x20 randomisation by a resolver, or a person typing).
        public let mixedCase = Atomic<Int>(0)
        init() {}

        /// Notes whether the first question's name (uncompressed, right after the header) has upper-case letters.
        func noteCase(_ q: UnsafeRawBufferPointer) {
            var i = 12
            while i < q.count {
                let len = Int(q[i])
                if len == 0 || len > 63 || i + 1 + len > q.count { return }
                for k in (i + 1)...(i + len) where q[k] >= 0x41 && q[k] <= 0x5A {
                    mixedCase.add(1, ordering: .relaxed)
                    return
                }
                i += 1 + len
            }
        }

        func count(_ o: DNSAuthority.Outcome) {
            switch o {
            case .answer, .minimalANY: answers.add(1, ordering: .relaxed)
            case .nxdomain: nxdomain.add(1, ordering: .relaxed)
            case .nodata: nodata.add(1, ordering: .relaxed)
            case .refused, .notimp, .badvers: refused.add(1, ordering: .relaxed)
            case .formerr: formerr.add(1, ordering: .relaxed)
            case .truncated: truncated.add(1, ordering: .relaxed)
            case .slipped: rateLimitedSlips.add(1, ordering: .relaxed)
            }
        }

        public var summary: String {
            func v(_ a: borrowing Atomic<Int>) -> Int { a.load(ordering: .relaxed) }
            return "queries udp \(v(udpQueries)) tcp \(v(tcpQueries)) | answers \(v(answers)) nxdomain \(v(nxdomain)) nodata \(v(nodata)) refused \(v(refused)) formerr \(v(formerr)) truncated \(v(truncated)) | rate-limited dropped \(v(rateLimitedDrops)) slipped \(v(rateLimitedSlips)) | dropped \(v(dropped)) | tcp connections \(v(tcpConnections)) refused \(v(tcpRefused)) idle-closed \(v(tcpIdleClosed)) | mixed-case names \(v(mixedCase))"
        }
    }

    public let endpoint: SocketEndpoint
    public let counters = Counters()
    let options: Options
    private let zone: Mutex<DNSZone>
    private let udp: Int32
    private let tcp: Int32
    private let stopFlag = Atomic<Bool>(false)
    private var threads: [RealtimeThread] = []

    /// Binds UDP and TCP on `endpoint`. A port in use is an error naming it.
    public init(endpoint: SocketEndpoint, zone: DNSZone, options: Options = Options()) throws {
        self.endpoint = endpoint
        self.options = options
        self.zone = Mutex(zone)
        udp = socket(endpoint.domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard udp >= 0 else { throw SocketFailure.last("socket") }
        tcp = socket(endpoint.domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard tcp >= 0 else { close(udp); throw SocketFailure.last("socket") }
        setIntOption(tcp, SOL_SOCKET, SO_REUSEADDR, 1)
        setIntOption(udp, SOL_SOCKET, SO_RCVBUF, 1 << 20)
        for (fd, what) in [(udp, "UDP"), (tcp, "TCP")] {
            let rc = endpoint.withSockaddr { bind(fd, $0, $1) }
            if rc != 0 {
                let e = errno
                close(udp); close(tcp)
                if e == EADDRINUSE { throw RuntimeError("\(what) port \(endpoint) is already in use") }
                throw RuntimeError("cannot bind \(what) \(endpoint): \(String(cString: strerror(e)))")
            }
        }
        guard listen(tcp, 64) == 0 else {
            let f = SocketFailure.last("listen")
            close(udp); close(tcp)
            throw f
        }
        setTimeout(udp, SO_RCVTIMEO, ms: 200)
        setNonBlocking(tcp)
        var sa = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(udp, $0, &len) } }
        boundPort = SocketEndpoint(storage: sa).port
    }

    /// The UDP port actually bound (useful with port 0; TCP is bound to the same number only when one was given).
    public private(set) var boundPort: UInt16 = 0

    deinit {
        close(udp)
        close(tcp)
    }

    /// Swaps in a new zone snapshot (queries in flight finish with the old one).
    public func setZone(_ z: DNSZone) { zone.withLock { $0 = z } }

    public var currentZone: DNSZone { zone.withLock { $0 } }

    public func start() {
        threads.append(RealtimeThread.start(name: "aodns-dns-udp") { [self] in udpLoop() })
        threads.append(RealtimeThread.start(name: "aodns-dns-tcp") { [self] in tcpLoop() })
    }

    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        for t in threads { t.join() }
        threads = []
    }

    // MARK: UDP

    private func udpLoop() {
        var limiter = DNSRateLimiter(config: options.rateLimit)
        var cache = DNSAnswerCache()   // this thread's; emptied whenever the zone snapshot changes
        var buf = [UInt8](repeating: 0, count: 65536)
        var from = sockaddr_storage()
        while !stopFlag.load(ordering: .relaxed) {
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buf.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(udp, b.baseAddress, b.count, 0, $0, &len) }
                }
            }
            if n < 0 { continue }   // timeout (stop check) or a transient error
            counters.udpQueries.add(1, ordering: .relaxed)
            let decision = limiter.decide(source: Self.rateKey(from), now: monoNanos())
            if decision == .drop { counters.rateLimitedDrops.add(1, ordering: .relaxed); continue }
            if decision == .slip {
                // Over the limit: a tiny TC=1 answer straight from the query bytes (no parsing, no zone).
                guard let slip = buf.withUnsafeBytes({ DNSAuthority.minimalTruncated(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else {
                    counters.rateLimitedDrops.add(1, ordering: .relaxed)
                    continue
                }
                counters.rateLimitedSlips.add(1, ordering: .relaxed)
                send(slip, to: &from, len: len)
                continue
            }
            let z = zone.withLock { $0 }
            buf.withUnsafeBytes { b in
                let query = UnsafeRawBufferPointer(rebasing: b[0..<n])
                switch cache.respond(to: query, zone: z, transport: .udp) {
                case .failure:
                    counters.dropped.add(1, ordering: .relaxed)
                case .success(let r):
                    counters.count(r.outcome)
                    counters.noteCase(query)
                    send(r.bytes, to: &from, len: len)
                }
            }
        }
    }

    private func send(_ bytes: [UInt8], to from: inout sockaddr_storage, len: socklen_t) {
        _ = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(udp, b.baseAddress, b.count, 0, $0, len) }
            }
        }
    }

    /// The rate-limiter key of a source address, without allocating.
    static func rateKey(_ s: sockaddr_storage) -> UInt64 {
        let family = Int32(s.ss_family)
        var s = s
        return withUnsafeBytes(of: &s) { raw -> UInt64 in
            if family == AF_INET6 {
                let a = raw.load(as: sockaddr_in6.self).sin6_addr
                return withUnsafeBytes(of: a) { b in
                    var k: UInt64 = 0
                    for i in 0..<8 { k = k << 8 | UInt64(b[i]) }
                    return k | 1 << 63 | 1 << 62
                }
            }
            return UInt64(UInt32(bigEndian: raw.load(as: sockaddr_in.self).sin_addr.s_addr))
        }
    }

    // MARK: TCP

    private final class Connection {
        let fd: Int32
        var input: [UInt8] = []
        var output: [UInt8] = []
        var outputSent = 0
        var lastActivity: UInt64
        init(fd: Int32, now: UInt64) { self.fd = fd; lastActivity = now }
    }

    private func tcpLoop() {
        var conns: [Connection] = []
        var cache = DNSAnswerCache()   // this thread's
        var buf = [UInt8](repeating: 0, count: 16384)
        let idleNs = UInt64(options.idleTimeoutMs) * 1_000_000
        while !stopFlag.load(ordering: .relaxed) {
            var fds = [pollfd(fd: tcp, events: Int16(POLLIN), revents: 0)]
            for c in conns {
                var ev = Int16(POLLIN)
                if c.outputSent < c.output.count { ev |= Int16(POLLOUT) }
                fds.append(pollfd(fd: c.fd, events: ev, revents: 0))
            }
            let rc = poll(&fds, nfds_t(fds.count), 200)
            let now = monoNanos()
            if rc > 0 && fds[0].revents & Int16(POLLIN) != 0 {
                while true {
                    let fd = accept(tcp, nil, nil)
                    if fd < 0 { break }
                    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                    setNonBlocking(fd)
                    if conns.count >= options.maxConnections {
                        counters.tcpRefused.add(1, ordering: .relaxed)
                        close(fd)
                        continue
                    }
                    counters.tcpConnections.add(1, ordering: .relaxed)
                    conns.append(Connection(fd: fd, now: now))
                }
            }
            var closed = Set<Int32>()
            for (i, c) in conns.enumerated() where rc > 0 && i + 1 < fds.count {
                let re = fds[i + 1].revents
                if re & Int16(POLLIN) != 0 || re & Int16(POLLHUP | POLLERR) != 0 {
                    let n = buf.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
                    if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) {
                        closed.insert(c.fd)
                        continue
                    }
                    if n > 0 {
                        c.lastActivity = now
                        c.input.append(contentsOf: buf[0..<n])
                        serveFrames(c, cache: &cache)
                    }
                }
                if c.outputSent < c.output.count {
                    let n = c.output.withUnsafeBytes { write(c.fd, $0.baseAddress! + c.outputSent, $0.count - c.outputSent) }
                    if n > 0 {
                        c.outputSent += n
                        c.lastActivity = now
                        if c.outputSent == c.output.count { c.output.removeAll(keepingCapacity: true); c.outputSent = 0 }
                    } else if n < 0 && errno != EAGAIN && errno != EINTR {
                        closed.insert(c.fd)
                        continue
                    }
                }
                // A peer that queues more than 256 KiB of answers without reading them is not a DNS client.
                if c.output.count - c.outputSent > 256 * 1024 { closed.insert(c.fd) }
            }
            for c in conns where now > c.lastActivity && now - c.lastActivity > idleNs {
                counters.tcpIdleClosed.add(1, ordering: .relaxed)
                closed.insert(c.fd)
            }
            if !closed.isEmpty {
                for c in conns where closed.contains(c.fd) { close(c.fd) }
                conns.removeAll { closed.contains($0.fd) }
            }
        }
        for c in conns { close(c.fd) }
    }

    /// Answers every complete length-prefixed message in the connection's input.
    private func serveFrames(_ c: Connection, cache: inout DNSAnswerCache) {
        var offset = 0
        while c.input.count - offset >= 2 {
            let len = Int(c.input[offset]) << 8 | Int(c.input[offset + 1])
            guard c.input.count - offset - 2 >= len else { break }
            let query = Array(c.input[(offset + 2)..<(offset + 2 + len)])
            offset += 2 + len
            counters.tcpQueries.add(1, ordering: .relaxed)
            let z = zone.withLock { $0 }
            switch cache.respond(to: query, zone: z, transport: .tcp) {
            case .failure:
                counters.dropped.add(1, ordering: .relaxed)
            case .success(let r):
                counters.count(r.outcome)
                query.withUnsafeBytes { counters.noteCase($0) }
                c.output.append(UInt8(r.bytes.count >> 8))
                c.output.append(UInt8(r.bytes.count & 0xFF))
                c.output.append(contentsOf: r.bytes)
            }
        }
        if offset > 0 { c.input.removeFirst(offset) }
    }
}
