/// A media direction attribute (RFC 3264 §5.1, §6.1).
public enum MediaDirection: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Send and receive.
    case sendrecv
    /// Send only (the writer holds the other side).
    case sendonly
    /// Receive only.
    case recvonly
    /// Neither.
    case inactive

    /// The direction with the given halves.
    public init(sends: Bool, receives: Bool) {
        switch (sends, receives) {
        case (true, true): self = .sendrecv
        case (true, false): self = .sendonly
        case (false, true): self = .recvonly
        case (false, false): self = .inactive
        }
    }

    /// True when media flows out.
    public var sends: Bool { self == .sendrecv || self == .sendonly }
    /// True when media flows in.
    public var receives: Bool { self == .sendrecv || self == .recvonly }

    /// The same flow seen from the other side: `sendonly` ↔ `recvonly`; what an answer
    /// writes for an offer's direction.
    public var reversed: MediaDirection { MediaDirection(sends: receives, receives: sends) }

    /// What both allow: sends only when both send, receives only when both receive.
    public func intersection(_ other: MediaDirection) -> MediaDirection {
        MediaDirection(sends: sends && other.sends, receives: receives && other.receives)
    }

    /// The attribute name: `sendrecv`, `sendonly`, `recvonly`, `inactive`.
    public var description: String { rawValue }
}

/// This side of every SDP exchange: addresses, names, codecs, packetization.
public struct SDPLocalConfig: Equatable, Sendable {
    /// Which order picks the codec when an offer lists several that both sides have.
    public enum CodecOrder: Sendable, Equatable {
        /// The first of ``SDPLocalConfig/codecPreference`` that the offer lists.
        case local
        /// The first in the offer's own order that this side supports.
        case offerer
    }

    /// The media address written in `o=` and `c=` of offers, and of answers to offers of
    /// its IP family.
    public var address: IPAddress
    /// The address of the other IP family on a dual-stack host, nil when there is none.
    /// Answers to offers of that family use it; an offer of a family with no address here
    /// is rejected.
    public var alternateAddress: IPAddress?
    /// The `o=` user name (no spaces; `-` means none).
    public var username: String
    /// The `s=` text (one line).
    public var sessionName: String
    /// The codecs this side can carry, most preferred first. Empty means the default.
    public var codecPreference: [AudioCodecSpec]
    /// Whose order picks the codec.
    public var codecOrder: CodecOrder
    /// Accept and offer RFC 4733 telephone-events.
    public var telephoneEvent: Bool
    /// The payload type our offers give telephone-events (answers use the offerer's).
    public var preferredTelephoneEventPayloadType: UInt8
    /// The packet duration this side sends and writes as `a=ptime`, in milliseconds.
    public var ptimeMilliseconds: Int
    /// The longest packet this side accepts, written as `a=maxptime`, in milliseconds.
    public var maxptimeMilliseconds: Int
    /// Accept and offer RTP/RTCP multiplexing on one port (RFC 5761).
    public var rtcpMux: Bool

    /// A configuration; only the address has no default.
    public init(
        address: IPAddress, alternateAddress: IPAddress? = nil, username: String = "-",
        sessionName: String = "sautikit", codecPreference: [AudioCodecSpec] = AudioCodecSpec.defaultPreference,
        codecOrder: CodecOrder = .local, telephoneEvent: Bool = true, preferredTelephoneEventPayloadType: UInt8 = 101,
        ptimeMilliseconds: Int = 20, maxptimeMilliseconds: Int = 60, rtcpMux: Bool = true
    ) {
        self.address = address
        self.alternateAddress = alternateAddress
        self.username = username
        self.sessionName = sessionName
        self.codecPreference = codecPreference
        self.codecOrder = codecOrder
        self.telephoneEvent = telephoneEvent
        self.preferredTelephoneEventPayloadType = preferredTelephoneEventPayloadType
        self.ptimeMilliseconds = ptimeMilliseconds
        self.maxptimeMilliseconds = maxptimeMilliseconds
        self.rtcpMux = rtcpMux
    }

    /// ``codecPreference``, or the default when it is empty.
    var codecs: [AudioCodecSpec] { codecPreference.isEmpty ? AudioCodecSpec.defaultPreference : codecPreference }

    /// This side's address of `remote`'s family, nil when it has none.
    func localAddress(for remote: IPAddress) -> IPAddress? {
        if address.isV6 == remote.isV6 { return address }
        if let alternateAddress, alternateAddress.isV6 == remote.isV6 { return alternateAddress }
        return nil
    }
}

/// The audio stream of a leg as negotiated: what the leg sends, to where, and how.
public struct NegotiatedMedia: Equatable, Sendable {
    /// Which m-line of the exchange carries it (0-based).
    public var mediaLineIndex: Int
    /// This side's RTP address and port, as written in the local description.
    public var localRTP: Endpoint
    /// Where to send RTP; nil when the remote gave no address to send to (`c=0.0.0.0`,
    /// the old way of holding, RFC 3264 §8.4).
    public var remoteRTP: Endpoint?
    /// Where to send RTCP: the remote's `a=rtcp`, else RTP port + 1; equal to
    /// ``remoteRTP`` when ``rtcpMux`` is on; nil when ``remoteRTP`` is.
    public var remoteRTCP: Endpoint?
    /// RTP and RTCP share one port on both sides (RFC 5761).
    public var rtcpMux: Bool
    /// The payload type to send the codec with (the remote's number for it).
    public var payloadType: UInt8
    /// The codec, as this side's table has it.
    public var codec: AudioCodecSpec
    /// The payload type of RFC 4733 events at the codec's clock, nil when not negotiated.
    public var telephoneEventPayloadType: UInt8?
    /// The remote's `a=ptime`, in milliseconds, nil when absent.
    public var remotePtimeMilliseconds: Int?
    /// The remote's `a=maxptime`, in milliseconds, nil when absent.
    public var remoteMaxptimeMilliseconds: Int?
    /// The packet duration this side sends, in milliseconds.
    public var localPtimeMilliseconds: Int
    /// What this side does: `sendonly` when the remote holds with `a=recvonly`, `recvonly`
    /// when it holds with `a=sendonly` or `c=0.0.0.0`, `inactive` for both.
    public var direction: MediaDirection
    /// The remote's `a=fmtp` for the codec (what it wants to receive), nil when absent.
    public var fmtp: String?
}

/// What changed in a leg's media with a new exchange; each is applied to the live leg at
/// a frame boundary without dropping it.
public struct MediaChanges: OptionSet, Hashable, Sendable {
    /// The bits of the set.
    public let rawValue: UInt8

    /// A set from raw bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The remote RTP or RTCP endpoint moved: send there, and re-latch symmetric RTP.
    public static let remoteAddress = MediaChanges(rawValue: 1 << 0)
    /// The codec, its payload type or its fmtp changed: recreate the codec state.
    public static let codec = MediaChanges(rawValue: 1 << 1)
    /// The telephone-event payload type changed or appeared or went.
    public static let telephoneEvent = MediaChanges(rawValue: 1 << 2)
    /// The direction changed (hold, unhold).
    public static let direction = MediaChanges(rawValue: 1 << 3)
    /// RTCP multiplexing went on or off.
    public static let rtcpMux = MediaChanges(rawValue: 1 << 4)
    /// The remote's ptime or maxptime changed.
    public static let ptime = MediaChanges(rawValue: 1 << 5)
    /// This side's address changed (another IP family).
    public static let localAddress = MediaChanges(rawValue: 1 << 6)
    /// Everything: the first negotiation of a leg.
    public static let all: MediaChanges = [
        .remoteAddress, .codec, .telephoneEvent, .direction, .rtcpMux, .ptime, .localAddress,
    ]

    /// What differs from `old` to `new`; ``all`` when there was nothing before.
    public static func between(_ old: NegotiatedMedia?, _ new: NegotiatedMedia) -> MediaChanges {
        guard let old else { return .all }
        var changes: MediaChanges = []
        if old.remoteRTP != new.remoteRTP || old.remoteRTCP != new.remoteRTCP { changes.insert(.remoteAddress) }
        if old.payloadType != new.payloadType || old.codec != new.codec || old.fmtp != new.fmtp {
            changes.insert(.codec)
        }
        if old.telephoneEventPayloadType != new.telephoneEventPayloadType { changes.insert(.telephoneEvent) }
        if old.direction != new.direction { changes.insert(.direction) }
        if old.rtcpMux != new.rtcpMux { changes.insert(.rtcpMux) }
        if old.remotePtimeMilliseconds != new.remotePtimeMilliseconds
            || old.remoteMaxptimeMilliseconds != new.remoteMaxptimeMilliseconds
        {
            changes.insert(.ptime)
        }
        if old.localRTP != new.localRTP { changes.insert(.localAddress) }
        return changes
    }
}

/// Why an answer rejects one m-line of an offer (port 0 in the answer).
public enum SDPStreamRejection: Equatable, Sendable, CustomStringConvertible {
    /// The offer itself has port 0 for it.
    case disabledByOfferer
    /// Not audio (`video`, `application`, …).
    case unsupportedMediaType(String)
    /// A transport this engine does not speak (SRTP, DTLS-SRTP, TCP, …), and why.
    case unsupportedTransport(proto: String, reason: String)
    /// An audio stream after the one accepted: one audio stream per leg.
    case additionalAudioStream
    /// No codec of the offer is one this side has (the offered formats, as `18 G729/8000`).
    case noCommonCodec(offered: [String])
    /// The remote address is of an IP family this side has no address of.
    case addressFamilyMismatch(remote: IPAddress)

    /// Why, in words (for logs and the registrar).
    public var description: String {
        switch self {
        case .disabledByOfferer: return "the offer disables it (port 0)"
        case .unsupportedMediaType(let type): return "\(type) is not supported; this engine carries audio only"
        case .unsupportedTransport(_, let reason): return reason
        case .additionalAudioStream: return "a second audio stream; a leg carries one"
        case .noCommonCodec(let offered):
            return "no supported codec among \(offered.joined(separator: ", "))" + opusClockHint(offered)
        case .addressFamilyMismatch(let remote):
            return "no local address of the family of \(remote) (IP\(remote.isV6 ? "6" : "4"))"
        }
    }
}

/// What an answer did with one m-line of the offer.
public enum SDPStreamDecision: Equatable, Sendable {
    /// The audio stream of the leg.
    case accepted
    /// Rejected with port 0, and why.
    case rejected(SDPStreamRejection)
}

/// Why an offer could not be answered or an answer applied. The leg's media is unchanged:
/// the registrar answers a failed offer with `488 Not Acceptable Here` and a `Warning`
/// carrying ``sipWarningCode`` and ``description`` (RFC 3261 §20.43), or with `491` for
/// ``offerPending``.
public enum SDPNegotiationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The body is not valid SDP.
    case parse(SDPParseError)
    /// The offer has no audio m-line (the media types it has instead).
    case noAudio(offeredMedia: [String])
    /// Every audio m-line of the offer has port 0 (`line`: the first).
    case audioDisabled(line: Int)
    /// The audio the offer has uses only transports this engine does not speak.
    case unsupportedTransport(line: Int, proto: String, reason: String)
    /// No codec of the offered audio is one this side has.
    case noCommonCodec(line: Int, offered: [String])
    /// The offered audio is at an address of an IP family this side has no address of.
    case addressFamilyMismatch(line: Int, remote: IPAddress)
    /// A re-offer with fewer m-lines than the session has (RFC 3264 §8 forbids removing any).
    case fewerMediaLines(previous: Int, offered: Int)
    /// An offer arrived while ours awaits its answer (glare: SIP `491 Request Pending`).
    case offerPending
    /// An answer arrived but no offer of ours awaits one.
    case noOfferPending
    /// The answer's m-line count differs from our offer's (RFC 3264 §6).
    case answerMediaCountMismatch(offered: Int, answered: Int)
    /// The answer rejects our audio stream (port 0, or another media type in its place).
    case answerRejectedAudio(line: Int)
    /// The answer's audio lists no codec that our offer had (its formats, as `18 G729/8000`).
    case answerCodecNotOffered(line: Int, answered: [String])

    /// What is wrong and where, in one line (fit for a SIP `Warning` header's text).
    public var description: String {
        switch self {
        case .parse(let e): return e.description
        case .noAudio(let types):
            return
                "the offer has no audio stream (it offers \(types.isEmpty ? "nothing" : types.joined(separator: ", ")))"
        case .audioDisabled(let line): return "SDP line \(line): the offer's audio stream is disabled (port 0)"
        case .unsupportedTransport(let line, _, let reason): return "SDP line \(line): \(reason)"
        case .noCommonCodec(let line, let offered):
            return "SDP line \(line): no supported codec among \(offered.joined(separator: ", "))" + opusClockHint(offered)
        case .addressFamilyMismatch(let line, let remote):
            return
                "SDP line \(line): media at \(remote) needs an IPv\(remote.isV6 ? "6" : "4") address, which this engine has not"
        case .fewerMediaLines(let previous, let offered):
            return "the re-offer has \(offered) m-lines, fewer than the session's \(previous) (RFC 3264 §8)"
        case .offerPending: return "an offer arrived while ours awaits its answer"
        case .noOfferPending: return "an answer arrived but no offer awaits one"
        case .answerMediaCountMismatch(let offered, let answered):
            return "the answer has \(answered) m-lines for an offer of \(offered) (RFC 3264 §6)"
        case .answerRejectedAudio(let line): return "SDP line \(line): the answer rejects the audio stream"
        case .answerCodecNotOffered(let line, let answered):
            return
                "SDP line \(line): the answer's formats \(answered.joined(separator: ", ")) are none of those offered"
        }
    }

    /// The SIP warning code (RFC 3261 §20.43) for a `Warning` header, nil for glare.
    public var sipWarningCode: Int? {
        switch self {
        case .parse, .fewerMediaLines, .noOfferPending, .answerMediaCountMismatch: return 399  // miscellaneous
        case .noAudio, .audioDisabled, .answerRejectedAudio: return 304  // media type not available
        case .unsupportedTransport: return 302  // incompatible transport protocol
        case .noCommonCodec, .answerCodecNotOffered: return 305  // incompatible media format
        case .addressFamilyMismatch: return 301  // incompatible network address formats
        case .offerPending: return nil
        }
    }
}

/// An answer to an offer: the SDP to send and the media the leg now carries.
public struct SDPAnswer: Equatable, Sendable {
    /// The answer body (CRLF line ends): every m-line of the offer, in order.
    public var sdp: String
    /// The leg's audio stream.
    public var media: NegotiatedMedia
    /// What changed from the media before (``MediaChanges/all`` on the first exchange).
    public var changes: MediaChanges
    /// For each m-line of the offer, in order: accepted, or rejected and why.
    public var streams: [SDPStreamDecision]
}

/// The media after applying an answer to our offer.
public struct SDPMediaUpdate: Equatable, Sendable {
    /// The leg's audio stream.
    public var media: NegotiatedMedia
    /// What changed from the media before (``MediaChanges/all`` on the first exchange).
    public var changes: MediaChanges
}

/// For a refusal that lists Opus at a clock other than 48,000: why it is not Opus to us
/// ("" otherwise). `offered` reads as `96 opus/16000`.
func opusClockHint(_ offered: [String]) -> String {
    let wrong = offered.contains { f in
        let name = f.split(separator: " ").last?.lowercased() ?? ""
        return name.hasPrefix("opus/") && !name.hasPrefix("opus/48000")
    }
    return wrong ? " (Opus is always opus/48000/2 in SDP, RFC 7587 §7: another clock is refused)" : ""
}
