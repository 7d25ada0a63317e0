import Foundation
import SautiReplay
import SautiTestSupport

/// Where the package's files are, found from this source file.
enum Paths {
    /// The package root.
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// audio-fixtures/captures.
    static let captures = root.appendingPathComponent("audio-fixtures/captures")
    /// ../shared/corpus beside the checkout (present for developers and CI).
    static let corpus = root.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    /// Whether the shared corpus is there.
    static var hasCorpus: Bool { FileManager.default.fileExists(atPath: corpus.appendingPathComponent("MANIFEST.md").path) }

    static func capture(_ name: String) -> String { captures.appendingPathComponent(name).path }

    /// The built `sauti` executable, next to the test bundle.
    static var sauti: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("sauti").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return root.appendingPathComponent(".build/debug/sauti").path
    }

    /// A fresh temporary folder.
    static func temporaryDirectory() -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("sauti-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }
}

/// tshark's figures for a capture, from its `*.truth.json`.
struct Truth: Decodable {
    struct Stream: Decodable {
        var src: String
        var dst: String
        var ssrc: String
        var packets: Int
        var lost: Int
        var minDeltaMs: Double
        var meanDeltaMs: Double
        var maxDeltaMs: Double
        var meanJitterMs: Double
        var maxJitterMs: Double
        var problems: Bool
    }
    struct PacketStream: Decodable {
        var src: String
        var ssrc: String
        var rfc4733Digits: String?
        var g711Pt0: G711?
        var g711Pt8: G711?
    }
    struct G711: Decodable {
        var soxSamples: Int
        var soxSHA256: String
        enum CodingKeys: String, CodingKey {
            // Spelled out: the automatic snake-case conversion does not round-trip "s16le".
            case soxSamples = "soxS16LeSamples"
            case soxSHA256 = "soxS16LeSha256"
        }
    }
    var rtpStreamsWireshark: [Stream]?
    var streamsFromPackets: [PacketStream]?
    var decodeAsNeeded: Bool?

    static func load(_ path: String) throws -> Truth {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try d.decode(Truth.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// Runs a command and returns its exit status and output, apart from its standard error
/// (test support's `runTool`, with a deadline generous for a debug build's replay of a big
/// capture).
func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
    let r = try await runTool(executable, arguments, seconds: 120, errors: .separate)
    return (r.status, r.output, r.errors)
}

/// `host:port` as the report writes endpoints (IPv6 in brackets).
func endpoint(_ s: String) -> String {
    guard let i = s.lastIndex(of: ":") else { return s }
    let host = s[..<i]
    return host.contains(":") ? "[\(host)]:\(s[s.index(after: i)...])" : s
}
