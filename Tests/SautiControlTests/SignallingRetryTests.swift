import Foundation
import Synchronization
import Testing

@testable import SautiControl

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The signalling webhook's retry policy, which failures it retries, and the per-call turns
/// that keep a call's requests in order: without a network (DialSignallingTests runs them
/// against a registrar).
@Suite struct SignallingRetryTests {
    @Test("the default policy: 3 attempts, 250 ms then 500 ms apart, only after a transient failure; 6.75 s at worst")
    func policy() {
        let p = SignallingRetry()
        #expect(p.attempts == 3 && p.attemptTimeoutSeconds == 2)
        #expect(p.delayMilliseconds(after: 1, transient: true) == 250)
        #expect(p.delayMilliseconds(after: 2, transient: true) == 500)
        #expect(p.delayMilliseconds(after: 3, transient: true) == nil, "the third attempt is the last")
        #expect(p.delayMilliseconds(after: 1, transient: false) == nil, "a final failure is not retried")
        #expect(p.worstCaseSeconds == 6.75)
        var one = SignallingRetry()
        one.attempts = 1
        #expect(one.delayMilliseconds(after: 1, transient: true) == nil && one.worstCaseSeconds == 2)
    }

    @Test(
        "HTTP statuses: 2xx delivered; 5xx and 429 retried; other 4xx and 3xx final",
        arguments: [
            (200, nil), (202, nil), (204, nil), (500, true), (502, true), (503, true), (504, true), (429, true),
            (400, false), (401, false), (404, false), (409, false), (422, false), (301, false),
        ] as [(Int, Bool?)])
    func statuses(status: Int, transient: Bool?) {
        let outcome = CallbackPoster.outcome(httpStatus: status)
        if let transient {
            #expect(outcome == .failed("HTTP \(status)", transient: transient))
        } else {
            #expect(outcome == .delivered)
        }
    }

    @Test(
        "URL errors: refused, reset, timed out, unresolved, an empty reply are retried; a bad URL, TLS or a cancel is not",
        arguments: [
            (NSURLErrorCannotConnectToHost, true), (NSURLErrorNetworkConnectionLost, true), (NSURLErrorTimedOut, true),
            (NSURLErrorCannotFindHost, true), (NSURLErrorDNSLookupFailed, true), (NSURLErrorBadServerResponse, true),
            (NSURLErrorBadURL, false), (NSURLErrorUnsupportedURL, false), (NSURLErrorSecureConnectionFailed, false),
            (NSURLErrorServerCertificateUntrusted, false), (NSURLErrorCancelled, false),
        ])
    func urlErrors(code: Int, transient: Bool) {
        let outcome = CallbackPoster.outcome(NSError(domain: NSURLErrorDomain, code: code), timeoutSeconds: 2)
        guard case .failed(let why, let t) = outcome else {
            Issue.record("\(code): \(outcome)")
            return
        }
        #expect(t == transient, "\(code): \(why)")
        if code == NSURLErrorTimedOut { #expect(why == "timed out after 2 s") }
    }

    @Test("a refused connection (nothing listens on the port) is retried; a URL that is not http(s) is not")
    func refusedForReal() async {
        let poster = CallbackPoster(timeoutSeconds: 2)
        // Nothing listens on TCP 45999 (DialSignallingTests' registrar that is down).
        let refused = await poster.send(url: "http://127.0.0.1:45999/signalling", body: Data("{}".utf8), secret: "s")
        guard case .failed(let why, let transient) = refused else {
            Issue.record("\(refused)")
            return
        }
        #expect(transient, "\(why)")
        let notHTTP = await poster.send(url: "ftp://127.0.0.1/x", body: Data("{}".utf8), secret: "s")
        #expect(notHTTP == .failed("not an http(s) URL: ftp://127.0.0.1/x", transient: false))
    }

    @Test("turns: one request at a time per call, in the order asked; other calls do not wait")
    func turns() async throws {
        let turns = SignallingTurns()
        final class Order: Sendable {
            let names = Mutex<[String]>([])
        }
        let order = Order()
        await turns.wait("call_a")
        let second = Task {
            await turns.wait("call_a")
            order.names.withLock { $0.append("second") }
            turns.done("call_a")
        }
        while turns.waiters("call_a") < 1 { try await Task.sleep(for: .milliseconds(1)) }
        let third = Task {
            await turns.wait("call_a")
            order.names.withLock { $0.append("third") }
            turns.done("call_a")
        }
        while turns.waiters("call_a") < 2 { try await Task.sleep(for: .milliseconds(1)) }
        // Another call's turn comes at once.
        await turns.wait("call_b")
        turns.done("call_b")
        try await Task.sleep(for: .milliseconds(20))
        #expect(order.names.withLock { $0 }.isEmpty, "both wait while the first holds the turn")
        turns.done("call_a")
        await second.value
        await third.value
        #expect(order.names.withLock { $0 } == ["second", "third"])
        #expect(turns.isIdle)
    }
}
