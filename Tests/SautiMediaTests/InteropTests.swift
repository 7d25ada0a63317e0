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

// Legs against real peers on loopback: ffmpeg sends PCMU/PCMA to a leg and receives
// what a leg sends (from an SDP file); the RFC 4733 captures of the corpus are sent to a
// leg at their original timing; `sauti call` calls a leg opened here. Ports 33000-33999.

/// Where the package's files and tools are, found from this source file.
enum InteropPaths {
    /// The package root.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// ../shared/corpus beside the checkout (present for developers and CI).
    static let corpus = root.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    /// Whether the shared corpus is there.
    static var hasCorpus: Bool {
        FileManager.default.fileExists(atPath: corpus.appendingPathComponent("MANIFEST.md").path)
    }

    /// ffmpeg on the PATH (scripts/setup.sh installs it), nil when absent.
    static let ffmpeg: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let p = "\(dir)/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }()

    /// The built `sauti` executable, next to the test bundle.
    static var sauti: String { builtExecutable("sauti", packageRoot: root) }

    /// A fresh temporary folder.
    static func temporaryDirectory() -> String { makeTemporaryDirectory(prefix: "sauti-interop") }
}


/// Audio comparison for the interop tests.
enum Similarity {
    /// `samples` through G.711 and back: what a perfect link delivers.
    static func g711RoundTrip(_ samples: [Int16], _ law: G711Law) -> [Int16] {
        switch law {
        case .ulaw: return samples.map { G711.decodeULaw(G711.encodeULaw($0)) }
        case .alaw: return samples.map { G711.decodeALaw(G711.encodeALaw($0)) }
        }
    }

    /// Normalized cross-correlation of `reference` with `recording` shifted by `lag`
    /// (`recording[i + lag]` against `reference[i]`), over their overlap.
    static func ncc(_ reference: [Int16], _ recording: [Int16], lag: Int, range: Range<Int>? = nil) -> Double {
        let r = range ?? 0..<reference.count
        let lo = max(r.lowerBound, -lag)
        let hi = min(r.upperBound, recording.count - lag)
        guard lo < hi else { return 0 }
        var xy = 0.0
        var xx = 0.0
        var yy = 0.0
        reference.withUnsafeBufferPointer { x in
            recording.withUnsafeBufferPointer { y in
                for i in lo..<hi {
                    let a = Double(x[i])
                    let b = Double(y[i + lag])
                    xy += a * b
                    xx += a * a
                    yy += b * b
                }
            }
        }
        return xx == 0 || yy == 0 ? 0 : xy / (xx * yy).squareRoot()
    }

    /// The lag of `recording` that best matches `reference` (searched around where their
    /// sound starts), and the correlation there: (lag in samples, NCC).
    static func best(
        _ reference: [Int16], _ recording: [Int16], range: Range<Int>? = nil, searchSamples: Int = 480
    ) -> (lag: Int, ncc: Double) {
        func onset(_ s: [Int16]) -> Int { s.firstIndex { abs(Int($0)) > 200 } ?? 0 }
        let start = range?.lowerBound ?? 0
        let guess = onset(recording) - (start + onset(Array(reference[start...])))
        // Coarse: correlate a 1 s window at every lag; then the full overlap at the best one.
        let window = start..<min(reference.count, start + 8000)
        var bestLag = guess
        var bestValue = -2.0
        for lag in (guess - searchSamples)...(guess + searchSamples) {
            let v = ncc(reference, recording, lag: lag, range: window)
            if v > bestValue {
                bestValue = v
                bestLag = lag
            }
        }
        return (bestLag, ncc(reference, recording, lag: bestLag, range: range))
    }

    /// Correlation after alignment segment by segment: `reference` cut in segments of
    /// `segmentSamples`, each matched at its best lag within `driftSamples` of `lag`, and the
    /// products summed over all of them (so louder segments weigh more). A live jitter buffer
    /// adapts by whole frames — it stretches (inserts a concealed frame) or skips one as the
    /// delay it needs changes — and each such step moves the rest of the audio by 20 ms; a
    /// single lag over the whole would count that as a mismatch, not the decode.
    static func segmental(
        _ reference: [Int16], _ recording: [Int16], lag: Int, segmentSamples: Int = 2000, driftSamples: Int = 480
    ) -> (ncc: Double, lags: [Int]) {
        var xy = 0.0
        var xx = 0.0
        var yy = 0.0
        var lags: [Int] = []
        var start = 0
        while start < reference.count {
            let range = start..<min(reference.count, start + segmentSamples)
            var best = (lag: lag, value: -2.0)
            for l in stride(from: lag - driftSamples, through: lag + driftSamples, by: 1) {
                let v = ncc(reference, recording, lag: l, range: range)
                if v > best.value { best = (l, v) }
            }
            lags.append(best.lag)
            let lo = max(range.lowerBound, -best.lag)
            let hi = min(range.upperBound, recording.count - best.lag)
            if lo < hi {
                for i in lo..<hi {
                    let a = Double(reference[i])
                    let b = Double(recording[i + best.lag])
                    xy += a * b
                    xx += a * a
                    yy += b * b
                }
            }
            start = range.upperBound
        }
        return (xx == 0 || yy == 0 ? 0 : xy / (xx * yy).squareRoot(), lags)
    }

    /// A speech-like test signal: voiced syllables (a gliding pitch with formant-shaped
    /// harmonics), some noisy ones, and short pauses; peaks near -6 dBFS. Seeded.
    static func speechLike(seconds: Double, seed: UInt64, rate: Int = 8000) -> [Int16] {
        var rng = SplitMix64(seed: seed)
        let total = Int(seconds * Double(rate))
        var out = [Double](repeating: 0, count: total)
        var t = 0
        var first = true
        while t < total {
            let length = Int(Double(rate) * (0.15 + 0.2 * rng.unit()))
            let n = min(length, total - t)
            let noisy = !first && rng.unit() < 0.2
            first = false
            let f0Start = 100 + 120 * rng.unit()
            let f0End = f0Start * (0.8 + 0.4 * rng.unit())
            let formants = [300 + 500 * rng.unit(), 900 + 1300 * rng.unit(), 2400 + 400 * rng.unit()]
            var phases = [Double](repeating: 0, count: 40)
            var previousNoise = 0.0
            for i in 0..<n {
                let p = Double(i) / Double(n)
                let envelope = sin(Double.pi * p)  // syllable rise and fall
                var v = 0.0
                if noisy {
                    let w = 2 * rng.unit() - 1
                    v = (w - previousNoise) * 0.5  // differenced noise: a fricative's hiss
                    previousNoise = w
                } else {
                    let f0 = f0Start + (f0End - f0Start) * p
                    var k = 1
                    while Double(k) * f0 < 3600 && k <= phases.count {
                        let f = Double(k) * f0
                        var a = 0.0
                        for (j, formant) in formants.enumerated() {
                            let bandwidth = 80.0 + 60 * Double(j)
                            a += 1 / (1 + ((f - formant) / bandwidth) * ((f - formant) / bandwidth)) / Double(j + 1)
                        }
                        phases[k - 1] += 2 * Double.pi * f / Double(rate)
                        v += a * sin(phases[k - 1])
                        k += 1
                    }
                    v *= 0.35
                }
                out[t + i] = envelope * v
            }
            t += n
            if rng.unit() < 0.3 { t += Int(Double(rate) * 0.06) }  // a pause
        }
        let peak = out.map { abs($0) }.max() ?? 1
        return out.map { Int16(($0 / max(peak, 1e-9) * 16_000).rounded()) }
    }
}


/// Collects a leg's events until it closes.
final class EventLog: Sendable {
    private final class Store: Sendable {
        let events = Mutex<[LegEvent]>([])
    }
    private let store = Store()
    private let task: Task<Void, Never>

    init(_ leg: MediaLeg) {
        let store = self.store
        task = Task {
            for await e in leg.events { store.events.withLock { $0.append(e) } }
        }
    }

    /// Waits until the leg's events end (after `.closed`), up to `seconds`. Polls: awaiting
    /// the collecting task's value would ignore the deadline when the events never end.
    func finished(seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if store.events.withLock({ $0.contains(.closed) }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    var all: [LegEvent] { store.events.withLock { $0 } }
    /// The `.digit` events' digits, in order.
    var digits: String {
        String(all.compactMap { if case .digit(let d, _) = $0 { return d } else { return nil } })
    }
    /// The recordings' outcomes, in order.
    var recordings: [RecordingOutcome] {
        all.compactMap { if case .recordingFinished(let o) = $0 { return o } else { return nil } }
    }
}

/// ffmpeg receiving RTP at 127.0.0.1:`port` as a recvonly SDP offer for `codec` describes
/// it (written by SautiWire's offer writer), decoding `seconds` of it to `out` at `rate`.
/// Returns once ffmpeg listens (it starts slowly on a loaded machine: up to 30 s), so the
/// start of what a leg sends is not lost.
func startFFmpegReceiver(
    codec: AudioCodecSpec, port: UInt16, seconds: Double, rate: Int, out: String, dir: String, decoder: String? = nil
) async throws -> BoundedProcess {
    let sdpPath = dir + "/leg.sdp"
    var session = SDPSession(
        config: SDPLocalConfig(address: .v4(0x7F00_0001), codecPreference: [codec], telephoneEvent: false, rtcpMux: false),
        localPort: port, sessionID: 1)
    try session.offer(direction: .recvonly).write(toFile: sdpPath, atomically: true, encoding: .utf8)
    let ffmpeg = try BoundedProcess(
        try #require(InteropPaths.ffmpeg),
        [
            "-hide_banner", "-nostdin", "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp",
            // Wait up to a minute for the first packet (ffmpeg's default is 10 s): beside the
            // whole suite, this test's task can be held up that long before its leg sends.
            "-listen_timeout", "60",
        ] + (decoder.map { ["-c:a", $0] } ?? []) + [
            "-i", sdpPath, "-t", String(format: "%.2f", seconds), "-ar", String(rate), "-ac", "1", "-y", out,
        ], log: dir + "/ffmpeg.log")
    let listening = ContinuousClock.now + .seconds(30)
    while !udpPortBound(port) && ContinuousClock.now < listening && ffmpeg.process.isRunning {
        try await Task.sleep(for: .milliseconds(10))
    }
    #expect(udpPortBound(port), "ffmpeg listens on \(port): \(ffmpeg.log)")
    return ffmpeg
}

/// Whether some socket listens on UDP `port` of 127.0.0.1 or any address (from /proc/net/udp).
func udpPortBound(_ port: UInt16) -> Bool {
    guard let table = try? String(contentsOfFile: "/proc/net/udp", encoding: .utf8) else { return false }
    let suffix = String(format: ":%04X", port)
    return table.split(separator: "\n").dropFirst().contains { line in
        let fields = line.split(separator: " ")
        guard fields.count > 1 else { return false }
        let local = fields[1]
        return local.hasSuffix(suffix) && (local.hasPrefix("0100007F") || local.hasPrefix("00000000"))
    }
}

/// Writes `samples` as a 16-bit 8 kHz mono WAV.
func writeWAV(_ samples: [Int16], to path: String, sampleRate: Int = 8000) throws {
    let w = try WAVWriter(path: path, sampleRate: sampleRate)
    try w.write(samples)
    try w.close()
}

let ffmpegMissing = "ffmpeg is not installed (scripts/setup.sh installs it; CI has it)"

@Suite(.serialized) struct InteropTests {
    static func engine(first: UInt16, last: UInt16) throws -> MediaEngine {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = first
        c.lastPort = last
        return try MediaEngine(configuration: c)
    }

    /// The test signal: 3 s of speech-like audio.
    static let source = Similarity.speechLike(seconds: 3, seed: 0x5A_0717)

    @Test(
        "ffmpeg sends G.711 RTP to a leg; what the leg decodes matches the source",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)), .timeLimit(.minutes(1)),
        arguments: [AudioCodec.pcmu, .pcma])
    func ffmpegToLeg(codec: AudioCodec) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wav = dir + "/source.wav"
        try writeWAV(Self.source, to: wav)
        let engine = try Self.engine(first: 33_000, last: 33_099)
        defer { engine.shutdown() }
        var configuration = LegConfiguration(codec: codec)
        configuration.mediaTimeoutMilliseconds = 0
        // A fixed delay over ffmpeg's 256 ms bursts: this checks what the leg decodes, not how
        // the jitter buffer adapts to bursts on a busy machine (BurstyArrivalTests does that).
        configuration.minJitterDelayMilliseconds = 320
        configuration.maxJitterDelayMilliseconds = 320
        let leg = try engine.openLeg(configuration)
        let recorder = PCMRecorderSink(maximumSeconds: 20, sampleRate: 8000)
        leg.addSink(recorder)

        let encoder = codec == .pcmu ? "pcm_mulaw" : "pcm_alaw"
        let pt = codec == .pcmu ? "0" : "8"
        let ffmpeg = try BoundedProcess(
            InteropPaths.ffmpeg!,
            [
                "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", wav, "-ar", "8000", "-ac", "1",
                "-c:a", encoder, "-payload_type", pt, "-f", "rtp", "rtp://127.0.0.1:\(leg.local.port)",
            ], log: dir + "/ffmpeg.log")
        let (status, killed) = await ffmpeg.wait(seconds: 20)
        #expect(status == 0 && !killed, "ffmpeg: \(ffmpeg.log)")
        try await Task.sleep(for: .milliseconds(900))  // the jitter buffer plays out the rest
        leg.close()
        let recorded = recorder.samples
        let stats = leg.statistics
        let reference = Similarity.g711RoundTrip(Self.source, codec == .pcmu ? .ulaw : .alaw)
        // One lag for the whole, then each 250 ms segment at its own: ffmpeg sends a 182 ms and
        // a 74 ms packet back to back every 256 ms, and the jitter buffer may step its delay by
        // a frame as the bursts' lateness varies.
        let (lag, ncc) = Similarity.best(reference, recorded)
        let (segmented, lags) = Similarity.segmental(reference, recorded, lag: lag)
        print(
            "interop ffmpeg -> leg \(codec): NCC \(String(format: "%.5f", ncc)) at lag \(lag) samples, "
                + "\(String(format: "%.5f", segmented)) by segment (lags \(Set(lags).sorted())); "
                + "\(stats.packetsReceived) packets, \(stats.bytesReceived) bytes, lost \(stats.packetsLost), "
                + "late \(stats.late), concealed \(stats.concealedFrames)")
        #expect(stats.bytesReceived >= Self.source.count, "every sample arrived")
        #expect(stats.packetsLost == 0 && stats.late == 0)
        #expect(
            segmented >= 0.95,
            "normalized cross-correlation \(segmented) by segment (lags \(lags)); \(ncc) at one lag \(lag)")
        #expect(Set(lags).count <= 3, "at most two steps of the playout delay in 3 s: lags \(lags)")
    }

    @Test(
        "a leg sends to ffmpeg (from an SDP file); ffmpeg's decode matches the source",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)), .timeLimit(.minutes(1)),
        arguments: [AudioCodec.pcmu, .pcma])
    func legToFFmpeg(codec: AudioCodec) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try Self.engine(first: 33_100, last: 33_199)
        defer { engine.shutdown() }
        // ffmpeg receives on the port the SDP names; the leg sends there.
        let ffmpegPort: UInt16 = codec == .pcmu ? 33_200 : 33_210
        let out = dir + "/out.wav"
        let seconds = Double(Self.source.count) / 8000 + 0.6
        let ffmpeg = try await startFFmpegReceiver(
            codec: codec == .pcmu ? .pcmu : .pcma, port: ffmpegPort, seconds: seconds, rate: 8000, out: out, dir: dir)
        var configuration = LegConfiguration(
            codec: codec, remote: Endpoint(address: .v4(0x7F00_0001), port: ffmpegPort))
        configuration.mediaTimeoutMilliseconds = 0
        let leg = try engine.openLeg(configuration)
        leg.setSource(PCMSource(samples: Self.source))
        let (status, killed) = await ffmpeg.wait(seconds: seconds + 10)
        leg.close()
        #expect(status == 0 && !killed, "ffmpeg: \(ffmpeg.log)")
        let (info, decoded) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 8000 && info.channels == 1)
        let reference = Similarity.g711RoundTrip(Self.source, codec == .pcmu ? .ulaw : .alaw)
        let (lag, ncc) = Similarity.best(reference, decoded)
        print(
            "interop leg -> ffmpeg \(codec): NCC \(String(format: "%.5f", ncc)) at lag \(lag) samples; "
                + "ffmpeg decoded \(decoded.count) samples; leg sent \(leg.statistics.packetsSent) packets")
        #expect(ncc >= 0.95, "normalized cross-correlation \(ncc) at lag \(lag)")
    }

    @Test(
        "sauti call: sends a WAV and digits to a leg, records the leg's tone, prints both directions' stats",
        .timeLimit(.minutes(1)))
    func sautiCall() async throws {
        let sauti = InteropPaths.sauti
        try #require(FileManager.default.isExecutableFile(atPath: sauti), "build sauti first (swift build): \(sauti)")
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = Array(Self.source.prefix(16_000))  // 2 s: the call lasts 3 s
        let wav = dir + "/x.wav"
        let out = dir + "/out.wav"
        try writeWAV(source, to: wav)
        let engine = try Self.engine(first: 33_300, last: 33_399)
        defer { engine.shutdown() }
        var configuration = LegConfiguration(codec: .pcmu)
        configuration.rtcpIntervalSeconds = 0.5
        // A fixed jitter delay: what B keeps has the timing the caller sent with, even when a
        // busy machine delays a packet at the start.
        configuration.minJitterDelayMilliseconds = 100
        configuration.maxJitterDelayMilliseconds = 100
        let b = try engine.openLeg(configuration)
        let recorder = PCMRecorderSink(maximumSeconds: 10, sampleRate: 8000)
        b.addSink(recorder)
        b.play(.tone(ToneSpec(frequenciesHz: [400], levelDBFS: -6)))
        async let collected = b.gatherDigits(
            DigitCollectionSpec(timeoutMilliseconds: 4000, interDigitTimeoutMilliseconds: 3000, finishOnKeys: ["#"]))
        let call = try BoundedProcess(
            sauti,
            [
                "call", "127.0.0.1:\(b.local.port)", "--wav", wav, "--digits", "1@0.5,2@1.0,#@1.5", "--record", out,
                "--json", "--local-port", "33400",
            ], log: dir + "/call.log")
        let (digits, end) = await collected
        let (status, killed) = await call.wait(seconds: 15)
        let log = call.log
        #expect(status == 0 && !killed, "sauti call: \(log)")
        #expect(digits == "12" && end == .finishKey, "B collected \(digits) (\(end))")

        // B received the WAV: the part before the first digit matches (digits replace audio).
        let reference = Similarity.g711RoundTrip(source, .ulaw)
        let (lag, ncc) = Similarity.best(reference, recorder.samples, range: 0..<3600)
        print("interop sauti call -> leg: NCC \(String(format: "%.5f", ncc)) at lag \(lag) over the first 0.45 s")
        #expect(ncc >= 0.95, "B's recording against the WAV: NCC \(ncc) at lag \(lag)")
        let sb = b.statistics
        #expect(sb.packetsReceived >= 130 && sb.packetsLost == 0 && sb.digitsReceived == 3)

        // What came back is B's tone.
        let (info, back) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 8000 && back.count >= 8000 * 29 / 10, "about 3 s recorded")
        #expect(toneShare(back.suffix(8000), frequency: 400) > 0.9, "out.wav holds B's 400 Hz tone")

        // The JSON report parses and tells both directions.
        let jsonStart = log.firstIndex(of: "{") ?? log.startIndex
        let object = try JSONSerialization.jsonObject(with: Data(log[jsonStart...].utf8)) as? [String: Any]
        let sent = object?["sent"] as? [String: Any]
        let received = object?["received"] as? [String: Any]
        let farEnd = object?["far_end"] as? [String: Any]
        #expect((sent?["packets"] as? Int ?? 0) >= 140)
        #expect(sent?["digits"] as? String == "12#")
        #expect((received?["packets"] as? Int ?? 0) >= 140)
        #expect(received?["lost"] as? Int == 0)
        #expect(farEnd?["fraction_lost"] as? Double == 0, "B's receiver report came back")
        #expect(farEnd?["rtt_ms"] is Double)
        b.close()
    }

    @Test("sauti call rejects bad arguments with a clear message and status 2", .timeLimit(.minutes(1)))
    func sautiCallBadArguments() async throws {
        let sauti = InteropPaths.sauti
        try #require(FileManager.default.isExecutableFile(atPath: sauti), "build sauti first (swift build): \(sauti)")
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stereo = dir + "/stereo.wav"
        let w = try WAVWriter(path: stereo, sampleRate: 16000, channels: 2)
        try w.write([Int16](repeating: 0, count: 3200))
        try w.close()
        let notAudio = dir + "/text.wav"
        try "not audio".write(toFile: notAudio, atomically: true, encoding: .utf8)
        let wide = dir + "/16k.wav"
        try writeWAV([Int16](repeating: 0, count: 1600), to: wide, sampleRate: 16_000)
        let odd = dir + "/44k.wav"
        try writeWAV([Int16](repeating: 0, count: 4410), to: odd, sampleRate: 44_100)
        // Offers: PCMU only; G.729 only; not SDP.
        func offer(_ codecs: [AudioCodecSpec]) throws -> String {
            var session = SDPSession(
                config: SDPLocalConfig(address: .v4(0x7F00_0001), codecPreference: codecs), localPort: 4000, sessionID: 1)
            let path = dir + "/offer-\(codecs.map(\.encoding).joined()).sdp"
            try session.offer().write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let pcmuOffer = try offer([.pcmu])
        let g729Offer = try offer([AudioCodecSpec(encoding: "G729", clockRate: 8000, staticPayloadType: 18)])
        let notSDP = dir + "/not.sdp"
        try "v=0\r\nthis is not SDP\r\n".write(toFile: notSDP, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["call"], "needs HOST:PORT"),
            (["call", "127.0.0.1"], "expected HOST:PORT"),
            (["call", "127.0.0.1:99999"], "port must be"),
            (["call", "example:4000"], "not an IPv4 address"),
            (["call", "::1:4000"], "expected HOST:PORT"),
            (["call", "127.0.0.1:4000", "--wav", dir + "/missing.wav"], "no such file"),
            (["call", "127.0.0.1:4000", "--wav", notAudio], "cannot read"),
            (["call", "127.0.0.1:4000", "--wav", stereo], "sox \(stereo) -r 8000 -c 1 out.wav"),
            (["call", "127.0.0.1:4000", "--digits", "1@x"], "seconds from the start"),
            (["call", "127.0.0.1:4000", "--digits", "Z@1"], "digit 0-9 * # A-D"),
            (["call", "127.0.0.1:4000", "--digits", "1@9", "--duration", "2"], "longer --duration"),
            (["call", "127.0.0.1:4000", "--codec", "g729"], "pcmu, pcma or opus"),
            (["call", "127.0.0.1:4000", "--codec", "opus", "--ptime", "30"], "10, 20, 40 or 60 ms"),
            (["call", "127.0.0.1:4000", "--codec", "opus", "--payload-type", "8"], "96 to 127"),
            (["call", "127.0.0.1:4000", "--payload-type", "100"], "--payload-type is for --codec opus"),
            (["call", "127.0.0.1:4000", "--codec", "pcma", "--ptime", "40"], "--ptime is for --codec opus"),
            (["call", "127.0.0.1:4000", "--wav", wide], "sox \(wide) -r 8000 -c 1 out.wav"),
            (["call", "127.0.0.1:4000", "--codec", "opus", "--wav", odd], "opus sends mono at 8, 12, 16, 24 or 48 kHz"),
            (["call", "--sdp-in", dir + "/missing.sdp"], "--sdp-in \(dir)/missing.sdp: no such file"),
            (["call", "--sdp-in", notSDP], "--sdp-in \(notSDP): "),
            (["call", "--sdp-in", g729Offer], "G729"),
            (["call", "--sdp-in", pcmuOffer, "--codec", "opus"], "--sdp-in \(pcmuOffer): "),
            (["call", "--sdp-in", pcmuOffer, "--wav", wide], "runs at 8000 Hz"),
            (["call", "127.0.0.1:4000", "--sdp-in", pcmuOffer], "no HOST:PORT with it"),
            (["call", "127.0.0.1:4000", "--sdp-out", dir + "/a.sdp"], "needs --sdp-in"),
            (["call", "--sdp-in", pcmuOffer, "--ptime", "40"], "the offer's ptime and maxptime decide"),
            (["call", "127.0.0.1:4000", "--local-port", "33401"], "even port"),
            (["call", "127.0.0.1:4000", "--bogus"], "unknown option"),
        ]
        for (args, message) in cases {
            let p = try BoundedProcess(sauti, args, log: dir + "/bad.log")
            let (status, _) = await p.wait(seconds: 10)
            let log = p.log
            #expect(status == 2, "\(args): status \(status)")
            #expect(log.contains(message), "\(args): \(log)")
        }
    }
}

/// One RTP stream of a corpus capture: the UDP payloads and when they were captured.
struct CapturedStream {
    var payloads: [[UInt8]] = []
    var timesNanoseconds: [Int64] = []

    /// The datagrams from `source` to `destination` ("a.b.c.d:port") in `path`.
    static func load(path: String, source: String, destination: String) throws -> CapturedStream {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var stream = CapturedStream()
        try bytes.withUnsafeBytes { raw in
            var reader = try CaptureReader(bytes: raw)
            while let frame = try reader.next() {
                guard case .udp(let d) = FrameDecoder.decode(frame.data, linkType: frame.linkType) else { continue }
                guard "\(d.source)" == source && "\(d.destination)" == destination else { continue }
                stream.payloads.append([UInt8](d.payload))
                stream.timesNanoseconds.append(frame.timestampNanoseconds)
            }
        }
        return stream
    }

    /// Sends every payload from `socket` to `to` at the captured spacing divided by
    /// `speed`, on a thread keeping absolute deadlines (clock_nanosleep), not Task.sleep.
    func send(from socket: UDPTestSocket, to: Endpoint, speed: Double = 1) async {
        let payloads = self.payloads
        let times = self.timesNanoseconds
        nonisolated(unsafe) let socket = socket
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                var start = timespec()
                clock_gettime(CLOCK_MONOTONIC, &start)
                let base = Int64(start.tv_sec) * 1_000_000_000 + Int64(start.tv_nsec)
                for (i, p) in payloads.enumerated() {
                    let at = base + Int64(Double(times[i] - times[0]) / speed)
                    var deadline = timespec(tv_sec: Int(at / 1_000_000_000), tv_nsec: Int(at % 1_000_000_000))
                    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nil) == EINTR {}
                    socket.send(p, to: to)
                }
                done.resume()
            }
            thread.start()
        }
    }
}

/// The corpus's RFC 4733 captures, sent to a leg at their original timing (1×), yield
/// exactly the digits their truth files give. The cases run in parallel: the whole takes
/// as long as the longest capture (about 20 s).
@Suite struct CorpusDigitTests {
    static let captures: [String] =
        (["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "pound", "star"].map {
            "captures/sip-tester/dtmf_2833_\($0).pcap"
        })
        + ["broken_dtmf", "dtmf_2833_1_noend", "ulaw-2013785496", "opus-2013785496"].map {
            "captures/asterisk-testsuite/\($0).pcap"
        }
        + ["synthetic_pcaps/imp_g_rfc4733_events.pcap"]

    @Test(
        "a corpus RFC 4733 capture sent to a leg at its original timing yields exactly its digits",
        .enabled(if: InteropPaths.hasCorpus, "the shared corpus is not at ../shared/corpus"), .timeLimit(.minutes(1)),
        arguments: captures)
    func digits(capture: String) async throws {
        let path = InteropPaths.corpus.appendingPathComponent(capture).path
        let truthData = try Data(contentsOf: URL(fileURLWithPath: path + ".truth.json"))
        let truth = try JSONSerialization.jsonObject(with: truthData) as? [String: Any]
        let streams = truth?["streams_from_packets"] as? [[String: Any]] ?? []
        let withDigits = streams.filter { ($0["rfc4733_digits"] as? String ?? "") != "" }
        try #require(withDigits.count == 1, "one stream with digits in \(capture).truth.json")
        let s = withDigits[0]
        let expected = s["rfc4733_digits"] as! String
        let payloadTypes = s["payload_types"] as? [Int] ?? []
        let stream = try CapturedStream.load(path: path, source: s["src"] as! String, destination: s["dst"] as! String)
        try #require(stream.payloads.count == s["packets"] as? Int, "the stream's packets")

        var first = UInt16(33_500)
        first += UInt16(Self.captures.firstIndex(of: capture)! * 20)
        let engine = try InteropTests.engine(first: first, last: first + 19)
        defer { engine.shutdown() }
        // The leg's audio codec: PCMA if the capture has PT 8, else PCMU (the opus capture's
        // PT 96 is not the leg's: its audio is dropped and counted, its events still count).
        var configuration = LegConfiguration(codec: payloadTypes.contains(8) ? .pcma : .pcmu)
        configuration.telephoneEventPayloadType = 101
        configuration.mediaTimeoutMilliseconds = 0
        let leg = try engine.openLeg(configuration)
        let log = EventLog(leg)
        let socket = try UDPTestSocket()
        let started = ContinuousClock.now
        await stream.send(from: socket, to: leg.local)
        let sendSeconds = ContinuousClock.now - started
        // An event whose end never came ends 500 ms after its last packet.
        try await Task.sleep(for: .milliseconds(800))
        leg.close()
        await log.finished(seconds: 5)
        let stats = leg.statistics
        print(
            "interop corpus \(capture): digits \"\(log.digits)\" (truth \"\(expected)\"), \(stream.payloads.count) packets "
                + "sent in \(sendSeconds), received \(stats.packetsReceived), unknown PT \(stats.unknownPayloadType)")
        #expect(log.digits == expected)
        #expect(stats.digitsReceived == expected.count)
        if payloadTypes.contains(96) {
            #expect(stats.unknownPayloadType > 0, "the Opus audio is not the leg's payload type")
        }
    }
}
