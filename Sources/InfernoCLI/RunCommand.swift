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

    func run() throws {
        let runtime = try device.startDevice()
        waitForSignal()
        runtime.stop()
    }
}
