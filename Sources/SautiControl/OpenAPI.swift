// The OpenAPI 3.1 document of the control API, built here so that it cannot drift from the
// routes; `sautid --openapi` prints it and docs/openapi.json is that output (a test checks).

import Foundation

public enum OpenAPI {
    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    static func content(_ schema: [String: Any]) -> [String: Any] { ["application/json": ["schema": schema]] }
    static func response(_ description: String, _ schema: [String: Any]? = nil) -> [String: Any] {
        var r: [String: Any] = ["description": description]
        if let schema { r["content"] = content(schema) }
        return r
    }
    static var errorResponse: [String: Any] { response("An error", ref("Error")) }
    static func errors(_ codes: [Int]) -> [String: Any] {
        var out: [String: Any] = [:]
        for c in codes { out[String(c)] = errorResponse }
        return out
    }
    static func merge(_ a: [String: Any], _ b: [String: Any]) -> [String: Any] { a.merging(b) { x, _ in x } }
    static func idParameter(_ name: String = "id") -> [String: Any] {
        ["name": name, "in": "path", "required": true, "schema": ["type": "string", "minLength": 1]]
    }
    /// A conference's name in the path: what the `conference` verb allows (1 to 128
    /// characters, no control characters), percent-encoded.
    static var conferenceNameParameter: [String: Any] {
        [
            "name": "name", "in": "path", "required": true,
            "schema": ["type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]+$"],
        ]
    }
    static func query(_ name: String, _ schema: [String: Any], _ description: String) -> [String: Any] {
        ["name": name, "in": "query", "required": false, "schema": schema, "description": description]
    }
    static var nullableString: [String: Any] { ["type": ["string", "null"]] }
    static var nullableInteger: [String: Any] { ["type": ["integer", "null"]] }
    /// An absolute http(s) URL, "" to clear, or null to leave as is.
    static var httpURLOrEmpty: [String: Any] {
        ["type": ["string", "null"], "pattern": "^(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?)?$", "maxLength": 2048]
    }
    static let registrar: [[String: [String]]] = [["registrarToken": []]]
    static let customer: [[String: [String]]] = [["customerToken": []]]

    /// The document.
    public static var document: [String: Any] {
        let callSchema: [String: Any] = [
            "type": "object",
            "required": [
                "id", "direction", "local_e164", "remote_e164", "status", "duration_seconds", "cost_minor", "pbx_call_id",
                "created_at", "answered_at", "ended_at",
            ],
            "properties": [
                "id": ["type": "string"], "direction": ["type": "string", "enum": ["inbound", "outbound"]],
                "local_e164": ["type": "string"], "remote_e164": ["type": "string"],
                "status": [
                    "type": "string",
                    "enum": ["queued", "ringing", "in-progress", "completed", "failed", "busy", "canceled", "no-answer"],
                ],
                "duration_seconds": nullableInteger, "cost_minor": nullableInteger, "pbx_call_id": nullableString,
                "cause": nullableString, "created_at": ["type": "string"], "answered_at": nullableString,
                "ended_at": nullableString, "number_id": nullableString,
                "parent_call_id": ["type": ["string", "null"], "description": "the call whose dial placed this one"],
                "live": [
                    "type": ["object", "null"],
                    "description":
                        "while the call has media here: current_action, and rtp with packets_sent, packets_received, packets_lost, jitter_ms, local_port, and once SDP agreed, codec (PCMU, PCMA, opus) and sample_rate (the leg's PCM rate in Hz)",
                ],
            ] as [String: Any],
        ]
        let numberSchema: [String: Any] = [
            "type": "object", "required": ["id", "e164", "status", "routing", "created_at", "updated_at"],
            "properties": [
                "id": ["type": "string"], "e164": ["type": "string"], "status": ["type": "string"],
                "created_at": ["type": "string"], "updated_at": ["type": "string"],
                "routing": [
                    "type": "object", "required": ["voice_url", "events_url", "voice_signing_secret_set"],
                    "properties": [
                        "voice_url": nullableString, "events_url": nullableString,
                        "voice_signing_secret_set": ["type": "boolean"],
                    ] as [String: Any],
                ] as [String: Any],
            ] as [String: Any],
        ]
        let errorSchema: [String: Any] = [
            "type": "object", "required": ["error"],
            "properties": [
                "error": [
                    "type": "object", "required": ["code", "message", "details"],
                    "properties": [
                        "code": ["type": "string"], "message": ["type": "string"],
                        "details": ["type": "array", "items": ["type": "string"]],
                    ] as [String: Any],
                ] as [String: Any]
            ],
        ]
        let e164: [String: Any] = ["type": "string", "pattern": "^\\+[0-9]{2,15}$"]
        // An SDP body (RFC 8866) starts with its version line; the engine checks the rest
        // and answers 422 (sdp_rejected) with what is wrong.
        let sdp: [String: Any] = [
            "type": "string", "maxLength": 65_536,
            "pattern": "^v=0\\r?\\n(?:[a-z]=[ -~]*\\r?\\n)*(?:[a-z]=[ -~]*)?$",
        ]
        let paths: [String: Any] = [
            "/v1/health": ["get": ["summary": "Liveness", "security": [], "responses": ["200": response("OK", ["type": "object"])]]],
            "/v1/openapi.json": [
                "get": ["summary": "This document", "security": [], "responses": ["200": response("OpenAPI 3.1", ["type": "object"])]]
            ],
            "/v1/numbers": [
                "post": [
                    "summary": "Register a DID served by this engine", "security": customer,
                    "requestBody": [
                        "required": true,
                        "content": content(["type": "object", "required": ["e164"], "properties": ["e164": e164]]),
                    ],
                    "responses": merge(["201": response("The number", ref("Number"))], errors([400, 401, 403, 409, 422])),
                ] as [String: Any],
                "get": [
                    "summary": "The numbers", "security": customer,
                    "responses": merge(
                        ["200": response("Numbers", ["type": "object", "required": ["data"], "properties": ["data": ["type": "array", "items": ref("Number")]]])],
                        errors([401, 403])),
                ] as [String: Any],
            ],
            "/v1/numbers/{id}": [
                "get": [
                    "summary": "A number", "security": customer, "parameters": [idParameter()],
                    "responses": merge(["200": response("The number", ref("Number"))], errors([401, 403, 404])),
                ] as [String: Any]
            ],
            "/v1/numbers/{id}/routing": [
                "patch": [
                    "summary": "Set voice_url, events_url, voice_signing_secret (write-only)", "security": customer,
                    "parameters": [idParameter()],
                    "requestBody": [
                        "required": true,
                        "content": content([
                            "type": "object",
                            "properties": [
                                "voice_url": httpURLOrEmpty, "events_url": httpURLOrEmpty,
                                "voice_signing_secret": nullableString,
                            ] as [String: Any],
                        ]),
                    ],
                    "responses": merge(["200": response("The number", ref("Number"))], errors([400, 401, 403, 404, 422])),
                ] as [String: Any]
            ],
            "/v1/calls": [
                "post": [
                    "summary": "The registrar opens a call (inbound: with the caller's SDP offer; outbound: gets an offer)",
                    "security": registrar,
                    "requestBody": [
                        "required": true,
                        "content": content([
                            "type": "object", "required": ["direction", "local_e164", "remote_e164"],
                            "properties": [
                                "direction": ["type": "string", "enum": ["inbound", "outbound"]], "local_e164": e164,
                                "remote_e164": e164, "pbx_call_id": ["type": "string", "maxLength": 256], "sdp": sdp,
                            ] as [String: Any],
                        ]),
                    ],
                    "responses": merge(
                        [
                            "201": response(
                                "The call and the engine's SDP",
                                [
                                    "type": "object", "required": ["call", "sdp", "sdp_type"],
                                    "properties": [
                                        "call": ref("Call"), "sdp": ["type": "string"],
                                        "sdp_type": ["type": "string", "enum": ["answer", "offer"]],
                                    ] as [String: Any],
                                ])
                        ], errors([400, 401, 403, 404, 409, 422, 503])),
                ] as [String: Any],
                "get": [
                    "summary": "Calls, newest first", "security": customer,
                    "parameters": [
                        query("status", ["type": "string"], "only calls in this status"),
                        query("direction", ["type": "string"], "inbound or outbound"),
                        query("number", ["type": "string"], "calls with this E.164 on either side"),
                        query("from", ["type": "string"], "created at or after (ISO 8601)"),
                        query("to", ["type": "string"], "created before (ISO 8601)"),
                        query(
                            "parent_call_id", ["type": "string", "pattern": "^call_[0-9a-f]{24}$"],
                            "only the calls this call's dial verb placed (its child calls); 400 invalid_parent_call_id when not a call id"),
                        query("cursor", ["type": "string", "pattern": "^[1-9][0-9]{0,17}$"], "next_cursor of the previous page"),
                        query("limit", ["type": "integer", "minimum": 1, "maximum": 500], "page size (50)"),
                    ],
                    "responses": merge(
                        [
                            "200": response(
                                "A page",
                                [
                                    "type": "object", "required": ["data", "next_cursor"],
                                    "properties": ["data": ["type": "array", "items": ref("Call")], "next_cursor": nullableString]
                                        as [String: Any],
                                ])
                        ], errors([400, 401, 403])),
                ] as [String: Any],
            ],
            "/v1/calls/stats": [
                "get": [
                    "summary": "Totals over a period", "security": customer,
                    "parameters": [
                        query("from", ["type": "string"], "ISO 8601"), query("to", ["type": "string"], "ISO 8601"),
                    ],
                    "responses": merge(
                        [
                            "200": response(
                                "Totals",
                                [
                                    "type": "object",
                                    "required": ["total_calls", "failed_calls", "total_minutes", "total_spend_minor"],
                                    "properties": [
                                        "total_calls": ["type": "integer"], "failed_calls": ["type": "integer"],
                                        "total_minutes": ["type": "number"], "total_spend_minor": ["type": "integer"],
                                    ] as [String: Any],
                                ])
                        ], errors([401, 403])),
                ] as [String: Any]
            ],
            "/v1/calls/{id}": [
                "get": [
                    "summary": "A call, with its live state while it has media here", "security": customer,
                    "parameters": [idParameter()],
                    "responses": merge(["200": response("The call", ref("Call"))], errors([401, 403, 404])),
                ] as [String: Any]
            ],
            "/v1/calls/{id}/events": [
                "get": [
                    "summary": "The call's timeline", "security": customer, "parameters": [idParameter()],
                    "responses": merge(
                        [
                            "200": response(
                                "Events",
                                ["type": "object", "required": ["data"], "properties": ["data": ["type": "array", "items": ref("Event")]]])
                        ], errors([401, 403, 404])),
                ] as [String: Any]
            ],
            "/v1/calls/{id}/signal": [
                "post": [
                    "summary": "The registrar reports what happened to a call", "security": registrar,
                    "description":
                        "On a call a dial placed: answered needs the far end's SDP answer (422 missing_sdp); an answer the engine cannot use is 422 sdp_rejected and changes nothing; a second answer is 409 already_answered; any signal after the call ended is 409 call_ended.",
                    "parameters": [idParameter()],
                    "requestBody": [
                        "required": true,
                        "content": content([
                            "type": "object", "required": ["signal"],
                            "properties": [
                                "signal": [
                                    "type": "string",
                                    "enum": ["ringing", "answered", "busy", "no-answer", "canceled", "failed", "hangup"],
                                ],
                                "cause": ["type": "string", "maxLength": 256], "sdp": sdp,
                            ] as [String: Any],
                        ]),
                    ],
                    "responses": merge(["200": response("The call", ref("Call"))], errors([400, 401, 403, 404, 409, 422])),
                ] as [String: Any]
            ],
            "/v1/calls/{id}/actions": [
                "post": [
                    "summary": "Replace what the call runs now with a voice-actions document (JSON or XML)",
                    "security": customer, "parameters": [idParameter()],
                    "requestBody": [
                        "required": true,
                        "content": [
                            "application/json": ["schema": ["type": "array"]],
                            "application/xml": ["schema": ["type": "string"]],
                        ],
                    ],
                    "responses": merge(
                        ["202": response("Accepted", ["type": "object"])], errors([400, 401, 403, 404, 409, 422])),
                ] as [String: Any]
            ],
            "/v1/calls/{id}/hangup": [
                "post": [
                    "summary": "End a call", "security": customer, "parameters": [idParameter()],
                    "responses": merge(["200": response("The call", ref("Call"))], errors([401, 403, 404, 409])),
                ] as [String: Any]
            ],
            "/v1/conferences": [
                "get": [
                    "summary": "The conference rooms running now, with their participants", "security": customer,
                    "responses": merge(
                        [
                            "200": response(
                                "Rooms",
                                ["type": "object", "required": ["data"], "properties": ["data": ["type": "array", "items": ref("Conference")]]])
                        ], errors([401, 403])),
                ] as [String: Any]
            ],
            "/v1/conferences/{name}": [
                "get": [
                    "summary": "A running room by name (percent-encoded): participants, who is talking, who is muted",
                    "security": customer, "parameters": [conferenceNameParameter],
                    "responses": merge(["200": response("The room", ref("Conference"))], errors([400, 401, 403, 404])),
                ] as [String: Any]
            ],
            "/v1/conferences/{name}/participants/{call_id}": [
                "post": [
                    "summary": "Mute or unmute a participant (a muted participant still hears the room)",
                    "security": customer, "parameters": [conferenceNameParameter, idParameter("call_id")],
                    "requestBody": [
                        "required": true,
                        "content": content([
                            "type": "object", "required": ["muted"], "additionalProperties": false,
                            "properties": ["muted": ["type": "boolean"]],
                        ]),
                    ],
                    "responses": merge(["200": response("The room", ref("Conference"))], errors([400, 401, 403, 404, 422])),
                ] as [String: Any]
            ],
            "/v1/recordings/{id}": [
                "get": [
                    "summary": "A recording: 202 while captured, 200 with a presigned URL (15 min), 410 once pruned",
                    "security": customer, "parameters": [idParameter()],
                    "responses": merge(
                        [
                            "200": response("Ready", ref("Recording")), "202": response("Pending", ref("Recording")),
                            "410": response("Expired", ref("Recording")),
                        ], errors([401, 403, 404])),
                ] as [String: Any]
            ],
            "/v1/recordings/{id}/audio": [
                "get": [
                    "summary": "The WAV, through a presigned URL (no bearer token); Range supported", "security": [],
                    "parameters": [
                        idParameter(), query("expires", ["type": "string"], "from the presigned URL"),
                        query("signature", ["type": "string"], "from the presigned URL"),
                    ],
                    "responses": merge(
                        [
                            "200": [
                                "description": "The recording: WAV, or Ogg Opus when the record verb asked for format opus",
                                "content": [
                                    "audio/wav": ["schema": ["type": "string", "format": "binary"]],
                                    "audio/ogg": ["schema": ["type": "string", "format": "binary"]],
                                ],
                            ],
                            "206": [
                                "description": "A byte range",
                                "content": [
                                    "audio/wav": ["schema": ["type": "string", "format": "binary"]],
                                    "audio/ogg": ["schema": ["type": "string", "format": "binary"]],
                                ],
                            ],
                            "416": ["description": "Range not satisfiable"],
                        ] as [String: Any], errors([403, 404, 410])),
                ] as [String: Any]
            ],
        ]
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Sautikit media engine control API", "version": "1.0.0",
                "description": "Numbers and routing, calls from the registrar, call records and events, recordings. See README.md for the registrar and customer contracts.",
            ],
            "servers": [["url": "http://127.0.0.1:8080"]],
            "security": customer,
            "paths": paths,
            "webhooks": ["signalling": signallingWebhook],
            "components": [
                "securitySchemes": [
                    "registrarToken": ["type": "http", "scheme": "bearer", "description": "the registrar's token"],
                    "customerToken": ["type": "http", "scheme": "bearer", "description": "a customer's token"],
                ],
                "schemas": [
                    "Call": callSchema, "Number": numberSchema, "Error": errorSchema,
                    "Event": [
                        "type": "object", "required": ["id", "name", "detail", "occurred_at"],
                        "properties": [
                            "id": ["type": "integer"], "name": ["type": "string"],
                            "detail": ["type": "object", "additionalProperties": ["type": "string"]],
                            "occurred_at": ["type": "string"],
                        ] as [String: Any],
                    ] as [String: Any],
                    "Conference": [
                        "type": "object",
                        "required": ["id", "name", "created_at", "started", "sample_rate", "max_participants", "recording", "participants"],
                        "properties": [
                            "id": ["type": "string"], "name": ["type": "string"], "created_at": ["type": "string"],
                            "started": ["type": "boolean"], "sample_rate": ["type": "integer"],
                            "max_participants": ["type": "integer"], "recording": ["type": "boolean"],
                            "recording_id": nullableString,
                            "participants": [
                                "type": "array",
                                "items": [
                                    "type": "object",
                                    "required": ["call_id", "muted", "waiting", "speaking", "talker", "joined_at"],
                                    "properties": [
                                        "call_id": ["type": "string"], "muted": ["type": "boolean"],
                                        "waiting": ["type": "boolean"], "speaking": ["type": "boolean"],
                                        "talker": ["type": "boolean"], "joined_at": ["type": "string"],
                                        "start_conference_on_enter": ["type": "boolean"],
                                        "end_conference_on_exit": ["type": "boolean"],
                                    ] as [String: Any],
                                ] as [String: Any],
                            ] as [String: Any],
                        ] as [String: Any],
                    ] as [String: Any],
                    "Recording": [
                        "type": "object", "required": ["id", "status"],
                        "properties": [
                            "id": ["type": "string"], "call_id": ["type": "string"],
                            "status": ["type": "string", "enum": ["pending", "ready", "expired", "failed"]],
                            "url": ["type": "string"], "expires_at": ["type": "string"],
                            "retry_after_seconds": ["type": "integer"], "duration_seconds": ["type": "number"],
                            "bytes": ["type": "integer"], "format": ["type": "string", "description": "the file's media type: audio/wav or audio/ogg (Ogg Opus)"], "reason": ["type": "string"],
                        ] as [String: Any],
                    ] as [String: Any],
                ] as [String: Any],
            ] as [String: Any],
        ]
    }

    /// The document as pretty, key-sorted JSON.
    public static var json: Data {
        (try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }
}
