import Foundation
import SautiControl
import SautiTestSupport
import Testing

/// The signalling webhook under failure, end to end: sautid as a process, the dial tests'
/// Python app as the customer's app and a registrar scripted to fail (DOCS/signalling.json),
/// or no registrar at all. Also `GET /v1/calls?parent_call_id=`. Ports: RTP 61960-61999,
/// phones (in SDP only) 45900-45910, TCP 45999 for the registrar that is down (nothing
/// listens there).
@Suite(
    .serialized, .enabled(if: TestHTTPServer.python != nil && DaemonPaths.curl != nil, "python3 and curl are needed"))
struct DialSignallingTests {
    /// One request the registrar's webhook got.
    struct Request {
        var ok: Bool
        /// The body as sent.
        var raw: String
        var body: [String: Any]
        var key: String
        var attempt: String
        /// When it arrived (the app's monotonic clock, seconds).
        var at: Double
    }

    /// The webhook requests for `callID`, in arrival order.
    static func registrar(_ s: DialTests.Setup, callID: String) throws -> [Request] {
        let text = try String(contentsOf: URL(string: s.app.url("/log"))!, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> Request? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                o["path"] as? String == "/signalling"
            else { return nil }
            let raw = o["body"] as? String ?? ""
            let body = (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any] ?? [:]
            guard body["call_id"] as? String == callID else { return nil }
            return Request(
                ok: o["signature_ok"] as? Bool ?? false, raw: raw, body: body, key: o["key"] as? String ?? "",
                attempt: o["attempt"] as? String ?? "", at: o["at"] as? Double ?? 0)
        }
    }

    /// A call's timeline: name, detail, when.
    static func timeline(_ s: DialTests.Setup, _ id: String) async throws -> [(
        name: String, detail: [String: String], at: Date?
    )] {
        let e = try await s.daemon.request("GET", "/v1/calls/\(id)/events").body as? [String: Any]
        return (e?["data"] as? [[String: Any]] ?? []).map {
            (
                $0["name"] as? String ?? "", $0["detail"] as? [String: String] ?? [:],
                parseStoreTimestamp($0["occurred_at"] as? String ?? "")
            )
        }
    }

    /// The timeline's `signalling.*` events, once one named `last` is there (up to 10 s).
    static func signalling(_ s: DialTests.Setup, _ id: String, until last: String = "signalling.sent") async throws
        -> [(name: String, detail: [String: String])]
    {
        var events: [(name: String, detail: [String: String])] = []
        for _ in 0..<200 {
            events = try await timeline(s, id).filter { $0.name.hasPrefix("signalling.") }.map { ($0.name, $0.detail) }
            if events.contains(where: { $0.name == last }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return events
    }

    /// `GET /v1/calls?parent_call_id=`: the status, and the ids listed (or the error code).
    static func children(_ s: DialTests.Setup, _ query: String) async throws -> (Int, [String], String?) {
        let (status, body, _) = try await s.daemon.request("GET", "/v1/calls?parent_call_id=\(query)")
        let o = body as? [String: Any] ?? [:]
        let ids = (o["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        return (status, ids, (o["error"] as? [String: Any])?["code"] as? String)
    }

    /// A call's status, once it is not `from` (up to 10 s).
    static func status(_ s: DialTests.Setup, _ id: String, leaving from: String) async throws -> [String: Any] {
        var call: [String: Any] = [:]
        for _ in 0..<200 {
            call = try await s.call(id)
            if let st = call["status"] as? String, st != from { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return call
    }

    static func script(_ s: DialTests.Setup, _ statuses: [String: [Any]]) throws {
        try JSONSerialization.data(withJSONObject: statuses).write(
            to: URL(fileURLWithPath: s.docs + "/signalling.json"))
    }

    @Test(
        "a registrar that answers dial with 503 twice, then 200, gets the same body three times with one Idempotency-Key and attempts 1-3: one call placed, each attempt on its timeline; parent_call_id lists exactly a parent's children and refuses what is not a call id",
        .timeLimit(.minutes(2)))
    func retriedDial() async throws {
        let s = try await DialTests.Setup("retry", rtpPorts: "61960-61969")
        defer { s.stop() }
        try Self.script(s, ["dial:+254711000031": [503, 503]])
        try s.document("main", [["verb": "dial", "numbers": ["+254711000031", "+254711000034"], "timeout": 30]])
        try s.document("other", [["verb": "dial", "numbers": ["+254711000035"], "timeout": 30]])
        try await s.number("+254700000031", doc: "main")
        try await s.number("+254700000032", doc: "other")
        let (parent, _) = try await s.inbound(to: "+254700000031", phonePort: 45_900)
        let (other, _) = try await s.inbound(to: "+254700000032", phonePort: 45_902)
        let retried = try await s.webhook("dial", count: 3, where: { $0["to"] as? String == "+254711000031" })
        #expect(retried.count == 3, "three attempts: \(retried.count)")
        let child = try #require(retried.first?["call_id"] as? String)
        let second = try #require(
            try await s.webhook("dial", where: { $0["to"] as? String == "+254711000034" }).first?["call_id"] as? String)
        let otherChild = try #require(
            try await s.webhook("dial", where: { $0["to"] as? String == "+254711000035" }).first?["call_id"] as? String)

        // The registrar's side: the same bytes, one key, attempts counted, all signed.
        let requests = try Self.registrar(s, callID: child)
        #expect(requests.count == 3 && Set(requests.map(\.raw)).count == 1, "one body: \(requests.map(\.raw))")
        #expect(requests.allSatisfy { $0.key == "\(child):dial" && $0.ok }, "\(requests.map(\.key))")
        #expect(requests.map(\.attempt) == ["1", "2", "3"])
        // 250 ms, then 500 ms, between them (less a little for the clocks' grain).
        if requests.count == 3 {
            #expect(
                requests[1].at - requests[0].at >= 0.2 && requests[2].at - requests[1].at >= 0.45,
                "\(requests.map(\.at))")
        }
        #expect(try Self.registrar(s, callID: second).map(\.attempt) == ["1"], "a 200 at once is sent once")

        // The engine's side: each attempt on the child's timeline, the call placed.
        let events = try await Self.signalling(s, child)
        #expect(events.map(\.name) == ["signalling.retrying", "signalling.retrying", "signalling.sent"], "\(events)")
        if events.count == 3 {
            #expect(
                events[0].detail == ["action": "dial", "attempt": "1", "outcome": "HTTP 503", "retry_in_ms": "250"])
            #expect(
                events[1].detail == ["action": "dial", "attempt": "2", "outcome": "HTTP 503", "retry_in_ms": "500"])
            #expect(events[2].detail == ["action": "dial", "outcome": "delivered", "attempts": "3"])
        }
        #expect(try await s.call(child)["status"] as? String == "queued", "placed, not failed")
        let (ringing, rb) = try await s.signal(child, ["signal": "ringing"])
        #expect(ringing == 200 && rb["status"] as? String == "ringing", "\(rb)")

        // parent_call_id: exactly each parent's children, newest first; none for a child.
        let (st, ids, _) = try await Self.children(s, parent)
        #expect(st == 200 && ids == [second, child], "\(ids)")
        #expect(try await Self.children(s, other).1 == [otherChild])
        #expect(try await Self.children(s, child).1 == [])
        let all = try await s.daemon.request("GET", "/v1/calls").body as? [String: Any]
        #expect((all?["data"] as? [Any])?.count == 5, "the filter filters: five calls in all")
        for bad in [
            "", "call_nope", parent.uppercased(), "\(parent)0", String(parent.dropLast()),
            "num_0123456789abcdef01234567",
            "call_0123456789abcdef0123456g", "%27%20OR%201%3D1%20--",
        ] {
            let (code, listed, error) = try await Self.children(s, bad)
            #expect(
                code == 400 && error == "invalid_parent_call_id" && listed.isEmpty, "\(bad): \(code) \(error ?? "")")
        }
    }

    @Test(
        "a 400 to dial is not retried: one request, the call failed with the status as its cause; a 429 is retried",
        .timeLimit(.minutes(2)))
    func refusedDial() async throws {
        let s = try await DialTests.Setup("refused", rtpPorts: "61970-61977")
        defer { s.stop() }
        try Self.script(s, ["dial:+254711000036": [400], "dial:+254711000037": [429]])
        try s.document(
            "main",
            [
                [
                    "verb": "dial", "numbers": ["+254711000036", "+254711000037"], "timeout": 30,
                    "callbackUrl": s.app.url("/cb/refused"),
                ]
            ])
        try await s.number("+254700000036", doc: "main")
        let (parent, _) = try await s.inbound(to: "+254700000036", phonePort: 45_904)
        let refused = try #require(
            try await s.webhook("dial", where: { $0["to"] as? String == "+254711000036" }).first?["call_id"] as? String)
        let limited = try await s.webhook("dial", count: 2, where: { $0["to"] as? String == "+254711000037" })
        #expect(limited.count == 2, "a 429 is tried again")
        let failed = try await Self.status(s, refused, leaving: "queued")
        #expect(
            failed["status"] as? String == "failed" && failed["cause"] as? String == "signalling: HTTP 400", "\(failed)"
        )
        let events = try await Self.signalling(s, refused)
        #expect(events.map(\.name) == ["signalling.sent"], "\(events)")
        #expect(events.first?.detail == ["action": "dial", "outcome": "HTTP 400 (not retried)", "attempts": "1"])
        // Time enough for a retry that should not come (the first would come after 250 ms).
        try await Task.sleep(for: .milliseconds(600))
        #expect(try Self.registrar(s, callID: refused).count == 1)

        let placed = try #require(limited.first?["call_id"] as? String)
        #expect(try await Self.signalling(s, placed).last?.detail["attempts"] == "2")
        #expect(try await s.signal(placed, ["signal": "busy"]).0 == 200)
        let outcome = try #require(try await s.callback("refused"))
        #expect((outcome["dial"] as? [String: Any])?["status"] as? String == "busy", "\(outcome)")
        #expect(Set(try await Self.children(s, parent).1) == [refused, placed])
    }

    @Test(
        "a registrar that signals on a child call while its dial is being retried has it: the retries stop, and the call stands though every attempt was refused",
        .timeLimit(.minutes(2)))
    func signalStopsRetries() async throws {
        let s = try await DialTests.Setup("signalled", rtpPorts: "61978-61983")
        defer { s.stop() }
        // Every attempt refused: the registrar took the first, but its reply says otherwise.
        // Each reply takes 1.5 s (an attempt may take 2): the retries then span about 5 s, and
        // the ringing below comes within them even when this test runs late beside the suite
        // (with immediate replies the window was 0.75 s).
        try Self.script(s, ["dial:+254711000040": [[503, 1.5], [503, 1.5], [503, 1.5]]])
        try s.document("main", [["verb": "dial", "numbers": ["+254711000040"], "timeout": 30]])
        try await s.number("+254700000040", doc: "main")
        _ = try await s.inbound(to: "+254700000040", phonePort: 45_910)
        let child = try #require(try await s.webhook("dial").first?["call_id"] as? String)
        let (st, body) = try await s.signal(child, ["signal": "ringing"])
        #expect(st == 200 && body["status"] as? String == "ringing", "\(body)")
        let events = try await Self.signalling(s, child)
        let sent = events.first { $0.name == "signalling.sent" }?.detail ?? [:]
        #expect(sent["outcome"] == "acknowledged: the registrar reported on the call", "\(events)")
        #expect(Int(sent["attempts"] ?? "") ?? 3 < 3, "\(events)")
        try await Task.sleep(for: .milliseconds(800))
        #expect(try Self.registrar(s, callID: child).count < 3, "no attempt after the signal")
        #expect(try await s.call(child)["status"] as? String == "ringing", "not failed")
    }

    @Test(
        "a hangup of a child call whose dial is being retried waits: the registrar gets dial, dial, dial, then hangup; the call is canceled and the dialing flow hears it",
        .timeLimit(.minutes(2)))
    func hangupWaitsForDial() async throws {
        let s = try await DialTests.Setup("hangup", rtpPorts: "61984-61989")
        defer { s.stop() }
        try Self.script(s, ["dial:+254711000038": [503, 503]])
        try s.document(
            "main",
            [["verb": "dial", "numbers": ["+254711000038"], "timeout": 30, "callbackUrl": s.app.url("/cb/hungup")]])
        try await s.number("+254700000038", doc: "main")
        _ = try await s.inbound(to: "+254700000038", phonePort: 45_906)
        // The first attempt has been refused (503); the retries are 250 and 750 ms away.
        let child = try #require(try await s.webhook("dial").first?["call_id"] as? String)
        let (status, body, text) = try await s.daemon.request("POST", "/v1/calls/\(child)/hangup")
        #expect(status == 200 && (body as? [String: Any])?["status"] as? String == "canceled", "\(text)")
        let requests = try Self.registrar(s, callID: child)
        #expect(
            requests.map { $0.body["action"] as? String ?? "" } == ["dial", "dial", "dial", "hangup"],
            "\(requests.map(\.body))")
        #expect(requests.last?.key == "\(child):hangup")
        let outcome = try #require(try await s.callback("hungup"))
        #expect((outcome["dial"] as? [String: Any])?["status"] as? String == "canceled", "\(outcome)")
        let call = try await s.call(child)
        #expect(call["status"] as? String == "canceled" && call["cause"] as? String == "api-hangup", "\(call)")
    }

    @Test(
        "a registrar that is down (connection refused): the dial is tried three times and fails within 2.5 s; a hangup meanwhile gets 409 call_ended",
        .timeLimit(.minutes(2)))
    func registrarDown() async throws {
        let s = try await DialTests.Setup(
            "down", rtpPorts: "61990-61999", signalling: "http://127.0.0.1:45999/signalling")
        defer { s.stop() }
        try s.document(
            "main",
            [["verb": "dial", "numbers": ["+254711000039"], "timeout": 30, "callbackUrl": s.app.url("/cb/down")]])
        try await s.number("+254700000039", doc: "main")
        let (parent, _) = try await s.inbound(to: "+254700000039", phonePort: 45_908)
        var child: String?
        // Up to 15 s, by the clock: each look is a curl run, which on a loaded machine is no
        // longer a few ms (200 looks once took the whole test's time limit).
        let deadline = ContinuousClock.now + .seconds(15)
        while child == nil && ContinuousClock.now < deadline {
            child = try await Self.children(s, parent).1.first
            if child == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let parentTimeline = try await s.eventNames(parent)
        let id = try #require(child, "the child call is stored before its dial is sent; the parent's timeline: \(parentTimeline)")
        // In the dial's turn, or after it: either way the call has failed by then.
        let (hangup, hb, _) = try await s.daemon.request("POST", "/v1/calls/\(id)/hangup")
        #expect(
            hangup == 409 && ((hb as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "call_ended")
        let outcome = try #require(try await s.callback("down"))
        #expect((outcome["dial"] as? [String: Any])?["status"] as? String == "failed", "\(outcome)")
        let call = try await s.call(id)
        #expect(call["status"] as? String == "failed", "\(call)")
        #expect((call["cause"] as? String ?? "").hasPrefix("signalling: "), "\(call)")

        let events = try await Self.signalling(s, id)
        #expect(
            events.filter { $0.name != "signalling.skipped" }.map(\.name) == [
                "signalling.retrying", "signalling.retrying", "signalling.sent",
            ], "\(events)")
        #expect(events.first { $0.name == "signalling.sent" }?.detail["attempts"] == "3")
        let timeline = try await Self.timeline(s, id)
        let queued = try #require(timeline.first { $0.name == "call.queued" }?.at)
        let ended = try #require(timeline.first { $0.name == "call.failed" }?.at)
        let seconds = ended.timeIntervalSince(queued)
        #expect(seconds >= 0.7 && seconds < 2.5, "queued to failed in \(seconds) s: the waits are 0.75 s")
    }
}
