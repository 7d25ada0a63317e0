import Foundation
import SautiWire
import Testing

/// Opus in SDP (RFC 7587): fmtp parameters read and written, negotiated in answers and
/// offers both ways, bad values ignored and reported, other clocks refused.
@Suite struct SDPOpusTests {
    static let ours = OpusFormatParameters.ours

    static func config(_ codecs: [AudioCodecSpec]) -> SDPLocalConfig {
        SDPLocalConfig(address: Local.v4, codecPreference: codecs)
    }

    @Test(
        "fmtp values are read with RFC 7587 defaults for what is absent",
        arguments: [
            ("", OpusFormatParameters()),
            ("useinbandfec=1", OpusFormatParameters.with { $0.useInbandFEC = true }),
            (
                "minptime=10;useinbandfec=1",
                .with {
                    $0.useInbandFEC = true; $0.minptimeMilliseconds = 10
                }
            ),
            (
                "useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000; ptime=20; minptime=10; maxptime=40",
                .with {
                    $0.useInbandFEC = true; $0.maxAverageBitrate = 30_000; $0.ptimeMilliseconds = 20
                    $0.minptimeMilliseconds = 10; $0.maxptimeMilliseconds = 40
                }
            ),
            (
                "MaxPlaybackRate=16000;sprop-maxcapturerate=8000;stereo=1;sprop-stereo=1;usedtx=1;cbr=1",
                .with {
                    $0.maxPlaybackRate = 16_000; $0.spropMaxCaptureRate = 8000; $0.stereo = true; $0.spropStereo = true
                    $0.useDTX = true; $0.cbr = true
                }
            ),
            ("x-unknown=7;useinbandfec=0", OpusFormatParameters()),
        ])
    func reads(_ fmtp: String, _ want: OpusFormatParameters) {
        var problems: [OpusFormatParameters.Problem] = []
        #expect(OpusFormatParameters(fmtp: fmtp, problems: &problems) == want)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test(
        "malformed or out-of-range values are ignored (defaults kept) and reported",
        arguments: [
            ("maxplaybackrate=96000", "maxplaybackrate", "out of range 8000 ... 48000 Hz"),
            ("maxplaybackrate=7999", "maxplaybackrate", "out of range 8000 ... 48000 Hz"),
            ("sprop-maxcapturerate=4000", "sprop-maxcapturerate", "out of range 8000 ... 48000 Hz"),
            ("useinbandfec=yes", "useinbandfec", "must be 0 or 1"),
            ("stereo=2", "stereo", "must be 0 or 1"),
            ("usedtx=", "usedtx", "must be 0 or 1"),
            ("cbr=true", "cbr", "must be 0 or 1"),
            ("maxaveragebitrate=abc", "maxaveragebitrate", "not an integer"),
            ("maxaveragebitrate=5999", "maxaveragebitrate", "out of range 6000 ... 510000 b/s"),
            ("maxaveragebitrate=999999999999999999999", "maxaveragebitrate", "not an integer"),
            ("ptime=0", "ptime", "out of range 3 ... 120 ms"),
            ("maxptime=-20", "maxptime", "out of range 3 ... 120 ms"),
        ])
    func badValues(_ fmtp: String, _ name: String, _ reason: String) {
        var problems: [OpusFormatParameters.Problem] = []
        let p = OpusFormatParameters(fmtp: fmtp, problems: &problems)
        #expect(p == OpusFormatParameters(), "defaults kept")
        #expect(problems.count == 1 && problems.first?.name == name && problems.first?.reason == reason, "\(problems)")
        #expect(problems.first?.description.hasPrefix("opus fmtp \(name)=") == true)
    }

    @Test("what this side writes reads back the same")
    func writesAndReadsBack() {
        var problems: [OpusFormatParameters.Problem] = []
        var p = Self.ours
        p.useDTX = true
        p.maxAverageBitrate = 32_000
        p.cbr = true
        #expect(OpusFormatParameters(fmtp: p.fmtp, problems: &problems) == p && problems.isEmpty)
        #expect(
            Self.ours.fmtp == "minptime=10;maxplaybackrate=16000;sprop-maxcapturerate=16000;stereo=0;useinbandfec=1")
    }

    @Test("Linphone's offer: Opus chosen (PT 96, events at 48 kHz), our fmtp in the answer, theirs read")
    func linphone() throws {
        var session = SDPSession(
            config: Self.config([.opus(receiving: Self.ours), .pcmu, .pcma]), localPort: Local.port, sessionID: 1)
        let answer = try session.answer(toOffer: try Fixtures.sdp("linphone.sdp"))
        #expect(
            answer.media.codec.isOpus && answer.media.payloadType == 96 && answer.media.telephoneEventPayloadType == 101
        )
        #expect(sdpLines(answer.sdp).contains("a=rtpmap:96 opus/48000/2"))
        #expect(sdpLines(answer.sdp).contains("a=fmtp:96 \(Self.ours.fmtp)"))
        let send = try #require(answer.media.opusSendParameters)
        #expect(
            send.remote.useInbandFEC && !send.remote.useDTX && send.problems.isEmpty && send.ptimeMilliseconds == 20)
    }

    @Test(
        "Chrome's offer through a WebRTC gateway (RTP/AVPF, rtcp-mux): Opus 111 with FEC; the original WebRTC offer stays refused"
    )
    func chrome() throws {
        var session = SDPSession(
            config: Self.config([.opus(receiving: Self.ours), .pcmu, .pcma]), localPort: Local.port, sessionID: 1)
        let answer = try session.answer(toOffer: try Fixtures.sdp("chrome-opus-gateway.sdp"))
        #expect(answer.media.codec.isOpus && answer.media.payloadType == 111)
        #expect(answer.media.telephoneEventPayloadType == 110 && answer.media.rtcpMux)
        let send = try #require(answer.media.opusSendParameters)
        #expect(send.remote.useInbandFEC && send.remote.minptimeMilliseconds == 10 && send.problems.isEmpty)
        var webrtc = SDPSession(
            config: Self.config([.opus(receiving: Self.ours), .pcmu]), localPort: Local.port, sessionID: 1)
        #expect(throws: SDPNegotiationError.self) { try webrtc.answer(toOffer: try Fixtures.sdp("chrome-webrtc.sdp")) }
    }

    @Test("FreeSWITCH's long fmtp: bitrate cap, ptime and maxptime from the fmtp")
    func freeswitch() throws {
        var session = SDPSession(
            config: Self.config([.opus(receiving: Self.ours), .pcmu]), localPort: Local.port, sessionID: 1)
        let answer = try session.answer(toOffer: try Fixtures.sdp("freeswitch.sdp"))
        let send = try #require(answer.media.opusSendParameters)
        #expect(send.remote.maxAverageBitrate == 30_000 && send.remote.maxptimeMilliseconds == 40)
        #expect(send.bitrate(local: 64_000) == 30_000 && send.bitrate(local: 24_000) == 24_000)
        #expect(send.ptimeMilliseconds == 20 && send.problems.isEmpty)
    }

    @Test("bad fmtp values: Opus still negotiated, the bad ones reported, a=ptime/maxptime honoured")
    func badFmtpOffer() throws {
        var session = SDPSession(
            config: Self.config([.opus(receiving: Self.ours), .pcmu]), localPort: Local.port, sessionID: 1)
        let answer = try session.answer(toOffer: try Fixtures.sdp("opus-bad-fmtp.sdp"))
        #expect(answer.media.codec.isOpus && answer.media.payloadType == 98)
        let send = try #require(answer.media.opusSendParameters)
        #expect(
            Set(send.problems.map(\.name)) == [
                "maxplaybackrate", "useinbandfec", "stereo", "maxaveragebitrate", "sprop-maxcapturerate",
            ])
        #expect(
            send.remote.maxPlaybackRate == 48_000 && !send.remote.useInbandFEC && send.remote.maxAverageBitrate == nil)
        #expect(send.remote.useDTX && send.remote.cbr)
        #expect(send.ptimeMilliseconds == 40, "a=ptime:40 within a=maxptime:60")
    }

    @Test("Opus at a clock other than 48000 is refused (RFC 7587 §7): alone, no common codec; with PCMU, PCMU")
    func wrongClock() throws {
        var session = SDPSession(
            config: Self.config([.opus(receiving: Self.ours), .pcmu]), localPort: Local.port, sessionID: 1)
        let offer = try Fixtures.sdp("opus-wrong-clock.sdp")
        switch answering(&session, offer) {
        case .success(let a): Issue.record("answered \(a.media.codec)")
        case .failure(let e):
            #expect(e == .noCommonCodec(line: 6, offered: ["96 opus/16000", "101 telephone-event/16000"]), "\(e)")
            #expect(e.sipWarningCode == 305)
        }
        let mixed = offer.replacingOccurrences(of: "RTP/AVP 96 101", with: "RTP/AVP 96 0 101")
            .replacingOccurrences(of: "a=sendrecv", with: "a=rtpmap:0 PCMU/8000\r\na=sendrecv")
        var other = SDPSession(
            config: Self.config([.opus(receiving: Self.ours), .pcmu]), localPort: Local.port, sessionID: 1)
        let answer = try other.answer(toOffer: mixed)
        #expect(answer.media.codec == .pcmu)
    }

    @Test("our offer lists Opus with our fmtp; the answer's fmtp is what we send by; and back the other way")
    func offerAndAnswer() throws {
        var caller = SDPSession(
            config: Self.config([.opus(receiving: Self.ours), .pcmu]), localPort: 40_000, sessionID: 1)
        let offer = caller.offer()
        #expect(sdpLines(offer).contains("a=rtpmap:96 opus/48000/2"))
        #expect(sdpLines(offer).contains("a=fmtp:96 \(Self.ours.fmtp)"))
        // The callee: another engine preferring Opus with DTX and a bitrate cap.
        var theirs = OpusFormatParameters()
        theirs.useDTX = true
        theirs.maxAverageBitrate = 20_000
        theirs.useInbandFEC = true
        var callee = SDPSession(
            config: SDPLocalConfig(
                address: IPAddress("192.0.2.9")!, codecPreference: [.opus(receiving: theirs), .pcmu]),
            localPort: 50_000, sessionID: 2)
        let answer = try callee.answer(toOffer: offer)
        let calleeSends = try #require(answer.media.opusSendParameters)
        #expect(calleeSends.remote == Self.ours, "the callee reads our fmtp")
        let update = try caller.applyAnswer(answer.sdp)
        let callerSends = try #require(update.media.opusSendParameters)
        #expect(callerSends.remote.useDTX && callerSends.remote.maxAverageBitrate == 20_000)
        #expect(callerSends.bitrate(local: 24_000) == 20_000)
    }
}

extension OpusFormatParameters {
    /// A wideband receiver's fmtp: 16 kHz, FEC welcome, minptime 10.
    static var ours: OpusFormatParameters {
        var p = OpusFormatParameters()
        p.minptimeMilliseconds = 10
        p.maxPlaybackRate = 16_000
        p.spropMaxCaptureRate = 16_000
        p.useInbandFEC = true
        return p
    }

    static func with(_ body: (inout OpusFormatParameters) -> Void) -> OpusFormatParameters {
        var p = OpusFormatParameters()
        body(&p)
        return p
    }
}
