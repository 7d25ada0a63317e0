import SautiAudio

/// The jitter buffer of a live leg: packets go in as they arrive (`put`), and the media
/// clock takes exactly one frame out per tick (`tick`).
///
/// Playout delay is measured as D: how long after the fastest possible arrival (the
/// window's minimum transit) the next sample is played. The delay estimator sets the
/// target (the largest lateness in the window, plus half a frame, within the bounds).
/// While D is below target the buffer stretches (plays a concealed frame without
/// advancing); while D is a frame and a half or more above target it skips a frame.
/// Packets arriving after their samples were played are late: dropped and counted.
/// A new SSRC or a timestamp jump restarts it. No allocation after `init`.
public struct LiveJitterBuffer {
    /// Counters and the current delays, readable at any time.
    public struct Statistics: Sendable, Equatable {
        /// Packets stored.
        public var inserted = 0
        /// Packets dropped because their samples had been played.
        public var late = 0
        /// Packets dropped as duplicates.
        public var duplicates = 0
        /// Packets dropped for lack of room.
        public var overflow = 0
        /// Restarts (new SSRC, timestamp jump).
        public var restarts = 0
        /// Frames played from received audio (wholly or partly).
        public var decodedFrames = 0
        /// Frames concealed (loss, or nothing to play).
        public var concealedFrames = 0
        /// Opus: frames (wholly or partly) rebuilt from the next packet's in-band FEC.
        public var recoveredFrames = 0
        /// Opus: frames of DTX silence (the sender paused; not counted as concealed).
        public var dtxFrames = 0
        /// Opus: packets the decoder rejected (concealed instead).
        public var decodeErrors = 0
        /// Frames inserted to grow the delay.
        public var stretchedFrames = 0
        /// Frames skipped to cut the delay.
        public var skippedFrames = 0
        /// Target delay, in ms.
        public var targetDelayMilliseconds = 0.0
        /// Current playout delay over the fastest arrival, in ms.
        public var currentDelayMilliseconds = 0.0
        /// All zero.
        public init() {}
    }

    /// What a tick produced.
    public enum FrameKind: Equatable, Sendable {
        /// Nothing received yet (or still filling): silence.
        case silence
        /// Audio from packets (possibly partly concealed).
        case audio
        /// Concealment for missing audio.
        case concealed
    }

    /// The codec decoded.
    public let codec: AudioCodec
    /// Samples per output frame (20 ms at `sampleRate`).
    public let frameSamples: Int
    /// The PCM rate of the frames, in Hz (the clock rate for G.711; Opus decodes at any
    /// rate libopus has).
    public let sampleRate: Int
    /// RTP clock units per frame (equal to `frameSamples` for G.711; 960 for Opus).
    private let frameTicks: Int
    /// Counters.
    public private(set) var statistics = Statistics()
    /// The extended timestamp of the first sample of the frame the last tick played
    /// (meaningful after `.audio` or `.concealed`), for measuring delay.
    public private(set) var lastPlayedTimestamp: Int64 = 0

    private let clockRate: Int64
    private let minDelaySamples: Int64
    private let maxDelaySamples: Int64
    private var store: PacketStore
    private var estimator: DelayEstimator
    private var concealer: WaveformConcealer
    private var scratch: [Int16]
    private var started = false
    private var playing = false
    private var ssrc: UInt32 = 0
    private var lastExtended: Int64 = 0
    private var playTimestamp: Int64 = 0
    private var arrivalBase: Int64 = 0
    /// The Opus decoder side, nil for G.711.
    private let opus: OpusPlayout?
    /// Extra delay tolerated before skipping, in clock units: half a frame, so the delay
    /// does not swing between a stretch and a skip on timing noise (a stretch is a
    /// concealed frame; a skip drops a frame, and for Opus costs an extra decode).
    private let skipMarginTicks: Int64

    /// A buffer for `codec` with `frameSamples` per tick and delay bounds in ms.
    /// `sampleRate` is the PCM rate of the frames (G.711: its clock rate, the default;
    /// Opus: 8/12/16/24/48 kHz, 48 kHz by default).
    public init(
        codec: AudioCodec, sampleRate: Int? = nil, frameSamples: Int? = nil, minDelayMilliseconds: Int = 20,
        maxDelayMilliseconds: Int = 300, capacity: Int = 64
    ) {
        self.codec = codec
        let rate = codec.clockRate
        let pcmRate = codec.isStateful ? (sampleRate ?? rate) : rate
        let n = frameSamples ?? pcmRate / 50
        self.frameSamples = n
        self.sampleRate = pcmRate
        frameTicks = n * rate / pcmRate
        clockRate = Int64(rate)
        minDelaySamples = Int64(minDelayMilliseconds) * Int64(rate) / 1000
        maxDelaySamples = Int64(maxDelayMilliseconds) * Int64(rate) / 1000
        store = PacketStore(capacity: capacity, maxPayloadBytes: 1500, frameSamples: n)
        estimator = DelayEstimator()
        concealer = WaveformConcealer(sampleRate: pcmRate)
        scratch = [Int16](repeating: 0, count: n)
        opus = codec == .opus ? OpusPlayout(sampleRate: pcmRate) : nil
        skipMarginTicks = Int64(frameTicks / 2)
    }

    private func samples(sinceBase ns: Int64) -> Int64 { (ns - arrivalBase) * clockRate / 1_000_000_000 }

    /// The target delay, in samples.
    private var targetSamples: Int64 {
        min(max(estimator.peakLateness + Int64(frameTicks / 8), minDelaySamples), maxDelaySamples)
    }

    private mutating func restart(ssrc: UInt32, timestamp: Int64, arrival: Int64) {
        self.ssrc = ssrc
        arrivalBase = arrival
        lastExtended = timestamp
        playTimestamp = timestamp
        store.reset(at: timestamp)
        estimator.reset()
        opus?.reset()
        playing = false
        started = true
    }

    /// Stores a packet that arrived at `arrival` (ns, monotonic).
    /// `sequence` is the packet's RTP sequence number (Opus uses it to tell DTX from loss).
    public mutating func put(
        ssrc: UInt32, timestamp rtpTimestamp: UInt32, arrival: Int64, payload: UnsafeRawBufferPointer,
        sequence: UInt16 = 0
    ) -> JitterBuffer.InsertOutcome {
        var outcome = JitterBuffer.InsertOutcome.inserted
        var ts: Int64
        if !started || ssrc != self.ssrc {
            if started { statistics.restarts += 1; outcome = .restarted }
            restart(ssrc: ssrc, timestamp: Int64(rtpTimestamp), arrival: arrival)
            ts = Int64(rtpTimestamp)
        } else {
            ts = lastExtended + Int64(Int32(bitPattern: rtpTimestamp &- UInt32(truncatingIfNeeded: lastExtended)))
            // More than 10 s ahead of what plays, or 2 s behind: the sender restarted its timeline.
            if ts - playTimestamp > 10 * clockRate || playTimestamp - ts > 2 * clockRate {
                statistics.restarts += 1
                outcome = .restarted
                restart(ssrc: ssrc, timestamp: ts, arrival: arrival)
            }
        }
        lastExtended = ts
        estimator.add(transit: samples(sinceBase: arrival) - ts)
        let length =
            opus == nil
            ? codec.samples(inPayloadBytes: payload.count)
            // A TOC that does not parse: stored as one frame; the decoder conceals it.
            : OpusDecoder.samples(in: payload, sampleRate: OpusRate.rtpClockRate) ?? frameTicks
        if playing && ts + Int64(length) <= playTimestamp {
            statistics.late += 1
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
            statistics.inserted += 1
            return outcome
        }
    }

    /// Fills `out` (`frameSamples` long) with this tick's frame.
    public mutating func tick(now: Int64, into out: UnsafeMutableBufferPointer<Int16>) -> FrameKind {
        guard started else {
            out.update(repeating: 0)
            return .silence
        }
        let target = targetSamples
        var delay = samples(sinceBase: now) - estimator.minimumTransit - playTimestamp
        statistics.targetDelayMilliseconds = Double(target) * 1000 / Double(clockRate)
        statistics.currentDelayMilliseconds = Double(delay) * 1000 / Double(clockRate)
        if !playing {
            guard delay >= target else {
                out.update(repeating: 0)
                return .silence
            }
            playing = true
        } else if delay < target {
            // Too little buffered for the jitter seen: play a concealed frame and hold still.
            if let opus {
                opus.stretch(into: out)
            } else {
                scratch.withUnsafeMutableBufferPointer { concealer.conceal($0) }
                _ = out.update(fromContentsOf: scratch)
            }
            statistics.stretchedFrames += 1
            return .concealed
        } else if delay >= target + Int64(frameTicks) + skipMarginTicks {
            // More delay than needed: skip a frame. Opus decodes it all the same (into
            // scratch) so its decoder state runs on without a gap; G.711 just drops it.
            if let opus {
                _ = scratch.withUnsafeMutableBufferPointer {
                    opus.render(from: playTimestamp, frameTicks: Int64(frameTicks), store: &store, into: $0)
                }
            }
            playTimestamp += Int64(frameTicks)
            store.release(before: playTimestamp)
            statistics.skippedFrames += 1
            delay -= Int64(frameTicks)
        }
        lastPlayedTimestamp = playTimestamp
        if let opus {
            let made = opus.render(from: playTimestamp, frameTicks: Int64(frameTicks), store: &store, into: out)
            playTimestamp += Int64(frameTicks)
            statistics.decodeErrors = opus.corruptPackets
            if made.dtxAfterAll > 0 {
                // The frames concealed before this packet were a DTX pause after all.
                statistics.concealedFrames -= made.dtxAfterAll
                statistics.dtxFrames += made.dtxAfterAll
            }
            // A frame played from the rest of a longer packet decoded before is audio too.
            if made.decoded > 0 || made.recovered > 0 || (made.decodedEarlier > 0 && made.concealed == 0) {
                if made.recovered > 0 { statistics.recoveredFrames += 1 }
                statistics.decodedFrames += 1
                return .audio
            }
            if made.dtx > 0 && made.concealed == 0 {
                statistics.dtxFrames += 1
                return .silence
            }
            statistics.concealedFrames += 1
            return .concealed
        }
        let covered = store.render(from: playTimestamp, codec: codec, into: out) { out, covered in
            scratch.withUnsafeMutableBufferPointer { concealer.conceal($0) }
            for k in 0..<out.count where !covered[k] { out[k] = scratch[k] }
        }
        playTimestamp += Int64(frameTicks)
        if covered == 0 {
            statistics.concealedFrames += 1
            return .concealed
        }
        concealer.good(out)
        statistics.decodedFrames += 1
        return .audio
    }

    /// Forgets everything (the leg's remote changed, or it was put on hold).
    public mutating func reset() {
        started = false
        playing = false
        store.reset(at: 0)
        estimator.reset()
        opus?.reset()
    }
}
