// The control API's routes: JSON in and out, bearer tokens, errors as
// {"error": {"code", "message", "details"}}. docs/openapi.json is generated from
// `OpenAPI.document` and served at /v1/openapi.json.

import Foundation
import SautiHTTP
import SautiVoice

/// Who a request speaks for.
enum Caller {
    case registrar
    case customer
}

/// Routes requests to the control plane.
public struct ControlAPI: Sendable {
    public let control: ControlPlane

    public init(control: ControlPlane) { self.control = control }

    /// The server's handler.
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            return try await route(request)
        } catch let e as ControlError {
            return Self.error(e)
        } catch {
            return Self.error(ControlError(500, "internal", "\(error)"))
        }
    }

    static func error(_ e: ControlError) -> HTTPResponse {
        var response = json(
            e.status, ["error": ["code": e.code, "message": e.message, "details": e.details] as [String: Any]])
        if e.status == 401 { response.headers["WWW-Authenticate"] = "Bearer" }
        return response
    }

    /// A recording file's media type, from its name: Ogg Opus (`.opus`, the `record`
    /// verb's `format: "opus"`) or WAV.
    static func recordingContentType(_ file: String) -> String {
        file.hasSuffix(".opus") ? "audio/ogg" : "audio/wav"
    }

    static func json(_ status: Int, _ object: Any) -> HTTPResponse {
        HTTPResponse.json(status, JSONText.encode(object))
    }

    /// Who the bearer token belongs to.
    func authenticate(_ request: HTTPRequest) throws(ControlError) -> Caller {
        guard let header = request.headers["authorization"], header.lowercased().hasPrefix("bearer ") else {
            throw ControlError(401, "unauthorized", "send Authorization: Bearer <token>")
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        if constantTimeEqual(token, control.registrarToken) { return .registrar }
        if control.customerTokens.contains(where: { constantTimeEqual(token, $0) }) { return .customer }
        throw ControlError(401, "unauthorized", "the bearer token is not valid")
    }

    func require(_ caller: Caller, _ wanted: Caller) throws(ControlError) {
        switch (caller, wanted) {
        case (.registrar, .registrar), (.customer, .customer): return
        case (.customer, .registrar):
            throw ControlError(403, "forbidden", "this route is the registrar's: use the registrar token")
        case (.registrar, .customer):
            throw ControlError(403, "forbidden", "this route is for customers: use a customer token")
        }
    }

    /// The request body as a JSON object.
    func body(_ request: HTTPRequest) throws(ControlError) -> [String: Any] {
        guard !request.body.isEmpty else {
            throw ControlError(400, "invalid_json", "the request needs a JSON object body")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)),
            let dictionary = object as? [String: Any]
        else {
            throw ControlError(400, "invalid_json", "the body is not a JSON object")
        }
        return dictionary
    }

    /// The string at `key`; nil when absent (or null, where `nullable`).
    func string(_ body: [String: Any], _ key: String, required: Bool, nullable: Bool = false) throws(ControlError)
        -> String?
    {
        guard let value = body[key] else {
            if required { throw ControlError(422, "missing_field", "\(key) is required", details: ["/\(key)"]) }
            return nil
        }
        if value is NSNull {
            guard nullable && !required else {
                throw ControlError(422, "invalid_field", "\(key) must be a string, not null", details: ["/\(key)"])
            }
            return nil
        }
        guard let s = value as? String else {
            throw ControlError(422, "invalid_field", "\(key) must be a string", details: ["/\(key)"])
        }
        return s
    }

    /// An SDP body: present means it starts with its version line (RFC 8866), at most 64 KiB.
    func sdp(_ body: [String: Any]) throws(ControlError) -> String? {
        guard let s = try string(body, "sdp", required: false) else { return nil }
        guard s.hasPrefix("v=0\r\n") || s.hasPrefix("v=0\n"), s.utf8.count <= 65_536 else {
            throw ControlError(422, "invalid_sdp", "sdp must be an SDP body starting with v=0", details: ["/sdp"])
        }
        return s
    }

    /// A short string field (`cause`, `pbx_call_id`): at most 256 bytes.
    func short(_ body: [String: Any], _ key: String) throws(ControlError) -> String? {
        guard let s = try string(body, key, required: false) else { return nil }
        guard s.utf8.count <= 256 else {
            throw ControlError(422, "invalid_field", "\(key) is longer than 256 bytes", details: ["/\(key)"])
        }
        return s
    }

    /// A conference's name from its (decoded) path segment: what the verb allows.
    static func pathName(_ name: String) throws(ControlError) -> String {
        guard !name.isEmpty, name.unicodeScalars.count <= 128,
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ControlError(400, "invalid_name", "a conference name is 1 to 128 characters, percent-encoded in the path")
        }
        return name
    }

    func e164(_ body: [String: Any], _ key: String) throws(ControlError) -> String {
        let s = try string(body, key, required: true) ?? ""
        guard s.count >= 3, s.count <= 16, s.first == "+", s.dropFirst().allSatisfy(\.isNumber) else {
            throw ControlError(422, "invalid_e164", "\(key) must be an E.164 number like +254700000000", details: ["/\(key)"])
        }
        return s
    }

    /// The routes' paths (`*` for an id) and the methods each takes.
    static let routes: [(pattern: [String], methods: [String])] = [
        (["health"], ["GET"]), (["openapi.json"], ["GET"]), (["numbers"], ["GET", "POST"]),
        (["numbers", "*"], ["GET"]), (["numbers", "*", "routing"], ["PATCH"]), (["calls"], ["GET", "POST"]),
        (["calls", "stats"], ["GET"]), (["calls", "*"], ["GET"]), (["calls", "*", "events"], ["GET"]),
        (["calls", "*", "signal"], ["POST"]), (["calls", "*", "actions"], ["POST"]), (["calls", "*", "hangup"], ["POST"]),
        (["recordings", "*"], ["GET"]), (["recordings", "*", "audio"], ["GET"]), (["conferences"], ["GET"]),
        (["conferences", "*"], ["GET"]), (["conferences", "*", "participants", "*"], ["POST"]),
    ]

    /// The methods the path takes; nil when no route has that path.
    static func methods(for rest: [String]) -> [String]? {
        var found: [String]?
        for r in routes where r.pattern.count == rest.count {
            if zip(r.pattern, rest).allSatisfy({ $0 == "*" || $0 == $1 }) {
                // An exact segment (calls/stats) wins over an id.
                if !r.pattern.contains("*") { return r.methods }
                found = (found ?? []) + r.methods
            }
        }
        return found
    }

    func route(_ request: HTTPRequest) async throws -> HTTPResponse {
        // Segments split before decoding, so that an encoded "/" stays inside its segment (a
        // conference's name may hold one); the parser has checked the escapes already.
        // (An absolute-form target, http://host/path, is routed by its decoded path.)
        let rawPath =
            request.target.hasPrefix("/")
            ? request.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            : Substring(request.path)
        let parts = rawPath.split(separator: "/", omittingEmptySubsequences: true).map {
            String($0).removingPercentEncoding ?? String($0)
        }
        let method = request.method == "HEAD" ? "GET" : request.method
        guard parts.first == "v1" else { throw ControlError(404, "not_found", "no route \(request.path)") }
        let rest = Array(parts.dropFirst())
        guard let allowed = Self.methods(for: rest) else {
            throw ControlError(404, "not_found", "no route \(request.method) \(request.path)")
        }
        guard allowed.contains(method) else {
            var response = Self.error(
                ControlError(405, "method_not_allowed", "\(request.path) takes \(allowed.joined(separator: ", "))"))
            response.headers["Allow"] = (allowed + (allowed.contains("GET") ? ["HEAD"] : [])).joined(separator: ", ")
            return response
        }
        switch (method, rest.count, rest.first) {
        case ("GET", 1, "health"):
            return Self.json(200, ["status": "ok"])
        case ("GET", 1, "openapi.json"):
            return HTTPResponse.json(200, [UInt8](OpenAPI.json))
        case ("GET", 3, "recordings") where rest[2] == "audio":
            // Presigned: no bearer token; the signature is the credential.
            let path = try control.verifyPresigned(
                recordingID: rest[1], expires: request.queryValue("expires"), signature: request.queryValue("signature"))
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            return HTTPResponse.file(
                path: path, size: size, range: request.headers["range"], contentType: Self.recordingContentType(path))
        default:
            break
        }
        let caller = try authenticate(request)
        switch (method, rest.count, rest.first) {
        case ("POST", 1, "numbers"):
            try require(caller, .customer)
            let b = try body(request)
            let number = try storeCall { try control.store.createNumber(e164: try e164(b, "e164")) }
            return Self.json(201, Self.number(number))
        case ("GET", 1, "numbers"):
            try require(caller, .customer)
            return Self.json(200, ["data": try storeCall { try control.store.numbers() }.map(Self.number)])
        case ("GET", 2, "numbers"):
            try require(caller, .customer)
            return Self.json(200, Self.number(try storeCall { try control.store.number(id: rest[1]) }))
        case ("PATCH", 3, "numbers") where rest[2] == "routing":
            try require(caller, .customer)
            let b = try body(request)
            let voice = try string(b, "voice_url", required: false, nullable: true)
            let events = try string(b, "events_url", required: false, nullable: true)
            let secret = try string(b, "voice_signing_secret", required: false, nullable: true)
            for (key, url) in [("voice_url", voice), ("events_url", events)] {
                if let url, !url.isEmpty, !Self.isHTTPURL(url) {
                    throw ControlError(422, "invalid_url", "\(key) must be an absolute http(s) URL", details: ["/\(key)"])
                }
            }
            let n = try storeCall {
                try control.store.updateRouting(id: rest[1], voiceURL: voice, eventsURL: events, signingSecret: secret)
            }
            return Self.json(200, Self.number(n))
        case ("POST", 1, "calls"):
            try require(caller, .registrar)
            let b = try body(request)
            let direction = try string(b, "direction", required: true) ?? ""
            let (call, sdp) = try control.openCall(
                direction: direction, localE164: try e164(b, "local_e164"), remoteE164: try e164(b, "remote_e164"),
                pbxCallID: try short(b, "pbx_call_id"), sdpOffer: try sdp(b))
            return Self.json(201, ["call": Self.call(call), "sdp": sdp, "sdp_type": direction == "inbound" ? "answer" : "offer"])
        case ("GET", 1, "calls"):
            try require(caller, .customer)
            var filter = SQLiteStore.CallFilter()
            func q(_ name: String) -> String? { request.queryValue(name).flatMap { $0.isEmpty ? nil : $0 } }
            filter.status = q("status")
            filter.direction = q("direction")
            filter.number = q("number")
            filter.from = q("from")
            filter.to = q("to")
            if let p = request.queryValue("parent_call_id") {
                // Exact ids only: an empty or mistyped value would otherwise match nothing
                // (or, left out, everything) without a word.
                guard isWellFormedID(p, prefix: "call") else {
                    throw ControlError(
                        400, "invalid_parent_call_id",
                        "parent_call_id must be a call id as the API returns them: call_ and 24 lowercase hex digits")
                }
                filter.parentCallID = p
            }
            if let c = request.queryValue("cursor") {
                guard let n = Int(c), n > 0 else { throw ControlError(400, "invalid_cursor", "cursor must be one the API returned") }
                filter.before = n
            }
            if let l = request.queryValue("limit") {
                guard let n = Int(l), (1...500).contains(n) else {
                    throw ControlError(400, "invalid_limit", "limit must be 1 to 500")
                }
                filter.limit = n
            }
            let calls = try storeCall { try control.store.calls(filter) }
            var page: [String: Any] = ["data": calls.map(Self.call)]
            page["next_cursor"] = calls.count == filter.limit ? String(calls.last?.sequence ?? 0) : NSNull()
            return Self.json(200, page)
        case ("GET", 2, "calls") where rest[1] == "stats":
            try require(caller, .customer)
            let s = try storeCall { try control.store.stats(from: request.queryValue("from"), to: request.queryValue("to")) }
            return Self.json(
                200,
                ["total_calls": s.total, "failed_calls": s.failed, "total_minutes": s.minutes, "total_spend_minor": s.spendMinor])
        case ("GET", 2, "calls"):
            try require(caller, .customer)
            let call = try storeCall { try control.store.call(id: rest[1]) }
            var object = Self.call(call)
            object["live"] = control.liveState(callID: call.id) ?? NSNull()
            return Self.json(200, object)
        case ("GET", 3, "calls") where rest[2] == "events":
            try require(caller, .customer)
            _ = try storeCall { try control.store.call(id: rest[1]) }
            let events = try storeCall { try control.store.events(callID: rest[1]) }
            return Self.json(
                200,
                ["data": events.map { ["id": $0.id, "name": $0.name, "detail": $0.detail, "occurred_at": $0.occurredAt] as [String: Any] }])
        case ("POST", 3, "calls") where rest[2] == "signal":
            try require(caller, .registrar)
            let b = try body(request)
            let call = try control.signal(
                callID: rest[1], kind: try string(b, "signal", required: true) ?? "",
                cause: try short(b, "cause"), sdp: try sdp(b))
            return Self.json(200, Self.call(call))
        case ("POST", 3, "calls") where rest[2] == "hangup":
            try require(caller, .customer)
            return Self.json(200, Self.call(try await control.hangup(callID: rest[1])))
        case ("POST", 3, "calls") where rest[2] == "actions":
            try require(caller, .customer)
            _ = try storeCall { try control.store.call(id: rest[1]) }
            let document: VoiceDocument
            do {
                document = try VoiceDocument.parse(request.body)
            } catch {
                throw ControlError(
                    422, "invalid_document", "the action list is not valid", details: error.issues.map(\.description))
            }
            try control.replaceActions(callID: rest[1], document: document)
            return Self.json(202, ["status": "accepted", "actions": document.actions.count])
        case ("GET", 1, "conferences"):
            try require(caller, .customer)
            return Self.json(200, ["data": await control.conferences()])
        case ("GET", 2, "conferences"):
            try require(caller, .customer)
            return Self.json(200, try await control.conference(named: Self.pathName(rest[1])))
        case ("POST", 4, "conferences") where rest[2] == "participants":
            try require(caller, .customer)
            let b = try body(request)
            guard let muted = b["muted"] as? Bool, b.count == 1 else {
                throw ControlError(422, "invalid_field", "the body must be {\"muted\": true or false}", details: ["/muted"])
            }
            return Self.json(
                200, try await control.setConferenceMute(name: Self.pathName(rest[1]), callID: rest[3], muted: muted))
        case ("GET", 2, "recordings"):
            try require(caller, .customer)
            let r = try storeCall { try control.store.recording(id: rest[1]) }
            switch r.status {
            case "pending":
                var response = Self.json(202, ["id": r.id, "status": "pending", "retry_after_seconds": 2])
                response.headers["Retry-After"] = "2"
                return response
            case "ready":
                let (path, expires) = control.presignedPath(recordingID: r.id)
                let host = request.headers["host"] ?? "\(control.configuration.apiHost):\(control.configuration.apiPort)"
                return Self.json(
                    200,
                    [
                        "id": r.id, "call_id": r.callID, "status": "ready", "url": "http://\(host)\(path)",
                        "expires_at": storeTimestamp(Date(timeIntervalSince1970: Double(expires))),
                        "duration_seconds": r.durationSeconds ?? 0, "bytes": r.bytes ?? 0,
                        "format": Self.recordingContentType(r.file),
                    ])
            case "expired":
                return Self.json(410, ["id": r.id, "status": "expired"])
            default:
                return Self.json(200, ["id": r.id, "status": r.status, "reason": r.reason ?? ""])
            }
        default:
            throw ControlError(
                method == "GET" || method == "POST" || method == "PATCH" ? 404 : 405,
                method == "GET" || method == "POST" || method == "PATCH" ? "not_found" : "method_not_allowed",
                "no route \(request.method) \(request.path)")
        }
    }

    func storeCall<T>(_ body: () throws -> T) throws(ControlError) -> T {
        do {
            return try body()
        } catch let e as StoreError {
            throw .store(e)
        } catch let e as ControlError {
            throw e
        } catch {
            throw ControlError(500, "internal", "\(error)")
        }
    }

    /// An absolute http(s) URL as the OpenAPI document's pattern has it: scheme, a host of
    /// letters, digits, dots and hyphens, an optional port, a path of printable ASCII; at
    /// most 2048 bytes.
    static func isHTTPURL(_ s: String) -> Bool {
        guard s.utf8.count <= 2048 else { return false }
        var rest = Substring(s)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
        } else if rest.hasPrefix("https://") {
            rest = rest.dropFirst(8)
        } else {
            return false
        }
        let hostEnd = rest.firstIndex { $0 == ":" || $0 == "/" } ?? rest.endIndex
        let host = rest[..<hostEnd]
        guard !host.isEmpty, host.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "." || $0 == "-" })
        else { return false }
        rest = rest[hostEnd...]
        if rest.hasPrefix(":") {
            let digits = rest.dropFirst().prefix { $0.isASCII && $0.isNumber }
            guard (1...5).contains(digits.count) else { return false }
            rest = rest.dropFirst(1 + digits.count)
        }
        guard rest.isEmpty || rest.hasPrefix("/") else { return false }
        return rest.unicodeScalars.allSatisfy { $0.value >= 0x21 && $0.value <= 0x7E } && URL(string: s) != nil
    }

    static func number(_ n: NumberRecord) -> [String: Any] {
        [
            "id": n.id, "e164": n.e164, "status": n.status, "created_at": n.createdAt, "updated_at": n.updatedAt,
            "routing": [
                "voice_url": n.voiceURL as Any? ?? NSNull(), "events_url": n.eventsURL as Any? ?? NSNull(),
                "voice_signing_secret_set": n.hasSigningSecret,
            ] as [String: Any],
        ]
    }

    static func call(_ c: CallRecord) -> [String: Any] {
        func orNull(_ v: Any?) -> Any { v ?? NSNull() }
        return [
            "id": c.id, "direction": c.direction, "local_e164": c.localE164, "remote_e164": c.remoteE164,
            "status": c.status, "duration_seconds": orNull(c.durationSeconds), "cost_minor": orNull(c.costMinor),
            "pbx_call_id": orNull(c.pbxCallID), "cause": orNull(c.cause), "created_at": c.createdAt,
            "answered_at": orNull(c.answeredAt), "ended_at": orNull(c.endedAt), "number_id": orNull(c.numberID),
            "parent_call_id": orNull(c.parentCallID),
        ]
    }
}

/// Compares two strings in time that does not depend on where they differ.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var d: UInt8 = 0
    for i in x.indices { d |= x[i] ^ y[i] }
    return d == 0
}
