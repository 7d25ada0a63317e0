import SautiWire
import Testing

/// Offers with missing, repeated or absurd fields, and the edge cases of format choice:
/// each bad body gets the error that names the line and the reason.
@Suite struct SDPValidationTests {
    /// A valid minimal offer, to break one line at a time.
    static let base = """
        v=0
        o=- 1 1 IN IP4 192.0.2.50
        s=-
        c=IN IP4 192.0.2.50
        t=0 0
        m=audio 5004 RTP/AVP 0 8 101
        a=rtpmap:101 telephone-event/8000
        a=sendrecv

        """

    /// `base` with `old` replaced by `new`.
    static func base(_ old: String, _ new: String) -> String {
        precondition(base.contains(old), old)
        return base.replacing(old, with: new)
    }

    /// Bodies whose SDP is wrong, and the parse error each must raise.
    static let badBodies: [(String, String, SDPParseError)] = [
        ("no v=", base("v=0\n", ""), .missingLine(type: "v")),
        (
            "v= not first", base("v=0\no=- 1 1 IN IP4 192.0.2.50\n", "o=- 1 1 IN IP4 192.0.2.50\nv=0\n"),
            .misplacedLine(line: 2, text: "v=0")
        ),
        ("v=1", base("v=0", "v=1"), .unsupportedVersion(line: 1, text: "v=1")),
        ("repeated v=", base("s=-\n", "s=-\nv=0\n"), .repeatedLine(line: 4, text: "v=0")),
        ("s= after m=", base("a=sendrecv", "s=late"), .misplacedLine(line: 8, text: "s=late")),
        ("no o=", base("o=- 1 1 IN IP4 192.0.2.50\n", ""), .missingLine(type: "o")),
        ("no s=", base("s=-\n", ""), .missingLine(type: "s")),
        ("no t=", base("t=0 0\n", ""), .missingLine(type: "t")),
        (
            "repeated o=", base("s=-\n", "s=-\no=- 2 2 IN IP4 192.0.2.50\n"),
            .repeatedLine(line: 4, text: "o=- 2 2 IN IP4 192.0.2.50")
        ),
        ("repeated s=", base("s=-\n", "s=-\ns=again\n"), .repeatedLine(line: 4, text: "s=again")),
        ("t= after m=", base("a=sendrecv\n", "a=sendrecv\nt=0 0\n"), .misplacedLine(line: 9, text: "t=0 0")),
        ("o= with letters", base("o=- 1 1", "o=- one 1"), .badOrigin(line: 2, text: "o=- one 1 IN IP4 192.0.2.50")),
        ("o= short", base("o=- 1 1 IN IP4 192.0.2.50", "o=- 1 1 IN IP4"), .badOrigin(line: 2, text: "o=- 1 1 IN IP4")),
        (
            "repeated session c=", base("t=0 0\n", "c=IN IP4 192.0.2.51\nt=0 0\n"),
            .repeatedLine(line: 5, text: "c=IN IP4 192.0.2.51")
        ),
        (
            "repeated media c=", base("a=sendrecv\n", "c=IN IP4 192.0.2.52\nc=IN IP4 192.0.2.53\n"),
            .repeatedLine(line: 9, text: "c=IN IP4 192.0.2.53")
        ),
        (
            "c= host name", base("c=IN IP4 192.0.2.50", "c=IN IP4 pbx.example.com"),
            .badConnection(line: 4, text: "c=IN IP4 pbx.example.com")
        ),
        (
            "c= family mismatch", base("c=IN IP4 192.0.2.50", "c=IN IP6 192.0.2.50"),
            .badConnection(line: 4, text: "c=IN IP6 192.0.2.50")
        ),
        ("c= without address", base("c=IN IP4 192.0.2.50", "c=IN IP4"), .badConnection(line: 4, text: "c=IN IP4")),
        ("no c= anywhere", base("c=IN IP4 192.0.2.50\n", ""), .missingConnection(line: 5)),
        (
            "port 70000", base("m=audio 5004", "m=audio 70000"),
            .badMediaLine(line: 6, text: "m=audio 70000 RTP/AVP 0 8 101")
        ),
        ("port -1", base("m=audio 5004", "m=audio -1"), .badMediaLine(line: 6, text: "m=audio -1 RTP/AVP 0 8 101")),
        (
            "port count not a number", base("m=audio 5004", "m=audio 5004/x"),
            .badMediaLine(line: 6, text: "m=audio 5004/x RTP/AVP 0 8 101")
        ),
        (
            "no formats", base("m=audio 5004 RTP/AVP 0 8 101", "m=audio 5004 RTP/AVP"),
            .badMediaLine(line: 6, text: "m=audio 5004 RTP/AVP")
        ),
        ("payload type 200", base("0 8 101", "0 200"), .badMediaLine(line: 6, text: "m=audio 5004 RTP/AVP 0 200")),
        (
            "rtpmap without clock", base("telephone-event/8000", "telephone-event"),
            .badAttribute(line: 7, text: "a=rtpmap:101 telephone-event")
        ),
        (
            "rtpmap with clock 0", base("telephone-event/8000", "telephone-event/0"),
            .badAttribute(line: 7, text: "a=rtpmap:101 telephone-event/0")
        ),
        (
            "repeated rtpmap", base("a=sendrecv", "a=rtpmap:101 telephone-event/16000\na=sendrecv"),
            .repeatedAttribute(line: 8, text: "a=rtpmap:101 telephone-event/16000")
        ),
        ("ptime not a number", base("a=sendrecv", "a=ptime:twenty"), .badAttribute(line: 8, text: "a=ptime:twenty")),
        ("ptime 0", base("a=sendrecv", "a=ptime:0"), .badAttribute(line: 8, text: "a=ptime:0")),
        (
            "repeated ptime", base("a=sendrecv", "a=ptime:20\na=ptime:30"),
            .repeatedAttribute(line: 9, text: "a=ptime:30")
        ),
        (
            "repeated maxptime", base("a=sendrecv", "a=maxptime:60\na=maxptime:40"),
            .repeatedAttribute(line: 9, text: "a=maxptime:40")
        ),
        (
            "two directions", base("a=sendrecv", "a=sendrecv\na=sendonly"),
            .repeatedAttribute(line: 9, text: "a=sendonly")
        ),
        (
            "two session directions", base("t=0 0\n", "t=0 0\na=sendonly\na=inactive\n"),
            .repeatedAttribute(line: 7, text: "a=inactive")
        ),
        ("rtcp port 70000", base("a=sendrecv", "a=rtcp:70000"), .badAttribute(line: 8, text: "a=rtcp:70000")),
        ("rtcp port 0", base("a=sendrecv", "a=rtcp:0"), .badAttribute(line: 8, text: "a=rtcp:0")),
        (
            "rtcp bad address", base("a=sendrecv", "a=rtcp:5005 IN IP4 nowhere"),
            .badAttribute(line: 8, text: "a=rtcp:5005 IN IP4 nowhere")
        ),
        ("not SDP", "this is not sdp\n", .malformedLine(line: 1, text: "this is not sdp")),
        ("upper-case type", base("v=0", "V=0"), .malformedLine(line: 1, text: "V=0")),
        ("no m=", String(base.prefix { $0 != "m" }), .noMedia),
        ("empty", "", .missingLine(type: "v")),
    ]

    @Test("bad SDP is refused with the line and the reason", arguments: badBodies)
    func badSDP(_ name: String, _ text: String, _ expected: SDPParseError) {
        var session = Local.session()
        #expect(failure(answering(&session, text)) == .parse(expected), "\(name)")
        #expect(failure(answering(&session, text))?.sipWarningCode == 399)
        #expect(session.media == nil && session.localDescription == nil)
    }

    @Test("error descriptions say what and where")
    func descriptions() {
        #expect(
            SDPParseError.missingLine(type: "o").description
                == "SDP has no o= line (RFC 4566 §5 requires v=, o=, s= and t=)")
        #expect(
            SDPNegotiationError.parse(.repeatedLine(line: 5, text: "c=IN IP4 192.0.2.51")).description
                == "SDP line 5: 'c=IN IP4 192.0.2.51' repeats a line allowed once")
        #expect(SDPParseError.missingConnection(line: 6).description.contains("line 6"))
        #expect(
            SDPNegotiationError.noAudio(offeredMedia: ["video"]).description
                == "the offer has no audio stream (it offers video)")
    }

    @Test("bodies over 64 KiB are refused before parsing")
    func tooLarge() {
        let padding = String(repeating: "a=x-padding:" + String(repeating: "z", count: 100) + "\r\n", count: 700)
        let text = Self.base + padding
        var session = Local.session()
        #expect(failure(answering(&session, text)) == .parse(.tooLarge(sizeBytes: text.utf8.count, limitBytes: 65_536)))
        #expect(throws: SDPParseError.tooLarge(sizeBytes: text.utf8.count, limitBytes: 65_536)) {
            try SessionDescription(parsing: text)
        }
        // One long line is fine while the body stays under the limit.
        let long = Self.base + "a=x-long:" + String(repeating: "y", count: 60_000) + "\n"
        #expect((try? answering(&session, long).get()) != nil)
    }

    /// Offers that are valid SDP but leave nothing this engine can carry.
    static let unanswerable: [(String, String, SDPNegotiationError)] = [
        (
            "only video", base("m=audio 5004 RTP/AVP 0 8 101", "m=video 5004 RTP/AVP 96"),
            .noAudio(offeredMedia: ["video"])
        ),
        ("audio disabled", base("m=audio 5004", "m=audio 0"), .audioDisabled(line: 6)),
        (
            "dynamic type without rtpmap", base("0 8 101", "96 101"),
            .noCommonCodec(line: 6, offered: ["96 (no rtpmap)", "101 telephone-event/8000"])
        ),
        (
            "unknown encoding at a static number's place", base("0 8 101", "3 101"),
            .noCommonCodec(line: 6, offered: ["3 GSM/8000", "101 telephone-event/8000"])
        ),
        (
            "PCMU at the wrong clock", base("0 8 101", "0 101").replacing("a=sendrecv", with: "a=rtpmap:0 PCMU/16000"),
            .noCommonCodec(line: 6, offered: ["0 PCMU/16000", "101 telephone-event/8000"])
        ),
        (
            "TCP transport", base("RTP/AVP", "TCP/RTP/AVP"),
            .unsupportedTransport(
                line: 6, proto: "TCP/RTP/AVP",
                reason: "TCP/RTP/AVP is not a transport this engine speaks (RTP/AVP or RTP/AVPF over UDP)")
        ),
        (
            "SAVPF with DTLS, no ICE",
            base("RTP/AVP", "RTP/SAVPF").replacing("a=sendrecv", with: "a=fingerprint:sha-256 AB:CD"),
            .unsupportedTransport(
                line: 6, proto: "RTP/SAVPF",
                reason: "RTP/SAVPF with a=fingerprint needs DTLS-SRTP, which this engine does not do")
        ),
    ]

    @Test("valid offers with nothing to carry", arguments: unanswerable)
    func nothingToCarry(_ name: String, _ text: String, _ expected: SDPNegotiationError) {
        var session = Local.session()
        #expect(failure(answering(&session, text)) == expected, "\(name)")
    }

    @Test("CRLF, LF, mixed line ends and trailing blanks")
    func lineEnds() throws {
        let crlf = Self.base.replacing("\n", with: "\r\n")
        let mixed = Self.base.replacing("s=-\n", with: "s=-\r\n").replacing("t=0 0\n", with: "t=0 0  \t\n")
        let blanks = Self.base.replacing("\n", with: " \n").replacing("a=rtpmap:101 ", with: "a=rtpmap:101  ")
        for text in [Self.base, crlf, mixed, blanks] {
            var session = Local.session()
            let answer = try answering(&session, text).get()
            #expect(answer.media.codec == .pcmu && answer.media.telephoneEventPayloadType == 101)
            #expect(answer.media.remoteRTP == endpoint("192.0.2.50:5004") && answer.media.direction == .sendrecv)
            try expectRFC3264Answer(answer, to: text, by: session)
        }
    }

    @Test("o= with a session id over 64 bits and a host name is valid (RFC 4566 §5.2)")
    func longOrigin() throws {
        let text = Self.base(
            "o=- 1 1 IN IP4 192.0.2.50", "o=jdoe 340282366920938463463374607431768211455 2 IN IP4 pc.example.com")
        var session = Local.session()
        _ = try answering(&session, text).get()
        let origin = try #require(session.remoteDescription?.origin)
        #expect(origin.username == "jdoe" && origin.sessionID == "340282366920938463463374607431768211455")
        #expect(origin.sessionVersion == "2" && origin.address == "pc.example.com")
        #expect(
            failure(answering(&session, Self.base("IN IP4 192.0.2.50\ns", "IN XY 192.0.2.50\ns")))
                == .parse(.badOrigin(line: 2, text: "o=- 1 1 IN XY 192.0.2.50")))
    }

    @Test("unknown attributes and lines are kept or skipped")
    func unknownKept() throws {
        let text = Self.base("a=sendrecv", "a=x-vendor:42\na=sendrecv\nk=prompt\ny=unknown").replacing(
            "t=0 0",
            with: "i=info\nu=http://example.com\ne=ops@example.com\nb=AS:64\nt=0 0\nr=7d 1h 0 25h\nz=0 0\na=tool:test")
        var session = Local.session()
        _ = try answering(&session, text).get()
        #expect(session.remoteDescription?.media.first?.attributes == ["x-vendor:42", "sendrecv"])
        #expect(session.remoteDescription?.attributes == ["tool:test"])
    }

    /// Format choice edge cases: (name, m-line formats and attributes, codec, payload type, events).
    static let choices: [(String, String, AudioCodecSpec, UInt8, UInt8?)] = [
        ("static 0 without rtpmap", "m=audio 5004 RTP/AVP 0\n", .pcmu, 0, nil),
        ("static 8 without rtpmap", "m=audio 5004 RTP/AVP 8\n", .pcma, 8, nil),
        (
            "rtpmap names lower case",
            "m=audio 5004 RTP/AVP 8 101\na=rtpmap:8 pcma/8000\na=rtpmap:101 Telephone-Event/8000\n",
            .pcma, 8, 101
        ),
        (
            "PCMU at a dynamic number",
            "m=audio 5004 RTP/AVP 96 97\na=rtpmap:96 PCMU/8000\na=rtpmap:97 telephone-event/8000\n",
            .pcmu, 96, 97
        ),
        ("PCMU with channels written", "m=audio 5004 RTP/AVP 0\na=rtpmap:0 PCMU/8000/1\n", .pcmu, 0, nil),
        (
            "rtpmap for a type not offered is ignored",
            "m=audio 5004 RTP/AVP 8\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\n",
            .pcma, 8, nil
        ),
        (
            "events only at another clock", "m=audio 5004 RTP/AVP 0 101\na=rtpmap:101 telephone-event/16000\n", .pcmu,
            0, nil
        ),
        (
            "the first of two event types at the clock",
            "m=audio 5004 RTP/AVP 0 101 102\na=rtpmap:101 telephone-event/8000\na=rtpmap:102 telephone-event/8000\n",
            .pcmu, 0, 101
        ),
        ("a stereo PCMU is not ours", "m=audio 5004 RTP/AVP 96 8\na=rtpmap:96 PCMU/8000/2\n", .pcma, 8, nil),
        ("events before the codec", "m=audio 5004 RTP/AVP 101 8\na=rtpmap:101 telephone-event/8000\n", .pcma, 8, 101),
    ]

    @Test("which format is chosen", arguments: choices)
    func choice(_ name: String, _ media: String, _ codec: AudioCodecSpec, _ pt: UInt8, _ te: UInt8?) throws {
        let text = "v=0\no=- 1 1 IN IP4 192.0.2.50\ns=-\nc=IN IP4 192.0.2.50\nt=0 0\n" + media
        var session = Local.session()
        let answer = try answering(&session, text).get()
        #expect(answer.media.codec == codec, "\(name)")
        #expect(answer.media.payloadType == pt, "\(name)")
        #expect(answer.media.telephoneEventPayloadType == te, "\(name)")
        try expectRFC3264Answer(answer, to: text, by: session)
    }

    @Test("telephone-event can be turned off")
    func noEvents() throws {
        var config = Local.config()
        config.telephoneEvent = false
        var session = Local.session(config)
        let answer = try answering(&session, Self.base).get()
        #expect(answer.media.telephoneEventPayloadType == nil && !answer.sdp.contains("telephone-event"))
        #expect(!session.offer().contains("telephone-event"))
    }

    @Test("ports: 5004/2 counts, rejected port 0 lines, the last port has no RTCP port above it")
    func ports() throws {
        var session = Local.session()
        let counted = try answering(&session, Self.base("m=audio 5004", "m=audio 5004/2")).get()
        #expect(counted.media.remoteRTP == endpoint("192.0.2.50:5004"))
        var top = Local.session()
        let last = try answering(&top, Self.base("m=audio 5004", "m=audio 65535")).get()
        #expect(last.media.remoteRTP == endpoint("192.0.2.50:65535") && last.media.remoteRTCP == nil)
        // A disabled stream without c= is fine (only streams with a port need an address).
        let noC =
            "v=0\no=- 1 1 IN IP4 192.0.2.50\ns=-\nt=0 0\nm=video 0 RTP/AVP 96\nm=audio 5004 RTP/AVP 0\nc=IN IP4 192.0.2.50\n"
        var s3 = Local.session()
        let answer = try answering(&s3, noC).get()
        #expect(answer.streams == [.rejected(.disabledByOfferer), .accepted] && answer.media.mediaLineIndex == 1)
        try expectRFC3264Answer(answer, to: noC, by: s3)
    }

    @Test("a=rtcp with and without an address; hold via IPv6 ::")
    func rtcpAttribute() throws {
        var session = Local.session()
        let other = try answering(&session, Self.base("a=sendrecv", "a=rtcp:6000 IN IP4 192.0.2.99")).get()
        #expect(other.media.remoteRTCP == endpoint("192.0.2.99:6000"))
        var s2 = Local.session()
        let portOnly = try answering(&s2, Self.base("a=sendrecv", "a=rtcp:6001")).get()
        #expect(portOnly.media.remoteRTCP == endpoint("192.0.2.50:6001"))
        var s3 = Local.session()
        let v6Hold = Self.base("IN IP4 192.0.2.50\nt", "IN IP6 ::\nt")
        let held = try answering(&s3, v6Hold).get()
        #expect(held.media.remoteRTP == nil && held.media.remoteRTCP == nil && held.media.direction == .recvonly)
        #expect(held.media.localRTP == endpoint("[2001:db8::1]:40000"))
    }

    @Test("one audio stream per leg; SRTP-then-RTP offers get the RTP line")
    func severalAudioLines() throws {
        let two = Self.base + "m=audio 5006 RTP/AVP 8\n"
        var session = Local.session()
        let answer = try answering(&session, two).get()
        #expect(answer.streams == [.accepted, .rejected(.additionalAudioStream)])
        #expect(
            sdpLines(answer.sdp).filter { $0.hasPrefix("m=") } == [
                "m=audio 40000 RTP/AVP 0 101", "m=audio 0 RTP/AVP 8",
            ])
        try expectRFC3264Answer(answer, to: two, by: session)

        let bestEffort = """
            v=0
            o=- 7 7 IN IP4 192.0.2.60
            s=-
            c=IN IP4 192.0.2.60
            t=0 0
            m=audio 6000 RTP/SAVP 0 8
            a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
            m=audio 6000 RTP/AVP 0 8

            """
        var s2 = Local.session()
        let rtp = try answering(&s2, bestEffort).get()
        #expect(rtp.media.mediaLineIndex == 1 && rtp.media.remoteRTP == endpoint("192.0.2.60:6000"))
        #expect(
            rtp.streams == [
                .rejected(
                    .unsupportedTransport(
                        proto: "RTP/SAVP",
                        reason: "RTP/SAVP needs SRTP keyed by a=crypto (SDES), which this engine does not do")),
                .accepted,
            ])
        #expect(
            sdpLines(rtp.sdp).filter { $0.hasPrefix("m=") } == ["m=audio 0 RTP/SAVP 0 8", "m=audio 40000 RTP/AVP 0"])
        try expectRFC3264Answer(rtp, to: bestEffort, by: s2)
    }

    @Test("the lenient parser still reads what captures carry")
    func lenientUnchanged() throws {
        // No o=, s=, t=: fine for replay, refused for negotiation.
        let text = "v=0\nm=audio 1000 RTP/AVP 0\nc=IN IP4 192.0.2.1\n"
        #expect(try SessionDescription(parsing: text).media.first?.port == 1000)
        #expect(throws: SDPParseError.missingLine(type: "o")) { try SessionDescription(validating: text) }
    }

    @Test("direction helpers")
    func directions() {
        #expect(MediaDirection.allCases.map(\.reversed) == [.sendrecv, .recvonly, .sendonly, .inactive])
        #expect(MediaDirection.sendonly.intersection(.recvonly) == .inactive)
        #expect(MediaDirection.sendrecv.intersection(.sendonly) == .sendonly)
        #expect(MediaDirection(sends: false, receives: true) == .recvonly)
    }
}
