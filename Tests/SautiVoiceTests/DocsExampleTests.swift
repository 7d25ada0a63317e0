import Foundation
import SautiVoice
import Testing

/// Every JSON and XML example in docs/voice-actions.md is a valid document, and the
/// reference shows every verb in both forms.
@Suite struct DocsExampleTests {
    static let reference = Fixtures.directory
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/voice-actions.md")

    /// The fenced blocks of the reference whose language is `json` or `xml`.
    static func examples() throws -> [(language: String, text: String)] {
        let lines = try String(contentsOf: reference, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        var out: [(String, String)] = []
        var current: (String, [Substring])?
        for line in lines {
            if let (language, body) = current {
                if line == "```" {
                    out.append((language, body.joined(separator: "\n")))
                    current = nil
                } else {
                    current = (language, body + [line])
                }
            } else if line == "```json" || line == "```xml" {
                current = (String(line.dropFirst(3)), [])
            }
        }
        return out
    }

    @Test func everyExampleValidates() throws {
        let examples = try Self.examples()
        #expect(examples.count >= 20)
        var verbs: [VoiceFormat: Set<String>] = [:]
        for (language, text) in examples {
            let format: VoiceFormat = language == "xml" ? .xml : .json
            do {
                let document = try VoiceDocument.parse(text, format: format)
                for action in document.actions { verbs[format, default: []].insert(action.verb) }
            } catch {
                Issue.record("example does not validate:\n\(text)\n\(error)")
            }
        }
        for verb in [
            "say", "play", "getDigits", "dial", "conference", "record", "redirect", "reject", "hangup", "pause",
        ] {
            #expect(
                verbs[.json]?.contains(verb) == true && verbs[.xml]?.contains(verb) == true,
                "no \(verb) example in both forms")
        }
    }
}
