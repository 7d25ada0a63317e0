import SautiTestSupport
import Testing

@testable import SautiHTTP

/// Parses one head from `text`; the status the server would answer (200 when it parses).
private func status(_ text: String, maxHeaderBytes: Int = 16 * 1024) -> Int {
    let bytes = Array(text.utf8)
    switch HTTPParser.parseHead(bytes, start: 0, end: bytes.count, scanFrom: 0, maxHeaderBytes: maxHeaderBytes) {
    case .complete: return 200
    case .incomplete: return 0
    case .failed(let e): return e.status
    }
}

private func head(_ text: String) -> RequestHead? {
    let bytes = Array(text.utf8)
    if case .complete(let h, _) = HTTPParser.parseHead(
        bytes, start: 0, end: bytes.count, scanFrom: 0, maxHeaderBytes: 16384)
    {
        return h
    }
    return nil
}

@Suite("HTTP parser")
struct ParserTests {
    @Test(
        "request heads and the status they get",
        arguments: [
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200),
            ("GET / HTTP/1.1\nHost: a\n\n", 200),  // bare LF line ends
            ("GET / HTTP/1.0\r\n\r\n", 200),  // no Host needed in 1.0
            ("GET / HTTP/1.1\r\nHost: a\r\n", 0),  // incomplete
            ("GET / HTTP/1.1\r\n\r\n", 400),  // 1.1 without Host
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),  // double space
            ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
            ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),  // bad method
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            ("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),  // space before colon
            ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),  // obs-fold
            ("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n", 400),  // NUL in value
            ("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),  // bare CR in value
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 200),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417),
            ("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400),  // bad escape
            ("GET /a%ff HTTP/1.1\r\nHost: a\r\n\r\n", 400),  // not UTF-8
            ("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 200),
            ("GET http://example.com/x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n", 200),
            ("GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ])
    func heads(_ text: String, _ expected: Int) {
        #expect(status(text) == expected, "\(text.debugDescription)")
    }

    @Test("a head over maxHeaderBytes is 431, complete or not")
    func headLimit() {
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "x", count: 2000)
        #expect(status(big, maxHeaderBytes: 1024) == 431)
        #expect(status(big + "\r\n\r\n", maxHeaderBytes: 1024) == 431)
        #expect(status(big + "\r\n\r\n", maxHeaderBytes: 4096) == 200)
    }

    @Test("target, query and framing are decoded")
    func decoding() throws {
        let h = try #require(head("GET /v1/calls%2Fx?status=completed&cursor=a%20b+c&flag HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(h.method == "GET")
        #expect(h.target == "/v1/calls%2Fx?status=completed&cursor=a%20b+c&flag")
        #expect(h.path == "/v1/calls/x")
        #expect(h.query.map(\.name) == ["status", "cursor", "flag"])
        #expect(h.query.map(\.value) == ["completed", "a b c", ""])
        #expect(h.keepAlive && h.framing == .none)
        let abs = try #require(head("GET http://h:1/p/q?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(abs.path == "/p/q" && abs.query.first?.value == "1")
        let ten = try #require(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"))
        #expect(ten.minorVersion == 0 && ten.keepAlive)
        let close = try #require(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n"))
        #expect(!close.keepAlive)
        let chunked = try #require(
            head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n"))
        #expect(chunked.framing == .chunked && chunked.expectContinue)
        let length = try #require(head("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 12\r\n\r\n"))
        #expect(length.framing == .length(12))
        #expect(length.headers["Content-Length"] == "12")
    }

    @Test("the chunked decoder gives the same body however the bytes are split")
    func chunked() {
        let wire = Array("5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET".utf8)
        for split in 0...wire.count {
            var d = ChunkedDecoder(maxBodyBytes: 100, maxHeaderBytes: 100)
            let (c1, p1) = d.feed(wire, start: 0, end: split)
            var consumed = c1
            var progress = p1
            if progress != .done {
                // Unconsumed bytes are fed again with the rest, as the connection does.
                let (c2, p2) = d.feed(wire, start: c1, end: wire.count)
                consumed += c2
                progress = p2
            }
            #expect(progress == .done, "split at \(split)")
            #expect(String(decoding: d.body, as: UTF8.self) == "hello 0123456789", "split at \(split)")
            #expect(consumed == wire.count - 3, "split at \(split)")
        }
    }

    @Test(
        "bad chunked bodies",
        arguments: [
            ("zz\r\n", 400), ("5\r\nhelloX\r\n", 400), ("FFFFFFFFFFFFFFFFFF\r\n", 413), ("65\r\n", 413),
            ("5\r\nhello\r\n0\r\n" + String(repeating: "T: x\r\n", count: 40), 431),
        ])
    func badChunked(_ text: String, _ expected: Int) {
        var d = ChunkedDecoder(maxBodyBytes: 100, maxHeaderBytes: 100)
        let bytes = Array(text.utf8)
        let (_, p) = d.feed(bytes, start: 0, end: bytes.count)
        guard case .failed(let e) = p else {
            Issue.record("\(text.debugDescription) gave \(p)")
            return
        }
        #expect(e.status == expected)
    }

    @Test(
        "Range headers (RFC 9110 §14.1.2)",
        arguments: [
            ("bytes=0-99", 1000, HTTPRange.Outcome.range(offset: 0, length: 100)),
            ("bytes=100-", 1000, .range(offset: 100, length: 900)),
            ("bytes=-100", 1000, .range(offset: 900, length: 100)),
            ("bytes=-5000", 1000, .range(offset: 0, length: 1000)),
            ("bytes=990-5000", 1000, .range(offset: 990, length: 10)),
            ("Bytes=1-1 ", 1000, .range(offset: 1, length: 1)),
            ("bytes = 1-1", 1000, .ignore),  // no whitespace around "=" in the grammar
            ("bytes=999-999", 1000, .range(offset: 999, length: 1)),
            ("bytes=0-99999999999999999999999", 1000, .range(offset: 0, length: 1000)),
            ("bytes=1000-", 1000, .unsatisfiable),
            ("bytes=99999999999999999999999-", 1000, .unsatisfiable),
            ("bytes=-0", 1000, .unsatisfiable),
            ("bytes=0-", 0, .unsatisfiable),
            ("bytes=5-1", 1000, .ignore),
            ("bytes=0-1,5-6", 1000, .ignore),
            ("items=0-1", 1000, .ignore),
            ("bytes=a-b", 1000, .ignore),
            ("bytes=-", 1000, .ignore),
            ("bytes=", 1000, .ignore),
            ("", 1000, .ignore),
        ])
    func ranges(_ header: String, _ size: Int, _ expected: HTTPRange.Outcome) {
        #expect(HTTPRange.parse(header, size: size) == expected)
    }

    @Test("headers look up names without regard to case")
    func headers() {
        var h: HTTPHeaders = ["Content-Type": "a", "Set-Cookie": "1"]
        h.add(name: "set-cookie", value: "2")
        #expect(h["content-type"] == "a")
        #expect(h.values(for: "SET-COOKIE") == ["1", "2"])
        h["CONTENT-TYPE"] = "b"
        #expect(h.values(for: "content-type") == ["b"])
        h["content-type"] = nil
        #expect(!h.contains("Content-Type"))
        #expect(!HTTPHeaders.sameName("a[", "A{"))  // not letters: no case folding
    }

    @Test("random and mutated heads never crash the parser")
    func parserFuzz() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        let seeds = [
            "POST /a?b=c%20d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
            "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nRange: bytes=1-2\r\n\r\n",
        ].map { Array($0.utf8) }
        let alphabet = Array("\r\n :%/?&=-,;0123456789abcdefHTP.\u{0}\u{7f}\t".utf8) + [0xff, 0xc3]
        for i in 0..<20_000 {
            var bytes = seeds[i % seeds.count]
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = alphabet.randomElement(using: &rng)!
                case 1: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                default: if bytes.count > 1 { bytes.remove(at: at) }
                }
            }
            let r = HTTPParser.parseHead(bytes, start: 0, end: bytes.count, scanFrom: 0, maxHeaderBytes: 200)
            if case .failed(let e) = r {
                #expect([400, 413, 417, 431, 501, 505].contains(e.status), "seed \(seed) case \(i)")
            }
            var d = ChunkedDecoder(maxBodyBytes: 50, maxHeaderBytes: 50)
            _ = d.feed(bytes, start: 0, end: bytes.count)
            _ = HTTPRange.parse(String(decoding: bytes, as: UTF8.self), size: i)
        }
    }
}
