import Testing
@testable import InfernoProtocol

@Suite struct TxFlowTableTests {
    static let limits = TxFlowTable.Limits(sampleRate: 48000, txChannels: 8, maxFlows: 4)

    func request(_ channels: [UInt16], fpp: UInt16 = 32, rate: UInt32 = 48000, bits: UInt32 = 24,
                 port: UInt16 = 40000, tid: UInt16 = 1) -> FlowControlPacket {
        .request(FlowRequest(transactionID: tid, receiverName: "rx", sampleRate: rate, bitsPerSample: bits,
                             channels: channels, framesPerPacket: fpp, flowName: "0_1",
                             receiverIPv4: 0x0A63_0002, receiverPort: port))
    }

    @Test func createsAFlowAndAnswersWithItsHandle() {
        var t = TxFlowTable(limits: Self.limits)
        let out = t.handle(request([1, 2, 0, 8]), cookie: 0xBEEF)
        #expect(out.response?.status == .success)
        #expect(out.response?.transactionID == 1)
        guard case .start(let f)? = out.actions.first else { Issue.record("no start action"); return }
        #expect(f.channels == [1, 2, 0, 8])
        #expect(f.encoding == .int24 && f.framesPerPacket == 32)
        #expect(out.response?.handle == f.handle && f.handle.cookie == 0xBEEF)
        #expect(t.activeCount == 1)
    }

    @Test func refusesInvalidRequestsWithTheRightStatus() {
        var t = TxFlowTable(limits: Self.limits)
        #expect(t.handle(request([1], rate: 44100), cookie: 1).response?.status == .sampleRateMismatch)
        #expect(t.handle(request([1], fpp: 257), cookie: 1).response?.status == .framesPerPacketTooLarge)
        #expect(t.handle(request([1], fpp: 0), cookie: 1).response?.status == .framesPerPacketTooLarge)
        // 8 channels × 4 bytes × 64 frames + 9 = 2057 bytes: does not fit a datagram.
        #expect(t.handle(request([1, 2, 3, 4, 5, 6, 7, 8], fpp: 64, bits: 32), cookie: 1).refusal == .packetTooLarge(2057))
        #expect(t.handle(request([1, 9]), cookie: 1).refusal == .channelID(9))
        #expect(t.handle(request([]), cookie: 1).refusal == .channelCount(0))
        #expect(t.handle(request([1], bits: 20), cookie: 1).refusal == .encoding(20))
        #expect(t.activeCount == 0)
    }

    @Test func sameReceiverAddressReconfiguresTheSameFlow() {
        var t = TxFlowTable(limits: Self.limits)
        let first = t.handle(request([1, 2]), cookie: 7)
        let again = t.handle(request([3], fpp: 16, bits: 16, tid: 2), cookie: 9)
        #expect(again.response?.handle == first.response?.handle)
        guard case .configure(let f)? = again.actions.first else { Issue.record("no configure"); return }
        #expect(f.channels == [3] && f.framesPerPacket == 16 && f.encoding == .int16)
        #expect(t.activeCount == 1)
    }

    @Test func updateStopExpireAndUnknownHandles() {
        var t = TxFlowTable(limits: Self.limits)
        let h = t.handle(request([1, 2]), cookie: 5).response!.handle!
        let upd = t.handle(.update(FlowUpdateRequest(transactionID: 3, handle: h, channels: [2, 0])), cookie: 0)
        #expect(upd.response?.status == .success)
        #expect(t.flows[Int(h.flowNumber)]?.channels == [2, 0])
        let wrong = FlowHandle(flowNumber: h.flowNumber, cookie: h.cookie &+ 1)
        #expect(t.handle(.stop(FlowStopRequest(transactionID: 4, handle: wrong)), cookie: 0).response?.status == .flowNotFound)
        #expect(t.handle(.stop(FlowStopRequest(transactionID: 5, handle: h)), cookie: 0).actions == [.remove(slot: Int(h.flowNumber))])
        #expect(t.activeCount == 0)
        let h2 = t.handle(request([1], port: 40002), cookie: 6).response!.handle!
        #expect(t.expire(slot: Int(h2.flowNumber)) == .remove(slot: Int(h2.flowNumber)))
        #expect(t.expire(slot: Int(h2.flowNumber)) == nil)
    }

    @Test func fullTableAnswersTooManyFlows() {
        var t = TxFlowTable(limits: Self.limits)
        for p in 0..<4 { #expect(t.handle(request([1], port: UInt16(41000 + p)), cookie: 1).response?.status == .success) }
        #expect(t.handle(request([1], port: 42000), cookie: 1).response?.status == .tooManyFlows)
    }

    @Test func randomBytesNeverCrashTheServer() {
        var t = TxFlowTable(limits: Self.limits)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let n = Int.random(in: 0..<120, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if n >= 8, Bool.random(using: &rng) { bytes[6] = 0x01; bytes[7] = 0x00; bytes[8 < n ? 8 : 0] = 0 }
            if let p = try? FlowControlPacket.decode(bytes) { _ = t.handle(p, cookie: 1) }
        }
        #expect(t.activeCount <= 4)
    }
}
