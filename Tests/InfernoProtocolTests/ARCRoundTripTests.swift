import Testing
@testable import InfernoProtocol

/// Random ARC values for round-trip and fuzz seeds.
struct ARCGen {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
    mutating func u16() -> UInt16 { UInt16.random(in: 0...UInt16.max, using: &rng) }
    mutating func u32() -> UInt32 { UInt32.random(in: 0...UInt32.max, using: &rng) }
    mutating func bool() -> Bool { Bool.random(using: &rng) }

    static let alphabet: [String] = Array("abcXYZ019-:_ .").map(String.init) + ["é", "ß", "日本", "🎛", "Ω"]
    /// 0...31 UTF-8 bytes, never containing NUL.
    mutating func name(min: Int = 0) -> String {
        var s = ""
        let n = int(min...20)
        while s.count < n {
            let piece = Self.alphabet[int(0...Self.alphabet.count - 1)]
            if s.utf8.count + piece.utf8.count > 31 { break }
            s += piece
        }
        if s.utf8.count < min { s += String(repeating: "x", count: min - s.utf8.count) }
        return s
    }
    mutating func optName() -> String? { bool() ? name(min: 1) : nil }

    mutating func format() -> ARCFormatDescriptor {
        ARCFormatDescriptor(sampleRate: [44100, 48000, 88200, 96000][int(0...3)], pcmType: [4, 0x0e][int(0...1)],
                            field4: bool() ? 0x0101 : 0x0202)
    }

    mutating func page() -> ARCPageRequest { ARCPageRequest(start: u16(), maxEntries: u16(), marker: bool() ? 1 : u16()) }

    mutating func requestBody() -> ARCRequestBody {
        switch int(0...17) {
        case 0: return .channelCounts
        case 1: return .setDeviceName(bool() ? name() : nil)
        case 2: return .deviceName
        case 3: return .deviceInfo
        case 4: return .settingsQuery((0..<int(0...30)).map { _ in u16() })
        case 5:
            switch int(0...2) {
            case 0: return .settingsSet(nil)
            case 1: return .settingsSet(.latency(nanoseconds: u32()))
            default: return .settingsSet(.netaudioLatency(milliseconds: UInt32(int(0...20))))
            }
        case 6: return .txChannels(page())
        case 7: return .txChannelNames(page())
        case 8, 9:
            let marker: UInt8 = bool() ? 2 : UInt8(int(3...64))
            let rename = ARCChannelRename(names: (0..<int(0...32)).map { _ in ARCChannelName(channel: u16(), name: name()) },
                                          marker: marker)
            return int(8...9) == 8 ? .setTxChannelNames(rename) : .setRxChannelNames(rename)
        case 10: return .rxChannels(page())
        case 11:
            let devices = (0..<3).map { _ in name(min: 1) }
            let records = (0..<int(0...32)).map { _ -> ARCSubscriptionRecord in
                if int(0...3) == 0 { return .unsubscribe(u16()) }
                return ARCSubscriptionRecord(rxChannel: u16(), txChannel: name(min: 1), txDevice: devices[int(0...2)])
            }
            return .subscribe(ARCSubscriptionRequest(records: records, marker: bool() ? 2 : 0x20))
        case 12: return .bulkUnsubscribe((0..<int(0...64)).map { _ in u16() })
        case 13:
            return .subscriptionModify(ARCSubscriptionModify(records: (0..<int(0...4)).map { _ in
                bool() ? ARCSubscriptionModifyRecord(rxChannel: u16(), txChannel: name(min: 1), txDevice: name(min: 1))
                       : ARCSubscriptionModifyRecord(rxChannel: u16(), txChannel: nil, txDevice: nil)
            }))
        case 14: return .txFlows(bool() ? page() : nil)
        case 15: return .rxFlows(bool() ? page() : nil)
        case 16: return .portRanges
        default:
            let known: Set<UInt16> = [0x1000, 0x1001, 0x1002, 0x1003, 0x1100, 0x1101, 0x2000, 0x2010, 0x2013, 0x2200,
                                      0x3000, 0x3001, 0x3010, 0x3014, 0x3200, 0x3300, 0x3410]
            var op = u16()
            while known.contains(op) { op = u16() }
            return .other(opcode: op, body: (0..<int(0...40)).map { _ in UInt8(truncatingIfNeeded: u16()) })
        }
    }

    mutating func rxStatus() -> (ARCRxChannelStatus, ARCSubscriptionStatus) {
        let s: [ARCSubscriptionStatus] = [.none, .unresolved, .selfConnected, .inProgress, .unicast, .multicast,
                                          .tooManyTxFlows, .txFail]
        let sub = s[int(0...s.count - 1)]
        return (sub == .unicast || sub == .multicast ? .receiving : .idle, sub)
    }

    /// A response (opcode, status, body) that round-trips.
    mutating func response() -> (UInt16, ResultCode, ARCResponseBody) {
        switch int(0...10) {
        case 0: return (ARCOpcode.deviceName, .success, .deviceName(name()))
        case 1:
            let tx = UInt16(int(0...512)), rx = UInt16(int(0...512))
            let c = bool() ? ARCChannelCounts.inferno(tx: tx, rx: rx)
                           : .standard(tx: tx, rx: rx, maxTxFlows: u16(), maxRxFlows: u16())
            return (ARCOpcode.channelCounts, .success, .channelCounts(c))
        case 2:
            let info = ARCDeviceInfo(friendlyName: name(), factoryName: name(), boardName: name(),
                                     versionSuffix: optName(), arcProtocolID: u16(), flowControlProtocolID: u16(),
                                     layout: bool() ? .brooklyn : .avio)
            return (ARCOpcode.deviceInfo, .success, .deviceInfo(info))
        case 3:
            let records = (0..<int(0...30)).map { _ -> ARCSetting in
                switch int(0...2) {
                case 0: return .inline(code: UInt16(int(1...0x7fff)), value: u16())
                case 1: return .pointer(code: 0x8000 | u16(), value: u32())
                default: return .unsupported(code: u16())
                }
            }
            return (bool() ? ARCOpcode.settingsQuery : ARCOpcode.settingsSet, .success,
                    .settings(ARCSettingsTable(requestedCount: UInt8(int(0...255)), records: records)))
        case 4:
            let formats = [format(), format()]
            let all = (1...int(1...80)).map { ARCTxChannel(number: UInt16($0), name: name(min: 1),
                                                            format: bool() ? formats[int(0...1)] : nil,
                                                            flags: bool() ? 7 : 0x107) }
            let (page, status) = ARCTxChannelPage.page(of: all, start: UInt16(int(0...90)))
            return (ARCOpcode.txChannels, status, .txChannels(page))
        case 5:
            let names = (1...int(1...80)).map { (channel: UInt16($0), name: name()) }
            let (page, status) = ARCTxChannelNamePage.page(of: names, start: UInt16(int(0...90)))
            return (ARCOpcode.txChannelNames, status, .txChannelNames(page))
        case 6:
            let f = format()
            let devices = [name(min: 1), name(min: 1), "."]
            let all = (1...int(1...64)).map { n -> ARCRxChannel in
                let (rxs, sub) = rxStatus()
                let subscribed = sub != .none
                return ARCRxChannel(number: UInt16(n), name: name(), format: f,
                                    txChannel: subscribed ? name(min: 1) : nil,
                                    txDevice: subscribed ? devices[int(0...2)] : nil,
                                    rxChannelStatus: rxs, subscriptionStatus: sub, flags: bool() ? 6 : 0x0f)
            }
            let (page, status) = ARCRxChannelPage.page(of: all, start: UInt16(int(0...70)))
            return (ARCOpcode.rxChannels, status, .rxChannels(page))
        case 7:
            let flows = (0..<int(0...16)).map { _ in
                ARCFlowSummary(flowID: u16(), flowType: u16(), sampleRate: u32(), encoding: u32())
            }
            return (bool() ? ARCOpcode.txFlows : ARCOpcode.rxFlows, .success,
                    .flows(ARCFlowTable(slots: UInt8(int(0...32)), flows: flows)))
        case 8:
            return (ARCOpcode.portRanges, .success,
                    .portRanges((0..<int(1...4)).map { _ in ARCPortRange(first: u16(), last: u16()) }))
        case 9:
            return ([ARCOpcode.setDeviceName, ARCOpcode.subscribe, ARCOpcode.bulkUnsubscribe][int(0...2)],
                    [ResultCode.success, .locked, .unsupported][int(0...2)], .empty)
        default:
            return (0x3400, bool() ? .success : .error, .raw((0..<int(1...60)).map { _ in UInt8(truncatingIfNeeded: u16()) }))
        }
    }
}

@Suite struct ARCRoundTripTests {
    static let iterations = 3000

    @Test func requests() throws {
        var g = ARCGen(seed: 1)
        var seen: Set<UInt16> = []
        for _ in 0..<Self.iterations {
            let q = ARCRequest(protocolID: [0x27ff, 0x2729, 0x2809, 0x2801][g.int(0...3)], transactionID: g.u16(),
                               body: g.requestBody())
            seen.insert(q.opcode)
            let bytes = q.encode()
            #expect(try ARCRequest.decode(bytes) == q, "\(q)")
        }
        #expect(seen.count > 17)
    }

    @Test func responses() throws {
        var g = ARCGen(seed: 2)
        var kinds: Set<String> = []
        for _ in 0..<Self.iterations {
            let (op, status, body) = g.response()
            let r = ARCResponse(protocolID: [0x27ff, 0x2729, 0x2809][g.int(0...2)], transactionID: g.u16(),
                                opcode: op, status: status, body: body)
            kinds.insert(String(describing: body).prefix(while: { $0 != "(" }).description)
            let bytes = r.encode()
            #expect(bytes.count == Int(bytes[2]) << 8 | Int(bytes[3]))
            #expect(try ARCResponse.decode(bytes) == r, "\(r)")
        }
        #expect(kinds.count == 11)
    }

    /// Full pages stay within one Ethernet MTU with 31-byte names (distinct TX names; distinct RX and TX channel
    /// names with one TX device). 16 RX records with three distinct 31-byte strings each would not fit (1894 bytes).
    @Test func fullPagesFitInMTU() {
        let f = ARCFormatDescriptor(sampleRate: 48000)
        func long(_ tag: String, _ n: Int) -> String { tag + String(repeating: "n", count: 31 - tag.count - 2) + String(100 + n).suffix(2) }
        let tx = (1...32).map { ARCTxChannel(number: UInt16($0), name: long("t", $0), format: f) }
        let txBytes = ARCResponse(transactionID: 1, opcode: 0x2000, body: .txChannels(ARCTxChannelPage.page(of: tx, start: 1).page)).encode()
        #expect(txBytes.count <= 1500)
        let rx = (1...16).map { ARCRxChannel(number: UInt16($0), name: long("r", $0), format: f, txChannel: long("c", $0),
                                              txDevice: long("d", 0),
                                              rxChannelStatus: .receiving, subscriptionStatus: .unicast) }
        let rxBytes = ARCResponse(transactionID: 1, opcode: 0x3000, body: .rxChannels(ARCRxChannelPage.page(of: rx, start: 1).page)).encode()
        #expect(rxBytes.count <= 1500)
    }
}
