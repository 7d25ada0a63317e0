import CSautiAllocCounter
import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import Synchronization
import SautiTestSupport
import Testing

/// A sink that keeps every frame it is given.
final class CollectingSink: FrameSink, Sendable {
    private let frames = Mutex<[Int16]>([])
    func write(_ frame: UnsafeBufferPointer<Int16>) { frames.withLock { $0.append(contentsOf: frame) } }
    var samples: [Int16] { frames.withLock { $0 } }
}

/// Waits for an event matching `match`, up to `seconds`.
func waitFor(_ leg: MediaLeg, seconds: Double, _ match: @escaping @Sendable (LegEvent) -> Bool) async -> LegEvent? {
    await withTaskGroup(of: LegEvent?.self) { group in
        group.addTask {
            for await e in leg.events where match(e) { return e }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

@Suite(.serialized) struct LegTests {
    static func engine(workers: Int = 1, onStart: (@Sendable () -> Void)? = nil) throws -> MediaEngine {
        var c = MediaEngineConfiguration(workers: workers)
        c.firstPort = 31_000
        c.lastPort = 31_999
        c.onWorkerThreadStart = onStart
        return try MediaEngine(configuration: c)
    }

    @Test("two legs on loopback: a tone crosses, digits cross once each, RTCP gives an RTT")
    func toneDigitsRTCP() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        var cb = LegConfiguration(codec: .pcma)
        cb.rtcpIntervalSeconds = 0.3
        let b = try engine.openLeg(cb)
        var ca = LegConfiguration(codec: .pcma, remote: b.local)
        ca.rtcpIntervalSeconds = 0.3
        let a = try engine.openLeg(ca)
        let sink = CollectingSink()
        b.addSink(sink)
        a.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -6)))
        b.play(.tone(ToneSpec(frequenciesHz: [400], levelDBFS: -6)))
        let latched = await waitFor(b, seconds: 2) { if case .latched = $0 { return true } else { return false } }
        #expect(latched == .latched(a.local))
        try await Task.sleep(for: .seconds(1))
        let got = sink.samples
        #expect(got.count >= 8000 * 9 / 10, "a second of frames")
        // Frame by frame: a frame stretched or skipped by the jitter buffer (the test suite
        // loads both cores, so ticks run late now and then) is a seam, not a lost tone.
        let frames = stride(from: got.count - 8000, to: got.count - 160, by: 160).map { toneShare(got[$0..<($0 + 160)], frequency: 1000) }
        #expect(frames.filter { $0 > 0.9 }.count >= frames.count * 3 / 4, "the 1 kHz tone arrives at B: \(frames.filter { $0 > 0.9 }.count) of \(frames.count) frames")
        #expect(toneShare(got.suffix(8000)[...], frequency: 400) < 0.05, "and not B's own 400 Hz tone")
        async let collected = b.gatherDigits(DigitCollectionSpec(numDigits: nil, timeoutMilliseconds: 3000, interDigitTimeoutMilliseconds: 2000, finishOnKeys: ["#"]))
        try await Task.sleep(for: .milliseconds(50))
        a.sendDigits("1234*#", durationMilliseconds: 100)
        let (digits, end) = await collected
        #expect(digits == "1234*")
        #expect(end == .finishKey)
        try await Task.sleep(for: .milliseconds(400))
        let sa = a.statistics
        let sb = b.statistics
        #expect(sb.packetsReceived > 40 && sb.packetsLost == 0 && sb.digitsReceived == 6)
        #expect(sa.packetsReceived > 40, "B sends back to the latched address")
        #expect(sa.rtcpReceived > 0 && sb.rtcpReceived > 0)
        #expect(sa.roundTripMilliseconds != nil, "RTT from B's report on A's SR")
        #expect(sa.remoteFractionLost == 0)
        a.close()
        b.close()
    }

    @Test("after latching, other sources are dropped and counted (RTP bleed); malformed RTP and RTCP are counted; other legs are not disturbed")
    func bleedAndMalformed() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let b = try engine.openLeg(LegConfiguration(codec: .pcmu))
        // A quiet pair on the same worker, to see that nothing disturbs it.
        let c = try engine.openLeg(LegConfiguration(codec: .pcmu))
        let d = try engine.openLeg(LegConfiguration(codec: .pcmu, remote: c.local))
        let caller = try UDPTestSocket()
        func audio(_ i: Int, ssrc: UInt32 = 0x1234) -> [UInt8] {
            RTPHeader(payloadType: 0, sequenceNumber: UInt16(i), timestamp: UInt32(i * 160), ssrc: ssrc)
                .packet(payload: [UInt8](repeating: 0xFF, count: 160))
        }
        for i in 0..<10 { caller.send(audio(i), to: b.local) }
        let latched = await waitFor(b, seconds: 2) { if case .latched = $0 { return true } else { return false } }
        #expect(latched != nil)
        // A stranger sends valid RTP (bleed), then the caller sends malformed packets.
        let stranger = try UDPTestSocket()
        // A flood: 5,000 packets as fast as the socket takes them.
        for i in 0..<5000 { stranger.send(audio(100 + i, ssrc: 0xBAD), to: b.local) }
        try await Task.sleep(for: .milliseconds(100))
        let bad: [[UInt8]] = [
            [0x80, 0x00],  // short
            [0x40] + [UInt8](repeating: 0, count: 20),  // version 1
            [0x8F] + [UInt8](repeating: 0, count: 20),  // 15 CSRCs in 21 bytes
            [0x90] + [UInt8](repeating: 0, count: 11) + [0, 0, 0xFF, 0xFF],  // extension length past the end
            [0xA0] + [UInt8](repeating: 0, count: 11) + [0xFF],  // padding larger than the packet
        ]
        for p in bad { caller.send(p, to: b.local) }
        let rtcpBad: [[UInt8]] = [[0x80, 0xC8, 0x00, 0x40, 1, 2, 3, 4], [0x80, 0xC9, 0x00]]
        for p in rtcpBad {
            caller.send(p, to: Endpoint(address: b.local.address, port: b.local.port + 1))
            caller.send(p, to: b.local)
        }
        for i in 10..<20 { caller.send(audio(i), to: b.local) }
        try await Task.sleep(for: .milliseconds(300))
        let s = b.statistics
        #expect(s.strayPackets > 100, "\(s.strayPackets) of 5000 (the rest overflowed the socket buffer)")
        #expect(s.malformedRTP == bad.count)
        #expect(s.malformedRTCP == 2 * rtcpBad.count)
        #expect(s.packetsReceived == 20)
        #expect(s.packetsLost == 0)
        let sc = c.statistics
        #expect(sc.packetsReceived > 10 && sc.packetsLost == 0 && sc.strayPackets == 0)
        for l in [b, c, d] { l.close() }
    }

    @Test("digit collection ends by count, by first-digit timeout and by inter-digit timeout")
    func collectionEnds() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let b = try engine.openLeg(LegConfiguration(codec: .pcmu))
        let a = try engine.openLeg(LegConfiguration(codec: .pcmu, remote: b.local))
        // By count: 3 of the 5 digits sent.
        async let byCount = b.gatherDigits(DigitCollectionSpec(numDigits: 3, timeoutMilliseconds: 3000, interDigitTimeoutMilliseconds: 2000, finishOnKeys: []))
        try await Task.sleep(for: .milliseconds(50))
        a.sendDigits("98765", durationMilliseconds: 60)
        let r1 = await byCount
        #expect(r1.digits == "987" && r1.end == .numDigits)
        try await Task.sleep(for: .milliseconds(800))  // let the rest arrive before the next collection
        // No digit at all: the first-digit timeout.
        let start = ContinuousClock.now
        let r2 = await b.gatherDigits(DigitCollectionSpec(numDigits: 4, timeoutMilliseconds: 400, interDigitTimeoutMilliseconds: 2000))
        #expect(r2.digits == "" && r2.end == .timeout)
        #expect(ContinuousClock.now - start >= .milliseconds(380))
        // One digit, then silence: the inter-digit timeout.
        async let stalled = b.gatherDigits(DigitCollectionSpec(numDigits: 4, timeoutMilliseconds: 3000, interDigitTimeoutMilliseconds: 500))
        try await Task.sleep(for: .milliseconds(50))
        a.sendDigits("4", durationMilliseconds: 80)
        let r3 = await stalled
        #expect(r3.digits == "4" && r3.end == .interDigitTimeout)
        a.close()
        b.close()
    }

    @Test("no inbound media raises a media timeout")
    func mediaTimeout() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        var c = LegConfiguration(codec: .pcmu)
        c.mediaTimeoutMilliseconds = 300
        let leg = try engine.openLeg(c)
        let e = await waitFor(leg, seconds: 2) { $0 == .mediaTimeout }
        #expect(e == .mediaTimeout)
        leg.close()
    }

    @Test("closing a leg returns its ports to the pool")
    func portsReturn() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let legs = try (0..<10).map { _ in try engine.openLeg(LegConfiguration(codec: .pcmu)) }
        #expect(engine.ports.inUse == 10)
        for l in legs { l.close() }
        for l in legs { _ = await waitFor(l, seconds: 2) { $0 == .closed } }
        #expect(engine.ports.inUse == 0)
    }
}

/// A plain UDP socket for tests (Foundation-free, blocking send).
final class UDPTestSocket {
    let fd: Int32
    init(bindTo: Endpoint? = nil, reuse: Bool = false) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        addr.sin_port = (bindTo?.port ?? 0).bigEndian
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if r != 0 && bindTo == nil { throw POSIXError(.EADDRINUSE) }
    }
    deinit { close(fd) }
    func send(_ bytes: [UInt8], to e: Endpoint) {
        guard case .v4(let a) = e.address else { return }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = a.bigEndian
        addr.sin_port = e.port.bigEndian
        _ = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
    }
}
