// A small JSON reader (RFC 8259) for hostile input: bounded depth and members, exact byte
// offsets in every error, no recursion past `VoiceLimits.maxDepth`. The document's UTF-8
// has been checked before it runs (`UTF8Check`).

/// A problem that stops parsing: the first syntax error or passed limit.
struct SyntaxFailure: Error {
    /// `.syntax` or `.limit`.
    var kind: VoiceIssue.Kind
    /// Byte offset of the problem.
    var offset: Int
    /// What was there.
    var found: String
    /// What should have been.
    var expected: String
}

/// Reads one JSON document into `RawNode`s.
struct JSONReader {
    /// The document, valid UTF-8.
    let bytes: UnsafeBufferPointer<UInt8>
    /// The read position.
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Reads the whole document: one value and nothing after it but white space.
    mutating func readDocument() throws(SyntaxFailure) -> RawNode {
        skipWhitespace()
        let root = try readValue(step: .none, depth: 0)
        skipWhitespace()
        guard position == bytes.count else {
            throw failure("end of the document after the top-level value")
        }
        return root
    }

    /// A syntax failure at the read position.
    func failure(_ expected: String) -> SyntaxFailure {
        SyntaxFailure(
            kind: .syntax, offset: position, found: Self.describeByte(in: bytes, at: position), expected: expected)
    }

    /// `"x"` for the character at `offset`, or `end of document`.
    static func describeByte(in bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> String {
        guard offset < bytes.count else { return "the end of the document" }
        var end = offset + 1
        while end < bytes.count, end - offset < 4, bytes[end] & 0xC0 == 0x80 { end += 1 }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<end]), as: UTF8.self)
        return Quote.string(text)
    }

    @inline(__always) mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func readValue(step: PathStep, depth: Int) throws(SyntaxFailure) -> RawNode {
        let start = position
        guard position < bytes.count else { throw failure("a value") }
        switch bytes[position] {
        case 0x7B:  // {
            guard depth < VoiceLimits.maxDepth else {
                throw SyntaxFailure(
                    kind: .limit, offset: start, found: "nesting deeper than \(VoiceLimits.maxDepth)",
                    expected: "at most \(VoiceLimits.maxDepth) nested arrays and objects")
            }
            return RawNode(value: .object(try readObject(depth: depth + 1)), offset: start, step: step)
        case 0x5B:  // [
            guard depth < VoiceLimits.maxDepth else {
                throw SyntaxFailure(
                    kind: .limit, offset: start, found: "nesting deeper than \(VoiceLimits.maxDepth)",
                    expected: "at most \(VoiceLimits.maxDepth) nested arrays and objects")
            }
            return RawNode(value: .array(try readArray(depth: depth + 1)), offset: start, step: step)
        case 0x22:
            return RawNode(value: .string(try readString()), offset: start, step: step)
        case 0x74:
            try readLiteral("true")
            return RawNode(value: .bool(true), offset: start, step: step)
        case 0x66:
            try readLiteral("false")
            return RawNode(value: .bool(false), offset: start, step: step)
        case 0x6E:
            try readLiteral("null")
            return RawNode(value: .null, offset: start, step: step)
        case 0x2D, 0x30...0x39:
            return RawNode(value: try readNumber(), offset: start, step: step)
        default:
            throw failure("a value (object, array, string, number, true, false or null)")
        }
    }

    mutating func readLiteral(_ word: StaticString) throws(SyntaxFailure) {
        let n = word.utf8CodeUnitCount
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        for k in 0..<n {
            guard position < bytes.count, bytes[position] == w[k] else { throw failure("`\(word)`") }
            position += 1
        }
    }

    mutating func readObject(depth: Int) throws(SyntaxFailure) -> [RawMember] {
        position += 1  // {
        var members: [RawMember] = []
        members.reserveCapacity(8)
        skipWhitespace()
        if position < bytes.count, bytes[position] == 0x7D {
            position += 1
            return members
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == 0x22 else {
                throw failure("a member name in double quotes")
            }
            guard members.count < VoiceLimits.maxMembers else {
                throw SyntaxFailure(
                    kind: .limit, offset: position, found: "more than \(VoiceLimits.maxMembers) members",
                    expected: "at most \(VoiceLimits.maxMembers) members in an object")
            }
            let (name, step) = try readMemberName()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == 0x3A else { throw failure("`:` after the member name") }
            position += 1
            skipWhitespace()
            let node = try readValue(step: step, depth: depth)
            members.append(RawMember(name: name, node: node))
            skipWhitespace()
            guard position < bytes.count else { throw failure("`,` or `}`") }
            if bytes[position] == 0x2C {
                position += 1
                continue
            }
            guard bytes[position] == 0x7D else { throw failure("`,` or `}`") }
            position += 1
            return members
        }
    }

    mutating func readArray(depth: Int) throws(SyntaxFailure) -> [RawNode] {
        position += 1  // [
        var items: [RawNode] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == 0x5D {
            position += 1
            return items
        }
        while true {
            skipWhitespace()
            items.append(try readValue(step: .index(items.count), depth: depth))
            skipWhitespace()
            guard position < bytes.count else { throw failure("`,` or `]`") }
            if bytes[position] == 0x2C {
                position += 1
                continue
            }
            guard bytes[position] == 0x5D else { throw failure("`,` or `]`") }
            position += 1
            return items
        }
    }

    /// Reads a member name: a known attribute without making a string, or any other name.
    mutating func readMemberName() throws(SyntaxFailure) -> (AttributeName, PathStep) {
        let start = position + 1
        var j = start
        while j < bytes.count, j - start <= 32, bytes[j] != 0x22, bytes[j] != 0x5C, bytes[j] >= 0x20 { j += 1 }
        if j < bytes.count, bytes[j] == 0x22 {
            let name = AttributeName(bytes: UnsafeBufferPointer(rebasing: bytes[start..<j]))
            if name != .other {
                position = j + 1
                return (name, .member(name))
            }
        }
        let text = try readString()
        let name = AttributeName(text)
        return (name, name == .other ? .key(text) : .member(name))
    }

    /// Reads a string; `position` is at its opening quote.
    mutating func readString() throws(SyntaxFailure) -> String {
        let start = position + 1
        var j = start
        // Fast path: no escape, no control character.
        while j < bytes.count {
            let b = bytes[j]
            if b == 0x22 || b == 0x5C || b < 0x20 { break }
            j += 1
        }
        if j < bytes.count, bytes[j] == 0x22 {
            position = j + 1
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<j]), as: UTF8.self)
        }
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<j]))
        position = j
        while true {
            guard position < bytes.count else { throw failure("`\"` closing the string") }
            let b = bytes[position]
            if b == 0x22 {
                position += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 {
                throw failure("no control character in a string (write it as an escape such as \\n)")
            }
            if b != 0x5C {
                out.append(b)
                position += 1
                continue
            }
            position += 1
            guard position < bytes.count else { throw failure("an escape after `\\`") }
            let e = bytes[position]
            position += 1
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                let escapeStart = position - 2
                var scalar = try readHex4()
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    guard position + 1 < bytes.count, bytes[position] == 0x5C, bytes[position + 1] == 0x75 else {
                        position = escapeStart
                        throw failure("a low surrogate `\\uDC00`-`\\uDFFF` after a high surrogate")
                    }
                    position += 2
                    let low = try readHex4()
                    guard low >= 0xDC00 && low <= 0xDFFF else {
                        position = escapeStart
                        throw failure("a low surrogate `\\uDC00`-`\\uDFFF` after a high surrogate")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    position = escapeStart
                    throw failure("no lone low surrogate")
                }
                // Surrogates were excluded above, and 4 hex digits (+ a pair) stay ≤ 0x10FFFF.
                DocumentText.appendUTF8(scalar, to: &out)
            default:
                position -= 2
                throw failure("an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX")
            }
        }
    }

    mutating func readHex4() throws(SyntaxFailure) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard position < bytes.count else { throw failure("4 hex digits after \\u") }
            let b = bytes[position]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw failure("4 hex digits after \\u")
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }

    /// Reads a number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    mutating func readNumber() throws(SyntaxFailure) -> RawValue {
        let start = position
        var negative = false
        if bytes[position] == 0x2D {
            negative = true
            position += 1
        }
        guard position < bytes.count, ValueSyntax.isDigit(bytes[position]) else { throw failure("a digit") }
        var value = 0
        var digits = 0
        if bytes[position] == 0x30 {
            position += 1
            digits = 1
        } else {
            while position < bytes.count, ValueSyntax.isDigit(bytes[position]) {
                if digits < 18 { value = value * 10 + Int(bytes[position] - 0x30) }
                digits += 1
                position += 1
            }
        }
        var simple = digits <= 18
        if position < bytes.count, bytes[position] == 0x2E {
            simple = false
            position += 1
            guard position < bytes.count, ValueSyntax.isDigit(bytes[position]) else {
                throw failure("a digit after `.`")
            }
            while position < bytes.count, ValueSyntax.isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] | 0x20 == 0x65 {
            simple = false
            position += 1
            if position < bytes.count, bytes[position] == 0x2B || bytes[position] == 0x2D { position += 1 }
            guard position < bytes.count, ValueSyntax.isDigit(bytes[position]) else {
                throw failure("a digit in the exponent")
            }
            while position < bytes.count, ValueSyntax.isDigit(bytes[position]) { position += 1 }
        }
        if simple { return .integer(negative ? -value : value) }
        let literal = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        // JSON Schema's `integer` admits any number whose value is whole (1.0, 1e2): so do we.
        if let d = Double(literal), d.isFinite, d == d.rounded(), abs(d) < 1e15 {
            return .integer(Int(d))
        }
        return .number(literal)
    }
}
