import CZlib

/// zlib format (RFC 1950: header, DEFLATE, Adler-32) through the system zlib, as Python's `zlib` writes and checks it.
public enum Zlib {
    public enum Failure: Error, Equatable, Sendable {
        /// zlib said the data is not a valid zlib stream (bad header, bad DEFLATE, bad Adler-32, truncated).
        case corrupt(code: Int32)
        /// The output would be larger than the caller allowed.
        case tooLarge(limit: Int)
    }

    /// Compresses at `level` (AoDNS uses 9: the header is then always `78 DA`).
    public static func compress(_ data: [UInt8], level: Int32 = 9) -> [UInt8] {
        var bound = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        let rc = out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { i in
                compress2(o.baseAddress, &bound, i.baseAddress, uLong(i.count), level)
            }
        }
        // compressBound makes Z_BUF_ERROR impossible; Z_MEM_ERROR would be the only failure left.
        precondition(rc == Z_OK, "zlib compress2 failed (\(rc))")
        out.removeLast(out.count - Int(bound))
        return out
    }

    /// Inflates one zlib stream, refusing outputs longer than `limit` bytes (no decompression bombs).
    public static func decompress(_ data: [UInt8], limit: Int = 65536) throws(Failure) -> [UInt8] {
        guard !data.isEmpty else { throw .corrupt(code: Z_DATA_ERROR) }
        // One spare byte tells "exactly limit" from "more than limit".
        var out = [UInt8](repeating: 0, count: limit + 1)
        var outLen = uLongf(out.count)
        let rc = out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { i in
                uncompress(o.baseAddress, &outLen, i.baseAddress, uLong(i.count))
            }
        }
        if rc == Z_BUF_ERROR && outLen == uLongf(limit + 1) { throw .tooLarge(limit: limit) }
        guard rc == Z_OK else { throw .corrupt(code: rc) }
        guard Int(outLen) <= limit else { throw .tooLarge(limit: limit) }
        out.removeLast(out.count - Int(outLen))
        return out
    }
}
