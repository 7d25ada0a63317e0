import Foundation
import SautiAudio
import SautiTestSupport
import Testing

/// An SDP offer as a browser's gateway writes it: Opus first (PT 111, FEC), G.711 after.
func opusFirstOffer(port: UInt16) -> String {
    [
        "v=0", "o=browser 4 4 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
        "m=audio \(port) RTP/AVP 111 0 8 101", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16",
        "a=sendrecv", "",
    ].joined(separator: "\r\n")
}

/// Share of `samples`' energy above 4 kHz (at 16 kHz): a naive DFT over 256-sample
/// blocks. G.711 carries nothing there; wideband Opus does.
func shareAbove4kHz(_ samples: [Int16]) -> Double {
    var high = 0.0
    var total = 0.0
    let n = 256
    var cosines = [Double](repeating: 0, count: n * (n / 2))
    var sines = cosines
    for k in 0..<(n / 2) {
        for t in 0..<n {
            cosines[k * n + t] = cos(2 * .pi * Double(k * t) / Double(n))
            sines[k * n + t] = sin(2 * .pi * Double(k * t) / Double(n))
        }
    }
    for start in stride(from: 0, to: samples.count - n, by: n) {
        for k in 1..<(n / 2) {
            var re = 0.0
            var im = 0.0
            for t in 0..<n {
                let x = Double(samples[start + t])
                re += x * cosines[k * n + t]
                im += x * sines[k * n + t]
            }
            let p = re * re + im * im
            total += p
            if k >= n / 4 { high += p }
        }
    }
    return total > 0 ? high / total : 0
}

/// Opus through sautid: a caller whose offer puts Opus first gets Opus, and the audio is
/// wideband end to end (speech the caller hears, the recording of what it says). Ports:
/// RTP 61900-61949, the caller 61950.
@Suite(
    .serialized, .enabled(if: TestHTTPServer.python != nil && DaemonPaths.curl != nil, "python3 and curl are needed"))
struct OpusDaemonTests {
    @Test(
        "an inbound call offering Opus first is answered with Opus; the caller (sauti call --codec opus) hears wideband speech, and the recording of its 700 Hz + 6 kHz is kept at 16 kHz with both",
        .timeLimit(.minutes(2)))
    func wideband() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-opus")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(
            script: DaemonPaths.app, arguments: [DaemonTests.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        let d = try await Daemon(
            dataDirectory: dir + "/data", rtpPorts: "61900-61949", registrarToken: DaemonTests.secret,
            extra: ["--signalling-webhook", app.url("/signalling")])
        defer { d.terminate() }
        _ = try await DaemonTests.routedNumber(d, app: app, e164: "+254700000077", path: "/wideband")

        let callerPort: UInt16 = 61_950
        let (status, body, text) = try await d.request(
            "POST", "/v1/calls", token: DaemonTests.secret,
            json: [
                "direction": "inbound", "local_e164": "+254700000077", "remote_e164": "+254711222333",
                "sdp": opusFirstOffer(port: callerPort),
            ])
        #expect(status == 201, "\(text)")
        let created = try #require(body as? [String: Any])
        let callID = try #require((created["call"] as? [String: Any])?["id"] as? String)
        let answer = try #require(created["sdp"] as? String)
        #expect(answer.contains("m=audio ") && answer.contains(" RTP/AVP 111") && answer.contains("a=rtpmap:111 opus/48000/2"), "\(answer)")
        let legPort = try #require(audioPort(answer))

        // The caller says 700 Hz and 6 kHz at 16 kHz (Opus wideband carries up to 8 kHz).
        let wav = dir + "/caller.wav"
        var g = ToneGenerator(ToneSpec(frequenciesHz: [700, 6000], levelDBFS: -14), sampleRate: 16_000)
        var samples = [Int16](repeating: 0, count: 16_000 * 12)
        samples.withUnsafeMutableBufferPointer { g.fill($0) }
        try WAVWriter(path: wav, sampleRate: 16_000).write(samples)
        let heard = dir + "/heard.wav"
        let caller = try BoundedProcess(
            DaemonPaths.sauti,
            [
                "call", "127.0.0.1:\(legPort)", "--codec", "opus", "--wav", wav, "--record", heard, "--duration", "12",
                "--local-port", String(callerPort),
            ], log: dir + "/caller.log")
        // While it talks, the call's live state names the codec and the leg's rate.
        var rtp: [String: Any] = [:]
        for _ in 0..<30 {
            let live = (try await d.request("GET", "/v1/calls/\(callID)").body as? [String: Any])?["live"] as? [String: Any]
            rtp = live?["rtp"] as? [String: Any] ?? [:]
            if (rtp["packets_received"] as? Int ?? 0) > 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(rtp["codec"] as? String == "opus" && rtp["sample_rate"] as? Int == 16_000, "\(rtp)")
        _ = await caller.wait(seconds: 16)

        var call: [String: Any] = [:]
        for _ in 0..<50 {
            call = try await d.request("GET", "/v1/calls/\(callID)").body as? [String: Any] ?? [:]
            if call["status"] as? String == "completed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let timeline = try await d.request("GET", "/v1/calls/\(callID)/events").text
        #expect(call["status"] as? String == "completed", "\(call)\n\(timeline)")

        // What the caller heard: the engine's speech at 16 kHz, with its fricatives above 4 kHz.
        let (heardInfo, heardSamples) = try WAVReader.read(path: heard)
        #expect(heardInfo.sampleRate == 16_000, "\(heardInfo)")
        let loud = heardSamples.filter { abs(Int($0)) > 300 }.count
        #expect(loud > 16_000 / 2, "speech heard: \(loud) loud samples")
        let high = shareAbove4kHz(heardSamples)
        #expect(high > 0.01, "share of the heard speech's energy above 4 kHz: \(high)")

        // The recording: 16 kHz, holding both of the caller's tones.
        var recordingID: String?
        for _ in 0..<50 {
            let events = try await d.request("GET", "/v1/calls/\(callID)/events").body as? [String: Any]
            let entries = events?["data"] as? [[String: Any]] ?? []
            let finished = entries.first { ($0["name"] as? String) == "recording.finished" }
            recordingID = (finished?["detail"] as? [String: Any])?["id"] as? String
            if recordingID != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let id = try #require(recordingID)
        var url: String?
        for _ in 0..<50 {
            let (rs, rb, _) = try await d.request("GET", "/v1/recordings/\(id)")
            if rs == 200 { url = (rb as? [String: Any])?["url"] as? String; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let out = dir + "/rec.wav"
        let fetched = try await runTool(try #require(DaemonPaths.curl), ["-s", "-f", "-o", out, try #require(url)])
        #expect(fetched.status == 0)
        let (info, recorded) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 16_000 && recorded.count > 16_000 * 2, "\(info), \(recorded.count) samples")
        let middle = recorded[(recorded.count / 4)..<(recorded.count * 3 / 4)]
        let low = toneShare(middle, frequency: 700, rate: 16_000)
        let six = toneShare(middle, frequency: 6000, rate: 16_000)
        #expect(low > 0.25 && six > 0.25, "700 Hz \(low), 6 kHz \(six) in the recording")
    }
}
