import Foundation
import SautiAudio
@testable import SautiMedia
import SautiWire
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// How an Opus leg sends: the band follows a bridge peer's rate, the FEC follows the far
// end's receiver reports, packets of 10 to 60 ms. Ports 42000-42499.

@Suite struct ReportedLossTrackerTests {
    @Test("FEC levels from receiver reports: up at once, down only well below a level, none on a clean path")
    func levels() {
        var t = ReportedLossTracker()
        #expect(t.level == nil)
        // (fraction lost reported, level expected): smoothing halves each report's weight.
        let script: [(Double, Int)] = [
            (0, 0),  // clean: no FEC
            (0.10, 5),  // smoothed 5 %
            (0.10, 10),  // 7.5 %
            (0.02, 10),  // 4.75 %: above 60 % of the 10 % level's 7 % entry, kept
            (0, 5),  // 2.4 %
            (0, 1),  // 1.2 %
            (0, 1),  // 0.6 %
            (0, 0),  // 0.3 %
            (0.5, 20),  // a burst: 25 %
            (1.5, 20),  // out of range: taken as 100 %
        ]
        for (i, (reported, expected)) in script.enumerated() {
            let level = t.report(fractionLost: reported)
            #expect(
                level == expected && t.level == expected,
                "report \(i) (\(reported)): \(level), smoothed \(t.smoothedPercent ?? -1) %")
        }
    }
}

@Suite struct OpusLongPacketPlayoutTests {
    @Test(
        "a jitter buffer fed 40, 60 and 120 ms packets plays every 20 ms frame as audio, none counted as concealed",
        arguments: [40, 60, 120])
    func longPackets(ms: Int) throws {
        let rate = 16_000
        let source = try bandLimitedSpeech(seconds: 2.4, rate: rate)
        let encoder = try OpusEncoder(sampleRate: rate)
        let n = rate * ms / 1000
        var jb = LiveJitterBuffer(codec: .opus, sampleRate: rate, minDelayMilliseconds: ms + 20)
        var frame = [Int16](repeating: 0, count: rate / 50)
        var out: [Int16] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        let msNs: Int64 = 1_000_000
        let ticks = source.count / (rate / 50)
        for tick in 0..<ticks {
            let now = Int64(tick) * 20 * msNs
            // A packet goes when its last frame is in: at the tick after its audio.
            if (tick + 1) % (ms / 20) == 0 {
                let first = (tick + 1 - ms / 20) * (rate / 50)
                let length = source[first..<(first + n)].withUnsafeBufferPointer { pcm in
                    buffer.withUnsafeMutableBytes { encoder.encode(pcm, into: $0) }
                }
                #expect(length > 0)
                _ = buffer[0..<length].withUnsafeBytes {
                    jb.put(
                        ssrc: 9, timestamp: UInt32(first * 3), arrival: now, payload: $0,
                        sequence: UInt16((tick + 1) / (ms / 20)))
                }
            }
            _ = frame.withUnsafeMutableBufferPointer { jb.tick(now: now + msNs, into: $0) }
            out += frame
        }
        let s = jb.statistics
        #expect(s.concealedFrames == 0 && s.decodeErrors == 0 && s.stretchedFrames == 0, "\(s)")
        #expect(s.decodedFrames >= ticks - (2 * ms + 20) / 20 - 2, "\(s.decodedFrames) of \(ticks) frames")
        let (lag, ncc, _, _) = try opusSimilarity(source, rate, out, rate)
        #expect(ncc >= 0.9, "NCC \(ncc) at lag \(lag)")
    }
}

@Suite(.serialized) struct OpusSendTests {
    /// Waits up to `seconds` for `condition`, checking every 20 ms.
    static func wait(seconds: Double, for condition: () -> Bool) async throws -> Bool {
        for _ in 0..<Int(seconds * 50) {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test(
        "an Opus leg bridged to a PCMU leg encodes narrowband (its audio is 8 kHz); unbridged, wideband again",
        .timeLimit(.minutes(1)))
    func bridgeNarrowband() async throws {
        let engine = try OpusLegTests.engine(first: 42_000, last: 42_049, workers: 2)
        defer { engine.shutdown() }
        // P talks PCMU to X; Q talks Opus to Y; X and Y are bridged.
        let (p, x, y, q) = try OpusLegTests.transcodedCall(engine)
        p.play(.tone(ToneSpec(frequenciesHz: [440], levelDBFS: -12)))
        q.play(.tone(ToneSpec(frequenciesHz: [700], levelDBFS: -12)))
        y.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -12)))
        #expect(try await Self.wait(seconds: 5) { y.statistics.packetsSent > 5 })
        #expect(y.statistics.encodedBandRate == 16_000, "alone: \(String(describing: y.statistics.encodedBandRate))")
        #expect(x.statistics.encodedBandRate == nil, "a G.711 leg has no Opus encoder")

        let bridge = LegBridge(x, y)
        let narrow = try await Self.wait(seconds: 5) { y.statistics.encodedBandRate == 8000 }
        #expect(narrow, "bridged to PCMU: \(String(describing: y.statistics.encodedBandRate))")
        let heard = q.statistics.packetsReceived
        try await Task.sleep(for: .milliseconds(300))
        #expect(q.statistics.packetsReceived > heard + 5 && y.statistics.encodeErrors == 0, "Q still hears Y")

        bridge.stop()
        let wide = try await Self.wait(seconds: 5) { y.statistics.encodedBandRate == 16_000 }
        #expect(wide, "unbridged: \(String(describing: y.statistics.encodedBandRate))")
        for l in [p, q, x, y] { l.close() }
    }

    @Test(
        "an Opus leg sizes its FEC for the loss the far end reports: none on clean loopback; fixed when told so",
        .timeLimit(.minutes(1)))
    func fecFollowsReports() async throws {
        let engine = try OpusLegTests.engine(first: 42_050, last: 42_099)
        defer { engine.shutdown() }
        var c = OpusLegTests.opusConfiguration()
        c.rtcpIntervalSeconds = 0.3
        let b1 = try engine.openLeg(c)
        let b2 = try engine.openLeg(c)
        var a1c = c
        a1c.remote = b1.local
        var a2c = c
        a2c.remote = b2.local
        a2c.opus.fecFollowsReportedLoss = false
        let a1 = try engine.openLeg(a1c)
        let a2 = try engine.openLeg(a2c)
        for l in [a1, a2, b1, b2] { l.play(.tone(ToneSpec(frequenciesHz: [440], levelDBFS: -12))) }
        let reported = try await Self.wait(seconds: 10) {
            a1.statistics.remoteFractionLost != nil && a2.statistics.remoteFractionLost != nil
        }
        #expect(reported, "receiver reports came back")
        let s1 = a1.statistics
        let s2 = a2.statistics
        #expect(
            s1.remoteFractionLost == 0 && s1.fecLossPercent == 0,
            "following: \(String(describing: s1.fecLossPercent)) %")
        #expect(
            s2.remoteFractionLost == 0 && s2.fecLossPercent == 10, "fixed: \(String(describing: s2.fecLossPercent)) %")
        for l in [a1, a2, b1, b2] { l.close() }
    }

    /// What arrived at a plain UDP socket pair (`port`: RTP, `port + 1`: RTCP) for `seconds`
    /// after `run`.
    static func capture(port: UInt16, seconds: Double, while run: () async throws -> Void) async throws -> (
        rtp: [[UInt8]], rtcp: [[UInt8]]
    ) {
        let rtpSocket = try UDPSocket(bindTo: Endpoint(address: .v4(0x7F00_0001), port: port))
        let rtcpSocket = try UDPSocket(bindTo: Endpoint(address: .v4(0x7F00_0001), port: port + 1))
        var rtp: [[UInt8]] = []
        var rtcp: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        func drain(_ socket: UDPSocket, into list: inout [[UInt8]]) {
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, 1500, Int32(MSG_DONTWAIT)) }
                if n <= 0 { return }
                list.append(Array(buffer[0..<n]))
            }
        }
        try await run()
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < end {
            drain(rtpSocket, into: &rtp)
            drain(rtcpSocket, into: &rtcp)
            try await Task.sleep(for: .milliseconds(10))
        }
        drain(rtpSocket, into: &rtp)
        drain(rtcpSocket, into: &rtcp)
        return (rtp, rtcp)
    }

    @Test(
        "ptime 10, 40, 60 ms: one Opus packet of that duration each, stamped with its first frame's time (RTCP SR), steps of it",
        .timeLimit(.minutes(1)), arguments: [10, 40, 60])
    func packetDuration(ms: Int) async throws {
        let base = UInt16(42_100 + (ms / 10) * 20)
        let engine = try OpusLegTests.engine(first: base, last: base + 9)
        defer { engine.shutdown() }
        var c = OpusLegTests.opusConfiguration(remote: Endpoint(address: .v4(0x7F00_0001), port: base + 10))
        c.opus.ptimeMilliseconds = ms
        c.rtcpIntervalSeconds = 0.2
        var leg: MediaLeg?
        let (packets, reports) = try await Self.capture(port: base + 10, seconds: 1.2) {
            leg = try engine.openLeg(c)
            leg?.setSource(PCMSource(samples: try bandLimitedSpeech(seconds: 2, rate: 16_000)))
        }
        leg?.close()
        let headers = try packets.map { p in try p.withUnsafeBytes { try RTPHeader(parsing: $0) } }
        #expect(packets.count >= 800 / ms, "\(packets.count) packets in 1.2 s")
        for (i, (p, h)) in zip(packets, headers).enumerated() {
            let samples = Array(p[12...]).withUnsafeBytes { OpusDecoder.samples(in: $0, sampleRate: 48_000) }
            #expect(samples == ms * 48, "packet \(i): \(String(describing: samples)) samples at 48 kHz")
            #expect(h.marker == (i == 0) && h.payloadType == 111)
            if i > 0 {
                let previous = headers[i - 1]
                #expect(h.sequenceNumber == previous.sequenceNumber &+ 1)
                #expect(h.timestamp &- previous.timestamp == UInt32(ms * 48), "packet \(i): timestamp step")
            }
        }
        // A sender report carries the RTP clock of the frame after its tick and the packets
        // sent so far. Counted from the first packet's timestamp — its first frame's — that
        // clock gives the ticks so far, and so the packets: two a tick of 10 ms, one every
        // two or three ticks of 40 or 60 (a packet stamped with its last frame would count
        // one short at most reports).
        let first = try #require(headers.first, "packets came")
        var senderInfos: [RTCPSenderInfo] = []
        for r in reports {
            try r.withUnsafeBytes { raw in
                try RTCP.forEachPacket(in: raw) { if let s = $0.senderInfo { senderInfos.append(s) } }
            }
        }
        #expect(senderInfos.count >= 3, "\(senderInfos.count) sender reports")
        for sr in senderInfos {
            let ticks = Int(sr.rtpTimestamp &- first.timestamp) / 960
            let expected = ms == 10 ? 2 * ticks : ticks / (ms / 20)
            #expect(Int(sr.packetCount) == expected, "after \(ticks) ticks: \(sr.packetCount) packets sent")
        }
    }

    @Test(
        "ffmpeg's libopus decoder decodes an Opus leg's 20, 40 and 60 ms packets: its decode matches the source (NCC ≥ 0.85)",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)), .timeLimit(.minutes(1)),
        arguments: [20, 40, 60])
    func longPacketsToFFmpeg(ms: Int) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = UInt16(42_700 + ms)
        let engine = try OpusLegTests.engine(first: first, last: first + 9)
        defer { engine.shutdown() }
        let source = OpusInteropTests.source
        let port = first + 10
        let out = dir + "/out.wav"
        let seconds = Double(source.count) / 16_000 + 0.6
        // libopus: ffmpeg's own Opus decoder (5.1) garbles 40 and 60 ms SILK packets that carry
        // in-band FEC, whoever encoded them (its libopus encoder's too); 20 ms ones it decodes.
        let ffmpeg = try await startFFmpegReceiver(
            codec: .opus(receiving: OpusFormatParameters()), port: port, seconds: seconds, rate: 16_000, out: out,
            dir: dir, decoder: "libopus")
        // PT 96: what the offer numbered Opus.
        var c = OpusLegTests.opusConfiguration(remote: Endpoint(address: .v4(0x7F00_0001), port: port))
        c.payloadType = 96
        c.opus.ptimeMilliseconds = ms
        let leg = try engine.openLeg(c)
        let started = ContinuousClock.now
        leg.setSource(PCMSource(samples: source))
        let (status, killed) = await ffmpeg.wait(seconds: seconds + 10)
        leg.close()
        // How long the leg sent: a test task held up beside the whole suite closes it late.
        let ran = ContinuousClock.now - started
        let sending = Double(ran.components.seconds) + Double(ran.components.attoseconds) / 1e18
        #expect(status == 0 && !killed, "ffmpeg: \(ffmpeg.log)")
        let (info, decoded) = try WAVReader.read(path: out)
        #expect(info.sampleRate == 16_000 && info.channels == 1)
        let (lag, ncc, segmented, _) = try opusSimilarity(source, 16_000, decoded, 16_000)
        let sent = leg.statistics.packetsSent
        print(
            "opus leg -> ffmpeg (libopus), \(ms) ms packets: NCC \(String(format: "%.4f", ncc)) at lag \(lag), "
                + "\(String(format: "%.4f", segmented)) by segment; ffmpeg decoded \(decoded.count) samples; "
                + "leg sent \(sent) packets")
        // Through ffmpeg's libopus wrapper (48 kHz stereo, then resampled) 20 ms packets score
        // 0.90 where its own decoder gives 0.99; garbled packets score near 0.
        #expect(ncc >= 0.85, "NCC \(ncc) at lag \(lag), \(segmented) by segment")
        #expect(sent > 0 && Double(sent) < sending * 1000 / Double(ms) + 5, "\(sent) packets in \(sending) s: one per \(ms) ms")
    }

    @Test(
        "speech in packets of 10, 40 and 60 ms from one Opus leg to another: decoded with nothing concealed (NCC ≥ 0.9)",
        .timeLimit(.minutes(1)), arguments: [10, 40, 60])
    func packetDurationToLeg(ms: Int) async throws {
        let base = UInt16(42_300 + (ms / 10) * 20)
        let engine = try OpusLegTests.engine(first: base, last: base + 19)
        defer { engine.shutdown() }
        let source = try bandLimitedSpeech(seconds: 2, rate: 16_000)
        var bc = OpusLegTests.opusConfiguration()
        bc.minJitterDelayMilliseconds = 140
        bc.maxJitterDelayMilliseconds = 140
        let b = try engine.openLeg(bc)
        let recorder = PCMRecorderSink(maximumSeconds: 6, sampleRate: 16_000)
        b.addSink(recorder)
        var ac = OpusLegTests.opusConfiguration(remote: b.local)
        ac.opus.ptimeMilliseconds = ms
        let a = try engine.openLeg(ac)
        a.setSource(PCMSource(samples: source))
        try await Task.sleep(for: .milliseconds(2700))
        a.close()
        b.close()
        let (lag, ncc, segmented, lags) = try opusSimilarity(source, 16_000, recorder.samples, 16_000)
        let s = b.statistics
        print(
            "opus leg -> opus leg, \(ms) ms packets: NCC \(String(format: "%.4f", ncc)) at lag \(lag), "
                + "\(String(format: "%.4f", segmented)) by segment (lags \(Set(lags).sorted())); \(s.packetsReceived) packets, "
                + "concealed \(s.concealedFrames), stretched \(s.stretchedFrames), skipped \(s.skippedFrames)")
        #expect(segmented >= 0.9, "NCC \(segmented) by segment, \(ncc) at lag \(lag)")
        #expect(s.decodeErrors == 0 && s.packetsLost == 0 && s.concealedFrames <= 2, "\(s)")
        #expect(a.statistics.encodeErrors == 0)
    }
}

/// The remote's ptime and maxptime, through SDP, to the packets an Opus leg sends.
@Suite struct OpusPtimeNegotiationTests {
    /// FreeSWITCH's offer (fmtp `ptime=20; minptime=10; maxptime=40`, `a=ptime:20`) with
    /// its ptime lines rewritten.
    static func answer(ptimeAttribute: String?, fmtpMaxptime: String?) throws -> LegConfiguration {
        var offer = try OpusNegotiationTests.fixture("freeswitch.sdp")
        offer = offer.replacingOccurrences(of: "a=ptime:20\r\n", with: ptimeAttribute.map { "a=ptime:\($0)\r\n" } ?? "")
        offer = offer.replacingOccurrences(
            of: "; maxptime=40", with: fmtpMaxptime.map { "; maxptime=\($0)" } ?? "")
        var session = SDPSession(
            config: SDPLocalConfig(
                address: .v4(0x7F00_0001),
                codecPreference: [.opus(receiving: OpusLegSettings().receiveParameters), .pcmu, .pcma]),
            localPort: 42_600, sessionID: 1)
        let media = try session.answer(toOffer: offer).media
        return try #require(LegConfiguration(negotiated: media))
    }

    @Test(
        "a=ptime and the fmtp's maxptime set the packets sent: the longest of 10/20/40/60 ms within both",
        arguments: [
            ("60", "40", 40), ("60", nil, 60), ("40", nil, 40), ("10", "40", 10), (nil, "40", 20), ("30", nil, 20),
            ("120", nil, 60), ("20", "10", 10),
        ] as [(String?, String?, Int)])
    func ptime(attribute: String?, maxptime: String?, expected: Int) throws {
        let c = try Self.answer(ptimeAttribute: attribute, fmtpMaxptime: maxptime)
        #expect(
            c.codec == .opus && c.opus.ptimeMilliseconds == expected && c.opus.effectivePtimeMilliseconds == expected)
    }

    @Test("a ptime the leg cannot send is taken as 20 ms")
    func effective() {
        var s = OpusLegSettings()
        for (asked, sent) in [(10, 10), (20, 20), (40, 40), (60, 60), (30, 20), (80, 20), (0, 20), (-20, 20)] {
            s.ptimeMilliseconds = asked
            #expect(s.effectivePtimeMilliseconds == sent, "\(asked) ms")
        }
    }
}
