// What is wrong with a document, and where: every problem found, not only the first.

/// The two written forms of the language.
public enum VoiceFormat: String, Sendable, Equatable {
    /// An array of objects, one per action, each naming its `verb`.
    case json
    /// `<Response>` with capitalized elements, as Africa's Talking and TwiML write it.
    case xml
}

/// One problem in a document: where it is, what was found, what was expected.
public struct VoiceIssue: Sendable, Equatable, CustomStringConvertible {
    /// The kinds of problem; each is a rule of docs/voice-actions.md.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// Not well-formed JSON or XML (also: not UTF-8, a DTD, an unknown entity). Parsing
        /// stops at the first such problem.
        case syntax
        /// A size limit was passed: document bytes, nesting depth, members of an object.
        case limit
        /// More than 50 actions (`MaxActionSteps`).
        case tooManyActions
        /// A verb (JSON `verb`, or an XML element name) that the language does not have.
        case unknownVerb
        /// An attribute the verb does not have.
        case unknownAttribute
        /// A required attribute (or `verb`) is absent.
        case missingAttribute
        /// The same attribute twice: a JSON key, or two XML ways of writing it (`maxDigits`
        /// and `numDigits`; `phoneNumbers` and `<Number>` children; a `url` and content).
        case duplicateAttribute
        /// The value has the wrong JSON type (or an XML value is not of the type).
        case wrongType
        /// A number, length or count outside its limits.
        case outOfRange
        /// A string that is not of the expected form: URL, E.164 number, SIP URI, language
        /// tag, key, reason.
        case invalidValue
        /// Something in the wrong place: a verb where it is not allowed (reject after the
        /// first action, dial in a prompt), an XML element or text where none may be.
        case misplaced
        /// More than `VoiceLimits.maxIssues` problems; the list stops here.
        case tooManyIssues
    }

    /// Which rule the document breaks.
    public var kind: Kind
    /// Where: a JSON pointer (`/3/numDigits`, RFC 6901; empty for the whole document), or an
    /// XML path (`/Response/GetDigits[1]/@maxDigits`; `text()` for text content).
    public var path: String
    /// 1-based line of the offending value (0 when not known).
    public var line: Int
    /// 1-based column of the offending value, in Unicode scalars (0 when not known).
    public var column: Int
    /// What was found, as a short quote or description.
    public var found: String
    /// What was expected.
    public var expected: String

    /// An issue at `path`, line and column.
    public init(kind: Kind, path: String, line: Int, column: Int, found: String, expected: String) {
        self.kind = kind
        self.path = path
        self.line = line
        self.column = column
        self.found = found
        self.expected = expected
    }

    /// `line:column: path: found …, expected …`.
    public var description: String {
        let at = path.isEmpty ? "(document)" : path
        return "\(line):\(column): \(at): \(kind.rawValue): found \(found), expected \(expected)"
    }
}

/// A document that did not validate: every problem found, in document order.
public struct VoiceDocumentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The form the document was read as.
    public var format: VoiceFormat
    /// The problems, at least one, at most `VoiceLimits.maxIssues` + 1.
    public var issues: [VoiceIssue]

    /// An error of `issues` in a document of `format`.
    public init(format: VoiceFormat, issues: [VoiceIssue]) {
        self.format = format
        self.issues = issues
    }

    /// One issue a line.
    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}
