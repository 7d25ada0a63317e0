import SautiWire

extension LegConfiguration {
    /// The leg an SDP exchange agreed on, or nil when the codec is not one this engine
    /// decodes yet (negotiation only offers what the preference lists, so this is rare).
    /// Settings SDP does not carry (timeouts, jitter bounds, RTCP interval, CNAME) are kept
    /// from `base`.
    public init?(negotiated m: NegotiatedMedia, base: LegConfiguration? = nil) {
        guard let codec = AudioCodec(payloadType: m.payloadType, encoding: m.codec.encoding) else { return nil }
        self = base ?? LegConfiguration(codec: codec)
        self.codec = codec
        payloadType = m.payloadType
        telephoneEventPayloadType = m.telephoneEventPayloadType
        remote = m.remoteRTP
        remoteRTCP = m.remoteRTCP
        rtcpMux = m.rtcpMux
        direction = LegDirection(rawValue: m.direction.rawValue) ?? .sendrecv
        if codec == .opus, let send = m.opusSendParameters {
            opus = (base?.opus ?? OpusLegSettings()).negotiated(with: send)
        }
    }
}
