// Entry points: bytes in, a validated document or every problem out.

extension VoiceDocument {
    /// The form a document is written in, from its first character that is not white space
    /// (after a UTF-8 byte-order mark): `<` is XML, anything else is read as JSON.
    public static func detectFormat(_ bytes: UnsafeBufferPointer<UInt8>) -> VoiceFormat {
        var i = hasByteOrderMark(bytes) ? 3 : 0
        while i < bytes.count, XMLReader.isSpace(bytes[i]) { i += 1 }
        return i < bytes.count && bytes[i] == 0x3C ? .xml : .json
    }

    static func hasByteOrderMark(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
    }

    /// Parses and validates a document in either form (`format` nil: detected).
    public static func parse(_ bytes: [UInt8], format: VoiceFormat? = nil) throws(VoiceDocumentError) -> VoiceDocument {
        let result = bytes.withUnsafeBufferPointer { parseResult($0, format: format) }
        return try result.get()
    }

    /// Parses and validates a document in either form (`format` nil: detected).
    public static func parse(_ text: String, format: VoiceFormat? = nil) throws(VoiceDocumentError) -> VoiceDocument {
        var text = text
        let result = text.withUTF8 { parseResult($0, format: format) }
        return try result.get()
    }

    /// Parses and validates a document in either form (`format` nil: detected).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, format: VoiceFormat? = nil) throws(VoiceDocumentError)
        -> VoiceDocument
    {
        try parseResult(bytes, format: format).get()
    }

    static func parseResult(_ whole: UnsafeBufferPointer<UInt8>, format: VoiceFormat?) -> Result<
        VoiceDocument, VoiceDocumentError
    > {
        let format = format ?? detectFormat(whole)
        func fail(
            _ kind: VoiceIssue.Kind, _ offset: Int, _ found: String, _ expected: String,
            in bytes: UnsafeBufferPointer<UInt8>
        ) -> Result<VoiceDocument, VoiceDocumentError> {
            let (line, column) = DocumentText.lineAndColumn(of: offset, in: bytes)
            return .failure(
                VoiceDocumentError(
                    format: format,
                    issues: [
                        VoiceIssue(kind: kind, path: "", line: line, column: column, found: found, expected: expected)
                    ]))
        }
        guard whole.count <= VoiceLimits.maxDocumentBytes else {
            return fail(
                .limit, 0, "\(whole.count) bytes", "a document of at most \(VoiceLimits.maxDocumentBytes) bytes",
                in: UnsafeBufferPointer(rebasing: whole[0..<0]))
        }
        let bytes = hasByteOrderMark(whole) ? UnsafeBufferPointer(rebasing: whole[3...]) : whole
        if let bad = DocumentText.firstInvalidUTF8(bytes) {
            return fail(
                .syntax, bad, "byte 0x\(String(bytes[bad], radix: 16, uppercase: true))", "UTF-8 text", in: bytes)
        }
        var validator = Validator(format: format, bytes: bytes)
        let actions: [VoiceAction]
        switch format {
        case .json:
            var reader = JSONReader(bytes)
            let root: RawNode
            do {
                root = try reader.readDocument()
            } catch {
                return fail(error.kind, error.offset, error.found, error.expected, in: bytes)
            }
            guard case .array(let items) = root.value else {
                validator.report(.wrongType, root, expected: "an array of actions")
                return .failure(VoiceDocumentError(format: format, issues: validator.issues))
            }
            actions = validator.document(items, root: root)
        case .xml:
            var reader = XMLReader(bytes)
            let root: XMLElement
            do {
                root = try reader.readDocument()
            } catch {
                return fail(error.kind, error.offset, error.found, error.expected, in: bytes)
            }
            guard let items = validator.xmlActions(root) else {
                return .failure(VoiceDocumentError(format: format, issues: validator.issues))
            }
            actions = validator.document(items, root: RawNode(value: .null, offset: root.offset, step: .none))
        }
        guard validator.issues.isEmpty else {
            return .failure(VoiceDocumentError(format: format, issues: inDocumentOrder(validator.issues)))
        }
        return .success(VoiceDocument(actions: actions))
    }

    /// Issues sorted by line and column, ties in the order found; `.tooManyIssues` last.
    static func inDocumentOrder(_ issues: [VoiceIssue]) -> [VoiceIssue] {
        var sorted = issues.enumerated().filter { $0.element.kind != .tooManyIssues }
            .sorted { a, b in
                (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
            }
            .map(\.element)
        sorted.append(contentsOf: issues.filter { $0.kind == .tooManyIssues })
        return sorted
    }
}
