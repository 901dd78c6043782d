import Testing
@testable import InfernoDevice

@Suite struct SystemLibrariesTests {
    @Test func linkedLibrariesReportVersions() {
        #expect(SystemLibraries.alsa.hasPrefix("1."))
        #expect(SystemLibraries.opus.hasPrefix("libopus"))
        #expect(SystemLibraries.zlib.hasPrefix("1."))
        #expect(SystemLibraries.pipewire.hasPrefix("0.3") || SystemLibraries.pipewire.hasPrefix("1."))
    }
}
