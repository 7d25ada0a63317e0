/// One leg's side of SDP offer/answer (RFC 3264): answers offers (the first and every
/// re-offer), writes offers (outbound legs, hold and unhold), applies answers to them.
///
/// It keeps what RFC 3264 §8 asks to keep across exchanges: the `o=` session id, a
/// version that grows with every changed description (an unchanged one keeps its
/// version), the m-line layout (a re-offer of ours repeats every m-line, rejected ones
/// with port 0), the local port, the codec while the remote still offers it, and whether
/// this side holds the remote. A failed exchange changes nothing, so a bad re-offer never
/// drops a live leg. Pure code: no I/O.
public struct SDPSession: Sendable {
    /// This side's addresses, codecs and packetization.
    public var config: SDPLocalConfig
    /// This side's RTP port, written in every description (RTCP is at port + 1 unless
    /// multiplexed).
    public var localPort: UInt16
    /// The `o=` session id, fixed for the leg's life.
    public let sessionID: UInt64
    /// The `o=` version of the last local description.
    public private(set) var sessionVersion: UInt64
    /// What this side wants to do: `sendonly` while it holds the remote (set by
    /// ``offer(direction:)``); answers never exceed it.
    public private(set) var localDirection: MediaDirection = .sendrecv
    /// The audio stream negotiated last, nil before the first complete exchange.
    public private(set) var media: NegotiatedMedia?
    /// The last description this side wrote (offer or answer).
    public private(set) var localDescription: String?
    /// The last description the remote sent (offer or answer) that was applied.
    public private(set) var remoteDescription: SessionDescription?

    /// The m-line layout of the session: every m-line so far, in order.
    private var slots: [MediaSlot] = []
    /// The index of the audio m-line in `slots`.
    private var audioSlot = 0
    /// Our offer awaiting its answer.
    private var pending: PendingOffer?
    /// The last local description without `v=` and `o=`, to tell whether a new one changed.
    private var lastBody: String?

    /// True while an offer of ours awaits its answer.
    public var hasPendingOffer: Bool { pending != nil }

    /// A leg's SDP state before any exchange.
    /// - Parameters:
    ///   - sessionID: the `o=` session id (RFC 4566 suggests an NTP timestamp); keep it
    ///     below 2⁶³, as some peers parse it as a signed 64-bit number.
    ///   - sessionVersion: the version of the first description.
    public init(config: SDPLocalConfig, localPort: UInt16, sessionID: UInt64, sessionVersion: UInt64 = 1) {
        self.config = config
        self.localPort = localPort
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
    }

    // MARK: - Answering

    /// Answers an offer, the first or a re-offer of a live leg (RFC 3264 §6, §8).
    ///
    /// Accepts the first usable audio m-line (a re-offer's: the one accepted before, if it
    /// is still usable) and rejects every other m-line with port 0, echoing its formats.
    /// The codec is kept while the offer still lists it, else chosen again by
    /// ``SDPLocalConfig/codecPreference`` and ``SDPLocalConfig/codecOrder``; the answer
    /// lists it and the telephone-event of its clock with the offerer's payload types.
    /// The answer's direction is the offer's reversed, within ``localDirection``; an offer
    /// at `c=0.0.0.0` is treated as `sendonly` (the old hold). On failure nothing changes.
    public mutating func answer(toOffer text: String) throws(SDPNegotiationError) -> SDPAnswer {
        guard pending == nil else { throw .offerPending }
        let offer: SessionDescription
        do { offer = try SessionDescription(validating: text) } catch { throw .parse(error) }
        if media != nil && offer.media.count < slots.count {
            throw .fewerMediaLines(previous: slots.count, offered: offer.media.count)
        }
        let evaluations = offer.media.indices.map { evaluate(offer, at: $0) }
        var chosen: (index: Int, media: NegotiatedMedia)? = nil
        if media != nil, audioSlot < evaluations.count, case .usable(let m) = evaluations[audioSlot] {
            chosen = (audioSlot, m)
        } else {
            for (i, e) in evaluations.enumerated() {
                if case .usable(let m) = e {
                    chosen = (i, m)
                    break
                }
            }
        }
        guard let chosen else { throw Self.failure(offer, evaluations) }

        var streams: [SDPStreamDecision] = []
        var sections = ""
        for (i, m) in offer.media.enumerated() {
            if i == chosen.index {
                streams.append(.accepted)
                let n = chosen.media
                var formats = [
                    ResolvedFormat(
                        payloadType: n.payloadType, encoding: n.codec.encoding, clockRate: n.codec.clockRate,
                        channels: n.codec.channels, fmtp: n.codec.fmtp)
                ]
                if let te = n.telephoneEventPayloadType {
                    formats.append(.telephoneEvent(te, clockRate: n.codec.clockRate))
                }
                sections += audioSection(proto: m.proto, formats: formats, rtcpMux: n.rtcpMux, direction: n.direction)
            } else {
                switch evaluations[i] {
                case .usable: streams.append(.rejected(.additionalAudioStream))
                case .rejected(let why): streams.append(.rejected(why))
                }
                sections += Self.rejectedSection(MediaSlot(m))
            }
        }
        let sdp = stamp(address: chosen.media.localRTP.address, sections: sections)
        let changes = MediaChanges.between(media, chosen.media)
        media = chosen.media
        remoteDescription = offer
        slots = offer.media.map(MediaSlot.init)
        audioSlot = chosen.index
        return SDPAnswer(sdp: sdp, media: chosen.media, changes: changes, streams: streams)
    }

    /// One m-line of an offer: usable as the leg's audio, or rejected and why.
    private enum Evaluation {
        case usable(NegotiatedMedia)
        case rejected(SDPStreamRejection)
    }

    /// Whether the m-line at `index` of `offer` could be the leg's audio, and as what.
    private func evaluate(_ offer: SessionDescription, at index: Int) -> Evaluation {
        let m = offer.media[index]
        guard m.port != 0 else { return .rejected(.disabledByOfferer) }
        guard m.type.lowercased() == "audio" else { return .rejected(.unsupportedMediaType(m.type)) }
        if let reason = Self.transportProblem(m, in: offer) {
            return .rejected(.unsupportedTransport(proto: m.proto, reason: reason))
        }
        // Safe: validation guarantees every m-line with a port has an address.
        let remoteAddress = m.connectionAddress!
        guard let localAddress = config.localAddress(for: remoteAddress) else {
            return .rejected(.addressFamilyMismatch(remote: remoteAddress))
        }
        let formats = m.formats.compactMap(ResolvedFormat.init)
        guard let (format, codec) = chooseCodec(formats) else {
            return .rejected(.noCommonCodec(offered: m.formats.map(\.summary)))
        }
        var offered = offer.direction(of: m)
        // c=0.0.0.0: the offerer has no address to receive at (RFC 3264 §8.4).
        if remoteAddress.isUnspecified { offered = offered.intersection(.sendonly) }
        let rtcpMux = config.rtcpMux && m.rtcpMux
        let remote = Self.remoteEndpoints(m, address: remoteAddress, rtcpMux: rtcpMux)
        return .usable(
            NegotiatedMedia(
                mediaLineIndex: index, localRTP: Endpoint(address: localAddress, port: localPort),
                remoteRTP: remote.rtp, remoteRTCP: remote.rtcp, rtcpMux: rtcpMux, payloadType: format.payloadType,
                codec: codec, telephoneEventPayloadType: telephoneEvent(in: formats, clockRate: codec.clockRate),
                remotePtimeMilliseconds: m.ptimeMilliseconds, remoteMaxptimeMilliseconds: m.maxptimeMilliseconds,
                localPtimeMilliseconds: config.ptimeMilliseconds,
                direction: offered.reversed.intersection(localDirection), fmtp: format.fmtp))
    }

    /// The codec to carry among `formats`: the current one while offered, else by preference.
    private func chooseCodec(_ formats: [ResolvedFormat]) -> (ResolvedFormat, AudioCodecSpec)? {
        let codecs = config.codecs
        var candidates: [(rank: Int, format: ResolvedFormat, codec: AudioCodecSpec)] = []
        for f in formats where !f.isTelephoneEvent {
            if let rank = codecs.firstIndex(where: f.isCodec) { candidates.append((rank, f, codecs[rank])) }
        }
        // RFC 3264 §8.3.2: keep sending what we send while the offer still allows it.
        if let current = media?.codec, let keep = candidates.first(where: { $0.codec == current }) {
            return (keep.format, keep.codec)
        }
        let best: (rank: Int, format: ResolvedFormat, codec: AudioCodecSpec)?
        switch config.codecOrder {
        case .local: best = candidates.min { $0.rank < $1.rank }  // the first of equal rank stays
        case .offerer: best = candidates.first
        }
        return best.map { ($0.format, $0.codec) }
    }

    /// The payload type of telephone-events at `clockRate` (RFC 4733 §2.1), nil if none.
    private func telephoneEvent(in formats: [ResolvedFormat], clockRate: Int) -> UInt8? {
        guard config.telephoneEvent else { return nil }
        return formats.first { $0.isTelephoneEvent && $0.clockRate == clockRate }?.payloadType
    }

    /// Why this engine cannot carry `m`'s transport, nil when it can (RTP/AVP; RTP/AVPF is
    /// carried as AVP, its feedback ignored).
    static func transportProblem(_ m: SDPMedia, in sdp: SessionDescription) -> String? {
        let proto = m.proto.uppercased()
        if proto == "RTP/AVP" || proto == "RTP/AVPF" { return nil }
        let ice = m.hasAttribute("ice-ufrag") || sdp.hasAttribute("ice-ufrag")
        let fingerprint = m.hasAttribute("fingerprint") || sdp.hasAttribute("fingerprint")
        if proto.hasPrefix("UDP/TLS/RTP/") || proto.hasPrefix("TCP/TLS/RTP/") {
            return ice
                ? "WebRTC offer: \(m.proto) needs DTLS-SRTP and ICE, which this engine does not do"
                : "\(m.proto) needs DTLS-SRTP, which this engine does not do"
        }
        if proto == "RTP/SAVP" || proto == "RTP/SAVPF" {
            if fingerprint { return "\(m.proto) with a=fingerprint needs DTLS-SRTP, which this engine does not do" }
            return m.hasAttribute("crypto")
                ? "\(m.proto) needs SRTP keyed by a=crypto (SDES), which this engine does not do"
                : "\(m.proto) needs SRTP, which this engine does not do"
        }
        return "\(m.proto) is not a transport this engine speaks (RTP/AVP or RTP/AVPF over UDP)"
    }

    /// Where to send RTP and RTCP for `m` at `address`.
    static func remoteEndpoints(_ m: SDPMedia, address: IPAddress, rtcpMux: Bool) -> (rtp: Endpoint?, rtcp: Endpoint?) {
        guard !address.isUnspecified else { return (nil, nil) }
        let rtp = Endpoint(address: address, port: m.port)
        if rtcpMux { return (rtp, rtp) }
        if let attribute = m.rtcp {
            let rtcpAddress = attribute.address ?? address
            return (rtp, rtcpAddress.isUnspecified ? nil : Endpoint(address: rtcpAddress, port: attribute.port))
        }
        // Safe: port + 1 only below the maximum.
        return (rtp, m.port < UInt16.max ? Endpoint(address: address, port: m.port + 1) : nil)
    }

    /// The error for an offer none of whose m-lines is usable: the most telling reason
    /// among its audio lines.
    private static func failure(_ offer: SessionDescription, _ evaluations: [Evaluation]) -> SDPNegotiationError {
        var reasons: [(line: Int, why: SDPStreamRejection)] = []
        for (m, e) in zip(offer.media, evaluations) where m.type.lowercased() == "audio" {
            if case .rejected(let why) = e { reasons.append((m.lineNumber, why)) }
        }
        guard let first = reasons.first else { return .noAudio(offeredMedia: offer.media.map(\.type)) }
        for r in reasons {
            if case .noCommonCodec(let offered) = r.why { return .noCommonCodec(line: r.line, offered: offered) }
        }
        for r in reasons {
            if case .addressFamilyMismatch(let remote) = r.why {
                return .addressFamilyMismatch(line: r.line, remote: remote)
            }
        }
        for r in reasons {
            if case .unsupportedTransport(let proto, let reason) = r.why {
                return .unsupportedTransport(line: r.line, proto: proto, reason: reason)
            }
        }
        return .audioDisabled(line: first.line)
    }

    // MARK: - Offering

    /// Writes an offer: for an outbound leg, or a re-offer of a live one (`sendonly` to
    /// hold the remote, `inactive`, `sendrecv` to resume). It lists every codec of the
    /// preference (the current one first, with its payload type) and telephone-events
    /// at each of their clocks, and repeats the session's other m-lines with port 0.
    /// Sets ``localDirection``; ``applyAnswer(_:)`` completes the exchange,
    /// ``abandonOffer()`` forgets it (a failed re-INVITE). A second call replaces a
    /// pending offer.
    public mutating func offer(direction: MediaDirection = .sendrecv) -> String {
        let previousDirection = pending?.previousDirection ?? localDirection
        if slots.isEmpty {
            slots = [MediaSlot(type: "audio", proto: "RTP/AVP", formatTokens: [])]
            audioSlot = 0
        }
        var codecs = config.codecs
        if let current = media?.codec, let i = codecs.firstIndex(of: current) {
            codecs.remove(at: i)
            codecs.insert(current, at: 0)
        }
        // Payload types: static ones as assigned; the current dynamic ones as they are;
        // new dynamic ones from 96 up.
        var used = Set(codecs.compactMap(\.staticPayloadType))
        if let media {
            used.insert(media.payloadType)
            if let te = media.telephoneEventPayloadType { used.insert(te) }
        }
        if config.telephoneEvent { used.insert(config.preferredTelephoneEventPayloadType) }
        func nextDynamic() -> UInt8? {
            guard let pt = (96...127).first(where: { !used.contains(UInt8($0)) }).map(UInt8.init) else { return nil }
            used.insert(pt)
            return pt
        }
        var formats: [ResolvedFormat] = []
        for c in codecs {
            let current = media.flatMap { $0.codec == c ? $0.payloadType : nil }
            guard let pt = c.staticPayloadType ?? current ?? nextDynamic() else { continue }
            formats.append(
                ResolvedFormat(
                    payloadType: pt, encoding: c.encoding, clockRate: c.clockRate, channels: c.channels, fmtp: c.fmtp))
        }
        if config.telephoneEvent {
            var clocks: [Int] = []
            for c in codecs where !clocks.contains(c.clockRate) { clocks.append(c.clockRate) }
            for (i, clock) in clocks.enumerated() {
                let current = media.flatMap { $0.codec.clockRate == clock ? $0.telephoneEventPayloadType : nil }
                guard let pt = current ?? (i == 0 ? config.preferredTelephoneEventPayloadType : nextDynamic()) else {
                    continue
                }
                formats.append(.telephoneEvent(pt, clockRate: clock))
            }
        }
        let address = media?.localRTP.address ?? config.address
        var sections = ""
        for (i, slot) in slots.enumerated() {
            sections +=
                i == audioSlot
                ? audioSection(proto: slot.proto, formats: formats, rtcpMux: config.rtcpMux, direction: direction)
                : Self.rejectedSection(slot)
        }
        localDirection = direction
        pending = PendingOffer(
            formats: formats, codecs: codecs, direction: direction, rtcpMux: config.rtcpMux, address: address,
            previousDirection: previousDirection)
        return stamp(address: address, sections: sections)
    }

    /// Forgets the pending offer (its request failed): the media and ``localDirection``
    /// stay as before it.
    public mutating func abandonOffer() {
        guard let pending else { return }
        localDirection = pending.previousDirection
        self.pending = nil
    }

    /// Applies the answer to our pending offer (RFC 3264 §5, §6): the same m-lines, the
    /// audio one not rejected, its codecs among those offered (the current codec if the
    /// answer lists it, else the answer's first one we offered, with the answer's payload
    /// type). Either way the exchange
    /// ends; on failure the media and ``localDirection`` stay as before the offer.
    public mutating func applyAnswer(_ text: String) throws(SDPNegotiationError) -> SDPMediaUpdate {
        guard let pending else { throw .noOfferPending }
        self.pending = nil
        let answer: SessionDescription
        let negotiated: NegotiatedMedia
        do throws(SDPNegotiationError) {
            do { answer = try SessionDescription(validating: text) } catch { throw .parse(error) }
            negotiated = try media(answering: pending, from: answer)
        } catch {
            localDirection = pending.previousDirection
            throw error
        }
        let changes = MediaChanges.between(media, negotiated)
        media = negotiated
        remoteDescription = answer
        return SDPMediaUpdate(media: negotiated, changes: changes)
    }

    /// The media an answer to `offer` sets up.
    private func media(answering offer: PendingOffer, from answer: SessionDescription) throws(SDPNegotiationError)
        -> NegotiatedMedia
    {
        guard answer.media.count == slots.count else {
            throw .answerMediaCountMismatch(offered: slots.count, answered: answer.media.count)
        }
        let m = answer.media[audioSlot]
        guard m.type.lowercased() == "audio", m.port != 0 else { throw .answerRejectedAudio(line: m.lineNumber) }
        // Safe: validation guarantees every m-line with a port has an address.
        let remoteAddress = m.connectionAddress!
        guard remoteAddress.isV6 == offer.address.isV6 else {
            throw .addressFamilyMismatch(line: m.lineNumber, remote: remoteAddress)
        }
        // The answer's formats: by its rtpmap, else as we offered the number, else static.
        let offered = Dictionary(offer.formats.map { ($0.payloadType, $0) }, uniquingKeysWith: { a, _ in a })
        let formats = m.formats.compactMap { f -> ResolvedFormat? in
            if f.encoding != nil, let r = ResolvedFormat(f) { return r }
            if var r = offered[f.payloadType] {
                r.fmtp = f.fmtp
                return r
            }
            return ResolvedFormat(f)
        }
        // The answer's first codec that we offered; the current one if it is among them,
        // so an answer to a hold re-offer does not switch codecs.
        var chosen: (ResolvedFormat, AudioCodecSpec)? = nil
        for f in formats where !f.isTelephoneEvent {
            guard let codec = offer.codecs.first(where: f.isCodec) else { continue }
            if codec == media?.codec {
                chosen = (f, codec)
                break
            }
            if chosen == nil { chosen = (f, codec) }
        }
        guard let (format, codec) = chosen else {
            throw .answerCodecNotOffered(line: m.lineNumber, answered: m.formats.map(\.summary))
        }
        var answered = answer.direction(of: m)
        if remoteAddress.isUnspecified { answered = answered.intersection(.sendonly) }
        let rtcpMux = offer.rtcpMux && m.rtcpMux
        let remote = Self.remoteEndpoints(m, address: remoteAddress, rtcpMux: rtcpMux)
        return NegotiatedMedia(
            mediaLineIndex: audioSlot, localRTP: Endpoint(address: offer.address, port: localPort),
            remoteRTP: remote.rtp, remoteRTCP: remote.rtcp, rtcpMux: rtcpMux, payloadType: format.payloadType,
            codec: codec, telephoneEventPayloadType: telephoneEvent(in: formats, clockRate: codec.clockRate),
            remotePtimeMilliseconds: m.ptimeMilliseconds, remoteMaxptimeMilliseconds: m.maxptimeMilliseconds,
            localPtimeMilliseconds: config.ptimeMilliseconds,
            direction: answered.reversed.intersection(offer.direction), fmtp: format.fmtp)
    }

    // MARK: - Writing

    /// The fmtp this side writes for telephone-events: DTMF 0–15 and flash (16).
    static let telephoneEventFmtp = "0-16"

    /// The audio m-line and its attributes.
    private func audioSection(proto: String, formats: [ResolvedFormat], rtcpMux: Bool, direction: MediaDirection)
        -> String
    {
        var s = "m=audio \(localPort) \(proto)"
        for f in formats { s += " \(f.payloadType)" }
        s += "\r\n"
        for f in formats {
            let channels = f.channels == 1 ? "" : "/\(f.channels)"
            s += "a=rtpmap:\(f.payloadType) \(f.encoding)/\(f.clockRate)\(channels)\r\n"
            if let fmtp = f.fmtp { s += "a=fmtp:\(f.payloadType) \(fmtp)\r\n" }
        }
        s += "a=ptime:\(config.ptimeMilliseconds)\r\n"
        s += "a=maxptime:\(config.maxptimeMilliseconds)\r\n"
        if rtcpMux { s += "a=rtcp-mux\r\n" }
        s += "a=\(direction)\r\n"
        return s
    }

    /// A rejected m-line: port 0, the transport and formats as offered (RFC 3264 §6).
    private static func rejectedSection(_ slot: MediaSlot) -> String {
        let formats = slot.formatTokens.isEmpty ? "0" : slot.formatTokens.joined(separator: " ")
        return "m=\(slot.type) 0 \(slot.proto) \(formats)\r\n"
    }

    /// The whole description: `v=`, `o=` with the version (incremented when the rest
    /// changed since the last local description), `s=`, `c=`, `t=`, then `sections`.
    private mutating func stamp(address: IPAddress, sections: String) -> String {
        let family = address.isV6 ? "IP6" : "IP4"
        let body = "s=\(Self.line(config.sessionName))\r\nc=IN \(family) \(address)\r\nt=0 0\r\n" + sections
        if let lastBody, lastBody != body {
            sessionVersion &+= 1  // Safe: wraps only after 2⁶⁴ descriptions.
        }
        lastBody = body
        let username = Self.token(config.username)
        let sdp = "v=0\r\no=\(username) \(sessionID) \(sessionVersion) IN \(family) \(address)\r\n" + body
        localDescription = sdp
        return sdp
    }

    /// `text` as one SDP token: blanks and controls become `-`; empty is `-`.
    private static func token(_ text: String) -> String {
        let t = String(
            text.map { $0.isWhitespace || ($0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false) ? "-" : $0 })
        return t.isEmpty ? "-" : t
    }

    /// `text` as one SDP line value: line breaks become spaces; empty is `-` (RFC 4566 §5.3).
    private static func line(_ text: String) -> String {
        let t = String(text.map { $0.isNewline ? " " : $0 })
        return t.isEmpty ? "-" : t
    }
}

/// One m-line of the session's layout.
struct MediaSlot: Equatable, Sendable {
    /// `audio`, `video`, …
    var type: String
    /// The transport.
    var proto: String
    /// The format tokens as offered (echoed when rejected).
    var formatTokens: [String]

    init(type: String, proto: String, formatTokens: [String]) {
        self.type = type
        self.proto = proto
        self.formatTokens = formatTokens
    }

    init(_ m: SDPMedia) { self.init(type: m.type, proto: m.proto, formatTokens: m.formatTokens) }
}

/// Our offer while it awaits the answer.
struct PendingOffer: Sendable {
    /// The audio formats offered, codecs and telephone-events.
    var formats: [ResolvedFormat]
    /// The codecs offered, in order.
    var codecs: [AudioCodecSpec]
    /// The direction offered.
    var direction: MediaDirection
    /// Whether `a=rtcp-mux` was offered.
    var rtcpMux: Bool
    /// The address offered.
    var address: IPAddress
    /// ``SDPSession/localDirection`` before the offer, restored if it fails.
    var previousDirection: MediaDirection
}

extension ResolvedFormat {
    /// Telephone-events with the given payload type and clock.
    static func telephoneEvent(_ payloadType: UInt8, clockRate: Int) -> ResolvedFormat {
        ResolvedFormat(
            payloadType: payloadType, encoding: AudioCodecSpec.telephoneEventEncoding, clockRate: clockRate,
            channels: 1,
            fmtp: SDPSession.telephoneEventFmtp)
    }
}

extension IPAddress {
    /// True for `0.0.0.0` and `::`, the addresses that say "no address" in SDP.
    var isUnspecified: Bool {
        switch self {
        case .v4(let a): return a == 0
        case .v6(let hi, let lo): return hi == 0 && lo == 0
        }
    }
}
