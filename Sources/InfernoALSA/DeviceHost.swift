import CInfernoSys
import Glibc
import InfernoMedia
import Synchronization

/// The Dante device behind a PCM.
///
/// * `mode host` (default): the plugin starts `inferno run --shm alsa-<pid>-<n> --shm-owner-fd 3` as a child
///   process and talks to it through the shared port. The child holds the read end of a pipe whose write end only
///   this process has, so the device stops when the last PCM using it closes, or when the application dies,
///   however it dies. A playback and a capture PCM of the same entry share one device (full-duplex apps).
/// * `mode attach`: the PCM joins a device someone started with `inferno run --shm NAME`; the device outlives
///   the application.
///
/// The device lives in its own process because the device code uses Foundation and swift-nio, which do not
/// belong inside a plugin `dlopen`ed by arbitrary applications; the plugin itself only maps memory.
final class DeviceHost: @unchecked Sendable {
    let port: SharedAudioPort
    let identity: String
    let child: pid_t
    let ownerFD: Int32
    var references = 1

    private init(port: SharedAudioPort, identity: String, child: pid_t, ownerFD: Int32) {
        self.port = port; self.identity = identity; self.child = child; self.ownerFD = ownerFD
    }

    struct Failure: Error { var message: String }

    static let registry = Mutex<[String: DeviceHost]>([:])
    static let counter = Atomic<Int>(0)

    /// The device for `config`: an existing one of this process, a new child, or an attached daemon.
    static func acquire(_ config: PluginConfig) throws(Failure) -> DeviceHost {
        if config.mode == .attach {
            guard let name = config.shm ?? getenv("INFERNO_SHM").map({ String(cString: $0) }) else {
                throw Failure(message: "inferno: mode attach needs shm NAME (the --shm of a running inferno run) or INFERNO_SHM")
            }
            let port: SharedAudioPort
            do { port = try SharedAudioPort.attach(name: name) } catch { throw Failure(message: "inferno: \(error)") }
            guard port.isAlive() else {
                throw Failure(message: "inferno: \(SharedAudioPort.PortError.notServed(port.path))")
            }
            return DeviceHost(port: port, identity: "attach:" + name, child: 0, ownerFD: -1)
        }
        let key = config.identity
        let result: Result<DeviceHost, Failure> = registry.withLock { hosts in
            if let h = hosts[key], h.port.isAlive() {
                h.references += 1
                return .success(h)
            }
            do throws(Failure) {
                let h = try spawn(config, key: key)
                hosts[key] = h
                return .success(h)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    func release() {
        if child == 0 { return }
        let last: Bool = Self.registry.withLock { hosts in
            references -= 1
            if references > 0 { return false }
            if hosts[identity] === self { hosts[identity] = nil }
            return true
        }
        if last { stopChild() }
    }

    /// Closes the owner pipe (the device stops and removes its port) and reaps the child, at most 5 s.
    private func stopChild() {
        close(ownerFD)
        var status: Int32 = 0
        for _ in 0..<500 {
            let r = waitpid(child, &status, WNOHANG)
            if r == child || (r < 0 && errno == ECHILD) { return }
            usleep(10_000)
        }
        kill(child, SIGKILL)
        _ = waitpid(child, &status, 0)
    }

    private static func spawn(_ config: PluginConfig, key: String) throws(Failure) -> DeviceHost {
        let executable = try findInferno(config)
        let name = "alsa-\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)"
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw Failure(message: "inferno: pipe: \(String(cString: strerror(errno)))") }
        let readEnd = fds[0], writeEnd = fds[1]
        // Neither end leaks into other children of the application; the device gets its copy of the read end
        // as descriptor 3 (dup2 clears close-on-exec), the write end stays here only.
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        let args = [executable] + config.runArguments + ["--shm", name, "--shm-owner-fd", "3"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // The child sees only stdin, stderr (also as stdout, so it never writes into the application's output)
        // and the pipe's read end as descriptor 3: the application's other files and sockets stay here.
        var child: Int32 = 0
        let rc = inferno_spawn_isolated(executable, &argv, readEnd, &child)
        let pid = pid_t(child)
        close(readEnd)
        guard rc == 0 else {
            close(writeEnd)
            throw Failure(message: "inferno: cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        // Wait for the device to publish its port (bounded); a child that exits has printed why on stderr.
        for _ in 0..<1000 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                close(writeEnd)
                let code = (status >> 8) & 0xff
                throw Failure(message: "inferno: the device process (\(executable)) exited with status \(code); its message is above")
            }
            if let port = try? SharedAudioPort.attach(name: name), port.daemonPID == pid, port.isAlive() {
                return DeviceHost(port: port, identity: key, child: pid, ownerFD: writeEnd)
            }
            usleep(10_000)
        }
        close(writeEnd)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        throw Failure(message: "inferno: the device process did not come up within 10 s")
    }

    /// `inferno` from the `inferno` key, INFERNO_BIN, next to the plugin, or on PATH.
    static func findInferno(_ config: PluginConfig) throws(Failure) -> String {
        var tried: [String] = []
        var candidates: [String] = []
        if let p = config.inferno { candidates.append(p) }
        if let p = getenv("INFERNO_BIN") { candidates.append(String(cString: p)) }
        if let d = config.pluginDirectory {
            candidates.append(d + "/inferno")
            candidates.append(d + "/../../bin/inferno")           // PREFIX/lib/<triplet>/alsa-lib → PREFIX/bin
            candidates.append(d + "/../../../bin/inferno")
        }
        candidates += ["/usr/local/bin/inferno", "/usr/bin/inferno"]
        if let path = getenv("PATH") {
            for dir in String(cString: path).split(separator: ":") { candidates.append(String(dir) + "/inferno") }
        }
        for c in candidates {
            tried.append(c)
            if access(c, X_OK) == 0 { return c }
            if config.inferno != nil && c == config.inferno { break }
        }
        throw Failure(message: "inferno: cannot find the inferno executable (set the inferno key or INFERNO_BIN); tried \(tried.prefix(4).joined(separator: ", "))…")
    }
}
