import SautiAudio

/// A jitter buffer in front of the decoder, driven by arrival times.
///
/// Packets are stored by RTP timestamp; the playout point advances one frame at a time
/// when the frame's deadline passes, where a deadline is the anchor arrival time plus the
/// media time since the anchor plus the target delay. A packet that arrives after its
/// samples were played is late: dropped, counted, and the anchor moves so the next ones
/// fit (the delay grows). Missing samples are concealed. The target delay follows the
/// measured jitter between `minDelayMilliseconds` and `maxDelayMilliseconds`, and is
/// applied at talk-spurt starts (marker bit) and after late packets.
///
/// Storage is allocated at `init`; inserting and playing out allocate nothing.
public struct JitterBuffer {
    /// Settings of a buffer.
    public struct Configuration: Sendable {
        /// The codec of the stream.
        public var codec: AudioCodec
        /// Samples per output frame (20 ms at `sampleRate` by default).
        public var frameSamples: Int
        /// The PCM rate of the output, in Hz: the clock rate for G.711; for Opus any rate
        /// libopus decodes at (48,000 by default). Set `frameSamples` with it.
        public var sampleRate: Int
        /// Lowest target delay, in ms.
        public var minDelayMilliseconds: Int = 20
        /// Highest target delay, in ms.
        public var maxDelayMilliseconds: Int = 300
        /// Packets the buffer holds at most (a power of two).
        public var capacity: Int = 64
        /// Largest payload stored, in bytes; longer payloads are cut to this.
        public var maxPayloadBytes: Int = 1500

        /// Defaults for `codec`: 20 ms frames.
        public init(codec: AudioCodec, sampleRate: Int? = nil) {
            self.codec = codec
            let rate = codec.isStateful ? (sampleRate ?? codec.clockRate) : codec.clockRate
            self.sampleRate = rate
            self.frameSamples = rate / 50
        }
    }

    /// What became of an inserted packet.
    public enum InsertOutcome: Equatable, Sendable {
        /// Stored for playout.
        case inserted
        /// Its samples were already played: dropped.
        case late
        /// A packet with the same timestamp is stored: dropped.
        case duplicate
        /// No free slot even after playing out: dropped.
        case full
        /// The timestamp jumped (a restart); the buffer drained and re-anchored on it.
        case restarted
    }

    /// Counters, readable at any time.
    public struct Statistics: Sendable, Equatable, Codable {
        /// Packets stored.
        public var inserted = 0
        /// Packets dropped as late.
        public var late = 0
        /// Packets dropped as duplicates.
        public var duplicates = 0
        /// Packets dropped for lack of room.
        public var overflow = 0
        /// Timeline restarts.
        public var restarts = 0
        /// Frames played from received audio (wholly or partly).
        public var decodedFrames = 0
        /// Frames wholly concealed.
        public var concealedFrames = 0
        /// Samples concealed (including partial frames).
        public var concealedSamples = 0
        /// The target delay last applied, in ms.
        public var targetDelayMilliseconds = 0
        /// Opus: frames rebuilt from the next packet's in-band FEC.
        public var recoveredFrames = 0
        /// Opus: frames of DTX silence (not loss).
        public var dtxFrames = 0
        /// Opus: packets the decoder rejected (concealed instead).
        public var decodeErrors = 0

        /// All zero.
        public init() {}
    }

    /// The configuration.
    public let configuration: Configuration
    /// Counters.
    public private(set) var statistics = Statistics()

    private let clockRate: Int64
    private var store: PacketStore
    private var frame: [Int16]
    private var scratch: [Int16]
    private var concealer: WaveformConcealer
    /// The Opus decoder side, nil for G.711.
    private let opus: OpusPlayout?
    /// RTP clock units per output frame.
    private let frameTicks: Int64

    private var started = false
    private var lastExtended: Int64 = 0
    /// Extended timestamp of the next sample to play.
    private var playTimestamp: Int64 = 0
    /// One past the last sample of any stored or played packet.
    private var endTimestamp: Int64 = 0
    /// Arrival of the first packet, in ns; every other time is kept relative to it.
    private var arrivalBase: Int64 = 0
    private var anchorArrival: Int64 = 0
    private var anchorTimestamp: Int64 = 0
    private var delayNanoseconds: Int64 = 0
    // Jitter estimate (RFC 3550 A.8 on arrival vs timestamp), in clock units × 16.
    private var jitterScaled: Int64 = 0
    private var lastTransit: Int64 = 0

    /// A buffer with storage for `configuration.capacity` packets.
    public init(configuration: Configuration) {
        precondition(configuration.capacity > 0 && configuration.capacity & (configuration.capacity - 1) == 0)
        self.configuration = configuration
        clockRate = Int64(configuration.codec.clockRate)
        store = PacketStore(
            capacity: configuration.capacity, maxPayloadBytes: configuration.maxPayloadBytes,
            frameSamples: configuration.frameSamples)
        frame = [Int16](repeating: 0, count: configuration.frameSamples)
        scratch = [Int16](repeating: 0, count: configuration.frameSamples)
        concealer = WaveformConcealer(sampleRate: configuration.sampleRate)
        frameTicks = Int64(configuration.frameSamples * configuration.codec.clockRate / configuration.sampleRate)
        opus = configuration.codec == .opus ? OpusPlayout(sampleRate: configuration.sampleRate) : nil
        delayNanoseconds = Int64(configuration.minDelayMilliseconds) * 1_000_000
    }

    /// The current jitter estimate, in ms.
    public var jitterMilliseconds: Double { Double(jitterScaled) / 16 / Double(clockRate) * 1000 }

    private func deadline(of timestamp: Int64) -> Int64 {
        anchorArrival + (timestamp - anchorTimestamp) * 1_000_000_000 / clockRate + delayNanoseconds
    }

    private mutating func reanchor(arrival: Int64, timestamp: Int64) {
        let jitterMs = Double(jitterScaled) / 16 / Double(clockRate) * 1000
        let frameMs = Double(frameTicks) * 1000 / Double(clockRate)
        let target = min(
            max(Int(frameMs + 3 * jitterMs), configuration.minDelayMilliseconds), configuration.maxDelayMilliseconds)
        statistics.targetDelayMilliseconds = target
        delayNanoseconds = Int64(target) * 1_000_000
        anchorArrival = arrival
        anchorTimestamp = timestamp
    }

    /// Plays out every frame whose deadline is at or before `now` (ns), handing each to `emit`.
    public mutating func advance(to now: Int64, emit: (UnsafeBufferPointer<Int16>) -> Void) {
        guard started else { return }
        advance(relative: now - arrivalBase, emit: emit)
    }

    private mutating func advance(relative now: Int64, emit: (UnsafeBufferPointer<Int16>) -> Void) {
        while deadline(of: playTimestamp) <= now {
            // Past the end of everything received, wait for more rather than conceal forever;
            // the gap is filled when the next packet arrives or at `finish`.
            if playTimestamp >= endTimestamp && store.count == 0 { return }
            playFrame(emit: emit)
        }
    }

    /// Plays out everything that is left, up to the end of the last packet.
    public mutating func finish(emit: (UnsafeBufferPointer<Int16>) -> Void) {
        guard started else { return }
        while playTimestamp < endTimestamp { playFrame(emit: emit) }
    }

    /// Inserts one packet that arrived at `arrival` (ns). Frames due before it are
    /// played first, through `emit`.
    /// `sequence` is the RTP sequence number (Opus tells DTX pauses from loss by it).
    public mutating func insert(
        timestamp rtpTimestamp: UInt32, marker: Bool, arrival: Int64, payload: UnsafeRawBufferPointer,
        sequence: UInt16 = 0, emit: (UnsafeBufferPointer<Int16>) -> Void
    ) -> InsertOutcome {
        let length =
            opus == nil
            ? min(configuration.codec.samples(inPayloadBytes: payload.count), configuration.maxPayloadBytes)
            : OpusDecoder.samples(in: payload, sampleRate: OpusRate.rtpClockRate) ?? Int(frameTicks)
        if !started { arrivalBase = arrival }
        let arrival = arrival - arrivalBase
        var ts: Int64
        var outcome = InsertOutcome.inserted
        if !started {
            ts = Int64(rtpTimestamp)
            started = true
            playTimestamp = ts
            endTimestamp = ts
            lastTransit = arrival * clockRate / 1_000_000_000 - ts
            reanchor(arrival: arrival, timestamp: ts)
        } else {
            // Extend the 32-bit timestamp relative to the last one seen.
            ts = lastExtended + Int64(Int32(bitPattern: rtpTimestamp &- UInt32(truncatingIfNeeded: lastExtended)))
            let transit = arrival * clockRate / 1_000_000_000 - ts
            let d = abs(transit - lastTransit)
            lastTransit = transit
            // A jump of more than 10 s ahead or 2 s back is the sender restarting its
            // timeline, not jitter: drain what is held and start again at the new point.
            if ts - endTimestamp > 10 * clockRate || playTimestamp - ts > 2 * clockRate {
                while playTimestamp < endTimestamp { playFrame(emit: emit) }
                statistics.restarts += 1
                playTimestamp = ts
                endTimestamp = ts
                reanchor(arrival: arrival, timestamp: ts)
                outcome = .restarted
            } else {
                jitterScaled += d - ((jitterScaled + 8) >> 4)
                advance(relative: arrival, emit: emit)
                if marker && store.count == 0 && ts >= playTimestamp {
                    // A talk spurt starts: the moment to apply a new target delay. Keep the
                    // timeline: the silence until this packet is played as the gap it is.
                    reanchor(arrival: arrival, timestamp: ts)
                }
            }
        }
        lastExtended = ts
        if ts + Int64(length) <= playTimestamp {
            statistics.late += 1
            // It came after its time: give later packets more room.
            reanchor(arrival: arrival, timestamp: ts)
            return .late
        }
        switch store.insert(timestamp: ts, samples: length, payload: payload, sequence: sequence, stateful: opus != nil) {
        case .duplicate:
            statistics.duplicates += 1
            return .duplicate
        case .full:
            statistics.overflow += 1
            return .full
        case .inserted:
            break
        }
        endTimestamp = max(endTimestamp, ts + Int64(length))
        statistics.inserted += 1
        return outcome
    }

    private mutating func playFrame(emit: (UnsafeBufferPointer<Int16>) -> Void) {
        let n = configuration.frameSamples
        if let opus {
            let made = frame.withUnsafeMutableBufferPointer { out in
                opus.render(from: playTimestamp, frameTicks: frameTicks, store: &store, into: out)
            }
            statistics.decodeErrors = opus.corruptPackets
            if made.dtxAfterAll > 0 {
                statistics.concealedFrames -= made.dtxAfterAll
                statistics.concealedSamples -= made.dtxAfterAll * n
                statistics.dtxFrames += made.dtxAfterAll
            }
            if made.decoded > 0 || made.recovered > 0 {
                statistics.decodedFrames += 1
                if made.recovered > 0 { statistics.recoveredFrames += 1 }
                statistics.concealedSamples += min(n, made.concealed)
            } else if made.dtx > 0 && made.concealed == 0 {
                statistics.dtxFrames += 1
            } else {
                statistics.concealedFrames += 1
                statistics.concealedSamples += n
            }
            playTimestamp += frameTicks
            frame.withUnsafeBufferPointer { emit($0) }
            return
        }
        let codec = configuration.codec
        var partial = false
        let covered = frame.withUnsafeMutableBufferPointer { out in
            store.render(from: playTimestamp, codec: codec, into: out) { out, covered in
                // Fill what no packet covered from the concealer's continuation.
                partial = true
                scratch.withUnsafeMutableBufferPointer { concealer.conceal($0) }
                for k in 0..<out.count where !covered[k] { out[k] = scratch[k] }
            }
        }
        if covered == 0 {
            statistics.concealedFrames += 1
            statistics.concealedSamples += n
        } else {
            frame.withUnsafeMutableBufferPointer { concealer.good($0) }
            statistics.decodedFrames += 1
            if partial { statistics.concealedSamples += n - covered }
        }
        playTimestamp += frameTicks
        frame.withUnsafeBufferPointer { emit($0) }
    }
}
