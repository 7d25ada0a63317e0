// Named conference rooms for the `conference` verb: created on first join, placed on the
// first participant's media worker, closed when the last participant leaves or one with
// endConferenceOnExit does. Room events become the participants' call events (and go to
// their events_url); the room's state is readable through the API.

import Foundation
import SautiFlow
import SautiMedia
import SautiVoice
import Synchronization

/// One named room and who is in it.
final class LiveConference: Sendable {
    struct Member: Sendable {
        let callID: String
        let numberID: String?
        let leg: MediaLeg
        let action: Conference
        let membership: ConferenceMembership
        let joinedAt: Date
    }
    struct State: Sendable {
        var members: [UInt64: Member] = [:]
        /// Legs being admitted (counted against the capacity, not yet members).
        var joining = 0
        var started = false
        var closed = false
        /// The room's recording: which call it belongs to, and its id.
        var recording: (callID: String, id: String)?
    }
    let name: String
    let id: String
    let createdAt: Date
    let room: ConferenceRoom
    let state = Mutex(State())

    init(name: String, room: ConferenceRoom) {
        self.name = name
        id = "CF" + CallbackSignature.randomHex(16)
        createdAt = Date()
        self.room = room
    }
}

/// The engine's rooms, by name (one namespace per engine).
final class ConferenceDirectory: CallConferencing {
    private let rooms = Mutex<[String: LiveConference]>([:])
    /// The control plane (weak: it owns the directory).
    private struct Owner: @unchecked Sendable { weak var control: ControlPlane? }
    private let owner = Mutex(Owner())
    /// K: talkers mixed at once in each room.
    let talkers: Int
    /// Room recordings still being written (shutdown waits for them).
    private let recordings = Mutex<[String: Task<Void, Never>]>([:])

    init(talkers: Int) { self.talkers = max(1, talkers) }

    func attach(_ control: ControlPlane) { owner.withLock { $0.control = control } }
    private var control: ControlPlane? { owner.withLock { $0.control } }

    /// The rooms now, by name.
    var all: [LiveConference] { rooms.withLock { Array($0.values) }.sorted { $0.createdAt < $1.createdAt } }

    func room(named name: String) -> LiveConference? { rooms.withLock { $0[name] } }

    func join(_ c: Conference, leg: MediaLeg, callID: String) async -> Result<ConferenceMembership, ConferenceRefusal> {
        // A room that ends while this caller is being let in: once more, into a new room.
        let first = await joinOnce(c, leg: leg, callID: callID)
        if case .failure(let r) = first, r.reason == "closed", control != nil {
            return await joinOnce(c, leg: leg, callID: callID)
        }
        return first
    }

    private func joinOnce(_ c: Conference, leg: MediaLeg, callID: String) async
        -> Result<ConferenceMembership, ConferenceRefusal>
    {
        guard let control else { return .failure(ConferenceRefusal(reason: "closed", message: "the engine is stopping")) }
        // Find or open the room, and hold a place in it (the capacity counts joiners).
        let (conference, starts, waits): (LiveConference?, Bool, Bool) = rooms.withLock { rooms in
            let conference: LiveConference
            if let existing = rooms[c.name], !existing.state.withLock({ $0.closed }) {
                conference = existing
            } else {
                let room = control.media.openRoom(
                    near: leg, capacity: c.maxParticipants, sampleRate: 8000, talkers: talkers, started: false)
                conference = LiveConference(name: c.name, room: room)
                rooms[c.name] = conference
                watch(conference, control: control)
            }
            return conference.state.withLock { s in
                guard !s.closed else { return (nil, false, false) }
                guard s.members.count + s.joining < conference.room.capacity else { return (nil, false, false) }
                s.joining += 1
                let starts = c.startConferenceOnEnter && !s.started
                if starts { s.started = true }
                return (conference, starts, !s.started)
            }
        }
        guard let conference else {
            if rooms.withLock({ $0[c.name] })?.state.withLock({ $0.closed }) ?? true {
                return .failure(ConferenceRefusal(reason: "closed", message: "the conference \(c.name) ended as the caller joined"))
            }
            let capacity = rooms.withLock { $0[c.name]?.room.capacity } ?? c.maxParticipants
            return .failure(ConferenceRefusal(reason: "full", message: "the conference \(c.name) is full (\(capacity) participants)"))
        }
        if waits, let url = c.waitURL { leg.play(url: url, loop: 0) }
        do {
            try await conference.room.join(leg, muted: c.muted, waiting: waits, beep: c.beep)
        } catch {
            conference.state.withLock { $0.joining -= 1 }
            closeIfEmpty(conference)
            let reason: String
            switch error {
            case .full: reason = "full"
            case .closed: reason = "closed"
            case .sampleRate: reason = "invalid-leg"
            }
            if waits, c.waitURL != nil { leg.stopPlayback() }
            return .failure(ConferenceRefusal(reason: reason, message: "\(error)"))
        }
        if starts { conference.room.start() }
        let legID = leg.id
        let membership = ConferenceMembership { [weak self] in self?.leave(conference, legID: legID) }
        let numberID = control.live.withLock { $0[callID]?.numberID }
        let member = LiveConference.Member(
            callID: callID, numberID: numberID, leg: leg, action: c, membership: membership, joinedAt: Date())
        let recordNow = conference.state.withLock { s -> Bool in
            s.joining -= 1
            s.members[legID] = member
            guard c.record, s.recording == nil else { return false }
            s.recording = (callID, CallbackSignature.randomHex(12))
            return true
        }
        if recordNow { startRecording(conference, control: control) }
        return .success(membership)
    }

    /// A member leaves: out of the room; the room ends with it if it had endConferenceOnExit,
    /// or when it was the last.
    private func leave(_ conference: LiveConference, legID: UInt64) {
        guard let member = conference.state.withLock({ $0.members.removeValue(forKey: legID) }) else { return }
        conference.room.leave(member.leg)
        if member.action.endConferenceOnExit {
            end(conference, reason: "ended-by-participant")
        } else {
            closeIfEmpty(conference)
        }
    }

    private func closeIfEmpty(_ conference: LiveConference) {
        let empty = conference.state.withLock { $0.members.isEmpty && $0.joining == 0 }
        if empty { end(conference, reason: "empty") }
    }

    /// The room ends for everyone still in it: their flows go on.
    func end(_ conference: LiveConference, reason: String) {
        let members = conference.state.withLock { s -> [LiveConference.Member] in
            guard !s.closed else { return [] }
            s.closed = true
            defer { s.members.removeAll() }
            return Array(s.members.values)
        }
        rooms.withLock { if $0[conference.name] === conference { $0[conference.name] = nil } }
        conference.room.close()
        for m in members { m.membership.end(reason: reason) }
    }

    /// Ends every room (the engine stops) and waits for their recordings to be final.
    func closeAll() async {
        for c in all { end(c, reason: "engine-stopping") }
        for t in recordings.withLock({ Array($0.values) }) { await t.value }
    }

    /// Room events into the participants' call timelines and their events_url.
    private func watch(_ conference: LiveConference, control: ControlPlane) {
        let room = conference.room
        Task { [weak control] in
            // Leg id → call, kept past a member's leaving so its `left` event finds it.
            var calls: [UInt64: (String, String?)] = [:]
            for await e in room.events {
                guard let control else { return }
                let (legID, name): (UInt64?, String) = {
                    switch e {
                    case .joined(let id, _): return (id, "conference.joined")
                    case .left(let id): return (id, "conference.left")
                    case .startedTalking(let id): return (id, "conference.talking-started")
                    case .stoppedTalking(let id): return (id, "conference.talking-stopped")
                    case .started: return (nil, "conference.started")
                    case .rateChanged: return (nil, "conference.rate-changed")
                    case .closed: return (nil, "conference.ended")
                    }
                }()
                var detail = ["conference": conference.name, "conference_id": conference.id]
                if case .joined(_, let waiting) = e { detail["waiting"] = waiting ? "true" : "false" }
                if case .rateChanged(let r) = e { detail["sample_rate"] = String(r) }
                if let legID {
                    if calls[legID] == nil, let m = conference.state.withLock({ $0.members[legID] }) {
                        calls[legID] = (m.callID, m.numberID)
                    }
                    // A join reported before the member is listed: find the call by its leg.
                    if calls[legID] == nil, let live = control.live.withLock({ $0.values.first { $0.leg.id == legID } }) {
                        calls[legID] = (live.id, live.numberID)
                    }
                    guard let (callID, numberID) = calls[legID] else { continue }
                    control.conferenceEvent(callID: callID, numberID: numberID, name: name, detail: detail)
                } else {
                    // Room-wide: every current member's timeline.
                    for (callID, numberID) in calls.values {
                        control.conferenceEvent(callID: callID, numberID: numberID, name: name, detail: detail)
                    }
                }
                if case .left(let id) = e { calls[id] = nil }
            }
        }
    }

    /// Records the room's mix into the recordings of the call that asked for it.
    private func startRecording(_ conference: LiveConference, control: ControlPlane) {
        guard let (callID, id) = conference.state.withLock({ $0.recording }) else { return }
        let path = "\(control.configuration.recordingsDirectory)/\(callID)-\(id).wav"
        try? control.store.createRecording(id: id, callID: callID, file: (path as NSString).lastPathComponent)
        let numberID = conference.state.withLock { s in s.members.values.first { $0.callID == callID }?.numberID }
        control.conferenceEvent(
            callID: callID, numberID: nil, name: "recording.started",
            detail: ["id": id, "conference": conference.name, "conference_id": conference.id])
        let task = Task { [weak control, weak self] in
            defer { _ = self?.recordings.withLock { $0.removeValue(forKey: id) } }
            let outcome = await conference.room.record(RecordingSpec(path: path, trimSilence: false))
            guard let control else { return }
            let status: String
            if case .error = outcome.reason { status = "failed" } else { status = "ready" }
            let reason: String
            switch outcome.reason {
            case .error(let m): reason = "error: \(m)"
            case .hangup: reason = "conference-ended"
            case .stopped: reason = "stopped"
            default: reason = "\(outcome.reason)"
            }
            try? control.store.finishRecording(
                id: id, status: status, durationSeconds: outcome.durationSeconds, bytes: outcome.bytes, reason: reason)
            control.conferenceEvent(
                callID: callID, numberID: nil, name: "recording.finished",
                detail: [
                    "id": id, "conference": conference.name, "status": status, "reason": reason,
                    "duration_seconds": String(format: "%.3f", outcome.durationSeconds),
                ])
            control.deliverEvent(callID, numberID: numberID, name: "recording-ready", extra: ["recording_id": id])
        }
        recordings.withLock { $0[id] = task }
    }
}

extension ControlPlane {
    /// A room event in a participant's timeline, and to its events_url.
    func conferenceEvent(callID: String, numberID: String?, name: String, detail: [String: String]) {
        try? store.appendEvent(callID: callID, name: name, detail: detail)
        guard let numberID, name.hasPrefix("conference.") else { return }
        deliverEvent(callID, numberID: numberID, name: name, extra: detail)
    }

    /// The rooms now, for `GET /v1/conferences`.
    public func conferences() async -> [[String: Any]] {
        var out: [[String: Any]] = []
        for c in conferences.all { out.append(await Self.conferenceJSON(c)) }
        return out
    }

    /// One room's live state, for `GET /v1/conferences/{name}`.
    public func conference(named name: String) async throws(ControlError) -> [String: Any] {
        guard let c = conferences.room(named: name) else {
            throw ControlError(404, "not_found", "no conference named \(name) is running")
        }
        return await Self.conferenceJSON(c)
    }

    /// Mutes or unmutes a participant (`POST /v1/conferences/{name}/participants/{call_id}`).
    public func setConferenceMute(name: String, callID: String, muted: Bool) async throws(ControlError) -> [String: Any] {
        guard let c = conferences.room(named: name) else {
            throw ControlError(404, "not_found", "no conference named \(name) is running")
        }
        guard let m = c.state.withLock({ $0.members.values.first { $0.callID == callID } }) else {
            throw ControlError(404, "not_found", "the call \(callID) is not in the conference \(name)")
        }
        c.room.setMuted(m.leg, muted)
        return await Self.conferenceJSON(c)
    }

    static func conferenceJSON(_ c: LiveConference) async -> [String: Any] {
        let state = await c.room.state()
        let members = c.state.withLock { $0.members }
        let recording = c.state.withLock { $0.recording }
        var participants: [[String: Any]] = []
        for p in state.participants {
            guard let m = members[p.legID] else { continue }
            participants.append([
                "call_id": m.callID, "muted": p.muted, "waiting": p.waiting, "speaking": p.speaking, "talker": p.talker,
                "joined_at": storeTimestamp(m.joinedAt),
                "start_conference_on_enter": m.action.startConferenceOnEnter,
                "end_conference_on_exit": m.action.endConferenceOnExit,
            ])
        }
        return [
            "id": c.id, "name": c.name, "created_at": storeTimestamp(c.createdAt), "started": state.started,
            "sample_rate": state.sampleRate, "max_participants": c.room.capacity,
            "recording_id": recording.map { $0.id as Any } ?? NSNull(), "recording": state.recording,
            "participants": participants,
        ]
    }
}
