import Foundation
import SautiAudio
import SautiFlow
import SautiTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Where things are, from this file.
enum DaemonPaths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let app = root.appendingPathComponent("Tests/SautiFlowTests/ivr_app.py").path
    static var sautid: String { builtExecutable("sautid", packageRoot: root) }
    static var sauti: String { builtExecutable("sauti", packageRoot: root) }
    static let curl: String? = ["/usr/bin/curl", "/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    /// A python3 that has schemathesis (setup.sh installs it from PyPI): Debian's, or one
    /// on PATH or in pyenv; nil when none has it. Run as `python3 -m schemathesis.cli`.
    static let schemathesisPython: String? = {
        var candidates = ["/usr/bin/python3", "/usr/local/bin/python3"]
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        candidates += path.split(separator: ":").map { "\($0)/python3" }
        let pyenv = "/root/.pyenv/versions"
        for v in (try? FileManager.default.contentsOfDirectory(atPath: pyenv)) ?? [] {
            candidates.append("\(pyenv)/\(v)/bin/python3")
        }
        for p in candidates where FileManager.default.isExecutableFile(atPath: p) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: p)
            process.arguments = ["-c", "import schemathesis"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { continue }
            process.waitUntilExit()
            if process.terminationStatus == 0 { return p }
        }
        return nil
    }()
}

/// `sautid` as a process, on its own data folder, with known tokens.
struct Daemon {
    static let registrarToken = "registrar-token-0123456789"
    static let customerToken = "customer-token-0123456789"
    let process: BoundedProcess
    let port: UInt16
    let dataDirectory: String

    init(dataDirectory: String, rtpPorts: String, registrarToken: String = Daemon.registrarToken, extra: [String] = [])
        async throws
    {
        self.dataDirectory = dataDirectory
        process = try BoundedProcess(
            DaemonPaths.sautid,
            [
                "--data-dir", dataDirectory, "--port", "0", "--rtp-ports", rtpPorts, "--workers", "1",
                "--registrar-token", registrarToken, "--customer-token", Self.customerToken,
                "--callback-timeout", "5",
            ] + extra, log: dataDirectory + ".log")
        let deadline = ContinuousClock.now + .seconds(15)
        var found: UInt16?
        while found == nil && ContinuousClock.now < deadline && process.process.isRunning {
            let log = process.log
            if log.contains("sautid: ready"), let r = log.range(of: "API on http://127.0.0.1:") {
                found = UInt16(log[r.upperBound...].prefix { $0.isNumber })
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        port = try #require(found, "sautid did not start: \(process.log)")
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// A request with curl: the status and the body parsed as JSON (or the raw text).
    func request(_ method: String, _ path: String, token: String? = customerToken, json: Any? = nil, raw: String? = nil)
        async throws -> (status: Int, body: Any, text: String)
    {
        var args = ["-s", "-X", method, "-o", "-", "-w", "\n%{http_code}", base + path]
        if let token { args += ["-H", "Authorization: Bearer \(token)"] }
        if let json {
            let data = try JSONSerialization.data(withJSONObject: json)
            args += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: data, as: UTF8.self)]
        } else if let raw {
            args += ["--data-binary", raw]
        }
        let out = try await runTool(try #require(DaemonPaths.curl), args).output
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let text = lines.dropLast().joined(separator: "\n")
        let body = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) ?? text
        return (status, body, text)
    }

    func terminate() { kill(process.process.processIdentifier, SIGTERM) }
    func killNine() { kill(process.process.processIdentifier, SIGKILL) }
}

/// An SDP offer as a phone at 127.0.0.1:`port` sends it (PCMU and RFC 4733).
func callerOffer(port: UInt16) -> String {
    [
        "v=0", "o=phone 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
        "m=audio \(port) RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16", "a=sendrecv", "",
    ].joined(separator: "\r\n")
}

/// The port of the first m=audio line of an SDP body.
func audioPort(_ sdp: String) -> UInt16? {
    for line in sdp.split(whereSeparator: \.isNewline) where line.hasPrefix("m=audio ") {
        return UInt16(line.split(separator: " ")[1])
    }
    return nil
}

/// sautid end to end: the daemon as a process, curl as the API client, Python's
/// http.server as the customer's app (voice_url and events_url), `sauti call` as the caller.
/// Ports: RTP 39400-39699, callers 39300-39399.
@Suite(
    .serialized, .enabled(if: TestHTTPServer.python != nil && DaemonPaths.curl != nil, "python3 and curl are needed"))
struct DaemonTests {
    static let secret = "whsec-test-5f2a-registrar"  // the IVR app's (and the registrar token in the IVR test)

    /// A number routed to the app's `path`, events to /events.
    static func routedNumber(_ d: Daemon, app: TestHTTPServer, e164: String, path: String, events: String = "/events")
        async throws -> String
    {
        let (status, body, text) = try await d.request("POST", "/v1/numbers", json: ["e164": e164])
        #expect(status == 201, "\(text)")
        let id = try #require((body as? [String: Any])?["id"] as? String)
        let (s2, b2, t2) = try await d.request(
            "PATCH", "/v1/numbers/\(id)/routing",
            json: ["voice_url": app.url(path), "events_url": app.url(events), "voice_signing_secret": secret])
        #expect(s2 == 200, "\(t2)")
        let routing = (b2 as? [String: Any])?["routing"] as? [String: Any]
        #expect(routing?["voice_signing_secret_set"] as? Bool == true && routing?["voice_signing_secret"] == nil)
        return id
    }

    /// The app's requests: path, signature verdict, body.
    static func appRequests(_ app: TestHTTPServer) async throws -> [(path: String, ok: Bool, body: [String: Any])] {
        let text = try await fetchText(app.url("/log"))
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            let body = (try? JSONSerialization.jsonObject(with: Data((o["body"] as? String ?? "").utf8))) as? [String: Any]
            return (o["path"] as? String ?? "", o["signature_ok"] as? Bool ?? false, body ?? [:])
        }
    }

    @Test(
        "an inbound call through the registrar API runs the number's IVR (XML then JSON), records a message behind a presigned URL with Range; events_url hears the lifecycle in order through retries; the signalling webhook is asked to answer and hang up",
        .timeLimit(.minutes(2)))
    func ivr() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-ivr")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(script: DaemonPaths.app, arguments: [Self.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        // The same app is the registrar's signalling webhook (it verifies with the secret it
        // was started with, which is therefore also the registrar's token here).
        let d = try await Daemon(
            dataDirectory: dir + "/data", rtpPorts: "39400-39499", registrarToken: Self.secret,
            extra: ["--signalling-webhook", app.url("/signalling")])
        defer { d.terminate() }
        _ = try await Self.routedNumber(d, app: app, e164: "+254700000001", path: "/voice", events: "/flaky-events")

        // The registrar: an inbound call with the caller's offer; the engine answers.
        let callerPort: UInt16 = 39_300
        let (status, body, text) = try await d.request(
            "POST", "/v1/calls", token: Self.secret,
            json: [
                "direction": "inbound", "local_e164": "+254700000001", "remote_e164": "+254711222333",
                "pbx_call_id": "HD_test_1", "sdp": callerOffer(port: callerPort),
            ])
        #expect(status == 201, "\(text)")
        let created = try #require(body as? [String: Any])
        let callID = try #require((created["call"] as? [String: Any])?["id"] as? String)
        let answer = try #require(created["sdp"] as? String)
        #expect(created["sdp_type"] as? String == "answer")
        let legPort = try #require(audioPort(answer))

        // The caller: a tone, "1" during the menu, "#" to end the message.
        let wav = dir + "/caller.wav"
        var g = ToneGenerator(ToneSpec(frequenciesHz: [700], levelDBFS: -14), sampleRate: 8000)
        var samples = [Int16](repeating: 0, count: 8000 * 14)
        samples.withUnsafeMutableBufferPointer { g.fill($0) }
        try WAVWriter(path: wav, sampleRate: 8000).write(samples)
        let caller = try BoundedProcess(
            DaemonPaths.sauti,
            [
                "call", "127.0.0.1:\(legPort)", "--wav", wav, "--digits", "1@3.0,#@9.0", "--duration", "13",
                "--local-port", String(callerPort),
            ], log: dir + "/caller.log")
        _ = await caller.wait(seconds: 16)

        // The call ended; its record and timeline.
        var call: [String: Any] = [:]
        for _ in 0..<50 {
            call = try await d.request("GET", "/v1/calls/\(callID)").body as? [String: Any] ?? [:]
            if call["status"] as? String == "completed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(call["status"] as? String == "completed", "\(call)")
        #expect(call["pbx_call_id"] as? String == "HD_test_1" && call["answered_at"] is String && call["ended_at"] is String)
        let events = try await d.request("GET", "/v1/calls/\(callID)/events").body as? [String: Any]
        let names = (events?["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        print("sautid ivr events: \(names)")
        for expected in ["call.queued", "call.ringing", "call.in-progress", "digits.collected", "recording.finished", "call.completed"] {
            #expect(names.contains(expected), "\(expected) in \(names)")
        }
        let entries: [[String: Any]] = events?["data"] as? [[String: Any]] ?? []
        let finished: [String: Any]? = entries.first { ($0["name"] as? String) == "recording.finished" }
        let detail: [String: Any]? = finished?["detail"] as? [String: Any]
        let recordingID = try #require(detail?["id"] as? String)

        // The app's side: voice_url, the digits, the recording callback, and events_url — all signed.
        let requests = try await Self.appRequests(app)
        let unverified = requests.filter { !$0.ok }.map(\.path)
        #expect(unverified.isEmpty, "every request verifies: \(unverified)")
        #expect(requests.filter { $0.path.hasPrefix("/voice") || $0.path == "/menu" || $0.path == "/recorded" }.map(\.path) == ["/voice", "/menu", "/recorded"])
        // events_url refuses each event twice (503): each is retried with backoff and they
        // still arrive in order.
        var lifecycle: [String] = []
        for _ in 0..<100 {
            lifecycle = try await Self.appRequests(app).filter { $0.path == "/flaky-events" }.compactMap { $0.body["event"] as? String }
            if lifecycle.count >= 15 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let expected = ["started", "ringing", "answered", "recording-ready", "completed"]
        #expect(lifecycle == expected.flatMap { [$0, $0, $0] }, "three tries each, in order: \(lifecycle)")
        // The registrar's webhook was asked to answer, then to hang up; signed with its token.
        let signalling = try await Self.appRequests(app).filter { $0.path == "/signalling" }
        #expect(signalling.compactMap { $0.body["action"] as? String } == ["answer", "hangup"])
        #expect(signalling.allSatisfy { $0.ok && $0.body["pbx_call_id"] as? String == "HD_test_1" })

        // The recording: ready, behind a presigned URL that serves ranges and refuses tampering.
        let (rs, rb, rt) = try await d.request("GET", "/v1/recordings/\(recordingID)")
        #expect(rs == 200, "\(rt)")
        let url = try #require((rb as? [String: Any])?["url"] as? String)
        let out = dir + "/rec.wav"
        let fetched = try await runTool(try #require(DaemonPaths.curl), ["-s", "-f", "-o", out, url]).status
        #expect(fetched == 0)
        let (info, audio) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 8000 && audio.count > 8000, "a playable WAV of over a second")
        let head = try await runTool(try #require(DaemonPaths.curl), ["-s", "-r", "0-3", "-w", " %{http_code}", url])
        #expect(head.output == "RIFF 206", "a range of the file: \(head.output)")
        let tampered = url.replacingOccurrences(of: "signature=", with: "signature=0")
        let t = try await runTool(
            try #require(DaemonPaths.curl), ["-s", "-o", "/dev/null", "-w", "%{http_code}", tampered])
        #expect(t.output == "403")
        let noToken = try await runTool(
            try #require(DaemonPaths.curl), ["-s", "-o", "/dev/null", "-w", "%{http_code}", d.base + "/v1/recordings/\(recordingID)"])
        #expect(noToken.output == "401")
    }

    @Test(
        "schemathesis, from the OpenAPI document, finds no server error and no response that contradicts the schema, with either token",
        .enabled(
            if: DaemonPaths.schemathesisPython != nil, "schemathesis is not installed: scripts/setup.sh installs it from PyPI"),
        .timeLimit(.minutes(3)))
    func schemathesis() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-schema")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "39520-39599")
        defer { d.terminate() }
        let python = try #require(DaemonPaths.schemathesisPython)
        let common = [
            "-m", "schemathesis.cli", "run", d.base + "/v1/openapi.json", "--url", d.base, "--checks", "all", "--max-examples", "30", "--seed", "7",
        ]
        // Customers' routes with all checks; the registrar's without "schema-valid data is
        // accepted": an SDP that matches the schema's pattern can still be one the engine
        // cannot answer (422 sdp_rejected), which the schema cannot say.
        let runs: [[String]] = [
            common + ["-H", "Authorization: Bearer \(Daemon.customerToken)"],
            common + [
                "-H", "Authorization: Bearer \(Daemon.registrarToken)", "--exclude-checks", "positive_data_acceptance",
                "--include-path-regex", "/v1/calls$|/signal$",
            ],
        ]
        for args in runs {
            let run = try await runTool(python, args, seconds: 150)
            let out = run.output
            let summary = out.split(separator: "\n").filter { $0.contains("generated") || $0.contains("ST") }
            print("schemathesis: \(summary.joined(separator: " | "))")
            #expect(run.status == 0, "schemathesis found problems:\n\(out.suffix(4000))")
        }
    }

    @Test("each error status: 400, 401, 403, 404, 405, 409, 422, with the error body", .timeLimit(.minutes(1)))
    func errors() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-errors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "39500-39519")
        defer { d.terminate() }
        let cases: [(String, String, String?, Any?, String?, Int, String)] = [
            ("GET", "/v1/calls", nil, nil, nil, 401, "unauthorized"),
            ("GET", "/v1/calls", "wrong-token-0123456789", nil, nil, 401, "unauthorized"),
            ("POST", "/v1/calls", Daemon.customerToken, ["direction": "inbound"], nil, 403, "forbidden"),
            ("GET", "/v1/calls", Daemon.registrarToken, nil, nil, 403, "forbidden"),
            ("GET", "/v1/calls/call_nope", Daemon.customerToken, nil, nil, 404, "not_found"),
            ("DELETE", "/v1/numbers", Daemon.customerToken, nil, nil, 405, "method_not_allowed"),
            ("POST", "/v1/numbers", Daemon.customerToken, nil, "{not json", 400, "invalid_json"),
            ("POST", "/v1/numbers", Daemon.customerToken, ["e164": "0700"], nil, 422, "invalid_e164"),
            ("GET", "/v1/calls?limit=0", Daemon.customerToken, nil, nil, 400, "invalid_limit"),
            (
                "POST", "/v1/calls", Daemon.registrarToken,
                ["direction": "inbound", "local_e164": "+254799999999", "remote_e164": "+254700000000", "sdp": callerOffer(port: 39_399)], nil,
                404, "unknown_number"
            ),
        ]
        for (method, path, token, json, raw, expected, code) in cases {
            let (status, body, text) = try await d.request(method, path, token: token, json: json, raw: raw)
            let error = (body as? [String: Any])?["error"] as? [String: Any]
            #expect(status == expected && error?["code"] as? String == code, "\(method) \(path): \(status) \(text)")
            #expect(error?["message"] is String && error?["details"] is [Any], "\(text)")
        }
        _ = try await d.request("POST", "/v1/numbers", json: ["e164": "+254700000009"])
        let (dup, _, _) = try await d.request("POST", "/v1/numbers", json: ["e164": "+254700000009"])
        #expect(dup == 409)
        // An inbound call to a number without a voice_url, and a bad SDP.
        let (noURL, b, _) = try await d.request(
            "POST", "/v1/calls", token: Daemon.registrarToken,
            json: ["direction": "inbound", "local_e164": "+254700000009", "remote_e164": "+254700000000", "sdp": callerOffer(port: 39_399)])
        #expect(noURL == 409 && ((b as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "no_voice_url")
    }

    @Test(
        "mid-call: the live state shows the action and RTP counters, the recording is 202 pending, POST actions (XML) replaces what runs: the recording stops and the new document hangs up",
        .timeLimit(.minutes(1)))
    func replaceActions() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-actions")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(script: DaemonPaths.app, arguments: [Self.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        let d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "39640-39659")
        defer { d.terminate() }
        _ = try await Self.routedNumber(d, app: app, e164: "+254700000003", path: "/longrecord")
        let (_, body, text) = try await d.request(
            "POST", "/v1/calls", token: Daemon.registrarToken,
            json: [
                "direction": "inbound", "local_e164": "+254700000003", "remote_e164": "+254711000001",
                "sdp": callerOffer(port: 39_314),
            ])
        let created = try #require(body as? [String: Any], Comment(rawValue: text))
        let callID = try #require((created["call"] as? [String: Any])?["id"] as? String)
        let legPort = try #require(audioPort(created["sdp"] as? String ?? ""))
        let caller = try BoundedProcess(
            DaemonPaths.sauti, ["call", "127.0.0.1:\(legPort)", "--duration", "10", "--local-port", "39314"],
            log: dir + "/caller.log")
        defer { caller.process.terminate() }
        try await Task.sleep(for: .seconds(2))
        let call = try await d.request("GET", "/v1/calls/\(callID)").body as? [String: Any] ?? [:]
        let live = call["live"] as? [String: Any]
        #expect(live?["current_action"] as? String == "record", "\(call)")
        #expect(((live?["rtp"] as? [String: Any])?["packets_received"] as? Int ?? 0) > 20, "\(call)")
        let timeline = try await d.request("GET", "/v1/calls/\(callID)/events").body as? [String: Any]
        let entries: [[String: Any]] = timeline?["data"] as? [[String: Any]] ?? []
        let started: [String: Any]? = entries.first { ($0["name"] as? String) == "recording.started" }
        let recordingID = try #require((started?["detail"] as? [String: Any])?["id"] as? String)
        let (pending, p, _) = try await d.request("GET", "/v1/recordings/\(recordingID)")
        #expect(pending == 202 && (p as? [String: Any])?["retry_after_seconds"] as? Int != nil)

        let (bad, b, _) = try await d.request("POST", "/v1/calls/\(callID)/actions", raw: #"[{"verb":"sey"}]"#)
        let details = ((b as? [String: Any])?["error"] as? [String: Any])?["details"] as? [String] ?? []
        #expect(bad == 422 && details.contains { $0.contains("/0/verb") }, "\(details)")
        let (accepted, _, t) = try await d.request(
            "POST", "/v1/calls/\(callID)/actions", raw: "<Response><Say>Goodbye.</Say><Hangup/></Response>")
        #expect(accepted == 202, "\(t)")
        var status = ""
        for _ in 0..<80 where status != "completed" {
            try await Task.sleep(for: .milliseconds(100))
            status = (try await d.request("GET", "/v1/calls/\(callID)").body as? [String: Any])?["status"] as? String ?? ""
        }
        #expect(status == "completed")
        let (ready, r, rt) = try await d.request("GET", "/v1/recordings/\(recordingID)")
        #expect(ready == 200, "\(rt)")
        #expect(((r as? [String: Any])?["duration_seconds"] as? Double ?? 0) > 1.0)
        let after = try await d.request("GET", "/v1/calls/\(callID)/events").body as? [String: Any]
        let names = (after?["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(names.contains("actions.replaced") && names.contains("call.hangup"), "\(names)")
    }

    @Test(
        "an outbound call: the engine's SDP offer, ringing, answered with the far end's SDP, the number's flow runs and hangs up; busy, a bad signal and a signal after the end are refused or recorded",
        .timeLimit(.minutes(1)))
    func outbound() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-outbound")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(script: DaemonPaths.app, arguments: [Self.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        let d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "39660-39679")
        defer { d.terminate() }
        _ = try await Self.routedNumber(d, app: app, e164: "+254700000004", path: "/recorded")
        let (status, body, text) = try await d.request(
            "POST", "/v1/calls", token: Daemon.registrarToken,
            json: ["direction": "outbound", "local_e164": "+254700000004", "remote_e164": "+254722000000"])
        #expect(status == 201, "\(text)")
        let created = try #require(body as? [String: Any])
        #expect(created["sdp_type"] as? String == "offer")
        let callID = try #require((created["call"] as? [String: Any])?["id"] as? String)
        let legPort = try #require(audioPort(created["sdp"] as? String ?? ""))
        let (r, rb, _) = try await d.request(
            "POST", "/v1/calls/\(callID)/signal", token: Daemon.registrarToken, json: ["signal": "ringing"])
        #expect(r == 200 && (rb as? [String: Any])?["status"] as? String == "ringing")
        let (again, _, _) = try await d.request(
            "POST", "/v1/calls/\(callID)/signal", token: Daemon.registrarToken, json: ["signal": "ringing"])
        #expect(again == 200, "a repeated signal is not an error")
        // The far end answers: its SDP answer names the port `sauti call` listens on.
        let phonePort: UInt16 = 39_316
        let caller = try BoundedProcess(
            DaemonPaths.sauti, ["call", "127.0.0.1:\(legPort)", "--duration", "6", "--local-port", String(phonePort)],
            log: dir + "/caller.log")
        defer { caller.process.terminate() }
        let (a, ab, at) = try await d.request(
            "POST", "/v1/calls/\(callID)/signal", token: Daemon.registrarToken,
            json: ["signal": "answered", "sdp": callerOffer(port: phonePort)])
        #expect(a == 200 && (ab as? [String: Any])?["status"] as? String == "in-progress", "\(at)")
        var call: [String: Any] = [:]
        for _ in 0..<80 {
            call = try await d.request("GET", "/v1/calls/\(callID)").body as? [String: Any] ?? [:]
            if call["status"] as? String == "completed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(call["status"] as? String == "completed" && call["direction"] as? String == "outbound", "\(call)")
        let voice = try await Self.appRequests(app).filter { $0.path == "/recorded" }
        #expect(voice.count == 1 && voice.first?.body["status"] as? String == "in-progress" && voice.first?.ok == true)
        let (late, lb, _) = try await d.request(
            "POST", "/v1/calls/\(callID)/signal", token: Daemon.registrarToken, json: ["signal": "answered"])
        #expect(late == 409 && ((lb as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "invalid_transition")

        // Another outbound call: busy.
        let second = try await d.request(
            "POST", "/v1/calls", token: Daemon.registrarToken,
            json: ["direction": "outbound", "local_e164": "+254700000004", "remote_e164": "+254722000001"])
        let secondID = try #require(((second.body as? [String: Any])?["call"] as? [String: Any])?["id"] as? String)
        let (bad, _, _) = try await d.request(
            "POST", "/v1/calls/\(secondID)/signal", token: Daemon.registrarToken, json: ["signal": "picked-up"])
        #expect(bad == 422)
        let (busy, bb, _) = try await d.request(
            "POST", "/v1/calls/\(secondID)/signal", token: Daemon.registrarToken, json: ["signal": "busy", "cause": "486"])
        #expect(busy == 200 && (bb as? [String: Any])?["status"] as? String == "busy")
        #expect((bb as? [String: Any])?["cause"] as? String == "486")
    }

    @Test(
        "the registrar's hangup mid-recording: the call is completed with its cause, the recording is kept, events_url hears completed once",
        .timeLimit(.minutes(1)))
    func registrarHangup() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-hangup")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(script: DaemonPaths.app, arguments: [Self.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        let d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "39680-39699")
        defer { d.terminate() }
        _ = try await Self.routedNumber(d, app: app, e164: "+254700000005", path: "/longrecord")
        let (_, body, text) = try await d.request(
            "POST", "/v1/calls", token: Daemon.registrarToken,
            json: [
                "direction": "inbound", "local_e164": "+254700000005", "remote_e164": "+254711000005",
                "sdp": callerOffer(port: 39_318),
            ])
        let created = try #require(body as? [String: Any], Comment(rawValue: text))
        let callID = try #require((created["call"] as? [String: Any])?["id"] as? String)
        let legPort = try #require(audioPort(created["sdp"] as? String ?? ""))
        let caller = try BoundedProcess(
            DaemonPaths.sauti, ["call", "127.0.0.1:\(legPort)", "--duration", "6", "--local-port", "39318"],
            log: dir + "/caller.log")
        defer { caller.process.terminate() }
        try await Task.sleep(for: .seconds(2))
        let (s1, b1, t1) = try await d.request(
            "POST", "/v1/calls/\(callID)/signal", token: Daemon.registrarToken, json: ["signal": "hangup", "cause": "BYE"])
        #expect(s1 == 200 && (b1 as? [String: Any])?["status"] as? String == "completed", "\(t1)")
        #expect((b1 as? [String: Any])?["cause"] as? String == "BYE")
        try await Task.sleep(for: .seconds(1))
        let timeline = try await d.request("GET", "/v1/calls/\(callID)/events").body as? [String: Any]
        let entries: [[String: Any]] = timeline?["data"] as? [[String: Any]] ?? []
        let finished: [String: Any]? = entries.first { ($0["name"] as? String) == "recording.finished" }
        let detail = finished?["detail"] as? [String: Any]
        #expect(detail?["reason"] as? String == "hangup" && detail?["status"] as? String == "completed", "\(entries)")
        let lifecycle = try await Self.appRequests(app).filter { $0.path == "/events" }.compactMap { $0.body["event"] as? String }
        #expect(lifecycle.filter { $0 == "completed" }.count == 1 && lifecycle.last == "completed", "\(lifecycle)")
    }

    @Test(
        "kill -9 mid-recording, then a restart: the number and call are kept, the call is failed with engine-restart, the recording is ready up to the last second written",
        .timeLimit(.minutes(1)))
    func killNineAndRestart() async throws {
        try await interruptedRecording(graceful: false)
    }

    @Test(
        "kill -9 mid-recording of an Ogg Opus recording (format opus), then a restart: the WAV it grew as is converted, and the recording is ready as Ogg Opus up to the last second written",
        .timeLimit(.minutes(1)))
    func killNineOggOpus() async throws {
        try await interruptedRecording(graceful: false, format: "opus")
    }

    @Test(
        "SIGTERM mid-call: sautid ends the call and finishes the recording, exits 0, and a restart shows it completed",
        .timeLimit(.minutes(1)))
    func sigterm() async throws {
        try await interruptedRecording(graceful: true)
    }

    func interruptedRecording(graceful: Bool, format: String = "wav") async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-stop")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(script: DaemonPaths.app, arguments: [Self.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        let ports = graceful ? "39600-39619" : format == "wav" ? "39620-39639" : "39660-39679"
        var d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: ports)
        let numberID = try await Self.routedNumber(d, app: app, e164: "+254700000002", path: "/longrecord?format=\(format)")
        let callerPort: UInt16 = graceful ? 39_310 : format == "wav" ? 39_312 : 39_320
        let (_, body, text) = try await d.request(
            "POST", "/v1/calls", token: Daemon.registrarToken,
            json: [
                "direction": "inbound", "local_e164": "+254700000002", "remote_e164": "+254711000000",
                "sdp": callerOffer(port: callerPort),
            ])
        let created = try #require(body as? [String: Any], Comment(rawValue: text))
        let callID = try #require((created["call"] as? [String: Any])?["id"] as? String)
        let legPort = try #require(audioPort(created["sdp"] as? String ?? ""))
        let wav = dir + "/caller.wav"
        var g = ToneGenerator(ToneSpec(frequenciesHz: [500], levelDBFS: -14), sampleRate: 8000)
        var samples = [Int16](repeating: 0, count: 8000 * 10)
        samples.withUnsafeMutableBufferPointer { g.fill($0) }
        try WAVWriter(path: wav, sampleRate: 8000).write(samples)
        let caller = try BoundedProcess(
            DaemonPaths.sauti,
            ["call", "127.0.0.1:\(legPort)", "--wav", wav, "--duration", "8", "--local-port", String(callerPort)],
            log: dir + "/caller.log")
        defer { caller.process.terminate() }
        try await Task.sleep(for: .seconds(4))
        if graceful {
            d.terminate()
            let (status, killed) = await d.process.wait(seconds: 15)
            #expect(status == 0 && !killed, "sautid exits 0 on SIGTERM: \(d.process.log)")
            #expect(d.process.log.contains("sautid: stopped"))
        } else {
            d.killNine()
            _ = await d.process.wait(seconds: 5)
        }
        d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: ports)
        defer { d.terminate() }
        let number = try await d.request("GET", "/v1/numbers/\(numberID)").body as? [String: Any]
        #expect(number?["e164"] as? String == "+254700000002", "the number survives")
        let call = try await d.request("GET", "/v1/calls/\(callID)").body as? [String: Any] ?? [:]
        print("sautid \(graceful ? "SIGTERM" : "kill -9"): call \(call["status"] ?? "?") cause \(call["cause"] ?? "?")")
        if graceful {
            #expect(call["status"] as? String == "completed", "\(call)")
        } else {
            #expect(call["status"] as? String == "failed" && call["cause"] as? String == "engine-restart", "\(call)")
        }
        let timeline = try await d.request("GET", "/v1/calls/\(callID)/events").body as? [String: Any]
        let entries: [[String: Any]] = timeline?["data"] as? [[String: Any]] ?? []
        let started: [String: Any]? = entries.first { ($0["name"] as? String) == "recording.started" }
        let detail: [String: Any]? = started?["detail"] as? [String: Any]
        let recordingID = try #require(detail?["id"] as? String)
        let (rs, rb, rt) = try await d.request("GET", "/v1/recordings/\(recordingID)")
        #expect(rs == 200, "\(rt)")
        let duration = (rb as? [String: Any])?["duration_seconds"] as? Double ?? 0
        print("sautid \(graceful ? "SIGTERM" : "kill -9"): recording \(duration) s after about 4 s of recording")
        #expect(duration >= 2.0, "the recording keeps what was written: \(duration) s")
        let type = (rb as? [String: Any])?["format"] as? String
        #expect(type == (format == "wav" ? "audio/wav" : "audio/ogg"), "\(rb)")
        if format == "opus" {
            // The converted file is Ogg Opus, and the WAV it grew as is gone.
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/data/recordings")) ?? []
            #expect(files.contains { $0.hasSuffix(".opus") } && !files.contains { $0.hasSuffix(".part.wav") }, "\(files)")
        }
    }
}
