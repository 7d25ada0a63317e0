import SautiWire
import Testing

/// RFC 3550 A.1 source bookkeeping as scripted traces (sequence number in, outcome out,
/// counters at the end), the wrap-aware helpers, and the A.8 jitter estimator.
@Suite struct RTPSourceStateTests {
    /// A scripted trace: packets in arrival order with the outcome each must have, and
    /// the counters after the last one.
    struct Trace: Sendable, CustomTestStringConvertible {
        var name: String
        var steps: [(UInt16, RTPSourceState.Outcome)]
        var expected: UInt64
        var lost: Int64
        var received: UInt64
        var duplicates: UInt64 = 0
        var outOfOrder: UInt64 = 0
        var restarts: UInt64 = 0
        var extendedMax: UInt32

        var testDescription: String { name }
    }

    static let traces: [Trace] = [
        Trace(
            name: "probation: two sequential packets make the source valid",
            steps: [(100, .probation), (101, .inOrder)], expected: 2, lost: 0, received: 2, extendedMax: 101),
        Trace(
            name: "probation: a gap restarts it",
            steps: [(100, .probation), (102, .probation), (103, .inOrder), (104, .inOrder)],
            expected: 3, lost: 0, received: 3, extendedMax: 104),
        Trace(
            name: "wrap 65535 → 0 adds a cycle",
            steps: [(65533, .probation), (65534, .inOrder), (65535, .inOrder), (0, .inOrder), (1, .inOrder)],
            expected: 5, lost: 0, received: 5, extendedMax: 65537),
        Trace(
            name: "probation across the wrap",
            steps: [(65535, .probation), (0, .inOrder), (1, .inOrder)],
            expected: 3, lost: 0, received: 3, extendedMax: 65537),
        Trace(
            name: "loss is expected minus received",
            steps: [
                (1, .probation), (2, .inOrder), (3, .inOrder), (5, .inOrder), (6, .inOrder), (9, .inOrder),
                (10, .inOrder),
            ],
            expected: 10, lost: 3, received: 7, extendedMax: 10),
        Trace(
            name: "a gap under MAX_DROPOUT is loss, not a restart",
            steps: [(1, .probation), (2, .inOrder), (3001, .inOrder)],
            expected: 3001, lost: 2998, received: 3, extendedMax: 3001),
        Trace(
            name: "a jump of MAX_DROPOUT is a bad jump, ignored unless confirmed",
            steps: [(1, .probation), (2, .inOrder), (3002, .badJump), (3, .inOrder), (4, .inOrder)],
            expected: 4, lost: 0, received: 4, extendedMax: 4),
        Trace(
            name: "a jump ahead then a sequential packet is a restart",
            steps: [
                (10, .probation), (11, .inOrder), (12, .inOrder), (13, .inOrder), (9000, .badJump), (9001, .restarted),
                (9002, .inOrder),
            ],
            expected: 6, lost: 0, received: 6, restarts: 1, extendedMax: 9002),
        Trace(
            name: "a jump back then a sequential packet is a restart",
            steps: [
                (1000, .probation), (1001, .inOrder), (500, .badJump), (501, .restarted), (502, .inOrder),
                (504, .inOrder),
            ],
            expected: 6, lost: 1, received: 5, restarts: 1, extendedMax: 504),
        Trace(
            name: "a restart whose confirming packet wraps to 0",
            steps: [(100, .probation), (101, .inOrder), (65535, .badJump), (0, .restarted), (1, .inOrder)],
            expected: 4, lost: 0, received: 4, restarts: 1, extendedMax: 1),
        Trace(
            name: "duplicates are counted and not taken as received",
            steps: [
                (1, .probation), (2, .inOrder), (3, .inOrder), (4, .inOrder), (3, .duplicate), (4, .duplicate),
                (5, .inOrder),
            ],
            expected: 5, lost: 0, received: 7, duplicates: 2, extendedMax: 5),
        Trace(
            name: "the probation packets are remembered for duplicates",
            steps: [(1, .probation), (2, .inOrder), (1, .duplicate), (2, .duplicate), (3, .inOrder)],
            expected: 3, lost: 0, received: 5, duplicates: 2, extendedMax: 3),
        Trace(
            name: "a reordered packet is out of order, its copy a duplicate",
            steps: [(1, .probation), (2, .inOrder), (4, .inOrder), (3, .outOfOrder), (5, .inOrder), (3, .duplicate)],
            expected: 5, lost: 0, received: 6, duplicates: 1, outOfOrder: 1, extendedMax: 5),
        Trace(
            name: "a late packet fills its gap",
            steps: [(1, .probation), (2, .inOrder), (4, .inOrder), (5, .inOrder), (6, .inOrder), (3, .outOfOrder)],
            expected: 6, lost: 0, received: 6, outOfOrder: 1, extendedMax: 6),
        Trace(
            name: "reordering across the wrap",
            steps: [(65534, .probation), (65535, .inOrder), (1, .inOrder), (0, .outOfOrder), (2, .inOrder)],
            expected: 5, lost: 0, received: 5, outOfOrder: 1, extendedMax: 65538),
        Trace(
            name: "MAX_MISORDER: 100 back is late, 101 back a bad jump",
            steps: [(1, .probation), (2, .inOrder), (1000, .inOrder), (900, .outOfOrder), (899, .badJump)],
            expected: 1000, lost: 996, received: 4, outOfOrder: 1, extendedMax: 1000),
    ]

    @Test("scripted traces", arguments: traces)
    func trace(_ t: Trace) {
        var s = RTPSourceState(firstSequence: t.steps[0].0)
        #expect(!s.isValid)
        for (i, (seq, want)) in t.steps.enumerated() {
            let got = s.update(seq)
            #expect(got == want, "step \(i): seq \(seq)")
        }
        #expect(s.isValid)
        #expect(s.expected == t.expected, "expected")
        #expect(s.lost == t.lost, "lost")
        #expect(s.totalReceived == t.received, "received")
        #expect(s.duplicates == t.duplicates, "duplicates")
        #expect(s.outOfOrder == t.outOfOrder, "out of order")
        #expect(s.restarts == t.restarts, "restarts")
        #expect(s.extendedMax == t.extendedMax, "extended max")
    }

    @Test("each wrap adds 65536 to cycles; the extended numbers keep counting")
    func manyWraps() {
        var s = RTPSourceState(firstSequence: 60000)
        var seq: UInt16 = 60000
        for _ in 0..<200_000 {
            _ = s.update(seq)
            seq &+= 1
        }
        // 60000 + 199999 = 259999 = 3 · 65536 + 63391.
        #expect(s.cycles == 3 << 16 && s.maxSeq == 63391 && s.extendedMax == 259_999)
        #expect(s.expected == 200_000 && s.lost == 0 && s.totalReceived == 200_000)
        // Each 16-bit number maps to the extended number nearest the highest one.
        #expect(s.extendedSequence(63390) == 259_998 && s.extendedSequence(40000) == 3 * 65536 + 40000)
        #expect(s.extendedSequence(65535) == 3 * 65536 + 65535 && s.extendedSequence(100) == 4 * 65536 + 100)
    }

    @Test("random loss, duplication and local reordering: lost and duplicates add up")
    func randomStream() {
        var rng = SeededGenerator(seed: fuzzSeed)
        for round in 0..<20 {
            let first = UInt16.random(in: 0...UInt16.max, using: &rng)
            let count = Int.random(in: 50...3000, using: &rng)
            // Which packets are sent, in the order sent.
            var order: [Int] = []
            var dropped = 0
            var duplicated = 0
            for k in 0..<count {
                // Keep the probation pair and the last packet, so the span is known.
                if k >= 2 && k < count - 1 && Int.random(in: 0..<20, using: &rng) == 0 {
                    dropped += 1
                    continue
                }
                order.append(k)
                if k >= 2 && Int.random(in: 0..<30, using: &rng) == 0 {
                    order.append(k)
                    duplicated += 1
                }
            }
            // Swap neighbours after the probation pair (never the last, which ends the span).
            for i in 2..<(order.count - 2) where Int.random(in: 0..<15, using: &rng) == 0 { order.swapAt(i, i + 1) }
            var s = RTPSourceState(firstSequence: first)
            for k in order { _ = s.update(first &+ UInt16(truncatingIfNeeded: k)) }
            let context = Comment(rawValue: "seed \(fuzzSeed) round \(round): first \(first), \(count) packets")
            #expect(s.expected == UInt64(count), context)
            #expect(s.lost == Int64(dropped), context)
            #expect(s.duplicates == UInt64(duplicated), context)
            #expect(s.totalReceived == UInt64(order.count), context)
            #expect(s.extendedMax == UInt32(first) + UInt32(count - 1), context)
        }
    }

    @Test(
        "serial-number order across the wrap",
        arguments: [
            (1, 0, true, 1), (0, 1, false, -1), (0, 65535, true, 1), (65535, 0, false, -1), (100, 65000, true, 636),
            (32767, 0, true, 32767), (32768, 0, false, -32768), (0, 32768, false, -32768), (7, 7, false, 0),
        ] as [(UInt16, UInt16, Bool, Int)])
    func serialOrder(_ a: UInt16, _ b: UInt16, _ newer: Bool, _ distance: Int) {
        #expect(SequenceNumber.isNewer(a, than: b) == newer)
        #expect(SequenceNumber.distance(from: b, to: a) == distance)
    }

    // MARK: - Interarrival jitter (RFC 3550 A.8)

    @Test("a hand-computed trace")
    func jitterTrace() {
        // 8 kHz, 20 ms packets. Transit: 0, 0, 80, 0, 0, 0 → |D|: 0, 80, 80, 0, 0.
        // J·16 = 0 → 0 → 0 + 80 − 0 = 80 → 80 + 80 − 5 = 155 → 155 − 10 = 145 → 145 − 9 = 136; J = 136 / 16 = 8.
        var j = InterarrivalJitter()
        let timestamps: [UInt32] = [0, 160, 320, 480, 640, 800]
        let arrivals: [Int64] = [0, 160, 400, 480, 640, 800]
        var scaled: [Int64] = []
        for (ts, at) in zip(timestamps, arrivals) {
            j.update(arrivalUnits: at, rtpTimestamp: ts)
            scaled.append(j.scaled)
        }
        #expect(scaled == [0, 0, 80, 155, 145, 136])
        #expect(j.units == 8)
    }

    @Test("a constant transit time has no jitter, whatever the offset")
    func constantTransit() {
        var j = InterarrivalJitter()
        for k in 0..<50 { j.update(arrivalUnits: 123_456_789 + Int64(k) * 160, rtpTimestamp: UInt32(k * 160)) }
        #expect(j.scaled == 0 && j.units == 0)
    }

    @Test("the RTP timestamp wrapping does not look like jitter")
    func timestampWrap() {
        var wrapped = InterarrivalJitter()
        var plain = InterarrivalJitter()
        let arrivals: [Int64] = [1000, 1160, 1400, 1480, 1640]
        for (k, at) in arrivals.enumerated() {
            wrapped.update(arrivalUnits: at, rtpTimestamp: UInt32.max - 319 &+ UInt32(k * 160))
            plain.update(arrivalUnits: at, rtpTimestamp: UInt32(1000 + k * 160))
        }
        #expect(wrapped.scaled == plain.scaled && plain.scaled > 0)
    }

    @Test("reset forgets the last transit and the estimate")
    func jitterReset() {
        var j = InterarrivalJitter()
        j.update(arrivalUnits: 0, rtpTimestamp: 0)
        j.update(arrivalUnits: 1000, rtpTimestamp: 160)
        #expect(j.scaled == 840)
        j.reset()
        #expect(j.scaled == 0)
        // The first packet after a reset has no predecessor to differ from.
        j.update(arrivalUnits: 50_000, rtpTimestamp: 7)
        #expect(j.scaled == 0)
        j.update(arrivalUnits: 50_160, rtpTimestamp: 167)
        #expect(j.scaled == 0)
    }
}
