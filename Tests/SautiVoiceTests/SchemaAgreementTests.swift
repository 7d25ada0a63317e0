import Foundation
import SautiTestSupport
import SautiVoice
import Testing

/// docs/voice-actions.schema.json and the parser agree on every JSON fixture (valid,
/// invalid, and the normalized output of every valid fixture), as judged by Python's
/// `jsonschema` (Draft 2020-12), an implementation independent of ours. scripts/setup.sh
/// installs it (Debian's python3-jsonschema); without python3 the test is skipped.
@Suite struct SchemaAgreementTests {
    /// A python3 that has jsonschema: Debian's /usr/bin/python3 (where setup.sh's
    /// python3-jsonschema goes) or one on PATH (a pyenv with it from pip); else any
    /// python3, so the test says what is missing.
    static let python3: String? = {
        var candidates = ["/usr/bin/python3"]
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            candidates.append("\(dir)/python3")
        }
        let present = candidates.filter { FileManager.default.isExecutableFile(atPath: $0) }
        for path in present {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = ["-c", "import jsonschema"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { continue }
            p.waitUntilExit()
            if p.terminationStatus == 0 { return path }
        }
        return present.first
    }()

    static let schema = Fixtures.directory
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/voice-actions.schema.json")

    /// Prints `valid NAME` or `invalid NAME` for each file. JSON the parser refuses as JSON
    /// (duplicate keys, NaN, bad UTF-8) is invalid here too.
    static let judge = """
        import json, sys
        try:
            from jsonschema import Draft202012Validator
        except ImportError:
            print("missing-jsonschema"); sys.exit(0)
        schema = json.load(open(sys.argv[1]))
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)
        def pairs(p):
            if len({k for k, _ in p}) != len(p): raise ValueError("duplicate key")
            return dict(p)
        def constant(c): raise ValueError(c)
        for path in sys.argv[2:]:
            try:
                doc = json.loads(open(path, "rb").read().decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)
                ok = validator.is_valid(doc)
            except ValueError:
                ok = False
            print(("valid " if ok else "invalid ") + path)
        """

    @Test(.enabled(if: python3 != nil, "python3 is not installed: run scripts/setup.sh to check the schema"))
    func schemaAndParserAgreeOnEveryFixture() async throws {
        var files: [URL] = []
        for folder in ["valid", "invalid", "normalized"] {
            let dir = Fixtures.directory.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".json") {
                files.append(dir.appendingPathComponent(name))
            }
        }
        #expect(files.count > 60)
        let judged = try await runTool(
            try #require(Self.python3), ["-c", Self.judge, Self.schema.path] + files.map(\.path), errors: .separate)
        #expect(judged.status == 0, "\(judged.errors)")
        let text = judged.output
        try #require(
            !text.hasPrefix("missing-jsonschema"),
            "python3 lacks jsonschema: run scripts/setup.sh (Debian package python3-jsonschema)")
        var verdicts: [String: Bool] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { verdicts[String(parts[1])] = parts[0] == "valid" }
        }
        #expect(verdicts.count == files.count)
        for file in files {
            let schemaSays = try #require(verdicts[file.path], "no verdict for \(file.lastPathComponent)")
            let parserSays: Bool
            do {
                _ = try VoiceDocument.parse([UInt8](try Data(contentsOf: file)), format: .json)
                parserSays = true
            } catch {
                parserSays = false
            }
            #expect(
                schemaSays == parserSays,
                "\(file.lastPathComponent): schema says \(schemaSays ? "valid" : "invalid"), parser \(parserSays ? "valid" : "invalid")"
            )
        }
    }
}
