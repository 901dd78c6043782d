import Glibc
import Testing
@testable import InfernoDevice

@Suite struct FileFeederTests {
    func feeder(_ bytes: [UInt8]) throws {
        let path = "/tmp/inferno-feeder-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).wav"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        _ = try FileFeeder(spec: .wav(path), txChannels: 2, clock: SystemMediaClock(), sampleRate: 48000)
    }

    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    @Test func malformedHeadersAreClearErrorsNotCrashes() {
        let riff = Array("RIFF".utf8) + Self.le32(0) + Array("WAVE".utf8)
        let cases: [[UInt8]] = [
            [],
            Array("RIFX".utf8) + Self.le32(0) + Array("WAVE".utf8),
            riff + Array("fmt ".utf8) + Self.le32(0xFFFF_FFFF),                 // absurd fmt size
            riff + Array("fmt ".utf8) + Self.le32(4) + [1, 0, 2, 0],             // fmt too short
            riff + Array("junk".utf8) + Self.le32(0x7FFF_FFFF),                  // chunk past the end
            riff + Array("data".utf8) + Self.le32(8),                            // data before fmt
            riff + Array("fmt ".utf8) + Self.le32(16) + [3, 0, 2, 0] + Self.le32(48000) + Self.le32(0) + [0, 0, 32, 0], // float
            riff + Array("fmt ".utf8) + Self.le32(16) + [1, 0, 0, 0] + Self.le32(48000) + Self.le32(0) + [0, 0, 16, 0], // 0 channels
            riff + Array("fmt ".utf8) + Self.le32(16) + [1, 0, 2, 0] + Self.le32(44100) + Self.le32(0) + [0, 0, 16, 0]
                + Array("data".utf8) + Self.le32(0),                             // wrong rate
        ]
        for (i, c) in cases.enumerated() {
            #expect(throws: FileFeeder.FeedError.self, "case \(i)") { try feeder(c) }
        }
    }

    @Test func aValidHeaderIsAccepted() throws {
        let fmt = [1, 0, 2, 0] + Self.le32(48000) + Self.le32(48000 * 6) + [6, 0, 24, 0]
        try feeder(Array("RIFF".utf8) + Self.le32(0) + Array("WAVE".utf8) + Array("fmt ".utf8) + Self.le32(16) + fmt
                   + Array("data".utf8) + Self.le32(0))
    }
}
