// Requests the engine makes on its own: lifecycle events to a number's events_url (signed,
// in order per call, retried with backoff) and actions to the registrar's signalling
// webhook.

import Foundation
import SautiFlow
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What one POST came to.
enum PostOutcome: Sendable, Equatable {
    /// A 2xx reply.
    case delivered
    /// Anything else: why (`HTTP 503`, `timed out after 2 s`, curl's words for a refused or
    /// reset connection), and whether another attempt may fare better.
    case failed(String, transient: Bool)

    /// Why it failed; nil when delivered.
    var failure: String? {
        if case .failed(let why, _) = self { return why }
        return nil
    }
}

/// Signed JSON POSTs whose reply body does not matter (only the status).
final class CallbackPoster: Sendable {
    private let session: URLSession
    let timeoutSeconds: Double

    init(timeoutSeconds: Double) {
        self.timeoutSeconds = timeoutSeconds
        let c = URLSessionConfiguration.ephemeral
        c.urlCache = nil
        c.timeoutIntervalForRequest = timeoutSeconds
        c.timeoutIntervalForResource = timeoutSeconds
        c.httpShouldSetCookies = false
        session = URLSession(configuration: c)
    }

    deinit { session.invalidateAndCancel() }

    /// POSTs `body` signed with `secret` (the same headers as the voice_url's requests);
    /// nil when the receiver answered 2xx, else why not.
    func post(url: String, body: Data, secret: String) async -> String? {
        await send(url: url, body: body, secret: secret).failure
    }

    /// POSTs `body` signed with `secret` (signed afresh, so each attempt has its own
    /// timestamp), with `headers` besides; what it came to.
    func send(url: String, body: Data, secret: String, headers: [String: String] = [:]) async -> PostOutcome {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return .failed("not an http(s) URL: \(url)", transient: false)
        }
        var request = URLRequest(url: u)
        request.httpMethod = "POST"
        request.signJSON(body, secret: secret)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        do {
            let (_, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else {
                return .failed("not an HTTP response", transient: false)
            }
            return Self.outcome(httpStatus: http.statusCode)
        } catch {
            return Self.outcome(error, timeoutSeconds: timeoutSeconds)
        }
    }

    /// A reply's status: 2xx delivered; 5xx and 429 (the receiver is down, restarting or
    /// shedding load) transient; anything else (a 4xx: the request itself is wrong; a 3xx
    /// not followed) final.
    static func outcome(httpStatus status: Int) -> PostOutcome {
        if (200..<300).contains(status) { return .delivered }
        return .failed("HTTP \(status)", transient: status == 429 || (500..<600).contains(status))
    }

    /// The URL errors worth another attempt: the receiver could not be reached or its reply
    /// did not come (NSURLErrorCannotConnectToHost is curl's "connection refused",
    /// NSURLErrorNetworkConnectionLost a reset, NSURLErrorBadServerResponse an empty reply
    /// from a process that died mid-request). Bad URLs, TLS failures and the like are final.
    static let transientURLErrors: Set<Int> = [
        NSURLErrorTimedOut, NSURLErrorCannotConnectToHost, NSURLErrorNetworkConnectionLost, NSURLErrorCannotFindHost,
        NSURLErrorDNSLookupFailed, NSURLErrorNotConnectedToInternet, NSURLErrorBadServerResponse,
    ]

    /// A transport error: transient when `transientURLErrors` has it.
    static func outcome(_ error: any Error, timeoutSeconds: Double) -> PostOutcome {
        let ns = error as NSError
        guard ns.domain == NSURLErrorDomain else { return .failed(error.localizedDescription, transient: false) }
        // Foundation's own words for a timeout are only a code.
        let why =
            ns.code == NSURLErrorTimedOut
            ? "timed out after \(String(format: "%g", timeoutSeconds)) s" : error.localizedDescription
        return .failed(why, transient: transientURLErrors.contains(ns.code))
    }
}

/// events_url delivery: one queue per call, so a call's events arrive in order; each event
/// is retried with exponential backoff (0.5 s, 1 s, 2 s, …) up to `attempts` before it is
/// given up (and that is recorded in the call's events).
final class EventDelivery: Sendable {
    private struct Item: Sendable {
        var url: String
        var body: Data
        var secret: String
        var done: @Sendable (String?) -> Void
    }
    private struct Queue {
        var items: [Item] = []
        var running = false
    }
    private let poster: CallbackPoster
    private let attempts: Int
    private let queues = Mutex<[String: Queue]>([:])

    init(poster: CallbackPoster, attempts: Int) {
        self.poster = poster
        self.attempts = max(1, attempts)
    }

    /// Queues an event for `callID`; `done` gets nil once delivered, or the last error.
    func enqueue(callID: String, url: String, body: Data, secret: String, done: @escaping @Sendable (String?) -> Void) {
        let start = queues.withLock { q -> Bool in
            q[callID, default: Queue()].items.append(Item(url: url, body: body, secret: secret, done: done))
            if q[callID]!.running { return false }
            q[callID]!.running = true
            return true
        }
        guard start else { return }
        Task { await self.drain(callID) }
    }

    /// Whether any event is still waiting or being delivered (tests, shutdown).
    var isIdle: Bool { queues.withLock { $0.isEmpty } }

    private func drain(_ callID: String) async {
        while true {
            let next = queues.withLock { q -> Item? in
                guard var queue = q[callID], !queue.items.isEmpty else {
                    q[callID] = nil
                    return nil
                }
                let item = queue.items.removeFirst()
                q[callID] = queue
                return item
            }
            guard let item = next else { return }
            var lastError: String?
            for attempt in 0..<attempts {
                lastError = await poster.post(url: item.url, body: item.body, secret: item.secret)
                if lastError == nil { break }
                if attempt + 1 < attempts {
                    try? await Task.sleep(for: .milliseconds(500 << min(attempt, 6)))
                }
            }
            item.done(lastError)
        }
    }
}
