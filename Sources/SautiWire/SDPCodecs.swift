/// An audio codec as SDP names it (`a=rtpmap:<pt> <encoding>/<clockRate>[/<channels>]`).
/// The engine's codec table is a list of these; adding a codec to negotiation is one more
/// entry (Opus: ``opus``, whose dynamic payload type is chosen per offer).
public struct AudioCodecSpec: Hashable, Sendable, CustomStringConvertible {
    /// The encoding name as written in rtpmap (`PCMU`, `opus`); compared case-insensitively.
    public var encoding: String
    /// The RTP clock rate, in Hz (rtpmap's second field).
    public var clockRate: Int
    /// Audio channels (rtpmap's third field; 1 when it is absent). Opus is always `2` in SDP
    /// (RFC 7587 §7), whatever it carries.
    public var channels: Int
    /// The static payload type (RFC 3551 table 4), nil for codecs that take a dynamic one.
    public var staticPayloadType: UInt8?
    /// The `a=fmtp` parameters this side writes for the codec (what it wants to receive),
    /// nil for none.
    public var fmtp: String?

    /// A codec entry.
    public init(
        encoding: String, clockRate: Int, channels: Int = 1, staticPayloadType: UInt8? = nil, fmtp: String? = nil
    ) {
        self.encoding = encoding
        self.clockRate = clockRate
        self.channels = channels
        self.staticPayloadType = staticPayloadType
        self.fmtp = fmtp
    }

    /// G.711 µ-law, `PCMU/8000`, payload type 0.
    public static let pcmu = AudioCodecSpec(encoding: "PCMU", clockRate: 8000, staticPayloadType: 0)
    /// G.711 A-law, `PCMA/8000`, payload type 8.
    public static let pcma = AudioCodecSpec(encoding: "PCMA", clockRate: 8000, staticPayloadType: 8)
    /// Opus (RFC 7587), `opus/48000/2` with a dynamic payload type. Not in the default
    /// preference until the media plane encodes Opus.
    public static let opus = AudioCodecSpec(
        encoding: "opus", clockRate: 48000, channels: 2, fmtp: "minptime=10;useinbandfec=1")

    /// The codecs negotiated by default, most preferred first.
    public static let defaultPreference: [AudioCodecSpec] = [.pcmu, .pcma]

    /// The encoding name of RFC 4733 events.
    public static let telephoneEventEncoding = "telephone-event"

    /// True when an rtpmap with these fields names this codec.
    public func matches(encoding: String, clockRate: Int, channels: Int) -> Bool {
        self.clockRate == clockRate && self.channels == channels
            && self.encoding.lowercased() == encoding.lowercased()
    }

    /// The rtpmap value: `PCMU/8000`, `opus/48000/2`.
    public var rtpmap: String { channels == 1 ? "\(encoding)/\(clockRate)" : "\(encoding)/\(clockRate)/\(channels)" }

    /// The rtpmap value.
    public var description: String { rtpmap }
}

/// A payload format resolved to an encoding: from its rtpmap, else from the static table.
struct ResolvedFormat: Equatable, Sendable {
    /// The payload type, as the description's writer numbers it.
    var payloadType: UInt8
    /// The encoding name, as written.
    var encoding: String
    /// The clock rate, in Hz.
    var clockRate: Int
    /// Channels.
    var channels: Int
    /// The writer's fmtp for this format.
    var fmtp: String?

    /// True for RFC 4733 events.
    var isTelephoneEvent: Bool { encoding.lowercased() == AudioCodecSpec.telephoneEventEncoding }

    /// `format` resolved by its rtpmap, else by RFC 3551's static assignments; nil for a
    /// payload type with neither (a dynamic one without rtpmap is not choosable).
    init?(_ format: SDPFormat) {
        payloadType = format.payloadType
        fmtp = format.fmtp
        if let encoding = format.encoding, let clockRate = format.clockRate {
            self.encoding = encoding
            self.clockRate = clockRate
            self.channels = format.channels
        } else if let s = StaticPayloadType.table[format.payloadType] {
            self.encoding = s.encoding
            self.clockRate = s.clockRate
            self.channels = s.channels
        } else {
            return nil
        }
    }

    /// A format with the given fields.
    init(payloadType: UInt8, encoding: String, clockRate: Int, channels: Int, fmtp: String?) {
        self.payloadType = payloadType
        self.encoding = encoding
        self.clockRate = clockRate
        self.channels = channels
        self.fmtp = fmtp
    }

    /// True when `codec` is this format's encoding.
    func isCodec(_ codec: AudioCodecSpec) -> Bool {
        codec.matches(encoding: encoding, clockRate: clockRate, channels: channels)
    }
}

/// The static audio payload types of RFC 3551 table 4, so formats offered without an
/// rtpmap (allowed for these) resolve and can be named in errors.
enum StaticPayloadType {
    static let table: [UInt8: (encoding: String, clockRate: Int, channels: Int)] = [
        0: ("PCMU", 8000, 1), 3: ("GSM", 8000, 1), 4: ("G723", 8000, 1), 5: ("DVI4", 8000, 1),
        6: ("DVI4", 16000, 1), 7: ("LPC", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1),
        10: ("L16", 44100, 2), 11: ("L16", 44100, 1), 12: ("QCELP", 8000, 1), 13: ("CN", 8000, 1),
        14: ("MPA", 90000, 1), 15: ("G728", 8000, 1), 16: ("DVI4", 11025, 1), 17: ("DVI4", 22050, 1),
        18: ("G729", 8000, 1),
    ]
}

extension SDPFormat {
    /// The format as an error names it: `18 G729/8000`, `96 (no rtpmap)`.
    var summary: String {
        guard let r = ResolvedFormat(self) else { return "\(payloadType) (no rtpmap)" }
        let channels = r.channels == 1 ? "" : "/\(r.channels)"
        return "\(payloadType) \(r.encoding)/\(r.clockRate)\(channels)"
    }
}
