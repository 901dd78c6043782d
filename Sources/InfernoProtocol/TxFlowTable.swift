/// The transmitter's flow-control server state (dante-protocol.md §7), pure: decoded requests in, a response and
/// engine actions out. The caller owns sockets and the real-time engine; it reports keep-alive expiry back with
/// `expire(slot:)`.
///
/// Differences from Inferno (§14.2), on purpose:
/// * every request is validated: sample rate (0x0301), fpp range and packet size against the datagram limit
///   (0x0302), channel ids within the TX channel count and 1…`maxChannelsPerFlow` slots (0x0022); nothing
///   malformed reaches the engine;
/// * a repeated 0x0100 from the same receiver address reuses its flow but applies the new channels, depth and
///   fpp (Inferno keeps the old fpp and depth);
/// * expired flows are removed at once (`expire`), not when the next flow is added.
public struct TxFlowTable: Sendable {
    public struct Limits: Sendable, Equatable {
        public var sampleRate: UInt32
        public var txChannels: Int
        public var maxFlows: Int
        public var maxChannelsPerFlow: Int
        public var maxFramesPerPacket: Int
        /// Largest audio packet (header + payload) we send: 1500-byte MTU − 20 (IPv4) − 8 (UDP).
        public var maxPacketBytes: Int
        public init(sampleRate: UInt32, txChannels: Int, maxFlows: Int = 128, maxChannelsPerFlow: Int = 64,
                    maxFramesPerPacket: Int = 256, maxPacketBytes: Int = 1472) {
            self.sampleRate = sampleRate; self.txChannels = txChannels; self.maxFlows = maxFlows
            self.maxChannelsPerFlow = maxChannelsPerFlow; self.maxFramesPerPacket = maxFramesPerPacket
            self.maxPacketBytes = maxPacketBytes
        }
    }

    public struct Flow: Sendable, Equatable {
        public var slot: Int
        public var handle: FlowHandle
        public var receiverIPv4: UInt32
        public var receiverPort: UInt16
        /// TX channel id per slot (1-based, 0 = empty).
        public var channels: [UInt16]
        public var encoding: PCMEncoding
        public var framesPerPacket: Int
        public var receiverName: String
        public var flowName: String
    }

    public enum Action: Sendable, Equatable {
        /// A new flow in an unused slot: open a socket connected to the receiver and start sending.
        case start(Flow)
        /// An existing flow's parameters or channels changed (or it was revived): apply and re-align.
        case configure(Flow)
        /// Stop sending and close the slot's socket.
        case remove(slot: Int)
    }

    /// Why a request was refused, for logs and counters.
    public enum Refusal: Sendable, Equatable {
        case sampleRate(UInt32), encoding(UInt32), framesPerPacket(Int), packetTooLarge(Int)
        case channelCount(Int), channelID(UInt16), noFreeFlow, unknownHandle
    }

    public var limits: Limits
    public private(set) var flows: [Flow?]
    private var nextNumber = 0

    public init(limits: Limits) {
        self.limits = limits
        flows = Array(repeating: nil, count: limits.maxFlows)
    }

    public var activeCount: Int { flows.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    public struct Outcome: Sendable, Equatable {
        public var response: FlowResponse?
        public var actions: [Action]
        public var refusal: Refusal?
    }

    /// Handles one decoded flow-control packet. `cookie` is a fresh random value, used if a flow is created.
    public mutating func handle(_ packet: FlowControlPacket, cookie: UInt16) -> Outcome {
        switch packet {
        case .request(let r): return request(r, cookie: cookie)
        case .update(let u):
            guard let slot = find(u.handle) else {
                return refuse(u.protocolID, u.transactionID, FlowOpcode.update, .flowNotFound, .unknownHandle)
            }
            if let bad = validateChannels(u.channels) {
                return refuse(u.protocolID, u.transactionID, FlowOpcode.update, .error, bad)
            }
            flows[slot]!.channels = u.channels
            return Outcome(response: FlowResponse(protocolID: u.protocolID, transactionID: u.transactionID,
                                                  opcode: FlowOpcode.update, status: .success),
                           actions: [.configure(flows[slot]!)])
        case .stop(let s):
            guard let slot = find(s.handle) else {
                return refuse(s.protocolID, s.transactionID, FlowOpcode.stop, .flowNotFound, .unknownHandle)
            }
            flows[slot] = nil
            return Outcome(response: FlowResponse(protocolID: s.protocolID, transactionID: s.transactionID,
                                                  opcode: FlowOpcode.stop, status: .success),
                           actions: [.remove(slot: slot)])
        case .response, .other:
            return Outcome(response: nil, actions: [])
        }
    }

    /// The engine saw no keep-alive for the expiry period: the flow is gone.
    public mutating func expire(slot: Int) -> Action? {
        guard flows.indices.contains(slot), flows[slot] != nil else { return nil }
        flows[slot] = nil
        return .remove(slot: slot)
    }

    private func find(_ handle: FlowHandle) -> Int? {
        let n = Int(handle.flowNumber)
        guard flows.indices.contains(n), let f = flows[n], f.handle == handle else { return nil }
        return n
    }

    private func refuse(_ pid: UInt16, _ tid: UInt16, _ op: UInt16, _ status: ResultCode, _ why: Refusal) -> Outcome {
        Outcome(response: FlowResponse(protocolID: pid, transactionID: tid, opcode: op, status: status),
                actions: [], refusal: why)
    }

    private func validateChannels(_ channels: [UInt16]) -> Refusal? {
        guard !channels.isEmpty, channels.count <= limits.maxChannelsPerFlow else { return .channelCount(channels.count) }
        for c in channels where Int(c) > limits.txChannels { return .channelID(c) }
        return nil
    }

    private mutating func request(_ r: FlowRequest, cookie: UInt16) -> Outcome {
        let op = FlowOpcode.request
        guard r.sampleRate == limits.sampleRate else {
            return refuse(r.protocolID, r.transactionID, op, .sampleRateMismatch, .sampleRate(r.sampleRate))
        }
        guard let encoding = PCMEncoding(bits: Int(r.bitsPerSample)) else {
            return refuse(r.protocolID, r.transactionID, op, .error, .encoding(r.bitsPerSample))
        }
        if let bad = validateChannels(r.channels) { return refuse(r.protocolID, r.transactionID, op, .error, bad) }
        let fpp = Int(r.framesPerPacket)
        guard fpp >= 1, fpp <= limits.maxFramesPerPacket else {
            return refuse(r.protocolID, r.transactionID, op, .framesPerPacketTooLarge, .framesPerPacket(fpp))
        }
        let size = AudioPacketHeader.size + fpp * r.channels.count * encoding.bytesPerSample
        guard size <= limits.maxPacketBytes else {
            return refuse(r.protocolID, r.transactionID, op, .framesPerPacketTooLarge, .packetTooLarge(size))
        }
        let ok = { (f: Flow) in
            Outcome(response: FlowResponse(protocolID: r.protocolID, transactionID: r.transactionID, opcode: op,
                                           status: .success, handle: f.handle), actions: [])
        }
        // Same receiver address: the same flow, reconfigured.
        if let slot = flows.firstIndex(where: { $0?.receiverIPv4 == r.receiverIPv4 && $0?.receiverPort == r.receiverPort }) {
            flows[slot]!.channels = r.channels
            flows[slot]!.encoding = encoding
            flows[slot]!.framesPerPacket = fpp
            flows[slot]!.flowName = r.flowName
            flows[slot]!.receiverName = r.receiverName
            var out = ok(flows[slot]!)
            out.actions = [.configure(flows[slot]!)]
            return out
        }
        guard let slot = freeSlot() else { return refuse(r.protocolID, r.transactionID, op, .tooManyFlows, .noFreeFlow) }
        let flow = Flow(slot: slot, handle: FlowHandle(flowNumber: UInt32(slot), cookie: cookie),
                        receiverIPv4: r.receiverIPv4, receiverPort: r.receiverPort, channels: r.channels,
                        encoding: encoding, framesPerPacket: fpp, receiverName: r.receiverName, flowName: r.flowName)
        flows[slot] = flow
        var out = ok(flow)
        out.actions = [.start(flow)]
        return out
    }

    /// Round-robin from the last number handed out, so a stale handle is unlikely to hit a new flow.
    private mutating func freeSlot() -> Int? {
        for k in 0..<flows.count {
            let i = (nextNumber + k) % flows.count
            if flows[i] == nil { nextNumber = (i + 1) % flows.count; return i }
        }
        return nil
    }
}
