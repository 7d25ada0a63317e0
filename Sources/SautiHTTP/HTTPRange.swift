/// The `Range` request header (RFC 9110 §14.2), one byte range.
public enum HTTPRange {
    /// What a `Range` header asks of a representation of a given size.
    public enum Outcome: Sendable, Equatable {
        /// One satisfiable range: `length` (≥ 1) bytes from `offset`, clipped to the size.
        case range(offset: Int, length: Int)
        /// A valid byte range that starts at or past the end (or a zero-length suffix): 416.
        case unsatisfiable
        /// Not a single valid byte range (another unit, bad syntax, several ranges): serve
        /// the whole representation with 200, as RFC 9110 allows.
        case ignore
    }

    /// Parses `bytes=first-last`, `bytes=first-` or `bytes=-suffix` against `size` bytes.
    public static func parse(_ header: String, size: Int) -> Outcome {
        let bytes = Array(trimmed(Array(header.utf8)))
        let unit = Array("bytes=".utf8)
        guard size >= 0, bytes.count > unit.count, HTTPHeaders.sameName(bytes[0..<unit.count], unit) else {
            return .ignore
        }
        let spec = trimmed(bytes[unit.count...])
        guard !spec.contains(UInt8(ascii: ",")), let dash = spec.firstIndex(of: UInt8(ascii: "-")) else {
            return .ignore
        }
        let first = trimmed(spec[spec.startIndex..<dash])
        let last = trimmed(spec[(dash + 1)...])
        if first.isEmpty {
            // Suffix: the last N bytes.
            guard let n = number(last) else { return .ignore }
            guard n > 0, size > 0 else { return .unsatisfiable }
            let length = min(n, size)
            return .range(offset: size - length, length: length)
        }
        guard let start = number(first) else { return .ignore }
        var end = Int.max
        if !last.isEmpty {
            guard let e = number(last) else { return .ignore }
            guard e >= start else { return .ignore }
            end = e
        }
        guard start < size else { return .unsatisfiable }
        end = min(end, size - 1)
        return .range(offset: start, length: end - start + 1)
    }

    /// Decimal digits as a non-negative Int; saturates at Int.max; nil if not all digits.
    static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty else { return nil }
        var n = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(d - UInt8(ascii: "0")))
            n = (o1 || o2) ? Int.max : a
        }
        return n
    }
}
