/// Why bytes are not a valid RTCP compound packet (RFC 3550 §6).
public enum RTCPParseError: Error, Equatable, Sendable {
    /// Fewer than 4 bytes where a packet header should be, at `offset`.
    case truncatedHeader(offset: Int)
    /// The version field of the packet at `offset` is not 2.
    case badVersion(UInt8, offset: Int)
    /// The length field of the packet at `offset` runs past the end of the datagram.
    case lengthOverrun(offset: Int, declared: Int, available: Int)
    /// A sender or receiver report whose length cannot hold its report blocks.
    case badReportLength(type: UInt8, offset: Int)
    /// A BYE whose source count does not fit its length.
    case badByeLength(offset: Int)
    /// An SDES chunk or item runs past the end of its packet.
    case truncatedSDES(offset: Int)
    /// A feedback packet (RTPFB/PSFB) shorter than its 8 fixed bytes.
    case badFeedbackLength(type: UInt8, offset: Int)
    /// A padding count of zero or larger than the packet.
    case badPadding(offset: Int)
}

/// One reception report block of an SR or RR (RFC 3550 §6.4.1).
public struct RTCPReportBlock: Equatable, Sendable, Codable {
    /// The source this block reports on.
    public var ssrc: UInt32
    /// Fraction of packets lost since the last report, in 1/256 units.
    public var fractionLost: UInt8
    /// Cumulative packets lost (24-bit signed).
    public var cumulativeLost: Int32
    /// Extended highest sequence number received.
    public var highestSequence: UInt32
    /// Interarrival jitter, in timestamp units of the reported source.
    public var jitter: UInt32
    /// Middle 32 bits of the NTP timestamp of the last SR received from the source.
    public var lastSR: UInt32
    /// Delay since that SR, in units of 1/65536 s.
    public var delaySinceLastSR: UInt32

    /// A report block with the given fields.
    public init(
        ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, highestSequence: UInt32, jitter: UInt32,
        lastSR: UInt32, delaySinceLastSR: UInt32
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.highestSequence = highestSequence
        self.jitter = jitter
        self.lastSR = lastSR
        self.delaySinceLastSR = delaySinceLastSR
    }
}

/// Sender information of an SR (RFC 3550 §6.4.1).
public struct RTCPSenderInfo: Equatable, Sendable, Codable {
    /// 64-bit NTP wallclock time of the report.
    public var ntpTimestamp: UInt64
    /// The RTP timestamp that corresponds to `ntpTimestamp`.
    public var rtpTimestamp: UInt32
    /// Packets the sender has sent.
    public var packetCount: UInt32
    /// Payload octets the sender has sent.
    public var octetCount: UInt32

    /// Sender information with the given fields.
    public init(ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32) {
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
    }
}

/// One SDES item (type and text) of a chunk.
public struct RTCPSDESItem: Equatable, Sendable, Codable {
    /// The item type (1 CNAME, 2 NAME, … 8 PRIV).
    public var type: UInt8
    /// The item text, decoded as UTF-8 with invalid bytes replaced.
    public var text: String
}

/// One packet of an RTCP compound packet.
public enum RTCPPacket: Equatable, Sendable {
    /// Sender report (PT 200).
    case senderReport(ssrc: UInt32, sender: RTCPSenderInfo, reports: [RTCPReportBlock])
    /// Receiver report (PT 201).
    case receiverReport(ssrc: UInt32, reports: [RTCPReportBlock])
    /// Source description (PT 202): chunks of (SSRC/CSRC, items).
    case sourceDescription([(ssrc: UInt32, items: [RTCPSDESItem])])
    /// Goodbye (PT 203): the sources leaving and an optional reason.
    case goodbye(sources: [UInt32], reason: String?)
    /// Any other packet type (APP 204, feedback 205/206, XR 207, unknown), kept opaque.
    case other(type: UInt8, count: UInt8, body: [UInt8])

    public static func == (lhs: RTCPPacket, rhs: RTCPPacket) -> Bool {
        switch (lhs, rhs) {
        case let (.senderReport(a, b, c), .senderReport(d, e, f)): return a == d && b == e && c == f
        case let (.receiverReport(a, b), .receiverReport(c, d)): return a == c && b == d
        case let (.sourceDescription(a), .sourceDescription(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.ssrc == $1.ssrc && $0.items == $1.items }
        case let (.goodbye(a, b), .goodbye(c, d)): return a == c && b == d
        case let (.other(a, b, c), .other(d, e, f)): return a == d && b == e && c == f
        default: return false
        }
    }
}

/// RTCP packet type numbers (RFC 3550 §12.1, RFC 4585).
public enum RTCPPacketType {
    /// SR.
    public static let senderReport: UInt8 = 200
    /// RR.
    public static let receiverReport: UInt8 = 201
    /// SDES.
    public static let sourceDescription: UInt8 = 202
    /// BYE.
    public static let goodbye: UInt8 = 203
    /// APP.
    public static let application: UInt8 = 204
    /// RTPFB (RFC 4585).
    public static let transportFeedback: UInt8 = 205
    /// PSFB (RFC 4585).
    public static let payloadFeedback: UInt8 = 206
}

/// Parsing of RTCP compound packets.
public enum RTCP {
    /// Parses every packet of a compound RTCP datagram. A malformed packet anywhere
    /// rejects the whole datagram, as RFC 3550 §6.1 validity checks ask. (The media plane
    /// reads packets in place with `forEachPacket`; this builds values for reports.)
    public static func parseCompound(_ data: UnsafeRawBufferPointer) throws(RTCPParseError) -> [RTCPPacket] {
        var packets: [RTCPPacket] = []
        try forEachPacket(in: data) { packets.append(RTCPPacket($0)) }
        return packets
    }
}

extension RTCPPacket {
    /// The value of a validated packet view.
    init(_ v: RTCPPacketView) {
        let body = v.body
        switch v.type {
        case RTCPPacketType.senderReport:
            self = .senderReport(
                ssrc: v.senderSSRC!, sender: v.senderInfo!, reports: (0..<v.reportCount).compactMap { v.reportBlock($0) })
        case RTCPPacketType.receiverReport:
            self = .receiverReport(ssrc: v.senderSSRC!, reports: (0..<v.reportCount).compactMap { v.reportBlock($0) })
        case RTCPPacketType.sourceDescription:
            var chunks: [(ssrc: UInt32, items: [RTCPSDESItem])] = []
            var o = 0
            for _ in 0..<Int(v.count) {
                // Safe: `forEachPacket` checked every chunk and item fits.
                let ssrc = body.be32(o)!
                o += 4
                var items: [RTCPSDESItem] = []
                while let type = body.u8(o), type != 0 {
                    let n = Int(body.u8(o + 1)!)
                    items.append(RTCPSDESItem(type: type, text: String(decoding: body.slice(o + 2, n)!, as: UTF8.self)))
                    o += 2 + n
                }
                // The item list ends with a zero byte, then pads to a 32-bit boundary.
                o = (o + 4) & ~3
                chunks.append((ssrc, items))
            }
            self = .sourceDescription(chunks)
        case RTCPPacketType.goodbye:
            let sources = (0..<Int(v.count)).map { body.be32($0 * 4)! }
            let at = Int(v.count) * 4
            var reason: String? = nil
            if let n = body.u8(at), n > 0 { reason = String(decoding: body.slice(at + 1, Int(n))!, as: UTF8.self) }
            self = .goodbye(sources: sources, reason: reason)
        default:
            self = .other(type: v.type, count: v.count, body: Array(body))
        }
    }
}

/// One packet of a validated compound RTCP datagram, read in place: what the live media
/// plane uses, since it allocates nothing (`RTCP.parseCompound` builds arrays).
public struct RTCPPacketView {
    /// The packet type (200 SR, 201 RR, 202 SDES, 203 BYE, …).
    public let type: UInt8
    /// The 5-bit count field (report blocks, chunks, sources).
    public let count: UInt8
    /// The body after the 4-byte header, padding removed.
    public let body: UnsafeRawBufferPointer

    /// The sender SSRC of an SR or RR.
    public var senderSSRC: UInt32? {
        type == RTCPPacketType.senderReport || type == RTCPPacketType.receiverReport ? body.be32(0) : nil
    }

    /// The sender information of an SR.
    public var senderInfo: RTCPSenderInfo? {
        guard type == RTCPPacketType.senderReport, body.count >= 24 else { return nil }
        return RTCPSenderInfo(
            ntpTimestamp: UInt64(body.be32(4)!) << 32 | UInt64(body.be32(8)!), rtpTimestamp: body.be32(12)!,
            packetCount: body.be32(16)!, octetCount: body.be32(20)!)
    }

    /// Report blocks of an SR or RR.
    public var reportCount: Int {
        type == RTCPPacketType.senderReport || type == RTCPPacketType.receiverReport ? Int(count) : 0
    }

    /// Report block `index` of an SR or RR.
    public func reportBlock(_ index: Int) -> RTCPReportBlock? {
        guard index >= 0, index < reportCount else { return nil }
        let o = (type == RTCPPacketType.senderReport ? 24 : 4) + index * 24
        guard let ssrc = body.be32(o), let lossWord = body.be32(o + 4), let high = body.be32(o + 8),
            let jitter = body.be32(o + 12), let lsr = body.be32(o + 16), let dlsr = body.be32(o + 20)
        else { return nil }
        return RTCPReportBlock(
            ssrc: ssrc, fractionLost: UInt8(lossWord >> 24), cumulativeLost: Int32(bitPattern: lossWord << 8) >> 8,
            highestSequence: high, jitter: jitter, lastSR: lsr, delaySinceLastSR: dlsr)
    }
}

extension RTCP {
    /// Validates a compound datagram as `parseCompound` does, then hands each packet to
    /// `visit` in order. Nothing is visited if any packet is malformed. Allocates nothing.
    public static func forEachPacket(
        in data: UnsafeRawBufferPointer, _ visit: (RTCPPacketView) -> Void
    ) throws(RTCPParseError) {
        try walk(data) { _ in }
        try walk(data, visit)
    }

    private static func walk(_ data: UnsafeRawBufferPointer, _ visit: (RTCPPacketView) -> Void) throws(RTCPParseError) {
        var offset = 0
        while data.count - offset >= 4 || (offset == 0 && data.count > 0) {
            guard let b0 = data.u8(offset), let type = data.u8(offset + 1), let words = data.be16(offset + 2) else {
                throw .truncatedHeader(offset: offset)
            }
            guard b0 >> 6 == 2 else { throw .badVersion(b0 >> 6, offset: offset) }
            let total = 4 + Int(words) * 4
            guard let packet = data.slice(offset, total) else {
                throw .lengthOverrun(offset: offset, declared: total, available: data.count - offset)
            }
            var end = total
            if b0 & 0x20 != 0 {
                let pad = Int(packet[total - 1])
                guard pad > 0, pad <= total - 4 else { throw .badPadding(offset: offset) }
                end -= pad
            }
            let count = b0 & 0x1F
            let body = UnsafeRawBufferPointer(rebasing: packet[4..<end])
            try check(type: type, count: count, body: body, offset: offset)
            visit(RTCPPacketView(type: type, count: count, body: body))
            offset += total
        }
    }

    /// The structural checks of one packet, without building anything.
    private static func check(type: UInt8, count: UInt8, body: UnsafeRawBufferPointer, offset: Int) throws(RTCPParseError) {
        switch type {
        case RTCPPacketType.senderReport:
            guard body.count >= 24 + Int(count) * 24 else { throw .badReportLength(type: type, offset: offset) }
        case RTCPPacketType.receiverReport:
            guard body.count >= 4 + Int(count) * 24 else { throw .badReportLength(type: type, offset: offset) }
        case RTCPPacketType.goodbye:
            guard body.count >= Int(count) * 4 else { throw .badByeLength(offset: offset) }
            let reasonAt = Int(count) * 4
            if let n = body.u8(reasonAt), n > 0, body.slice(reasonAt + 1, Int(n)) == nil { throw .badByeLength(offset: offset) }
        case RTCPPacketType.sourceDescription:
            var o = 0
            for _ in 0..<Int(count) {
                guard body.be32(o) != nil else { throw .truncatedSDES(offset: offset) }
                o += 4
                while true {
                    guard let t = body.u8(o) else { throw .truncatedSDES(offset: offset) }
                    if t == 0 {
                        o = (o + 4) & ~3
                        break
                    }
                    guard let n = body.u8(o + 1), body.slice(o + 2, Int(n)) != nil else { throw .truncatedSDES(offset: offset) }
                    o += 2 + Int(n)
                }
            }
        case RTCPPacketType.transportFeedback, RTCPPacketType.payloadFeedback:
            guard body.count >= 8 else { throw .badFeedbackLength(type: type, offset: offset) }
        default:
            break
        }
    }
}

/// Writes RTCP compound packets into a caller's buffer, allocating nothing.
public enum RTCPWriter {
    /// Writes an SR (when `sender` is given) or an RR with `blocks` (at most 31), followed by an
    /// SDES with one CNAME item, as RFC 3550 §6.1 requires of every compound packet.
    /// Returns the bytes written, or nil if `buffer` is too small or the CNAME over 255 bytes.
    public static func writeReport(
        into buffer: UnsafeMutableRawBufferPointer, ssrc: UInt32, sender: RTCPSenderInfo?,
        blocks: some Collection<RTCPReportBlock>, cname: UnsafeRawBufferPointer
    ) -> Int? {
        guard blocks.count <= 31, cname.count <= 255 else { return nil }
        let reportLength = 8 + (sender == nil ? 0 : 20) + 24 * blocks.count
        // SDES: header 4, SSRC 4, item 2 + text, end byte(s), padded to 4.
        let sdesBody = 4 + 2 + cname.count + 1
        let sdesLength = 4 + (sdesBody + 3) & ~3
        guard buffer.count >= reportLength + sdesLength else { return nil }
        buffer[0] = 0x80 | UInt8(blocks.count)
        buffer[1] = sender == nil ? RTCPPacketType.receiverReport : RTCPPacketType.senderReport
        buffer.storeBE16(UInt16(reportLength / 4 - 1), at: 2)
        buffer.storeBE32(ssrc, at: 4)
        var o = 8
        if let s = sender {
            buffer.storeBE32(UInt32(truncatingIfNeeded: s.ntpTimestamp >> 32), at: o)
            buffer.storeBE32(UInt32(truncatingIfNeeded: s.ntpTimestamp), at: o + 4)
            buffer.storeBE32(s.rtpTimestamp, at: o + 8)
            buffer.storeBE32(s.packetCount, at: o + 12)
            buffer.storeBE32(s.octetCount, at: o + 16)
            o += 20
        }
        for b in blocks {
            buffer.storeBE32(b.ssrc, at: o)
            let lost = UInt32(bitPattern: max(min(b.cumulativeLost, 0x7F_FFFF), -0x80_0000)) & 0xFF_FFFF
            buffer.storeBE32(UInt32(b.fractionLost) << 24 | lost, at: o + 4)
            buffer.storeBE32(b.highestSequence, at: o + 8)
            buffer.storeBE32(b.jitter, at: o + 12)
            buffer.storeBE32(b.lastSR, at: o + 16)
            buffer.storeBE32(b.delaySinceLastSR, at: o + 20)
            o += 24
        }
        let sdesStart = o
        buffer[o] = 0x81
        buffer[o + 1] = RTCPPacketType.sourceDescription
        buffer.storeBE16(UInt16(sdesLength / 4 - 1), at: o + 2)
        buffer.storeBE32(ssrc, at: o + 4)
        buffer[o + 8] = 1  // CNAME
        buffer[o + 9] = UInt8(cname.count)
        for i in 0..<cname.count { buffer[o + 10 + i] = cname[i] }
        o += 10 + cname.count
        // The item list ends with a zero byte; pad with zeros to the 32-bit boundary.
        while o < sdesStart + sdesLength {
            buffer[o] = 0
            o += 1
        }
        return o
    }

    /// Writes a BYE for `ssrc` (no reason). Returns 8, or nil if `buffer` is too small.
    public static func writeBye(into buffer: UnsafeMutableRawBufferPointer, ssrc: UInt32) -> Int? {
        guard buffer.count >= 8 else { return nil }
        buffer[0] = 0x81
        buffer[1] = RTCPPacketType.goodbye
        buffer.storeBE16(1, at: 2)
        buffer.storeBE32(ssrc, at: 4)
        return 8
    }
}
