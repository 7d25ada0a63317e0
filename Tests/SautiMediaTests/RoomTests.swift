import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import Synchronization
import SautiTestSupport
import Testing

/// Conference rooms on real legs over loopback UDP: each party's peer plays its own tone
/// into its room leg and records what comes back. Ports 39800-39899.
@Suite(.serialized) struct RoomTests {
    static func engine() throws -> MediaEngine {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = 39_800
        c.lastPort = 39_899
        return try MediaEngine(configuration: c)
    }

    /// Two parties with tones `f` and `g` (0: silence).
    static func pair(_ engine: MediaEngine, _ f: Double, _ g: Double) throws -> (Party, Party) {
        (try Party(engine: engine, frequency: f), try Party(engine: engine, frequency: g))
    }

    /// A party: the room's leg and the caller's leg talking to it, the caller's tone and
    /// what the caller hears.
    struct Party {
        let roomLeg: MediaLeg
        let caller: MediaLeg
        let heard: PCMRecorderSink
        let frequency: Double
        let events: EventLog
        /// The legs' rate, in Hz.
        let rate: Int

        /// `frequency` 0: the caller sends silence.
        init(engine: MediaEngine, frequency: Double, codec: AudioCodec = .pcmu, jitterMilliseconds: Int = 60) throws {
            // Fixed jitter delays on both sides: these tests check the mixing, and an adaptive
            // buffer time-stretching a tone on a busy machine would blur what is heard.
            var r = LegConfiguration(codec: codec)
            r.mediaTimeoutMilliseconds = 0
            r.minJitterDelayMilliseconds = jitterMilliseconds
            r.maxJitterDelayMilliseconds = jitterMilliseconds
            roomLeg = try engine.openLeg(r)
            var c = LegConfiguration(codec: codec, remote: roomLeg.local)
            c.mediaTimeoutMilliseconds = 0
            c.minJitterDelayMilliseconds = jitterMilliseconds
            c.maxJitterDelayMilliseconds = jitterMilliseconds
            caller = try engine.openLeg(c)
            rate = c.sampleRate
            heard = PCMRecorderSink(maximumSeconds: 20, sampleRate: rate)
            caller.addSink(heard)
            self.frequency = frequency
            events = EventLog(roomLeg)
            if frequency > 0 { caller.play(.tone(ToneSpec(frequenciesHz: [frequency], levelDBFS: -14))) }
        }

        /// The share of each frequency in the last `seconds` the caller heard.
        func shares(_ frequencies: [Double], seconds: Double = 1) -> [Double] {
            let tail = heard.samples.suffix(Int(seconds * Double(rate)))
            return frequencies.map { toneShare(tail, frequency: $0, rate: Double(rate)) }
        }

        func close() {
            roomLeg.close()
            caller.close()
        }
    }

    @Test("three parties: each hears exactly the other two (Goertzel on each caller's recording)", .timeLimit(.minutes(1)))
    func threeParties() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let frequencies = [500.0, 700.0, 1100.0]
        let parties = try frequencies.map { try Party(engine: engine, frequency: $0) }
        defer { parties.forEach { $0.close() } }
        let room = engine.openRoom()
        for p in parties { try await room.join(p.roomLeg) }
        try await Task.sleep(for: .seconds(2))
        for (i, p) in parties.enumerated() {
            let shares = p.shares(frequencies)
            print("room party \(i) (\(p.frequency) Hz) hears: \(shares.map { String(format: "%.3f", $0) })")
            for (j, share) in shares.enumerated() {
                if i == j {
                    #expect(share < 0.02, "party \(i) does not hear itself: \(share)")
                } else {
                    #expect(share > 0.3, "party \(i) hears party \(j): \(share)")
                }
            }
        }
    }

    @Test("a muted party hears the room and is not heard; digits pressed in the room are still reported", .timeLimit(.minutes(1)))
    func muteAndDigits() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let (a, b) = try Self.pair(engine, 600, 900)
        defer { [a, b].forEach { $0.close() } }
        let room = engine.openRoom()
        try await room.join(a.roomLeg, muted: true)
        try await room.join(b.roomLeg)
        try await Task.sleep(for: .milliseconds(1500))
        #expect(a.shares([900])[0] > 0.8, "muted a hears b")
        #expect(b.heard.samples.suffix(8000).allSatisfy { abs(Int($0)) < 100 }, "b hears nothing of muted a")
        #expect(await room.isTalker(b.roomLeg))
        #expect(await !room.isTalker(a.roomLeg))
        b.caller.sendDigits("42")
        try await Task.sleep(for: .milliseconds(800))
        #expect(b.events.digits == "42", "digits in a room: \(b.events.digits)")
        // Unmuted, a is heard.
        room.setMuted(a.roomLeg, false)
        try await Task.sleep(for: .milliseconds(1000))
        #expect(b.shares([600], seconds: 0.5)[0] > 0.8, "b hears a once unmuted")
        // Leaving: b's leg goes back to silence.
        room.leave(b.roomLeg)
        try await Task.sleep(for: .milliseconds(500))
        #expect(b.heard.samples.suffix(1600).allSatisfy { abs(Int($0)) < 100 })
    }

    @Test("legs on other workers move to the room's worker and are heard; a full or closed room refuses with the reason", .timeLimit(.minutes(1)))
    func movesAndRefusals() async throws {
        var c = MediaEngineConfiguration(workers: 2)
        c.firstPort = 39_860
        c.lastPort = 39_899
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        // Parties spread over both workers (legs are placed round robin).
        let frequencies = [500.0, 1100.0]
        let parties = try frequencies.map { try Party(engine: engine, frequency: $0) }
        defer { parties.forEach { $0.close() } }
        await parties[0].roomLeg.move(toWorker: 0, of: engine)
        await parties[1].roomLeg.move(toWorker: 1, of: engine)
        #expect(parties.map(\.roomLeg.workerIndex) == [0, 1], "the room legs start on both workers")
        let room = engine.openRoom(capacity: 2, worker: 1)
        for p in parties { try await room.join(p.roomLeg) }
        #expect(parties.allSatisfy { $0.roomLeg.workerIndex == 1 }, "every room leg runs on the room's worker")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(parties[0].shares([1100])[0] > 0.8, "a hears b after the move")
        #expect(parties[1].shares([500])[0] > 0.8, "b hears a after the move")
        let extra = try engine.openLeg(LegConfiguration(codec: .pcmu))
        defer { extra.close() }
        await #expect(throws: RoomError.full(2)) { try await room.join(extra) }
        room.close()
        await #expect(throws: RoomError.closed) { try await room.join(extra) }
        // A closed room leaves its legs on silence.
        try await Task.sleep(for: .milliseconds(600))
        #expect(parties[0].heard.samples.suffix(1600).allSatisfy { abs(Int($0)) < 100 })
    }

    @Test("a leg keeps its playback and recording across a move between workers", .timeLimit(.minutes(1)))
    func moveKeepsMedia() async throws {
        var c = MediaEngineConfiguration(workers: 2)
        c.firstPort = 39_840
        c.lastPort = 39_859
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        let party = try Party(engine: engine, frequency: 700)
        defer { party.close() }
        let dir = makeTemporaryDirectory(prefix: "sauti-room")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/moved.wav"
        party.roomLeg.play(.tone(ToneSpec(frequenciesHz: [400], levelDBFS: -14)))
        party.roomLeg.record(RecordingSpec(path: path, trimSilence: false))
        let started = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(1000))
        let from = party.roomLeg.workerIndex
        for k in 1...4 {
            await party.roomLeg.move(toWorker: from + k, of: engine)
            #expect(party.roomLeg.workerIndex == (from + k) % 2)
            try await Task.sleep(for: .milliseconds(300))
        }
        try await Task.sleep(for: .milliseconds(700))
        party.roomLeg.stopRecording()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let outcome = try await waitForRecording(party.events)
        // The caller heard the tone the whole time: no gap of silence at the moves.
        let heard = Array(party.heard.samples.suffix(Int(2.5 * 8000)))
        var silentRun = 0
        var longest = 0
        for x in heard {
            silentRun = abs(Int(x)) < 200 ? silentRun + 1 : 0
            longest = max(longest, silentRun)
        }
        #expect(longest < 200, "longest silence the caller heard across the moves: \(longest) samples")
        #expect(toneShare(heard[...], frequency: 400) > 0.8)
        // The recording kept going: as long as it ran, of the caller's 700 Hz.
        #expect(abs(outcome.durationSeconds - seconds) < 0.25, "recorded \(outcome.durationSeconds) s of \(seconds) s")
        let wav = try WAVReader.read(path: path)
        #expect(toneShare(wav.samples[(8000)...], frequency: 700) > 0.8)
    }

    @Test("a room runs at its widest participant's rate: an Opus 16 kHz party and G.711 parties each hear the others", .timeLimit(.minutes(1)))
    func mixedRates() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let narrow = try [500.0, 700.0].map { try Party(engine: engine, frequency: $0) }
        let wide = try Party(engine: engine, frequency: 1500, codec: .opus)
        // A silent Opus listener: it is sent the room's shared Opus payload.
        let listener = try Party(engine: engine, frequency: 0, codec: .opus)
        let parties = narrow + [wide]
        defer { (parties + [listener]).forEach { $0.close() } }
        let room = engine.openRoom()
        let log = RoomEventLog(room)
        for p in parties + [listener] { try await room.join(p.roomLeg) }
        try await Task.sleep(for: .milliseconds(2500))
        #expect(await room.state().sampleRate == 16_000)
        let heard = listener.shares([500, 700, 1500])
        #expect(heard.allSatisfy { $0 > 0.2 }, "the Opus listener hears all three: \(heard)")
        #expect(log.events.contains(.rateChanged(16_000)))
        let frequencies = parties.map(\.frequency)
        for (i, p) in parties.enumerated() {
            let shares = p.shares(frequencies)
            print("mixed-rate party \(i) (\(p.frequency) Hz) hears: \(shares.map { String(format: "%.3f", $0) })")
            for (j, share) in shares.enumerated() {
                if i == j { #expect(share < 0.02) } else if frequencies[j] < Double(p.rate) / 2 { #expect(share > 0.25, "party \(i) hears party \(j): \(share)") }
            }
        }
    }

    @Test("a re-offer that moves a party from PCMU to Opus 16 kHz mid-room widens the room; the others still hear it", .timeLimit(.minutes(1)))
    func reofferInRoom() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let (a, b) = try Self.pair(engine, 600, 1000)
        defer { [a, b].forEach { $0.close() } }
        let room = engine.openRoom()
        try await room.join(a.roomLeg)
        try await room.join(b.roomLeg)
        try await Task.sleep(for: .milliseconds(1000))
        #expect(b.shares([600], seconds: 0.5)[0] > 0.8)
        // Both ends of a's call re-negotiate to Opus at 16 kHz.
        var roomSide = LegConfiguration(codec: .opus)
        roomSide.mediaTimeoutMilliseconds = 0
        var callerSide = LegConfiguration(codec: .opus, remote: a.roomLeg.local)
        callerSide.mediaTimeoutMilliseconds = 0
        callerSide.minJitterDelayMilliseconds = 60
        callerSide.maxJitterDelayMilliseconds = 60
        a.roomLeg.update(roomSide)
        a.caller.update(callerSide)
        a.caller.play(.tone(ToneSpec(frequenciesHz: [600], levelDBFS: -14)))
        try await Task.sleep(for: .milliseconds(1500))
        #expect(await room.state().sampleRate == 16_000, "the room widened to the re-offered leg")
        let heard = b.shares([600], seconds: 0.5)[0]
        #expect(heard > 0.8, "b still hears a after its re-offer: \(heard)")
    }

    @Test("fifty parties: every listener hears the two talkers through the shared mix, the talkers hear each other", .timeLimit(.minutes(2)))
    func fiftyParties() async throws {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = 61_000
        c.lastPort = 61_499
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        var parties: [Party] = []
        defer { parties.forEach { $0.close() } }
        for i in 0..<50 {
            // Two talkers; the rest listen (silence from their callers).
            // 100 legs on one worker in a debug build, beside the rest of the suite: the
            // callers keep 200 ms of jitter buffer so a late tick is not concealment.
            parties.append(
                try Party(
                    engine: engine, frequency: i == 0 ? 600 : i == 1 ? 1000 : 0, codec: i % 2 == 0 ? .pcmu : .pcma,
                    jitterMilliseconds: 200))
        }
        let room = engine.openRoom()
        for p in parties { try await room.join(p.roomLeg) }
        try await Task.sleep(for: .milliseconds(2500))
        let state = await room.state()
        #expect(state.participants.count == 50)
        #expect(state.participants.filter(\.talker).map(\.legID).sorted() == [parties[0].roomLeg.id, parties[1].roomLeg.id].sorted())
        // Median over 100 ms windows of the last second: a late tick on a loaded machine
        // does not decide it.
        let tail = { (p: Party) in Array(p.heard.samples.suffix(8000)) }
        #expect(
            medianWindowShare(tail(parties[0]), frequency: 1000) > 0.8,
            "caller \(parties[0].caller.statistics), room leg \(parties[1].roomLeg.statistics), late ticks \(engine.tickTiming[0].lateTicks), 600 Hz \(medianWindowShare(tail(parties[0]), frequency: 600)), talkers \(state.participants.filter(\.talker).map(\.legID)), ids \(parties[0].roomLeg.id) \(parties[1].roomLeg.id)")
        #expect(medianWindowShare(tail(parties[0]), frequency: 600) < 0.02)
        #expect(medianWindowShare(tail(parties[1]), frequency: 600) > 0.8)
        for (i, p) in parties.enumerated().dropFirst(2) {
            let shares = [600.0, 1000].map { medianWindowShare(tail(p), frequency: $0) }
            #expect(shares[0] > 0.3 && shares[1] > 0.3, "listener \(i) hears both talkers: \(shares)")
        }
    }

    @Test("beep on enter and exit; talk events; the room's recording holds the mix", .timeLimit(.minutes(1)))
    func beepEventsRecording() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let (a, b) = try Self.pair(engine, 600, 0)
        defer { [a, b].forEach { $0.close() } }
        let dir = makeTemporaryDirectory(prefix: "sauti-room")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let room = engine.openRoom()
        let log = RoomEventLog(room)
        try await room.join(b.roomLeg, beep: true)
        let path = dir + "/room.wav"
        let recording = Task { await room.record(RecordingSpec(path: path, trimSilence: false)) }
        try await Task.sleep(for: .milliseconds(600))
        let before = b.heard.samples.count
        try await room.join(a.roomLeg, beep: true)
        try await Task.sleep(for: .milliseconds(1200))
        // b heard the 880 Hz beep as a joined (over a's 600 Hz, which starts with it), and
        // no beep before.
        let afterJoin = Array(b.heard.samples[before...])
        #expect(maxWindowShare(afterJoin, frequency: 880) > 0.5, "b heard the enter beep")
        #expect(maxWindowShare(Array(b.heard.samples[0..<before].suffix(1600)), frequency: 880) < 0.05)
        #expect(b.shares([600], seconds: 0.5)[0] > 0.8)
        // Everything b heard from the leave on (a sleep that comes late beside the whole suite
        // must not push the beep out of a window of the last so many samples).
        let beforeLeave = b.heard.samples.count
        room.leave(a.roomLeg)
        try await Task.sleep(for: .milliseconds(600))
        #expect(maxWindowShare(Array(b.heard.samples[beforeLeave...]), frequency: 880) > 0.8, "b heard the exit beep")
        room.stopRecording()
        let outcome = await recording.value
        #expect(outcome.reason == .stopped)
        let wav = try WAVReader.read(path: path)
        #expect(maxWindowShare(wav.samples, frequency: 600) > 0.8, "the recording holds a's voice")
        #expect(maxWindowShare(wav.samples, frequency: 880) > 0.8, "the recording holds the beeps")
        let events = log.events
        let aID = a.roomLeg.id
        let order = events.compactMap { e -> String? in
            switch e {
            case .joined(let id, _) where id == aID: return "joined"
            case .startedTalking(let id) where id == aID: return "talking"
            case .stoppedTalking(let id) where id == aID: return "stopped"
            case .left(let id) where id == aID: return "left"
            default: return nil
            }
        }
        #expect(order == ["joined", "talking", "stopped", "left"], "a's events: \(order)")
        room.close()
    }

    @Test("a room not started: waiting parties hear their wait audio and not each other, until it starts", .timeLimit(.minutes(1)))
    func waitingUntilStart() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let (a, b) = try Self.pair(engine, 600, 1000)
        defer { [a, b].forEach { $0.close() } }
        let room = engine.openRoom(started: false)
        for p in [a, b] {
            p.roomLeg.play(.tone(ToneSpec(frequenciesHz: [300], levelDBFS: -14)))
            try await room.join(p.roomLeg, waiting: true)
        }
        try await Task.sleep(for: .milliseconds(1200))
        #expect(a.shares([300, 1000]) .first! > 0.8, "a hears wait audio")
        #expect(a.shares([1000])[0] < 0.02, "a does not hear b while waiting")
        #expect(await room.state().participants.allSatisfy(\.waiting))
        room.start()
        try await Task.sleep(for: .milliseconds(1200))
        #expect(a.shares([1000], seconds: 0.5)[0] > 0.8, "a hears b once started")
        #expect(b.shares([600], seconds: 0.5)[0] > 0.8, "b hears a once started")
        #expect(a.shares([300], seconds: 0.5)[0] < 0.02, "the wait audio stopped")
    }
}

/// The largest share of `frequency` in any 100 ms window of `samples` (8 kHz).
func maxWindowShare(_ samples: [Int16], frequency: Double, window: Int = 800) -> Double {
    var best = 0.0
    var i = 0
    while i + window <= samples.count {
        best = max(best, toneShare(samples[i..<(i + window)], frequency: frequency))
        i += window / 2
    }
    return best
}

/// The median share of `frequency` over 100 ms windows of `samples` (8 kHz).
func medianWindowShare(_ samples: [Int16], frequency: Double, window: Int = 800) -> Double {
    var shares: [Double] = []
    var i = 0
    while i + window <= samples.count {
        shares.append(toneShare(samples[i..<(i + window)], frequency: frequency))
        i += window
    }
    return shares.isEmpty ? 0 : shares.sorted()[shares.count / 2]
}

/// Waits for a leg's recording outcome.
func waitForRecording(_ log: EventLog, seconds: Double = 10) async throws -> RecordingOutcome {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let o = log.recordings.first { return o }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw RoomTestError.timeout
}

enum RoomTestError: Error { case timeout }

/// A room's events as they come.
final class RoomEventLog: Sendable {
    private final class Store: Sendable {
        let events = Mutex<[RoomEvent]>([])
    }
    private let store = Store()
    private let task: Task<Void, Never>

    init(_ room: ConferenceRoom) {
        let store = self.store
        task = Task {
            for await e in room.events { store.events.withLock { $0.append(e) } }
        }
    }

    var events: [RoomEvent] { store.events.withLock { $0 } }
}
