import Glibc
import InfernoDevice
import InfernoMedia
import Synchronization

/// What `inferno aodns serve --input` reads.
public enum AoDNSInputSpec: Equatable, Sendable {
    case tone(Double)
    case wav(String)
    /// Raw S16_LE interleaved at the stream's rate and channel count on stdin.
    case stdin

    public static func parse(_ s: String) -> AoDNSInputSpec? {
        if s == "-" { return .stdin }
        if s == "tone" { return .tone(1000) }
        if s.hasPrefix("tone:"), let hz = Double(s.dropFirst(5)), hz > 0, hz < 24000 { return .tone(hz) }
        if s.hasPrefix("wav:"), s.count > 4 { return .wav(String(s.dropFirst(4))) }
        return nil
    }
}

/// A minimal WAV reader: integer PCM 16/24/32-bit (format 1 or WAVE_FORMAT_EXTENSIBLE), any rate and channel
/// count; samples as Float in −1…1. Bounded: absurd headers are refused with a one-line reason.
public final class WAVReader {
    public let channels: Int
    public let sampleRate: Int
    public let bits: Int
    private let fd: Int32
    private var remaining: Int

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError("--input: cannot open \(path): \(String(cString: strerror(errno)))") }
        func read(_ n: Int) throws -> [UInt8] {
            var b = [UInt8](repeating: 0, count: n)
            var got = 0
            while got < n {
                let r = b.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, n - got) }
                if r <= 0 { break }
                got += r
            }
            guard got == n else { throw RuntimeError("--input: \(path) is not a complete WAV file") }
            return b
        }
        func le(_ b: [UInt8], _ o: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } }
        do {
            let riff = try read(12)
            guard riff[0..<4].elementsEqual("RIFF".utf8), riff[8..<12].elementsEqual("WAVE".utf8) else {
                throw RuntimeError("--input: \(path) is not a WAV file")
            }
            var fmt: (channels: Int, rate: Int, bits: Int)?
            for _ in 0..<64 {
                let ch = try read(8)
                let size = le(ch, 4, 4)
                if ch[0..<4].elementsEqual("fmt ".utf8) {
                    guard size >= 16, size <= 64 else { throw RuntimeError("--input: \(path): fmt chunk of \(size) bytes") }
                    let f = try read(size + size % 2)
                    let tag = le(f, 0, 2), channels = le(f, 2, 2), rate = le(f, 4, 4), bits = le(f, 14, 2)
                    guard tag == 1 || tag == 0xFFFE, [16, 24, 32].contains(bits) else {
                        throw RuntimeError("--input: \(path): only 16/24/32-bit integer PCM WAV is supported")
                    }
                    guard channels >= 1, channels <= 64, rate >= 1000, rate <= 384_000 else {
                        throw RuntimeError("--input: \(path): \(channels) channels at \(rate) Hz")
                    }
                    fmt = (channels, rate, bits)
                } else if ch[0..<4].elementsEqual("data".utf8) {
                    guard let f = fmt else { throw RuntimeError("--input: \(path): data before fmt") }
                    self.fd = fd
                    channels = f.channels; sampleRate = f.rate; bits = f.bits
                    remaining = size == 0xFFFF_FFFF || size == 0 ? Int.max : size
                    return
                } else {
                    guard lseek(fd, off_t(size + size % 2), SEEK_CUR) >= 0 else {
                        throw RuntimeError("--input: \(path): cannot skip a chunk")
                    }
                }
            }
            throw RuntimeError("--input: \(path): no data chunk")
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Reads up to `frames` frames, interleaved, into `out` (frames × channels floats); returns frames read (0 at
    /// the end).
    public func read(frames: Int, into out: inout [Float]) -> Int {
        let bps = bits / 8
        let want = min(frames * channels * bps, remaining - remaining % (channels * bps))
        guard want > 0 else { return 0 }
        var raw = [UInt8](repeating: 0, count: want)
        var got = 0
        while got < want {
            let r = raw.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, want - got) }
            if r <= 0 { break }
            got += r
        }
        remaining -= got
        let n = got / (channels * bps)
        if out.count < n * channels { out = [Float](repeating: 0, count: n * channels) }
        for i in 0..<(n * channels) {
            let o = i * bps
            let v: Int32
            switch bps {
            case 2: v = Int32(Int16(bitPattern: UInt16(raw[o]) | UInt16(raw[o + 1]) << 8)) << 16
            case 3: v = Int32(bitPattern: UInt32(raw[o]) << 8 | UInt32(raw[o + 1]) << 16 | UInt32(raw[o + 2]) << 24)
            default: v = Int32(bitPattern: UInt32(raw[o]) | UInt32(raw[o + 1]) << 8 | UInt32(raw[o + 2]) << 16 | UInt32(raw[o + 3]) << 24)
            }
            out[i] = Float(v) / 2147483648.0
        }
        return n
    }
}

/// Writes 16-bit PCM as WAV (sizes patched at the end when the output can seek) or raw S16_LE.
public final class PCMWriter: @unchecked Sendable {
    public let fd: Int32
    public let wav: Bool
    let rate: Int, channels: Int
    public private(set) var frames = 0
    public private(set) var failed: Int32 = 0

    public init(fd: Int32, wav: Bool, rate: Int, channels: Int) {
        self.fd = fd; self.wav = wav; self.rate = rate; self.channels = channels
        if wav { write(header(dataBytes: 0x7FFF_F000)) }
    }

    func header(dataBytes: Int) -> [UInt8] {
        func u32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        return Array("RIFF".utf8) + u32(36 + dataBytes) + Array("WAVEfmt ".utf8) + u32(16) + u16(1) + u16(channels)
            + u32(rate) + u32(rate * channels * 2) + u16(channels * 2) + u16(16) + Array("data".utf8) + u32(dataBytes)
    }

    func write(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                failed = errno == 0 ? EIO : errno
                return
            }
            off += n
        }
    }

    /// Interleaved samples, little-endian.
    public func write(samples: [Int16]) {
        var b = [UInt8](repeating: 0, count: samples.count * 2)
        for (i, s) in samples.enumerated() { b[2 * i] = UInt8(truncatingIfNeeded: s); b[2 * i + 1] = UInt8(truncatingIfNeeded: s >> 8) }
        write(b)
        frames += samples.count / channels
    }

    /// Patches the RIFF and data sizes (WAV on a seekable output).
    public func finish() {
        guard wav, lseek(fd, 0, SEEK_SET) == 0 else { return }
        write(header(dataBytes: frames * channels * 2))
        _ = lseek(fd, 0, SEEK_END)
    }
}

/// Feeds a streamer from a tone, a WAV file (resampled to the stream rate, channels mixed or duplicated) or
/// raw S16_LE on stdin, paced in real time by the monotonic clock. At the end of a file or of stdin the stream
/// carries on with silence (listeners keep playing).
public final class AoDNSInputPump: @unchecked Sendable {
    let streamer: AoDNSStreamer
    let spec: AoDNSInputSpec
    let rate: Int, channels: Int
    private let stopFlag = Atomic<Bool>(false)
    private var thread: RealtimeThread?
    private var wav: WAVReader?
    public let ended = Atomic<Bool>(false)

    public init(streamer: AoDNSStreamer, spec: AoDNSInputSpec) throws {
        self.streamer = streamer
        self.spec = spec
        rate = streamer.settings.sampleRate
        channels = streamer.settings.channels
        if case .wav(let path) = spec { wav = try WAVReader(path: path) }
    }

    public func start() {
        thread = RealtimeThread.start(name: "aodns-input") { [self] in run() }
    }

    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        thread?.join()
    }

    private func run() {
        let chunk = rate / 50                      // 20 ms
        var out = [Int16](repeating: 0, count: chunk * channels)
        var source: (inout [Int16]) -> Void
        switch spec {
        case .tone(let hz):
            let gen = ToneGenerator(frequency: hz, amplitude: 0.1, sampleRate: UInt32(rate))
            var t: UInt64 = 0
            source = { buf in
                for i in 0..<chunk {
                    let v = Int16(gen.sample(at: t &+ UInt64(i)) >> 16)
                    for c in 0..<self.channels { buf[i * self.channels + c] = v }
                }
                t &+= UInt64(chunk)
            }
        case .stdin:
            var raw = [UInt8](repeating: 0, count: chunk * channels * 2)
            source = { buf in
                var got = 0
                if !self.ended.load(ordering: .relaxed) {
                    while got < raw.count {
                        let n = raw.withUnsafeMutableBytes { read(0, $0.baseAddress! + got, $0.count - got) }
                        if n <= 0 { if n < 0 && errno == EINTR { continue }; self.ended.store(true, ordering: .relaxed); break }
                        got += n
                    }
                }
                for i in 0..<buf.count {
                    buf[i] = 2 * i + 1 < got ? Int16(bitPattern: UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8) : 0
                }
            }
        case .wav:
            let file = wav!
            let resamplers = (0..<channels).map { _ in Resampler(inputRate: file.sampleRate, outputRate: rate, maxInput: 16384) }
            var fileBuf: [Float] = []
            var mono = [Float](repeating: 0, count: 16384)
            var resampled = [[Float]](repeating: [], count: channels)
            var tmp = [Float](repeating: 0, count: resamplers[0].maxOutput(forInput: 16384))
            source = { buf in
                // Top up each channel's queue to a chunk.
                while resampled[0].count < chunk && !self.ended.load(ordering: .relaxed) {
                    let want = max(1, min(4096, chunk * file.sampleRate / self.rate + 1))
                    let n = file.read(frames: want, into: &fileBuf)
                    if n == 0 { self.ended.store(true, ordering: .relaxed); break }
                    for c in 0..<self.channels {
                        for i in 0..<n {
                            if self.channels == 1 {
                                var s: Float = 0
                                for k in 0..<file.channels { s += fileBuf[i * file.channels + k] }
                                mono[i] = s / Float(file.channels)
                            } else {
                                mono[i] = fileBuf[i * file.channels + min(c, file.channels - 1)]
                            }
                        }
                        let got = mono.withUnsafeBufferPointer { m in
                            tmp.withUnsafeMutableBufferPointer { resamplers[c].process(m.baseAddress!, count: n, into: $0.baseAddress!, capacity: $0.count) }
                        }
                        resampled[c].append(contentsOf: tmp[0..<got])
                    }
                }
                for c in 0..<self.channels {
                    let have = min(chunk, resampled[c].count)
                    for i in 0..<chunk {
                        let v = i < have ? resampled[c][i] : 0
                        buf[i * self.channels + c] = Int16(max(-32768, min(32767, (v * 32768).rounded())))
                    }
                    resampled[c].removeFirst(have)
                }
            }
        }
        let start = monoNanos()
        var sent: UInt64 = 0
        var base = start
        while !stopFlag.load(ordering: .relaxed) {
            let now = monoNanos()
            let due = (now - base) * UInt64(rate) / 1_000_000_000
            if due < sent + UInt64(chunk) {
                sleepNanoseconds(5_000_000)
                continue
            }
            if due > sent + UInt64(rate) {
                // More than a second behind (a stalled pipe): carry on from now.
                base = now - sent * 1_000_000_000 / UInt64(rate)
            }
            source(&out)
            streamer.push(out)
            sent += UInt64(chunk)
        }
    }
}
