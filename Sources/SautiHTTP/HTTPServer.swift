import CSautiLinux
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The project's HTTP/1.1 server: one event-loop thread (epoll) accepts, reads, parses and
/// writes for every connection; each request runs `handler` in its own Task, and responses
/// go out in request order (pipelining). Keep-alive, chunked request bodies,
/// `Expect: 100-continue`, HEAD, HTTP/1.0, header and body limits (431, 413), read and idle
/// timeouts (408 or close), file bodies with sendfile, graceful shutdown.
///
/// Call `shutdown()` before dropping the last reference: the loop thread keeps running
/// until then.
public final class HTTPServer: Sendable {
    private enum State {
        case created
        case running(EventLoop)
        case stopped
    }

    /// The settings the server was made with.
    public let configuration: HTTPServerConfiguration
    private let handler: @Sendable (HTTPRequest) async -> HTTPResponse
    private let state = Mutex(State.created)
    private let boundPort = Atomic<UInt16>(0)

    /// A server that will answer every request with `handler`; `start()` binds it.
    public init(
        configuration: HTTPServerConfiguration, handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) throws(HTTPServerError) {
        try configuration.validate()
        self.configuration = configuration
        self.handler = handler
    }

    /// Binds and listens on `configuration.host:port`, and starts the event-loop thread.
    public func start() throws(HTTPServerError) {
        let result: Result<Void, HTTPServerError> = state.withLock { state in
            guard case .created = state else { return .failure(.alreadyStarted) }
            do throws(HTTPServerError) {
                let (fd, port) = try Self.listen(configuration)
                let loop: EventLoop
                do throws(HTTPServerError) {
                    loop = try EventLoop(configuration: configuration, listenFD: fd, handler: handler)
                } catch {
                    close(fd)
                    throw error
                }
                boundPort.store(port, ordering: .releasing)
                let thread = Thread { loop.run() }
                thread.name = "sauti-http"
                thread.start()
                state = .running(loop)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// The bound TCP port (after `start()`; 0 before).
    public var port: UInt16 { boundPort.load(ordering: .acquiring) }

    /// Counters as of the event loop's last iteration.
    public var statistics: HTTPServerStatistics {
        state.withLock { state in
            if case .running(let loop) = state { return loop.statistics }
            return HTTPServerStatistics()
        }
    }

    /// Stops accepting, lets requests already handed to the handler finish and their
    /// responses be written (up to `shutdownTimeoutSeconds`), closes every connection, and
    /// returns once the loop thread has stopped. Safe to call more than once.
    public func shutdown() async {
        let loop: EventLoop? = state.withLock { state in
            switch state {
            case .created:
                state = .stopped
                return nil
            case .running(let loop): return loop
            case .stopped: return nil
            }
        }
        await loop?.shutdown()
    }

    /// A listening, non-blocking socket for the configuration, and its bound port.
    static func listen(_ configuration: HTTPServerConfiguration) throws(HTTPServerError) -> (Int32, UInt16) {
        let host = configuration.host == "localhost" ? "127.0.0.1" : configuration.host
        var storage = sockaddr_storage()
        let length: socklen_t
        let family: Int32
        if host.contains(":") {
            family = AF_INET6
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = configuration.port.bigEndian
            guard inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1 else { throw .invalidHost(configuration.host) }
            withUnsafeMutableBytes(of: &storage) { raw in raw.storeBytes(of: sin6, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            family = AF_INET
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = configuration.port.bigEndian
            guard inet_pton(AF_INET, host, &sin.sin_addr) == 1 else { throw .invalidHost(configuration.host) }
            withUnsafeMutableBytes(of: &storage) { raw in raw.storeBytes(of: sin, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let fd = socket(
            family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw .last("socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        if bound < 0 {
            let e = HTTPServerError.last("bind")
            close(fd)
            throw e
        }
        if Glibc.listen(fd, configuration.backlog) < 0 {
            let e = HTTPServerError.last("listen")
            close(fd)
            throw e
        }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
        }
        let port = withUnsafeBytes(of: &actual) { raw -> UInt16 in
            family == AF_INET6
                ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
                : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
        return (fd, port)
    }
}
