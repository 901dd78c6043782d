import ArgumentParser
import Foundation
import InfernoAoDNS
import InfernoCommandLine
import InfernoDevice
import InfernoProtocol

/// `inferno aodns`: the AoDNS bridge on its own, without a Dante network.
struct AoDNSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aodns",
        abstract: "Audio over DNS TXT records: serve a stream as an authoritative zone, or listen to one.",
        discussion: """
            Compatible with the original AoDNS (Python) both ways: its client plays our zones (sequence, seq_N), and \
            our listener plays its servers (v1 mode). v2 adds config, head and epoch-scoped seq_N.<epoch> records, \
            fixed-duration packs whose answers fit 1232 bytes, and a listener that starts near the live edge.
            """,
        subcommands: [AoDNSServe.self, AoDNSListen.self])
}

func fail(_ message: String, code: Int32 = 2) -> ExitCode {
    FileHandle.standardError.write(Data("inferno: \(message)\n".utf8))
    return ExitCode(code)
}

func parseZone(_ s: String, option: String) throws -> DNSName {
    guard !s.isEmpty, let z = try? DNSName(s), !z.isRoot,
          z.labels.allSatisfy({ $0.allSatisfy { $0 > 0x20 && $0 < 0x7F } }) else {
        throw fail("\(option): \"\(s)\" is not a domain name")
    }
    return z
}

/// `ZONE@SERVER[:PORT]` (port 5053 by default).
func parseZoneAtServer(_ s: String, option: String) throws -> (DNSName, SocketEndpoint) {
    guard let at = s.lastIndex(of: "@") else { throw fail("\(option): \"\(s)\" must be ZONE@SERVER:PORT") }
    let zone = try parseZone(String(s[..<at]), option: option)
    guard let ep = SocketEndpoint(String(s[s.index(after: at)...]), defaultPort: 5053), ep.port != 0 else {
        throw fail("\(option): \"\(s)\": the server must be an IPv4 address or [IPv6], optionally with :PORT")
    }
    return (zone, ep)
}

struct AoDNSServerFlags: ParsableArguments {
    @Option(name: .customLong("rate"), help: "Stream sample rate: 8000, 12000 or 16000. Default 16000.")
    var rate = 16000
    @Option(help: "1 or 2. Default 1.")
    var channels = 1
    @Option(name: .customLong("pack-ms"), help: "Pack duration, a multiple of 60 ms. Default 240 (4 Opus packets: each answer ≤ 1232 bytes).")
    var packMs = 240
    @Option(help: "Opus bitrate in bit/s. Default 20000 at 16 kHz (16000 at 12 kHz, 12000 at 8 kHz; ×1.5 stereo), capped so answers fit.")
    var bitrate: Int?
    @Option(help: "Packs published at once (v1's --max-sequences). Default 75.")
    var window = 75
    @Option(name: .customLong("rate-limit"), help: "UDP responses per second per source address, 0 = unlimited. Default 200 (burst 400).")
    var rateLimit = 200

    func settings(zone: DNSName) throws -> AoDNSServeSettings {
        var s = AoDNSServeSettings()
        s.sampleRate = rate; s.channels = channels; s.packMs = packMs; s.bitrate = bitrate; s.window = window
        if let problem = s.validate(zone: zone) { throw fail(problem) }
        guard rateLimit >= 0, rateLimit <= 1_000_000 else { throw fail("--rate-limit: \"\(rateLimit)\" must be 0 to 1000000") }
        return s
    }

    var serverOptions: DNSServer.Options {
        var o = DNSServer.Options()
        o.rateLimit = DNSRateLimiter.Config(responsesPerSecond: rateLimit, burst: max(1, rateLimit * 2))
        return o
    }
}

/// Starts the DNS server and the streamer for `zone` on `listen`; one-line errors exit 2.
func startAoDNSServer(zone: DNSName, listen: SocketEndpoint, settings: AoDNSServeSettings,
                      options: DNSServer.Options, option: String = "--listen") throws -> (DNSServer, AoDNSStreamer) {
    do {
        let placeholder = AoDNSPublication(zone: zone, config: AoDNSConfig(sampleRate: settings.sampleRate, channels: settings.channels,
                                                                          packetsPerPack: settings.packetsPerPack, window: settings.window,
                                                                          epoch: 0, bitrate: 0), startedAtMs: unixMillis())
        let server = try DNSServer(endpoint: listen, zone: placeholder.zone(), options: options)
        let streamer = try AoDNSStreamer(zone: zone, settings: settings, server: server)
        server.start()
        return (server, streamer)
    } catch let e as ExitCode {
        throw e
    } catch {
        throw fail("\(option): \(error)")
    }
}

struct AoDNSServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Publish audio as an AoDNS zone (authoritative DNS over UDP and TCP) until SIGINT/SIGTERM.")

    @Argument(help: "The zone, e.g. music.example.com.")
    var zone: String
    @Option(help: "ADDR:PORT to serve DNS on (UDP and TCP). Default 127.0.0.1:5053.")
    var listen = "127.0.0.1:5053"
    @Option(help: "wav:FILE (any rate: resampled), tone[:HZ] (−20 dBFS, default 1000 Hz) or - (raw S16_LE at --rate/--channels on stdin). Default tone.")
    var input = "tone"
    @OptionGroup var flags: AoDNSServerFlags
    @Option(name: .customLong("status-interval"), help: "Seconds between status lines on stderr, 0 = none. Default 5.")
    var statusInterval = 5.0

    func run() throws {
        let z = try parseZone(zone, option: "ZONE")
        guard let ep = SocketEndpoint(listen) else { throw fail("--listen: \"\(listen)\" must be ADDR:PORT or [V6]:PORT") }
        guard let spec = AoDNSInputSpec.parse(input) else {
            throw fail("--input: \"\(input)\" must be wav:FILE, tone[:HZ] or -")
        }
        let settings = try flags.settings(zone: z)
        signal(SIGPIPE, SIG_IGN)
        let (server, streamer) = try startAoDNSServer(zone: z, listen: ep, settings: settings, options: flags.serverOptions)
        let pump: AoDNSInputPump
        do { pump = try AoDNSInputPump(streamer: streamer, spec: spec) } catch {
            server.stop()
            throw fail("\(error)")
        }
        pump.start()
        let ch = settings.channels == 1 ? "mono" : "stereo"
        FileHandle.standardError.write(Data("aodns serve: zone \(z) on \(ep) (UDP+TCP), epoch \(String(streamer.epoch, radix: 16)), \(settings.sampleRate) Hz \(ch), \(settings.packetsPerPack)×60 ms packs, \(streamer.bitrate) bit/s (packets ≤ \(streamer.maxPacketBytes) B), window \(settings.window)\n".utf8))
        let status = statusTimer(every: statusInterval) {
            "aodns serve: \(streamer.summary) | \(server.counters.summary)"
        }
        waitForSignal()
        status?.cancel()
        pump.stop()
        server.stop()
        FileHandle.standardError.write(Data("aodns serve: stopped: \(streamer.summary) | \(server.counters.summary)\n".utf8))
    }
}

func statusTimer(every seconds: Double, _ line: @escaping @Sendable () -> String) -> DispatchSourceTimer? {
    guard seconds > 0 else { return nil }
    let t = DispatchSource.makeTimerSource(queue: .global())
    t.schedule(deadline: .now() + seconds, repeating: seconds)
    t.setEventHandler { FileHandle.standardError.write(Data((line() + "\n").utf8)) }
    t.resume()
    return t
}

struct AoDNSListen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Play an AoDNS stream into a WAV file or stdout (raw S16_LE), paced in real time.")

    @Argument(help: "ZONE@SERVER[:PORT], e.g. music.example.com@127.0.0.1:5053 (a resolver works too).")
    var source: String
    @Option(name: [.short, .long], help: "FILE.wav (16-bit PCM) or - (raw S16_LE on stdout).")
    var output: String
    @Option(help: "Stop after this many seconds of audio.")
    var duration: Double?
    @Option(name: .customLong("rate"), help: "Output sample rate: 8000, 12000, 16000, 24000 or 48000. Default 16000.")
    var rate = 16000
    @Option(help: "Output channels, 1 or 2. Default 1.")
    var channels = 1
    @Option(name: .customLong("latency-ms"), help: "v2: capture-to-output delay to aim for. Default 800.")
    var latencyMs = 800
    @Flag(name: .customLong("from-oldest"), help: "v2: start at the oldest published pack (the whole window behind, like the original client) instead of --latency-ms behind the live edge.")
    var fromOldest = false
    @Option(name: .customLong("protocol"), help: "auto (v2 if the zone has a config record), v1 or v2. Default auto.")
    var proto = "auto"
    @Option(help: "Give up (exit 1) when no audio arrives within this many seconds. Default 30.")
    var timeout = 30.0
    @Option(name: .customLong("status-interval"), help: "Seconds between status lines on stderr, 0 = none. Default 5.")
    var statusInterval = 5.0

    func run() throws {
        let (zone, server) = try parseZoneAtServer(source, option: "SOURCE")
        guard [8000, 12000, 16000, 24000, 48000].contains(rate) else {
            throw fail("--rate: \"\(rate)\" must be 8000, 12000, 16000, 24000 or 48000")
        }
        guard channels == 1 || channels == 2 else { throw fail("--channels: \"\(channels)\" must be 1 or 2") }
        guard latencyMs >= 100, latencyMs <= 60_000 else { throw fail("--latency-ms: \"\(latencyMs)\" must be 100 to 60000") }
        guard let mode = AoDNSListenSettings.Mode(rawValue: proto) else { throw fail("--protocol: \"\(proto)\" must be auto, v1 or v2") }
        if let d = duration, !(d > 0) { throw fail("--duration: \"\(d)\" must be a positive number of seconds") }
        var settings = AoDNSListenSettings(zone: zone, server: server)
        settings.outputRate = rate; settings.outputChannels = channels; settings.latencyMs = latencyMs; settings.mode = mode
        settings.fromOldest = fromOldest
        let fd: Int32 = output == "-" ? 1 : open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("--output: cannot open \(output): \(String(cString: strerror(errno)))") }
        signal(SIGPIPE, SIG_IGN)
        let listener: AoDNSListener
        do {
            listener = try AoDNSListener(settings: settings) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        } catch { throw fail("\(error)") }
        let writer = PCMWriter(fd: fd, wav: output != "-" && output.lowercased().hasSuffix(".wav"), rate: rate, channels: channels)
        listener.start()
        let rate = self.rate
        let status = statusTimer(every: statusInterval) {
            let secs = Double(writer.frames) / Double(rate)
            return String(format: "aodns listen: %.1f s written | ", secs) + listener.stats.summary
        }
        let stop = StopFlag()
        let begun = monotonicNow()
        var startedAt: Int64 = 0
        var written = 0
        let total = duration.map { Int($0 * Double(rate)) }
        let chunk = rate / 100
        var gaveUp = false
        waitInBackground(stop)
        while !stop.isSet {
            let now = monotonicNow()
            if !listener.isPlaying {
                let got = listener.pull(frames: chunk)
                if got.isEmpty {
                    if Double(now - begun) / 1e9 > timeout { gaveUp = true; break }
                    sleepNanoseconds(10_000_000)
                    continue
                }
                startedAt = now
                FileHandle.standardError.write(Data(String(format: "aodns listen: %@ stream, first audio after %.2f s\n", listener.mode?.rawValue ?? "?", Double(now - begun) / 1e9).utf8))
                writer.write(samples: got)
                written = got.count / channels
                continue
            }
            // Pull what the wall clock says is due (10 ms chunks).
            var due = Int(Double(now - startedAt) / 1e9 * Double(rate))
            if let t = total { due = min(due, t) }
            while written + chunk <= due || (total != nil && written < due && due == total!) {
                let n = min(chunk, due - written)
                writer.write(samples: listener.pull(frames: n))
                written += n
            }
            if let t = total, written >= t { break }
            if writer.failed != 0 { break }
            sleepNanoseconds(5_000_000)
        }
        status?.cancel()
        listener.stop()
        writer.finish()
        if fd != 1 { close(fd) }
        FileHandle.standardError.write(Data(String(format: "aodns listen: done: %.2f s written | %@\n", Double(writer.frames) / Double(rate), listener.stats.summary).utf8))
        if gaveUp {
            throw fail("no audio from \(zone)@\(server) within \(Int(timeout)) s: \(listener.lastError ?? "no usable records")", code: 1)
        }
        if writer.failed != 0 { throw fail("writing \(output): \(String(cString: strerror(writer.failed)))", code: 1) }
    }
}

/// Set by SIGINT/SIGTERM (see `waitInBackground`).
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

/// Sets `flag` on SIGINT or SIGTERM (from a background thread).
func waitInBackground(_ flag: StopFlag) {
    Thread.detachNewThread {
        waitForSignal()
        flag.set()
    }
}
