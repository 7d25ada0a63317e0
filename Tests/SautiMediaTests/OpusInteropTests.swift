import CSautiAllocCounter
import Foundation
import SautiAudio
import SautiMedia
import SautiTestSupport
import SautiWire
import Testing

// Opus legs against ffmpeg (libopus) on loopback, both directions; and the steady state
// of Opus legs and a PCMU–Opus bridge allocating nothing. Ports 41200-41999.

@Suite(.serialized) struct OpusInteropTests {
    static let source = (try? bandLimitedSpeech(seconds: 3, rate: 16_000)) ?? []

    static func wav16k(_ samples: [Int16], to path: String) throws {
        let w = try WAVWriter(path: path, sampleRate: 16_000)
        try w.write(samples)
        try w.close()
    }

    @Test(
        "ffmpeg sends Opus (libopus) RTP to an Opus leg; the leg's decode matches the source (NCC ≥ 0.9)",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)), .timeLimit(.minutes(1)))
    func ffmpegToLeg() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wav = dir + "/source.wav"
        try Self.wav16k(Self.source, to: wav)
        let engine = try OpusLegTests.engine(first: 41_200, last: 41_249)
        defer { engine.shutdown() }
        let leg = try engine.openLeg(OpusLegTests.opusConfiguration())
        let recorder = PCMRecorderSink(maximumSeconds: 20, sampleRate: 16_000)
        leg.addSink(recorder)
        let ffmpeg = try BoundedProcess(
            InteropPaths.ffmpeg!,
            [
                "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", wav, "-ac", "1",
                "-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-payload_type", "111",
                "-f", "rtp", "rtp://127.0.0.1:\(leg.local.port)",
            ], log: dir + "/ffmpeg.log")
        let (status, killed) = await ffmpeg.wait(seconds: 20)
        #expect(status == 0 && !killed, "ffmpeg: \(ffmpeg.log)")
        try await Task.sleep(for: .milliseconds(600))
        leg.close()
        let stats = leg.statistics
        let (lag, ncc, segmented, lags) = try opusSimilarity(Self.source, 16_000, recorder.samples, 16_000)
        print(
            "interop ffmpeg -> opus leg: NCC \(String(format: "%.4f", ncc)) at lag \(lag), "
                + "\(String(format: "%.4f", segmented)) by segment (lags \(Set(lags).sorted())); "
                + "\(stats.packetsReceived) packets, lost \(stats.packetsLost), concealed \(stats.concealedFrames), "
                + "decode errors \(stats.decodeErrors)")
        #expect(stats.packetsReceived >= 140 && stats.decodeErrors == 0)
        #expect(segmented >= 0.9, "NCC \(segmented) by segment, \(ncc) at lag \(lag)")
    }

    @Test(
        "an Opus leg sends to ffmpeg (from an SDP file with opus/48000/2); ffmpeg's decode matches the source",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)), .timeLimit(.minutes(1)))
    func legToFFmpeg() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try OpusLegTests.engine(first: 41_300, last: 41_349)
        defer { engine.shutdown() }
        let ffmpegPort: UInt16 = 41_390
        let out = dir + "/out.wav"
        let seconds = Double(Self.source.count) / 16_000 + 0.6
        let ffmpeg = try await startFFmpegReceiver(
            codec: .opus(receiving: OpusFormatParameters()), port: ffmpegPort, seconds: seconds, rate: 16_000, out: out,
            dir: dir)
        // PT 96: what the offer numbered Opus.
        var configuration = OpusLegTests.opusConfiguration(
            remote: Endpoint(address: .v4(0x7F00_0001), port: ffmpegPort))
        configuration.payloadType = 96
        let leg = try engine.openLeg(configuration)
        leg.setSource(PCMSource(samples: Self.source))
        let (status, killed) = await ffmpeg.wait(seconds: seconds + 10)
        leg.close()
        #expect(status == 0 && !killed, "ffmpeg: \(ffmpeg.log)")
        let (info, decoded) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 16_000 && info.channels == 1)
        let (lag, ncc, _, _) = try opusSimilarity(Self.source, 16_000, decoded, 16_000)
        print(
            "interop opus leg -> ffmpeg: NCC \(String(format: "%.4f", ncc)) at lag \(lag); ffmpeg decoded "
                + "\(decoded.count) samples; leg sent \(leg.statistics.packetsSent) packets")
        #expect(ncc >= 0.9, "NCC \(ncc) at lag \(lag)")
    }

    @Test(
        "a recording asked for Ogg Opus: written by libsndfile, read back by opusdec, the audio the leg heard",
        .enabled(if: OpusInteropTests.opusdec != nil, "opusdec is not installed (scripts/setup.sh: opus-tools)"),
        .timeLimit(.minutes(1)))
    func oggOpusRecording() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try OpusLegTests.engine(first: 41_400, last: 41_449)
        defer { engine.shutdown() }
        let b = try engine.openLeg(OpusLegTests.opusConfiguration())
        let log = EventLog(b)
        let heard = PCMRecorderSink(maximumSeconds: 10, sampleRate: 16_000)
        b.addSink(heard)
        let a = try engine.openLeg(OpusLegTests.opusConfiguration(remote: b.local))
        let path = dir + "/call.opus"
        var spec = RecordingSpec(path: path, trimSilence: false)
        spec.oggOpus = true
        b.record(spec)
        a.setSource(PCMSource(samples: Self.source))
        try await Task.sleep(for: .milliseconds(3300))
        b.stopRecording()
        var outcome: RecordingOutcome?
        for _ in 0..<300 where outcome == nil {
            outcome = log.all.compactMap { if case .recordingFinished(let o) = $0 { o } else { nil } }.first
            try await Task.sleep(for: .milliseconds(10))
        }
        a.close()
        b.close()
        let o = try #require(outcome)
        #expect(o.reason == .stopped && o.sampleRate == 16_000, "\(o)")
        #expect(
            FileManager.default.fileExists(atPath: path) && !FileManager.default.fileExists(atPath: path + ".part.wav"))
        let head = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(36)
        #expect(head.prefix(4) == Data("OggS".utf8) && head.range(of: Data("OpusHead".utf8)) != nil)
        let decodedPath = dir + "/decoded.wav"
        let opusdec = try BoundedProcess(
            Self.opusdec!, ["--quiet", "--rate", "16000", path, decodedPath], log: dir + "/opusdec.log")
        let (status, killed) = await opusdec.wait(seconds: 20)
        #expect(status == 0 && !killed, "opusdec: \(opusdec.log)")
        let (info, decoded) = try WAVReader.read(path: decodedPath)
        #expect(info.sampleRate == 16_000 && info.channels == 1)
        #expect(abs(decoded.count - o.frames) < 1600, "\(decoded.count) samples decoded for \(o.frames) recorded")
        // What the leg heard, against what opusdec decodes from the file.
        let reference = heard.samples
        let (lag, ncc, _, _) = try opusSimilarity(reference, 16_000, decoded, 16_000)
        print(
            "ogg opus recording: \(o.frames) frames, \(o.bytes) bytes; opusdec NCC \(String(format: "%.4f", ncc)) at lag \(lag)"
        )
        #expect(ncc >= 0.9, "NCC \(ncc) at lag \(lag)")
    }

    /// opusdec on the PATH (opus-tools), nil when absent.
    static let opusdec: String? = ["/usr/bin/opusdec", "/usr/local/bin/opusdec"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test(
        "Opus legs (FEC, DTX, 10-60 ms packets) and a PCMU–Opus bridge: 6 s of steady state allocate nothing on workers",
        .timeLimit(.minutes(1)))
    func noAllocation() async throws {
        var c = MediaEngineConfiguration(workers: 2)
        c.firstPort = 41_500
        c.lastPort = 41_999
        c.onWorkerThreadStart = { sauti_alloc_count_this_thread(5) }
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        var legs: [MediaLeg] = []
        for i in 0..<8 {
            var cb = OpusLegTests.opusConfiguration(rate: [8000, 16_000, 48_000][i % 3])
            cb.rtcpIntervalSeconds = 1
            cb.opus.encoder.dtx = i % 2 == 0
            // Packets of every length a leg sends; receiver reports (every second) resize the FEC.
            cb.opus.ptimeMilliseconds = [20, 40, 10, 60][i % 4]
            let b = try engine.openLeg(cb)
            var ca = cb
            ca.remote = b.local
            let a = try engine.openLeg(ca)
            a.play(.tone(ToneSpec(frequenciesHz: [440, 480], levelDBFS: -12)))
            b.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -12)))
            legs += [a, b]
        }
        // A transcoded call: P (PCMU) → X (PCMU) ⇄ bridge ⇄ Y (Opus) → Q (Opus), both ways.
        let (p, x, y, q) = try OpusLegTests.transcodedCall(engine)
        let bridge = LegBridge(x, y)
        p.play(.tone(ToneSpec(frequenciesHz: [440], levelDBFS: -12)))
        q.play(.tone(ToneSpec(frequenciesHz: [700], levelDBFS: -12)))
        legs += [p, q, x, y]
        try await Task.sleep(for: .seconds(3))
        let before = sauti_alloc_count_group(5)
        let received = legs.map(\.statistics.packetsReceived).reduce(0, +)
        try await Task.sleep(for: .seconds(6))
        let after = sauti_alloc_count_group(5)
        let receivedAfter = legs.map(\.statistics.packetsReceived).reduce(0, +)
        #expect(receivedAfter - received > 12 * 250, "the legs were busy: \(receivedAfter - received) packets")
        #expect(after - before == 0, "\(after - before) allocations on the media workers in 6 s of steady state")
        #expect(before > 0)
        #expect(x.statistics.packetsReceived > 300 && q.statistics.packetsReceived > 300)
        bridge.stop()
        for l in legs { l.close() }
    }
}
