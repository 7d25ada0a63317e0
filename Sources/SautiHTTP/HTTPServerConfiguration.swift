#if canImport(Glibc)
    import Glibc
#endif

/// Where the server listens and the limits it holds every connection to.
public struct HTTPServerConfiguration: Sendable {
    /// The address to bind: an IPv4 or IPv6 literal, or `localhost` (127.0.0.1).
    public var host = "127.0.0.1"
    /// The TCP port; 0 lets the system choose a free one (read it from `HTTPServer.port`).
    public var port: UInt16 = 8080
    /// Largest request head (request line and header fields, or a chunked body's
    /// trailers) in bytes; a larger one gets 431 and the connection closes.
    public var maxHeaderBytes = 16 * 1024
    /// Largest request body in bytes (after de-chunking); a larger one gets 413 and the
    /// connection closes.
    public var maxBodyBytes = 1 << 20
    /// Seconds within which a request (head and body) must arrive whole, counted from its
    /// first byte (from the accept for a connection's first request); else 408 and close.
    public var readTimeoutSeconds = 10.0
    /// Seconds a keep-alive connection may sit with nothing to do, and a response may
    /// make no write progress, before the connection is closed.
    public var idleTimeoutSeconds = 60.0
    /// Most open connections; connections past it are accepted and closed at once.
    public var maxConnections = 10_000
    /// Most requests of one connection in the handler or waiting to be written
    /// (pipelining); the server stops reading the connection until one is written.
    public var maxPipelinedRequests = 16
    /// Seconds `shutdown()` waits for in-flight requests before closing their connections.
    public var shutdownTimeoutSeconds = 10.0
    /// `listen(2)` backlog.
    public var backlog: Int32 = 1024

    public init() {}
}

/// Why the server could not start.
public enum HTTPServerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A setting is out of range: which, and why.
    case invalidConfiguration(String)
    /// `host` is not an IP literal.
    case invalidHost(String)
    /// A system call failed: which, and its errno (e.g. `bind` with EADDRINUSE).
    case system(call: String, errno: Int32)
    /// `start()` was called twice, or after `shutdown()`.
    case alreadyStarted

    public var description: String {
        switch self {
        case .invalidConfiguration(let why): "invalid HTTP server configuration: \(why)"
        case .invalidHost(let host): "invalid host \(host): expected an IPv4 or IPv6 address"
        case .system(let call, let e): "\(call): \(String(cString: strerror(e))) (errno \(e))"
        case .alreadyStarted: "the HTTP server was already started"
        }
    }

    static func last(_ call: String) -> HTTPServerError { .system(call: call, errno: errno) }
}

extension HTTPServerConfiguration {
    func validate() throws(HTTPServerError) {
        if maxHeaderBytes < 256 { throw .invalidConfiguration("maxHeaderBytes must be at least 256") }
        if maxBodyBytes < 0 { throw .invalidConfiguration("maxBodyBytes must not be negative") }
        if !(readTimeoutSeconds > 0) { throw .invalidConfiguration("readTimeoutSeconds must be positive") }
        if !(idleTimeoutSeconds > 0) { throw .invalidConfiguration("idleTimeoutSeconds must be positive") }
        if maxConnections < 1 { throw .invalidConfiguration("maxConnections must be at least 1") }
        if maxPipelinedRequests < 1 { throw .invalidConfiguration("maxPipelinedRequests must be at least 1") }
        if !(shutdownTimeoutSeconds >= 0) { throw .invalidConfiguration("shutdownTimeoutSeconds must not be negative") }
    }
}
