import ArgumentParser
import InfernoDevice

struct Inferno: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inferno",
        abstract: "A Dante-compatible audio-over-IP device for Linux.",
        discussion: """
            Puts this machine on a Dante network: it shows up in Dante Controller or netaudio, its channels \
            can be patched to and from Dante gear, and apps reach them through ALSA or PipeWire.
            """,
        version: "inferno \(InfernoVersion.string) (\(SystemLibraries.summary))",
        subcommands: [Run.self, Record.self, Demo.self, ClockCommand.self, Version.self, Wire.self]
    )
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and the linked C libraries.")
    func run() {
        print("inferno \(InfernoVersion.string)")
        print(SystemLibraries.summary)
    }
}

Inferno.main()
