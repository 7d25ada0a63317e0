import CSautiAllocCounter
import Foundation
import SautiAudio
import SautiMedia
import Testing

/// The media plane's steady state allocates nothing: a counter wraps malloc and friends
/// and counts calls made on the media worker threads; after warm-up, ten seconds of legs
/// receiving, decoding, playing a tone, encoding, sending, with RTCP, must add none.
@Suite(.serialized) struct SteadyStateAllocationTests {
    @Test("ten seconds of running legs allocate nothing on the media workers", .timeLimit(.minutes(1)))
    func noAllocation() async throws {
        var c = MediaEngineConfiguration(workers: 2)
        c.firstPort = 32_000
        c.lastPort = 32_999
        c.onWorkerThreadStart = { sauti_alloc_count_this_thread(1) }
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        var legs: [MediaLeg] = []
        for _ in 0..<20 {
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
        }
        // Warm-up: latching, first RTCP, jitter buffers filled, statistics published.
        try await Task.sleep(for: .seconds(3))
        if ProcessInfo.processInfo.environment["SAUTI_ALLOC_TRACE"] != nil { sauti_alloc_trace_next(5) }
        let before = sauti_alloc_count()
        let received = legs.map(\.statistics.packetsReceived).reduce(0, +)
        try await Task.sleep(for: .seconds(10))
        let after = sauti_alloc_count()
        let receivedAfter = legs.map(\.statistics.packetsReceived).reduce(0, +)
        #expect(receivedAfter - received > 40 * 400, "the legs were busy: \(receivedAfter - received) packets")
        #expect(after - before == 0, "\(after - before) allocations on the media workers in 10 s of steady state")
        #expect(before > 0, "the counter sees the workers' allocations (set-up allocates)")
        for l in legs { l.close() }
    }
}
