import Foundation
import SautiAudio
import SautiReplay
import SautiWire
import SautiTestSupport
import Testing

/// Replay on the fixture captures (always present) and on hostile input.
@Suite struct ReplayBehaviourTests {
    @Test("a lossy stream's WAV lasts as long as the stream, losses concealed not skipped")
    func lossConcealed() throws {
        let out = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let report = try Replay.run(path: Paths.capture("imp_a_loss5pct.pcap"), options: ReplayOptions(outputDirectory: out))
        let s = try #require(report.streams.first)
        #expect(report.streams.count == 1)
        #expect(s.packets == 475 && s.lost == 25 && s.lostDistinct == 25)
        let wav = try #require(s.wav)
        // 500 packets of 160 samples were sent; 25 never arrived.
        #expect(wav.samples == 500 * 160)
        #expect(wav.concealedFrames == 25)
        let (_, samples) = try WAVReader.read(path: wav.path)
        #expect(samples.count == 80_000)
        // The RTCP in the capture: two SRs from the sender, RRs reporting the 25 lost.
        #expect(report.rtcp.packets == 4)
        let rr = try #require(report.rtcp.receptionReports.first { $0.source == "0x11223344" })
        #expect(rr.cumulativeLost == 25)
        #expect(report.rtcp.sources.first { $0.ssrc == "0x11223344" }?.senderReports == 2)
    }

    @Test("digits with start time and duration; a lost start packet still yields the digit")
    func digits() throws {
        let report = try Replay.run(path: Paths.capture("imp_g_rfc4733_events.pcap"))
        let s = try #require(report.streams.first)
        #expect(s.digitString == "159#")
        #expect(s.digits.map(\.durationMs) == [160, 80, 240, 120])
        #expect(s.digits.map(\.endPackets) == [3, 3, 3, 3])
        #expect(s.digits.map(\.startReceived) == [true, true, false, true])
        #expect(abs(s.digits[0].startSeconds - 1.5) < 0.001)
    }

    @Test("garbage UDP never becomes a stream")
    func garbage() throws {
        let report = try Replay.run(path: Paths.capture("ast-2016-003-crash.pcap"))
        #expect(report.streams.isEmpty)
        #expect(report.counters.udpDatagrams == 128)
        #expect(report.error == nil)
        #expect(report.table().contains("no RTP streams found"))
    }

    @Test("the RTCP that crashed Asterisk (AST-2017-012) is parsed, the stream intact")
    func hostileRTCP() throws {
        let report = try Replay.run(path: Paths.capture("crash-27382.pcap"))
        #expect(report.streams.count == 1)
        #expect(report.streams[0].packets == 274)
        #expect(report.rtcp.packets + report.rtcp.malformed == 2)
    }

    @Test("a truncated capture reports the byte offset and what came before")
    func truncated() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: Paths.capture("imp_g_rfc4733_events.pcap")))
        for cut in [50_000, 24 + 10, 24 + 16 + 5, 90_000] {
            let report = whole.prefix(cut).withUnsafeBytes { Replay.run(bytes: $0, name: "cut", options: ReplayOptions()) }
            let error = try #require(report.error, "cut at \(cut)")
            let offset = try #require(error.offset)
            #expect(offset <= cut && offset >= cut - 300, "cut \(cut), reported \(offset)")
            #expect(error.message.contains("truncated"))
            if cut > 10_000 {
                #expect(report.streams.count == 1)
                #expect(report.streams[0].packets > 100 && report.streams[0].packets < 506)
            }
        }
    }

    @Test("not a capture, an empty file, a corrupt record length", arguments: [
        ([UInt8]("hello, this is text, not a capture".utf8), "not a pcap"),
        ([], "truncated"),
        ([0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 12) + [1, 0, 0, 0]
            + [0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0], "implausible"),
    ])
    func notCaptures(_ bytes: [UInt8], _ expected: String) throws {
        let report = bytes.withUnsafeBytes { Replay.run(bytes: $0, name: "x", options: ReplayOptions()) }
        let error = try #require(report.error)
        #expect(error.message.contains(expected), "\(error.message)")
        #expect(report.streams.isEmpty)
    }

    @Test("packets whose length fields lie are dropped and counted, never read past their end")
    func lyingLengths() throws {
        var w = PcapWriter()
        let src = (address: UInt32(0x7F00_0001), port: UInt16(4000))
        let dst = (address: UInt32(0x7F00_0002), port: UInt16(5000))
        for i in 0..<50 {
            let h = RTPHeader(payloadType: 0, sequenceNumber: UInt16(i), timestamp: UInt32(i * 160), ssrc: 0xABCD)
            w.appendUDP(timestampNanoseconds: Int64(i) * 20_000_000, source: src, destination: dst, payload: h.packet(payload: [UInt8](repeating: 0xFF, count: 160)))
        }
        var bytes = w.bytes
        // Frame 10: IPv4 total length says 1500. Frame 20: UDP length says 1000.
        let frameLength = 16 + 14 + 20 + 8 + 172
        let f10 = 24 + 10 * frameLength + 16
        bytes[f10 + 14 + 2] = 0x05
        bytes[f10 + 14 + 3] = 0xDC
        let f20 = 24 + 20 * frameLength + 16
        bytes[f20 + 14 + 20 + 4] = 0x03
        bytes[f20 + 14 + 20 + 5] = 0xE8
        let report = bytes.withUnsafeBytes { Replay.run(bytes: $0, name: "lies", options: ReplayOptions()) }
        #expect(report.counters.malformedFrames == 2)
        #expect(report.counters.malformedExamples.contains { $0.contains("frame 11") && $0.contains("IPv4 total length") })
        #expect(report.counters.malformedExamples.contains { $0.contains("frame 21") && $0.contains("UDP length") })
        #expect(report.streams.first?.packets == 48)
        #expect(report.streams.first?.lost == 2)
    }

    @Test("--stream keeps one SSRC; --decode-as finds RTP on an odd port and names its codec")
    func filterAndDecodeAs() throws {
        var options = ReplayOptions()
        options.ssrcFilter = [0xCEAD_2A2B]
        let one = try Replay.run(path: Paths.capture("DLT_NULL.a.pcap"), options: options)
        #expect(one.streams.map(\.ssrc) == ["0xCEAD2A2B"])
        #expect(one.streams[0].source == "[::1]:12002")
        options = ReplayOptions()
        options.decodeAs = [try DecodeAsRule.parse("12344=3/GSM/8000").get()]
        let all = try Replay.run(path: Paths.capture("DLT_NULL.a.pcap"), options: options)
        #expect(all.streams.count == 3)
        #expect(all.streams.allSatisfy { $0.detectedBy == "decode-as" && $0.codecs == ["GSM"] })
    }

    @Test("--decode-as rejects what it cannot mean", arguments: [
        "x", "0", "70000", "4000=", "4000=96", "4000=200/opus/48000", "4000=96//48000", "4000=96/opus/12", "4000=96/op us/48000",
    ])
    func badDecodeAs(_ text: String) {
        guard case .failure(let e) = DecodeAsRule.parse(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(e.description.contains(text))
    }

    @Test("an unwritable output folder is a clear error")
    func unwritable() {
        #expect(throws: ReplayError.self) {
            try Replay.run(path: Paths.capture("imp_a_loss5pct.pcap"), options: ReplayOptions(outputDirectory: "/proc/sauti/out"))
        }
    }

    @Test("pcapng with Opus: the stream is reported, its WAV skipped with a reason")
    func opusNotYetDecoded() throws {
        let out = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let report = try Replay.run(path: Paths.capture("16_bit_48khz_60_fec_rtp.pcapng"), options: ReplayOptions(outputDirectory: out))
        #expect(report.format == "pcapng")
        #expect(report.streams.count == 1 && report.streams[0].packets == 3000)
        #expect(report.streams[0].wav == nil)
        #expect(report.streams[0].wavSkipped?.contains("not decoded") == true)
    }

    @Test("a flood of random version-2 datagrams: no stream from it, bounded memory, and a real stream after it is still found")
    func hostileFlood() {
        var rng = SplitMix64(seed: 42)
        var w = PcapWriter()
        // One-packet flows, 200 a second: each fails probation and is swept 2 s later.
        for i in 0..<20_000 {
            var bytes = (0..<60).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes[0] = 0x80  // version 2, no padding, extension or CSRC
            bytes[1] &= 0x7F
            w.appendUDP(timestampNanoseconds: Int64(i) * 5_000_000, source: (0x7F00_0001, 4000), destination: (0x7F00_0002, 5000), payload: bytes)
        }
        for i in 0..<50 {
            let h = RTPHeader(payloadType: 0, sequenceNumber: UInt16(i), timestamp: UInt32(i * 160), ssrc: 0xFEED)
            w.appendUDP(timestampNanoseconds: 100_000_000_000 + Int64(i) * 20_000_000, source: (0x7F00_0001, 4002), destination: (0x7F00_0002, 5002), payload: h.packet(payload: [UInt8](repeating: 0xFF, count: 160)))
        }
        var options = ReplayOptions()
        options.maxCandidateFlows = 1000
        let report = w.bytes.withUnsafeBytes { Replay.run(bytes: $0, name: "flood", options: options) }
        #expect(report.streams.map(\.ssrc) == ["0x0000FEED"], "seed 42")
        #expect(report.streams.first?.packets == 50)
        #expect(report.counters.rejectedFlows == 20_000)
        #expect(report.counters.nonRtpDatagrams == 20_000)
    }
}
