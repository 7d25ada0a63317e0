// The request parser: request line, header fields, framing (RFC 9112). Pure functions over
// the connection's input buffer, so they test without a network.

/// A request that cannot be served, with the status to answer before closing.
struct HTTPParseError: Error, Equatable, Sendable {
    /// 400, 413, 417, 431, 501 or 505.
    var status: Int
    /// What was wrong, for the response body.
    var reason: String
}

/// How the request body is delimited.
enum BodyFraming: Equatable, Sendable {
    case none
    /// `Content-Length` bytes.
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
}

/// A parsed request head.
struct RequestHead: Sendable {
    var method: String
    var target: String
    var path: String
    var query: [(name: String, value: String)]
    var headers: HTTPHeaders
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    /// Whether the connection may carry another request after this one.
    var keepAlive: Bool
    var framing: BodyFraming
    /// `Expect: 100-continue` (HTTP/1.1 only).
    var expectContinue: Bool

    var isHead: Bool { method == "HEAD" }
}

/// The outcome of looking for a request head at the front of the buffer.
enum HeadParse {
    /// No end of head yet; scanning may resume at `scanFrom`.
    case incomplete(scanFrom: Int)
    /// A head of `length` bytes.
    case complete(RequestHead, length: Int)
    case failed(HTTPParseError)
}

enum HTTPParser {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10

    /// Looks for a request head in `buffer[start..<end]`; bytes before `scanFrom` were
    /// already searched for the blank line that ends a head.
    static func parseHead(_ buffer: [UInt8], start: Int, end: Int, scanFrom: Int, maxHeaderBytes: Int) -> HeadParse {
        // The head ends at LF (CR) LF; line ends may be CRLF or a bare LF (RFC 9112 §2.2).
        var i = max(start, scanFrom - 2)
        var headEnd = -1
        while i < end {
            if buffer[i] == lf {
                if i + 1 < end && buffer[i + 1] == lf {
                    headEnd = i + 2
                    break
                }
                if i + 2 < end && buffer[i + 1] == cr && buffer[i + 2] == lf {
                    headEnd = i + 3
                    break
                }
            }
            i += 1
        }
        if headEnd < 0 {
            if end - start > maxHeaderBytes {
                return .failed(HTTPParseError(status: 431, reason: "request head larger than \(maxHeaderBytes) bytes"))
            }
            return .incomplete(scanFrom: end)
        }
        if headEnd - start > maxHeaderBytes {
            return .failed(HTTPParseError(status: 431, reason: "request head larger than \(maxHeaderBytes) bytes"))
        }
        switch parseHeadLines(buffer[start..<headEnd]) {
        case .success(let head): return .complete(head, length: headEnd - start)
        case .failure(let e): return .failed(e)
        }
    }

    /// Parses a complete head (ending with the blank line).
    static func parseHeadLines(_ bytes: ArraySlice<UInt8>) -> Result<RequestHead, HTTPParseError> {
        var lines: [ArraySlice<UInt8>] = []
        lines.reserveCapacity(16)
        var lineStart = bytes.startIndex
        for j in bytes.indices where bytes[j] == lf {
            var line = bytes[lineStart..<j]
            if line.last == cr { line = line.dropLast() }
            lines.append(line)
            lineStart = j + 1
        }
        // The last line is the empty one that ends the head.
        guard lines.count >= 2, lines.last!.isEmpty else { return .failure(bad("malformed request head")) }
        lines.removeLast()

        // request-line = method SP request-target SP HTTP-version
        let requestLine = lines[0]
        guard let sp1 = requestLine.firstIndex(of: 0x20) else { return .failure(bad("malformed request line")) }
        let methodBytes = requestLine[requestLine.startIndex..<sp1]
        let rest = requestLine[(sp1 + 1)...]
        guard let sp2 = rest.firstIndex(of: 0x20) else { return .failure(bad("malformed request line")) }
        let targetBytes = rest[rest.startIndex..<sp2]
        let versionBytes = rest[(sp2 + 1)...]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(isTokenByte) else {
            return .failure(bad("invalid method"))
        }
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(bad("invalid request target"))
        }
        let minor: Int
        switch parseVersion(versionBytes) {
        case .success(let m): minor = m
        case .failure(let e): return .failure(e)
        }

        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let first = line.first else { return .failure(bad("malformed header field")) }
            if first == 0x20 || first == 0x09 { return .failure(bad("obsolete line folding in header field")) }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                return .failure(bad("header field without a colon"))
            }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else { return .failure(bad("invalid header field name")) }
            let value = trimmed(line[(colon + 1)...])
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                return .failure(bad("invalid character in header field value"))
            }
            headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }

        let method = String(decoding: methodBytes, as: UTF8.self)
        let target = String(decoding: targetBytes, as: UTF8.self)
        guard let (path, query) = parseTarget(targetBytes, method: method) else {
            return .failure(bad("invalid request target"))
        }

        if minor == 1 && headers.values(for: "host").count != 1 {
            return .failure(bad("an HTTP/1.1 request needs exactly one Host header field"))
        }

        // Framing (RFC 9112 §6.3).
        var framing = BodyFraming.none
        let transferEncodings = headers.values(for: "transfer-encoding")
        let lengths = headers.values(for: "content-length")
        if !transferEncodings.isEmpty {
            if !lengths.isEmpty { return .failure(bad("both Transfer-Encoding and Content-Length")) }
            let codings = transferEncodings.flatMap { $0.utf8.split(separator: UInt8(ascii: ",")) }.map { trimmed($0) }
            guard let last = codings.last, HTTPHeaders.sameName(last, "chunked".utf8) else {
                return .failure(bad("Transfer-Encoding must end with chunked"))
            }
            guard codings.count == 1 else {
                return .failure(HTTPParseError(status: 501, reason: "unsupported transfer coding"))
            }
            framing = .chunked
        } else if !lengths.isEmpty {
            var length: Int?
            for v in lengths {
                for part in v.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    let digits = Array(trimmed(part))
                    guard let n = HTTPRange.number(digits[...]) else { return .failure(bad("invalid Content-Length")) }
                    if let l = length, l != n { return .failure(bad("conflicting Content-Length values")) }
                    length = n
                }
            }
            if let n = length, n > 0 { framing = .length(n) }
        }

        let keepAlive =
            minor >= 1 ? !headers.hasToken("close", in: "connection") : headers.hasToken("keep-alive", in: "connection")
        var expectContinue = false
        if let expect = headers["expect"] {
            guard HTTPHeaders.sameName(trimmed(Array(expect.utf8)), "100-continue".utf8) else {
                return .failure(HTTPParseError(status: 417, reason: "unsupported expectation"))
            }
            expectContinue = minor >= 1
        }
        return .success(
            RequestHead(
                method: method, target: target, path: path, query: query, headers: headers, minorVersion: minor,
                keepAlive: keepAlive, framing: framing, expectContinue: expectContinue))
    }

    /// `HTTP/1.0` or `HTTP/1.1` → the minor version; other versions are 505.
    static func parseVersion(_ v: ArraySlice<UInt8>) -> Result<Int, HTTPParseError> {
        let prefix = Array("HTTP/".utf8)
        guard v.count == 8, Array(v.prefix(5)) == prefix, v[v.startIndex + 6] == UInt8(ascii: "."),
            isDigit(v[v.startIndex + 5]), isDigit(v[v.startIndex + 7])
        else { return .failure(bad("malformed HTTP version")) }
        let major = Int(v[v.startIndex + 5] - UInt8(ascii: "0"))
        let minor = Int(v[v.startIndex + 7] - UInt8(ascii: "0"))
        guard major == 1 else { return .failure(HTTPParseError(status: 505, reason: "only HTTP/1.x is served")) }
        return .success(min(minor, 1))
    }

    /// Splits a request target into decoded path and query; nil if it is malformed.
    static func parseTarget(_ t: ArraySlice<UInt8>, method: String) -> (String, [(name: String, value: String)])? {
        if t.count == 1 && t.first == UInt8(ascii: "*") { return method == "OPTIONS" ? ("*", []) : nil }
        var rest = t
        if rest.first != UInt8(ascii: "/") {
            // absolute-form: scheme "://" authority [path-abempty] [ "?" query ]
            let lower = Array(rest.prefix(8).map { $0 | 0x20 })
            let scheme: Int
            if lower.starts(with: Array("http://".utf8)) {
                scheme = 7
            } else if lower.starts(with: Array("https://".utf8)) {
                scheme = 8
            } else {
                return nil
            }
            rest = rest.dropFirst(scheme)
            if let slash = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) {
                rest = rest[slash...]
            } else {
                rest = []
            }
        }
        if t.contains(UInt8(ascii: "#")) { return nil }
        let q = rest.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = q.map { rest[rest.startIndex..<$0] } ?? rest
        guard let path = percentDecode(rawPath, plusAsSpace: false) else { return nil }
        var query: [(name: String, value: String)] = []
        if let q {
            for pair in rest[(q + 1)...].split(separator: UInt8(ascii: "&")) {
                let eq = pair.firstIndex(of: UInt8(ascii: "="))
                let rawName = eq.map { pair[pair.startIndex..<$0] } ?? pair
                let rawValue = eq.map { pair[($0 + 1)...] } ?? []
                guard let name = percentDecode(rawName, plusAsSpace: true),
                    let value = percentDecode(rawValue, plusAsSpace: true)
                else { return nil }
                query.append((name: name, value: value))
            }
        }
        return (path.isEmpty ? "/" : path, query)
    }

    /// Percent-decodes `s`; nil on a bad escape or if the result is not UTF-8.
    static func percentDecode(_ s: ArraySlice<UInt8>, plusAsSpace: Bool) -> String? {
        if !s.contains(UInt8(ascii: "%")) && !(plusAsSpace && s.contains(UInt8(ascii: "+"))) {
            return String(decoding: s, as: UTF8.self)  // printable ASCII only: see parseHeadLines
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            let b = s[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < s.endIndex, let h = hex(s[i + 1]), let l = hex(s[i + 2]) else {
                    return nil
                }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(plusAsSpace && b == UInt8(ascii: "+") ? 0x20 : b)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// tchar (RFC 9110 §5.6.2).
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }

    static func bad(_ reason: String) -> HTTPParseError { HTTPParseError(status: 400, reason: reason) }
}

/// Decodes a chunked body (RFC 9112 §7.1) as its bytes arrive.
struct ChunkedDecoder {
    enum State: Equatable {
        case sizeLine
        case data(remaining: Int)
        case dataEnd
        case trailers
        case done
    }

    enum Progress: Equatable {
        case needMore
        case done
        case failed(HTTPParseError)
    }

    var state = State.sizeLine
    /// The decoded body so far.
    var body: [UInt8] = []
    var trailerBytes = 0
    let maxBodyBytes: Int
    let maxHeaderBytes: Int

    init(maxBodyBytes: Int, maxHeaderBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// Consumes what it can of `buffer[start..<end]`; returns the bytes consumed.
    mutating func feed(_ buffer: [UInt8], start: Int, end: Int) -> (consumed: Int, progress: Progress) {
        var i = start
        while true {
            switch state {
            case .done:
                return (i - start, .done)
            case .sizeLine:
                guard let lf = buffer[i..<end].firstIndex(of: HTTPParser.lf) else {
                    if end - i > 1024 { return (i - start, .failed(HTTPParser.bad("chunk size line too long"))) }
                    return (i - start, .needMore)
                }
                var line = buffer[i..<lf]
                if line.last == HTTPParser.cr { line = line.dropLast() }
                let digits = line.prefix { HTTPParser.hex($0) != nil }
                let ext = line[digits.endIndex...]
                guard !digits.isEmpty,
                    ext.isEmpty || ext.first == UInt8(ascii: ";") || ext.first == 0x20 || ext.first == 0x09,
                    ext.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) })
                else { return (i - start, .failed(HTTPParser.bad("malformed chunk size"))) }
                var size = 0
                for d in digits {
                    if size > (Int.max >> 4) {
                        return (i - start, .failed(HTTPParseError(status: 413, reason: "request body too large")))
                    }
                    size = size << 4 | Int(HTTPParser.hex(d)!)
                }
                i = lf + 1
                if size == 0 {
                    state = .trailers
                } else {
                    if size > maxBodyBytes - body.count {
                        return (i - start, .failed(HTTPParseError(status: 413, reason: "request body too large")))
                    }
                    state = .data(remaining: size)
                }
            case .data(let remaining):
                let n = min(remaining, end - i)
                if n == 0 { return (i - start, .needMore) }
                body.append(contentsOf: buffer[i..<(i + n)])
                i += n
                state = remaining == n ? .dataEnd : .data(remaining: remaining - n)
            case .dataEnd:
                guard i < end else { return (i - start, .needMore) }
                if buffer[i] == HTTPParser.lf {
                    i += 1
                } else if buffer[i] == HTTPParser.cr {
                    guard i + 1 < end else { return (i - start, .needMore) }
                    guard buffer[i + 1] == HTTPParser.lf else {
                        return (i - start, .failed(HTTPParser.bad("chunk data not followed by CRLF")))
                    }
                    i += 2
                } else {
                    return (i - start, .failed(HTTPParser.bad("chunk data not followed by CRLF")))
                }
                state = .sizeLine
            case .trailers:
                guard let lf = buffer[i..<end].firstIndex(of: HTTPParser.lf) else {
                    if trailerBytes + end - i > maxHeaderBytes {
                        return (i - start, .failed(HTTPParseError(status: 431, reason: "trailer section too large")))
                    }
                    return (i - start, .needMore)
                }
                let length = lf + 1 - i
                let empty = length == 1 || (length == 2 && buffer[i] == HTTPParser.cr)
                i = lf + 1
                if empty {
                    state = .done
                } else {
                    trailerBytes += length
                    if trailerBytes > maxHeaderBytes {
                        return (i - start, .failed(HTTPParseError(status: 431, reason: "trailer section too large")))
                    }
                }
            }
        }
    }
}
