// swift-tools-version:6.0
// Inferno for Swift: a user-space, Dante-compatible audio-over-IP device for Linux.
import PackageDescription

let package = Package(
    name: "inferno-swift",
    products: [
        .executable(name: "inferno", targets: ["InfernoCLI"]),
        .executable(name: "inferno-wired", targets: ["InfernoWired"]),
        .library(name: "InfernoProtocol", targets: ["InfernoProtocol"]),
        .library(name: "InfernoMedia", targets: ["InfernoMedia"]),
        // The ALSA PCM plugin: one self-contained .so (static Swift runtime), loaded by alsa-lib.
        .library(name: "asound_module_pcm_inferno", type: .dynamic, targets: ["CInfernoALSA"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // Debian's C libraries, found through pkg-config.
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CPipeWire", pkgConfig: "libpipewire-0.3",
                       providers: [.apt(["libpipewire-0.3-dev", "libspa-0.2-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Avahi's dns_sd compatibility layer: the `--mdns avahi` backend (the ALSA plugin never links it).
        .systemLibrary(name: "CDNSSD", pkgConfig: "avahi-compat-libdns_sd",
                       providers: [.apt(["libavahi-compat-libdnssd-dev"])]),

        // Linux calls Glibc's Swift module hides (sendmmsg/recvmmsg, thread names).
        .target(name: "CInfernoSys"),
        // The resampler's inner loops (fast in debug builds too).
        .target(name: "CInfernoDSP"),

        // Sans-I/O wire layer: no sockets, no clocks, no Foundation.
        .target(name: "InfernoProtocol"),
        // Ring buffers, sample conversion, clock math. No Foundation either.
        .target(name: "InfernoMedia", dependencies: ["InfernoProtocol", "CInfernoDSP"]),
        // Sockets, threads, servers, engines, clock sources, state, config.
        .target(name: "InfernoDevice",
                dependencies: ["InfernoProtocol", "InfernoMedia", "CInfernoSys", "CALSA", "CPipeWire", "COpus", "CZlib", "CDNSSD",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log")]),
        // Bridges depend on the device, never the other way round.
        .target(name: "InfernoAoDNS", dependencies: ["InfernoDevice", "InfernoProtocol", "COpus", "CZlib"]),
        .target(name: "InfernoAudioSocket", dependencies: ["InfernoDevice", "InfernoProtocol"]),
        // The device options every device-running face shares (flags + INFERNO_* variables), including the
        // bridges that add channels to the device (AudioSocket calls).
        .target(name: "InfernoCommandLine", dependencies: [
            "InfernoDevice", "InfernoAudioSocket",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // PipeWire plumbing in C (filters, the media-clock driver node) for inferno-wired.
        .target(name: "CInfernoPipeWire", dependencies: ["CPipeWire"]),
        // Faces.
        // The ALSA plugin's Swift side: positions and clocks over the device's shared port. No Foundation, no
        // swift-nio: it runs inside arbitrary applications (the device itself runs as a child process).
        .target(name: "InfernoALSA", dependencies: ["InfernoMedia", "CInfernoSys"]),
        // Its ioplug glue. PIC must be defined (else alsa-lib's static-build symbol is emitted), the Swift runtime
        // is linked in statically (SwiftPM ignores --static-swift-stdlib for dynamic products), and the .so is
        // never unloaded (alsa-lib dlcloses plugins; Swift runtime state must not vanish under live threads).
        .target(name: "CInfernoALSA", dependencies: ["InfernoALSA"], path: "alsa-plugin",
                exclude: ["README.md", "asoundrc.example"], sources: ["pcm_inferno.c"],
                cSettings: [.define("PIC")],
                linkerSettings: [.linkedLibrary("asound"),
                                 .unsafeFlags(["-static-stdlib", "-Xlinker", "-z", "-Xlinker", "nodelete",
                                               "-Xlinker", "--no-undefined"])]),
        .executableTarget(name: "InfernoCLI", dependencies: [
            "InfernoDevice", "InfernoProtocol", "InfernoAoDNS", "InfernoAudioSocket", "InfernoCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "InfernoWired", dependencies: [
            "InfernoDevice", "InfernoMedia", "InfernoCommandLine", "CInfernoPipeWire",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "InfernoProtocolTests", dependencies: ["InfernoProtocol"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "InfernoMediaTests", dependencies: ["InfernoMedia"]),
        .testTarget(name: "InfernoDeviceTests", dependencies: ["InfernoDevice"]),
        .testTarget(name: "InfernoAudioSocketTests", dependencies: ["InfernoAudioSocket", "InfernoProtocol"]),
        .testTarget(name: "InfernoAoDNSTests", dependencies: ["InfernoAoDNS", "InfernoProtocol"]),
    ]
)
