/// Why an SDP body could not be parsed (RFC 4566).
public enum SDPParseError: Error, Equatable, Sendable {
    /// A line that is not `<type>=<value>` (1-based line number).
    case malformedLine(line: Int, text: String)
    /// An `m=` line whose port or format list is not valid.
    case badMediaLine(line: Int, text: String)
    /// No `m=` line at all.
    case noMedia
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

/// One `m=` section.
public struct SDPMedia: Equatable, Sendable {
    /// `audio`, `video`, …
    public var type: String
    /// The media port; 0 means the stream is rejected.
    public var port: UInt16
    /// The transport (`RTP/AVP`, `RTP/SAVPF`, …).
    public var proto: String
    /// The formats in the order offered.
    public var formats: [SDPFormat]
    /// The connection address (media level, else session level).
    public var connectionAddress: IPAddress?
    /// The `a=ptime`, in milliseconds.
    public var ptimeMilliseconds: Int?
    /// Every other attribute line of the section, verbatim (without `a=`).
    public var attributes: [String]
}

/// A parsed session description: enough for replay to learn which ports carry which
/// codecs. The live media plane grows this into full offer/answer.
public struct SessionDescription: Equatable, Sendable {
    /// The session-level connection address.
    public var connectionAddress: IPAddress?
    /// The media sections.
    public var media: [SDPMedia]

    /// Parses an SDP body. Unknown line types are ignored as RFC 4566 §5 requires.
    public init(parsing text: String) throws(SDPParseError) {
        var sessionAddress: IPAddress? = nil
        var media: [SDPMedia] = []
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine[...]
            if line.isEmpty { continue }
            guard line.count >= 2, line[line.index(after: line.startIndex)] == "=" else {
                throw .malformedLine(line: lineNumber, text: String(line.prefix(80)))
            }
            let type = line.first!
            let value = line.dropFirst(2)
            switch type {
            case "c":
                // c=IN IP4 192.0.2.1[/ttl]
                let parts = value.split(separator: " ")
                let address = parts.count >= 3 ? IPAddress(parts[2].split(separator: "/").first ?? "") : nil
                if media.isEmpty { sessionAddress = address } else { media[media.count - 1].connectionAddress = address }
            case "m":
                let parts = value.split(separator: " ")
                guard parts.count >= 3, let port = UInt16(parts[1].split(separator: "/").first ?? "") else {
                    throw .badMediaLine(line: lineNumber, text: String(line.prefix(80)))
                }
                var formats: [SDPFormat] = []
                for f in parts.dropFirst(3) {
                    guard let pt = UInt8(f), pt < 128 else {
                        if parts[2].hasPrefix("RTP") { throw .badMediaLine(line: lineNumber, text: String(line.prefix(80))) }
                        continue
                    }
                    formats.append(SDPFormat(payloadType: pt, encoding: nil, clockRate: nil, channels: 1, fmtp: nil))
                }
                media.append(
                    SDPMedia(
                        type: String(parts[0]), port: port, proto: String(parts[2]), formats: formats,
                        connectionAddress: nil, ptimeMilliseconds: nil, attributes: []))
            case "a":
                guard !media.isEmpty else { continue }
                let m = media.count - 1
                if value.hasPrefix("rtpmap:") {
                    // a=rtpmap:<pt> <encoding>/<clock>[/<channels>]
                    let body = value.dropFirst("rtpmap:".count)
                    let parts = body.split(separator: " ", maxSplits: 1)
                    guard parts.count == 2, let pt = UInt8(parts[0]) else { continue }
                    let enc = parts[1].split(separator: "/")
                    if let i = media[m].formats.firstIndex(where: { $0.payloadType == pt }) {
                        media[m].formats[i].encoding = enc.first.map(String.init)
                        media[m].formats[i].clockRate = enc.count > 1 ? Int(enc[1]) : nil
                        media[m].formats[i].channels = enc.count > 2 ? Int(enc[2]) ?? 1 : 1
                    }
                } else if value.hasPrefix("fmtp:") {
                    let body = value.dropFirst("fmtp:".count)
                    let parts = body.split(separator: " ", maxSplits: 1)
                    if let pt = UInt8(parts.first ?? ""), let i = media[m].formats.firstIndex(where: { $0.payloadType == pt }) {
                        media[m].formats[i].fmtp = parts.count > 1 ? String(parts[1]) : ""
                    }
                } else if value.hasPrefix("ptime:") {
                    media[m].ptimeMilliseconds = Int(value.dropFirst("ptime:".count).trimmingSpaces())
                } else {
                    media[m].attributes.append(String(value))
                }
            default:
                continue
            }
        }
        guard !media.isEmpty else { throw .noMedia }
        // A medium without its own c= is reached at the session's address.
        for i in media.indices where media[i].connectionAddress == nil { media[i].connectionAddress = sessionAddress }
        self.connectionAddress = sessionAddress
        self.media = media
    }
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
