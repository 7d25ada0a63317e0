import SautiAudio

/// The producer's end of a playback ring: takes mono 16-bit audio at the source's rate in
/// chunks, resamples it to the leg's rate (libspeexdsp; a plain copy when the rates match)
/// and writes it into the ring, keeping what does not fit for the next pass.
///
/// Shared by every kind of player: the file player feeds it from libsndfile, a URL player
/// from a download. Runs on the I/O thread only; allocates in `init` only. Not `Sendable`:
/// one producer owns it.
final class PlaybackFeeder {
    /// The ring it fills (the leg's rate).
    let ring: SampleRing
    /// The source's rate, in Hz.
    let inputRate: Int
    /// The leg's rate, in Hz.
    let outputRate: Int
    /// The most input samples one `push` takes.
    let maximumChunk: Int
    /// nil when the rates are equal.
    private let resampler: Resampler?
    /// Resampled samples waiting for room in the ring: `pending[pendingStart..<pendingEnd]`.
    private let pending: UnsafeMutableBufferPointer<Int16>
    /// The first waiting sample in `pending`.
    private var pendingStart = 0
    /// One past the last waiting sample in `pending`.
    private var pendingEnd = 0
    /// Samples written into the ring so far.
    private(set) var samplesWritten = 0

    /// A feeder from `inputRate` into `ring` at `outputRate`, taking up to `maximumChunk`
    /// input samples per `push`.
    /// - Throws: `ResamplerError` for a rate libspeexdsp refuses.
    init(ring: SampleRing, inputRate: Int, outputRate: Int, maximumChunk: Int, quality: Int = Resampler.defaultQuality)
        throws(ResamplerError)
    {
        self.ring = ring
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.maximumChunk = max(1, maximumChunk)
        if inputRate == outputRate {
            resampler = nil
            pending = .allocate(capacity: self.maximumChunk)
        } else {
            let r = try Resampler(inputRate: inputRate, outputRate: outputRate, quality: quality)
            resampler = r
            // One chunk's output, plus the tail a flush lets out.
            pending = .allocate(capacity: self.maximumChunk * outputRate / inputRate + r.outputLatencySamples + 16)
        }
        pending.initialize(repeating: 0)
    }

    deinit { pending.deallocate() }

    /// Whether samples are waiting for room in the ring.
    var hasPending: Bool { pendingStart < pendingEnd }

    /// Moves waiting samples into the ring; true when none are left waiting.
    @discardableResult
    func drainPending() -> Bool {
        guard hasPending else { return true }
        // Safe: pendingStart < pendingEnd ≤ pending.count.
        let n = ring.write(UnsafeBufferPointer(rebasing: pending[pendingStart..<pendingEnd]))
        pendingStart += n
        samplesWritten += n
        if pendingStart == pendingEnd {
            pendingStart = 0
            pendingEnd = 0
            return true
        }
        return false
    }

    /// Takes `input` (at most `maximumChunk` samples, at the source's rate), resamples it,
    /// and writes what fits into the ring. Call only when `drainPending()` returned true.
    func push(_ input: UnsafeBufferPointer<Int16>) {
        precondition(!hasPending && input.count <= maximumChunk)
        if let resampler {
            var taken = 0
            while taken < input.count {
                // Safe: taken < input.count; pendingEnd < pending.count while input remains,
                // since pending holds a whole chunk's output.
                let (consumed, produced) = resampler.process(
                    input: UnsafeBufferPointer(rebasing: input[taken...]),
                    output: UnsafeMutableBufferPointer(rebasing: pending[pendingEnd...]))
                taken += consumed
                pendingEnd += produced
                if consumed == 0 && produced == 0 { break }
            }
        } else {
            // Safe: input.count ≤ maximumChunk = pending.count.
            _ = UnsafeMutableBufferPointer(rebasing: pending[..<input.count]).update(fromContentsOf: input)
            pendingEnd = input.count
        }
        drainPending()
    }

    /// The source ended: lets the resampler's last samples out (into the ring as room
    /// allows). True once everything is in the ring; call again (after the ring drains)
    /// while it returns false.
    func finish() -> Bool {
        guard drainPending() else { return false }
        guard let resampler else { return true }
        let n = resampler.flush(into: pending)
        guard n > 0 else { return true }
        pendingEnd = n
        return drainPending() && resampler.outputSamples >= resampler.expectedOutputSamples
    }
}
