import Foundation
import SautiAudio
import SautiMedia
import SautiWire

/// Legs per core: pairs of legs on one media worker (one core), each leg receiving,
/// jitter-buffering, decoding, generating a tone, encoding and sending a 20 ms G.711
/// packet every tick, on loopback. For each load it prints the CPU per leg, the share of
/// the core, and the tick lateness (p50/p99/max) and late ticks; a load "holds" when no
/// tick ran a period late and p99 lateness stays under 2 ms.
struct LegsBenchmark {
    var loads = [250, 500, 1000, 1500, 2000, 2500, 3000]
    var seconds = 5.0

    struct Row {
        var legs: Int
        var microsecondsPerLegTick: Double
        var coreShare: Double
        var p50: Int
        var p99: Int
        var max: Int
        var lateTicks: Int
        var lossPercent: Double
        var holds: Bool
    }

    func run() throws -> [Row] {
        var rows: [Row] = []
        for n in loads {
            var c = MediaEngineConfiguration(workers: 1)
            c.firstPort = 40_000
            c.lastPort = 59_999
            let engine = try MediaEngine(configuration: c)
            var legs: [MediaLeg] = []
            for _ in 0..<(n / 2) {
                var cb = LegConfiguration(codec: .pcmu)
                cb.mediaTimeoutMilliseconds = 0
                let b = try engine.openLeg(cb)
                var ca = LegConfiguration(codec: .pcmu, remote: b.local)
                ca.mediaTimeoutMilliseconds = 0
                let a = try engine.openLeg(ca)
                a.play(.tone(ToneSpec(frequenciesHz: [440], levelDBFS: -12)))
                b.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -12)))
                legs += [a, b]
            }
            Thread.sleep(forTimeInterval: 2)  // warm-up: latching, jitter buffers filled
            let t0 = engine.tickTiming[0]
            let r0 = legs.reduce(0) { $0 + $1.statistics.packetsReceived }
            let s0 = legs.reduce(0) { $0 + $1.statistics.packetsSent }
            let start = DispatchTime.now().uptimeNanoseconds
            Thread.sleep(forTimeInterval: seconds)
            let t1 = engine.tickTiming[0]
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start)
            let r1 = legs.reduce(0) { $0 + $1.statistics.packetsReceived }
            let s1 = legs.reduce(0) { $0 + $1.statistics.packetsSent }
            var window = TickStatistics()
            window.ticks = t1.ticks - t0.ticks
            window.lateTicks = t1.lateTicks - t0.lateTicks
            window.busyNanoseconds = t1.busyNanoseconds - t0.busyNanoseconds
            for i in window.latenessBuckets.indices { window.latenessBuckets[i] = t1.latenessBuckets[i] - t0.latenessBuckets[i] }
            let sent = s1 - s0
            let received = r1 - r0
            let loss = sent > 0 ? max(0, Double(sent - received)) * 100 / Double(sent) : 0
            let perLegTick = Double(window.busyNanoseconds) / Double(max(1, window.ticks)) / Double(n) / 1000
            let p99 = window.latenessPercentile(0.99)
            rows.append(
                Row(
                    legs: n, microsecondsPerLegTick: perLegTick, coreShare: Double(window.busyNanoseconds) / elapsed,
                    p50: window.latenessPercentile(0.5), p99: p99, max: t1.maxLatenessMicroseconds, lateTicks: window.lateTicks,
                    lossPercent: loss, holds: window.lateTicks == 0 && p99 <= 2000 && loss < 0.1))
            for l in legs { l.close() }
            engine.shutdown()
            let r = rows.last!
            print(String(format: "%6d legs  %7.2f µs/leg/tick  %5.1f%% core  lateness p50 %5d µs  p99 %6d µs  max %7d µs  late ticks %4d  loss %.2f%%  %@", r.legs, r.microsecondsPerLegTick, r.coreShare * 100, r.p50, r.p99, r.max, r.lateTicks, r.lossPercent, r.holds ? "holds" : "does not hold"))
            if !r.holds && r.coreShare > 1.0 { break }
        }
        return rows
    }
}
