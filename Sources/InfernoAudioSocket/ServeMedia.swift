import Glibc
import InfernoDevice
import InfernoMedia
import InfernoProtocol

/// `inferno audiosocket serve`: calls without a Dante network. Each call is recorded to `DIR/<uuid>.wav`
/// (16-bit mono at the rate of the call's first audio; later audio at another rate is resampled to it) and
/// every caller hears the same thing: silence, a tone (−20 dBFS), or a WAV file from its start (then silence).
public final class ServeMedia: AudioSocketMedia, @unchecked Sendable {
    public enum Play: Equatable, Sendable {
        case silence
        case tone(Double)
        case wav(String)

        /// `silence`, `tone[:HZ]`, `wav:FILE`.
        public static func parse(_ s: String) -> Play? {
            if s == "silence" { return .silence }
            if s == "tone" { return .tone(1000) }
            if s.hasPrefix("tone:"), let hz = Double(s.dropFirst(5)), hz > 0, hz < 96000 { return .tone(hz) }
            if s.hasPrefix("wav:"), s.count > 4 { return .wav(String(s.dropFirst(4))) }
            return nil
        }
    }

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    let slots: Int
    let recordDir: String?
    let play: Play
    let toneHz: Double
    /// Decoded `--play wav:` file (mono floats) and its rate.
    let file: [Float]
    let fileRate: Int
    /// The file at each AudioSocket rate, made by `prepare` (I/O thread) before the pacer can ask for that rate.
    let cache: UnsafeMutablePointer<UnsafeMutableBufferPointer<Int16>?>
    // Pacer-owned, per slot.
    let position: UnsafeMutablePointer<Int>
    let phase: UnsafeMutablePointer<Double>
    let lastRate: UnsafeMutablePointer<Int>
    // I/O-owned, per slot.
    var writers: [WAVWriter?]
    var onRecorded: (@Sendable (Int, String) -> Void)?

    public init(slots: Int, recordDir: String?, play: Play, onRecorded: (@Sendable (Int, String) -> Void)? = nil) throws(Failure) {
        self.slots = slots
        self.recordDir = recordDir
        self.play = play
        self.onRecorded = onRecorded
        if let recordDir {
            var st = stat()
            if stat(recordDir, &st) != 0 { _ = mkdir(recordDir, 0o755) }
            guard stat(recordDir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, access(recordDir, W_OK) == 0 else {
                throw Failure(description: "--record: \(recordDir) is not a writable directory")
            }
        }
        switch play {
        case .tone(let hz): toneHz = hz; file = []; fileRate = 8000
        case .silence: toneHz = 0; file = []; fileRate = 8000
        case .wav(let path):
            toneHz = 0
            do {
                (file, fileRate) = try WAVReader.readMono(path)
            } catch {
                throw Failure(description: "--play: \(error)")
            }
        }
        cache = .allocate(capacity: AudioSocketKind.audioRates.count)
        cache.initialize(repeating: nil, count: AudioSocketKind.audioRates.count)
        position = .allocate(capacity: slots); position.initialize(repeating: 0, count: slots)
        phase = .allocate(capacity: slots); phase.initialize(repeating: 0, count: slots)
        lastRate = .allocate(capacity: slots); lastRate.initialize(repeating: 8000, count: slots)
        writers = Array(repeating: nil, count: slots)
    }

    deinit {
        for i in 0..<AudioSocketKind.audioRates.count { cache[i]?.deallocate() }
        cache.deallocate(); position.deallocate(); phase.deallocate(); lastRate.deallocate()
    }

    public func prepare(slot: Int, sampleRate: Int) {
        guard case .wav = play, let idx = AudioSocketKind.audioRates.firstIndex(of: sampleRate), cache[idx] == nil else { return }
        var samples: [Float]
        if sampleRate == fileRate {
            samples = file
        } else {
            let r = Resampler(inputRate: fileRate, outputRate: sampleRate, maxInput: 4096)
            samples = []
            samples.reserveCapacity(file.count * sampleRate / fileRate + 8)
            var out = [Float](repeating: 0, count: 4096 * max(1, sampleRate / fileRate + 1) + 64)
            var i = 0
            while i <= file.count {
                let n = min(4096, file.count - i)
                let produced: Int
                if n > 0 {
                    produced = file[i..<(i + n)].withUnsafeBufferPointer { ip in
                        out.withUnsafeMutableBufferPointer { r.process(ip.baseAddress!, count: n, into: $0.baseAddress!, capacity: $0.count) }
                    }
                } else {
                    // Flush the look-ahead with silence.
                    let zeros = [Float](repeating: 0, count: r.filter.taps)
                    produced = zeros.withUnsafeBufferPointer { zp in
                        out.withUnsafeMutableBufferPointer { r.process(zp.baseAddress!, count: zp.count, into: $0.baseAddress!, capacity: $0.count) }
                    }
                }
                samples += out[0..<produced]
                i += max(n, 1)
            }
            samples = Array(samples.prefix(file.count * sampleRate / fileRate))
        }
        let buf = UnsafeMutableBufferPointer<Int16>.allocate(capacity: max(1, samples.count))
        buf.initialize(repeating: 0)
        samples.withUnsafeBufferPointer { SampleFormat.s16(from: $0.baseAddress!, count: samples.count, into: buf.baseAddress!) }
        cache[idx] = UnsafeMutableBufferPointer(rebasing: buf[0..<samples.count])
    }

    public func callStarted(slot: Int, uuid: AudioSocketUUID) {
        guard let dir = recordDir else { return }
        var path = "\(dir)/\(uuid).wav"
        var k = 2
        while access(path, F_OK) == 0 { path = "\(dir)/\(uuid)-\(k).wav"; k += 1 }
        writers[slot] = WAVWriter(path: path)
    }

    public func callAudio(slot: Int, kind: AudioSocketKind, samples: UnsafeRawBufferPointer) {
        guard let w = writers[slot], let rate = kind.sampleRate else { return }
        w.append(samples, rate: rate)
    }

    public func callEnded(slot: Int) {
        guard let w = writers[slot] else { return }
        w.finish()
        writers[slot] = nil
        onRecorded?(slot, w.path)
    }

    public func render(slot: Int, sampleRate: Int, restart: Bool, into dst: UnsafeMutablePointer<Int16>, count: Int) {
        if restart { position[slot] = 0; phase[slot] = 0; lastRate[slot] = sampleRate }
        switch play {
        case .silence:
            dst.update(repeating: 0, count: count)
        case .tone:
            var ph = phase[slot]
            let inc = 2 * Double.pi * toneHz / Double(sampleRate)
            for i in 0..<count {
                dst[i] = Int16((sin(ph) * 0.1 * 32767).rounded())
                ph += inc
                if ph > 2 * Double.pi { ph -= 2 * Double.pi }
            }
            phase[slot] = ph
        case .wav:
            if lastRate[slot] != sampleRate {
                position[slot] = position[slot] * sampleRate / max(1, lastRate[slot])
                lastRate[slot] = sampleRate
            }
            guard let idx = AudioSocketKind.audioRates.firstIndex(of: sampleRate), let src = cache[idx] else {
                dst.update(repeating: 0, count: count); return
            }
            let pos = position[slot]
            let n = max(0, min(count, src.count - pos))
            if n > 0 { dst.update(from: src.baseAddress! + pos, count: n) }
            if n < count { (dst + n).update(repeating: 0, count: count - n) }
            position[slot] = pos + count
        }
    }
}

/// 16-bit mono WAV, written as audio arrives (I/O thread). The rate is that of the first audio; audio at another
/// rate is resampled to it. The header's sizes are filled in by `finish`.
final class WAVWriter {
    let path: String
    let fd: Int32
    var rate: Int?
    var dataBytes = 0
    var resamplers: [Int: Resampler] = [:]
    var floatsIn = [Float](repeating: 0, count: 4096)
    var floatsOut = [Float](repeating: 0, count: 4096 * 25)
    var s16 = [Int16](repeating: 0, count: 4096 * 25)

    init?(path: String) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        writeAll(WAVWriter.header(rate: 8000, dataBytes: 0))
    }

    func append(_ samples: UnsafeRawBufferPointer, rate r: Int) {
        if rate == nil {
            rate = r
            let h = WAVWriter.header(rate: r, dataBytes: 0)
            _ = h.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        guard let rate else { return }
        if r == rate {
            writeAll(samples)
            dataBytes += samples.count
            return
        }
        let res = resamplers[r] ?? Resampler(inputRate: r, outputRate: rate, maxInput: 8192)
        resamplers[r] = res
        var offset = 0
        let total = samples.count / 2
        while offset < total {
            let n = min(4096, total - offset)
            floatsIn.withUnsafeMutableBufferPointer {
                SampleFormat.floats(fromS16LE: samples.baseAddress! + 2 * offset, count: n, into: $0.baseAddress!)
            }
            let produced = floatsIn.withUnsafeBufferPointer { ip in
                floatsOut.withUnsafeMutableBufferPointer { res.process(ip.baseAddress!, count: n, into: $0.baseAddress!, capacity: $0.count) }
            }
            floatsOut.withUnsafeBufferPointer { fp in
                s16.withUnsafeMutableBufferPointer { SampleFormat.s16(from: fp.baseAddress!, count: produced, into: $0.baseAddress!) }
            }
            s16.withUnsafeBytes { writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<(produced * 2)])) }
            dataBytes += produced * 2
            offset += n
        }
    }

    func finish() {
        let h = WAVWriter.header(rate: rate ?? 8000, dataBytes: dataBytes)
        _ = h.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        close(fd)
    }

    private func writeAll(_ bytes: [UInt8]) { bytes.withUnsafeBytes { writeAll($0) } }

    private func writeAll(_ b: UnsafeRawBufferPointer) {
        var off = 0
        while off < b.count {
            let n = write(fd, b.baseAddress! + off, b.count - off)
            if n < 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }

    /// RIFF/WAVE, PCM (1), mono, 16-bit.
    static func header(rate: Int, dataBytes: Int) -> [UInt8] {
        var h: [UInt8] = []
        func u32(_ v: Int) { for k in 0..<4 { h.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
        func u16(_ v: Int) { h.append(UInt8(truncatingIfNeeded: v)); h.append(UInt8(truncatingIfNeeded: v >> 8)) }
        h += Array("RIFF".utf8); u32(36 + dataBytes); h += Array("WAVE".utf8)
        h += Array("fmt ".utf8); u32(16); u16(1); u16(1); u32(rate); u32(rate * 2); u16(2); u16(16)
        h += Array("data".utf8); u32(dataBytes)
        return h
    }
}

/// Reads a PCM WAV file (16/24/32-bit integer or 32-bit float, any channel count: the channels are averaged).
enum WAVReader {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func readMono(_ path: String) throws(Failure) -> ([Float], Int) {
        guard let f = fopen(path, "rb") else { throw Failure(description: "cannot open \(path)") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 512 << 20 { throw Failure(description: "\(path) is larger than 512 MB") }
        }
        func le(_ o: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[o + $1]) << (8 * $1) } }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw Failure(description: "\(path) is not a WAV file")
        }
        var o = 12
        var fmt: (tag: Int, channels: Int, rate: Int, bits: Int)?
        while o + 8 <= bytes.count {
            let size = le(o + 4, 4)
            let body = o + 8
            if bytes[o..<(o + 4)].elementsEqual("fmt ".utf8) {
                guard size >= 16, body + 16 <= bytes.count else { throw Failure(description: "\(path): short fmt chunk") }
                var tag = le(body, 2)
                if tag == 0xFFFE, size >= 26, body + 26 <= bytes.count { tag = le(body + 24, 2) }
                fmt = (tag, le(body + 2, 2), le(body + 4, 4), le(body + 14, 2))
            } else if bytes[o..<(o + 4)].elementsEqual("data".utf8) {
                guard let fm = fmt else { throw Failure(description: "\(path): data before fmt") }
                guard fm.channels >= 1, fm.channels <= 64, fm.rate >= 1000, fm.rate <= 384_000 else {
                    throw Failure(description: "\(path): \(fm.channels) channels at \(fm.rate) Hz")
                }
                let width: Int
                switch (fm.tag, fm.bits) {
                case (1, 16): width = 2
                case (1, 24): width = 3
                case (1, 32), (3, 32): width = 4
                default: throw Failure(description: "\(path): only 16/24/32-bit PCM or 32-bit float WAV is supported")
                }
                let end = min(bytes.count, size == 0xFFFF_FFFF ? bytes.count : body + size)
                let frames = (end - body) / (width * fm.channels)
                var out = [Float](repeating: 0, count: frames)
                for i in 0..<frames {
                    var acc: Float = 0
                    for c in 0..<fm.channels {
                        let p = body + (i * fm.channels + c) * width
                        switch width {
                        case 2: acc += Float(Int16(bitPattern: UInt16(le(p, 2)))) / 32768
                        case 3: acc += Float(Int32(bitPattern: UInt32(le(p, 3)) << 8)) / 2_147_483_648
                        default:
                            let u = UInt32(le(p, 4))
                            acc += fm.tag == 3 ? Float(bitPattern: u) : Float(Int32(bitPattern: u)) / 2_147_483_648
                        }
                    }
                    out[i] = acc / Float(fm.channels)
                }
                return (out, fm.rate)
            }
            o = body + size + (size & 1)
        }
        throw Failure(description: "\(path): no data chunk")
    }
}
