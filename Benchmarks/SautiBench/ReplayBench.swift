import Foundation
import SautiWire

/// The replay benchmark: a generated capture of at least a million RTP packets, replayed by
/// `sauti replay` (report only, then report plus WAVs) and by `tshark -z rtp,streams` in the
/// same run; prints packets per second for each and the ratios.
struct ReplayBenchmark {
    var streams = 100
    var packetsPerStream = 10_000
    var workDirectory: String

    /// Writes the capture; returns its path and packet count.
    func generateCapture() throws -> (path: String, packets: Int) {
        let path = workDirectory + "/replay-bench.pcap"
        let packets = streams * packetsPerStream
        if let attrs = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attrs[.size] as? Int, size == expectedSize(packets: packets)
        {
            return (path, packets)
        }
        var rng = UInt64(0x5A17_1C17)
        func next() -> UInt64 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return rng >> 33
        }
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var w = PcapWriter()
        var payload = [UInt8](repeating: 0, count: 160)
        for i in 0..<packetsPerStream {
            for s in 0..<streams {
                for k in 0..<160 { payload[k] = UInt8(truncatingIfNeeded: (i &* 31 &+ k &* 7 &+ s) & 0xFF) }
                let h = RTPHeader(
                    payloadType: s % 2 == 0 ? 0 : 8, sequenceNumber: UInt16(truncatingIfNeeded: s * 1000 + i),
                    timestamp: UInt32(truncatingIfNeeded: i * 160), ssrc: 0x1000_0000 + UInt32(s))
                // 20 ms spacing, up to 3 ms of arrival jitter, streams staggered by 0.1 ms.
                let ns = Int64(1_700_000_000) * 1_000_000_000 + Int64(i) * 20_000_000 + Int64(s) * 100_000
                    + Int64(next() % 3_000_000)
                w.appendUDP(
                    timestampNanoseconds: ns, source: (0x0A00_0001, UInt16(20000 + 2 * s)),
                    destination: (0x0A00_0002, UInt16(30000 + 2 * s)), payload: h.packet(payload: payload))
            }
            if w.bytes.count > 16 << 20 {
                try handle.write(contentsOf: w.bytes)
                w = PcapWriter.continuation()
            }
        }
        try handle.write(contentsOf: w.bytes)
        return (path, packets)
    }

    private func expectedSize(packets: Int) -> Int { 24 + packets * (16 + 14 + 20 + 8 + 12 + 160) }

    struct Row {
        var name: String
        var seconds: Double
        var packetsPerSecond: Double
        var note: String
    }

    /// Runs each tool `repeats` times on the capture, timing wall-clock; reports the median.
    var repeats = 3

    func run(sauti: String, tshark: String?) throws -> [Row] {
        let (path, packets) = try generateCapture()
        var rows: [Row] = []
        func time(_ name: String, _ exe: String, _ args: [String], note: String) throws {
            var times: [Double] = []
            for _ in 0..<max(1, repeats) {
                let (seconds, status) = try spawnAndWait(exe, args)
                times.append(seconds)
                guard status == 0 else { throw BenchError("\(name) exited \(status)") }
            }
            let secs = times.sorted()[times.count / 2]
            rows.append(Row(name: name, seconds: secs, packetsPerSecond: Double(packets) / secs, note: note + ", median of \(times.count)"))
        }
        let wavDir = workDirectory + "/replay-bench-wav"
        try? FileManager.default.removeItem(atPath: wavDir)
        try time("sauti replay (report)", sauti, ["replay", path, "--json", "--quiet"], note: "JSON report")
        try time("sauti replay (report + WAV)", sauti, ["replay", path, "--out", wavDir, "--quiet"], note: "\(streams) WAVs")
        if let tshark {
            try time("tshark -z rtp,streams", tshark, ["-o", "rtp.heuristic_rtp:TRUE", "-q", "-z", "rtp,streams", "-r", path], note: "Wireshark's analysis")
        }
        try? FileManager.default.removeItem(atPath: wavDir)
        return rows
    }
}

/// Runs a program with stdout to /dev/null and returns its wall-clock seconds and exit
/// status. posix_spawn and waitpid directly: Foundation's Process adds its own latency
/// to the wait, which a 0.2 s run would notice.
func spawnAndWait(_ exe: String, _ args: [String]) throws -> (Double, Int32) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    let argv = ([exe] + args).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let start = DispatchTime.now()
    let rc = posix_spawn(&pid, exe, &actions, nil, argv, environ)
    guard rc == 0 else { throw BenchError("cannot start \(exe): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    // WIFEXITED / WEXITSTATUS by hand: the macros are not imported.
    let exited = status & 0x7F == 0
    return (seconds, exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension PcapWriter {
    /// A writer whose bytes continue a file already started (no file header).
    static func continuation() -> PcapWriter {
        var w = PcapWriter()
        w.dropHeader()
        return w
    }
}
