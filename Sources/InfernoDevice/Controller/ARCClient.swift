import InfernoProtocol
import NIOCore
import NIOPosix

/// What can go wrong when controlling a device. Every description is one line, meant for the user.
public enum ControllerError: Error, Equatable, CustomStringConvertible {
    /// No answer to `request` after `attempts` tries of `seconds` each.
    case timeout(device: String, address: String, request: String, attempts: Int, seconds: Double)
    /// The device answered `request` with an error status.
    case status(device: String, request: String, status: ResultCode)
    /// The answer could not be decoded.
    case malformed(device: String, request: String, reason: String)
    /// Discovery found no device with that name.
    case notFound(name: String, interface: String, found: [String])
    /// Anything else the device side makes impossible (unknown channel, …).
    case failed(String)
    /// The command line is wrong (exit code 2).
    case usage(String)

    /// 2 for usage errors, 1 for everything the network or a device caused.
    public var exitCode: Int32 {
        if case .usage = self { return 2 }
        return 1
    }

    public var description: String {
        switch self {
        case let .timeout(device, address, request, attempts, seconds):
            let total = Double(attempts) * seconds
            let from = address.hasPrefix(device + ":") ? address : "\(device) (\(address))"
            return "no answer from \(from) to \(request): timed out after \(attempts) attempt\(attempts == 1 ? "" : "s") in \(formatSeconds(total)) s"
        case let .status(device, request, status):
            return "\(device) refused \(request): status \(status) (\(statusText(status)))"
        case let .malformed(device, request, reason):
            return "\(device) sent a malformed answer to \(request): \(reason)"
        case let .notFound(name, interface, found):
            return "no Dante device named \(name) on \(interface) (found: \(found.isEmpty ? "none" : found.joined(separator: ", ")))"
        case let .failed(message), let .usage(message):
            return message
        }
    }
}

func formatSeconds(_ s: Double) -> String {
    let tenths = (s * 10).rounded() / 10
    return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
}

/// Human text for a result code (dante-protocol.md §3.3).
func statusText(_ s: ResultCode) -> String {
    switch s {
    case .error: "error"
    case .unsupported: "unsupported request"
    case .locked: "device is locked"
    case .cmcWrongProtocol: "wrong protocol"
    default: "unknown status"
    }
}

/// "ARC 0x1002 (device name)".
public func arcRequestName(_ opcode: UInt16) -> String {
    let names: [UInt16: String] = [
        ARCOpcode.channelCounts: "channel counts", ARCOpcode.setDeviceName: "set device name",
        ARCOpcode.deviceName: "device name", ARCOpcode.deviceInfo: "device info",
        ARCOpcode.settingsQuery: "settings query", ARCOpcode.settingsSet: "settings set",
        ARCOpcode.txChannels: "TX channels", ARCOpcode.txChannelNames: "TX channel names",
        ARCOpcode.setTxChannelNames: "set TX channel name", ARCOpcode.rxChannels: "RX channels",
        ARCOpcode.setRxChannelNames: "set RX channel name", ARCOpcode.subscribe: "subscribe",
        ARCOpcode.bulkUnsubscribe: "unsubscribe",
    ]
    return "ARC \(hex(opcode))" + (names[opcode].map { " (\($0))" } ?? "")
}

// MARK: - Transport

/// One UDP socket for a controller's request/response traffic (ARC, CMC) and its one-way conmon commands.
///
/// Requests share the 10-byte header of §3.1: a reply is matched by transaction id and opcode, must carry a
/// non-zero status, and must come from the IP the request went to (§3.4). An unanswered request is sent again,
/// unchanged, after each timeout until the attempts are used up.
public final class ControlSocket: @unchecked Sendable {
    let endpoint: UDPEndpoint
    let loop: EventLoop

    /// Touched only on `loop`.
    private var pending: [UInt16: Waiter] = [:]
    private var nextID: UInt16

    private struct Waiter {
        var destination: SocketAddress
        var opcode: UInt16
        var packet: [UInt8]
        var attemptsLeft: Int
        var timeout: TimeAmount
        var continuation: CheckedContinuation<[UInt8]?, Never>
        var timer: Scheduled<Void>?
    }

    /// Binds an ephemeral port on `address` (the `--bind` interface), so requests leave from that interface.
    public init(group: EventLoopGroup, address: String) throws {
        let box = ControlSocketBox()
        endpoint = try UDPEndpoint.bind(group: group, host: address, port: 0) { _, bytes, from in
            box.socket?.receive(bytes, from: from)
        }
        loop = endpoint.channel.eventLoop
        nextID = UInt16.random(in: 1...0xFFFF)
        box.socket = self
    }

    public var localPort: Int { endpoint.localPort }

    /// Sends `build(transactionID)` to `destination` and returns the matching reply, or nil when none came
    /// within `attempts` × `timeout`.
    public func exchange(to destination: SocketAddress, opcode: UInt16, timeout: TimeAmount, attempts: Int,
                         build: @escaping @Sendable (UInt16) -> [UInt8]) async -> [UInt8]? {
        await withCheckedContinuation { (c: CheckedContinuation<[UInt8]?, Never>) in
            loop.execute {
                let id = self.allocateID()
                self.pending[id] = Waiter(destination: destination, opcode: opcode, packet: build(id),
                                          attemptsLeft: max(1, attempts), timeout: timeout, continuation: c)
                self.sendAttempt(id)
            }
        }
    }

    /// A datagram that gets no reply (conmon commands).
    public func send(_ bytes: [UInt8], to destination: SocketAddress) {
        endpoint.send(bytes, to: destination)
    }

    public func close() { endpoint.close() }

    private func allocateID() -> UInt16 {
        repeat { nextID = nextID &+ 1 } while nextID == 0 || pending[nextID] != nil
        return nextID
    }

    private func sendAttempt(_ id: UInt16) {
        guard var w = pending[id] else { return }
        w.attemptsLeft -= 1
        endpoint.send(w.packet, to: w.destination)
        w.timer = loop.scheduleTask(in: w.timeout) { self.expired(id) }
        pending[id] = w
    }

    private func expired(_ id: UInt16) {
        guard let w = pending[id] else { return }
        if w.attemptsLeft > 0 { sendAttempt(id); return }
        pending[id] = nil
        w.continuation.resume(returning: nil)
    }

    private func receive(_ bytes: [UInt8], from: SocketAddress) {
        guard bytes.count >= PacketHeader.size else { return }
        let id = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
        let opcode = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
        let status = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
        guard status != 0, let w = pending[id], w.opcode == opcode, from.ipAddress == w.destination.ipAddress else { return }
        pending[id] = nil
        w.timer?.cancel()
        w.continuation.resume(returning: bytes)
    }
}

final class ControlSocketBox: @unchecked Sendable {
    weak var socket: ControlSocket?
}

/// `ip:port` as a socket address (a dotted quad always parses).
func socketAddress(_ ipv4: UInt32, _ port: UInt16) -> SocketAddress {
    // swiftlint:disable:next force_try
    try! SocketAddress(ipAddress: ipv4String(ipv4), port: Int(port))
}

// MARK: - ARC

/// ARC requests to one device (dante-protocol.md §4), with typed errors naming the device and the request.
public struct ARCClient: Sendable {
    public let socket: ControlSocket
    /// The name used in error messages.
    public var device: String
    public let ipv4: UInt32
    public let port: UInt16
    /// Per attempt; a request is tried `1 + retries` times.
    public var timeout: TimeAmount
    public var retries: Int
    /// netaudio's generic 0x27FF; devices echo whatever they get.
    public var protocolID: UInt16

    public init(socket: ControlSocket, device: String, ipv4: UInt32, port: UInt16 = DantePorts.arc,
                timeout: TimeAmount = .seconds(1), retries: Int = 2, protocolID: UInt16 = ProtocolID.arcGeneric) {
        self.socket = socket
        self.device = device
        self.ipv4 = ipv4
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.protocolID = protocolID
    }

    /// One request; a success status (0x0001, 0x8112) or a typed error.
    public func request(_ body: ARCRequestBody, protocolID: UInt16? = nil) async throws(ControllerError) -> ARCResponse {
        let proto = protocolID ?? self.protocolID
        let opcode = body.opcode
        let attempts = 1 + max(0, retries)
        let reply = await socket.exchange(to: socketAddress(ipv4, port), opcode: opcode, timeout: timeout,
                                          attempts: attempts) { id in
            ARCRequest(protocolID: proto, transactionID: id, body: body).encode()
        }
        guard let reply else {
            throw .timeout(device: device, address: "\(ipv4String(ipv4)):\(port)", request: arcRequestName(opcode),
                           attempts: attempts, seconds: Double(timeout.nanoseconds) / 1e9)
        }
        let response: ARCResponse
        do { response = try ARCResponse.decode(reply) } catch {
            throw .malformed(device: device, request: arcRequestName(opcode), reason: "\(error)")
        }
        guard response.status.isSuccess else {
            throw .status(device: device, request: arcRequestName(opcode), status: response.status)
        }
        return response
    }

    private func malformed(_ opcode: UInt16, _ body: ARCResponseBody) -> ControllerError {
        .malformed(device: device, request: arcRequestName(opcode), reason: "unexpected body \(body)")
    }

    /// 0x1002.
    public func deviceName() async throws(ControllerError) -> String {
        let r = try await request(.deviceName)
        guard case .deviceName(let name) = r.body else { throw malformed(r.opcode, r.body) }
        return name
    }

    /// 0x1000.
    public func channelCounts() async throws(ControllerError) -> ARCChannelCounts {
        let r = try await request(.channelCounts)
        guard case .channelCounts(let c) = r.body else { throw malformed(r.opcode, r.body) }
        return c
    }

    /// 0x1100 with `codes` (by default the list DC and netaudio send, on protocol 0x2809 like netaudio).
    public func settings(_ codes: [UInt16] = ARCInfoCode.standardQuery,
                         protocolID: UInt16 = ProtocolID.arcAVIO) async throws(ControllerError) -> ARCSettingsTable {
        let r = try await request(.settingsQuery(codes), protocolID: protocolID)
        switch r.body {
        case .settings(let t): return t
        case .empty: return ARCSettingsTable(records: [])
        default: throw malformed(r.opcode, r.body)
        }
    }

    /// 0x1101 with Dante Controller's latency template; returns the device's echo.
    @discardableResult
    public func setLatency(nanoseconds ns: UInt32) async throws(ControllerError) -> ARCSettingsTable? {
        let r = try await request(.settingsSet(.latency(nanoseconds: ns)))
        if case .settings(let t) = r.body { return t }
        return nil
    }

    /// 0x1001; nil resets the factory name.
    public func setDeviceName(_ name: String?) async throws(ControllerError) {
        _ = try await request(.setDeviceName(name))
    }

    /// Every TX channel (0x2000, 32 per page): number, factory name, format.
    public func txChannels(count: Int) async throws(ControllerError) -> [ARCTxChannel] {
        try await pages(count: count, pageSize: ARCLimits.txPageSize, number: \.number) { (start: UInt16) async throws(ControllerError) -> [ARCTxChannel] in
            let r = try await request(.txChannels(ARCPageRequest(start: start)))
            switch r.body {
            case .txChannels(let p): return p.channels
            case .empty: return []
            default: throw malformed(r.opcode, r.body)
            }
        }
    }

    /// TX friendly names (0x2010, 32 per page). Real devices list only the channels with a custom name.
    public func txChannelNames(count: Int) async throws(ControllerError) -> [ARCTxChannelName] {
        try await pages(count: count, pageSize: ARCLimits.txPageSize, number: \.channel) { (start: UInt16) async throws(ControllerError) -> [ARCTxChannelName] in
            let r = try await request(.txChannelNames(ARCPageRequest(start: start)))
            switch r.body {
            case .txChannelNames(let p): return p.entries
            case .empty: return []
            default: throw malformed(r.opcode, r.body)
            }
        }
    }

    /// Every RX channel with its subscription (0x3000, 16 per page).
    public func rxChannels(count: Int) async throws(ControllerError) -> [ARCRxChannel] {
        try await pages(count: count, pageSize: ARCLimits.rxPageSize, number: \.number) { (start: UInt16) async throws(ControllerError) -> [ARCRxChannel] in
            let r = try await request(.rxChannels(ARCPageRequest(start: start)))
            switch r.body {
            case .rxChannels(let p): return p.channels
            case .empty: return []
            default: throw malformed(r.opcode, r.body)
            }
        }
    }

    /// Reads pages starting at channel 1, 1 + size, … while the next start is within `count`; records are
    /// de-duplicated by number and sorted.
    func pages<T>(count: Int, pageSize: Int, number: (T) -> UInt16,
                  page: (UInt16) async throws(ControllerError) -> [T]) async throws(ControllerError) -> [T] {
        var out: [T] = []
        var seen = Set<UInt16>()
        var start = 1
        while start <= count, start <= Int(UInt16.max) {
            for item in try await page(UInt16(start)) where seen.insert(number(item)).inserted { out.append(item) }
            start += pageSize
        }
        return out.sorted { number($0) < number($1) }
    }

    /// 0x3010 (subscribe, or unsubscribe with both names nil), at most 16 records per request like netaudio.
    public func subscribe(_ records: [ARCSubscriptionRecord]) async throws(ControllerError) {
        var rest = records[...]
        while !rest.isEmpty {
            let batch = Array(rest.prefix(16))
            rest = rest.dropFirst(batch.count)
            _ = try await request(.subscribe(ARCSubscriptionRequest(records: batch)))
        }
    }

    /// 0x2013 (TX) / 0x3001 (RX); an empty name resets the channel to its default name.
    public func renameChannel(tx: Bool, channel: UInt16, name: String) async throws(ControllerError) {
        let rename = ARCChannelRename(names: [ARCChannelName(channel: channel, name: name)])
        _ = try await request(tx ? .setTxChannelNames(rename) : .setRxChannelNames(rename))
    }
}

// MARK: - CMC and conmon

/// The device's conmon port and the one-way conmon settings commands (dante-protocol.md §5.1, §6.8).
public struct ConmonClient: Sendable {
    public let socket: ControlSocket
    public var device: String
    public let ipv4: UInt32
    public let cmcPort: UInt16
    /// This controller's MAC (zeros on loopback): CMC registration and the conmon header's id field.
    public var controllerMAC: [UInt8]
    public var timeout: TimeAmount = .seconds(1)
    public var retries = 2

    public init(socket: ControlSocket, device: String, ipv4: UInt32, cmcPort: UInt16?, controllerMAC: [UInt8]?) {
        self.socket = socket
        self.device = device
        self.ipv4 = ipv4
        self.cmcPort = cmcPort ?? DantePorts.cmc
        self.controllerMAC = controllerMAC ?? [0, 0, 0, 0, 0, 0]
    }

    /// CMC 0x1001 registration; the answer carries the conmon request port.
    public func registration() async throws(ControllerError) -> CMCRegistrationResponse {
        let mac = controllerMAC
        let attempts = 1 + max(0, retries)
        let request = "CMC \(hex(CMCOpcode.registration)) (registration)"
        let reply = await socket.exchange(to: socketAddress(ipv4, cmcPort), opcode: CMCOpcode.registration,
                                          timeout: timeout, attempts: attempts) { id in
            CMCRegistrationRequest(transactionID: id, controllerMAC: mac).encode()
        }
        guard let reply else {
            throw .timeout(device: device, address: "\(ipv4String(ipv4)):\(cmcPort)", request: request,
                           attempts: attempts, seconds: Double(timeout.nanoseconds) / 1e9)
        }
        let status = ResultCode(UInt16(reply[8]) << 8 | UInt16(reply[9]))
        guard status.isSuccess else { throw .status(device: device, request: request, status: status) }
        do { return try CMCRegistrationResponse.decode(reply) } catch {
            throw .malformed(device: device, request: request, reason: "\(error)")
        }
    }

    /// The conmon port from the registration answer; 8700 when the device does not answer CMC.
    public func conmonPort() async -> UInt16 {
        guard let r = try? await registration(), r.conmonPort != 0 else { return DantePorts.conmonRequests }
        return r.conmonPort
    }

    /// A conmon command as Dante Controller sends it: controller MAC + `00 00` as id, class 0x073A,
    /// trailer 0x00000064.
    public static func command(_ message: ConmonMessage, controllerMAC: [UInt8], sequence: UInt16) -> [UInt8] {
        let header = ConmonHeader(sequence: sequence, deviceID: Array(controllerMAC.prefix(6)) + [0, 0],
                                  classVersion: 0x073A, messageType: message.messageType, trailer: 0x64)
        return ConmonPacket(header: header, message: message).encode()
    }

    /// Sends 0x0081 (sample rate) or 0x0083 (encoding) to `port`. Conmon commands get no direct reply.
    public func send(_ message: ConmonMessage, port: UInt16, sequence: UInt16) {
        socket.send(Self.command(message, controllerMAC: controllerMAC, sequence: sequence), to: socketAddress(ipv4, port))
    }
}
