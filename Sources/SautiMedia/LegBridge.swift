import SautiAudio
import Synchronization

/// Two legs joined: each one's decoded inbound audio is the other's outbound, resampled
/// with libspeexdsp where their rates differ (one resampler state per direction, so no
/// clicks at frame edges). Transcoding falls out of it: each leg decodes its own codec
/// and encodes the other's audio in its own, so PCMU, PCMA and Opus meet in any pair.
/// Each direction tells the receiving leg the sending leg's rate (`contentSampleRate`):
/// an Opus leg bridged to a G.711 leg encodes narrowband, since 8 kHz audio has nothing
/// above 4 kHz to code (about half the encoder's work of wideband).
///
/// The legs may run on different workers: each direction is a sink on one leg and a
/// source on the other, meeting through a `SampleRing` (one producer, one consumer), so
/// neither worker blocks. Rooms and the `dial` verb's bridge build on this later.
public final class LegBridge: Sendable {
    /// Audio from `a` to `b`.
    let aToB: BridgeDirection
    /// Audio from `b` to `a`.
    let bToA: BridgeDirection
    /// The legs.
    public let a: MediaLeg
    /// The second leg.
    public let b: MediaLeg

    /// Joins `a` and `b` from their next frames on, replacing what each was sending.
    /// `resamplerQuality`: libspeexdsp's 0 (fastest) ... 10 (best).
    public init(_ a: MediaLeg, _ b: MediaLeg, resamplerQuality: Int = Resampler.defaultQuality) {
        self.a = a
        self.b = b
        aToB = BridgeDirection(quality: resamplerQuality)
        bToA = BridgeDirection(quality: resamplerQuality)
        a.addSink(aToB)
        b.setSource(aToB)
        b.addSink(bToA)
        a.setSource(bToA)
    }

    /// Separates the legs: each goes back to silence.
    public func stop() {
        a.removeSink(aToB)
        b.removeSink(bToA)
        a.setSource(nil)
        b.setSource(nil)
    }

    /// Frames that found too little audio waiting (from `a`'s side to `b`, and back).
    public var underruns: (aToB: Int, bToA: Int) {
        (aToB.underruns.load(ordering: .relaxed), bToA.underruns.load(ordering: .relaxed))
    }
}

/// One direction of a bridge: the sink on the sending leg (resamples each frame to the
/// receiving leg's rate and queues it) and the source on the receiving leg (reads one
/// frame a tick). The rates come from the frames themselves (20 ms each), so a re-offer
/// that changes a leg's rate is followed. Allocates only when a rate changes.
final class BridgeDirection: FrameSink, FrameSource, @unchecked Sendable {
    // Safe: `write` runs only on the sending leg's worker and `read` only on the receiving
    // leg's; they share the ring and the atomics, nothing else.
    /// The receiving leg's rate, in Hz (0 until its first read).
    private let consumerRate = Atomic<Int>(0)
    /// The sending leg's rate, in Hz (0 until its first frame).
    private let producerRate = Atomic<Int>(0)
    /// Frames the receiving side padded with silence.
    let underruns = Atomic<Int>(0)
    private let ring = SampleRing(minimumCapacity: Leg.maxFrameSamples * 8)
    let quality: Int
    // Producer side.
    private var resampler: Resampler?
    private let resampled: UnsafeMutableBufferPointer<Int16>
    // Consumer side.
    private var started = false

    init(quality: Int) {
        self.quality = quality
        resampled = .allocate(capacity: Leg.maxFrameSamples * 2 + 16)
        resampled.initialize(repeating: 0)
    }

    deinit { resampled.deallocate() }

    func write(_ frame: UnsafeBufferPointer<Int16>) {
        let from = frame.count * 50
        if producerRate.load(ordering: .relaxed) != from { producerRate.store(from, ordering: .relaxed) }
        let to = consumerRate.load(ordering: .acquiring)
        guard to > 0, !frame.isEmpty else { return }
        if from == to {
            _ = ring.write(frame)
            return
        }
        if resampler == nil || resampler!.inputRate != from || resampler!.outputRate != to {
            resampler = try? Resampler(inputRate: from, outputRate: to, quality: quality)
        }
        guard let r = resampler else { return }
        let (_, produced) = r.process(input: frame, output: resampled)
        _ = ring.write(UnsafeBufferPointer(rebasing: resampled[0..<produced]))
    }

    /// The sending leg's rate when it is below the receiving leg's.
    var contentSampleRate: Int? {
        let from = producerRate.load(ordering: .relaxed)
        let to = consumerRate.load(ordering: .relaxed)
        return from > 0 && from < to ? from : nil
    }

    func read(into frame: UnsafeMutableBufferPointer<Int16>) -> Bool {
        let rate = frame.count * 50
        if consumerRate.load(ordering: .relaxed) != rate {
            consumerRate.store(rate, ordering: .releasing)
            ring.clear()
            started = false
        }
        let n = frame.count
        if !started {
            // Two frames queued before starting: the two workers' ticks interleave freely.
            guard ring.available >= 2 * n else {
                frame.update(repeating: 0)
                return true
            }
            started = true
        }
        // More than five frames queued (a stalled tick on our side): catch up.
        while ring.available > 5 * n { _ = ring.read(into: frame) }
        let got = ring.read(into: frame)
        if got < n {
            UnsafeMutableBufferPointer(rebasing: frame[got...]).update(repeating: 0)
            underruns.add(1, ordering: .relaxed)
        }
        return true
    }
}
