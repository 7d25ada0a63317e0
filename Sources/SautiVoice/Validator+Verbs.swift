// Each verb's attributes: names, types, defaults and limits (docs/voice-actions.md).

extension Validator {
    /// Checks a document's actions, already read from either form.
    mutating func document(_ nodes: [RawNode], root: RawNode) -> [VoiceAction] {
        var actions: [VoiceAction] = []
        actions.reserveCapacity(min(nodes.count, VoiceLimits.maxActions))
        if nodes.count > VoiceLimits.maxActions {
            let extra = nodes[VoiceLimits.maxActions]
            report(
                .tooManyActions, offset: extra.offset, step: extra.step, found: "\(nodes.count) actions",
                expected: "at most \(VoiceLimits.maxActions) actions in a response (MaxActionSteps)")
        }
        for index in nodes.indices {
            let node = nodes[index]
            path.append(node.step)
            defer { path.removeLast() }
            guard let raw = rawAction(node, expected: "an action: an object naming its \"verb\"") else { continue }
            if index > 0, raw.verb == .reject, let v = raw.verbNode {
                report(
                    .misplaced, v, found: "\(name(.reject)) as action \(index + 1)",
                    expected: "\(name(.reject)) only as the first action (it is valid only before the call is answered)"
                )
            }
            if let action = action(raw) { actions.append(action) }
        }
        return actions
    }

    /// The action a node holds: a JSON object with a `verb`, or an XML element; nil (with
    /// the problem reported) when it holds none.
    mutating func rawAction(_ node: RawNode, expected: String) -> RawAction? {
        switch node.value {
        case .action(let a):
            guard a.verb != nil else {
                report(
                    .unknownVerb, offset: node.offset, step: .none, found: "<\(a.verbText ?? "")>",
                    expected: "one of " + Verb.allCases.map { "<\($0.xmlName)>" }.joined(separator: ", "))
                return nil
            }
            return a
        case .object(let members):
            var raw = RawAction(verb: nil, verbText: nil, verbNode: nil, offset: node.offset, members: members)
            for k in members.indices where members[k].name == .verb {
                let m = members[k]
                if raw.verbNode != nil {
                    report(.duplicateAttribute, m.node, found: "\"verb\" given twice", expected: "\"verb\" once")
                    continue
                }
                raw.verbNode = m.node
                guard case .string(let s) = m.node.value else {
                    report(.wrongType, m.node, expected: "the verb's name, a string")
                    return nil
                }
                raw.verbText = s
                raw.verb = Verb(json: s)
            }
            guard let verbNode = raw.verbNode else {
                report(
                    .missingAttribute, offset: node.offset, step: .none, found: "no \"verb\"",
                    expected: "\"verb\": one of " + Verb.allCases.map(\.rawValue).joined(separator: ", "))
                return nil
            }
            guard raw.verb != nil else {
                report(
                    .unknownVerb, verbNode, expected: "one of " + Verb.allCases.map(\.rawValue).joined(separator: ", "))
                return nil
            }
            return raw
        default:
            report(.wrongType, offset: node.offset, step: .none, found: describe(node.value), expected: expected)
            return nil
        }
    }

    /// The action `raw` describes, or nil when it has problems (all reported).
    mutating func action(_ raw: RawAction) -> VoiceAction? {
        guard let verb = raw.verb else { return nil }
        switch verb {
        case .say: return say(raw).map { .say($0) }
        case .play: return play(raw).map { .play($0) }
        case .getDigits: return getDigits(raw).map { .getDigits($0) }
        case .dial: return dial(raw).map { .dial($0) }
        case .conference: return conference(raw).map { .conference($0) }
        case .record: return record(raw).map { .record($0) }
        case .redirect: return redirect(raw).map { .redirect($0) }
        case .reject: return reject(raw).map { .reject($0) }
        case .hangup:
            let before = issues.count
            for m in raw.members where m.name != .verb { unknown(m, of: .hangup, known: "") }
            return issues.count == before ? .hangup : nil
        case .pause: return pause(raw).map { .pause($0) }
        }
    }

    static let playURLExpected =
        "an audio URL, or an array of 1 to \(VoiceLimits.maxPlayURLs) (absolute http:// or https://)"
    static let dialNumbersExpected = "an array of 1 to \(VoiceLimits.maxDialTargets) E.164 numbers or SIP URIs"
    static let loopRange = 0...1000
    static let loopUnit: StaticString = "times; 0 repeats until the call ends"

    mutating func say(_ raw: RawAction) -> Say? {
        let before = issues.count
        var say = Say(text: "")
        var text: String?
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .text:
                text = self.text(
                    m.node, maxScalars: VoiceLimits.maxSayTextScalars, allowControl: true, what: "the text to speak")
            case .voice:
                say.voice = string(
                    m.node,
                    expected:
                        "a voice name (letters, digits, `.`, `_`, `:`, `-`; at most 64), such as man, woman, Polly.Joanna",
                    ValueSyntax.isVoiceName)
            case .language:
                if let v = string(
                    m.node, expected: "a BCP 47 language tag such as en-US or sw-KE", ValueSyntax.isLanguageTag)
                {
                    say.language = v
                }
            case .loop: if let v = integer(m, Self.loopRange, unit: Self.loopUnit) { say.loop = v }
            case .playBeep: if let v = bool(m) { say.playBeep = v }
            default:
                unknown(
                    m, of: .say,
                    known: format == .json
                        ? "text, voice, language, loop, playBeep"
                        : "voice, language, loop, playBeep (the text is the content)")
            }
        }
        if text == nil, !raw.members.contains(where: { $0.name == .text }) {
            missing(
                raw, "text", xml: "text",
                expected: format == .json ? "\"text\": the text to speak" : "the text to speak as the content of <Say>")
        }
        guard let text, issues.count == before else { return nil }
        say.text = text
        return say
    }

    mutating func play(_ raw: RawAction) -> Play? {
        let before = issues.count
        var play = Play(urls: [])
        var hasURL = false
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .url:
                hasURL = true
                guard
                    let items = list(
                        m.node, limit: VoiceLimits.maxPlayURLs, allowSingle: true, expected: Self.playURLExpected)
                else { continue }
                path.append(m.node.step)
                for item in items { if let u = url(item) { play.urls.append(u) } }
                path.removeLast()
            case .loop: if let v = integer(m, Self.loopRange, unit: Self.loopUnit) { play.loop = v }
            default:
                unknown(m, of: .play, known: format == .json ? "url, loop" : "url (or the URL as the content), loop")
            }
        }
        if !hasURL {
            missing(
                raw, "url", xml: "url",
                expected: format == .json
                    ? "\"url\": the audio's URL" : "the audio's URL as the content of <Play> or its url attribute")
        }
        return issues.count == before ? play : nil
    }

    mutating func getDigits(_ raw: RawAction) -> GetDigits? {
        let before = issues.count
        var g = GetDigits()
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .numDigits: g.numDigits = integer(m, 1...64, unit: "digits")
            case .timeout: if let v = integer(m, 1...120, unit: "seconds") { g.timeoutSeconds = v }
            case .interDigitTimeout: g.interDigitTimeoutSeconds = integer(m, 1...60, unit: "seconds")
            case .finishOnKey:
                if let v = string(
                    m.node, expected: "one key of 0-9, *, #, or \"\" for none", { ValueSyntax.isKeys($0, 0...1) })
                {
                    g.finishOnKey = v
                }
            case .callbackUrl: g.callbackURL = url(m.node)
            case .actionOnEmptyResult: if let v = bool(m) { g.actionOnEmptyResult = v }
            case .prompt: g.prompt = prompt(m, of: .getDigits)
            default:
                unknown(
                    m, of: .getDigits,
                    known: format == .json
                        ? "numDigits, timeout, interDigitTimeout, finishOnKey, callbackUrl, actionOnEmptyResult, prompt"
                        : "maxDigits, timeout, interDigitTimeout, finishOnKey, callbackUrl, actionOnEmptyResult")
            }
        }
        return issues.count == before ? g : nil
    }

    /// A nested prompt: 0 to 10 say, play or pause actions.
    mutating func prompt(_ m: RawMember, of verb: Verb) -> [PromptAction] {
        guard case .array(let items) = m.node.value else {
            report(
                .wrongType, m.node,
                expected: "an array of at most \(VoiceLimits.maxPromptActions) say, play or pause actions")
            return []
        }
        path.append(m.node.step)
        defer { path.removeLast() }
        if items.count > VoiceLimits.maxPromptActions {
            let extra = items[VoiceLimits.maxPromptActions]
            report(
                .outOfRange, offset: extra.offset, step: extra.step, found: "\(items.count) prompt actions",
                expected: "at most \(VoiceLimits.maxPromptActions) in the prompt of \(name(verb))")
        }
        var out: [PromptAction] = []
        for item in items {
            path.append(item.step)
            defer { path.removeLast() }
            guard
                let raw = rawAction(
                    item, expected: "a prompt action: an object naming its \"verb\" (say, play or pause)"),
                let v = raw.verb
            else { continue }
            switch v {
            case .say: if let s = say(raw) { out.append(.say(s)) }
            case .play: if let p = play(raw) { out.append(.play(p)) }
            case .pause: if let p = pause(raw) { out.append(.pause(p)) }
            default:
                let where_ = raw.verbNode ?? item
                report(
                    .misplaced, offset: where_.offset, step: raw.verbNode?.step ?? .none,
                    found: "\(name(v)) in the prompt of \(name(verb))",
                    expected: "only \(name(.say)), \(name(.play)) or \(name(.pause)) in a prompt")
            }
        }
        return out
    }

    mutating func dial(_ raw: RawAction) -> Dial? {
        let before = issues.count
        var d = Dial(targets: [])
        var hasTargets = false
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .numbers:
                hasTargets = true
                guard
                    let items = list(
                        m.node, limit: VoiceLimits.maxDialTargets, allowSingle: format == .xml,
                        expected: Self.dialNumbersExpected)
                else { continue }
                path.append(m.node.step)
                for item in items { if let t = dialTarget(item) { d.targets.append(t) } }
                path.removeLast()
            case .callerId:
                d.callerId = string(m.node, expected: "an E.164 number such as +254711000000", ValueSyntax.isE164)
            case .timeout: if let v = integer(m, 5...600, unit: "seconds") { d.timeoutSeconds = v }
            case .maxDuration: if let v = integer(m, 1...86400, unit: "seconds") { d.maxDurationSeconds = v }
            case .record: if let v = bool(m) { d.record = v }
            case .sequential: if let v = bool(m) { d.sequential = v }
            case .ringbackTone: d.ringbackTone = url(m.node)
            case .sendDigits:
                d.sendDigits = string(
                    m.node, expected: "1 to 32 of 0-9, *, # and w (a 0.5 s wait)", ValueSyntax.isSendDigits)
            case .callbackUrl: d.callbackURL = url(m.node)
            default:
                unknown(
                    m, of: .dial,
                    known: format == .json
                        ? "numbers, callerId, timeout, maxDuration, record, sequential, ringbackTone, sendDigits, callbackUrl"
                        : "phoneNumbers, callerId, timeout, maxDuration, record, sequential, ringbackTone, sendDigits, callbackUrl"
                )
            }
        }
        if !hasTargets {
            missing(
                raw, "numbers", xml: "phoneNumbers",
                expected: format == .json
                    ? "\"numbers\": the E.164 numbers or SIP URIs to ring"
                    : "phoneNumbers=\"…\", or <Number>/<Sip> children")
        }
        return issues.count == before ? d : nil
    }

    static let dialTargetExpected = "an E.164 number (+254711000000) or a SIP URI (sip:user@host)"

    /// An E.164 number or a SIP URI; XML `<Number>` must be a number, `<Sip>` a URI.
    mutating func dialTarget(_ node: RawNode) -> DialTarget? {
        let expected = Self.dialTargetExpected
        guard let s = string(node, expected: expected) else { return nil }
        var only: String?
        if case .element(let e, _) = node.step { only = e }
        if s.hasPrefix("sip:") || s.hasPrefix("sips:") {
            guard only != "Number", ValueSyntax.isSIPURI(s) else {
                report(
                    .invalidValue, node,
                    expected: only == "Number"
                        ? "an E.164 number in <Number> (a SIP URI goes in <Sip>)" : "a SIP URI: sip:user@host")
                return nil
            }
            return .sip(s)
        }
        guard only != "Sip", ValueSyntax.isE164(s) else {
            report(.invalidValue, node, expected: only == "Sip" ? "a SIP URI in <Sip> (sip:user@host)" : expected)
            return nil
        }
        return .number(s)
    }

    mutating func conference(_ raw: RawAction) -> Conference? {
        let before = issues.count
        var c = Conference(name: "")
        var name: String?
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .name: name = text(m.node, maxScalars: 128, allowControl: false, what: "the room's name")
            case .muted: if let v = bool(m) { c.muted = v }
            case .beep: if let v = bool(m) { c.beep = v }
            case .startConferenceOnEnter: if let v = bool(m) { c.startConferenceOnEnter = v }
            case .endConferenceOnExit: if let v = bool(m) { c.endConferenceOnExit = v }
            case .maxParticipants: if let v = integer(m, 2...250, unit: "participants") { c.maxParticipants = v }
            case .waitUrl: c.waitURL = url(m.node)
            case .record: if let v = bool(m) { c.record = v }
            default:
                unknown(
                    m, of: .conference,
                    known:
                        "name, muted, beep, startConferenceOnEnter, endConferenceOnExit, maxParticipants, waitUrl, record"
                )
            }
        }
        if !raw.members.contains(where: { $0.name == .name }) {
            missing(
                raw, "name", xml: "name",
                expected: format == .json
                    ? "\"name\": the room's name"
                    : "the room's name as the content of <Conference> or its name attribute")
        }
        guard let name, issues.count == before else { return nil }
        c.name = name
        return c
    }

    mutating func record(_ raw: RawAction) -> Record? {
        let before = issues.count
        var r = Record()
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .maxLength: if let v = integer(m, 1...14400, unit: "seconds") { r.maxLengthSeconds = v }
            case .timeout:
                if let v = integer(m, 0...3600, unit: "seconds of silence; 0 never stops on silence") {
                    r.timeoutSeconds = v
                }
            case .finishOnKey:
                if let v = string(
                    m.node, expected: "up to 12 keys of 0-9, *, #, or \"\" for none", { ValueSyntax.isKeys($0, 0...12) }
                ) {
                    r.finishOnKey = v
                }
            case .playBeep: if let v = bool(m) { r.playBeep = v }
            case .trimSilence: if let v = bool(m) { r.trimSilence = v }
            case .format:
                if let v = string(m.node, expected: "\"wav\" or \"opus\" (Ogg Opus)", { RecordingFormat(rawValue: $0) != nil }) {
                    r.format = RecordingFormat(rawValue: v) ?? .wav
                }
            case .callbackUrl: r.callbackURL = url(m.node)
            case .prompt: r.prompt = prompt(m, of: .record)
            default:
                unknown(
                    m, of: .record,
                    known: format == .json
                        ? "maxLength, timeout, finishOnKey, playBeep, trimSilence, format, callbackUrl, prompt"
                        : "maxLength, timeout, finishOnKey, playBeep, trimSilence, format, callbackUrl")
            }
        }
        return issues.count == before ? r : nil
    }

    mutating func redirect(_ raw: RawAction) -> Redirect? {
        let before = issues.count
        var url: String?
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .url: url = self.url(m.node)
            default: unknown(m, of: .redirect, known: format == .json ? "url" : "url (or the URL as the content)")
            }
        }
        if !raw.members.contains(where: { $0.name == .url }) {
            missing(
                raw, "url", xml: "url",
                expected: format == .json
                    ? "\"url\": where to fetch the next actions" : "the URL as the content of <Redirect>")
        }
        guard let url, issues.count == before else { return nil }
        return Redirect(url: url)
    }

    mutating func reject(_ raw: RawAction) -> Reject? {
        let before = issues.count
        var r = Reject()
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .reason:
                if let s = string(m.node, expected: "rejected or busy"), let reason = Reject.Reason(rawValue: s) {
                    r.reason = reason
                } else if case .string = m.node.value {
                    report(.invalidValue, m.node, expected: "rejected or busy")
                }
            default: unknown(m, of: .reject, known: "reason")
            }
        }
        return issues.count == before ? r : nil
    }

    mutating func pause(_ raw: RawAction) -> Pause? {
        let before = issues.count
        var p = Pause()
        for i in raw.members.indices where raw.members[i].name != .verb && !isRepeated(raw.members, i) {
            let m = raw.members[i]
            switch m.name {
            case .length: if let v = integer(m, 1...600, unit: "seconds") { p.lengthSeconds = v }
            default: unknown(m, of: .pause, known: "length")
            }
        }
        return issues.count == before ? p : nil
    }
}
