import Foundation
import SautiAudio
import SautiTestSupport
import Testing

/// A sine of `frequency` Hz at `rate` Hz, `count` samples, peak `amplitude`.
private func sine(_ frequency: Double, rate: Int, count: Int, amplitude: Double = 12_000, phase: Double = 0) -> [Int16]
{
    (0..<count).map {
        Int16((amplitude * sin(2 * Double.pi * frequency * Double($0) / Double(rate) + phase)).rounded())
    }
}

/// Normalized cross-correlation of two equal-length signals at lag 0.
private func correlation(_ a: ArraySlice<Int16>, _ b: ArraySlice<Int16>) -> Double {
    var xy = 0.0
    var xx = 0.0
    var yy = 0.0
    for (x, y) in zip(a, b) {
        xy += Double(x) * Double(y)
        xx += Double(x) * Double(x)
        yy += Double(y) * Double(y)
    }
    return xy / (xx * yy).squareRoot()
}

/// All of `input` through `resampler` in one call, then flushed.
private func oneShot(_ resampler: Resampler, _ input: [Int16]) -> [Int16] {
    let capacity = input.count * resampler.outputRate / resampler.inputRate + resampler.outputLatencySamples + 16
    var output = [Int16](repeating: 0, count: capacity)
    var produced = 0
    input.withUnsafeBufferPointer { i in
        output.withUnsafeMutableBufferPointer { o in
            let (consumed, n) = resampler.process(input: i, output: o)
            #expect(consumed == input.count, "one call takes all the input when the output has room")
            produced = n
            while true {
                let more = resampler.flush(into: UnsafeMutableBufferPointer(rebasing: o[produced...]))
                if more == 0 { break }
                produced += more
            }
        }
    }
    return Array(output[..<produced])
}

/// `input` through `resampler` in chunks of the sizes `chunks` cycles through, into output
/// buffers of the sizes `outputs` cycles through (so some calls cannot take all their input),
/// then flushed into small buffers too.
private func chunked(_ resampler: Resampler, _ input: [Int16], chunks: [Int], outputs: [Int]) -> [Int16] {
    var result: [Int16] = []
    var scratch = [Int16](repeating: 0, count: outputs.max()!)
    var position = 0
    var step = 0
    input.withUnsafeBufferPointer { all in
        scratch.withUnsafeMutableBufferPointer { out in
            while position < all.count {
                let end = min(all.count, position + chunks[step % chunks.count])
                let room = outputs[step % outputs.count]
                step += 1
                var start = position
                while start < end {
                    let (consumed, produced) = resampler.process(
                        input: UnsafeBufferPointer(rebasing: all[start..<end]),
                        output: UnsafeMutableBufferPointer(rebasing: out[..<room]))
                    result.append(contentsOf: out[..<produced])
                    start += consumed
                    if consumed == 0 && produced == 0 { Issue.record("no progress"); return }
                    if result.count > 2 * all.count * resampler.outputRate / resampler.inputRate + 1000 {
                        Issue.record("far more output than input × out/in: \(result.count) samples")
                        return
                    }
                }
                position = end
            }
            while true {
                let n = resampler.flush(into: UnsafeMutableBufferPointer(rebasing: out[..<7]))
                if n == 0 { break }
                result.append(contentsOf: out[..<n])
            }
        }
    }
    return result
}

@Suite("Resampler (libspeexdsp)")
struct ResamplerTests {
    /// Rate pairs of the media plane (8, 16, 48 kHz both ways) and espeak-ng's 22 050 Hz to 8 kHz.
    static let pairs: [(Int, Int)] = [
        (8000, 16000), (16000, 8000), (16000, 48000), (48000, 16000), (8000, 48000), (48000, 8000), (22050, 8000),
        (8000, 8000),
    ]

    @Test(
        "a sine keeps its frequency and timing, and the output is input × out/in samples",
        arguments: pairs.flatMap { p in [700.0, 1000.0, 3000.0].map { (p.0, p.1, $0) } })
    func sinePreserved(inputRate: Int, outputRate: Int, frequency: Double) throws {
        let resampler = try Resampler(inputRate: inputRate, outputRate: outputRate)
        let input = sine(frequency, rate: inputRate, count: inputRate)  // 1 s
        let output = oneShot(resampler, input)
        #expect(output.count == inputRate * outputRate / inputRate, "length: \(output.count)")
        #expect(resampler.inputSamples == input.count && resampler.outputSamples == output.count)
        // The middle half: the tone, and nothing else.
        let middle = output[(outputRate / 4)..<(outputRate * 3 / 4)]
        let share = toneShare(middle, frequency: frequency, rate: Double(outputRate))
        #expect(share > 0.995, "\(inputRate)→\(outputRate) Hz: \(frequency) Hz holds \(share) of the power")
        // Aligned with the ideal sine at the output rate: no delay (the filter's delay is
        // skipped), the same amplitude within the passband ripple.
        let ideal = sine(frequency, rate: outputRate, count: outputRate)
        let ncc = correlation(middle, ideal[middle.indices])
        #expect(ncc > 0.999, "\(inputRate)→\(outputRate): correlation with the ideal sine \(ncc)")
        let gain = rms(middle) / rms(ideal[middle.indices])
        #expect(abs(gain - 1) < 0.02, "gain \(gain)")
        // The end, after the flush, is still the tone: the tail came out.
        let tail = output.suffix(outputRate / 50)  // the last 20 ms
        let tailNCC = correlation(tail, ideal.suffix(outputRate / 50))
        #expect(tailNCC > 0.99, "the flushed tail follows the sine: \(tailNCC)")
    }

    @Test(
        "fed in odd-sized chunks into odd-sized output buffers, the output equals the one-shot output",
        arguments: pairs)
    func chunksMatchOneShot(inputRate: Int, outputRate: Int) throws {
        // Speech-like test input: a few tones and a seeded noise, 0.7 s.
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0..<1_000_000, using: &rng)
        var state = seed
        let n = inputRate * 7 / 10
        let input: [Int16] = (0..<n).map { i in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let noise = Double(Int64(bitPattern: state) >> 40) / Double(1 << 23)
            let t = Double(i) / Double(inputRate)
            let v = 6000 * sin(2 * .pi * 440 * t) + 4000 * sin(2 * .pi * 1330 * t) + 2000 * noise
            return Int16(v.rounded())
        }
        let whole = oneShot(try Resampler(inputRate: inputRate, outputRate: outputRate), input)
        let parts = chunked(
            try Resampler(inputRate: inputRate, outputRate: outputRate), input,
            chunks: [1, 7, 160, 13, 331, 997, 2, 89],
            outputs: [3, 1021, 17, 500, 64])
        #expect(parts.count == whole.count, "seed \(seed)")
        let differing = zip(parts, whole).filter { $0 != $1 }.count
        #expect(differing == 0, "seed \(seed): \(differing) samples differ from the one-shot output")
        // And no click: the largest step between neighbours is no larger than the one-shot's.
        func largestStep(_ s: [Int16]) -> Int { zip(s, s.dropFirst()).map { abs(Int($0) - Int($1)) }.max() ?? 0 }
        #expect(largestStep(parts) <= largestStep(whole))
    }

    @Test("a new stream after reset() comes out as from a fresh resampler")
    func resetStartsOver() throws {
        let input = sine(1000, rate: 16000, count: 3200)
        let r = try Resampler(inputRate: 16000, outputRate: 8000, quality: 3)
        let first = oneShot(r, input)
        r.reset()
        #expect(r.inputSamples == 0 && r.outputSamples == 0)
        let second = oneShot(r, input)
        #expect(first == second)
        #expect(first == oneShot(try Resampler(inputRate: 16000, outputRate: 8000, quality: 3), input))
    }

    @Test("quality 0 … 10 all work; out-of-range rates and qualities are refused")
    func arguments() throws {
        for q in 0...10 {
            let r = try Resampler(inputRate: 48000, outputRate: 8000, quality: q)
            #expect(r.quality == q)
            let out = oneShot(r, sine(1000, rate: 48000, count: 4800))
            #expect(out.count == 800)
        }
        #expect(throws: ResamplerError.invalidRate(0)) { try Resampler(inputRate: 0, outputRate: 8000) }
        #expect(throws: ResamplerError.invalidRate(-8000)) { try Resampler(inputRate: 8000, outputRate: -8000) }
        #expect(throws: ResamplerError.invalidQuality(11)) {
            try Resampler(inputRate: 8000, outputRate: 16000, quality: 11)
        }
        #expect(throws: ResamplerError.invalidQuality(-1)) {
            try Resampler(inputRate: 8000, outputRate: 16000, quality: -1)
        }
        #expect(Resampler.defaultQuality == 5)
    }

    @Test("empty input and empty output do nothing; flush with no input gives nothing")
    func emptyBuffers() throws {
        let r = try Resampler(inputRate: 8000, outputRate: 48000)
        var out = [Int16](repeating: 0, count: 10)
        let none: [Int16] = []
        none.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                #expect(r.process(input: i, output: o) == (0, 0))
                #expect(r.flush(into: o) == 0)
            }
        }
        [Int16(1), 2, 3].withUnsafeBufferPointer { i in
            #expect(r.process(input: i, output: UnsafeMutableBufferPointer(start: nil, count: 0)) == (0, 0))
        }
    }
}

private func rms(_ s: ArraySlice<Int16>) -> Double {
    (s.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(s.count)).squareRoot()
}
