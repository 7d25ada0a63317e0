import Foundation
import SautiAudio
import SautiReplay
import SautiWire
import Testing

/// The Opus captures of the shared corpus against their `*.opus_truth.json`: libopus
/// 1.3.1's plain decode (every payload in capture order, mono) at 48 and 8 kHz.
@Suite struct OpusCorpusTests {
    struct OpusTruth: Decodable {
        struct Decode: Decodable {
            var all_packets_samples: Int?
            var all_packets_s16le_sha256: String?
            var plain_samples: Int?
            var plain_s16le_sha256: String?
            var samples: Int? { all_packets_samples ?? plain_samples }
            var sha256: String? { all_packets_s16le_sha256 ?? plain_s16le_sha256 }
        }
        var pt: Int?
        var opus_pt: Int?
        var decode_48000: Decode?
        var decode_48000_mono: Decode?
        var decode_8000: Decode?
        var decode_8000_mono: Decode?
        var payloadType: Int { pt ?? opus_pt ?? 0 }
        func decode(at rate: Int) -> Decode? {
            rate == 48_000 ? decode_48000 ?? decode_48000_mono : decode_8000 ?? decode_8000_mono
        }
    }

    static let captures = [
        "opus/speech_48k_opus_rtp.pcap",
        "captures/asterisk-testsuite/16_bit_48khz_60_fec_rtp.pcapng",
        "captures/asterisk-testsuite/opus-2013785496.pcap",
    ]

    /// The decode-as rule each capture needs (the asterisk ones carry no SDP).
    static let decodeAs: [String: DecodeAsRule] = [
        "captures/asterisk-testsuite/16_bit_48khz_60_fec_rtp.pcapng": DecodeAsRule(
            port: 12668, payloadType: 107, encoding: "opus", clockRate: 48_000),
        "captures/asterisk-testsuite/opus-2013785496.pcap": DecodeAsRule(
            port: 4002, payloadType: 96, encoding: "opus", clockRate: 48_000),
    ]

    static func truth(_ capture: String) throws -> OpusTruth {
        let path = Paths.corpus.appendingPathComponent(capture + ".opus_truth.json")
        return try JSONDecoder().decode(OpusTruth.self, from: Data(contentsOf: path))
    }

    @Test(
        "sauti replay's WAV of a gapless Opus stream is libopus's plain decode, bit for bit, at 48 and 8 kHz",
        .enabled(if: Paths.hasCorpus),
        arguments: [
            ("opus/speech_48k_opus_rtp.pcap", 48_000), ("opus/speech_48k_opus_rtp.pcap", 8000),
            ("captures/asterisk-testsuite/16_bit_48khz_60_fec_rtp.pcapng", 48_000),
            ("captures/asterisk-testsuite/16_bit_48khz_60_fec_rtp.pcapng", 8000),
        ])
    func replayBitExact(_ capture: String, _ rate: Int) async throws {
        let truth = try Self.truth(capture)
        let want = try #require(truth.decode(at: rate))
        let out = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        var options = ReplayOptions(outputDirectory: out)
        options.opusSampleRate = rate
        if let rule = Self.decodeAs[capture] { options.decodeAs = [rule] }
        let report = try Replay.run(path: Paths.corpus.appendingPathComponent(capture).path, options: options)
        let stream = try #require(report.streams.first { $0.codecs.contains("opus") }, "\(capture): no Opus stream")
        let wav = try #require(stream.wav, "\(capture): \(stream.wavSkipped ?? "")")
        #expect(wav.concealedFrames == 0)
        let (info, samples) = try WAVReader.read(path: wav.path)
        #expect(info.sampleRate == rate)
        #expect(samples.count == want.samples)
        #expect(try await sha256(samples) == want.sha256, "\(capture) at \(rate) Hz differs from libopus's plain decode")
    }

    @Test(
        "every corpus capture's Opus payloads, decoded plainly by OpusDecoder, hash to the truth (48 and 8 kHz)",
        .enabled(if: Paths.hasCorpus), arguments: OpusCorpusTests.captures)
    func plainDecode(_ capture: String) async throws {
        let truth = try Self.truth(capture)
        let data = try Data(contentsOf: Paths.corpus.appendingPathComponent(capture))
        for rate in [48_000, 8000] {
            let want = try #require(truth.decode(at: rate))
            let decoder = try OpusDecoder(sampleRate: rate)
            var pcm: [Int16] = []
            var frame = [Int16](repeating: 0, count: decoder.maxFrameSamples)
            try data.withUnsafeBytes { bytes in
                var reader = try CaptureReader(bytes: bytes)
                while let f = try reader.next() {
                    guard case .udp(let d) = FrameDecoder.decode(f.data, linkType: f.linkType),
                        let h = try? RTPHeader(parsing: d.payload), h.version == 2,
                        Int(h.payloadType) == truth.payloadType
                    else { continue }
                    let outcome = frame.withUnsafeMutableBufferPointer {
                        decoder.decode(h.payload(in: d.payload), into: $0)
                    }
                    pcm += frame[0..<outcome.samples]
                }
            }
            #expect(decoder.errors == 0)
            #expect(pcm.count == want.samples, "\(capture) at \(rate) Hz")
            #expect(try await sha256(pcm) == want.sha256, "\(capture) at \(rate) Hz")
        }
    }

    @Test(
        "a capture with Opus gaps (events between talk spurts) replays with the gaps filled, not a crash",
        .enabled(if: Paths.hasCorpus))
    func gaps() throws {
        let capture = "captures/asterisk-testsuite/opus-2013785496.pcap"
        let out = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        var options = ReplayOptions(outputDirectory: out)
        options.decodeAs = [Self.decodeAs[capture]!]
        let report = try Replay.run(path: Paths.corpus.appendingPathComponent(capture).path, options: options)
        let stream = try #require(report.streams.first)
        #expect(stream.digitString == "2013785496")
        let wav = try #require(stream.wav)
        #expect(wav.samples >= 696_000 && wav.sampleRate == 48_000)
    }
}
