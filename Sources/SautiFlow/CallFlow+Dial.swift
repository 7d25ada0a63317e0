// The dial verb: new calls placed through the signalling side, ringback while they ring,
// the first to answer joined with the caller (relayed or transcoded), the outcome to the
// action's callbackUrl.

import Foundation
import SautiAudio
import SautiMedia
import SautiVoice
import Synchronization

/// What a dialed call reports, as the signalling side learns it.
public enum DialProgress: Sendable, Equatable {
    /// The far end rings.
    case ringing
    /// The far end answered; the call's leg has the far end's media.
    case answered
    /// The call ended with this status: `busy`, `no-answer`, `failed`, `canceled`
    /// (before answer) or `completed` (after).
    case ended(String)
}

/// One call the dial verb placed (a child call): its id, whom it rings, its leg, and what
/// the signalling side reports about it.
public final class DialedCall: Sendable {
    /// The child call's id.
    public let callID: String
    /// The number or SIP URI it rings.
    public let to: String
    /// The child call's media leg (its SDP offer went to the signalling side).
    public let leg: MediaLeg
    private let state = Mutex<(reports: [DialProgress], wake: (@Sendable () -> Void)?)>(([], nil))

    /// A placed call.
    public init(callID: String, to: String, leg: MediaLeg) {
        self.callID = callID
        self.to = to
        self.leg = leg
    }

    /// What the signalling side learned (called by whoever hears the registrar).
    public func report(_ progress: DialProgress) {
        let wake = state.withLock { s -> (@Sendable () -> Void)? in
            s.reports.append(progress)
            return s.wake
        }
        wake?()
    }

    /// The reports since the last call.
    func take() -> [DialProgress] {
        state.withLock { s in
            defer { s.reports.removeAll() }; return s.reports
        }
    }

    func onReport(_ body: @escaping @Sendable () -> Void) { state.withLock { $0.wake = body } }
}

/// What the interpreter needs to place the dial verb's calls. The daemon's signalling
/// implements it (the registrar, through the signalling webhook); signalling without it
/// (a bare RTP peer) makes `dial` an `action.unsupported` event.
public protocol CallDialer: Sendable {
    /// Places a call to `to` (an E.164 number or a SIP URI) for the call `parentCallID`,
    /// showing `callerID`; nil when it cannot be placed (the reason is on the timeline).
    func placeCall(to: String, callerID: String?, parentCallID: String) async -> DialedCall?
    /// Gives up on a call not answered: the signalling side cancels it; its status becomes
    /// `status` (`canceled` or `no-answer`).
    func cancel(_ call: DialedCall, status: String) async
    /// Ends an answered call (BYE); its status becomes `completed`.
    func hangup(_ call: DialedCall) async
}

extension FlowRunner {
    /// How one dial ended, for the callback and the timeline.
    struct DialOutcome {
        /// `answered`, `busy`, `no-answer`, `failed`, `canceled`.
        var status: String
        var callID: String?
        var to: String?
        /// Seconds the caller and the answered call were joined.
        var durationSeconds: Double = 0
        /// `relay` or `transcode`, once answered.
        var mode: String?
        /// Who ended the joined call: `caller`, `callee`, `max-duration`, `replaced`.
        var endedBy: String?
        var recordingID: String?
    }

    func dial(_ d: Dial) async -> Next {
        guard let dialer = flow.signalling as? any CallDialer else {
            emit("action.unsupported", ["verb": "dial", "why": "this engine has no signalling side to place calls"])
            return .proceed
        }
        emit(
            "dial.started",
            ["targets": d.targets.map(\.address).joined(separator: ","), "sequential": String(d.sequential)])
        // Ringback for the caller while the targets ring.
        let ringback = d.ringbackTone.map { flow.leg.play(url: $0, loop: 0) }
        if ringback == nil { flow.leg.play(.tone(ToneSpec.ringback(country: "us")!)) }

        var outcome = DialOutcome(status: "failed")
        if d.sequential {
            for target in d.targets {
                outcome = await ring([target.address], d, dialer)
                if outcome.status == "answered" || closed || replaced { break }
            }
        } else {
            outcome = await ring(d.targets.map(\.address), d, dialer)
        }
        if outcome.status != "answered" {
            flow.leg.stopPlayback()
            flow.leg.play(.silence)
        }
        var detail = ["status": outcome.status, "duration_seconds": String(format: "%.3f", outcome.durationSeconds)]
        if let c = outcome.callID { detail["call_id"] = c }
        if let m = outcome.mode { detail["mode"] = m }
        if let e = outcome.endedBy { detail["ended_by"] = e }
        emit("dial.ended", detail)
        guard let url = d.callbackURL, !replaced else { return closed ? .end(.remoteHangup) : .proceed }
        var body: [String: Any] = ["status": outcome.status, "duration_seconds": outcome.durationSeconds]
        body["call_id"] = outcome.callID ?? NSNull()
        body["to"] = outcome.to ?? NSNull()
        body["ended_by"] = outcome.endedBy ?? NSNull()
        body["mode"] = outcome.mode ?? NSNull()
        body["recording_id"] = outcome.recordingID ?? NSNull()
        let result = await request(url, event: "dial", extra: ["dial": body])
        // A caller who hung up still gets the callback; its reply is not run.
        if closed { return .end(.remoteHangup) }
        switch result {
        case .success(let doc): return doc.actions.isEmpty ? .proceed : .replace(doc)
        case .failure(let e): return .end(e)
        }
    }

    /// Rings `targets` at once until one answers (the others are canceled), all fail, the
    /// timeout passes, or the caller goes; with an answer, runs the joined call to its end.
    private func ring(_ targets: [String], _ d: Dial, _ dialer: any CallDialer) async -> DialOutcome {
        let mailbox = self.mailbox
        var calls: [DialedCall] = []
        for t in targets {
            guard let c = await dialer.placeCall(to: t, callerID: d.callerId, parentCallID: flow.context.callID) else {
                continue
            }
            c.onReport { mailbox.interrupt() }
            emit("dial.placed", ["call_id": c.callID, "to": t])
            calls.append(c)
        }
        var ended: [String: String] = [:]  // call id → status
        var winner: DialedCall?
        let deadline = ContinuousClock.now + .seconds(d.timeoutSeconds)
        waiting: while winner == nil && ended.count < calls.count {
            for c in calls where ended[c.callID] == nil {
                for p in c.take() {
                    switch p {
                    case .ringing: emit("dial.ringing", ["call_id": c.callID])
                    case .answered: if winner == nil { winner = c }
                    case .ended(let s): ended[c.callID] = s
                    }
                }
            }
            if winner != nil || ended.count == calls.count { break }
            if closed || replaced || ContinuousClock.now >= deadline { break }
            // Reports wake the wait; the short bound covers one that came just before it.
            let e = await mailbox.next(before: min(deadline, .now + .milliseconds(100)))
            switch e {
            case .closed, .mediaTimeout: closed = true
            default: if mailbox.isEnded { closed = true }
            }
        }
        // Everyone else is let go: canceled, or no-answer at the timeout.
        let timedOut = winner == nil && !closed && !replaced && ended.count < calls.count
        for c in calls where c !== winner && ended[c.callID] == nil {
            await dialer.cancel(c, status: timedOut ? "no-answer" : "canceled")
            ended[c.callID] = timedOut ? "no-answer" : "canceled"
        }
        guard let winner else {
            var o = DialOutcome(status: "failed")
            let statuses = Array(ended.values)
            if closed || replaced {
                o.status = "canceled"
            } else if timedOut || statuses.contains("no-answer") {
                o.status = "no-answer"
            } else if statuses.contains("busy") {
                o.status = "busy"
            } else if statuses.contains("canceled") {
                o.status = "canceled"
            }
            if calls.count == 1 {
                o.callID = calls[0].callID
                o.to = calls[0].to
            }
            return o
        }
        if closed || replaced {
            await dialer.hangup(winner)
            return DialOutcome(status: "canceled", callID: winner.callID, to: winner.to)
        }
        return await bridge(winner, d, dialer)
    }

    /// The joined call: relayed or transcoded, recorded if asked, digits sent, until one
    /// side hangs up, the maximum duration passes, or the flow is replaced.
    private func bridge(_ callee: DialedCall, _ d: Dial, _ dialer: any CallDialer) async -> DialOutcome {
        var o = DialOutcome(status: "answered", callID: callee.callID, to: callee.to)
        flow.leg.stopPlayback()
        let join = await LegJoin.join(flow.leg, callee.leg)
        o.mode = join.isRelayed ? "relay" : "transcode"
        let started = ContinuousClock.now
        emit("dial.answered", ["call_id": callee.callID, "mode": o.mode!])
        var recordingPath: String?
        if d.record {
            let id = CallbackSignature.randomHex(12)
            let path = "\(flow.configuration.recordingsDirectory)/\(flow.context.callID)-\(id).wav"
            recordingPath = path
            o.recordingID = id
            emit("recording.started", ["id": id, "path": path, "verb": "dial"])
            flow.leg.record(RecordingSpec(path: path, channels: .both, trimSilence: false))
        }
        var digits: Task<Void, Never>?
        if let s = d.sendDigits, !s.isEmpty {
            let leg = callee.leg
            digits = Task {
                for ch in s {
                    if Task.isCancelled { return }
                    if ch == "w" || ch == "W" {
                        try? await Task.sleep(for: .milliseconds(500))
                    } else {
                        leg.sendDigits(String(ch), durationMilliseconds: 100)
                        // 100 ms of tone, three end packets and the gap after them.
                        try? await Task.sleep(for: .milliseconds(220))
                    }
                }
            }
        }
        let deadline = started + .seconds(d.maxDurationSeconds)
        var endedBy = "caller"
        var calleeEnded = false
        // The recording's outcome may come before the caller's hangup is read.
        var recordingOutcome: RecordingOutcome?
        loop: while true {
            for p in callee.take() {
                if case .ended = p { calleeEnded = true }
            }
            if calleeEnded {
                endedBy = "callee"
                break
            }
            if closed { break }
            if replaced {
                endedBy = "replaced"
                break
            }
            if ContinuousClock.now >= deadline {
                endedBy = "max-duration"
                break
            }
            let e = await mailbox.next(before: min(deadline, .now + .milliseconds(100)))
            switch e {
            case .closed, .mediaTimeout:
                closed = true
                break loop
            case .recordingFinished(let r) where r.path == recordingPath:
                recordingOutcome = r
            default:
                if mailbox.isEnded { closed = true }
            }
        }
        o.durationSeconds =
            Double((ContinuousClock.now - started).components.seconds)
            + Double((ContinuousClock.now - started).components.attoseconds) / 1e18
        o.endedBy = endedBy
        digits?.cancel()
        await join.stop()
        if !calleeEnded { await dialer.hangup(callee) }
        if let path = recordingPath, let id = o.recordingID {
            if !closed && recordingOutcome == nil { flow.leg.stopRecording() }
            await finishDialRecording(id: id, path: path, outcome: recordingOutcome)
        }
        return o
    }

    /// Waits (up to 5 s) for the bridge recording's outcome and reports it as the record
    /// verb does.
    private func finishDialRecording(id: String, path: String, outcome: RecordingOutcome?) async {
        let deadline = ContinuousClock.now + .seconds(5)
        var pending = outcome
        while true {
            let next: LegEvent?
            if let p = pending {
                next = .recordingFinished(p)
            } else {
                next = await mailbox.next(before: deadline)
            }
            guard let e = next else { break }
            pending = nil
            switch e {
            case .recordingFinished(let r) where r.path == path:
                let failed: Bool
                let reason: String
                switch r.reason {
                case .error(let m): (failed, reason) = (true, "error: \(m)")
                case .hangup: (failed, reason) = (false, "hangup")
                default: (failed, reason) = (false, "dial-ended")
                }
                emit(
                    "recording.finished",
                    [
                        "id": id, "path": path, "duration_seconds": String(format: "%.3f", r.durationSeconds),
                        "status": failed ? "failed" : "completed", "reason": reason, "verb": "dial",
                    ])
                return
            case .closed, .mediaTimeout:
                closed = true
            default:
                continue
            }
        }
        emit("recording.lost", ["id": id])
    }
}
