import InfernoProtocol

/// Bulk conversion between Dante packet payloads (interleaved big-endian PCM, dante-protocol.md §8) and
/// left-justified Int32 samples. Everything here works on caller-provided memory and never allocates, locks or
/// logs (except the array conveniences at the end, meant for tests and control paths).
///
/// Reading is exact at every depth. Writing at a depth ≥ the source's significant depth is exact (round trip
/// `payload → Int32 → payload` is bit-identical at 16/24/32 bits); only a reduction below `sourceBits` with
/// `DitherMode.tpdf` adds dither (see `DitherMode`).
public enum SampleConversion {
    /// Copies slot `slot` of an interleaved payload (`frames` × `channels` samples) to `dest[0], dest[stride], …`.
    @inlinable
    public static func deinterleave(from payload: UnsafeRawBufferPointer, encoding: PCMEncoding, channels: Int,
                                    frames: Int, slot: Int, to dest: UnsafeMutablePointer<Int32>, stride: Int = 1) {
        let b = encoding.bytesPerSample
        precondition(slot >= 0 && slot < channels && frames >= 0 && payload.count >= frames * channels * b)
        if frames == 0 { return }
        let step = channels * b
        var p = payload.baseAddress! + slot * b
        var d = dest
        switch encoding {
        case .int16:
            for _ in 0..<frames { d.pointee = PCMEncoding.read16(p); p += step; d += stride }
        case .int24:
            for _ in 0..<frames { d.pointee = PCMEncoding.read24(p); p += step; d += stride }
        case .int32:
            for _ in 0..<frames { d.pointee = PCMEncoding.read32(p); p += step; d += stride }
        }
    }

    /// All slots to planar storage: `planar[slot * frames + frame]`.
    @inlinable
    public static func deinterleave(from payload: UnsafeRawBufferPointer, encoding: PCMEncoding, channels: Int,
                                    frames: Int, toPlanar planar: UnsafeMutableBufferPointer<Int32>) {
        precondition(planar.count >= frames * channels)
        guard frames > 0 else { return }
        for slot in 0..<channels {
            deinterleave(from: payload, encoding: encoding, channels: channels, frames: frames, slot: slot,
                         to: planar.baseAddress! + slot * frames)
        }
    }

    /// Writes `src[0], src[stride], …` (`frames` samples) into slot `slot` of an interleaved payload.
    /// Dithers only if `Requantize.dithers(mode:targetBits:sourceBits:)`; otherwise takes the top bytes exactly.
    @inlinable
    public static func interleave<R: DitherNoiseSource>(
        from src: UnsafePointer<Int32>, stride: Int = 1, frames: Int, slot: Int, channels: Int,
        encoding: PCMEncoding, to payload: UnsafeMutableRawBufferPointer,
        sourceBits: Int = 32, dither: DitherMode, rng: inout R
    ) {
        let b = encoding.bytesPerSample
        precondition(slot >= 0 && slot < channels && frames >= 0 && payload.count >= frames * channels * b)
        if frames == 0 { return }
        let step = channels * b
        var p = payload.baseAddress! + slot * b
        var s = src
        let bits = encoding.bits
        if Requantize.dithers(mode: dither, targetBits: bits, sourceBits: sourceBits) {
            switch encoding {
            case .int16:
                for _ in 0..<frames {
                    PCMEncoding.write16(Requantize.tpdf(s.pointee, bits: 16, rng: &rng), to: p); p += step; s += stride
                }
            case .int24:
                for _ in 0..<frames {
                    PCMEncoding.write24(Requantize.tpdf(s.pointee, bits: 24, rng: &rng), to: p); p += step; s += stride
                }
            case .int32:
                for _ in 0..<frames { PCMEncoding.write32(s.pointee, to: p); p += step; s += stride }
            }
        } else {
            switch encoding {
            case .int16: for _ in 0..<frames { PCMEncoding.write16(s.pointee, to: p); p += step; s += stride }
            case .int24: for _ in 0..<frames { PCMEncoding.write24(s.pointee, to: p); p += step; s += stride }
            case .int32: for _ in 0..<frames { PCMEncoding.write32(s.pointee, to: p); p += step; s += stride }
            }
        }
    }

    /// Exact (undithered) interleave: takes the top bytes of each sample.
    @inlinable
    public static func interleave(from src: UnsafePointer<Int32>, stride: Int = 1, frames: Int, slot: Int,
                                  channels: Int, encoding: PCMEncoding, to payload: UnsafeMutableRawBufferPointer) {
        var unused = XorShift64Star()
        interleave(from: src, stride: stride, frames: frames, slot: slot, channels: channels, encoding: encoding,
                   to: payload, dither: .none, rng: &unused)
    }

    /// Zero-fills one slot (an unconnected channel, §8.1).
    @inlinable
    public static func zeroSlot(_ slot: Int, channels: Int, frames: Int, encoding: PCMEncoding,
                                in payload: UnsafeMutableRawBufferPointer) {
        let b = encoding.bytesPerSample
        precondition(slot >= 0 && slot < channels && frames >= 0 && payload.count >= frames * channels * b)
        if frames == 0 { return }
        var p = payload.baseAddress! + slot * b
        for _ in 0..<frames { p.initializeMemory(as: UInt8.self, repeating: 0, count: b); p += channels * b }
    }

    // MARK: array conveniences (allocate; not for real-time threads)

    /// Interleaved payload → one array per slot.
    public static func deinterleave(_ payload: [UInt8], encoding: PCMEncoding, channels: Int) -> [[Int32]] {
        precondition(channels > 0)
        let frames = payload.count / (channels * encoding.bytesPerSample)
        var out = [[Int32]](repeating: [Int32](repeating: 0, count: frames), count: channels)
        if frames == 0 { return out }
        payload.withUnsafeBytes { raw in
            for slot in 0..<channels {
                out[slot].withUnsafeMutableBufferPointer { d in
                    deinterleave(from: raw, encoding: encoding, channels: channels, frames: frames, slot: slot,
                                 to: d.baseAddress!)
                }
            }
        }
        return out
    }

    /// One array per slot (all the same length) → interleaved payload.
    public static func interleave<R: DitherNoiseSource>(_ channelsData: [[Int32]], encoding: PCMEncoding,
                                                        sourceBits: Int = 32, dither: DitherMode = .none,
                                                        rng: inout R) -> [UInt8] {
        let channels = channelsData.count
        let frames = channelsData.first?.count ?? 0
        precondition(channelsData.allSatisfy { $0.count == frames })
        var out = [UInt8](repeating: 0, count: frames * channels * encoding.bytesPerSample)
        out.withUnsafeMutableBytes { raw in
            for slot in 0..<channels {
                channelsData[slot].withUnsafeBufferPointer { s in
                    guard let base = s.baseAddress else { return }
                    interleave(from: base, frames: frames, slot: slot, channels: channels, encoding: encoding,
                               to: raw, sourceBits: sourceBits, dither: dither, rng: &rng)
                }
            }
        }
        return out
    }

    public static func interleave(_ channelsData: [[Int32]], encoding: PCMEncoding) -> [UInt8] {
        var unused = XorShift64Star()
        return interleave(channelsData, encoding: encoding, dither: .none, rng: &unused)
    }
}
