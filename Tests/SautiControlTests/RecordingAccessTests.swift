import Foundation
import SautiControl
import SautiHTTP
import SautiTestSupport
import Testing

/// Recordings through the API, in process: pending (202), ready (200 and a presigned URL),
/// an expired URL and a tampered one (403), pruned by retention (410).
@Suite struct RecordingAccessTests {
    static func request(_ api: ControlAPI, _ method: String, _ target: String, token: String? = "customer-token-0123456789")
        async -> (Int, [String: Any])
    {
        let parts = target.split(separator: "?", maxSplits: 1)
        let query: [(name: String, value: String)] =
            parts.count > 1
            ? parts[1].split(separator: "&").map { item in
                let kv = item.split(separator: "=", maxSplits: 1)
                return (String(kv[0]), kv.count > 1 ? String(kv[1]) : "")
            } : []
        var headers = HTTPHeaders()
        if let token { headers["Authorization"] = "Bearer \(token)" }
        let response = await api.handle(
            HTTPRequest(method: method, target: target, path: String(parts[0]), query: query, headers: headers))
        var object: [String: Any] = [:]
        if case .bytes(let b) = response.body {
            object = (try? JSONSerialization.jsonObject(with: Data(b))) as? [String: Any] ?? [:]
        }
        return (response.status, object)
    }

    @Test("pending is 202 with retry_after_seconds; ready is 200 with a URL that expires and cannot be altered; pruned is 410")
    func lifecycle() async throws {
        let dir = makeTemporaryDirectory(prefix: "sauti-rec-api")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ControlConfiguration()
        c.dataDirectory = dir
        c.registrarToken = "registrar-token-0123456789"
        c.customerTokens = ["customer-token-0123456789"]
        c.rtpFirstPort = 39_700
        c.rtpLastPort = 39_719
        c.mediaWorkers = 1
        c.recordingRetentionDays = 1
        let control = try ControlPlane(configuration: c)
        defer { Task { await control.shutdown() } }
        let api = ControlAPI(control: control)
        let call = try control.store.createCall(
            numberID: nil, direction: "inbound", localE164: "+1", remoteE164: "+2", pbxCallID: nil)
        try control.store.createRecording(id: "rec_a", callID: call.id, file: "a.wav")
        // A real file behind it: 1 s of silence.
        try Data(count: 44 + 16_000).write(to: URL(fileURLWithPath: dir + "/recordings/a.wav"))

        let (pending, p) = await Self.request(api, "GET", "/v1/recordings/rec_a")
        #expect(pending == 202 && p["status"] as? String == "pending" && p["retry_after_seconds"] as? Int == 2)
        try control.store.finishRecording(id: "rec_a", status: "ready", durationSeconds: 1, bytes: 16_044, reason: "silence")
        let (ready, r) = await Self.request(api, "GET", "/v1/recordings/rec_a")
        #expect(ready == 200 && r["status"] as? String == "ready")
        let url = try #require(r["url"] as? String)
        let target = String(url[try #require(url.range(of: "/v1/"))!.lowerBound...])
        let (ok, _) = await Self.request(api, "GET", target, token: nil)
        #expect(ok == 200, "the presigned URL needs no token")
        let (tampered, t) = await Self.request(api, "GET", target.replacingOccurrences(of: "signature=", with: "signature=1"), token: nil)
        #expect(tampered == 403 && (t["error"] as? [String: Any])?["code"] as? String == "bad_signature")
        let stretched = target.replacingOccurrences(of: "expires=", with: "expires=9")
        let (longer, _) = await Self.request(api, "GET", stretched, token: nil)
        #expect(longer == 403, "a later expiry breaks the signature")
        let old = control.presignedPath(recordingID: "rec_a", now: Date(timeIntervalSinceNow: -3600)).path
        let (expired, e) = await Self.request(api, "GET", old, token: nil)
        #expect(expired == 403 && (e["error"] as? [String: Any])?["code"] as? String == "url_expired")

        // Retention: two days on, the recording is pruned: 410, the file is gone.
        control.pruneRecordings(now: Date(timeIntervalSinceNow: 2 * 86_400))
        let (gone, g) = await Self.request(api, "GET", "/v1/recordings/rec_a")
        #expect(gone == 410 && g["status"] as? String == "expired")
        #expect(!FileManager.default.fileExists(atPath: dir + "/recordings/a.wav"))
        let (audio, _) = await Self.request(api, "GET", target, token: nil)
        #expect(audio == 410)
    }
}
