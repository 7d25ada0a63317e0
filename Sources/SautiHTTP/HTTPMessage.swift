/// One request as the handler sees it: head parsed, body whole (de-chunked).
public struct HTTPRequest: Sendable {
    /// The method as sent, e.g. `GET`, `POST` (methods are case-sensitive).
    public var method: String
    /// The raw request target, e.g. `/v1/calls?status=completed&cursor=abc`.
    public var target: String
    /// The percent-decoded path without the query, e.g. `/v1/calls`.
    public var path: String
    /// The query's name/value pairs, percent-decoded (`+` as space), in order.
    public var query: [(name: String, value: String)]
    /// The header fields (case-insensitive lookup).
    public var headers: HTTPHeaders
    /// The body (empty when there is none), at most `maxBodyBytes`.
    public var body: [UInt8]
    /// The peer, e.g. `127.0.0.1:54321` or `[::1]:54321`.
    public var remoteAddress: String
    /// The HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    public var minorVersion: Int

    public init(
        method: String, target: String, path: String, query: [(name: String, value: String)] = [],
        headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], remoteAddress: String = "", minorVersion: Int = 1
    ) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.minorVersion = minorVersion
    }

    /// The first query value named `name`, or nil.
    public func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }
}

/// A response body: bytes in memory, or a byte range of a file streamed from disk.
public enum HTTPBody: Sendable, Equatable {
    /// The bytes themselves.
    case bytes([UInt8])
    /// `length` bytes of the file at `path` from byte `offset`, sent with sendfile in
    /// chunks as the peer reads (never loaded whole). If the file cannot be opened the
    /// response becomes a 500; if it is shorter than promised the connection is closed.
    case file(path: String, offset: Int, length: Int)

    /// The body's length in bytes.
    public var count: Int {
        switch self {
        case .bytes(let b): return b.count
        case .file(_, _, let length): return length
        }
    }
}

/// What the handler answers. The server adds `Content-Length`, `Date` and `Connection`.
public struct HTTPResponse: Sendable {
    /// The status code, 200…599 (anything else is sent as 500).
    public var status: Int
    /// The header fields; `Content-Length` and `Transfer-Encoding` are the server's to set.
    public var headers: HTTPHeaders
    /// The body (not sent for HEAD, 204 and 304).
    public var body: HTTPBody

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: HTTPBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with `Content-Type: application/json` and the given body.
    public static func json(_ status: Int, _ bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: .bytes(bytes))
    }

    /// A response with `Content-Type: text/plain; charset=utf-8` and the given text.
    public static func text(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .bytes(Array(text.utf8)))
    }

    /// A file of `size` bytes honouring a `Range` header (RFC 9110 §14): 200 with the
    /// whole file, 206 with `Content-Range` for one satisfiable byte range, 416 with
    /// `Content-Range: bytes */size` for an unsatisfiable one. Adds `Accept-Ranges: bytes`.
    public static func file(
        path: String, size: Int, range: String?, contentType: String = "application/octet-stream",
        headers: HTTPHeaders = HTTPHeaders()
    ) -> HTTPResponse {
        var h = headers
        h["Accept-Ranges"] = "bytes"
        switch range.map({ HTTPRange.parse($0, size: size) }) ?? .ignore {
        case .ignore:
            h["Content-Type"] = contentType
            return HTTPResponse(status: 200, headers: h, body: .file(path: path, offset: 0, length: size))
        case .range(let offset, let length):
            h["Content-Type"] = contentType
            h["Content-Range"] = "bytes \(offset)-\(offset + length - 1)/\(size)"
            return HTTPResponse(status: 206, headers: h, body: .file(path: path, offset: offset, length: length))
        case .unsatisfiable:
            h["Content-Range"] = "bytes */\(size)"
            return HTTPResponse(status: 416, headers: h)
        }
    }
}

/// Reason phrases for the status line.
func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 100: "Continue"
    case 200: "OK"
    case 201: "Created"
    case 202: "Accepted"
    case 204: "No Content"
    case 206: "Partial Content"
    case 301: "Moved Permanently"
    case 302: "Found"
    case 304: "Not Modified"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 408: "Request Timeout"
    case 409: "Conflict"
    case 410: "Gone"
    case 411: "Length Required"
    case 413: "Content Too Large"
    case 414: "URI Too Long"
    case 415: "Unsupported Media Type"
    case 416: "Range Not Satisfiable"
    case 417: "Expectation Failed"
    case 422: "Unprocessable Content"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 505: "HTTP Version Not Supported"
    default: "Status"
    }
}
