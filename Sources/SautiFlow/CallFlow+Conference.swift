// The conference verb: the caller joins a named room (the daemon keeps the rooms), stays
// until it hangs up, the room ends, or the flow is replaced, then the flow goes on with the
// next action.

import Foundation
import SautiMedia
import SautiVoice
import Synchronization

/// Named conference rooms, as the flow needs them. `sautid` implements it with rooms on the
/// media plane and the call's store; without one, `conference` is reported unsupported.
public protocol CallConferencing: Sendable {
    /// Puts `leg` (the call `callID`'s) into the room `conference.name`, created on first
    /// join, with the action's attributes; or says why not.
    func join(_ conference: Conference, leg: MediaLeg, callID: String) async -> Result<ConferenceMembership, ConferenceRefusal>
}

/// Why a caller could not join a room.
public struct ConferenceRefusal: Error, Sendable, Equatable {
    /// A token: `full`, `closed`, `invalid-leg`.
    public var reason: String
    /// For people.
    public var message: String

    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }
}

/// One caller's time in a room: the flow waits on it and leaves through it; the room's
/// keeper ends it when the room ends for everyone.
public final class ConferenceMembership: Sendable {
    private struct State {
        var ended: String?
        var left = false
        var onEnd: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())
    private let leaveRoom: @Sendable () -> Void

    /// `leave` takes the caller out of the room (called once, by `leave()`).
    public init(leave: @escaping @Sendable () -> Void) { leaveRoom = leave }

    /// Why the room ended for this caller, once it has (`conference-ended`, `empty`, …).
    public var endReason: String? { state.withLock { $0.ended } }

    /// The room ended for this caller (its keeper calls this); the flow goes on.
    public func end(reason: String) {
        let wake = state.withLock { s -> (@Sendable () -> Void)? in
            guard s.ended == nil, !s.left else { return nil }
            s.ended = reason
            return s.onEnd
        }
        wake?()
    }

    /// The caller leaves (hangs up, or its flow moves on).
    public func leave() {
        let first = state.withLock { s -> Bool in
            defer { s.left = true }
            return !s.left
        }
        if first { leaveRoom() }
    }

    /// Runs `body` when the room ends (at once if it has).
    func onEnd(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            s.onEnd = body
            return s.ended != nil
        }
        if now { body() }
    }
}

extension FlowRunner {
    func conference(_ c: Conference) async -> Next {
        guard let conferencing = flow.conferencing else {
            emit("action.unsupported", ["verb": "conference", "why": "no conference rooms in this engine"])
            return .proceed
        }
        let membership: ConferenceMembership
        switch await conferencing.join(c, leg: flow.leg, callID: flow.context.callID) {
        case .failure(let refusal):
            emit("conference.refused", ["conference": c.name, "reason": refusal.reason, "message": refusal.message])
            return .proceed
        case .success(let m):
            membership = m
        }
        emit("conference.entered", ["conference": c.name])
        mailbox.clearNudge()
        let mailbox = self.mailbox
        membership.onEnd { mailbox.nudge() }
        while true {
            if let reason = membership.endReason {
                emit("conference.exited", ["conference": c.name, "reason": reason])
                return .proceed
            }
            if replaced {
                membership.leave()
                emit("conference.exited", ["conference": c.name, "reason": "replaced"])
                return .proceed
            }
            guard let e = await mailbox.next(before: nil) else {
                if mailbox.isEnded {
                    closed = true
                    membership.leave()
                    return .end(.remoteHangup)
                }
                continue  // nudged or interrupted: the checks above say why
            }
            switch e {
            case .closed, .mediaTimeout:
                closed = true
                membership.leave()
                emit("conference.exited", ["conference": c.name, "reason": "hangup"])
                return .end(.remoteHangup)
            case .digit(let d, _):
                emit("conference.digit", ["conference": c.name, "digit": String(d)])
            case .playbackFailed(let p, let reason, let message):
                emit("play.failed", ["url": p, "reason": reason.rawValue, "message": message])
            default:
                continue
            }
        }
    }
}
