// Requests to the registrar's signalling webhook (answer, reject, hangup, dial, cancel):
// retried a few times with short backoff when the failure may pass (a caller may be
// hearing ringback meanwhile), the same body every attempt with an idempotency key the
// registrar can dedupe on, and one request at a time per call, so that they reach the
// registrar in the order the engine made them.

import Foundation
import Synchronization

/// How a signalling request is retried: `attempts` in all, the second after
/// `firstDelayMilliseconds` and each next after twice the wait before; each attempt may take
/// `attemptTimeoutSeconds`. Only transient failures are retried (`PostOutcome`): a refused,
/// reset or timed-out connection, a 5xx, a 429. Defaults: 3 attempts, 250 ms then 500 ms
/// (0.75 s of waiting: a registrar that is down fails the request in under a second), 2 s
/// per attempt (6.75 s at worst, all three timing out; one attempt with the 10 s callback
/// timeout took up to 10 s before).
public struct SignallingRetry: Sendable, Equatable {
    /// Attempts per request, the first included (at least 1).
    public var attempts = 3
    /// The wait before the second attempt; each later wait doubles.
    public var firstDelayMilliseconds = 250
    /// The longest one attempt may take (connecting, sending, the reply).
    public var attemptTimeoutSeconds = 2.0

    public init() {}

    /// The wait after attempt `attempt` (from 1) failed, before the next; nil when there is
    /// no next: the failure is not `transient`, or that was the last attempt.
    public func delayMilliseconds(after attempt: Int, transient: Bool) -> Int? {
        guard transient, attempt < attempts else { return nil }
        return firstDelayMilliseconds << min(max(attempt - 1, 0), 16)
    }

    /// The longest a request takes before it is given up: every attempt timing out, with
    /// the waits between.
    public var worstCaseSeconds: Double {
        let waits = (1..<max(attempts, 1)).reduce(0) { $0 + (delayMilliseconds(after: $1, transient: true) ?? 0) }
        return Double(max(attempts, 1)) * attemptTimeoutSeconds + Double(waits) / 1000
    }
}

/// How a signalling request ended.
enum SignallingOutcome: Sendable, Equatable {
    /// No signalling webhook is configured: nothing was sent.
    case notConfigured
    /// Not sent: the call had ended (this status) by its turn, while an earlier request on
    /// it was in flight.
    case skipped(String)
    /// Taken by the registrar (a 2xx, or it reported on the call meanwhile).
    case delivered(attempts: Int)
    /// Given up: the last failure.
    case failed(String, attempts: Int)
}

/// One signalling request at a time per call, in the order they asked (FIFO): a hangup
/// waits for the call's dial or answer to be taken or given up, so it never reaches the
/// registrar first.
final class SignallingTurns: Sendable {
    private let waiting = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

    /// Returns when it is this caller's turn on `callID`; `done(callID)` ends the turn.
    func wait(_ callID: String) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = waiting.withLock { w -> Bool in
                if w[callID] != nil {
                    w[callID]!.append(c)
                    return false
                }
                // An entry, empty: the turn is taken and no one waits.
                w[callID] = []
                return true
            }
            if now { c.resume() }
        }
    }

    /// Ends the turn on `callID`: the next waiter's starts.
    func done(_ callID: String) {
        let next = waiting.withLock { w -> CheckedContinuation<Void, Never>? in
            guard var line = w[callID], !line.isEmpty else {
                w[callID] = nil
                return nil
            }
            let first = line.removeFirst()
            w[callID] = line
            return first
        }
        next?.resume()
    }

    /// How many wait for a turn on `callID` (tests).
    func waiters(_ callID: String) -> Int { waiting.withLock { $0[callID]?.count ?? 0 } }

    /// Whether no call has a request in flight (tests).
    var isIdle: Bool { waiting.withLock { $0.isEmpty } }
}

extension ControlPlane {
    /// Asks the registrar to act on a call (answer, reject, hangup, cancel) through the
    /// signalling webhook, in the call's turn; a call that ended before its turn came is
    /// not asked (`signalling.skipped`). Without a webhook configured, nothing is sent (the
    /// leg alone carries the call).
    @discardableResult
    func requestSignalling(callID: String, action: String, extra: [String: String]) async -> SignallingOutcome {
        guard let url = configuration.signallingWebhookURL else { return .notConfigured }
        await signallingTurns.wait(callID)
        defer { signallingTurns.done(callID) }
        let call = try? store.call(id: callID)
        if let call, CallStatus.terminal.contains(call.status) {
            try? store.appendEvent(
                callID: callID, name: "signalling.skipped",
                detail: ["action": action, "why": "the call is already \(call.status)"])
            return .skipped(call.status)
        }
        var body: [String: Any] = ["call_id": callID, "action": action]
        if let pbx = call?.pbxCallID { body["pbx_call_id"] = pbx }
        for (k, v) in extra { body[k] = v }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return await deliverSignalling(callID: callID, action: action, url: url, body: data)
    }

    /// Sends `body` (the same bytes every attempt) to the webhook at `url` with
    /// `Idempotency-Key: <call id>:<action>` and `X-Sautikit-Attempt: <n>`, retrying as
    /// `configuration.signallingRetry` says. Before each retry `stillNeeded` is asked: false
    /// (the registrar has reported on the call, so it has the request) stops, as delivered.
    /// Failed attempts that are retried go to the timeline as `signalling.retrying`, the end
    /// as `signalling.sent` with `attempts`. The caller holds the call's turn.
    func deliverSignalling(
        callID: String, action: String, url: String, body: Data, stillNeeded: () -> Bool = { true }
    ) async -> SignallingOutcome {
        let policy = configuration.signallingRetry
        var attempt = 0
        while true {
            attempt += 1
            let outcome = await webhook.send(
                url: url, body: body, secret: registrarToken,
                headers: ["Idempotency-Key": "\(callID):\(action)", "X-Sautikit-Attempt": String(attempt)])
            guard case .failed(let why, let transient) = outcome else {
                sent(callID, action, "delivered", attempt)
                return .delivered(attempts: attempt)
            }
            guard let wait = policy.delayMilliseconds(after: attempt, transient: transient) else {
                sent(callID, action, transient ? why : "\(why) (not retried)", attempt)
                return .failed(why, attempts: attempt)
            }
            try? store.appendEvent(
                callID: callID, name: "signalling.retrying",
                detail: ["action": action, "attempt": String(attempt), "outcome": why, "retry_in_ms": String(wait)])
            try? await Task.sleep(for: .milliseconds(wait))
            if !stillNeeded() {
                sent(callID, action, "acknowledged: the registrar reported on the call", attempt)
                return .delivered(attempts: attempt)
            }
        }
    }

    private func sent(_ callID: String, _ action: String, _ outcome: String, _ attempts: Int) {
        try? store.appendEvent(
            callID: callID, name: "signalling.sent",
            detail: ["action": action, "outcome": outcome, "attempts": String(attempts)])
    }
}
