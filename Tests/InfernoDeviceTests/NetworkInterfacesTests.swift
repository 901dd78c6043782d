import Testing
@testable import InfernoDevice

@Suite struct NetworkInterfacesTests {
    @Test func parsesAddresses() {
        #expect(parseIPv4("10.99.0.1") == 0x0A63_0001)
        #expect(parseIPv4("255.255.255.255") == 0xFFFF_FFFF)
        for bad in ["10.99.0", "10.99.0.256", "a.b.c.d", "1..2.3", "1.2.3.4.5", ""] { #expect(parseIPv4(bad) == nil) }
        #expect(ipv4String(0x7F00_0002) == "127.0.0.2")
    }

    @Test func resolvesLoopbackAddressesAndNames() throws {
        let lo = try NetworkInterfaces.resolve("127.0.0.1")
        #expect(lo.isLoopback && lo.mac == nil)
        let lo2 = try NetworkInterfaces.resolve("127.0.0.2")
        #expect(lo2.address == 0x7F00_0002 && lo2.isLoopback)
        #expect(try NetworkInterfaces.resolve("lo").isLoopback)
        #expect(throws: ConfigError.self) { try NetworkInterfaces.resolve("192.0.2.77") }
        #expect(throws: ConfigError.self) { try NetworkInterfaces.resolve("no-such-if0") }
    }

    @Test func loopbackDeviceIDsAreStableAndDistinct() throws {
        let a = try NetworkInterfaces.resolve("127.0.0.2"), b = try NetworkInterfaces.resolve("127.0.0.3")
        let ida = NetworkInterfaces.defaultDeviceID(for: a, processID: 0)
        #expect(ida == NetworkInterfaces.defaultDeviceID(for: a, processID: 0))
        #expect(ida != NetworkInterfaces.defaultDeviceID(for: b, processID: 0))
        #expect(ida != NetworkInterfaces.defaultDeviceID(for: a, processID: 1))
        #expect(ida.bytes[3] == 0xff && ida.bytes[4] == 0xfe && ida.bytes[0] & 0x02 == 0x02)
        var eth = a; eth.mac = [0x00, 0x1d, 0xc1, 0x52, 0x79, 0xb6]
        #expect(NetworkInterfaces.defaultDeviceID(for: eth, processID: 0).description == "001dc1fffe5279b6")
        #expect(NetworkInterfaces.defaultDeviceID(for: eth, processID: 1).description == "001dc15279b60001")
    }
}
