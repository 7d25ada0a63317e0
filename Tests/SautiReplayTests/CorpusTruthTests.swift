import Foundation
import SautiAudio
import SautiReplay
import Testing

/// Every capture of the shared corpus, replayed and compared with Wireshark's own analysis
/// (`tshark -o rtp.heuristic_rtp:TRUE -z rtp,streams`, recorded in each `*.truth.json`).
@Suite struct CorpusTruthTests {
    /// Captures of the corpus that have tshark stream truth.
    static let captures: [String] = {
        guard Paths.hasCorpus, let e = FileManager.default.enumerator(atPath: Paths.corpus.path) else { return [] }
        return e.compactMap { $0 as? String }.filter { $0.hasSuffix(".truth.json") }.map {
            Paths.corpus.appendingPathComponent(String($0.dropLast(".truth.json".count))).path
        }.filter { FileManager.default.fileExists(atPath: $0) }.sorted()
    }()

    /// Ports that tshark needed `-d udp.port==N,rtp` for (the truth files say which).
    static let decodeAs: [String: [DecodeAsRule]] = ["DLT_NULL.a.pcap": [DecodeAsRule(port: 12344)]]

    @Test("the shared corpus is present", .enabled(if: Paths.hasCorpus))
    func corpusIsThere() {
        #expect(Self.captures.count >= 30, "found \(Self.captures.count) captures under \(Paths.corpus.path)")
    }

    @Test("streams, packets, lost, delta and jitter agree with tshark", .enabled(if: Paths.hasCorpus),
        arguments: CorpusTruthTests.captures)
    func agreesWithTshark(_ capture: String) throws {
        let truth = try Truth.load(capture + ".truth.json")
        guard let want = truth.rtpStreamsWireshark else { return }
        var options = ReplayOptions()
        options.decodeAs = Self.decodeAs[(capture as NSString).lastPathComponent] ?? []
        let report = try Replay.run(path: capture, options: options)
        #expect(report.error == nil)
        #expect(report.streams.count == want.count, "\(capture): \(report.streams.map { "\($0.source)>\($0.destination) \($0.ssrc)" })")
        for w in want {
            let s = try #require(
                report.streams.first {
                    $0.source == endpoint(w.src) && $0.destination == endpoint(w.dst) && $0.ssrc == w.ssrc.uppercased().replacingOccurrences(of: "0X", with: "0x")
                }, "\(capture): no stream \(w.src) > \(w.dst) \(w.ssrc)")
            #expect(s.packets == w.packets, "\(capture) \(w.ssrc) packets")
            #expect(s.lost == w.lost, "\(capture) \(w.ssrc) lost")
            // tshark prints three decimals; 0.01 ms is the bar, 0.0005 the print rounding.
            #expect(abs(s.meanJitterMs - w.meanJitterMs) <= 0.0105, "\(capture) \(w.ssrc) mean jitter \(s.meanJitterMs) vs \(w.meanJitterMs)")
            #expect(abs(s.maxJitterMs - w.maxJitterMs) <= 0.0105, "\(capture) \(w.ssrc) max jitter \(s.maxJitterMs) vs \(w.maxJitterMs)")
            #expect(abs(s.maxDeltaMs - w.maxDeltaMs) <= 0.0105, "\(capture) \(w.ssrc) max delta")
            #expect(abs(s.meanDeltaMs - w.meanDeltaMs) <= 0.0105, "\(capture) \(w.ssrc) mean delta")
            #expect(abs(s.minDeltaMs - w.minDeltaMs) <= 0.0105, "\(capture) \(w.ssrc) min delta")
            #expect(s.problems == w.problems, "\(capture) \(w.ssrc) problems flag")
        }
    }

    @Test("RFC 4733 digits are reported once each", .enabled(if: Paths.hasCorpus), arguments: CorpusTruthTests.captures)
    func digits(_ capture: String) throws {
        let truth = try Truth.load(capture + ".truth.json")
        let want = (truth.streamsFromPackets ?? []).compactMap(\.rfc4733Digits).joined()
        let report = try Replay.run(path: capture)
        #expect(report.streams.map(\.digitString).joined() == want, "\(capture)")
    }

    @Test("lossless G.711 streams decode bit-exactly and last as long as the stream",
        .enabled(if: Paths.hasCorpus), arguments: CorpusTruthTests.captures)
    func audio(_ capture: String) async throws {
        let truth = try Truth.load(capture + ".truth.json")
        let out = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let report = try Replay.run(path: capture, options: ReplayOptions(outputDirectory: out))
        for s in report.streams where s.codecs == ["PCMU"] || s.codecs == ["PCMA"] {
            let wav = try #require(s.wav, "\(capture) \(s.ssrc): \(s.wavSkipped ?? "")")
            let (info, samples) = try WAVReader.read(path: wav.path)
            #expect(info.sampleRate == 8000 && info.channels == 1)
            #expect(samples.count == wav.samples)
            // The WAV spans the stream's timeline: packets expected × samples per packet.
            guard let t = truth.streamsFromPackets?.first(where: { $0.ssrc.lowercased() == s.ssrc.lowercased() && endpoint($0.src) == s.source }),
                let g = t.g711Pt0 ?? t.g711Pt8
            else { continue }
            if s.lost == 0 && s.outOfOrder == 0 && s.duplicates == 0 && wav.concealedFrames == 0 {
                // Nothing to conceal: the audio must equal a plain decode of every payload.
                #expect(samples.count == g.soxSamples, "\(capture) \(s.ssrc)")
                #expect(try await sha256(samples) == g.soxSHA256, "\(capture) \(s.ssrc): decoded audio differs from sox's decode")
            } else {
                #expect(samples.count >= g.soxSamples - 16000, "\(capture) \(s.ssrc)")
            }
        }
    }
}

/// SHA-256 of little-endian 16-bit samples, by sha256sum (coreutils).
func sha256(_ samples: [Int16]) async throws -> String {
    let path = Paths.temporaryDirectory() + "/pcm.raw"
    defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
    let data = samples.withUnsafeBufferPointer { Data(buffer: $0) }
    try data.write(to: URL(fileURLWithPath: path))
    let r = try await run("/usr/bin/sha256sum", [path])
    return String(r.stdout.prefix(64))
}
