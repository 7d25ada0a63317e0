// The control side's handle on a conference room: join, leave, mute, start, record,
// read its state. Every command runs on the room's worker at the next frame boundary.

import Synchronization

/// A conference room on the media plane. Open one with `MediaEngine.openRoom`.
public final class ConferenceRoom: Sendable {
    let room: Room
    let worker: MediaWorker
    let io: MediaIOThread
    /// The most participants.
    public let capacity: Int
    /// What happens in the room, in order; finishes after `.closed`.
    public let events: AsyncStream<RoomEvent>
    private let closed = Atomic<Bool>(false)

    init(room: Room, worker: MediaWorker, io: MediaIOThread, events: AsyncStream<RoomEvent>) {
        self.room = room
        self.worker = worker
        self.io = io
        self.events = events
        capacity = room.capacity
    }

    /// Which media worker mixes the room.
    public var workerIndex: Int { worker.index }

    /// Whether `close()` was called.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Puts `leg` in the room: it hears the others (N−1, or the shared mix when it is not
    /// one of the K talkers) and, unless `muted`, is heard. A `waiting` participant of a
    /// room not yet started keeps its own source (wait audio) and is not heard until
    /// `start()`. With `beep`, a beep sounds to everyone as it joins and as it leaves.
    /// A leg on another worker moves to the room's first (a room lives on one worker).
    public func join(_ leg: MediaLeg, muted: Bool = false, waiting: Bool = false, beep: Bool = false)
        async throws(RoomError)
    {
        guard !isClosed else { throw .closed }
        await leg.move(to: worker)
        let room = self.room
        let worker = self.worker
        let outcome: RoomError? = await withCheckedContinuation { (c: CheckedContinuation<RoomError?, Never>) in
            leg.leg.submit { w in
                // Moved on again before this ran, or the room closed: refuse rather than mix
                // across threads.
                guard w === worker, !room.isClosed else { return c.resume(returning: .closed) }
                c.resume(returning: room.join(leg.leg, muted: muted, waiting: waiting, beep: beep))
            }
        }
        if let outcome { throw outcome }
    }

    /// Takes `leg` out of the room (its source becomes silence).
    public func leave(_ leg: MediaLeg) {
        let room = self.room
        let l = leg.leg
        worker.submit { _ in room.leave(l) }
    }

    /// Mutes or unmutes `leg` in the room (a muted participant still hears it).
    public func setMuted(_ leg: MediaLeg, _ muted: Bool) {
        let room = self.room
        let id = leg.id
        worker.submit { _ in room.setMuted(id, muted) }
    }

    /// Starts the room: waiting participants hear the mix and are heard.
    public func start() {
        let room = self.room
        worker.submit { _ in room.start() }
    }

    /// Sounds the room's beep to everyone.
    public func beep() {
        let room = self.room
        worker.submit { _ in room.startBeep() }
    }

    /// Whether `leg` is one of the mixed talkers now (read on the worker).
    public func isTalker(_ leg: MediaLeg) async -> Bool {
        await state().participants.first { $0.legID == leg.id }?.talker ?? false
    }

    /// The room now: rate, started, participants (muted, waiting, speaking, talker), recording.
    public func state() async -> RoomState {
        let room = self.room
        return await withCheckedContinuation { (c: CheckedContinuation<RoomState, Never>) in
            worker.submit { _ in c.resume(returning: room.state()) }
        }
    }

    /// Records the room's mix (what a listener hears, beeps included; mono, at the room's
    /// rate when the recording starts) as `spec` asks, and waits for the outcome: when
    /// `stopRecording()` or `close()` ends it, or a limit in `spec` does. The file is final
    /// (closed and fsynced) when this returns.
    public func record(_ spec: RecordingSpec) async -> RecordingOutcome {
        let (stream, continuation) = AsyncStream<LegEvent>.makeStream()
        let reports = RecordingReports(events: continuation)
        let room = self.room
        let io = self.io
        if isClosed {
            return RecordingOutcome(path: spec.path, reason: .error("the room is closed"), frames: 0, sampleRate: 0, channels: 1, bytes: 0)
        }
        worker.submit { _ in room.startRecording(spec, reports: reports, io: io) }
        for await e in stream {
            if case .recordingFinished(let o) = e { return o }
        }
        return RecordingOutcome(path: spec.path, reason: .hangup, frames: 0, sampleRate: 0, channels: 1, bytes: 0)
    }

    /// Ends the room's recording (`.stopped`).
    public func stopRecording() {
        let room = self.room
        worker.submit { _ in room.endRecording(.stopped) }
    }

    /// Closes the room: its legs leave (their sources become silence), a recording ends
    /// (`.hangup`), `events` finishes.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let room = self.room
        worker.submit { w in
            w.remove(room)
            room.close()
        }
    }
}

extension MediaEngine {
    /// Opens a room of up to `capacity` participants, mixing the `talkers` loudest, at
    /// `sampleRate` or the highest rate of its participants, on media worker `worker`
    /// (legs that join move there). A room not `started` keeps joiners who wait waiting
    /// until `start()`.
    public func openRoom(
        capacity: Int = 250, sampleRate: Int = 8000, talkers: Int = 3, started: Bool = true, worker index: Int = 0
    ) -> ConferenceRoom {
        let worker = workers[((index % workers.count) + workers.count) % workers.count]
        let (stream, continuation) = AsyncStream<RoomEvent>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        let room = Room(
            capacity: max(1, capacity), sampleRate: Room.rates.contains(sampleRate) ? sampleRate : 8000,
            talkers: max(1, talkers), started: started, events: continuation, resamplerQuality: resamplerQuality)
        worker.submit { $0.add(room) }
        return ConferenceRoom(room: room, worker: worker, io: io, events: stream)
    }

    /// Opens a room on the worker that runs `leg` now (its first participant, which then
    /// need not move).
    public func openRoom(
        near leg: MediaLeg, capacity: Int = 250, sampleRate: Int = 8000, talkers: Int = 3, started: Bool = true
    ) -> ConferenceRoom {
        openRoom(capacity: capacity, sampleRate: sampleRate, talkers: talkers, started: started, worker: leg.workerIndex)
    }
}
