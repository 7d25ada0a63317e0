// The event loop: one thread with an epoll instance that accepts, reads, parses, and writes;
// handlers run as Tasks and hand their responses back through a locked inbox and an eventfd.

import CSautiLinux
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What handler Tasks and `shutdown()` hand to the loop thread.
struct Inbox: ~Copyable {
    var completions: [Completion] = []
    var shutdownRequested = false
    /// The loop has exited: nothing more is delivered.
    var stopped = false
    var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    var statistics = HTTPServerStatistics()
}

/// A handler's answer for one request of one connection.
struct Completion: Sendable {
    var connection: UInt64
    var sequence: UInt64
    var response: HTTPResponse
    var fileDescriptor: Int32
}

/// Counters of the server, as of the loop's last iteration.
public struct HTTPServerStatistics: Sendable, Equatable {
    /// Connections open now.
    public var openConnections = 0
    /// Connections accepted since start.
    public var acceptedConnections = 0
    /// Connections closed at once because `maxConnections` were open.
    public var rejectedConnections = 0
    /// Requests handed to the handler.
    public var requests = 0
    /// Requests refused by the server itself (400, 408, 413, 417, 431, 501, 505).
    public var rejectedRequests = 0
    /// Connections closed for a read, idle or write timeout.
    public var timeouts = 0
    /// Response bytes held in user-space buffers across connections (file bodies are
    /// never buffered: sendfile copies them as the socket drains).
    public var bufferedOutputBytes = 0
}

final class EventLoop: @unchecked Sendable {
    // Safe (@unchecked Sendable): `inbox` is locked; everything below it is touched only on
    // the loop thread (checked by `assertOnLoop` in debug builds), or immutable.
    let inbox = Mutex(Inbox())
    let configuration: HTTPServerConfiguration
    let handler: @Sendable (HTTPRequest) async -> HTTPResponse
    let epollFD: Int32
    let wakeFD: Int32
    var listenFD: Int32
    private(set) var loopThread: pthread_t?

    static let listenCookie: UInt64 = 0
    static let wakeCookie: UInt64 = 1

    private var connections: [UInt64: Connection] = [:]
    private var nextID: UInt64 = 16
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    private var dateSecond = -1
    private var dateBytes: [UInt8] = []
    private var now: Int64 = 0
    private var nextTimerCheck: Int64 = 0
    private var acceptPausedUntil: Int64?
    private var draining = false
    private var drainDeadline: Int64 = 0
    private var stats = HTTPServerStatistics()

    private let readTimeout: Int64
    private let idleTimeout: Int64

    init(
        configuration: HTTPServerConfiguration, listenFD: Int32,
        handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) throws(HTTPServerError) {
        self.configuration = configuration
        self.handler = handler
        self.listenFD = listenFD
        readTimeout = Int64(configuration.readTimeoutSeconds * 1e9)
        idleTimeout = Int64(configuration.idleTimeoutSeconds * 1e9)
        epollFD = sauti_epoll_create()
        if epollFD < 0 { throw .last("epoll_create1") }
        wakeFD = sauti_eventfd_create()
        if wakeFD < 0 {
            let e = HTTPServerError.last("eventfd")
            close(epollFD)
            throw e
        }
        if sauti_epoll_add(epollFD, listenFD, SAUTI_EPOLLIN, Self.listenCookie) < 0
            || sauti_epoll_add(epollFD, wakeFD, SAUTI_EPOLLIN, Self.wakeCookie) < 0
        {
            let e = HTTPServerError.last("epoll_ctl")
            close(epollFD)
            close(wakeFD)
            throw e
        }
    }

    @inline(__always)
    private func assertOnLoop() {
        assert(loopThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false, "not on the HTTP event loop")
    }

    // MARK: From other threads

    /// Delivers a handler's response (any thread).
    func complete(_ completion: Completion) {
        let wake = inbox.withLock { box -> Bool? in
            if box.stopped { return nil }
            box.completions.append(completion)
            return box.completions.count == 1
        }
        switch wake {
        case nil: if completion.fileDescriptor >= 0 { close(completion.fileDescriptor) }
        case true?: _ = sauti_eventfd_signal(wakeFD)
        case false?: break
        }
    }

    /// Asks the loop to drain and stop; returns when it has.
    func shutdown() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = inbox.withLock { box -> Bool in
                if box.stopped { return true }
                box.shutdownWaiters.append(c)
                box.shutdownRequested = true
                return false
            }
            if resumeNow { c.resume() } else { _ = sauti_eventfd_signal(wakeFD) }
        }
    }

    var statistics: HTTPServerStatistics { inbox.withLock { $0.statistics } }

    // MARK: The loop

    func run() {
        loopThread = pthread_self()
        var events = [sauti_epoll_event](repeating: sauti_epoll_event(), count: 64)
        while true {
            let n = events.withUnsafeMutableBufferPointer { sauti_epoll_wait(epollFD, $0.baseAddress, 64, 100) }
            now = sauti_monotonic_ns()
            if n < 0 && errno != EINTR { break }
            for i in 0..<Int(max(n, 0)) {
                let e = events[i]
                switch e.data {
                case Self.listenCookie: acceptConnections()
                case Self.wakeCookie: drainInbox()
                default:
                    guard let c = connections[e.data] else { continue }
                    handle(c, events: e.events)
                }
            }
            if now >= nextTimerCheck {
                nextTimerCheck = now + 100_000_000
                checkTimers()
            }
            if draining && (connections.isEmpty || now >= drainDeadline) { break }
            publishStatistics()
        }
        for c in Array(connections.values) { abort(c) }
        publishStatistics()
        let (late, waiters) = inbox.withLock { box in
            box.stopped = true
            let r = (box.completions, box.shutdownWaiters)
            box.completions = []
            box.shutdownWaiters = []
            return r
        }
        for c in late where c.fileDescriptor >= 0 { close(c.fileDescriptor) }
        if listenFD >= 0 { close(listenFD) }
        close(epollFD)
        close(wakeFD)
        for w in waiters { w.resume() }
    }

    private func publishStatistics() {
        stats.openConnections = connections.count
        let s = stats
        inbox.withLock { $0.statistics = s }
    }

    private func drainInbox() {
        _ = sauti_eventfd_drain(wakeFD)
        let (completions, shutdownRequested) = inbox.withLock { box in
            let r = (box.completions, box.shutdownRequested)
            box.completions = []
            return r
        }
        for completion in completions { deliver(completion) }
        if shutdownRequested && !draining { beginDrain() }
    }

    // MARK: Accepting

    private func acceptConnections() {
        if draining { return }
        for _ in 0..<256 {
            var address = sockaddr_storage()
            var length = socklen_t(0)
            let fd = sauti_accept_nonblocking(listenFD, &address, &length)
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: stop watching the listener for a moment rather
                    // than spin on a socket that stays readable.
                    _ = sauti_epoll_del(epollFD, listenFD)
                    acceptPausedUntil = now + 100_000_000
                    return
                default: return
                }
            }
            if connections.count >= configuration.maxConnections {
                close(fd)
                stats.rejectedConnections += 1
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let id = nextID
            nextID += 1
            if sauti_epoll_add(epollFD, fd, SAUTI_EPOLLIN, id) < 0 {
                close(fd)
                continue
            }
            let c = Connection(
                id: id, fd: fd, remoteAddress: Self.describe(&address), now: now, events: SAUTI_EPOLLIN)
            connections[id] = c
            stats.acceptedConnections += 1
        }
    }

    static func describe(_ address: inout sockaddr_storage) -> String {
        var text = [CChar](repeating: 0, count: 64)
        switch Int32(address.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var a = sin.pointee.sin_addr
                    inet_ntop(AF_INET, &a, &text, 64)
                    return Self.string(text) + ":\(UInt16(bigEndian: sin.pointee.sin_port))"
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var a = sin6.pointee.sin6_addr
                    inet_ntop(AF_INET6, &a, &text, 64)
                    return "[" + Self.string(text) + "]:\(UInt16(bigEndian: sin6.pointee.sin6_port))"
                }
            }
        default:
            return "unknown"
        }
    }

    static func string(_ c: [CChar]) -> String {
        String(decoding: c.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Connection events

    private func handle(_ c: Connection, events: UInt32) {
        assertOnLoop()
        if events & (SAUTI_EPOLLERR | SAUTI_EPOLLHUP) != 0 {
            // Reset, or both directions shut: nothing more can be delivered.
            abort(c)
            return
        }
        if events & SAUTI_EPOLLIN != 0 {
            if c.lingering {
                discardInput(c)
                return
            }
            guard readInput(c) else { return }
        }
        drive(c)
    }

    /// Reads what is available (up to 256 KiB); false if the connection was closed.
    private func readInput(_ c: Connection) -> Bool {
        var total = 0
        while total < 256 * 1024 {
            let n = scratch.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                c.input.append(contentsOf: scratch[0..<n])
                total += n
                c.lastActivityNanoseconds = now
                if n < scratch.count { break }
            } else if n == 0 {
                c.peerClosed = true
                break
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                break
            } else {
                abort(c)
                return false
            }
        }
        return true
    }

    private func discardInput(_ c: Connection) {
        while true {
            let n = scratch.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            abort(c)  // EOF or error: the linger is over
            return
        }
    }

    /// Parses, writes, and parses again what a written response made room for.
    private func drive(_ c: Connection) {
        processInput(c)
        guard flush(c) else { return }
        if !c.stopParsing && c.bufferedInput > 0 && c.pending.count < configuration.maxPipelinedRequests {
            processInput(c)
            guard flush(c) else { return }
        }
        if c.peerClosed && !c.stopParsing {
            // The peer sends nothing more: answer what is complete, then close.
            c.stopParsing = true
            c.closeWhenDrained = true
            if c.pending.isEmpty && !c.hasUnwrittenOutput {
                abort(c)
                return
            }
        }
        updateInterest(c)
    }

    // MARK: Parsing

    private func processInput(_ c: Connection) {
        parsing: while !c.stopParsing && c.pending.count < configuration.maxPipelinedRequests {
            switch c.state {
            case .head:
                // Empty lines before a request line are ignored (RFC 9112 §2.2).
                while c.inputStart < c.input.count && (c.input[c.inputStart] == 13 || c.input[c.inputStart] == 10) {
                    c.inputStart += 1
                }
                if c.inputStart == c.input.count { break parsing }
                switch HTTPParser.parseHead(
                    c.input, start: c.inputStart, end: c.input.count, scanFrom: c.scanFrom,
                    maxHeaderBytes: configuration.maxHeaderBytes)
                {
                case .incomplete(let scanFrom):
                    c.scanFrom = scanFrom
                    break parsing
                case .failed(let e):
                    fail(c, e)
                    break parsing
                case .complete(let head, let length):
                    c.inputStart += length
                    c.scanFrom = c.inputStart
                    c.requestsParsed += 1
                    switch head.framing {
                    case .none:
                        dispatch(c, head, body: [])
                    case .length(let n):
                        if n > configuration.maxBodyBytes {
                            fail(
                                c,
                                HTTPParseError(
                                    status: 413, reason: "request body larger than \(configuration.maxBodyBytes) bytes")
                            )
                            break parsing
                        }
                        c.state = .body(head, length: n)
                        if head.expectContinue && c.bufferedInput < n { promiseContinue(c) }
                    case .chunked:
                        c.state = .chunked(
                            head,
                            ChunkedDecoder(
                                maxBodyBytes: configuration.maxBodyBytes, maxHeaderBytes: configuration.maxHeaderBytes))
                        if head.expectContinue && c.bufferedInput == 0 { promiseContinue(c) }
                    }
                }
            case .body(let head, let n):
                guard c.bufferedInput >= n else { break parsing }
                let body = Array(c.input[c.inputStart..<(c.inputStart + n)])
                c.inputStart += n
                c.scanFrom = c.inputStart
                c.state = .head
                dispatch(c, head, body: body)
            case .chunked(let head, var decoder):
                c.state = .head  // the decoder is held here while it runs: no copy of its body
                let (consumed, progress) = decoder.feed(c.input, start: c.inputStart, end: c.input.count)
                c.inputStart += consumed
                c.scanFrom = c.inputStart
                switch progress {
                case .needMore:
                    c.state = .chunked(head, decoder)
                    break parsing
                case .done:
                    dispatch(c, head, body: decoder.body)
                case .failed(let e):
                    fail(c, e)
                    break parsing
                }
            }
        }
        // Compact the input buffer.
        if c.inputStart == c.input.count {
            c.input.removeAll(keepingCapacity: c.input.capacity <= 64 * 1024)
            c.inputStart = 0
            c.scanFrom = 0
        } else if c.inputStart >= 32 * 1024 && c.inputStart * 2 >= c.input.count {
            c.input.removeFirst(c.inputStart)
            c.scanFrom -= c.inputStart
            c.inputStart = 0
        }
        // The read timeout runs while a request is partly here and we are waiting for the
        // rest; not while parsing waits for the pipeline to drain.
        if c.stopParsing || c.pending.count >= configuration.maxPipelinedRequests {
            c.requestStartNanoseconds = nil
        } else if c.midRequest || c.requestsParsed == 0 {
            if c.requestStartNanoseconds == nil { c.requestStartNanoseconds = now }
        } else {
            c.requestStartNanoseconds = nil
        }
    }

    /// Sends `100 Continue` now if nothing is ahead of it, else once the pipeline drains.
    private func promiseContinue(_ c: Connection) {
        c.owesContinue = true
        if c.pending.isEmpty && !c.hasUnwrittenOutput {
            c.owesContinue = false
            c.output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
            stats.bufferedOutputBytes += 25
        }
    }

    /// Answers a request the server refuses, then closes.
    private func fail(_ c: Connection, _ e: HTTPParseError) {
        c.stopParsing = true
        c.owesContinue = false
        c.state = .head
        stats.rejectedRequests += 1
        var slot = ResponseSlot(
            sequence: c.nextSequence, requestIsHead: false, close: true, keepAliveHeader: false)
        c.nextSequence += 1
        slot.response = ResponseEncoder.errorResponse(status: e.status, message: e.reason)
        c.pending.append(slot)
    }

    private func dispatch(_ c: Connection, _ head: RequestHead, body: [UInt8]) {
        let closeAfter = !head.keepAlive || draining
        if closeAfter { c.stopParsing = true }
        c.owesContinue = false
        let sequence = c.nextSequence
        c.nextSequence += 1
        c.pending.append(
            ResponseSlot(
                sequence: sequence, requestIsHead: head.isHead, close: closeAfter,
                keepAliveHeader: head.minorVersion == 0 && head.keepAlive))
        stats.requests += 1
        let request = HTTPRequest(
            method: head.method, target: head.target, path: head.path, query: head.query, headers: head.headers,
            body: body, remoteAddress: c.remoteAddress, minorVersion: head.minorVersion)
        let id = c.id
        let isHead = head.isHead
        let handler = self.handler
        Task { [self] in
            var response = await handler(request)
            var fd: Int32 = -1
            if case .file(_, let offset, let length) = response.body, offset < 0 || length < 0 {
                response = ResponseEncoder.errorResponse(status: 500, message: "negative file range in response")
            } else if case .file(let path, let offset, let length) = response.body, !isHead, length > 0 {
                // Opened here, off the loop thread.
                fd = open(path, O_RDONLY | O_CLOEXEC)
                var st = Glibc.stat()
                if fd < 0 || fstat(fd, &st) != 0 || offset < 0 || Int(st.st_size) - length < offset {
                    if fd >= 0 { close(fd) }
                    fd = -1
                    response = ResponseEncoder.errorResponse(status: 500, message: "response file unavailable")
                }
            }
            complete(Completion(connection: id, sequence: sequence, response: response, fileDescriptor: fd))
        }
    }

    private func deliver(_ completion: Completion) {
        guard let c = connections[completion.connection],
            let i = c.pending.firstIndex(where: { $0.sequence == completion.sequence })
        else {
            if completion.fileDescriptor >= 0 { close(completion.fileDescriptor) }
            return
        }
        c.pending[i].response = completion.response
        c.pending[i].fileDescriptor = completion.fileDescriptor
        if i == 0 { drive(c) }
    }

    // MARK: Writing

    /// Writes ready responses in order until the socket is full; false if the connection
    /// was closed.
    private func flush(_ c: Connection) -> Bool {
        var budget = 4 << 20  // bytes per call, so one fast reader cannot starve the rest
        while true {
            if c.outputOffset < c.output.count {
                let n = c.output.withUnsafeBytes { b in
                    send(c.fd, b.baseAddress! + c.outputOffset, b.count - c.outputOffset, Int32(MSG_NOSIGNAL))
                }
                if n > 0 {
                    c.outputOffset += n
                    stats.bufferedOutputBytes -= n
                    c.lastActivityNanoseconds = now
                    budget -= n
                    if c.outputOffset == c.output.count {
                        c.output.removeAll(keepingCapacity: c.output.capacity <= 64 * 1024)
                        c.outputOffset = 0
                    }
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
                abort(c)
                return false
            }
            if var f = c.file {
                if budget <= 0 { return true }
                let n = sauti_sendfile(c.fd, f.descriptor, &f.offset, min(f.remaining, 1 << 20))
                if n > 0 {
                    f.remaining -= n
                    budget -= n
                    c.lastActivityNanoseconds = now
                    if f.remaining == 0 {
                        close(f.descriptor)
                        c.file = nil
                    } else {
                        c.file = f
                    }
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
                // The file shrank under us (0) or the socket failed: the promised length
                // cannot be delivered, so the connection ends.
                abort(c)
                return false
            }
            // Serialize the next ready responses (several when small: pipelining).
            var wrote = false
            while c.file == nil, c.output.count - c.outputOffset < 64 * 1024, let first = c.pending.first,
                let response = first.response
            {
                c.pending.removeFirst()
                let close = first.close || (c.closeWhenDrained && c.pending.isEmpty)
                if close {
                    c.closeWhenDrained = true
                    c.stopParsing = true
                }
                let before = c.output.count
                let sendBody = ResponseEncoder.appendHead(
                    response, to: &c.output, requestIsHead: first.requestIsHead, close: close,
                    keepAliveHeader: first.keepAliveHeader, date: currentDate())
                switch response.body {
                case .bytes(let b):
                    if sendBody { c.output.append(contentsOf: b) }
                    if first.fileDescriptor >= 0 { Glibc.close(first.fileDescriptor) }
                case .file(_, let offset, let length):
                    if sendBody && first.fileDescriptor >= 0 {
                        c.file = FileTransfer(
                            descriptor: first.fileDescriptor, offset: Int64(offset), remaining: length)
                    } else if first.fileDescriptor >= 0 {
                        Glibc.close(first.fileDescriptor)
                    }
                }
                stats.bufferedOutputBytes += c.output.count - before
                wrote = true
                if close { break }
            }
            if wrote { continue }
            if c.pending.isEmpty && c.owesContinue && !c.stopParsing {
                c.owesContinue = false
                c.output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                stats.bufferedOutputBytes += 25
                continue
            }
            break
        }
        if c.closeWhenDrained && c.pending.isEmpty {
            startLinger(c)
            return false
        }
        return true
    }

    private func currentDate() -> [UInt8] {
        let second = Int(time(nil))
        if second != dateSecond {
            dateSecond = second
            dateBytes = ResponseEncoder.imfDate(second)
        }
        return dateBytes
    }

    /// Shuts the write side after the last response and waits briefly for the peer's EOF.
    private func startLinger(_ c: Connection) {
        if c.peerClosed || draining {
            abort(c)
            return
        }
        Glibc.shutdown(c.fd, Int32(SHUT_WR))
        c.lingering = true
        c.lingerUntilNanoseconds = now + min(2_000_000_000, readTimeout)
        c.input = []
        c.inputStart = 0
        setEvents(c, SAUTI_EPOLLIN)
    }

    private func updateInterest(_ c: Connection) {
        var events: UInt32 = 0
        let parsingPaused = c.pending.count >= configuration.maxPipelinedRequests
        if !c.peerClosed && !c.stopParsing && !parsingPaused { events |= SAUTI_EPOLLIN }
        if c.hasUnwrittenOutput { events |= SAUTI_EPOLLOUT }
        setEvents(c, events)
    }

    private func setEvents(_ c: Connection, _ events: UInt32) {
        if events != c.registeredEvents {
            _ = sauti_epoll_modify(epollFD, c.fd, events, c.id)
            c.registeredEvents = events
        }
    }

    /// Closes now, dropping whatever is unwritten.
    private func abort(_ c: Connection) {
        guard connections.removeValue(forKey: c.id) != nil else { return }
        _ = sauti_epoll_del(epollFD, c.fd)
        close(c.fd)
        stats.bufferedOutputBytes -= c.output.count - c.outputOffset
        if let f = c.file { close(f.descriptor) }
        for slot in c.pending where slot.fileDescriptor >= 0 { close(slot.fileDescriptor) }
        c.pending = []
        c.output = []
        c.file = nil
    }

    // MARK: Timers and shutdown

    private func checkTimers() {
        if let until = acceptPausedUntil, now >= until, !draining {
            acceptPausedUntil = nil
            _ = sauti_epoll_add(epollFD, listenFD, SAUTI_EPOLLIN, Self.listenCookie)
        }
        for c in Array(connections.values) {
            if c.lingering {
                if now >= c.lingerUntilNanoseconds { abort(c) }
                continue
            }
            if let start = c.requestStartNanoseconds, !c.stopParsing, now - start > readTimeout {
                stats.timeouts += 1
                if c.requestsParsed == 0 && !c.midRequest {
                    abort(c)  // never sent a byte: nothing to answer
                    continue
                }
                fail(
                    c,
                    HTTPParseError(
                        status: 408, reason: "request not received within \(configuration.readTimeoutSeconds) s"))
                drive(c)
                continue
            }
            if c.hasUnwrittenOutput {
                if now - c.lastActivityNanoseconds > idleTimeout {
                    stats.timeouts += 1
                    abort(c)
                }
            } else if c.pending.isEmpty && c.requestStartNanoseconds == nil
                && now - c.lastActivityNanoseconds > idleTimeout
            {
                stats.timeouts += 1
                abort(c)
            }
        }
    }

    private func beginDrain() {
        draining = true
        drainDeadline = now + Int64(configuration.shutdownTimeoutSeconds * 1e9)
        if listenFD >= 0 {
            _ = sauti_epoll_del(epollFD, listenFD)
            close(listenFD)
            listenFD = -1
        }
        for c in Array(connections.values) {
            c.stopParsing = true
            c.owesContinue = false
            c.closeWhenDrained = true
            if c.lingering || (c.pending.isEmpty && !c.hasUnwrittenOutput) {
                abort(c)
            } else {
                updateInterest(c)
            }
        }
    }
}
