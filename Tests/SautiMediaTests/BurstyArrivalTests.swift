import SautiMedia
import Testing

/// The live jitter buffer against a sender that sends in bursts, as ffmpeg's RTP muxer does
/// by default: a 1460-sample and a 588-sample packet back to back every 256 ms, a few ms
/// of jitter on each burst. The second packet of a burst looks early by the first's length;
/// the delay must cover that, so the audio plays without skips or stretches.
@Test("bursts of large packets (ffmpeg's default) play out without skipped or stretched frames")
func burstyArrivals() {
    var jb = LiveJitterBuffer(codec: .pcmu)
    var packets: [(arrival: Int64, timestamp: UInt32, samples: Int)] = []
    let jitterMilliseconds: [Int64] = [0, 8, 5, 2, 0, 8, 4, 2, 0, 8, 5, 2]
    for k in 0..<12 {
        let arrival = Int64(k) * 256_000_000 + jitterMilliseconds[k] * 1_000_000
        packets.append((arrival, UInt32(k * 2048), 1460))
        packets.append((arrival + 100_000, UInt32(k * 2048 + 1460), 588))
    }
    let payload = [UInt8](repeating: 0xFF, count: 1460)
    var frame = [Int16](repeating: 0, count: 160)
    var next = 0
    var kinds: [LiveJitterBuffer.FrameKind] = []
    for tick in 0..<170 {
        let now = Int64(tick) * 20_000_000 + 1_000_000
        while next < packets.count && packets[next].arrival <= now {
            let p = packets[next]
            payload.withUnsafeBytes { bytes in
                _ = jb.put(
                    ssrc: 1, timestamp: p.timestamp, arrival: p.arrival,
                    payload: UnsafeRawBufferPointer(rebasing: bytes[0..<p.samples]))
            }
            next += 1
        }
        kinds.append(frame.withUnsafeMutableBufferPointer { jb.tick(now: now, into: $0) })
    }
    let s = jb.statistics
    #expect(s.skippedFrames == 0 && s.stretchedFrames == 0, "\(s)")
    // Every one of the 24 576 samples (153.6 frames) plays, then the stream ends.
    #expect(s.decodedFrames == 154, "\(s)")
    let firstAudio = kinds.firstIndex(of: .audio) ?? kinds.count
    let lastAudio = kinds.lastIndex(of: .audio) ?? 0
    #expect(kinds[firstAudio...lastAudio].allSatisfy { $0 == .audio }, "no gap inside the stream")
}
