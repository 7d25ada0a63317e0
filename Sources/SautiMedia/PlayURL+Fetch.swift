// Downloads for `play(url:)`: one URLSession (FoundationNetworking, libcurl underneath)
// whose data delegate writes each response into a part file as it arrives, so a player can
// decode the start while the rest is still coming. One download per URL at a time: later
// plays of the same URL join it.

import Foundation
import SautiAudio
import SautiWire
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Settings for playing http(s) URLs.
public struct PlayURLConfiguration: Sendable {
    /// Where downloaded audio is kept; nil: a fresh folder in the system's temporary
    /// directory, removed when the engine shuts down.
    public var cacheDirectory: String?
    /// The cache's size cap, in bytes (least recently used entries go first).
    public var maximumCacheBytes = 512 << 20
    /// The largest response played, in bytes: a larger one fails with `too-large`.
    public var maximumResponseBytes = 64 << 20
    /// Seconds without any bytes from the server (connecting, or between chunks) before
    /// the fetch fails with `timeout`.
    public var idleTimeoutSeconds: Double = 10
    /// Seconds a whole download may take before it fails with `timeout`.
    public var totalTimeoutSeconds: Double = 300
    /// Addresses a play URL may not lead to, checked against every address its host
    /// resolves to and at every redirect. The control API adds its own address; the
    /// default denies link-local addresses (cloud metadata services).
    public var deniedAddresses: [AddressRule] = AddressRule.linkLocal
    /// Redirects followed before the fetch fails.
    public var maximumRedirects = 5

    public init() {}
}

/// Where a download stands.
enum DownloadPhase: Equatable, Sendable {
    /// The request is out; no response yet.
    case connecting
    /// A 2xx response: the body is arriving in the part file.
    case streaming
    /// The whole body is in.
    case complete
    /// The server confirmed the cached copy (304).
    case notModified
    /// It failed: the play's reason and a message.
    case failed(PlaybackFailureReason, String)

    var isTerminal: Bool {
        switch self {
        case .connecting, .streaming: return false
        default: return true
        }
    }
}

/// One download in progress. The session's delegate queue writes; players read the part
/// file up to `available`.
final class Download: Sendable {
    let url: String
    /// The file the body goes into while it downloads.
    let partPath: String
    /// The cached entry being revalidated, if any (its validators went with the request).
    let revalidating: PlayCacheEntry?
    /// Bytes of the body in the part file so far.
    let available = Atomic<Int>(0)
    /// The task ended and the cache has been updated (the entry stored or refreshed).
    let finished = Atomic<Bool>(false)
    private struct State {
        var phase = DownloadPhase.connecting
        var contentLength: Int?
        var headers: [String: String] = [:]
        var receivedAt: Double = 0
    }
    private let state = Mutex(State())
    /// The part file, open for writing (the delegate queue only); -1 once closed.
    nonisolated(unsafe) var writeDescriptor: Int32
    /// The part file, open for reading from the start: readers `pread` it, so it is still
    /// theirs after the finished download is renamed into the cache or removed.
    let readDescriptor: Int32

    init(url: String, partPath: String, revalidating: PlayCacheEntry?) throws {
        self.url = url
        self.partPath = partPath
        self.revalidating = revalidating
        writeDescriptor = open(partPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard writeDescriptor >= 0 else {
            throw PlaybackFetchError(
                reason: .fetchError, message: "cannot create \(partPath): \(String(cString: strerror(errno)))")
        }
        readDescriptor = open(partPath, O_RDONLY | O_CLOEXEC)
        guard readDescriptor >= 0 else {
            close(writeDescriptor)
            unlink(partPath)
            throw PlaybackFetchError(
                reason: .fetchError, message: "cannot read \(partPath): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        closeWriter()
        close(readDescriptor)
    }

    var phase: DownloadPhase { state.withLock { $0.phase } }
    /// The length the server announced, if it did.
    var contentLength: Int? { state.withLock { $0.contentLength } }
    var headers: [String: String] { state.withLock { $0.headers } }
    var receivedAt: Double { state.withLock { $0.receivedAt } }

    /// Moves to `phase` unless already finished; true when it moved.
    @discardableResult
    func set(_ phase: DownloadPhase, contentLength: Int? = nil, headers: [String: String]? = nil, at now: Double? = nil)
        -> Bool
    {
        state.withLock { s in
            guard !s.phase.isTerminal else { return false }
            s.phase = phase
            if let contentLength { s.contentLength = contentLength }
            if let headers { s.headers = headers }
            if let now { s.receivedAt = now }
            return true
        }
    }

    func closeWriter() {
        if writeDescriptor >= 0 {
            close(writeDescriptor)
            writeDescriptor = -1
        }
    }
}

/// A fetch failure before any audio: the reason and message a `.playbackFailed` carries.
struct PlaybackFetchError: Error {
    var reason: PlaybackFailureReason
    var message: String
}

/// The engine's downloader and cache for play URLs.
final class PlayFetcher: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let configuration: PlayURLConfiguration
    let cache: PlayCache
    /// Whether the cache folder is ours to remove at shutdown.
    private let ownsDirectory: Bool
    private let attempts = Atomic<Int>(0)
    /// Downloads in flight by URL, and by task.
    private let inFlight = Mutex<(byURL: [String: Download], byTask: [Int: Download])>(([:], [:]))
    /// Created on first use (`@unchecked Sendable`: set once under `sessionLock`).
    private var lazySession: URLSession?
    private let sessionLock = Mutex(())

    init(configuration: PlayURLConfiguration) throws {
        self.configuration = configuration
        let directory: String
        if let d = configuration.cacheDirectory {
            directory = d
            ownsDirectory = false
        } else {
            directory = NSTemporaryDirectory() + "sauti-play-cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            ownsDirectory = true
        }
        cache = try PlayCache(directory: directory, maximumBytes: configuration.maximumCacheBytes)
        super.init()
    }

    private var session: URLSession {
        sessionLock.withLock { _ in
            if let s = lazySession { return s }
            let c = URLSessionConfiguration.ephemeral
            c.urlCache = nil
            c.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
            c.timeoutIntervalForRequest = configuration.idleTimeoutSeconds
            c.timeoutIntervalForResource = configuration.totalTimeoutSeconds
            c.httpShouldSetCookies = false
            c.httpCookieAcceptPolicy = .never
            let queue = OperationQueue()
            queue.maxConcurrentOperationCount = 1
            queue.name = "sauti-play-fetch"
            let s = URLSession(configuration: c, delegate: self, delegateQueue: queue)
            lazySession = s
            return s
        }
    }

    /// Ends the session; removes the cache folder when it was a temporary one.
    func shutdown() {
        let s = sessionLock.withLock { _ in lazySession }
        s?.invalidateAndCancel()
        if ownsDirectory { try? FileManager.default.removeItem(atPath: cache.directory) }
    }

    /// How a play of a URL goes on.
    enum Start {
        /// A cached file (fresh, or confirmed by the server).
        case cached(String)
        /// A download to stream from (new, or joined).
        case download(Download)
    }

    /// Checks `text` and decides where its audio comes from: a fresh cache entry, a
    /// download under way, or a new request (conditional when a stale entry has
    /// validators). Blocking (name resolution): call off the media threads.
    func start(_ text: String) throws(PlaybackFetchError) -> Start {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw PlaybackFetchError(reason: .invalidURL, message: "not an absolute http or https URL")
        }
        try checkAllowed(url)
        let now = Date().timeIntervalSince1970
        let cached = cache.lookup(text, now: now)
        if let cached, cached.entry.isFresh(at: now), FileManager.default.fileExists(atPath: cached.path) {
            cache.count { $0.hits += 1 }
            return .cached(cached.path)
        }
        let revalidate = cached.flatMap { $0.entry.hasValidators ? $0.entry : nil }
        var joined = false
        let result: Result<Download, PlaybackFetchError> = inFlight.withLock { m in
            if let d = m.byURL[text] {
                joined = true
                return .success(d)
            }
            let attempt = attempts.add(1, ordering: .relaxed).newValue
            let d: Download
            do {
                d = try Download(
                    url: text, partPath: cache.partPath(for: text, attempt: attempt), revalidating: revalidate)
            } catch let e as PlaybackFetchError {
                return .failure(e)
            } catch {
                return .failure(PlaybackFetchError(reason: .fetchError, message: "\(error)"))
            }
            var request = URLRequest(url: url)
            request.httpMethod = "GET"
            request.setValue("audio/*, */*;q=0.5", forHTTPHeaderField: "Accept")
            if let revalidate {
                if let t = revalidate.etag { request.setValue(t, forHTTPHeaderField: "If-None-Match") }
                if let m = revalidate.lastModified { request.setValue(m, forHTTPHeaderField: "If-Modified-Since") }
            }
            let task = session.dataTask(with: request)
            m.byURL[text] = d
            m.byTask[task.taskIdentifier] = d
            task.resume()
            return .success(d)
        }
        let download = try result.get()
        if joined { cache.count { $0.joined += 1 } }
        return .download(download)
    }

    /// Throws `.denied` when the URL's host resolves to an address the deny list names
    /// (on the URL's port), `.fetchError` when it does not resolve.
    func checkAllowed(_ url: URL) throws(PlaybackFetchError) {
        guard let host = url.host else { throw PlaybackFetchError(reason: .invalidURL, message: "no host") }
        let port = UInt16(clamping: url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80))
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let addresses = IPAddress(bare).map { [$0] } ?? resolveAddresses(bare)
        guard !addresses.isEmpty else {
            throw PlaybackFetchError(reason: .fetchError, message: "cannot resolve host \(host)")
        }
        for a in addresses {
            if let rule = configuration.deniedAddresses.first(where: { $0.matches(a, port: port) }) {
                throw PlaybackFetchError(
                    reason: .denied, message: "\(host) (\(a)) port \(port) is denied by the rule \(rule)")
            }
        }
    }

    // MARK: URLSessionDataDelegate (on the session's serial delegate queue)

    private func download(for task: URLSessionTask) -> Download? {
        inFlight.withLock { $0.byTask[task.taskIdentifier] }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        guard let d = download(for: dataTask) else { return completionHandler(.cancel) }
        guard let http = response as? HTTPURLResponse else {
            d.set(.failed(.fetchError, "not an HTTP response"))
            return completionHandler(.cancel)
        }
        var headers: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k] = v }
        }
        let now = Date().timeIntervalSince1970
        let status = http.statusCode
        switch status {
        case 304 where d.revalidating != nil:
            d.set(.notModified, headers: headers, at: now)
            completionHandler(.cancel)
        case 200:
            let length = http.expectedContentLength >= 0 ? Int(http.expectedContentLength) : nil
            if let length, length > configuration.maximumResponseBytes {
                d.set(
                    .failed(
                        .tooLarge,
                        "the server announces \(length) bytes; the limit is \(configuration.maximumResponseBytes)"))
                return completionHandler(.cancel)
            }
            d.set(.streaming, contentLength: length, headers: headers, at: now)
            cache.count { $0.misses += 1 }
            completionHandler(.allow)
        case 404, 410:
            d.set(.failed(.notFound, "HTTP \(status) \(HTTPURLResponse.localizedString(forStatusCode: status))"))
            completionHandler(.cancel)
        default:
            d.set(.failed(.httpStatus, "HTTP \(status) \(HTTPURLResponse.localizedString(forStatusCode: status))"))
            completionHandler(.cancel)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let d = download(for: dataTask), d.phase == .streaming, d.writeDescriptor >= 0 else { return }
        let offset = d.available.load(ordering: .relaxed)
        guard offset + data.count <= configuration.maximumResponseBytes else {
            d.set(
                .failed(.tooLarge, "the body passed the limit of \(configuration.maximumResponseBytes) bytes"))
            dataTask.cancel()
            return
        }
        let written = data.withUnsafeBytes { raw -> Bool in
            var done = 0
            while done < raw.count {
                let n = pwrite(d.writeDescriptor, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        guard written else {
            d.set(.failed(.fetchError, "cannot write \(d.partPath): \(String(cString: strerror(errno)))"))
            dataTask.cancel()
            return
        }
        // Released after the write: a reader that sees the count sees the bytes.
        d.available.store(offset + data.count, ordering: .releasing)
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        guard let d = download(for: task) else { return completionHandler(nil) }
        guard let url = request.url, let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            d.set(.failed(.invalidURL, "redirected to a URL that is not http or https"))
            // Refusing the redirect makes the 3xx the response, which is then cancelled
            // (cancelling here, inside the callback, trips FoundationNetworking).
            return completionHandler(nil)
        }
        do {
            try checkAllowed(url)
        } catch {
            d.set(.failed(error.reason, "redirected to \(url.absoluteString): \(error.message)"))
            return completionHandler(nil)
        }
        completionHandler(request)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let d = inFlight.withLock { m -> Download? in
            guard let d = m.byTask.removeValue(forKey: task.taskIdentifier) else { return nil }
            if m.byURL[d.url] === d { m.byURL.removeValue(forKey: d.url) }
            return d
        }
        guard let d else { return }
        d.closeWriter()
        let now = Date().timeIntervalSince1970
        if let error {
            let nsError = error as NSError
            if nsError.domain == NSURLErrorDomain && nsError.code == NSURLErrorTimedOut {
                d.set(.failed(.timeout, "no bytes from the server for \(configuration.idleTimeoutSeconds) s, or the download took over \(configuration.totalTimeoutSeconds) s"))
            } else if nsError.domain == NSURLErrorDomain && nsError.code == NSURLErrorHTTPTooManyRedirects {
                d.set(.failed(.fetchError, "too many redirects"))
            } else {
                d.set(.failed(.fetchError, error.localizedDescription))
            }
        } else if case .streaming = d.phase, let length = d.contentLength, d.available.load(ordering: .acquiring) < length {
            d.set(.failed(.fetchError, "the body ended after \(d.available.load(ordering: .acquiring)) of \(length) bytes"))
        } else {
            d.set(.complete)
        }
        switch d.phase {
        case .complete:
            cache.store(
                url: d.url, partPath: d.partPath, size: d.available.load(ordering: .acquiring),
                policy: CachePolicy(headers: d.headers, now: d.receivedAt), now: now)
        case .notModified:
            unlink(d.partPath)
            cache.refresh(url: d.url, policy: CachePolicy(headers: d.headers, now: d.receivedAt), now: now)
            cache.count { $0.revalidated += 1 }
        default:
            unlink(d.partPath)
        }
        d.finished.store(true, ordering: .releasing)
    }
}

/// A download's bytes as libsndfile reads them: from the part file up to what has
/// arrived, waiting (in 5 ms naps) for more until the download ends or the playback is
/// stopped. Runs on the URL player's own thread, so waiting blocks nobody else.
final class DownloadReader: AudioByteSource {
    let download: Download
    /// True when the playback was stopped: stop waiting.
    private let cancelled: () -> Bool

    init(download: Download, cancelled: @escaping () -> Bool) {
        self.download = download
        self.cancelled = cancelled
    }

    /// Waits until `ready()` or the download ends or the playback stops.
    private func wait(until ready: () -> Bool) {
        while !ready() && !download.phase.isTerminal && !cancelled() { usleep(5_000) }
    }

    func length() -> Int {
        if let n = download.contentLength { return n }
        // Chunked: a WAV tells its length in its RIFF header; FLAC needs none; anything else
        // is read when it has all arrived.
        wait { download.available.load(ordering: .acquiring) >= 12 }
        var head = [UInt8](repeating: 0, count: 12)
        let got = head.withUnsafeMutableBytes { read(into: $0, at: 0) }
        if got == 12 && (head[0...3].elementsEqual("RIFF".utf8) || head[0...3].elementsEqual("RIFX".utf8)) {
            let size =
                head[0] == UInt8(ascii: "R") && head[3] == UInt8(ascii: "F")
                ? Int(head[4]) | Int(head[5]) << 8 | Int(head[6]) << 16 | Int(head[7]) << 24
                : Int(head[7]) | Int(head[6]) << 8 | Int(head[5]) << 16 | Int(head[4]) << 24
            if size >= 4 && size < 0xFFFF_FF00 { return size + 8 }
        }
        if got >= 4 && head[0...3].elementsEqual("fLaC".utf8) { return Int(Int32.max) }
        wait { false }
        return download.available.load(ordering: .acquiring)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0 }
        wait { download.available.load(ordering: .acquiring) > offset }
        let available = download.available.load(ordering: .acquiring)
        guard available > offset else { return 0 }
        let n = pread(download.readDescriptor, base, min(buffer.count, available - offset), off_t(offset))
        return max(0, n)
    }
}
