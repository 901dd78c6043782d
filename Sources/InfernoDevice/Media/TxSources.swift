import InfernoMedia

/// What a TX channel carries. `render` is called on the transmit thread: it must not allocate, lock, log or
/// block. Samples are left-justified Int32.
public protocol TxSampleSource: AnyObject, Sendable {
    /// The significant bits of what this source produces (24 for the test pattern, 32 for a generated tone);
    /// dither is applied only when the wire depth is below this.
    var significantBits: Int { get }
    /// Writes `frames` samples of TX channel `channel` (0-based) for media times t, t+1, … into `dst`.
    func render(channel: Int, at t: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>)
}

public final class SilenceSource: TxSampleSource {
    public init() {}
    public var significantBits: Int { 16 }
    public func render(channel: Int, at t: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>) {
        dst.update(repeating: 0, count: frames)
    }
}

/// The test pattern (`TestPattern`): 24-bit, a function of channel and absolute media time.
public final class PatternSource: TxSampleSource {
    public init() {}
    public var significantBits: Int { 24 }
    public func render(channel: Int, at t: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>) {
        for i in 0..<frames { dst[i] = TestPattern.sample(channel: channel + 1, at: t &+ UInt64(i)) }
    }
}

/// A sine on every channel, phase-locked to media time.
public final class ToneSource: TxSampleSource {
    let tone: ToneGenerator
    public init(frequency: Double, sampleRate: UInt32, amplitude: Double = 0.1) {
        tone = ToneGenerator(frequency: frequency, amplitude: amplitude, sampleRate: sampleRate)
    }
    public var significantBits: Int { 32 }
    public func render(channel: Int, at t: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>) {
        for i in 0..<frames { dst[i] = tone.sample(at: t &+ UInt64(i)) }
    }
}

/// Samples a producer (file feeder, ALSA, PipeWire) wrote into a timestamp-indexed ring at media time positions;
/// anything missing reads as silence.
public final class RingSource: TxSampleSource {
    public let ring: TimestampRingBuffer
    public let significantBits: Int
    public init(ring: TimestampRingBuffer, significantBits: Int = 32) {
        self.ring = ring
        self.significantBits = significantBits
    }
    public func render(channel: Int, at t: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>) {
        guard channel < ring.channels else { dst.update(repeating: 0, count: frames); return }
        ring.readChannel(channel, at: t, count: frames, into: dst)
    }
}

/// TX channels 0..<mainChannels from `main`, the rest from `extra` (channel numbers shifted down): the device's
/// own channels followed by a bridge's (AudioSocket calls).
public final class CompositeTxSource: TxSampleSource {
    public let main: TxSampleSource
    public let extra: TxSampleSource
    public let mainChannels: Int
    public let significantBits: Int
    public init(main: TxSampleSource, mainChannels: Int, extra: TxSampleSource) {
        self.main = main
        self.extra = extra
        self.mainChannels = mainChannels
        significantBits = max(main.significantBits, extra.significantBits)
    }
    public func render(channel: Int, at t: UInt64, frames: Int, into dst: UnsafeMutablePointer<Int32>) {
        if channel < mainChannels {
            main.render(channel: channel, at: t, frames: frames, into: dst)
        } else {
            extra.render(channel: channel - mainChannels, at: t, frames: frames, into: dst)
        }
    }
}
