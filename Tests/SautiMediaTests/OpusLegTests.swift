import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import Testing

// Opus on legs: the jitter buffer's Opus side as scripted traces (no network), then legs
// on loopback (Opus to Opus, PCMU bridged to Opus). Ports 41000-41199.

/// 20 ms Opus packets of `pcm` at `rate`.
func opusPackets(_ pcm: [Int16], rate: Int, settings: OpusEncoderSettings = OpusEncoderSettings()) throws -> [[UInt8]] {
    let encoder = try OpusEncoder(sampleRate: rate, settings: settings)
    let n = rate / 50
    var buffer = [UInt8](repeating: 0, count: 1500)
    var packets: [[UInt8]] = []
    for start in stride(from: 0, to: pcm.count - n + 1, by: n) {
        let length = pcm[start..<(start + n)].withUnsafeBufferPointer { frame in
            buffer.withUnsafeMutableBytes { encoder.encode(frame, into: $0) }
        }
        packets.append(Array(buffer[0..<length]))
    }
    return packets
}

/// The speech-like test signal made at 16 kHz (so within the band a voice codec keeps; at
/// 48 kHz its hiss would reach 24 kHz, which Opus codes by energy, not waveform), at `rate`.
func bandLimitedSpeech(seconds: Double, rate: Int) throws -> [Int16] {
    let wide = Similarity.speechLike(seconds: seconds, seed: 0x0905, rate: 16_000)
    return rate == 16_000 ? wide : try resampled(wide, from: 16_000, to: rate)
}

/// How well `recording` (at `recordingRate`) matches `reference` (at `referenceRate`):
/// both taken to 8 kHz (cheap enough not to starve the other tests' tasks; the test signals
/// keep their voice band there), one lag for the whole, then each 125 ms at its own lag
/// within three frames of it (a live jitter buffer steps its delay by whole frames).
func opusSimilarity(_ reference: [Int16], _ referenceRate: Int, _ recording: [Int16], _ recordingRate: Int) throws
    -> (lag: Int, ncc: Double, segmented: Double, lags: [Int])
{
    let x = referenceRate == 8000 ? reference : try resampled(reference, from: referenceRate, to: 8000)
    let y = recordingRate == 8000 ? recording : try resampled(recording, from: recordingRate, to: 8000)
    let (lag, ncc) = Similarity.best(x, y, searchSamples: 800)
    let (segmented, lags) = Similarity.segmental(x, y, lag: lag, segmentSamples: 1000, driftSamples: 480)
    return (lag, ncc, segmented, lags)
}

/// `samples` from `from` Hz to `to` Hz through libspeexdsp, whole.
func resampled(_ samples: [Int16], from: Int, to: Int) throws -> [Int16] {
    let r = try Resampler(inputRate: from, outputRate: to)
    var out = [Int16](repeating: 0, count: samples.count * to / from + 64)
    var produced = samples.withUnsafeBufferPointer { input in
        out.withUnsafeMutableBufferPointer { r.process(input: input, output: $0).produced }
    }
    produced += out.withUnsafeMutableBufferPointer {
        r.flush(into: UnsafeMutableBufferPointer(rebasing: $0[produced...]))
    }
    return Array(out[0..<produced])
}

@Suite struct OpusJitterBufferTests {
    /// One scripted packet: its index on the 20 ms grid, and how it is sent.
    enum Step {
        case send(Int)
        case lose(Int)
        case corrupt(Int)
    }

    /// Runs packets `0..<count` through a live buffer at 16 kHz, one per 20 ms (index `i`
    /// arrives at `i × 20 ms`), with `skip` deciding which are lost, corrupted, or
    /// withheld as DTX (timestamp advances, sequence does not); returns the statistics and
    /// the audio played.
    static func run(
        count: Int, settings: OpusEncoderSettings = OpusEncoderSettings(), lose: Set<Int> = [],
        corrupt: Set<Int> = [], dtx: Range<Int>? = nil, rate: Int = 16_000
    ) throws -> (LiveJitterBuffer.Statistics, [Int16], [Int16]) {
        let source = try bandLimitedSpeech(seconds: Double(count) / 50, rate: rate)
        let packets = try opusPackets(source, rate: rate, settings: settings)
        var jb = LiveJitterBuffer(codec: .opus, sampleRate: rate, minDelayMilliseconds: 40)
        var out: [Int16] = []
        var frame = [Int16](repeating: 0, count: rate / 50)
        var sequence: UInt16 = 500
        let ms: Int64 = 1_000_000
        for i in 0..<count {
            if i < count && !lose.contains(i) && !(dtx?.contains(i) ?? false) {
                var payload = packets[i]
                if corrupt.contains(i) { payload = [0x0B, 0xFF, 0xFF, 0x00] }  // a code-3 TOC with a bad frame count
                _ = payload.withUnsafeBytes {
                    jb.put(
                        ssrc: 7, timestamp: UInt32(1000 + i * 960), arrival: Int64(i) * 20 * ms, payload: $0,
                        sequence: sequence)
                }
            }
            // A lost packet used a sequence number; a DTX pause does not.
            if !(dtx?.contains(i) ?? false) { sequence &+= 1 }
            _ = frame.withUnsafeMutableBufferPointer { jb.tick(now: Int64(i) * 20 * ms + ms, into: $0) }
            out += frame
        }
        return (jb.statistics, out, source)
    }

    @Test("lossless: every frame decoded, none concealed")
    func clean() throws {
        let (s, out, _) = try Self.run(count: 100)
        #expect(s.concealedFrames == 0 && s.recoveredFrames == 0 && s.dtxFrames == 0 && s.decodeErrors == 0, "\(s)")
        #expect(s.decodedFrames >= 96, "\(s)")
        #expect(out.contains { $0 != 0 })
    }

    @Test(
        "lossless at 64 kb/s: the decode matches the source (NCC ≥ 0.9; 0.85 at 48 kHz)", arguments: [16_000, 48_000])
    func fidelity(rate: Int) throws {
        var settings = OpusEncoderSettings()
        settings.bitrate = 64_000
        let (s, out, source) = try Self.run(count: 100, settings: settings, rate: rate)
        let (lag, ncc, _, _) = try opusSimilarity(source, rate, out, rate)
        print("opus jitter buffer \(rate) Hz: NCC \(ncc) at lag \(lag); \(s)")
        // At 48 kHz libopus codes voice in hybrid mode, whose waveform match is looser.
        #expect(ncc >= (rate == 48_000 ? 0.85 : 0.9), "NCC \(ncc) at lag \(lag)")
        #expect(s.decodedFrames >= 96 && s.concealedFrames == 0)
    }

    @Test("one packet lost: rebuilt from the next packet's FEC, nothing concealed")
    func fec() throws {
        let (s, _, _) = try Self.run(count: 100, lose: [40])
        #expect(s.recoveredFrames == 1 && s.concealedFrames == 0, "\(s)")
    }

    @Test("one packet lost with FEC off at the sender: one frame concealed by libopus PLC")
    func plc() throws {
        var settings = OpusEncoderSettings()
        settings.inbandFEC = false
        let (s, _, _) = try Self.run(count: 100, settings: settings, lose: [40])
        // libopus 1.3 cannot say whether a packet carries FEC (opus_packet_has_lbrr came in
        // 1.5): asked for FEC it conceals, so the frame counts as recovered or concealed.
        #expect(s.concealedFrames + s.recoveredFrames == 1 && s.decodedFrames >= 95, "\(s)")
    }

    @Test("two packets lost in a row: the first concealed, the second rebuilt from FEC")
    func burst() throws {
        let (s, _, _) = try Self.run(count: 100, lose: [40, 41])
        #expect(s.concealedFrames == 1 && s.recoveredFrames == 1, "\(s)")
    }

    @Test("a DTX pause (timestamps jump, sequence numbers do not) is silence, not loss")
    func dtxPause() throws {
        let (s, out, _) = try Self.run(count: 100, dtx: 30..<50)
        #expect(s.dtxFrames >= 18 && s.concealedFrames == 0 && s.recoveredFrames == 0, "\(s)")
        // PLC fades out over 200 ms; then the pause is digital silence.
        let pause = out[(44 * 320)..<(50 * 320)]
        #expect(pause.allSatisfy { $0 == 0 })
    }

    @Test("a corrupt packet is concealed and counted; decoding goes on")
    func corruptPacket() throws {
        let (s, _, _) = try Self.run(count: 100, corrupt: [20, 60])
        #expect(s.decodeErrors == 2 && s.concealedFrames == 2, "\(s)")
        #expect(s.decodedFrames >= 96)
    }
}

@Suite(.serialized) struct OpusLegTests {
    static func engine(first: UInt16, last: UInt16, workers: Int = 1) throws -> MediaEngine {
        var c = MediaEngineConfiguration(workers: workers)
        c.firstPort = first
        c.lastPort = last
        return try MediaEngine(configuration: c)
    }

    /// A transcoded call's four legs: P talks PCMU to X, Q talks Opus to Y (X and Y are
    /// the engine's side, to be bridged).
    static func transcodedCall(_ engine: MediaEngine) throws -> (p: MediaLeg, x: MediaLeg, y: MediaLeg, q: MediaLeg) {
        var pc = LegConfiguration(codec: .pcmu)
        pc.mediaTimeoutMilliseconds = 0
        let x = try engine.openLeg(pc)
        let y = try engine.openLeg(opusConfiguration())
        pc.remote = x.local
        let p = try engine.openLeg(pc)
        let q = try engine.openLeg(opusConfiguration(remote: y.local))
        var xc = pc
        xc.remote = p.local
        x.update(xc)
        y.update(opusConfiguration(remote: q.local))
        return (p, x, y, q)
    }

    static func opusConfiguration(rate: Int = 16_000, remote: Endpoint? = nil) -> LegConfiguration {
        var c = LegConfiguration(codec: .opus, remote: remote)
        c.opus.sampleRate = rate
        c.opus.encoder.bitrate = 64_000  // transparent enough for a waveform comparison
        c.mediaTimeoutMilliseconds = 0
        return c
    }

    @Test(
        "an Opus leg sends speech to another Opus leg on loopback; the receiver decodes it (NCC ≥ 0.9)",
        .timeLimit(.minutes(1)), arguments: [8000, 16_000])
    func opusToOpus(rate: Int) async throws {
        let engine = try Self.engine(first: rate == 16_000 ? 41_000 : 41_050, last: rate == 16_000 ? 41_049 : 41_099)
        defer { engine.shutdown() }
        let source = try bandLimitedSpeech(seconds: 2, rate: rate)
        // A fixed delay at the receiver: this checks the codec path, not the buffer's steps.
        var bc = Self.opusConfiguration(rate: rate)
        bc.minJitterDelayMilliseconds = 100
        bc.maxJitterDelayMilliseconds = 100
        let b = try engine.openLeg(bc)
        let recorder = PCMRecorderSink(maximumSeconds: 6, sampleRate: rate)
        b.addSink(recorder)
        let a = try engine.openLeg(Self.opusConfiguration(rate: rate, remote: b.local))
        a.setSource(PCMSource(samples: source))
        try await Task.sleep(for: .milliseconds(2600))
        a.close()
        b.close()
        let (lag, ncc, segmented, lags) = try opusSimilarity(source, rate, recorder.samples, rate)
        let stats = b.statistics
        print(
            "opus leg -> opus leg at \(rate) Hz: NCC \(String(format: "%.4f", ncc)) at lag \(lag), "
                + "\(String(format: "%.4f", segmented)) by segment (lags \(Set(lags).sorted())); "
                + "\(stats.packetsReceived) packets, concealed \(stats.concealedFrames), stretched "
                + "\(stats.stretchedFrames), skipped \(stats.skippedFrames)")
        #expect(segmented >= 0.9, "NCC \(segmented) by segment, \(ncc) at lag \(lag)")
        #expect(stats.packetsReceived >= 100 && stats.decodeErrors == 0)
        #expect(
            a.statistics.encodeErrors == 0 && a.statistics.bytesSent < a.statistics.packetsSent * 200,
            "VBR voice, not PCM")
    }

    @Test(
        "an 8 kHz WAV played on a 16 kHz Opus leg is resampled (libspeexdsp) and heard at the far end",
        .timeLimit(.minutes(1)))
    func playFileOnOpusLeg() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let narrow = try resampled(try bandLimitedSpeech(seconds: 2, rate: 16_000), from: 16_000, to: 8000)
        try writeWAV(narrow, to: dir + "/prompt.wav")
        let engine = try Self.engine(first: 41_250, last: 41_299)
        defer { engine.shutdown() }
        var bc = Self.opusConfiguration()
        bc.minJitterDelayMilliseconds = 100
        bc.maxJitterDelayMilliseconds = 100
        let b = try engine.openLeg(bc)
        let heard = PCMRecorderSink(maximumSeconds: 6, sampleRate: 16_000)
        b.addSink(heard)
        let a = try engine.openLeg(Self.opusConfiguration(remote: b.local))
        let playback = a.play(file: dir + "/prompt.wav")
        try await Task.sleep(for: .milliseconds(2800))
        a.close()
        b.close()
        let (lag, ncc, segmented, _) = try opusSimilarity(narrow, 8000, heard.samples, 16_000)
        print(
            "play 8 kHz file on a 16 kHz opus leg: NCC \(String(format: "%.4f", ncc)) at lag \(lag), "
                + "\(String(format: "%.4f", segmented)) by segment; played \(playback.samplesPlayed) samples, "
                + "underruns \(playback.underrunFrames) frames; stretched \(b.statistics.stretchedFrames), "
                + "skipped \(b.statistics.skippedFrames)")
        #expect(playback.samplesPlayed >= 31_000 && playback.underrunFrames == 0)
        // Played at the wrong rate the correlation would be near 0.
        #expect(segmented >= 0.9, "NCC \(segmented) by segment, \(ncc) at lag \(lag)")
    }

    @Test(
        "RFC 4733 digits between Opus legs run on the 48 kHz clock (durations in ms come out right)",
        .timeLimit(.minutes(1)))
    func digits() async throws {
        let engine = try Self.engine(first: 41_450, last: 41_499)
        defer { engine.shutdown() }
        let b = try engine.openLeg(Self.opusConfiguration())
        let log = EventLog(b)
        let a = try engine.openLeg(Self.opusConfiguration(remote: b.local))
        try await Task.sleep(for: .milliseconds(200))
        let sent = ContinuousClock.now
        a.sendDigits("19#", durationMilliseconds: 120)
        var digits: [(Character, Int)] = []
        for _ in 0..<300 where digits.count < 3 {
            digits = log.all.compactMap { if case .digit(let d, let ms) = $0 { (d, ms) } else { nil } }
            try await Task.sleep(for: .milliseconds(10))
        }
        let elapsed = ContinuousClock.now - sent
        a.close()
        b.close()
        #expect(String(digits.map(\.0)) == "19#")
        // Three 120 ms events and two 40 ms gaps: the events advance 960 units a tick (at 160
        // a tick, as on an 8 kHz clock, each would last 720 ms: over 2 s in all). Loose: the
        // polling above can wake late beside the whole suite; the durations are the measure.
        #expect(elapsed < .milliseconds(1800), "\(elapsed) for three 120 ms digits")
        #expect(digits.allSatisfy { (100...140).contains($0.1) }, "durations \(digits.map(\.1)) ms")
    }

    @Test(
        "a PCMU leg bridged to an Opus leg: speech goes through both ways, transcoded and resampled (NCC ≥ 0.85)",
        .timeLimit(.minutes(1)))
    func bridgePCMUToOpus() async throws {
        let engine = try Self.engine(first: 41_100, last: 41_199, workers: 2)
        defer { engine.shutdown() }
        // The far ends: P talks PCMU to X; Q talks Opus to Y; X and Y are bridged. Every jitter
        // buffer holds a fixed delay: this checks the transcoding, not how two adaptive
        // buffers in series step their delays on a busy machine.
        func fixed(_ c: LegConfiguration) -> LegConfiguration {
            var c = c
            c.minJitterDelayMilliseconds = 100
            c.maxJitterDelayMilliseconds = 100
            return c
        }
        var pc = fixed(LegConfiguration(codec: .pcmu))
        pc.mediaTimeoutMilliseconds = 0
        let x = try engine.openLeg(pc)
        let y = try engine.openLeg(fixed(Self.opusConfiguration()))
        pc.remote = x.local
        let p = try engine.openLeg(pc)
        let q = try engine.openLeg(fixed(Self.opusConfiguration(remote: y.local)))
        var xc = pc
        xc.remote = p.local
        x.update(xc)
        y.update(fixed(Self.opusConfiguration(remote: q.local)))
        let bridge = LegBridge(x, y)
        let narrow = Similarity.speechLike(seconds: 2, seed: 0x0A, rate: 8000)
        let wide = Similarity.speechLike(seconds: 2, seed: 0x0B, rate: 16_000)
        let atQ = PCMRecorderSink(maximumSeconds: 6, sampleRate: 16_000)
        let atP = PCMRecorderSink(maximumSeconds: 6, sampleRate: 8000)
        q.addSink(atQ)
        p.addSink(atP)
        try await Task.sleep(for: .milliseconds(200))
        p.setSource(PCMSource(samples: narrow))
        q.setSource(PCMSource(samples: wide))
        try await Task.sleep(for: .milliseconds(3000))
        bridge.stop()
        for l in [p, q, x, y] { l.close() }
        let toWide = try resampled(Similarity.g711RoundTrip(narrow, .ulaw), from: 8000, to: 16_000)
        let toNarrow = try resampled(wide, from: 16_000, to: 8000)
        let (lagQ, _, nccQ, _) = try opusSimilarity(toWide, 16_000, atQ.samples, 16_000)
        let (lagP, _, nccP, _) = try opusSimilarity(toNarrow, 8000, atP.samples, 8000)
        print(
            "bridge PCMU -> Opus: NCC \(String(format: "%.4f", nccQ)) at lag \(lagQ); Opus -> PCMU: NCC "
                + "\(String(format: "%.4f", nccP)) at lag \(lagP); underruns \(bridge.underruns)")
        // Two live jitter buffers in series (the G.711 one steps its delay on a one-frame
        // window by design) and the bridge's ring: under a loaded test run a step or two
        // costs a few hundredths. Without resampling or transcoding this is near 0.
        #expect(nccQ >= 0.85, "PCMU -> Opus: NCC \(nccQ) at lag \(lagQ)")
        #expect(nccP >= 0.85, "Opus -> PCMU: NCC \(nccP) at lag \(lagP)")
    }
}

/// SDP to leg settings: the remote's fmtp shapes the Opus encoder.
@Suite struct OpusNegotiationTests {
    static func fixture(_ name: String) throws -> String {
        try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("audio-fixtures/sdp/\(name)"), encoding: .utf8)
    }

    static func answer(_ name: String) throws -> NegotiatedMedia {
        var session = SDPSession(
            config: SDPLocalConfig(
                address: .v4(0x7F00_0001),
                codecPreference: [.opus(receiving: OpusLegSettings().receiveParameters), .pcmu, .pcma]),
            localPort: 41_600, sessionID: 1)
        return try session.answer(toOffer: try fixture(name)).media
    }

    @Test("FreeSWITCH (maxaveragebitrate=30000, FEC): a 64 kb/s leg is capped at 30 kb/s, FEC on, DTX off")
    func freeswitch() throws {
        var base = LegConfiguration(codec: .opus)
        base.opus.encoder.bitrate = 64_000
        let c = try #require(LegConfiguration(negotiated: try Self.answer("freeswitch.sdp"), base: base))
        #expect(c.codec == .opus && c.payloadType == 102 && c.sampleRate == 16_000)
        #expect(c.opus.encoder.bitrate == 30_000 && c.opus.encoder.inbandFEC && !c.opus.encoder.dtx)
        #expect(c.opus.encoder.maxPlaybackRate == nil, "maxplaybackrate=48000 caps nothing")
    }

    @Test("a peer asking for DTX and CBR without FEC gets them; its bad values change nothing")
    func dtxAndCBR() throws {
        let c = try #require(LegConfiguration(negotiated: try Self.answer("opus-bad-fmtp.sdp")))
        #expect(c.codec == .opus && c.payloadType == 98 && c.telephoneEventPayloadType == 101)
        #expect(c.opus.encoder.dtx && c.opus.encoder.constantBitrate && !c.opus.encoder.inbandFEC)
        #expect(c.opus.encoder.bitrate == 24_000)
    }

    @Test("Linphone (events at 48 kHz): Opus PT 96, telephone-event 101 at the Opus clock")
    func linphone() throws {
        let c = try #require(LegConfiguration(negotiated: try Self.answer("linphone.sdp")))
        #expect(c.codec == .opus && c.payloadType == 96 && c.telephoneEventPayloadType == 101)
        #expect(c.opus.encoder.inbandFEC)
    }

    @Test("our fmtp says what the leg plays: 16 kHz, mono, FEC welcome")
    func ourFmtp() {
        #expect(
            OpusLegSettings().receiveParameters.fmtp
                == "minptime=10;maxplaybackrate=16000;sprop-maxcapturerate=16000;stereo=0;useinbandfec=1")
        var s = OpusLegSettings()
        s.sampleRate = 44_100
        #expect(s.effectiveSampleRate == 16_000)
    }
}
