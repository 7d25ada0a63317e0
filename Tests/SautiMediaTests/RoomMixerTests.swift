import CSautiAllocCounter
import Foundation
import SautiMedia
import Synchronization
import SautiTestSupport
import Testing

/// The room mixer alone: N−1 mixes, saturation, K loudest talkers with hysteresis, mute,
/// and no allocation per tick.
@Suite struct RoomMixerTests {
    /// A sine of `frequency` Hz at `amplitude`, frame `tick` (160 samples at 8 kHz).
    static func tone(_ frequency: Double, amplitude: Double, tick: Int, into buffer: UnsafeMutableBufferPointer<Int16>) {
        for i in 0..<buffer.count {
            let t = Double(tick * buffer.count + i) / 8000
            buffer[i] = Int16(amplitude * sin(2 * .pi * frequency * t))
        }
    }

    /// Runs `ticks` ticks with each slot playing its (frequency, amplitude); returns what
    /// each slot heard.
    static func run(_ mixer: RoomMixer, _ parties: [(slot: Int, frequency: Double, amplitude: Double)], ticks: Int)
        -> [Int: [Int16]]
    {
        var heard: [Int: [Int16]] = [:]
        for tick in 0..<ticks {
            for p in parties where p.amplitude > 0 {
                tone(p.frequency, amplitude: p.amplitude, tick: tick, into: mixer.input(p.slot))
            }
            mixer.mix()
            for p in parties { heard[p.slot, default: []] += Array(mixer.output(p.slot)) }
        }
        return heard
    }

    @Test("three parties each hear exactly the other two (distinct tones, checked by Goertzel)")
    func threeParties() throws {
        let mixer = RoomMixer(capacity: 8)
        let slots = (0..<3).map { _ in mixer.join()! }
        let frequencies = [500.0, 700.0, 1100.0]
        let heard = Self.run(mixer, zip(slots, frequencies).map { ($0, $1, 6000) }, ticks: 25)
        for (i, slot) in slots.enumerated() {
            let got = heard[slot]!.suffix(1600)
            for (j, f) in frequencies.enumerated() {
                let share = toneShare(got, frequency: f)
                if i == j {
                    #expect(share < 0.01, "party \(i) does not hear itself at \(f) Hz: \(share)")
                } else {
                    #expect(share > 0.35, "party \(i) hears party \(j) at \(f) Hz: \(share)")
                }
            }
        }
    }

    @Test("sums saturate: two loud talkers clip at ±32767, never wrap")
    func saturation() {
        let mixer = RoomMixer(capacity: 4)
        let a = mixer.join()!
        let b = mixer.join()!
        let c = mixer.join()!  // a listener: hears a + b
        for _ in 0..<3 {
            mixer.input(a).update(repeating: 30_000)
            mixer.input(b).update(repeating: 30_000)
            mixer.mix()
        }
        #expect(mixer.output(c).allSatisfy { $0 == 32_767 }, "clipped, not wrapped to negative")
        #expect(mixer.output(a).allSatisfy { $0 == 30_000 } && mixer.output(b).allSatisfy { $0 == 30_000 })
        for _ in 0..<3 {
            mixer.input(a).update(repeating: -30_000)
            mixer.input(b).update(repeating: -30_000)
            mixer.mix()
        }
        #expect(mixer.output(c).allSatisfy { $0 == -32_768 })
    }

    @Test("with K = 3 of 6 speaking, the 3 loudest are mixed; listeners share one mix; seats do not flap between similar voices")
    func loudestTalkers() {
        let mixer = RoomMixer(capacity: 16, talkerLimit: 3)
        let slots = (0..<7).map { _ in mixer.join()! }
        // Six speak: three loud, three quieter (12 dB down); slot 6 only listens.
        var parties: [(slot: Int, frequency: Double, amplitude: Double)] = []
        for i in 0..<6 {
            parties.append((slots[i], 400 + Double(i) * 150, i < 3 ? 8000 : 2000))
        }
        parties.append((slots[6], 0, 0))
        // The quiet ones start first and take the seats; the loud ones must take over.
        var heard: [Int: [Int16]] = [:]
        for tick in 0..<60 {
            for p in parties where p.amplitude > 0 && (p.amplitude < 5000 || tick >= 5) {
                Self.tone(p.frequency, amplitude: p.amplitude, tick: tick, into: mixer.input(p.slot))
            }
            mixer.mix()
            for p in parties { heard[p.slot, default: []] += Array(mixer.output(p.slot)) }
        }
        let talkers = Set((0..<3).map { mixer.talkerSeat($0) })
        #expect(talkers == Set(slots[0..<3]), "the three loud ones hold the seats: \(talkers)")
        #expect((3..<6).allSatisfy { !mixer.isTalker(slots[$0]) && mixer.isSpeaking(slots[$0]) })
        #expect(mixer.seatChanges == 6, "3 seats filled, 3 taken over, no flapping: \(mixer.seatChanges)")
        // The listener and the quiet speakers hear the same shared mix: the loud three.
        let listener = heard[slots[6]]!.suffix(1600)
        for i in 0..<6 {
            let share = toneShare(listener, frequency: parties[i].frequency)
            #expect(i < 3 ? share > 0.2 : share < 0.01, "listener, tone \(i): \(share)")
        }
        #expect(Array(mixer.output(slots[4])) == Array(mixer.output(slots[6])), "one shared mix")
    }

    @Test("a muted participant hears the room and is never mixed; one who leaves frees the seat")
    func muteAndLeave() {
        let mixer = RoomMixer(capacity: 4)
        let a = mixer.join()!
        let b = mixer.join()!
        mixer.setMuted(a, true)
        let heard = Self.run(mixer, [(a, 500, 8000), (b, 900, 8000)], ticks: 10)
        #expect(!mixer.isTalker(a) && mixer.isTalker(b))
        #expect(toneShare(heard[a]!.suffix(800), frequency: 900) > 0.4, "muted a hears b")
        #expect(heard[b]!.suffix(800).allSatisfy { $0 == 0 }, "b hears nothing of muted a")
        mixer.leave(b)
        #expect(mixer.count == 1 && !mixer.isTalker(b))
        #expect(mixer.join() == b, "the slot is reused")
    }

    @Test("a tick with 200 participants allocates nothing")
    func noAllocation() async {
        let result = Atomic<Int>(-1)
        // On a thread of its own (only its allocations are counted), awaited: a semaphore
        // wait would park a pool thread meanwhile.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                let mixer = RoomMixer(capacity: 256, talkerLimit: 3)
                let slots = (0..<200).map { _ in mixer.join()! }
                // Plain index loops: a debug build's generic iterators allocate, the mixer does not.
                func tick(_ t: Int) {
                    var i = 0
                    while i < slots.count {
                        Self.tone(300 + Double(i), amplitude: 4000, tick: t, into: mixer.input(slots[i]))
                        i += 3
                    }
                    mixer.mix()
                    i = 0
                    while i < slots.count {
                        _ = mixer.output(slots[i])[0]
                        i += 1
                    }
                }
                for t in 0..<20 { tick(t) }
                sauti_alloc_count_this_thread(4)
                if ProcessInfo.processInfo.environment["SAUTI_ALLOC_TRACE"] != nil { sauti_alloc_trace_next(3) }
                let start = sauti_alloc_count_group(4)
                for t in 20..<70 { tick(t) }
                result.store(Int(sauti_alloc_count_group(4) - start), ordering: .relaxed)
                sauti_alloc_count_this_thread(0)
                done.resume()
            }
            thread.start()
        }
        #expect(result.load(ordering: .relaxed) == 0, "\(result.load(ordering: .relaxed)) allocations in 50 ticks")
    }
}
