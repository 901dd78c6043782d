import Glibc
import InfernoProtocol
import Logging
import NIOCore

/// The transmitter's flow-control port (dante-protocol.md §7): decodes requests, lets the pure `TxFlowTable`
/// decide, opens/closes each flow's connected socket and drives the `TxEngine`. Runs on the control event loop.
/// Malformed and refused requests are counted; refusals are answered with the error status.
final class FlowControlServer: @unchecked Sendable {
    let engine: TxEngine
    let bindIP: UInt32
    let log: Logger
    var table: TxFlowTable
    private(set) var malformed = 0
    private(set) var refused = 0
    private(set) var served = 0
    private var lastRefusalLog: Int64 = 0

    init(engine: TxEngine, bindIP: UInt32, limits: TxFlowTable.Limits, logger: Logger) {
        self.engine = engine
        self.bindIP = bindIP
        self.log = logger
        table = TxFlowTable(limits: limits)
    }

    func handle(_ bytes: [UInt8], from: SocketAddress, reply: ([UInt8]) -> Void) {
        guard let packet = try? FlowControlPacket.decode(bytes) else { malformed += 1; return }
        let out = table.handle(packet, cookie: UInt16.random(in: 1...0xFFFF))
        if let why = out.refusal {
            refused += 1
            // At most one log line per second, so a flood cannot flood the log.
            let now = monotonicNow()
            if now - lastRefusalLog > 1_000_000_000 {
                lastRefusalLog = now
                log.warning("refused a flow request from \(from.ipAddress ?? "?"): \(why) (\(refused) refused so far)")
            }
        }
        for action in out.actions { perform(action) }
        if let r = out.response { served += 1; reply(r.encode()) }
    }

    /// The answer to a flow request whose sender may not change the device (`--allow-controllers`): status 0x0022
    /// for requests, updates and stops; nil for anything else (nothing is answered).
    static func refusal(_ bytes: [UInt8]) -> [UInt8]? {
        switch try? FlowControlPacket.decode(bytes) {
        case .request(let r)?:
            return FlowResponse(protocolID: r.protocolID, transactionID: r.transactionID, opcode: FlowOpcode.request, status: .error).encode()
        case .update(let u)?:
            return FlowResponse(protocolID: u.protocolID, transactionID: u.transactionID, opcode: FlowOpcode.update, status: .error).encode()
        case .stop(let s)?:
            return FlowResponse(protocolID: s.protocolID, transactionID: s.transactionID, opcode: FlowOpcode.stop, status: .error).encode()
        default:
            return nil
        }
    }

    func perform(_ action: TxFlowTable.Action) {
        switch action {
        case .start(let f):
            do {
                let fd = try MediaSockets.connected(bindIP: bindIP, to: f.receiverIPv4, port: f.receiverPort)
                engine.startFlow(slot: f.slot, fd: fd, encoding: f.encoding, framesPerPacket: f.framesPerPacket,
                                 channels: f.channels)
                log.info("TX flow \(f.slot) to \(f.receiverName) \(ipv4String(f.receiverIPv4)):\(f.receiverPort): channels \(f.channels), \(f.encoding.bits)-bit, fpp \(f.framesPerPacket)")
            } catch {
                log.error("TX flow \(f.slot): cannot open a socket to \(ipv4String(f.receiverIPv4)):\(f.receiverPort): \(error)")
                _ = table.expire(slot: f.slot)
            }
        case .configure(let f):
            engine.configureFlow(slot: f.slot, encoding: f.encoding, framesPerPacket: f.framesPerPacket, channels: f.channels)
            log.info("TX flow \(f.slot) reconfigured: channels \(f.channels), \(f.encoding.bits)-bit, fpp \(f.framesPerPacket)")
        case .remove(let slot):
            engine.removeFlow(slot: slot)
            log.info("TX flow \(slot) stopped")
        }
    }

    /// Polled from the control loop: closes sockets of removed flows, drops expired ones from the table.
    func poll() {
        while let e = engine.events.pop() {
            switch e.kind {
            case .expired:
                log.info("TX flow \(e.slot) expired: no keep-alive for 4 s")
                if table.expire(slot: Int(e.slot)) != nil { engine.removeFlow(slot: Int(e.slot)) }
            case .removed:
                close(e.fd)
            }
        }
    }

    /// After a sample-rate change every flow is invalid: receivers re-request at the new rate.
    func removeAll() {
        for case let f? in table.flows { if let a = table.expire(slot: f.slot) { perform(a) } }
    }
}

