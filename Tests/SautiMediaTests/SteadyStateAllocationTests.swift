import CSautiAllocCounter
import Foundation
import SautiAudio
import SautiMedia
import Testing

/// The media plane's steady state allocates nothing: a counter wraps malloc and friends
/// and counts calls made on the media worker threads; after warm-up, ten seconds of legs
/// receiving, decoding, playing a tone, encoding, sending, with RTCP, ten of them recording
/// (mono and stereo, PCM and G.711; the files are written on the I/O thread, which may
/// allocate), must add none.
@Suite(.serialized) struct SteadyStateAllocationTests {
    @Test("ten seconds of running and recording legs allocate nothing on the media workers", .timeLimit(.minutes(1)))
    func noAllocation() async throws {
        var c = MediaEngineConfiguration(workers: 2)
        c.firstPort = 32_000
        c.lastPort = 32_999
        c.onWorkerThreadStart = { sauti_alloc_count_this_thread(1) }
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sauti-alloc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var legs: [MediaLeg] = []
        var recordings: [String] = []
        for i in 0..<20 {
            var cb = LegConfiguration(codec: .pcmu)
            cb.rtcpIntervalSeconds = 1
            let b = try engine.openLeg(cb)
            var ca = LegConfiguration(codec: .pcma)
            ca.codec = .pcmu
            ca.payloadType = 0
            ca.remote = b.local
            ca.rtcpIntervalSeconds = 1
            let a = try engine.openLeg(ca)
            a.play(.tone(ToneSpec(frequenciesHz: [440, 480], levelDBFS: -12)))
            b.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -12)))
            legs += [a, b]
            if i < 10 {
                // Every recording feature that runs per tick: stereo interleaving, silence
                // detection and timeout, max length, finish keys, the beep (in the warm-up).
                let path = "\(dir)/rec\(i).wav"
                recordings.append(path)
                b.record(
                    RecordingSpec(
                        path: path, channels: i % 2 == 0 ? .both : .caller,
                        encoding: [WAVEncoding.pcm16, .ulaw, .alaw][i % 3], maxLengthMilliseconds: 60_000,
                        silenceTimeoutMilliseconds: 30_000, finishOnKeys: ["#"], beepMilliseconds: i % 4 == 0 ? 200 : 0))
            }
        }
        // Warm-up: latching, first RTCP, jitter buffers filled, statistics published.
        try await Task.sleep(for: .seconds(3))
        if ProcessInfo.processInfo.environment["SAUTI_ALLOC_TRACE"] != nil { sauti_alloc_trace_next(5) }
        let before = sauti_alloc_count_group(1)
        let received = legs.map(\.statistics.packetsReceived).reduce(0, +)
        try await Task.sleep(for: .seconds(10))
        let after = sauti_alloc_count_group(1)
        let receivedAfter = legs.map(\.statistics.packetsReceived).reduce(0, +)
        #expect(receivedAfter - received > 40 * 400, "the legs were busy: \(receivedAfter - received) packets")
        #expect(after - before == 0, "\(after - before) allocations on the media workers in 10 s of steady state")
        #expect(before > 0, "the counter sees the workers' allocations (set-up allocates)")
        for l in legs { l.close() }
        // The recordings ran through the window: each file holds about 13 s.
        try await Task.sleep(for: .milliseconds(500))
        for path in recordings {
            let (info, _) = try WAVReader.read(path: path)
            #expect(info.frames >= 12 * 8000, "\(path): \(info.frames) frames")
        }
    }
}

/// A conference room's steady state allocates nothing either: a room at 16 kHz (an Opus
/// party made it so) with two G.711 talkers and listeners on the shared payloads of every
/// kind — µ-law, A-law, resampled to 8 kHz, and Opus — and the room recording.
@Suite(.serialized) struct RoomAllocationTests {
    @Test("five seconds of a mixed-rate room with shared payloads and a recording allocate nothing on the worker", .timeLimit(.minutes(1)))
    func noAllocation() async throws {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = 61_500
        c.lastPort = 61_599
        // Counter group 12: its own, since suites run in parallel.
        c.onWorkerThreadStart = { sauti_alloc_count_this_thread(12) }
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sauti-room-alloc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let room = engine.openRoom()
        var legs: [MediaLeg] = []
        let parties: [(AudioCodec, Double)] = [(.pcmu, 500), (.pcma, 900), (.opus, 0), (.opus, 0), (.pcmu, 0), (.pcma, 0)]
        for (codec, tone) in parties {
            var r = LegConfiguration(codec: codec)
            r.rtcpIntervalSeconds = 1
            let roomLeg = try engine.openLeg(r)
            var p = LegConfiguration(codec: codec, remote: roomLeg.local)
            p.rtcpIntervalSeconds = 1
            let peer = try engine.openLeg(p)
            if tone > 0 { peer.play(.tone(ToneSpec(frequenciesHz: [tone], levelDBFS: -12))) }
            try await room.join(roomLeg)
            legs += [roomLeg, peer]
        }
        let recording = Task { await room.record(RecordingSpec(path: dir + "/room.wav", trimSilence: false)) }
        try await Task.sleep(for: .seconds(3))
        let state = await room.state()
        #expect(state.sampleRate == 16_000 && state.participants.filter(\.talker).count == 2)
        let before = sauti_alloc_count_group(12)
        let sent = legs.map(\.statistics.packetsSent).reduce(0, +)
        try await Task.sleep(for: .seconds(5))
        let after = sauti_alloc_count_group(12)
        let sentAfter = legs.map(\.statistics.packetsSent).reduce(0, +)
        #expect(sentAfter - sent > 10 * 200, "the legs were busy: \(sentAfter - sent) packets")
        #expect(after - before == 0, "\(after - before) allocations on the media worker in 5 s of a room")
        room.close()
        let outcome = await recording.value
        #expect(outcome.durationSeconds > 7)
        for l in legs { l.close() }
    }
}
