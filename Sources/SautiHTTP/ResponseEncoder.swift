#if canImport(Glibc)
    import Glibc
#endif

/// Writes response heads: status line, the handler's fields (minus those the server owns,
/// and any that would split the response), `Content-Length`, `Date`, `Connection`.
enum ResponseEncoder {
    /// Appends the head of `response` to `out`; returns whether its body is to be sent.
    static func appendHead(
        _ response: HTTPResponse, to out: inout [UInt8], requestIsHead: Bool, close: Bool, keepAliveHeader: Bool,
        date: [UInt8]
    ) -> Bool {
        let status = (200...599).contains(response.status) ? response.status : 500
        out.append(contentsOf: "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n".utf8)
        var hasDate = false
        for f in response.headers.fields {
            if HTTPHeaders.sameName(f.name, "content-length") || HTTPHeaders.sameName(f.name, "transfer-encoding")
                || HTTPHeaders.sameName(f.name, "connection")
            {
                continue
            }
            guard !f.name.isEmpty, f.name.utf8.allSatisfy(HTTPParser.isTokenByte),
                f.value.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) })
            else { continue }
            if HTTPHeaders.sameName(f.name, "date") { hasDate = true }
            out.append(contentsOf: f.name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: f.value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        let bodyAllowed = status != 204 && status != 304
        if bodyAllowed {
            out.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(response.body.count, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        if !hasDate {
            out.append(contentsOf: "Date: ".utf8)
            out.append(contentsOf: date)
            out.append(contentsOf: "\r\n".utf8)
        }
        if close {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if keepAliveHeader {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        return bodyAllowed && !requestIsHead
    }

    static func appendDecimal(_ n: Int, to out: inout [UInt8]) {
        if n == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var v = n.magnitude
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }

    /// An error response of the server's own, in the API's error shape:
    /// `{"error": {"code", "message", "details"}}`.
    static func errorResponse(status: Int, message: String) -> HTTPResponse {
        let code: String
        switch status {
        case 400: code = "bad_request"
        case 408: code = "request_timeout"
        case 413: code = "content_too_large"
        case 417: code = "expectation_failed"
        case 431: code = "header_fields_too_large"
        case 501: code = "not_implemented"
        case 505: code = "http_version_not_supported"
        default: code = "internal_error"
        }
        var escaped = ""
        for u in message.unicodeScalars {
            switch u {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where u.value < 0x20: escaped += "\\u00" + String(u.value, radix: 16).leftPadded(to: 2)
            default: escaped.unicodeScalars.append(u)
            }
        }
        let json = "{\"error\":{\"code\":\"\(code)\",\"message\":\"\(escaped)\",\"details\":{}}}"
        return HTTPResponse.json(status, Array(json.utf8))
    }

    /// An IMF-fixdate (RFC 9110 §5.6.7) for the current second, e.g.
    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func imfDate(_ seconds: Int) -> [UInt8] {
        var t = time_t(seconds)
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let s =
            "\(days[Int(tm.tm_wday) % 7]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon) % 12]) \(tm.tm_year + 1900) "
            + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
        return Array(s.utf8)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
