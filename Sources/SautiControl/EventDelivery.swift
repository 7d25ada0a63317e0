// Requests the engine makes on its own: lifecycle events to a number's events_url (signed,
// in order per call, retried with backoff) and actions to the registrar's signalling
// webhook.

import Foundation
import SautiFlow
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

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
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return "not an http(s) URL: \(url)"
        }
        var request = URLRequest(url: u)
        request.httpMethod = "POST"
        request.signJSON(body, secret: secret)
        do {
            let (_, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else { return "not an HTTP response" }
            return (200..<300).contains(http.statusCode) ? nil : "HTTP \(http.statusCode)"
        } catch {
            return error.localizedDescription
        }
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
