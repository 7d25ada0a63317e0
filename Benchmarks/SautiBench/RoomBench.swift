import Foundation
import SautiMedia
import SautiWire

/// A conference room end to end over loopback UDP: N G.711 legs in one room on one media
/// worker, driven by the load generator the Janus AudioBridge anchor uses (`loadgen`, built
/// from `../shared/anchors/janus/loadgen.c` at run time, so both mixers meet the same
/// traffic and the same measurements). Each generator participant sends a 172-byte PCMU
/// packet every 20 ms from its own socket to its leg; talkers send a 1.5 s tone every 2 s,
/// the rest silence; the mix comes back on the same socket. The generator measures, at
/// every listener, the time from a talker's first tone packet leaving it to the first mix
/// packet carrying the tone (the room's added delay: jitter buffer plus mixing), mix packet
/// rate, sequence loss and inter-arrival. Our CPU is the process's utime + stime over the
/// window (getrusage), the kernel's work for our sockets included.
struct RoomBenchmark {
    var sizes = [100]
    var talkers = "1"
    var seconds = 20.0
    var warmup = 3.0
    var workDirectory = "bench-out"
    /// The legs' jitter buffer bounds, in ms (the default leg's are 20 and 300).
    var minJitterMilliseconds = 20
    var maxJitterMilliseconds = 300

    struct Row {
        var participants: Int
        var talkers: String
        var coreShare: Double
        var microsecondsPerParticipantTick: Double
        var latencyP50: Double
        var latencyP95: Double
        var latencyMax: Double
        var jitterBufferMilliseconds: Double
        var minPacketsPerSecond: Double
        var worstLossPercent: Double
        var interArrivalOver40Percent: Double
        var lateTicks: Int
    }

    static func findAnchor() -> String? {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<3 {
            let p = dir.appendingPathComponent("../shared/anchors/janus/loadgen.c").standardized.path
            if FileManager.default.fileExists(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    func buildLoadGenerator() throws -> String {
        guard let source = Self.findAnchor() else { throw BenchError("../shared/anchors/janus/loadgen.c not found") }
        let out = workDirectory + "/loadgen"
        let (_, status) = try spawnAndWait("/usr/bin/gcc", ["-O2", "-o", out, source, "-lm"])
        guard status == 0 else { throw BenchError("gcc could not build loadgen") }
        return out
    }

    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
            + Double(u.ru_stime.tv_usec) / 1e6
    }

    func run() throws -> [Row] {
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let loadgen = try buildLoadGenerator()
        var rows: [Row] = []
        for n in sizes {
            var c = MediaEngineConfiguration(workers: 1)
            c.firstPort = 40_000
            c.lastPort = 49_999
            let engine = try MediaEngine(configuration: c)
            let room = engine.openRoom(capacity: n, sampleRate: 8000, talkers: 3)
            var legs: [MediaLeg] = []
            var lines = ""
            let talking = talkers == "all" ? n : min(n, Int(talkers) ?? 1)
            for i in 0..<n {
                let generatorPort = UInt16(50_000 + 2 * i)
                var config = LegConfiguration(codec: .pcmu, remote: Endpoint(address: .v4(0x7F00_0001), port: generatorPort))
                config.mediaTimeoutMilliseconds = 0
                config.minJitterDelayMilliseconds = minJitterMilliseconds
                config.maxJitterDelayMilliseconds = maxJitterMilliseconds
                let leg = try engine.openLeg(config)
                legs.append(leg)
                lines += "\(generatorPort) \(leg.local.port) \(i < talking ? 1 : 0)\n"
            }
            let semaphore = DispatchSemaphore(value: 0)
            let joining = legs
            Task {
                for leg in joining { try? await room.join(leg) }
                semaphore.signal()
            }
            semaphore.wait()
            let config = workDirectory + "/loadgen-room.txt"
            try lines.write(toFile: config, atomically: true, encoding: .utf8)
            let out = workDirectory + "/loadgen-room.json"
            // The generator runs SCHED_FIFO when it can (as the Janus anchor runs it), so our
            // worker cannot starve it.
            let chrt = FileManager.default.isExecutableFile(atPath: "/usr/bin/chrt") ? "/usr/bin/chrt -f 10 " : ""
            var args = "--config \(config) --out \(out) --warmup \(warmup) --duration \(seconds)"
            if talkers == "all" { args += " --all-talk" }
            // CPU over the generator's window: sampled from a timer on this side.
            let cpuWindow = CPUWindow()
            let ticks0 = engine.tickTiming[0]
            DispatchQueue.global().asyncAfter(deadline: .now() + warmup) { cpuWindow.start(Self.cpuSeconds()) }
            DispatchQueue.global().asyncAfter(deadline: .now() + warmup + seconds) { cpuWindow.end(Self.cpuSeconds()) }
            let (_, status) = try spawnAndWait("/bin/sh", ["-c", "\(chrt)\(loadgen) \(args) > /dev/null"])
            let ticks1 = engine.tickTiming[0]
            let jitter = legs.map(\.statistics.jitterBufferDelayMilliseconds).reduce(0, +) / Double(max(1, n))
            room.close()
            for l in legs { l.close() }
            engine.shutdown()
            guard status == 0,
                let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any],
                let participants = json["participants"] as? [[String: Any]]
            else {
                throw BenchError("loadgen failed with \(n) participants (exit \(status))")
            }
            var latencies: [Double] = []
            var minRate = Double.infinity
            var worstLoss = 0.0
            var ia = 0
            var iaOver40 = 0
            for p in participants {
                if (p["talker"] as? Int ?? 0) == 0 || talkers == "all" {
                    latencies += (p["lat_ms"] as? [Double]) ?? ((p["lat_ms"] as? [NSNumber])?.map(\.doubleValue) ?? [])
                }
                let rx = Double(p["rx"] as? Int ?? 0)
                minRate = min(minRate, rx / seconds)
                let span = Double(p["seq_span"] as? Int ?? 0)
                if span > 0 { worstLoss = max(worstLoss, max(0, span - rx) / span * 100) }
                ia += p["ia_n"] as? Int ?? 0
                iaOver40 += p["ia_gt40"] as? Int ?? 0
            }
            latencies.sort()
            func pct(_ f: Double) -> Double { latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(f * Double(latencies.count)))] }
            let cpu = cpuWindow.seconds ?? 0
            rows.append(
                Row(
                    participants: n, talkers: talkers, coreShare: cpu / seconds * 100,
                    microsecondsPerParticipantTick: cpu * 1e6 / (Double(n) * seconds * 50), latencyP50: pct(0.5),
                    latencyP95: pct(0.95), latencyMax: latencies.last ?? .nan, jitterBufferMilliseconds: jitter,
                    minPacketsPerSecond: minRate, worstLossPercent: worstLoss,
                    interArrivalOver40Percent: ia > 0 ? Double(iaOver40) / Double(ia) * 100 : 0,
                    lateTicks: ticks1.lateTicks - ticks0.lateTicks))
            let r = rows.last!
            print(
                String(
                    format: "%6d participants, %3@ talking: %5.1f %% core, %6.2f µs/participant/tick; tone latency p50 %5.1f ms p95 %5.1f ms max %5.1f ms (jitter buffer %4.1f ms); min %4.1f pkt/s, worst loss %.2f %%, inter-arrival > 40 ms %.3f %%, late ticks %d",
                    r.participants, r.talkers, r.coreShare, r.microsecondsPerParticipantTick, r.latencyP50, r.latencyP95,
                    r.latencyMax, r.jitterBufferMilliseconds, r.minPacketsPerSecond, r.worstLossPercent,
                    r.interArrivalOver40Percent, r.lateTicks))
        }
        return rows
    }
}

/// Process CPU at the start and end of the generator's window, set from timers.
final class CPUWindow: @unchecked Sendable {
    private let lock = NSLock()
    private var first: Double?
    private var last: Double?
    func start(_ s: Double) { lock.withLock { first = s } }
    func end(_ s: Double) { lock.withLock { last = s } }
    var seconds: Double? { lock.withLock { first.flatMap { f in last.map { $0 - f } } } }
}

func roomBenchmark(_ args: [String]) throws -> [String: Any] {
    var bench = RoomBenchmark()
    var it = args.makeIterator()
    while let a = it.next() {
        switch a {
        case "--participants": bench.sizes = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
        case "--talkers": bench.talkers = it.next() ?? "1"
        case "--seconds": bench.seconds = Double(it.next() ?? "") ?? bench.seconds
        case "--jitter-ms":
            let ms = Int(it.next() ?? "") ?? bench.minJitterMilliseconds
            bench.minJitterMilliseconds = ms
        default: throw BenchError("unknown option \(a)\n\(usage)")
        }
    }
    print(
        "room benchmark: N G.711 participants in one room on one media worker, K = 3, driven over loopback by the Janus anchor's loadgen (\(bench.warmup) s warm-up, \(bench.seconds) s window)"
    )
    let rows = try bench.run()
    return [
        "load_generator": "loadgen (../shared/anchors/janus)",
        "rows": rows.map {
            [
                "participants": $0.participants, "talkers": $0.talkers, "core_percent": $0.coreShare,
                "us_per_participant_tick": $0.microsecondsPerParticipantTick, "latency_p50_ms": $0.latencyP50,
                "latency_p95_ms": $0.latencyP95, "latency_max_ms": $0.latencyMax,
                "jitter_buffer_ms": $0.jitterBufferMilliseconds, "min_packets_per_second": $0.minPacketsPerSecond,
                "worst_loss_percent": $0.worstLossPercent, "inter_arrival_over_40ms_percent": $0.interArrivalOver40Percent,
                "late_ticks": $0.lateTicks,
            ] as [String: Any]
        },
    ]
}
