// A leg's events as the interpreter reads them: one at a time, with a deadline.

import Foundation
import SautiMedia
import Synchronization

/// Pumps a leg's `AsyncStream` of events into a queue the interpreter reads with
/// `next(before:)`, which gives up at a deadline: what a timeout in a verb needs, and what
/// an `AsyncStream` iterator alone cannot do.
final class EventMailbox: Sendable {
    private struct State {
        var queue: [LegEvent] = []
        var waiter: CheckedContinuation<LegEvent?, Never>?
        var waiterID = 0
        var ended = false
        /// A nudge no `next` has seen yet (it returns nil once for it).
        var nudged = false
    }
    /// The state, in a box the pump task and timers can hold (a `Mutex` cannot be copied).
    private final class Box: Sendable {
        let mutex = Mutex(State())
        func withLock<R>(_ body: (inout State) -> R) -> R { mutex.withLock { body(&$0) } }
    }
    private let state = Box()
    private let pump: Task<Void, Never>

    init(_ events: AsyncStream<LegEvent>) {
        let state = self.state
        pump = Task {
            for await e in events {
                let waiter = state.withLock { s -> CheckedContinuation<LegEvent?, Never>? in
                    if let w = s.waiter {
                        s.waiter = nil
                        return w
                    }
                    s.queue.append(e)
                    return nil
                }
                waiter?.resume(returning: e)
            }
            let waiter = state.withLock { s -> CheckedContinuation<LegEvent?, Never>? in
                s.ended = true
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    deinit { pump.cancel() }

    /// Whether the leg's events have ended (after `.closed`) and the queue is empty.
    var isEnded: Bool { state.withLock { $0.ended && $0.queue.isEmpty } }

    /// Wakes a waiting `next` with nil now (the flow is being replaced).
    func interrupt() {
        let waiter = state.withLock { s -> CheckedContinuation<LegEvent?, Never>? in
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Makes the waiting `next`, or the next one to come, return nil once: something
    /// outside the leg's events needs the flow's attention (its conference ended). Unlike
    /// `interrupt`, it is not lost when no one waits at that moment.
    func nudge() {
        let waiter = state.withLock { s -> CheckedContinuation<LegEvent?, Never>? in
            guard let w = s.waiter else {
                s.nudged = true
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume(returning: nil)
    }

    /// Forgets a nudge not yet seen.
    func clearNudge() { state.withLock { $0.nudged = false } }

    /// The next event, or nil when `deadline` (a `ContinuousClock` instant; nil: none)
    /// passes first, the events have ended, or a nudge came.
    func next(before deadline: ContinuousClock.Instant?) async -> LegEvent? {
        let ready = state.withLock { s -> (LegEvent?, Bool) in
            if s.nudged {
                s.nudged = false
                return (nil, true)
            }
            if !s.queue.isEmpty { return (s.queue.removeFirst(), true) }
            return (nil, s.ended)
        }
        if let e = ready.0 { return e }
        if ready.1 { return nil }
        if let deadline, deadline <= .now { return nil }
        return await withCheckedContinuation { (c: CheckedContinuation<LegEvent?, Never>) in
            let id = state.withLock { s -> Int? in
                if !s.queue.isEmpty {
                    c.resume(returning: s.queue.removeFirst())
                    return nil
                }
                if s.ended {
                    c.resume(returning: nil)
                    return nil
                }
                s.waiterID += 1
                s.waiter = c
                return s.waiterID
            }
            guard let id, let deadline else { return }
            Task { [state] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                let waiter = state.withLock { s -> CheckedContinuation<LegEvent?, Never>? in
                    guard s.waiterID == id, let w = s.waiter else { return nil }
                    s.waiter = nil
                    return w
                }
                waiter?.resume(returning: nil)
            }
        }
    }
}
