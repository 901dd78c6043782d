/// AudioSocket (Asterisk's TCP audio protocol): message kinds, the UUID, the codec and a streaming parser.
///
/// Wire format (both directions): 1 byte kind, 2 bytes payload length (big-endian), payload. Audio payloads are
/// signed 16-bit little-endian mono samples; the kind gives the rate (0x10 = 8 kHz … 0x18 = 192 kHz).
/// The parser is sans-I/O: bytes and the current time (nanoseconds of any monotonic clock) go in, events come
/// out through a non-escaping callback. It never allocates after `init`, never traps and never waits for more
/// than the bytes it is given, so it can be fed one byte at a time or a megabyte at a time.

/// A message kind (the first byte of every message).
public struct AudioSocketKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ v: UInt8) { rawValue = v }

    /// `00 00 00`: terminate. Asterisk never sends it (it closes the socket instead); servers do.
    public static let hangup = AudioSocketKind(0x00)
    /// The call's UUID: 16 binary bytes, first message from Asterisk, exactly once.
    public static let uuid = AudioSocketKind(0x01)
    /// Defined only as a constant in the Go library; no Asterisk reads or writes it.
    public static let silence = AudioSocketKind(0x02)
    /// One DTMF digit (ASCII `0-9 * # A-D`), Asterisk → server, sent when the key is released.
    public static let dtmf = AudioSocketKind(0x03)
    /// Signed linear 16-bit audio at 8 kHz (0x10) up to 192 kHz (0x18).
    public static let slin8 = AudioSocketKind(0x10)
    public static let slin12 = AudioSocketKind(0x11)
    public static let slin16 = AudioSocketKind(0x12)
    public static let slin24 = AudioSocketKind(0x13)
    public static let slin32 = AudioSocketKind(0x14)
    public static let slin44 = AudioSocketKind(0x15)
    public static let slin48 = AudioSocketKind(0x16)
    public static let slin96 = AudioSocketKind(0x17)
    public static let slin192 = AudioSocketKind(0x18)
    /// Error, optional 1-byte code (bit 0x01 caller hung up, 0x02 frame forwarding, 0x04 memory).
    public static let error = AudioSocketKind(0xFF)

    /// Sample rates of the audio kinds 0x10…0x18, in kind order.
    public static let audioRates = [8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192_000]

    /// The sample rate of an audio kind, nil for every other kind.
    @inlinable
    public var sampleRate: Int? {
        rawValue >= 0x10 && rawValue <= 0x18 ? Self.audioRates[Int(rawValue - 0x10)] : nil
    }

    public var isAudio: Bool { rawValue >= 0x10 && rawValue <= 0x18 }

    /// The audio kind for a sample rate (8000 → 0x10, 16000 → 0x12, …), nil if AudioSocket has none.
    public static func audio(sampleRate: Int) -> AudioSocketKind? {
        guard let i = audioRates.firstIndex(of: sampleRate) else { return nil }
        return AudioSocketKind(0x10 + UInt8(i))
    }

    public var description: String {
        switch rawValue {
        case 0x00: return "hangup"
        case 0x01: return "uuid"
        case 0x02: return "silence"
        case 0x03: return "dtmf"
        case 0xFF: return "error"
        default:
            if let r = sampleRate { return "slin\(r / 1000 == 44 ? "44.1" : String(r / 1000))" }
            return "0x" + hex2(rawValue)
        }
    }
}

/// The 16-byte call UUID, in RFC 4122 byte order (as `uuid_parse` produces and Asterisk sends).
public struct AudioSocketUUID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// From 16 bytes; nil for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        high = h; low = l
    }

    /// From the textual form `8-4-4-4-12` hex digits (either case); also accepts 32 digits without hyphens.
    public init?(_ text: String) {
        var digits: [UInt8] = []
        var hyphens: [Int] = []
        for (i, c) in text.utf8.enumerated() {
            if c == 0x2D { hyphens.append(i); continue }
            guard let v = Self.hexValue(c) else { return nil }
            digits.append(v)
        }
        guard digits.count == 32, hyphens.isEmpty || hyphens == [8, 13, 18, 23] else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, d) in digits.enumerated() {
            if i < 16 { h = h << 4 | UInt64(d) } else { l = l << 4 | UInt64(d) }
        }
        high = h; low = l
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    /// The 16 bytes, as sent on the wire.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    /// Lowercase `40325ec2-5efd-4bd3-805f-53576e581d13`.
    public var description: String {
        let b = bytes
        var s = ""
        for (i, x) in b.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { s += "-" }
            s += hex2(x)
        }
        return s
    }
}

@usableFromInline
func hex2(_ b: UInt8) -> String {
    let d = Array("0123456789abcdef".utf8)
    return String(decoding: [d[Int(b >> 4)], d[Int(b & 15)]], as: UTF8.self)
}

/// A whole message, for building and checking traffic outside the audio path (tests, the client handshake).
public enum AudioSocketMessage: Equatable, Sendable {
    case hangup
    case uuid(AudioSocketUUID)
    case dtmf(UInt8)
    case audio(AudioSocketKind, [Int16])
    case error(UInt8?)
    case other(AudioSocketKind, [UInt8])

    public var encoded: [UInt8] {
        switch self {
        case .hangup: return AudioSocketCodec.header(.hangup, length: 0)
        case .uuid(let u): return AudioSocketCodec.header(.uuid, length: 16) + u.bytes
        case .dtmf(let d): return AudioSocketCodec.header(.dtmf, length: 1) + [d]
        case .error(let code):
            return code.map { AudioSocketCodec.header(.error, length: 1) + [$0] } ?? AudioSocketCodec.header(.error, length: 0)
        case .audio(let kind, let samples):
            var out = AudioSocketCodec.header(kind, length: samples.count * 2)
            for s in samples { let u = UInt16(bitPattern: s); out.append(UInt8(u & 0xFF)); out.append(UInt8(u >> 8)) }
            return out
        case .other(let kind, let payload): return AudioSocketCodec.header(kind, length: payload.count) + payload
        }
    }
}

/// Encoding helpers. The `write…` forms fill caller-owned memory and never allocate.
public enum AudioSocketCodec {
    public static let headerSize = 3
    public static let maxPayload = 65535

    /// The 3 header bytes. Precondition: 0 ≤ length ≤ 65 535 (larger lengths are clamped).
    public static func header(_ kind: AudioSocketKind, length: Int) -> [UInt8] {
        let l = UInt16(clamping: max(0, length))
        return [kind.rawValue, UInt8(l >> 8), UInt8(l & 0xFF)]
    }

    /// Writes the 3 header bytes at `p`.
    @inlinable
    public static func writeHeader(_ kind: AudioSocketKind, length: Int, to p: UnsafeMutableRawPointer) {
        let l = UInt16(clamping: max(0, length))
        p.storeBytes(of: kind.rawValue, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: UInt8(l >> 8), toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: UInt8(l & 0xFF), toByteOffset: 2, as: UInt8.self)
    }

    /// Writes a complete audio message (header + little-endian samples) at `p`; returns its size in bytes.
    /// `count` is clamped to what fits a message (32 767 samples). `p` must hold 3 + 2 × count bytes.
    @inlinable
    public static func writeAudio(_ kind: AudioSocketKind, samples: UnsafePointer<Int16>, count: Int,
                                  to p: UnsafeMutableRawPointer) -> Int {
        let n = min(max(0, count), maxPayload / 2)
        writeHeader(kind, length: n * 2, to: p)
        for i in 0..<n {
            p.storeBytes(of: samples[i].littleEndian, toByteOffset: 3 + 2 * i, as: Int16.self)
        }
        return 3 + 2 * n
    }
}

/// Why a connection was ended by the parser (a protocol violation or a timeout). Never thrown across the audio
/// path: the parser reports it once as `.failed` and then ignores further input.
public enum AudioSocketError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The first message was not a UUID (server role).
    case expectedUUID(kind: UInt8)
    /// A UUID message whose length is not 16.
    case badUUIDLength(Int)
    /// No UUID within the UUID timeout (server role).
    case uuidTimeout
    /// A message was started (header byte seen) but not completed within the message timeout.
    case messageTimeout
    /// No complete message for the idle timeout.
    case idleTimeout
    /// Too many unknown kinds in a row: the stream is almost certainly desynchronised (a dishonest length).
    case desynchronised(unknownRun: Int)

    public var description: String {
        switch self {
        case .expectedUUID(let k): return "first message is \(AudioSocketKind(k)) (0x\(hex2(k))), not a UUID"
        case .badUUIDLength(let l): return "UUID message of \(l) bytes (must be 16)"
        case .uuidTimeout: return "no UUID within the UUID timeout"
        case .messageTimeout: return "message not completed within the message timeout"
        case .idleTimeout: return "no message within the idle timeout"
        case .desynchronised(let n): return "\(n) unknown message kinds in a row: stream desynchronised"
        }
    }

    /// A short token for logs and JSON (`uuid-timeout`, …).
    public var token: String {
        switch self {
        case .expectedUUID: return "expected-uuid"
        case .badUUIDLength: return "bad-uuid-length"
        case .uuidTimeout: return "uuid-timeout"
        case .messageTimeout: return "message-timeout"
        case .idleTimeout: return "idle-timeout"
        case .desynchronised: return "desynchronised"
        }
    }
}

/// The streaming parser of one connection.
///
/// * States: `awaitingUUID` (server role, until the first message) → `active` → `closing` (after a hangup, an
///   error message from the peer, or a failure; further input is ignored).
/// * UUID: only as the first message and exactly 16 bytes, else `.failed`. A later UUID is skipped and counted.
/// * Audio (0x10–0x18): samples are delivered as they arrive, in even-length little-endian byte runs (no waiting
///   for the end of a message). An odd trailing byte is carried into the next audio message of the same kind;
///   a kind change drops it (counted). Zero-length audio is ignored and counted.
/// * DTMF (0x03): the first payload byte; a zero-length or non-digit payload is counted and ignored.
/// * Hangup (0x00, any length): delivered after its payload is consumed. Error (0xFF): delivered with its code.
/// * Anything else: the payload is skipped and counted; `maxUnknownRun` unknown kinds in a row end the
///   connection as desynchronised.
/// * Timeouts (`tick`): UUID, per message (started but incomplete), idle (no complete message).
public struct AudioSocketParser: Sendable {
    public enum Role: Sendable { case server, client }
    public enum State: Sendable, Equatable { case awaitingUUID, active, closing }

    public struct Limits: Sendable, Equatable {
        public var uuidTimeoutNs: UInt64 = 3_000_000_000
        public var messageTimeoutNs: UInt64 = 1_000_000_000
        public var idleTimeoutNs: UInt64 = 10_000_000_000
        public var maxUnknownRun = 8
        /// An audio message longer than this many milliseconds at its rate is counted as oversize (it is still
        /// delivered; the consumer decides how much to keep).
        public var oversizeAudioMs = 200
        public init() {}
    }

    public struct Counters: Sendable, Equatable {
        public var messages = 0
        public var audioMessages = 0
        public var audioBytes = 0
        public var unknownMessages = 0
        public var unknownBytes = 0
        public var extraUUIDs = 0
        public var dtmfDigits = 0
        public var malformedDTMF = 0
        public var zeroLengthAudio = 0
        public var oddLengthAudio = 0
        public var carryDropped = 0
        public var oversizeAudio = 0
        public var rateChanges = 0
        public var errorMessages = 0
        public init() {}
    }

    /// What the parser reports. `samples` points into the caller's bytes (or the parser's 2-byte carry) and is
    /// valid only during the callback.
    public enum Event {
        case uuid(AudioSocketUUID)
        /// Little-endian s16 samples (an even number of bytes) of `kind` at `sampleRate`.
        case audio(kind: AudioSocketKind, sampleRate: Int, samples: UnsafeRawBufferPointer)
        case dtmf(UInt8)
        case hangup
        /// 0xFF from the peer, with its code byte if there was one.
        case peerError(UInt8?)
        case failed(AudioSocketError)
    }

    public let role: Role
    public var limits: Limits
    public private(set) var state: State
    public private(set) var counters = Counters()
    /// The UUID once received (server role).
    public private(set) var uuid: AudioSocketUUID?
    /// The kind of the last audio message (nil before any audio).
    public private(set) var audioKind: AudioSocketKind?
    /// The failure that closed the parser, if any.
    public private(set) var failure: AudioSocketError?

    // Message being assembled.
    private var header: (UInt8, UInt8, UInt8) = (0, 0, 0)
    private var headerCount = 0
    private var kind = AudioSocketKind(0)
    private var remaining = 0
    private var payloadLength = 0
    private var firstByte: UInt8?
    private var uuidHigh: UInt64 = 0
    private var uuidLow: UInt64 = 0
    private var uuidCount = 0
    private var carry: UInt8 = 0
    private var hasCarry = false
    private var unknownRun = 0
    // Times (ns).
    private let connectedAt: UInt64
    private var messageStartedAt: UInt64?
    private var lastMessageAt: UInt64

    public init(role: Role = .server, limits: Limits = Limits(), now: UInt64) {
        self.role = role
        self.limits = limits
        state = role == .server ? .awaitingUUID : .active
        connectedAt = now
        lastMessageAt = now
    }

    /// True while a message has been started but not completed.
    public var inMessage: Bool { headerCount > 0 }

    /// Feeds the next bytes of the stream. Events are delivered in stream order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, now: UInt64, _ handler: (Event) -> Void) {
        var i = 0
        let n = bytes.count
        while i < n && state != .closing {
            if headerCount < 3 {
                let b = bytes[i]
                i += 1
                switch headerCount {
                case 0: header.0 = b; messageStartedAt = now
                case 1: header.1 = b
                default: header.2 = b
                }
                headerCount += 1
                if headerCount == 3 { begin(now: now, handler) }
                continue
            }
            let take = min(remaining, n - i)
            payload(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]), handler)
            i += take
            remaining -= take
            if remaining == 0 { end(now: now, handler) }
        }
    }

    /// Convenience for tests and small inputs.
    public mutating func feed(_ bytes: [UInt8], now: UInt64, _ handler: (Event) -> Void) {
        bytes.withUnsafeBytes { feed($0, now: now, handler) }
    }

    /// Checks the timeouts at `now`. On expiry the parser closes and the failure is reported once.
    public mutating func tick(now: UInt64, _ handler: (Event) -> Void) {
        guard state != .closing else { return }
        if state == .awaitingUUID && now >= connectedAt && now - connectedAt >= limits.uuidTimeoutNs {
            fail(.uuidTimeout, handler); return
        }
        if let s = messageStartedAt, now >= s, now - s >= limits.messageTimeoutNs {
            fail(.messageTimeout, handler); return
        }
        if state == .active && messageStartedAt == nil && now >= lastMessageAt && now - lastMessageAt >= limits.idleTimeoutNs {
            fail(.idleTimeout, handler); return
        }
    }

    /// The earliest time at which `tick` could report a timeout (nil when closing).
    public var nextDeadline: UInt64? {
        switch state {
        case .closing: return nil
        case .awaitingUUID:
            let u = connectedAt &+ limits.uuidTimeoutNs
            return messageStartedAt.map { min(u, $0 &+ limits.messageTimeoutNs) } ?? u
        case .active:
            return messageStartedAt.map { $0 &+ limits.messageTimeoutNs } ?? lastMessageAt &+ limits.idleTimeoutNs
        }
    }

    /// Marks the parser closed (local teardown or end of stream); no events.
    public mutating func close() { state = .closing }

    // MARK: internals

    private mutating func fail(_ e: AudioSocketError, _ handler: (Event) -> Void) {
        failure = e
        state = .closing
        handler(.failed(e))
    }

    private mutating func begin(now: UInt64, _ handler: (Event) -> Void) {
        kind = AudioSocketKind(header.0)
        payloadLength = Int(header.1) << 8 | Int(header.2)
        remaining = payloadLength
        firstByte = nil
        if state == .awaitingUUID {
            guard kind == .uuid else { fail(.expectedUUID(kind: kind.rawValue), handler); return }
            guard payloadLength == 16 else { fail(.badUUIDLength(payloadLength), handler); return }
            uuidCount = 0; uuidHigh = 0; uuidLow = 0
        } else if kind.isAudio {
            unknownRun = 0
            if let k = audioKind, k != kind {
                counters.rateChanges += 1
                if hasCarry { hasCarry = false; counters.carryDropped += 1 }
            }
            audioKind = kind
            if payloadLength == 0 { counters.zeroLengthAudio += 1 }
            if payloadLength & 1 == 1 { counters.oddLengthAudio += 1 }
            if let rate = kind.sampleRate, payloadLength > rate / 1000 * 2 * limits.oversizeAudioMs {
                counters.oversizeAudio += 1
            }
        } else {
            switch kind {
            case .hangup, .dtmf, .error: unknownRun = 0
            case .uuid: unknownRun = 0; counters.extraUUIDs += 1
            default:
                counters.unknownMessages += 1
                counters.unknownBytes += payloadLength
                unknownRun += 1
                if unknownRun >= limits.maxUnknownRun {
                    fail(.desynchronised(unknownRun: unknownRun), handler)
                    return
                }
            }
        }
        if remaining == 0 { end(now: now, handler) }
    }

    private mutating func payload(_ p: UnsafeRawBufferPointer, _ handler: (Event) -> Void) {
        guard !p.isEmpty else { return }
        if firstByte == nil { firstByte = p[0] }
        if state == .awaitingUUID {
            for b in p {
                if uuidCount < 8 { uuidHigh = uuidHigh << 8 | UInt64(b) } else if uuidCount < 16 { uuidLow = uuidLow << 8 | UInt64(b) }
                uuidCount += 1
            }
            return
        }
        guard kind.isAudio, let rate = kind.sampleRate else { return }
        counters.audioBytes += p.count
        var start = 0
        if hasCarry {
            // Complete the sample split across messages or chunks.
            var pair: (UInt8, UInt8) = (carry, p[0])
            hasCarry = false
            start = 1
            withUnsafeBytes(of: &pair) { handler(.audio(kind: kind, sampleRate: rate, samples: $0)) }
        }
        let even = (p.count - start) & ~1
        if even > 0 {
            handler(.audio(kind: kind, sampleRate: rate, samples: UnsafeRawBufferPointer(rebasing: p[start..<(start + even)])))
        }
        if start + even < p.count {
            carry = p[p.count - 1]
            hasCarry = true
        }
    }

    private mutating func end(now: UInt64, _ handler: (Event) -> Void) {
        headerCount = 0
        messageStartedAt = nil
        lastMessageAt = now
        counters.messages += 1
        if state == .awaitingUUID {
            let u = AudioSocketUUID(high: uuidHigh, low: uuidLow)
            uuid = u
            state = .active
            handler(.uuid(u))
            return
        }
        switch kind {
        case .hangup:
            state = .closing
            handler(.hangup)
        case .error:
            counters.errorMessages += 1
            state = .closing
            handler(.peerError(firstByte))
        case .dtmf:
            if let d = firstByte, let digit = Self.dtmfDigit(d) {
                counters.dtmfDigits += 1
                handler(.dtmf(digit))
            } else {
                counters.malformedDTMF += 1
            }
        default:
            if kind.isAudio { counters.audioMessages += 1 }
        }
    }

    /// `0-9 * # A-D` (lowercase a–d accepted and reported uppercase); nil for anything else.
    public static func dtmfDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39, 0x2A, 0x23, 0x41...0x44: return b
        case 0x61...0x64: return b - 0x20
        default: return nil
        }
    }
}
