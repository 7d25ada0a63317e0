import SautiWire
import Testing

/// Offers for outbound legs and for hold/unhold, and applying the answers to them.
@Suite struct SDPOfferTests {
    @Test("the exact offer of an outbound leg")
    func outboundOffer() {
        var session = Local.session()
        let offer = session.offer()
        #expect(
            offer == """
                v=0\r
                o=- 4242 1 IN IP4 192.0.2.1\r
                s=sautikit\r
                c=IN IP4 192.0.2.1\r
                t=0 0\r
                m=audio 40000 RTP/AVP 0 8 101\r
                a=rtpmap:0 PCMU/8000\r
                a=rtpmap:8 PCMA/8000\r
                a=rtpmap:101 telephone-event/8000\r
                a=fmtp:101 0-16\r
                a=ptime:20\r
                a=maxptime:60\r
                a=rtcp-mux\r
                a=sendrecv\r

                """)
        #expect(session.hasPendingOffer && session.localDirection == .sendrecv)
        #expect((try? SessionDescription(validating: offer)) != nil)
    }

    /// An answer as an Asterisk would write it to our offer.
    static let asteriskAnswer = """
        v=0\r
        o=- 1938742800 1938742800 IN IP4 203.0.113.5\r
        s=Asterisk\r
        c=IN IP4 203.0.113.5\r
        t=0 0\r
        m=audio 18020 RTP/AVP 8 101\r
        a=rtpmap:8 PCMA/8000\r
        a=rtpmap:101 telephone-event/8000\r
        a=fmtp:101 0-16\r
        a=ptime:20\r
        a=maxptime:150\r
        a=sendrecv\r

        """

    @Test("applying an answer: its codec, our payload types, no rtcp-mux unless answered")
    func applyAnswer() throws {
        var session = Local.session()
        _ = session.offer()
        let update = try applying(&session, Self.asteriskAnswer).get()
        let m = update.media
        #expect(m.codec == .pcma && m.payloadType == 8 && m.telephoneEventPayloadType == 101)
        #expect(m.remoteRTP == endpoint("203.0.113.5:18020") && m.remoteRTCP == endpoint("203.0.113.5:18021"))
        #expect(!m.rtcpMux && m.direction == .sendrecv && m.remoteMaxptimeMilliseconds == 150)
        #expect(m.localRTP == endpoint("192.0.2.1:40000") && m.mediaLineIndex == 0)
        #expect(update.changes == .all && !session.hasPendingOffer && session.media == m)
        // With rtcp-mux answered, RTCP shares the RTP port.
        var muxed = Local.session()
        _ = muxed.offer()
        let mux = try applying(&muxed, Self.asteriskAnswer.replacing("a=sendrecv", with: "a=sendrecv\r\na=rtcp-mux"))
            .get()
        #expect(mux.media.rtcpMux && mux.media.remoteRTCP == mux.media.remoteRTP)
    }

    @Test("an answer without rtpmaps resolves by our offer; renumbered events are taken as answered")
    func answerFormats() throws {
        var session = Local.session()
        _ = session.offer()
        let bare = Self.asteriskAnswer.replacing("m=audio 18020 RTP/AVP 8 101", with: "m=audio 18020 RTP/AVP 0 101")
            .replacing("a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n", with: "")
        let m = try applying(&session, bare).get().media
        #expect(m.codec == .pcmu && m.payloadType == 0 && m.telephoneEventPayloadType == 101)

        var other = Local.session()
        _ = other.offer()
        let renumbered = Self.asteriskAnswer.replacing("101", with: "118")
        #expect(try applying(&other, renumbered).get().media.telephoneEventPayloadType == 118)
    }

    @Test("Opus in the table: dynamic payload types and events at both clocks")
    func opusOffer() throws {
        var session = Local.session(Local.config(codecs: [.opus, .pcmu, .pcma]))
        let offer = session.offer()
        let lines = sdpLines(offer)
        #expect(lines.contains("m=audio 40000 RTP/AVP 96 0 8 101 97"))
        #expect(lines.contains("a=rtpmap:96 opus/48000/2") && lines.contains("a=fmtp:96 minptime=10;useinbandfec=1"))
        #expect(
            lines.contains("a=rtpmap:101 telephone-event/48000") && lines.contains("a=rtpmap:97 telephone-event/8000"))
        // FreeSWITCH answers PCMU with the 8 kHz events.
        let answer = """
            v=0
            o=FreeSWITCH 1714380100 1714380101 IN IP4 198.51.100.20
            s=FreeSWITCH
            c=IN IP4 198.51.100.20
            t=0 0
            m=audio 24500 RTP/AVP 0 97
            a=rtpmap:0 PCMU/8000
            a=rtpmap:97 telephone-event/8000
            a=fmtp:97 0-16
            a=ptime:20
            a=sendrecv
            a=rtcp:24501 IN IP4 198.51.100.20

            """
        let m = try applying(&session, answer).get().media
        #expect(m.codec == .pcmu && m.telephoneEventPayloadType == 97)
        #expect(m.remoteRTCP == endpoint("198.51.100.20:24501"))
    }

    @Test("hold and unhold of an outbound leg: version grows, codec and port stay first")
    func holdUnhold() throws {
        var session = Local.session()
        let first = session.offer()
        let established = try applying(&session, Self.asteriskAnswer).get().media

        let hold = session.offer(direction: .sendonly)
        #expect(session.sessionVersion == 2 && session.localDirection == .sendonly)
        #expect(sdpLines(hold).contains("o=- 4242 2 IN IP4 192.0.2.1") && sdpLines(hold).contains("a=sendonly"))
        // The current codec is offered first, with its payload type.
        #expect(sdpLines(hold).contains("m=audio 40000 RTP/AVP 8 0 101"))
        let held = try applying(&session, Self.asteriskAnswer.replacing("a=sendrecv", with: "a=recvonly")).get()
        #expect(held.media.direction == .sendonly && held.changes == [.direction])
        // An answer that ignores our hold still leaves us only sending.
        _ = session.offer(direction: .sendonly)
        #expect(try applying(&session, Self.asteriskAnswer).get().media.direction == .sendonly)

        let unhold = session.offer()
        #expect(sdpLines(unhold).contains("a=sendrecv") && session.sessionVersion == 3)
        let resumed = try applying(&session, Self.asteriskAnswer).get()
        #expect(resumed.media == established && resumed.changes == [.direction])
        #expect(first != unhold)
    }

    @Test("our re-offer after answering keeps every m-line of the session")
    func reofferLayout() throws {
        var session = Local.session()
        let offer = try Fixtures.sdp("grandstream-gvc-video.sdp")
        _ = try answering(&session, offer).get()
        let hold = session.offer(direction: .sendonly)
        let mLines = sdpLines(hold).filter { $0.hasPrefix("m=") }
        #expect(mLines == ["m=audio 40000 RTP/AVP 0 8 101", "m=video 0 RTP/AVP 99 121", "m=application 0 UDP/BFCP *"])
        // The phone answers with the same three lines.
        let answer = """
            v=0
            o=GVC3210 8000 8001 IN IP4 192.168.3.19
            s=SIP Call
            c=IN IP4 192.168.3.19
            t=0 0
            m=audio 5004 RTP/AVP 0 101
            a=rtpmap:0 PCMU/8000
            a=rtpmap:101 telephone-event/8000
            a=ptime:20
            a=recvonly
            m=video 0 RTP/AVP 99
            m=application 0 UDP/BFCP *

            """
        let update = try applying(&session, answer).get()
        #expect(update.media.direction == .sendonly && update.changes == [.direction])
        #expect(update.media.mediaLineIndex == 0)
    }

    @Test("an IPv6 leg re-offers from its IPv6 address")
    func ipv6Reoffer() throws {
        var session = Local.session()
        _ = try answering(&session, try Fixtures.sdp("snom-ipv6.sdp")).get()
        let hold = session.offer(direction: .sendonly)
        #expect(
            sdpLines(hold).contains("o=- 4242 2 IN IP6 2001:db8::1") && sdpLines(hold).contains("c=IN IP6 2001:db8::1"))
    }

    /// Answers to our offer that cannot be applied, and the error each must raise.
    static let badAnswers: [(String, String, SDPNegotiationError)] = [
        (
            "two m-lines for one", asteriskAnswer + "m=video 0 RTP/AVP 96\r\n",
            .answerMediaCountMismatch(offered: 1, answered: 2)
        ),
        ("audio rejected", asteriskAnswer.replacing("m=audio 18020", with: "m=audio 0"), .answerRejectedAudio(line: 6)),
        ("video in audio's place", asteriskAnswer.replacing("m=audio", with: "m=video"), .answerRejectedAudio(line: 6)),
        (
            "a codec we did not offer",
            asteriskAnswer.replacing("RTP/AVP 8 101", with: "RTP/AVP 18 101").replacing(
                "a=rtpmap:8 PCMA/8000", with: "a=rtpmap:18 G729/8000"),
            .answerCodecNotOffered(line: 6, answered: ["18 G729/8000", "101 telephone-event/8000"])
        ),
        (
            "IPv6 to our IPv4 offer", asteriskAnswer.replacing("c=IN IP4 203.0.113.5", with: "c=IN IP6 2001:db8::77"),
            .addressFamilyMismatch(line: 6, remote: IPAddress("2001:db8::77")!)
        ),
        ("not SDP", "200 OK", .parse(.malformedLine(line: 1, text: "200 OK"))),
    ]

    @Test("answers that cannot be applied leave the leg as it was", arguments: badAnswers)
    func badAnswer(_ name: String, _ text: String, _ expected: SDPNegotiationError) throws {
        var session = Local.session()
        _ = session.offer()
        let established = try applying(&session, Self.asteriskAnswer).get().media
        _ = session.offer(direction: .sendonly)
        #expect(failure(applying(&session, text)) == expected, "\(name)")
        #expect(session.media == established && session.localDirection == .sendrecv && !session.hasPendingOffer)
    }

    @Test("offer/answer state: no answer without an offer, glare, abandoning an offer")
    func state() throws {
        var session = Local.session()
        #expect(failure(applying(&session, Self.asteriskAnswer)) == .noOfferPending)
        _ = session.offer(direction: .sendonly)
        // Their offer crosses ours: 491.
        let glare = answering(&session, try Fixtures.sdp("asterisk.sdp"))
        #expect(failure(glare) == .offerPending && failure(glare)?.sipWarningCode == nil)
        // Our request failed: the offer is forgotten and so is its hold.
        session.abandonOffer()
        #expect(!session.hasPendingOffer && session.localDirection == .sendrecv)
        let answer = try answering(&session, try Fixtures.sdp("asterisk.sdp")).get()
        #expect(answer.media.direction == .sendrecv)
        // The answer's version follows the abandoned offer's (a new description, version 2).
        #expect(session.sessionVersion == 2)
    }

    @Test("names that are not SDP tokens are made safe")
    func names() throws {
        var config = Local.config()
        config.username = "Sauti Kit"
        config.sessionName = "line\r\nbreak"
        var session = Local.session(config)
        let offer = session.offer()
        #expect(sdpLines(offer)[1] == "o=Sauti-Kit 4242 1 IN IP4 192.0.2.1" && sdpLines(offer)[2] == "s=line break")
        #expect((try? SessionDescription(validating: offer)) != nil)
    }
}
