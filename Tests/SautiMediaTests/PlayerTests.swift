import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import Synchronization
import SautiTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Legs playing files (`MediaLeg.play(file:loop:)`): formats heard by ffmpeg, loops, stop
/// and barge-in heard by a peer leg, failures that leave the call going, underruns.
/// Ports 36000-36799.
@Suite(.serialized) struct PlayerTests {
    static func engine(first: UInt16, last: UInt16) throws -> MediaEngine {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = first
        c.lastPort = last
        return try MediaEngine(configuration: c)
    }

    /// The speech excerpt played in the format test, in seconds.
    static let speechSeconds = 4.0

    @Test(
        "a leg plays a file of each format to ffmpeg (from an SDP file); ffmpeg's decode matches the source resampled to 8 kHz",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)),
        .enabled(if: PlayerFiles.hasSpeech, Comment(rawValue: PlayerFiles.corpusMissing)), .timeLimit(.minutes(1)),
        arguments: PlayerFormat.all.indices)
    func formatToFFmpeg(index: Int) async throws {
        let format = PlayerFormat.all[index]
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try await PlayerFiles.make(format, seconds: Self.speechSeconds, in: dir)
        let source = try await PlayerFiles.reference8k(
            sourceRate: format.sourceRate, seconds: Self.speechSeconds, in: dir)
        let first = UInt16(36_000 + index * 20)
        let engine = try Self.engine(first: first, last: first + 9)
        defer { engine.shutdown() }
        // ffmpeg receives on the port the SDP names; the leg sends there (as InteropTests does).
        let ffmpegPort = first + 10
        let out = dir + "/out.wav"
        let seconds = Self.speechSeconds + 0.8
        let ffmpeg = try await startFFmpegReceiver(
            codec: .pcmu, port: ffmpegPort, seconds: seconds, rate: 8000, out: out, dir: dir)
        var configuration = LegConfiguration(
            codec: .pcmu, remote: Endpoint(address: .v4(0x7F00_0001), port: ffmpegPort))
        configuration.mediaTimeoutMilliseconds = 0
        let leg = try engine.openLeg(configuration)
        let events = EventLog(leg)
        let playback = leg.play(file: file)
        let (status, killed) = await ffmpeg.wait(seconds: seconds + 10)
        let end = await waitForEvent(events, seconds: 2, isPlaybackEnd)
        leg.close()
        await events.finished(seconds: 2)
        #expect(status == 0 && !killed, "ffmpeg: \(ffmpeg.log)")
        #expect(end == .playbackFinished(path: file, loopsPlayed: 1, stopped: false), "\(events.all)")
        #expect(
            playbackEvents(events) == [.playbackFinished(path: file, loopsPlayed: 1, stopped: false), .sourceFinished])
        let expectedSamples = Int(Self.speechSeconds * 8000)
        #expect(
            abs(playback.samplesPlayed - expectedSamples) <= 8000 / 20,
            "\(playback.samplesPlayed) samples sent for \(Self.speechSeconds) s")
        #expect(playback.underrunSamples == 0)

        let (info, decoded) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 8000 && info.channels == 1)
        let reference = Similarity.g711RoundTrip(source, .ulaw)
        let (lag, ncc) = Similarity.best(reference, decoded)
        let (segmented, lags) = Similarity.segmental(reference, decoded, lag: lag)
        print(
            "player \(format.name) -> ffmpeg: NCC \(String(format: "%.4f", segmented)) by segment "
                + "(\(String(format: "%.4f", ncc)) at one lag \(lag)); \(playback.samplesPlayed) samples sent, "
                + "ffmpeg decoded \(decoded.count)")
        #expect(segmented >= 0.95, "\(format.name): NCC \(segmented) by segment (lags \(lags)), \(ncc) at lag \(lag)")
        #expect(Set(lags).count <= 2, "the leg sends at a steady pace: lags \(lags)")
    }

    @Test(
        "a file looped 3 times plays 3× its length, seamlessly, then .playbackFinished(loopsPlayed: 3)",
        .timeLimit(.minutes(1)))
    func loops() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 0.5 s of 1 kHz at 16 kHz: a whole number of periods, so the loops join seamlessly.
        let file = try await PlayerFiles.tone(frequency: 1000, seconds: 0.5, rate: 16000, in: dir)
        let engine = try Self.engine(first: 36_200, last: 36_219)
        defer { engine.shutdown() }
        let pair = try LegPair(engine: engine)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(200))  // B latches A; both tick
        let playback = pair.a.play(file: file, loop: 3)
        let end = await waitForEvent(pair.eventsA, seconds: 5, isPlaybackEnd)
        #expect(end == .playbackFinished(path: file, loopsPlayed: 3, stopped: false))
        try await Task.sleep(for: .milliseconds(300))  // the last frames reach B
        #expect(playbackEvents(pair.eventsA) == [end!, .sourceFinished])
        #expect(playback.samplesPlayed == 3 * 4000, "3 × 0.5 s at 8 kHz: \(playback.samplesPlayed)")
        #expect(playback.loopsDecoded == 3 && playback.underrunSamples == 0)
        // What B heard: the tone for 1.5 s (75 frames) with no gap at the loop joins.
        let frames = toneFrames(pair.received.samples, frequency: 1000)
        let first = try #require(frames.firstIndex(of: true))
        let last = try #require(frames.lastIndex(of: true))
        print(
            "player loops: B heard tone frames \(first)...\(last) (\(last - first + 1) frames), \(frames.filter { $0 }.count) with tone"
        )
        #expect(abs((last - first + 1) - 75) <= 1, "3 × 0.5 s is 75 frames: \(last - first + 1)")
        let received = pair.received.samples
        let odd = (first...last).filter { !frames[$0] }.map { i in
            "frame \(i): share \(toneShare(received[(i * 160)..<(i * 160 + 160)], frequency: 1000)) \(Array(received[(i * 160)..<(i * 160 + 160)]))"
        }
        // A frame B's jitter buffer had to conceal (a late packet on a loaded machine) may
        // not pass as the tone; anything else would be a gap at the source.
        let stats = pair.b.statistics
        #expect(
            odd.count <= stats.concealedFrames + stats.late,
            "no gap or click frame at the loop joins: \(odd); B concealed \(stats.concealedFrames), late \(stats.late)")
    }

    @Test(
        "loop 0 plays until stopPlayback(); a new play(file:) stops the one before; stop reports the loops heard",
        .timeLimit(.minutes(1)))
    func untilStopped() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let short = try await PlayerFiles.tone(frequency: 1000, seconds: 0.3, rate: 48000, in: dir)
        let other = try await PlayerFiles.tone(frequency: 600, seconds: 0.3, rate: 8000, in: dir, name: "other.wav")
        let engine = try Self.engine(first: 36_300, last: 36_319)
        defer { engine.shutdown() }
        let pair = try LegPair(engine: engine)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(200))
        let p1 = pair.a.play(file: short, loop: 0)
        try await Task.sleep(for: .seconds(2))
        #expect(playbackEvents(pair.eventsA).isEmpty, "still playing after 2 s: \(pair.eventsA.all)")
        #expect(p1.samplesPlayed >= 15_000, "about 2 s played: \(p1.samplesPlayed)")
        #expect(p1.loopsDecoded >= 6)
        // Replaced by another file: the first reports it was stopped, the second plays.
        let p2 = pair.a.play(file: other, loop: 0)
        let stopped1 = await waitForEvent(pair.eventsA, seconds: 2, isPlaybackEnd)
        let heard = p1.samplesPlayed / 2400
        #expect(
            stopped1 == .playbackFinished(path: short, loopsPlayed: heard, stopped: true), "\(p1.samplesPlayed) samples"
        )
        try await Task.sleep(for: .seconds(1))
        #expect(p2.samplesPlayed >= 6000)
        pair.a.stopPlayback()
        let stopped2 = await waitForEvent(pair.eventsA, seconds: 2) {
            if case .playbackFinished(let p, _, _) = $0 { return p == other } else { return false }
        }
        #expect(stopped2 == .playbackFinished(path: other, loopsPlayed: p2.samplesPlayed / 2400, stopped: true))
        let sentAtStop = p2.samplesPlayed
        try await Task.sleep(for: .milliseconds(500))
        #expect(p2.samplesPlayed == sentAtStop, "nothing more is played after the stop")
        #expect(!playbackEvents(pair.eventsA).contains(.sourceFinished), "a stopped playback gives no .sourceFinished")
        #expect(pair.a.statistics.packetsSent > 150, "the leg keeps sending (silence)")
        // Stopping again, with nothing playing, does nothing.
        pair.a.stopPlayback()
        try await Task.sleep(for: .milliseconds(100))
        #expect(playbackEvents(pair.eventsA).count == 2)
        // What B heard: 1 kHz, then 600 Hz, then silence.
        let received = pair.received.samples
        let tone1 = toneFrames(received, frequency: 1000).filter { $0 }.count
        let tone2 = toneFrames(received, frequency: 600).filter { $0 }.count
        #expect(tone1 >= 95 && tone2 >= 45, "B heard \(tone1) frames of the first file, \(tone2) of the second")
        #expect(received.suffix(8000 * 3 / 10).allSatisfy { $0 == 0 }, "then silence")
    }

    @Test(
        "barge-in: after stopPlayback() the peer hears at most one more frame of the file, then silence",
        .timeLimit(.minutes(1)), arguments: [0.75, 1.33, 2.01])
    func bargeIn(after seconds: Double) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try await PlayerFiles.tone(frequency: 1000, seconds: 5, rate: 16000, in: dir)
        let first = UInt16(36_400 + Int(seconds * 10) * 2)
        let engine = try Self.engine(first: first, last: first + 9)
        defer { engine.shutdown() }
        let pair = try LegPair(engine: engine)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(200))
        let playback = pair.a.play(file: file, loop: 0)
        try await Task.sleep(for: .seconds(seconds))
        let playedBefore = playback.samplesPlayed
        pair.a.stopPlayback()
        let stopped = await waitForEvent(pair.eventsA, seconds: 2, isPlaybackEnd)
        let playedAfter = playback.samplesPlayed
        try await Task.sleep(for: .milliseconds(400))
        #expect(stopped == .playbackFinished(path: file, loopsPlayed: 0, stopped: true))
        #expect(
            playedAfter - playedBefore <= 160, "at most the frame in progress: \(playedAfter - playedBefore) samples")
        let received = pair.received.samples
        let frames = toneFrames(received, frequency: 1000)
        let heard = frames.filter { $0 }.count
        let last = try #require(frames.lastIndex(of: true))
        let concealed = pair.b.statistics.concealedFrames
        print(
            "player barge-in after \(seconds) s: A played \(playedBefore / 160) frames before the stop, "
                + "\(playedAfter / 160) in all; B heard \(heard) tone frames (concealed \(concealed))")
        #expect(heard <= playedBefore / 160 + 1 + concealed, "B heard no more than was sent before the stop, plus one")
        #expect(heard >= playedBefore / 160 - 2, "B heard what was sent")
        // After the last tone frame: silence, exactly (µ-law 0xFF decodes to 0), save one
        // concealment frame fading out if a packet was late.
        let after = received[((last + 2) * 160)...]
        #expect(!after.isEmpty && after.allSatisfy { $0 == 0 }, "silence after the stop")
    }

    /// Failures: the file, the reason, and a piece of the message.
    static let failures: [(name: String, reason: PlaybackFailureReason, message: String)] = [
        ("missing", .notFound, "No such file or directory"),
        ("text renamed .wav", .unsupportedFormat, "Format not recognised"),
        ("text renamed .mp3", .unsupportedFormat, "Format not recognised"),
        ("a directory", .unreadable, "is a directory"),
        ("FLAC cut inside its header", .decodeError, "unimplemented format"),
    ]

    @Test(
        "a file that cannot be played fails with its reason; the call goes on: silence is sent and digits still work",
        .timeLimit(.minutes(1)), arguments: failures.indices)
    func failure(index: Int) async throws {
        let (name, reason, message) = Self.failures[index]
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path: String
        switch name {
        case "missing": path = dir + "/no-such-prompt.wav"
        case "text renamed .wav", "text renamed .mp3":
            path = dir + "/notes." + (name.hasSuffix(".wav") ? "wav" : "mp3")
            try "This is a text file, not audio.\n".write(toFile: path, atomically: true, encoding: .utf8)
        case "a directory":
            path = dir + "/prompts.wav"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        default:
            let flac = dir + "/full.flac"
            try await PlayerFiles.run(
                "sox", ["-D", "-n", "-r", "8000", "-c", "1", "-b", "16", flac, "synth", "1", "sine", "440"], in: dir)
            path = dir + "/cut.flac"
            try Data(try Data(contentsOf: URL(fileURLWithPath: flac)).prefix(30)).write(to: URL(fileURLWithPath: path))
        }
        let first = UInt16(36_500 + index * 20)
        let engine = try Self.engine(first: first, last: first + 19)
        defer { engine.shutdown() }
        let pair = try LegPair(engine: engine)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(200))
        let sentBefore = pair.a.statistics.packetsSent
        pair.a.play(file: path, loop: 2)
        let end = await waitForEvent(pair.eventsA, seconds: 2, isPlaybackEnd)
        guard case .playbackFailed(let p, let r, let m) = end else {
            Issue.record("\(name): \(String(describing: end)), events \(pair.eventsA.all)")
            return
        }
        print("player failure \(name): \(r.rawValue): \(m)")
        #expect(p == path && r == reason && m.contains(message), "\(name): \(r) \(m)")
        // The call goes on: A keeps sending silence, B gets it, and digits cross.
        async let collected = pair.b.gatherDigits(
            DigitCollectionSpec(numDigits: nil, timeoutMilliseconds: 3000, interDigitTimeoutMilliseconds: 2000))
        try await Task.sleep(for: .milliseconds(50))
        pair.a.sendDigits("42#", durationMilliseconds: 80)
        let (digits, why) = await collected
        #expect(digits == "42" && why == .finishKey)
        try await Task.sleep(for: .milliseconds(300))
        #expect(pair.a.statistics.packetsSent - sentBefore > 30, "A kept sending")
        #expect(playbackEvents(pair.eventsA) == [end!, .sourceFinished], "one failure, then the source ends")
        #expect(pair.received.samples.suffix(1600).allSatisfy { $0 == 0 }, "B hears silence")
    }

    @Test("a file with no audio in it finishes at once with no loops played", .timeLimit(.minutes(1)))
    func emptyFile() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/empty.wav"
        try WAVWriter(path: path, sampleRate: 16000).close()
        let engine = try Self.engine(first: 36_650, last: 36_669)
        defer { engine.shutdown() }
        let pair = try LegPair(engine: engine)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(100))
        pair.a.play(file: path, loop: 0)
        let end = await waitForEvent(pair.eventsA, seconds: 2, isPlaybackEnd)
        #expect(end == .playbackFinished(path: path, loopsPlayed: 0, stopped: false))
    }

    @Test(
        "an I/O thread that falls behind gives counted silence on the leg, never a late tick; playback resumes",
        .timeLimit(.minutes(1)))
    func underrun() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try await PlayerFiles.tone(frequency: 1000, seconds: 3, rate: 48000, in: dir)
        let engine = try Self.engine(first: 36_700, last: 36_719)
        defer { engine.shutdown() }
        let pair = try LegPair(engine: engine)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(200))
        let playback = pair.a.play(file: file)
        try await Task.sleep(for: .milliseconds(300))
        let ticksBefore = engine.tickTiming[0]
        // The I/O thread is stuck for 1.6 s: the 1 s ring runs dry after about 1 s.
        engine.io.submit { usleep(1_600_000) }
        let end = await waitForEvent(pair.eventsA, seconds: 8, isPlaybackEnd)
        #expect(end == .playbackFinished(path: file, loopsPlayed: 1, stopped: false))
        let ticksAfter = engine.tickTiming[0]
        print(
            "player underrun: \(playback.underrunSamples) samples of silence in \(playback.underrunFrames) frames; "
                + "late ticks \(ticksAfter.lateTicks - ticksBefore.lateTicks) of \(ticksAfter.ticks - ticksBefore.ticks)"
        )
        #expect(playback.underrunSamples >= 8000 * 3 / 10 && playback.underrunSamples <= 8000 * 9 / 10)
        #expect(playback.underrunFrames * 160 >= playback.underrunSamples)
        #expect(playback.samplesPlayed == 3 * 8000, "all of the file is played, after the gap")
        #expect(ticksAfter.skippedTicks == ticksBefore.skippedTicks, "the worker never waited")
        // B heard the tone, a gap of silence, the tone again.
        try await Task.sleep(for: .milliseconds(200))
        let frames = toneFrames(pair.received.samples, frequency: 1000)
        let first = try #require(frames.firstIndex(of: true))
        let last = try #require(frames.lastIndex(of: true))
        let gap = frames[first...last].filter { !$0 }.count
        #expect(abs(gap - playback.underrunFrames) <= 2, "B heard a gap of \(gap) frames")
    }
}
