import Foundation
import SautiAudio
@testable import SautiMedia
import SautiTestSupport
import SautiWire
import Testing

/// `MediaEngineConfiguration.resamplerQuality` reaches every place rates differ, and it
/// matters there. Ports 45100-45199.
@Suite struct ResamplerQualityTests {
    @Test("the engine's resampler quality reaches speech, file playback, bridges and rooms")
    func reachesEveryResampler() async throws {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = 45_100
        c.lastPort = 45_199
        c.resamplerQuality = 2
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        #expect(engine.resamplerQuality == 2 && engine.speechCache.resamplerQuality == 2)
        let a = try engine.openLeg(LegConfiguration(codec: .pcmu))
        var opus = LegConfiguration(codec: .opus)
        opus.opus.sampleRate = 16_000
        let b = try engine.openLeg(opus)
        defer {
            a.close()
            b.close()
        }
        #expect(a.resamplerQuality == 2)
        let join = await LegJoin.join(a, b)
        guard case .transcoded(let bridge) = join else {
            Issue.record("PCMU and Opus are transcoded")
            return
        }
        #expect(bridge.aToB.quality == 2 && bridge.bToA.quality == 2)
        bridge.stop()
        let room = engine.openRoom(sampleRate: 16_000)
        #expect(room.room.resamplerQuality == 2)
        room.close()
        c.resamplerQuality = 42
        let clamped = try MediaEngine(configuration: c)
        #expect(clamped.resamplerQuality == 10)
        clamped.shutdown()
    }

    @Test("a file played to a faster leg is resampled at the link's quality: quality 0 leaves an image of a 3 kHz tone at 5 kHz that quality 10 removes")
    func qualityMattersForFiles() throws {
        let dir = makeTemporaryDirectory(prefix: "resampler-quality")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tone.wav"
        var g = ToneGenerator(ToneSpec(frequenciesHz: [3000], levelDBFS: -6), sampleRate: 8000)
        var samples = [Int16](repeating: 0, count: 8000)
        samples.withUnsafeMutableBufferPointer { g.fill($0) }
        try WAVWriter(path: path, sampleRate: 8000).write(samples)
        func imageShare(quality: Int) -> Double {
            let (_, continuation) = AsyncStream<LegEvent>.makeStream()
            let link = PlaybackLink(
                playback: Playback(path: path, loopCount: 1), sampleRate: 16_000, events: continuation,
                ringMilliseconds: 2000, resamplerQuality: quality)
            let player = FilePlayer(path: path, link: link)
            var steps = 0
            while player.step() && steps < 1000 { steps += 1 }
            var out = [Int16](repeating: 0, count: 32_000)
            let n = out.withUnsafeMutableBufferPointer { link.ring.read(into: $0) }
            // The middle half, clear of the filter's start and end.
            return toneShare(out[(n / 4)..<(n * 3 / 4)], frequency: 5000, rate: 16_000)
        }
        let rough = imageShare(quality: 0)
        let fine = imageShare(quality: 10)
        #expect(rough > 1e-4 && rough > 100 * fine, "5 kHz image: quality 0 \(rough), quality 10 \(fine)")
    }
}
