import Foundation
import Testing
@testable import InfernoDevice

@Suite struct StateStoreTests {
    func tempDir() -> String {
        let d = NSTemporaryDirectory() + "inferno-state-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
    let id = DeviceID(hex: "001dc1fffe5279b6")!

    @Test func savesAndLoads() throws {
        let store = StateStore(directory: tempDir() + "/nested", deviceID: id)
        #expect(store.load().state == DeviceState())
        var s = DeviceState()
        s.name = "studio"
        s.txChannelNames = [1: "Kick", 40: "Room"]
        s.subscriptions = [3: .init(txChannel: "01", txDevice: "lx-dante")]
        s.latencyNs = 1_000_000
        try store.save(s)
        let loaded = store.load()
        #expect(loaded.warning == nil)
        #expect(loaded.state == s)
        #expect(store.path.hasSuffix("/001dc1fffe5279b6.json"))
        // No temporary files are left behind.
        let files = try FileManager.default.contentsOfDirectory(atPath: store.directory)
        #expect(files == ["001dc1fffe5279b6.json"])
    }

    @Test func corruptFileIsMovedAside() throws {
        let dir = tempDir()
        let store = StateStore(directory: dir, deviceID: id)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: store.path))
        let r = store.load()
        #expect(r.state == DeviceState())
        #expect(r.warning?.contains("moved to") == true)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(files.count == 1 && files[0].hasPrefix("001dc1fffe5279b6.json.corrupt-"))
        // The next save works and the aside copy is kept.
        try store.save(DeviceState())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 2)
    }

    /// A save cut short by kill -9 leaves a temporary file and the old state: the old state loads and the
    /// temporary of the dead process is removed (one of a live process, here our own, is left alone).
    @Test func interruptedSaveLeavesOldStateAndStaleTemporaryIsRemoved() throws {
        let dir = tempDir()
        let store = StateStore(directory: dir, deviceID: id)
        var s = DeviceState()
        s.name = "old"
        try store.save(s)
        // A pid far above pid_max (4,194,304 at most on Linux) cannot be alive.
        try Data("{\"name\": \"ne".utf8).write(to: URL(fileURLWithPath: store.path + ".tmp-99999999"))
        try Data("{".utf8).write(to: URL(fileURLWithPath: store.path + ".tmp-\(getpid())"))
        let r = store.load()
        #expect(r.warning == nil && r.state.name == "old")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == ["001dc1fffe5279b6.json", "001dc1fffe5279b6.json.tmp-\(getpid())"])
    }

    @Test func defaultDirectoryFollowsXDG() {
        #expect(StateStore.defaultDirectory(environment: ["XDG_STATE_HOME": "/x"]) == "/x/inferno")
        #expect(StateStore.defaultDirectory(environment: ["HOME": "/home/u"]) == "/home/u/.local/state/inferno")
    }
}
