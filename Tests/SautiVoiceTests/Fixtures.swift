import Foundation
import SautiVoice

/// The fixture documents in `Fixtures/` (next to this file): `valid/` documents with their
/// normalized JSON in `normalized/`, and `invalid/` documents each with a `.expected` file
/// listing its problems, one a line: `KIND PATH LINE` (PATH empty for the whole document).
///
/// To regenerate `normalized/` after a deliberate change of the rendering, run the tests
/// with `SAUTI_VOICE_REGENERATE=1` and review the diff.
enum Fixtures {
    /// `Tests/SautiVoiceTests/Fixtures`, found from this source file's path.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")

    /// Whether to write `normalized/` instead of comparing with it.
    static let regenerate = ProcessInfo.processInfo.environment["SAUTI_VOICE_REGENERATE"] == "1"

    /// The documents in `folder` (`valid` or `invalid`), by file name, sorted.
    static func documents(_ folder: String) -> [String] {
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path)) ?? []
        return names.filter { $0.hasSuffix(".json") || $0.hasSuffix(".xml") }.sorted()
    }

    static func bytes(_ folder: String, _ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(folder).appendingPathComponent(name)))
    }

    static func text(_ folder: String, _ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(folder).appendingPathComponent(name), encoding: .utf8)
    }

    /// The name without its extension: `say.json` → `say`.
    static func base(_ name: String) -> String {
        String(name[..<(name.lastIndex(of: ".") ?? name.endIndex)])
    }

    /// An expected problem of an invalid fixture.
    struct Expected: Equatable, CustomStringConvertible {
        var kind: String
        var path: String
        var line: Int

        var description: String { "\(kind) \(path) \(line)" }

        init(kind: String, path: String, line: Int) {
            self.kind = kind
            self.path = path
            self.line = line
        }

        init(_ issue: VoiceIssue) {
            self.init(kind: issue.kind.rawValue, path: issue.path, line: issue.line)
        }
    }

    /// The problems `invalid/<name>.expected` lists.
    static func expected(_ name: String) throws -> [Expected] {
        try text("invalid", name + ".expected").split(separator: "\n").map { line in
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, let n = Int(parts[2]) else { throw CocoaError(.fileReadCorruptFile) }
            return Expected(kind: String(parts[0]), path: String(parts[1]), line: n)
        }
    }
}
