import Glibc
import InfernoProtocol

/// A stub DNS client for one server: UDP with EDNS0 (1232), a random id checked on the answer (and the question
/// compared case-insensitively), TC=1 → the same query over TCP. Blocking with a deadline; one thread at a time.
public final class DNSClient {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case timeout
        case network(String)
        case malformed(String)
        /// A response with an RCODE other than NOERROR/NXDOMAIN (SERVFAIL, REFUSED…).
        case rcode(UInt16)
        public var description: String {
            switch self {
            case .timeout: return "timed out"
            case .network(let s): return s
            case .malformed(let s): return "malformed answer: \(s)"
            case .rcode(let r): return "RCODE \(r)"
            }
        }
    }

    public struct Answer: Sendable {
        public var message: DNSMessage
        public var overTCP: Bool
        /// NXDOMAIN.
        public var nameMissing: Bool { message.rcode == 3 }
        /// TXT RRs of the answer section owned by the question's name: their character-strings.
        public var txt: [[[UInt8]]] {
            guard let q = message.questions.first else { return [] }
            return message.answers.compactMap { r -> [[UInt8]]? in
                guard r.name.isEquivalent(to: q.name), case let .txt(s) = r.data else { return nil }
                return s
            }
        }
    }

    public let server: SocketEndpoint
    private var udp: Int32 = -1
    private var rng = SystemRandomNumberGenerator()
    public private(set) var udpQueries = 0, tcpQueries = 0, timeouts = 0

    public init(server: SocketEndpoint) throws {
        self.server = server
        udp = socket(server.domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard udp >= 0 else { throw SocketFailure.last("socket") }
        guard server.withSockaddr({ connect(udp, $0, $1) }) == 0 else {
            let f = SocketFailure.last("connect \(server)")
            close(udp)
            throw f
        }
    }

    deinit { if udp >= 0 { close(udp) } }

    /// Asks for `type` at `name`; waits at most `timeoutMs` per attempt, `attempts` UDP attempts.
    public func query(_ name: DNSName, _ type: DNSType, timeoutMs: Int = 500, attempts: Int = 2) throws(Failure) -> Answer {
        var lastError = Failure.timeout
        for _ in 0..<max(1, attempts) {
            let id = UInt16.random(in: 0...0xFFFF, using: &rng)
            var q = DNSMessage(id: id, flags: 0x0100, questions: [DNSQuestion(name: name, type: type)])   // RD: resolvers refuse RD=0 queries
            q.edns = EDNS(udpPayloadSize: 1232)
            let bytes = q.encode()
            udpQueries += 1
            do {
                let m = try udpExchange(bytes, id: id, question: q.questions[0], timeoutMs: timeoutMs)
                if m.truncated {
                    tcpQueries += 1
                    let t = try tcpExchange(bytes, id: id, question: q.questions[0], timeoutMs: timeoutMs * 2)
                    return try check(Answer(message: t, overTCP: true))
                }
                return try check(Answer(message: m, overTCP: false))
            } catch {
                if error == .timeout { timeouts += 1 }
                if case .rcode = error { throw error }
                lastError = error
            }
        }
        throw lastError
    }

    private func check(_ a: Answer) throws(Failure) -> Answer {
        let rc = a.message.fullRCode
        guard rc == 0 || rc == 3 else { throw .rcode(rc) }
        return a
    }

    private func matches(_ m: DNSMessage, id: UInt16, question: DNSQuestion) -> Bool {
        guard m.isResponse, m.id == id else { return false }
        // A FORMERR may come without a question; anything else must echo ours.
        guard let q = m.questions.first else { return m.rcode != 0 }
        return q.type == question.type && q.name.isEquivalent(to: question.name)
    }

    private func udpExchange(_ bytes: [UInt8], id: UInt16, question: DNSQuestion,
                             timeoutMs: Int) throws(Failure) -> DNSMessage {
        // Drain stale answers to earlier, timed-out queries.
        var junk = [UInt8](repeating: 0, count: 2048)
        while junk.withUnsafeMutableBytes({ recv(udp, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
        let sent = bytes.withUnsafeBytes { send(udp, $0.baseAddress, $0.count, 0) }
        guard sent == bytes.count else { throw .network("send to \(server): \(String(cString: strerror(errno)))") }
        let deadline = monoNanos() + UInt64(timeoutMs) * 1_000_000
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let now = monoNanos()
            guard now < deadline else { throw .timeout }
            var p = pollfd(fd: udp, events: Int16(POLLIN), revents: 0)
            let rc = poll(&p, 1, Int32((deadline - now) / 1_000_000) + 1)
            if rc <= 0 { if rc < 0 && errno == EINTR { continue }; throw .timeout }
            let n = buf.withUnsafeMutableBytes { recv(udp, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == ECONNREFUSED { throw .network("\(server) refused (nothing listens there)") }
                continue
            }
            guard let m = try? DNSMessage.decode(Array(buf[0..<n])) else { continue }
            if matches(m, id: id, question: question) { return m }
        }
    }

    private func tcpExchange(_ bytes: [UInt8], id: UInt16, question: DNSQuestion,
                             timeoutMs: Int) throws(Failure) -> DNSMessage {
        let fd = socket(server.domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .network("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        setTimeout(fd, SO_RCVTIMEO, ms: timeoutMs)
        setTimeout(fd, SO_SNDTIMEO, ms: timeoutMs)
        guard server.withSockaddr({ connect(fd, $0, $1) }) == 0 else {
            throw .network("TCP connect to \(server): \(String(cString: strerror(errno)))")
        }
        let framed = [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
        guard framed.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == framed.count else {
            throw .network("TCP send: \(String(cString: strerror(errno)))")
        }
        func readExactly(_ n: Int) throws(Failure) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: n)
            var got = 0
            while got < n {
                let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
                if r == 0 { throw .network("TCP connection closed early") }
                if r < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { throw .timeout }
                    throw .network("TCP recv: \(String(cString: strerror(errno)))")
                }
                got += r
            }
            return out
        }
        let lenBytes = try readExactly(2)
        let body = try readExactly(Int(lenBytes[0]) << 8 | Int(lenBytes[1]))
        let m: DNSMessage
        do { m = try DNSMessage.decode(body) } catch { throw .malformed("\(error)") }
        guard matches(m, id: id, question: question) else { throw .malformed("id or question does not match") }
        return m
    }
}
