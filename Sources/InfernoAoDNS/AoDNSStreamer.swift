import InfernoProtocol
import Synchronization

/// Settings of a published stream (`inferno aodns serve`, `inferno run --aodns-serve`).
public struct AoDNSServeSettings: Sendable, Equatable {
    /// 8000, 12000 or 16000 (the original's choices).
    public var sampleRate = 16000
    /// 1, or 2 (the packets always fit: the bitrate is capped by the answer budget).
    public var channels = 1
    /// Pack duration, a multiple of 60 ms (packets per pack = packMs / 60).
    public var packMs = 240
    /// Opus bitrate (bit/s); nil = 12/16/20 kbit/s at 8/12/16 kHz (× 1.5 for stereo), capped by the answer budget.
    public var bitrate: Int?
    /// Packs published at once (the original's `--max-sequences`, default 75).
    public var window = 75
    public init() {}

    public static let rates = [8000, 12000, 16000]

    public var packetsPerPack: Int { packMs / OpusFrameEncoder.frameMs }
    public var defaultBitrate: Int {
        let mono = sampleRate <= 8000 ? 12000 : sampleRate <= 12000 ? 16000 : 20000
        return channels == 2 ? mono * 3 / 2 : mono
    }

    /// Checks the combination for `zone`: one-line problems naming the option.
    public func validate(zone: DNSName) -> String? {
        if !Self.rates.contains(sampleRate) { return "--rate: \"\(sampleRate)\" must be 8000, 12000 or 16000" }
        if channels != 1 && channels != 2 { return "--channels: \"\(channels)\" must be 1 or 2" }
        if packMs < 60 || packMs % 60 != 0 || packMs > 60 * 64 {
            return "--pack-ms: \"\(packMs)\" must be a multiple of 60 from 60 to 3840"
        }
        if window < 2 || window > 999 { return "--window: \"\(window)\" must be 2 to 999 packs" }
        if let b = bitrate, b < 6000 || b > 128_000 { return "--bitrate: \"\(b)\" must be 6000 to 128000 bit/s" }
        if AoDNSPublication.maxPacketBytes(zone: zone, packetsPerPack: packetsPerPack) == nil {
            return "--pack-ms: \(packMs) ms packs of \(zone) cannot fit a 1232-byte answer: use shorter packs or a shorter zone name"
        }
        return nil
    }
}

/// Opus-encodes a PCM stream into 60 ms packets, groups them into fixed-size packs and publishes each pack by
/// swapping a new zone into the server. `push` is called by one producer thread.
public final class AoDNSStreamer: @unchecked Sendable {
    public let settings: AoDNSServeSettings
    public let server: DNSServer
    public let zone: DNSName
    public let maxPacketBytes: Int
    public let bitrate: Int
    private let encoder: OpusFrameEncoder
    private var publication: AoDNSPublication
    private var frame: [Int16]
    private var filled = 0
    private var packets: [[UInt8]] = []

    public let packsPublished = Atomic<Int>(0)
    public let packetBytes = Atomic<Int>(0)
    public let packetsEncoded = Atomic<Int>(0)
    public let largestPacket = Atomic<Int>(0)
    public let encodeErrors = Atomic<Int>(0)

    public var epoch: UInt32 { publication.config.epoch }
    public var config: AoDNSConfig { publication.config }

    public init(zone: DNSName, settings: AoDNSServeSettings, server: DNSServer, epoch: UInt32? = nil,
                now: UInt64 = unixMillis()) throws {
        self.zone = zone
        self.settings = settings
        self.server = server
        let cap = AoDNSPublication.maxPacketBytes(zone: zone, packetsPerPack: settings.packetsPerPack) ?? 16
        maxPacketBytes = cap
        // Never ask for more than the cap carries at 60 ms.
        bitrate = min(settings.bitrate ?? settings.defaultBitrate, cap * 8 * 1000 / OpusFrameEncoder.frameMs)
        encoder = try OpusFrameEncoder(sampleRate: settings.sampleRate, channels: settings.channels, bitrate: bitrate,
                                       maxPacketBytes: cap)
        var rng = SystemRandomNumberGenerator()
        let config = AoDNSConfig(sampleRate: settings.sampleRate, channels: settings.channels,
                                 packetsPerPack: settings.packetsPerPack, window: settings.window,
                                 epoch: epoch ?? UInt32.random(in: 1...UInt32.max, using: &rng), bitrate: bitrate)
        publication = AoDNSPublication(zone: zone, config: config, startedAtMs: now)
        frame = [Int16](repeating: 0, count: encoder.frameSamples * settings.channels)
        server.setZone(publication.zone())
    }

    /// Samples per channel of one 60 ms frame.
    public var frameSamples: Int { encoder.frameSamples }

    /// Interleaved samples at the stream's rate and channel count.
    public func push(_ samples: UnsafePointer<Int16>, frames: Int) {
        let ch = settings.channels
        var i = 0
        while i < frames {
            let take = min(frames - i, encoder.frameSamples - filled)
            frame.withUnsafeMutableBufferPointer { f in
                (f.baseAddress! + filled * ch).update(from: samples + i * ch, count: take * ch)
            }
            filled += take
            i += take
            if filled == encoder.frameSamples {
                filled = 0
                encodeFrame()
            }
        }
    }

    public func push(_ samples: [Int16]) {
        samples.withUnsafeBufferPointer { push($0.baseAddress!, frames: $0.count / settings.channels) }
    }

    private func encodeFrame() {
        do {
            let p = try frame.withUnsafeBufferPointer { f throws(OpusFrameEncoder.Failure) in try encoder.encode(f.baseAddress!) }
            packets.append(p)
            packetsEncoded.add(1, ordering: .relaxed)
            packetBytes.add(p.count, ordering: .relaxed)
            if p.count > largestPacket.load(ordering: .relaxed) { largestPacket.store(p.count, ordering: .relaxed) }
        } catch {
            // Keep the pack's length (and so its timing): a 1-byte packet would be refused by decoders, so use a
            // DTX-like empty frame: TOC of the stream's config with no payload decodes as silence/concealment.
            encodeErrors.add(1, ordering: .relaxed)
            packets.append([0xF8])
        }
        if packets.count == settings.packetsPerPack {
            publication.append(packets: packets, closedAtMs: unixMillis())
            packets.removeAll(keepingCapacity: true)
            server.setZone(publication.zone())
            packsPublished.add(1, ordering: .relaxed)
        }
    }

    /// One line for status output.
    public var summary: String {
        let n = packetsEncoded.load(ordering: .relaxed)
        let avg = n > 0 ? packetBytes.load(ordering: .relaxed) / n : 0
        return "packs \(packsPublished.load(ordering: .relaxed)) | opus packets \(n), avg \(avg) B, max \(largestPacket.load(ordering: .relaxed)) B (cap \(maxPacketBytes)) | errors \(encodeErrors.load(ordering: .relaxed))"
    }
}
