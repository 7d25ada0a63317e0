import SautiWire
import Testing

/// The RTP vectors of aiortc (`audio-fixtures/packets/aiortc`), checked against every
/// field `aiortc_packets_truth.json` gives, plus the fixed header's edge values.
@Suite struct RTPHeaderTests {
    static let rtpVectors = [
        "rtp.bin", "rtp_dtmf.bin", "rtp_with_csrc.bin", "rtp_only_padding.bin",
        "rtp_only_padding_with_header_extensions.bin", "rtp_with_sdes_mid.bin",
    ]

    @Test("the fixture files are the bytes the truth file records")
    func fixturesMatchTruth() throws {
        let truth = try Fixtures.aiortcTruth()
        #expect(truth.packets.count == 21)
        for (name, entry) in truth.packets {
            let bytes = try Fixtures.aiortcPacket(name)
            #expect(bytes.count == entry.bytes, "\(name)")
            #expect(bytes == hexBytes(entry.hex), "\(name)")
        }
    }

    @Test("every RTP vector parses to the truth's fields", arguments: rtpVectors)
    func vectorFields(_ name: String) throws {
        let truth = try #require(try Fixtures.aiortcTruth().packets[name])
        let bytes = try Fixtures.aiortcPacket(name)
        let h = try parseRTP(bytes).get()
        #expect(Int(h.version) == truth.version)
        #expect(h.marker == (truth.marker == 1))
        #expect(Int(h.payloadType) == truth.payload_type)
        #expect(Int(h.sequenceNumber) == truth.sequence_number)
        #expect(h.timestamp == truth.timestamp)
        #expect(h.payloadLength == truth.payload_len)
        #expect(h.paddingLength == (truth.padding_size ?? 0))
        #expect(h.padding == (truth.padding_size != nil))
        let csrcs = bytes.withUnsafeBytes { raw in (0..<Int(h.csrcCount)).map { h.csrc($0, in: raw)! } }
        #expect(csrcs == truth.csrc)
        // Header, payload and padding account for every byte.
        #expect(h.payloadOffset + h.payloadLength + h.paddingLength == bytes.count)
        #expect(h.payloadOffset == 12 + 4 * Int(h.csrcCount) + (h.hasExtension ? 4 + h.extensionLength : 0))
        bytes.withUnsafeBytes { #expect(!RTPHeader.looksLikeRTCP($0)) }
    }

    @Test("rtp.bin: PCMU, SSRC and a payload of 160 0xFF bytes")
    func plainPacket() throws {
        let bytes = try Fixtures.aiortcPacket("rtp.bin")
        let h = try parseRTP(bytes).get()
        #expect(h.ssrc == 0xF01B_40E9)
        #expect(!h.hasExtension && h.csrcCount == 0 && h.payloadOffset == 12)
        bytes.withUnsafeBytes { raw in
            let payload = h.payload(in: raw)
            #expect(payload.count == 160 && payload.allSatisfy { $0 == 0xFF })
            #expect(h.csrc(0, in: raw) == nil)
            #expect(h.csrc(-1, in: raw) == nil)
        }
    }

    @Test("rtp_with_sdes_mid.bin: a one-byte header extension, id 9 = \"0\"")
    func sdesMidExtension() throws {
        let bytes = try Fixtures.aiortcPacket("rtp_with_sdes_mid.bin")
        let h = try parseRTP(bytes).get()
        #expect(h.hasExtension && h.extensionProfile == 0xBEDE && h.extensionLength == 4)
        #expect(h.payloadOffset == 20)
        // RFC 8285 one-byte element: id in the high nibble, length − 1 in the low one.
        let element = bytes[16]
        #expect(element >> 4 == 9 && element & 0x0F == 0)
        #expect(bytes[17] == UInt8(ascii: "0"))
    }

    @Test("rtp_only_padding_with_header_extensions.bin: abs-send-time 15846540 and 224 padding bytes")
    func absSendTimeExtension() throws {
        let bytes = try Fixtures.aiortcPacket("rtp_only_padding_with_header_extensions.bin")
        let h = try parseRTP(bytes).get()
        #expect(h.hasExtension && h.extensionProfile == 0xBEDE && h.extensionLength == 4)
        let element = bytes[16]
        #expect(element >> 4 == 2 && element & 0x0F == 2)
        let absSendTime = UInt32(bytes[17]) << 16 | UInt32(bytes[18]) << 8 | UInt32(bytes[19])
        #expect(absSendTime == 15_846_540)
        #expect(h.payloadLength == 0 && h.paddingLength == 224 && h.payloadOffset == 20)
    }

    @Test("every prefix of rtp_with_csrc.bin is rejected with the right error", arguments: 0..<180)
    func csrcTruncations(_ length: Int) throws {
        let bytes = Array(try Fixtures.aiortcPacket("rtp_with_csrc.bin").prefix(length))
        let want: RTPParseError? =
            length < 12 ? .tooShort(length: length) : length < 20 ? .truncatedCSRC(needed: 20, length: length) : nil
        if let want {
            #expect(parseRTP(bytes) == .failure(want))
        } else {
            // Past the CSRCs every prefix is a valid (shorter) packet.
            #expect(try parseRTP(bytes).get().payloadLength == length - 20)
        }
    }

    @Test("every prefix of rtp_with_sdes_mid.bin is rejected with the right error", arguments: 0..<74)
    func extensionTruncations(_ length: Int) throws {
        let bytes = Array(try Fixtures.aiortcPacket("rtp_with_sdes_mid.bin").prefix(length))
        let want: RTPParseError? =
            length < 12
            ? .tooShort(length: length)
            : length < 16
                ? .truncatedExtension(needed: 16, length: length)
                : length < 20 ? .truncatedExtension(needed: 20, length: length) : nil
        if let want {
            #expect(parseRTP(bytes) == .failure(want))
        } else {
            #expect(try parseRTP(bytes).get().payloadLength == length - 20)
        }
    }

    @Test("a padding count of zero or past the header is rejected (aiortc's derived tests)")
    func badPadding() throws {
        let head = Array(try Fixtures.aiortcPacket("rtp_only_padding.bin").prefix(12))
        #expect(parseRTP(head + [0x02]) == .failure(.badPadding(count: 2, available: 1)))
        #expect(parseRTP(head + [0x00]) == .failure(.badPadding(count: 0, available: 1)))
        // P set and nothing after the header: the count byte would be the SSRC's last byte.
        #expect(parseRTP(head) == .failure(.badPadding(count: Int(head[11]), available: 0)))
        // A count of exactly what follows the header is all padding, no payload.
        let h = try parseRTP(head + [0, 0, 3]).get()
        #expect(h.payloadLength == 0 && h.paddingLength == 3)
    }

    @Test("a version other than 2 is rejected", arguments: [0x00, 0x40, 0xC0] as [UInt8])
    func badVersion(_ firstByte: UInt8) throws {
        var bytes = try Fixtures.aiortcPacket("rtp.bin")
        bytes[0] = firstByte
        #expect(parseRTP(bytes) == .failure(.badVersion(firstByte >> 6)))
    }

    /// Headers at the edges of each field.
    static let edgeHeaders: [RTPHeader] = [
        RTPHeader(payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0),
        RTPHeader(marker: true, payloadType: 127, sequenceNumber: 65535, timestamp: .max, ssrc: .max),
        RTPHeader(marker: true, payloadType: 101, sequenceNumber: 0x8000, timestamp: 0x8000_0000, ssrc: 0x1234_5678),
        RTPHeader(payloadType: 8, sequenceNumber: 1, timestamp: 160, ssrc: 0xDEAD_BEEF),
    ]

    @Test("serialize then parse gives the same header", arguments: edgeHeaders)
    func roundTrip(_ header: RTPHeader) throws {
        let payload: [UInt8] = [1, 2, 3, 4, 5]
        let bytes = header.packet(payload: payload)
        #expect(bytes.count == 12 + payload.count)
        var parsed = try parseRTP(bytes).get()
        #expect(parsed.payloadLength == payload.count && parsed.payloadOffset == 12)
        parsed.payloadLength = header.payloadLength
        #expect(parsed == header)
    }

    @Test("serialize writes aiortc's header bytes exactly")
    func serializeMatchesVector() throws {
        for name in ["rtp.bin", "rtp_dtmf.bin"] {
            let bytes = try Fixtures.aiortcPacket(name)
            let h = try parseRTP(bytes).get()
            var out = [UInt8](repeating: 0xAA, count: 12)
            let written = out.withUnsafeMutableBytes { h.serialize(into: $0) }
            #expect(written == 12 && h.serializedLength == 12)
            #expect(out == Array(bytes.prefix(12)), "\(name)")
        }
        // With CSRCs only the fixed header is written, but the count says how many follow.
        let csrc = try parseRTP(try Fixtures.aiortcPacket("rtp_with_csrc.bin")).get()
        #expect(csrc.serializedLength == 20)
        var out = [UInt8](repeating: 0, count: 12)
        _ = out.withUnsafeMutableBytes { csrc.serialize(into: $0) }
        #expect(out == Array(try Fixtures.aiortcPacket("rtp_with_csrc.bin").prefix(12)))
    }

    @Test("serialize refuses a buffer shorter than 12 bytes")
    func serializeShortBuffer() {
        var out = [UInt8](repeating: 0, count: 11)
        let h = RTPHeader(payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3)
        #expect(out.withUnsafeMutableBytes { h.serialize(into: $0) } == nil)
        #expect(out == [UInt8](repeating: 0, count: 11))
    }

    @Test("every aiortc RTCP vector looks like RTCP, no RTP vector does")
    func rtcpDemultiplexing() throws {
        let truth = try Fixtures.aiortcTruth()
        for name in truth.packets.keys {
            let bytes = try Fixtures.aiortcPacket(name)
            let isRTCP = name.hasPrefix("rtcp_")
            bytes.withUnsafeBytes { #expect(RTPHeader.looksLikeRTCP($0) == isRTCP, "\(name)") }
        }
    }

    /// Second byte, and whether RFC 5761 §4 calls the datagram RTCP.
    @Test(
        "RFC 5761: second byte 192–223 is RTCP",
        arguments: [(191, false), (192, true), (200, true), (223, true), (224, false), (0, false), (255, false)]
            as [(UInt8, Bool)])
    func rtcpRange(_ second: UInt8, _ isRTCP: Bool) {
        [0x80, second, 0, 0].withUnsafeBytes { #expect(RTPHeader.looksLikeRTCP($0) == isRTCP) }
    }

    @Test("too short or not version 2 is not RTCP")
    func notRTCP() {
        ([] as [UInt8]).withUnsafeBytes { #expect(!RTPHeader.looksLikeRTCP($0)) }
        ([0x80] as [UInt8]).withUnsafeBytes { #expect(!RTPHeader.looksLikeRTCP($0)) }
        ([0x40, 200] as [UInt8]).withUnsafeBytes { #expect(!RTPHeader.looksLikeRTCP($0)) }
        ([0x80, 200] as [UInt8]).withUnsafeBytes { #expect(RTPHeader.looksLikeRTCP($0)) }
    }
}

@Test("a header with a CSRC list serializes and parses back to the same fields")
func csrcRoundTrip() throws {
    let h = RTPHeader(marker: true, payloadType: 8, sequenceNumber: 65535, timestamp: 0xDEAD_BEEF, ssrc: 0x0102_0304)
    var bytes = [UInt8](repeating: 0, count: 12 + 8 + 3)
    let written = bytes.withUnsafeMutableBytes { h.serialize(into: $0, csrcs: [0xAAAA_0001, 0xDEAD_BEEF]) }
    #expect(written == 20)
    let parsed = try bytes.withUnsafeBytes { try RTPHeader(parsing: $0) }
    #expect(parsed.csrcCount == 2 && parsed.marker && parsed.payloadType == 8 && parsed.sequenceNumber == 65535)
    #expect(parsed.timestamp == 0xDEAD_BEEF && parsed.ssrc == 0x0102_0304 && parsed.payloadLength == 3)
    bytes.withUnsafeBytes { raw in
        #expect(parsed.csrc(0, in: raw) == 0xAAAA_0001 && parsed.csrc(1, in: raw) == 0xDEAD_BEEF)
    }
    var small = [UInt8](repeating: 0, count: 19)
    #expect(small.withUnsafeMutableBytes { h.serialize(into: $0, csrcs: [1, 2]) } == nil)
    var room = [UInt8](repeating: 0, count: 100)
    #expect(room.withUnsafeMutableBytes { h.serialize(into: $0, csrcs: [UInt32](repeating: 1, count: 16)) } == nil)
}

