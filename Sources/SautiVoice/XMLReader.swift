// A small XML reader for hostile input: elements, attributes, text, comments, CDATA and
// processing instructions; no DTD (a `<!DOCTYPE` is an error, so no entity can be declared
// and none can expand), only the five predefined entities and numeric character references,
// bounded depth and attributes. The document's UTF-8 has been checked before it runs.

/// An XML element as written.
struct XMLElement {
    /// The element's name (ASCII).
    var name: String
    /// Byte offset of its `<`.
    var offset: Int
    /// Its attributes, in document order.
    var attributes: [XMLAttribute] = []
    /// Its child elements, in document order.
    var children: [XMLElement] = []
    /// Its character data, entities decoded, comments left out.
    var text = ""
    /// Byte offset of the first character of `text` that is not white space, or nil when
    /// the text is only white space.
    var textOffset: Int?
}

/// An XML attribute as written.
struct XMLAttribute {
    /// The attribute's name (ASCII).
    var name: String
    /// Its value, entities decoded, white space normalized as XML 1.0 says.
    var value: String
    /// Byte offset of its name.
    var offset: Int
}

/// Reads one XML document into its root `XMLElement`.
struct XMLReader {
    /// The document, valid UTF-8.
    let bytes: UnsafeBufferPointer<UInt8>
    /// The read position.
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func failure(_ expected: String, at offset: Int? = nil) -> SyntaxFailure {
        let at = offset ?? position
        return SyntaxFailure(
            kind: .syntax, offset: at, found: JSONReader.describeByte(in: bytes, at: at), expected: expected)
    }

    func failure(found: String, expected: String, at offset: Int) -> SyntaxFailure {
        SyntaxFailure(kind: .syntax, offset: offset, found: found, expected: expected)
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    mutating func skipSpace() {
        while position < bytes.count, Self.isSpace(bytes[position]) { position += 1 }
    }

    func hasPrefix(_ s: StaticString, at offset: Int) -> Bool {
        let n = s.utf8CodeUnitCount
        guard offset + n <= bytes.count else { return false }
        let p = UnsafeBufferPointer(start: s.utf8Start, count: n)
        for k in 0..<n where bytes[offset + k] != p[k] { return false }
        return true
    }

    /// Reads the document: an optional XML declaration, comments and processing
    /// instructions, one root element, then only comments, instructions and white space.
    mutating func readDocument() throws(SyntaxFailure) -> XMLElement {
        if hasPrefix("<?xml", at: position), position + 5 < bytes.count, Self.isSpace(bytes[position + 5]) {
            try readDeclaration()
        }
        try readMisc()
        guard position < bytes.count else { throw failure("the root element <Response>") }
        guard bytes[position] == 0x3C else { throw failure("the root element <Response>") }
        let root = try readElement(depth: 1)
        try readMisc()
        guard position == bytes.count else { throw failure("the end of the document after </\(root.name)>") }
        return root
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>`: only UTF-8 is read.
    mutating func readDeclaration() throws(SyntaxFailure) {
        let start = position
        guard let end = find("?>", from: position) else { throw failure("`?>` closing the XML declaration") }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self).lowercased()
        if let r = text.firstRange(of: "encoding") {
            let rest = text[r.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "'" }
            if !(rest.hasPrefix("utf-8") || rest.hasPrefix("utf8")) {
                throw failure(
                    found: "encoding \(Quote.string(String(rest.prefix { $0 != "\"" && $0 != "'" })))",
                    expected: "UTF-8", at: start)
            }
        }
        position = end + 2
    }

    /// The offset where `s` next starts, from `offset`.
    func find(_ s: StaticString, from offset: Int) -> Int? {
        let n = s.utf8CodeUnitCount
        let first = s.utf8Start.pointee
        var i = offset
        while i + n <= bytes.count {
            if bytes[i] == first, hasPrefix(s, at: i) { return i }
            i += 1
        }
        return nil
    }

    /// White space, comments and processing instructions outside the root.
    mutating func readMisc() throws(SyntaxFailure) {
        while true {
            skipSpace()
            if hasPrefix("<!--", at: position) {
                try skipComment()
            } else if hasPrefix("<?", at: position) {
                try skipProcessingInstruction()
            } else if hasPrefix("<!", at: position) {
                throw notAllowedDeclaration()
            } else {
                return
            }
        }
    }

    func notAllowedDeclaration() -> SyntaxFailure {
        if hasPrefix("<!DOCTYPE", at: position) {
            return failure(
                found: "a DTD (<!DOCTYPE)", expected: "no DTD: voice documents may not declare entities", at: position)
        }
        return failure(
            found: JSONReader.describeByte(in: bytes, at: position) + " starting a declaration",
            expected: "an element, a comment or CDATA", at: position)
    }

    mutating func skipComment() throws(SyntaxFailure) {
        guard let end = find("-->", from: position + 4) else { throw failure("`-->` closing the comment") }
        position = end + 3
    }

    mutating func skipProcessingInstruction() throws(SyntaxFailure) {
        let start = position
        if hasPrefix("<?xml", at: position), position + 5 < bytes.count,
            Self.isSpace(bytes[position + 5]) || bytes[position + 5] == 0x3F
        {
            throw failure(found: "an XML declaration", expected: "the declaration only at the very start", at: start)
        }
        guard let end = find("?>", from: position + 2) else { throw failure("`?>` closing the processing instruction") }
        position = end + 2
    }

    @inline(__always) static func isNameStart(_ b: UInt8) -> Bool { ValueSyntax.isLetter(b) || b == 0x5F || b == 0x3A }
    @inline(__always) static func isNameChar(_ b: UInt8) -> Bool {
        ValueSyntax.isAlphanumeric(b) || b == 0x5F || b == 0x3A || b == 0x2E || b == 0x2D
    }

    mutating func readName() throws(SyntaxFailure) -> String {
        let start = position
        guard position < bytes.count, Self.isNameStart(bytes[position]) else {
            throw failure("a name (ASCII letters, digits, `_`, `:`, `.`, `-`)")
        }
        position += 1
        while position < bytes.count, Self.isNameChar(bytes[position]) { position += 1 }
        guard position - start <= 64 else {
            throw SyntaxFailure(
                kind: .limit, offset: start, found: "a name of \(position - start) characters",
                expected: "names of at most 64 characters")
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    /// Reads an element; `position` is at its `<`.
    mutating func readElement(depth: Int) throws(SyntaxFailure) -> XMLElement {
        let start = position
        guard depth <= VoiceLimits.maxDepth else {
            throw SyntaxFailure(
                kind: .limit, offset: start, found: "elements nested deeper than \(VoiceLimits.maxDepth)",
                expected: "at most \(VoiceLimits.maxDepth) nested elements")
        }
        position += 1
        var element = XMLElement(name: try readName(), offset: start)
        // Attributes.
        while true {
            let beforeSpace = position
            skipSpace()
            guard position < bytes.count else { throw failure("`>` or `/>` closing <\(element.name)>") }
            if bytes[position] == 0x2F {
                guard position + 1 < bytes.count, bytes[position + 1] == 0x3E else { throw failure("`/>`") }
                position += 2
                return element
            }
            if bytes[position] == 0x3E {
                position += 1
                break
            }
            guard position > beforeSpace else { throw failure("white space before an attribute") }
            let nameOffset = position
            let name = try readName()
            for a in element.attributes where a.name == name {
                throw failure(
                    found: "attribute \(name) twice", expected: "each attribute once per element", at: nameOffset)
            }
            guard element.attributes.count < VoiceLimits.maxMembers else {
                throw SyntaxFailure(
                    kind: .limit, offset: nameOffset, found: "more than \(VoiceLimits.maxMembers) attributes",
                    expected: "at most \(VoiceLimits.maxMembers) attributes on an element")
            }
            skipSpace()
            guard position < bytes.count, bytes[position] == 0x3D else { throw failure("`=` after attribute \(name)") }
            position += 1
            skipSpace()
            let value = try readAttributeValue()
            element.attributes.append(XMLAttribute(name: name, value: value, offset: nameOffset))
        }
        // Content.
        var text: [UInt8] = []
        while true {
            guard position < bytes.count else { throw failure("</\(element.name)> closing <\(element.name)>") }
            let b = bytes[position]
            if b == 0x3C {
                if hasPrefix("</", at: position) {
                    position += 2
                    let nameOffset = position
                    let name = try readName()
                    guard name == element.name else {
                        throw failure(
                            found: "</\(name)>",
                            expected:
                                "</\(element.name)> closing <\(element.name)> of line \(DocumentText.lineAndColumn(of: start, in: bytes).line)",
                            at: nameOffset - 2)
                    }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == 0x3E else {
                        throw failure("`>` closing </\(name)>")
                    }
                    position += 1
                    break
                } else if hasPrefix("<!--", at: position) {
                    try skipComment()
                } else if hasPrefix("<![CDATA[", at: position) {
                    let dataStart = position + 9
                    guard let end = find("]]>", from: dataStart) else {
                        throw failure("`]]>` closing the CDATA section")
                    }
                    for k in dataStart..<end {
                        try checkCharacter(at: k)
                        if element.textOffset == nil, !Self.isSpace(bytes[k]) { element.textOffset = k }
                    }
                    text.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[dataStart..<end]))
                    position = end + 3
                } else if hasPrefix("<?", at: position) {
                    try skipProcessingInstruction()
                } else if hasPrefix("<!", at: position) {
                    throw notAllowedDeclaration()
                } else {
                    element.children.append(try readElement(depth: depth + 1))
                }
            } else if b == 0x26 {
                if element.textOffset == nil { element.textOffset = position }
                try readReference(into: &text)
            } else {
                try checkCharacter(at: position)
                if element.textOffset == nil, !Self.isSpace(b) { element.textOffset = position }
                text.append(b)
                position += 1
            }
        }
        if element.textOffset != nil {
            element.text = String(decoding: text, as: UTF8.self)
        }
        return element
    }

    /// Control characters other than tab, line feed and carriage return are not XML.
    @inline(__always) func checkCharacter(at offset: Int) throws(SyntaxFailure) {
        let b = bytes[offset]
        if b < 0x20, b != 0x09, b != 0x0A, b != 0x0D {
            throw failure(
                found: "control character U+\(String(b, radix: 16, uppercase: true))",
                expected: "XML characters (no control characters but tab, line feed, carriage return)", at: offset)
        }
    }

    mutating func readAttributeValue() throws(SyntaxFailure) -> String {
        guard position < bytes.count, bytes[position] == 0x22 || bytes[position] == 0x27 else {
            throw failure("a quoted attribute value")
        }
        let quote = bytes[position]
        position += 1
        var out: [UInt8] = []
        while true {
            guard position < bytes.count else { throw failure("the closing quote of the attribute value") }
            let b = bytes[position]
            if b == quote {
                position += 1
                return String(decoding: out, as: UTF8.self)
            }
            switch b {
            case 0x3C: throw failure("no `<` in an attribute value (write &lt;)")
            case 0x26: try readReference(into: &out)
            case 0x09, 0x0A, 0x0D:
                // XML 1.0 §3.3.3: literal white space in attribute values becomes a space.
                out.append(0x20)
                position += 1
            default:
                try checkCharacter(at: position)
                out.append(b)
                position += 1
            }
        }
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` `&#NNN;` `&#xHHH;`; `position` is at the `&`.
    mutating func readReference(into out: inout [UInt8]) throws(SyntaxFailure) {
        let start = position
        position += 1
        var end = position
        while end < bytes.count, end - position <= 10, bytes[end] != 0x3B { end += 1 }
        guard end < bytes.count, bytes[end] == 0x3B else {
            throw failure(
                found: "`&` not starting a reference",
                expected: "&lt; &gt; &amp; &quot; &apos; or &#N; (write a lone & as &amp;)", at: start)
        }
        let body = UnsafeBufferPointer(rebasing: bytes[position..<end])
        position = end + 1
        let name = String(decoding: body, as: UTF8.self)
        switch name {
        case "lt": out.append(0x3C)
        case "gt": out.append(0x3E)
        case "amp": out.append(0x26)
        case "quot": out.append(0x22)
        case "apos": out.append(0x27)
        default:
            guard body.count >= 2, body[0] == 0x23 else {
                throw failure(
                    found: "entity &\(name);",
                    expected: "only &lt; &gt; &amp; &quot; &apos; and numeric references &#N; &#xH;", at: start)
            }
            var value: UInt32 = 0
            let hex = body[1] == 0x78
            let digits = body.dropFirst(hex ? 2 : 1)
            guard !digits.isEmpty, digits.count <= 7 else {
                throw failure(found: "reference &\(name);", expected: "a character reference &#N; or &#xH;", at: start)
            }
            for d in digits {
                if ValueSyntax.isDigit(d) {
                    value = value * (hex ? 16 : 10) + UInt32(d - 0x30)
                } else if hex, ValueSyntax.isHexDigit(d) {
                    value = value * 16 + UInt32((d | 0x20) - 0x61 + 10)
                } else {
                    throw failure(
                        found: "reference &\(name);", expected: "a character reference &#N; or &#xH;", at: start)
                }
            }
            // XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
            let isChar =
                value == 0x9 || value == 0xA || value == 0xD || (0x20...0xD7FF).contains(value)
                || (0xE000...0xFFFD).contains(value) || (0x10000...0x10FFFF).contains(value)
            guard isChar else {
                throw failure(
                    found: "reference &\(name); to a character XML does not allow", expected: "a character XML allows",
                    at: start)
            }
            DocumentText.appendUTF8(value, to: &out)
        }
    }
}
