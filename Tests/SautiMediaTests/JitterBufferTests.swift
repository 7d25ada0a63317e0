import Foundation
import SautiAudio
import SautiMedia
import Testing

/// Jitter-buffer behaviour as short scripted traces (STYLE.md: pjmedia's Jbtest.dat style):
/// each step puts a packet (or loses one) at an arrival time; pass conditions follow.
@Suite struct JitterBufferTests {
    /// One step of a trace: packet `index` (timestamp index × 160) arriving at `arrivalMs`.
    struct Step {
        var index: Int
        var arrivalMs: Int
        var marker = false
    }

    /// A frame of one repeated µ-law code marks the packet it came from.
    static func code(_ index: Int) -> UInt8 { UInt8(0x10 + index % 64) }

    static func payload(_ index: Int) -> [UInt8] {
        [UInt8](repeating: code(index), count: 160)
    }

    struct Outcome {
        var frames: [[Int16]] = []
        var results: [JitterBuffer.InsertOutcome] = []
        var statistics = JitterBuffer.Statistics()
    }

    static func play(_ steps: [Step], minDelayMs: Int = 20) -> Outcome {
        var config = JitterBuffer.Configuration(codec: .pcmu)
        config.minDelayMilliseconds = minDelayMs
        var jb = JitterBuffer(configuration: config)
        var out = Outcome()
        for s in steps {
            let p = payload(s.index)
            let r = p.withUnsafeBytes { bytes in
                jb.insert(
                    timestamp: UInt32(s.index * 160), marker: s.marker, arrival: Int64(s.arrivalMs) * 1_000_000,
                    payload: bytes, emit: { out.frames.append(Array($0)) })
            }
            out.results.append(r)
        }
        jb.finish { out.frames.append(Array($0)) }
        out.statistics = jb.statistics
        return out
    }

    /// The packet index a played frame came from, or nil if it was concealed.
    /// (The first 2.5 ms after a loss are cross-faded, so only the rest is looked at.)
    static func source(of frame: [Int16]) -> Int? {
        let values = Set(frame.suffix(140))
        guard values.count == 1, let v = values.first else { return nil }
        for i in 0..<64 where G711.decodeULaw(code(i)) == v { return i }
        return nil
    }

    @Test("in order, on time: every frame played from its packet, none concealed")
    func inOrder() {
        let o = Self.play((0..<10).map { Step(index: $0, arrivalMs: $0 * 20) })
        #expect(o.frames.map(Self.source) == (0..<10).map { $0 })
        #expect(o.statistics.concealedFrames == 0 && o.statistics.late == 0)
    }

    @Test("a lost packet is concealed in its place; the timeline keeps its length")
    func loss() {
        let o = Self.play((0..<10).filter { $0 != 4 }.map { Step(index: $0, arrivalMs: $0 * 20) })
        #expect(o.frames.count == 10)
        #expect(o.frames[4] != o.frames[3] || Self.source(of: o.frames[4]) == nil)
        #expect(Self.source(of: o.frames[5]) == 5)
        #expect(o.statistics.concealedFrames == 1)
    }

    @Test("reordering within the delay is repaired")
    func reorder() {
        let order = [0, 1, 3, 2, 4, 5, 6, 7]
        let o = Self.play(order.enumerated().map { Step(index: $1, arrivalMs: $0 * 20) }, minDelayMs: 40)
        #expect(o.frames.map(Self.source) == (0..<8).map { $0 })
        #expect(o.statistics.late == 0)
    }

    @Test("a packet after its playout time is late: dropped, counted, concealed; the delay grows")
    func late() {
        // Packet 3 arrives 100 ms late; with 20 ms of delay its frame is already played.
        var steps = (0..<10).filter { $0 != 3 }.map { Step(index: $0, arrivalMs: $0 * 20) }
        steps.insert(Step(index: 3, arrivalMs: 160), at: 7)
        let o = Self.play(steps)
        #expect(o.results[7] == .late)
        #expect(o.statistics.late == 1)
        #expect(Self.source(of: o.frames[3]) == nil)
        #expect(o.frames.count == 10)
    }

    @Test("a duplicate is dropped and counted")
    func duplicate() {
        let o = Self.play([Step(index: 0, arrivalMs: 0), Step(index: 1, arrivalMs: 20), Step(index: 1, arrivalMs: 21), Step(index: 2, arrivalMs: 40)], minDelayMs: 40)
        #expect(o.results == [.inserted, .inserted, .duplicate, .inserted])
        #expect(o.statistics.duplicates == 1)
        #expect(o.frames.map(Self.source) == [0, 1, 2])
    }

    @Test("a timestamp jump of minutes is a restart, not minutes of concealment")
    func restart() {
        let o = Self.play([Step(index: 0, arrivalMs: 0), Step(index: 1, arrivalMs: 20), Step(index: 100_000, arrivalMs: 40), Step(index: 100_001, arrivalMs: 60)])
        #expect(o.results[2] == .restarted)
        #expect(o.frames.count == 4)
    }

    @Test("concealment fades to silence within 60 ms of loss")
    func fade() {
        var c = WaveformConcealer(sampleRate: 8000)
        var tone = [Int16](repeating: 0, count: 160)
        for i in tone.indices { tone[i] = Int16(8000 * sin(Double(i) * 2 * Double.pi * 400 / 8000)) }
        tone.withUnsafeMutableBufferPointer { c.good($0) }
        var frames: [[Int16]] = []
        for _ in 0..<4 {
            var f = [Int16](repeating: 0, count: 160)
            f.withUnsafeMutableBufferPointer { c.conceal($0) }
            frames.append(f)
        }
        #expect(frames[0].map { abs(Int($0)) }.max()! > 6000, "the first 20 ms continue the signal")
        #expect(frames[3].allSatisfy { $0 == 0 }, "silent after 60 ms")
        #expect(frames[1].map { abs(Int($0)) }.max()! < frames[0].map { abs(Int($0)) }.max()!)
    }
}
