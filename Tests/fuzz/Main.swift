// libFuzzer entry points of `inferno-fuzz`, the one fuzz executable that holds every target (README.md, "Fuzzing and sanitizers").
// Built by `make fuzz-build` with `swiftc -sanitize=fuzzer`; the target is chosen with FUZZ_TARGET=<name>.
// FUZZ_TARGET=list prints the targets' names (the scripts take the list from here).
// FUZZ_WRITE_SEEDS=<dir> writes the target's generated valid messages into <dir> and exits (`make fuzz-seeds`).
import Foundation

/// A fuzz target: the real public decoder entry point plus the invariants that are cheap to check.
struct FuzzTarget {
    let name: String
    let run: ([UInt8]) -> Void
    /// Generated valid messages (the committed seed corpus also holds captured packets).
    let seeds: () -> [[UInt8]]
}

let targets: [FuzzTarget] = [
    arcTarget, cmcTarget, conmonTarget, flowTarget, audioTarget, dnsTarget, dnsAuthorityTarget, usrvclockTarget, ptpTarget,
    base91Target, aodnsSequenceTarget, aodnsPackTarget, aodnsRecordsTarget, audiosocketTarget, stateTarget,
]

nonisolated(unsafe) var selected: FuzzTarget?

/// A decoded value (if the decoder accepted the input) must survive `reencode` (encode, then decode) unchanged.
func requireRoundTrip<T: Equatable>(_ decoded: T?, _ what: String, _ reencode: (T) -> T?) {
    guard let v = decoded else { return }
    require(reencode(v) == v, "\(what) re-encode")
}

/// An invariant broke: say which and abort, so libFuzzer saves the input as a crash.
func require(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !condition() {
        FileHandle.standardError.write(Data("invariant failed [\(selected?.name ?? "?")]: \(what())\n".utf8))
        abort()
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let env = ProcessInfo.processInfo.environment
    let names = targets.map(\.name).joined(separator: " ")
    if env["FUZZ_TARGET"] == "list" { print(names); exit(0) }
    guard let name = env["FUZZ_TARGET"], let t = targets.first(where: { $0.name == name }) else {
        FileHandle.standardError.write(Data("FUZZ_TARGET must be one of: \(names)\n".utf8))
        exit(2)
    }
    selected = t
    atexit { rmdir(stateDirectory) }   // the state target's scratch directory (emptied after every input)
    if let dir = env["FUZZ_WRITE_SEEDS"] {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (i, s) in t.seeds().enumerated() {
            _ = FileManager.default.createFile(atPath: dir + "/gen-\(String(i + 1000).dropFirst())", contents: Data(s))
        }
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    selected?.run(bytes)
    return 0
}

/// Reads little pieces of the input as parameters (choice of format, split points, …).
struct Knobs {
    var bytes: [UInt8]
    var at = 0
    init(_ b: [UInt8]) { bytes = b }
    mutating func u8() -> UInt8 { defer { at += 1 }; return at < bytes.count ? bytes[at] : 0 }
    mutating func u16() -> UInt16 { UInt16(u8()) << 8 | UInt16(u8()) }
    mutating func u64() -> UInt64 { (0..<8).reduce(0) { v, _ in v << 8 | UInt64(u8()) } }
    var rest: [UInt8] { at < bytes.count ? Array(bytes[at...]) : [] }
}
