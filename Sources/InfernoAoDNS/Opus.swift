import COpus

/// libopus, as AoDNS uses it: 60 ms frames, OPUS_APPLICATION_VOIP, 8/12/16 kHz (any Opus rate works), 1 or 2
/// channels, interleaved 16-bit PCM. Not thread-safe: one owner thread per instance.
public final class OpusFrameEncoder {
    public let sampleRate: Int
    public let channels: Int
    /// Samples per channel in one 60 ms frame.
    public let frameSamples: Int
    /// Packets are never larger than this (the encoder lowers the quality of that frame instead).
    public let maxPacketBytes: Int
    public let bitrate: Int
    private let enc: OpaquePointer
    private var out: [UInt8]

    public struct Failure: Error, CustomStringConvertible {
        public let code: Int32
        public let what: String
        public var description: String { "opus \(what): \(String(cString: opus_strerror(code)))" }
    }

    public static let frameMs = 60

    public init(sampleRate: Int, channels: Int, bitrate: Int, maxPacketBytes: Int) throws(Failure) {
        var err: Int32 = 0
        guard let e = opus_encoder_create(opus_int32(sampleRate), Int32(channels), OPUS_APPLICATION_VOIP, &err),
              err == OPUS_OK else { throw Failure(code: err, what: "encoder (\(sampleRate) Hz, \(channels) ch)") }
        enc = e
        self.sampleRate = sampleRate
        self.channels = channels
        self.bitrate = bitrate
        self.maxPacketBytes = max(3, min(1275, maxPacketBytes))
        frameSamples = sampleRate * Self.frameMs / 1000
        out = [UInt8](repeating: 0, count: 1500)
        _ = inferno_opus_set_bitrate(enc, opus_int32(bitrate))
        _ = inferno_opus_set_vbr(enc, 1)
        _ = inferno_opus_set_vbr_constraint(enc, 1)
    }

    deinit { opus_encoder_destroy(enc) }

    /// Encodes one frame (`frameSamples × channels` interleaved samples).
    public func encode(_ pcm: UnsafePointer<Int16>) throws(Failure) -> [UInt8] {
        let n = out.withUnsafeMutableBufferPointer { o in
            opus_encode(enc, pcm, Int32(frameSamples), o.baseAddress!, opus_int32(maxPacketBytes))
        }
        guard n > 0 else { throw Failure(code: n, what: "encode") }
        return Array(out[0..<Int(n)])
    }

    public func encode(_ pcm: [Int16]) throws(Failure) -> [UInt8] {
        precondition(pcm.count >= frameSamples * channels)
        return try pcm.withUnsafeBufferPointer { p throws(Failure) in try encode(p.baseAddress!) }
    }
}

/// Decodes Opus packets (from any encoder rate/channel count) at `sampleRate`, `channels`; conceals lost
/// packets with libopus' packet-loss concealment.
public final class OpusFrameDecoder {
    public let sampleRate: Int
    public let channels: Int
    public let frameSamples: Int
    private let dec: OpaquePointer
    /// Scratch for one frame (120 ms max per packet at 48 kHz stereo fits comfortably).
    private var scratch: [Int16]

    public init(sampleRate: Int, channels: Int) throws(OpusFrameEncoder.Failure) {
        var err: Int32 = 0
        guard let d = opus_decoder_create(opus_int32(sampleRate), Int32(channels), &err), err == OPUS_OK else {
            throw OpusFrameEncoder.Failure(code: err, what: "decoder (\(sampleRate) Hz, \(channels) ch)")
        }
        dec = d
        self.sampleRate = sampleRate
        self.channels = channels
        frameSamples = sampleRate * OpusFrameEncoder.frameMs / 1000
        scratch = [Int16](repeating: 0, count: sampleRate * 120 / 1000 * channels)
    }

    deinit { opus_decoder_destroy(dec) }

    /// Forgets the decoder's history (a new stream starts).
    public func reset() { _ = inferno_opus_decoder_reset(dec) }

    /// Decodes one packet into interleaved samples; nil if libopus refuses it (corrupt packet).
    public func decode(_ packet: [UInt8]) -> [Int16]? {
        let maxFrames = scratch.count / channels
        let n = packet.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { s in
                opus_decode(dec, p.baseAddress, opus_int32(p.count), s.baseAddress!, Int32(maxFrames), 0)
            }
        }
        guard n > 0 else { return nil }
        return Array(scratch[0..<(Int(n) * channels)])
    }

    /// Packet-loss concealment for `frames` samples per channel (a multiple of 2.5 ms).
    public func conceal(frames: Int) -> [Int16] {
        let want = min(frames, scratch.count / channels)
        let n = scratch.withUnsafeMutableBufferPointer { s in
            opus_decode(dec, nil, 0, s.baseAddress!, Int32(want), 0)
        }
        guard n > 0 else { return [Int16](repeating: 0, count: frames * channels) }
        var out = Array(scratch[0..<(Int(n) * channels)])
        if Int(n) < frames { out += [Int16](repeating: 0, count: (frames - Int(n)) * channels) }
        return out
    }
}
