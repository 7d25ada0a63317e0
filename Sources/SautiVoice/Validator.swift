// Checks raw actions (from either reader) against the language and builds the model,
// collecting every problem with its place.

/// Builds `VoiceAction`s from `RawNode`s, recording each problem as a `VoiceIssue`.
struct Validator {
    /// The form being read: names in messages and how values are typed depend on it
    /// (XML attribute values are strings that must spell the type).
    let format: VoiceFormat
    /// The document, for lines and columns.
    let bytes: UnsafeBufferPointer<UInt8>
    /// The problems found so far.
    var issues: [VoiceIssue] = []
    /// The steps from the document's root to the value being checked.
    var path: [PathStep] = []

    init(format: VoiceFormat, bytes: UnsafeBufferPointer<UInt8>) {
        self.format = format
        self.bytes = bytes
    }

    // MARK: Reporting

    /// Records a problem at `offset`, located by the current path plus `step`.
    mutating func report(_ kind: VoiceIssue.Kind, offset: Int, step: PathStep, found: String, expected: String) {
        guard issues.count <= VoiceLimits.maxIssues else { return }
        let (line, column) = DocumentText.lineAndColumn(of: offset, in: bytes)
        if issues.count == VoiceLimits.maxIssues {
            issues.append(
                VoiceIssue(
                    kind: .tooManyIssues, path: render(step), line: line, column: column,
                    found: "more than \(VoiceLimits.maxIssues) problems",
                    expected: "a document with fewer problems (the rest are not listed)"))
            return
        }
        issues.append(
            VoiceIssue(kind: kind, path: render(step), line: line, column: column, found: found, expected: expected))
    }

    /// Records a problem with `node`.
    mutating func report(_ kind: VoiceIssue.Kind, _ node: RawNode, found: String? = nil, expected: String) {
        report(kind, offset: node.offset, step: node.step, found: found ?? describe(node.value), expected: expected)
    }

    /// The current path plus `step`, as a JSON pointer or an XML path.
    func render(_ step: PathStep) -> String {
        var out = ""
        for s in path { append(s, to: &out) }
        append(step, to: &out)
        return out
    }

    func append(_ step: PathStep, to out: inout String) {
        switch step {
        case .index(let i): out += "/\(i)"
        case .member(let name): out += "/" + name.spelling
        case .key(let k):
            // RFC 6901: `~` is `~0`, `/` is `~1`.
            out += "/" + k.replacing("~", with: "~0").replacing("/", with: "~1")
        case .element(let name, let ordinal): out += ordinal > 0 ? "/\(name)[\(ordinal)]" : "/\(name)"
        case .attribute(let name): out += "/@\(name)"
        case .text: out += "/text()"
        case .none: break
        }
    }

    /// A short description of a value, for `found`.
    func describe(_ value: RawValue) -> String {
        switch value {
        case .string(let s): Quote.string(s)
        case .integer(let i): "\(i)"
        case .number(let literal): literal
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .array(let items): "an array of \(items.count)"
        case .object: "an object"
        case .action(let a): "<\(a.verbText ?? "?")>"
        }
    }

    /// The verb's name as this format writes it.
    func name(_ verb: Verb) -> String {
        format == .json ? verb.rawValue : "<\(verb.xmlName)>"
    }

    /// How an attribute is written in this format (`"numDigits"`, `maxDigits`).
    func attribute(_ jsonName: String, xml xmlName: String? = nil) -> String {
        format == .json ? "\"\(jsonName)\"" : (xmlName ?? jsonName)
    }

    // MARK: Typed values

    /// An integer within `range`: a JSON number with a whole value, or XML decimal digits.
    mutating func integer(_ m: RawMember, _ range: ClosedRange<Int>, unit: StaticString) -> Int? {
        // Built only for a problem: interpolation costs more than the check.
        func expected() -> String {
            "an integer from \(range.lowerBound) to \(range.upperBound)\(unit.utf8CodeUnitCount == 0 ? "" : " (\(unit))")"
        }
        let value: Int
        switch m.node.value {
        case .integer(let i) where format == .json: value = i
        case .string(let s) where format == .xml:
            let u = s.utf8
            guard !u.isEmpty, u.count <= 9, u.allSatisfy(ValueSyntax.isDigit) else {
                report(
                    u.count > 9 && u.allSatisfy(ValueSyntax.isDigit) ? .outOfRange : .wrongType, m.node,
                    expected: expected())
                return nil
            }
            value = u.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        default:
            report(.wrongType, m.node, expected: expected())
            return nil
        }
        guard range.contains(value) else {
            report(.outOfRange, m.node, expected: expected())
            return nil
        }
        return value
    }

    /// A boolean: JSON `true`/`false`, or XML `true`/`false` in any case.
    mutating func bool(_ m: RawMember) -> Bool? {
        switch m.node.value {
        case .bool(let b) where format == .json: return b
        case .string(let s) where format == .xml:
            switch s.lowercased() {
            case "true": return true
            case "false": return false
            default: break
            }
        default: break
        }
        report(.wrongType, m.node, expected: "true or false")
        return nil
    }

    /// A string (any XML value is one).
    mutating func string(_ node: RawNode, expected: @autoclosure () -> String) -> String? {
        guard case .string(let s) = node.value else {
            report(.wrongType, node, expected: expected())
            return nil
        }
        return s
    }

    /// A string of the form `isValid` checks.
    mutating func string(_ node: RawNode, expected: @autoclosure () -> String, _ isValid: (String) -> Bool) -> String? {
        guard let s = string(node, expected: expected()) else { return nil }
        guard isValid(s) else {
            report(.invalidValue, node, expected: expected())
            return nil
        }
        return s
    }

    static let urlExpected =
        "an absolute http:// or https:// URL (at most \(VoiceLimits.maxURLLength) characters, no spaces)"

    /// An absolute http(s) URL.
    mutating func url(_ node: RawNode) -> String? {
        string(node, expected: Self.urlExpected, ValueSyntax.isHTTPURL)
    }

    /// Text of 1 to `maxScalars` Unicode scalars, not only white space; no control
    /// characters when `allowControl` is false.
    mutating func text(_ node: RawNode, maxScalars: Int, allowControl: Bool, what: StaticString) -> String? {
        func expected() -> String {
            "\(what): 1 to \(maxScalars) characters, not only white space\(allowControl ? "" : ", no control characters")"
        }
        guard let s = string(node, expected: expected()) else { return nil }
        // Scalars are the UTF-8 bytes that do not continue one; no more than the bytes.
        var count = s.utf8.count
        if count > maxScalars {
            count = 0
            for b in s.utf8 where b & 0xC0 != 0x80 { count += 1 }
        }
        if count > maxScalars {
            report(.outOfRange, node, found: "\(count) characters", expected: expected())
            return nil
        }
        guard ValueSyntax.hasNonWhitespace(s), allowControl || !ValueSyntax.hasControlCharacter(s) else {
            report(.invalidValue, node, expected: expected())
            return nil
        }
        return s
    }

    /// An array of 1 to `limit` items (JSON); a lone JSON string counts as one item when
    /// `allowSingle` is set.
    mutating func list(_ node: RawNode, limit: Int, allowSingle: Bool, expected: @autoclosure () -> String)
        -> [RawNode]?
    {
        switch node.value {
        case .array(let items):
            guard (1...limit).contains(items.count) else {
                report(.outOfRange, node, found: "\(items.count) items", expected: expected())
                return nil
            }
            return items
        case .string where allowSingle:
            return [RawNode(value: node.value, offset: node.offset, step: .none)]
        default:
            report(.wrongType, node, expected: expected())
            return nil
        }
    }

    // MARK: Attributes

    /// Whether `members[index]` repeats an earlier attribute; reports it if so.
    mutating func isRepeated(_ members: [RawMember], _ index: Int) -> Bool {
        let m = members[index]
        guard m.name != .other else { return false }
        for k in 0..<index where members[k].name == m.name {
            let first = members[k].node.step
            if format == .xml, first != m.node.step {
                let found = "both \(describe(step: first, of: m.name)) and \(describe(step: m.node.step, of: m.name))"
                report(
                    .duplicateAttribute, offset: m.node.offset, step: m.node.step, found: found,
                    expected: "only one of them")
            } else {
                report(
                    .duplicateAttribute, offset: m.node.offset, step: m.node.step,
                    found: "\(attribute(m.written)) given twice", expected: "\(attribute(m.written)) once")
            }
            return true
        }
        return false
    }

    /// How attribute `name` was written: `attribute maxDigits`, `text content`, `<Number>/<Sip> children`.
    func describe(step: PathStep, of name: AttributeName) -> String {
        switch step {
        case .attribute(let a): "attribute \(a)"
        case .element(let e, _): "<\(e)>"
        case .text: "text content"
        case .key(let k): "\"\(k)\""
        case .member(let m): "\"\(m.spelling)\""
        case .index(let i): "item \(i)"
        case .none: name == .numbers ? "<Number>/<Sip> children" : "child elements"
        }
    }

    /// Reports an attribute the verb does not have, or XML content it may not hold.
    mutating func unknown(_ m: RawMember, of verb: Verb, known: String) {
        let node = m.node
        switch node.step {
        case .text:
            report(.misplaced, node, found: "text \(Quote.string(trimmed(node)))", expected: "no text in \(name(verb))")
        case .element(let e, _):
            if verb == .dial, e == "Conference" {
                report(
                    .misplaced, node, found: "<Conference> in <Dial>",
                    expected: "<Conference> as an action of its own in <Response>")
            } else {
                report(
                    .misplaced, node, found: "<\(e)>",
                    expected: verb == .dial ? "only <Number> and <Sip> in <Dial>" : "no elements in \(name(verb))")
            }
        default:
            let written = format == .xml ? m.written : "\"\(m.written)\""
            report(
                .unknownAttribute, node, found: written,
                expected: known.isEmpty ? "no attributes on \(name(verb))" : "one of \(known)")
        }
    }

    func trimmed(_ node: RawNode) -> String {
        guard case .string(let s) = node.value else { return describe(node.value) }
        return s
    }

    /// Reports a required attribute that is absent from `action`.
    mutating func missing(_ action: RawAction, _ jsonName: String, xml: String, expected: String) {
        let found = format == .json ? "no \"\(jsonName)\"" : "no \(xml)"
        report(.missingAttribute, offset: action.offset, step: .none, found: found, expected: expected)
    }
}
