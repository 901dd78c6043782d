import Foundation
import InfernoMedia
import Synchronization

/// Feeds TX channels from a WAV file, a raw interleaved S32_LE file, a FIFO or stdin (`--tx-source wav:FILE`,
/// `raw:FILE`, `-`). A reader thread decodes the input and writes it into a timestamp-indexed ring 100–200 ms
/// ahead of the media clock; the transmit thread reads the ring (`RingSource`), so file I/O never touches the
/// audio thread. File channel k feeds TX channel k; extra TX channels are silent. A stalled input (FIFO,
/// pipe) is live: when data comes back it is placed at the current time, and the gap is silence. At the end of
/// the input the channels go silent.
public final class FileFeeder: @unchecked Sendable {
    public let source: RingSource
    let ring: TimestampRingBuffer
    let clock: MediaClockSource
    let rate: UInt32
    let handle: FileHandle
    let fileChannels: Int
    let bytesPerSample: Int
    let dataLimit: Int?
    private let stopFlag = Atomic<Bool>(false)
    public let framesFed = Atomic<Int>(0)

    public enum FeedError: Error, CustomStringConvertible {
        case open(String), format(String)
        public var description: String {
            switch self {
            case .open(let s): return "--tx-source (INFERNO_TX_SOURCE): cannot open \(s)"
            case .format(let s): return "--tx-source (INFERNO_TX_SOURCE): \(s)"
            }
        }
    }

    public init(spec: TxSourceSpec, txChannels: Int, clock: MediaClockSource, sampleRate: UInt32) throws {
        self.clock = clock
        rate = sampleRate
        switch spec {
        case .stdin:
            handle = FileHandle.standardInput
            fileChannels = txChannels; bytesPerSample = 4; dataLimit = nil
        case .raw(let path):
            guard let h = FileHandle(forReadingAtPath: path) else { throw FeedError.open(path) }
            handle = h; fileChannels = txChannels; bytesPerSample = 4; dataLimit = nil
        case .wav(let path):
            guard let h = FileHandle(forReadingAtPath: path) else { throw FeedError.open(path) }
            let info = try Self.readWAVHeader(h, path: path)
            guard info.rate == sampleRate else {
                throw FeedError.format("\(path) is \(info.rate) Hz, the device runs at \(sampleRate) Hz")
            }
            handle = h; fileChannels = info.channels; bytesPerSample = info.bits / 8; dataLimit = info.dataBytes
        default:
            throw FeedError.format("not a file source")
        }
        ring = TimestampRingBuffer(channels: max(1, txChannels), capacity: 32768)
        source = RingSource(ring: ring, significantBits: bytesPerSample * 8)
    }

    struct WAVInfo { var channels: Int; var rate: UInt32; var bits: Int; var dataBytes: Int? }

    /// RIFF/WAVE with PCM (1) or EXTENSIBLE (0xFFFE) 16/24/32-bit integer samples.
    static func readWAVHeader(_ h: FileHandle, path: String) throws -> WAVInfo {
        func read(_ n: Int) throws -> [UInt8] {
            let d = h.readData(ofLength: n)
            guard d.count == n else { throw FeedError.format("\(path) is not a complete WAV file") }
            return [UInt8](d)
        }
        func le(_ b: [UInt8], _ o: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } }
        let riff = try read(12)
        guard riff[0..<4].elementsEqual("RIFF".utf8), riff[8..<12].elementsEqual("WAVE".utf8) else {
            throw FeedError.format("\(path) is not a WAV file")
        }
        var info: WAVInfo?
        for _ in 0..<64 {
            let ch = try read(8)
            let size = le(ch, 4, 4)
            if ch[0..<4].elementsEqual("fmt ".utf8) {
                // PCM fmt is 16 bytes, WAVE_FORMAT_EXTENSIBLE 40; anything else is not a file we can play.
                guard size >= 16, size <= 64 else { throw FeedError.format("\(path): fmt chunk of \(size) bytes") }
                let f = try read(size + size % 2)
                let tag = le(f, 0, 2), channels = le(f, 2, 2), rate = le(f, 4, 4), bits = le(f, 14, 2)
                guard tag == 1 || tag == 0xFFFE, [16, 24, 32].contains(bits) else {
                    throw FeedError.format("\(path): only 16/24/32-bit integer PCM WAV is supported")
                }
                guard channels >= 1, channels <= DeviceConfig.maxChannels, rate > 0 else {
                    throw FeedError.format("\(path): \(channels) channels at \(rate) Hz")
                }
                info = WAVInfo(channels: channels, rate: UInt32(rate), bits: bits, dataBytes: nil)
            } else if ch[0..<4].elementsEqual("data".utf8) {
                guard var i = info else { throw FeedError.format("\(path): data before fmt") }
                i.dataBytes = size == 0xFFFF_FFFF ? nil : size
                return i
            } else {
                // Skip other chunks without reading them into memory (a bogus size just ends at EOF).
                do {
                    let next = try h.offset() + UInt64(size + size % 2)
                    try h.seek(toOffset: next)
                } catch {
                    throw FeedError.format("\(path): cannot skip a chunk (\(error))")
                }
            }
        }
        throw FeedError.format("\(path): no data chunk")
    }

    public func start() {
        let t = Thread { [self] in run() }
        t.name = "inferno-feed"
        t.start()
    }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    private func run() {
        let frameBytes = fileChannels * bytesPerSample
        let chunkFrames = 240
        var frame = [Int32](repeating: 0, count: ring.channels * chunkFrames)
        var position: UInt64?
        var consumed = 0
        while !stopFlag.load(ordering: .relaxed) {
            guard let now = clock.now()?.samples(rate: rate) else { Thread.sleep(forTimeInterval: 0.05); continue }
            let lead = UInt64(rate / 10)                        // 100 ms ahead
            if position == nil || MediaClock.distance(from: now &+ UInt64(rate / 50), to: position!) < 0 {
                position = now &+ lead                           // start, or resume after a stall
            }
            if MediaClock.distance(from: now, to: position!) > Int64(rate / 5) {
                Thread.sleep(forTimeInterval: 0.01)              // 200 ms buffered: wait
                continue
            }
            var want = chunkFrames * frameBytes
            if let limit = dataLimit { want = min(want, limit - consumed) }
            guard want > 0 else { break }
            let data = handle.readData(ofLength: want)           // blocks on a FIFO/pipe: that's fine here
            if data.isEmpty { break }
            consumed += data.count
            let frames = data.count / frameBytes
            guard frames > 0 else { continue }
            data.withUnsafeBytes { raw in
                for i in 0..<frames {
                    for c in 0..<ring.channels {
                        var v: Int32 = 0
                        if c < fileChannels {
                            let p = raw.baseAddress! + i * frameBytes + c * bytesPerSample
                            switch bytesPerSample {
                            case 2: v = Int32(p.loadUnaligned(as: Int16.self).littleEndian) << 16
                            case 3: v = Int32(bitPattern: UInt32(p.load(fromByteOffset: 0, as: UInt8.self)) << 8
                                                | UInt32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16
                                                | UInt32(p.load(fromByteOffset: 2, as: UInt8.self)) << 24)
                            default: v = p.loadUnaligned(as: Int32.self).littleEndian
                            }
                        }
                        frame[i * ring.channels + c] = v
                    }
                }
            }
            frame.withUnsafeBufferPointer { ring.write(at: position!, count: frames, from: $0.baseAddress!) }
            position = position! &+ UInt64(frames)
            framesFed.add(frames, ordering: .relaxed)
        }
    }
}
