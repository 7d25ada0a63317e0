// The signalling webhook in the OpenAPI document: what the engine POSTs to the registrar
// (`--signalling-webhook URL`), the dial verb's `dial` and `cancel` among it, and how the
// requests are retried (ControlPlane+Signalling.swift).

extension OpenAPI {
    /// The `webhooks.signalling` entry.
    static var signallingWebhook: [String: Any] {
        [
            "post": [
                "summary": "The engine asks the registrar to act on a call",
                "description": """
                Sent to --signalling-webhook, signed like the customers' callbacks (X-Sautikit-Timestamp, \
                X-Sautikit-Signature: v1=<hex HMAC-SHA256 of "timestamp.body">) with the registrar's token as the \
                secret. answer: 200 OK to the INVITE. reject: 486 (reason busy) or 603. hangup: BYE (or CANCEL \
                before answer). dial: place a new call (INVITE) to `to` from `from` with the engine's SDP offer \
                `sdp`; report on it through POST /v1/calls/{call_id}/signal with `call_id` (ringing; answered \
                with the far end's SDP answer in `sdp`; busy, no-answer, failed; hangup). cancel: stop ringing \
                that call (CANCEL); `reason` is canceled (another call answered, the caller left) or no-answer \
                (the dial's timeout); the engine has already ended the call record. Retries: a refused, reset or \
                timed-out connection (2 s per attempt), a 5xx or a 429 is tried again, 3 attempts in all, 250 ms \
                then 500 ms apart (under a second in all when the registrar is down); any other status is final. \
                Every attempt carries the same body, with Idempotency-Key: <call_id>:<action> of that body and \
                X-Sautikit-Attempt: 1, 2, 3 (the signature's timestamp is each attempt's own). Each action is meant \
                once per call, so a key already taken is a request already done (an attempt whose reply was lost, \
                two hangups crossing): dedupe on it, or on call_id and action of the signed body. Requests on one \
                call are sent one at a time, in order: a hangup or cancel waits for a dial still being retried, \
                and is not sent if the call ended meanwhile. A dial given up fails its call (status failed, cause \
                "signalling: <last failure>") unless the registrar has signalled on it meanwhile; a later signal on \
                it gets 409 call_ended, and whatever the registrar placed for it should be dropped.
                """,
                "parameters": [
                    [
                        "name": "Idempotency-Key", "in": "header", "required": true,
                        "schema": [
                            "type": "string", "pattern": "^call_[0-9a-f]{24}:(answer|reject|hangup|dial|cancel)$",
                        ],
                        "description": "call_id and action of the body, joined by a colon: the same on every attempt",
                    ],
                    [
                        "name": "X-Sautikit-Attempt", "in": "header", "required": true,
                        "schema": ["type": "integer", "minimum": 1],
                        "description": "which attempt this is, from 1",
                    ],
                ],
                "requestBody": [
                    "required": true,
                    "content": content([
                        "type": "object", "required": ["call_id", "action"],
                        "properties": [
                            "call_id": [
                                "type": "string", "description": "the call to act on (for dial: the new call's id)",
                            ],
                            "action": ["type": "string", "enum": ["answer", "reject", "hangup", "dial", "cancel"]],
                            "pbx_call_id": ["type": "string"],
                            "reason": [
                                "type": "string",
                                "description": "reject: busy or rejected; cancel: canceled or no-answer",
                            ],
                            "parent_call_id": [
                                "type": "string", "description": "dial: the call whose dial verb places this one",
                            ],
                            "parent_pbx_call_id": [
                                "type": "string", "description": "dial: the parent call's pbx_call_id",
                            ],
                            "to": ["type": "string", "description": "dial: an E.164 number or a SIP URI"],
                            "from": ["type": "string", "description": "dial: the E.164 number to show (callerId)"],
                            "sdp": ["type": "string", "description": "dial: the engine's SDP offer for the new call"],
                        ] as [String: Any],
                    ]),
                ] as [String: Any],
                "responses": [
                    "200": ["description": "Any 2xx: taken"],
                    "429": ["description": "Tried again, as a 5xx"],
                    "4XX": ["description": "Final, not tried again: a dial fails at once"],
                    "5XX": ["description": "Tried again (3 attempts in all); a dial still refused then fails"],
                ],
            ] as [String: Any]
        ]
    }
}
