import InfernoDevice
import InfernoMedia
import InfernoProtocol
import Synchronization

/// `inferno run --aodns-serve`: the chosen RX channels, mixed (summed, clipped) into one stream, resampled from
/// the device rate to the stream rate and published as an AoDNS zone. A bridge thread reads the RX rings at
/// media time (now − playout latency), exactly as `inferno record` does; nothing runs on the audio threads.
public final class AoDNSServeBridge: @unchecked Sendable {
    public let server: DNSServer
    public let streamer: AoDNSStreamer
    let runtime: DeviceRuntime
    let channels: [Int]
    private let stopFlag = Atomic<Bool>(false)
    private var thread: RealtimeThread?
    public let framesPublished = Atomic<Int>(0)

    /// `channels` are 0-based RX channels.
    public init(runtime: DeviceRuntime, channels: [Int], server: DNSServer, streamer: AoDNSStreamer) {
        self.runtime = runtime
        self.channels = channels
        self.server = server
        self.streamer = streamer
    }

    public func start() {
        thread = RealtimeThread.start(name: "aodns-serve-rx") { [self] in run() }
    }

    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        thread?.join()
        thread = nil
        server.stop()
    }

    private func run() {
        let chunk = 480
        let streamRate = streamer.settings.sampleRate
        var rate = UInt32(runtime.sampleRate)
        var resampler = Resampler(inputRate: Int(rate), outputRate: streamRate, maxInput: chunk)
        var raw = [Int32](repeating: 0, count: chunk)
        var mix = [Float](repeating: 0, count: chunk)
        var out = [Float](repeating: 0, count: resampler.maxOutput(forInput: chunk))
        var pcm = [Int16](repeating: 0, count: out.count * streamer.settings.channels)
        var position: UInt64?
        var lastRateCheck = monoNanos()
        while !stopFlag.load(ordering: .relaxed) {
            if monoNanos() - lastRateCheck > 500_000_000 {
                lastRateCheck = monoNanos()
                let r = UInt32(runtime.sampleRate)
                if r != rate {
                    rate = r
                    resampler = Resampler(inputRate: Int(rate), outputRate: streamRate, maxInput: chunk)
                    out = [Float](repeating: 0, count: resampler.maxOutput(forInput: chunk))
                    pcm = [Int16](repeating: 0, count: out.count * streamer.settings.channels)
                    position = nil
                }
            }
            guard let now = runtime.clock.now()?.samples(rate: rate) else {
                position = nil
                sleepNanoseconds(50_000_000)
                continue
            }
            let latency = channels.map { UInt64(max(0, runtime.rx.latencySamples(channel: $0))) }.max() ?? 0
            let end = now &- latency
            if position == nil || MediaClock.distance(from: position!, to: end) > Int64(rate) || MediaClock.distance(from: position!, to: end) < -Int64(rate) {
                position = end &- UInt64(chunk)       // start, or resume after a clock jump or a stall
            }
            while MediaClock.distance(from: position!, to: end) >= Int64(chunk) {
                for i in 0..<chunk { mix[i] = 0 }
                for c in channels {
                    raw.withUnsafeMutableBufferPointer { _ = runtime.rx.rings[c].readChannel(0, at: position!, count: chunk, into: $0.baseAddress!) }
                    for i in 0..<chunk { mix[i] += Float(raw[i]) / 2147483648.0 }
                }
                let n = mix.withUnsafeBufferPointer { m in
                    out.withUnsafeMutableBufferPointer { resampler.process(m.baseAddress!, count: chunk, into: $0.baseAddress!, capacity: $0.count) }
                }
                let ch = streamer.settings.channels
                for i in 0..<n {
                    let v = Int16(max(-32768, min(32767, (out[i] * 32768).rounded())))
                    for k in 0..<ch { pcm[i * ch + k] = v }
                }
                if n > 0 { pcm.withUnsafeBufferPointer { streamer.push($0.baseAddress!, frames: n) } }
                framesPublished.add(n, ordering: .relaxed)
                position = position! &+ UInt64(chunk)
            }
            sleepNanoseconds(10_000_000)
        }
    }
}

/// `inferno run --aodns-listen`: remote AoDNS streams played into the device's first TX channels (stream k → TX
/// k). A feeder thread pulls each listener's audio (decoded at 48 kHz by Opus, resampled to the device rate when
/// it differs) and writes it 100–200 ms ahead of the media clock into a timestamp ring that the transmit thread
/// reads (`AoDNSTxSource`), the same producer pattern as `--tx-source wav:`.
public final class AoDNSListenBridge: @unchecked Sendable {
    public let listeners: [AoDNSListener]
    public let ring: TimestampRingBuffer
    let clock: MediaClockSource
    let runtimeRate: @Sendable () -> Int
    private let stopFlag = Atomic<Bool>(false)
    private var thread: RealtimeThread?
    public let framesFed = Atomic<Int>(0)
    static let decodeRate = 48000

    public init(streams: [(zone: DNSName, server: SocketEndpoint)], latencyMs: Int, clock: MediaClockSource,
                sampleRate: @escaping @Sendable () -> Int, log: @escaping @Sendable (String) -> Void) throws {
        listeners = try streams.map { s in
            var settings = AoDNSListenSettings(zone: s.zone, server: s.server)
            settings.outputRate = Self.decodeRate
            settings.outputChannels = 1
            settings.latencyMs = latencyMs
            return try AoDNSListener(settings: settings, log: log)
        }
        ring = TimestampRingBuffer(channels: max(1, streams.count), capacity: 32768)
        self.clock = clock
        runtimeRate = sampleRate
    }

    /// The TX source for the device: stream k on TX channel k (0-based k < streams), `rest` on the others.
    public func txSource(rest: TxSampleSource) -> TxSampleSource { AoDNSTxSource(ring: ring, streams: listeners.count, rest: rest) }

    public func start() {
        for l in listeners { l.start() }
        thread = RealtimeThread.start(name: "aodns-feed-tx") { [self] in run() }
    }

    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        thread?.join()
        thread = nil
        for l in listeners { l.stop() }
    }

    private func run() {
        let k = listeners.count
        var rate = runtimeRate()
        func makeResamplers() -> [Resampler?] {
            (0..<k).map { _ in rate == Self.decodeRate ? nil : Resampler(inputRate: Self.decodeRate, outputRate: rate, maxInput: 480) }
        }
        var resamplers = makeResamplers()
        var queues = [[Float]](repeating: [], count: k)
        var pulled = [Int16](repeating: 0, count: 480)
        var f = [Float](repeating: 0, count: 480)
        var tmp = [Float](repeating: 0, count: 4096)
        var position: UInt64?
        let chunk = 240
        var frames = [Int32](repeating: 0, count: chunk * k)
        while !stopFlag.load(ordering: .relaxed) {
            let r = runtimeRate()
            if r != rate { rate = r; resamplers = makeResamplers(); queues = [[Float]](repeating: [], count: k); position = nil }
            guard let now = clock.now()?.samples(rate: UInt32(rate)) else {
                position = nil
                sleepNanoseconds(50_000_000)
                continue
            }
            let lead = UInt64(rate / 10)
            if position == nil || MediaClock.distance(from: now &+ UInt64(rate / 50), to: position!) < 0 {
                position = now &+ lead                  // start, or resume after a stall
            }
            if MediaClock.distance(from: now, to: position!) > Int64(rate / 5) {
                sleepNanoseconds(5_000_000)             // 200 ms buffered
                continue
            }
            for s in 0..<k {
                while queues[s].count < chunk {
                    let n = pulled.withUnsafeMutableBufferPointer { listeners[s].pull(into: $0.baseAddress!, frames: 480) }
                    for i in 0..<480 { f[i] = i < n ? Float(pulled[i]) / 32768 : 0 }
                    if let rs = resamplers[s] {
                        let got = f.withUnsafeBufferPointer { fi in tmp.withUnsafeMutableBufferPointer { rs.process(fi.baseAddress!, count: 480, into: $0.baseAddress!, capacity: $0.count) } }
                        queues[s].append(contentsOf: tmp[0..<got])
                    } else {
                        queues[s].append(contentsOf: f)
                    }
                }
                for i in 0..<chunk {
                    let v = max(-1, min(1, queues[s][i]))
                    frames[i * k + s] = Int32(clamping: Int64((Double(v) * 2147483647).rounded()))
                }
                queues[s].removeFirst(chunk)
            }
            frames.withUnsafeBufferPointer { ring.write(at: position!, count: chunk, from: $0.baseAddress!) }
            position = position! &+ UInt64(chunk)
            framesFed.add(chunk, ordering: .relaxed)
        }
    }
}

/// TX channels 0..<streams from the AoDNS ring, the others from `rest` (the device's --tx-source).
public final class AoDNSTxSource: TxSampleSource {
    let ring: TimestampRingBuffer
    let streams: Int
    let rest: TxSampleSource
    public let significantBits: Int
    init(ring: TimestampRingBuffer, streams: Int, rest: TxSampleSource) {
        self.ring = ring
        self.streams = streams
        self.rest = rest
        significantBits = max(16, rest.significantBits)
    }
    public func render(channel: Int, at t: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>) {
        if channel < streams {
            ring.readChannel(channel, at: t, count: frames, into: dst)
        } else {
            rest.render(channel: channel, at: t, frames: frames, into: dst)
        }
    }
}
