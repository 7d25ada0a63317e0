import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import Testing

/// A leg driven by SDP: answer a phone's offer, carry audio both ways, then the phone puts
/// the call on hold and takes it off with re-offers; the leg keeps its ports throughout.
@Suite(.serialized) struct SDPLegTests {
    static func offer(port: UInt16, version: Int, direction: String) -> String {
        """
        v=0\r
        o=phone 4242 \(version) IN IP4 127.0.0.1\r
        s=call\r
        c=IN IP4 127.0.0.1\r
        t=0 0\r
        m=audio \(port) RTP/AVP 8 0 101\r
        a=rtpmap:8 PCMA/8000\r
        a=rtpmap:0 PCMU/8000\r
        a=rtpmap:101 telephone-event/8000\r
        a=fmtp:101 0-16\r
        a=ptime:20\r
        a=\(direction)\r

        """
    }

    @Test("answer, talk, hold (sendonly → we only receive), unhold, hang up")
    func holdAndUnhold() async throws {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = 34_000
        c.lastPort = 34_999
        let engine = try MediaEngine(configuration: c)
        defer { engine.shutdown() }
        // The "phone" is a second leg the test drives directly, on a known port.
        let phone = try engine.openLeg(LegConfiguration(codec: .pcma))
        // Reserve the engine leg first to learn its port, then answer with it.
        var placeholder = LegConfiguration(codec: .pcmu)
        placeholder.direction = .inactive
        let leg = try engine.openLeg(placeholder)
        var session = SDPSession(config: SDPLocalConfig(address: .v4(0x7F00_0001)), localPort: leg.local.port, sessionID: 99)
        let answer = try session.answer(toOffer: Self.offer(port: phone.local.port, version: 1, direction: "sendrecv"))
        #expect(answer.media.codec.encoding.uppercased() == "PCMA" || answer.media.codec.encoding.uppercased() == "PCMU")
        #expect(answer.sdp.contains("m=audio \(leg.local.port) RTP/AVP"))
        let config = try #require(LegConfiguration(negotiated: answer.media))
        #expect(config.direction == .sendrecv && config.remote == phone.local && config.telephoneEventPayloadType == 101)
        leg.update(config)
        leg.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -10)))
        var phoneConfig = LegConfiguration(codec: config.codec, remote: leg.local)
        phoneConfig.payloadType = config.payloadType
        phone.update(phoneConfig)
        try await Task.sleep(for: .milliseconds(600))
        let talking = phone.statistics.packetsReceived
        #expect(talking > 15, "the engine leg sends to the phone")
        #expect(leg.statistics.packetsReceived > 15, "the phone's audio reaches the engine leg")

        // Hold: the phone re-offers sendonly; we answer recvonly and stop sending.
        let held = try session.answer(toOffer: Self.offer(port: phone.local.port, version: 2, direction: "sendonly"))
        #expect(held.sdp.contains("a=recvonly"))
        leg.update(try #require(LegConfiguration(negotiated: held.media, base: config)))
        try await Task.sleep(for: .milliseconds(200))
        let atHold = phone.statistics.packetsReceived
        try await Task.sleep(for: .milliseconds(500))
        #expect(phone.statistics.packetsReceived - atHold <= 1, "nothing sent while held")
        let receivingOnHold = leg.statistics.packetsReceived
        try await Task.sleep(for: .milliseconds(300))
        #expect(leg.statistics.packetsReceived > receivingOnHold, "still receiving while held")

        // Unhold.
        let resumed = try session.answer(toOffer: Self.offer(port: phone.local.port, version: 3, direction: "sendrecv"))
        #expect(resumed.sdp.contains("a=sendrecv"))
        leg.update(try #require(LegConfiguration(negotiated: resumed.media, base: config)))
        let atResume = phone.statistics.packetsReceived
        try await Task.sleep(for: .milliseconds(500))
        #expect(phone.statistics.packetsReceived - atResume > 15, "sending again after unhold")
        #expect(leg.local.port == answer.media.localRTP.port, "the leg kept its port")
        leg.close()
        phone.close()
    }

    @Test("a WebRTC offer is refused with the reason, and no leg is touched")
    func webRTCRefused() throws {
        let text = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("audio-fixtures/sdp/chrome-webrtc.sdp"), encoding: .utf8)
        var session = SDPSession(config: SDPLocalConfig(address: .v4(0x7F00_0001)), localPort: 34_500, sessionID: 1)
        #expect {
            _ = try session.answer(toOffer: text)
        } throws: { error in
            "\(error)".contains("DTLS")
        }
    }
}
