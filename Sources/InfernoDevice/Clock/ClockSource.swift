import Glibc
import InfernoMedia

/// One reading of the media clock: PTP-timescale nanoseconds.
public struct ClockReading: Equatable, Sendable {
    /// Media (PTP timescale) time in ns.
    public var ns: Int64
    /// Changes whenever the timescale jumps (overlay step > 200 ms, clock lost and regained). Engines that see a
    /// new generation re-bootstrap their flows instead of producing garbage.
    public var generation: UInt32
    /// The overlay's fractional rate correction (host clock → media clock), for converting sleeps.
    public var freqScale: Double
    public init(ns: Int64, generation: UInt32, freqScale: Double = 0) {
        self.ns = ns; self.generation = generation; self.freqScale = freqScale
    }

    /// Media time in samples at `rate`.
    @inlinable public func samples(rate: UInt32) -> UInt64 {
        UInt64(bitPattern: MediaClock.samples(atSignedNanoseconds: ns, sampleRate: rate))
    }
}

/// Where media time comes from. `now()` is called from real-time threads: implementations must be lock-free and
/// allocation-free (atomics or a seqlock over a preallocated overlay).
public protocol MediaClockSource: AnyObject, Sendable {
    /// What the CLI and the status line show, e.g. "system (CLOCK_TAI)" or "usrvclock /tmp/ptp-usrvclock".
    var description: String { get }
    /// The current media time, or nil while no clock is available.
    func now() -> ClockReading?
    /// A one-line status for the user (why there is no clock, or what is being followed).
    var status: String { get }
    /// Stops background threads, closes sockets. Idempotent.
    func close()
}

/// Reads a POSIX clock in ns.
@inline(__always)
public func readClock(_ id: clockid_t) -> Int64? {
    var ts = timespec()
    guard clock_gettime(id, &ts) == 0 else { return nil }
    return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
}

/// CLOCK_MONOTONIC in ns (timeouts, keep-alives; never jumps). Real-time safe.
@inline(__always)
public func monotonicNow() -> Int64 { readClock(CLOCK_MONOTONIC) ?? 0 }

/// The embedded default: media time straight from the host's CLOCK_TAI (falling back to CLOCK_REALTIME when
/// TAI is unavailable), so every device on one host agrees without any daemon.
public final class SystemMediaClock: MediaClockSource, @unchecked Sendable {
    public let clockID: clockid_t
    public let description: String
    public init() {
        if readClock(CLOCK_TAI) != nil {
            clockID = CLOCK_TAI; description = "system (CLOCK_TAI)"
        } else {
            clockID = CLOCK_REALTIME; description = "system (CLOCK_REALTIME)"
        }
    }
    public func now() -> ClockReading? {
        guard let ns = readClock(clockID) else { return nil }
        return ClockReading(ns: ns, generation: 1)
    }
    public var status: String { "following the host clock, \(description)" }
    public func close() {}
}

/// Sleeps the calling thread for `ns` host nanoseconds (CLOCK_MONOTONIC, relative; EINTR resumes).
@inline(__always)
public func sleepNanoseconds(_ ns: Int64) {
    guard ns > 0 else { return }
    var req = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var rem = timespec()
    while clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem) == EINTR { req = rem }
}
