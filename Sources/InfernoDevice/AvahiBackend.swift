import CDNSSD
import Foundation
import InfernoProtocol
import Logging
import NIOCore
import Synchronization

/// The `--mdns avahi` backend: the device's records published through the system's avahi-daemon, and channel
/// lookups resolved through it, by way of Avahi's DNS-SD compatibility library (libdns_sd).
///
/// Facts about that library this code relies on (avahi 0.8): every `DNSServiceRef` is its own D-Bus connection
/// with its own helper thread; callbacks run inside `DNSServiceProcessResult` on the caller's thread once
/// `DNSServiceRefSockFD` is readable; `DNSServiceCreateConnection`/`RegisterRecord` are unsupported stubs and
/// `DNSServiceGetAddrInfo` does not exist (so the SRV target's address comes from a `DNSServiceQueryRecord` for
/// its A record); it prints a "uses the Apple Bonjour compatibility layer" banner on stderr unless
/// `AVAHI_COMPAT_NOWARN` is set when it is first called.
enum DNSSD {
    static let nameConflict = Int32(kDNSServiceErr_NameConflict)
    static let flagsAdd = UInt32(kDNSServiceFlagsAdd)
    static let refused = Int32(kDNSServiceErr_Refused)
    /// Services `auto` hands to Avahi at most: each is its own system D-Bus connection (and libdns_sd thread),
    /// and the bus allows 256 connections per user by default, shared with the user's other programs.
    static let autoServiceLimit = 128

    /// Silences the compatibility banner (unless the user set AVAHI_COMPAT_NOWARN themselves); called before
    /// any libdns_sd function.
    static let quiet: Void = { setenv("AVAHI_COMPAT_NOWARN", "1", 0); return () }()

    /// TXT rdata: length-prefixed strings (at most 255 bytes each).
    static func txtBytes(_ strings: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for s in strings {
            let b = Array(s.utf8.prefix(255))
            out.append(UInt8(b.count))
            out += b
        }
        return out.isEmpty ? [0] : out
    }

    static func txtStrings(_ bytes: UnsafeBufferPointer<UInt8>) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            let n = Int(bytes[i])
            guard i + 1 + n <= bytes.count else { break }
            if n > 0 { out.append(Array(bytes[(i + 1)..<(i + 1 + n)])) }
            i += 1 + n
        }
        return out
    }
}

/// Whether `auto` should use Avahi, and why (logged).
public enum AvahiProbe {
    /// Avahi is used when (1) the bind interface is not loopback (Avahi does not publish there), (2) the
    /// daemon, if its pid file is visible, runs in this network namespace (a daemon of the host seen through a
    /// shared /run from inside a namespace would publish on the wrong interfaces), and (3) the daemon answers
    /// on the system D-Bus (a browse through libdns_sd succeeds).
    public static func check(interface: HostInterface, services: Int = 0) -> (available: Bool, reason: String) {
        if interface.isLoopback { return (false, "Avahi does not serve the loopback interface") }
        if services > DNSSD.autoServiceLimit {
            return (false, "\(services) services to publish, more than the \(DNSSD.autoServiceLimit) given to Avahi's compatibility library (one system D-Bus connection each)")
        }
        if let pidText = try? String(contentsOfFile: "/run/avahi-daemon/pid", encoding: .utf8),
           let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 || errno == EPERM,
           let theirs = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net"),
           let ours = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net"), theirs != ours {
            return (false, "avahi-daemon (pid \(pid)) runs in another network namespace")
        }
        let code = daemonAnswers()
        if code != 0 { return (false, "no Avahi daemon answers on the system D-Bus (dns_sd error \(code))") }
        return (true, "avahi-daemon answers on the system D-Bus")
    }

    /// 0 when a browse can be started (the compatibility library reached the daemon), else its error code.
    public static func daemonAnswers() -> Int32 {
        _ = DNSSD.quiet
        var ref: DNSServiceRef?
        let err = DNSServiceBrowse(&ref, 0, 0, "_netaudio-arc._udp", nil, { _, _, _, _, _, _, _, _ in }, nil)
        if let ref { DNSServiceRefDeallocate(ref) }
        return err
    }
}

/// One thread that owns every `DNSServiceRef` of a device: it starts and releases them, waits for their sockets
/// with poll(2) and runs `DNSServiceProcessResult`, so every libdns_sd callback runs here (never on an audio
/// thread). Other threads hand it work with `perform`.
final class DNSSDThread: @unchecked Sendable {
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let queue = Mutex<[@Sendable () -> Void]>([])
    private let finished = DispatchSemaphore(value: 0)
    // Touched only on the thread.
    private var refs: [DNSServiceRef: (Int32) -> Void] = [:]
    private var graveyard: [(DNSServiceRef, AnyObject?)] = []
    private var keepAlive: [DNSServiceRef: AnyObject] = [:]
    private var stopping = false

    init() throws {
        _ = DNSSD.quiet
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw RuntimeError("mDNS (Avahi): pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]; wakeWrite = fds[1]
        let t = Thread { [self] in run() }
        t.name = "inferno-avahi"
        t.start()
    }

    /// Runs `work` on the thread.
    func perform(_ work: @escaping @Sendable () -> Void) {
        queue.withLock { $0.append(work) }
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    /// Runs `work` on the thread and waits for it.
    func performAndWait(_ work: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        perform { work(); done.signal() }
        done.wait()
    }

    /// On the thread: polls `ref` from now on; `onError` gets a non-zero `DNSServiceProcessResult` result (the
    /// daemon went away), after which the ref is released. `owner` (the callback context) lives as long as the ref.
    func watch(_ ref: DNSServiceRef, owner: AnyObject, onError: @escaping (Int32) -> Void) {
        refs[ref] = onError
        keepAlive[ref] = owner
    }

    /// On the thread: stops polling `ref` and deallocates it once the current callback (if any) has returned
    /// (Avahi withdraws what it published: goodbye packets).
    func release(_ ref: DNSServiceRef) {
        guard refs.removeValue(forKey: ref) != nil else { return }
        graveyard.append((ref, keepAlive.removeValue(forKey: ref)))
    }

    /// Releases every ref and ends the thread; returns when done.
    func shutdown() {
        perform { [self] in
            for ref in Array(refs.keys) { release(ref) }
            stopping = true
        }
        finished.wait()
        close(wakeRead); close(wakeWrite)
    }

    private func bury() {
        let dead = graveyard
        graveyard = []
        for (ref, _) in dead { DNSServiceRefDeallocate(ref) }
    }

    private func run() {
        var buf = [UInt8](repeating: 0, count: 64)
        while true {
            let work = queue.withLock { q -> [@Sendable () -> Void] in let w = q; q = []; return w }
            for w in work { w() }
            bury()
            if stopping { break }
            let watched = Array(refs.keys)
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            for ref in watched { fds.append(pollfd(fd: DNSServiceRefSockFD(ref), events: Int16(POLLIN), revents: 0)) }
            let n = poll(&fds, nfds_t(fds.count), -1)
            if n < 0 { if errno != EINTR { usleep(10_000) }; continue }   // never leave: perform must keep working
            if fds[0].revents != 0 { while read(wakeRead, &buf, buf.count) > 0 {} }
            for (i, ref) in watched.enumerated() where fds[i + 1].revents != 0 {
                guard let onError = refs[ref] else { continue }   // released by an earlier callback
                let err = DNSServiceProcessResult(ref)
                if err != 0, refs[ref] != nil {
                    release(ref)
                    onError(err)
                }
            }
            bury()
        }
        finished.signal()
    }
}

/// Publishes a zone through avahi-daemon: one `DNSServiceRegister` per service (`_netaudio-arc`, `_netaudio-cmc`,
/// every `_netaudio-chan` instance) on the bind interface. On a name conflict the device picks `name-2` itself, as
/// with the embedded responder, and withdraws Avahi's own choice ("name #2").
/// The SRV target and A record are Avahi's host name and addresses (the compatibility library cannot publish
/// address records for another host name).
public final class AvahiAdvertiser: ServiceAdvertiser, @unchecked Sendable {
    let dnssd: DNSSDThread
    let interfaceIndex: UInt32
    let loop: EventLoop
    let log: Logger
    let onConflict: @Sendable () -> Void
    // Touched only on the dnssd thread.
    private var zone: MDNSZone
    private var generation = 0
    private var conflictReported = -1
    private var registered: [MDNSService: Registration] = [:]
    private var confirmed = 0
    private var stopped = false
    private var failing = false
    private var retryScheduled = false

    /// Touched only on the dnssd thread.
    final class Registration: @unchecked Sendable {
        let service: MDNSService
        let generation: Int
        weak var owner: AvahiAdvertiser?
        var ref: DNSServiceRef?
        init(service: MDNSService, generation: Int, owner: AvahiAdvertiser) {
            self.service = service; self.generation = generation; self.owner = owner
        }
    }

    init(dnssd: DNSSDThread, interfaceIndex: UInt32, zone: MDNSZone, loop: EventLoop, logger: Logger,
         onConflict: @escaping @Sendable () -> Void) {
        self.dnssd = dnssd; self.interfaceIndex = interfaceIndex; self.zone = zone; self.loop = loop
        self.log = logger; self.onConflict = onConflict
    }

    public func start() { dnssd.perform { [self] in sync() } }

    public func update(zone: MDNSZone) {
        dnssd.perform { [self] in
            guard !stopped, zone != self.zone else { return }
            if zone.host != self.zone.host { generation += 1; confirmed = 0 }
            self.zone = zone
            sync()
        }
    }

    public func stop() {
        dnssd.performAndWait { [self] in
            stopped = true
            for (_, r) in registered { if let ref = r.ref { dnssd.release(ref) } }
            registered = [:]
        }
    }

    /// On the thread: withdraws services no longer in the zone, registers the new ones.
    private func sync() {
        let want = Set(zone.services)
        for (service, r) in registered where !want.contains(service) {
            if let ref = r.ref { dnssd.release(ref) }
            registered[service] = nil
        }
        for service in zone.services where registered[service] == nil { register(service) }
    }

    private func register(_ service: MDNSService) {
        let r = Registration(service: service, generation: generation, owner: self)
        registered[service] = r
        var ref: DNSServiceRef?
        let txt = DNSSD.txtBytes(service.txt)
        let err = txt.withUnsafeBytes { t in
            DNSServiceRegister(&ref, 0, interfaceIndex, service.instance, service.type, nil, nil,
                               service.port.bigEndian, UInt16(t.count), t.baseAddress, { _, _, err, name, _, _, ctx in
                guard let ctx else { return }
                let r = Unmanaged<Registration>.fromOpaque(ctx).takeUnretainedValue()
                r.owner?.registered(r, error: err, name: name.map { String(cString: $0) })
            }, Unmanaged.passUnretained(r).toOpaque())
        }
        guard err == 0, let ref else {
            failed(r, code: err)
            return
        }
        r.ref = ref
        dnssd.watch(ref, owner: r) { [weak self] err in self?.failed(r, code: err) }
    }

    /// A registration failed or its connection broke (avahi-daemon stopped or restarted): forget it and try
    /// again every 2 s until the daemon takes it (one warning per outage).
    private func failed(_ r: Registration, code: Int32) {
        if let ref = r.ref { dnssd.release(ref) }
        r.ref = nil
        guard registered[r.service] === r, !stopped else { return }
        registered[r.service] = nil
        if !failing {
            failing = true
            confirmed = 0
            let why = code == DNSSD.refused
                ? "the system bus refused another connection: libdns_sd takes one per service and D-Bus allows 256 per user by default; use --mdns embedded for this many channels"
                : "avahi-daemon gone?"
            log.warning("mDNS (Avahi): registering \(r.service.instance).\(r.service.type) failed (dns_sd error \(code); \(why)): retrying every 2 s")
        }
        guard !retryScheduled else { return }
        retryScheduled = true
        loop.scheduleTask(in: .seconds(2)) { [dnssd] in
            dnssd.perform { [weak self] in
                guard let self else { return }
                retryScheduled = false
                if !stopped { sync() }
            }
        }
    }

    /// On the thread, from the register callback.
    private func registered(_ r: Registration, error: Int32, name: String?) {
        guard registered[r.service] === r else { return }
        // The compatibility library refuses kDNSServiceFlagsNoAutoRename (kDNSServiceErr_Unsupported): on a
        // conflict it renames the service itself ("name #2") and reports success under the new name. Either way
        // the device picks its own next free name (`name-2`) for all its services.
        if error == DNSSD.nameConflict || (error == 0 && name != nil && name != r.service.instance) {
            if let ref = r.ref { dnssd.release(ref) }
            r.ref = nil
            guard r.generation == generation, conflictReported != generation else { return }
            conflictReported = generation
            log.info("mDNS (Avahi): name conflict for \(r.service.instance).\(r.service.type)\(error == 0 ? " (Avahi offered \"\(name ?? "")\")" : "")")
            loop.execute { [onConflict] in onConflict() }
            return
        }
        guard error == 0 else {
            failed(r, code: error)
            return
        }
        guard r.generation == generation else { return }
        confirmed += 1
        if confirmed == zone.services.count {
            log.info("mDNS (Avahi): published \(confirmed) services for \(zone.host)\(failing ? " (again)" : "")")
            failing = false
        }
    }
}

/// Channel lookups through avahi-daemon: `DNSServiceResolve` (SRV + TXT), then `DNSServiceQueryRecord` for the
/// target's A record; the answers are turned into DNS records and parsed by `ResolvedChannel.parse`, exactly as
/// the embedded querier's are. Also browses `_netaudio-arc._udp` so a transmitter that appears is resolved at once.
public final class AvahiResolver: ChannelResolver, @unchecked Sendable {
    let dnssd: DNSSDThread
    let interfaceIndex: UInt32
    let loop: EventLoop
    let log: Logger
    /// How long a lookup may take (Avahi may need to query the network: ~1 s for a cold cache).
    static let window: TimeAmount = .seconds(3)
    private var browse: Browse?
    // Touched only on the dnssd thread.
    private var pending: [ObjectIdentifier: Lookup] = [:]

    /// Touched only on the dnssd thread.
    final class Lookup: @unchecked Sendable {
        let txChannel: String, txDevice: String
        let done: @Sendable (ResolvedChannel?) -> Void
        weak var owner: AvahiResolver?
        var ref: DNSServiceRef?
        var target: String?
        var port: UInt16 = 0
        var txt: [[UInt8]] = []
        init(txChannel: String, txDevice: String, owner: AvahiResolver, done: @escaping @Sendable (ResolvedChannel?) -> Void) {
            self.txChannel = txChannel; self.txDevice = txDevice; self.owner = owner; self.done = done
        }
    }

    final class Browse: @unchecked Sendable {
        let onSeen: @Sendable (String) -> Void
        init(onSeen: @escaping @Sendable (String) -> Void) { self.onSeen = onSeen }
    }

    init(dnssd: DNSSDThread, interfaceIndex: UInt32, loop: EventLoop, logger: Logger,
         onDeviceSeen: (@Sendable (String) -> Void)? = nil) {
        self.dnssd = dnssd; self.interfaceIndex = interfaceIndex; self.loop = loop; self.log = logger
        if let onDeviceSeen {
            let b = Browse { [loop] name in loop.execute { onDeviceSeen(name) } }
            browse = b
            dnssd.perform { [self] in
                var ref: DNSServiceRef?
                let err = DNSServiceBrowse(&ref, 0, interfaceIndex, "_netaudio-arc._udp", nil, { _, flags, _, err, name, _, _, ctx in
                    guard err == 0, flags & DNSSD.flagsAdd != 0, let name, let ctx else { return }
                    Unmanaged<Browse>.fromOpaque(ctx).takeUnretainedValue().onSeen(String(cString: name).lowercased())
                }, Unmanaged.passUnretained(b).toOpaque())
                if err == 0, let ref { dnssd.watch(ref, owner: b) { _ in } }
            }
        }
    }

    public func resolveChannel(txChannel: String, txDevice: String, done: @escaping @Sendable (ResolvedChannel?) -> Void) {
        let l = Lookup(txChannel: txChannel, txDevice: txDevice, owner: self, done: done)
        dnssd.perform { [self] in start(l) }
        loop.scheduleTask(in: Self.window) { [dnssd] in dnssd.perform { [weak self] in self?.finish(l, nil) } }
    }

    public func close() {}

    private func start(_ l: Lookup) {
        pending[ObjectIdentifier(l)] = l
        var ref: DNSServiceRef?
        let err = DNSServiceResolve(&ref, 0, interfaceIndex, "\(l.txChannel)@\(l.txDevice)", "_netaudio-chan._udp", "local.",
                                    { _, _, _, err, _, host, port, txtLen, txt, ctx in
            guard let ctx else { return }
            let l = Unmanaged<Lookup>.fromOpaque(ctx).takeUnretainedValue()
            l.owner?.resolved(l, error: err, host: host.map { String(cString: $0) }, port: UInt16(bigEndian: port),
                              txt: txt.map { DNSSD.txtStrings(UnsafeBufferPointer(start: $0, count: Int(txtLen))) } ?? [])
        }, Unmanaged.passUnretained(l).toOpaque())
        guard err == 0, let ref else { finish(l, nil); return }
        l.ref = ref
        dnssd.watch(ref, owner: l) { [weak self] _ in self?.finish(l, nil) }
    }

    private func resolved(_ l: Lookup, error: Int32, host: String?, port: UInt16, txt: [[UInt8]]) {
        guard pending[ObjectIdentifier(l)] != nil, l.target == nil else { return }
        guard error == 0, let host, (try? DNSName(host)) != nil else { finish(l, nil); return }
        l.target = host
        l.port = port
        l.txt = txt
        if let ref = l.ref { dnssd.release(ref) }
        l.ref = nil
        var ref: DNSServiceRef?
        let err = DNSServiceQueryRecord(&ref, 0, interfaceIndex, host, UInt16(kDNSServiceType_A), UInt16(kDNSServiceClass_IN),
                                        { _, flags, _, err, _, rrtype, _, rdlen, rdata, _, ctx in
            guard let ctx else { return }
            let l = Unmanaged<Lookup>.fromOpaque(ctx).takeUnretainedValue()
            guard err == 0, flags & DNSSD.flagsAdd != 0, rrtype == UInt16(kDNSServiceType_A), rdlen == 4, let rdata else {
                if err != 0 { l.owner?.finish(l, nil) }
                return
            }
            let b = rdata.assumingMemoryBound(to: UInt8.self)
            let ip = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
            l.owner?.addressed(l, ip)
        }, Unmanaged.passUnretained(l).toOpaque())
        guard err == 0, let ref else { finish(l, nil); return }
        l.ref = ref
        dnssd.watch(ref, owner: l) { [weak self] _ in self?.finish(l, nil) }
    }

    private func addressed(_ l: Lookup, _ ip: UInt32) {
        guard pending[ObjectIdentifier(l)] != nil, let host = l.target else { return }
        finish(l, Self.answer(txChannel: l.txChannel, txDevice: l.txDevice, host: host, port: l.port, txt: l.txt, ipv4: ip))
    }

    /// What Avahi's resolve (SRV target, port, TXT) and record query (A) yielded, as the DNS records an mDNS
    /// answer carries, parsed by the same code as the embedded querier's answers.
    static func answer(txChannel: String, txDevice: String, host: String, port: UInt16, txt: [[UInt8]], ipv4: UInt32) -> ResolvedChannel? {
        guard let owner = try? DNSName("\(txChannel)@\(txDevice)._netaudio-chan._udp.local"), let target = try? DNSName(host) else { return nil }
        let records = [DNSRecord(name: owner, ttl: 120, data: .srv(priority: 0, weight: 0, port: port, target: target)),
                       DNSRecord(name: owner, ttl: 120, data: .txt(txt)),
                       DNSRecord(name: target, ttl: 120, data: .a(ipv4))]
        return ResolvedChannel.parse([DNSMessage.mdnsResponse(answers: records)], txChannel: txChannel, txDevice: txDevice)
    }

    private func finish(_ l: Lookup, _ result: ResolvedChannel?) {
        guard pending.removeValue(forKey: ObjectIdentifier(l)) != nil else { return }
        if let ref = l.ref { dnssd.release(ref) }
        l.ref = nil
        let done = l.done
        loop.execute { done(result) }
    }
}
