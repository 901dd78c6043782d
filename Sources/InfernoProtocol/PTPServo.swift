/// The clock servo of the PTP core, in usrvclock overlay terms (docs/ptp.md §4): it steers an overlay
/// `overlay(u) = u + shift + (u − lastSync)·freqScale` over an underlying clock u (CLOCK_MONOTONIC_RAW) from offset
/// samples θ = ours − leader's (θ > 0: we are ahead).
///
/// * unlocked: the first sample steps the overlay by −θ.
/// * acquiring: ≥ `acquisitionSamples` samples over ≥ `acquisitionNs`; a least-squares line through them gives the
///   rate error, which is removed from freqScale, and the phase the line predicts is stepped out. Then locked.
///   A sample more than `reacquireNs` away while acquiring starts over (step).
/// * locked: a PI loop (linuxptp's form: ppb = kp·θ + drift, drift += ki·θ) slews with a phase-continuous
///   rebase. A sample further than max(4σ, `outlierFloorNs`) from zero is rejected; `rejectsToReacquire` of them
///   in a row return to unlocked (so one bad packet never moves the clock, a real jump is followed after 3).
/// * no samples (holdover): nothing changes; the overlay keeps running at the last frequency.
public struct PTPServo: Sendable {
    public enum State: String, Sendable { case unlocked, acquiring, locked }

    public struct Configuration: Sendable {
        /// ppb per ns of offset, and its integral gain, per sample.
        public var kp: Double
        public var ki: Double
        public var acquisitionSamples = 4
        public var acquisitionNs: Int64 = 1_000_000_000
        public var reacquireNs: Int64 = 1_000_000
        public var outlierFloorNs: Double = 100_000
        public var rejectsToReacquire = 3
        /// |freqScale| stays below this (500 ppm).
        public var maxFrequency: Double = 500e-6

        /// linuxptp's gain schedule for a sample interval of `intervalSeconds`: kp = 0.7·T^−0.3 (≤ 0.7/T); ki =
        /// 0.3·T^0.4 (≤ 0.3/T) with hardware stamps; with software stamps (noisier samples) kp is halved and ki ten
        /// times smaller.
        public init(intervalSeconds t: Double, hardwareTimestamps: Bool) {
            let T = max(t, 1.0 / 128)
            kp = min((hardwareTimestamps ? 0.7 : 0.35) * pow03(T), 0.7 / T)
            ki = min((hardwareTimestamps ? 0.3 : 0.03) * pow04(T), 0.3 / T)
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
    /// The integral term (ppb): −freqScale·1e9 once locked, before the proportional part.
    public private(set) var drift: Double = 0
    /// Running mean square of accepted locked offsets (ns²).
    public private(set) var variance: Double = 0
    public private(set) var consecutiveRejects = 0
    public private(set) var lastOffsetNs: Int64 = 0
    private var acquisition: [(u: Int64, theta: Double)] = []

    public init(configuration: Configuration) { self.configuration = configuration }

    /// The rate the servo believes in: the integral term once locked (the proportional part is phase steering,
    /// noisy by design), else what the overlay runs at.
    public func frequencyEstimate(_ overlay: ClockOverlay) -> Double {
        state == .locked ? -drift * 1e-9 : overlay.freqScale
    }

    /// Back to unlocked: the next sample steps. The overlay's frequency is kept (holdover continues).
    public mutating func reset() {
        state = .unlocked; acquisition.removeAll(keepingCapacity: true); consecutiveRejects = 0; variance = 0
    }

    /// Feeds one offset sample taken at underlying time `u`, adjusting `overlay` in place.
    public mutating func sample(offsetNs theta: Int64, at u: Int64, overlay: inout ClockOverlay) -> Outcome {
        lastOffsetNs = theta
        switch state {
        case .unlocked:
            overlay = Self.rebase(overlay, at: u, freqScale: overlay.freqScale, stepNs: theta)
            acquisition.removeAll(keepingCapacity: true)
            acquisition.append((u, 0))
            state = .acquiring
            return .stepped(ns: theta)
        case .acquiring:
            if theta.magnitude > UInt64(configuration.reacquireNs) {
                state = .unlocked
                return sample(offsetNs: theta, at: u, overlay: &overlay)
            }
            acquisition.append((u, Double(theta)))
            guard acquisition.count >= configuration.acquisitionSamples,
                  u &- acquisition[0].u >= configuration.acquisitionNs else { return .acquiring }
            // θ(u) ≈ a + b·(u − u0): b is how fast we run ahead.
            let u0 = acquisition[0].u
            let n = Double(acquisition.count)
            var sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
            for s in acquisition {
                let x = Double(s.u &- u0)
                sx += x; sy += s.theta; sxx += x * x; sxy += x * s.theta
            }
            let den = n * sxx - sx * sx
            let b = den > 0 ? (n * sxy - sx * sy) / den : 0
            let a = (sy - b * sx) / n
            let predicted = a + b * Double(u &- u0)
            var residual = 0.0
            for s in acquisition {
                let e = s.theta - (a + b * Double(s.u &- u0)); residual += e * e
            }
            variance = residual / n
            let f = clamp(overlay.freqScale - b)
            drift = -f * 1e9
            overlay = Self.rebase(overlay, at: u, freqScale: f, stepNs: Int64(predicted.rounded()))
            state = .locked
            consecutiveRejects = 0
            return .stepped(ns: Int64(predicted.rounded()))
        case .locked:
            let x = Double(theta)
            let bound = max(4 * variance.squareRoot(), configuration.outlierFloorNs)
            if x.magnitude > bound {
                consecutiveRejects += 1
                if consecutiveRejects >= configuration.rejectsToReacquire { reset() }
                return .rejected
            }
            consecutiveRejects = 0
            variance = variance == 0 ? x * x : 0.9 * variance + 0.1 * x * x
            drift += configuration.ki * x
            let maxPpb = configuration.maxFrequency * 1e9
            drift = min(max(drift, -maxPpb), maxPpb)
            let f = clamp(-(drift + configuration.kp * x) * 1e-9)
            overlay = Self.rebase(overlay, at: u, freqScale: f, stepNs: 0)
            return .adjusted
        }
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

/// T^−0.3 and T^0.4 without Foundation (exp/log through the stdlib is not available): x^y = e^(y·ln x), by
/// series good to 1e-9 over the sync intervals PTP uses (1/128 s … 16 s).
private func pow03(_ t: Double) -> Double { powPositive(t, -0.3) }
private func pow04(_ t: Double) -> Double { powPositive(t, 0.4) }

func powPositive(_ x: Double, _ y: Double) -> Double {
    guard x > 0 else { return 0 }
    // ln x = 2·atanh((x−1)/(x+1)) after scaling x into [0.5, 1) by powers of two.
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
