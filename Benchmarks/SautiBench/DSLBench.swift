// Parsing and validating voice-actions documents: 50-action documents in JSON and in XML,
// timed in a loop. Goal: under 50 µs per 50-action JSON document.

import Foundation
import SautiVoice

/// A realistic 50-action document in both forms: five of each verb but reject (which may
/// only come first), with typical attributes and nested prompts.
func dslBenchDocuments() -> (json: String, xml: String) {
    var json: [String] = []
    var xml: [String] = []
    for i in 0..<5 {
        json += [
            ##"{"verb": "say", "text": "Welcome to Acme support, caller \##(i). Your call may be recorded.", "language": "en-US", "voice": "woman"}"##,
            ##"{"verb": "play", "url": "https://media.example.com/prompts/welcome-\##(i).wav", "loop": 1}"##,
            ##"{"verb": "getDigits", "numDigits": 1, "timeout": 10, "finishOnKey": "#", "callbackUrl": "https://app.example.com/voice/menu?step=\##(i)", "prompt": [{"verb": "say", "text": "Press 1 for billing, 2 for technical support."}]}"##,
            ##"{"verb": "dial", "numbers": ["+25471100000\##(i)", "sip:agent\##(i)@pbx.example.com"], "callerId": "+254700000000", "timeout": 20, "record": true, "sequential": true}"##,
            ##"{"verb": "conference", "name": "support-room-\##(i)", "beep": false, "maxParticipants": 10, "waitUrl": "https://media.example.com/hold.mp3"}"##,
            ##"{"verb": "record", "maxLength": 60, "finishOnKey": "#", "playBeep": true, "callbackUrl": "https://app.example.com/voice/recorded", "prompt": [{"verb": "say", "text": "Leave a message after the beep."}]}"##,
            ##"{"verb": "redirect", "url": "https://app.example.com/voice/next?step=\##(i)"}"##,
            ##"{"verb": "pause", "length": 2}"##,
            ##"{"verb": "say", "text": "Thank you for calling.", "loop": 2}"##,
            ##"{"verb": "hangup"}"##,
        ]
        xml += [
            ##"<Say language="en-US" voice="woman">Welcome to Acme support, caller \##(i). Your call may be recorded.</Say>"##,
            ##"<Play loop="1">https://media.example.com/prompts/welcome-\##(i).wav</Play>"##,
            ##"<GetDigits maxDigits="1" timeout="10" finishOnKey="#" callbackUrl="https://app.example.com/voice/menu?step=\##(i)"><Say>Press 1 for billing, 2 for technical support.</Say></GetDigits>"##,
            ##"<Dial phoneNumbers="+25471100000\##(i),agent\##(i)@pbx.example.com" callerId="+254700000000" timeout="20" record="true" sequential="true"/>"##,
            ##"<Conference beep="false" maxParticipants="10" waitUrl="https://media.example.com/hold.mp3">support-room-\##(i)</Conference>"##,
            ##"<Record maxLength="60" finishOnKey="#" playBeep="true" callbackUrl="https://app.example.com/voice/recorded"><Say>Leave a message after the beep.</Say></Record>"##,
            ##"<Redirect>https://app.example.com/voice/next?step=\##(i)</Redirect>"##,
            ##"<Pause length="2"/>"##,
            ##"<Say loop="2">Thank you for calling.</Say>"##,
            ##"<Hangup/>"##,
        ]
    }
    return (
        "[\n  " + json.joined(separator: ",\n  ") + "\n]\n",
        "<Response>\n  " + xml.joined(separator: "\n  ") + "\n</Response>\n"
    )
}

/// Times parse + validate of one document for about `seconds`; returns µs per document.
func dslMicrosecondsPerDocument(_ bytes: [UInt8], seconds: Double) throws -> Double {
    // Warm up and check the document is valid and has 50 actions.
    let document = try VoiceDocument.parse(bytes)
    guard document.actions.count == 50 else {
        throw BenchError("benchmark document has \(document.actions.count) actions")
    }
    var rounds = 0
    var actions = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed: UInt64 = 0
    repeat {
        for _ in 0..<100 {
            actions &+= (try? VoiceDocument.parse(bytes))?.actions.count ?? 0
        }
        rounds += 100
        elapsed = DispatchTime.now().uptimeNanoseconds - start
    } while Double(elapsed) < seconds * 1e9
    guard actions == rounds * 50 else { throw BenchError("a benchmark run failed to validate") }
    return Double(elapsed) / 1e3 / Double(rounds)
}

/// `sauti-bench dsl [--seconds S]`: documents per second and µs per 50-action document.
func dslBenchmark(_ args: [String]) throws -> [String: Any] {
    var seconds = 2.0
    if let i = args.firstIndex(of: "--seconds"), i + 1 < args.count, let s = Double(args[i + 1]) { seconds = s }
    let (json, xml) = dslBenchDocuments()
    print("voice-actions DSL: parse + validate a 50-action document, \(seconds) s per form")
    var figures: [String: Any] = [:]
    for (form, text) in [("json", json), ("xml", xml)] {
        let us = try dslMicrosecondsPerDocument(Array(text.utf8), seconds: seconds)
        print(
            String(
                format: "%@  %6d bytes  %8.2f µs per document  %9.0f documents/s",
                form.padding(toLength: 4, withPad: " ", startingAt: 0), text.utf8.count, us, 1e6 / us))
        figures["\(form)_bytes"] = text.utf8.count
        figures["\(form)_us_per_document"] = us
        figures["\(form)_documents_per_second"] = 1e6 / us
    }
    let goal = (figures["json_us_per_document"] as? Double ?? .infinity) < 50
    print("goal (JSON under 50 µs per document): \(goal ? "met" : "NOT met")")
    figures["goal_met"] = goal
    return figures
}
