// Transcoded calls per core (a PCMU leg bridged to an Opus leg, both directions, 20 ms
// frames) by Opus complexity, with every tick on time; and resampler throughput.

import Foundation
import SautiAudio
import SautiMedia

#if canImport(Glibc)
    import Glibc
#endif

/// One transcoded call's media work, as the legs and the bridge do it each tick, without
/// the sockets: the PCMU leg's jitter buffer decodes a packet, the bridge resamples 8 → 16
/// kHz, the Opus leg encodes; the Opus leg's jitter buffer decodes a packet, the bridge
/// resamples 16 → 8 kHz, the PCMU leg encodes.
final class TranscodedCall {
    var pcmuBuffer = LiveJitterBuffer(codec: .pcmu, minDelayMilliseconds: 20)
    var opusBuffer = LiveJitterBuffer(codec: .opus, sampleRate: 16_000, minDelayMilliseconds: 20)
    let encoder: OpusEncoder
    let up: Resampler
    let down: Resampler
    let narrow = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 160)
    let wide = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 320)
    let resampled = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 400)
    let packet = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
    let codes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 160)
    var tick = 0
    /// Bytes the Opus encoder produced (so the work is not optimized away).
    var opusBytes = 0

    init(complexity: Int, fec: Bool = true) throws {
        var s = OpusEncoderSettings()
        s.complexity = complexity
        s.inbandFEC = fec
        encoder = try OpusEncoder(sampleRate: 16_000, settings: s)
        up = try Resampler(inputRate: 8000, outputRate: 16_000, quality: 3)
        down = try Resampler(inputRate: 16_000, outputRate: 8000, quality: 3)
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
        let (_, n) = up.process(input: UnsafeBufferPointer(narrow), output: resampled)
        if n >= 320 {
            opusBytes += encoder.encode(UnsafeBufferPointer(rebasing: resampled[0..<320]), into: packet)
        }
        // Opus leg in → bridge down → PCMU leg out.
        _ = opusBuffer.tick(now: now + 1_000_000, into: wide)
        let (_, m) = down.process(input: UnsafeBufferPointer(wide), output: resampled)
        let k = min(m, 160)
        G711.encode(
            .ulaw, UnsafeBufferPointer(rebasing: resampled[0..<k]),
            into: UnsafeMutableBufferPointer(rebasing: codes[0..<k]))
    }
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
    late: Int, ticks: Int, peak: Double
) {
    let period: Int64 = 20_000_000
    var deadline = monotonicNow() + period
    let ticks = Int(seconds * 50)
    var late = 0
    var peak = 0.0
    for _ in 0..<ticks {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
        let start = monotonicNow()
        for c in calls { c.run(now: start, pcmu: pcmu, opus: opus) }
        let end = monotonicNow()
        peak = max(peak, Double(end - start) / Double(period))
        if end > deadline + period { late += 1 }
        deadline += period
        // A tick that overran owes nothing more: the next deadline is what is due next.
        while deadline + period < end { deadline += period }
    }
    return (late, ticks, peak)
}

/// The `opus` benchmark: `sauti-bench opus [--seconds S] [--complexities 0,2,5,8,10]`.
func opusBenchmark(_ args: [String]) throws -> [String: Any] {
    var seconds = 3.0
    var complexities = [0, 2, 5, 8, 10]
    var fec = true
    var it = args.makeIterator()
    while let a = it.next() {
        switch a {
        case "--seconds": seconds = Double(it.next() ?? "") ?? seconds
        case "--complexities": complexities = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
        case "--no-fec": fec = false
        default: throw BenchError("unknown option \(a)\n\(usage)")
        }
    }
    // Streams: 2 s of speech-like audio (voiced harmonics and pauses), looped.
    let speech16 = (0..<32_000).map { i -> Int16 in
        let t = Double(i) / 16_000
        let envelope = max(0, sin(2 * .pi * 1.5 * t))
        return Int16(
            8000 * envelope * (sin(2 * .pi * 140 * t) + 0.5 * sin(2 * .pi * 280 * t) + 0.3 * sin(2 * .pi * 900 * t))
                / 1.8)
    }
    var speech8: [Int16] = []
    for k in stride(from: 0, to: speech16.count, by: 2) { speech8.append(speech16[k]) }
    let pcmu = stride(from: 0, to: speech8.count, by: 160).map { start -> [UInt8] in
        speech8[start..<(start + 160)].map { G711.encodeULaw($0) }
    }
    var load = [Double](repeating: 0, count: 3)
    _ = getloadavg(&load, 3)
    print(
        "opus benchmark: transcoded calls (PCMU leg <-> bridge <-> Opus leg, 16 kHz, 24 kb/s, FEC \(fec ? "on" : "off")), 20 ms ticks on one core"
    )
    print(
        String(
            format: "load average %.2f on %d cores (on-time checks need an idle core)", load[0],
            ProcessInfo.processInfo.activeProcessorCount))
    print(
        "complexity  us/call/tick (CPU)  of which encode  calls/core (est)  on time for \(Int(seconds)) s  late ticks at it+5%"
    )
    var rows: [[String: Any]] = []
    for complexity in complexities {
        // The inbound Opus stream, encoded at this complexity (as a peer at it would send).
        let enc = try OpusEncoder(
            sampleRate: 16_000,
            settings: {
                var s = OpusEncoderSettings(); s.complexity = complexity; s.inbandFEC = fec; return s
            }())
        var buffer = [UInt8](repeating: 0, count: 1500)
        let opus = stride(from: 0, to: speech16.count, by: 320).map { start -> [UInt8] in
            let n = speech16[start..<(start + 320)].withUnsafeBufferPointer { f in
                buffer.withUnsafeMutableBytes { enc.encode(f, into: $0) }
            }
            return Array(buffer[0..<n])
        }
        // Cost: 200 calls for 100 ticks back to back (no sleeping), after a warm-up.
        let probe = try (0..<200).map { _ in try TranscodedCall(complexity: complexity, fec: fec) }
        var now = monotonicNow()
        for _ in 0..<10 { for c in probe { c.run(now: now, pcmu: pcmu, opus: opus) }; now += 20_000_000 }
        let start = threadCPUNow()
        for _ in 0..<100 { for c in probe { c.run(now: now, pcmu: pcmu, opus: opus) }; now += 20_000_000 }
        let perCall = Double(threadCPUNow() - start) / 1000 / 100 / 200
        let estimate = Int(20_000 / perCall)
        // Of which the Opus encoder alone: 20 ms at 16 kHz, encoded 2,000 times.
        let encodeCost: Double = try {
            let e = try OpusEncoder(
                sampleRate: 16_000,
                settings: {
                    var s = OpusEncoderSettings(); s.complexity = complexity; s.inbandFEC = fec; return s
                }())
            var out = [UInt8](repeating: 0, count: 1500)
            let t0 = threadCPUNow()
            for k in 0..<2000 {
                let start = (k % 100) * 320
                _ = speech16[start..<(start + 320)].withUnsafeBufferPointer { f in
                    out.withUnsafeMutableBytes { e.encode(f, into: $0) }
                }
            }
            return Double(threadCPUNow() - t0) / 1000 / 2000
        }()
        // Verify: the largest load (from 95 % of the estimate down in 5 % steps) whose every
        // tick ends before its deadline for `seconds`.
        var verified = 0
        var lateAbove = 0
        var peak = 0.0
        var fraction = 0.95
        while fraction > 0.3 {
            let n = Int(Double(estimate) * fraction)
            let calls = try (0..<n).map { _ in try TranscodedCall(complexity: complexity, fec: fec) }
            let r = runTicks(calls, seconds: seconds, pcmu: pcmu, opus: opus)
            if r.late == 0 {
                verified = n
                peak = r.peak
                break
            }
            lateAbove = r.late
            fraction -= 0.05
        }
        print(
            String(
                format: "%10d  %18.1f  %15.1f  %16d  %17d  %19d", complexity, perCall, encodeCost, estimate, verified,
                lateAbove))
        rows.append([
            "complexity": complexity, "cpu_microseconds_per_call_tick": perCall,
            "cpu_microseconds_opus_encode": encodeCost, "calls_per_core_estimate": estimate,
            "calls_per_core_on_time": verified, "late_ticks_one_step_above": lateAbove, "peak_tick_fraction": peak,
        ])
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
        "cpu_cores": ProcessInfo.processInfo.activeProcessorCount,
    ]
}
