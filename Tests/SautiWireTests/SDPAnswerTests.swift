import SautiWire
import Testing

/// Answers to offers written the way common endpoints write them
/// (`audio-fixtures/sdp/`), checked field by field and against RFC 3264 §6.
@Suite struct SDPAnswerTests {
    /// What answering one fixture must negotiate.
    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var codec: AudioCodecSpec
        var payloadType: UInt8
        var telephoneEvent: UInt8?
        var direction: MediaDirection = .sendrecv
        var remoteRTP: String?
        var remoteRTCP: String?
        var rtcpMux = false
        var ptime: Int? = nil
        var maxptime: Int? = nil
        var streams: [SDPStreamDecision] = [.accepted]
        var local = "192.0.2.1:40000"
        var codecs: [AudioCodecSpec] = AudioCodecSpec.defaultPreference
        var order: SDPLocalConfig.CodecOrder = .local
        var fmtp: String? = nil

        var testDescription: String { file + (codecs == AudioCodecSpec.defaultPreference ? "" : " \(codecs)") }
    }

    static let cases: [Case] = [
        // Desk phones: G.722 and G.729 first, which we lack; a=sendrecv at session level (Polycom).
        Case(
            file: "polycom-vvx.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 127,
            remoteRTP: "192.168.20.41:2226", remoteRTCP: "192.168.20.41:2227"),
        // PCMA offered first, but our preference picks PCMU; fmtp before rtpmap for 101.
        Case(
            file: "yealink-t46.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101,
            remoteRTP: "10.20.0.23:11780", remoteRTCP: "10.20.0.23:11781", ptime: 20),
        // c= only at media level; b= lines; opus and two iLBC modes we skip.
        Case(
            file: "cisco-cp8841.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101,
            remoteRTP: "172.16.5.31:25404", remoteRTCP: "172.16.5.31:25405"),
        // Static 0/8 without rtpmap; events at 48000, 16000 and 8000: the 8000 one goes with PCMU.
        Case(
            file: "linphone.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 100,
            remoteRTP: "192.168.1.64:7078", remoteRTCP: "192.168.1.64:7079",
            streams: [.accepted, .rejected(.unsupportedMediaType("video"))]),
        // With Opus in the table (a table entry), Linphone gets Opus and the 48 kHz events.
        Case(
            file: "linphone.sdp", codec: .opus, payloadType: 96, telephoneEvent: 101,
            remoteRTP: "192.168.1.64:7078", remoteRTCP: "192.168.1.64:7079",
            streams: [.accepted, .rejected(.unsupportedMediaType("video"))], codecs: [.opus, .pcmu],
            fmtp: "useinbandfec=1"),
        // rtcp-mux: RTCP goes to the RTP port.
        Case(
            file: "zoiper5.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101,
            remoteRTP: "192.168.1.112:52438", remoteRTCP: "192.168.1.112:52438", rtcpMux: true),
        Case(
            file: "zoiper5.sdp", codec: .opus, payloadType: 106, telephoneEvent: 98,
            remoteRTP: "192.168.1.112:52438", remoteRTCP: "192.168.1.112:52438", rtcpMux: true,
            codecs: [.opus, .pcmu], fmtp: "sprop-maxcapturerate=16000; minptime=20; useinbandfec=1"),
        Case(
            file: "asterisk.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101,
            remoteRTP: "203.0.113.5:17046", remoteRTCP: "203.0.113.5:17047", ptime: 20, maxptime: 150),
        // The offerer's order: Asterisk lists PCMA first.
        Case(
            file: "asterisk.sdp", codec: .pcma, payloadType: 8, telephoneEvent: 101,
            remoteRTP: "203.0.113.5:17046", remoteRTCP: "203.0.113.5:17047", ptime: 20, maxptime: 150,
            order: .offerer),
        // a=rtcp names the RTCP port and address.
        Case(
            file: "freeswitch.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101,
            remoteRTP: "198.51.100.20:23632", remoteRTCP: "198.51.100.20:23633", ptime: 20),
        // Opus from FreeSWITCH: its events are only at 8000, which does not go with Opus's 48000.
        Case(
            file: "freeswitch.sdp", codec: .opus, payloadType: 102, telephoneEvent: nil,
            remoteRTP: "198.51.100.20:23632", remoteRTCP: "198.51.100.20:23633", ptime: 20, codecs: [.opus, .pcmu],
            fmtp: "useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000; ptime=20; minptime=10; maxptime=40"),
        // IPv6: answered from our IPv6 address.
        Case(
            file: "snom-ipv6.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101,
            remoteRTP: "[2001:db8:10:20::31]:62448", remoteRTCP: "[2001:db8:10:20::31]:62449", ptime: 20,
            local: "[2001:db8::1]:40000"),
        // Old-style hold: c=0.0.0.0, no direction: we may receive but have nowhere to send.
        Case(
            file: "legacy-hold-c0.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101, direction: .recvonly,
            remoteRTP: nil, remoteRTCP: nil),
        // RTP/AVPF is carried as AVP; rtcp-mux.
        Case(
            file: "baresip-avpf-rtcp-mux.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101,
            remoteRTP: "192.168.1.10:10588", remoteRTCP: "192.168.1.10:10588", rtcpMux: true, ptime: 20),
        // Video and BFCP rejected with port 0 and their formats echoed.
        Case(
            file: "grandstream-gvc-video.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101,
            remoteRTP: "192.168.3.19:5004", remoteRTCP: "192.168.3.19:5005", ptime: 20,
            streams: [
                .accepted, .rejected(.unsupportedMediaType("video")), .rejected(.unsupportedMediaType("application")),
            ]),
        // A hold offer as the first offer: they only send, so we only receive.
        Case(
            file: "yealink-t46-hold.sdp", codec: .pcmu, payloadType: 0, telephoneEvent: 101, direction: .recvonly,
            remoteRTP: "10.20.0.23:11780", remoteRTCP: "10.20.0.23:11781", ptime: 20),
    ]

    @Test("answers to real-world offers", arguments: cases)
    func answers(_ c: Case) throws {
        let offer = try Fixtures.sdp(c.file)
        var session = Local.session(Local.config(codecs: c.codecs, order: c.order))
        let answer = try answering(&session, offer).get()
        let m = answer.media
        #expect(m.codec == c.codec)
        #expect(m.payloadType == c.payloadType)
        #expect(m.telephoneEventPayloadType == c.telephoneEvent)
        #expect(m.direction == c.direction)
        #expect(m.remoteRTP == c.remoteRTP.map(endpoint))
        #expect(m.remoteRTCP == c.remoteRTCP.map(endpoint))
        #expect(m.rtcpMux == c.rtcpMux)
        #expect(m.remotePtimeMilliseconds == c.ptime)
        #expect(m.remoteMaxptimeMilliseconds == c.maxptime)
        #expect(m.localPtimeMilliseconds == 20)
        #expect(m.localRTP == endpoint(c.local))
        #expect(m.fmtp == c.fmtp)
        #expect(answer.streams == c.streams)
        #expect(answer.changes == .all)
        #expect(session.media == m && session.sessionVersion == 1)
        try expectRFC3264Answer(answer, to: offer, by: session)
    }

    @Test("every fixture is valid SDP; each is answered or refused with a reason")
    func everyFixture() throws {
        let names = try Fixtures.sdpNames()
        #expect(names.count >= 15)
        for name in names {
            let offer = try Fixtures.sdp(name)
            _ = try SessionDescription(validating: offer)
            var session = Local.session()
            switch answering(&session, offer) {
            case .success(let answer): try expectRFC3264Answer(answer, to: offer, by: session)
            case .failure(let error): #expect(!error.description.isEmpty && error.sipWarningCode != nil, "\(name)")
            }
        }
    }

    @Test("the exact answer to Asterisk")
    func asteriskAnswerText() throws {
        var session = Local.session()
        let answer = try answering(&session, try Fixtures.sdp("asterisk.sdp")).get()
        #expect(
            answer.sdp == """
                v=0\r
                o=- 4242 1 IN IP4 192.0.2.1\r
                s=sautikit\r
                c=IN IP4 192.0.2.1\r
                t=0 0\r
                m=audio 40000 RTP/AVP 0 101\r
                a=rtpmap:0 PCMU/8000\r
                a=rtpmap:101 telephone-event/8000\r
                a=fmtp:101 0-16\r
                a=ptime:20\r
                a=maxptime:60\r
                a=sendrecv\r

                """)
    }

    @Test("the exact answer to a video phone: rejected m-lines keep transport and formats")
    func videoPhoneAnswerText() throws {
        var session = Local.session()
        let answer = try answering(&session, try Fixtures.sdp("grandstream-gvc-video.sdp")).get()
        let mLines = sdpLines(answer.sdp).filter { $0.hasPrefix("m=") }
        #expect(mLines == ["m=audio 40000 RTP/AVP 0 101", "m=video 0 RTP/AVP 99 121", "m=application 0 UDP/BFCP *"])
    }

    @Test("answers to Zoiper and baresip echo rtcp-mux and the AVPF transport")
    func rtcpMuxAnswer() throws {
        var session = Local.session()
        let zoiper = try answering(&session, try Fixtures.sdp("zoiper5.sdp")).get()
        #expect(sdpLines(zoiper.sdp).contains("a=rtcp-mux"))
        var baresip = Local.session()
        let avpf = try answering(&baresip, try Fixtures.sdp("baresip-avpf-rtcp-mux.sdp")).get()
        #expect(sdpLines(avpf.sdp).contains("m=audio 40000 RTP/AVPF 0 101"))
        #expect(sdpLines(avpf.sdp).contains("a=rtcp-mux"))
        // A side configured without multiplexing answers without it and sends RTCP to port + 1.
        var config = Local.config()
        config.rtcpMux = false
        var plain = Local.session(config)
        let noMux = try answering(&plain, try Fixtures.sdp("zoiper5.sdp")).get()
        #expect(!noMux.sdp.contains("rtcp-mux"))
        #expect(noMux.media.rtcpMux == false && noMux.media.remoteRTCP == endpoint("192.168.1.112:52439"))
    }

    @Test("Opus answers write our fmtp and the 48 kHz events")
    func opusAnswerText() throws {
        var session = Local.session(Local.config(codecs: [.opus, .pcmu]))
        let answer = try answering(&session, try Fixtures.sdp("linphone.sdp")).get()
        let lines = sdpLines(answer.sdp)
        #expect(lines.contains("m=audio 40000 RTP/AVP 96 101"))
        #expect(lines.contains("a=rtpmap:96 opus/48000/2"))
        #expect(lines.contains("a=fmtp:96 minptime=10;useinbandfec=1"))
        #expect(lines.contains("a=rtpmap:101 telephone-event/48000"))
    }

    /// Offers this engine refuses, and the error each must raise.
    static let refusals: [(String, SDPNegotiationError)] = [
        (
            "chrome-webrtc.sdp",
            .unsupportedTransport(
                line: 8, proto: "UDP/TLS/RTP/SAVPF",
                reason: "WebRTC offer: UDP/TLS/RTP/SAVPF needs DTLS-SRTP and ICE, which this engine does not do")
        ),
        (
            "asterisk-srtp.sdp",
            .unsupportedTransport(
                line: 6, proto: "RTP/SAVP",
                reason: "RTP/SAVP needs SRTP keyed by a=crypto (SDES), which this engine does not do")
        ),
        (
            "yealink-g729-only.sdp",
            .noCommonCodec(line: 6, offered: ["18 G729/8000", "97 iLBC/8000", "101 telephone-event/8000"])
        ),
    ]

    @Test("offers refused with a precise reason", arguments: refusals)
    func refused(_ file: String, _ expected: SDPNegotiationError) throws {
        var session = Local.session()
        let result = answering(&session, try Fixtures.sdp(file))
        #expect(failure(result) == expected)
        // Nothing negotiated, nothing written.
        #expect(session.media == nil && session.localDescription == nil && session.sessionVersion == 1)
    }

    @Test("the WebRTC refusal reads as a SIP warning")
    func webRTCMessage() throws {
        var session = Local.session()
        let error = try #require(failure(answering(&session, try Fixtures.sdp("chrome-webrtc.sdp"))))
        #expect(
            error.description
                == "SDP line 8: WebRTC offer: UDP/TLS/RTP/SAVPF needs DTLS-SRTP and ICE, which this engine does not do")
        #expect(error.sipWarningCode == 302)
        let g729 = try #require(failure(answering(&session, try Fixtures.sdp("yealink-g729-only.sdp"))))
        #expect(
            g729.description
                == "SDP line 6: no supported codec among 18 G729/8000, 97 iLBC/8000, 101 telephone-event/8000")
        #expect(g729.sipWarningCode == 305)
    }

    @Test("an IPv6 offer to a host without an IPv6 address is refused")
    func ipv6WithoutAddress() throws {
        var session = Local.session(Local.config(v6: false))
        let result = answering(&session, try Fixtures.sdp("snom-ipv6.sdp"))
        #expect(failure(result) == .addressFamilyMismatch(line: 6, remote: IPAddress("2001:db8:10:20::31")!))
        #expect(failure(result)?.sipWarningCode == 301)
        // An IPv6-only host answers IPv4 offers only through an IPv4 alternate.
        var v6Only = SDPSession(
            config: SDPLocalConfig(address: Local.v6), localPort: Local.port, sessionID: Local.sessionID)
        #expect(
            failure(answering(&v6Only, try Fixtures.sdp("asterisk.sdp")))
                == .addressFamilyMismatch(line: 6, remote: IPAddress("203.0.113.5")!))
    }
}
