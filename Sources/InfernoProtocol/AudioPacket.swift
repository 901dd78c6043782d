/// Dante audio (media) packets, dante-protocol.md §8:
///
/// ```
/// 0  u8   type (0x02)
/// 1  u32  seconds      = ⌊T / rate⌋ mod 2³²
/// 5  u32  sub-second   = T mod rate (samples)
/// 9  …    fpp frames × N slots × B bytes, interleaved, big-endian two's complement
/// ```
///
/// Decisions:
/// * The type byte is exposed but not validated (Inferno ignores it; real devices might use other values).
/// * The header decoder does not know the sample rate, so it accepts any sub-second value. Converting to a
///   timestamp validates it: `timestamp(sampleRate:)` throws `.invalidValue(field: "audio subsecond", …)` when
///   sub-second ≥ rate, and `isValid(sampleRate:)` answers without throwing. Receivers should drop such packets.
/// * Seconds wrap at 2³² (year 2106 on the PTP epoch). `timestamp(sampleRate:near:)` unwraps against a reference.
/// * The payload must hold a whole number of frames; zero frames (a bare header) is accepted.
public struct AudioPacketHeader: Hashable, Sendable {
    public static let size = 9
    public static let defaultType: UInt8 = 0x02

    public var type: UInt8
    public var seconds: UInt32
    public var subsecond: UInt32

    public init(type: UInt8 = AudioPacketHeader.defaultType, seconds: UInt32, subsecond: UInt32) {
        self.type = type; self.seconds = seconds; self.subsecond = subsecond
    }

    /// Splits media time `timestamp` (samples) at `sampleRate` (> 0); seconds are reduced mod 2³².
    @inlinable
    public init(type: UInt8 = AudioPacketHeader.defaultType, timestamp: UInt64, sampleRate: UInt32) {
        precondition(sampleRate > 0, "sample rate must be positive")
        let (q, r) = timestamp.quotientAndRemainder(dividingBy: UInt64(sampleRate))
        self.init(type: type, seconds: UInt32(truncatingIfNeeded: q), subsecond: UInt32(truncatingIfNeeded: r))
    }

    @inlinable
    public func isValid(sampleRate: UInt32) -> Bool { subsecond < sampleRate }

    /// T = seconds × rate + sub-second (cannot overflow UInt64). Throws if sub-second ≥ rate.
    @inlinable
    public func timestamp(sampleRate: UInt32) throws(WireError) -> UInt64 {
        guard subsecond < sampleRate else {
            throw .invalidValue(field: "audio subsecond", value: Int(subsecond))
        }
        return UInt64(seconds) * UInt64(sampleRate) + UInt64(subsecond)
    }

    /// The timestamp whose seconds are congruent to `seconds` mod 2³² and that is nearest to `reference`
    /// (e.g. the local media clock), so packets keep working across the 2³²-second wrap. Rates ≥ 2³¹ are not
    /// unwrapped. Never returns a value below `reference`'s period start when that would be negative, nor one that
    /// would pass 2⁶⁴ (then the period below): the result is always congruent to the packet's timestamp.
    @inlinable
    public func timestamp(sampleRate: UInt32, near reference: UInt64) throws(WireError) -> UInt64 {
        let base = try timestamp(sampleRate: sampleRate)
        guard sampleRate < 1 << 31 else { return base }   // the period would not fit Int64; no unwrapping
        let period = UInt64(sampleRate) << 32            // 2³² seconds in samples (< 2⁶⁴)
        let refWrapped = reference % period
        // Signed distance from refWrapped to base, reduced into [−period/2, period/2).
        var d = Int64(bitPattern: base &- refWrapped)
        let half = Int64(bitPattern: period / 2)
        let p = Int64(bitPattern: period)
        if d >= half { d -= p } else if d < -half { d += p }
        if d < 0 && d.magnitude > reference { d += p }    // no negative timestamps: take the next period up
        if d > 0 && UInt64(d) > UInt64.max - reference { d -= p }   // nor past 2⁶⁴: the period below (fuzz find)
        return reference &+ UInt64(bitPattern: d)
    }

    /// Reads the 9-byte header from the start of `bytes`.
    @inlinable
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> AudioPacketHeader {
        guard bytes.count >= size else { throw .truncated(offset: 0, needed: size, available: bytes.count) }
        let b = bytes.baseAddress!
        return AudioPacketHeader(type: b.load(as: UInt8.self),
                                 seconds: UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 1, as: UInt32.self)),
                                 subsecond: UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 5, as: UInt32.self)))
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> AudioPacketHeader {
        let r = WireReader(bytes)
        return AudioPacketHeader(type: try r.u8(at: 0), seconds: try r.u32(at: 1), subsecond: try r.u32(at: 5))
    }

    /// Writes the header into the first 9 bytes of `buffer` (precondition: at least 9 bytes).
    @inlinable
    public func write(to buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= AudioPacketHeader.size)
        let b = buffer.baseAddress!
        b.storeBytes(of: type, as: UInt8.self)
        b.storeBytes(of: seconds.bigEndian, toByteOffset: 1, as: UInt32.self)
        b.storeBytes(of: subsecond.bigEndian, toByteOffset: 5, as: UInt32.self)
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: AudioPacketHeader.size)
        w.u8(type); w.u32(seconds); w.u32(subsecond)
        return w.bytes
    }
}

/// How a flow lays out its payload: N channel slots of one PCM encoding.
public struct AudioPacketFormat: Hashable, Sendable {
    public let channels: Int
    public let encoding: PCMEncoding

    /// Throws for channel counts outside 1…`maxChannels`.
    public init(channels: Int, encoding: PCMEncoding, maxChannels: Int = 512) throws(WireError) {
        guard channels >= 1, channels <= maxChannels else {
            throw .countTooLarge(field: "audio channels", count: channels, max: maxChannels)
        }
        self.channels = channels; self.encoding = encoding
    }

    @inlinable public var bytesPerFrame: Int { channels * encoding.bytesPerSample }

    /// 9 + frames × N × B.
    @inlinable public func packetSize(frames: Int) -> Int { AudioPacketHeader.size + frames * bytesPerFrame }

    /// Frames in a datagram of `length` bytes; throws if shorter than the header or not a whole number of frames.
    @inlinable
    public func frames(datagramLength length: Int) throws(WireError) -> Int {
        guard length >= AudioPacketHeader.size else {
            throw .truncated(offset: 0, needed: AudioPacketHeader.size, available: max(0, length))
        }
        let payload = length - AudioPacketHeader.size
        let (q, r) = payload.quotientAndRemainder(dividingBy: bytesPerFrame)
        guard r == 0 else { throw .invalidValue(field: "audio payload length", value: payload) }
        return q
    }

    /// The largest fpp whose packet fits in `maxPayload` bytes of payload (Inferno caps the payload at 1400).
    @inlinable public func maxFrames(payloadLimit maxPayload: Int = 1400) -> Int { max(0, maxPayload) / bytesPerFrame }
}

/// A non-allocating, read-only view of one received datagram. Valid only while the memory it views is.
public struct AudioPacketView {
    public let header: AudioPacketHeader
    public let format: AudioPacketFormat
    public let frames: Int
    /// The interleaved payload (exactly frames × N × B bytes).
    public let payload: UnsafeRawBufferPointer

    @inlinable
    public init(_ datagram: UnsafeRawBufferPointer, format: AudioPacketFormat) throws(WireError) {
        let frames = try format.frames(datagramLength: datagram.count)
        self.header = try AudioPacketHeader.decode(datagram)
        self.format = format
        self.frames = frames
        self.payload = UnsafeRawBufferPointer(rebasing: datagram[AudioPacketHeader.size...])
    }

    /// Sample in `slot` of `frame`, left-justified. Precondition: indices in range.
    @inlinable
    public func sample(frame: Int, slot: Int) -> Int32 {
        precondition(frame >= 0 && frame < frames && slot >= 0 && slot < format.channels)
        let off = frame * format.bytesPerFrame + slot * format.encoding.bytesPerSample
        return format.encoding.read(payload.baseAddress! + off)
    }
}

/// Fills a preallocated buffer with one packet; never allocates.
public struct AudioPacketWriter {
    public let format: AudioPacketFormat
    public let frames: Int
    /// The bytes of the packet (header + payload), a prefix of the buffer given to `init`.
    public let packet: UnsafeMutableRawBufferPointer

    /// Throws `.truncated` if `buffer` is too small for `frames` frames, `.invalidValue` for negative `frames`.
    @inlinable
    public init(buffer: UnsafeMutableRawBufferPointer, format: AudioPacketFormat, frames: Int) throws(WireError) {
        guard frames >= 0 else { throw .invalidValue(field: "frames per packet", value: frames) }
        let size = format.packetSize(frames: frames)
        guard buffer.count >= size else { throw .truncated(offset: 0, needed: size, available: buffer.count) }
        self.format = format
        self.frames = frames
        self.packet = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size])
    }

    @inlinable public var byteCount: Int { packet.count }
    @inlinable public var payload: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: packet[AudioPacketHeader.size...])
    }

    @inlinable public func setHeader(_ h: AudioPacketHeader) { h.write(to: packet) }

    /// Stores the top bytes of `value` (no dithering). Precondition: indices in range.
    @inlinable
    public func setSample(_ value: Int32, frame: Int, slot: Int) {
        precondition(frame >= 0 && frame < frames && slot >= 0 && slot < format.channels)
        let off = AudioPacketHeader.size + frame * format.bytesPerFrame + slot * format.encoding.bytesPerSample
        format.encoding.write(value, to: packet.baseAddress! + off)
    }

    /// Zero-fills the whole payload (empty slots must be zero).
    @inlinable public func zeroPayload() {
        let p = payload
        if p.count > 0 { p.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: p.count) }
    }
}

/// Array-based packet for tests and control paths: header + interleaved left-justified samples.
public struct AudioPacket: Hashable, Sendable {
    public var header: AudioPacketHeader
    public var format: AudioPacketFormat
    /// frames × channels, interleaved (frame 0 slot 0, frame 0 slot 1, …).
    public var samples: [Int32]

    public init(header: AudioPacketHeader, format: AudioPacketFormat, samples: [Int32]) {
        self.header = header; self.format = format; self.samples = samples
    }

    public var frames: Int { samples.count / format.channels }

    public static func decode(_ bytes: [UInt8], format: AudioPacketFormat) throws(WireError) -> AudioPacket {
        let frames = try format.frames(datagramLength: bytes.count)
        let header = try AudioPacketHeader.decode(bytes)
        var samples = [Int32](repeating: 0, count: frames * format.channels)
        bytes.withUnsafeBytes { raw in
            var p = raw.baseAddress! + AudioPacketHeader.size
            let step = format.encoding.bytesPerSample
            for i in samples.indices { samples[i] = format.encoding.read(p); p += step }
        }
        return AudioPacket(header: header, format: format, samples: samples)
    }

    /// Samples beyond the last whole frame are ignored; samples are truncated to the encoding's top bytes.
    public func encode() -> [UInt8] {
        let frames = self.frames
        var out = [UInt8](repeating: 0, count: format.packetSize(frames: frames))
        out.withUnsafeMutableBytes { raw in
            header.write(to: raw)
            var p = raw.baseAddress! + AudioPacketHeader.size
            let step = format.encoding.bytesPerSample
            for i in 0..<(frames * format.channels) { format.encoding.write(samples[i], to: p); p += step }
        }
        return out
    }
}
