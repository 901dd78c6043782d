import InfernoProtocol
import NIOCore

/// Which mDNS implementation publishes the device's records and resolves the channels it subscribes to
/// (`--mdns auto|embedded|avahi`, INFERNO_MDNS).
public enum MDNSBackendChoice: String, Sendable, CaseIterable {
    /// Avahi when its daemon answers on the system D-Bus (in this network namespace, on a non-loopback
    /// interface), else the embedded responder.
    case auto
    /// The project's own responder and querier (`MDNSServer`, `MDNSQuerier`): no daemon needed.
    case embedded
    /// avahi-daemon through its DNS-SD compatibility library (`AvahiAdvertiser`, `AvahiResolver`).
    case avahi
}

/// Publishes one `MDNSZone` (the records `DanteAdvertisement` builds, the same for every backend).
/// Name conflicts are reported through the callback given at creation, on the device's event loop.
public protocol ServiceAdvertiser: AnyObject, Sendable {
    /// Starts publishing.
    func start()
    /// Replaces the published records (device or channel rename, settings in TXT).
    func update(zone: MDNSZone)
    /// Withdraws everything (goodbyes) and releases the backend's resources; returns when done.
    func stop()
}

/// Resolves `<txChannel>@<txDevice>._netaudio-chan._udp.local` (SRV + TXT and the target's A record).
public protocol ChannelResolver: AnyObject, Sendable {
    /// Calls `done` on the device's event loop with the parsed answer, or nil when nothing (complete) arrived
    /// within the backend's window.
    func resolveChannel(txChannel: String, txDevice: String, done: @escaping @Sendable (ResolvedChannel?) -> Void)
    func close()
}

extension MDNSServer: ServiceAdvertiser {}

/// The embedded backend's resolver: one legacy-unicast query (type ANY) through `MDNSQuerier`.
final class EmbeddedChannelResolver: ChannelResolver, @unchecked Sendable {
    let querier: MDNSQuerier
    init(querier: MDNSQuerier) { self.querier = querier }

    func resolveChannel(txChannel: String, txDevice: String, done: @escaping @Sendable (ResolvedChannel?) -> Void) {
        let name = (try? DNSName("\(txChannel)@\(txDevice)._netaudio-chan._udp.local")) ?? .root
        querier.query([DNSQuestion(name: name, type: .any)], window: .milliseconds(500),
                      stopEarly: { ResolvedChannel.parse($0, txChannel: txChannel, txDevice: txDevice) != nil }) { messages in
            done(ResolvedChannel.parse(messages, txChannel: txChannel, txDevice: txDevice))
        }
    }

    func close() { querier.close() }
}

/// The device names a `_netaudio-chan`/`_netaudio-arc` response announces (lowercased), so the subscriber can
/// resolve at once when a transmitter it waits for appears.
func announcedDevices(_ message: DNSMessage) -> Set<String> {
    var devices = Set<String>()
    for r in message.answers + message.additionals {
        guard let first = r.name.labels.first, r.name.labels.count >= 4,
              r.name.labels[1].elementsEqual("_netaudio-chan".utf8) || r.name.labels[1].elementsEqual("_netaudio-arc".utf8),
              let s = String(validating: first, as: UTF8.self) else { continue }
        devices.insert((s.split(separator: "@", maxSplits: 1).last.map(String.init) ?? s).lowercased())
    }
    return devices
}
