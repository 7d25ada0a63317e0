#!/usr/bin/env python3
"""A customer's voice app for the call-flow tests: a small IVR on Python's http.server.

Usage: ivr_app.py SECRET [SECONDS]
Binds 127.0.0.1 on a free port, prints "port N", exits after SECONDS (default 120).

Every POST is checked the way a customer would check it: the X-Sautikit-Signature header
must be v1= and the hex HMAC-SHA256 (keyed with SECRET) of the X-Sautikit-Timestamp
value, ".", and the raw body; the timestamp must be within five minutes. GET /log gives
every request as JSON lines: path, timestamp, signature, signature_ok, the raw body.
GET /hold.wav gives two seconds of a 300 Hz tone (wait music).

POST /voice        XML: a welcome, then a menu in <GetDigits> with a nested <Say> prompt
POST /menu         JSON: digit 1 leads to a recording, anything else to goodbye
POST /recorded     JSON: thanks, then hangup
POST /status/CODE  that status
POST /slow         replies after 5 s
POST /invalid      a document that fails validation
POST /dial         JSON: a dial (unsupported without a signalling side), then say and hangup
POST /reject       XML: <Reject reason="busy"/>
POST /nodigits     JSON: getDigits with a 1 s timeout, then say and hangup
POST /redirect     XML: <Redirect> to /nodigits
POST /events       200: an events_url
POST /flaky-events 503 to the first two posts of each (call_id, event), then 200
POST /signalling   200: the registrar's signalling webhook
POST /longrecord   JSON: a recording of up to 60 s that only a hangup ends
POST /conference?name=N&start=0|1&end=0|1&record=0|1&muted=0|1&beep=0|1&wait=URL&max=N
                   JSON: a conference with those attributes, then say and hangup
"""

import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = sys.argv[1].encode()
LIFETIME = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
LOG = []
LOCK = threading.Lock()
# /flaky-events: how many times each (call_id, event) was posted.
ATTEMPTS = {}


def hold_music():
    """Two seconds of a 300 Hz tone at 8 kHz, as a WAV: the conference tests' wait music."""
    import io
    import math
    import struct
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 300 * i / 8000))) for i in range(16000)))
    return out.getvalue()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def reply(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def base(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def do_GET(self):
        if self.path == "/log":
            with LOCK:
                text = "\n".join(json.dumps(e) for e in LOG)
            return self.reply(200, text, "text/plain")
        if self.path == "/hold.wav":
            return self.reply_bytes(200, hold_music(), "audio/wav")
        self.reply(404, "", "text/plain")

    def reply_bytes(self, status, data, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        timestamp = self.headers.get("X-Sautikit-Timestamp", "")
        signature = self.headers.get("X-Sautikit-Signature", "")
        expected = "v1=" + hmac.new(SECRET, timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        ok = fresh and hmac.compare_digest(expected, signature)
        with LOCK:
            LOG.append(
                {
                    "path": self.path,
                    "timestamp": timestamp,
                    "signature": signature,
                    "signature_ok": ok,
                    "body": raw.decode("utf-8", "replace"),
                }
            )
        if not ok:
            return self.reply(401, "bad signature", "text/plain")
        try:
            state = json.loads(raw)
        except ValueError:
            return self.reply(400, "not JSON", "text/plain")
        base = self.base()
        if self.path == "/voice":
            xml = (
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<Response>\n"
                "  <Say language=\"en-US\">Welcome to Acme.</Say>\n"
                "  <GetDigits maxDigits=\"1\" timeout=\"8\" finishOnKey=\"#\" callbackUrl=\"%s/menu\">\n"
                "    <Say>Press 1 to leave a message. Press 2 to hear our opening hours.</Say>\n"
                "  </GetDigits>\n"
                "  <Say>We did not get your choice. Goodbye.</Say>\n"
                "</Response>\n" % base
            )
            return self.reply(200, xml, "application/xml")
        if self.path == "/menu":
            if state.get("digits") == "1":
                actions = [
                    {"verb": "say", "text": "Please leave a message after the beep."},
                    {
                        "verb": "record",
                        "maxLength": 8,
                        "timeout": 4,
                        "finishOnKey": "#",
                        "playBeep": True,
                        "callbackUrl": base + "/recorded",
                    },
                    {"verb": "say", "text": "This is never heard."},
                ]
            else:
                actions = [{"verb": "say", "text": "Goodbye."}, {"verb": "hangup"}]
            return self.reply(200, json.dumps(actions), "application/json")
        if self.path == "/recorded":
            actions = [{"verb": "say", "text": "Thank you. Goodbye."}, {"verb": "hangup"}]
            return self.reply(200, json.dumps(actions), "application/json")
        if self.path.startswith("/status/"):
            return self.reply(int(self.path.split("/")[2]), "status\n", "text/plain")
        if self.path == "/slow":
            time.sleep(5)
            return self.reply(200, "[]", "application/json")
        if self.path == "/invalid":
            return self.reply(
                200, json.dumps([{"verb": "sey", "text": "typo"}, {"verb": "getDigits", "numDigits": 0}]),
                "application/json",
            )
        if self.path == "/dial":
            actions = [
                {"verb": "dial", "numbers": ["+254711000000"]},
                {"verb": "say", "text": "Nobody is there."},
                {"verb": "hangup"},
            ]
            return self.reply(200, json.dumps(actions), "application/json")
        if self.path.startswith("/conference"):
            # /conference?name=N&start=0&end=1&record=1&muted=1&beep=0&wait=URL
            from urllib.parse import parse_qs, urlparse

            q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            action = {"verb": "conference", "name": q.get("name", "room")}
            for key, attribute in (
                ("start", "startConferenceOnEnter"),
                ("end", "endConferenceOnExit"),
                ("record", "record"),
                ("muted", "muted"),
                ("beep", "beep"),
            ):
                if key in q:
                    action[attribute] = q[key] == "1"
            if "wait" in q:
                action["waitUrl"] = q["wait"]
            if "max" in q:
                action["maxParticipants"] = int(q["max"])
            actions = [action, {"verb": "say", "text": "The conference has ended."}, {"verb": "hangup"}]
            return self.reply(200, json.dumps(actions), "application/json")
        if self.path.startswith("/wideband"):
            # /wideband?format=opus records Ogg Opus
            fmt = "opus" if self.path.endswith("format=opus") else "wav"
            actions = [
                {"verb": "say", "text": "Sixty six sisters sit in the sunshine, sipping fresh juice."},
                {
                    "verb": "record",
                    "maxLength": 4,
                    "timeout": 0,
                    "finishOnKey": "",
                    "playBeep": False,
                    "format": fmt,
                    "callbackUrl": base + "/recorded",
                },
            ]
            return self.reply(200, json.dumps(actions), "application/json")
        if self.path.startswith("/longrecord"):
            # /longrecord?format=opus records Ogg Opus
            fmt = "opus" if self.path.endswith("format=opus") else "wav"
            actions = [
                {"verb": "record", "maxLength": 60, "timeout": 0, "finishOnKey": "", "playBeep": False, "format": fmt}
            ]
            return self.reply(200, json.dumps(actions), "application/json")
        if self.path == "/events" or self.path == "/signalling":
            return self.reply(200, "", "text/plain")
        if self.path == "/flaky-events":
            key = (state.get("call_id"), state.get("event"))
            with LOCK:
                ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
                attempt = ATTEMPTS[key]
            if attempt <= 2:
                return self.reply(503, "try later\n", "text/plain")
            return self.reply(200, "", "text/plain")
        if self.path == "/nodigits":
            actions = [
                {"verb": "getDigits", "numDigits": 2, "timeout": 1, "callbackUrl": base + "/menu"},
                {"verb": "say", "text": "No input."},
                {"verb": "hangup"},
            ]
            return self.reply(200, json.dumps(actions), "application/json")
        if self.path == "/redirect":
            xml = "<Response><Redirect>%s/nodigits</Redirect><Say>Never heard.</Say></Response>" % base
            return self.reply(200, xml, "application/xml")
        if self.path == "/reject":
            return self.reply(200, "<Response><Reject reason=\"busy\"/></Response>", "application/xml")
        self.reply(404, "", "text/plain")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("port %d" % server.server_address[1], flush=True)
    threading.Timer(LIFETIME, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
