import SautiAudio

/// The audio codecs the media plane decodes. A closed enum, not a protocol: the
/// per-frame decode is a switch, never an existential call (STYLE.md).
public enum AudioCodec: String, Sendable, Codable {
    /// G.711 µ-law (PT 0).
    case pcmu = "PCMU"
    /// G.711 A-law (PT 8).
    case pcma = "PCMA"
    /// Opus (RFC 7587, a dynamic PT), through libopus. Stateful: decoded packet by packet
    /// in order (`OpusPlayout`), never by sample range like G.711.
    case opus = "opus"

    /// The RTP clock rate, in Hz (48,000 for Opus, whatever its audio rate).
    public var clockRate: Int { self == .opus ? 48_000 : 8000 }

    /// True for codecs whose decoder keeps state between packets (Opus).
    public var isStateful: Bool { self == .opus }

    /// Samples a payload of `bytes` bytes decodes to (G.711; Opus reads its TOC instead).
    @inlinable
    public func samples(inPayloadBytes bytes: Int) -> Int { bytes }

    /// Decodes the samples `range` (sample indices within the payload) of `payload` into `out`.
    @inlinable
    public func decode(
        _ payload: UnsafeRawBufferPointer, samples range: Range<Int>, into out: UnsafeMutableBufferPointer<Int16>
    ) {
        let codes = UnsafeBufferPointer(rebasing: payload.bindMemory(to: UInt8.self)[range])
        switch self {
        case .pcmu: G711.decode(.ulaw, codes, into: out)
        case .pcma: G711.decode(.alaw, codes, into: out)
        case .opus: out.update(repeating: 0)  // never by range: see OpusPlayout
        }
    }

    /// The codec of a static payload type (RFC 3551), or of an SDP/decode-as encoding name.
    public init?(payloadType: UInt8, encoding: String?) {
        if let name = encoding?.lowercased() {
            switch name {
            case "pcmu", "g711u", "ulaw": self = .pcmu
            case "pcma", "g711a", "alaw": self = .pcma
            case "opus": self = .opus
            default: return nil
            }
            return
        }
        switch payloadType {
        case 0: self = .pcmu
        case 8: self = .pcma
        default: return nil
        }
    }
}
