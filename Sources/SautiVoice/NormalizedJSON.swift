// The normalized rendering of a validated document: JSON of the one model, every default
// filled in, attributes in a fixed order, one action a line. It is itself a valid JSON
// document of the language (parsing it gives the same model), so `sauti validate` and the
// engine can show what will run, whichever form the customer wrote.

/// JSON string output.
enum JSONText {
    /// Appends `u` as it goes inside a JSON string literal.
    static func appendEscaped(_ u: Unicode.Scalar, to out: inout String) {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if u.value < 0x20 || u.value == 0x7F {
                let hex = String(u.value, radix: 16, uppercase: false)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }

    /// `s` as a JSON string literal.
    static func literal(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars { appendEscaped(u, to: &out) }
        out += "\""
        return out
    }
}

/// Builds one JSON object, members in the order they are added.
struct JSONObjectWriter {
    var text = "{"

    init(verb: String) {
        text += "\"verb\":\"\(verb)\""
    }

    mutating func add(_ key: String, _ value: String) { text += ",\"\(key)\":" + JSONText.literal(value) }
    mutating func add(_ key: String, _ value: String?) { if let value { add(key, value) } }
    mutating func add(_ key: String, _ value: Int) { text += ",\"\(key)\":\(value)" }
    mutating func add(_ key: String, _ value: Int?) { if let value { add(key, value) } }
    mutating func add(_ key: String, _ value: Bool) { text += ",\"\(key)\":\(value)" }
    mutating func add(_ key: String, _ values: [String]) {
        text += ",\"\(key)\":[" + values.map(JSONText.literal).joined(separator: ",") + "]"
    }
    mutating func addRaw(_ key: String, _ json: String) { text += ",\"\(key)\":" + json }

    var result: String { text + "}" }
}

extension VoiceDocument {
    /// The normalized JSON of the document: an array with one object per action, on its
    /// own line, `verb` first, every attribute with its value or default (absent optional
    /// attributes left out), in the order of docs/voice-actions.md.
    public func normalizedJSON() -> String {
        if actions.isEmpty { return "[]\n" }
        return "[\n" + actions.map { "  " + $0.normalizedJSON() }.joined(separator: ",\n") + "\n]\n"
    }
}

extension VoiceAction {
    /// The action as one normalized JSON object.
    public func normalizedJSON() -> String {
        switch self {
        case .say(let s): return s.normalizedJSON()
        case .play(let p): return p.normalizedJSON()
        case .getDigits(let g):
            var w = JSONObjectWriter(verb: "getDigits")
            w.add("numDigits", g.numDigits)
            w.add("timeout", g.timeoutSeconds)
            w.add("interDigitTimeout", g.interDigitTimeoutSeconds)
            w.add("finishOnKey", g.finishOnKey)
            w.add("callbackUrl", g.callbackURL)
            w.add("actionOnEmptyResult", g.actionOnEmptyResult)
            w.addRaw("prompt", PromptAction.normalizedJSON(g.prompt))
            return w.result
        case .dial(let d):
            var w = JSONObjectWriter(verb: "dial")
            w.add("numbers", d.targets.map(\.address))
            w.add("callerId", d.callerId)
            w.add("timeout", d.timeoutSeconds)
            w.add("maxDuration", d.maxDurationSeconds)
            w.add("record", d.record)
            w.add("sequential", d.sequential)
            w.add("ringbackTone", d.ringbackTone)
            w.add("sendDigits", d.sendDigits)
            w.add("callbackUrl", d.callbackURL)
            return w.result
        case .conference(let c):
            var w = JSONObjectWriter(verb: "conference")
            w.add("name", c.name)
            w.add("muted", c.muted)
            w.add("beep", c.beep)
            w.add("startConferenceOnEnter", c.startConferenceOnEnter)
            w.add("endConferenceOnExit", c.endConferenceOnExit)
            w.add("maxParticipants", c.maxParticipants)
            w.add("waitUrl", c.waitURL)
            w.add("record", c.record)
            return w.result
        case .record(let r):
            var w = JSONObjectWriter(verb: "record")
            w.add("maxLength", r.maxLengthSeconds)
            w.add("timeout", r.timeoutSeconds)
            w.add("finishOnKey", r.finishOnKey)
            w.add("playBeep", r.playBeep)
            w.add("trimSilence", r.trimSilence)
            w.add("format", r.format.rawValue)
            w.add("callbackUrl", r.callbackURL)
            w.addRaw("prompt", PromptAction.normalizedJSON(r.prompt))
            return w.result
        case .redirect(let r):
            var w = JSONObjectWriter(verb: "redirect")
            w.add("url", r.url)
            return w.result
        case .reject(let r):
            var w = JSONObjectWriter(verb: "reject")
            w.add("reason", r.reason.rawValue)
            return w.result
        case .hangup:
            return JSONObjectWriter(verb: "hangup").result
        case .pause(let p): return p.normalizedJSON()
        }
    }
}

extension PromptAction {
    /// A prompt as a normalized JSON array.
    static func normalizedJSON(_ prompt: [PromptAction]) -> String {
        "["
            + prompt.map { p in
                switch p {
                case .say(let s): s.normalizedJSON()
                case .play(let p): p.normalizedJSON()
                case .pause(let p): p.normalizedJSON()
                }
            }.joined(separator: ",") + "]"
    }
}

extension Say {
    func normalizedJSON() -> String {
        var w = JSONObjectWriter(verb: "say")
        w.add("text", text)
        w.add("voice", voice)
        w.add("language", language)
        w.add("loop", loop)
        w.add("playBeep", playBeep)
        return w.result
    }
}

extension Play {
    func normalizedJSON() -> String {
        var w = JSONObjectWriter(verb: "play")
        w.add("url", urls)
        w.add("loop", loop)
        return w.result
    }
}

extension Pause {
    func normalizedJSON() -> String {
        var w = JSONObjectWriter(verb: "pause")
        w.add("length", lengthSeconds)
        return w.result
    }
}

extension VoiceDocumentError {
    /// The problems as JSON: `{"format": "json", "errors": [{"kind", "path", "line",
    /// "column", "found", "expected"}, …]}` (the body of a 422 reply).
    public func jsonRendering() -> String {
        let rows = issues.map { i in
            "{\"kind\":\(JSONText.literal(i.kind.rawValue)),\"path\":\(JSONText.literal(i.path)),\"line\":\(i.line),\"column\":\(i.column),\"found\":\(JSONText.literal(i.found)),\"expected\":\(JSONText.literal(i.expected))}"
        }
        return "{\"format\":\"\(format.rawValue)\",\"errors\":[\n  " + rows.joined(separator: ",\n  ") + "\n]}\n"
    }
}
