import CSpeexDSP
import Foundation
import SautiAudio
import SautiMedia

/// Jitter-buffer quality: our `LiveJitterBuffer` against libspeexdsp's jitter buffer on the
/// same arrival traces, driven the same way (every 20 ms: hand over the packets that have
/// arrived, take one frame). For each it reports late loss (packets that arrived but were
/// never played, as a % of packets sent) and the mean added delay (time from a packet's
/// arrival to its playout, over the packets played). Traces are seeded and synthetic.
struct JitterBenchmark {
    struct Trace {
        var name: String
        /// Arrival time of each packet in ms (nil: lost in the network); packet i carries
        /// timestamp i × 160 and was sent at i × 20 ms.
        var arrivals: [Double?]
    }

    struct Result {
        var trace: String
        var ours: (lateLoss: Double, delay: Double)
        var speex: (lateLoss: Double, delay: Double)
    }

    static func traces(seconds: Int = 120) -> [Trace] {
        let n = seconds * 50
        var rng = SystemRandomNumberGenerator.Seeded(seed: 0xC0FFEE)
        func uniform() -> Double { Double(rng.next() % 1_000_000) / 1_000_000 }
        func gaussian() -> Double { (-2 * log(max(uniform(), 1e-9))).squareRoot() * cos(2 * .pi * uniform()) }
        let base = 40.0  // one-way network delay, ms
        var out: [Trace] = []
        out.append(Trace(name: "low jitter (0–5 ms uniform)", arrivals: (0..<n).map { Double($0) * 20 + base + uniform() * 5 }))
        out.append(Trace(name: "moderate jitter (|N(0, 15 ms)|)", arrivals: (0..<n).map { Double($0) * 20 + base + abs(gaussian()) * 15 }))
        var spike = 0.0
        out.append(
            Trace(name: "delay spikes (200 ms every 5 s, draining)", arrivals: (0..<n).map { i in
                if i % 250 == 0 { spike = 200 }
                let a = Double(i) * 20 + base + spike + uniform() * 3
                spike = max(0, spike - 20)  // the queue drains at one packet per period
                return a
            }))
        out.append(
            Trace(name: "5 % loss + jitter (|N(0, 10 ms)|)", arrivals: (0..<n).map { i in
                uniform() < 0.05 ? nil : Double(i) * 20 + base + abs(gaussian()) * 10
            }))
        var level = 0.0
        out.append(
            Trace(name: "wandering delay (random walk, 0–120 ms)", arrivals: (0..<n).map { i in
                level = min(120, max(0, level + gaussian() * 3))
                return Double(i) * 20 + base + level + uniform() * 4
            }))
        return out
    }

    /// Our lower delay bound, in ms (speex has none).
    var minDelayMilliseconds = 0

    func run() -> [Result] {
        Self.traces().map { t in Result(trace: t.name, ours: ours(t), speex: speex(t)) }
    }

    /// Packet order by arrival; each tick at 20 ms takes those that came before it.
    private func schedule(_ t: Trace) -> [(index: Int, arrival: Double)] {
        t.arrivals.enumerated().compactMap { i, a in a.map { (i, $0) } }.sorted { $0.arrival < $1.arrival }
    }

    private func ours(_ t: Trace) -> (Double, Double) {
        var jb = LiveJitterBuffer(codec: .pcmu, minDelayMilliseconds: minDelayMilliseconds, maxDelayMilliseconds: 300)
        let payload = [UInt8](repeating: 0xFF, count: 160)
        let order = schedule(t)
        var next = 0
        var played = Set<Int>()
        var delaySum = 0.0
        var frame = [Int16](repeating: 0, count: 160)
        let ticks = t.arrivals.count + 50
        for k in 1...ticks {
            let now = Double(k) * 20
            while next < order.count && order[next].arrival <= now {
                let p = order[next]
                payload.withUnsafeBytes { raw in
                    _ = jb.put(ssrc: 1, timestamp: UInt32(p.index * 160), arrival: Int64(p.arrival * 1e6), payload: raw)
                }
                next += 1
            }
            let kind = frame.withUnsafeMutableBufferPointer { jb.tick(now: Int64(now * 1e6), into: $0) }
            if kind == .audio {
                let i = Int(jb.lastPlayedTimestamp / 160)
                if i < t.arrivals.count, let a = t.arrivals[i], !played.contains(i) {
                    played.insert(i)
                    delaySum += now - a
                }
            }
        }
        return measure(t, played: played.count, delaySum: delaySum)
    }

    private func speex(_ t: Trace) -> (Double, Double) {
        let jb = jitter_buffer_init(160)!
        defer { jitter_buffer_destroy(jb) }
        var data = [CChar](repeating: 0, count: 160)
        var out = [CChar](repeating: 0, count: 2048)
        let order = schedule(t)
        var next = 0
        var played = Set<Int>()
        var delaySum = 0.0
        let ticks = t.arrivals.count + 50
        for k in 1...ticks {
            let now = Double(k) * 20
            while next < order.count && order[next].arrival <= now {
                let p = order[next]
                data.withUnsafeMutableBufferPointer { d in
                    var packet = JitterBufferPacket()
                    packet.data = d.baseAddress
                    packet.len = 160
                    packet.timestamp = spx_uint32_t(p.index * 160)
                    packet.span = 160
                    packet.sequence = spx_uint16_t(truncatingIfNeeded: p.index)
                    packet.user_data = 0
                    jitter_buffer_put(jb, &packet)
                }
                next += 1
            }
            let r = out.withUnsafeMutableBufferPointer { o -> (Int32, UInt32) in
                var packet = JitterBufferPacket()
                packet.data = o.baseAddress
                packet.len = spx_uint32_t(o.count)
                var offset: spx_int32_t = 0
                let ret = jitter_buffer_get(jb, &packet, 160, &offset)
                return (ret, packet.timestamp)
            }
            if r.0 == JITTER_BUFFER_OK {
                let i = Int(r.1 / 160)
                if i < t.arrivals.count, let a = t.arrivals[i], !played.contains(i) {
                    played.insert(i)
                    delaySum += now - a
                }
            }
            jitter_buffer_tick(jb)
        }
        return measure(t, played: played.count, delaySum: delaySum)
    }

    private func measure(_ t: Trace, played: Int, delaySum: Double) -> (Double, Double) {
        let sent = t.arrivals.count
        let arrived = t.arrivals.compactMap { $0 }.count
        let late = arrived - played
        return (Double(late) * 100 / Double(sent), played > 0 ? delaySum / Double(played) : 0)
    }
}

extension SystemRandomNumberGenerator {
    /// A seeded SplitMix64, so every run sees the same traces.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
