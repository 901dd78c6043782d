// The fuzz targets. Each calls the decoder the servers call, with the input as a received datagram/stream/file,
// and checks what is cheap to check: an accepted value re-encodes to bytes that decode to the same value.
import Foundation

// MARK: - Dante control protocols

/// ARC (port 4440): `ARCRequest.decode` (DeviceModel.handleARC) and `ARCResponse.decode` (ARCClient).
let arcTarget = FuzzTarget(name: "arc", run: { b in
    requireRoundTrip(try? ARCRequest.decode(b), "ARC request") { try? ARCRequest.decode($0.encode()) }
    requireRoundTrip(try? ARCResponse.decode(b), "ARC response") { try? ARCResponse.decode($0.encode()) }
}, seeds: {
    [ARCRequest(transactionID: 1, body: .channelCounts).encode(),
     ARCRequest(transactionID: 2, body: .deviceName).encode()]
})

/// CMC (port 8800): `CMCPacket.decode` (DeviceRuntime) and `CMCRegistrationResponse.decode` (ARCClient).
let cmcTarget = FuzzTarget(name: "cmc", run: { b in
    requireRoundTrip(try? CMCPacket.decode(b), "CMC packet") { try? CMCPacket.decode($0.encode()) }
    requireRoundTrip(try? CMCRegistrationResponse.decode(b), "CMC registration response") { try? CMCRegistrationResponse.decode($0.encode()) }
}, seeds: {
    let mac: [UInt8] = [0x02, 0, 0, 0, 0, 1]
    return [CMCRegistrationRequest(transactionID: 7, controllerMAC: mac).encode(),
            CMCRegistrationResponse(transactionID: 7, deviceID: [0x02, 0, 0, 0xff, 0xfe, 0, 0, 1], ipv4: 0x7F00_0001).encode(),
            CMCMeteringPoll(transactionID: 9, body: [0, 1, 2, 3]).encode()]
})

/// Conmon (port 8700 and the 0xFFFE heartbeats): `ConmonPacket.decode` (DeviceRuntime), `Heartbeat.decode`.
let conmonTarget = FuzzTarget(name: "conmon", run: { b in
    requireRoundTrip(try? ConmonPacket.decode(b), "conmon packet") { try? ConmonPacket.decode($0.encode()) }
    if let h = try? Heartbeat.decode(b) {
        let e = h.encode()
        let again = try? Heartbeat.decode(e)
        require(again?.encode() == e, "heartbeat re-encode")
    }
}, seeds: {
    let id: [UInt8] = [0x02, 0, 0, 0xff, 0xfe, 0, 0, 1]
    return [ConmonPacket(deviceID: id, sequence: 1, message: .identify).encode(),
            ConmonPacket(deviceID: id, sequence: 2, message: .boardInfoQuery).encode(),
            ConmonPacket(deviceID: id, sequence: 3, message: .productInfoQuery).encode(),
            ConmonPacket(deviceID: id, sequence: 4, message: .txChannelChange(ChannelBitmap(bytes: [0x80, 0, 0, 1]))).encode(),
            Heartbeat(deviceID: id, sequence: 5, frequencyOffsetPPB: -1200).encode()]
})

/// Flow control (port 4455): `FlowControlPacket.decode` (FlowControlServer), `FlowResponse.decode` (Subscriber).
let flowTarget = FuzzTarget(name: "flow", run: { b in
    requireRoundTrip(try? FlowControlPacket.decode(b), "flow-control packet") { try? FlowControlPacket.decode($0.encode()) }
    requireRoundTrip(try? FlowResponse.decode(b), "flow response") { try? FlowResponse.decode($0.encode()) }
}, seeds: {
    let h = FlowHandle(flowNumber: 3, cookie: 0x1234)
    return [FlowRequest(transactionID: 1, receiverName: "rx", sampleRate: 48000, bitsPerSample: 24, channels: [1, 2],
                        framesPerPacket: 16, flowName: "flow", receiverIPv4: 0x7F00_0001, receiverPort: 5004).encode(),
            FlowResponse(transactionID: 1, opcode: FlowOpcode.request, status: .success, handle: h).encode(),
            FlowUpdateRequest(transactionID: 2, handle: h, channels: [0, 3]).encode(),
            FlowStopRequest(transactionID: 3, handle: h).encode()]
})

// MARK: - Audio

/// Audio datagrams: the RX engine's `AudioPacketHeader.decode(UnsafeRawBufferPointer)` and
/// `timestamp(sampleRate:near:)`, the `AudioPacketView` the receive path reads samples through, and the array
/// codec. First input byte: channels and encoding; next 8: the local clock (reference); the rest: the datagram.
let audioTarget = FuzzTarget(name: "audio", run: { b in
    var k = Knobs(b)
    let sel = k.u8()
    let reference = k.u64()
    let datagram = k.rest
    let encoding = PCMEncoding.allCases[Int(sel >> 6) % PCMEncoding.allCases.count]
    guard let format = try? AudioPacketFormat(channels: Int(sel & 0x3F) + 1, encoding: encoding) else { return }
    let rates: [UInt32] = [44100, 48000, 88200, 96000, 176_400, 192_000, 8000, 1]
    let rate = rates[Int(sel) % rates.count]
    datagram.withUnsafeBytes { raw in
        let fast = try? AudioPacketHeader.decode(raw)
        let slow = try? AudioPacketHeader.decode(datagram)
        require(fast == slow, "header decoders disagree")
        if let h = fast, let base = try? h.timestamp(sampleRate: rate), let t = try? h.timestamp(sampleRate: rate, near: reference) {
            let period = UInt64(rate) << 32
            require(t % period == base, "unwrapped timestamp not congruent to the packet's")
        }
        if let view = try? AudioPacketView(raw, format: format) {
            require(view.frames * format.bytesPerFrame + AudioPacketHeader.size == datagram.count, "view frames")
            var sum: Int64 = 0
            for f in 0..<view.frames { for s in 0..<format.channels { sum &+= Int64(view.sample(frame: f, slot: s)) } }
            _ = sum
        }
    }
    if let p = try? AudioPacket.decode(datagram, format: format) {
        require(p.encode() == datagram, "audio packet re-encode")
    }
}, seeds: {
    guard let f = try? AudioPacketFormat(channels: 2, encoding: .int24) else { return [] }
    let p = AudioPacket(header: AudioPacketHeader(seconds: 1_700_000_000, subsecond: 4800), format: f,
                        samples: (0..<32).map { Int32($0) << 20 })
    return [[0x81] + [UInt8](repeating: 0, count: 3) + [0x65, 0x53, 0xF1, 0x00, 0, 0] + p.encode()]
})

// MARK: - DNS

let fuzzZone = MDNSZone(host: "fuzz-host", ipv4: 0x7F00_0001, services: [
    MDNSService(instance: "fuzz", type: "_netaudio-arc._udp", port: 4440, txt: ["id=0200000000000001", "mf=Inferno"]),
    MDNSService(instance: "fuzz", type: "_netaudio-chan._udp", port: 4440, txt: ["id=0200000000000001"]),
])
let fuzzResponder = try? MDNSResponder(zone: fuzzZone)

/// DNS/mDNS messages: `DNSMessage.decode` (MDNSServer, MDNSQuerier, the AoDNS clients), then what the mDNS server
/// does with a decoded message: `respond(to:sourcePort:)`, `conflicts(with:)` and `split` of the reply.
let dnsTarget = FuzzTarget(name: "dns", run: { b in
    guard let m = try? DNSMessage.decode(b) else { return }
    // Equivalent forms exist (an empty TXT decodes to no strings, encodes as one empty string; names may be
    // compressed differently), so the check is that the encoding is stable: encode∘decode∘encode = encode.
    let e = m.encode()
    let again = try? DNSMessage.decode(e)
    require(again?.encode() == e, "DNS message re-encode: \(m) -> \(e) -> \(String(describing: again))")
    guard let r = fuzzResponder else { return }
    _ = r.conflicts(with: m)
    if let reply = r.respond(to: m, sourcePort: UInt16(b.count > 1 ? b[1] : 0) == 0 ? 5353 : 1234) {
        for part in r.split(reply.message) {
            let bytes = part.encode()
            require((try? DNSMessage.decode(bytes)) == part, "mDNS reply part re-decode")
        }
    }
}, seeds: {
    let r = fuzzResponder
    var out: [[UInt8]] = []
    if let r { out += [r.announcement().encode(), r.probe().encode(), r.goodbye().encode()] }
    if let n = try? DNSName("_netaudio-arc._udp.local.") {
        out.append(DNSMessage(id: 0, questions: [DNSQuestion(name: n, type: .ptr)]).encode())
        out.append(DNSMessage(id: 7, questions: [DNSQuestion(name: n, type: .ptr, unicastResponse: true)], edns: EDNS()).encode())
    }
    return out
})

let fuzzAuthorityZone: DNSZone? = {
    guard let apex = try? DNSName("radio.example."), let ns = try? DNSName("ns.radio.example."),
          let rn = try? DNSName("hostmaster.radio.example.") else { return nil }
    var z = DNSZone(apex: apex, soa: DNSSOA(mname: ns, rname: rn, serial: 1, minimum: 1), soaTTL: 1)
    let names = AoDNSNames(zone: apex)
    _ = z.set(names.sequence, .txt, DNSRRSet(ttl: 2, data: [.txt([AoDNSSequence.encode([1, 2, 3])])]))
    _ = z.set(names.head, .txt, DNSRRSet(ttl: 1, data: [.txt([AoDNSHead(epoch: 1, first: 1, count: 3, closedAtMs: 5).text])]))
    _ = z.set(names.seq(1), .txt, DNSRRSet(ttl: 5, data: (0..<40).map { i in .txt([AoDNSPack.string(index: i, packet: [UInt8](repeating: UInt8(i), count: 120)) ?? []]) }))
    _ = z.set(ns, .a, DNSRRSet(ttl: 60, data: [.a(0x7F00_0001)]))
    return z
}()

/// The AoDNS authoritative server: `DNSAuthority.respond(to:zone:transport:)` on raw query bytes (first input
/// byte: transport and slip) and the flood path's `minimalTruncated`. A UDP answer must fit the policy's size;
/// `DNSAnswerCache` must answer exactly as the slow path, miss and hit.
let dnsAuthorityTarget = FuzzTarget(name: "dns-authority", run: { b in
    guard let zone = fuzzAuthorityZone else { return }
    var k = Knobs(b)
    let sel = k.u8()
    let query = k.rest
    let transport: DNSAuthority.Transport = sel & 1 == 0 ? .udp : .tcp
    let policy = DNSAuthority.Policy()
    if case .success(let r) = DNSAuthority.respond(to: query, zone: zone, transport: transport, slip: sel & 2 != 0, policy: policy) {
        if transport == .udp { require(r.bytes.count <= max(policy.maxUDPSize, 512), "UDP answer of \(r.bytes.count) bytes") }
        require((try? DNSMessage.decode(r.bytes)) != nil, "answer does not decode")
    }
    // The answer cache (miss, then possibly a hit) must give exactly the slow path's result.
    let slow = DNSAuthority.respond(to: query, zone: zone, transport: transport, policy: policy)
    var cache = DNSAnswerCache(policy: policy)
    for _ in 0..<2 {
        require(cache.respond(to: query, zone: zone, transport: transport) == slow, "cached answer differs for \(query)")
    }
    query.withUnsafeBytes { raw in
        if let t = DNSAuthority.minimalTruncated(raw) {
            require((try? DNSMessage.decode(t))?.truncated == true, "minimal truncated answer \(t) for \(Array(raw))")
        }
    }
}, seeds: {
    guard let n = try? DNSName("seq_1.radio.example."), let s = try? DNSName("sequence.radio.example.") else { return [] }
    return [[0] + DNSMessage(id: 1, questions: [DNSQuestion(name: n, type: .txt)]).encode(),
            [1] + DNSMessage(id: 2, questions: [DNSQuestion(name: s, type: .txt)], edns: EDNS()).encode(),
            [2] + DNSMessage(id: 3, questions: [DNSQuestion(name: s, type: .any)]).encode()]
})

// MARK: - Clock

/// usrvclock overlays (the Unix datagram from the clock server): `ClockOverlay.decode` (USrvClockClient), then the
/// overlay math the client and the media clock run on it (wrapping, never trapping).
let usrvclockTarget = FuzzTarget(name: "usrvclock", run: { b in
    var k = Knobs(b)
    let t = Int64(bitPattern: k.u64())
    let datagram = k.rest
    guard let o = try? ClockOverlay.decode(datagram) else { return }
    require((try? ClockOverlay.decode(o.encode())) == o || o.freqScale.isNaN, "overlay re-encode")
    let x = o.overlayTime(underlyingNs: t)
    _ = o.underlyingTime(forOverlayNs: x)
    _ = o.underlyingDuration(untilOverlayNs: x, from: t)
}, seeds: {
    [[UInt8](repeating: 0, count: 8) + ClockOverlay(clockID: 0, lastSync: 1_000_000_000, shift: 37_000_000_000, freqScale: 1e-6).encode(),
     [0, 0, 0, 1, 0, 0, 0, 0] + ClockOverlay(clockID: 11, lastSync: -5, shift: -1, freqScale: -2e-5).encode()]
})

/// PTP (ports 319/320): `PTPv1Message.decode` and `PTPv2Message.decode` round trips, then the datagram into a
/// listening `PTPClockCore` (as the PTP thread feeds it): nothing it does may publish a clock jump.
let ptpTarget = FuzzTarget(name: "ptp", run: { b in
    requireRoundTrip(try? PTPv1Message.decode(b), "PTPv1 message") { try? PTPv1Message.decode($0.encode()) }
    requireRoundTrip(try? PTPv2Message.decode(b), "PTPv2 message") { try? PTPv2Message.decode($0.encode()) }
    var core = ptpFuzzCore
    for a in core.receive(b, event: b.count % 2 == 0, at: 2_000_000_000) {
        if case .overlay(_, let step) = a { require(step == nil, "one datagram stepped a listening clock") }
    }
    require(core.counters.received == 1, "every datagram counted")
}, seeds: {
    let mac: [UInt8] = [2, 0, 0, 0, 0, 1]
    let h = PTPv1Header(messageType: PTPv1.eventMessage, sourceUuid: mac, sourcePortId: 1, sequenceId: 7, control: .sync,
                        flags: PTPv1.flagAssist)
    let q = PTPv1ClockQuality(stratum: 4, variance: -4000, preferred: false)
    let sync = PTPv1Sync(header: h, originTimestamp: PTPTimestamp(ns: 1_700_000_000_000_000_000), grandmasterUuid: mac,
                         grandmasterPortId: 1, grandmasterSequenceId: 7, grandmaster: q, syncInterval: -2,
                         localClockVariance: -4000, localStepsRemoved: 0, localClockStratum: 4, parentUuid: mac, parentPortField: 1)
    let id = PTPPortIdentity(clockIdentity: PTPPortIdentity.eui64(mac: mac), portNumber: 1)
    let ah = PTPv2Header(messageType: .announce, sourcePortIdentity: id, sequenceId: 3, logMessageInterval: 1)
    return [PTPv1Message.sync(sync).encode(),
            PTPv2Message.announce(PTPv2Announce(header: ah, grandmasterPriority1: 128, grandmasterClockClass: 248,
                                                grandmasterClockAccuracy: 0xFE, grandmasterOffsetScaledLogVariance: 0xFFFF,
                                                grandmasterPriority2: 128, grandmasterIdentity: id.clockIdentity,
                                                stepsRemoved: 0, timeSource: 0xA0)).encode(),
            PTPv2Message.sync(PTPv2Header(messageType: .sync, flags: PTPv2.flagTwoStep, sourcePortIdentity: id, sequenceId: 4,
                                          logMessageInterval: -3), originTimestamp: PTPTimestamp(ns: 5)).encode()]
})

/// A core that has started (one host sample), as the PTP thread has it before any traffic.
nonisolated(unsafe) let ptpFuzzCore: PTPClockCore = {
    var c = PTPClockCore(configuration: .init(mac: [2, 0, 0, 0, 0, 9]))
    _ = c.hostSample(taiMinusUnderlyingNs: 1_700_000_000_000_000_000, at: 1_000_000_000)
    return c
}()

// MARK: - AoDNS

/// basE91: decoding is total; decode∘encode is the identity and encode∘decode is stable.
let base91Target = FuzzTarget(name: "base91", run: { b in
    let d = Base91.decode(b)
    require(Base91.decode(Base91.encode(d)) == d, "decode(encode(decode(x)))")
    require(Base91.decode(b.filter(Base91.isAlphabet)) == d, "bytes outside the alphabet are not skipped")
    let e = Base91.encode(b)
    require(e.allSatisfy(Base91.isAlphabet), "encoder wrote a byte outside the alphabet")
    require(Base91.decode(e) == b, "decode(encode(x)) != x")
}, seeds: {
    [Array("hello".utf8), Base91.encode(Array("Inferno AoDNS".utf8)), Base91.encode([UInt8](0...255))]
})

/// `sequence.<zone>`: `AoDNSSequence.decode` (AoDNSListener); an accepted list re-encodes to the same list.
let aodnsSequenceTarget = FuzzTarget(name: "aodns-sequence", run: { b in
    guard let list = try? AoDNSSequence.decode(b) else { return }
    require((try? AoDNSSequence.decode(AoDNSSequence.encode(list))) == list, "sequence re-encode")
    if list.count <= 64 {
        let (text, n) = AoDNSSequence.encodeFitting(list)
        require(text.count <= AoDNSSequence.maxOctets && n <= list.count, "encodeFitting bound")
        require((try? AoDNSSequence.decode(text)) == Array(list.suffix(n)), "encodeFitting tail")
    }
}, seeds: {
    [AoDNSSequence.encode([1]), AoDNSSequence.encode(Array(100...130)), AoDNSSequence.encode([]),
     AoDNSSequence.encode([18_446_744_073_709_551_615, 0])]
})

/// `seq_N.<zone>` packs: `AoDNSPack.decode(strings:expected:)` (AoDNSListener) on newline-separated strings
/// (first input byte: `fpp`, 0 = unknown). Every string is either kept, damaged or a duplicate.
let aodnsPackTarget = FuzzTarget(name: "aodns-pack", run: { b in
    var k = Knobs(b)
    let e = Int(k.u8())
    let strings = k.rest.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
    let d = AoDNSPack.decode(strings: strings, expected: e == 0 ? nil : e)
    let kept = d.packets.count - d.missing
    require(kept + d.damaged + d.duplicates == strings.count, "pack accounting")
    if e != 0 { require(d.packets.count >= e, "fpp sizes the pack") }
    for s in strings {
        guard let (i, p) = try? AoDNSPack.parse(s), let text = AoDNSPack.string(index: i, packet: p) else { continue }
        let again = try? AoDNSPack.parse(text)
        require(again?.index == i && again?.packet == p, "pack string re-encode")
    }
}, seeds: {
    let strings = (0..<5).compactMap { AoDNSPack.string(index: $0, packet: [UInt8](repeating: UInt8($0 * 7), count: 40 + $0)) }
    return [[5] + Array(strings.joined(separator: [0x0A])), [0] + Array("000'''abc\n001'''def\n 2'''ghi".utf8)]
})

/// `head`, `config` records and `seq_N[.epoch]` owner names: `AoDNSHead(text:)`, `AoDNSConfig(strings:)`,
/// `AoDNSNames.parseSeq` (AoDNSListener), each re-encoded when accepted.
let aodnsRecordsTarget = FuzzTarget(name: "aodns-records", run: { b in
    if let h = try? AoDNSHead(text: b) {
        require((try? AoDNSHead(text: h.text)) == h, "head re-encode")
    }
    let strings = b.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
    if let c = try? AoDNSConfig(strings: strings) {
        require((try? AoDNSConfig(strings: c.strings)) == c, "config re-encode")
    }
    if let zone = try? DNSName("radio.example."),
       let name = try? DNSName(labels: b.split(separator: 0x2E).map { Array($0) } + zone.labels) {
        let names = AoDNSNames(zone: zone)
        if let (n, epoch) = names.parseSeq(name) {
            let back = epoch.map { names.seq(n, epoch: $0) } ?? names.seq(n)
            require(names.parseSeq(back).map { $0.n == n && $0.epoch == epoch } == true, "seq name re-encode")
        }
    }
}, seeds: {
    let c = AoDNSConfig(sampleRate: 48000, channels: 2, packetsPerPack: 10, window: 20, epoch: 0xDEAD_BEEF, bitrate: 64000)
    return [AoDNSHead(epoch: 0x1234_5678, first: 42, count: 10, closedAtMs: 1_700_000_000_000).text,
            Array(c.strings.joined(separator: [0x0A])), Array("seq_12".utf8), Array("seq_7.0000abcd".utf8)]
})

// MARK: - AudioSocket

/// Events of one parse, with the audio runs of one kind concatenated (how they are split depends on the reads).
enum SocketEvent: Equatable {
    case uuid(AudioSocketUUID), audio(UInt8, Int, [UInt8]), dtmf(UInt8), hangup, peerError(UInt8?), failed(AudioSocketError)
}

func parseAll(_ stream: [UInt8], role: AudioSocketParser.Role, cuts: [Int]) -> ([SocketEvent], AudioSocketParser) {
    var p = AudioSocketParser(role: role, now: 0)
    var events: [SocketEvent] = []
    let handler: (AudioSocketParser.Event) -> Void = { e in
        switch e {
        case .uuid(let u): events.append(.uuid(u))
        case let .audio(kind, rate, samples):
            require(samples.count % 2 == 0, "odd audio run")
            if case let .audio(k, r, prev)? = events.last, k == kind.rawValue, r == rate {
                events[events.count - 1] = .audio(k, r, prev + Array(samples))
            } else {
                events.append(.audio(kind.rawValue, rate, Array(samples)))
            }
        case .dtmf(let d): events.append(.dtmf(d))
        case .hangup: events.append(.hangup)
        case .peerError(let c): events.append(.peerError(c))
        case .failed(let f): events.append(.failed(f))
        }
    }
    var start = 0
    for c in cuts + [stream.count] where c >= start && c <= stream.count {
        p.feed(Array(stream[start..<c]), now: 1, handler)
        start = c
    }
    return (events, p)
}

/// The AudioSocket stream parser (`AudioSocketParser.feed`, as the hub calls it per read): the same stream fed
/// whole and in pieces (cut points from the first input bytes) gives the same events and counters; a parser that
/// is not closed reports exactly one timeout on a late `tick`.
let audiosocketTarget = FuzzTarget(name: "audiosocket", run: { b in
    var k = Knobs(b)
    let sel = k.u8()
    let cutCount = Int(sel & 7)
    var cuts: [Int] = []
    for _ in 0..<cutCount { cuts.append(Int(k.u16())) }
    let stream = k.rest
    cuts = cuts.map { stream.isEmpty ? 0 : $0 % (stream.count + 1) }.sorted()
    let role: AudioSocketParser.Role = sel & 0x80 == 0 ? .server : .client
    let (whole, pw) = parseAll(stream, role: role, cuts: [])
    let (pieces, pp) = parseAll(stream, role: role, cuts: cuts)
    require(whole == pieces, "events depend on how the stream is split")
    require(pw.counters == pp.counters && pw.state == pp.state && pw.failure == pp.failure, "state depends on the split")
    var p = pw
    var failures = 0
    p.tick(now: 1 << 62) { if case .failed = $0 { failures += 1 } }
    require(failures == (pw.state == .closing ? 0 : 1), "late tick reported \(failures) failures")
}, seeds: {
    let u = AudioSocketUUID(high: 0x4032_5EC2_5EFD_4BD3, low: 0x805F_5357_6E58_1D13)
    let msgs: [AudioSocketMessage] = [.uuid(u), .audio(.slin8, [1, -1, 300, -300]), .dtmf(0x35),
                                      .audio(.slin16, Array(repeating: 7, count: 160)), .error(1), .hangup]
    return [[0x02, 0, 5, 0, 40] + msgs.flatMap(\.encoded),
            [0x81, 0, 1] + AudioSocketMessage.audio(.slin48, [1, 2, 3]).encoded + AudioSocketMessage.hangup.encoded]
})

// MARK: - State file

let stateDirectory: String = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return base + "/inferno-fuzz-state-\(getpid())"
}()
let stateStore = StateStore(directory: stateDirectory, deviceID: DeviceID(bytes: [2, 0, 0, 0xff, 0xfe, 0, 0, 1])!)

func clearStateDirectory() {
    for f in (try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? [] {
        unlink(stateDirectory + "/" + f)
    }
}

/// The state file: `StateStore.load` (what the device runs at start) on the input as the file's contents. A file
/// it accepts saves and loads back to the same state; one it rejects is moved aside, never half-used.
let stateTarget = FuzzTarget(name: "state", run: { b in
    try? FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
    clearStateDirectory()
    _ = FileManager.default.createFile(atPath: stateStore.path, contents: Data(b))
    let r = stateStore.load()
    if r.warning == nil {
        require(r.state.version == DeviceState.currentVersion, "accepted state of version \(r.state.version)")
        do { try stateStore.save(r.state) } catch { require(false, "save of a loaded state failed: \(error)") }
        let again = stateStore.load()
        require(again.warning == nil && again.state == r.state, "state save/load round trip")
    } else {
        require(r.state == DeviceState() && !FileManager.default.fileExists(atPath: stateStore.path),
                "rejected state file not moved aside or state not reset")
    }
    clearStateDirectory()
}, seeds: {
    var s = DeviceState()
    s.name = "studio-a"
    s.txChannelNames = [1: "Left", 2: "Right"]
    s.rxChannelNames = [1: "In 1"]
    s.subscriptions = [1: .init(txChannel: "Left", txDevice: "desk")]
    s.latencyNs = 1_000_000; s.sampleRate = 48000; s.encoding = 24
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    return [(try? enc.encode(s)).map { Array($0) } ?? [], Array("{\"version\":1}".utf8)]
})
