/// Why an SDP body could not be parsed (RFC 4566). Line numbers are 1-based; `text` is the
/// offending line, cut to 80 characters.
public enum SDPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A line that is not `<type>=<value>`.
    case malformedLine(line: Int, text: String)
    /// An `m=` line whose port or format list is not valid.
    case badMediaLine(line: Int, text: String)
    /// No `m=` line at all.
    case noMedia
    /// The body is larger than ``SessionDescription/maximumSizeBytes``.
    case tooLarge(sizeBytes: Int, limitBytes: Int)
    /// A required session-level line (`v`, `o`, `s` or `t`) is absent (RFC 4566 §5).
    /// Only ``SessionDescription/init(validating:)`` checks this.
    case missingLine(type: String)
    /// A line that may occur once occurs again: `v=`, `o=`, `s=`, or a second `c=` at the
    /// session level or in one media section.
    case repeatedLine(line: Int, text: String)
    /// A line out of the order RFC 4566 §5 fixes: `v=` not first, or `v=`, `o=`, `s=`,
    /// `t=` after the first `m=`.
    case misplacedLine(line: Int, text: String)
    /// `v=` with a version other than 0.
    case unsupportedVersion(line: Int, text: String)
    /// An `o=` line that is not `<username> <sess-id digits> <sess-version digits> IN IP4|IP6 <address>`.
    case badOrigin(line: Int, text: String)
    /// A `c=` line that is not `IN IP4|IP6 <literal address>` (host names are not resolved).
    case badConnection(line: Int, text: String)
    /// A media section with a non-zero port but no `c=`, neither its own nor the session's.
    /// `line` is the `m=` line.
    case missingConnection(line: Int)
    /// An `a=rtpmap`, `a=ptime`, `a=maxptime` or `a=rtcp` whose value does not parse.
    case badAttribute(line: Int, text: String)
    /// An attribute that may occur once per media section occurs again: a second
    /// `a=rtpmap` for one payload type, a second `a=ptime`/`a=maxptime`, or a second
    /// direction attribute (`a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive`).
    case repeatedAttribute(line: Int, text: String)

    /// What is wrong and where, in one line (fit for a log or a SIP Warning header).
    public var description: String {
        switch self {
        case .malformedLine(let line, let text): return "SDP line \(line): '\(text)' is not <type>=<value>"
        case .badMediaLine(let line, let text):
            return "SDP line \(line): '\(text)' is not m=<media> <port 0-65535> <proto> <formats>"
        case .noMedia: return "SDP has no m= line"
        case .tooLarge(let size, let limit): return "SDP body of \(size) bytes exceeds the \(limit)-byte limit"
        case .missingLine(let type):
            return "SDP has no \(type)= line (RFC 4566 §5 requires v=, o=, s= and t=)"
        case .repeatedLine(let line, let text): return "SDP line \(line): '\(text)' repeats a line allowed once"
        case .misplacedLine(let line, let text):
            return "SDP line \(line): '\(text)' is out of place (v= comes first; v=, o=, s=, t= before any m=)"
        case .unsupportedVersion(let line, let text): return "SDP line \(line): '\(text)': only v=0 exists"
        case .badOrigin(let line, let text):
            return "SDP line \(line): '\(text)' is not o=<user> <sess-id> <version> IN IP4|IP6 <address>"
        case .badConnection(let line, let text):
            return "SDP line \(line): '\(text)' is not c=IN IP4|IP6 <literal address>"
        case .missingConnection(let line):
            return "SDP line \(line): the media has no c= line, and the session has none either"
        case .badAttribute(let line, let text): return "SDP line \(line): '\(text)' has a value that does not parse"
        case .repeatedAttribute(let line, let text):
            return "SDP line \(line): '\(text)' repeats an attribute allowed once per media"
        }
    }
}

/// A payload format of an m-line: its number and, from `a=rtpmap`, encoding and clock.
public struct SDPFormat: Equatable, Sendable {
    /// The RTP payload type.
    public var payloadType: UInt8
    /// The encoding name (`PCMU`, `opus`, `telephone-event`, …), nil without an rtpmap.
    public var encoding: String?
    /// The clock rate in Hz, nil without an rtpmap.
    public var clockRate: Int?
    /// Channels (rtpmap's third field), 1 when absent.
    public var channels: Int
    /// The `a=fmtp` parameters, verbatim.
    public var fmtp: String?
}

/// The `o=` line (RFC 4566 §5.2). The numbers are kept as written: RFC 4566 bounds neither,
/// and some endpoints write more than 64 bits.
public struct SDPOrigin: Equatable, Sendable {
    /// The user name (`-` when the host has none).
    public var username: String
    /// The session id: decimal digits.
    public var sessionID: String
    /// The session version, decimal digits: a new description of the same session
    /// increments it (RFC 3264 §8).
    public var sessionVersion: String
    /// The address of the machine that wrote the description: an IP literal or a host name
    /// (not used for media).
    public var address: String
}

/// An `a=rtcp` attribute (RFC 3605): where the remote wants RTCP when not at port + 1.
public struct SDPRTCPAttribute: Equatable, Sendable {
    /// The RTCP port.
    public var port: UInt16
    /// The RTCP address, nil when the attribute names none (the media's address applies).
    public var address: IPAddress?
}

/// One `m=` section.
public struct SDPMedia: Equatable, Sendable {
    /// `audio`, `video`, …
    public var type: String
    /// The media port; 0 means the stream is rejected.
    public var port: UInt16
    /// The transport (`RTP/AVP`, `RTP/SAVPF`, …).
    public var proto: String
    /// The formats in the order offered (the numeric ones: non-RTP transports such as
    /// `UDP/DTLS/SCTP webrtc-datachannel` have none).
    public var formats: [SDPFormat]
    /// The connection address (media level, else session level).
    public var connectionAddress: IPAddress?
    /// The `a=ptime`, in milliseconds.
    public var ptimeMilliseconds: Int?
    /// Every other attribute line of the section, verbatim (without `a=`): everything but
    /// `a=rtpmap`, `a=fmtp`, `a=ptime` and `a=maxptime`.
    public var attributes: [String]
    /// The `a=maxptime`, in milliseconds: the most media the sender of this description
    /// wants in one packet.
    public var maxptimeMilliseconds: Int?
    /// The format tokens of the m-line as written (`0 8 101`, `webrtc-datachannel`, `*`),
    /// which a rejecting answer echoes.
    public var formatTokens: [String]
    /// The 1-based line number of the `m=` line.
    public var lineNumber: Int

    /// The section's direction attribute (`a=sendrecv` …), nil when it has none.
    public var direction: MediaDirection? {
        for a in attributes { if let d = MediaDirection(rawValue: a) { return d } }
        return nil
    }

    /// True when the section carries `a=rtcp-mux` (RFC 5761).
    public var rtcpMux: Bool { attributes.contains("rtcp-mux") }

    /// The section's `a=rtcp` (RFC 3605), nil when absent or malformed.
    public var rtcp: SDPRTCPAttribute? {
        for a in attributes where a.hasPrefix("rtcp:") {
            return SDPRTCPAttribute(parsing: a.dropFirst("rtcp:".count))
        }
        return nil
    }

    /// True when some attribute of the section has the name `name` (`ice-ufrag`, `crypto`, …).
    public func hasAttribute(_ name: String) -> Bool {
        attributes.contains { $0 == name || $0.hasPrefix(name + ":") }
    }
}

/// A parsed session description (RFC 4566). ``init(parsing:)`` is lenient, for captures;
/// ``init(validating:)`` also checks what an offer or answer must have, for negotiation.
public struct SessionDescription: Equatable, Sendable {
    /// The largest body accepted, in bytes (64 KiB); real offers are a few KiB at most.
    public static let maximumSizeBytes = 65_536

    /// The session-level connection address.
    public var connectionAddress: IPAddress?
    /// The media sections.
    public var media: [SDPMedia]
    /// The `o=` line, nil when absent (or, leniently parsed, malformed).
    public var origin: SDPOrigin?
    /// The `s=` text, nil when absent.
    public var sessionName: String?
    /// The session-level attribute lines, verbatim (without `a=`).
    public var attributes: [String]

    /// The session-level direction attribute, nil when there is none.
    public var direction: MediaDirection? {
        for a in attributes { if let d = MediaDirection(rawValue: a) { return d } }
        return nil
    }

    /// The direction `media` was written with: its own attribute, else the session's, else
    /// `sendrecv` (RFC 3264 §5.1). This is the writer's view, not the reader's.
    public func direction(of media: SDPMedia) -> MediaDirection {
        media.direction ?? direction ?? .sendrecv
    }

    /// True when some session-level attribute has the name `name`.
    public func hasAttribute(_ name: String) -> Bool {
        attributes.contains { $0 == name || $0.hasPrefix(name + ":") }
    }

    /// Parses an SDP body leniently, as captures need: unknown line types are ignored as
    /// RFC 4566 §5 requires, and so are missing or repeated session lines.
    public init(parsing text: String) throws(SDPParseError) {
        self = try SDPParser(strict: false).parse(text)
    }

    /// Parses an SDP offer or answer and checks what RFC 4566 requires of one: `v=0`
    /// first; exactly one `o=` and `s=`, at least one `t=`, all before the first `m=`; at
    /// most one `c=` per level, with a literal IPv4 or IPv6 address; a `c=` for every
    /// media section with a port; well-formed `a=rtpmap`, `a=ptime`, `a=maxptime`,
    /// `a=rtcp`, none repeated; at least one format per m-line. CRLF or LF line ends and
    /// trailing blanks are fine; unknown lines and attributes are kept or skipped.
    public init(validating text: String) throws(SDPParseError) {
        self = try SDPParser(strict: true).parse(text)
    }

    init(
        connectionAddress: IPAddress?, media: [SDPMedia], origin: SDPOrigin?, sessionName: String?, attributes: [String]
    ) {
        self.connectionAddress = connectionAddress
        self.media = media
        self.origin = origin
        self.sessionName = sessionName
        self.attributes = attributes
    }
}

extension SDPRTCPAttribute {
    /// Parses the value of `a=rtcp:` — `<port> [IN IP4|IP6 <address>]`.
    init?(parsing value: Substring) {
        let parts = value.split(separator: " ")
        guard parts.count == 1 || parts.count == 4, let port = UInt16(parts[0]), port > 0 else { return nil }
        self.port = port
        if parts.count == 4 {
            guard let address = SDPParser.connectionAddress(parts[1...3]) else { return nil }
            self.address = address
        } else {
            self.address = nil
        }
    }
}

/// The line-by-line parser behind both ``SessionDescription`` initializers.
struct SDPParser {
    /// Check the rules of ``SessionDescription/init(validating:)``.
    var strict: Bool

    /// The address of `IN IP4|IP6 <address>[/ttl[/count]]`, nil if any part is wrong or the
    /// address is not a literal of the named family.
    static func connectionAddress(_ parts: ArraySlice<Substring>) -> IPAddress? {
        guard parts.count == 3, parts.first == "IN" else { return nil }
        let family = parts[parts.startIndex + 1]
        guard family == "IP4" || family == "IP6",
            let address = IPAddress(parts[parts.startIndex + 2].split(separator: "/").first ?? "")
        else { return nil }
        return address.isV6 == (family == "IP6") ? address : nil
    }

    func parse(_ text: String) throws(SDPParseError) -> SessionDescription {
        let size = text.utf8.count
        guard size <= SessionDescription.maximumSizeBytes else {
            throw .tooLarge(sizeBytes: size, limitBytes: SessionDescription.maximumSizeBytes)
        }
        var sessionAddress: IPAddress? = nil
        var sessionConnectionSeen = false
        var mediaConnectionSeen = false
        var origin: SDPOrigin? = nil
        var sessionName: String? = nil
        var sessionAttributes: [String] = []
        var media: [SDPMedia] = []
        var seen: Set<Character> = []  // session-level v, o, s, t
        // Per media section, for the repeated-attribute checks.
        var rtpmapTypes: Set<UInt8> = []
        var onceAttributes: Set<String> = []
        var lineNumber = 0
        var firstLine = true
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine[...]
            while line.last == " " || line.last == "\t" { line = line.dropLast() }
            if line.isEmpty { continue }
            let shown = String(line.prefix(80))
            guard line.count >= 2, line[line.index(after: line.startIndex)] == "=" else {
                throw .malformedLine(line: lineNumber, text: shown)
            }
            let type = line.first!
            if strict {
                guard type.isASCII, type.isLowercase else { throw .malformedLine(line: lineNumber, text: shown) }
                if "vost".contains(type) {
                    if !media.isEmpty { throw .misplacedLine(line: lineNumber, text: shown) }
                    if type != "t" && seen.contains(type) { throw .repeatedLine(line: lineNumber, text: shown) }
                    if type == "v" && !firstLine { throw .misplacedLine(line: lineNumber, text: shown) }
                    seen.insert(type)
                }
            }
            firstLine = false
            let value = line.dropFirst(2)
            switch type {
            case "v":
                if strict && value != "0" { throw .unsupportedVersion(line: lineNumber, text: shown) }
            case "o":
                // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
                let parts = value.split(separator: " ")
                if parts.count == 6, parts[1].allSatisfy(\.isASCIIDigit), parts[2].allSatisfy(\.isASCIIDigit),
                    parts[3] == "IN", parts[4] == "IP4" || parts[4] == "IP6"
                {
                    origin = SDPOrigin(
                        username: String(parts[0]), sessionID: String(parts[1]), sessionVersion: String(parts[2]),
                        address: String(parts[5]))
                } else if strict {
                    throw .badOrigin(line: lineNumber, text: shown)
                }
            case "s":
                sessionName = String(value)
            case "c":
                // c=IN IP4 192.0.2.1[/ttl]
                let parts = value.split(separator: " ")
                let address: IPAddress?
                if strict {
                    guard let a = Self.connectionAddress(parts[...]) else {
                        throw .badConnection(line: lineNumber, text: shown)
                    }
                    if media.isEmpty ? sessionConnectionSeen : mediaConnectionSeen {
                        throw .repeatedLine(line: lineNumber, text: shown)
                    }
                    address = a
                } else {
                    address = parts.count >= 3 ? IPAddress(parts[2].split(separator: "/").first ?? "") : nil
                }
                if media.isEmpty {
                    sessionAddress = address
                    sessionConnectionSeen = true
                } else {
                    media[media.count - 1].connectionAddress = address
                    mediaConnectionSeen = true
                }
            case "m":
                media.append(try mediaSection(value, line: lineNumber, shown: shown))
                mediaConnectionSeen = false
                rtpmapTypes = []
                onceAttributes = []
            case "a":
                guard !media.isEmpty else {
                    if strict, MediaDirection(rawValue: String(value)) != nil {
                        if onceAttributes.contains("direction") {
                            throw .repeatedAttribute(line: lineNumber, text: shown)
                        }
                        onceAttributes.insert("direction")
                    }
                    sessionAttributes.append(String(value))
                    continue
                }
                try attribute(
                    value, of: &media[media.count - 1], line: lineNumber, shown: shown, rtpmapTypes: &rtpmapTypes,
                    onceAttributes: &onceAttributes)
            default:
                continue
            }
        }
        if strict {
            for type in "vost" where !seen.contains(type) { throw .missingLine(type: String(type)) }
        }
        guard !media.isEmpty else { throw .noMedia }
        // A medium without its own c= is reached at the session's address.
        for i in media.indices where media[i].connectionAddress == nil { media[i].connectionAddress = sessionAddress }
        if strict, let m = media.first(where: { $0.port != 0 && $0.connectionAddress == nil }) {
            throw .missingConnection(line: m.lineNumber)
        }
        return SessionDescription(
            connectionAddress: sessionAddress, media: media, origin: origin, sessionName: sessionName,
            attributes: sessionAttributes)
    }

    /// Parses `m=<media> <port>[/<count>] <proto> <fmt> ...`.
    private func mediaSection(_ value: Substring, line: Int, shown: String) throws(SDPParseError) -> SDPMedia {
        let parts = value.split(separator: " ")
        let portParts = parts.count >= 2 ? parts[1].split(separator: "/", omittingEmptySubsequences: false) : []
        guard parts.count >= (strict ? 4 : 3), let port = UInt16(portParts.first ?? ""),
            !strict || (portParts.count == 1 || (portParts.count == 2 && UInt16(portParts[1]) != nil))
        else {
            throw .badMediaLine(line: line, text: shown)
        }
        // RTP formats are payload types; validation also knows RTP inside DTLS (UDP/TLS/RTP/…).
        let isRTP = parts[2].hasPrefix("RTP") || (strict && parts[2].contains("/RTP/"))
        var formats: [SDPFormat] = []
        for f in parts.dropFirst(3) {
            guard let pt = UInt8(f), pt < 128 else {
                if isRTP { throw .badMediaLine(line: line, text: shown) }
                continue
            }
            formats.append(SDPFormat(payloadType: pt, encoding: nil, clockRate: nil, channels: 1, fmtp: nil))
        }
        return SDPMedia(
            type: String(parts[0]), port: port, proto: String(parts[2]), formats: formats, connectionAddress: nil,
            ptimeMilliseconds: nil, attributes: [], maxptimeMilliseconds: nil,
            formatTokens: parts.dropFirst(3).map(String.init), lineNumber: line)
    }

    /// Applies one media-level `a=` line.
    private func attribute(
        _ value: Substring, of m: inout SDPMedia, line: Int, shown: String, rtpmapTypes: inout Set<UInt8>,
        onceAttributes: inout Set<String>
    ) throws(SDPParseError) {
        /// Records an attribute allowed once; throws on the second in strict mode.
        func once(_ name: String) throws(SDPParseError) {
            if strict && onceAttributes.contains(name) { throw .repeatedAttribute(line: line, text: shown) }
            onceAttributes.insert(name)
        }
        if value.hasPrefix("rtpmap:") {
            // a=rtpmap:<pt> <encoding>/<clock>[/<channels>]
            let parts = value.dropFirst("rtpmap:".count).split(separator: " ", maxSplits: 1)
            let enc = parts.count == 2 ? parts[1].trimmingSpaces().split(separator: "/") : []
            let pt = parts.first.flatMap { UInt8($0) }
            let clock = enc.count >= 2 ? Int(enc[1]) : nil
            let channels = enc.count > 2 ? Int(enc[2]) : 1
            guard let pt, pt < 128, (2...3).contains(enc.count), let clock, clock > 0, let channels, channels > 0
            else {
                if strict { throw .badAttribute(line: line, text: shown) }
                // Lenient: take what parses, as before.
                if let pt, let i = m.formats.firstIndex(where: { $0.payloadType == pt }) {
                    m.formats[i].encoding = enc.first.map(String.init)
                    m.formats[i].clockRate = clock
                    m.formats[i].channels = channels ?? 1
                }
                return
            }
            // An rtpmap for a payload type the m-line does not list is ignored.
            guard let i = m.formats.firstIndex(where: { $0.payloadType == pt }) else { return }
            if strict && rtpmapTypes.contains(pt) { throw .repeatedAttribute(line: line, text: shown) }
            rtpmapTypes.insert(pt)
            m.formats[i].encoding = String(enc[0])
            m.formats[i].clockRate = clock
            m.formats[i].channels = channels
        } else if value.hasPrefix("fmtp:") {
            let parts = value.dropFirst("fmtp:".count).split(separator: " ", maxSplits: 1)
            if let pt = UInt8(parts.first ?? ""), let i = m.formats.firstIndex(where: { $0.payloadType == pt }) {
                m.formats[i].fmtp = parts.count > 1 ? String(parts[1].trimmingSpaces()) : ""
            }
        } else if value.hasPrefix("ptime:") || value.hasPrefix("maxptime:") {
            let isPtime = value.hasPrefix("ptime:")
            let milliseconds = Int(value.drop { $0 != ":" }.dropFirst().trimmingSpaces())
            if strict {
                guard let milliseconds, milliseconds > 0 else { throw .badAttribute(line: line, text: shown) }
                try once(isPtime ? "ptime" : "maxptime")
            }
            if isPtime { m.ptimeMilliseconds = milliseconds } else { m.maxptimeMilliseconds = milliseconds }
        } else {
            if strict {
                if MediaDirection(rawValue: String(value)) != nil { try once("direction") }
                if value.hasPrefix("rtcp:") {
                    guard SDPRTCPAttribute(parsing: value.dropFirst("rtcp:".count)) != nil else {
                        throw .badAttribute(line: line, text: shown)
                    }
                    try once("rtcp")
                }
            }
            m.attributes.append(String(value))
        }
    }
}

extension Character {
    /// True for 0–9 only (not other scripts' digits).
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}

/// Extracts the body of a SIP message carried in one UDP datagram when it is SDP.
public enum SIPMessage {
    /// The SDP body of `datagram` if it is a SIP request or response whose
    /// Content-Type is application/sdp; nil otherwise.
    public static func sdpBody(_ datagram: UnsafeRawBufferPointer) -> String? {
        guard datagram.count > 12 else { return nil }
        // A SIP start line: "SIP/2.0 ..." or "<METHOD> <uri> SIP/2.0".
        let head = String(decoding: datagram.prefix(min(datagram.count, 256)), as: UTF8.self)
        let firstLine = head.prefix { !$0.isNewline }
        guard firstLine.hasPrefix("SIP/2.0 ") || firstLine.hasSuffix(" SIP/2.0") else { return nil }
        // The body starts after the first empty line (CRLF CRLF, or bare LF LF).
        var bodyStart = -1
        var headerEnd = -1
        var i = 0
        while i + 1 < datagram.count {
            if datagram[i] == 0x0A && datagram[i + 1] == 0x0A {
                headerEnd = i
                bodyStart = i + 2
                break
            }
            if i + 3 < datagram.count && datagram[i] == 0x0D && datagram[i + 1] == 0x0A && datagram[i + 2] == 0x0D
                && datagram[i + 3] == 0x0A
            {
                headerEnd = i
                bodyStart = i + 4
                break
            }
            i += 1
        }
        guard bodyStart >= 0 else { return nil }
        let headers = String(decoding: datagram[0..<headerEnd], as: UTF8.self).lowercased()
        var isSDP = false
        for line in headers.split(whereSeparator: { $0.isNewline }) {
            if line.hasPrefix("content-type:") || line.hasPrefix("c:") {
                isSDP = line.contains("application/sdp")
            }
        }
        guard isSDP else { return nil }
        return String(decoding: datagram[bodyStart...], as: UTF8.self)
    }
}
