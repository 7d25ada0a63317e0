import SautiWire
import Testing

/// `RTCP.parseCompound` on aiortc's RTCP vectors (every field of
/// `aiortc_packets_truth.json`), its invalid vectors, and compound packets built from them.
@Suite struct RTCPTests {
    private func truth(_ name: String) throws -> AiortcTruth.Entry {
        try #require(try Fixtures.aiortcTruth().packets[name])
    }

    private func reportBlocks(_ truth: [AiortcTruth.Report]) -> [RTCPReportBlock] {
        truth.map {
            RTCPReportBlock(
                ssrc: $0.ssrc, fractionLost: $0.fraction_lost, cumulativeLost: $0.packets_lost,
                highestSequence: $0.highest_sequence, jitter: $0.jitter, lastSR: $0.lsr, delaySinceLastSR: $0.dlsr)
        }
    }

    @Test("rtcp_sr.bin: sender info and one report block")
    func senderReport() throws {
        let want = try #require(try truth("rtcp_sr.bin").packets?.first)
        let packets = try parseRTCP(try Fixtures.aiortcPacket("rtcp_sr.bin")).get()
        guard case .senderReport(let ssrc, let info, let reports)? = packets.first, packets.count == 1 else {
            Issue.record("not one SR: \(packets)")
            return
        }
        #expect(ssrc == want.ssrc && info.ntpTimestamp == want.ntp_timestamp && info.rtpTimestamp == want.rtp_timestamp)
        #expect(info.packetCount == want.packet_count && info.octetCount == want.octet_count)
        #expect(reports == reportBlocks(want.reports ?? []))
        // The values the truth file holds, spelled out, so a misread truth file cannot agree.
        #expect(ssrc == 1_831_097_322 && info.ntpTimestamp == 16_016_567_581_311_369_308)
        #expect(info.rtpTimestamp == 1_722_342_718 && info.packetCount == 269 && info.octetCount == 13557)
        #expect(reports.count == 1 && reports[0].ssrc == 2_398_654_957 && reports[0].highestSequence == 246)
        #expect(reports[0].jitter == 127 && reports[0].fractionLost == 0 && reports[0].cumulativeLost == 0)
    }

    @Test("rtcp_rr.bin: one report block")
    func receiverReport() throws {
        let want = try #require(try truth("rtcp_rr.bin").packets?.first)
        let packets = try parseRTCP(try Fixtures.aiortcPacket("rtcp_rr.bin")).get()
        #expect(packets == [.receiverReport(ssrc: try #require(want.ssrc), reports: reportBlocks(want.reports ?? []))])
        guard case .receiverReport(let ssrc, let reports)? = packets.first else { return }
        #expect(ssrc == 817_267_719 && reports.count == 1)
        #expect(reports[0].ssrc == 1_200_895_919 && reports[0].highestSequence == 630 && reports[0].jitter == 1906)
    }

    @Test("rtcp_sdes.bin: one chunk with a CNAME")
    func sourceDescription() throws {
        let want = try #require(try truth("rtcp_sdes.bin").packets?.first?.chunks)
        let packets = try parseRTCP(try Fixtures.aiortcPacket("rtcp_sdes.bin")).get()
        guard case .sourceDescription(let chunks)? = packets.first, packets.count == 1 else {
            Issue.record("not one SDES: \(packets)")
            return
        }
        #expect(chunks.count == want.count)
        for (got, w) in zip(chunks, want) {
            #expect(got.ssrc == w.ssrc)
            #expect(got.items.map(\.type) == w.items.map(\.type) && got.items.map(\.text) == w.items.map(\.text))
        }
        #expect(chunks.first?.ssrc == 1_831_097_322)
        #expect(sdesSummary(packets) == ["6d2453ea: 1 {63f459ea-41fe-4474-9d33-9707c9ee79d1}"])
    }

    @Test(
        "BYE vectors: sources, no sources, padding only",
        arguments: ["rtcp_bye.bin", "rtcp_bye_no_sources.bin", "rtcp_bye_padding.bin"])
    func goodbye(_ name: String) throws {
        let want = try #require(try truth(name).packets?.first?.sources)
        let packets = try parseRTCP(try Fixtures.aiortcPacket(name)).get()
        #expect(packets == [.goodbye(sources: want, reason: nil)])
    }

    @Test("rtcp_bye.bin names source 0xAE528B43")
    func goodbyeSource() throws {
        #expect(
            try parseRTCP(try Fixtures.aiortcPacket("rtcp_bye.bin")).get() == [
                .goodbye(sources: [2_924_645_187], reason: nil)
            ])
    }

    @Test("rtcp_psfb_pli.bin: a PLI kept opaque, with its SSRCs in the body")
    func pictureLossIndication() throws {
        let want = try #require(try truth("rtcp_psfb_pli.bin").packets?.first)
        let packets = try parseRTCP(try Fixtures.aiortcPacket("rtcp_psfb_pli.bin")).get()
        guard case .other(let type, let count, let body)? = packets.first, packets.count == 1 else {
            Issue.record("not one opaque packet: \(packets)")
            return
        }
        #expect(type == RTCPPacketType.payloadFeedback && Int(count) == want.fmt)
        #expect(body.count == 8)
        #expect(be32(body, 0) == want.ssrc && be32(body, 4) == want.media_ssrc)
    }

    @Test("rtcp_rtpfb.bin: a generic NACK whose FCI lists aiortc's lost packets")
    func genericNack() throws {
        let want = try #require(try truth("rtcp_rtpfb.bin").packets?.first)
        let packets = try parseRTCP(try Fixtures.aiortcPacket("rtcp_rtpfb.bin")).get()
        guard case .other(let type, let count, let body)? = packets.first, packets.count == 1 else {
            Issue.record("not one opaque packet: \(packets)")
            return
        }
        #expect(type == RTCPPacketType.transportFeedback && Int(count) == want.fmt)
        #expect(be32(body, 0) == want.ssrc && be32(body, 4) == want.media_ssrc)
        // RFC 4585 §6.2.1: each FCI is a PID and a bitmask of the 16 packets after it.
        var lost: [Int] = []
        for o in stride(from: 8, to: body.count, by: 4) {
            let pid = Int(body[o]) << 8 | Int(body[o + 1])
            let blp = Int(body[o + 2]) << 8 | Int(body[o + 3])
            lost.append(pid)
            for bit in 0..<16 where blp & (1 << bit) != 0 { lost.append(pid + bit + 1) }
        }
        #expect(lost == want.nack_lost)
    }

    /// Each invalid vector and the error it must raise.
    static let invalidVectors: [(String, RTCPParseError)] = [
        ("rtcp_bye_invalid.bin", .badByeLength(offset: 0)),
        ("rtcp_psfb_invalid.bin", .badFeedbackLength(type: 206, offset: 0)),
        ("rtcp_rr_invalid.bin", .badReportLength(type: 201, offset: 0)),
        ("rtcp_rtpfb_invalid.bin", .badFeedbackLength(type: 205, offset: 0)),
        ("rtcp_sdes_item_truncated.bin", .truncatedSDES(offset: 0)),
        ("rtcp_sdes_source_truncated.bin", .truncatedSDES(offset: 0)),
        ("rtcp_sr_invalid.bin", .badReportLength(type: 200, offset: 0)),
    ]

    @Test("every invalid vector is rejected with its error", arguments: invalidVectors)
    func invalid(_ name: String, _ error: RTCPParseError) throws {
        #expect(try truth(name).valid == false)
        #expect(parseRTCP(try Fixtures.aiortcPacket(name)) == .failure(error))
    }

    @Test("the truth file's invalid vectors are exactly the ones tested")
    func invalidListIsComplete() throws {
        let invalid = try Fixtures.aiortcTruth().packets.filter { !$0.value.valid }.keys.sorted()
        #expect(invalid == Self.invalidVectors.map(\.0).sorted())
    }

    @Test("rtcp_rr.bin with version 3 is rejected")
    func badVersion() throws {
        var bytes = try Fixtures.aiortcPacket("rtcp_rr.bin")
        bytes[0] = 0xC0
        #expect(parseRTCP(bytes) == .failure(.badVersion(3, offset: 0)))
    }

    @Test("every truncation of rtcp_rr.bin is rejected", arguments: 1..<32)
    func receiverReportTruncations(_ length: Int) throws {
        let bytes = Array(try Fixtures.aiortcPacket("rtcp_rr.bin").prefix(length))
        let want: RTCPParseError =
            length < 4 ? .truncatedHeader(offset: 0) : .lengthOverrun(offset: 0, declared: 32, available: length)
        #expect(parseRTCP(bytes) == .failure(want))
    }

    @Test("a padding count of zero is rejected (aiortc's derived BYE test)")
    func zeroPadding() throws {
        let head = Array(try Fixtures.aiortcPacket("rtcp_bye_padding.bin").prefix(4))
        #expect(parseRTCP(head + [0, 0, 0, 0]) == .failure(.badPadding(offset: 0)))
        // A count past the packet's body, and P on a packet with no body at all.
        #expect(parseRTCP(head + [0, 0, 0, 5]) == .failure(.badPadding(offset: 0)))
        #expect(parseRTCP([0xA0, 203, 0, 0]) == .failure(.badPadding(offset: 0)))
    }

    @Test("rtcp_sr.bin + rtcp_sdes.bin parse as one compound packet")
    func compound() throws {
        let sr = try Fixtures.aiortcPacket("rtcp_sr.bin")
        let sdes = try Fixtures.aiortcPacket("rtcp_sdes.bin")
        let both = try parseRTCP(sr + sdes).get()
        #expect(both.count == 2)
        #expect(both == (try parseRTCP(sr).get()) + (try parseRTCP(sdes).get()))
        guard case .senderReport? = both.first, case .sourceDescription? = both.last else {
            Issue.record("not SR then SDES: \(both)")
            return
        }
    }

    @Test("an error in the second packet of a compound carries that packet's offset")
    func compoundErrorOffsets() throws {
        let sr = try Fixtures.aiortcPacket("rtcp_sr.bin")
        let sdes = try Fixtures.aiortcPacket("rtcp_sdes.bin")
        // A whole header's worth that lies, and a length past the end.
        #expect(
            parseRTCP(sr + Array(sdes.prefix(4))) == .failure(.lengthOverrun(offset: 52, declared: 52, available: 4)))
        #expect(
            parseRTCP(sr + Array(sdes.prefix(8))) == .failure(.lengthOverrun(offset: 52, declared: 52, available: 8)))
        #expect(
            parseRTCP(sr + (try Fixtures.aiortcPacket("rtcp_rr_invalid.bin")))
                == .failure(.badReportLength(type: 201, offset: 52)))
        var v3 = sdes
        v3[0] = 0xC1
        #expect(parseRTCP(sr + v3) == .failure(.badVersion(3, offset: 52)))
    }

    @Test("fewer than 4 stray bytes after the last packet are ignored, as Wireshark does", arguments: 1...3)
    func strayTail(_ stray: Int) throws {
        let sr = try Fixtures.aiortcPacket("rtcp_sr.bin")
        let tail = Array(try Fixtures.aiortcPacket("rtcp_sdes.bin").prefix(stray))
        #expect(parseRTCP(sr + tail) == parseRTCP(sr))
        // Alone, they are not a packet at all.
        #expect(parseRTCP(tail) == .failure(.truncatedHeader(offset: 0)))
    }

    @Test("a three-packet compound: SR, SDES, BYE")
    func threePackets() throws {
        let bytes = try ["rtcp_sr.bin", "rtcp_sdes.bin", "rtcp_bye.bin"].flatMap { try Fixtures.aiortcPacket($0) }
        let packets = try parseRTCP(bytes).get()
        #expect(packets.count == 3)
        #expect(packets.last == .goodbye(sources: [2_924_645_187], reason: nil))
    }

    /// Loss words and the cumulative loss they carry (24-bit two's complement).
    @Test(
        "the cumulative loss is a signed 24-bit number",
        arguments: [
            (0x0000_0000, 0, 0), (0x1000_0001, 16, 1), (0xFF7F_FFFF, 255, 8_388_607), (0x0080_0000, 0, -8_388_608),
            (0x40FF_FFFF, 64, -1),
        ] as [(UInt32, UInt8, Int32)])
    func signedLoss(_ lossWord: UInt32, _ fraction: UInt8, _ cumulative: Int32) throws {
        var w = ByteWriter(bigEndian: true)
        w.append([0x81, 201, 0, 7])
        w.u32(0x1111_1111)  // reporter
        w.u32(0x2222_2222)  // source
        w.u32(lossWord)
        w.u32(70000)  // extended highest sequence
        w.u32(12)  // jitter
        w.u32(0xABCD_0000)  // LSR
        w.u32(65536)  // DLSR: one second
        let packets = try parseRTCP(w.bytes).get()
        #expect(
            packets == [
                .receiverReport(
                    ssrc: 0x1111_1111,
                    reports: [
                        RTCPReportBlock(
                            ssrc: 0x2222_2222, fractionLost: fraction, cumulativeLost: cumulative,
                            highestSequence: 70000,
                            jitter: 12, lastSR: 0xABCD_0000, delaySinceLastSR: 65536)
                    ])
            ])
    }

    @Test("a sender report with two report blocks, and one whose count promises more than its length")
    func twoReportBlocks() throws {
        var w = ByteWriter(bigEndian: true)
        w.append([0x82, 200, 0, 18])
        for v: UInt32 in [7, 1, 2, 3, 4, 5] { w.u32(v) }  // SSRC, NTP hi/lo, RTP ts, packets, octets
        for s: UInt32 in [100, 200] { for v in [s, 0, s + 1, s + 2, s + 3, s + 4] { w.u32(v) } }
        let packets = try parseRTCP(w.bytes).get()
        guard case .senderReport(7, let info, let reports)? = packets.first else {
            Issue.record("\(packets)")
            return
        }
        #expect(
            info.ntpTimestamp == 1 << 32 | 2 && info.rtpTimestamp == 3 && info.packetCount == 4 && info.octetCount == 5)
        #expect(reports.map(\.ssrc) == [100, 200] && reports.map(\.jitter) == [102, 202])
        var three = w.bytes
        three[0] = 0x83
        #expect(parseRTCP(three) == .failure(.badReportLength(type: 200, offset: 0)))
    }

    @Test("a BYE with a reason, and one whose reason runs past the packet")
    func goodbyeReason() {
        // 4 header + 4 SSRC + 1 length + 5 text = 14, padded to 16 bytes (length 3).
        let bye: [UInt8] = [0x81, 203, 0, 3, 0, 0, 0, 9, 5] + Array("hello".utf8) + [0, 0]
        #expect(parseRTCP(bye) == .success([.goodbye(sources: [9], reason: "hello")]))
        var long = bye
        long[8] = 7  // 7 bytes of reason, only 7 left after the length byte: fits
        #expect(parseRTCP(long) == .success([.goodbye(sources: [9], reason: "hello\0\0")]))
        long[8] = 8  // one byte too many
        #expect(parseRTCP(long) == .failure(.badByeLength(offset: 0)))
    }

    @Test("SDES: two chunks, two items in one, terminators inside a word")
    func sdesChunks() throws {
        let body: [UInt8] =
            [0, 0, 0, 1, 1, 2, 0x61, 0x62, 2, 1, 0x78, 0]  // SSRC 1, CNAME "ab", NAME "x", one null
            + [0, 0, 0, 2, 1, 3, 0x63, 0x64, 0x65, 0, 0, 0]  // SSRC 2, CNAME "cde", null + 2 pad
        let packet: [UInt8] = [0x82, 202, 0, UInt8(body.count / 4)] + body
        #expect(sdesSummary(try parseRTCP(packet).get()) == ["1: 1 ab, 2 x", "2: 1 cde"])
        // Claiming a third chunk that is not there is a truncated SDES.
        var three = packet
        three[0] = 0x83
        #expect(parseRTCP(three) == .failure(.truncatedSDES(offset: 0)))
        // An item whose length runs past the packet.
        var long = packet
        long[21] = 9
        #expect(parseRTCP(long) == .failure(.truncatedSDES(offset: 0)))
    }

    @Test("an item list that ends exactly at a 32-bit boundary takes a whole word of nulls")
    func sdesAlignment() throws {
        // SSRC, CNAME "AB" (4 bytes), the null word; then a second chunk.
        let body: [UInt8] = [0, 0, 0, 5, 1, 2, 0x41, 0x42, 0, 0, 0, 0] + [0, 0, 0, 6, 1, 1, 0x43, 0]
        let packet: [UInt8] = [0x82, 202, 0, UInt8(body.count / 4)] + body
        #expect(sdesSummary(try parseRTCP(packet).get()) == ["5: 1 AB", "6: 1 C"])
        // A chunk with no items is just its SSRC and a null word.
        let empty: [UInt8] = [0x81, 202, 0, 2, 0, 0, 0, 7, 0, 0, 0, 0]
        #expect(sdesSummary(try parseRTCP(empty).get()) == ["7: "])
    }

    @Test("APP and unknown packet types are kept opaque")
    func opaque() {
        let app: [UInt8] = [0x83, 204, 0, 2, 0, 0, 0, 1] + Array("NAME".utf8)
        #expect(parseRTCP(app) == .success([.other(type: 204, count: 3, body: [0, 0, 0, 1] + Array("NAME".utf8))]))
        let xr: [UInt8] = [0x80, 207, 0, 1, 1, 2, 3, 4]
        #expect(parseRTCP(xr) == .success([.other(type: 207, count: 0, body: [1, 2, 3, 4])]))
        // Padding is stripped from the opaque body.
        let padded: [UInt8] = [0xA0, 204, 0, 2, 9, 9, 0, 0, 0, 0, 0, 6]
        #expect(parseRTCP(padded) == .success([.other(type: 204, count: 0, body: [9, 9])]))
    }
}

/// SDES chunks as text, "ssrc: type text, type text", to compare (the item type has no public init).
private func sdesSummary(_ packets: [RTCPPacket]) -> [String] {
    packets.flatMap { p -> [String] in
        guard case .sourceDescription(let chunks) = p else { return ["not SDES"] }
        return chunks.map { c in
            String(c.ssrc, radix: 16) + ": " + c.items.map { "\($0.type) \($0.text)" }.joined(separator: ", ")
        }
    }
}

/// The big-endian 32-bit value at `offset` of `bytes`.
private func be32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
}

@Test("the in-place visitor accepts and rejects exactly what parseCompound does, and reads the same fields")
func visitorAgreesWithParser() {
    var rng = UInt64(7)
    func next() -> UInt8 {
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: rng >> 33)
    }
    let sr: [UInt8] = [0x81, 0xC8, 0x00, 0x0C] + (0..<48).map { UInt8($0) }
    let sdes: [UInt8] = [0x81, 0xCA, 0x00, 0x02, 0, 0, 0, 1, 1, 1, 0x41, 0]
    for i in 0..<3000 {
        var bytes = i % 2 == 0 ? sr + sdes : (0..<Int(next() % 64)).map { _ in next() }
        if i % 2 == 0 { for _ in 0..<Int(next() % 3) { bytes[Int(next()) % bytes.count] = next() } }
        bytes.withUnsafeBytes { raw in
            let parsed = try? RTCP.parseCompound(raw)
            var visited: [RTCPPacketView] = []
            let ok = (try? RTCP.forEachPacket(in: raw) { visited.append($0) }) != nil
            #expect(ok == (parsed != nil), "iteration \(i), seed 7")
            guard let parsed, ok else { return }
            #expect(visited.count == parsed.count, "iteration \(i)")
            for (v, p) in zip(visited, parsed) {
                if case .senderReport(let ssrc, let info, let blocks) = p {
                    #expect(v.senderSSRC == ssrc && v.senderInfo == info)
                    #expect((0..<v.reportCount).compactMap { v.reportBlock($0) } == blocks)
                }
            }
        }
    }
}
