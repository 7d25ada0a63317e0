// The forms of string values: URLs, E.164 numbers, SIP URIs, language tags, voice names,
// DTMF keys. Each mirrors a `pattern` of docs/voice-actions.schema.json, so that the schema
// and the parser agree; the tests check them on every fixture.

enum ValueSyntax {
    /// Whether `b` is printable ASCII other than space (`\x21-\x7E`).
    @inline(__always) static func isVisibleASCII(_ b: UInt8) -> Bool { b >= 0x21 && b <= 0x7E }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    @inline(__always) static func isAlphanumeric(_ b: UInt8) -> Bool { isDigit(b) || isLetter(b) }
    /// `0-9`, `*`, `#`.
    @inline(__always) static func isDTMFKey(_ b: UInt8) -> Bool { isDigit(b) || b == 0x2A || b == 0x23 }

    /// An absolute http(s) URL of at most 2048 characters:
    /// `^[Hh][Tt][Tt][Pp][Ss]?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?([/?#][\x21-\x7E]*)?$`.
    static func isHTTPURL(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { isHTTPURL($0) }
    }

    static func isHTTPURL(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = u.count
        guard n <= VoiceLimits.maxURLLength, n >= 8 else { return false }
        // Scheme, case-insensitive.
        guard u[0] | 0x20 == 0x68, u[1] | 0x20 == 0x74, u[2] | 0x20 == 0x74, u[3] | 0x20 == 0x70 else { return false }
        var i = 4
        if u[i] | 0x20 == 0x73 { i += 1 }
        guard i + 3 <= n, u[i] == 0x3A, u[i + 1] == 0x2F, u[i + 2] == 0x2F else { return false }
        i += 3
        guard scanHostAndPort(u, &i, allowIPv6: true) else { return false }
        if i == n { return true }
        guard u[i] == 0x2F || u[i] == 0x3F || u[i] == 0x23 else { return false }
        while i < n {
            guard isVisibleASCII(u[i]) else { return false }
            i += 1
        }
        return true
    }

    /// Scans a host (`[A-Za-z0-9.-]+`, or `\[[0-9A-Fa-f:.]+\]` when `allowIPv6`) and an
    /// optional port (`:[0-9]{1,5}`) from `i`; false when either is malformed.
    static func scanHostAndPort(_ u: UnsafeBufferPointer<UInt8>, _ i: inout Int, allowIPv6: Bool) -> Bool {
        let n = u.count
        let hostStart = i
        if allowIPv6, i < n, u[i] == 0x5B {
            i += 1
            let inner = i
            while i < n, isHexDigit(u[i]) || u[i] == 0x3A || u[i] == 0x2E { i += 1 }
            guard i > inner, i < n, u[i] == 0x5D else { return false }
            i += 1
        } else {
            while i < n, isAlphanumeric(u[i]) || u[i] == 0x2E || u[i] == 0x2D { i += 1 }
            guard i > hostStart else { return false }
        }
        if i < n, u[i] == 0x3A {
            i += 1
            let portStart = i
            while i < n, isDigit(u[i]) { i += 1 }
            guard i > portStart, i - portStart <= 5 else { return false }
        }
        return true
    }

    @inline(__always) static func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x66)
    }

    /// An E.164 number: `^\+[1-9][0-9]{1,14}$`.
    static func isE164(_ s: String) -> Bool {
        let u = s.utf8
        guard u.count >= 3, u.count <= 16, u.first == 0x2B else { return false }
        var first = true
        for b in u.dropFirst() {
            guard isDigit(b), !(first && b == 0x30) else { return false }
            first = false
        }
        return true
    }

    /// A SIP URI: `^sips?:([\x21-\x3F\x41-\x7E]+@)?[A-Za-z0-9.-]+(:[0-9]{1,5})?(;[\x21-\x7E]*)?$`,
    /// at most 256 characters.
    static func isSIPURI(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { isSIPURI($0) }
    }

    static func isSIPURI(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = u.count
        guard n <= 256 else { return false }
        var i: Int
        if n >= 4, u[0] == 0x73, u[1] == 0x69, u[2] == 0x70, u[3] == 0x3A {
            i = 4
        } else if n >= 5, u[0] == 0x73, u[1] == 0x69, u[2] == 0x70, u[3] == 0x73, u[4] == 0x3A {
            i = 5
        } else {
            return false
        }
        // The user part, when there is an '@' before any ';'.
        var at = -1
        var k = i
        while k < n, u[k] != 0x3B {
            if u[k] == 0x40 {
                at = k
                break
            }
            k += 1
        }
        if at >= 0 {
            guard at > i else { return false }
            while i < at {
                guard isVisibleASCII(u[i]) else { return false }
                i += 1
            }
            i += 1
        }
        guard scanHostAndPort(u, &i, allowIPv6: false) else { return false }
        if i == n { return true }
        guard u[i] == 0x3B else { return false }
        while i < n {
            guard isVisibleASCII(u[i]) else { return false }
            i += 1
        }
        return true
    }

    /// A BCP 47 language tag, well-formed in shape: `^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,7}$`.
    static func isLanguageTag(_ s: String) -> Bool {
        var subtag = 0
        var length = 0
        for b in s.utf8 {
            if b == 0x2D {
                guard length >= (subtag == 0 ? 2 : 1) else { return false }
                subtag += 1
                length = 0
                guard subtag <= 7 else { return false }
                continue
            }
            guard subtag == 0 ? isLetter(b) : isAlphanumeric(b) else { return false }
            length += 1
            guard length <= 8 else { return false }
        }
        return length >= (subtag == 0 ? 2 : 1)
    }

    /// A voice name: `^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$` (`man`, `Polly.Joanna-Neural`).
    static func isVoiceName(_ s: String) -> Bool {
        let u = s.utf8
        guard let first = u.first, isAlphanumeric(first), u.count <= 64 else { return false }
        for b in u where !(isAlphanumeric(b) || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x2D) { return false }
        return true
    }

    /// Keys: `^[0-9*#]{minimum,maximum}$`.
    static func isKeys(_ s: String, _ lengths: ClosedRange<Int>) -> Bool {
        lengths.contains(s.utf8.count) && s.utf8.allSatisfy(isDTMFKey)
    }

    /// Digits to send after answer: `^[0-9*#w]{1,32}$`.
    static func isSendDigits(_ s: String) -> Bool {
        (1...32).contains(s.utf8.count) && s.utf8.allSatisfy { isDTMFKey($0) || $0 == 0x77 }
    }

    /// Whether `s` has a scalar that is not white space (`\S`).
    static func hasNonWhitespace(_ s: String) -> Bool {
        // Fast path: an ASCII character other than white space first.
        if let b = s.utf8.first, b > 0x20, b < 0x7F { return true }
        return s.unicodeScalars.contains { !$0.properties.isWhitespace }
    }

    /// Whether `s` has a control character (`[\x00-\x1F\x7F]`).
    static func hasControlCharacter(_ s: String) -> Bool {
        s.utf8.contains { $0 < 0x20 || $0 == 0x7F }
    }
}
