import CSautiAllocCounter
import Foundation
import Synchronization
import SautiAudio
import SautiMedia
import Testing

/// The media plane's steady state allocates nothing with players running: legs playing
/// files of every format (resampled, looping) read only their rings on the workers; the
/// decoding and resampling on the I/O thread is not counted. Ports 36800-36999.
@Suite(.serialized) struct PlayerAllocationTests {
    @Test(
        "five seconds of legs playing files (every format, resampled, looping) allocate nothing on the media workers",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)), .timeLimit(.minutes(1)))
    func noAllocationWithPlayers() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Sources: a tone sweep at 16 and 48 kHz (sox), made into each format by ffmpeg.
        var sources: [Int: String] = [:]
        for rate in [16000, 48000] {
            let path = dir + "/sweep\(rate).wav"
            try await PlayerFiles.run(
                "sox",
                [
                    "-D", "-n", "-r", String(rate), "-c", "1", "-b", "16", path, "synth", "2", "sine", "200-3000",
                    "vol", "0.5",
                ],
                in: dir)
            sources[rate] = path
        }
        var files: [String] = []
        for format in PlayerFormat.all {
            files.append(try await PlayerFiles.make(format, from: sources[format.sourceRate]!, seconds: 2, in: dir))
        }
        files.append(try await PlayerFiles.tone(frequency: 1000, seconds: 0.7, rate: 8000, in: dir))  // no resampling

        var c = MediaEngineConfiguration(workers: 2)
        c.firstPort = 36_800
        c.lastPort = 36_999
        c.onWorkerThreadStart = { sauti_alloc_count_this_thread(2) }
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        var legs: [MediaLeg] = []
        var playbacks: [Playback] = []
        for i in 0..<20 {
            var cb = LegConfiguration(codec: .pcmu)
            cb.rtcpIntervalSeconds = 1
            let b = try engine.openLeg(cb)
            var ca = LegConfiguration(codec: i % 2 == 0 ? .pcmu : .pcma)
            ca.codec = .pcmu
            ca.payloadType = 0
            ca.remote = b.local
            ca.rtcpIntervalSeconds = 1
            let a = try engine.openLeg(ca)
            playbacks.append(a.play(file: files[i % files.count], loop: 0))
            // Half the B legs play a file back, half a tone.
            if i % 2 == 0 {
                playbacks.append(b.play(file: files[(i + 3) % files.count], loop: 0))
            } else {
                b.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -12)))
            }
            legs += [a, b]
        }
        // Warm-up: latching, first RTCP, rings filled, every file looped at least once.
        try await Task.sleep(for: .seconds(3))
        if ProcessInfo.processInfo.environment["SAUTI_ALLOC_TRACE"] != nil { sauti_alloc_trace_next(5) }
        let before = sauti_alloc_count_group(2)
        let playedBefore = playbacks.map(\.samplesPlayed).reduce(0, +)
        let underrunsBefore = playbacks.map(\.underrunSamples).reduce(0, +)
        let received = legs.map(\.statistics.packetsReceived).reduce(0, +)
        try await Task.sleep(for: .seconds(5))
        let after = sauti_alloc_count_group(2)
        let played = playbacks.map(\.samplesPlayed).reduce(0, +) - playedBefore
        let underruns = playbacks.map(\.underrunSamples).reduce(0, +) - underrunsBefore
        let receivedAfter = legs.map(\.statistics.packetsReceived).reduce(0, +)
        print(
            "player allocation: \(after - before) allocations on the workers in 5 s; \(playbacks.count) players sent "
                + "\(played) samples (underrun \(underruns)); \(receivedAfter - received) packets received")
        #expect(after - before == 0, "\(after - before) allocations on the media workers in 5 s of players running")
        #expect(before > 0, "the counter sees the workers' allocations (set-up allocates)")
        #expect(played >= playbacks.count * 5 * 8000 * 9 / 10, "the players were playing: \(played) samples")
        #expect(underruns == 0, "the I/O thread kept \(playbacks.count) rings filled")
        #expect(receivedAfter - received > 40 * 200, "the legs were busy")
        for l in legs { l.close() }
    }

    @Test("Resampler.process and flush allocate nothing after init")
    func resamplerAllocatesNothing() async throws {
        let resamplers = try [(48000, 8000), (8000, 48000), (22050, 8000), (16000, 8000)].map {
            try Resampler(inputRate: $0.0, outputRate: $0.1)
        }
        let input = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 4410)
        let output = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 30_000)
        defer {
            input.deallocate()
            output.deallocate()
        }
        for i in 0..<input.count { input[i] = Int16(truncatingIfNeeded: i &* 37) }
        nonisolated(unsafe) let rs = resamplers
        nonisolated(unsafe) let (inp, out) = (input, output)
        let result = AllocationResult()
        // On a thread of its own, so that only these calls are counted; awaited, so no pool
        // thread is parked meanwhile.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                // A first pass warms the Swift runtime's caches (metadata, witness tables) that
                // this unoptimized test code fills on first use; the second pass is counted.
                func pass() {
                    // An index loop: `for r in rs` boxes each element in this unoptimized code.
                    var k = 0
                    while k < rs.count {
                        let r = rs[k]
                        k += 1
                        r.reset()
                        for _ in 0..<20 {
                            var taken = 0
                            while taken < inp.count {
                                taken +=
                                    r.process(input: UnsafeBufferPointer(rebasing: inp[taken...]), output: out).consumed
                            }
                        }
                        while r.flush(into: UnsafeMutableBufferPointer(rebasing: out[..<97])) > 0 {}
                    }
                }
                sauti_alloc_count_this_thread(3)
                pass()
                let start = sauti_alloc_count_group(3)
                pass()
                result.count.store(sauti_alloc_count_group(3) - start, ordering: .relaxed)
                sauti_alloc_count_this_thread(0)
                done.resume()
            }
            thread.start()
        }
        let counted = result.count.load(ordering: .relaxed)
        #expect(counted == 0, "\(counted) allocations in process and flush")
    }
}

/// A count handed back from a counting thread.
private final class AllocationResult: Sendable {
    let count = Atomic<UInt64>(0)
}
