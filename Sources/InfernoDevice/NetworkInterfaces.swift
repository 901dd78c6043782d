import Foundation

/// An IPv4 interface of this host, as `--bind` resolves it.
public struct HostInterface: Equatable, Sendable {
    public var name: String
    /// Host-order IPv4 address and netmask.
    public var address: UInt32
    public var netmask: UInt32
    public var isLoopback: Bool
    /// The 48-bit MAC address, nil for interfaces without one (loopback) or an all-zero one.
    public var mac: [UInt8]?

    public var addressString: String { ipv4String(address) }
    public func contains(_ ip: UInt32) -> Bool { ip & netmask == address & netmask }
}

public enum NetworkInterfaces {
    /// Every IPv4 address of every interface that is up.
    public static func all() -> [HostInterface] {
        var out: [HostInterface] = []
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let ifa = p {
            defer { p = ifa.pointee.ifa_next }
            guard let sa = ifa.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET),
                  ifa.pointee.ifa_flags & UInt32(IFF_UP) != 0 else { continue }
            let name = String(cString: ifa.pointee.ifa_name)
            let addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            let mask = ifa.pointee.ifa_netmask.map { m in
                m.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            } ?? 0xFFFF_FFFF
            let loop = ifa.pointee.ifa_flags & UInt32(IFF_LOOPBACK) != 0
            out.append(HostInterface(name: name, address: addr, netmask: mask, isLoopback: loop, mac: loop ? nil : mac(of: name)))
        }
        return out
    }

    /// Resolves `--bind`: an IPv4 address of this host (any 127.x.y.z counts as loopback), or an interface name.
    public static func resolve(_ bind: String) throws(ConfigError) -> HostInterface {
        let setting = "--bind (INFERNO_BIND_IP)"
        let interfaces = all()
        if let ip = parseIPv4(bind) {
            if let i = interfaces.first(where: { $0.address == ip }) { return i }
            if ip >> 24 == 127, var lo = interfaces.first(where: { $0.isLoopback }) {
                // The whole 127/8 is local: several devices can use 127.0.0.2, 127.0.0.3, …
                lo.address = ip
                return lo
            }
            throw ConfigError(setting: setting, value: bind, reason: "is not an address of this host")
        }
        if let i = interfaces.first(where: { $0.name == bind }) { return i }
        let names = Set(interfaces.map(\.name)).sorted().joined(separator: ", ")
        throw ConfigError(setting: setting, value: bind, reason: "is neither an IPv4 address nor an interface with one (have: \(names))")
    }

    static func mac(of name: String) -> [UInt8]? {
        guard !name.contains("/"), let s = try? String(contentsOfFile: "/sys/class/net/\(name)/address", encoding: .utf8) else { return nil }
        let parts = s.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":")
        let bytes = parts.compactMap { UInt8($0, radix: 16) }
        guard bytes.count == 6, parts.count == 6, bytes != [0, 0, 0, 0, 0, 0] else { return nil }
        return bytes
    }

    /// The default device id, stable across restarts and address changes:
    /// - process id 0: the EUI-64 of the interface MAC (`aa bb cc ff fe dd ee ff`), as real devices use;
    /// - process id N > 0: the MAC followed by N as two bytes (real devices use MAC + `00 00`), so several
    ///   instances on one host (`--process-id`) get distinct ids and distinct state files.
    /// Interfaces without a MAC (loopback) use a locally administered MAC derived from /etc/machine-id and the
    /// bind address, so several loopback devices on one host differ and each keeps its id across restarts.
    public static func defaultDeviceID(for iface: HostInterface, processID: UInt16) -> DeviceID {
        if let mac = iface.mac { return deviceID(mac: mac, processID: processID) }
        let machine = (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8)) ?? "inferno"
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a
        for b in machine.utf8 where b > 0x20 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        for b in [UInt8(iface.address >> 24), UInt8((iface.address >> 16) & 0xff), UInt8((iface.address >> 8) & 0xff),
                  UInt8(iface.address & 0xff), UInt8(processID >> 8), UInt8(processID & 0xff)] {
            h = (h ^ UInt64(b)) &* 0x100_0000_01b3
        }
        let m: [UInt8] = [0x02 | (UInt8(h >> 56) & 0xfc), UInt8((h >> 48) & 0xff), UInt8((h >> 40) & 0xff),
                          UInt8((h >> 32) & 0xff), UInt8((h >> 24) & 0xff), UInt8((h >> 16) & 0xff)]
        return deviceID(mac: m, processID: processID)
    }

    static func deviceID(mac: [UInt8], processID: UInt16) -> DeviceID {
        if processID == 0 { return DeviceID(eui64FromMAC: mac)! }
        return DeviceID(bytes: mac + [UInt8(processID >> 8), UInt8(processID & 0xff)])!
    }
}

/// "10.99.0.1" → 0x0A630001.
public func parseIPv4(_ s: String) -> UInt32? {
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var v: UInt32 = 0
    for p in parts {
        guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCIIDigit), let n = UInt32(p), n <= 255 else { return nil }
        v = v << 8 | n
    }
    return v
}

public func ipv4String(_ v: UInt32) -> String {
    "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
