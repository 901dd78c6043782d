import ArgumentParser
import Foundation
import InfernoDevice

struct Inferno: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inferno",
        abstract: "A Dante-compatible audio-over-IP device for Linux.",
        discussion: """
            Puts this machine on a Dante network: it shows up in Dante Controller or netaudio, its channels \
            can be patched to and from Dante gear, and apps reach them through ALSA or PipeWire. The controller \
            commands (ls, channels, subscribe, …) manage any Dante device, this one or others.
            """,
        version: "inferno \(InfernoVersion.string) (\(SystemLibraries.summary))",
        subcommands: [Run.self, Record.self, Demo.self, ListDevices.self, Channels.self, Subscribe.self,
                      Unsubscribe.self, Rename.self, RenameChannel.self, Config.self, ClockCommand.self, AudioSocketCommand.self, Version.self,
                      Wire.self, AoDNSCommand.self]
    )
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and the linked C libraries.")
    func run() {
        print("inferno \(InfernoVersion.string)")
        print(SystemLibraries.summary)
    }
}

/// Calls the async `run()` (called on the existential, the synchronous overload would be picked).
func runAsync<C: AsyncParsableCommand>(_ command: C) async throws {
    var command = command
    try await command.run()
}

// Like `Inferno.main()`, except that usage errors exit 2 (ArgumentParser's default is 64).
do {
    var command = try await Inferno.asyncParseAsRoot()
    if let asyncCommand = command as? AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch {
    if Inferno.exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((Inferno.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    Inferno.exit(withError: error)
}
