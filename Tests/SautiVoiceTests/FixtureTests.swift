import Foundation
import SautiVoice
import Testing

/// Every verb in both forms, and an invalid document for every rule (Fixtures.swift says
/// how they are laid out).
@Suite struct FixtureTests {
    @Test(arguments: Fixtures.documents("valid"))
    func validDocumentNormalizesToItsGoldenJSON(_ name: String) throws {
        let document = try VoiceDocument.parse(try Fixtures.bytes("valid", name))
        let normalized = document.normalizedJSON()
        let golden = "\(Fixtures.base(name)).json"
        if Fixtures.regenerate {
            let url = Fixtures.directory.appendingPathComponent("normalized").appendingPathComponent(golden)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(normalized.utf8).write(to: url)
        }
        #expect(normalized == (try Fixtures.text("normalized", golden)), "\(name)")
    }

    @Test(arguments: Fixtures.documents("valid"))
    func normalizedJSONParsesToTheSameModel(_ name: String) throws {
        let document = try VoiceDocument.parse(try Fixtures.bytes("valid", name))
        let again = try VoiceDocument.parse(document.normalizedJSON(), format: .json)
        #expect(again == document)
    }

    /// Each verb's JSON and XML fixtures say the same thing.
    @Test(
        arguments: Fixtures.documents("valid").filter {
            $0.hasSuffix(".json") && Fixtures.documents("valid").contains(Fixtures.base($0) + ".xml")
        })
    func jsonAndXMLFormsGiveOneModel(_ name: String) throws {
        let json = try VoiceDocument.parse(try Fixtures.bytes("valid", name))
        let xml = try VoiceDocument.parse(try Fixtures.bytes("valid", Fixtures.base(name) + ".xml"))
        #expect(json == xml)
        #expect(!json.actions.isEmpty || name == "empty.json")
    }

    @Test func everyVerbHasAValidFixtureInBothForms() throws {
        let names = Set(Fixtures.documents("valid"))
        for verb in [
            "say", "play", "getDigits", "dial", "conference", "record", "redirect", "reject", "hangup", "pause",
        ] {
            #expect(names.contains("\(verb).json") && names.contains("\(verb).xml"), "\(verb)")
            let document = try VoiceDocument.parse(try Fixtures.bytes("valid", "\(verb).json"))
            #expect(document.actions.contains { $0.verb == verb }, "\(verb).json has no \(verb)")
        }
    }

    @Test(arguments: Fixtures.documents("invalid"))
    func invalidDocumentReportsEveryProblemWhereItIs(_ name: String) throws {
        let expected = try Fixtures.expected(name)
        let bytes = try Fixtures.bytes("invalid", name)
        do {
            let document = try VoiceDocument.parse(bytes)
            Issue.record("\(name) validated: \(document.normalizedJSON())")
        } catch {
            #expect(error.format == (name.hasSuffix(".xml") ? .xml : .json))
            #expect(error.issues.map(Fixtures.Expected.init) == expected, "\(name):\n\(error)")
            for issue in error.issues {
                #expect(issue.line >= 1 && issue.column >= 1, "\(issue)")
                #expect(!issue.found.isEmpty && !issue.expected.isEmpty, "\(issue)")
            }
        }
    }

    /// Every kind of problem (but the cap on their number, tested apart) has a fixture.
    @Test func everyRuleHasAnInvalidFixture() throws {
        var kinds = Set<String>()
        for name in Fixtures.documents("invalid") {
            for e in try Fixtures.expected(name) { kinds.insert(e.kind) }
        }
        for kind in VoiceIssue.Kind.allCases where kind != .tooManyIssues {
            #expect(kinds.contains(kind.rawValue), "no invalid fixture for \(kind)")
        }
    }
}
