import ArgumentParser
import Foundation
import InfernoCommandLine
import InfernoDevice
import InfernoMedia

/// `inferno record`: run a device and write its RX channels to a file, FIFO or stdout.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a device and record its RX channels to WAV or raw S32_LE (a file, a FIFO or stdout).",
        discussion: """
            Subscribe the device's RX channels from a controller (netaudio, Dante Controller, `inferno subscribe`); \
            subscriptions are kept in the state file, so they come back on the next start. Output is paced by \
            the media clock: frame k holds the audio of media time first+k, played out at the latency. \
            A status line goes to stderr every second.
            """)

    @OptionGroup var device: DeviceOptions
    @Option(help: "RX channels to record, e.g. 1-4 or 1,3,5 (default: all).")
    var channels: String?
    @Option(name: [.short, .long], help: "Output file, FIFO or - for stdout. .wav gets a WAV header, anything else raw interleaved samples.")
    var output: String
    @Option(help: "Stop after this many seconds of audio.")
    var duration: Double?
    @Option(help: "32 (S32_LE) or 24 (S24_3LE).")
    var bits: Int = 32
    @Option(help: "wav or raw (default: from the file name; stdout is raw).")
    var format: String?
    @Flag(help: "No status lines on stderr.")
    var quiet = false

    func run() throws {
        guard bits == 24 || bits == 32 else {
            FileHandle.standardError.write(Data("inferno: --bits: \"\(bits)\" must be 24 or 32\n".utf8))
            throw ExitCode(2)
        }
        var list: [Int]?
        if let channels {
            guard let l = Self.parseChannels(channels) else {
                FileHandle.standardError.write(Data("inferno: --channels: \"\(channels)\" must be a list like 1-4 or 1,3,5\n".utf8))
                throw ExitCode(2)
            }
            list = l
        }
        var overrides: [String: String] = [:]
        if device.rx == nil, ProcessInfo.processInfo.environment["INFERNO_RX_CHANNELS"] == nil, let m = list?.max() {
            overrides["rx"] = String(max(2, m))
        }
        let fmt: Recorder.Format
        switch format ?? (output.lowercased().hasSuffix(".wav") ? "wav" : "raw") {
        case "wav": fmt = .wav
        case "raw": fmt = .raw
        default:
            FileHandle.standardError.write(Data("inferno: --format: \"\(format ?? "")\" must be wav or raw\n".utf8))
            throw ExitCode(2)
        }
        let fd: Int32 = output == "-" ? 1 : open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            FileHandle.standardError.write(Data("inferno: --output: cannot open \(output): \(String(cString: strerror(errno)))\n".utf8))
            throw ExitCode(2)
        }
        signal(SIGPIPE, SIG_IGN)
        let runtime = try device.startDevice(overrides: overrides)
        let rxCount = runtime.rx.channels
        let selected = (list ?? Array(1...max(1, rxCount))).map { $0 - 1 }
        guard selected.allSatisfy({ $0 >= 0 && $0 < rxCount }) else {
            FileHandle.standardError.write(Data("inferno: --channels: the device has \(rxCount) RX channels\n".utf8))
            runtime.stop()
            throw ExitCode(2)
        }
        let recorder = Recorder(engine: runtime.rx, clock: runtime.clock, sampleRate: UInt32(runtime.sampleRate),
                                options: .init(channels: selected, format: fmt, bits: bits, duration: duration), fd: fd)
        recorder.start()
        // The "first frame" line is written by this thread only (the status timer writes status lines).
        var announced = false
        func announce() {
            guard !announced, recorder.started.load(ordering: .acquiring) else { return }
            announced = true
            FileHandle.standardError.write(Data("record: first frame at media time \(recorder.firstSampleTime), playout latency \(recorder.playoutLatency) samples\n".utf8))
        }
        let status = DispatchSource.makeTimerSource(queue: .global())
        status.schedule(deadline: .now() + 1, repeating: 1)
        status.setEventHandler {
            guard !quiet else { return }
            let peaks = recorder.takePeaks().map { p -> String in
                p == 0 ? "-inf" : String(format: "%.1f", 20 * log10(Double(p) / 2147483648.0))
            }
            let m = runtime.mediaStatus
            let secs = Double(recorder.framesRecorded.load(ordering: .relaxed)) / Double(runtime.sampleRate)
            let line = String(format: "record %.1f s | clock %@ | peak dBFS %@ | rx packets %llu late %llu out-of-window %llu malformed %llu foreign %llu | missing %d stalled-output %d\n",
                              secs, m.clockAvailable ? runtime.clock.description : "UNAVAILABLE",
                              peaks.joined(separator: " "), m.rxPackets, m.rxLate, m.rxOutOfWindow, m.rxMalformed, m.rxForeign,
                              recorder.missingSamples.load(ordering: .relaxed), recorder.stalledTotal)
            FileHandle.standardError.write(Data(line.utf8))
        }
        status.resume()
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread { recorder.wait(); finished.signal() }
        var done = false
        waitForSignal {
            announce()
            done = finished.wait(timeout: .now()) == .success
            return done
        }
        recorder.stop()
        // Let the writer drain and finalise the WAV header before the file is closed.
        if !done { finished.wait() }
        status.cancel()
        runtime.stop()
        announce()
        FileHandle.standardError.write(Data("record: \(recorder.framesWritten.load(ordering: .relaxed)) frames of \(selected.count) channels written, \(recorder.missingSamples.load(ordering: .relaxed)) samples missing, \(recorder.stalledTotal) frames of output stall\n".utf8))
        if fd != 1 { close(fd) }
        let err = recorder.writeError.load(ordering: .relaxed)
        if err != 0 {
            FileHandle.standardError.write(Data("inferno: writing \(output): \(String(cString: strerror(err)))\n".utf8))
            throw ExitCode(1)
        }
    }

    static func parseChannels(_ s: String) -> [Int]? {
        var out: [Int] = []
        for part in s.split(separator: ",") {
            let r = part.split(separator: "-")
            if r.count == 1, let a = Int(r[0]), a >= 1 { out.append(a) }
            else if r.count == 2, let a = Int(r[0]), let b = Int(r[1]), a >= 1, b >= a, b - a < 1024 { out += Array(a...b) }
            else { return nil }
        }
        return out.isEmpty ? nil : out
    }
}
