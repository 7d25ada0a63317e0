import Foundation
import SautiAudio
import SautiTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `conference` verb through sautid: three callers (`sauti call`, each sending its own
/// tone and recording what it hears) reach numbers whose voice_url puts them in one room.
/// Ports: sautid RTP 61600-61699, callers 61700-61799 (above the ephemeral range and the
/// benchmarks' 40000-59999).
@Suite(
    .serialized, .enabled(if: TestHTTPServer.python != nil && DaemonPaths.curl != nil, "python3 and curl are needed"))
struct ConferenceTests {
    /// A caller: the registrar's inbound call, then `sauti call` to the answered leg.
    struct Caller {
        let callID: String
        let process: BoundedProcess
        let heard: String

        init(_ d: Daemon, number: String, port: UInt16, tone: Double, seconds: Double, dir: String, digits: String? = nil)
            async throws
        {
            let (status, body, text) = try await d.request(
                "POST", "/v1/calls", token: Daemon.registrarToken,
                json: [
                    "direction": "inbound", "local_e164": number, "remote_e164": "+254711000\(port % 1000)",
                    "sdp": callerOffer(port: port),
                ])
            #expect(status == 201, "\(text)")
            let created = try #require(body as? [String: Any])
            callID = try #require((created["call"] as? [String: Any])?["id"] as? String)
            let answer = try #require(created["sdp"] as? String)
            let legPort = try #require(audioPort(answer))
            let wav = dir + "/tone-\(port).wav"
            var g = ToneGenerator(ToneSpec(frequenciesHz: [tone], levelDBFS: -14), sampleRate: 8000)
            var samples = [Int16](repeating: 0, count: Int(8000 * seconds))
            samples.withUnsafeMutableBufferPointer { g.fill($0) }
            try WAVWriter(path: wav, sampleRate: 8000).write(samples)
            heard = dir + "/heard-\(port).wav"
            process = try BoundedProcess(
                DaemonPaths.sauti,
                [
                    "call", "127.0.0.1:\(legPort)", "--wav", wav, "--duration", String(seconds), "--record", heard,
                    "--local-port", String(port),
                ] + (digits.map { ["--digits", $0] } ?? []), log: dir + "/caller-\(port).log")
        }

        /// The share of each frequency in [from, to) seconds of what the caller heard.
        func shares(_ frequencies: [Double], from: Double, to: Double) throws -> [Double] {
            let (_, samples) = try WAVReader.read(path: heard)
            let a = min(samples.count, Int(from * 8000))
            let b = min(samples.count, Int(to * 8000))
            return frequencies.map { toneShare(samples[a..<b], frequency: $0) }
        }
    }

    static func eventNames(_ d: Daemon, _ callID: String) async throws -> [(name: String, detail: [String: Any])] {
        let events = try await d.request("GET", "/v1/calls/\(callID)/events").body as? [String: Any]
        return (events?["data"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["detail"] as? [String: Any] ?? [:]) }
    }

    @Test(
        "three callers in one room: two wait hearing the wait music until the one who starts it joins; the muted one is not heard; the room's state and mute are in the API; its recording is kept; endConferenceOnExit ends it for all, whose flows go on",
        .timeLimit(.minutes(2)))
    func room() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-conference")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(script: DaemonPaths.app, arguments: [DaemonTests.secret, "120"], log: dir + "/app.log")
        defer { app.stop() }
        // Two workers: the callers' legs start on different ones and move to the room's.
        let d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "61600-61699", extra: ["--workers", "2"])
        defer { d.terminate() }
        let wait = app.url("/hold.wav").replacingOccurrences(of: "&", with: "%26")
        _ = try await DaemonTests.routedNumber(
            d, app: app, e164: "+254700000101", path: "/conference?name=standup&start=0&beep=0&wait=\(wait)")
        _ = try await DaemonTests.routedNumber(
            d, app: app, e164: "+254700000102", path: "/conference?name=standup&start=0&beep=0&muted=1&wait=\(wait)")
        _ = try await DaemonTests.routedNumber(
            d, app: app, e164: "+254700000103", path: "/conference?name=standup&start=1&end=1&record=1&beep=0")

        let t0 = ContinuousClock.now
        func at(_ seconds: Double) async throws {
            try await Task.sleep(until: t0 + .milliseconds(Int64(seconds * 1000)), clock: .continuous)
        }
        let a = try await Caller(d, number: "+254700000101", port: 61_700, tone: 500, seconds: 9, dir: dir, digits: "5@6.2")
        try await at(1)
        let c = try await Caller(d, number: "+254700000102", port: 61_702, tone: 1300, seconds: 8, dir: dir)
        try await at(3)
        // Waiting: the room exists, not started, both waiting.
        let (ws, wb, wt) = try await d.request("GET", "/v1/conferences/standup")
        #expect(ws == 200, "\(wt)")
        let waiting = try #require(wb as? [String: Any])
        #expect(waiting["started"] as? Bool == false)
        let waitingParticipants = waiting["participants"] as? [[String: Any]] ?? []
        #expect(waitingParticipants.count == 2 && waitingParticipants.allSatisfy { $0["waiting"] as? Bool == true }, "\(waiting)")
        let b = try await Caller(d, number: "+254700000103", port: 61_704, tone: 900, seconds: 6, dir: dir)
        try await at(5.5)
        // Started: three participants, C muted, A and B talking; the room is recording.
        let (ls, lb, lt) = try await d.request("GET", "/v1/conferences")
        #expect(ls == 200, "\(lt)")
        let rooms = (lb as? [String: Any])?["data"] as? [[String: Any]] ?? []
        #expect(rooms.count == 1)
        let room = try #require(rooms.first)
        #expect(room["name"] as? String == "standup" && room["started"] as? Bool == true && room["recording"] as? Bool == true)
        let participants = room["participants"] as? [[String: Any]] ?? []
        func participant(_ id: String) -> [String: Any]? { participants.first { $0["call_id"] as? String == id } }
        #expect(participants.count == 3, "\(room)")
        #expect(participant(c.callID)?["muted"] as? Bool == true)
        #expect(participant(a.callID)?["talker"] as? Bool == true && participant(b.callID)?["talker"] as? Bool == true)
        #expect(participant(c.callID)?["talker"] as? Bool == false)
        // Mute through the API; bad requests change nothing.
        let (ms, mb, mt) = try await d.request(
            "POST", "/v1/conferences/standup/participants/\(c.callID)", json: ["muted": true])
        #expect(ms == 200, "\(mt)")
        #expect(((mb as? [String: Any])?["participants"] as? [[String: Any]])?.count == 3)
        #expect(try await d.request("POST", "/v1/conferences/standup/participants/CAnope", json: ["muted": true]).status == 404)
        #expect(try await d.request("POST", "/v1/conferences/standup/participants/\(c.callID)", json: ["muted": "yes"]).status == 422)
        #expect(try await d.request("POST", "/v1/conferences/standup/participants/\(c.callID)", raw: "{").status == 400)
        #expect(try await d.request("GET", "/v1/conferences/nobody%20here").status == 404)
        #expect(try await d.request("GET", "/v1/conferences/standup", token: nil).status == 401)
        #expect(try await d.request("GET", "/v1/conferences/%00").status == 400)
        try await at(7)
        // B leaves (the registrar reports its hangup): it had endConferenceOnExit.
        let (hs, _, ht) = try await d.request(
            "POST", "/v1/calls/\(b.callID)/signal", token: Daemon.registrarToken, json: ["signal": "hangup"])
        #expect(hs == 200, "\(ht)")
        for caller in [a, b, c] { _ = await caller.process.wait(seconds: 10) }

        // What each heard. A: the wait music while waiting, then B, never muted C.
        let aWait = try a.shares([300, 1300], from: 1, to: 3)
        let aRoom = try a.shares([900, 1300, 300], from: 5, to: 6.5)
        let bRoom = try b.shares([500, 1300], from: 1, to: 2.5)
        let cRoom = try c.shares([500, 900], from: 4, to: 5.5)
        print("conference: A waiting \(aWait), A in room \(aRoom), B \(bRoom), C \(cRoom)")
        #expect(aWait[0] > 0.8, "A hears the wait music while waiting")
        #expect(aRoom[0] > 0.8 && aRoom[1] < 0.02 && aRoom[2] < 0.05, "A hears B only, no wait music")
        #expect(bRoom[0] > 0.8 && bRoom[1] < 0.02, "B hears A, not muted C")
        #expect(cRoom[0] > 0.3 && cRoom[1] > 0.3, "C hears A and B")

        // The room ended with B; A's and C's flows went on (their say, then hangup).
        for caller in [a, c] {
            let names = try await Self.eventNames(d, caller.callID)
            let exited = names.first { $0.name == "conference.exited" }
            #expect(exited?.detail["reason"] as? String == "ended-by-participant", "\(names.map(\.name))")
            for expected in ["conference.entered", "conference.joined", "conference.started", "conference.left", "call.completed"] {
                #expect(names.contains { $0.name == expected }, "\(expected) in \(names.map(\.name))")
            }
            let i = names.firstIndex { $0.name == "conference.exited" } ?? 0
            #expect(names[i...].contains { $0.name == "action.started" && $0.detail["verb"] as? String == "say" })
        }
        let aEvents = try await Self.eventNames(d, a.callID)
        #expect(aEvents.contains { $0.name == "conference.talking-started" })
        // A digit pressed in the room is reported for the caller who pressed it.
        #expect(
            aEvents.contains { $0.name == "conference.digit" && $0.detail["digit"] as? String == "5" },
            "\(aEvents.map(\.name))")
        #expect(try await d.request("GET", "/v1/conferences").body as? [String: Any] != nil)
        #expect(((try await d.request("GET", "/v1/conferences").body as? [String: Any])?["data"] as? [Any])?.isEmpty == true)

        // The customer's events_url heard A's room events too, in order.
        var delivered: [String] = []
        for _ in 0..<50 {
            delivered = try await DaemonTests.appRequests(app).filter { $0.path == "/events" && $0.body["call_id"] as? String == a.callID }
                .compactMap { $0.body["event"] as? String }.filter { $0.hasPrefix("conference.") }
            if delivered.contains("conference.left") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(
            delivered == [
                "conference.joined", "conference.started", "conference.talking-started", "conference.talking-stopped",
                "conference.ended", "conference.left",
            ], "\(delivered)")

        // The room's recording belongs to B's call (it asked for it): ready, with A and B.
        let bEvents = try await Self.eventNames(d, b.callID)
        let recordingID = try #require(bEvents.first { $0.name == "recording.finished" }?.detail["id"] as? String)
        var recording: [String: Any] = [:]
        for _ in 0..<50 {
            recording = try await d.request("GET", "/v1/recordings/\(recordingID)").body as? [String: Any] ?? [:]
            if recording["status"] as? String == "ready" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let url = try #require(recording["url"] as? String, "\(recording)")
        let out = dir + "/room.wav"
        _ = try await runTool(try #require(DaemonPaths.curl), ["-s", "-f", "-o", out, url])
        let (info, samples) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 8000 && samples.count > 8000 * 2, "\(samples.count) samples")
        let middle = samples[8000..<min(samples.count, 8000 * 2)]
        #expect(toneShare(middle, frequency: 500) > 0.3 && toneShare(middle, frequency: 900) > 0.3)
        #expect(toneShare(middle, frequency: 1300) < 0.02)
    }

    @Test("a room of maxParticipants 2 (its name holds a space and a slash) refuses a third caller, whose flow goes on; the last to leave closes it", .timeLimit(.minutes(1)))
    func full() async throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-conference-full")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = try await TestHTTPServer(script: DaemonPaths.app, arguments: [DaemonTests.secret, "60"], log: dir + "/app.log")
        defer { app.stop() }
        let d = try await Daemon(dataDirectory: dir + "/data", rtpPorts: "61640-61699")
        defer { d.terminate() }
        _ = try await DaemonTests.routedNumber(d, app: app, e164: "+254700000111", path: "/conference?name=team%20a%2Fb&max=2&beep=0")
        let first = try await Caller(d, number: "+254700000111", port: 61_710, tone: 500, seconds: 4, dir: dir)
        let second = try await Caller(d, number: "+254700000111", port: 61_712, tone: 900, seconds: 4, dir: dir)
        try await Task.sleep(for: .milliseconds(800))
        let third = try await Caller(d, number: "+254700000111", port: 61_714, tone: 1300, seconds: 4, dir: dir)
        try await Task.sleep(for: .milliseconds(1500))
        // A name with a space and a slash, percent-encoded in the path.
        let room = try await d.request("GET", "/v1/conferences/team%20a%2Fb").body as? [String: Any]
        #expect(room?["name"] as? String == "team a/b")
        #expect((room?["participants"] as? [Any])?.count == 2 && room?["max_participants"] as? Int == 2, "\(room ?? [:])")
        let thirdEvents = try await Self.eventNames(d, third.callID)
        let refused = thirdEvents.first { $0.name == "conference.refused" }
        #expect(refused?.detail["reason"] as? String == "full", "\(thirdEvents.map(\.name))")
        #expect(thirdEvents.contains { $0.name == "action.started" && $0.detail["verb"] as? String == "say" })
        for caller in [first, second] {
            _ = try await d.request("POST", "/v1/calls/\(caller.callID)/signal", token: Daemon.registrarToken, json: ["signal": "hangup"])
        }
        for caller in [first, second, third] { _ = await caller.process.wait(seconds: 8) }
        #expect(try await d.request("GET", "/v1/conferences/team%20a%2Fb").status == 404, "the room closed with its last participant")
        // The two in the room heard each other.
        #expect(try first.shares([900], from: 1, to: 2)[0] > 0.8)
        #expect(try second.shares([500], from: 1, to: 2)[0] > 0.8)
    }
}
