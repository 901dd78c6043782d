import Glibc
import InfernoDevice
import InfernoProtocol
import Synchronization

/// Settings of a listener (`inferno aodns listen`, `inferno run --aodns-listen`).
public struct AoDNSListenSettings: Sendable {
    public enum Mode: String, Sendable { case auto, v1, v2 }
    public var zone: DNSName
    public var server: SocketEndpoint
    /// Decoded PCM: any Opus rate (8000, 12000, 16000, 24000, 48000), 1 or 2 channels.
    public var outputRate = 16000
    public var outputChannels = 1
    /// v2: capture-to-playout delay aimed at (the listener starts this far behind the live edge).
    public var latencyMs = 800
    /// auto: v2 when the zone has a `config` record, else v1 (the original server).
    public var mode = Mode.auto
    /// v2: start at the oldest published pack (the whole window behind, as the original client does) instead of
    /// `latencyMs` behind the live edge.
    public var fromOldest = false
    public init(zone: DNSName, server: SocketEndpoint) { self.zone = zone; self.server = server }
}

/// Plays an AoDNS stream: a network thread fetches records, the consumer (`pull`) decodes in order with
/// concealment.
///
/// v2 (a `config` record exists): `head` gives the epoch, the window and the close time of its newest pack; pack
/// M closes at t + (M − newest)·pms, so even a stale cached `head` predicts exactly when each next pack appears.
/// Packs are fetched as `seq_M.<epoch>` as soon as they close; playout starts `latencyMs` behind the live edge.
/// Within a pack the indices must be 0…fpp−1; across packs M increases by 1; a missing packet or pack is
/// concealed (Opus PLC) for its exact duration; a pack that is merely late is waited for (latency grows, counted).
///
/// v1 (the original server): `sequence` every 0.25 s; playout starts with the newest ~1.5 s of packs in hand;
/// each new `seq_N` is fetched as it is listed.
///
/// Clocks: v2 timing assumes the server's and listener's clocks agree (NTP); an offset shows up as waits, which
/// raise the latency until the stream flows.
public final class AoDNSListener: @unchecked Sendable {
    public let settings: AoDNSListenSettings
    let names: AoDNSNames
    let log: @Sendable (String) -> Void

    struct PackData {
        var packets: [[UInt8]?]
        var damaged: Int
    }

    struct Shared {
        var mode: AoDNSListenSettings.Mode?
        var config: AoDNSConfig?
        var head: AoDNSHead?
        /// Server clock − local clock (ms), estimated from fresh `head` records.
        var theta: Int64 = 0
        var packs: [UInt64: PackData] = [:]
        var failed: Set<UInt64> = []
        /// v1: the newest `sequence` list.
        var listed: [UInt64] = []
        /// The pack the consumer plays (nil before playout starts).
        var cursor: UInt64?
        /// First pack to fetch once known (set by the network thread before playout).
        var startPack: UInt64?
        var epoch: UInt32?
        var resync = false
        var lastError: String?
    }

    /// Counters (any thread).
    public final class Stats: Sendable {
        public let packsFetched = Atomic<Int>(0)
        public let packsPlayed = Atomic<Int>(0)
        public let packsSkipped = Atomic<Int>(0)
        public let packsLate = Atomic<Int>(0)
        public let packetsDecoded = Atomic<Int>(0)
        /// 60 ms frames produced by packet-loss concealment (missing packets or packs, decode failures).
        public let framesConcealed = Atomic<Int>(0)
        /// Of those, frames spent waiting for a late pack (the latency grew by 60 ms each).
        public let waits = Atomic<Int>(0)
        public let damagedStrings = Atomic<Int>(0)
        public let queries = Atomic<Int>(0)
        public let queryFailures = Atomic<Int>(0)
        public let tcpFallbacks = Atomic<Int>(0)
        public let resyncs = Atomic<Int>(0)
        /// Capture-to-playout latency at each pack start (v2), ms.
        public let latencyLast = Atomic<Int>(-1)
        public let latencyMin = Atomic<Int>(Int.max)
        public let latencyMax = Atomic<Int>(-1)
        public let latencySum = Atomic<Int>(0)
        public let latencyCount = Atomic<Int>(0)
        init() {}

        func latency(_ ms: Int) {
            latencyLast.store(ms, ordering: .relaxed)
            if ms < latencyMin.load(ordering: .relaxed) { latencyMin.store(ms, ordering: .relaxed) }
            if ms > latencyMax.load(ordering: .relaxed) { latencyMax.store(ms, ordering: .relaxed) }
            latencySum.add(ms, ordering: .relaxed)
            latencyCount.add(1, ordering: .relaxed)
        }

        public var summary: String {
            func v(_ a: borrowing Atomic<Int>) -> Int { a.load(ordering: .relaxed) }
            let n = v(latencyCount)
            let lat = n > 0 ? "latency ms avg \(v(latencySum) / n) min \(v(latencyMin)) max \(v(latencyMax))" : "latency n/a"
            return "packs fetched \(v(packsFetched)) played \(v(packsPlayed)) skipped \(v(packsSkipped)) late \(v(packsLate)) | packets \(v(packetsDecoded)) concealed \(v(framesConcealed)) (waits \(v(waits))) damaged \(v(damagedStrings)) | queries \(v(queries)) failed \(v(queryFailures)) tcp \(v(tcpFallbacks)) | resyncs \(v(resyncs)) | \(lat)"
        }
    }

    public let stats = Stats()
    /// v1: audio fetched before playout starts (the newest packs).
    static let v1StartBufferMs = 1500
    let shared = Mutex(Shared())
    private let stopFlag = Atomic<Bool>(false)
    private var thread: RealtimeThread?

    // Consumer state (the pulling thread only).
    private let decoder: OpusFrameDecoder
    private let frameOut: Int
    private var pending: [Int16] = []
    private var pendingAt = 0
    private var started = false
    private var everStarted = false
    private var cursorPacket = 0
    private var waitedFrames = 0
    private var cursorPack: UInt64 = 0

    public init(settings: AoDNSListenSettings, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.settings = settings
        self.log = log
        names = AoDNSNames(zone: settings.zone)
        decoder = try OpusFrameDecoder(sampleRate: settings.outputRate, channels: settings.outputChannels)
        frameOut = settings.outputRate * OpusFrameEncoder.frameMs / 1000
    }

    public func start() {
        thread = RealtimeThread.start(name: "aodns-listen") { [self] in networkLoop() }
    }

    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        thread?.join()
        thread = nil
    }

    public var mode: AoDNSListenSettings.Mode? { shared.withLock { $0.mode } }
    public var lastError: String? { shared.withLock { $0.lastError } }

    // MARK: network

    private func networkLoop() {
        let client: DNSClient
        do { client = try DNSClient(server: settings.server) } catch {
            shared.withLock { $0.lastError = "\(error)" }
            log("aodns listen: \(error)")
            return
        }
        var nextConfig: UInt64 = 0, configMisses = 0
        var nextHead: UInt64 = 0, nextSequence: UInt64 = 0
        var retryAt: [UInt64: (at: UInt64, tries: Int)] = [:]
        var nextFetch: UInt64?
        var lastWarning: UInt64 = 0

        func ask(_ name: DNSName) -> DNSClient.Answer? {
            stats.queries.add(1, ordering: .relaxed)
            do {
                let a = try client.query(name, .txt, timeoutMs: 400, attempts: 1)
                if a.overTCP { stats.tcpFallbacks.add(1, ordering: .relaxed) }
                return a
            } catch {
                stats.queryFailures.add(1, ordering: .relaxed)
                let now = unixMillis()
                shared.withLock { $0.lastError = "\(name): \(error)" }
                if now - lastWarning > 5000 { lastWarning = now; log("aodns listen: \(name): \(error)") }
                return nil
            }
        }

        while !stopFlag.load(ordering: .relaxed) {
            let now = unixMillis()
            let mode = shared.withLock { $0.mode }
            if mode == nil {
                if settings.mode == .v1 {
                    shared.withLock { $0.mode = .v1 }
                } else if now >= nextConfig {
                    nextConfig = now + 500
                    if let a = ask(names.config) {
                        if let strings = a.txt.first, let c = try? AoDNSConfig(strings: strings) {
                            shared.withLock { $0.config = c; $0.mode = .v2 }
                            log("aodns listen: v2 stream, \(c.sampleRate) Hz, \(c.channels) ch, \(c.packetsPerPack)×60 ms packs, \(c.bitrate) bit/s, window \(c.window)")
                        } else if let strings = a.txt.first {
                            shared.withLock { $0.lastError = "config record: \((try? AoDNSConfig(strings: strings)).map { _ in "" } ?? "unusable") \(strings.map { String(decoding: $0, as: UTF8.self) })" }
                            if settings.mode == .auto { configMisses += 1 }
                        } else {
                            configMisses += 1
                        }
                        if settings.mode == .auto && configMisses >= 2 && shared.withLock({ $0.mode }) == nil {
                            shared.withLock { $0.mode = .v1 }
                            log("aodns listen: no usable config record: v1 stream (sequence/seq_N)")
                        }
                    }
                }
            } else if mode == .v2 {
                v2Step(now: now, nextHead: &nextHead, nextFetch: &nextFetch, retryAt: &retryAt, ask: ask)
            } else {
                v1Step(now: now, nextSequence: &nextSequence, nextFetch: &nextFetch, retryAt: &retryAt, ask: ask)
            }
            sleepNanoseconds(10_000_000)
        }
    }

    private func v2Step(now: UInt64, nextHead: inout UInt64, nextFetch: inout UInt64?,
                        retryAt: inout [UInt64: (at: UInt64, tries: Int)], ask: (DNSName) -> DNSClient.Answer?) {
        guard let config = shared.withLock({ $0.config }) else { return }
        let pms = UInt64(config.packMs)
        if now >= nextHead {
            nextHead = now + max(100, pms / 2)
            if let a = ask(names.head), let s = a.txt.first?.first, let h = try? AoDNSHead(text: s) {
                let local = unixMillis()
                shared.withLock { st in
                    if let e = st.epoch, e != h.epoch {
                        st.packs = [:]; st.failed = []; st.startPack = nil; st.resync = true
                        nextFetch = nil; retryAt = [:]
                        stats.resyncs.add(1, ordering: .relaxed)
                    }
                    st.epoch = h.epoch
                    st.head = h
                    // A head closed "in the future" means the local clock is behind the server's.
                    let ahead = Int64(h.closedAtMs) - Int64(local)
                    if ahead > st.theta { st.theta = ahead }
                }
            }
        }
        guard let head = shared.withLock({ $0.head }), let newest = head.newest, let epoch = shared.withLock({ $0.epoch }) else {
            return
        }
        let theta = shared.withLock { $0.theta }
        let serverNow = UInt64(max(0, Int64(now) + theta))
        func closeTime(_ m: UInt64) -> Int64 { Int64(head.closedAtMs) + (Int64(bitPattern: m) - Int64(bitPattern: newest)) * Int64(pms) }

        if nextFetch != nil && shared.withLock({ $0.startPack == nil }) {
            nextFetch = nil            // the consumer asked for a fresh start (it fell out of the window)
            retryAt = [:]
        }
        if nextFetch == nil {
            // The pack whose audio was captured latencyMs ago.
            let capture = Int64(serverNow) - Int64(settings.latencyMs)
            let offset = (capture - Int64(head.closedAtMs)) / Int64(pms)
            var m = Int64(bitPattern: newest) + offset + (capture >= Int64(head.closedAtMs) ? 1 : 0)
            if closeTime(UInt64(max(0, m))) - Int64(pms) > capture { m -= 1 }
            m = max(m, Int64(bitPattern: head.first))
            if settings.fromOldest { m = Int64(bitPattern: head.first) }
            nextFetch = UInt64(max(0, m))
            shared.withLock { $0.startPack = nextFetch }
        }
        let cursor = shared.withLock { $0.cursor }
        if let c = cursor, let n = nextFetch, n < c { nextFetch = c }
        guard var m = nextFetch else { return }
        var fetchedThisTick = 0
        while fetchedThisTick < 4 && !stopFlag.load(ordering: .relaxed) {
            let have = shared.withLock { $0.packs[m] != nil || $0.failed.contains(m) }
            if have {
                if m == nextFetch { nextFetch = m + 1 }
                m += 1
                continue
            }
            let due = closeTime(m) + 30
            if due > Int64(serverNow) && m > newest { break }      // not closed yet
            if let r = retryAt[m], r.at > now { m += 1; if m > newest + 2 { break }; continue }
            if m < head.first {
                // Left the window before we got it: go to the oldest pack still published (the consumer resyncs).
                m = head.first
                if let n = nextFetch, n < m { nextFetch = m }
                continue
            }
            fetchedThisTick += 1
            let answer = ask(names.seq(m, epoch: epoch))
            let tries = (retryAt[m]?.tries ?? 0) + 1
            if let a = answer, !a.txt.isEmpty {
                let d = AoDNSPack.decode(strings: a.txt.compactMap(\.first), expected: config.packetsPerPack)
                stats.packsFetched.add(1, ordering: .relaxed)
                stats.damagedStrings.add(d.damaged + d.duplicates, ordering: .relaxed)
                let late = shared.withLock { st -> Bool in
                    if let c = st.cursor, m < c { return true }
                    st.packs[m] = PackData(packets: d.packets, damaged: d.damaged)
                    return false
                }
                if late { stats.packsLate.add(1, ordering: .relaxed) }
                retryAt[m] = nil
            } else if let a = answer, a.nameMissing && m < newest && tries >= 3 {
                shared.withLock { _ = $0.failed.insert(m) }
                retryAt[m] = nil
            } else {
                // Not there yet (NODATA), or the query failed: try again shortly. A predicted pack that is missing
                // suggests our clock runs ahead of the server's.
                if answer != nil && m > newest { shared.withLock { $0.theta -= 10 } }
                retryAt[m] = (now + (answer == nil ? 100 : 120), tries)
                if tries > 40 { shared.withLock { _ = $0.failed.insert(m) }; retryAt[m] = nil }
                m += 1
                if m > newest + 2 { break }
            }
        }
        retryAt = retryAt.filter { $0.key >= (cursor ?? 0) }
    }

    private func v1Step(now: UInt64, nextSequence: inout UInt64, nextFetch: inout UInt64?,
                        retryAt: inout [UInt64: (at: UInt64, tries: Int)], ask: (DNSName) -> DNSClient.Answer?) {
        if now >= nextSequence {
            nextSequence = now + 250
            if let a = ask(names.sequence), let s = a.txt.first?.first, let list = try? AoDNSSequence.decode(s), !list.isEmpty {
                let sorted = list.sorted()
                shared.withLock { st in
                    if let newest = st.listed.last, let n = sorted.last, n < newest, newest - n > 100 {
                        // Numbers went far back: the original server restarted.
                        st.packs = [:]; st.failed = []; st.resync = true
                        nextFetch = nil
                        stats.resyncs.add(1, ordering: .relaxed)
                    }
                    st.listed = sorted
                }
                if nextFetch == nil {
                    // Start near the live edge with some audio in hand: the newest packs back to ~1.5 s (v1 packs
                    // have no fixed duration, so count what arrives).
                    var buffered = 0
                    var start = sorted.last!
                    for m in sorted.reversed().prefix(64) {
                        guard let a = ask(names.seq(m)), !a.txt.isEmpty else { break }
                        let d = AoDNSPack.decode(strings: a.txt.compactMap(\.first))
                        stats.packsFetched.add(1, ordering: .relaxed)
                        shared.withLock { $0.packs[m] = PackData(packets: d.packets, damaged: d.damaged) }
                        start = m
                        buffered += d.packets.count * OpusFrameEncoder.frameMs
                        if buffered >= Self.v1StartBufferMs { break }
                    }
                    nextFetch = start
                    shared.withLock { $0.startPack = start }
                }
            }
        }
        guard let start = nextFetch else { return }
        let (listed, cursor) = shared.withLock { ($0.listed, $0.cursor) }
        var fetched = 0
        for m in listed where m >= max(start, cursor ?? 0) && fetched < 4 {
            let have = shared.withLock { $0.packs[m] != nil || $0.failed.contains(m) }
            if have { continue }
            if let r = retryAt[m], r.at > now { continue }
            fetched += 1
            let tries = (retryAt[m]?.tries ?? 0) + 1
            if let a = ask(names.seq(m)), !a.txt.isEmpty {
                let d = AoDNSPack.decode(strings: a.txt.compactMap(\.first))
                stats.packsFetched.add(1, ordering: .relaxed)
                stats.damagedStrings.add(d.damaged + d.duplicates, ordering: .relaxed)
                shared.withLock { $0.packs[m] = PackData(packets: d.packets, damaged: d.damaged) }
                retryAt[m] = nil
            } else if tries >= 5 {
                shared.withLock { _ = $0.failed.insert(m) }
                retryAt[m] = nil
            } else {
                retryAt[m] = (now + 200, tries)
            }
        }
        // Numbers below the newest listed that are not listed will never come.
        if let newest = listed.last, let c = cursor, c < newest {
            let set = Set(listed)
            let end = newest - c > 1000 ? c + 1000 : newest    // a hostile list cannot make this loop long
            shared.withLock { st in
                for m in c..<end where !set.contains(m) && st.packs[m] == nil { st.failed.insert(m) }
            }
        }
    }

    // MARK: consumer

    /// True once audio can be pulled.
    public var isPlaying: Bool { everStarted }

    /// Fills `frames` frames (interleaved Int16 at the output rate/channels) and returns how many were written:
    /// 0 before playout has started (nothing to play yet), else always `frames` (concealment or silence fill
    /// what is missing, so the output timeline never shifts).
    public func pull(into out: UnsafeMutablePointer<Int16>, frames: Int) -> Int {
        let ch = settings.outputChannels
        if !everStarted && !tryStart() { return 0 }
        var produced = 0
        while produced < frames {
            if pendingAt >= pending.count {
                nextFrame()
                pendingAt = 0
            }
            let take = min(frames - produced, (pending.count - pendingAt) / ch)
            pending.withUnsafeBufferPointer { p in
                (out + produced * ch).update(from: p.baseAddress! + pendingAt, count: take * ch)
            }
            pendingAt += take * ch
            produced += take
        }
        return produced
    }

    public func pull(frames: Int) -> [Int16] {
        var buf = [Int16](repeating: 0, count: frames * settings.outputChannels)
        let n = buf.withUnsafeMutableBufferPointer { pull(into: $0.baseAddress!, frames: frames) }
        return Array(buf[0..<(n * settings.outputChannels)])
    }

    private func tryStart() -> Bool {
        let ok = shared.withLock { st -> Bool in
            guard let mode = st.mode, let start = st.startPack else { return false }
            if mode == .v2 {
                guard let config = st.config, let head = st.head, let newest = head.newest else { return false }
                // Start at the pack (and 60 ms packet) captured latencyMs ago, once it is here; never before the
                // first pack the network thread fetches.
                let pms = Int64(config.packMs)
                let capture = Int64(unixMillis()) + st.theta - Int64(settings.latencyMs)
                func close(_ m: Int64) -> Int64 { Int64(head.closedAtMs) + (m - Int64(bitPattern: newest)) * pms }
                var target = Int64(bitPattern: newest) + Int64((Double(capture - Int64(head.closedAtMs)) / Double(pms)).rounded(.down)) + 1
                if close(target) - pms > capture { target -= 1 }
                if close(target) <= capture { target += 1 }
                if settings.fromOldest {
                    guard st.packs[start] != nil else { return false }
                    cursorPack = start
                    cursorPacket = 0
                } else if target < Int64(bitPattern: start) {
                    // The stream is younger than the latency asked for (a server just started or restarted):
                    // wait until its first pack is that far behind, so the latency is right from the start.
                    return false
                } else {
                    let t = UInt64(target)
                    guard st.packs[t] != nil else { return false }
                    cursorPack = t
                    let into = capture - (close(target) - pms)
                    cursorPacket = max(0, min(config.packetsPerPack - 1, Int(into / Int64(OpusFrameEncoder.frameMs))))
                }
            } else {
                guard st.packs[start] != nil else { return false }
                cursorPack = start
                cursorPacket = 0
            }
            st.cursor = cursorPack
            st.packs = st.packs.filter { $0.key >= cursorPack }
            st.resync = false
            return true
        }
        if ok {
            started = true
            everStarted = true
            waitedFrames = 0
            if cursorPacket == 0 { noteLatency() }
        }
        return ok
    }

    private func noteLatency() {
        let lat = shared.withLock { st -> Int? in
            guard st.mode == .v2, let config = st.config, let head = st.head, let newest = head.newest else { return nil }
            let pms = Int64(config.packMs)
            let close = Int64(head.closedAtMs) + (Int64(bitPattern: cursorPack) - Int64(bitPattern: newest)) * pms
            return Int(Int64(unixMillis()) + st.theta - (close - pms))
        }
        if let lat { stats.latency(lat) }
    }

    /// Decodes (or conceals) the next 60 ms into `pending`.
    private func nextFrame() {
        enum Step { case packet([UInt8]?, count: Int), missing(givenUp: Bool), resync }
        let maxWaitFrames = 2000 / OpusFrameEncoder.frameMs
        if !started && !tryStart() {
            pending = [Int16](repeating: 0, count: frameOut * settings.outputChannels)   // resyncing: silence
            return
        }
        let step = shared.withLock { st -> Step in
            if st.resync { return .resync }
            if let p = st.packs[cursorPack] {
                let count = st.mode == .v2 ? (st.config?.packetsPerPack ?? p.packets.count) : p.packets.count
                let packet = cursorPacket < p.packets.count ? p.packets[cursorPacket] : nil
                return .packet(packet, count: count)
            }
            let listedBeyond = st.mode == .v1 && (st.listed.last ?? 0) > cursorPack && !st.listed.contains(cursorPack)
            if st.mode == .v2, let h = st.head, cursorPack < h.first {
                // The stream moved past us (we fell behind the window, or the numbering jumped): start again.
                st.resync = true
                st.startPack = nil
                return .resync
            }
            return .missing(givenUp: st.failed.contains(cursorPack) || listedBeyond)
        }
        switch step {
        case .resync:
            started = false
            decoder.reset()
            pending = [Int16](repeating: 0, count: frameOut * settings.outputChannels)
        case let .packet(packet, count):
            if cursorPacket == 0 { stats.packsPlayed.add(1, ordering: .relaxed) }
            if let packet, let pcm = decoder.decode(packet), pcm.count == frameOut * settings.outputChannels {
                pending = pcm
                stats.packetsDecoded.add(1, ordering: .relaxed)
            } else {
                pending = decoder.conceal(frames: frameOut)
                stats.framesConcealed.add(1, ordering: .relaxed)
            }
            waitedFrames = 0
            advance(count: count)
        case .missing(let givenUp):
            pending = decoder.conceal(frames: frameOut)
            stats.framesConcealed.add(1, ordering: .relaxed)
            let v2Count = shared.withLock { $0.mode == .v2 ? $0.config?.packetsPerPack : nil }
            if givenUp || waitedFrames >= maxWaitFrames {
                waitedFrames = 0
                if let fpp = v2Count {
                    if cursorPacket == 0 { stats.packsSkipped.add(1, ordering: .relaxed) }
                    advance(count: fpp)             // conceal the pack for its exact duration
                } else {
                    stats.packsSkipped.add(1, ordering: .relaxed)
                    moveTo(cursorPack + 1)          // v1: unknown duration, move on
                }
            } else {
                waitedFrames += 1                   // late: wait (the latency grows by 60 ms)
                stats.waits.add(1, ordering: .relaxed)
            }
        }
    }

    private func advance(count: Int) {
        cursorPacket += 1
        if cursorPacket >= count { moveTo(cursorPack + 1) }
    }

    private func moveTo(_ pack: UInt64) {
        cursorPack = pack
        cursorPacket = 0
        shared.withLock { st in
            st.cursor = pack
            st.packs = st.packs.filter { $0.key >= pack }
            st.failed = st.failed.filter { $0 >= pack }
        }
        if shared.withLock({ $0.packs[pack] != nil }) { noteLatency() }
    }
}
