import SautiAudio

/// The Opus half of a jitter buffer: turns the packet store's Opus packets into 20 ms
/// frames, in order, through one libopus decoder (its state carries from packet to
/// packet, so Opus is never decoded by sample range as G.711 is).
///
/// Decoded audio waits in a small buffer (a packet may be longer than a frame). Where the
/// next samples have no packet:
/// - the packet after the gap has the next sequence number: the sender paused (DTX), so
///   the gap is silence, not loss;
/// - otherwise the last 20 ms (or the next packet's duration) before that packet are
///   rebuilt from its in-band FEC, and anything before them concealed by libopus (PLC);
/// - nothing after the gap yet: PLC, which libopus fades out; after 200 ms of it, silence.
/// A packet libopus rejects is concealed and counted. Storage is allocated at `init`;
/// rendering allocates nothing.
final class OpusPlayout {
    /// What one frame was made of.
    struct Composition: Equatable {
        /// Samples decoded from packets.
        var decoded = 0
        /// Samples rebuilt from FEC.
        var recovered = 0
        /// Samples concealed (PLC, or a corrupt packet's concealment).
        var concealed = 0
        /// Samples of DTX silence.
        var dtx = 0
        /// Earlier frames concealed while nothing had arrived, now known to have been a DTX
        /// pause (the packet after them had the next sequence number).
        var dtxAfterAll = 0
        /// Samples decoded by an earlier frame's render and played in this one: the rest of
        /// a packet longer than a frame (40, 60 ... 120 ms).
        var decodedEarlier = 0
    }

    /// The decoder (one per stream).
    let decoder: OpusDecoder
    /// PCM rate, in Hz.
    let sampleRate: Int
    /// RTP clock units (48 kHz) per PCM sample.
    let unitsPerSample: Int64
    /// Samples per output frame (20 ms at `sampleRate`).
    let frameSamples: Int
    /// Packets decoded.
    private(set) var decodedPackets = 0
    /// Packets libopus rejected (each concealed).
    var corruptPackets: Int { decoder.errors }

    private let pcm: UnsafeMutableBufferPointer<Int16>
    /// Index of the first buffered sample in `pcm`.
    private var head = 0
    /// Buffered samples.
    private var count = 0
    /// RTP timestamp (extended, clock units) of `pcm[head]`.
    private var headTimestamp: Int64 = 0
    private var lastSequence: UInt16 = 0
    private var hasLast = false
    /// Concealed samples since the last packet, to stop PLC after `plcLimitSamples`.
    private var concealedRun = 0
    /// What is buffered past the frame just played came from a decoded packet.
    private var lastDecoded = false
    /// Frames concealed with nothing after them since the last packet (maybe a DTX pause).
    private var blindFrames = 0
    /// The last packet was a DTX frame (2 bytes or less): what follows is a pause.
    private var lastWasDTX = false
    private let plcLimitSamples: Int

    /// A playout decoding to `sampleRate` (8/12/16/24/48 kHz); nil for another rate.
    init?(sampleRate: Int) {
        guard let d = try? OpusDecoder(sampleRate: sampleRate) else { return nil }
        decoder = d
        self.sampleRate = sampleRate
        unitsPerSample = Int64(OpusRate.rtpClockRate / sampleRate)
        frameSamples = sampleRate / 50
        plcLimitSamples = sampleRate / 5
        let capacity = 2 * d.maxFrameSamples + 2 * frameSamples
        pcm = .allocate(capacity: capacity)
        pcm.initialize(repeating: 0)
    }

    deinit { pcm.deallocate() }

    /// Forgets the stream (a restart, a new SSRC): decoder state and buffered audio.
    func reset() {
        decoder.reset()
        head = 0
        count = 0
        hasLast = false
        concealedRun = 0
        blindFrames = 0
        lastWasDTX = false
        lastDecoded = false
    }

    /// One concealed frame that does not advance the timeline (the jitter buffer growing
    /// its delay): libopus PLC continues from the last audio.
    func stretch(into out: UnsafeMutableBufferPointer<Int16>) {
        let n = decoder.conceal(samples: out.count, into: out).samples
        if n < out.count { UnsafeMutableBufferPointer(rebasing: out[n...]).update(repeating: 0) }
    }

    /// Fills `out` (`frameSamples`) with the audio of timestamps `[start, start +
    /// frameTicks)`, decoding, recovering or concealing from `store` as needed, and
    /// releases the packets before it.
    func render(
        from start: Int64, frameTicks: Int64, store: inout PacketStore, into out: UnsafeMutableBufferPointer<Int16>
    ) -> Composition {
        let u = unitsPerSample
        let end = start + frameTicks
        var bufferedEnd = headTimestamp + Int64(count) * u
        if count == 0 || start < headTimestamp || start > bufferedEnd {
            // A discontinuity (the first frame, a skipped frame): start the buffer here.
            head = 0
            count = 0
            headTimestamp = start
            bufferedEnd = start
        } else {
            let drop = Int((start - headTimestamp) / u)
            head += drop
            count -= drop
            headTimestamp = start
        }
        var made = Composition()
        if lastDecoded { made.decodedEarlier = min(count, frameSamples) }
        while bufferedEnd < end {
            if head + count + decoder.maxFrameSamples + frameSamples > pcm.count {
                // Move what is buffered to the front (at most a packet's worth).
                if count > 0 {
                    UnsafeMutableRawPointer(pcm.baseAddress!).copyMemory(
                        from: pcm.baseAddress! + head, byteCount: count * MemoryLayout<Int16>.stride)
                }
                head = 0
            }
            // Safe: head + count + maxFrameSamples + frameSamples ≤ pcm.count after the move.
            let tail = UnsafeMutableBufferPointer(rebasing: pcm[(head + count)...])
            let t = bufferedEnd
            var produced = 0
            lastDecoded = false
            if let p = store.packet(covering: t) {
                let expected = Int(Int64(p.samples) / u)
                let (outcome, bytes) = store.withPayload(p.slot) {
                    (decoder.decode($0, into: tail, expectedSamples: expected), $0.count)
                }
                store.remove(p.slot)
                if hasLast && p.sequence == lastSequence &+ 1 && blindFrames > 0 { made.dtxAfterAll += blindFrames }
                blindFrames = 0
                lastWasDTX = bytes <= 2
                produced = outcome.samples
                hasLast = true
                lastSequence = p.sequence
                concealedRun = 0
                decodedPackets += 1
                // A packet that began before `t` (an overlap): keep only its samples from `t` on.
                let overlap = min(Int((t - p.timestamp) / u), produced)
                if overlap > 0 {
                    UnsafeMutableRawPointer(tail.baseAddress!).copyMemory(
                        from: tail.baseAddress! + overlap, byteCount: (produced - overlap) * MemoryLayout<Int16>.stride)
                    produced -= overlap
                }
                if case .corrupt = outcome { made.concealed += produced } else { made.decoded += produced }
                if case .decoded = outcome { lastDecoded = true }
            } else if let next = store.packet(after: t) {
                let gap = Int((next.timestamp - t) / u)
                if hasLast && next.sequence == lastSequence &+ 1 {
                    // No sequence number missing: the sender sent nothing on purpose (DTX).
                    produced = min(gap, frameSamples)
                    UnsafeMutableBufferPointer(rebasing: tail[0..<produced]).update(repeating: 0)
                    made.dtx += produced
                } else {
                    let fecSpan = min(Int(Int64(next.samples) / u), gap)
                    let celtOnly = store.withPayload(next.slot) { $0.first.map { $0 >> 3 >= 16 } ?? true }
                    if gap > fecSpan || celtOnly {
                        // PLC up to where FEC can take over (CELT-only packets carry none).
                        let plc = celtOnly ? gap : gap - fecSpan
                        produced = decoder.conceal(samples: min(plc, frameSamples), into: tail).samples
                        made.concealed += produced
                    } else {
                        let outcome = store.withPayload(next.slot) {
                            decoder.recover(samples: fecSpan, from: $0, into: tail)
                        }
                        produced = outcome.samples
                        // The next packet follows what was just rebuilt.
                        lastSequence = next.sequence &- 1
                        hasLast = true
                        if case .recovered = outcome { made.recovered += produced } else { made.concealed += produced }
                    }
                }
            } else {
                let wanted = Int((end - t) / u)
                if lastWasDTX {
                    // After a DTX frame the sender is in a pause: silence.
                    produced = wanted
                    UnsafeMutableBufferPointer(rebasing: tail[0..<produced]).update(repeating: 0)
                    made.dtx += produced
                } else {
                    if concealedRun < plcLimitSamples {
                        produced = decoder.conceal(samples: wanted, into: tail).samples
                        concealedRun += produced
                    } else {
                        produced = wanted
                        UnsafeMutableBufferPointer(rebasing: tail[0..<produced]).update(repeating: 0)
                    }
                    made.concealed += produced
                    blindFrames += 1
                }
            }
            if produced <= 0 {
                // Nothing came out (an odd-sized gap): silence up to the frame's end.
                produced = max(1, Int((end - t) / u))
                UnsafeMutableBufferPointer(rebasing: tail[0..<produced]).update(repeating: 0)
                made.concealed += produced
            }
            count += produced
            bufferedEnd += Int64(produced) * u
        }
        // Safe: bufferedEnd ≥ end, so count ≥ frameSamples.
        let n = min(out.count, count)
        _ = out.update(fromContentsOf: UnsafeMutableBufferPointer(rebasing: pcm[head..<(head + n)]))
        head += n
        count -= n
        headTimestamp = end
        store.release(before: end)
        return made
    }
}
