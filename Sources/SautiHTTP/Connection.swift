// One client connection's state, touched only on the event loop's thread.

/// What the connection is reading.
enum ReadState {
    /// The next request's head (or nothing yet).
    case head
    /// A `Content-Length` body of this many bytes.
    case body(RequestHead, length: Int)
    /// A chunked body.
    case chunked(RequestHead, ChunkedDecoder)
}

/// A request handed to the handler (or failed by the parser), waiting to be written in
/// request order.
struct ResponseSlot {
    /// The request's number on its connection.
    var sequence: UInt64
    var requestIsHead: Bool
    /// The connection closes after this response.
    var close: Bool
    /// An HTTP/1.0 keep-alive request: the response says `Connection: keep-alive`.
    var keepAliveHeader: Bool
    /// Set when the handler has answered.
    var response: HTTPResponse?
    /// The opened file of a `.file` body (-1: none).
    var fileDescriptor: Int32 = -1
}

/// A file body being sent with sendfile.
struct FileTransfer {
    var descriptor: Int32
    var offset: Int64
    var remaining: Int
}

final class Connection {
    /// The epoll cookie; never reused.
    let id: UInt64
    let fd: Int32
    /// `address:port` of the peer.
    let remoteAddress: String

    /// Received bytes; those before `inputStart` are consumed.
    var input: [UInt8] = []
    var inputStart = 0
    /// Where the search for the end of the current head resumes (index into `input`).
    var scanFrom = 0
    var state = ReadState.head
    /// No more requests are parsed (after an error, `Connection: close`, shutdown, EOF).
    var stopParsing = false
    /// The peer shut down its sending side.
    var peerClosed = false
    /// Requests parsed on this connection.
    var requestsParsed = 0
    /// A request sent `Expect: 100-continue` and the interim response is not yet written.
    var owesContinue = false

    /// Requests in flight or answered, in request order.
    var pending: [ResponseSlot] = []
    var nextSequence: UInt64 = 0

    /// Bytes to write; those before `outputOffset` are written.
    var output: [UInt8] = []
    var outputOffset = 0
    var file: FileTransfer?
    /// Close once everything pending is written.
    var closeWhenDrained = false
    /// Write side shut down; reading and discarding until EOF or `lingerUntil`, so that
    /// unread input does not turn the close into a reset that destroys the last response.
    var lingering = false
    var lingerUntilNanoseconds: Int64 = 0

    /// Monotonic ns when the current request's first byte arrived (the accept for the
    /// first request); nil between requests.
    var requestStartNanoseconds: Int64?
    /// Monotonic ns of the last read or write progress.
    var lastActivityNanoseconds: Int64
    /// The epoll events currently registered.
    var registeredEvents: UInt32

    init(id: UInt64, fd: Int32, remoteAddress: String, now: Int64, events: UInt32) {
        self.id = id
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.lastActivityNanoseconds = now
        self.requestStartNanoseconds = now
        self.registeredEvents = events
    }

    var hasUnwrittenOutput: Bool { outputOffset < output.count || file != nil }
    var bufferedInput: Int { input.count - inputStart }
    /// Whether a partial request is buffered or being read.
    var midRequest: Bool {
        if case .head = state { return bufferedInput > 0 }
        return true
    }
}
