import Glibc
import InfernoProtocol
import Logging
import Synchronization
import XCTest

@testable import InfernoDevice

/// usrvclock server and client in process on temporary socket paths, ClockSpec parsing, the PHC error path.
final class ClockTests: XCTestCase {
    var dir = ""
    let log = Logger(label: "clock-test")
    var cleanups: [() -> Void] = []

    override func setUp() {
        var template = Array("/tmp/inferno-clock-test.XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
        if let d = opendir(dir) {
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink("\(dir)/\(name)") }
            }
            closedir(d)
        }
        rmdir(dir)
    }

    // MARK: Helpers

    func server(_ source: USrvClockServer.Source = .system, path: String? = nil) throws -> USrvClockServer {
        let s = try USrvClockServer(path: path ?? "\(dir)/sock", source: source, intervalNs: 50_000_000, logger: log)
        cleanups.append { s.stop() }
        return s
    }

    func client(stale: Int64 = 400_000_000) throws -> USrvClockClient {
        var o = USrvClockClient.Options(serverPath: "\(dir)/sock", tempDirectory: dir)
        o.staleTimeoutNs = stale
        o.retryIntervalNs = 50_000_000
        let c = try USrvClockClient(options: o, logger: log)
        cleanups.append { c.close() }
        return c
    }

    /// Polls `condition` every 5 ms for up to `seconds`.
    func eventually(_ seconds: Double = 2, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicNow() + Int64(seconds * 1e9)
        while monotonicNow() < deadline {
            if condition() { return true }
            sleepNanoseconds(5_000_000)
        }
        return condition()
    }

    func tai() -> Int64 { readClock(SystemMediaClock().clockID)! }

    // MARK: Server + client

    func testClientFollowsSystemServer() throws {
        let s = try server()
        let c = try client()
        XCTAssertTrue(c.waitUntilAvailable(timeoutNs: 2_000_000_000), c.status)
        let before = tai()
        let r = try XCTUnwrap(c.now())
        let after = tai()
        XCTAssertGreaterThanOrEqual(r.ns, before - 1_000_000)
        XCTAssertLessThanOrEqual(r.ns, after + 1_000_000)
        XCTAssertEqual(r.generation, 1)
        XCTAssertEqual(c.currentOverlay?.clockID, Int64(SystemMediaClock().clockID))
        XCTAssertTrue(c.status.hasPrefix("following usrvclock \(dir)/sock"), c.status)
        XCTAssertEqual(s.clientCount, 1)
        XCTAssertEqual(c.description, "usrvclock \(dir)/sock")

        // The client socket lives at <tmp>/usrvclock-client.<pid>.<n> and is removed on close.
        let path = try XCTUnwrap(c.clientSocketPath)
        XCTAssertTrue(path.hasPrefix("\(dir)/usrvclock-client.\(getpid())."), path)
        XCTAssertEqual(UnixDatagram.fileType(path)?.type, S_IFSOCK)
        c.close()
        c.close()  // idempotent
        XCTAssertNil(UnixDatagram.fileType(path))
        XCTAssertNil(c.now())
        // The server drops it on the next failed push.
        XCTAssertTrue(eventually { s.clientCount == 0 })
    }

    func testMonotonicRawServerAgreesWithTAI() throws {
        let s = try server(.monotonicRaw)
        XCTAssertEqual(s.currentOverlay.clockID, Int64(CLOCK_MONOTONIC_RAW))
        let c = try client()
        XCTAssertTrue(c.waitUntilAvailable(timeoutNs: 2_000_000_000), c.status)
        let before = tai()
        let r = try XCTUnwrap(c.now())
        let after = tai()
        XCTAssertGreaterThanOrEqual(r.ns, before - 1_000_000)
        XCTAssertLessThanOrEqual(r.ns, after + 1_000_000)
    }

    func testClientStartedBeforeServerRegistersWhenItAppears() throws {
        let c = try client()
        XCTAssertNil(c.now())
        XCTAssertTrue(eventually(1) { c.status.contains("no usrvclock server at \(self.dir)/sock") }, c.status)
        _ = try server()
        XCTAssertTrue(c.waitUntilAvailable(timeoutNs: 2_000_000_000), c.status)
        XCTAssertEqual(c.now()?.generation, 1)
    }

    func testOutageMakesClockUnavailableAndRecoveryChangesGeneration() throws {
        let s = try server()
        let c = try client(stale: 400_000_000)
        XCTAssertTrue(c.waitUntilAvailable(timeoutNs: 2_000_000_000))
        XCTAssertEqual(c.now()?.generation, 1)

        s.stop()
        let stoppedAt = monotonicNow()
        XCTAssertTrue(eventually(2) { c.now() == nil })
        let took = monotonicNow() - stoppedAt
        XCTAssertLessThan(took, 1_500_000_000, "unavailable after \(took / 1_000_000) ms, stale limit 400 ms")
        XCTAssertGreaterThan(took, 250_000_000)
        XCTAssertTrue(c.status.contains("no usrvclock overlay from \(dir)/sock for 400 ms"), c.status)

        _ = try server()
        XCTAssertTrue(c.waitUntilAvailable(timeoutNs: 2_000_000_000), c.status)
        XCTAssertEqual(c.now()?.generation, 2)
        XCTAssertGreaterThanOrEqual(c.registrations, 2)
    }

    func testQuickServerRestartCostsNoOutage() throws {
        let s = try server()
        let c = try client(stale: 400_000_000)
        XCTAssertTrue(c.waitUntilAvailable(timeoutNs: 2_000_000_000))
        s.stop()
        _ = try server()
        // The client notices the new socket file and re-registers well within the silence limit.
        let deadline = monotonicNow() + 700_000_000
        var gaps = 0
        while monotonicNow() < deadline {
            if c.now() == nil { gaps += 1 }
            sleepNanoseconds(5_000_000)
        }
        XCTAssertEqual(gaps, 0, c.status)
        XCTAssertEqual(c.now()?.generation, 1)
        XCTAssertEqual(c.registrations, 2)
    }

    func testBadOverlaysAreRejectedAndCountedLastGoodStays() throws {
        let id = Int64(SystemMediaClock().clockID)
        let good = ClockOverlay(clockID: id, lastSync: tai(), shift: 0, freqScale: 0)
        let s = try server(.fixed(good))
        let c = try client()
        XCTAssertTrue(c.waitUntilAvailable(timeoutNs: 2_000_000_000))

        var badMagic = good.encode(); badMagic[0] = 0x58
        s.sendRaw(badMagic)
        XCTAssertTrue(eventually { c.rejectedOverlays == 1 })
        XCTAssertTrue(c.lastRejectReason?.contains("bad magic") == true, c.lastRejectReason ?? "")

        s.sendRaw(ClockOverlay(clockID: id, lastSync: 0, shift: 5_000_000_000, freqScale: 0, versionMajor: 2).encode())
        XCTAssertTrue(eventually { c.rejectedOverlays == 2 })
        XCTAssertTrue(c.lastRejectReason?.contains("version 2") == true, c.lastRejectReason ?? "")

        s.sendRaw(ClockOverlay(clockID: id, lastSync: 0, shift: 5_000_000_000, freqScale: 0, flags: 0).encode())
        XCTAssertTrue(eventually { c.rejectedOverlays == 3 })
        XCTAssertTrue(c.lastRejectReason?.contains("valid flag") == true, c.lastRejectReason ?? "")

        s.sendRaw(Array(good.encode().prefix(39)))
        XCTAssertTrue(eventually { c.rejectedOverlays == 4 })
        s.sendRaw(ClockOverlay(clockID: 12345, lastSync: 0, shift: 0, freqScale: 0).encode())
        XCTAssertTrue(eventually { c.rejectedOverlays == 5 })
        XCTAssertTrue(c.lastRejectReason?.contains("cannot be read") == true, c.lastRejectReason ?? "")

        // The last good overlay stays in force: same time, same generation.
        let before = tai()
        let r = try XCTUnwrap(c.now())
        let after = tai()
        XCTAssertEqual(r.generation, 1)
        XCTAssertGreaterThanOrEqual(r.ns, before - 1_000_000)
        XCTAssertLessThanOrEqual(r.ns, after + 1_000_000)
        XCTAssertEqual(c.currentOverlay, good)
        XCTAssertEqual(c.jumps, 0)
    }

    func testJumpOver200msChangesGeneration() throws {
        let id = Int64(SystemMediaClock().clockID)
        let base = ClockOverlay(clockID: id, lastSync: tai(), shift: 0, freqScale: 0)
        let s = try server(.fixed(base))
        let c = try client()
        XCTAssertTrue(c.waitUntilAvailable(timeoutNs: 2_000_000_000))
        XCTAssertEqual(c.now()?.generation, 1)

        // A small step (1 ms) and a rate change are not jumps.
        var small = base; small.shift = 1_000_000; small.freqScale = 20e-6
        s.setOverlay(small)
        XCTAssertTrue(eventually { c.currentOverlay == small })
        XCTAssertEqual(c.now()?.generation, 1)

        // 300 ms is.
        var big = small; big.shift = 301_000_000
        s.setOverlay(big)
        XCTAssertTrue(eventually { c.currentOverlay == big })
        let r = try XCTUnwrap(c.now())
        XCTAssertEqual(r.generation, 2)
        XCTAssertEqual(c.jumps, 1)
        XCTAssertEqual(r.freqScale, 20e-6)

        // And back (−300 ms) is another.
        s.setOverlay(small)
        XCTAssertTrue(eventually { c.currentOverlay == small })
        XCTAssertEqual(c.now()?.generation, 3)
        XCTAssertEqual(c.jumps, 2)
    }

    func testServerReplacesStaleSocketAndRefusesLiveOne() throws {
        // A socket file nobody serves (a crashed server) is replaced.
        let path = "\(dir)/sock"
        let fd = try UnixDatagram.socket()
        try UnixDatagram.bind(fd, path)
        Glibc.close(fd)
        XCTAssertEqual(UnixDatagram.fileType(path)?.type, S_IFSOCK)
        let s = try server()

        // A live server is not.
        XCTAssertThrowsError(try USrvClockServer(path: path, logger: log)) { e in
            XCTAssertEqual(e as? ClockSocketError, .alreadyServing(path))
            XCTAssertEqual("\(e)", "another usrvclock server is already serving \(path)")
        }
        // Nor is a file that is not a socket.
        let other = "\(dir)/plain"
        Glibc.close(open(other, O_CREAT | O_WRONLY, 0o600))
        XCTAssertThrowsError(try USrvClockServer(path: other, logger: log)) { e in
            XCTAssertEqual(e as? ClockSocketError, .notASocket(other))
        }
        s.stop()
        XCTAssertNil(UnixDatagram.fileType(path), "the server removes its socket")
    }

    /// Readers never see a torn overlay while the writer publishes continuously.
    func testOverlayCellIsNeverTorn() {
        let cell = OverlayCell()
        XCTAssertNil(cell.read())
        let done = ClosedFlag()
        let torn = Mutex(0)
        let reads = Mutex(0)
        let reader = RealtimeThread.start(name: "cell-reader") {
            var n = 0, bad = 0
            while !done.isSet {
                if let s = cell.read() {
                    let o = s.overlay
                    if o.shift != o.lastSync &* 3 || o.clockID != Int64(s.generation) || o.freqScale != Double(s.generation) * 1e-9 { bad += 1 }
                    n += 1
                }
            }
            torn.withLock { $0 = bad }
            reads.withLock { $0 = n }
        }
        let deadline = monotonicNow() + 200_000_000
        var g: UInt32 = 1
        while monotonicNow() < deadline {
            let v = Int64(g) &* 7_919
            cell.publish(ClockOverlay(clockID: Int64(g), lastSync: v, shift: v &* 3, freqScale: Double(g) * 1e-9), generation: g)
            g &+= 1
        }
        _ = done.set()
        reader.join()
        XCTAssertEqual(torn.withLock { $0 }, 0)
        XCTAssertGreaterThan(reads.withLock { $0 }, 0)
        XCTAssertGreaterThan(g, 100)
        cell.setUnavailable()
        XCTAssertEqual(cell.read()?.available, false)
        XCTAssertEqual(cell.read()?.generation, g &- 1)
    }

    // MARK: ClockSpec

    func testClockSpecParse() throws {
        let none: [String: String] = [:]
        XCTAssertEqual(try ClockSpec.parse(nil, environment: none), .auto(path: "/tmp/ptp-usrvclock"))
        XCTAssertEqual(try ClockSpec.parse("auto", environment: none), .auto(path: "/tmp/ptp-usrvclock"))
        XCTAssertEqual(try ClockSpec.parse("system", environment: none), .system)
        XCTAssertEqual(try ClockSpec.parse(" System ", environment: none), .system)
        XCTAssertEqual(try ClockSpec.parse("usrvclock", environment: none), .usrvclock(path: "/tmp/ptp-usrvclock"))
        XCTAssertEqual(try ClockSpec.parse("usrvclock:/run/clk", environment: none), .usrvclock(path: "/run/clk"))
        XCTAssertEqual(try ClockSpec.parse("auto:/run/clk", environment: none), .auto(path: "/run/clk"))
        XCTAssertEqual(try ClockSpec.parse("phc:/dev/ptp1", environment: none), .phc(path: "/dev/ptp1"))

        // Environment: INFERNO_CLOCK when no flag, INFERNO_CLOCK_PATH as the default path; the flag wins.
        let env = ["INFERNO_CLOCK": "usrvclock", "INFERNO_CLOCK_PATH": "/run/ptp"]
        XCTAssertEqual(try ClockSpec.parse(nil, environment: env), .usrvclock(path: "/run/ptp"))
        XCTAssertEqual(try ClockSpec.parse("auto", environment: env), .auto(path: "/run/ptp"))
        XCTAssertEqual(try ClockSpec.parse("system", environment: env), .system)
        XCTAssertEqual(try ClockSpec.parse("usrvclock:/x", environment: env), .usrvclock(path: "/x"))
        XCTAssertEqual(try ClockSpec.parse(nil, environment: ["INFERNO_CLOCK": ""]), .auto(path: "/tmp/ptp-usrvclock"))
        XCTAssertEqual(try ClockSpec.parse(nil, environment: ["INFERNO_CLOCK": "phc:/dev/ptp0"]), .phc(path: "/dev/ptp0"))
        XCTAssertEqual(ClockSpec.usrvclock(path: "/a").description, "usrvclock:/a")

        func error(_ v: String?, _ env: [String: String] = [:]) -> String {
            do { _ = try ClockSpec.parse(v, environment: env); return "no error" } catch { return error.description }
        }
        XCTAssertEqual(try ClockSpec.parse("ptp", environment: [:]), .ptp)
        XCTAssertEqual(error("ptp:/x"), "--clock (INFERNO_CLOCK): \"ptp:/x\" must be auto, system, ptp, usrvclock[:PATH] or phc:/dev/ptpN (ptp takes no path: use --bind)")
        XCTAssertEqual(error(nil, ["INFERNO_CLOCK": "gps"]),
                       "--clock (INFERNO_CLOCK): \"gps\" must be auto, system, ptp, usrvclock[:PATH] or phc:/dev/ptpN")
        XCTAssertEqual(error("phc"), "--clock (INFERNO_CLOCK): \"phc\" needs a device path, e.g. phc:/dev/ptp0")
        XCTAssertEqual(error("phc:"), "--clock (INFERNO_CLOCK): \"phc:\" needs a device path, e.g. phc:/dev/ptp0")
        XCTAssertEqual(error("usrvclock:"), "--clock (INFERNO_CLOCK): \"usrvclock:\" has an empty socket path after \"usrvclock:\"")
        XCTAssertTrue(error("system:/x").hasPrefix("--clock (INFERNO_CLOCK): \"system:/x\" must be auto"))
        let long = "/" + String(repeating: "a", count: 120)
        XCTAssertEqual(error("usrvclock:" + long),
                       "--clock (INFERNO_CLOCK): \"usrvclock:\(long)\" socket path must be 1 to 107 bytes without NUL")
        XCTAssertEqual(error(nil, ["INFERNO_CLOCK_PATH": long]),
                       "INFERNO_CLOCK_PATH: \"\(long)\" socket path must be 1 to 107 bytes without NUL")
    }

    func testAutoSelectsUsrvclockWhenItAnswersElseSystem() throws {
        let path = "\(dir)/sock"
        // Nothing there: system at once.
        let a = try ClockSpec.auto(path: path).select(logger: log, autoProbeTimeoutNs: 300_000_000)
        XCTAssertTrue(a.source is SystemMediaClock)
        XCTAssertTrue(a.reason.contains("no usrvclock server at \(path)"), a.reason)

        // A dead socket file: system after the probe.
        let fd = try UnixDatagram.socket()
        try UnixDatagram.bind(fd, path)
        Glibc.close(fd)
        let b = try ClockSpec.auto(path: path).select(logger: log, autoProbeTimeoutNs: 300_000_000)
        XCTAssertTrue(b.source is SystemMediaClock)
        XCTAssertTrue(b.reason.contains("no usrvclock overlay from \(path) within 300 ms"), b.reason)

        // A live server: usrvclock.
        _ = try server()
        let c = try ClockSpec.auto(path: path).select(logger: log, autoProbeTimeoutNs: 1_500_000_000)
        defer { c.source.close() }
        XCTAssertTrue(c.source is USrvClockClient)
        XCTAssertNotNil(c.source.now())
        XCTAssertEqual(c.source.description, "usrvclock \(path)")

        let sys = try ClockSpec.system.makeSource(logger: log)
        XCTAssertTrue(sys is SystemMediaClock)
    }

    // MARK: PHC

    func testPHCClockIDFormula() {
        XCTAssertEqual(PHCMediaClock.clockID(forFileDescriptor: 3), -29)     // ((~3) << 3) | 3
        XCTAssertEqual(PHCMediaClock.clockID(forFileDescriptor: 0), -5)
        XCTAssertEqual(PHCMediaClock.clockID(forFileDescriptor: 10), ((~10) << 3) | 3)
        XCTAssertEqual(clockName(-29), "dynamic clock -29 (PHC fd 3)")
    }

    func testPHCErrors() {
        func error(_ path: String) -> String {
            do { let c = try PHCMediaClock(path: path); c.close(); return "no error" } catch { return error.description }
        }
        XCTAssertEqual(error("/dev/ptp-does-not-exist"),
                       "--clock (INFERNO_CLOCK): \"phc:/dev/ptp-does-not-exist\" cannot open /dev/ptp-does-not-exist: No such file or directory")
        // A character device that is not a clock.
        XCTAssertTrue(error("/dev/null").hasPrefix("--clock (INFERNO_CLOCK): \"phc:/dev/null\" /dev/null is not a PTP hardware clock"),
                      error("/dev/null"))
        let plain = "\(dir)/plain"
        Glibc.close(open(plain, O_CREAT | O_WRONLY, 0o600))
        XCTAssertEqual(error(plain), "--clock (INFERNO_CLOCK): \"phc:\(plain)\" \(plain) is not a character device (expected a PTP hardware clock such as /dev/ptp0)")
        XCTAssertThrowsError(try ClockSpec.phc(path: "/dev/ptp-does-not-exist").makeSource(logger: log)) { e in
            XCTAssertTrue(e is ConfigError)
        }
    }
}
