// Sample-rate conversion of one 16-bit mono stream through libspeexdsp's resampler.

import CSpeexDSP

/// Why a resampler could not be made.
public enum ResamplerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A rate outside 1 Hz ... `Int32.max` Hz.
    case invalidRate(Int)
    /// A quality outside 0 ... 10.
    case invalidQuality(Int)
    /// libspeexdsp refused (`speex_resampler_init` failed): its message
    /// (`speex_resampler_strerror`).
    case speex(String)

    /// What went wrong, for people.
    public var description: String {
        switch self {
        case .invalidRate(let r): return "sample rate \(r) Hz: need 1 ... \(Int32.max) Hz"
        case .invalidQuality(let q): return "resampler quality \(q): need 0 ... 10"
        case .speex(let m): return "libspeexdsp cannot make the resampler: \(m)"
        }
    }
}

/// Converts one stream of 16-bit mono samples from `inputRate` to `outputRate`
/// (libspeexdsp's `SpeexResamplerState`, one per stream).
///
/// The state carries the filter's history across calls, so a stream fed in chunks of any
/// size comes out the same as fed in one piece: no clicks at chunk edges. The filter's
/// leading delay is skipped (`speex_resampler_skip_zeros`): output sample `k` is the input
/// at time `k / outputRate`. At the end of the stream, `flush(into:)` lets the last
/// `outputLatencySamples` out, so the whole output is `inputSamples × outputRate /
/// inputRate` samples (rounded down).
///
/// Allocates only in `init` (the state); `process` and `flush` allocate nothing. Not
/// `Sendable`: one owner (a player's I/O job, a synthesizer) uses it at a time.
public final class Resampler {
    /// The input's rate, in Hz.
    public let inputRate: Int
    /// The output's rate, in Hz.
    public let outputRate: Int
    /// The filter quality, 0 (fastest) ... 10 (best); 5 (`SPEEX_RESAMPLER_QUALITY_DESKTOP`)
    /// by default: transparent for voice, about 1 ms of CPU per second of 48 → 8 kHz audio.
    public let quality: Int
    /// The libspeexdsp state (`SpeexResamplerState *`).
    private let state: OpaquePointer
    /// Input samples taken so far (by `process`; the zeros `flush` feeds are not counted).
    public private(set) var inputSamples = 0
    /// Output samples produced so far (by `process` and `flush`).
    public private(set) var outputSamples = 0

    /// The quality used when none is given: `SPEEX_RESAMPLER_QUALITY_DESKTOP` (5).
    public static let defaultQuality = Int(SPEEX_RESAMPLER_QUALITY_DESKTOP)

    /// A resampler from `inputRate` to `outputRate` (Hz) at `quality` (0 ... 10).
    /// - Throws: `ResamplerError` for a rate or quality out of range, or when libspeexdsp
    ///   cannot make the state.
    public init(inputRate: Int, outputRate: Int, quality: Int = Resampler.defaultQuality) throws(ResamplerError) {
        for rate in [inputRate, outputRate] where !(1...Int(Int32.max) ~= rate) { throw .invalidRate(rate) }
        guard Int(SPEEX_RESAMPLER_QUALITY_MIN)...Int(SPEEX_RESAMPLER_QUALITY_MAX) ~= quality else {
            throw .invalidQuality(quality)
        }
        var error: Int32 = 0
        guard let s = speex_resampler_init(1, spx_uint32_t(inputRate), spx_uint32_t(outputRate), Int32(quality), &error)
        else {
            throw .speex(String(cString: speex_resampler_strerror(error)))
        }
        state = s
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.quality = quality
        speex_resampler_skip_zeros(s)
    }

    deinit { speex_resampler_destroy(state) }

    /// The filter's delay in input samples (`speex_resampler_get_input_latency`).
    public var inputLatencySamples: Int { Int(speex_resampler_get_input_latency(state)) }
    /// The filter's delay in output samples (`speex_resampler_get_output_latency`): what
    /// `flush(into:)` still owes once all input is in.
    public var outputLatencySamples: Int { Int(speex_resampler_get_output_latency(state)) }

    /// Resamples as much of `input` as `output` has room for.
    ///
    /// Returns how many input samples were consumed and how many output samples were
    /// written. With `output` at least `input.count × outputRate / inputRate + 2` long,
    /// all of `input` is consumed; otherwise call again with the rest.
    public func process(
        input: UnsafeBufferPointer<Int16>, output: UnsafeMutableBufferPointer<Int16>
    ) -> (consumed: Int, produced: Int) {
        guard !input.isEmpty, !output.isEmpty, let inBase = input.baseAddress, let outBase = output.baseAddress else {
            return (0, 0)
        }
        // libspeexdsp counts in UInt32: feed at most that much per call.
        var inLength = spx_uint32_t(min(input.count, Int(UInt32.max)))
        var outLength = spx_uint32_t(min(output.count, Int(UInt32.max)))
        speex_resampler_process_int(state, 0, inBase, &inLength, outBase, &outLength)
        inputSamples += Int(inLength)
        outputSamples += Int(outLength)
        return (Int(inLength), Int(outLength))
    }

    /// At the end of the stream: writes what the filter still holds (fed with zeros) into
    /// `output`, up to `inputSamples × outputRate / inputRate` samples in all. Returns how
    /// many it wrote; 0 once everything is out. Call until it returns 0 (or once with an
    /// `output` of `outputLatencySamples + 1`).
    public func flush(into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let owed = expectedOutputSamples - outputSamples
        guard owed > 0, let outBase = output.baseAddress else { return 0 }
        var written = 0
        while written < min(owed, output.count) {
            // A null input is read as zeros by libspeexdsp. Feed a little more than the
            // output still wanted needs, then cut the output at what is owed.
            let want = min(owed, output.count) - written
            var inLength = spx_uint32_t(min(Int(UInt32.max), want * inputRate / outputRate + 2))
            var outLength = spx_uint32_t(want)
            speex_resampler_process_int(state, 0, nil, &inLength, outBase + written, &outLength)
            if outLength == 0 { break }
            written += Int(outLength)
        }
        outputSamples += written
        return written
    }

    /// The whole output's length for the input so far: `inputSamples × outputRate /
    /// inputRate`, rounded down.
    public var expectedOutputSamples: Int {
        // In 128 bits: an endless stream (a prompt looped until stopped) must not trap.
        inputRate.dividingFullWidth(inputSamples.multipliedFullWidth(by: outputRate)).quotient
    }

    /// A whole clip resampled in one go (a synthesized phrase, a prompt): the output is
    /// `samples.count × outputRate / inputRate` samples, aligned with the input (the
    /// filter's delay is skipped and its tail flushed).
    public static func resample(_ samples: [Int16], from inputRate: Int, to outputRate: Int, quality: Int = defaultQuality)
        throws(ResamplerError) -> [Int16]
    {
        guard inputRate != outputRate else { return samples }
        let r = try Resampler(inputRate: inputRate, outputRate: outputRate, quality: quality)
        var out = [Int16](repeating: 0, count: samples.count * outputRate / inputRate + r.outputLatencySamples + 16)
        var produced = 0
        samples.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                var taken = 0
                while taken < input.count {
                    let (c, p) = r.process(
                        input: UnsafeBufferPointer(rebasing: input[taken...]),
                        output: UnsafeMutableBufferPointer(rebasing: output[produced...]))
                    taken += c
                    produced += p
                    if c == 0 && p == 0 { break }
                }
                while true {
                    let n = r.flush(into: UnsafeMutableBufferPointer(rebasing: output[produced...]))
                    if n == 0 { break }
                    produced += n
                }
            }
        }
        out.removeLast(out.count - produced)
        return out
    }

    /// Forgets the stream: history cleared and counts zeroed (the next `process` starts a
    /// new stream, its leading delay skipped again).
    public func reset() {
        speex_resampler_reset_mem(state)
        speex_resampler_skip_zeros(state)
        inputSamples = 0
        outputSamples = 0
    }
}
