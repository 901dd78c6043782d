import InfernoProtocol
import Testing
@testable import InfernoDevice

@Suite struct DeviceModelTests {
    func model(tx: Int = 40, rx: Int = 20, state: DeviceState = DeviceState()) -> DeviceModel {
        var c = DeviceConfig()
        c.name = "studio"
        c.txChannels = tx
        c.rxChannels = rx
        return DeviceModel(config: c, deviceID: DeviceID(hex: "001dc1fffe5279b6")!, state: state)
    }

    func ask(_ m: inout DeviceModel, _ body: ARCRequestBody, txn: UInt16 = 1) throws -> (ARCResponse, DeviceChanges) {
        let reply = m.handleARC(ARCRequest(protocolID: 0x2729, transactionID: txn, body: body).encode())
        let out = try #require(reply)
        let response = try ARCResponse.decode(try #require(out.response))
        #expect(response.protocolID == 0x2729 && response.transactionID == txn)
        return (response, out.changes)
    }

    @Test func namesAndRename() throws {
        var m = model()
        #expect(try ask(&m, .deviceName).0.body == .deviceName("studio"))
        let (r, ch) = try ask(&m, .setDeviceName("stage-left"))
        #expect(r.status == .success && ch.contains(.name))
        #expect(try ask(&m, .deviceName).0.body == .deviceName("stage-left"))
        #expect(m.state.name == "stage-left")
        // Not DNS-safe: refused, nothing changes.
        #expect(try ask(&m, .setDeviceName("bad name")).0.status == .error)
        #expect(try ask(&m, .deviceName).0.body == .deviceName("stage-left"))
        // Reset restores the configured name, which is not stored.
        _ = try ask(&m, .setDeviceName(nil))
        #expect(try ask(&m, .deviceName).0.body == .deviceName("studio") && m.state.name == nil)
    }

    @Test func channelListsPage() throws {
        var m = model()
        let (p1, _) = try ask(&m, .txChannels(ARCPageRequest(start: 1)))
        let (p2, _) = try ask(&m, .txChannels(ARCPageRequest(start: 33)))
        #expect(p1.status == .morePages && p2.status == .success)
        guard case .txChannels(let a) = p1.body, case .txChannels(let b) = p2.body else { Issue.record("wrong bodies"); return }
        #expect((a.channels + b.channels).map(\.name) == (1...40).map { $0 < 10 ? "0\($0)" : "\($0)" })
        let (r2, _) = try ask(&m, .rxChannels(ARCPageRequest(start: 17)))
        guard case .rxChannels(let rxp) = r2.body else { Issue.record("wrong body"); return }
        #expect(rxp.channels.map(\.name) == ["RX 17", "RX 18", "RX 19", "RX 20"])
    }

    @Test func friendlyNamesComeIn32s() throws {
        // netaudio 0.4.2 asks 0x2010 with start 1 and max = channel count; its parser takes at most 32 records.
        var m = model(tx: 128)
        let (r, _) = try ask(&m, .txChannelNames(ARCPageRequest(start: 1, maxEntries: 128)))
        guard case .txChannelNames(let page) = r.body else { Issue.record("wrong body"); return }
        #expect(page.entries.count == 32 && page.entries.first?.name == "TX 1" && r.status == .morePages)
        let (last, _) = try ask(&m, .txChannelNames(ARCPageRequest(start: 97, maxEntries: 128)))
        guard case .txChannelNames(let tail) = last.body else { Issue.record("wrong body"); return }
        #expect(tail.entries.last?.channel == 128 && last.status == .success)
    }

    @Test func channelRenames() throws {
        var m = model()
        var (r, ch) = try ask(&m, .setTxChannelNames(ARCChannelRename(names: [ARCChannelName(channel: 3, name: "Vox")])))
        #expect(r.status == .success && ch.contains(.txNames))
        (r, ch) = try ask(&m, .setRxChannelNames(ARCChannelRename(names: [ARCChannelName(channel: 20, name: "Room")])))
        #expect(r.status == .success && ch.contains(.rxNames))
        #expect(m.tx[2].name == "Vox" && m.rx[19].name == "Room")
        #expect(m.state.txChannelNames == [3: "Vox"] && m.state.rxChannelNames == [20: "Room"])
        // Out of range and bad names are refused without changing anything.
        #expect(try ask(&m, .setTxChannelNames(ARCChannelRename(names: [ARCChannelName(channel: 41, name: "X")]))).0.status == .error)
        #expect(try ask(&m, .setRxChannelNames(ARCChannelRename(names: [ARCChannelName(channel: 1, name: "a@b")]))).0.status == .error)
        // Empty = reset to the default name.
        _ = try ask(&m, .setTxChannelNames(ARCChannelRename(names: [ARCChannelName(channel: 3, name: "")])))
        #expect(m.tx[2].name == "TX 3" && m.state.txChannelNames.isEmpty)
    }

    @Test func subscriptionsFromCapturedControllerRequests() throws {
        var m = model()
        // netaudio's "add 1 <- mic-mix-high@lx-dante" exactly as dante-protocol.md §13.4 gives it.
        let add = hexBytes("27 ff 00 4a 00 00 30 10 00 00 02 01 00 01 00 34 00 41") + [UInt8](repeating: 0, count: 34)
            + Array("mic-mix-high\0lx-dante\0".utf8)
        let added = m.handleARC(add)
        let out = try #require(added)
        #expect(out.changes.contains(.subscriptions))
        #expect(m.rx[0].subscription == .init(txChannel: "mic-mix-high", txDevice: "lx-dante"))
        #expect(m.rx[0].status == .unresolved)
        #expect(m.takeChangedRx() == [1])
        // Visible in 0x3000 right away (Dante Controller asks immediately after the 0x3010 reply).
        let (r, _) = try ask(&m, .rxChannels(ARCPageRequest(start: 1)))
        guard case .rxChannels(let page) = r.body else { Issue.record("wrong body"); return }
        #expect(page.channels[0].txChannel == "mic-mix-high" && page.channels[0].txDevice == "lx-dante")
        #expect(page.channels[0].subscriptionStatus == .unresolved)
        // netaudio's remove (0x3014) for channel 1.
        let remove = hexBytes("27 ff 00 10 00 00 30 14 00 00 00 01 00 00 00 01")
        let removed = m.handleARC(remove)
        #expect(removed?.changes.contains(.subscriptions) == true)
        #expect(m.rx[0].subscription == nil && m.rx[0].status == .none)
        // Dante Controller's unsubscribe: 0x3010 with zero pointers.
        _ = try ask(&m, .subscribe(ARCSubscriptionRequest(records: [.init(rxChannel: 2, txChannel: "01", txDevice: "a")])))
        _ = try ask(&m, .subscribe(ARCSubscriptionRequest(records: [.unsubscribe(2)])))
        #expect(m.rx[1].subscription == nil)
        // Out-of-range channels are reported, the valid ones still applied.
        let (mixed, _) = try ask(&m, .subscribe(ARCSubscriptionRequest(records: [
            .init(rxChannel: 99, txChannel: "01", txDevice: "a"), .init(rxChannel: 3, txChannel: "01", txDevice: "a")])))
        #expect(mixed.status == .error && m.rx[2].subscription != nil)
    }

    @Test func conflictRenames() {
        var m = model()
        #expect(m.renameAfterConflict() == "studio-2")
        #expect(m.renameAfterConflict() == "studio-3")
        #expect(m.state.name == "studio-3")
        var long = DeviceModel(config: { var c = DeviceConfig(); c.name = String(repeating: "a", count: 31); return c }(),
                               deviceID: DeviceID(hex: "001dc1fffe5279b6")!, state: DeviceState())
        let n = long.renameAfterConflict()
        #expect(n.count == 31 && n.hasSuffix("-2") && DeviceConfig.nameProblem(n) == nil)
    }

    @Test func stateRoundTrip() throws {
        var m = model()
        _ = try ask(&m, .subscribe(ARCSubscriptionRequest(records: [.init(rxChannel: 5, txChannel: "TX 1", txDevice: "lx")])))
        _ = try ask(&m, .setDeviceName("renamed"))
        let restored = model(state: m.state)
        #expect(restored.name == "renamed")
        #expect(restored.rx[4].subscription == .init(txChannel: "TX 1", txDevice: "lx"))
        #expect(restored.rx[4].status == .unresolved)
        // Subscriptions beyond the channel count are dropped on restore, not a crash.
        let fewer = model(rx: 2, state: m.state)
        #expect(fewer.rx.count == 2)
    }

    @Test func latencySettings() throws {
        var m = model()
        let (r, ch) = try ask(&m, .settingsSet(.latency(nanoseconds: 1_000_000)))
        #expect(r.status == .success && ch.contains(.settings) && m.latencyNs == 1_000_000)
        let (q, _) = try ask(&m, .settingsQuery(ARCInfoCode.standardQuery))
        guard case .settings(let table) = q.body else { Issue.record("wrong body"); return }
        #expect(table.value(of: ARCInfoCode.latency) == 1_000_000)
        #expect(table.value(of: ARCInfoCode.minimumLatency) == DeviceModel.minLatencyNs)
        // netaudio's 39-byte variant (24-bit values).
        _ = try ask(&m, .settingsSet(.netaudioLatency(milliseconds: 2)))
        #expect(m.latencyNs == 2_000_000)
    }

    @Test func unknownOpcodesAndGarbage() throws {
        var m = model()
        let (r, _) = try ask(&m, .other(opcode: 0x1004, body: []))
        #expect(r.status == .unsupported && r.body == .empty)
        let short = m.handleARC([0x27, 0xff, 0x00])
        #expect(short == nil)
        // A response (status != 0) is not a request: no reply, so two devices never ping-pong.
        let stray = m.handleARC(hexBytes("27 ff 00 0a 00 01 10 02 00 01"))
        #expect(stray == nil)
        // Every mutated request gets a reply or is dropped; the model never traps.
        var rng = SeededGenerator(seed: 0x5eed)  // deterministic, so a failure reproduces
        let seeds = [ARCRequest(transactionID: 1, body: .subscribe(ARCSubscriptionRequest(records: [.init(rxChannel: 1, txChannel: "01", txDevice: "x")]))).encode(),
                     ARCRequest(transactionID: 1, body: .setTxChannelNames(ARCChannelRename(names: [ARCChannelName(channel: 1, name: "A")]))).encode(),
                     ARCRequest(transactionID: 1, body: .rxChannels(ARCPageRequest(start: 1))).encode()]
        for _ in 0..<20_000 {
            var b = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...4, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = m.handleARC(b)
        }
        #expect(m.rx.count == 20 && m.tx.count == 40)
    }

    /// `--allow-controllers`: a sender outside the list reads everything but every change is answered 0x0600
    /// (a locked device's status) and leaves the model as it was.
    @Test func disallowedControllerReadsButCannotChange() throws {
        var m = model()
        let before = m.state
        func askAs(_ body: ARCRequestBody) throws -> (ARCResponse, DeviceModel.Outcome) {
            let reply = m.handleARC(ARCRequest(protocolID: 0x2729, transactionID: 7, body: body).encode(), allowChanges: false)
            let out = try #require(reply)
            return (try ARCResponse.decode(try #require(out.response)), out)
        }
        let writes: [ARCRequestBody] = [
            .setDeviceName("evil"),
            .setTxChannelNames(ARCChannelRename(names: [ARCChannelName(channel: 1, name: "X")])),
            .setRxChannelNames(ARCChannelRename(names: [ARCChannelName(channel: 1, name: "X")])),
            .subscribe(ARCSubscriptionRequest(records: [.init(rxChannel: 1, txChannel: "01", txDevice: "a")])),
            .bulkUnsubscribe([1]),
            .settingsSet(nil),
        ]
        for w in writes {
            let (r, out) = try askAs(w)
            #expect(r.status == .locked && out.refused && out.changes.isEmpty, "\(w)")
        }
        #expect(m.state == before && m.name == "studio")
        for read: ARCRequestBody in [.deviceName, .channelCounts, .rxChannels(ARCPageRequest(start: 1)),
                                     .txChannelNames(ARCPageRequest(start: 1))] {
            let (r, out) = try askAs(read)
            #expect((r.status == .success || r.status == .morePages) && !out.refused, "\(read)")
        }
        // Allowed senders change it as before.
        #expect(try ask(&m, .setDeviceName("stage")).0.status == .success && m.name == "stage")
    }
}

func hexBytes(_ s: String) -> [UInt8] {
    let digits = Array(s.filter(\.isHexDigit))
    return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// SplitMix64, for reproducible random tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
