import SautiWire
import Testing

/// The minimal SDP parser (RFC 4566) and the SIP body extraction replay uses to learn
/// which ports carry which codecs.
@Suite struct SDPTests {
    /// An offer with three m-lines: PCMU/PCMA/events on the session address, a rejected
    /// video stream with its own c=, and Opus over IPv6.
    static let offer = """
        v=0\r
        o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r
        s=-\r
        c=IN IP4 192.0.2.10\r
        t=0 0\r
        a=group:BUNDLE 0\r
        m=audio 49170 RTP/AVP 0 8 101\r
        a=rtpmap:0 PCMU/8000\r
        a=rtpmap:8 PCMA/8000\r
        a=rtpmap:101 telephone-event/8000\r
        a=fmtp:101 0-16\r
        a=ptime:20\r
        a=sendrecv\r
        m=video 0 RTP/AVP 96\r
        c=IN IP4 198.51.100.7\r
        a=rtpmap:96 H264/90000\r
        m=audio 5004/2 RTP/SAVPF 111 9\r
        c=IN IP6 2001:db8::5\r
        a=rtpmap:111 opus/48000/2\r
        a=fmtp:111 minptime=10;useinbandfec=1\r
        a=rtpmap:9 G722/8000\r
        a=ptime: 40 \r
        a=rtcp-mux\r

        """

    @Test("an offer with several m-lines")
    func offer() throws {
        let sdp = try SessionDescription(parsing: Self.offer)
        #expect(sdp.connectionAddress == IPAddress("192.0.2.10"))
        #expect(sdp.media.count == 3)
        let audio = sdp.media[0]
        #expect(audio.type == "audio" && audio.port == 49170 && audio.proto == "RTP/AVP")
        #expect(audio.formats.map(\.payloadType) == [0, 8, 101])
        #expect(audio.formats.map(\.encoding) == ["PCMU", "PCMA", "telephone-event"])
        #expect(audio.formats.map(\.clockRate) == [8000, 8000, 8000])
        #expect(audio.formats.map(\.channels) == [1, 1, 1])
        #expect(audio.formats.map(\.fmtp) == [nil, nil, "0-16"])
        #expect(audio.ptimeMilliseconds == 20)
        #expect(audio.attributes == ["sendrecv"])
        let video = sdp.media[1]
        #expect(video.type == "video" && video.port == 0)  // port 0: rejected
        #expect(formats(video) == ["96 H264/90000/1"])
        let opus = sdp.media[2]
        #expect(opus.port == 5004 && opus.proto == "RTP/SAVPF")
        #expect(formats(opus) == ["111 opus/48000/2 minptime=10;useinbandfec=1", "9 G722/8000/1"])
        #expect(opus.ptimeMilliseconds == 40)
        #expect(opus.attributes == ["rtcp-mux"])
    }

    @Test("c= at media level overrides the session's; without one the session's applies")
    func connectionLevels() throws {
        let sdp = try SessionDescription(parsing: Self.offer)
        #expect(
            sdp.media.map(\.connectionAddress) == [
                IPAddress("192.0.2.10"), IPAddress("198.51.100.7"), IPAddress("2001:db8::5"),
            ])
        #expect(sdp.media[2].connectionAddress?.isV6 == true)
        // No session-level c= at all: only the media that name one have an address.
        let mediaOnly = try SessionDescription(
            parsing: "v=0\nm=audio 1000 RTP/AVP 0\nc=IN IP6 ::1\nm=audio 1002 RTP/AVP 8\n")
        #expect(mediaOnly.connectionAddress == nil)
        #expect(mediaOnly.media.map(\.connectionAddress) == [IPAddress("::1"), nil])
    }

    @Test("multicast c= with TTL and address count keeps just the address")
    func multicast() throws {
        let sdp = try SessionDescription(parsing: "v=0\r\nc=IN IP4 233.252.0.1/127/3\r\nm=audio 5000 RTP/AVP 0\r\n")
        #expect(sdp.connectionAddress == IPAddress("233.252.0.1"))
        let v6 = try SessionDescription(parsing: "v=0\r\nc=IN IP6 ff15::101/3\r\nm=audio 5000 RTP/AVP 0\r\n")
        #expect(v6.connectionAddress == IPAddress("ff15::101"))
    }

    @Test("bare LF line ends and unknown line types are fine")
    func lenient() throws {
        let sdp = try SessionDescription(
            parsing: "v=0\nx=whatever\nb=AS:64\nm=audio 7078 RTP/AVP 18\na=rtpmap:18 G729/8000\n")
        #expect(sdp.media.first?.formats.first?.encoding == "G729")
        // a= lines before any m= are session attributes, not given to a medium.
        let session = try SessionDescription(parsing: "v=0\na=recvonly\nm=audio 7078 RTP/AVP 0\n")
        #expect(session.media.first?.attributes == [])
        // An rtpmap for a format the m-line does not offer is ignored.
        let stray = try SessionDescription(parsing: "v=0\nm=audio 7078 RTP/AVP 0\na=rtpmap:8 PCMA/8000\n")
        #expect(stray.media.first.map(formats) == ["0 ?/?/1"])
    }

    @Test("non-RTP m-lines keep no formats")
    func nonRTPMedia() throws {
        let sdp = try SessionDescription(parsing: "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n")
        #expect(sdp.media.first?.formats == [] && sdp.media.first?.proto == "UDP/DTLS/SCTP")
    }

    /// Bad SDP bodies and the error each must raise.
    static let badBodies: [(String, SDPParseError)] = [
        ("v=0\r\nthis is not sdp\r\nm=audio 1 RTP/AVP 0\r\n", .malformedLine(line: 2, text: "this is not sdp")),
        ("v=0\r\nm\r\n", .malformedLine(line: 2, text: "m")),
        ("v=0\r\n\r\n=x\r\n", .malformedLine(line: 3, text: "=x")),
        ("v=0\nm=audio port RTP/AVP 0\n", .badMediaLine(line: 2, text: "m=audio port RTP/AVP 0")),
        ("v=0\nm=audio 70000 RTP/AVP 0\n", .badMediaLine(line: 2, text: "m=audio 70000 RTP/AVP 0")),
        ("v=0\nm=audio 5004\n", .badMediaLine(line: 2, text: "m=audio 5004")),
        ("v=0\nm=audio 5004 RTP/AVP 0 PCMU\n", .badMediaLine(line: 2, text: "m=audio 5004 RTP/AVP 0 PCMU")),
        ("v=0\nm=audio 5004 RTP/AVP 128\n", .badMediaLine(line: 2, text: "m=audio 5004 RTP/AVP 128")),
        ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", .noMedia),
        ("", .noMedia),
    ]

    @Test("malformed bodies are rejected with the line that is wrong", arguments: badBodies)
    func malformed(_ text: String, _ error: SDPParseError) {
        #expect(throws: error) { try SessionDescription(parsing: text) }
    }

    /// A medium's formats as text: "pt encoding/clock/channels[ fmtp]" (SDPFormat has no public init).
    private func formats(_ m: SDPMedia) -> [String] {
        m.formats.map { f in
            "\(f.payloadType) \(f.encoding ?? "?")/\(f.clockRate.map(String.init) ?? "?")/\(f.channels)"
                + (f.fmtp.map { " " + $0 } ?? "")
        }
    }

    // MARK: - SIP

    static let invite = """
        INVITE sip:bob@192.0.2.20 SIP/2.0\r
        Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r
        From: <sip:alice@192.0.2.10>;tag=1928301774\r
        To: <sip:bob@192.0.2.20>\r
        Call-ID: a84b4c76e66710@192.0.2.10\r
        CSeq: 314159 INVITE\r
        Contact: <sip:alice@192.0.2.10>\r
        Content-Type: application/sdp\r
        Content-Length: 92\r
        \r
        v=0\r
        o=- 1 1 IN IP4 192.0.2.10\r
        s=-\r
        c=IN IP4 192.0.2.10\r
        t=0 0\r
        m=audio 49170 RTP/AVP 0\r

        """

    /// The SDP body of `text` sent as one datagram.
    private func body(_ text: String) -> String? {
        Array(text.utf8).withUnsafeBytes { SIPMessage.sdpBody($0) }
    }

    @Test("the SDP body of an INVITE")
    func inviteBody() throws {
        let sdp = try #require(body(Self.invite))
        #expect(sdp.hasPrefix("v=0\r\n") && sdp.hasSuffix("m=audio 49170 RTP/AVP 0\r\n"))
        let parsed = try SessionDescription(parsing: sdp)
        #expect(parsed.connectionAddress == IPAddress("192.0.2.10") && parsed.media.first?.port == 49170)
    }

    @Test("a compact Content-Type header (c:), a response, bare LF line ends")
    func variants() {
        let compact = Self.invite.replacing("Content-Type: application/sdp", with: "c: application/sdp")
        #expect(body(compact)?.hasPrefix("v=0") == true)
        let caps = Self.invite.replacing("Content-Type: application/sdp", with: "CONTENT-TYPE: Application/SDP")
        #expect(body(caps)?.hasPrefix("v=0") == true)
        let response = Self.invite.replacing("INVITE sip:bob@192.0.2.20 SIP/2.0", with: "SIP/2.0 200 OK")
        #expect(body(response)?.hasPrefix("v=0") == true)
        let lf = Self.invite.replacing("\r\n", with: "\n")
        #expect(
            body(lf) == "v=0\no=- 1 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\nm=audio 49170 RTP/AVP 0\n")
    }

    @Test("no SDP: other content types, no body, not SIP")
    func notSDP() throws {
        let text = Self.invite.replacing("application/sdp", with: "text/plain")
        #expect(body(text) == nil)
        let noType = Self.invite.replacing("Content-Type: application/sdp\r\n", with: "")
        #expect(body(noType) == nil)
        let headerEnd = try #require(Self.invite.firstRange(of: "\r\n\r\n"))
        #expect(body(String(Self.invite[..<headerEnd.lowerBound]) + "\r\n") == nil)
        #expect(body("HTTP/1.1 200 OK\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n") == nil)
        #expect(body("SIP/2.0") == nil)
        try Fixtures.aiortcPacket("rtp.bin").withUnsafeBytes { #expect(SIPMessage.sdpBody($0) == nil) }
        ([] as [UInt8]).withUnsafeBytes { #expect(SIPMessage.sdpBody($0) == nil) }
    }
}
