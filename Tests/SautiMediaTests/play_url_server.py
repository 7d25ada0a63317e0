#!/usr/bin/env python3
"""An HTTP server for the play-URL tests: serves the files of one folder in the ways
servers do (Content-Length or chunked, fast or slow, with caching headers), fails in the
ways servers fail, and logs every request it gets.

Usage: play_url_server.py FOLDER [SECONDS]
Binds 127.0.0.1 on a free port, prints "port N" on stdout, and exits after SECONDS
(default 120) so it can never outlive a test run.

Paths (NAME is a file in FOLDER):
  /file/NAME?cc=...        200, Content-Length, ETag, Last-Modified, Cache-Control: cc
                           (if given); 304 to a matching If-None-Match or If-Modified-Since
  /chunked/NAME            200, Transfer-Encoding: chunked, 4 KiB chunks
  /slow/NAME?rate=B        200, Content-Length, B bytes per second
  /stall/NAME              200, Content-Length, the first 4 KiB, then nothing for 30 s
  /truncated/NAME          200, Content-Length of the whole file, half of it, then close
  /status/CODE             that status, a short text body
  /redirect?to=URL         302 to URL
  /big                     200, Content-Length 1 GiB, a few bytes, then close
  /endless                 200, chunked, zeros until the client goes (at most 64 MiB)
  /log                     the requests so far, as JSON lines: method, path, headers
"""

import email.utils
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FOLDER = sys.argv[1]
LIFETIME = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
LOG = []
LOCK = threading.Lock()
# One fixed Last-Modified for every file: a day before the server started.
LAST_MODIFIED = email.utils.formatdate(time.time() - 86400, usegmt=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet
        pass

    def record(self):
        with LOCK:
            LOG.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "if_none_match": self.headers.get("If-None-Match"),
                    "if_modified_since": self.headers.get("If-Modified-Since"),
                }
            )

    def do_HEAD(self):
        self.record()
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def file_bytes(self, name):
        path = os.path.join(FOLDER, os.path.basename(name))
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def text(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.record()
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = url.path.split("/", 2)
        kind = parts[1] if len(parts) > 1 else ""
        name = parts[2] if len(parts) > 2 else ""
        try:
            if kind == "log":
                return self.text(200, "\n".join(json.dumps(e) for e in LOG))
            if kind == "status":
                return self.text(int(name), "status %s\n" % name)
            if kind == "redirect":
                self.send_response(302)
                self.send_header("Location", query["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if kind == "big":
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 30))
                self.end_headers()
                self.wfile.write(b"RIFF")
                return
            if kind == "endless":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"\0" * 65536
                for _ in range(1024):
                    self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                return
            data = self.file_bytes(name)
            if data is None:
                return self.text(404, "no such file\n")
            etag = '"%s"' % hashlib.sha1(data).hexdigest()[:16]
            if kind == "file":
                if self.headers.get("If-None-Match") == etag or (
                    self.headers.get("If-None-Match") is None
                    and self.headers.get("If-Modified-Since") == LAST_MODIFIED
                ):
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    if "cc" in query:
                        self.send_header("Cache-Control", query["cc"][0])
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                if "cc" in query:
                    self.send_header("Cache-Control", query["cc"][0])
                self.end_headers()
                self.wfile.write(data)
            elif kind == "chunked":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                for i in range(0, len(data), 4096):
                    chunk = data[i : i + 4096]
                    self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                    self.wfile.flush()
                    time.sleep(0.005)
                self.wfile.write(b"0\r\n\r\n")
            elif kind == "slow":
                rate = int(query.get("rate", ["16000"])[0])
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                step = max(1, rate // 20)
                for i in range(0, len(data), step):
                    self.wfile.write(data[i : i + step])
                    self.wfile.flush()
                    time.sleep(0.05)
            elif kind == "stall":
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:4096])
                self.wfile.flush()
                time.sleep(30)
            elif kind == "truncated":
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                self.text(400, "unknown path\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("port %d" % server.server_address[1], flush=True)
    threading.Timer(LIFETIME, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
