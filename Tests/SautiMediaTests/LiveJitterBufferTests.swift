import SautiAudio
import SautiMedia
import Testing

/// The live jitter buffer as scripted traces on a manual clock: packets put at arrival
/// times, one tick every 20 ms, pass conditions on what played.
@Suite struct LiveJitterBufferTests {
    /// Plays a trace: packet i (timestamp i × 160, one repeated µ-law code marking it)
    /// arrives at `arrivals[i]` ms (nil: lost). Returns which packet each tick played
    /// (nil for concealment/silence) and the buffer.
    static func play(_ arrivals: [Double?], ticks: Int? = nil, minDelayMs: Int = 0) -> ([Int?], LiveJitterBuffer) {
        var jb = LiveJitterBuffer(codec: .pcmu, minDelayMilliseconds: minDelayMs, maxDelayMilliseconds: 300)
        let order = arrivals.enumerated().compactMap { i, a in a.map { (i, $0) } }.sorted { $0.1 < $1.1 }
        var next = 0
        var played: [Int?] = []
        var frame = [Int16](repeating: 0, count: 160)
        for k in 1...(ticks ?? arrivals.count + 20) {
            let now = Double(k) * 20
            while next < order.count && order[next].1 <= now {
                let (i, a) = order[next]
                let payload = [UInt8](repeating: UInt8(0x10 + i % 64), count: 160)
                payload.withUnsafeBytes { _ = jb.put(ssrc: i >= 10_000 ? 2 : 1, timestamp: UInt32(i % 10_000 * 160), arrival: Int64(a * 1e6), payload: $0) }
                next += 1
            }
            let kind = frame.withUnsafeMutableBufferPointer { jb.tick(now: Int64(now * 1e6), into: $0) }
            if kind == .audio, let v = Set(frame.suffix(140)).first, Set(frame.suffix(140)).count == 1 {
                played.append((0..<64).first { G711.decodeULaw(UInt8(0x10 + $0)) == v })
            } else {
                played.append(nil)
            }
        }
        return (played, jb)
    }

    @Test("steady arrivals: every packet plays once, in order, nothing late")
    func steady() {
        let (played, jb) = Self.play((0..<100).map { Double($0) * 20 + 5 })
        #expect(played.compactMap { $0 } == (0..<100).map { $0 % 64 })
        #expect(jb.statistics.late == 0)
    }

    @Test("jitter within the window: reordered packets still play in order")
    func reorder() {
        var a: [Double?] = (0..<200).map { Double($0) * 20 + 5 }
        // Jitter up to 30 ms early on teaches the buffer; then pairs swap.
        for i in stride(from: 1, to: 40, by: 7) { a[i] = a[i]! + 30 }
        for i in stride(from: 100, to: 190, by: 10) { (a[i], a[i + 1]) = (a[i + 1], a[i]) }
        let (played, jb) = Self.play(a)
        let got = played.compactMap { $0 }
        #expect(got.count >= 195, "\(200 - got.count) packets not played")
        #expect(jb.statistics.late <= 5)
        #expect(Array(got.suffix(100)) == (100..<200).map { $0 % 64 }, "order after the swaps")
    }

    @Test("a lone outlier goes late; once delays like it recur, the delay grows to cover them")
    func lateThenAdapt() {
        var a: [Double?] = (0..<300).map { Double($0) * 20 + 5 }
        a[50] = a[50]! + 60  // a packet 60 ms late: an outlier, not worth delaying everyone
        a[100] = a[100]! + 60  // it recurs
        a[150] = a[150]! + 55  // by now the target covers it
        let (_, jb) = Self.play(a)
        #expect(jb.statistics.late == 2, "the first two are late, the third is covered")
        #expect(jb.statistics.stretchedFrames > 0, "the delay grew by stretching")
    }

    @Test("a new SSRC restarts the buffer")
    func ssrcChange() {
        let a: [Double?] = (0..<60).map { Double($0) * 20 + 5 }
        var b: [Double?] = a
        b += [Double?](repeating: nil, count: 9_940)
        // Packets 10000… carry SSRC 2 (see `play`), starting at timestamp 0 again.
        var trace = [Double?](repeating: nil, count: 10_060)
        for i in 0..<60 { trace[i] = a[i] }
        for i in 0..<60 { trace[10_000 + i] = 1300 + Double(i) * 20 }
        let (_, jb) = Self.play(trace, ticks: 160)
        #expect(jb.statistics.restarts == 1)
        #expect(jb.statistics.late == 0)
    }
}
