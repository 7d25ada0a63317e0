import Foundation
import SautiAudio
import SautiMedia

/// Legs per core with an external load generator: the anchors' `rtpload` (C, one thread,
/// its own core; the same generator the rtpengine anchor drives rtpengine with), built from
/// `../shared/anchors/rtpengine/rtpload.c` at run time. Each of its endpoints sends PCMU to
/// one of our legs every 20 ms and counts what the leg sends back; our legs latch onto it,
/// jitter-buffer and decode what comes, and send a tone back. Our CPU is the process's
/// utime + stime over the window as rtpload reads it from /proc, the kernel's share of our
/// sockets included; the generator's own kernel work is charged to it, on the other core.
struct LegsExternalBenchmark {
    var loads = [1000, 2000, 2500, 3000]
    var seconds = 10.0
    var warmup = 2.0
    var workDirectory = "bench-out"
    /// What each leg sends and keeps.
    var media = Media.tone
    /// The workers' nice value (`--worker-nice`; the engine's default, -10, needs root).
    var workerNice: Int32? = MediaEngineConfiguration().workerNice

    enum Media: String {
        /// A tone back; nothing kept (bare legs).
        case tone
        /// A 10 s 8 kHz WAV prompt played in a loop (`play(file:loop: 0)`) and the caller
        /// recorded to a WAV (`record`, 16-bit, no trimming): both verbs at once on every leg.
        case playRecord = "play-record"
    }

    struct Row {
        var media: Media
        var legs: Int
        var microsecondsPerLegTick: Double
        var coreShare: Double
        var p50: Int
        var p99: Int
        var max: Int
        var lateTicks: Int
        var lossToLegs: Double
        var lossFromLegs: Double
        /// Frames of playback silence because the I/O thread fell behind (play-record).
        var underrunFrames: Int
        var holds: Bool
    }

    static func findAnchor() -> String? {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<3 {
            let p = dir.appendingPathComponent("../shared/anchors/rtpengine/rtpload.c").standardized.path
            if FileManager.default.fileExists(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    func buildLoadGenerator() throws -> String {
        guard let source = Self.findAnchor() else { throw BenchError("../shared/anchors/rtpengine/rtpload.c not found") }
        let out = workDirectory + "/rtpload"
        let (_, status) = try spawnAndWait("/usr/bin/gcc", ["-O2", "-o", out, source])
        guard status == 0 else { throw BenchError("gcc could not build rtpload") }
        return out
    }

    func run() throws -> [Row] {
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let rtpload = try buildLoadGenerator()
        // Payloads: 50 frames of µ-law speech-like tone, as [u16 LE length][bytes].
        var payload = Data()
        var gen = ToneGenerator(ToneSpec(frequenciesHz: [300, 1100], levelDBFS: -16), sampleRate: 8000)
        var pcm = [Int16](repeating: 0, count: 160)
        var codes = [UInt8](repeating: 0, count: 160)
        for _ in 0..<50 {
            pcm.withUnsafeMutableBufferPointer { gen.fill($0) }
            pcm.withUnsafeBufferPointer { p in codes.withUnsafeMutableBufferPointer { G711.encode(.ulaw, p, into: $0) } }
            payload.append(contentsOf: [160, 0])
            payload.append(contentsOf: codes)
        }
        let payloadPath = workDirectory + "/rtpload-pcmu.bin"
        try payload.write(to: URL(fileURLWithPath: payloadPath))
        let prompt = workDirectory + "/prompt-8k.wav"
        let recordings = workDirectory + "/recordings"
        if media == .playRecord {
            // The prompt: 10 s of a two-tone warble at 8 kHz, 16-bit.
            var g = ToneGenerator(ToneSpec(frequenciesHz: [440, 620], levelDBFS: -14), sampleRate: 8000)
            var samples = [Int16](repeating: 0, count: 80_000)
            samples.withUnsafeMutableBufferPointer { g.fill($0) }
            let w = try WAVWriter(path: prompt, sampleRate: 8000, channels: 1)
            try samples.withUnsafeBufferPointer { try w.write($0) }
            try w.close()
            try FileManager.default.createDirectory(atPath: recordings, withIntermediateDirectories: true)
        }

        var rows: [Row] = []
        for n in loads {
            var c = MediaEngineConfiguration(workers: 1)
            c.workerNice = workerNice
            c.firstPort = 40_000
            c.lastPort = 59_999
            let engine = try MediaEngine(configuration: c)
            var legs: [MediaLeg] = []
            var playbacks: [Playback] = []
            var lines = ""
            for i in 0..<n {
                var config = LegConfiguration(codec: .pcmu)
                config.mediaTimeoutMilliseconds = 0
                let leg = try engine.openLeg(config)
                switch media {
                case .tone:
                    leg.play(.tone(ToneSpec(frequenciesHz: [440], levelDBFS: -12)))
                case .playRecord:
                    playbacks.append(leg.play(file: prompt, loop: 0))
                    leg.record(RecordingSpec(path: "\(recordings)/leg-\(i).wav", trimSilence: false))
                }
                legs.append(leg)
                lines += "\(10_000 + i) \(leg.local.port) \(1000 + i) 0 160 0 0\n"
            }
            let endpoints = workDirectory + "/rtpload-endpoints.txt"
            try lines.write(toFile: endpoints, atomically: true, encoding: .utf8)
            let t0 = engine.tickTiming[0]
            let out = workDirectory + "/rtpload-out.json"
            let pid = ProcessInfo.processInfo.processIdentifier
            let (_, status) = try spawnAndWait(
                "/bin/sh", ["-c", "\(rtpload) -e \(endpoints) -P 0:\(payloadPath) -d \(seconds + warmup) -w \(warmup) -g 500 -p \(pid) > \(out)"])
            let t1 = engine.tickTiming[0]
            // Frames a player's ring had run dry for: the I/O thread fell behind.
            let underruns = playbacks.reduce(0) { $0 + $1.underrunFrames }
            for l in legs { l.close() }
            engine.shutdown()
            if media == .playRecord {
                try? FileManager.default.removeItem(atPath: recordings)
                try FileManager.default.createDirectory(atPath: recordings, withIntermediateDirectories: true)
            }
            guard status == 0, let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any] else {
                throw BenchError("rtpload failed at \(n) legs (exit \(status))")
            }
            let window = json["window_s"] as? Double ?? seconds
            let cpu = json["rtpengine_cpu_s"] as? Double ?? 0
            let sentWin = Double(json["sent_win"] as? Int ?? 0)
            let recvWin = Double(json["recv_win"] as? Int ?? 0)
            // What rtpload sent in the window vs what it got back in the window: both
            // directions pass through our legs; the legs' own counters split them.
            let legsReceived = legs.reduce(0) { $0 + $1.statistics.packetsReceived }
            let sentTotal = Double(json["sent"] as? Int ?? 0)
            var w = TickStatistics()
            w.ticks = t1.ticks - t0.ticks
            w.lateTicks = t1.lateTicks - t0.lateTicks
            for i in w.latenessBuckets.indices { w.latenessBuckets[i] = t1.latenessBuckets[i] - t0.latenessBuckets[i] }
            let lossTo = sentTotal > 0 ? max(0, sentTotal - Double(legsReceived)) * 100 / sentTotal : 0
            let lossFrom = sentWin > 0 ? max(0, sentWin - recvWin) * 100 / sentWin : 0
            let p99 = w.latenessPercentile(0.99)
            let row = Row(
                media: media, legs: n, microsecondsPerLegTick: cpu / (window * 50 * Double(n)) * 1e6, coreShare: cpu / window,
                p50: w.latenessPercentile(0.5), p99: p99, max: t1.maxLatenessMicroseconds, lateTicks: w.lateTicks,
                lossToLegs: lossTo, lossFromLegs: lossFrom, underrunFrames: underruns,
                holds: w.lateTicks == 0 && p99 <= 2000 && lossTo < 0.1 && lossFrom < 0.1 && underruns == 0)
            rows.append(row)
            print(String(format: "%@  %6d legs  %6.2f µs CPU/leg/tick  %5.1f%% core  lateness p50 %5d µs  p99 %6d µs  max %7d µs  late ticks %4d  loss in %.2f%% out %.2f%%  underruns %d  %@", media.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0), row.legs, row.microsecondsPerLegTick, row.coreShare * 100, row.p50, row.p99, row.max, row.lateTicks, row.lossToLegs, row.lossFromLegs, row.underrunFrames, row.holds ? "holds" : "does not hold"))
            if !row.holds && row.coreShare > 1.0 { break }
        }
        return rows
    }
}
