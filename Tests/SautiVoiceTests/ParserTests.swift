import Foundation
import SautiVoice
import Testing

/// Edge cases of the two readers and the model that fixtures do not show well: defaults,
/// limits that need large documents, encodings, and hostile input that must not crash.
@Suite struct ParserTests {
    func issues(_ text: String, format: VoiceFormat? = nil) -> [VoiceIssue] {
        do {
            _ = try VoiceDocument.parse(text, format: format)
            return []
        } catch {
            return error.issues
        }
    }

    @Test func defaultsAreFilledIn() throws {
        let document = try VoiceDocument.parse(
            #"[{"verb":"say","text":"Hi"},{"verb":"getDigits"},{"verb":"dial","numbers":["+254711000001"]},{"verb":"record"},{"verb":"conference","name":"r"},{"verb":"reject"}]"#
                .replacingOccurrences(of: #"{"verb":"reject"}"#, with: #"{"verb":"pause"}"#))
        #expect(
            document.actions == [
                .say(Say(text: "Hi", voice: nil, language: "en-US", loop: 1, playBeep: false)),
                .getDigits(
                    GetDigits(
                        numDigits: nil, timeoutSeconds: 5, interDigitTimeoutSeconds: nil, finishOnKey: "#",
                        callbackURL: nil, actionOnEmptyResult: false, prompt: [])),
                .dial(
                    Dial(
                        targets: [.number("+254711000001")], timeoutSeconds: 30, maxDurationSeconds: 14400,
                        record: false, sequential: false)),
                .record(
                    Record(
                        maxLengthSeconds: 3600, timeoutSeconds: 5, finishOnKey: "1234567890*#", playBeep: true,
                        trimSilence: false)),
                .conference(
                    Conference(
                        name: "r", muted: false, beep: true, startConferenceOnEnter: true, endConferenceOnExit: false,
                        maxParticipants: 250)),
                .pause(Pause(lengthSeconds: 1)),
            ])
    }

    @Test func rejectIsMarkedAsBeforeAnswerOnly() throws {
        let document = try VoiceDocument.parse(#"<Response><Reject reason="busy"/></Response>"#)
        #expect(document.actions == [.reject(Reject(reason: .busy))])
        #expect(document.actions[0].isValidOnlyBeforeAnswer)
        #expect(!VoiceAction.hangup.isValidOnlyBeforeAnswer)
    }

    @Test func africasTalkingSIPAddressesGetASchemeAndTargetsKeepTheirKind() throws {
        let document = try VoiceDocument.parse(
            #"<Response><Dial phoneNumbers=" +254711000001 , agent@ke.sip.example.com"/></Response>"#)
        guard case .dial(let d) = document.actions.first else { Issue.record("not a dial"); return }
        #expect(d.targets == [.number("+254711000001"), .sip("sip:agent@ke.sip.example.com")])
    }

    /// JSON Schema's `integer` admits 5.0 and 5e0; so does the parser.
    @Test(arguments: ["5", "5.0", "5e0", "50e-1", "0.5e1"])
    func wholeNumbersAreIntegers(_ literal: String) throws {
        let document = try VoiceDocument.parse(#"[{"verb":"pause","length":\#(literal)}]"#)
        #expect(document.actions == [.pause(Pause(lengthSeconds: 5))])
    }

    @Test(arguments: ["-0.5", "1e400", "123456789012345678901234567890", "-1"])
    func otherNumbersAreNot(_ literal: String) {
        let found = issues(#"[{"verb":"pause","length":\#(literal)}]"#)
        #expect(
            found.count == 1 && (found[0].kind == .wrongType || found[0].kind == .outOfRange)
                && found[0].path == "/0/length", "\(found)")
    }

    @Test(arguments: [#""\ud800""#, #""\udc00x""#, #""\ud800\u0041""#])
    func loneSurrogatesAreSyntaxErrors(_ literal: String) {
        let found = issues(#"[{"verb":"say","text":\#(literal)}]"#)
        #expect(found.map(\.kind) == [.syntax], "\(found)")
        #expect(found.first?.column == 24)  // the backslash of the escape
    }

    @Test func surrogatePairsAndEscapesDecode() throws {
        let document = try VoiceDocument.parse(#"[{"verb":"say","text":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}]"#)
        #expect(document.actions == [.say(Say(text: "a\"\\/\u{8}\u{C}\n\r\té😀"))])
    }

    @Test func byteOrderMarkIsSkippedInBothForms() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        #expect(try VoiceDocument.parse(bom + Array(#"[{"verb":"hangup"}]"#.utf8)).actions == [.hangup])
        #expect(try VoiceDocument.parse(bom + Array("\n <Response><Hangup/></Response>".utf8)).actions == [.hangup])
    }

    @Test func formatIsDetectedFromTheFirstCharacter() {
        let cases: [(String, VoiceFormat)] = [
            ("  \n<Response/>", .xml), ("[]", .json), ("", .json), ("hello", .json), ("\u{FEFF}<Response/>", .xml),
        ]
        for (text, format) in cases {
            let detected = Array(text.utf8).withUnsafeBufferPointer { VoiceDocument.detectFormat($0) }
            #expect(detected == format, "\(text)")
        }
    }

    @Test func oversizedDocumentIsRefusedUnread() {
        let text = "[" + String(repeating: " ", count: VoiceLimits.maxDocumentBytes) + "]"
        let found = issues(text)
        #expect(found.map(\.kind) == [.limit])
    }

    /// A billion-laughs document is refused at its DTD; entities are never expanded.
    @Test func entityExpansionIsImpossible() {
        let found = issues(
            #"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><Response><Say>&b;</Say></Response>"#
        )
        #expect(found.map(\.kind) == [.syntax])
        #expect(found.first?.found.contains("DTD") == true)
        #expect(issues(#"<Response><Say>&a;</Say></Response>"#).map(\.kind) == [.syntax])
        #expect(issues(#"<Response><Say>&#xD800;</Say></Response>"#).map(\.kind) == [.syntax])
        #expect(issues(#"<Response><Say>&#99999999;</Say></Response>"#).map(\.kind) == [.syntax])
    }

    @Test func deepNestingStopsAtTheLimitWithoutRecursingFurther() {
        #expect(issues(String(repeating: "[", count: 200_000)).map(\.kind) == [.limit])
        #expect(issues(String(repeating: "<a>", count: 200_000)).map(\.kind) == [.limit])
        #expect(
            issues(#"[{"verb":"getDigits","prompt":"# + String(repeating: "[", count: 50_000)).map(\.kind) == [.limit])
    }

    @Test func problemsAreCappedWithAFinalNote() {
        // 50 actions of 25 unknown attributes each: more problems than the cap.
        let attributes = (0..<25).map { #""x\#($0)":1"# }.joined(separator: ",")
        let text = "[" + Array(repeating: #"{"verb":"hangup",\#(attributes)}"#, count: 50).joined(separator: ",") + "]"
        let found = issues(text)
        #expect(found.count == VoiceLimits.maxIssues + 1)
        #expect(found.last?.kind == .tooManyIssues)
    }

    @Test func linesAndColumnsCountScalarsNotBytes() {
        let found = issues("[\n  {\"verb\": \"say\", \"text\": \"é\", \"loop\": -1}\n]")
        #expect(found.count == 1)
        #expect(found.first?.line == 2)
        #expect(found.first?.column == 40)  // 41 if bytes were counted
    }

    @Test func xmlWhitespaceInAttributesIsNormalizedAndTextTrimmed() throws {
        let document = try VoiceDocument.parse(
            "<Response>\n<Say language=\"en-US\">\n  Hello\tthere  \n</Say></Response>")
        #expect(document.actions == [.say(Say(text: "Hello\tthere"))])
        let found = issues("<Response><Say voice=\"a\nb\">x</Say></Response>")
        #expect(found.first?.found == "\"a b\"")
    }

    @Test func errorsRenderAsJSON() {
        do {
            _ = try VoiceDocument.parse(#"[{"verb":"pause","length":0}]"#)
            Issue.record("validated")
        } catch {
            let json = error.jsonRendering()
            #expect(json.contains(#""kind":"outOfRange","path":"/0/length","line":1,"column":27"#), "\(json)")
            let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8))
            #expect(parsed != nil)
        }
    }

    /// Random damage to every valid fixture never crashes, and every problem found has a
    /// place inside the document.
    @Test func mutatedDocumentsNeverCrash() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["SAUTI_VOICE_SEED"] ?? "") ?? 20_240_605
        var rng = SplitMix64(seed: seed)
        let alphabet = Array(#"<>/"'&;=[]{}:,-+.0123456789aeEsx# \#n\\u"#.utf8) + [0x00, 0xC3, 0xFF]
        for name in Fixtures.documents("valid") {
            let original = try Fixtures.bytes("valid", name)
            for _ in 0..<200 {
                var bytes = original
                for _ in 0..<Int(rng.next() % 4 + 1) where !bytes.isEmpty {
                    let at = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    case 1: bytes.remove(at: at)
                    default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                    }
                }
                let lines = bytes.filter { $0 == 0x0A }.count + 1
                do {
                    _ = try VoiceDocument.parse(bytes)
                } catch {
                    #expect(!error.issues.isEmpty, "seed \(seed)")
                    for issue in error.issues {
                        #expect(issue.line >= 1 && issue.line <= lines, "seed \(seed): \(issue)")
                    }
                }
            }
        }
    }
}

/// A small seeded generator (SplitMix64), so failures can be replayed with SAUTI_VOICE_SEED.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        // Safe: wrapping arithmetic is the algorithm.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476C_E484_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
