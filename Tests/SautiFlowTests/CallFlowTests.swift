import Foundation
import SautiAudio
import SautiFlow
import SautiMedia
import SautiVoice
import SautiWire
import Synchronization
import SautiTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The package root and tools, found from this file.
enum FlowPaths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let app = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ivr_app.py")
        .path
    static var python: String? { TestHTTPServer.python }
    /// The built `sauti`, next to the test bundle.
    static var sauti: String { builtExecutable("sauti", packageRoot: root) }
    static func temporaryDirectory() -> String { makeTemporaryDirectory(prefix: "sauti-flow") }
}

/// The customer's app (ivr_app.py on Python's http.server).
struct IVRApp {
    let server: TestHTTPServer
    static let secret = "whsec-test-5f2a"

    init(dir: String) async throws {
        server = try await TestHTTPServer(script: FlowPaths.app, arguments: [Self.secret, "120"], log: dir + "/app.log")
    }

    func url(_ path: String) -> String { server.url(path) }

    struct Request {
        var path: String
        var timestamp: String
        var signature: String
        var signatureOK: Bool
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    func requests() async throws -> [Request] {
        let text = try await fetchText(url("/log"))
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Request(
                path: o["path"] as? String ?? "", timestamp: o["timestamp"] as? String ?? "",
                signature: o["signature"] as? String ?? "", signatureOK: o["signature_ok"] as? Bool ?? false,
                body: o["body"] as? String ?? "")
        }
    }

    func stop() { server.stop() }
}

/// Collects a flow's events.
final class FlowEvents: Sendable {
    private let list = Mutex<[CallFlowEvent]>([])
    func add(_ e: CallFlowEvent) { list.withLock { $0.append(e) } }
    var all: [CallFlowEvent] { list.withLock { $0 } }
    var names: [String] { all.map(\.name) }
    func first(_ name: String) -> CallFlowEvent? { all.first { $0.name == name } }
}

/// Signalling that closes the leg and remembers what it was asked.
final class RecordingSignalling: CallSignalling {
    let leg: MediaLeg
    let calls = Mutex<[String]>([])
    init(leg: MediaLeg) { self.leg = leg }
    func answer() async { calls.withLock { $0.append("answer") } }
    func reject(reason: Reject.Reason) async {
        calls.withLock { $0.append("reject:\(reason.rawValue)") }
        leg.close()
    }
    func hangup() async {
        calls.withLock { $0.append("hangup") }
        leg.close()
    }
    var log: [String] { calls.withLock { $0 } }
}

/// The call-flow interpreter on real legs, with a real customer app over HTTP.
/// Ports 39000-39199.
@Suite(.serialized, .enabled(if: FlowPaths.python != nil, "python3 is not installed"))
struct CallFlowTests {
    static func engine(first: UInt16) throws -> MediaEngine {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = first
        c.lastPort = first + 19
        return try MediaEngine(configuration: c)
    }

    @Test("HMAC-SHA256 matches RFC 4231 test case 2; signatures verify and a changed body does not")
    func signatures() {
        let mac = CallbackSignature.hmacSHA256(key: Data("Jefe".utf8), message: Data("what do ya want for nothing?".utf8))
        #expect(
            mac.map { String(format: "%02x", $0) }.joined()
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let body = Data(#"{"call_id":"c1"}"#.utf8)
        let s = CallbackSignature.sign(secret: "k", timestamp: 1_700_000_000, body: body)
        #expect(s.hasPrefix("v1=") && s.count == 67)
        #expect(CallbackSignature.verify(signature: s, secret: "k", timestamp: 1_700_000_000, body: body))
        #expect(!CallbackSignature.verify(signature: s, secret: "k", timestamp: 1_700_000_001, body: body))
        #expect(!CallbackSignature.verify(signature: s, secret: "j", timestamp: 1_700_000_000, body: body))
        #expect(!CallbackSignature.verify(signature: s, secret: "k", timestamp: 1_700_000_000, body: body + Data(" ".utf8)))
    }

    @Test(
        "a real IVR: the app's XML says a menu, getDigits with a nested prompt takes the caller's RFC 4733 digit (barge-in), the JSON reply records a message ended by #, the recording callback's reply says goodbye and hangs up",
        .timeLimit(.minutes(1)))
    func ivr() async throws {
        let dir = FlowPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sauti = FlowPaths.sauti
        try #require(FileManager.default.isExecutableFile(atPath: sauti), "build sauti first: \(sauti)")
        let app = try await IVRApp(dir: dir)
        defer { app.stop() }
        // The caller: 14 s of a 700 Hz tone, "1" at 3 s (during the menu prompt), "#" at 9 s.
        let callerWAV = dir + "/caller.wav"
        var g = ToneGenerator(ToneSpec(frequenciesHz: [700], levelDBFS: -14), sampleRate: 8000)
        var samples = [Int16](repeating: 0, count: 8000 * 14)
        samples.withUnsafeMutableBufferPointer { g.fill($0) }
        try WAVWriter(path: callerWAV, sampleRate: 8000).write(samples)

        let engine = try Self.engine(first: 39_000)
        defer { engine.shutdown() }
        var lc = LegConfiguration(codec: .pcmu)
        lc.mediaTimeoutMilliseconds = 5000
        let leg = try engine.openLeg(lc)
        let heard = dir + "/heard.wav"
        let caller = try BoundedProcess(
            sauti,
            [
                "call", "127.0.0.1:\(leg.local.port)", "--wav", callerWAV, "--digits", "1@3.0,#@9.0", "--duration", "13",
                "--record", heard, "--local-port", "39100",
            ], log: dir + "/caller.log")
        let events = FlowEvents()
        let signalling = RecordingSignalling(leg: leg)
        var configuration = CallFlowConfiguration(recordingsDirectory: dir)
        configuration.callbackTimeoutSeconds = 5
        let flow = CallFlow(
            leg: leg,
            context: CallFlowContext(
                callID: "call-ivr-1", localNumber: "+254700000001", remoteNumber: "+254711222333",
                voiceURL: app.url("/voice"), signingSecret: IVRApp.secret),
            configuration: configuration, signalling: signalling, onEvent: { events.add($0) })
        let end = await flow.run()
        _ = await caller.wait(seconds: 15)
        print("ivr events:\n  " + events.all.map(\.description).joined(separator: "\n  "))
        #expect(end == .hungUp, "\(events.all)")
        #expect(signalling.log == ["answer", "hangup"])

        // The callbacks: three, each signed (checked by the app in Python, and here).
        let requests = try await app.requests()
        #expect(requests.map(\.path) == ["/voice", "/menu", "/recorded"])
        for r in requests {
            #expect(r.signatureOK, "\(r.path): the app accepted the signature")
            #expect(
                CallbackSignature.verify(
                    signature: r.signature, secret: IVRApp.secret, timestamp: Int(r.timestamp) ?? 0, body: Data(r.body.utf8)))
        }
        let first = requests[0].json
        #expect(first["call_id"] as? String == "call-ivr-1" && first["event"] as? String == "call.incoming")
        #expect(first["remote_e164"] as? String == "+254711222333" && first["status"] as? String == "ringing")
        let menu = requests[1].json
        #expect(menu["digits"] as? String == "1" && menu["digits_end"] as? String == "max-digits", "\(menu)")
        #expect(menu["status"] as? String == "in-progress")
        let recorded = try #require(requests[2].json["recording"] as? [String: Any])
        #expect(recorded["status"] as? String == "completed" && recorded["reason"] as? String == "key:#", "\(recorded)")

        // Barge-in: the digit stopped the menu prompt, then the collection ended at one digit.
        #expect(events.first("prompt.barged-in")?.detail == ["digit": "1"], "the 1 at 3 s cut the menu prompt short")
        #expect(events.first("digits.collected")?.detail == ["digits": "1", "end": "max-digits"])
        // The recording: the file named in the events and the callback, the caller's tone, ended by #.
        let finished = try #require(events.first("recording.finished"))
        let path = try #require(finished.detail["path"])
        #expect(path.hasSuffix("call-ivr-1-\(recorded["id"] as? String ?? "?").wav"))
        let (info, audio) = try WAVReader.read(path: path)
        let seconds = Double(info.frames) / 8000
        print("ivr recording: \(seconds) s, callback says \(recorded["duration_seconds"] ?? "?") s")
        #expect(abs(seconds - (recorded["duration_seconds"] as? Double ?? -1)) < 0.01)
        #expect(seconds > 1.5 && seconds < 6, "from after the beep to the # at 9 s: \(seconds) s")
        let loud = stride(from: 0, to: audio.count - 160, by: 160).filter { i in
            audio[i..<(i + 160)].reduce(0.0) { $0 + Double($1) * Double($1) } / 160 > 1e5
        }.count
        #expect(Double(loud) > Double(audio.count / 160) * 0.8, "the caller's tone fills the recording")
        // The caller heard speech (the menu, the goodbye).
        let (_, heardAudio) = try WAVReader.read(path: heard)
        #expect(heardAudio.filter { abs(Int($0)) > 500 }.count > 8000, "the caller heard the prompts")
        #expect(events.names.contains("call.answered") && events.names.last == "call.hangup")
    }

    /// A callback that fails: where the voice_url points, and the reason expected.
    static let failures: [(path: String, reason: String)] = [
        ("/status/500", "http-status"), ("/invalid", "invalid-document"), ("/slow", "timeout"),
        ("http://127.0.0.1:9/voice", "transport"),
    ]

    @Test(
        "a voice_url that errors, times out or returns an invalid document: the fallback apology is said, the call hangs up, the reason is an event",
        .timeLimit(.minutes(1)), arguments: failures.indices)
    func callbackFailure(index: Int) async throws {
        let (path, reason) = Self.failures[index]
        let dir = FlowPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await IVRApp(dir: dir)
        defer { app.stop() }
        let engine = try Self.engine(first: UInt16(39_020 + index * 20))
        defer { engine.shutdown() }
        let (a, b, heard) = try Self.pair(engine)
        defer { b.close() }
        let events = FlowEvents()
        let signalling = RecordingSignalling(leg: a)
        var configuration = CallFlowConfiguration(recordingsDirectory: dir)
        configuration.callbackTimeoutSeconds = 1
        let flow = CallFlow(
            leg: a,
            context: CallFlowContext(
                callID: "call-fail", localNumber: "+1", remoteNumber: "+2",
                voiceURL: path.hasPrefix("/") ? app.url(path) : path, signingSecret: IVRApp.secret),
            configuration: configuration, signalling: signalling, onEvent: { events.add($0) })
        let end = await flow.run()
        print("callback failure \(path): \(events.all)")
        #expect(end == .failed(reason))
        #expect(events.first("callback.failed")?.detail["reason"] == reason)
        if reason == "invalid-document" {
            let message = events.first("callback.failed")?.detail["message"] ?? ""
            #expect(message.contains("/0/verb") && message.contains("/1/numDigits"), "every problem: \(message)")
        }
        #expect(events.first("fallback.said") != nil)
        #expect(signalling.log == ["answer", "hangup"])
        try await Task.sleep(for: .milliseconds(200))
        #expect(heard.samples.filter { abs(Int($0)) > 500 }.count > 4000, "the apology was heard")
    }

    @Test("dial is an explicit unsupported event, then the flow goes on; reject before answer rejects; getDigits with no input continues; redirect runs the other URL's reply", .timeLimit(.minutes(1)))
    func verbs() async throws {
        let dir = FlowPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await IVRApp(dir: dir)
        defer { app.stop() }
        for (i, path) in ["/dial", "/reject", "/nodigits", "/redirect"].enumerated() {
            let engine = try Self.engine(first: UInt16(39_120 + i * 20))
            defer { engine.shutdown() }
            let (a, b, _) = try Self.pair(engine)
            defer { b.close() }
            let events = FlowEvents()
            let signalling = RecordingSignalling(leg: a)
            let flow = CallFlow(
                leg: a,
                context: CallFlowContext(
                    callID: "call-\(i)", localNumber: "+1", remoteNumber: "+2", voiceURL: app.url(path),
                    signingSecret: IVRApp.secret),
                configuration: CallFlowConfiguration(recordingsDirectory: dir), signalling: signalling,
                onEvent: { events.add($0) })
            let end = await flow.run()
            print("verbs \(path): \(end) \(events.all)")
            switch path {
            case "/dial":
                #expect(end == .hungUp)
                #expect(events.first("action.unsupported")?.detail == ["verb": "dial", "why": "this engine has no signalling side to place calls"])
                #expect(events.names.filter { $0 == "action.started" }.count == 3, "say and hangup still ran")
            case "/reject":
                #expect(end == .rejected(.busy))
                #expect(signalling.log == ["reject:busy"] && !events.names.contains("call.answered"))
            case "/nodigits":
                #expect(end == .hungUp)
                #expect(events.first("digits.collected")?.detail == ["digits": "", "end": "timeout"])
                #expect(try await app.requests().filter { $0.path == "/menu" }.isEmpty, "no empty result is posted")
            default:
                #expect(end == .hungUp)
                let last = try await app.requests().suffix(2)
                #expect(last.map(\.path) == ["/redirect", "/nodigits"])
                #expect(last.last?.json["event"] as? String == "redirect" && last.last?.signatureOK == true)
                #expect(events.first("digits.collected") != nil, "the redirected document ran")
                let started = events.all.filter { $0.name == "action.started" }.map { $0.detail["verb"] ?? "" }
                #expect(
                    started == ["redirect", "getDigits", "say", "hangup"],
                    "the redirect's reply replaced the rest (its Say never ran): \(started)")
            }
        }
    }

    /// Leg A (the flow's) and B (the caller, in process), talking; B keeps what it hears.
    static func pair(_ engine: MediaEngine) throws -> (MediaLeg, MediaLeg, PCMRecorderSink) {
        var cb = LegConfiguration(codec: .pcmu)
        cb.mediaTimeoutMilliseconds = 0
        let b = try engine.openLeg(cb)
        var ca = LegConfiguration(codec: .pcmu, remote: b.local)
        ca.mediaTimeoutMilliseconds = 0
        let a = try engine.openLeg(ca)
        b.update(LegConfiguration(codec: .pcmu, remote: a.local))
        let heard = PCMRecorderSink(maximumSeconds: 30, sampleRate: 8000)
        b.addSink(heard)
        return (a, b, heard)
    }
}
