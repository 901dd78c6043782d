import Glibc
import Testing
@testable import InfernoMedia

@Suite("Shared audio port")
struct SharedAudioPortTests {
    private func name(_ tag: String) -> String { "test-\(getpid())-\(tag)" }

    @Test func createAttachAndShareRings() throws {
        let n = name("rings")
        let device = try SharedAudioPort.create(name: n, sampleRate: 48000, txChannels: 2, rxChannels: 3, ringFrames: 4096)
        defer { device.retire() }
        // Not open to applications before the first clock publication.
        #expect(!device.isAlive())
        device.publishClock(monotonic: 1_000, media: 5_000_000, generation: 7)
        device.markReady()
        let app = try SharedAudioPort.attach(name: n)
        #expect(app.isAlive() && app.sampleRate == 48000 && app.txChannels == 2 && app.rxChannels == 3 && app.ringFrames == 4096)
        #expect(app.daemonPID == getpid())
        // The application writes TX frames; the device reads the same memory.
        let frames: [Int32] = [1, -1, 2, -2, 3, -3]
        frames.withUnsafeBufferPointer { app.txRing.write(at: 1000, count: 3, from: $0.baseAddress!) }
        var out = [Int32](repeating: 9, count: 3)
        let present = out.withUnsafeMutableBufferPointer { device.txRing.readChannel(1, at: 1000, count: 3, into: $0.baseAddress!) }
        #expect(present == 3 && out == [-1, -2, -3])
        // The device writes an RX channel; the application reads it; a dropped range reads as silence.
        let rx: [Int32] = [10, 20, 30, 40]
        rx.withUnsafeBufferPointer { device.rxRings[2].write(at: 77, count: 4, from: $0.baseAddress!) }
        var got = [Int32](repeating: 0, count: 4)
        _ = got.withUnsafeMutableBufferPointer { app.rxRings[2].read(at: 77, count: 4, into: $0.baseAddress!) }
        #expect(got == rx)
        app.rxRings[2].invalidate(at: 78, count: 2)
        _ = got.withUnsafeMutableBufferPointer { app.rxRings[2].read(at: 77, count: 4, into: $0.baseAddress!) }
        #expect(got == [10, 0, 0, 40])
        device.setRxLatency(channel: 1, samples: 960)
        #expect(app.rxLatency(channel: 1) == 960 && app.rxLatency(channel: 5) == 0)
    }

    @Test func clockIsExtrapolatedAndAbsenceIsNil() throws {
        let n = name("clock")
        let device = try SharedAudioPort.create(name: n, sampleRate: 48000, txChannels: 1, rxChannels: 1, ringFrames: 1024)
        defer { device.retire() }
        let app = try SharedAudioPort.attach(name: n)
        #expect(app.clock(monotonicNow: 0) == nil)                // never published
        device.publishClock(monotonic: 1_000_000, media: 9_000_000_000, generation: 3)
        #expect(app.clock(monotonicNow: 1_500_000) == SharedAudioPort.ClockSample(mediaNs: 9_000_500_000, generation: 3))
        device.publishClock(monotonic: 2_000_000, media: nil, generation: 0)
        #expect(app.clock(monotonicNow: 2_000_001) == nil)        // the device lost its clock
    }

    @Test func oneWriterForPlayback() throws {
        let n = name("owner")
        let device = try SharedAudioPort.create(name: n, sampleRate: 48000, txChannels: 2, rxChannels: 0, ringFrames: 1024)
        defer { device.retire() }
        #expect(device.claimPlayback(pid: getpid()))
        #expect(device.claimPlayback(pid: getpid()))                 // idempotent for the owner
        #expect(!device.claimPlayback(pid: 1))                       // a live other process is refused
        device.releasePlayback(pid: getpid())
        #expect(device.claimPlayback(pid: 1))
        device.releasePlayback(pid: 1)
        // A dead owner is replaced: pid 2^22+… is far above any pid on a test machine.
        _ = device.word(.playbackOwner).pointee.exchange(4_194_000, ordering: .relaxed)
        #expect(device.claimPlayback(pid: getpid()))
    }

    @Test func refusesWhatIsNotAPort() throws {
        #expect(throws: SharedAudioPort.PortError.badName("../x")) { try SharedAudioPort.path(forName: "../x") }
        #expect(throws: SharedAudioPort.PortError.notServed("/dev/shm/inferno-\(name("none"))")) {
            try SharedAudioPort.attach(name: name("none"))
        }
        // A file of the wrong size or content is not mapped as a port.
        let path = try SharedAudioPort.path(forName: name("junk"))
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        var junk = [UInt8](repeating: 0xAB, count: 9000)
        _ = write(fd, &junk, junk.count)
        close(fd)
        defer { unlink(path) }
        #expect(throws: SharedAudioPort.PortError.notAPort(path)) { try SharedAudioPort.attach(name: name("junk")) }
        // A live port cannot be taken over; a retired one can.
        let n = name("live")
        let first = try SharedAudioPort.create(name: n, sampleRate: 48000, txChannels: 1, rxChannels: 1, ringFrames: 1024)
        first.markReady()
        #expect(throws: SharedAudioPort.PortError.inUse(first.path, pid: Int64(getpid()))) {
            try SharedAudioPort.create(name: n, sampleRate: 48000, txChannels: 1, rxChannels: 1, ringFrames: 1024)
        }
        first.retire()
        let second = try SharedAudioPort.create(name: n, sampleRate: 48000, txChannels: 1, rxChannels: 1, ringFrames: 1024)
        second.retire()
    }
}
