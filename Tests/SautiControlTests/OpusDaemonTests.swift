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
    static var opusdec: String? {
        ["/usr/bin/opusdec", "/usr/local/bin/opusdec"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(
        "an inbound call offering Opus first is answered with Opus; the caller (sauti call --codec opus) hears wideband speech, and the recording of its 700 Hz + 6 kHz is kept at 16 kHz with both: as a WAV, or (format opus) as Ogg Opus served as audio/ogg and read back by opusdec",
        .timeLimit(.minutes(2)), arguments: ["wav", "opus"])
    func wideband(format: String) async throws {
        if format == "opus" && Self.opusdec == nil { return }  // scripts/setup.sh installs opus-tools
        let dir = makeTemporaryDirectory(prefix: "sautid-opus-\(format)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(
            script: DaemonPaths.app, arguments: [DaemonTests.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        let d = try await Daemon(
            dataDirectory: dir + "/data", rtpPorts: format == "wav" ? "61900-61924" : "61925-61949",
            registrarToken: DaemonTests.secret,
            extra: ["--signalling-webhook", app.url("/signalling")])
        defer { d.terminate() }
        _ = try await DaemonTests.routedNumber(d, app: app, e164: "+254700000077", path: "/wideband?format=\(format)")

        let callerPort: UInt16 = format == "wav" ? 61_950 : 61_952
        let (callID, answer) = try await d.inbound(
            to: "+254700000077", sdp: opusFirstOffer(port: callerPort), token: DaemonTests.secret)
        #expect(answer.contains("m=audio ") && answer.contains(" RTP/AVP 111") && answer.contains("a=rtpmap:111 opus/48000/2"), "\(answer)")
        let legPort = try #require(audioPort(answer))

        // The caller says 700 Hz and 6 kHz at 16 kHz (Opus wideband carries up to 8 kHz).
        let wav = dir + "/caller.wav"
        try writeToneWAV(wav, frequencies: [700, 6000], seconds: 12, rate: 16_000)
        let heard = dir + "/heard.wav"
        let caller = try BoundedProcess(
            DaemonPaths.sauti,
            [
                "call", "127.0.0.1:\(legPort)", "--codec", "opus", "--wav", wav, "--record", heard, "--duration", "12",
                "--local-port", String(callerPort),
            ], log: dir + "/caller.log")
        // While it talks, the call's live state names the codec and the leg's rate.
        func rtp(_ call: [String: Any]) -> [String: Any] {
            (call["live"] as? [String: Any])?["rtp"] as? [String: Any] ?? [:]
        }
        let talking = try await d.call(callID, seconds: 3) { (rtp($0)["packets_received"] as? Int ?? 0) > 0 }
        let rtp = rtp(talking)
        #expect(rtp["codec"] as? String == "opus" && rtp["sample_rate"] as? Int == 16_000, "\(rtp)")
        _ = await caller.wait(seconds: 16)

        let call = try await d.call(callID) { $0["status"] as? String == "completed" }
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
        let id = try #require(try await d.finishedRecordingID(callID))
        let recording = try #require(try await d.readyRecording(id))
        let url = recording["url"] as? String
        let mediaType = format == "wav" ? "audio/wav" : "audio/ogg"
        #expect(recording["format"] as? String == mediaType)
        let fetchedPath = dir + "/rec.\(format)"
        let fetched = try await runTool(
            try #require(DaemonPaths.curl), ["-s", "-f", "-o", fetchedPath, "-w", "%{content_type}", try #require(url)],
            errors: .separate)
        #expect(fetched.status == 0 && fetched.output == mediaType, "served as \(fetched.output)")
        var out = fetchedPath
        if format == "opus" {
            // The file is Ogg Opus (its first page's magic), and opusdec reads it.
            let head = try Data(contentsOf: URL(fileURLWithPath: fetchedPath)).prefix(36)
            #expect(head.prefix(4) == Data("OggS".utf8) && head.suffix(8) == Data("OpusHead".utf8), "\(Array(head))")
            out = dir + "/rec-decoded.wav"
            let decoded = try await runTool(try #require(Self.opusdec), ["--quiet", "--rate", "16000", fetchedPath, out])
            #expect(decoded.status == 0, "\(decoded.output)")
        }
        let (info, recorded) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 16_000 && recorded.count > 16_000 * 2, "\(info), \(recorded.count) samples")
        let middle = recorded[(recorded.count / 4)..<(recorded.count * 3 / 4)]
        let low = toneShare(middle, frequency: 700, rate: 16_000)
        let six = toneShare(middle, frequency: 6000, rate: 16_000)
        #expect(low > 0.25 && six > 0.25, "700 Hz \(low), 6 kHz \(six) in the recording")
    }
}

/// Offers as phones and gateways write them (audio-fixtures/sdp), sent to sautid as a
/// registrar would: the answer picks Opus with the offerer's payload type and clock
/// rules. Addresses are rewritten to 127.0.0.1 (nothing leaves loopback). Ports: RTP
/// 45000-45019, far ends 45050.
@Suite(
    .serialized, .enabled(if: TestHTTPServer.python != nil && DaemonPaths.curl != nil, "python3 and curl are needed"))
struct OpusOfferTests {
    static func fixture(_ name: String) throws -> String {
        let text = try String(
            contentsOf: DaemonPaths.root.appendingPathComponent("audio-fixtures/sdp/\(name)"), encoding: .utf8)
        // To loopback, the audio on port 45050; lines end in CRLF as SIP carries them.
        return text.split(whereSeparator: \.isNewline).map { line -> String in
            if line.hasPrefix("c=IN IP4 ") { return "c=IN IP4 127.0.0.1" }
            if line.hasPrefix("o=") {
                var parts = line.split(separator: " ").map(String.init)
                parts[parts.count - 1] = "127.0.0.1"
                return parts.joined(separator: " ")
            }
            if line.hasPrefix("m=audio ") {
                var parts = line.split(separator: " ").map(String.init)
                parts[1] = "45050"
                return parts.joined(separator: " ")
            }
            if line.hasPrefix("a=rtcp:") { return "a=rtcp:45051" }
            return String(line)
        }.joined(separator: "\r\n") + "\r\n"
    }

    @Test(
        "Linphone's and a WebRTC gateway's offers get Opus at their payload type (telephone-event at the Opus clock); Opus at 16000 Hz is refused per RFC 7587, precisely; --codecs pcmu,pcma keeps G.711",
        .timeLimit(.minutes(1)))
    func offers() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-offers")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(
            script: DaemonPaths.app, arguments: [DaemonTests.secret, "60"], log: dir + "/app.log")
        defer { app.stop() }
        var d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "45000-45019")
        _ = try await DaemonTests.routedNumber(d, app: app, e164: "+254700000088", path: "/reject")
        func offer(_ sdp: String) async throws -> (Int, String) {
            let (status, body, text) = try await d.request(
                "POST", "/v1/calls", token: Daemon.registrarToken,
                json: ["direction": "inbound", "local_e164": "+254700000088", "remote_e164": "+254711000001", "sdp": sdp])
            return (status, status == 201 ? ((body as? [String: Any])?["sdp"] as? String ?? "") : text)
        }
        func audioLine(_ sdp: String) -> String {
            sdp.split(whereSeparator: \.isNewline).first { $0.hasPrefix("m=audio ") }.map(String.init) ?? ""
        }

        let (ls, linphone) = try await offer(try Self.fixture("linphone.sdp"))
        #expect(ls == 201, "\(linphone)")
        #expect(audioLine(linphone).hasSuffix(" RTP/AVP 96 101"), "\(audioLine(linphone))")
        #expect(linphone.contains("a=rtpmap:96 opus/48000/2") && linphone.contains("a=rtpmap:101 telephone-event/48000"), "\(linphone)")
        #expect(linphone.contains("m=video 0 "), "the video line is refused: \(linphone)")

        let (cs, chrome) = try await offer(try Self.fixture("chrome-opus-gateway.sdp"))
        #expect(cs == 201, "\(chrome)")
        #expect(audioLine(chrome).hasSuffix(" RTP/AVPF 111 110"), "\(audioLine(chrome))")
        #expect(chrome.contains("a=rtpmap:111 opus/48000/2") && chrome.contains("a=rtcp-mux"), "\(chrome)")

        let (ws, wrong) = try await offer(try Self.fixture("opus-wrong-clock.sdp"))
        #expect(ws == 422 && wrong.contains("sdp_rejected") && wrong.contains("96 opus/16000") && wrong.contains("RFC 7587"), "\(ws) \(wrong)")
        d.terminate()
        _ = await d.process.wait(seconds: 10)

        // An operator who wants G.711 only.
        d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "45000-45019", extra: ["--codecs", "pcmu,pcma"])
        defer { d.terminate() }
        let (gs, g711) = try await offer(try Self.fixture("linphone.sdp"))
        #expect(gs == 201 && audioLine(g711).hasSuffix(" RTP/AVP 0 100"), "\(audioLine(g711))")
    }
}

/// A room through sautid with Opus and G.711 callers: it runs at 16 kHz, the Opus callers
/// hear each other wideband, the G.711 caller hears them narrowband. Ports: RTP
/// 45020-45039, callers 45060-45064.
@Suite(
    .serialized, .enabled(if: TestHTTPServer.python != nil && DaemonPaths.curl != nil, "python3 and curl are needed"))
struct OpusConferenceTests {
    struct Caller {
        let callID: String
        let process: BoundedProcess
        let heard: String
        let rate: Int

        init(_ d: Daemon, port: UInt16, opus: Bool, tone: Double, dir: String) async throws {
            let (id, answer) = try await d.inbound(
                to: "+254700000099", from: "+254711000\(port % 1000)",
                sdp: opus ? opusFirstOffer(port: port) : callerOffer(port: port))
            callID = id
            let legPort = try #require(audioPort(answer))
            rate = opus ? 16_000 : 8000
            let wav = dir + "/tone-\(port).wav"
            try writeToneWAV(wav, frequencies: [tone], seconds: 8, rate: rate)
            heard = dir + "/heard-\(port).wav"
            process = try BoundedProcess(
                DaemonPaths.sauti,
                ["call", "127.0.0.1:\(legPort)", "--wav", wav, "--duration", "8", "--record", heard, "--local-port", String(port)]
                    + (opus ? ["--codec", "opus"] : []), log: dir + "/caller-\(port).log")
        }

        func shares(_ frequencies: [Double], from: Double, to: Double) throws -> [Double] {
            let (info, samples) = try WAVReader.read(path: heard)
            #expect(info.sampleRate == rate)
            let a = min(samples.count, Int(from * Double(rate)))
            let b = min(samples.count, Int(to * Double(rate)))
            return frequencies.map { toneShare(samples[a..<b], frequency: $0, rate: Double(rate)) }
        }
    }

    @Test(
        "two Opus callers and a PCMU caller in one room: it runs at 16 kHz; an Opus caller hears the other's 6 kHz (wideband through the mix) and the PCMU caller's 500 Hz; the PCMU caller hears the Opus caller's 700 Hz",
        .timeLimit(.minutes(2)))
    func mixed() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-opus-room")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(
            script: DaemonPaths.app, arguments: [DaemonTests.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        let d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "45020-45039")
        defer { d.terminate() }
        _ = try await DaemonTests.routedNumber(d, app: app, e164: "+254700000099", path: "/conference?name=mixed&beep=0")
        let a = try await Caller(d, port: 45_060, opus: true, tone: 700, dir: dir)
        let b = try await Caller(d, port: 45_062, opus: false, tone: 500, dir: dir)
        let c = try await Caller(d, port: 45_064, opus: true, tone: 6000, dir: dir)
        var room: [String: Any] = [:]
        for _ in 0..<40 {
            room = try await d.request("GET", "/v1/conferences/mixed").body as? [String: Any] ?? [:]
            if (room["participants"] as? [Any])?.count == 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect((room["participants"] as? [Any])?.count == 3 && room["sample_rate"] as? Int == 16_000, "\(room)")
        for caller in [a, b, c] { _ = await caller.process.wait(seconds: 12) }
        for caller in [a, b, c] {
            _ = try await d.request(
                "POST", "/v1/calls/\(caller.callID)/signal", token: Daemon.registrarToken, json: ["signal": "hangup"])
        }
        let heardByA = try a.shares([500, 6000, 700], from: 3, to: 6)
        let heardByB = try b.shares([700, 500], from: 3, to: 6)
        print("opus room: A hears \(heardByA), B hears \(heardByB)")
        #expect(heardByA[0] > 0.2 && heardByA[1] > 0.2 && heardByA[2] < 0.05, "A hears B's 500 Hz and C's 6 kHz, not itself")
        #expect(heardByB[0] > 0.3 && heardByB[1] < 0.05, "B hears A's 700 Hz, not itself")
    }
}
