import Foundation
import SautiAudio
import SautiMedia
import SautiWire

/// Packets per second one media worker relays for bridged same-codec calls (`LegRelay`:
/// PCMU both sides, no decoding), driven by the anchors' `rtpload` on loopback: each call is
/// two of its endpoints, each sending PCMU to its leg every 20 ms and counting what the
/// other side's packets become after the relay. Our CPU is the process's utime + stime over
/// the window as rtpload reads it from /proc (the kernel's work on our sockets included).
/// With `--rtpengine`, the rtpengine anchor (`../shared/anchors/rtpengine`, copied to a
/// temporary folder) runs its relay mode at the largest load with the same generator in
/// the same run, for comparison.
struct RelayBenchmark {
    var loads = [250, 500, 1000, 1500]
    var seconds = 10.0
    var warmup = 2.0
    var workDirectory = "bench-out"
    var workerNice: Int32? = MediaEngineConfiguration().workerNice
    var rtpengine = false
    /// The loads rtpengine runs at; empty: the largest load that held here.
    var rtpengineLoads: [Int] = []

    struct Row {
        var engine: String
        var calls: Int
        var packetsPerSecond: Double
        var microsecondsPerPacket: Double
        var coreShare: Double
        var loss: Double
        var lateSlots: Double
        /// The media worker's tick lateness p99, in µs, and ticks skipped (ours only; relayed
        /// packets do not wait for ticks, the legs' own timers and RTCP do).
        var tickP99: Int = 0
        var skippedTicks: Int = 0
        var holds: Bool
    }

    /// The rtpload payload file: 50 µ-law frames of a two-tone signal.
    func payloadFile() throws -> String {
        var payload = Data()
        var gen = ToneGenerator(ToneSpec(frequenciesHz: [300, 1100], levelDBFS: -16), sampleRate: 8000)
        var pcm = [Int16](repeating: 0, count: 160)
        var codes = [UInt8](repeating: 0, count: 160)
        for _ in 0..<50 {
            pcm.withUnsafeMutableBufferPointer { gen.fill($0) }
            pcm.withUnsafeBufferPointer { p in codes.withUnsafeMutableBufferPointer { G711.encode(.ulaw, p, into: $0) }
            }
            payload.append(contentsOf: [160, 0])
            payload.append(contentsOf: codes)
        }
        let path = workDirectory + "/rtpload-pcmu.bin"
        try payload.write(to: URL(fileURLWithPath: path))
        return path
    }

    func run() async throws -> [Row] {
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        var generator = LegsExternalBenchmark()
        generator.workDirectory = workDirectory
        let rtpload = try generator.buildLoadGenerator()
        let payloadPath = try payloadFile()
        var rows: [Row] = []
        for n in loads {
            guard n <= 2000 else { throw BenchError("at most 2000 calls (the generator's ports are 40000-43999)") }
            var c = MediaEngineConfiguration(workers: 1)
            c.workerNice = workerNice
            // Legs on 45000-59999; the generator's endpoints on 40000-43999.
            c.firstPort = 45_000
            c.lastPort = 59_999
            let engine = try MediaEngine(configuration: c)
            var relays: [LegRelay] = []
            var lines = ""
            for i in 0..<n {
                let pa = UInt16(40_000 + 2 * i)
                let pb = pa + 1
                var ca = LegConfiguration(codec: .pcmu, remote: Endpoint(address: .v4(0x7F00_0001), port: pa))
                ca.mediaTimeoutMilliseconds = 0
                var cb = ca
                cb.remote = Endpoint(address: .v4(0x7F00_0001), port: pb)
                let a = try engine.openLeg(ca)
                let b = try engine.openLeg(cb)
                relays.append(await LegRelay.start(a, b))
                lines += "\(pa) \(a.local.port) \(10_000 + 2 * i) 0 160 0 0\n"
                lines += "\(pb) \(b.local.port) \(10_001 + 2 * i) 0 160 0 0\n"
            }
            let endpoints = workDirectory + "/rtpload-relay-endpoints.txt"
            try lines.write(toFile: endpoints, atomically: true, encoding: .utf8)
            let t0 = engine.tickTiming[0]
            let out = workDirectory + "/rtpload-relay-out.json"
            let pid = ProcessInfo.processInfo.processIdentifier
            let (_, status) = try spawnAndWait(
                "/bin/sh",
                [
                    "-c",
                    "\(rtpload) -e \(endpoints) -P 0:\(payloadPath) -d \(seconds + warmup) -w \(warmup) -g 500 -p \(pid) > \(out)",
                ])
            let stats = relays.flatMap { [$0.a.statistics, $0.b.statistics] }
            let relayed = stats.reduce(0) { $0 + $1.packetsRelayed }
            let received = stats.reduce(0) { $0 + $1.packetsReceived }
            let dropped = stats.reduce(0) { $0 + $1.relayDropped + $1.sendErrors }
            let t1 = engine.tickTiming[0]
            var timing = TickStatistics()
            timing.ticks = t1.ticks - t0.ticks
            timing.lateTicks = t1.lateTicks - t0.lateTicks
            timing.skippedTicks = t1.skippedTicks - t0.skippedTicks
            for i in timing.latenessBuckets.indices {
                timing.latenessBuckets[i] = t1.latenessBuckets[i] - t0.latenessBuckets[i]
            }
            print(
                "  legs received \(received), relayed \(relayed), not sent \(dropped); worker ticks \(timing.ticks), late \(timing.lateTicks), skipped \(timing.skippedTicks), lateness p99 \(timing.latenessPercentile(0.99)) µs"
            )
            for r in relays {
                r.a.close()
                r.b.close()
            }
            engine.shutdown()
            guard status == 0,
                let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out)))
                    as? [String: Any]
            else {
                throw BenchError("rtpload failed at \(n) calls (exit \(status))")
            }
            var row = Self.row("sautikit", n, json)
            row.tickP99 = timing.latenessPercentile(0.99)
            row.skippedTicks = timing.skippedTicks
            rows.append(row)
            Self.printRow(row)
            if relayed == 0 { throw BenchError("nothing was relayed: the legs did not join") }
            if !row.holds && row.coreShare > 1.0 { break }
        }
        let largest = rows.filter(\.holds).map(\.calls).max() ?? rows.last?.calls
        for n in rtpengine ? (rtpengineLoads.isEmpty ? largest.map { [$0] } ?? [] : rtpengineLoads) : [] {
            if let row = try runRTPEngine(calls: n) {
                rows.append(row)
                Self.printRow(row)
            }
        }
        return rows
    }

    static func row(_ engine: String, _ calls: Int, _ json: [String: Any]) -> Row {
        let window = json["window_s"] as? Double ?? 1
        let cpu = json["rtpengine_cpu_s"] as? Double ?? 0
        let sent = Double(json["sent"] as? Int ?? 0)
        let recv = Double(json["recv"] as? Int ?? 0)
        let recvWin = Double(json["recv_win"] as? Int ?? 0)
        let slots = Double(json["slots"] as? Int ?? 1)
        let late = Double(json["slots_late_gt5ms"] as? Int ?? 0)
        let loss = sent > 0 ? max(0, sent - recv) / sent : 0
        let badPT = json["bad_pt"] as? Int ?? 0
        return Row(
            engine: engine, calls: calls, packetsPerSecond: recvWin / window,
            microsecondsPerPacket: recvWin > 0 ? cpu * 1e6 / recvWin : 0, coreShare: cpu / window, loss: loss,
            lateSlots: late / max(1, slots), holds: loss < 0.001 && late / max(1, slots) < 0.01 && badPT == 0)
    }

    static func printRow(_ r: Row) {
        print(
            String(
                format:
                    "%@  %5d calls  %8.0f pkt/s relayed  %6.2f µs CPU/pkt  %5.1f%% core  loss %.3f%%  sender late %.2f%%  %@",
                r.engine.padding(toLength: 9, withPad: " ", startingAt: 0), r.calls, r.packetsPerSecond,
                r.microsecondsPerPacket, r.coreShare * 100, r.loss * 100, r.lateSlots * 100,
                r.holds ? "holds" : "does not hold"))
    }

    /// Runs the rtpengine anchor's relay mode at `calls` (bounded: 300 s), from a copy of
    /// the anchor folder; nil when it is not there or fails.
    func runRTPEngine(calls: Int) throws -> Row? {
        guard let rtpload = LegsExternalBenchmark.findAnchor() else { return nil }
        let anchor = (rtpload as NSString).deletingLastPathComponent
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("sauti-rtpengine-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let script = """
            cp -r \(anchor) \(copy) && cd \(copy) && gcc -O2 -o rtpload rtpload.c && \
            timeout 300 python3 bench.py --modes relay --relay-steps \(calls) --duration \(Int(seconds + warmup)) \
            --warmup \(Int(warmup)) --refine 0 --workdir \(copy)/work > \(copy)/bench.out 2>&1
            """
        print("rtpengine anchor: relay, \(calls) calls (up to 300 s) ...")
        let (_, status) = try spawnAndWait("/bin/sh", ["-c", script])
        let results = copy + "/work/results.jsonl"
        guard status == 0, let text = try? String(contentsOfFile: results, encoding: .utf8),
            let line = text.split(separator: "\n").last,
            let r = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            let log = (try? String(contentsOfFile: copy + "/bench.out", encoding: .utf8)) ?? ""
            print("rtpengine anchor did not run (exit \(status)): \(log.suffix(600))")
            return nil
        }
        let pps = r["pps_relayed"] as? Double ?? 0
        let us = r["cpu_us_per_pkt"] as? Double ?? 0
        let loss = r["loss"] as? Double ?? 0
        let load = r["load"] as? [String: Any] ?? [:]
        let slots = Double(load["slots"] as? Int ?? 1)
        let late = Double(load["slots_late_gt5ms"] as? Int ?? 0)
        return Row(
            engine: "rtpengine", calls: calls, packetsPerSecond: pps, microsecondsPerPacket: us,
            coreShare: (r["rtpengine_core_pct"] as? Double ?? 0) / 100, loss: loss, lateSlots: late / max(1, slots),
            holds: r["pass"] as? Bool ?? (loss < 0.001))
    }
}

func relayBench(_ args: [String]) async throws {
    var bench = RelayBenchmark()
    var it = args.makeIterator()
    while let a = it.next() {
        switch a {
        case "--loads": bench.loads = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
        case "--seconds": bench.seconds = Double(it.next() ?? "") ?? bench.seconds
        case "--work": bench.workDirectory = it.next() ?? bench.workDirectory
        case "--worker-nice": bench.workerNice = Int32(it.next() ?? "")
        case "--rtpengine": bench.rtpengine = true
        case "--rtpengine-loads":
            bench.rtpengine = true
            bench.rtpengineLoads = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
        default: throw BenchError("unknown option \(a)\n\(usage)")
        }
    }
    print(
        "relay benchmark: bridged PCMU calls relayed undecoded on one media worker, driven by the anchors' rtpload on loopback, \(bench.seconds) s per load after \(bench.warmup) s warm-up"
    )
    let rows = try await bench.run()
    print("")
    print("engine     calls   pkt/s relayed   µs CPU/pkt   core %    loss %   tick p99 µs   holds")
    for r in rows {
        print(
            String(
                format: "%@ %6d %15.0f %12.2f %8.1f %9.3f %13@   %@",
                r.engine.padding(toLength: 9, withPad: " ", startingAt: 0),
                r.calls, r.packetsPerSecond, r.microsecondsPerPacket, r.coreShare * 100, r.loss * 100,
                r.engine == "sautikit" ? "\(r.tickP99)" : "-", r.holds ? "yes" : "no"))
    }
    let held = rows.filter { $0.engine == "sautikit" && $0.holds }.map(\.packetsPerSecond).max() ?? 0
    print(String(format: "largest relay load held on one worker: %.0f pkt/s", held))
    writeJSON(
        "relay",
        [
            "load_generator": "rtpload (../shared/anchors/rtpengine)", "held_packets_per_second": held,
            "rows": rows.map {
                [
                    "engine": $0.engine, "calls": $0.calls, "packets_per_second": $0.packetsPerSecond,
                    "us_cpu_per_packet": $0.microsecondsPerPacket, "core_share": $0.coreShare, "loss": $0.loss,
                    "sender_late_slots": $0.lateSlots, "tick_lateness_p99_us": $0.tickP99,
                    "skipped_ticks": $0.skippedTicks, "holds": $0.holds,
                ] as [String: Any]
            },
        ])
}
