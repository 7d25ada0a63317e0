// Conference rooms on the media plane: a `RoomMixer` owned by one worker, fed by its
// participants' legs (a sink each) and heard through them (a source each). The worker runs
// every leg's inbound half, mixes its rooms, then runs every leg's outbound half, so each
// tick's mix holds that tick's audio (no added frame of delay).

import Synchronization

/// Why a leg cannot join a room.
public enum RoomError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The room has `maxParticipants` already.
    case full(Int)
    /// The leg runs on another worker than the room. (Moving legs between workers is not
    /// built yet: open rooms and their legs on one worker, e.g. an engine of one worker.)
    case otherWorker
    /// The leg's rate differs from the room's (resampling into rooms is not built yet).
    case sampleRate(leg: Int, room: Int)
    /// The room was closed.
    case closed

    public var description: String {
        switch self {
        case .full(let n): return "the room is full (\(n) participants)"
        case .otherWorker: return "the leg runs on another media worker than the room"
        case .sampleRate(let l, let r): return "the leg runs at \(l) Hz and the room at \(r) Hz"
        case .closed: return "the room is closed"
        }
    }
}

/// A room's worker side. Touched only on its worker.
final class Room: @unchecked Sendable {
    let mixer: RoomMixer
    let sampleRate: Int
    /// Leg id → the participant's slot, sink and source.
    var participants: [UInt64: (slot: Int, sink: RoomInput, source: RoomOutput)] = [:]

    init(capacity: Int, sampleRate: Int, talkers: Int) {
        self.sampleRate = sampleRate
        mixer = RoomMixer(capacity: capacity, frameSamples: sampleRate / 50, talkerLimit: talkers)
    }

    /// Takes `leg` in: its inbound audio feeds the room, the room's mix becomes its source.
    func join(_ leg: Leg, muted: Bool) -> RoomError? {
        guard participants[leg.id] == nil else { return nil }
        let rate = leg.configuration.sampleRate
        guard rate == sampleRate else { return .sampleRate(leg: rate, room: sampleRate) }
        guard let slot = mixer.join() else { return .full(mixer.capacity) }
        mixer.setMuted(slot, muted)
        let sink = RoomInput(mixer: mixer, slot: slot)
        let source = RoomOutput(mixer: mixer, slot: slot)
        participants[leg.id] = (slot, sink, source)
        leg.sinks.append(sink)
        leg.sourceObject = source
        return nil
    }

    /// Lets `leg` go (its source falls back to silence).
    func leave(_ leg: Leg) {
        guard let p = participants.removeValue(forKey: leg.id) else { return }
        mixer.leave(p.slot)
        leg.sinks.removeAll { $0 === p.sink }
        if leg.sourceObject === p.source { leg.sourceObject = nil }
    }

    /// A closed leg's slot is freed.
    func forget(_ legID: UInt64) {
        guard let p = participants.removeValue(forKey: legID) else { return }
        mixer.leave(p.slot)
    }
}

/// A participant's inbound audio into the room.
final class RoomInput: FrameSink {
    let mixer: RoomMixer
    let slot: Int
    init(mixer: RoomMixer, slot: Int) {
        self.mixer = mixer
        self.slot = slot
    }
    func write(_ frame: UnsafeBufferPointer<Int16>) {
        let input = mixer.input(slot)
        let n = min(frame.count, input.count)
        // Safe: n ≤ both counts.
        _ = UnsafeMutableBufferPointer(rebasing: input[..<n]).update(fromContentsOf: UnsafeBufferPointer(rebasing: frame[..<n]))
    }
}

/// What a participant hears: everyone but themself (or the shared mix).
final class RoomOutput: FrameSource {
    let mixer: RoomMixer
    let slot: Int
    init(mixer: RoomMixer, slot: Int) {
        self.mixer = mixer
        self.slot = slot
    }
    func read(into frame: UnsafeMutableBufferPointer<Int16>) -> Bool {
        let mix = mixer.output(slot)
        let n = min(frame.count, mix.count)
        _ = UnsafeMutableBufferPointer(rebasing: frame[..<n]).update(fromContentsOf: UnsafeBufferPointer(rebasing: mix[..<n]))
        if n < frame.count { UnsafeMutableBufferPointer(rebasing: frame[n...]).update(repeating: 0) }
        return true
    }
}

/// The control side's handle on a room: join and leave legs, mute. Commands run on the
/// room's worker at the next frame boundary.
public final class ConferenceRoom: Sendable {
    let room: Room
    let worker: MediaWorker
    /// The room's rate, in Hz.
    public let sampleRate: Int
    /// The most participants.
    public let capacity: Int
    private let closed = Atomic<Bool>(false)

    init(room: Room, worker: MediaWorker) {
        self.room = room
        self.worker = worker
        sampleRate = room.sampleRate
        capacity = room.mixer.capacity
    }

    /// Puts `leg` in the room: it hears the others (N−1, or the shared mix when it is not
    /// one of the K talkers) and, unless `muted`, is heard. Waits for the worker's answer.
    public func join(_ leg: MediaLeg, muted: Bool = false) async throws(RoomError) {
        guard !closed.load(ordering: .acquiring) else { throw .closed }
        guard leg.worker === worker else { throw .otherWorker }
        let room = self.room
        let outcome: RoomError? = await withCheckedContinuation { (c: CheckedContinuation<RoomError?, Never>) in
            worker.submit(leg.leg) { _ in c.resume(returning: room.join(leg.leg, muted: muted)) }
        }
        if let outcome { throw outcome }
    }

    /// Takes `leg` out of the room (its source becomes silence).
    public func leave(_ leg: MediaLeg) {
        let room = self.room
        worker.submit(leg.leg) { _ in room.leave(leg.leg) }
    }

    /// Mutes or unmutes `leg` in the room (a muted participant still hears it).
    public func setMuted(_ leg: MediaLeg, _ muted: Bool) {
        let room = self.room
        worker.submit(leg.leg) { _ in
            if let p = room.participants[leg.leg.id] { room.mixer.setMuted(p.slot, muted) }
        }
    }

    /// Whether `leg` is one of the mixed talkers now (read on the worker).
    public func isTalker(_ leg: MediaLeg) async -> Bool {
        let room = self.room
        return await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            worker.submit(leg.leg) { _ in
                c.resume(returning: room.participants[leg.leg.id].map { room.mixer.isTalker($0.slot) } ?? false)
            }
        }
    }

    /// Closes the room: its legs leave (their sources become silence).
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let room = self.room
        worker.submit { w in
            w.remove(room)
            room.participants.removeAll()
        }
    }
}

extension MediaEngine {
    /// Opens a room of up to `capacity` participants at `sampleRate`, mixing the `talkers`
    /// loudest, on `worker` (the index of the media worker; its legs must be there too).
    public func openRoom(capacity: Int = 250, sampleRate: Int = 8000, talkers: Int = 3, worker index: Int = 0)
        -> ConferenceRoom
    {
        let worker = workers[max(0, min(index, workers.count - 1))]
        let room = Room(capacity: capacity, sampleRate: sampleRate, talkers: talkers)
        worker.submit { $0.add(room) }
        return ConferenceRoom(room: room, worker: worker)
    }
}
