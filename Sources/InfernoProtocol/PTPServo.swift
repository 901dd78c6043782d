/// The clock servo of the PTP core, in usrvclock overlay terms (docs/ptp.md): it steers an overlay
/// `overlay(u) = u + shift + (u − lastSync)·freqScale` over an underlying clock u (CLOCK_MONOTONIC_RAW) towards a
/// reference (the leader's time at u: t1 + path delay, or the host clock). θ = overlay(u) − reference (θ > 0: we
/// are ahead).
///
/// Frequency and phase are estimated separately:
/// * **rate**: a least-squares line through the accepted (u, reference) pairs of the last `rateWindow` samples
///   gives the reference's rate against u directly, whatever the servo did to the overlay meanwhile (noise-robust:
///   its error shrinks with the window's span);
/// * **phase**: a proportional term on θ (plus a small integral that mops up what the rate line misses):
///   freqScale = rate − (kp·θ + integral)·1e-9.
///
/// States: unlocked → the first sample steps the overlay by −θ; acquiring → after ≥ `acquisitionSamples` over
/// ≥ `acquisitionNs` the rate line sets the frequency and the phase it predicts is stepped out; locked → slews.
/// A sample further than max(4σ, `outlierFloorNs`) (locked) or `reacquireNs` (acquiring) is rejected;
/// `rejectsToReacquire` rejections in a row start over with a step — one bad packet never moves the clock, a real
/// jump is followed after three. With no samples (holdover) the overlay keeps running at its frequency.
public struct PTPServo: Sendable {
    public enum State: String, Sendable { case unlocked, acquiring, locked }

    public struct Configuration: Sendable {
        /// Proportional gain (ppb per ns of offset) and integral gain, per sample.
        public var kp: Double
        public var ki: Double
        public var acquisitionSamples = 4
        public var acquisitionNs: Int64 = 2_000_000_000
        public var reacquireNs: Int64 = 1_000_000
        public var outlierFloorNs: Double = 100_000
        public var rejectsToReacquire = 3
        /// Samples in the rate line (at most), and its longest span.
        public var rateWindow = 128
        public var rateSpanNs: Int64 = 60_000_000_000
        /// |freqScale| stays below this (500 ppm).
        public var maxFrequency: Double = 500e-6

        /// Gains for a sample interval of `intervalSeconds` (after linuxptp's schedule): kp = 0.7·T^−0.3 (≤ 0.7/T),
        /// halved with software timestamps (noisier samples); ki = 0.02·T^0.4 (the rate line carries the frequency,
        /// the integral only the residue).
        public init(intervalSeconds t: Double, hardwareTimestamps: Bool) {
            let T = max(t, 1.0 / 128)
            kp = min((hardwareTimestamps ? 0.7 : 0.35) * powPositive(T, -0.3), 0.7 / T)
            ki = min(0.02 * powPositive(T, 0.4), 0.3 / T)
        }
        public init(kp: Double, ki: Double) { self.kp = kp; self.ki = ki }
    }

    /// What one sample did.
    public enum Outcome: Equatable, Sendable {
        /// The overlay jumped by −`ns` (first sample, end of acquisition, re-acquisition).
        case stepped(ns: Int64)
        case acquiring
        /// Locked; the overlay slewed.
        case adjusted
        /// Ignored as an outlier (the overlay did not change).
        case rejected
    }

    public var configuration: Configuration
    public private(set) var state: State = .unlocked
    /// The integral of the phase term (ppb).
    public private(set) var integral: Double = 0
    /// Running mean square of accepted locked offsets (ns²).
    public private(set) var variance: Double = 0
    public private(set) var consecutiveRejects = 0
    public private(set) var lastOffsetNs: Int64 = 0
    private var rate = RateLine()
    private var acquisitionStart: Int64 = 0
    private var acquired = 0

    public init(configuration: Configuration) { self.configuration = configuration }

    /// The rate the servo believes in (fraction): the rate line less the integral once locked, else what the
    /// overlay runs at.
    public func frequencyEstimate(_ overlay: ClockOverlay) -> Double {
        guard state == .locked, let r = rate.slope else { return overlay.freqScale }
        return clamp(r - integral * 1e-9)
    }

    /// Back to unlocked, forgetting the reference (a new leader): the next sample steps. The overlay's frequency
    /// is kept (holdover continues).
    public mutating func reset() {
        state = .unlocked; consecutiveRejects = 0; variance = 0; integral = 0; rate = RateLine()
    }

    /// Feeds the reference time `referenceNs` observed at underlying time `u`, adjusting `overlay` in place.
    /// `rateReferenceNs` (default: the reference) feeds the rate line: the leader's raw t1, so that a change of the
    /// path-delay estimate moves the phase but not the rate.
    public mutating func sample(referenceNs ref: Int64, rateReferenceNs: Int64? = nil, at u: Int64,
                                overlay: inout ClockOverlay) -> Outcome {
        let theta = overlay.overlayTime(underlyingNs: u) &- ref
        let rref = rateReferenceNs ?? ref
        lastOffsetNs = theta
        switch state {
        case .unlocked:
            consecutiveRejects = 0
            overlay = Self.rebase(overlay, at: u, freqScale: overlay.freqScale, stepNs: theta)
            rate = RateLine()
            rate.add(u: u, ref: rref, window: configuration.rateWindow, span: configuration.rateSpanNs)
            acquisitionStart = u
            acquired = 1
            state = .acquiring
            return .stepped(ns: theta)
        case .acquiring:
            if theta.magnitude > UInt64(configuration.reacquireNs) {
                consecutiveRejects += 1
                guard consecutiveRejects >= configuration.rejectsToReacquire else { return .rejected }
                state = .unlocked
                return sample(referenceNs: ref, rateReferenceNs: rateReferenceNs, at: u, overlay: &overlay)
            }
            consecutiveRejects = 0
            rate.add(u: u, ref: rref, window: configuration.rateWindow, span: configuration.rateSpanNs)
            acquired += 1
            guard acquired >= configuration.acquisitionSamples, u &- acquisitionStart >= configuration.acquisitionNs,
                  let r = rate.slope, let predicted = rate.predict(u) else { return .acquiring }
            let f = clamp(r)
            let step = overlay.overlayTime(underlyingNs: u) &- (predicted &+ (ref &- rref))
            variance = rate.residualVariance
            overlay = Self.rebase(overlay, at: u, freqScale: f, stepNs: step)
            integral = 0
            state = .locked
            return .stepped(ns: step)
        case .locked:
            let x = Double(theta)
            let bound = max(4 * variance.squareRoot(), configuration.outlierFloorNs)
            if x.magnitude > bound {
                consecutiveRejects += 1
                if consecutiveRejects >= configuration.rejectsToReacquire { reset() }
                return .rejected
            }
            consecutiveRejects = 0
            variance = 0.95 * variance + 0.05 * x * x
            rate.add(u: u, ref: rref, window: configuration.rateWindow, span: configuration.rateSpanNs)
            integral += configuration.ki * x
            let maxPpb = configuration.maxFrequency * 1e9
            integral = min(max(integral, -maxPpb), maxPpb)
            let f = clamp((rate.slope ?? overlay.freqScale) - (configuration.kp * x + integral) * 1e-9)
            overlay = Self.rebase(overlay, at: u, freqScale: f, stepNs: 0)
            return .adjusted
        }
    }

    /// As `sample(referenceNs:)` with θ given (reference = overlay(u) − θ).
    public mutating func sample(offsetNs theta: Int64, at u: Int64, overlay: inout ClockOverlay) -> Outcome {
        sample(referenceNs: overlay.overlayTime(underlyingNs: u) &- theta, at: u, overlay: &overlay)
    }

    private func clamp(_ f: Double) -> Double {
        min(max(f, -configuration.maxFrequency), configuration.maxFrequency)
    }

    /// The overlay through overlay(u) − step at u with the new frequency: x = overlay(u); lastSync = u;
    /// shift = x − u − step. A step of 0 is exactly phase-continuous.
    public static func rebase(_ o: ClockOverlay, at u: Int64, freqScale f: Double, stepNs: Int64) -> ClockOverlay {
        var n = o
        let x = o.overlayTime(underlyingNs: u)
        n.lastSync = u
        n.shift = x &- u &- stepNs
        n.freqScale = f
        return n
    }
}

/// Least squares of (reference − u) against u over a sliding window, relative to the first pair kept, so the
/// sums stay small (ns of offset against ns of elapsed time).
struct RateLine: Sendable {
    private var points: [(x: Double, y: Double)] = []
    private var origin: (u: Int64, ref: Int64)?

    mutating func add(u: Int64, ref: Int64, window: Int, span: Int64) {
        if origin == nil { origin = (u, ref) }
        let o = origin!
        let x = Double(u &- o.u)
        points.append((x, Double((ref &- o.ref) &- (u &- o.u))))
        while points.count > window || (points.count > 2 && x - points[0].x > Double(span)) { points.removeFirst() }
    }

    private var fit: (a: Double, b: Double)? {
        guard points.count >= 2 else { return nil }
        let n = Double(points.count)
        var sx = 0.0, sy = 0.0
        for p in points { sx += p.x; sy += p.y }
        let mx = sx / n, my = sy / n
        var sxx = 0.0, sxy = 0.0
        for p in points { sxx += (p.x - mx) * (p.x - mx); sxy += (p.x - mx) * (p.y - my) }
        guard sxx > 0 else { return nil }
        let b = sxy / sxx
        return (my - b * mx, b)
    }

    /// The reference's rate against u, minus 1 (the freqScale that matches it).
    var slope: Double? { fit?.b }

    /// The reference time the line gives at u.
    func predict(_ u: Int64) -> Int64? {
        guard let f = fit, let o = origin else { return nil }
        let x = Double(u &- o.u)
        let y = f.a + f.b * x
        return o.ref &+ (u &- o.u) &+ Int64(y.rounded())
    }

    var residualVariance: Double {
        guard let f = fit, !points.isEmpty else { return 0 }
        var s = 0.0
        for p in points { let e = p.y - (f.a + f.b * p.x); s += e * e }
        return s / Double(points.count)
    }
}

/// x^y for x > 0 without Foundation: e^(y·ln x), series good to 1e-9 over the sync intervals PTP uses.
func powPositive(_ x: Double, _ y: Double) -> Double {
    guard x > 0 else { return 0 }
    // ln x = 2·atanh((m−1)/(m+1)) + e·ln 2 after scaling x into [0.5, 1) by powers of two.
    var m = x, e = 0.0
    while m >= 1 { m /= 2; e += 1 }
    while m < 0.5 { m *= 2; e -= 1 }
    let z = (m - 1) / (m + 1), z2 = z * z
    var term = z, sum = 0.0, k = 1.0
    for _ in 0..<40 { sum += term / k; term *= z2; k += 2 }
    let ln = 2 * sum + e * 0.6931471805599453
    // e^v by squaring: e^(v/2^10) from a series, then square 10 times.
    let v = y * ln / 1024
    var ex = 1.0, t = 1.0
    for i in 1...20 { t *= v / Double(i); ex += t }
    for _ in 0..<10 { ex *= ex }
    return ex
}
