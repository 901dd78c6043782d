import ArgumentParser
import Foundation
import InfernoCommandLine
import InfernoDevice

/// `inferno run`: a Dante device on the network until SIGINT/SIGTERM.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Dante device: it appears in Dante Controller and netaudio until stopped (SIGINT/SIGTERM).",
        discussion: """
            Every option can also come from the environment variable named in its help; flags win.
            Without --bind the device serves on loopback (127.0.0.1) only, so nothing leaves the machine; \
            use --bind eth0 (or an address) to put it on a real network.
            """)

    @OptionGroup var device: DeviceOptions
    @OptionGroup var aodns: AoDNSRunOptions

    func run() throws {
        var bridges: AoDNSRunOptions.Running?
        let runtime: DeviceRuntime
        if aodns.isEnabled { (runtime, bridges) = try aodns.startDevice(device) } else { runtime = try device.startDevice() }
        if let fd = runtime.config.shmOwnerFD {
            // Started by the ALSA plugin: live as long as the plugin holds the pipe's write end.
            waitForSignal(until: { ownerGone(fd) })
        } else {
            waitForSignal()
        }
        bridges?.stop()
        runtime.stop()
    }

    /// True once every writer of the pipe `fd` has closed it (read gives end-of-file or an error).
    func ownerGone(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        return read(fd, &byte, 1) <= 0
    }
}
