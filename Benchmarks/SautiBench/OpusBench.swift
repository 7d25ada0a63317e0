// Transcoded calls per core (a PCMU leg bridged to an Opus leg, both directions, 20 ms
// frames) by Opus complexity, with every tick on time; and resampler throughput.

import Foundation
import SautiAudio
import SautiMedia

#if canImport(Glibc)
    import Glibc
#endif

/// How the Opus leg of a transcoded call encodes: `narrowband` is what a bridge to a G.711
/// leg makes it do (the band limited to the 8 kHz audio it gets), `wideband` what it did
/// before (the bridge's 16 kHz frames coded as wideband), `pcm8k` a leg whose PCM runs at
/// 8 kHz (no resampling in the bridge; what a leg at `opus.sampleRate` 8000 costs);
/// `lossPercent` is what the FEC is sized for (0: the far end reports no loss, so no FEC
/// data; 10: a lossy path, or the start of a call before the first receiver report).
struct OpusPath: CustomStringConvertible {
    enum Band: String { case narrowband, wideband, pcm8k }
    var band: Band
    var lossPercent: Int

    var narrowband: Bool { band != .wideband }
    /// The Opus leg's PCM rate, in Hz.
    var rate: Int { band == .pcm8k ? 8000 : 16_000 }

    var description: String {
        let name = band == .pcm8k ? "8 kHz leg" : band.rawValue
        return name.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: "  %5d %%", lossPercent)
    }
}

/// One transcoded call's media work, as the legs and the bridge do it each tick, without
/// the sockets: the PCMU leg's jitter buffer decodes a packet, the bridge resamples 8 → 16
/// kHz, the Opus leg encodes; the Opus leg's jitter buffer decodes a packet, the bridge
/// resamples 16 → 8 kHz, the PCMU leg encodes. The resamplers run at the bridge's quality
/// (`Resampler.defaultQuality`, as `LegBridge` makes them).
final class TranscodedCall {
    var pcmuBuffer = LiveJitterBuffer(codec: .pcmu, minDelayMilliseconds: 20)
    var opusBuffer: LiveJitterBuffer
    let encoder: OpusEncoder
    /// The bridge's resamplers; nil when the Opus leg runs at 8 kHz.
    let up: Resampler?
    let down: Resampler?
    let narrow = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 160)
    let wide = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 320)
    let resampled = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 400)
    let packet = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
    let codes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 160)
    /// The next packet of the looped streams this call takes.
    var tick: Int
    /// Bytes the Opus encoder produced (so the work is not optimized away).
    var opusBytes = 0

    /// `phase`: where in the looped streams the call starts (calls in one phase would all
    /// meet the loud frames, the costly ones, in the same tick; real calls do not).
    init(complexity: Int, fec: Bool = true, path: OpusPath, phase: Int = 0) throws {
        tick = phase
        var s = OpusEncoderSettings()
        s.complexity = complexity
        s.inbandFEC = fec
        opusBuffer = LiveJitterBuffer(codec: .opus, sampleRate: path.rate, minDelayMilliseconds: 20)
        encoder = try OpusEncoder(sampleRate: path.rate, settings: s)
        encoder.setExpectedLoss(percent: path.lossPercent)
        // What `LegBridge` tells the Opus leg: its audio comes from an 8 kHz leg.
        if path.band == .narrowband { encoder.limitBand(toAudioRate: 8000) }
        up = path.rate == 8000 ? nil : try Resampler(inputRate: 8000, outputRate: path.rate)
        down = path.rate == 8000 ? nil : try Resampler(inputRate: path.rate, outputRate: 8000)
        narrow.initialize(repeating: 0)
        wide.initialize(repeating: 0)
        resampled.initialize(repeating: 0)
        codes.initialize(repeating: 0)
    }

    deinit {
        narrow.deallocate()
        wide.deallocate()
        resampled.deallocate()
        packet.deallocate()
        codes.deallocate()
    }

    /// One 20 ms tick at `now` (ns), fed with the `tick`-th packets of the two streams.
    func run(now: Int64, pcmu: [[UInt8]], opus: [[UInt8]]) {
        let i = tick
        tick += 1
        let p = pcmu[i % pcmu.count]
        let o = opus[i % opus.count]
        _ = p.withUnsafeBytes {
            pcmuBuffer.put(
                ssrc: 1, timestamp: UInt32(truncatingIfNeeded: i * 160), arrival: now, payload: $0,
                sequence: UInt16(truncatingIfNeeded: i))
        }
        _ = o.withUnsafeBytes {
            opusBuffer.put(
                ssrc: 2, timestamp: UInt32(truncatingIfNeeded: i * 960), arrival: now, payload: $0,
                sequence: UInt16(truncatingIfNeeded: i))
        }
        // PCMU leg in → bridge up → Opus leg out.
        _ = pcmuBuffer.tick(now: now + 1_000_000, into: narrow)
        if let up {
            let (_, n) = up.process(input: UnsafeBufferPointer(narrow), output: resampled)
            if n >= 320 {
                opusBytes += encoder.encode(UnsafeBufferPointer(rebasing: resampled[0..<320]), into: packet)
            }
        } else {
            opusBytes += encoder.encode(UnsafeBufferPointer(narrow), into: packet)
        }
        // Opus leg in → bridge down → PCMU leg out.
        let frame = UnsafeMutableBufferPointer(rebasing: wide[0..<(up == nil ? 160 : 320)])
        _ = opusBuffer.tick(now: now + 1_000_000, into: frame)
        var k = 160
        var pcm = UnsafeBufferPointer(frame)
        if let down {
            let (_, m) = down.process(input: UnsafeBufferPointer(frame), output: resampled)
            k = min(m, 160)
            pcm = UnsafeBufferPointer(rebasing: resampled[0..<k])
        }
        G711.encode(.ulaw, pcm, into: UnsafeMutableBufferPointer(rebasing: codes[0..<k]))
    }
}

/// The benchmark's speech: espeak-ng (en-US) at 16 and 8 kHz, a whole number of 20 ms
/// frames, about 6 s with its pauses.
func benchSpeech() throws -> (wide: [Int16], narrow: [Int16]) {
    let text =
        "The quick brown fox jumps over the lazy dog. Please call me back at your earliest convenience, my number is five five five, one two three four."
    let synthesized = try SpeechSynthesizer.shared.synthesize(text, language: "en-US")
    let rate = try SpeechSynthesizer.shared.sampleRate
    var wide = try Resampler.resample(synthesized, from: rate, to: 16_000, quality: 10)
    wide.removeLast(wide.count % 320)
    guard wide.count >= 320 * 50 else { throw BenchError("espeak-ng gave \(wide.count) samples: too little speech") }
    var narrow = try Resampler.resample(wide, from: 16_000, to: 8000, quality: 10)
    narrow.removeLast(narrow.count % 160)
    wide.removeLast(wide.count - narrow.count * 2)
    return (wide, narrow)
}

/// This thread's CPU time, in ns (`CLOCK_THREAD_CPUTIME_ID`): costs measured by it do not
/// count the time other processes hold the core.
func threadCPUNow() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func monotonicNow() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Runs `calls` on this thread on absolute 20 ms deadlines for `seconds`; returns the
/// ticks whose work ended after their deadline, and the busiest tick's share of 20 ms.
func runTicks(_ calls: [TranscodedCall], seconds: Double, pcmu: [[UInt8]], opus: [[UInt8]]) -> (
    late: Int, ticks: Int, peak: Double, cpuNanoseconds: Int64, worstWallOverCPU: Int64, firstLate: Int?,
    latePreempted: Int
) {
    let period: Int64 = 20_000_000
    var deadline = monotonicNow() + period
    let ticks = Int(seconds * 50)
    var late = 0
    var peak = 0.0
    var cpu: Int64 = 0
    var worstGap: Int64 = 0
    var firstLate: Int?
    var latePreempted = 0
    for tick in 0..<ticks {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
        let switchesBefore = involuntarySwitches()
        let start = monotonicNow()
        let cpuStart = threadCPUNow()
        for c in calls { c.run(now: start, pcmu: pcmu, opus: opus) }
        let end = monotonicNow()
        let tickCPU = threadCPUNow() - cpuStart
        cpu += tickCPU
        // Wall time the tick took beyond its own CPU time: the core was someone else's.
        worstGap = max(worstGap, (end - start) - tickCPU)
        // Time lost to others: woken after the deadline, or off the core during the work.
        let stolen = (start - deadline) + (end - start) - tickCPU
        let preempted = involuntarySwitches() != switchesBefore || stolen >= 1_000_000
        peak = max(peak, Double(end - start) / Double(period))
        if end > deadline + period {
            late += 1
            if preempted { latePreempted += 1 }
            if firstLate == nil { firstLate = tick }
        }
        deadline += period
        // A tick that overran owes nothing more: the next deadline is what is due next.
        while deadline + period < end { deadline += period }
    }
    return (late, ticks, peak, cpu, worstGap, firstLate, latePreempted)
}

/// Times this thread was taken off its core (involuntary context switches, `RUSAGE_THREAD`).
func involuntarySwitches() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD
    return usage.ru_nivcsw
}

/// The `opus` benchmark: `sauti-bench opus [--seconds S] [--complexities 0,2,5,8,10]
/// [--paths narrowband:0,narrowband:10,wideband:10] [--no-fec]`.
func opusBenchmark(_ args: [String]) throws -> [String: Any] {
    var seconds = 3.0
    var complexities = [0, 2, 5, 8, 10]
    var fec = true
    var paths = [
        OpusPath(band: .narrowband, lossPercent: 0), OpusPath(band: .narrowband, lossPercent: 10),
        OpusPath(band: .wideband, lossPercent: 10), OpusPath(band: .pcm8k, lossPercent: 0),
    ]
    var nice: Int32? = MediaEngineConfiguration().workerNice
    var rtpenginePerPacket: Double?
    var it = args.makeIterator()
    while let a = it.next() {
        switch a {
        case "--seconds": seconds = Double(it.next() ?? "") ?? seconds
        case "--complexities": complexities = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
        case "--no-fec": fec = false
        case "--rtpengine-us-per-packet":
            let v = it.next() ?? ""
            guard let x = Double(v), x > 0 else {
                throw BenchError("--rtpengine-us-per-packet \(v): need microseconds > 0")
            }
            rtpenginePerPacket = x
        case "--nice":
            let v = it.next() ?? ""
            guard let n = Int32(v), -20...19 ~= n else { throw BenchError("--nice \(v): need -20 ... 19") }
            nice = n
        case "--paths":
            let text = it.next() ?? ""
            paths = try text.split(separator: ",").map { item -> OpusPath in
                let parts = item.split(separator: ":")
                guard parts.count == 2, let band = OpusPath.Band(rawValue: String(parts[0])), let loss = Int(parts[1]),
                    0...100 ~= loss
                else {
                    throw BenchError(
                        "--paths \(text): \"\(item)\" is not BAND:LOSS (BAND narrowband, wideband or pcm8k; LOSS 0-100 %)"
                    )
                }
                return OpusPath(band: band, lossPercent: loss)
            }
        default: throw BenchError("unknown option \(a)\n\(usage)")
        }
    }
    // Streams: espeak-ng speech (with its pauses), looped. Real speech, not a sum of
    // harmonics: the SILK encoder's work follows the signal (fricatives, onsets), and a
    // synthetic signal measured about a tenth cheaper.
    let (speech16, speech8) = try benchSpeech()
    let pcmu = stride(from: 0, to: speech8.count, by: 160).map { start -> [UInt8] in
        speech8[start..<(start + 160)].map { G711.encodeULaw($0) }
    }
    var load = [Double](repeating: 0, count: 3)
    _ = getloadavg(&load, 3)
    // The ticks run at the media workers' priority (MediaEngineConfiguration.workerNice).
    var niceNote = "nice 0"
    if let nice {
        niceNote =
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) == 0
            ? "nice \(nice), as the media workers" : "nice 0 (nice \(nice) refused: not root)"
    }
    print(
        "opus benchmark: transcoded calls (PCMU leg <-> bridge <-> Opus leg at 16 kHz, 24 kb/s, FEC \(fec ? "on" : "off")), 20 ms ticks on one core"
    )
    print(
        String(
            format: "load average %.2f on %d cores (on-time checks need an idle core); ticks at %@", load[0],
            ProcessInfo.processInfo.activeProcessorCount, niceNote))
    if let r = rtpenginePerPacket {
        print(
            String(
                format:
                    "rtpengine (the anchor's transcode run, same machine): %.1f us/packet = %.1f us/call/tick (2 packets, its sockets included; ours exclude them)",
                r, 2 * r))
    }
    print(
        "Opus band   FEC for  complexity  us/call/tick (CPU)  of which encode  + decode  calls/core on libopus alone  calls/core (est)  on time for \(Int(seconds)) s  us/call/tick at it (CPU)  most wall beyond CPU in a tick (ms)  late ticks at it+5% (interfered)"
            + (rtpenginePerPacket == nil ? "" : "  rtpengine/ours")
    )
    var rows: [[String: Any]] = []
    for path in paths {
        for complexity in complexities {
            let settings: OpusEncoderSettings = {
                var s = OpusEncoderSettings()
                s.complexity = complexity
                s.inbandFEC = fec
                return s
            }()
            // The inbound Opus stream: a wideband peer at this complexity and loss.
            let enc = try OpusEncoder(sampleRate: 16_000, settings: settings)
            enc.setExpectedLoss(percent: path.lossPercent)
            var buffer = [UInt8](repeating: 0, count: 1500)
            let opus = stride(from: 0, to: speech16.count, by: 320).map { start -> [UInt8] in
                let n = speech16[start..<(start + 320)].withUnsafeBufferPointer { f in
                    buffer.withUnsafeMutableBytes { enc.encode(f, into: $0) }
                }
                return Array(buffer[0..<n])
            }
            // Cost: 200 calls for 100 ticks back to back (no sleeping), after a warm-up.
            let probe = try (0..<200).map {
                try TranscodedCall(complexity: complexity, fec: fec, path: path, phase: $0 &* 37)
            }
            var now = monotonicNow()
            for _ in 0..<10 { for c in probe { c.run(now: now, pcmu: pcmu, opus: opus) }; now += 20_000_000 }
            let start = threadCPUNow()
            for _ in 0..<100 { for c in probe { c.run(now: now, pcmu: pcmu, opus: opus) }; now += 20_000_000 }
            let perCall = Double(threadCPUNow() - start) / 1000 / 100 / 200
            let estimate = Int(20_000 / perCall)
            // Of which the Opus encoder alone: 20 ms at the leg's rate (this path's band and
            // loss), encoded 2,000 times.
            let encodeCost: Double = try {
                let e = try OpusEncoder(sampleRate: path.rate, settings: settings)
                e.setExpectedLoss(percent: path.lossPercent)
                if path.band == .narrowband { e.limitBand(toAudioRate: 8000) }
                var out = [UInt8](repeating: 0, count: 1500)
                let speech = path.rate == 8000 ? speech8 : speech16
                let n = path.rate / 50
                let t0 = threadCPUNow()
                for k in 0..<2000 {
                    let start = (k % (speech.count / n)) * n
                    _ = speech[start..<(start + n)].withUnsafeBufferPointer { f in
                        out.withUnsafeMutableBytes { e.encode(f, into: $0) }
                    }
                }
                return Double(threadCPUNow() - t0) / 1000 / 2000
            }()
            // And the Opus decoder alone: the peer's packets decoded at the leg's rate, 2,000 of
            // them. Encoder and decoder together are libopus's share of a call's tick: the
            // floor under any engine's cost at these settings on this CPU.
            let decodeCost: Double = try {
                let d = try OpusDecoder(sampleRate: path.rate)
                let out = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 5760)
                defer { out.deallocate() }
                let t0 = threadCPUNow()
                for k in 0..<2000 {
                    _ = opus[k % opus.count].withUnsafeBytes { d.decode($0, into: out) }
                }
                return Double(threadCPUNow() - t0) / 1000 / 2000
            }()
            let libopusCost = encodeCost + decodeCost
            // Verify: the largest load (from 95 % of the estimate down in 5 % steps) whose every
            // tick ends before its deadline for `seconds`.
            var verified = 0
            var lateAbove = 0
            var preemptedAbove = 0
            var peak = 0.0
            var cpuAtIt = 0.0
            var gapAtIt: Int64 = 0
            var fraction = 0.95
            while fraction > 0.3 {
                let n = Int(Double(estimate) * fraction)
                let calls = try (0..<n).map {
                    try TranscodedCall(complexity: complexity, fec: fec, path: path, phase: $0 &* 37)
                }
                // Warm: an engine's calls start at different ticks, not all in the first one
                // with their memory still untouched.
                var t = monotonicNow()
                for _ in 0..<5 { for c in calls { c.run(now: t, pcmu: pcmu, opus: opus) }; t += 20_000_000 }
                let r = runTicks(calls, seconds: seconds, pcmu: pcmu, opus: opus)
                if r.late == 0 {
                    verified = n
                    peak = r.peak
                    cpuAtIt = Double(r.cpuNanoseconds) / 1000 / Double(r.ticks) / Double(max(n, 1))
                    gapAtIt = r.worstWallOverCPU
                    break
                }
                lateAbove = r.late
                preemptedAbove = r.latePreempted
                if ProcessInfo.processInfo.environment["SAUTI_BENCH_DEBUG"] != nil {
                    print(
                        String(
                            format:
                                "  %d calls: %d late ticks (the first: tick %d; %d interfered); CPU %.1f us/call/tick, %.1f ms a tick; most wall beyond CPU in a tick %.1f ms",
                            n, r.late, r.firstLate ?? -1, r.latePreempted,
                            Double(r.cpuNanoseconds) / 1000 / Double(r.ticks) / Double(max(n, 1)),
                            Double(r.cpuNanoseconds) / 1e6 / Double(r.ticks), Double(r.worstWallOverCPU) / 1e6))
                }
                fraction -= 0.05
            }
            print(
                String(
                    format: "%@  %10d  %18.1f  %15.1f  %8.1f  %28d  %16d  %15d  %24.1f  %35.1f  %@", path.description,
                    complexity, perCall, encodeCost, decodeCost, Int(20_000 / libopusCost), estimate, verified, cpuAtIt, Double(gapAtIt) / 1e6,
                    String(repeating: " ", count: max(0, 32 - "\(lateAbove) (\(preemptedAbove))".count))
                        + "\(lateAbove) (\(preemptedAbove))")
                    + (rtpenginePerPacket.map { String(format: "  %14.2f", 2 * $0 / perCall) } ?? ""))
            rows.append([
                "band": path.band.rawValue, "narrowband": path.narrowband, "fec_loss_percent": path.lossPercent,
                "complexity": complexity,
                "cpu_microseconds_per_call_tick": perCall, "cpu_microseconds_opus_encode": encodeCost,
                "cpu_microseconds_opus_decode": decodeCost, "calls_per_core_libopus_alone": Int(20_000 / libopusCost),
                "calls_per_core_estimate": estimate, "calls_per_core_on_time": verified,
                "cpu_microseconds_per_call_tick_on_time": cpuAtIt, "late_ticks_one_step_above": lateAbove,
                "late_ticks_one_step_above_interfered": preemptedAbove,
                "peak_tick_fraction": peak, "most_wall_beyond_cpu_milliseconds": Double(gapAtIt) / 1e6,
            ])
        }
    }
    // Resampler throughput, 20 ms frames through one state per stream.
    print("")
    print("resampler (libspeexdsp, 20 ms frames)   quality  Msamples/s in  x realtime per stream")
    var resamplerRows: [[String: Any]] = []
    for (from, to) in [
        (8000, 16_000), (16_000, 8000), (8000, 48_000), (48_000, 8000), (16_000, 48_000), (48_000, 16_000),
    ] {
        for quality in [3, 5] {
            let r = try Resampler(inputRate: from, outputRate: to, quality: quality)
            let input = UnsafeMutableBufferPointer<Int16>.allocate(capacity: from / 50)
            let output = UnsafeMutableBufferPointer<Int16>.allocate(capacity: to / 50 + 16)
            defer {
                input.deallocate()
                output.deallocate()
            }
            for k in 0..<input.count { input[k] = Int16(truncatingIfNeeded: k &* 37) }
            var frames = 0
            let t0 = monotonicNow()
            var t = t0
            while t - t0 < 300_000_000 {
                for _ in 0..<100 { _ = r.process(input: UnsafeBufferPointer(input), output: output) }
                frames += 100
                t = monotonicNow()
            }
            let samplesPerSecond = Double(frames * input.count) / (Double(t - t0) / 1e9)
            print(
                String(
                    format: "  %5d -> %5d Hz                    %7d  %13.1f  %21.0f", from, to, quality,
                    samplesPerSecond / 1e6,
                    samplesPerSecond / Double(from)))
            resamplerRows.append([
                "from_hz": from, "to_hz": to, "quality": quality, "input_samples_per_second": samplesPerSecond,
            ])
        }
    }
    return [
        "transcoded_calls": rows, "inband_fec": fec, "resampler": resamplerRows, "seconds_per_verification": seconds,
        "rtpengine_microseconds_per_packet": rtpenginePerPacket as Any,
        "cpu_cores": ProcessInfo.processInfo.activeProcessorCount,
    ]
}
