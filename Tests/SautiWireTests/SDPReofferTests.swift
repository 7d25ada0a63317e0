import SautiWire
import Testing

/// Re-offers to a live leg (RFC 3264 §8): hold and unhold, a new remote address, a codec
/// change, session refreshes; the leg keeps its session id, port and stream throughout,
/// and a refused re-offer changes nothing.
@Suite struct SDPReofferTests {
    /// A leg answered with `file`.
    static func liveLeg(_ file: String, _ config: SDPLocalConfig = Local.config()) throws -> (SDPSession, SDPAnswer) {
        var session = Local.session(config)
        let answer = try answering(&session, try Fixtures.sdp(file)).get()
        return (session, answer)
    }

    @Test("hold with a=sendonly, then unhold")
    func holdUnhold() throws {
        var (session, first) = try Self.liveLeg("yealink-t46.sdp")
        #expect(first.media.direction == .sendrecv && session.sessionVersion == 1)

        let holdOffer = try Fixtures.sdp("yealink-t46-hold.sdp")
        let hold = try answering(&session, holdOffer).get()
        #expect(hold.media.direction == .recvonly)
        #expect(hold.changes == [.direction])
        #expect(sdpLines(hold.sdp).contains("a=recvonly"))
        #expect(hold.media.remoteRTP == first.media.remoteRTP && hold.media.codec == .pcmu)
        #expect(session.sessionVersion == 2 && session.sessionID == Local.sessionID)
        try expectRFC3264Answer(hold, to: holdOffer, by: session)

        let unholdOffer = holdOffer.replacing("a=sendonly", with: "a=sendrecv").replacing(
            "20010 20011", with: "20010 20012")
        let unhold = try answering(&session, unholdOffer).get()
        #expect(unhold.media == first.media)
        #expect(unhold.changes == [.direction])
        #expect(session.sessionVersion == 3)
        try expectRFC3264Answer(unhold, to: unholdOffer, by: session)
    }

    @Test("hold with a=inactive, and the old way with c=0.0.0.0")
    func otherHolds() throws {
        var (session, _) = try Self.liveLeg("yealink-t46.sdp")
        let inactive = try Fixtures.sdp("yealink-t46-hold.sdp").replacing("a=sendonly", with: "a=inactive")
        let held = try answering(&session, inactive).get()
        #expect(held.media.direction == .inactive && sdpLines(held.sdp).contains("a=inactive"))

        // The legacy phone's own call: answered, then held with c=0.0.0.0, then resumed.
        let legacyHold = try Fixtures.sdp("legacy-hold-c0.sdp")
        let legacyCall = legacyHold.replacing("c=IN IP4 0.0.0.0", with: "c=IN IP4 192.0.2.77").replacing(
            "4131 4132", with: "4131 4131")
        var legacy = Local.session()
        let call = try answering(&legacy, legacyCall).get()
        #expect(call.media.remoteRTP == endpoint("192.0.2.77:16384") && call.media.direction == .sendrecv)
        let hold = try answering(&legacy, legacyHold).get()
        #expect(hold.media.remoteRTP == nil && hold.media.remoteRTCP == nil && hold.media.direction == .recvonly)
        #expect(hold.changes == [.remoteAddress, .direction])
        #expect(sdpLines(hold.sdp).contains("a=recvonly") && sdpLines(hold.sdp).contains("c=IN IP4 192.0.2.1"))
        let resume = try answering(&legacy, legacyCall.replacing("4131 4131", with: "4131 4133")).get()
        #expect(resume.media == call.media && resume.changes == [.remoteAddress, .direction])
        #expect(legacy.sessionVersion == 3)
    }

    @Test("a session refresh with the same SDP keeps the version and changes nothing")
    func refresh() throws {
        var (session, first) = try Self.liveLeg("asterisk.sdp")
        let again = try answering(&session, try Fixtures.sdp("asterisk.sdp")).get()
        #expect(again.sdp == first.sdp && again.changes.isEmpty && session.sessionVersion == 1)
    }

    @Test("a new remote address moves the stream, nothing else")
    func newAddress() throws {
        var (session, first) = try Self.liveLeg("asterisk.sdp")
        let moved = try Fixtures.sdp("asterisk.sdp").replacing("c=IN IP4 203.0.113.5", with: "c=IN IP4 203.0.113.9")
            .replacing("m=audio 17046", with: "m=audio 17100").replacing(
                "1938742711 1938742711", with: "1938742711 1938742712")
        let answer = try answering(&session, moved).get()
        #expect(answer.changes == [.remoteAddress])
        #expect(answer.media.remoteRTP == endpoint("203.0.113.9:17100"))
        #expect(answer.media.remoteRTCP == endpoint("203.0.113.9:17101"))
        #expect(answer.media.codec == first.media.codec && answer.media.localRTP == first.media.localRTP)
        // Our description did not change, so neither does its version (RFC 3264 §8).
        #expect(answer.sdp == first.sdp && session.sessionVersion == 1)
        try expectRFC3264Answer(answer, to: moved, by: session)
    }

    @Test("the codec stays while still offered, even when no longer first; else it changes")
    func codecChange() throws {
        var (session, first) = try Self.liveLeg("asterisk.sdp", Local.config(order: .offerer))
        #expect(first.media.codec == .pcma)
        // PCMU now first: we keep PCMA (RFC 3264 §8.3.2), though the offerer's order would pick PCMU.
        let reordered = try Fixtures.sdp("asterisk.sdp").replacing("RTP/AVP 8 0 9 101", with: "RTP/AVP 0 8 9 101")
        let kept = try answering(&session, reordered).get()
        #expect(kept.media.codec == .pcma && kept.changes.isEmpty)
        // PCMA gone: PCMU, a codec change on the same leg.
        let pcmuOnly = try Fixtures.sdp("asterisk.sdp").replacing("RTP/AVP 8 0 9 101", with: "RTP/AVP 0 101")
        let changed = try answering(&session, pcmuOnly).get()
        #expect(changed.media.codec == .pcmu && changed.media.payloadType == 0)
        #expect(changed.changes == [.codec])
        #expect(sdpLines(changed.sdp).contains("m=audio 40000 RTP/AVP 0 101"))
        #expect(session.sessionVersion == 2 && changed.media.localRTP == first.media.localRTP)
        try expectRFC3264Answer(changed, to: pcmuOnly, by: session)
        // Events renumbered by the remote: only the event payload type changes.
        let renumbered = pcmuOnly.replacing("101", with: "96")
        let events = try answering(&session, renumbered).get()
        #expect(events.changes == [.telephoneEvent] && events.media.telephoneEventPayloadType == 96)
    }

    @Test("a refused re-offer leaves the live leg as it was")
    func refusedReoffer() throws {
        var (session, first) = try Self.liveLeg("yealink-t46.sdp")
        let g729 = try Fixtures.sdp("yealink-g729-only.sdp")
        #expect(
            failure(answering(&session, g729))
                == .noCommonCodec(line: 6, offered: ["18 G729/8000", "97 iLBC/8000", "101 telephone-event/8000"]))
        #expect(failure(answering(&session, "garbage")) == .parse(.malformedLine(line: 1, text: "garbage")))
        #expect(session.media == first.media && session.sessionVersion == 1 && session.localDescription == first.sdp)
        // The leg goes on: the next re-offer is answered.
        let hold = try answering(&session, try Fixtures.sdp("yealink-t46-hold.sdp")).get()
        #expect(hold.media.direction == .recvonly && hold.changes == [.direction])
    }

    @Test("a re-offer may not drop m-lines; the accepted one stays where it is")
    func mLineLayout() throws {
        var (session, _) = try Self.liveLeg("grandstream-gvc-video.sdp")
        let video = try Fixtures.sdp("grandstream-gvc-video.sdp")
        let audioOnly = String(video[..<video.range(of: "m=video")!.lowerBound])
        #expect(failure(answering(&session, audioOnly)) == .fewerMediaLines(previous: 3, offered: 1))
        #expect(failure(answering(&session, audioOnly))?.sipWarningCode == 399)
        // Video disabled by the offerer now, one more audio line after it: ours stays at index 0.
        let reoffer = video.replacing("m=video 5006", with: "m=video 0") + "m=audio 5010 RTP/AVP 0\r\n"
        let answer = try answering(&session, reoffer).get()
        #expect(answer.media.mediaLineIndex == 0 && answer.changes.isEmpty)
        #expect(
            answer.streams == [
                .accepted, .rejected(.disabledByOfferer), .rejected(.unsupportedMediaType("application")),
                .rejected(.additionalAudioStream),
            ])
        try expectRFC3264Answer(answer, to: reoffer, by: session)
    }

    @Test("the remote holds while we hold: our answer stays within our hold")
    func bothHold() throws {
        var (session, _) = try Self.liveLeg("asterisk.sdp")
        // We hold (outbound re-offer), the remote accepts.
        let ourHold = session.offer(direction: .sendonly)
        #expect(sdpLines(ourHold).contains("a=sendonly"))
        let accepted = try applying(
            &session, try Fixtures.sdp("asterisk.sdp").replacing("a=sendrecv", with: "a=recvonly")
        ).get()
        // The answer lists PCMA first (Asterisk's order), but the current PCMU is kept.
        #expect(accepted.media.direction == .sendonly && accepted.changes == [.direction])
        #expect(accepted.media.codec == .pcmu && accepted.media.payloadType == 0)
        // The remote re-offers sendrecv (a refresh): we still only send.
        let refresh = try answering(&session, try Fixtures.sdp("asterisk.sdp")).get()
        #expect(refresh.media.direction == .sendonly && sdpLines(refresh.sdp).contains("a=sendonly"))
        // The remote holds too: nobody sends.
        let both = try answering(&session, try Fixtures.sdp("asterisk.sdp").replacing("a=sendrecv", with: "a=sendonly"))
            .get()
        #expect(both.media.direction == .inactive && sdpLines(both.sdp).contains("a=inactive"))
    }
}
