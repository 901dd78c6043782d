import ArgumentParser
import Foundation
import InfernoDevice
import InfernoProtocol

/// `inferno wire`: decode packets given as hex, and print the responses our device builds (for debugging
/// and for the interop tests against netaudio's own codec).
struct Wire: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode Dante packets and show the responses this device builds.",
        subcommands: [Decode.self, Demo.self])

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode one packet given as hex (spaces allowed); the family is detected from its first bytes.",
            discussion: "ARC (0x27xx/0x28xx), CMC (0x1200), flow control (0x11xx), conmon (0xffff), heartbeat (0xfffe), "
                + "usrvclock overlays (40 bytes starting with 'VC'), otherwise DNS.")

        @Argument(help: "The packet as hexadecimal digits.")
        var hex: [String]

        func run() throws {
            let digits = hex.joined().filter { !$0.isWhitespace }
            guard digits.count % 2 == 0, let bytes = parseHex(digits) else {
                throw ValidationError("not a hex string: \(digits.prefix(40))")
            }
            switch describe(bytes) {
            case .success(let text): print(text)
            case .failure(let error):
                print("error: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print, as JSON lines, requests and the responses a demo device (40 TX, 20 RX) gives to them.")

        func run() throws {
            var config = DeviceConfig()
            config.name = "demo-device"
            config.txChannels = 40
            config.rxChannels = 20
            var state = DeviceState()
            state.txChannelNames = [1: "Kick"]
            state.subscriptions = [1: .init(txChannel: "01", txDevice: "lx-dante")]
            var model = DeviceModel(config: config, deviceID: DeviceID(hex: "001dc1fffe5279b6")!, state: state)
            let requests: [(String, ARCRequestBody)] = [
                ("channel_count", .channelCounts),
                ("device_name", .deviceName),
                ("device_info", .deviceInfo),
                ("settings", .settingsQuery(ARCInfoCode.standardQuery)),
                ("tx_channels_page1", .txChannels(.page(0, pageSize: ARCLimits.txPageSize))),
                ("tx_channels_page2", .txChannels(.page(1, pageSize: ARCLimits.txPageSize))),
                ("tx_friendly_page1", .txChannelNames(.page(0, pageSize: ARCLimits.txPageSize))),
                ("tx_friendly_page2", .txChannelNames(.page(1, pageSize: ARCLimits.txPageSize))),
                ("rx_channels_page1", .rxChannels(.page(0, pageSize: ARCLimits.rxPageSize))),
                ("rx_channels_page2", .rxChannels(.page(1, pageSize: ARCLimits.rxPageSize))),
            ]
            var lines: [String] = []
            for (i, (name, body)) in requests.enumerated() {
                let request = ARCRequest(transactionID: UInt16(i + 1), body: body).encode()
                guard let response = model.handleARC(request)?.response else { throw ExitCode(1) }
                lines.append(jsonLine(name, request, response))
            }
            let cmcRequest = CMCRegistrationRequest(transactionID: 9, controllerMAC: [0x3e, 0x42, 0x27, 0x4c, 0xff, 0x24])
            let cmcResponse = cmcRequest.response(deviceID: model.deviceID.bytes, ipv4: 0x7F00_0001)
            lines.append(jsonLine("cmc_registration", cmcRequest.encode(), cmcResponse.encode()))
            print(lines.joined(separator: "\n"))
        }

        func jsonLine(_ name: String, _ request: [UInt8], _ response: [UInt8]) -> String {
            #"{"name": "\#(name)", "request": "\#(hexString(request))", "response": "\#(hexString(response))"}"#
        }
    }
}

/// One line describing a decoded packet, or the typed error.
func describe(_ b: [UInt8]) -> Result<String, WireError> {
    func run<T>(_ f: () throws -> T) -> Result<String, WireError> {
        do { return .success(String(describing: try f())) } catch {
            return .failure(error as? WireError ?? .invalidValue(field: "\(error)", value: 0))
        }
    }
    guard b.count >= 2 else { return .failure(.truncated(offset: 0, needed: 2, available: b.count)) }
    let first = UInt16(b[0]) << 8 | UInt16(b[1])
    if b.count == ClockOverlay.size, b[0] == 0x56, b[1] == 0x43 { return run { try ClockOverlay.decode(b) } }
    switch first {
    case 0xFFFF: return run { try ConmonPacket.decode(b) }
    case 0xFFFE: return run { try Heartbeat.decode(b) }
    case ProtocolID.cmc: return run { try CMCPacket.decode(b) }
    case _ where ProtocolID.isARC(first):
        let isRequest = b.count >= 10 && b[8] == 0 && b[9] == 0
        return isRequest ? run { try ARCRequest.decode(b) } : run { try ARCResponse.decode(b) }
    case _ where first >> 8 == 0x11: return run { try FlowControlPacket.decode(b) }
    default: return run { try DNSMessage.decode(b) }
    }
}

func parseHex(_ s: String) -> [UInt8]? {
    var out: [UInt8] = []
    var it = s.makeIterator()
    while let a = it.next(), let c = it.next() {
        guard let v = UInt8(String([a, c]), radix: 16) else { return nil }
        out.append(v)
    }
    return out
}

func hexString(_ b: [UInt8]) -> String {
    b.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
