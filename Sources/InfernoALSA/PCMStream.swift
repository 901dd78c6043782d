import Glibc
import InfernoMedia

/// One open PCM: the position arithmetic between ALSA's stream frames and the device's media clock.
///
/// * Playback frame k (counted from `prepare`) is transmitted at media time `t0 + k`. `start` sets
///   `t0 = now + guard`, where `guard` is the transmit engine's read-ahead (its largest frames-per-packet) plus
///   0.5 ms. The hardware pointer is `now + guard − t0`: every frame is in the TX ring before the engine reads it.
///   Frames written before `start` are staged and placed at `start`.
/// * Capture frame k is RX channel c's media time `t0 + k − latency(c)`: `start` sets `t0 = now`, so the first
///   frame is what is playing out on the network at that moment; the hardware pointer is `now − t0`.
/// * Underrun (playback pointer passes the application) and overrun (capture pointer a buffer ahead) are xruns.
///   Recovery (`prepare` + `start`) just re-anchors `t0`: the device's flows never notice, and a stopped or
///   starved playback leaves holes in the ring, which the device transmits as silence.
/// * Without a media clock the stream runs on CLOCK_MONOTONIC and is silent; when the clock appears (or jumps:
///   a new generation) `t0` is moved so the pointer stays continuous.
///
/// `pointer`, `transfer` and `delay` run on the application's audio thread: no allocation, locks or logging.
final class PCMStream {
    let host: DeviceHost
    let port: SharedAudioPort
    let capture: Bool
    let channels: Int
    let rate: UInt32
    let pid = getpid()

    private(set) var bufferSize = 0
    private(set) var periodSize = 0
    private(set) var running = false
    private var t0: UInt64 = 0
    private var generation: UInt64 = 0
    private var lastHw: UInt64 = 0
    private var guardFrames: UInt64 = 0
    private var staging: UnsafeMutablePointer<Int32>?
    private var stagingFrames = 0
    private var staged = 0
    /// Set when the stream found no media clock; the C side reports it once from a non-real-time call.
    private(set) var noClockSeen = false

    static let noClock = UInt64.max
    static let maxBufferFrames = 16384

    init(host: DeviceHost, capture: Bool) throws(DeviceHost.Failure) {
        self.host = host
        port = host.port
        self.capture = capture
        channels = capture ? port.rxChannels : port.txChannels
        rate = port.sampleRate
        guard channels > 0 else {
            throw DeviceHost.Failure(message: "inferno: the device has no \(capture ? "RX" : "TX") channels (\(capture ? "rx_channels" : "tx_channels") is 0)")
        }
        if !capture && !port.claimPlayback(pid: pid) {
            throw DeviceHost.Failure(message: "inferno: \(port.path) is already played into by process \(port.playbackOwner)")
        }
    }

    func close() {
        if !capture {
            stop()
            port.releasePlayback(pid: pid)
        }
        staging?.deallocate()
        staging = nil
    }

    /// Media time now (samples) and its generation; CLOCK_MONOTONIC (generation `noClock`) without a clock.
    @inline(__always)
    private func now() -> (UInt64, UInt64) {
        let mono = SharedAudioPort.monotonic()
        if let c = port.clock(monotonicNow: mono) {
            return (UInt64(bitPattern: MediaClock.samples(atSignedNanoseconds: c.mediaNs, sampleRate: rate)), UInt64(c.generation))
        }
        return (UInt64(bitPattern: MediaClock.samples(atSignedNanoseconds: mono, sampleRate: rate)), Self.noClock)
    }

    var deviceAlive: Bool { port.isAlive() }

    func hwParams(bufferSize: Int, periodSize: Int) {
        self.bufferSize = bufferSize
        self.periodSize = periodSize
        if stagingFrames < bufferSize {
            staging?.deallocate()
            staging = .allocate(capacity: bufferSize * channels)
            stagingFrames = bufferSize
        }
    }

    func prepare() -> Int32 {
        guard port.isAlive() else { return -ENODEV }
        stop()
        staged = 0
        lastHw = 0
        noClockSeen = port.clock(monotonicNow: SharedAudioPort.monotonic()) == nil
        return 0
    }

    func start() -> Int32 {
        guard port.isAlive() else { return -ENODEV }
        let (t, gen) = now()
        generation = gen
        noClockSeen = gen == Self.noClock
        lastHw = 0
        if capture {
            t0 = t
        } else {
            guardFrames = UInt64(max(port.txReadAhead, 32)) + UInt64(rate / 2000)
            t0 = t &+ guardFrames
            if staged > 0, let staging, gen != Self.noClock {
                port.txRing.write(at: t0, count: staged, from: staging)
            }
            staged = 0
        }
        running = true
        return 0
    }

    /// Stops (drop or the end of a drain): queued playback that has not been transmitted is withdrawn.
    func stop(appl: UInt64? = nil) {
        guard running else { return }
        running = false
        if !capture, generation != Self.noClock, let appl, appl > lastHw {
            port.txRing.invalidate(at: t0 &+ lastHw, count: Int(appl - lastHw))
        }
    }

    /// The hardware position in frames since `prepare`, or a negative errno (-EPIPE: xrun, -ENODEV: device gone).
    func pointer(appl: UInt64, draining: Bool) -> Int64 {
        guard running else { return Int64(lastHw) }
        let (t, gen) = now()
        if gen != generation {
            // New timebase (clock appeared, was lost or jumped): keep the pointer continuous.
            t0 = capture ? t &- lastHw : t &+ guardFrames &- lastHw
            generation = gen
            if gen == Self.noClock { noClockSeen = true }
        }
        let d = MediaClock.distance(from: t0, to: capture ? t : t &+ guardFrames)
        var hw = d < 0 ? 0 : UInt64(d)
        if hw < lastHw { hw = lastHw }
        if !capture && hw > appl {
            if draining { lastHw = appl; return Int64(appl) }
            if !port.isAlive() { return -Int64(ENODEV) }
            return -Int64(EPIPE)
        }
        if capture && hw > appl &+ UInt64(bufferSize) {
            if !port.isAlive() { return -Int64(ENODEV) }
            return -Int64(EPIPE)
        }
        lastHw = hw
        return Int64(hw)
    }

    /// Playback: `frames` interleaved S32 frames for stream position `appl`.
    func write(appl: UInt64, frames: Int, from src: UnsafePointer<Int32>) {
        if !running {
            guard let staging, appl < UInt64(stagingFrames) else { return }
            let n = min(frames, stagingFrames - Int(appl))
            (staging + Int(appl) * channels).update(from: src, count: n * channels)
            staged = max(staged, Int(appl) + n)
            return
        }
        guard generation != Self.noClock else { return }
        port.txRing.write(at: t0 &+ appl, count: frames, from: src)
    }

    /// Capture: `frames` interleaved S32 frames for stream position `appl` (silence without a clock).
    func read(appl: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>) {
        guard running, generation != Self.noClock else {
            dst.update(repeating: 0, count: frames * channels)
            return
        }
        for c in 0..<channels {
            let at = t0 &+ appl &- UInt64(bitPattern: port.rxLatency(channel: c))
            port.rxRings[c].readChannel(0, at: at, count: frames, into: dst + c, stride: channels)
        }
    }

    /// Frames between the application and the network: queued playback plus the transmit guard; for capture,
    /// the frames waiting plus the receive latency.
    func delay(appl: UInt64) -> Int64 {
        let hw = Int64(lastHw)
        if capture { return max(0, hw - Int64(appl)) + port.rxLatency(channel: 0) }
        return max(0, Int64(appl) - hw) + Int64(guardFrames)
    }

    /// Frames the application may transfer now (for poll), or a negative errno.
    func avail(appl: UInt64) -> Int64 {
        guard running else { return capture ? 0 : Int64(bufferSize) - Int64(appl) }
        let hw = pointer(appl: appl, draining: false)
        if hw < 0 { return hw }
        return capture ? hw - Int64(appl) : Int64(bufferSize) - (Int64(appl) - hw)
    }

    /// Nanoseconds from now to the next period boundary of the media clock (for the poll timer's first tick).
    func nanosecondsToNextPeriod() -> Int64 {
        guard periodSize > 0 else { return 1_000_000 }
        let p = UInt64(periodSize)
        let frames = running ? p - lastHw % p : p
        return Int64(MediaClock.nanosecondsCeiling(atSample: frames, sampleRate: rate))
    }

    var periodNanoseconds: Int64 { Int64(MediaClock.nanosecondsCeiling(atSample: UInt64(max(1, periodSize)), sampleRate: rate)) }
}
