import ArgumentParser
import Foundation
import InfernoCommandLine
import InfernoDevice
import InfernoProtocol
import Logging

/// `inferno clock`: the media clock tools. `serve` publishes the host clock over usrvclock; `show` prints what
/// `--clock` would follow.
struct ClockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clock",
        abstract: "Media clock tools: a usrvclock server for one host (host clock or the built-in PTP clock), and what --clock selects.",
        subcommands: [Serve.self, Show.self])

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the host clock or the PTP clock over usrvclock until SIGINT/SIGTERM.",
            discussion: """
                Devices started with --clock usrvclock[:PATH] (or auto) follow it. Source system publishes \
                CLOCK_TAI as is; monotonic-raw publishes CLOCK_MONOTONIC_RAW shifted onto TAI. Either way devices \
                on this server and devices on --clock system agree on one host. Source ptp runs the built-in PTP \
                clock on --bind (follows the network's leader, or leads per --ptp-leader) and publishes its time, \
                so several devices on one host (and other programs) share one PTP clock.
                """)

        @Option(help: "Socket path (INFERNO_CLOCK_PATH). Default /tmp/ptp-usrvclock.")
        var socket: String?
        @Option(help: "system (CLOCK_TAI), monotonic-raw or ptp. Default system.")
        var source: String = "system"
        @Option(name: .customLong("interval-ms"), help: "Push interval in milliseconds, 1 to 1000. Default 250.")
        var intervalMs: Int = 250
        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (INFERNO_LOG_LEVEL). Default info.")
        var logLevel: String?
        @Option(help: "With --source ptp: the interface or its IPv4 address (INFERNO_BIND_IP).")
        var bind: String?
        @Option(name: .customLong("process-id"), help: "With --source ptp: PTP port number − 1, distinct per process on one host (INFERNO_PROCESS_ID). Default 0.")
        var processID: String?
        @OptionGroup(title: "PTP clock (--source ptp)") var ptp: PTPOptions

        func validate() throws {
            guard source == "ptp" || USrvClockServer.Source(name: source) != nil else {
                throw ValidationError("--source: \"\(source)\" must be system, monotonic-raw or ptp")
            }
            guard (1...1000).contains(intervalMs) else {
                throw ValidationError("--interval-ms: \"\(intervalMs)\" must be a whole number from 1 to 1000")
            }
        }

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            let log = bootstrapLogging(logLevel ?? env["INFERNO_LOG_LEVEL"], label: "inferno.clock")
            let path = socket ?? env[ClockSpec.pathEnvironmentKey].flatMap { $0.isEmpty ? nil : $0 }
                ?? ClockSpec.defaultUSrvClockPath
            let server: USrvClockServer
            var clock: PTPClock? = nil
            do {
                var serverSource = USrvClockServer.Source(name: source) ?? .system
                if source == "ptp" {
                    let c = try ptpClock(bind: bind, processID: processID, ptp: ptp, env: env, log: log)
                    clock = c
                    serverSource = .fixed(c.currentOverlay!)
                }
                server = try USrvClockServer(path: path, source: serverSource,
                                             intervalNs: Int64(intervalMs) * 1_000_000, logger: log)
            } catch {
                clock?.close()
                FileHandle.standardError.write(Data("inferno: \(error)\n".utf8))
                throw ExitCode(2)
            }
            if let clock {
                var last = clock.currentOverlay
                var lastStatus = ""
                var statusAt = 0
                waitForSignal {
                    // Every 100 ms: push a changed overlay; log the status every 10 s.
                    if let o = clock.currentOverlay, o != last { server.setOverlay(o); last = o }
                    statusAt += 1
                    if statusAt % 100 == 0, clock.status != lastStatus { lastStatus = clock.status; log.info("ptp: \(lastStatus)") }
                    return false
                }
                clock.close()
            } else {
                waitForSignal()
            }
            server.stop()
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the clock source --clock selects, its status and the current media time, then exit.",
            discussion: """
                Output lines: source, reason, status, time_ns (PTP-timescale ns, or "none"), generation. \
                Exits 1 when no clock is available within --wait-ms.
                """)

        @Option(help: "auto, system, ptp, usrvclock[:PATH] or phc:/dev/ptpN (INFERNO_CLOCK; INFERNO_CLOCK_PATH is the usrvclock path). Default auto.")
        var clock: String?
        @Option(name: .customLong("wait-ms"), help: "How long to wait for a usrvclock overlay, or with ptp for the lock to a leader, in milliseconds. Default 2000.")
        var waitMs: Int = 2000
        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (INFERNO_LOG_LEVEL). Default warning.")
        var logLevel: String?
        @Option(help: "For ptp (and auto): the interface or its IPv4 address (INFERNO_BIND_IP). Default 127.0.0.1.")
        var bind: String?
        @Option(name: .customLong("process-id"), help: "For ptp: PTP port number − 1 (INFERNO_PROCESS_ID). Default 0.")
        var processID: String?
        @Option(name: .customLong("trace-ms"), help: "For ptp: print a 'trace:' line every N ms through the whole --wait-ms (ms since start, offset from CLOCK_REALTIME in ns, servo offset in ns, servo state); for measurements (make bench).")
        var traceMs: Int?
        @OptionGroup(title: "PTP clock (--clock ptp, or auto)") var ptp: PTPOptions

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            let log = bootstrapLogging(logLevel ?? env["INFERNO_LOG_LEVEL"] ?? "warning", label: "inferno.clock")
            let selection: ClockSpec.Selection
            do {
                let spec = try ClockSpec.parse(clock, environment: env)
                let context = try ptpContext(bind: bind, processID: processID, ptp: ptp, env: env)
                selection = try spec.select(logger: log, ptp: context)
            } catch {
                FileHandle.standardError.write(Data("inferno: \(error)\n".utf8))
                throw ExitCode(2)
            }
            let source = selection.source
            defer { source.close() }
            let waitNs = Int64(max(0, waitMs)) * 1_000_000
            let start = monotonicNow()
            let rateStart = (readClock(CLOCK_MONOTONIC_RAW) ?? 0, clockOffset(CLOCK_REALTIME))
            if let client = source as? USrvClockClient {
                _ = client.waitUntilAvailable(timeoutNs: waitNs)
            }
            var lockedAfterMs: Int64? = nil
            if let p = source as? PTPClock, let every = traceMs, every > 0 {
                // Measurement mode: the whole wait, one line per period.
                while monotonicNow() - start < waitNs {
                    let st = p.snapshot.status
                    let locked = (st.reference == .v1 || st.reference == .v2) && st.servo == .locked
                    if locked && lockedAfterMs == nil { lockedAfterMs = (monotonicNow() - start) / 1_000_000 }
                    let off = p.now() == nil ? "none" : String(mediaMinus(CLOCK_REALTIME, p))
                    print("trace: \((monotonicNow() - start) / 1_000_000) \(off) \(st.offsetNs) \(locked ? "locked" : st.servo.rawValue)")
                    fflush(nil)
                    sleepNanoseconds(Int64(every) * 1_000_000)
                }
            } else if let p = source as? PTPClock {
                while monotonicNow() - start < waitNs {
                    let st = p.snapshot.status
                    if (st.reference == .v1 || st.reference == .v2) && st.servo == .locked {
                        lockedAfterMs = (monotonicNow() - start) / 1_000_000
                        // Settle a few seconds past the lock (the frequency estimate), within the wait.
                        let settle = min(start + waitNs, monotonicNow() + Int64(ProcessInfo.processInfo.environment["PTP_SETTLE_MS"].flatMap { Int64($0) } ?? 4000) * 1_000_000)
                        while monotonicNow() < settle { sleepNanoseconds(50_000_000) }
                        break
                    }
                    sleepNanoseconds(50_000_000)
                }
            }
            let reading = source.now()
            print("source: \(source.description)")
            print("reason: \(selection.reason)")
            print("status: \(source.status)")
            if let p = source as? PTPClock {
                let snap = p.snapshot
                let st = snap.status
                let rateEnd = (readClock(CLOCK_MONOTONIC_RAW) ?? 0, clockOffset(CLOCK_REALTIME))
                let span = Double(rateEnd.0 - rateStart.0)
                print("ptp_reference: \(st.reference.rawValue)")
                print("ptp_v1_state: \(st.v1State)")
                print("ptp_v2_state: \(st.v2State)")
                print("ptp_conmon_state: \(snap.reportedState.rawValue)")
                print("ptp_leader: \(st.leader ?? "none")")
                print("ptp_servo: \(st.servo.rawValue)")
                print("ptp_locked_after_ms: \(lockedAfterMs.map(String.init) ?? "none")")
                print("ptp_offset_ns: \(st.offsetNs)")
                print("ptp_path_delay_ns: \(st.pathDelayNs)")
                let age = st.lastSyncUnderlyingNs.map { String(((readClock(CLOCK_MONOTONIC_RAW) ?? 0) - $0) / 1_000_000) } ?? "none"
                print("ptp_last_sync_age_ms: \(age)")
                print("ptp_ppm: \(PTPClock.ppmText(st.freqScale))")
                print("ptp_timestamping: \(snap.stamping)")
                print("ptp_counters: received=\(st.counters.received) malformed=\(st.counters.malformed) ignored=\(st.counters.ignored) syncs=\(st.counters.syncsUsed) delay_responses=\(st.counters.delayResponses) rejected=\(st.counters.rejectedSamples) steps=\(st.counters.steps) sent=\(st.counters.sent)")
                // What the overlay reads against the host's clocks right now, and the host's own rate over the wait.
                print("offset_from_tai_ns: \(mediaMinus(CLOCK_TAI, p))")
                print("offset_from_realtime_ns: \(mediaMinus(CLOCK_REALTIME, p))")
                print("realtime_rate_ppm: \(span > 1e9 ? PTPClock.ppmText(Double(rateEnd.1 - rateStart.1) / span) : "none")")
            }
            if let reading {
                print("time_ns: \(reading.ns)")
                print("generation: \(reading.generation)")
            } else {
                print("time_ns: none")
                print("generation: none")
                throw ExitCode(1)
            }
        }
    }
}

/// The PTP context for `--bind` (nil on loopback, where the PTP clock cannot run).
private func ptpContext(bind: String?, processID: String?, ptp: PTPOptions, env: [String: String]) throws -> ClockSpec.PTPContext? {
    var flags: [String: String] = [:]
    if let bind { flags["bind"] = bind }
    if let processID { flags["process-id"] = processID }
    for (k, v) in ptp.given { if let v { flags[k] = v } }
    let config = try DeviceConfig.resolve(flags: flags, environment: env)
    return try ClockSpec.PTPContext(config: config)
}

private func ptpClock(bind: String?, processID: String?, ptp: PTPOptions, env: [String: String], log: Logger) throws -> PTPClock {
    guard let context = try ptpContext(bind: bind, processID: processID, ptp: ptp, env: env) else {
        throw ValidationError("--source ptp needs --bind")
    }
    return try PTPClock(interface: context.interface, portNumber: context.portNumber, settings: context.settings, logger: log)
}

/// clock − CLOCK_MONOTONIC_RAW, tightest of a few sandwiches.
private func clockOffset(_ id: clockid_t) -> Int64 {
    var best: (Int64, Int64) = (.max, 0)
    for _ in 0..<7 {
        guard let a = readClock(CLOCK_MONOTONIC_RAW), let t = readClock(id), let b = readClock(CLOCK_MONOTONIC_RAW) else { continue }
        if b - a < best.0 { best = (b - a, t - (a + (b - a) / 2)) }
    }
    return best.1
}

/// The PTP clock's media time minus `id`'s reading at the same instant.
private func mediaMinus(_ id: clockid_t, _ p: PTPClock) -> Int64 {
    var best: (Int64, Int64) = (.max, 0)
    for _ in 0..<7 {
        guard let a = readClock(id), let m = p.now(), let b = readClock(id) else { continue }
        if b - a < best.0 { best = (b - a, m.ns - (a + (b - a) / 2)) }
    }
    return best.1
}

/// Logs to stderr at `level` (default info). Bootstraps swift-log once per process.
private func bootstrapLogging(_ level: String?, label: String) -> Logger {
    let lvl = level.flatMap { Logger.Level(rawValue: $0) } ?? .info
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = lvl
        return h
    }
    return Logger(label: label)
}

