/// HTTP header fields in arrival order, looked up by name without regard to ASCII case.
///
/// A name may occur several times (`Set-Cookie`, or a list header sent as several fields):
/// `self[name]` gives the first value and `values(for:)` all of them.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// The fields as received or added, names as spelled.
    public private(set) var fields: [(name: String, value: String)]

    /// No fields.
    public init() { fields = [] }

    /// The given fields, in order.
    public init(_ fields: [(name: String, value: String)]) { self.fields = fields }

    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        a.fields.count == b.fields.count
            && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// The number of fields.
    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    /// The first value of `name` (case-insensitive), or nil. Setting replaces every field of
    /// that name with one (nil removes them).
    public subscript(name: String) -> String? {
        get {
            for f in fields where Self.sameName(f.name, name) { return f.value }
            return nil
        }
        set {
            remove(name)
            if let v = newValue { fields.append((name: name, value: v)) }
        }
    }

    /// Every value of `name` (case-insensitive), in order.
    public func values(for name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    /// Whether a field named `name` is present.
    public func contains(_ name: String) -> Bool { fields.contains { Self.sameName($0.name, name) } }

    /// Appends a field, keeping any of the same name.
    public mutating func add(name: String, value: String) { fields.append((name: name, value: value)) }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) { fields.removeAll { Self.sameName($0.name, name) } }

    /// Whether a comma-separated list header (`Connection`, `Expect`…) has `token`,
    /// case-insensitively, in any of its fields.
    public func hasToken(_ token: String, in name: String) -> Bool {
        for f in fields where Self.sameName(f.name, name) {
            for part in f.value.utf8.split(separator: UInt8(ascii: ",")) {
                if Self.sameName(trimmed(part), token.utf8) { return true }
            }
        }
        return false
    }

    /// ASCII case-insensitive equality of two names.
    static func sameName(_ a: String, _ b: String) -> Bool { sameName(a.utf8, b.utf8) }

    static func sameName<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            // Safe: ASCII letters differ from their other case by 0x20 only.
            guard x | 0x20 == y | 0x20, (x | 0x20) >= UInt8(ascii: "a"), (x | 0x20) <= UInt8(ascii: "z") else {
                return false
            }
        }
        return true
    }
}

/// `bytes` without leading and trailing spaces and tabs.
func trimmed<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> C.SubSequence {
    var s = bytes[...]
    while let f = s.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
    while let l = s.last, l == 0x20 || l == 0x09 { s = s.dropLast() }
    return s
}
