import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import SautiTestSupport
import Testing

/// `say` on a leg: espeak-ng speech, resampled to the leg's rate, received by a real peer.
@Suite(.serialized) struct SayTests {
    static let phrase = "Welcome to Acme support. Press one for billing, two for technical support."

    @Test("espeak-ng speech played on a leg and recorded by ffmpeg has the expected duration and is not silent",
        .timeLimit(.minutes(1)), .enabled(if: InteropPaths.ffmpeg != nil))
    func sayToFFmpeg() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try InteropTests.engine(first: 37_000, last: 37_099)
        defer { engine.shutdown() }
        let expected = try SpeechSynthesizer.shared.synthesize(Self.phrase, language: "en-US")
        let expectedSeconds = Double(expected.count) / 22050
        let ffmpegPort: UInt16 = 37_200
        let out = dir + "/say.wav"
        let ffmpeg = try await startFFmpegReceiver(
            codec: .pcmu, port: ffmpegPort, seconds: expectedSeconds + 1.5, rate: 8000, out: out, dir: dir)
        var configuration = LegConfiguration(codec: .pcmu, remote: Endpoint(address: .v4(0x7F00_0001), port: ffmpegPort))
        configuration.mediaTimeoutMilliseconds = 0
        let leg = try engine.openLeg(configuration)
        let log = EventLog(leg)
        let playback = leg.say(Self.phrase, language: "en-US")
        let (status, killed) = await ffmpeg.wait(seconds: expectedSeconds + 12)
        leg.close()
        #expect(status == 0 && !killed, "ffmpeg: \(ffmpeg.log)")
        let (_, heard) = try WAVReader.read(path: out)
        // Where the speech is: frames of 20 ms over −40 dBFS.
        let frames = stride(from: 0, to: heard.count - 160, by: 160).map { i in
            (heard[i..<(i + 160)].reduce(0.0) { $0 + Double($1) * Double($1) } / 160).squareRoot()
        }
        let loud = frames.enumerated().filter { $0.element > 328 }.map(\.offset)
        let span = Double((loud.last ?? 0) - (loud.first ?? 0) + 1) * 0.02
        print("say -> ffmpeg: speech spans \(String(format: "%.2f", span)) s of \(String(format: "%.2f", expectedSeconds)) s synthesized; \(loud.count) loud frames")
        #expect(loud.count > 50, "not silent")
        #expect(abs(span - expectedSeconds) < 0.6, "duration \(span) s, expected about \(expectedSeconds) s")
        #expect(playback.samplesPlayed > Int(expectedSeconds * 8000 * 0.9))
        #expect(log.all.contains { if case .playbackFinished = $0 { return true } else { return false } })
        #expect(engine.speechCache.counts.entries == 2, "the phrase as synthesized, and at the leg's 8 kHz")
    }

    @Test("an unknown language fails with the reason, and the leg goes on", .timeLimit(.minutes(1)))
    func unknownLanguage() async throws {
        let engine = try InteropTests.engine(first: 37_300, last: 37_399)
        defer { engine.shutdown() }
        let peer = try engine.openLeg(LegConfiguration(codec: .pcmu))
        let leg = try engine.openLeg(LegConfiguration(codec: .pcmu, remote: peer.local))
        let log = EventLog(leg)
        leg.say("Habari", language: "tlh-Klingon")
        try await Task.sleep(for: .milliseconds(300))
        let failed = log.all.first {
            if case .playbackFailed(_, .unknownLanguage, let message) = $0 { return message.contains("tlh-Klingon") }
            return false
        }
        #expect(failed != nil, "\(log.all)")
        let sent = leg.statistics.packetsSent
        try await Task.sleep(for: .milliseconds(200))
        #expect(leg.statistics.packetsSent > sent, "the leg still sends")
        leg.close()
        peer.close()
        await log.finished(seconds: 2)
    }
}
