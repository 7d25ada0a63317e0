// The XML form as raw actions: element names are verbs, attributes are mapped to their JSON
// names (`maxDigits` → `numDigits`), text content and child elements become the attributes
// they stand for (a `<Say>`'s text, a `<GetDigits>`'s prompt, a `<Dial>`'s numbers).

extension Validator {
    /// The actions of the root element, which must be `<Response>`; nil when it is not.
    /// Call with an empty path; leaves `<Response>` on it for `document`.
    mutating func xmlActions(_ root: XMLElement) -> [RawNode]? {
        guard root.name == "Response" else {
            report(
                .misplaced, offset: root.offset, step: .element(root.name, 0),
                found: "<\(root.name)> as the root element", expected: "<Response> as the root element")
            return nil
        }
        path.append(.element("Response", 0))
        for a in root.attributes where !(a.name == "xmlns" || a.name.hasPrefix("xmlns:")) {
            report(
                .unknownAttribute, offset: a.offset, step: .attribute(a.name), found: a.name,
                expected: "no attributes on <Response>")
        }
        if let t = root.textOffset {
            report(
                .misplaced, offset: t, step: .text, found: "text \(Quote.string(Self.trimXMLSpace(root.text)))",
                expected: "only action elements in <Response>")
        }
        var counter = SiblingCounter()
        return root.children.map { xmlAction($0, step: .element($0.name, counter.next($0.name))) }
    }

    /// Numbers siblings of the same name from 1, as XPath does (`Say[2]`).
    struct SiblingCounter {
        var verbs = [Int](repeating: 0, count: Verb.allCases.count)
        var others: [String: Int] = [:]

        mutating func next(_ name: String) -> Int {
            if let v = Verb(xmlName: name), let i = Verb.allCases.firstIndex(of: v) {
                verbs[i] += 1
                return verbs[i]
            }
            let n = (others[name] ?? 0) + 1
            others[name] = n
            return n
        }
    }

    /// XML white space trimmed from both ends.
    static func trimXMLSpace(_ s: String) -> String {
        let u = s.utf8
        guard let first = u.firstIndex(where: { !XMLReader.isSpace($0) }),
            let last = u.lastIndex(where: { !XMLReader.isSpace($0) })
        else { return "" }
        return String(s[first...last])
    }

    /// The JSON name of a verb's XML attribute, or nil when the verb has no such attribute.
    static func jsonName(of attribute: String, in verb: Verb) -> AttributeName? {
        let same = AttributeName(attribute)
        return switch (verb, attribute) {
        case (.say, "voice"), (.say, "language"), (.say, "loop"), (.say, "playBeep"): same
        case (.play, "url"), (.play, "loop"): same
        case (.getDigits, "maxDigits"), (.getDigits, "numDigits"): .numDigits
        case (.getDigits, "timeout"), (.getDigits, "interDigitTimeout"), (.getDigits, "finishOnKey"),
            (.getDigits, "callbackUrl"),
            (.getDigits, "actionOnEmptyResult"):
            same
        case (.dial, "phoneNumbers"): .numbers
        case (.dial, "ringBackTone"): .ringbackTone
        case (.dial, "callerId"), (.dial, "timeout"), (.dial, "maxDuration"), (.dial, "record"), (.dial, "sequential"),
            (.dial, "ringbackTone"), (.dial, "sendDigits"), (.dial, "callbackUrl"):
            same
        case (.conference, "name"), (.conference, "muted"), (.conference, "beep"),
            (.conference, "startConferenceOnEnter"),
            (.conference, "endConferenceOnExit"), (.conference, "maxParticipants"), (.conference, "waitUrl"),
            (.conference, "record"):
            same
        case (.record, "maxLength"), (.record, "timeout"), (.record, "finishOnKey"), (.record, "playBeep"),
            (.record, "trimSilence"),
            (.record, "callbackUrl"), (.record, "format"):
            same
        case (.redirect, "url"), (.reject, "reason"), (.pause, "length"): same
        default: nil
        }
    }

    /// The JSON name of a verb's text content, or nil when it takes none.
    static func textName(of verb: Verb) -> AttributeName? {
        switch verb {
        case .say: .text
        case .play, .redirect: .url
        case .conference: .name
        case .dial: .numbers
        default: nil
        }
    }

    /// An element as a raw action (its verb nil when the name is not a verb).
    mutating func xmlAction(_ e: XMLElement, step: PathStep) -> RawNode {
        let verb = Verb(xmlName: e.name)
        var raw = RawAction(verb: verb, verbText: e.name, verbNode: nil, offset: e.offset, members: [])
        let node = RawNode(value: .null, offset: e.offset, step: .none)
        raw.verbNode = node
        guard let verb else { return RawNode(value: .action(raw), offset: e.offset, step: step) }
        path.append(step)
        defer { path.removeLast() }
        for a in e.attributes {
            let attributeStep = PathStep.attribute(a.name)
            let name = Self.jsonName(of: a.name, in: verb) ?? .other
            if verb == .dial, name == .numbers {
                let items = a.value.split(separator: ",", omittingEmptySubsequences: false).map { part -> RawNode in
                    var s = Self.trimXMLSpace(String(part))
                    // Africa's Talking writes SIP addresses without a scheme: user@host.
                    if s.contains("@"), !s.hasPrefix("sip:"), !s.hasPrefix("sips:") { s = "sip:" + s }
                    return RawNode(value: .string(s), offset: a.offset, step: .none)
                }
                raw.members.append(
                    RawMember(name: name, node: RawNode(value: .array(items), offset: a.offset, step: attributeStep)))
            } else {
                raw.members.append(
                    RawMember(name: name, node: RawNode(value: .string(a.value), offset: a.offset, step: attributeStep))
                )
            }
        }
        if let t = e.textOffset {
            let name = Self.textName(of: verb) ?? .contentText
            raw.members.append(
                RawMember(name: name, node: RawNode(value: .string(Self.trimXMLSpace(e.text)), offset: t, step: .text)))
        }
        guard !e.children.isEmpty else { return RawNode(value: .action(raw), offset: e.offset, step: step) }
        var counter = SiblingCounter()
        switch verb {
        case .getDigits, .record:
            let prompt = e.children.map { xmlAction($0, step: .element($0.name, counter.next($0.name))) }
            raw.members.append(
                RawMember(
                    name: .prompt, node: RawNode(value: .array(prompt), offset: e.children[0].offset, step: .none)))
        case .dial:
            var numbers: [RawNode] = []
            for c in e.children {
                let childStep = PathStep.element(c.name, counter.next(c.name))
                guard c.name == "Number" || c.name == "Sip" else {
                    raw.members.append(
                        RawMember(name: .childElement, node: RawNode(value: .null, offset: c.offset, step: childStep)))
                    continue
                }
                path.append(childStep)
                for a in c.attributes {
                    report(
                        .unknownAttribute, offset: a.offset, step: .attribute(a.name), found: a.name,
                        expected: "no attributes on <\(c.name)>")
                }
                for g in c.children {
                    report(
                        .misplaced, offset: g.offset, step: .element(g.name, 0), found: "<\(g.name)>",
                        expected: "only text in <\(c.name)>")
                }
                path.removeLast()
                numbers.append(
                    RawNode(
                        value: .string(Self.trimXMLSpace(c.text)), offset: c.textOffset ?? c.offset, step: childStep))
            }
            if !numbers.isEmpty {
                raw.members.append(
                    RawMember(
                        name: .numbers, node: RawNode(value: .array(numbers), offset: e.children[0].offset, step: .none)
                    ))
            }
        default:
            for c in e.children {
                raw.members.append(
                    RawMember(
                        name: .childElement,
                        node: RawNode(value: .null, offset: c.offset, step: .element(c.name, counter.next(c.name)))))
            }
        }
        return RawNode(value: .action(raw), offset: e.offset, step: step)
    }
}
