import Synchronization

/// Plays an in-memory buffer of 16-bit mono PCM, already at the leg's rate, as a leg's
/// outbound audio: once, or `playCount` times back to back. The last frame is padded
/// with silence; the read after it reports the source finished (`.sourceFinished`).
///
/// For prompts held in memory, the test caller and tests. The samples are not resampled:
/// give it audio at the leg's clock rate.
///
/// `@unchecked Sendable`: it is handed to the worker once (`MediaLeg.setSource`) and its
/// position is touched only by `read`, which only that worker calls.
public final class PCMSource: FrameSource, @unchecked Sendable {
    /// The samples, one channel, at the leg's rate.
    public let samples: [Int16]
    /// Times the buffer is played in all (1: once).
    public let playCount: Int
    /// The next sample to play, as an index into `samples`.
    private var position = 0
    /// Plays completed so far.
    private var plays = 0

    /// A source playing `samples` `playCount` times (at least once). An empty buffer
    /// finishes at once.
    public init(samples: [Int16], playCount: Int = 1) {
        self.samples = samples
        self.playCount = max(1, playCount)
    }

    /// The buffer's length at `sampleRate`, in seconds.
    public func durationSeconds(sampleRate: Int) -> Double {
        Double(samples.count * playCount) / Double(sampleRate)
    }

    /// Fills `frame` with the next samples; false once every play is done.
    public func read(into frame: UnsafeMutableBufferPointer<Int16>) -> Bool {
        guard plays < playCount, !samples.isEmpty else { return false }
        var filled = 0
        samples.withUnsafeBufferPointer { source in
            while filled < frame.count && plays < playCount {
                let n = min(frame.count - filled, source.count - position)
                // Safe: n ≤ what is left of both buffers.
                _ = UnsafeMutableBufferPointer(rebasing: frame[filled..<(filled + n)])
                    .update(fromContentsOf: UnsafeBufferPointer(rebasing: source[position..<(position + n)]))
                filled += n
                position += n
                if position == source.count {
                    position = 0
                    plays += 1
                }
            }
        }
        if filled < frame.count {
            UnsafeMutableBufferPointer(rebasing: frame[filled...]).update(repeating: 0)
        }
        return true
    }
}

/// Keeps a leg's decoded inbound audio in memory: every frame the leg plays out, silence
/// and concealment included, appended in order.
///
/// For tests and the test caller (`sauti call`), not the production recorder (that one
/// streams to disk off the worker). The buffer is reserved up front for
/// `maximumSamples`, so `write` on the worker only copies under an uncontended lock;
/// audio past the maximum is dropped and counted in `droppedSamples`. `reserve` grows
/// the maximum from the control side, never the worker.
public final class PCMRecorderSink: FrameSink, Sendable {
    private struct State {
        /// The samples so far.
        var samples: [Int16]
        /// The most samples kept: the reserved capacity.
        var maximumSamples: Int
        /// Samples dropped for lack of room.
        var dropped: Int
    }
    private let state: Mutex<State>

    /// A recorder with room for `maximumSamples` samples.
    public init(maximumSamples: Int) {
        var samples: [Int16] = []
        samples.reserveCapacity(max(0, maximumSamples))
        state = Mutex(State(samples: samples, maximumSamples: max(0, maximumSamples), dropped: 0))
    }

    /// A recorder with room for `seconds` of audio at `sampleRate` (Hz).
    public convenience init(maximumSeconds seconds: Double, sampleRate: Int) {
        self.init(maximumSamples: Int((seconds * Double(sampleRate)).rounded(.up)))
    }

    /// Appends `frame`, or what fits of it. Called on the leg's worker.
    public func write(_ frame: UnsafeBufferPointer<Int16>) {
        state.withLock { s in
            let room = s.maximumSamples - s.samples.count
            if frame.count <= room {
                s.samples.append(contentsOf: frame)
            } else {
                // Safe: room < frame.count here, and room ≥ 0.
                s.samples.append(contentsOf: UnsafeBufferPointer(rebasing: frame[..<room]))
                s.dropped += frame.count - room
            }
        }
    }

    /// Grows the room to `maximumSamples` (never shrinks it). Call it from the control
    /// side: the copy it may make happens here, not on the worker.
    public func reserve(maximumSamples: Int) {
        state.withLock { s in
            guard maximumSamples > s.maximumSamples else { return }
            s.samples.reserveCapacity(maximumSamples)
            s.maximumSamples = maximumSamples
        }
    }

    /// A copy of everything recorded so far. A deep copy: sharing the buffer would make
    /// the worker's next append copy it.
    public var samples: [Int16] { state.withLock { s in s.samples.withUnsafeBufferPointer { Array($0) } } }
    /// Samples recorded so far.
    public var count: Int { state.withLock { $0.samples.count } }
    /// Samples dropped because the buffer was full.
    public var droppedSamples: Int { state.withLock { $0.dropped } }
}
