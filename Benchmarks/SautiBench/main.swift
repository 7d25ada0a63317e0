import Foundation

/// `sauti-bench`: the benchmarks (`usage` below lists them). Build in release mode first;
/// see Benchmarks/README.md.
let usage = """
    usage: sauti-bench legs [--loads 1000,2000,2500] [--seconds S] [--media tone|play-record] [--compare] [--work DIR] [--worker-nice N] [--paired]
           sauti-bench relay [--loads 250,500,1000,1500] [--seconds S] [--rtpengine] [--rtpengine-loads N,…] [--work DIR] [--worker-nice N]
           sauti-bench jitter
           sauti-bench tts
           sauti-bench api [--seconds S] [--calls N] [--concurrency N]
           sauti-bench mix
           sauti-bench room [--participants 100,400] [--talkers 1|3|all] [--seconds S] [--jitter-ms MS]
           sauti-bench replay [--streams N] [--packets-per-stream N] [--repeats N] [--work DIR]
           sauti-bench g711 [--seconds S]
           sauti-bench dsl [--seconds S]
           sauti-bench opus [--seconds S] [--complexities 0,2,5,8,10] [--paths narrowband:0,wideband:10,pcm8k:0] [--nice N] [--rtpengine-us-per-packet US] [--no-fec]
           sauti-bench http [--seconds 5] [--connections 64] [--threads 1]
           sauti-bench all
    Figures are printed as a table and written as JSON to bench-out/<name>.json.
    """

func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

func writeJSON(_ name: String, _ object: [String: Any]) {
    try? FileManager.default.createDirectory(atPath: "bench-out", withIntermediateDirectories: true)
    let path = "bench-out/\(name).json"
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
        try? data.write(to: URL(fileURLWithPath: path))
        print("wrote \(path)")
    }
}

func replayBench(_ args: [String]) throws {
    var bench = ReplayBenchmark(workDirectory: "bench-out")
    var it = args.makeIterator()
    while let a = it.next() {
        switch a {
        case "--streams": bench.streams = Int(it.next() ?? "") ?? bench.streams
        case "--packets-per-stream": bench.packetsPerStream = Int(it.next() ?? "") ?? bench.packetsPerStream
        case "--work": bench.workDirectory = it.next() ?? bench.workDirectory
        case "--repeats": bench.repeats = Int(it.next() ?? "") ?? bench.repeats
        default: throw BenchError("unknown option \(a)\n\(usage)")
        }
    }
    try FileManager.default.createDirectory(atPath: bench.workDirectory, withIntermediateDirectories: true)
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let sauti = here.appendingPathComponent("sauti").path
    guard FileManager.default.isExecutableFile(atPath: sauti) else {
        throw BenchError("\(sauti) not found: run `swift build -c release` first")
    }
    let tshark = which("tshark")
    let packets = bench.streams * bench.packetsPerStream
    print("replay benchmark: \(packets) RTP packets in \(bench.streams) streams (generating the capture if needed)")
    let rows = try bench.run(sauti: sauti, tshark: tshark)
    let tsharkRate = rows.first { $0.name.hasPrefix("tshark") }?.packetsPerSecond
    print("")
    func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
        let n = max(0, w - s.count)
        return left ? s + String(repeating: " ", count: n) : String(repeating: " ", count: n) + s
    }
    print(pad("run", 30, left: true) + pad("seconds", 10) + pad("packets/s", 14) + pad("vs tshark", 11) + "  note")
    for r in rows {
        let ratio = tsharkRate.map { String(format: "%.1fx", r.packetsPerSecond / $0) } ?? "-"
        print(
            pad(r.name, 30, left: true) + pad(String(format: "%.2f", r.seconds), 10)
                + pad(String(format: "%.0f", r.packetsPerSecond), 14) + pad(ratio, 11) + "  " + r.note)
    }
    if tshark == nil { print("tshark not found: install it (scripts/setup.sh) for the comparison") }
    var json: [String: Any] = ["packets": packets, "streams": bench.streams, "cpu_cores": ProcessInfo.processInfo.activeProcessorCount]
    json["runs"] = rows.map { ["name": $0.name, "seconds": $0.seconds, "packets_per_second": $0.packetsPerSecond] }
    if let t = tsharkRate, let r = rows.first { json["report_ratio_vs_tshark"] = r.packetsPerSecond / t }
    writeJSON("replay", json)
}

func legsBench(_ args: [String]) throws {
    if !args.contains("--paired") {
        var bench = LegsExternalBenchmark()
        var compare = false
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--loads": bench.loads = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--seconds": bench.seconds = Double(it.next() ?? "") ?? bench.seconds
            case "--media":
                let name = it.next() ?? ""
                guard let m = LegsExternalBenchmark.Media(rawValue: name) else {
                    throw BenchError("--media takes tone or play-record, not \(name)\n\(usage)")
                }
                bench.media = m
            case "--compare": compare = true
            case "--work": bench.workDirectory = it.next() ?? bench.workDirectory
            case "--worker-nice": bench.workerNice = Int32(it.next() ?? "")
            default: throw BenchError("unknown option \(a)\n\(usage)")
            }
        }
        print("legs benchmark: G.711 legs on one media worker, driven by the anchors' rtpload on loopback, \(bench.seconds) s per load after \(bench.warmup) s warm-up")
        var rows: [LegsExternalBenchmark.Row] = []
        if compare {
            // Bare legs and legs playing and recording, load by load, in the same run.
            for n in bench.loads {
                for m in [LegsExternalBenchmark.Media.tone, .playRecord] {
                    var one = bench
                    one.loads = [n]
                    one.media = m
                    rows += try one.run()
                }
                let pair = rows.suffix(2)
                if pair.count == 2, let bare = pair.first, let both = pair.last {
                    print(String(format: "%6d legs: play+record costs %.2fx the CPU of bare legs (%.2f vs %.2f µs/leg/tick)", n, both.microsecondsPerLegTick / bare.microsecondsPerLegTick, both.microsecondsPerLegTick, bare.microsecondsPerLegTick))
                }
            }
        } else {
            rows = try bench.run()
        }
        for m in [LegsExternalBenchmark.Media.tone, .playRecord] where rows.contains(where: { $0.media == m }) {
            let held = rows.filter { $0.media == m && $0.holds }.map(\.legs).max() ?? 0
            print("largest load held on one core (\(m.rawValue)): \(held) legs")
        }
        writeJSON("legs", [
            "held_legs": rows.filter(\.holds).map(\.legs).max() ?? 0, "load_generator": "rtpload (../shared/anchors/rtpengine)",
            "rows": rows.map { ["media": $0.media.rawValue, "legs": $0.legs, "us_cpu_per_leg_tick": $0.microsecondsPerLegTick, "core_share": $0.coreShare, "lateness_p50_us": $0.p50, "lateness_p99_us": $0.p99, "lateness_max_us": $0.max, "late_ticks": $0.lateTicks, "loss_to_legs_percent": $0.lossToLegs, "loss_from_legs_percent": $0.lossFromLegs, "underrun_frames": $0.underrunFrames, "holds": $0.holds] as [String: Any] },
        ])
        return
    }
    var bench = LegsBenchmark()
    var it = args.makeIterator()
    while let a = it.next() {
        switch a {
        case "--loads": bench.loads = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
        case "--seconds": bench.seconds = Double(it.next() ?? "") ?? bench.seconds
        case "--paired": continue
        default: throw BenchError("unknown option \(a)\n\(usage)")
        }
    }
    print("legs benchmark: G.711 legs in pairs on one media worker, loopback, \(bench.seconds) s per load after 2 s warm-up")
    let rows = try bench.run()
    let held = rows.filter(\.holds).map(\.legs).max() ?? 0
    print("largest load held on one core: \(held) legs")
    writeJSON("legs", [
        "held_legs": held,
        "rows": rows.map { ["legs": $0.legs, "us_per_leg_tick": $0.microsecondsPerLegTick, "core_share": $0.coreShare, "lateness_p50_us": $0.p50, "lateness_p99_us": $0.p99, "lateness_max_us": $0.max, "late_ticks": $0.lateTicks, "loss_percent": $0.lossPercent, "holds": $0.holds] as [String: Any] },
    ])
}

func jitterBench() {
    print("jitter-buffer quality: ours vs libspeexdsp's, same traces (120 s each, seeded), 20 ms ticks")
    let rows = JitterBenchmark().run()
    func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
    print(pad("trace", 44) + "  late loss ours / speex      added delay ours / speex")
    for r in rows {
        print(
            pad(r.trace, 44)
                + String(format: "  %6.2f %% / %6.2f %%       %6.1f ms / %6.1f ms", r.ours.lateLoss, r.speex.lateLoss, r.ours.delay, r.speex.delay))
    }
    writeJSON("jitter", ["rows": rows.map { ["trace": $0.trace, "ours_late_loss_percent": $0.ours.lateLoss, "ours_delay_ms": $0.ours.delay, "speex_late_loss_percent": $0.speex.lateLoss, "speex_delay_ms": $0.speex.delay] as [String: Any] }])
}

func g711Bench(_ args: [String]) {
    var seconds = 2.0
    if let i = args.firstIndex(of: "--seconds"), i + 1 < args.count, let s = Double(args[i + 1]) { seconds = s }
    let result = g711Benchmark(seconds: seconds)
    writeJSON("g711", result.figures)
}

let args = Array(CommandLine.arguments.dropFirst())
do {
    switch args.first {
    case "replay": try replayBench(Array(args.dropFirst()))
    case "g711": g711Bench(Array(args.dropFirst()))
    case "legs": try legsBench(Array(args.dropFirst()))
    case "jitter": jitterBench()
    case "tts": writeJSON("tts", try ttsBenchmark())
    case "mix":
        print("mixing latency: one room tick (decode, level, seats, mix, encode, packetize; no sockets), G.711, K = 3")
        var rows = MixBenchmark().run()
        rows += MixBenchmark(sizes: [10, 100, 1000], opus: true).run().map {
            var r = $0
            r.speaking = "opus " + r.speaking
            return r
        }
        let big = rows.filter { $0.participants == 10_000 && !$0.speaking.hasPrefix("opus") }.map(\.p99).max() ?? 0
        print(String(format: "goal: a 10,000-participant G.711 room under 5 ms per tick: p99 %.2f ms, %@", big / 1000, big < 5000 ? "met" : "not met"))
        let perParticipant = rows.filter { $0.participants == 10_000 && !$0.speaking.hasPrefix("opus") }.map { $0.p99 / 10_000 }.max() ?? 1
        print(String(format: "participants one core holds with every tick under 20 ms (from the 10,000 rows' p99): about %.0f", 20_000 / perParticipant))
        writeJSON("mix", ["rows": rows.map { ["participants": $0.participants, "speaking": $0.speaking, "p50_us": $0.p50, "p99_us": $0.p99, "max_us": $0.max] as [String: Any] }])
        writeMixPlot(rows, to: "bench-out/mix.svg")
        print("plot: bench-out/mix.svg")
    case "api":
        var bench = APIBenchmark()
        var it = args.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--seconds": bench.seconds = Double(it.next() ?? "") ?? bench.seconds
            case "--calls": bench.calls = Int(it.next() ?? "") ?? bench.calls
            case "--concurrency": bench.concurrency = Int(it.next() ?? "") ?? bench.concurrency
            default: throw BenchError("unknown option \(a)\n\(usage)")
            }
        }
        writeJSON("api", try await bench.run())
    case "room": writeJSON("room", try roomBenchmark(Array(args.dropFirst())))
    case "relay": try await relayBench(Array(args.dropFirst()))
    case "dsl": writeJSON("dsl", try dslBenchmark(Array(args.dropFirst())))
    case "opus": writeJSON("opus", try opusBenchmark(Array(args.dropFirst())))
    case "http": writeJSON("http", try httpBenchmark(Array(args.dropFirst())))
    case "all":
        g711Bench([])
        try replayBench([])
        jitterBench()
        writeJSON("tts", try ttsBenchmark())
        try legsBench([])
    default:
        print(usage)
        exit(args.first == nil || args.first == "--help" ? 0 : 2)
    }
} catch {
    FileHandle.standardError.write(Data("sauti-bench: \(error)\n".utf8))
    exit(1)
}
