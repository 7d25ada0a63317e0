import Foundation
import SautiWire
import Testing

extension Fixtures {
    /// `audio-fixtures/sdp`: offers written for this project in the style of real endpoints.
    static let sdpDirectory = directory.appendingPathComponent("sdp")

    /// The text of one offer, e.g. `asterisk.sdp`.
    static func sdp(_ name: String) throws -> String {
        try String(contentsOf: sdpDirectory.appendingPathComponent(name), encoding: .utf8)
    }

    /// Every `.sdp` file of the folder, sorted.
    static func sdpNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: sdpDirectory.path).filter { $0.hasSuffix(".sdp") }.sorted()
    }
}

/// The addresses and ports the negotiation tests use for this side.
enum Local {
    static let v4 = IPAddress("192.0.2.1")!
    static let v6 = IPAddress("2001:db8::1")!
    static let port: UInt16 = 40000
    static let sessionID: UInt64 = 4242

    /// A dual-stack configuration with the defaults otherwise (PCMU, PCMA; events at 101).
    static func config(
        codecs: [AudioCodecSpec] = AudioCodecSpec.defaultPreference, order: SDPLocalConfig.CodecOrder = .local,
        v6: Bool = true
    ) -> SDPLocalConfig {
        SDPLocalConfig(address: v4, alternateAddress: v6 ? Local.v6 : nil, codecPreference: codecs, codecOrder: order)
    }

    /// A fresh session with `config`.
    static func session(_ config: SDPLocalConfig = Local.config()) -> SDPSession {
        SDPSession(config: config, localPort: port, sessionID: sessionID)
    }
}

/// An endpoint from text ("192.0.2.1:5004", "[2001:db8::1]:5004").
func endpoint(_ text: String) -> Endpoint {
    let i = text.lastIndex(of: ":")!
    let host = text[..<i].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    return Endpoint(address: IPAddress(host)!, port: UInt16(text[text.index(after: i)...])!)
}

/// The result of answering `offer`, as a value to compare.
func answering(_ session: inout SDPSession, _ offer: String) -> Result<SDPAnswer, SDPNegotiationError> {
    do throws(SDPNegotiationError) { return .success(try session.answer(toOffer: offer)) } catch {
        return .failure(error)
    }
}

/// The result of applying `answer`, as a value to compare.
func applying(_ session: inout SDPSession, _ answer: String) -> Result<SDPMediaUpdate, SDPNegotiationError> {
    do throws(SDPNegotiationError) { return .success(try session.applyAnswer(answer)) } catch {
        return .failure(error)
    }
}

/// The error of a failed result, nil on success.
func failure<T>(_ result: Result<T, SDPNegotiationError>) -> SDPNegotiationError? {
    if case .failure(let e) = result { return e }
    return nil
}

/// The lines of an SDP body, without line ends.
func sdpLines(_ text: String) -> [String] {
    text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }).map(String.init)
}

/// Checks what RFC 3264 §6 requires of `answer` to `offerText`, written by `session`:
/// it validates as SDP; CRLF line ends; v=0, o= with our user, session id and version,
/// s=, c= and t=0 0; the same m-lines in the same order with the same transports; port 0
/// exactly for rejected ones, with the offered formats echoed; for the accepted one our
/// port, exactly the chosen codec and telephone-event with the offerer's payload types
/// and an rtpmap each, a=ptime, a=rtcp-mux when both sides have it, and the direction
/// the media says we take.
func expectRFC3264Answer(
    _ answer: SDPAnswer, to offerText: String, by session: SDPSession, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let offer = try SessionDescription(validating: offerText)
    let parsed = try #require(
        try? SessionDescription(validating: answer.sdp), "the answer is not valid SDP", sourceLocation: sourceLocation)
    #expect(
        answer.sdp.hasSuffix("\r\n") && !answer.sdp.replacing("\r\n", with: "").contains("\n"),
        "CRLF line ends", sourceLocation: sourceLocation)
    let lines = sdpLines(answer.sdp)
    let family = answer.media.localRTP.address.isV6 ? "IP6" : "IP4"
    let local = answer.media.localRTP.address
    #expect(lines.first == "v=0", sourceLocation: sourceLocation)
    #expect(
        lines.dropFirst().first
            == "o=\(session.config.username) \(session.sessionID) \(session.sessionVersion) IN \(family) \(local)",
        sourceLocation: sourceLocation)
    #expect(lines.contains("c=IN \(family) \(local)") && lines.contains("t=0 0"), sourceLocation: sourceLocation)
    #expect(parsed.origin?.sessionID == String(session.sessionID), sourceLocation: sourceLocation)
    #expect(parsed.media.count == offer.media.count, "same number of m-lines", sourceLocation: sourceLocation)
    #expect(answer.streams.count == offer.media.count, sourceLocation: sourceLocation)
    for (i, (o, a)) in zip(offer.media, parsed.media).enumerated() {
        #expect(a.type == o.type && a.proto == o.proto, "m-line \(i) in order", sourceLocation: sourceLocation)
        guard i == answer.media.mediaLineIndex else {
            #expect(a.port == 0, "rejected m-line \(i) has port 0", sourceLocation: sourceLocation)
            #expect(a.formatTokens == o.formatTokens, "offered formats echoed", sourceLocation: sourceLocation)
            #expect(answer.streams[i] != .accepted, sourceLocation: sourceLocation)
            continue
        }
        #expect(answer.streams[i] == .accepted, sourceLocation: sourceLocation)
        #expect(a.port == session.localPort, sourceLocation: sourceLocation)
        let n = answer.media
        let expectedTypes = [n.payloadType] + (n.telephoneEventPayloadType.map { [$0] } ?? [])
        #expect(a.formats.map(\.payloadType) == expectedTypes, sourceLocation: sourceLocation)
        #expect(
            Set(expectedTypes).isSubset(of: o.formats.map(\.payloadType)), "offerer's numbers",
            sourceLocation: sourceLocation)
        #expect(a.formats.allSatisfy { $0.encoding != nil }, "an rtpmap for each", sourceLocation: sourceLocation)
        #expect(
            a.formats.first?.encoding?.lowercased() == n.codec.encoding.lowercased(), sourceLocation: sourceLocation)
        #expect(a.formats.first?.clockRate == n.codec.clockRate, sourceLocation: sourceLocation)
        if n.telephoneEventPayloadType != nil {
            #expect(a.formats.last?.encoding == "telephone-event", sourceLocation: sourceLocation)
            #expect(a.formats.last?.clockRate == n.codec.clockRate, sourceLocation: sourceLocation)
        }
        #expect(a.ptimeMilliseconds == session.config.ptimeMilliseconds, sourceLocation: sourceLocation)
        #expect(a.rtcpMux == (o.rtcpMux && session.config.rtcpMux), sourceLocation: sourceLocation)
        #expect(a.rtcpMux == n.rtcpMux, sourceLocation: sourceLocation)
        #expect(a.direction == n.direction, "the direction written is the one taken", sourceLocation: sourceLocation)
        var offered = offer.direction(of: o)
        if o.connectionAddress == IPAddress("0.0.0.0") || o.connectionAddress == IPAddress("::") {
            offered = offered.intersection(.sendonly)
        }
        #expect(n.direction == offered.reversed.intersection(session.localDirection), sourceLocation: sourceLocation)
    }
}
