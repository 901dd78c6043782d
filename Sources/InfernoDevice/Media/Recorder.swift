import Foundation
import InfernoMedia
import Synchronization

/// Writes RX channels to a WAV or raw file (or FIFO, or stdout), paced by the media clock.
///
/// A reader thread takes frame s of every selected channel once the media clock has passed s + L (L = the
/// largest playout latency of the channels) and queues fixed-size chunks; a writer thread writes them. If the
/// output stalls and the queue fills, the reader keeps going and counts the frames it could not queue; the
/// writer later writes that many frames of silence, so the output timeline never shifts.
public final class Recorder: @unchecked Sendable {
    public enum Format: Sendable { case wav, raw }

    public struct Options: Sendable {
        public var channels: [Int]        // 0-based RX channels
        public var format: Format
        public var bits: Int               // 32 (S32_LE) or 24 (S24_3LE, WAV only)
        public var duration: Double?       // seconds of audio, nil = until stopped
        public init(channels: [Int], format: Format, bits: Int, duration: Double?) {
            self.channels = channels; self.format = format; self.bits = bits; self.duration = duration
        }
    }

    static let chunkFrames = 480
    static let queueChunks = 256

    let engine: RxEngine
    let clock: MediaClockSource
    let rate: UInt32
    let options: Options
    let fd: Int32
    let seekable: Bool
    let chunks = SPSCQueue<Int>(capacity: Recorder.queueChunks)
    let chunkStore: UnsafeMutablePointer<Int32>
    /// Frames the reader could not queue (output stalled), to be written as silence.
    let stalledFrames = Atomic<Int>(0)
    let stalledCount = Atomic<Int>(0)
    /// Frames replaced by silence because the output stalled, so far.
    public var stalledTotal: Int { stalledCount.load(ordering: .relaxed) }
    public let framesRecorded = Atomic<Int>(0)
    public let framesWritten = Atomic<Int>(0)
    public let missingSamples = Atomic<Int>(0)
    public let writeError = Atomic<Int32>(0)
    let stopFlag = Atomic<Bool>(false)
    let readerDone = Atomic<Bool>(false)
    /// Peak per selected channel over the last status period (absolute Int32), reset by `takePeaks`.
    let peaks: UnsafeMutablePointer<Atomic<Int32>>
    public private(set) var firstSampleTime: UInt64 = 0
    public private(set) var playoutLatency: Int64 = 0
    public let started = Atomic<Bool>(false)
    private var reader: Thread?
    private var writer: Thread?
    private let finished = DispatchSemaphore(value: 0)

    public init(engine: RxEngine, clock: MediaClockSource, sampleRate: UInt32, options: Options, fd: Int32) {
        self.engine = engine
        self.clock = clock
        self.rate = sampleRate
        self.options = options
        self.fd = fd
        seekable = lseek(fd, 0, SEEK_CUR) >= 0
        chunkStore = .allocate(capacity: Self.queueChunks * Self.chunkFrames * options.channels.count)
        peaks = .allocate(capacity: options.channels.count)
        for i in 0..<options.channels.count { (peaks + i).initialize(to: Atomic(0)) }
    }

    deinit {
        chunkStore.deallocate()
        peaks.deinitialize(count: options.channels.count)
        peaks.deallocate()
    }

    public func start() {
        if options.format == .wav { writeAll(wavHeader(dataBytes: nil)) }
        let r = Thread { [self] in readLoop() }
        r.name = "inferno-rec-read"
        let w = Thread { [self] in writeLoop() }
        w.name = "inferno-rec-write"
        reader = r; writer = w
        r.start(); w.start()
    }

    /// Stops recording (or returns when `duration` has been written) and finalises the WAV header if possible.
    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    public func wait() { finished.wait() }

    public func takePeaks() -> [Int32] {
        (0..<options.channels.count).map { peaks[$0].exchange(0, ordering: .relaxed) }
    }

    private func readLoop() {
        let n = options.channels.count
        let limit = options.duration.map { Int(($0 * Double(rate)).rounded()) }
        // Wait for a clock.
        var reading = clock.now()
        while reading == nil && !stopFlag.load(ordering: .relaxed) {
            Thread.sleep(forTimeInterval: 0.05)
            reading = clock.now()
        }
        guard let first = reading else { readerDone.store(true, ordering: .releasing); return }
        var latency: Int64 = 0
        for c in options.channels { latency = max(latency, engine.latencySamples(channel: c)) }
        playoutLatency = latency
        var next = first.samples(rate: rate) &- UInt64(latency)
        firstSampleTime = next
        started.store(true, ordering: .releasing)
        var slotIndex = 0
        var recorded = 0
        let scratch = UnsafeMutablePointer<Int32>.allocate(capacity: Self.chunkFrames)
        defer { scratch.deallocate() }
        while !stopFlag.load(ordering: .relaxed) {
            if let limit, recorded >= limit { break }
            guard let now = clock.now() else { Thread.sleep(forTimeInterval: 0.01); continue }
            let ready = MediaClock.distance(from: next, to: now.samples(rate: rate) &- UInt64(latency))
            if ready < Int64(Self.chunkFrames) {
                Thread.sleep(forTimeInterval: 0.005)
                continue
            }
            var frames = Self.chunkFrames
            if let limit { frames = min(frames, limit - recorded) }
            if chunks.count >= Self.queueChunks - 1 {
                stalledFrames.add(frames, ordering: .relaxed)
                stalledCount.add(frames, ordering: .relaxed)
            } else {
                let base = chunkStore + slotIndex * Self.chunkFrames * n
                for (k, c) in options.channels.enumerated() {
                    let present = engine.rings[c].readChannel(0, at: next, count: frames, into: scratch)
                    if present < frames { missingSamples.add(frames - present, ordering: .relaxed) }
                    var peak: Int32 = 0
                    for i in 0..<frames {
                        let v = scratch[i]
                        base[i * n + k] = v
                        let a = v == .min ? .max : abs(v)
                        if a > peak { peak = a }
                    }
                    if peak > peaks[k].load(ordering: .relaxed) { peaks[k].store(peak, ordering: .relaxed) }
                }
                _ = chunks.push(slotIndex << 16 | frames)
                slotIndex = (slotIndex + 1) % Self.queueChunks
            }
            next = next &+ UInt64(frames)
            recorded += frames
            framesRecorded.store(recorded, ordering: .relaxed)
        }
        readerDone.store(true, ordering: .releasing)
    }

    private func writeLoop() {
        let n = options.channels.count
        let bytesPerSample = options.bits == 24 ? 3 : 4
        var out = [UInt8](repeating: 0, count: Self.chunkFrames * n * bytesPerSample)
        var written = 0
        while true {
            let stalled = stalledFrames.exchange(0, ordering: .relaxed)
            if stalled > 0 {
                var left = stalled
                let zero = [UInt8](repeating: 0, count: Self.chunkFrames * n * bytesPerSample)
                while left > 0 {
                    let k = min(left, Self.chunkFrames)
                    zero.withUnsafeBytes { writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<(k * n * bytesPerSample)])) }
                    left -= k; written += k
                }
            }
            guard let item = chunks.pop() else {
                if readerDone.load(ordering: .acquiring) && chunks.count == 0 && stalledFrames.load(ordering: .relaxed) == 0 { break }
                Thread.sleep(forTimeInterval: 0.005)
                continue
            }
            let slot = item >> 16, frames = item & 0xFFFF
            let base = chunkStore + slot * Self.chunkFrames * n
            var o = 0
            for i in 0..<(frames * n) {
                let v = UInt32(bitPattern: base[i])
                if bytesPerSample == 4 {
                    out[o] = UInt8(truncatingIfNeeded: v); out[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    out[o + 2] = UInt8(truncatingIfNeeded: v >> 16); out[o + 3] = UInt8(truncatingIfNeeded: v >> 24)
                    o += 4
                } else {
                    out[o] = UInt8(truncatingIfNeeded: v >> 8); out[o + 1] = UInt8(truncatingIfNeeded: v >> 16)
                    out[o + 2] = UInt8(truncatingIfNeeded: v >> 24)
                    o += 3
                }
            }
            out.withUnsafeBytes { writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<o])) }
            written += frames
            framesWritten.store(written, ordering: .relaxed)
        }
        if options.format == .wav && seekable {
            let header = wavHeader(dataBytes: written * n * bytesPerSample)
            _ = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        finished.signal()
    }

    private func writeAll(_ bytes: [UInt8]) { bytes.withUnsafeBytes { writeAll($0) } }

    private func writeAll(_ b: UnsafeRawBufferPointer) {
        var off = 0
        while off < b.count {
            let r = write(fd, b.baseAddress! + off, b.count - off)
            if r < 0 {
                if errno == EINTR { continue }
                writeError.store(errno, ordering: .relaxed)
                stopFlag.store(true, ordering: .relaxed)
                return
            }
            off += r
        }
    }

    /// RIFF/WAVE, WAVE_FORMAT_EXTENSIBLE (PCM), little-endian; unknown sizes (pipes) as 0xFFFFFFFF.
    func wavHeader(dataBytes: Int?) -> [UInt8] {
        let n = options.channels.count
        let bits = options.bits == 24 ? 24 : 32
        let blockAlign = n * bits / 8
        var h: [UInt8] = []
        func u32(_ v: UInt32) { for k in 0..<4 { h.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
        func u16(_ v: UInt16) { h.append(UInt8(truncatingIfNeeded: v)); h.append(UInt8(truncatingIfNeeded: v >> 8)) }
        let data = dataBytes.map { UInt32(clamping: $0) } ?? 0xFFFF_FFFF
        h += Array("RIFF".utf8); u32(dataBytes == nil ? 0xFFFF_FFFF : UInt32(clamping: 4 + 48 + 8 + Int(data)))
        h += Array("WAVE".utf8)
        h += Array("fmt ".utf8); u32(40)
        u16(0xFFFE); u16(UInt16(n)); u32(rate); u32(rate * UInt32(blockAlign)); u16(UInt16(blockAlign)); u16(UInt16(bits))
        u16(22); u16(UInt16(bits)); u32(0)   // cbSize, valid bits, channel mask (none)
        // KSDATAFORMAT_SUBTYPE_PCM 00000001-0000-0010-8000-00aa00389b71
        h += [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]
        h += Array("data".utf8); u32(data)
        return h
    }
}
