import Glibc
import Testing
@testable import InfernoMedia

/// Resamples `seconds` of a sine at `freq` in chunks of 480 and returns the output (after the start-up) with the
/// ideal output sine's amplitude-and-phase fit residual, in dB below the signal, and the RMS gain.
private func run(from inRate: Int, to outRate: Int, freq: Double, chunk: Int = 480) -> (snr: Double, gain: Double) {
    let r = Resampler(inputRate: inRate, outputRate: outRate, maxInput: 4096)
    let n = inRate * 2
    var input = [Float](repeating: 0, count: n)
    for i in 0..<n { input[i] = Float(0.5 * sin(2 * Double.pi * freq * Double(i) / Double(inRate))) }
    var out: [Float] = []
    var scratch = [Float](repeating: 0, count: r.maxOutput(forInput: chunk))
    var i = 0
    while i < n {
        let c = min(chunk, n - i)
        let got = input.withUnsafeBufferPointer { ip in
            scratch.withUnsafeMutableBufferPointer { r.process(ip.baseAddress! + i, count: c, into: $0.baseAddress!, capacity: $0.count) }
        }
        #expect(got <= r.maxOutput(forInput: c))
        out += scratch[0..<got]
        i += c
    }
    // Output j is the input at time j/outRate: compare with the ideal sine over the middle part.
    var sig = 0.0, err = 0.0, outPow = 0.0
    for j in (outRate / 4)..<(out.count - outRate / 4) {
        let ideal = 0.5 * sin(2 * Double.pi * freq * Double(j) / Double(outRate))
        sig += ideal * ideal
        err += (Double(out[j]) - ideal) * (Double(out[j]) - ideal)
        outPow += Double(out[j]) * Double(out[j])
    }
    #expect(abs(out.count - n * outRate / inRate) <= (r.filter.taps / 2 + 1) * outRate / inRate + 2)
    return (10 * log10(sig / max(err, 1e-20)), (outPow / sig).squareRoot())
}

@Suite("resampler, as the AoDNS bridges use it (chunked push, output j = input time j)")
struct ResamplerChunkedUseTests {
    @Test func passBandIsClean() {
        for (a, b) in [(48000, 16000), (16000, 48000), (48000, 12000), (8000, 48000), (44100, 16000), (16000, 44100),
                       (96000, 16000), (48000, 48000)] {
            let (snr, gain) = run(from: a, to: b, freq: 1000)
            #expect(snr > 60, "\(a)→\(b): \(snr) dB")
            #expect(abs(gain - 1) < 0.01, "\(a)→\(b): gain \(gain)")
        }
    }

    @Test func aliasesAreRejected() {
        // 12 kHz at 48 kHz has no place at 16 kHz (Nyquist 8 kHz): what comes out is the stop band.
        let r = Resampler(inputRate: 48000, outputRate: 16000)
        var input = [Float](repeating: 0, count: 48000)
        for i in 0..<input.count { input[i] = Float(sin(2 * Double.pi * 12000 * Double(i) / 48000)) }
        var out = [Float](repeating: 0, count: 20000)
        var got = 0
        for k in 0..<(48000 / 4800) {
            got += input.withUnsafeBufferPointer { ip in
                out.withUnsafeMutableBufferPointer { r.process(ip.baseAddress! + k * 4800, count: 4800, into: $0.baseAddress! + got, capacity: $0.count - got) }
            }
        }
        let peak = out[2000..<got].map { abs($0) }.max() ?? 1
        #expect(20 * log10(Double(peak)) < -60)
    }

    @Test func chunkingDoesNotMatter() {
        let a = run(from: 48000, to: 16000, freq: 440, chunk: 1)
        let b = run(from: 48000, to: 16000, freq: 440, chunk: 4096)
        #expect(a.snr > 60 && b.snr > 60)
        #expect(abs(a.snr - b.snr) < 0.5)
    }
}
