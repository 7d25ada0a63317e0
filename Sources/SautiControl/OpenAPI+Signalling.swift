// The signalling webhook in the OpenAPI document: what the engine POSTs to the registrar
// (`--signalling-webhook URL`), the dial verb's `dial` and `cancel` among it.

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
                (the dial's timeout); the engine has already ended the call record.
                """,
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
                "responses": ["200": ["description": "Any 2xx: taken; anything else fails a dial at once"]],
            ] as [String: Any]
        ]
    }
}
