import Foundation
import SautiReplay
import SautiWire
import SautiTestSupport
import Testing

/// The `sauti` command as a user runs it, and tshark (a real peer) on captures made here.
@Suite struct PeerTests {
    static let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let sox = ["/usr/bin/sox", "/usr/local/bin/sox"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A seeded capture of two PCMU streams with loss, duplicates, reordering, arrival
    /// jitter, a marker, and a sequence wrap, as bytes of a pcap file.
    static func impairedCapture(seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var w = PcapWriter()
        var packets: [(ns: Int64, src: UInt32, sport: UInt16, bytes: [UInt8])] = []
        for (ssrc, sport, firstSeq) in [(UInt32(0x1111_2222), UInt16(40000), UInt16(65500)), (0x3333_4444, 40002, 100)] {
            for i in 0..<400 {
                if rng.next() % 50 == 0 { continue }  // ~2 % loss
                let seq = firstSeq &+ UInt16(i)
                let h = RTPHeader(marker: i == 200, payloadType: 0, sequenceNumber: seq, timestamp: UInt32(8000 + i * 160), ssrc: ssrc)
                let payload = (0..<160).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let ns = Int64(1_700_000_000) * 1_000_000_000 + Int64(i) * 20_000_000 + Int64(rng.next() % 8_000_000)
                packets.append((ns, 0x0A00_0001, sport, h.packet(payload: payload)))
                if rng.next() % 40 == 0 { packets.append((ns + 1_000_000, 0x0A00_0001, sport, h.packet(payload: payload))) }
            }
        }
        packets.sort { $0.ns < $1.ns }
        for p in packets {
            w.appendUDP(timestampNanoseconds: p.ns, source: (p.src, p.sport), destination: (0x0A00_0002, 50000), payload: p.bytes)
        }
        return w.bytes
    }

    @Test("tshark and sauti agree on a capture made here (seeded)", .enabled(if: tshark != nil), arguments: [UInt64(1), 2, 3])
    func tsharkAgrees(seed: UInt64) async throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/impaired.pcap"
        try Data(Self.impairedCapture(seed: seed)).write(to: URL(fileURLWithPath: path))
        let t = try await run(Self.tshark!, ["-o", "rtp.heuristic_rtp:TRUE", "-r", path, "-q", "-z", "rtp,streams"])
        #expect(t.status == 0, "seed \(seed): \(t.stderr)")
        let ours = try Replay.run(path: path)
        // Rows: start end src sport dst dport ssrc payload pkts lost (pct) min mean max minJ meanJ maxJ [X]
        let rows = t.stdout.split(separator: "\n").filter { $0.contains("0x") }
        #expect(rows.count == 2, "seed \(seed): \(t.stdout)")
        for row in rows {
            let f = row.split(separator: " ")
            let s = try #require(ours.streams.first { $0.ssrc == String(f[6]) }, "seed \(seed): \(row)")
            #expect(s.packets == Int(f[8]), "seed \(seed) \(f[6]) packets")
            #expect(s.lost == Int(f[9]), "seed \(seed) \(f[6]) lost")
            let numbers = f[11...].compactMap { Double($0) }
            #expect(numbers.count >= 6)
            #expect(abs(s.maxDeltaMs - numbers[2]) <= 0.0105, "seed \(seed) \(f[6]) max delta")
            #expect(abs(s.meanJitterMs - numbers[4]) <= 0.0105, "seed \(seed) \(f[6]) mean jitter \(s.meanJitterMs) vs \(numbers[4])")
            #expect(abs(s.maxJitterMs - numbers[5]) <= 0.0105, "seed \(seed) \(f[6]) max jitter")
            #expect(s.duplicates > 0, "seed \(seed): the capture has duplicates")
        }
    }

    @Test("sauti replay writes a table, JSON and WAVs that sox reads; exit statuses as documented")
    func commandLine() async throws {
        let out = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let table = try await run(Paths.sauti, ["replay", Paths.capture("imp_g_rfc4733_events.pcap"), "--out", out])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("0x11223344") && table.stdout.contains("159#"))
        let json = try await run(Paths.sauti, ["replay", Paths.capture("imp_g_rfc4733_events.pcap"), "--json"])
        let report = try ReplayReport.decode(json: Data(json.stdout.utf8))
        #expect(report.streams.first?.digitString == "159#")
        let wavs = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".wav") }
        #expect(wavs.count == 1)
        if let sox = Self.sox {
            let info = try await run(sox.replacingOccurrences(of: "sox", with: "soxi"), ["-D", out + "/" + wavs[0]])
            #expect(abs((Double(info.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) - 10.0) < 0.001, "\(info)")
        }
        #expect(try await run(Paths.sauti, ["replay", Paths.capture("ast-2016-003-crash.pcap")]).status == 3)
        #expect(try await run(Paths.sauti, ["replay", "/nonexistent.pcap"]).status == 1)
        #expect(try await run(Paths.sauti, ["replay", Paths.capture("imp_g_rfc4733_events.pcap"), "--decode-as", "x"]).status == 2)
        #expect(try await run(Paths.sauti, ["replay"]).status == 2)
        #expect(try await run(Paths.sauti, ["bogus"]).status == 2)
    }
}

extension PeerTests {
    @Test("progress goes to stderr for a capture over a few MB, and not with --quiet")
    func progress() async throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var w = PcapWriter()
        for i in 0..<25_000 {
            let h = RTPHeader(payloadType: 8, sequenceNumber: UInt16(truncatingIfNeeded: 60_000 + i), timestamp: UInt32(i * 160), ssrc: 7)
            w.appendUDP(timestampNanoseconds: Int64(i) * 20_000_000, source: (0x7F00_0001, 4000), destination: (0x7F00_0001, 5000), payload: h.packet(payload: [UInt8](repeating: 0xD5, count: 160)))
        }
        let path = dir + "/big.pcap"
        try Data(w.bytes).write(to: URL(fileURLWithPath: path))
        let loud = try await run(Paths.sauti, ["replay", path])
        #expect(loud.status == 0)
        #expect(loud.stderr.contains("replay: 100%"), "\(loud.stderr)")
        let quiet = try await run(Paths.sauti, ["replay", path, "--quiet", "--json"])
        #expect(quiet.stderr.isEmpty)
        // The sequence wrapped 65535 → 0 and nothing was lost.
        let report = try ReplayReport.decode(json: Data(quiet.stdout.utf8))
        #expect(report.streams.count == 1)
        #expect(report.streams.first?.packets == 25_000 && report.streams.first?.lost == 0 && report.streams.first?.expected == 25_000)
    }
}

