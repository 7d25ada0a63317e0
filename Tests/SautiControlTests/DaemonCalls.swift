import Foundation
import SautiAudio
import SautiTestSupport
import Testing

/// What the daemon tests ask of a running sautid about calls and recordings.
extension Daemon {
    /// The registrar's inbound call to `e164` with `sdp`: its id and the engine's SDP answer.
    func inbound(to e164: String, from remote: String = "+254711222333", sdp: String, token: String = Daemon.registrarToken)
        async throws -> (callID: String, answer: String)
    {
        let (status, body, text) = try await request(
            "POST", "/v1/calls", token: token,
            json: ["direction": "inbound", "local_e164": e164, "remote_e164": remote, "sdp": sdp])
        #expect(status == 201, "\(text)")
        let created = try #require(body as? [String: Any])
        let callID = try #require((created["call"] as? [String: Any])?["id"] as? String)
        let answer = try #require(created["sdp"] as? String)
        return (callID, answer)
    }

    /// Polls the call (every 100 ms, up to `seconds`) until `done` holds; the last record.
    func call(_ callID: String, seconds: Double = 5, until done: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var call: [String: Any] = [:]
        while true {
            call = try await request("GET", "/v1/calls/\(callID)").body as? [String: Any] ?? [:]
            if done(call) || ContinuousClock.now >= deadline { return call }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The id of the call's first finished recording, waiting up to `seconds`.
    func finishedRecordingID(_ callID: String, seconds: Double = 5) async throws -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while true {
            let events = try await request("GET", "/v1/calls/\(callID)/events").body as? [String: Any]
            let entries = events?["data"] as? [[String: Any]] ?? []
            let finished = entries.first { ($0["name"] as? String) == "recording.finished" }
            if let id = (finished?["detail"] as? [String: Any])?["id"] as? String { return id }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The recording once ready (its JSON), waiting up to `seconds`; nil if it never is.
    func readyRecording(_ id: String, seconds: Double = 5) async throws -> [String: Any]? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while true {
            let (status, body, _) = try await request("GET", "/v1/recordings/\(id)")
            if status == 200 { return body as? [String: Any] }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// A tone as a mono 16-bit WAV at `path`.
func writeToneWAV(_ path: String, frequencies: [Double], seconds: Double, rate: Int) throws {
    var g = ToneGenerator(ToneSpec(frequenciesHz: frequencies, levelDBFS: -14), sampleRate: rate)
    var samples = [Int16](repeating: 0, count: Int(Double(rate) * seconds))
    samples.withUnsafeMutableBufferPointer { g.fill($0) }
    try WAVWriter(path: path, sampleRate: rate).write(samples)
}
