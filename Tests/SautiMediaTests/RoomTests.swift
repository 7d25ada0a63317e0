import Foundation
import SautiAudio
import SautiMedia
import SautiWire
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

    /// A party: the room's leg and the caller's leg talking to it, the caller's tone and
    /// what the caller hears.
    struct Party {
        let roomLeg: MediaLeg
        let caller: MediaLeg
        let heard: PCMRecorderSink
        let frequency: Double
        let events: EventLog

        init(engine: MediaEngine, frequency: Double) throws {
            var r = LegConfiguration(codec: .pcmu)
            r.mediaTimeoutMilliseconds = 0
            roomLeg = try engine.openLeg(r)
            var c = LegConfiguration(codec: .pcmu, remote: roomLeg.local)
            c.mediaTimeoutMilliseconds = 0
            c.minJitterDelayMilliseconds = 60
            c.maxJitterDelayMilliseconds = 60
            caller = try engine.openLeg(c)
            heard = PCMRecorderSink(maximumSeconds: 20, sampleRate: 8000)
            caller.addSink(heard)
            self.frequency = frequency
            events = EventLog(roomLeg)
            caller.play(.tone(ToneSpec(frequenciesHz: [frequency], levelDBFS: -14)))
        }

        /// The share of each frequency in the last `seconds` the caller heard.
        func shares(_ frequencies: [Double], seconds: Double = 1) -> [Double] {
            let tail = heard.samples.suffix(Int(seconds * 8000))
            return frequencies.map { toneShare(tail, frequency: $0) }
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
        let a = try Party(engine: engine, frequency: 600)
        let b = try Party(engine: engine, frequency: 900)
        defer {
            a.close()
            b.close()
        }
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

    @Test("a leg on another worker, at another rate, or a full room is refused with the reason", .timeLimit(.minutes(1)))
    func refusals() async throws {
        var c = MediaEngineConfiguration(workers: 2)
        c.firstPort = 39_860
        c.lastPort = 39_899
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        let room = engine.openRoom(capacity: 1, worker: 0)
        var legs: [MediaLeg] = []
        for _ in 0..<4 { legs.append(try engine.openLeg(LegConfiguration(codec: .pcmu))) }
        defer { legs.forEach { $0.close() } }
        let onZero = legs.filter { $0.workerIndex == 0 }
        let onOne = try #require(legs.first { $0.workerIndex == 1 })
        await #expect(throws: RoomError.otherWorker) { try await room.join(onOne) }
        try await room.join(onZero[0])
        await #expect(throws: RoomError.full(1)) { try await room.join(onZero[1]) }
        let wide = engine.openRoom(sampleRate: 16_000, worker: 0)
        await #expect(throws: RoomError.sampleRate(leg: 8000, room: 16_000)) { try await wide.join(onZero[1]) }
        room.close()
        await #expect(throws: RoomError.closed) { try await room.join(onZero[1]) }
    }
}
