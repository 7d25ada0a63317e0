// Test helpers: a server with a small router, and a blocking raw TCP client run off the
// cooperative pool (test support's offPool); real clients (curl, python3) run by runTool.

import Foundation
import SautiHTTP
import SautiTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A server on an OS-chosen loopback port with the test routes:
/// `/hello`, `/echo` (method, path, query and body back), `/sleep?ms=N`, `/file?path=P`,
/// `/whoami` (the peer address), `/bytes?n=N`.
func startServer(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> HTTPServer {
    var config = HTTPServerConfiguration()
    config.port = 0
    configure(&config)
    let server = try HTTPServer(configuration: config, handler: testRoutes)
    try server.start()
    return server
}

@Sendable func testRoutes(_ r: HTTPRequest) async -> HTTPResponse {
    switch r.path {
    case "/hello":
        return .json(200, Array("{\"hello\":\"world\"}".utf8))
    case "/echo":
        var h = HTTPHeaders()
        h["X-Method"] = r.method
        h["X-Path"] = r.path
        h["X-Query"] = r.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        h["X-Body-Length"] = String(r.body.count)
        h["X-Content-Type"] = r.headers["content-type"] ?? ""
        return HTTPResponse(status: 200, headers: h, body: .bytes(r.body))
    case "/sleep":
        let ms = Int(r.queryValue("ms") ?? "") ?? 100
        try? await Task.sleep(for: .milliseconds(ms))
        return .text(200, "slept \(ms)")
    case "/file":
        let path = r.queryValue("path") ?? ""
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attributes[.size] as? Int
        else { return .text(404, "no such file") }
        return .file(path: path, size: size, range: r.headers["range"])
    case "/whoami":
        return .text(200, r.remoteAddress)
    case "/bytes":
        let n = Int(r.queryValue("n") ?? "") ?? 0
        return HTTPResponse(status: 200, body: .bytes([UInt8](repeating: 0x61, count: n)))
    default:
        return .text(404, "not found")
    }
}

/// A response as read off the wire.
struct WireResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking TCP client with receive/send timeouts. Use it inside `offPool`.
final class RawClient: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port`; nil if the connection is refused.
    init?(port: UInt16, timeoutSeconds: Double = 5) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(
            tv_sec: Int(timeoutSeconds), tv_usec: Int((timeoutSeconds - Double(Int(timeoutSeconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let r = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if r != 0 {
            close(fd)
            return nil
        }
    }

    deinit { close(fd) }

    func setReceiveBuffer(_ bytes: Int32) {
        var b = bytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, socklen_t(MemoryLayout<Int32>.size))
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads more into the buffer: false on EOF, error or timeout.
    private func fill(max: Int = 65536) -> Bool {
        var chunk = [UInt8](repeating: 0, count: max)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// Reads one response (Content-Length framed; `bodyless` for HEAD); nil on EOF/timeout.
    func readResponse(bodyless: Bool = false) -> WireResponse? {
        while true {
            if let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
                let headers = lines.compactMap { l -> (String, String)? in
                    guard let c = l.firstIndex(of: ":") else { return nil }
                    return (String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
                }
                let length =
                    bodyless || status < 200
                    ? 0 : Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
                while buffer.count < end + 4 + length { if !fill() { return nil } }
                let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                buffer.removeFirst(end + 4 + length)
                return WireResponse(status: status, headers: headers, body: body)
            }
            if !fill() { return nil }
        }
    }

    /// Whether the server closes the connection (EOF or reset) within the receive
    /// timeout, discarding anything else it sends.
    func waitForClose() -> Bool {
        while true {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                continue
            }
            if n == 0 { return true }
            return errno == ECONNRESET || errno == EPIPE
        }
    }

    /// Everything received so far and not parsed.
    var unparsed: [UInt8] { buffer }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where buffer[i] == needle[0] {
            if Array(buffer[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}

let curl = "/usr/bin/curl"
var python: String { TestHTTPServer.python ?? "/usr/bin/python3" }

/// Seconds since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}


/// Whether the server's statistics (published once per event-loop iteration, so a
/// moment after a response is on the wire) meet `condition` within `seconds`.
func statistics(
    of server: HTTPServer, within seconds: Double = 2, _ condition: (HTTPServerStatistics) -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition(server.statistics) { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition(server.statistics)
}
