// What both parsers produce and the validator reads: values as written, each with its byte
// offset and how its parent names it, so that every problem can say exactly where it is.

/// How a value is reached from its parent; rendered as a JSON pointer or an XML path.
enum PathStep: Equatable {
    /// A JSON array element.
    case index(Int)
    /// A JSON object member of a name the language knows.
    case member(AttributeName)
    /// A JSON object member of another name.
    case key(String)
    /// An XML element, the `ordinal`-th of its name among its siblings (0: no index shown).
    case element(String, Int)
    /// An XML attribute.
    case attribute(String)
    /// An XML element's text content.
    case text
    /// Nothing of its own: a value that XML spreads over its parent (a prompt's elements).
    case none
}

/// The verbs, by JSON name.
enum Verb: String, CaseIterable {
    case say, play, getDigits, dial, conference, record, redirect, reject, hangup, pause

    /// The XML element name.
    var xmlName: String {
        switch self {
        case .say: "Say"
        case .play: "Play"
        case .getDigits: "GetDigits"
        case .dial: "Dial"
        case .conference: "Conference"
        case .record: "Record"
        case .redirect: "Redirect"
        case .reject: "Reject"
        case .hangup: "Hangup"
        case .pause: "Pause"
        }
    }

    /// The verb of a JSON name, or nil (no string switch: this runs once per action).
    init?(json s: String) {
        var s = s
        guard
            let verb = s.withUTF8({ u -> Verb? in
                for (bytes, verb) in Self.spellings where bytes.count == u.count {
                    var k = 0
                    while k < u.count, bytes[k] == u[k] { k += 1 }
                    if k == u.count { return verb }
                }
                return nil
            })
        else { return nil }
        self = verb
    }

    /// Each verb's JSON name as UTF-8.
    static let spellings: [([UInt8], Verb)] = allCases.map { (Array($0.rawValue.utf8), $0) }

    /// The verb of an XML element name, or nil.
    init?(xmlName: String) {
        switch xmlName {
        case "Say": self = .say
        case "Play": self = .play
        case "GetDigits": self = .getDigits
        case "Dial": self = .dial
        case "Conference": self = .conference
        case "Record": self = .record
        case "Redirect": self = .redirect
        case "Reject": self = .reject
        case "Hangup": self = .hangup
        case "Pause": self = .pause
        default: return nil
        }
    }
}

/// The attribute names of the language (their JSON spelling), so that members are told
/// apart by a byte, not by comparing strings; `other` is a name the language does not have.
enum AttributeName: UInt8, CaseIterable {
    case verb, text, voice, language, loop, playBeep, url, numDigits, timeout, interDigitTimeout, finishOnKey,
        callbackUrl, actionOnEmptyResult, prompt, numbers, callerId, maxDuration, record, sequential, ringbackTone,
        sendDigits, name, muted, beep, startConferenceOnEnter, endConferenceOnExit, maxParticipants, waitUrl, maxLength,
        trimSilence, reason, length, format
    /// A name the language does not have (`RawMember.written` says which).
    case other
    /// XML text content where the verb takes none.
    case contentText
    /// An XML child element where the verb takes none.
    case childElement

    /// The JSON spelling.
    var spelling: String {
        switch self {
        case .verb: "verb"
        case .text: "text"
        case .voice: "voice"
        case .language: "language"
        case .loop: "loop"
        case .playBeep: "playBeep"
        case .url: "url"
        case .numDigits: "numDigits"
        case .timeout: "timeout"
        case .interDigitTimeout: "interDigitTimeout"
        case .finishOnKey: "finishOnKey"
        case .callbackUrl: "callbackUrl"
        case .actionOnEmptyResult: "actionOnEmptyResult"
        case .prompt: "prompt"
        case .numbers: "numbers"
        case .callerId: "callerId"
        case .maxDuration: "maxDuration"
        case .record: "record"
        case .sequential: "sequential"
        case .ringbackTone: "ringbackTone"
        case .sendDigits: "sendDigits"
        case .name: "name"
        case .muted: "muted"
        case .beep: "beep"
        case .startConferenceOnEnter: "startConferenceOnEnter"
        case .endConferenceOnExit: "endConferenceOnExit"
        case .maxParticipants: "maxParticipants"
        case .waitUrl: "waitUrl"
        case .maxLength: "maxLength"
        case .trimSilence: "trimSilence"
        case .reason: "reason"
        case .length: "length"
        case .format: "format"
        case .other: "?"
        case .contentText: "#text"
        case .childElement: "#element"
        }
    }

    /// The known names' UTF-8 by length, for `init(bytes:)`.
    static let byLength: [[(bytes: [UInt8], name: AttributeName)]] = {
        var table = [[(bytes: [UInt8], name: AttributeName)]](repeating: [], count: 33)
        for name in allCases where name.rawValue < AttributeName.other.rawValue {
            let bytes = Array(name.spelling.utf8)
            table[bytes.count].append((bytes, name))
        }
        return table
    }()

    /// The name these UTF-8 bytes spell, or `.other`.
    init(bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count < Self.byLength.count else {
            self = .other
            return
        }
        for entry in Self.byLength[bytes.count] where entry.bytes[0] == bytes[0] {
            var equal = true
            for k in 1..<bytes.count where entry.bytes[k] != bytes[k] {
                equal = false
                break
            }
            if equal {
                self = entry.name
                return
            }
        }
        self = .other
    }

    /// The name this string spells, or `.other`.
    init(_ s: String) {
        var s = s
        self = s.withUTF8 { AttributeName(bytes: $0) }
    }
}

/// A value as written. Only `.action` is boxed: the other payloads are values or arrays.
enum RawValue {
    /// A JSON string, or any XML attribute value or text.
    case string(String)
    /// A JSON number with an integer value (`5`, `5.0`, `5e0`).
    case integer(Int)
    /// A JSON number without an integer value, or too large; the literal.
    case number(String)
    /// A JSON boolean.
    case bool(Bool)
    /// JSON null.
    case null
    /// A JSON array, or values XML gathers from several places (a prompt's elements).
    case array([RawNode])
    /// A JSON object.
    case object([RawMember])
    /// An XML element read as an action.
    indirect case action(RawAction)
}

/// A value, where it starts in the document, and how its parent names it.
struct RawNode {
    /// The value.
    var value: RawValue
    /// Byte offset of its first byte in the document.
    var offset: Int
    /// How its parent reaches it.
    var step: PathStep
}

/// A named attribute of an action (a JSON member, an XML attribute or text).
struct RawMember {
    /// The attribute (XML names are mapped: `maxDigits` → `numDigits`).
    var name: AttributeName
    /// Its value; `node.step` says how it was written.
    var node: RawNode

    /// The name as written, for messages.
    var written: String {
        switch node.step {
        case .key(let k): k
        case .attribute(let a): a
        default: name.spelling
        }
    }
}

/// An action as written: its verb and attributes, not yet checked.
struct RawAction {
    /// The verb, or nil when `verbText` names none.
    var verb: Verb?
    /// The verb as written (JSON `verb` value, XML element name); nil when JSON has no `verb`.
    var verbText: String?
    /// Where the verb is written (the `verb` member, or the element).
    var verbNode: RawNode?
    /// Byte offset of the action (the object's `{`, the element's `<`).
    var offset: Int
    /// The attributes in document order; a JSON action's `verb` member is among them (and
    /// skipped by the verbs' checks), an XML action has none.
    var members: [RawMember]
}
