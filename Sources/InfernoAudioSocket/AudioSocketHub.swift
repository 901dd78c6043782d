import Glibc
import InfernoDevice
import InfernoMedia
import InfernoProtocol
import Synchronization

/// What the bridge reports (on its I/O thread).
public enum AudioSocketEvent: Sendable {
    case listening(HostPort)
    /// A call took slot `slot` (0-based). `outbound`: we dialled it (`--audiosocket-connect`).
    case callStarted(slot: Int, uuid: AudioSocketUUID, peer: String, outbound: Bool)
    case rateChanged(slot: Int, uuid: AudioSocketUUID, sampleRate: Int)
    case dtmf(slot: Int, uuid: AudioSocketUUID, digit: Character)
    case callEnded(CallSummary)
    /// A connection turned away without a call: the pool is full, too many connections wait for their UUID.
    case refused(peer: String, uuid: AudioSocketUUID?, reason: String)
    /// A connection that broke the protocol or timed out before it had a call.
    case rejected(peer: String, reason: String)
    case dialFailed(target: String, reason: String)
}

public struct CallSummary: Sendable {
    public var slot: Int
    public var uuid: AudioSocketUUID
    public var peer: String
    public var outbound: Bool
    /// hangup (0x00 from the peer), peer-closed (EOF), peer-reset, peer-error-0xNN, uuid/message/idle timeouts,
    /// desynchronised, send-failed, shutdown.
    public var reason: String
    public var seconds: Double
    public var counters: AudioSocketParser.Counters
    public var framesSent: Int
    public var framesDropped: Int
    /// Pacing of this call's sends (ms): mean, p99, max.
    public var pacing: (mean: Double, p99: Double, max: Double)?
    /// The media's own counters (jitter-buffer re-anchorings and the like).
    public var media: [(String, Int)] = []
}

public struct AudioSocketHubOptions: Sendable {
    public var listen: [HostPort] = []
    public var connect: [AudioSocketTarget] = []
    public var slots = 4
    /// Connections still waiting for their UUID; beyond this the oldest is dropped (slow-loris floods cannot
    /// keep real calls out).
    public var maxPending = 64
    public var limits = AudioSocketParser.Limits()
    /// Outbound queue per call, in 20 ms frames (drop-oldest beyond).
    public var queueFrames = 8
    /// SCHED_FIFO priority of the pacer when permitted (nil: normal scheduling).
    public var pacerPriority: Int32? = 70
    public init() {}
}

/// The AudioSocket bridge's network side: a TCP server (Asterisk connects), optional dialled calls, call slots
/// and the real-time pacer.
///
/// Threads: one I/O thread (poll() over the listeners and every connection; parsers, timeouts, slot
/// allocation, events) and the pacer (`Pacer`). The I/O thread never writes audio, so a caller that stops
/// reading cannot block it; the pacer never reads, so a caller that floods cannot delay anyone's audio.
/// Plain sockets and threads rather than SwiftNIO: the pacer must send at exact deadlines without allocating,
/// which an event loop's task queue does not promise.
public final class AudioSocketHub: @unchecked Sendable {
    public let options: AudioSocketHubOptions
    let media: AudioSocketMedia
    let onEvent: @Sendable (AudioSocketEvent) -> Void
    let slots: [CallSlot]
    let pacer: Pacer
    let wake = WakePipe()
    let stopFlag = Atomic<Bool>(false)
    private var listeners: [(fd: Int32, address: HostPort)] = []
    private var ioThread: RealtimeThread?
    /// Connections ever accepted, refused, rejected (for status lines).
    public let accepted = Atomic<Int>(0)
    public let refusedCount = Atomic<Int>(0)
    public let activeCalls = Atomic<Int>(0)

    // I/O-thread state.
    private var connections: [Connection] = []
    private var dialers: [Dialer] = []
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    private var pollFDs: [pollfd] = []
    private var listenersPausedUntil: UInt64 = 0

    final class Connection {
        enum Phase { case pending, connecting, call, draining, lingering, closed }
        let fd: Int32
        var parser: AudioSocketParser
        var peer: String
        var phase: Phase
        var slot: Int?
        var uuid: AudioSocketUUID?
        var startedAt: UInt64
        let createdAt: UInt64
        var reason = ""
        var sendHangup = false
        var lingerUntil: UInt64 = 0
        let dialer: Int?
        var rate = 8000
        var heardAudio = false
        init(fd: Int32, parser: AudioSocketParser, peer: String, phase: Phase, now: UInt64, dialer: Int? = nil) {
            self.fd = fd; self.parser = parser; self.peer = peer; self.phase = phase; self.dialer = dialer
            createdAt = now; startedAt = now
        }
    }

    struct Dialer {
        var target: AudioSocketTarget
        var nextAttempt: UInt64 = 0
        var backoffNs: UInt64 = 1_000_000_000
        var busy = false
    }

    public init(options: AudioSocketHubOptions, media: AudioSocketMedia, onEvent: @escaping @Sendable (AudioSocketEvent) -> Void) {
        self.options = options
        self.media = media
        self.onEvent = onEvent
        slots = (0..<max(1, options.slots)).map { CallSlot(index: $0, queueFrames: options.queueFrames) }
        pacer = Pacer(slots: slots, media: media)
        dialers = options.connect.map { Dialer(target: $0) }
    }

    deinit { readBuffer.deallocate() }

    /// Binds the listeners (a port in use is an error naming it) and starts both threads.
    public func start() throws {
        signal(SIGPIPE, SIG_IGN)
        for hp in options.listen {
            do {
                let fd = try TCP.listen(hp)
                listeners.append((fd, hp))
            } catch {
                for l in listeners { Glibc.close(l.fd) }
                listeners = []
                throw RuntimeError("AudioSocket: \(error) (--audiosocket-listen)")
            }
        }
        pacer.start(priority: options.pacerPriority)
        // Real-time too (below the pacer) when permitted: callers' audio must not wait behind ordinary work.
        ioThread = RealtimeThread.start(name: "inferno-as-io", priority: options.pacerPriority.map { $0 - 10 }) { [self] in run() }
    }

    /// The pacer runs with real-time priority.
    public var realtime: Bool { pacer.realtime }

    /// Ends every call (`00 00 00`, then close), stops both threads. Idempotent.
    public func stop() {
        guard !stopFlag.exchange(true, ordering: .relaxed) else { return }
        wake.wake()
        ioThread?.join()
        pacer.stop()
    }

    // MARK: I/O thread

    private func run() {
        for l in listeners { onEvent(.listening(l.address)) }
        var stopping = false
        var stopDeadline: UInt64 = 0
        var lastTick: UInt64 = 0
        while true {
            let now = nowNs()
            if stopFlag.load(ordering: .relaxed) && !stopping {
                stopping = true
                stopDeadline = now + 1_500_000_000
                for c in connections where [.pending, .call, .connecting].contains(c.phase) {
                    end(c, reason: "shutdown", sendHangup: true, now: now)
                }
                for l in listeners { Glibc.close(l.fd) }
                listeners = []
            }
            if stopping && (connections.isEmpty || now >= stopDeadline) { break }
            if !stopping { startDials(now: now) }
            if now - lastTick >= 20_000_000 {
                lastTick = now
                tickTimeouts(now: now)
            }
            finishDrains(now: now)
            connections.removeAll { $0.phase == .closed }

            // poll()
            pollFDs.removeAll(keepingCapacity: true)
            pollFDs.append(pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0))
            let listenFirst = pollFDs.count
            if now >= listenersPausedUntil {
                for l in listeners { pollFDs.append(pollfd(fd: l.fd, events: Int16(POLLIN), revents: 0)) }
            }
            let listenEnd = pollFDs.count
            for c in connections {
                let ev = c.phase == .connecting ? Int16(POLLOUT) : Int16(POLLIN)
                pollFDs.append(pollfd(fd: c.fd, events: ev, revents: 0))
            }
            let busy = connections.contains { $0.phase == .draining || $0.phase == .lingering } || stopping
            let timeout: Int32 = busy ? 10 : 50
            let n = pollFDs.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            if n < 0 && errno != EINTR { break }
            guard n > 0 else { continue }
            if pollFDs[0].revents != 0 { wake.drain() }
            let after = nowNs()
            for i in listenFirst..<listenEnd where pollFDs[i].revents != 0 { acceptAll(pollFDs[i].fd, now: after) }
            // Connections in the order they were polled (accepts above only appended).
            let polled = Array(connections.prefix(pollFDs.count - listenEnd))
            for (k, c) in polled.enumerated() {
                let re = pollFDs[listenEnd + k].revents
                guard re != 0, c.fd == pollFDs[listenEnd + k].fd else { continue }
                service(c, revents: re, now: after)
            }
        }
        // Whatever is left (stop deadline passed): let the pacer release the slots (it is still running), then
        // close.
        for c in connections where c.phase != .closed {
            if let s = c.slot { slots[s].state.store(CallSlot.State.draining.rawValue, ordering: .releasing) }
        }
        for _ in 0..<20 {
            let waiting = connections.contains { c in
                c.phase != .closed && c.slot.map { slots[$0].state.load(ordering: .acquiring) == CallSlot.State.draining.rawValue } == true
            }
            if !waiting { break }
            usleep(10_000)
        }
        for c in connections where c.phase != .closed {
            Glibc.close(c.fd)
            c.phase = .closed
        }
        connections = []
        for l in listeners { Glibc.close(l.fd) }
        listeners = []
    }

    private func acceptAll(_ lfd: Int32, now: UInt64) {
        for _ in 0..<256 {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(lfd, $0, &len) }
            }
            if fd < 0 {
                if errno == EMFILE || errno == ENFILE {
                    // Out of descriptors: stop accepting for a moment instead of spinning.
                    listenersPausedUntil = now + 100_000_000
                }
                return
            }
            accepted.add(1, ordering: .relaxed)
            TCP.setNonBlocking(fd)
            TCP.setNoDelay(fd)
            TCP.limitSendBuffer(fd)
            let peer = TCP.describe(&storage)
            // Too many connections waiting for their UUID: the oldest goes.
            let pending = connections.filter { $0.phase == .pending }
            if pending.count >= options.maxPending, let oldest = pending.min(by: { $0.createdAt < $1.createdAt }) {
                refusedCount.add(1, ordering: .relaxed)
                onEvent(.refused(peer: oldest.peer, uuid: nil, reason: "too-many-pending"))
                end(oldest, reason: "too-many-pending", sendHangup: false, now: now, closeNow: true, report: false)
            }
            let c = Connection(fd: fd, parser: AudioSocketParser(role: .server, limits: options.limits, now: now),
                               peer: peer, phase: .pending, now: now)
            connections.append(c)
            // The UUID usually arrives with the connection: take it now, before the next flood can evict it.
            service(c, revents: Int16(POLLIN), now: now)
        }
    }

    private func service(_ c: Connection, revents: Int16, now: UInt64) {
        switch c.phase {
        case .connecting:
            connected(c, now: now)
        case .pending, .call, .draining, .lingering:
            readAvailable(c, now: now)
        case .closed:
            break
        }
    }

    private func readAvailable(_ c: Connection, now: UInt64) {
        for _ in 0..<4 {
            guard c.phase != .closed else { return }
            let n = read(c.fd, readBuffer.baseAddress, readBuffer.count)
            if n > 0 {
                if c.phase == .pending || c.phase == .call {
                    var p = c.parser
                    p.feed(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]), now: now) { handle($0, c, now: now) }
                    c.parser = p
                    if p.state == .closing && (c.phase == .pending || c.phase == .call) {
                        // The parser closed (hangup, peer error, failure) and handle() decided the reason.
                        end(c, reason: c.reason.isEmpty ? "closed" : c.reason, sendHangup: c.sendHangup, now: now)
                    } else if c.phase == .pending && c.reason == "pool-full" {
                        end(c, reason: "pool-full", sendHangup: true, now: now)
                    }
                }
                // Draining and lingering connections: read and discard (the peer may still be sending).
                if n < readBuffer.count { return }
                continue
            }
            if n == 0 {
                peerGone(c, reason: c.parser.inMessage ? "peer-closed-mid-message" : "peer-closed", now: now)
                return
            }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
            peerGone(c, reason: errno == ECONNRESET ? "peer-reset" : "read-error", now: now)
            return
        }
    }

    /// EOF or error from the peer: Asterisk's way of hanging up.
    private func peerGone(_ c: Connection, reason: String, now: UInt64) {
        switch c.phase {
        case .pending, .call, .connecting:
            end(c, reason: reason, sendHangup: false, now: now, closeNow: true)
        case .draining:
            c.sendHangup = false
        case .lingering:
            Glibc.close(c.fd)
            c.phase = .closed
        case .closed:
            break
        }
    }

    private func handle(_ e: AudioSocketParser.Event, _ c: Connection, now: UInt64) {
        switch e {
        case .uuid(let u):
            c.uuid = u
            startCall(c, uuid: u, now: now)
        case .audio(let kind, let rate, let samples):
            guard c.phase == .call, let s = c.slot else { return }
            // The first audio says the call's rate (reported), later audio may change it (reported again).
            if rate != c.rate || !c.heardAudio {
                if rate != c.rate {
                    c.rate = rate
                    media.prepare(slot: s, sampleRate: rate)
                    slots[s].sampleRate.store(rate, ordering: .releasing)
                }
                onEvent(.rateChanged(slot: s, uuid: c.uuid ?? AudioSocketUUID(high: 0, low: 0), sampleRate: rate))
            }
            if !c.heardAudio {
                c.heardAudio = true
                slots[s].holdUntil.store(0, ordering: .releasing)
            }
            media.callAudio(slot: s, kind: kind, samples: samples)
        case .dtmf(let d):
            guard let s = c.slot else { return }
            onEvent(.dtmf(slot: s, uuid: c.uuid ?? AudioSocketUUID(high: 0, low: 0), digit: Character(Unicode.Scalar(d))))
        case .hangup:
            c.reason = "hangup"; c.sendHangup = false
        case .peerError(let code):
            c.reason = code.map { "peer-error-0x" + String($0, radix: 16) } ?? "peer-error"
            c.sendHangup = false
        case .failed(let f):
            c.reason = f.token
            c.sendHangup = true
            if c.slot == nil {
                onEvent(.rejected(peer: c.peer, reason: f.token))
            }
        }
    }

    private func startCall(_ c: Connection, uuid: AudioSocketUUID, now: UInt64) {
        guard let slot = slots.first(where: { $0.state.load(ordering: .acquiring) == CallSlot.State.free.rawValue }) else {
            refusedCount.add(1, ordering: .relaxed)
            onEvent(.refused(peer: c.peer, uuid: uuid, reason: "pool-full"))
            c.reason = "pool-full"
            c.sendHangup = true
            // The parser goes on delivering this read's events; they are ignored (no slot). Close after it.
            c.phase = .pending
            return
        }
        let rate = c.dialer.map { dialers[$0].target.sampleRate } ?? 8000
        c.rate = rate
        c.slot = slot.index
        c.phase = .call
        c.startedAt = now
        media.prepare(slot: slot.index, sampleRate: rate)
        media.callStarted(slot: slot.index, uuid: uuid)
        slot.fd.store(c.fd, ordering: .relaxed)
        slot.sampleRate.store(rate, ordering: .relaxed)
        slot.sendFailed.store(0, ordering: .relaxed)
        slot.framesSent.store(0, ordering: .relaxed)
        slot.framesDropped.store(0, ordering: .relaxed)
        slot.holdUntil.store(c.dialer == nil ? Int64(now) + 100_000_000 : 0, ordering: .relaxed)
        slot.generation.add(1, ordering: .releasing)
        slot.state.store(CallSlot.State.active.rawValue, ordering: .releasing)
        activeCalls.add(1, ordering: .relaxed)
        onEvent(.callStarted(slot: slot.index, uuid: uuid, peer: c.peer, outbound: c.dialer != nil))
    }

    /// Ends a connection: a call first waits for the pacer to let go of its slot.
    private func end(_ c: Connection, reason: String, sendHangup: Bool, now: UInt64, closeNow: Bool = false, report: Bool = true) {
        guard c.phase == .pending || c.phase == .call || c.phase == .connecting else { return }
        c.reason = reason
        c.sendHangup = sendHangup && !closeNow
        c.parser.close()
        if let s = c.slot {
            slots[s].state.store(CallSlot.State.draining.rawValue, ordering: .releasing)
            c.phase = .draining
            if closeNow { c.lingerUntil = 0 }
            return
        }
        if let d = c.dialer { redial(d, now: now, success: false, reason: reason, report: report) }
        close(c, now: now, immediately: closeNow)
    }

    /// Calls whose slot the pacer has released: report and close.
    private func finishDrains(now: UInt64) {
        for c in connections where c.phase == .draining {
            guard let s = c.slot else { continue }
            let slot = slots[s]
            guard slot.state.load(ordering: .acquiring) == CallSlot.State.stopped.rawValue else { continue }
            let failed = slot.sendFailed.load(ordering: .relaxed)
            if failed != 0 && c.reason == "shutdown" { c.reason = "send-failed" }
            let summary = CallSummary(slot: s, uuid: c.uuid ?? AudioSocketUUID(high: 0, low: 0), peer: c.peer,
                                      outbound: c.dialer != nil, reason: c.reason,
                                      seconds: Double(now - c.startedAt) / 1e9, counters: c.parser.counters,
                                      framesSent: slot.framesSent.load(ordering: .relaxed),
                                      framesDropped: slot.framesDropped.load(ordering: .relaxed), pacing: slot.pacing)
            let halfSent = slot.halfSent.load(ordering: .relaxed)
            var summary2 = summary
            summary2.media = media.callStats(slot: s)
            media.callEnded(slot: s)
            slot.fd.store(-1, ordering: .relaxed)
            slot.state.store(CallSlot.State.free.rawValue, ordering: .releasing)
            activeCalls.subtract(1, ordering: .relaxed)
            c.slot = nil
            if halfSent { c.sendHangup = false }     // a half-sent frame: a hangup now would be garbage
            if let d = c.dialer { redial(d, now: now, success: summary.seconds > 10, reason: c.reason) }
            onEvent(.callEnded(summary2))
            close(c, now: now, immediately: c.reason.hasPrefix("peer-"))
        }
        for c in connections where c.phase == .lingering && now >= c.lingerUntil {
            Glibc.close(c.fd)
            c.phase = .closed
        }
    }

    /// `00 00 00` when asked, half-close, and read until the peer closes (or 500 ms) so the hangup is delivered
    /// rather than lost in a reset. Peers that already went away are closed at once.
    private func close(_ c: Connection, now: UInt64, immediately: Bool) {
        if immediately {
            Glibc.close(c.fd)
            c.phase = .closed
            return
        }
        if c.sendHangup { TCP.sendAll(c.fd, AudioSocketMessage.hangup.encoded) }
        shutdown(c.fd, Int32(SHUT_WR))
        c.phase = .lingering
        c.lingerUntil = now + 500_000_000
        // Bound the descriptors held by lingering connections.
        let lingering = connections.filter { $0.phase == .lingering }
        if lingering.count > 128, let oldest = lingering.min(by: { $0.lingerUntil < $1.lingerUntil }) {
            Glibc.close(oldest.fd)
            oldest.phase = .closed
        }
    }

    private func tickTimeouts(now: UInt64) {
        for c in connections where c.phase == .pending || c.phase == .call {
            var p = c.parser
            p.tick(now: now) { handle($0, c, now: now) }
            c.parser = p
            if p.state == .closing {
                end(c, reason: c.reason.isEmpty ? "closed" : c.reason, sendHangup: c.sendHangup, now: now)
            }
        }
    }

    // MARK: dialling (client mode)

    private func startDials(now: UInt64) {
        for i in dialers.indices where !dialers[i].busy && now >= dialers[i].nextAttempt {
            // Only when a slot is free: a dialled call is a call like any other.
            guard slots.contains(where: { $0.state.load(ordering: .acquiring) == CallSlot.State.free.rawValue }) else { return }
            dialers[i].busy = true
            let t = dialers[i].target
            do {
                let (fd, done) = try TCP.connect(t.endpoint)
                var limits = options.limits
                limits.idleTimeoutNs = .max / 2        // a server may stay silent; TCP tells when it is gone
                let c = Connection(fd: fd, parser: AudioSocketParser(role: .client, limits: limits, now: now),
                                   peer: t.endpoint.description, phase: .connecting, now: now, dialer: i)
                connections.append(c)
                if done { connected(c, now: now) }
            } catch {
                redial(i, now: now, success: false, reason: error.description)
            }
        }
    }

    private func connected(_ c: Connection, now: UInt64) {
        guard c.phase == .connecting, let d = c.dialer else { return }
        let err = TCP.connectError(c.fd)
        if err != 0 {
            onEvent(.dialFailed(target: dialers[d].target.description, reason: String(cString: strerror(err))))
            Glibc.close(c.fd)
            c.phase = .closed
            redial(d, now: now, success: false, reason: "connect failed", report: false)
            return
        }
        let t = dialers[d].target
        // Announce the call as Asterisk would: the UUID first, in one send.
        guard TCP.sendAll(c.fd, AudioSocketMessage.uuid(t.uuid).encoded) else {
            Glibc.close(c.fd)
            c.phase = .closed
            redial(d, now: now, success: false, reason: "send failed")
            return
        }
        c.uuid = t.uuid
        c.phase = .pending
        c.parser = AudioSocketParser(role: .client, limits: c.parser.limits, now: now)
        startCall(c, uuid: t.uuid, now: now)
        if c.phase != .call { end(c, reason: "pool-full", sendHangup: true, now: now, report: false) }
    }

    private func redial(_ d: Int, now: UInt64, success: Bool, reason: String, report: Bool = true) {
        if report && !success && reason != "shutdown" {
            onEvent(.dialFailed(target: dialers[d].target.description, reason: reason))
        }
        dialers[d].busy = false
        dialers[d].backoffNs = success ? 1_000_000_000 : min(30_000_000_000, dialers[d].backoffNs * 2)
        dialers[d].nextAttempt = now + (success ? 1_000_000_000 : dialers[d].backoffNs)
    }
}
