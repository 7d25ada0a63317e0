import Foundation
import SautiAudio
import SautiMedia
import SautiTestSupport
import SautiWire
import Testing

// `sauti call` with Opus: straight to an Opus leg (`--codec opus`), and answering an Opus
// offer (`--sdp-in`, `--sdp-out`). Ports 42500-42599.

@Suite(.serialized) struct SautiCallOpusTests {
    /// An Opus leg at 16 kHz that records what it hears and plays a 400 Hz tone back.
    static func peer(_ engine: MediaEngine, payloadType: UInt8 = 111) throws -> (MediaLeg, PCMRecorderSink) {
        var c = OpusLegTests.opusConfiguration()
        c.payloadType = payloadType
        c.rtcpIntervalSeconds = 0.5
        // A fixed jitter delay (longer than a 60 ms packet): this checks the codec path.
        c.minJitterDelayMilliseconds = 140
        c.maxJitterDelayMilliseconds = 140
        let b = try engine.openLeg(c)
        let recorder = PCMRecorderSink(maximumSeconds: 10, sampleRate: 16_000)
        b.addSink(recorder)
        b.play(.tone(ToneSpec(frequenciesHz: [400], levelDBFS: -6)))
        return (b, recorder)
    }

    /// Runs `sauti call` with `arguments`; returns its JSON report.
    static func call(_ arguments: [String], dir: String) async throws -> [String: Any] {
        let sauti = InteropPaths.sauti
        try #require(FileManager.default.isExecutableFile(atPath: sauti), "build sauti first (swift build): \(sauti)")
        let call = try BoundedProcess(sauti, ["call"] + arguments + ["--json"], log: dir + "/call.log")
        let (status, killed) = await call.wait(seconds: 20)
        let log = call.log
        #expect(status == 0 && !killed, "sauti call: \(log)")
        let jsonStart = log.firstIndex(of: "{") ?? log.startIndex
        return try #require(try JSONSerialization.jsonObject(with: Data(log[jsonStart...].utf8)) as? [String: Any])
    }

    /// What the peer heard against the WAV, what came back against the peer's tone, and the
    /// packets' count against the ptime's.
    static func check(
        peer b: MediaLeg, heard: [Int16], source: [Int16], out: String, report: [String: Any], ptime: Int,
        payloadType: Int
    ) throws {
        let (lag, ncc, segmented, lags) = try opusSimilarity(source, 16_000, heard, 16_000)
        let s = b.statistics
        print(
            "sauti call --codec opus -> opus leg, \(ptime) ms: NCC \(String(format: "%.4f", ncc)) at lag \(lag), "
                + "\(String(format: "%.4f", segmented)) by segment (lags \(Set(lags).sorted())); \(s.packetsReceived) packets"
        )
        #expect(segmented >= 0.9, "the leg heard the WAV: NCC \(segmented) by segment, \(ncc) at lag \(lag)")
        // 3 s of call: one packet per ptime.
        let expected = 3000 / ptime
        #expect(
            (expected * 8 / 10...expected * 11 / 10).contains(s.packetsReceived) && s.decodeErrors == 0
                && s.unknownPayloadType == 0, "\(s.packetsReceived) packets for about \(expected): \(s)")
        #expect(report["codec"] as? String == "opus" && report["payload_type"] as? Int == payloadType)
        #expect(report["clock_rate"] as? Int == 48_000 && report["sample_rate"] as? Int == 16_000)
        #expect(report["ptime_ms"] as? Int == ptime)
        let sent = report["sent"] as? [String: Any]
        #expect((sent?["packets"] as? Int ?? 0) >= expected * 8 / 10)
        // What came back is the peer's tone, recorded at the leg's 16 kHz.
        let (info, back) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 16_000 && back.count >= 16_000 * 25 / 10, "about 3 s at 16 kHz: \(back.count)")
        #expect(
            toneShare(back.suffix(16_000), frequency: 400, rate: 16_000) > 0.9, "out.wav holds the peer's 400 Hz tone")
    }

    @Test(
        "sauti call --codec opus --ptime 40: a 16 kHz WAV reaches an Opus leg as Opus, 40 ms a packet; its tone comes back",
        .timeLimit(.minutes(1)))
    func direct() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try bandLimitedSpeech(seconds: 2, rate: 16_000)
        let wav = dir + "/speech16k.wav"
        try OpusInteropTests.wav16k(source, to: wav)
        let engine = try OpusLegTests.engine(first: 42_500, last: 42_529)
        defer { engine.shutdown() }
        let (b, heard) = try Self.peer(engine, payloadType: 100)
        let out = dir + "/out.wav"
        let report = try await Self.call(
            [
                "127.0.0.1:\(b.local.port)", "--codec", "opus", "--payload-type", "100", "--ptime", "40", "--wav", wav,
                "--duration", "3", "--record", out, "--local-port", "42560",
            ], dir: dir)
        b.close()
        try Self.check(
            peer: b, heard: heard.samples, source: source, out: out, report: report, ptime: 40, payloadType: 100)
    }

    @Test(
        "sauti call --sdp-in answers an Opus offer (ptime 60): it sends Opus as offered and writes an answer naming opus",
        .timeLimit(.minutes(1)))
    func answersOffer() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try bandLimitedSpeech(seconds: 2, rate: 16_000)
        let wav = dir + "/speech16k.wav"
        try OpusInteropTests.wav16k(source, to: wav)
        let engine = try OpusLegTests.engine(first: 42_530, last: 42_559)
        defer { engine.shutdown() }
        // The peer's offer: Opus (numbered 96 as the first dynamic type), then PCMU; 60 ms.
        let (b, heard) = try Self.peer(engine, payloadType: 96)
        var session = SDPSession(
            config: SDPLocalConfig(
                address: .v4(0x7F00_0001),
                codecPreference: [.opus(receiving: OpusLegSettings().receiveParameters), .pcmu],
                ptimeMilliseconds: 60),
            localPort: b.local.port, sessionID: 7)
        let offer = session.offer()
        try #require(offer.contains("a=rtpmap:96 opus/48000/2") && offer.contains("a=ptime:60"), "\(offer)")
        try offer.write(toFile: dir + "/offer.sdp", atomically: true, encoding: .utf8)
        let out = dir + "/out.wav"
        let report = try await Self.call(
            [
                "--sdp-in", dir + "/offer.sdp", "--sdp-out", dir + "/answer.sdp", "--wav", wav, "--duration", "3",
                "--record", out, "--local-port", "42562",
            ], dir: dir)
        b.close()
        try Self.check(
            peer: b, heard: heard.samples, source: source, out: out, report: report, ptime: 60, payloadType: 96)
        // The answer applies to the offer: Opus, to the caller's port.
        let answer = try String(contentsOfFile: dir + "/answer.sdp", encoding: .utf8)
        let media = try session.applyAnswer(answer).media
        #expect(media.codec.isOpus && media.payloadType == 96, "\(answer)")
        #expect(media.remoteRTP == Endpoint(address: .v4(0x7F00_0001), port: 42_562), "\(answer)")
        #expect(media.opusSendParameters?.remote.maxPlaybackRate == 16_000, "the answer says the call plays 16 kHz")
    }
}
