import InfernoProtocol

/// What a request changed, so the runtime knows what to persist, re-announce and notify.
public struct DeviceChanges: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let name = DeviceChanges(rawValue: 1)
    public static let txNames = DeviceChanges(rawValue: 2)
    public static let rxNames = DeviceChanges(rawValue: 4)
    public static let subscriptions = DeviceChanges(rawValue: 8)
    public static let settings = DeviceChanges(rawValue: 16)
}

/// The device's control-plane state and its answers to ARC requests. Pure: bytes in, bytes and changes out;
/// the runtime owns sockets, persistence and mDNS.
public struct DeviceModel: Sendable {
    public struct TxChannel: Equatable, Sendable {
        public var factory: String
        public var customName: String?
        public var name: String { customName ?? defaultName ?? "TX \(factoryNumber)" }
        let factoryNumber: Int
        /// The friendly name when nobody renamed it (extra channels: "call 1"…); nil = "TX n".
        var defaultName: String? = nil
    }

    public struct RxChannel: Equatable, Sendable {
        public var number: Int
        public var customName: String?
        public var name: String { customName ?? defaultName ?? "RX \(number)" }
        /// The name when nobody renamed it (extra channels: "call 1"…); nil = "RX n".
        public var defaultName: String? = nil
        public var subscription: DeviceState.Subscription?
        public var status: ARCSubscriptionStatus = .none
        public var receiving = false
    }

    /// The name given by `--name` or derived from the device id; a controller's rename overrides it.
    public let configuredName: String
    public private(set) var name: String
    /// `<model>-<6 hex of the device id>`, shown by controllers as the factory/default name.
    public let factoryName: String
    public let deviceID: DeviceID
    public var tx: [TxChannel]
    public var rx: [RxChannel]
    public var sampleRate: Int
    public var encoding: Int
    public var latencyNs: UInt32
    /// RX channels whose subscription changed since the runtime last took them (`takeChangedRx`).
    public private(set) var changedRx: Set<Int> = []

    public static let minLatencyNs: UInt32 = 250_000
    public static let maxLatencyNs: UInt32 = 1_000_000_000
    public static let boardName = "Inferno-Swift"

    public init(config: DeviceConfig, deviceID: DeviceID, state: DeviceState) {
        self.deviceID = deviceID
        configuredName = config.name ?? "inferno-\(deviceID.shortHex)"
        name = state.name ?? configuredName
        factoryName = "INFERNO-\(deviceID.shortHex.uppercased())"
        tx = (0..<config.txChannels).map { i in
            TxChannel(factory: Self.factoryName(i + 1), customName: state.txChannelNames[i + 1], factoryNumber: i + 1)
        }
        rx = (0..<config.rxChannels).map { i in
            var ch = RxChannel(number: i + 1, customName: state.rxChannelNames[i + 1])
            if let s = state.subscriptions[i + 1] {
                ch.subscription = s
                ch.status = .unresolved
            }
            return ch
        }
        // Extra channels (AudioSocket calls) after the device's own, with their own default names.
        for (k, extra) in config.extraChannelNames.enumerated() {
            let t = config.txChannels + k + 1
            tx.append(TxChannel(factory: Self.factoryName(t), customName: state.txChannelNames[t], factoryNumber: t, defaultName: extra))
            let r = config.rxChannels + k + 1
            var ch = RxChannel(number: r, customName: state.rxChannelNames[r], defaultName: extra)
            if let s = state.subscriptions[r] {
                ch.subscription = s
                ch.status = .unresolved
            }
            rx.append(ch)
        }
        // A setting given on the command line (or environment) wins over the saved one; otherwise what a controller
        // set last is kept.
        let configLatency = UInt32(min(Double(Self.maxLatencyNs), config.latencyMs * 1_000_000))
        sampleRate = config.explicit.contains("sample-rate") ? config.sampleRate : state.sampleRate ?? config.sampleRate
        encoding = config.explicit.contains("encoding") ? config.encoding : state.encoding ?? config.encoding
        latencyNs = config.explicit.contains("latency-ms") ? configLatency : state.latencyNs ?? configLatency
    }

    /// `01`, `02`, … `99`, `100`, …
    static func factoryName(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// What to persist.
    public var state: DeviceState {
        var s = DeviceState()
        s.name = name == configuredName ? nil : name
        for (i, c) in tx.enumerated() { if let n = c.customName { s.txChannelNames[i + 1] = n } }
        for c in rx {
            if let n = c.customName { s.rxChannelNames[c.number] = n }
            if let sub = c.subscription { s.subscriptions[c.number] = sub }
        }
        s.latencyNs = latencyNs
        s.sampleRate = sampleRate
        s.encoding = encoding
        return s
    }

    public var format: ARCFormatDescriptor {
        ARCFormatDescriptor(sampleRate: UInt32(sampleRate), pcmType: 0x000e, field6: UInt16(encoding),
                            field10: UInt16(encoding), field12: UInt16(encoding))
    }

    /// After an mDNS name conflict: the next free variant of the current name (`studio` → `studio-2` → `studio-3`),
    /// kept within 31 characters.
    public mutating func renameAfterConflict() -> String {
        var base = name, n = 2
        if let dash = name.lastIndex(of: "-"), let k = Int(name[name.index(after: dash)...]), k >= 2 {
            base = String(name[..<dash]); n = k + 1
        }
        let suffix = "-\(n)"
        name = String(base.prefix(31 - suffix.count)) + suffix
        return name
    }

    public mutating func takeChangedRx() -> [Int] {
        defer { changedRx = [] }
        return changedRx.sorted()
    }

    // MARK: ARC

    public struct Outcome: Sendable {
        public var request: ARCRequest
        public var response: [UInt8]?
        public var changes: DeviceChanges
        /// The request would have changed the device but its sender may not (`handleARC(_:allowChanges:)`).
        public var refused = false
    }

    /// Handles one datagram received on the ARC port. Malformed requests and stray responses get no reply
    /// (`nil`); the caller counts them.
    ///
    /// `allowChanges` false (the sender is outside `--allow-controllers`): requests that would change the device
    /// (and the lock probe) are answered 0x0600, the status a locked Dante device gives, and change nothing;
    /// `refused` is set. Reads are answered as usual.
    public mutating func handleARC(_ bytes: [UInt8], allowChanges: Bool = true) -> Outcome? {
        guard let request = try? ARCRequest.decode(bytes) else { return nil }
        if !allowChanges && Self.isChange(request.body) {
            return Outcome(request: request, response: ARCResponse(answering: request, status: .locked, body: .empty).encode(),
                           changes: [], refused: true)
        }
        var changes: DeviceChanges = []
        let (status, body) = answer(request, changes: &changes)
        return Outcome(request: request, response: ARCResponse(answering: request, status: status, body: body).encode(), changes: changes)
    }

    /// Requests that change the device: renames, subscriptions, latency (and the empty-body lock probe, which asks
    /// "may I write?").
    public static func isChange(_ body: ARCRequestBody) -> Bool {
        switch body {
        case .setDeviceName, .settingsSet, .setTxChannelNames, .setRxChannelNames, .subscribe, .subscriptionModify,
             .bulkUnsubscribe:
            return true
        case .channelCounts, .deviceName, .deviceInfo, .settingsQuery, .txChannels, .txChannelNames, .rxChannels,
             .txFlows, .rxFlows, .portRanges, .other:
            return false
        }
    }

    mutating func answer(_ request: ARCRequest, changes: inout DeviceChanges) -> (ResultCode, ARCResponseBody) {
        switch request.body {
        case .channelCounts:
            return (.success, .channelCounts(.standard(tx: UInt16(tx.count), rx: UInt16(rx.count), maxTxFlows: 32, maxRxFlows: 32)))
        case .deviceName:
            return (.success, .deviceName(name))
        case .setDeviceName(let newName):
            let target = newName ?? configuredName
            guard DeviceConfig.nameProblem(target) == nil else { return (.error, .empty) }
            if target != name { name = target; changes.insert(.name) }
            return (.success, .empty)
        case .deviceInfo:
            return (.success, .deviceInfo(ARCDeviceInfo(friendlyName: name, factoryName: factoryName, boardName: Self.boardName)))
        case .settingsQuery(let codes):
            return (.success, .settings(settingsTable(codes)))
        case .settingsSet(let set):
            guard let set else { return (.success, .empty) } // lock probe: we are never locked
            if let ns = set.latencyNanoseconds {
                let clamped = min(max(ns, Self.minLatencyNs), Self.maxLatencyNs)
                if clamped != latencyNs { latencyNs = clamped; changes.insert(.settings) }
            }
            return (.success, .settings(settingsTable(set.entries.map(\.code).filter { $0 != 0 })))
        case .txChannels(let p):
            let all = tx.enumerated().map { ARCTxChannel(number: UInt16($0.offset + 1), name: $0.element.factory, format: format) }
            let (page, status) = ARCTxChannelPage.page(of: all, start: p.start)
            return (status, .txChannels(page))
        case .txChannelNames(let p):
            let names = tx.enumerated().map { (channel: UInt16($0.offset + 1), name: $0.element.name) }
            // Pages of 32 whatever "max entries" asks for: netaudio 0.4.2 asks for all (max = channel count)
            // but its parser rejects a response with more than 32 records, and it reads only the first one.
            let (page, status) = ARCTxChannelNamePage.page(of: names, start: p.start)
            return (status, .txChannelNames(page))
        case .setTxChannelNames(let rename):
            for n in rename.names {
                let i = Int(n.channel) - 1
                guard tx.indices.contains(i) else { return (.error, .empty) }
                guard n.name.isEmpty || Self.validChannelName(n.name) else { return (.error, .empty) }
            }
            for n in rename.names {
                let i = Int(n.channel) - 1
                let newName: String? = n.name.isEmpty ? nil : n.name
                if tx[i].customName != newName { tx[i].customName = newName; changes.insert(.txNames) }
            }
            return (.success, .empty)
        case .rxChannels(let p):
            let all = rx.map { c in
                ARCRxChannel(number: UInt16(c.number), name: c.name, format: format,
                             txChannel: c.subscription?.txChannel, txDevice: c.subscription?.txDevice,
                             rxChannelStatus: c.receiving ? .receiving : .idle, subscriptionStatus: c.status)
            }
            let (page, status) = ARCRxChannelPage.page(of: all, start: p.start)
            return (status, .rxChannels(page))
        case .setRxChannelNames(let rename):
            for n in rename.names {
                guard rx.indices.contains(Int(n.channel) - 1) else { return (.error, .empty) }
                guard n.name.isEmpty || Self.validChannelName(n.name) else { return (.error, .empty) }
            }
            for n in rename.names {
                let i = Int(n.channel) - 1
                let newName: String? = n.name.isEmpty ? nil : n.name
                if rx[i].customName != newName { rx[i].customName = newName; changes.insert(.rxNames) }
            }
            return (.success, .empty)
        case .subscribe(let req):
            return apply(req.records.map { ($0.rxChannel, $0.txChannel, $0.txDevice) }, changes: &changes)
        case .subscriptionModify(let req):
            return apply(req.records.map { ($0.rxChannel, $0.txChannel, $0.txDevice) }, changes: &changes)
        case .bulkUnsubscribe(let channels):
            return apply(channels.map { ($0, nil, nil) }, changes: &changes)
        case .txFlows, .rxFlows:
            // No flows yet. netaudio 0.4.2's parser takes an empty table only in this form (body[0] = 1,
            // body[1] = 0 flows, two bytes of padding); with it, netaudio's sample-rate change goes ahead.
            return (.success, .raw([0x01, 0x00, 0x00, 0x00]))
        case .portRanges:
            // No media receive sockets exist yet (the media engine lands with the flows issue).
            return (.success, .portRanges([]))
        case .other:
            return (.unsupported, .empty)
        }
    }

    /// Subscribe (both names) or unsubscribe (either missing). Channels out of range are skipped, the rest applied.
    mutating func apply(_ records: [(UInt16, String?, String?)], changes: inout DeviceChanges) -> (ResultCode, ARCResponseBody) {
        var allValid = true
        for (ch, txChannel, txDevice) in records {
            let i = Int(ch) - 1
            guard rx.indices.contains(i) else { allValid = false; continue }
            let new: DeviceState.Subscription?
            if let txChannel, let txDevice, !txChannel.isEmpty, !txDevice.isEmpty {
                new = DeviceState.Subscription(txChannel: txChannel, txDevice: txDevice)
            } else {
                new = nil
            }
            if rx[i].subscription != new {
                rx[i].subscription = new
                rx[i].status = new == nil ? .none : .unresolved
                rx[i].receiving = false
                changedRx.insert(i + 1)
                changes.insert(.subscriptions)
            }
        }
        return (allValid ? .success : .error, .empty)
    }

    func settingsTable(_ codes: [UInt16]) -> ARCSettingsTable {
        let records: [ARCSetting] = codes.map { code in
            switch code {
            case ARCInfoCode.defaultLatency: return .pointer(code: code, value: 4_000_000)
            case ARCInfoCode.latency, ARCInfoCode.latencyRelated: return .pointer(code: code, value: latencyNs)
            case ARCInfoCode.maximumLatency: return .pointer(code: code, value: Self.maxLatencyNs)
            case ARCInfoCode.minimumLatency: return .pointer(code: code, value: Self.minLatencyNs)
            case ARCInfoCode.sampleRate: return .pointer(code: code, value: UInt32(sampleRate))
            default: return .unsupported(code: code)
            }
        }
        return ARCSettingsTable(requestedCount: UInt8(truncatingIfNeeded: codes.count), records: records)
    }

    /// Channel names: 1 to 31 bytes of printable UTF-8, no `@` (it separates channel and device in `chan@dev`)
    /// and no `.` (it would split the mDNS instance label).
    public static func validChannelName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 31 && !s.contains("@") && !s.contains(".") && s.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f }
    }
}
