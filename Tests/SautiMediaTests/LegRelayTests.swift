import CSautiAllocCounter
import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import SautiTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension UDPTestSocket {
    /// Every datagram waiting on the socket, without blocking.
    func receiveAll() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { return out }
            out.append(Array(buffer[0..<n]))
        }
    }
}

/// The relay: same-codec legs joined without decoding, on real loopback UDP with raw
/// sockets as both far ends. Ports 44000–44199.
@Suite(.serialized) struct LegRelayTests {
    static func engine(workers: Int = 2, first: UInt16 = 44_000, onStart: (@Sendable () -> Void)? = nil) throws
        -> MediaEngine
    {
        var c = MediaEngineConfiguration(workers: workers)
        c.firstPort = first
        c.lastPort = first + 99
        c.onWorkerThreadStart = onStart
        return try MediaEngine(configuration: c)
    }

    @Test(
        "PCMU both sides: packets relayed undecoded, each far end sees one continuous stream across the switch from ringback to relay, an RFC 4733 digit passes through",
        .timeLimit(.minutes(1)))
    func relayedUndecoded() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let caller = try UDPTestSocket(bindTo: Endpoint(address: .v4(0x7F00_0001), port: 44_190))
        let callee = try UDPTestSocket(bindTo: Endpoint(address: .v4(0x7F00_0001), port: 44_192))
        var ca = LegConfiguration(codec: .pcmu, remote: Endpoint(address: .v4(0x7F00_0001), port: 44_190))
        ca.mediaTimeoutMilliseconds = 0
        var cb = LegConfiguration(codec: .pcmu, remote: Endpoint(address: .v4(0x7F00_0001), port: 44_192))
        cb.mediaTimeoutMilliseconds = 0
        cb.telephoneEventPayloadType = 96  // the callee numbers telephone-event differently
        let a = try engine.openLeg(ca)
        let b = try engine.openLeg(cb)
        #expect(a.workerIndex != b.workerIndex, "the legs start on different workers")
        // Ringback to the caller, a prompt to the callee, before the bridge.
        a.play(.tone(ToneSpec.ringback(country: "us")!))
        b.play(.tone(ToneSpec(frequenciesHz: [1000])))

        // Each far end sends 20 ms PCMU packets; the payload numbers the packet and holds
        // µ-law 0x7F, which a decode and re-encode would turn into 0xFF.
        @Sendable func payload(_ k: Int, _ tag: UInt8) -> [UInt8] {
            [tag, UInt8(k >> 8), UInt8(k & 0xFF)] + [UInt8](repeating: 0x7F, count: 80)
                + (0..<77).map { UInt8(($0 * 7 + k) & 0xFF) }
        }
        let sentByCaller = Dictionary(uniqueKeysWithValues: (0..<100).map { (payload($0, 0xA1), $0) })
        let relayStartPacket = 25
        // The far ends send on a thread of their own, paced by the clock: beside the whole
        // suite a sleep in the test's task pool can come hundreds of ms late, and a pause in
        // what they send is not what this test is about. Read as it comes (a socket's buffer
        // holds only a few seconds of packets).
        let ends = RelayFarEnds(caller: caller, callee: callee, calleeSequence: 7)
        let (aLocal, bLocal) = (a.local, b.local)
        func send(_ range: Range<Int>) async {
            await pacedOnThread(range.count) { i in
                let k = range.lowerBound + i
                // The caller's sequence numbers wrap during the call.
                ends.caller.send(
                    rtpPacket(
                        pt: 0, marker: k == 0, sequence: 65_500 &+ UInt16(k), timestamp: 1_000 &+ UInt32(k) * 160,
                        ssrc: 0xCA11_E500, payload: payload(k, 0xA1)),
                    to: aLocal)
                ends.callee.send(
                    rtpPacket(
                        pt: 0, marker: k == 0, sequence: ends.calleeSequence, timestamp: 0xFFFF_F000 &+ UInt32(k) * 160,
                        ssrc: 0x0CA1_1EE0, payload: payload(k, 0xB2)),
                    to: bLocal)
                ends.calleeSequence &+= 1
                if k == 60 {
                    // The callee presses 5: three updates and three ends (RFC 4733), PT 96.
                    for (j, (end, duration)) in [
                        (false, 160), (false, 320), (false, 480), (true, 640), (true, 640), (true, 640),
                    ].enumerated() {
                        let event: [UInt8] = [5, (end ? 0x80 : 0) | 10, UInt8(duration >> 8), UInt8(duration & 0xFF)]
                        ends.callee.send(
                            rtpPacket(
                                pt: 96, marker: j == 0, sequence: ends.calleeSequence &+ UInt16(j),
                                timestamp: 0xFFFF_F000 &+ UInt32(k + 1) * 160, ssrc: 0x0CA1_1EE0, payload: event),
                            to: bLocal)
                    }
                    ends.calleeSequence &+= 6
                }
                ends.receive()
            }
        }
        await send(0..<relayStartPacket)
        let relay: LegRelay? = await LegRelay.start(a, b)
        await send(relayStartPacket..<100)
        try await Task.sleep(for: .milliseconds(200))
        ends.receive()
        var atCaller = ends.atCaller
        var atCallee = ends.atCallee
        // What came while relaying. After the stop each leg's own audio resumes on its own
        // clock, which runs ahead of the relayed timestamps by however long this test's
        // sending was held up on a busy machine: not part of the switch checked here.
        let (callerRelayed, calleeRelayed) = (atCaller.count, atCallee.count)
        await relay?.stop()

        atCaller += caller.receiveAll().compactMap(SeenPacket.init)
        atCallee += callee.receiveAll().compactMap(SeenPacket.init)
        // Undecoded: every audio payload after the switch is one the caller sent, byte for byte.
        let relayed = atCallee.filter { $0.payloadType == 0 && $0.payload.first == 0xA1 }
        #expect(relayed.count >= 100 - relayStartPacket - 5, "\(relayed.count) caller packets relayed to the callee")
        #expect(relayed.allSatisfy { sentByCaller[$0.payload] != nil }, "payloads arrive untouched (0x7F kept)")
        #expect(a.statistics.packetsRelayed >= relayed.count)
        // Continuous at both far ends, across the switch from the engine's own audio.
        let toneAtCallee = atCallee.filter { $0.payload.first != 0xA1 && $0.payloadType == 0 }
        #expect(toneAtCallee.count >= 10, "the callee heard the prompt first")
        let pCallee = continuityProblems(Array(atCallee.prefix(calleeRelayed)), audioPT: 0)
        #expect(pCallee.isEmpty, "callee side: \(pCallee)")
        let pCaller = continuityProblems(Array(atCaller.prefix(callerRelayed)), audioPT: 0)
        #expect(pCaller.isEmpty, "caller side: \(pCaller)")
        // The digit: PT 96 in, PT 101 out, the caller's stream's SSRC and timing.
        let events = atCaller.filter { $0.payloadType == 101 }
        #expect(events.count == 6 && events.allSatisfy { $0.payload.first == 5 }, "\(events.map(\.payload))")
        #expect(events.first?.marker == true && events.last.map { $0.payload[1] & 0x80 != 0 } == true)
        if let e = events.first,
            let before = atCaller.last(where: { $0.payloadType == 0 && $0.sequence &- e.sequence > 0x8000 })
        {
            let step = Int32(bitPattern: e.timestamp &- before.timestamp)
            #expect(step > 0 && step <= 160 * 4, "the event's timestamp follows the audio: \(step)")
        }
    }

    @Test("the relay's steady state allocates nothing on the media workers", .timeLimit(.minutes(1)))
    func noAllocation() async throws {
        // Group 11: no other test counts there, so tests running at once do not count here.
        let engine = try Self.engine(first: 44_100, onStart: { sauti_alloc_count_this_thread(11) })
        defer { engine.shutdown() }
        // Four bridged calls: far ends X and Y are engine legs too, sending tones.
        var relays: [LegRelay] = []
        var ends: [MediaLeg] = []
        for _ in 0..<4 {
            var c = LegConfiguration(codec: .pcmu)
            c.rtcpIntervalSeconds = 1
            let a = try engine.openLeg(c)
            let b = try engine.openLeg(c)
            var cx = c
            cx.remote = a.local
            let x = try engine.openLeg(cx)
            var cy = c
            cy.remote = b.local
            let y = try engine.openLeg(cy)
            var ca = c
            ca.remote = x.local
            a.update(ca)
            var cb = c
            cb.remote = y.local
            b.update(cb)
            x.play(.tone(ToneSpec(frequenciesHz: [440])))
            y.play(.tone(ToneSpec(frequenciesHz: [700])))
            relays.append(await LegRelay.start(a, b))
            ends += [x, y]
        }
        try await Task.sleep(for: .seconds(2))
        let before = sauti_alloc_count_group(11)
        let relayedBefore = relays.map { $0.a.statistics.packetsRelayed + $0.b.statistics.packetsRelayed }.reduce(0, +)
        try await Task.sleep(for: .seconds(5))
        let after = sauti_alloc_count_group(11)
        let relayedAfter = relays.map { $0.a.statistics.packetsRelayed + $0.b.statistics.packetsRelayed }.reduce(0, +)
        #expect(relayedAfter - relayedBefore > 8 * 200, "relayed \(relayedAfter - relayedBefore) packets")
        #expect(after - before == 0, "\(after - before) allocations on the media workers in 5 s of relaying")
        #expect(before > 0)
    }

    @Test("a relayed packet leaves on arrival, not at the next 20 ms tick", .timeLimit(.minutes(1)))
    func relayedOnArrival() async throws {
        let engine = try Self.engine(workers: 1, first: 44_200)
        defer { engine.shutdown() }
        let caller = try UDPTestSocket(bindTo: Endpoint(address: .v4(0x7F00_0001), port: 44_194))
        let callee = try UDPTestSocket(bindTo: Endpoint(address: .v4(0x7F00_0001), port: 44_196))
        var ca = LegConfiguration(codec: .pcmu, remote: Endpoint(address: .v4(0x7F00_0001), port: 44_194))
        ca.mediaTimeoutMilliseconds = 0
        var cb = ca
        cb.remote = Endpoint(address: .v4(0x7F00_0001), port: 44_196)
        let a = try engine.openLeg(ca)
        let b = try engine.openLeg(cb)
        let relay = await LegRelay.start(a, b)
        defer { Task { await relay.stop() } }
        _ = callee.receiveAll()
        var delays: [Double] = []
        for k in 0..<40 {
            // Off the tick's phase on purpose: 7 ms steps across the 20 ms period.
            try await Task.sleep(for: .milliseconds(20 + (k * 7) % 20))
            let sentAt = ContinuousClock.now
            caller.send(
                rtpPacket(
                    pt: 0, sequence: UInt16(k), timestamp: UInt32(k) * 160, ssrc: 7,
                    payload: [UInt8](repeating: 0x7F, count: 160)), to: a.local)
            var got = false
            while !got && ContinuousClock.now - sentAt < .milliseconds(100) {
                var p = pollfd(fd: callee.fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 5) > 0 {
                    got = callee.receiveAll().contains {
                        SeenPacket($0)?.payloadType == 0 && SeenPacket($0)?.payload.first == 0x7F
                    }
                }
            }
            if got { delays.append(Double((ContinuousClock.now - sentAt).components.attoseconds) / 1e15) }
        }
        delays.sort()
        #expect(delays.count >= 35, "\(delays.count) of 40 relayed")
        let median = delays.isEmpty ? 1000 : delays[delays.count / 2]
        print("relay on arrival: median \(median) ms, max \(delays.last ?? 0) ms over \(delays.count) packets")
        #expect(median < 5, "median delay \(median) ms (a tick-driven relay waits 10 ms on average)")
    }
}

/// The two far ends of the relay test and what they received. Used by one thread at a time
/// (the pacing thread while it runs, then the test), one after the other.
private final class RelayFarEnds: @unchecked Sendable {
    let caller: UDPTestSocket
    let callee: UDPTestSocket
    var calleeSequence: UInt16
    var atCaller: [SeenPacket] = []
    var atCallee: [SeenPacket] = []

    init(caller: UDPTestSocket, callee: UDPTestSocket, calleeSequence: UInt16) {
        self.caller = caller
        self.callee = callee
        self.calleeSequence = calleeSequence
    }

    func receive() {
        atCaller += caller.receiveAll().compactMap(SeenPacket.init)
        atCallee += callee.receiveAll().compactMap(SeenPacket.init)
    }
}
