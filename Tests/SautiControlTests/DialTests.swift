import Foundation
import SautiAudio
import SautiTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The customer's app and the registrar's webhook for the dial tests, on Python's
/// http.server. Documents come from files: POST /doc/NAME answers DOCS/NAME.json, POST
/// /cb/NAME the same or `[]`; POST /events answers 200, and so does POST /signalling
/// unless DOCS/signalling.json scripts it: {"ACTION:TO": [status, …]} answers the n-th
/// attempt of a request (by Idempotency-Key) with the n-th status (or [status, seconds]:
/// after that long), then 200. Every POST is
/// checked for its signature and logged with its Idempotency-Key and X-Sautikit-Attempt
/// headers and its arrival (monotonic seconds); GET /log gives them as JSON lines.
private let dialApp = #"""
    import hashlib, hmac, json, os, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    SECRET = sys.argv[1].encode()
    LIFETIME = float(sys.argv[2])
    DOCS = sys.argv[3]
    LOG = []
    LOCK = threading.Lock()
    TRIES = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def reply(self, status, body):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.endswith(".wav"):
                with open(os.path.join(DOCS, self.path.split("/")[-1]), "rb") as f:
                    data = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            with LOCK:
                text = "\n".join(json.dumps(e) for e in LOG)
            self.reply(200, text)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Sautikit-Timestamp", "")
            expected = "v1=" + hmac.new(SECRET, timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(expected, self.headers.get("X-Sautikit-Signature", ""))
            with LOCK:
                LOG.append({
                    "path": self.path, "signature_ok": ok, "body": raw.decode("utf-8", "replace"),
                    "key": self.headers.get("Idempotency-Key", ""), "attempt": self.headers.get("X-Sautikit-Attempt", ""),
                    "at": time.monotonic(),
                })
            if not ok:
                return self.reply(401, "")
            script_path = os.path.join(DOCS, "signalling.json")
            if self.path == "/signalling" and os.path.exists(script_path):
                with open(script_path) as f:
                    script = json.load(f)
                body = json.loads(raw)
                key = self.headers.get("Idempotency-Key", "")
                with LOCK:
                    TRIES[key] = TRIES.get(key, 0) + 1
                    n = TRIES[key]
                statuses = script.get("%s:%s" % (body.get("action"), body.get("to", "")), [])
                if n <= len(statuses):
                    status = statuses[n - 1]
                    if isinstance(status, list):  # [status, seconds to wait before replying]
                        time.sleep(status[1])
                        status = status[0]
                    return self.reply(status, "")
            name = self.path.split("/")[-1]
            if self.path.startswith("/doc/") or self.path.startswith("/cb/"):
                path = os.path.join(DOCS, name + ".json")
                if os.path.exists(path):
                    with open(path) as f:
                        return self.reply(200, f.read())
                return self.reply(200, "[]")
            self.reply(200, "")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("port %d" % server.server_address[1], flush=True)
    threading.Timer(LIFETIME, lambda: os._exit(0)).start()
    server.serve_forever()
    """#

/// A plain UDP socket: a far end of RTP as bytes.
private final class RawRTPSocket {
    let fd: Int32
    let port: UInt16
    init(port: UInt16) throws {
        self.port = port
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        addr.sin_port = port.bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if r != 0 { throw POSIXError(.EADDRINUSE) }
    }
    deinit { close(fd) }
    func send(_ bytes: [UInt8], toPort p: UInt16) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        addr.sin_port = p.bigEndian
        _ = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
    func receiveAll() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { return out }
            out.append(Array(buffer[0..<n]))
        }
    }
}

/// An RTP packet as the far end sees it.
private typealias Packet = SeenPacket

extension SeenPacket {
    fileprivate static func make(
        pt: UInt8, marker: Bool = false, sequence: UInt16, timestamp: UInt32, ssrc: UInt32, payload: [UInt8]
    ) -> [UInt8] {
        rtpPacket(pt: pt, marker: marker, sequence: sequence, timestamp: timestamp, ssrc: ssrc, payload: payload)
    }
}

/// A far end that sends a stream (audio frames, RFC 4733 events) in real time, with its
/// own continuous sequence numbers and timestamps.
/// Packets two far ends received, gathered on the pacing thread.
private final class PacketLog: @unchecked Sendable {
    private let lock = NSLock()
    private var a: [Packet] = []
    private var b: [Packet] = []
    func add(caller: [Packet], callee: [Packet]) {
        lock.withLock {
            a += caller
            b += callee
        }
    }
    var caller: [Packet] { lock.withLock { a } }
    var callee: [Packet] { lock.withLock { b } }
}

private final class FarEnd: @unchecked Sendable {
    let socket: RawRTPSocket
    var target: UInt16 = 0
    var sequence: UInt16
    var timestamp: UInt32
    let ssrc: UInt32
    init(port: UInt16, sequence: UInt16, timestamp: UInt32, ssrc: UInt32) throws {
        socket = try RawRTPSocket(port: port)
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
    }
    /// One 20 ms frame; `step`: its duration in the codec's clock (160 for G.711, 960 for Opus).
    func audio(pt: UInt8, _ payload: [UInt8], marker: Bool = false, step: UInt32 = 160) {
        socket.send(
            Packet.make(pt: pt, marker: marker, sequence: sequence, timestamp: timestamp, ssrc: ssrc, payload: payload),
            toPort: target)
        sequence &+= 1
        timestamp &+= step
    }
    /// One digit: three updates and three ends, all at the current timestamp.
    func digit(_ code: UInt8, pt: UInt8 = 101) {
        for (j, (end, duration)) in [(false, 160), (false, 320), (false, 480), (true, 640), (true, 640), (true, 640)]
            .enumerated()
        {
            let payload: [UInt8] = [code, (end ? 0x80 : 0) | 10, UInt8(duration >> 8), UInt8(duration & 0xFF)]
            socket.send(
                Packet.make(
                    pt: pt, marker: j == 0, sequence: sequence, timestamp: timestamp, ssrc: ssrc, payload: payload),
                toPort: target)
            sequence &+= 1
        }
        timestamp &+= 640
    }
}

/// A tone as 20 ms G.711 frames.
private func g711Tone(_ frequency: Double, law: G711Law, frames: Int) -> [[UInt8]] {
    var g = ToneGenerator(ToneSpec(frequenciesHz: [frequency], levelDBFS: -12), sampleRate: 8000)
    var samples = [Int16](repeating: 0, count: 160 * frames)
    samples.withUnsafeMutableBufferPointer { g.fill($0) }
    return (0..<frames).map { f in
        samples[(f * 160)..<((f + 1) * 160)].map { law == .ulaw ? G711.encodeULaw($0) : G711.encodeALaw($0) }
    }
}

/// Power of `samples` at `frequency` relative to total power, at 8 kHz.
private func share(_ samples: ArraySlice<Int16>, _ frequency: Double) -> Double { toneShare(samples, frequency: frequency) }

/// The 20 ms frames of `frames` with sound (RMS above −40 dBFS), joined.
private func loudFrames(_ frames: [[Int16]]) -> [Int16] {
    frames.filter { f in
        let energy = f.reduce(0.0) { $0 + Double($1) * Double($1) }
        return !f.isEmpty && (energy / Double(f.count)).squareRoot() > 32768 * 0.01
    }.flatMap { $0 }
}

/// An SDP answer from a phone at 127.0.0.1:`port` with `codec` (0 PCMU, 8 PCMA) and RFC 4733.
private func phoneAnswer(port: UInt16, pt: Int) -> String {
    let name = pt == 0 ? "PCMU" : "PCMA"
    return [
        "v=0", "o=callee 2 2 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
        "m=audio \(port) RTP/AVP \(pt) 101", "a=rtpmap:\(pt) \(name)/8000", "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16", "a=sendrecv", "",
    ].joined(separator: "\r\n")
}

/// An SDP answer from a WebRTC-style phone at 127.0.0.1:`port` that has only Opus (PT 111).
private func opusAnswer(port: UInt16) -> String {
    [
        "v=0", "o=callee 3 3 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
        "m=audio \(port) RTP/AVP 111 101", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:101 telephone-event/48000", "a=fmtp:101 0-16", "a=sendrecv", "",
    ].joined(separator: "\r\n")
}

/// The payload types of an SDP body's first m=audio line, in order.
private func offeredPayloadTypes(_ sdp: String) -> [Int] {
    for line in sdp.split(whereSeparator: \.isNewline) where line.hasPrefix("m=audio ") {
        return line.split(separator: " ").dropFirst(3).compactMap { Int($0) }
    }
    return []
}

/// The dial verb end to end: sautid as a process, a Python app as the customer's app and the
/// registrar's webhook, raw UDP sockets as the phones (caller and callees), curl as the
/// registrar's API client. Ports: RTP 44500–44899, phones 44900–44999.
@Suite(
    .serialized, .enabled(if: TestHTTPServer.python != nil && DaemonPaths.curl != nil, "python3 and curl are needed"))
struct DialTests {
    static let secret = "whsec-dial-test-0123456789"

    /// A daemon, the app, and a number whose voice_url is /doc/`doc`.
    struct Setup {
        let dir: String
        let app: TestHTTPServer
        let daemon: Daemon
        let docs: String

        /// `signalling`: the webhook's URL (the app's /signalling when nil).
        init(_ name: String, rtpPorts: String, signalling: String? = nil) async throws {
            dir = makeTemporaryDirectory(prefix: "sautid-dial-\(name)")
            docs = dir + "/docs"
            try FileManager.default.createDirectory(atPath: docs, withIntermediateDirectories: true)
            let script = dir + "/app.py"
            try dialApp.write(toFile: script, atomically: true, encoding: .utf8)
            app = try await TestHTTPServer(
                script: script, arguments: [DialTests.secret, "120", docs], log: dir + "/app.log")
            daemon = try await Daemon(
                dataDirectory: dir + "/data", rtpPorts: rtpPorts, registrarToken: DialTests.secret,
                extra: ["--signalling-webhook", signalling ?? app.url("/signalling")])
        }

        func stop() {
            daemon.terminate()
            app.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }

        func document(_ name: String, _ actions: [[String: Any]]) throws {
            let data = try JSONSerialization.data(withJSONObject: actions)
            try data.write(to: URL(fileURLWithPath: docs + "/\(name).json"))
        }

        func number(_ e164: String, doc: String) async throws {
            let (status, body, text) = try await daemon.request("POST", "/v1/numbers", json: ["e164": e164])
            #expect(status == 201, "\(text)")
            let id = try #require((body as? [String: Any])?["id"] as? String)
            let (s2, _, t2) = try await daemon.request(
                "PATCH", "/v1/numbers/\(id)/routing",
                json: [
                    "voice_url": app.url("/doc/\(doc)"), "events_url": app.url("/events"),
                    "voice_signing_secret": DialTests.secret,
                ])
            #expect(s2 == 200, "\(t2)")
        }

        /// An inbound call from a phone at `phonePort` (PCMU, RFC 4733): its id and the engine's RTP port.
        func inbound(to e164: String, phonePort: UInt16) async throws -> (String, UInt16) {
            let (status, body, text) = try await daemon.request(
                "POST", "/v1/calls", token: DialTests.secret,
                json: [
                    "direction": "inbound", "local_e164": e164, "remote_e164": "+254711222333",
                    "pbx_call_id": "pbx-\(phonePort)",
                    "sdp": callerOffer(port: phonePort),
                ])
            #expect(status == 201, "\(text)")
            let o = try #require(body as? [String: Any])
            let id = try #require((o["call"] as? [String: Any])?["id"] as? String)
            let sdp = try #require(o["sdp"] as? String)
            return (id, try #require(audioPort(sdp)))
        }

        /// The app's requests to `path` (prefix), in order: signature verdict and body.
        func requests(_ path: String) async throws -> [(ok: Bool, body: [String: Any])] {
            try await DaemonTests.appRequests(app).filter { $0.path.hasPrefix(path) }.map { ($0.ok, $0.body) }
        }

        /// Waits up to `seconds` for `count` signalling requests with `action` for `parent`.
        func webhook(
            _ action: String, count: Int = 1, seconds: Double = 10, where match: ([String: Any]) -> Bool = { _ in true }
        )
            async throws -> [[String: Any]]
        {
            let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
            var found: [[String: Any]] = []
            while true {
                found = try await requests("/signalling").map(\.body).filter {
                    $0["action"] as? String == action && match($0)
                }
                if found.count >= count || ContinuousClock.now >= deadline { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            return found
        }

        /// Waits for the callback to `/cb/name`.
        func callback(_ name: String, seconds: Double = 20) async throws -> [String: Any]? {
            let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
            while ContinuousClock.now < deadline {
                if let r = try await requests("/cb/\(name)").first { return r.ok ? r.body : nil }
                try await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }

        func signal(_ callID: String, _ json: [String: Any]) async throws -> (Int, [String: Any]) {
            let (status, body, _) = try await daemon.request(
                "POST", "/v1/calls/\(callID)/signal", token: DialTests.secret, json: json)
            return (status, body as? [String: Any] ?? [:])
        }

        func call(_ id: String) async throws -> [String: Any] {
            try await daemon.request("GET", "/v1/calls/\(id)").body as? [String: Any] ?? [:]
        }

        func eventNames(_ id: String) async throws -> [String] {
            let e = try await daemon.request("GET", "/v1/calls/\(id)/events").body as? [String: Any]
            return (e?["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        }
    }

    @Test(
        "a dial answered with PCMU: the caller hears ringback, then the callee's packets relayed undecoded in one continuous stream; a digit passes through; the bridge is recorded; the callee's hangup sends the outcome to callbackUrl and the flow goes on; the child call is a record of its own",
        .timeLimit(.minutes(2)))
    func relayed() async throws {
        let s = try await Setup("relay", rtpPorts: "44500-44599")
        defer { s.stop() }
        try s.document(
            "main",
            [
                [
                    "verb": "dial", "numbers": ["+254711000001"], "callerId": "+254700000009", "record": true,
                    "callbackUrl": s.app.url("/cb/relay"),
                ],
                ["verb": "say", "text": "The call ended."], ["verb": "hangup"],
            ])
        try await s.number("+254700000001", doc: "main")
        let caller = try FarEnd(port: 44_900, sequence: 65_000, timestamp: 4_000_000_000, ssrc: 0xCA11_E500)
        let callee = try FarEnd(port: 44_902, sequence: 100, timestamp: 77, ssrc: 0x0CA1_1EE0)
        let (parentID, parentPort) = try await s.inbound(to: "+254700000001", phonePort: caller.socket.port)
        caller.target = parentPort
        // The caller talks from the start (this latches nothing: the offer gave its address).
        let dial = try #require(try await s.webhook("dial").first, "the registrar is asked to dial")
        #expect(dial["to"] as? String == "+254711000001" && dial["from"] as? String == "+254700000009")
        #expect(dial["parent_call_id"] as? String == parentID && dial["parent_pbx_call_id"] as? String == "pbx-44900")
        let childID = try #require(dial["call_id"] as? String)
        let offer = try #require(dial["sdp"] as? String)
        let childPort = try #require(audioPort(offer))
        callee.target = childPort
        #expect(try await s.signal(childID, ["signal": "ringing"]).0 == 200)
        // Ringback for a second, while the caller sends audio the engine does not pass on.
        @Sendable func payload(_ k: Int, _ tag: UInt8) -> [UInt8] {
            [tag, UInt8(k >> 8), UInt8(k & 0xFF)] + [UInt8](repeating: 0x7F, count: 80)
                + (0..<77).map { UInt8(($0 * 5 + k) & 0xFF) }
        }
        let sent = Set((0..<150).map { payload($0, 0xA1) })
        // Read as it comes (a socket's buffer holds only a few seconds of packets). Paced on
        // a thread of its own: beside the whole suite a sleep in the test's task pool can come
        // hundreds of ms late, and the far ends' streams would pause.
        let got = PacketLog()
        func exchange(_ range: Range<Int>) async {
            await pacedOnThread(range.count) { i in
                let k = range.lowerBound + i
                caller.audio(pt: 0, payload(k, 0xA1))
                callee.audio(pt: 0, payload(k, 0xB2))
                if k == 110 { callee.digit(5) }
                got.add(
                    caller: caller.socket.receiveAll().compactMap(Packet.init),
                    callee: callee.socket.receiveAll().compactMap(Packet.init))
            }
        }
        await exchange(0..<50)
        let (st, body) = try await s.signal(
            childID, ["signal": "answered", "sdp": phoneAnswer(port: callee.socket.port, pt: 0)])
        #expect(st == 200 && body["status"] as? String == "in-progress", "\(body)")
        await exchange(50..<150)
        try await Task.sleep(for: .milliseconds(200))
        got.add(
            caller: caller.socket.receiveAll().compactMap(Packet.init),
            callee: callee.socket.receiveAll().compactMap(Packet.init))
        let atCaller = got.caller
        let atCallee = got.callee
        // The callee's signal ends the bridge; the flow goes on.
        #expect(try await s.signal(childID, ["signal": "hangup"]).0 == 200)
        let outcome = try #require(try await s.callback("relay"), "the outcome reaches callbackUrl, signed")
        let d = outcome["dial"] as? [String: Any] ?? [:]
        #expect(outcome["event"] as? String == "dial" && d["status"] as? String == "answered", "\(outcome)")
        #expect(
            d["mode"] as? String == "relay" && d["call_id"] as? String == childID
                && d["ended_by"] as? String == "callee")
        #expect((d["duration_seconds"] as? Double ?? 0) > 1.5, "\(d)")

        // Undecoded: the caller's payloads reach the callee byte for byte (µ-law 0x7F kept).
        func tagged(_ p: Packet, _ tag: UInt8) -> Bool {
            p.payload.count == 160 && p.payload[0] == tag && p.payload[3..<83].allSatisfy { $0 == 0x7F }
        }
        let relayed = atCallee.filter { $0.payloadType == 0 && tagged($0, 0xA1) }
        #expect(relayed.count >= 80, "\(relayed.count) of the caller's packets relayed")
        #expect(relayed.allSatisfy { sent.contains($0.payload) }, "relayed payloads are the caller's bytes")
        // One continuous stream at the caller: ringback, then the callee's audio and digit.
        let fromCallee = atCaller.filter { tagged($0, 0xB2) }
        #expect(
            fromCallee.count >= 80 && atCaller.count > fromCallee.count + 30,
            "ringback, then \(fromCallee.count) relayed")
        let problems = continuityProblems(atCaller, audioPT: 0)
        #expect(problems.isEmpty, "caller's stream: \(problems)")
        let events = atCaller.filter { $0.payloadType == 101 }
        #expect(
            events.count == 6 && events.allSatisfy { $0.payload.first == 5 },
            "the digit passes through: \(events.count)")

        // The parent went on (said its line, hung up); the child is a call of its own.
        var parent: [String: Any] = [:]
        for _ in 0..<100 {
            parent = try await s.call(parentID)
            if parent["status"] as? String == "completed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(parent["status"] as? String == "completed")
        // The relayed bridge is recorded too (both legs decode for it): a stereo WAV.
        let recordingID = try #require(d["recording_id"] as? String)
        var ready = false
        for _ in 0..<50 {
            if try await s.daemon.request("GET", "/v1/recordings/\(recordingID)").status == 200 {
                ready = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(ready, "the bridge recording is ready")
        let child = try await s.call(childID)
        #expect(child["parent_call_id"] as? String == parentID && child["status"] as? String == "completed", "\(child)")
        #expect(child["remote_e164"] as? String == "+254711000001" && child["direction"] as? String == "outbound")
        let names = try await s.eventNames(parentID)
        for n in ["dial.started", "dial.placed", "dial.answered", "dial.ended", "callback.sent", "call.hangup"] {
            #expect(names.contains(n), "\(n) in \(names)")
        }
        #expect(try await s.requests("/signalling").allSatisfy(\.ok), "the registrar's webhook requests are signed")
        // The child's lifecycle went to events_url too.
        let childEvents = try await s.requests("/events").map(\.body).filter { $0["call_id"] as? String == childID }
        #expect(childEvents.compactMap { $0["event"] as? String }.contains("started"))
    }

    @Test(
        "a dial answered with PCMA by a PCMU caller is transcoded both ways (Goertzel), sends its digits to the callee after answer, and records the bridge in stereo (caller left, callee right)",
        .timeLimit(.minutes(2)))
    func transcoded() async throws {
        let s = try await Setup("transcode", rtpPorts: "44600-44699")
        defer { s.stop() }
        try s.document(
            "main",
            [
                [
                    "verb": "dial", "numbers": ["sip:agent@pbx.example.com"], "record": true, "sendDigits": "1w2",
                    "callbackUrl": s.app.url("/cb/transcode"),
                ],
                ["verb": "hangup"],
            ])
        try await s.number("+254700000002", doc: "main")
        let caller = try FarEnd(port: 44_910, sequence: 1, timestamp: 1, ssrc: 0x1111_1111)
        let callee = try FarEnd(port: 44_912, sequence: 1, timestamp: 1, ssrc: 0x2222_2222)
        let (parentID, parentPort) = try await s.inbound(to: "+254700000002", phonePort: caller.socket.port)
        caller.target = parentPort
        let dial = try #require(try await s.webhook("dial").first)
        let childID = try #require(dial["call_id"] as? String)
        let offer = try #require(dial["sdp"] as? String)
        callee.target = try #require(audioPort(offer))
        #expect(dial["to"] as? String == "sip:agent@pbx.example.com")
        // What came before the answer (ringback, silence) is read and set aside.
        _ = caller.socket.receiveAll()
        _ = callee.socket.receiveAll()
        let (st, _) = try await s.signal(
            childID, ["signal": "answered", "sdp": phoneAnswer(port: callee.socket.port, pt: 8)])
        #expect(st == 200)
        // Five seconds: on a loaded machine the bridge may take a second or two to come up
        // after the answer, and what is sent before is not heard.
        let up = g711Tone(1000, law: .ulaw, frames: 250)
        let down = g711Tone(700, law: .alaw, frames: 250)
        // Read as it comes (a socket's buffer holds only a few seconds of packets). Paced
        // on a thread of its own: beside the whole suite the test's task pool is busy, and
        // sleeps there came late and in bursts that the caller's jitter buffer dropped.
        let got = PacketLog()
        await pacedOnThread(250) { k in
            caller.audio(pt: 0, up[k])
            callee.audio(pt: 8, down[k])
            got.add(caller: caller.socket.receiveAll().compactMap(Packet.init), callee: callee.socket.receiveAll().compactMap(Packet.init))
        }
        var atCaller = got.caller
        var atCallee = got.callee
        #expect(try await s.signal(childID, ["signal": "hangup"]).0 == 200)
        atCaller += caller.socket.receiveAll().compactMap(Packet.init)
        atCallee += callee.socket.receiveAll().compactMap(Packet.init)
        let outcome = try #require(try await s.callback("transcode"))
        let d = outcome["dial"] as? [String: Any] ?? [:]
        #expect(d["status"] as? String == "answered" && d["mode"] as? String == "transcode", "\(d)")

        // The caller hears the callee's 700 Hz as µ-law; the callee the caller's 1 kHz as A-law:
        // over the frames with sound after the answer (a bridge starting, a stream ending,
        // send silence), at least a second of them.
        let heardByCaller = loudFrames(atCaller.filter { $0.payloadType == 0 }.map { $0.payload.map(G711.decodeULaw) })
        let heardByCallee = loudFrames(atCallee.filter { $0.payloadType == 8 }.map { $0.payload.map(G711.decodeALaw) })
        let c700 = share(heardByCaller[...], 700)
        let e1000 = share(heardByCallee[...], 1000)
        #expect(
            heardByCaller.count >= 8000 && c700 > 0.6,
            "the caller hears 700 Hz: \(c700) over \(heardByCaller.count) samples")
        #expect(
            heardByCallee.count >= 8000 && e1000 > 0.6,
            "the callee hears 1 kHz: \(e1000) over \(heardByCallee.count) samples")
        // sendDigits "1w2": RFC 4733 events 1 then 2 at the callee, half a second apart or more.
        let events = atCallee.filter { $0.payloadType == 101 }
        let codes = events.reduce(into: [UInt8]()) { r, p in if p.marker { r.append(p.payload[0]) } }
        #expect(codes == [1, 2], "digits at the callee: \(codes)")

        // The stereo recording: caller (1 kHz) left, callee (700 Hz) right.
        let recordingID = try #require(d["recording_id"] as? String)
        var path: String?
        for _ in 0..<50 {
            let (rs, rb, _) = try await s.daemon.request("GET", "/v1/recordings/\(recordingID)")
            if rs == 200 { path = (rb as? [String: Any])?["url"] as? String; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let url = try #require(path, "the recording becomes ready")
        let out = s.dir + "/bridge.wav"
        let fetched = try await runTool(try #require(DaemonPaths.curl), ["-s", "-f", "-o", out, url]).status
        #expect(fetched == 0)
        let (info, samples) = try WAVReader.read(path: out)
        #expect(info.channels == 2 && info.frames > 8000 * 2, "\(info)")
        func frames(_ channel: Int) -> [[Int16]] {
            let mono = stride(from: channel, to: samples.count, by: 2).map { samples[$0] }
            return stride(from: 0, to: mono.count - 159, by: 160).map { Array(mono[$0..<($0 + 160)]) }
        }
        let left = loudFrames(frames(0))
        let right = loudFrames(frames(1))
        let l = share(left[...], 1000)
        let r = share(right[...], 700)
        #expect(left.count >= 8000 && right.count >= 8000, "a second of each side: \(left.count), \(right.count)")
        #expect(l > 0.6 && r > 0.6, "left 1 kHz \(l), right 700 Hz \(r)")
        _ = parentID
    }

    @Test(
        "a PCMU caller's dial offers PCMU first; a callee that answers with Opus only is transcoded both ways (Goertzel on what each hears), and its leg runs at the caller's 8 kHz (live state), coding narrowband Opus",
        .timeLimit(.minutes(2)))
    func transcodedToOpus() async throws {
        let s = try await Setup("opus", rtpPorts: "61800-61899")
        defer { s.stop() }
        try s.document(
            "main",
            [["verb": "dial", "numbers": ["sip:webrtc@pbx.example.com"], "callbackUrl": s.app.url("/cb/opus")], ["verb": "hangup"]])
        try await s.number("+254700000009", doc: "main")
        let caller = try FarEnd(port: 44_940, sequence: 1, timestamp: 1, ssrc: 0x5555_5555)
        let callee = try FarEnd(port: 44_942, sequence: 1, timestamp: 1, ssrc: 0x6666_6666)
        let (_, parentPort) = try await s.inbound(to: "+254700000009", phonePort: caller.socket.port)
        caller.target = parentPort
        let dial = try #require(try await s.webhook("dial").first)
        let childID = try #require(dial["call_id"] as? String)
        let offer = try #require(dial["sdp"] as? String)
        callee.target = try #require(audioPort(offer))
        // The daemon's preference is Opus, PCMU, PCMA; the child call's offer puts the
        // caller's codec first so that a far end with PCMU answers PCMU (relayed).
        let types = offeredPayloadTypes(offer)
        #expect(types.first == 0 && types.contains(8) && offer.contains("opus/48000/2"), "offer: \(types)\n\(offer)")
        _ = caller.socket.receiveAll()
        _ = callee.socket.receiveAll()
        let (st, _) = try await s.signal(childID, ["signal": "answered", "sdp": opusAnswer(port: callee.socket.port)])
        #expect(st == 200)

        // The callee sends 700 Hz as Opus (a wideband encoder, as a browser's), the caller 1 kHz as PCMU.
        let up = g711Tone(1000, law: .ulaw, frames: 250)
        var tone = ToneGenerator(ToneSpec(frequenciesHz: [700], levelDBFS: -12), sampleRate: 16_000)
        var wide = [Int16](repeating: 0, count: 320 * 250)
        wide.withUnsafeMutableBufferPointer { tone.fill($0) }
        let encoder = try OpusEncoder(sampleRate: 16_000)
        var packet = [UInt8](repeating: 0, count: 1500)
        let down = (0..<250).map { k -> [UInt8] in
            let n = wide[(k * 320)..<((k + 1) * 320)].withUnsafeBufferPointer { f in
                packet.withUnsafeMutableBytes { encoder.encode(f, into: $0) }
            }
            return Array(packet[0..<n])
        }
        let got = PacketLog()
        await pacedOnThread(250) { k in
            caller.audio(pt: 0, up[k])
            callee.audio(pt: 111, down[k], step: 960)
            got.add(
                caller: caller.socket.receiveAll().compactMap(Packet.init),
                callee: callee.socket.receiveAll().compactMap(Packet.init))
        }
        // The callee's leg runs at the caller's 8 kHz (its live state says so).
        let live = (try await s.call(childID))["live"] as? [String: Any]
        let rtp = live?["rtp"] as? [String: Any]
        #expect(rtp?["codec"] as? String == "opus" && rtp?["sample_rate"] as? Int == 8000, "\(live ?? [:])")
        #expect(try await s.signal(childID, ["signal": "hangup"]).0 == 200)
        let outcome = try #require(try await s.callback("opus"))
        let d = outcome["dial"] as? [String: Any] ?? [:]
        #expect(d["status"] as? String == "answered" && d["mode"] as? String == "transcode", "\(d)")

        // The caller hears the callee's 700 Hz as µ-law.
        let heardByCaller = loudFrames(got.caller.filter { $0.payloadType == 0 }.map { $0.payload.map(G711.decodeULaw) })
        let c700 = share(heardByCaller[...], 700)
        #expect(
            heardByCaller.count >= 8000 && c700 > 0.6, "the caller hears 700 Hz: \(c700) over \(heardByCaller.count) samples")
        // The callee gets Opus: every packet narrowband (TOC configurations 0-3, SILK at 8
        // kHz), and decoded it holds the caller's 1 kHz.
        let opus = got.callee.filter { $0.payloadType == 111 }
        #expect(opus.count >= 100, "Opus packets at the callee: \(opus.count)")
        let bands = Set(opus.compactMap { $0.payload.first.map { Int($0 >> 3) } })
        #expect(!bands.isEmpty && bands.allSatisfy { $0 <= 3 }, "TOC configurations: \(bands.sorted())")
        let decoder = try OpusDecoder(sampleRate: 8000)
        let out = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 5760)
        defer { out.deallocate() }
        let decoded = opus.map { p -> [Int16] in
            let outcome = p.payload.withUnsafeBytes { decoder.decode($0, into: out) }
            return Array(out[0..<outcome.samples])
        }
        let heardByCallee = loudFrames(decoded)
        let e1000 = share(heardByCallee[...], 1000)
        #expect(
            heardByCallee.count >= 8000 && e1000 > 0.6, "the callee hears 1 kHz: \(e1000) over \(heardByCallee.count) samples")
    }

    @Test(
        "busy, no-answer and canceled outcomes reach callbackUrl: the registrar's busy, a timeout that cancels the child call, a caller who hangs up while it rings",
        .timeLimit(.minutes(2)))
    func busyAndNoAnswer() async throws {
        let s = try await Setup("busy", rtpPorts: "44700-44799")
        defer { s.stop() }
        try s.document(
            "busy",
            [["verb": "dial", "numbers": ["+254711000003"], "timeout": 5, "callbackUrl": s.app.url("/cb/busy")]])
        try s.document(
            "silent",
            [["verb": "dial", "numbers": ["+254711000004"], "timeout": 5, "callbackUrl": s.app.url("/cb/silent")]])
        try s.document(
            "left",
            [["verb": "dial", "numbers": ["+254711000009"], "timeout": 30, "callbackUrl": s.app.url("/cb/left")]])
        try await s.number("+254700000003", doc: "busy")
        try await s.number("+254700000004", doc: "silent")
        try await s.number("+254700000006", doc: "left")
        _ = try await s.inbound(to: "+254700000003", phonePort: 44_920)
        _ = try await s.inbound(to: "+254700000004", phonePort: 44_922)
        let (leftID, _) = try await s.inbound(to: "+254700000006", phonePort: 44_924)
        let busyDial = try #require(
            try await s.webhook("dial", where: { $0["to"] as? String == "+254711000003" }).first)
        let busyID = try #require(busyDial["call_id"] as? String)
        #expect(try await s.signal(busyID, ["signal": "ringing"]).0 == 200)
        #expect(try await s.signal(busyID, ["signal": "busy", "cause": "486"]).0 == 200)
        let busy = try #require(try await s.callback("busy"))
        #expect((busy["dial"] as? [String: Any])?["status"] as? String == "busy", "\(busy)")

        // A caller who hangs up while the target rings: the target is canceled, the outcome
        // is canceled, and still reaches callbackUrl.
        let leftDial = try #require(
            try await s.webhook("dial", where: { $0["to"] as? String == "+254711000009" }).first)
        let leftChild = try #require(leftDial["call_id"] as? String)
        #expect(try await s.signal(leftChild, ["signal": "ringing"]).0 == 200)
        #expect(try await s.signal(leftID, ["signal": "hangup"]).0 == 200)
        let left = try #require(try await s.callback("left"))
        #expect((left["dial"] as? [String: Any])?["status"] as? String == "canceled", "\(left)")
        let leftCancel = try await s.webhook("cancel", where: { $0["call_id"] as? String == leftChild })
        #expect(leftCancel.first?["reason"] as? String == "canceled")
        #expect(try await s.call(leftChild)["status"] as? String == "canceled")

        let silent = try #require(try await s.callback("silent", seconds: 15))
        let sd = silent["dial"] as? [String: Any] ?? [:]
        #expect(sd["status"] as? String == "no-answer" && (sd["duration_seconds"] as? Double) == 0, "\(silent)")
        let silentID = try #require(sd["call_id"] as? String)
        let cancels = try await s.webhook("cancel", where: { $0["call_id"] as? String == silentID })
        #expect(cancels.count == 1, "the unanswered call is canceled at the registrar")
        #expect(try await s.call(silentID)["status"] as? String == "no-answer")
        #expect(try await s.call(busyID)["status"] as? String == "busy")
    }

    @Test(
        "simultaneous dial: the first answer wins and the other call is canceled; bad signals (unknown or finished calls, a second answer, no SDP, SDP the engine cannot use) get precise errors and change nothing",
        .timeLimit(.minutes(2)))
    func simultaneousAndBadSignals() async throws {
        let s = try await Setup("simul", rtpPorts: "44800-44899")
        defer { s.stop() }
        try s.document(
            "main",
            [["verb": "dial", "numbers": ["+254711000005", "+254711000006"], "callbackUrl": s.app.url("/cb/simul")]])
        try await s.number("+254700000005", doc: "main")
        let caller = try FarEnd(port: 44_930, sequence: 1, timestamp: 1, ssrc: 0x3333_3333)
        let callee = try FarEnd(port: 44_932, sequence: 1, timestamp: 1, ssrc: 0x4444_4444)
        let (parentID, _) = try await s.inbound(to: "+254700000005", phonePort: caller.socket.port)
        let dials = try await s.webhook("dial", count: 2)
        #expect(
            dials.count == 2 && Set(dials.compactMap { $0["to"] as? String }) == ["+254711000005", "+254711000006"])
        let first = try #require(dials.first { $0["to"] as? String == "+254711000005" }?["call_id"] as? String)
        let second = try #require(dials.first { $0["to"] as? String == "+254711000006" }?["call_id"] as? String)

        // Bad input first: each a precise error, and the call stays as it was.
        let (unknown, ub) = try await s.signal(
            "call_doesnotexist", ["signal": "answered", "sdp": phoneAnswer(port: 44_932, pt: 0)])
        #expect(unknown == 404 && (ub["error"] as? [String: Any])?["code"] as? String == "not_found")
        let (noSDP, nb) = try await s.signal(second, ["signal": "answered"])
        #expect(noSDP == 422 && (nb["error"] as? [String: Any])?["code"] as? String == "missing_sdp", "\(nb)")
        let g729 = phoneAnswer(port: 44_932, pt: 0).replacingOccurrences(of: "RTP/AVP 0 101", with: "RTP/AVP 18")
            .replacingOccurrences(of: "a=rtpmap:0 PCMU/8000", with: "a=rtpmap:18 G729/8000")
        let (badSDP, bb) = try await s.signal(second, ["signal": "answered", "sdp": g729])
        #expect(badSDP == 422 && (bb["error"] as? [String: Any])?["code"] as? String == "sdp_rejected", "\(bb)")
        #expect(try await s.call(second)["status"] as? String == "queued", "nothing changed")

        // The second answers first and wins; the first is canceled.
        let (ok, okBody) = try await s.signal(
            second, ["signal": "answered", "sdp": phoneAnswer(port: callee.socket.port, pt: 0)])
        #expect(ok == 200, "a good answer after the bad ones still works: \(okBody)")
        let cancels = try await s.webhook("cancel", where: { $0["call_id"] as? String == first })
        #expect(cancels.count == 1, "the other call is canceled")
        var firstStatus = ""
        for _ in 0..<50 {
            firstStatus = try await s.call(first)["status"] as? String ?? ""
            if firstStatus == "canceled" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(firstStatus == "canceled")
        // The loser answers late, the winner twice: 409s that change nothing.
        let (late, lb) = try await s.signal(first, ["signal": "answered", "sdp": phoneAnswer(port: 44_934, pt: 0)])
        #expect(late == 409 && (lb["error"] as? [String: Any])?["code"] as? String == "call_ended", "\(lb)")
        let (again, ab) = try await s.signal(second, ["signal": "answered", "sdp": phoneAnswer(port: 44_936, pt: 0)])
        #expect(again == 409 && (ab["error"] as? [String: Any])?["code"] as? String == "already_answered", "\(ab)")
        #expect(try await s.call(first)["status"] as? String == "canceled")
        #expect(try await s.call(second)["status"] as? String == "in-progress")

        // The caller hangs up: the winner is hung up at the registrar, the outcome reported.
        #expect(try await s.signal(parentID, ["signal": "hangup"]).0 == 200)
        let hangups = try await s.webhook("hangup", where: { $0["call_id"] as? String == second })
        #expect(hangups.count == 1, "the answered call is hung up")
        let outcome = try #require(try await s.callback("simul"))
        let d = outcome["dial"] as? [String: Any] ?? [:]
        #expect(
            d["status"] as? String == "answered" && d["call_id"] as? String == second
                && d["ended_by"] as? String == "caller", "\(d)")
        let (after, afterBody) = try await s.signal(second, ["signal": "hangup"])
        #expect(after == 409 && (afterBody["error"] as? [String: Any])?["code"] as? String == "call_ended")
        _ = callee
    }

    @Test(
        "sequential dial: ringbackTone's audio while the targets ring; the second target is rung only after the first is busy; its answer is bridged until maxDuration, which hangs it up",
        .timeLimit(.minutes(2)))
    func sequentialAndMaxDuration() async throws {
        let s = try await Setup("sequential", rtpPorts: "44400-44499")
        defer { s.stop() }
        try s.document(
            "main",
            [
                [
                    "verb": "dial", "numbers": ["+254711000007", "+254711000008"], "sequential": true, "timeout": 5,
                    "maxDuration": 2, "callbackUrl": s.app.url("/cb/sequential"),
                    "ringbackTone": s.app.url("/ringback.wav"),
                ]
            ])
        // The ringback: 600 Hz, 3 s.
        var g = ToneGenerator(ToneSpec(frequenciesHz: [600], levelDBFS: -12), sampleRate: 8000)
        var tone = [Int16](repeating: 0, count: 24_000)
        tone.withUnsafeMutableBufferPointer { g.fill($0) }
        try WAVWriter(path: s.docs + "/ringback.wav", sampleRate: 8000).write(tone)
        try await s.number("+254700000007", doc: "main")
        let caller = try RawRTPSocket(port: 44_940)
        _ = try await s.inbound(to: "+254700000007", phonePort: 44_940)
        let first = try #require(try await s.webhook("dial").first)
        #expect(first["to"] as? String == "+254711000007")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await s.webhook("dial", seconds: 0).count == 1, "one at a time")
        let firstID = try #require(first["call_id"] as? String)
        // The caller hears the ringback's audio while the first target rings.
        try await Task.sleep(for: .milliseconds(700))
        let ringing = loudFrames(
            caller.receiveAll().compactMap(Packet.init).filter { $0.payloadType == 0 }.map {
                $0.payload.map(G711.decodeULaw)
            })
        let r600 = share(ringing[...], 600)
        #expect(ringing.count >= 1600 && r600 > 0.6, "ringbackTone heard: \(r600) over \(ringing.count) samples")
        #expect(try await s.signal(firstID, ["signal": "busy"]).0 == 200)
        let second = try #require(try await s.webhook("dial", count: 2).last)
        #expect(second["to"] as? String == "+254711000008")
        let secondID = try #require(second["call_id"] as? String)
        #expect(try await s.signal(secondID, ["signal": "answered", "sdp": phoneAnswer(port: 44_942, pt: 0)]).0 == 200)
        let outcome = try #require(try await s.callback("sequential"))
        let d = outcome["dial"] as? [String: Any] ?? [:]
        #expect(d["status"] as? String == "answered" && d["call_id"] as? String == secondID, "\(d)")
        #expect(d["ended_by"] as? String == "max-duration", "\(d)")
        let duration = d["duration_seconds"] as? Double ?? 0
        #expect(duration >= 1.9 && duration < 3.5, "joined for maxDuration: \(duration)")
        let hangups = try await s.webhook("hangup", where: { $0["call_id"] as? String == secondID })
        #expect(hangups.count == 1, "the called party is hung up at maxDuration")
        #expect(try await s.call(secondID)["status"] as? String == "completed")
        #expect(try await s.call(firstID)["status"] as? String == "busy")
    }
}
