/// An IPv4 or IPv6 address, stored inline (no allocation).
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address, in host order.
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves, high first.
    case v6(UInt64, UInt64)

    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)"
        case .v6(let hi, let lo):
            var groups: [UInt16] = []
            for i in 0..<4 { groups.append(UInt16(truncatingIfNeeded: hi >> UInt64(48 - 16 * i))) }
            for i in 0..<4 { groups.append(UInt16(truncatingIfNeeded: lo >> UInt64(48 - 16 * i))) }
            // RFC 5952: compress the longest run (≥ 2) of zero groups.
            var bestStart = -1
            var bestLength = 1
            var i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > bestLength {
                        bestStart = i
                        bestLength = j - i
                    }
                    i = j
                } else {
                    i += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    /// Parses a dotted IPv4 or an IPv6 text address.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        if s.contains(":") {
            guard let v = IPAddress.parseV6(s) else { return nil }
            self = v
        } else {
            let parts = s.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var a: UInt32 = 0
            for p in parts {
                guard let b = UInt8(p) else { return nil }
                a = a << 8 | UInt32(b)
            }
            self = .v4(a)
        }
    }

    private static func parseV6(_ s: String) -> IPAddress? {
        var halves: [String] = []
        var rest = Substring(s)
        while let r = rest.firstRange(of: "::") {
            halves.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        halves.append(String(rest))
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(all[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(all[i]) }
        return .v6(hi, lo)
    }

    /// True for IPv6.
    public var isV6: Bool { if case .v6 = self { return true } else { return false } }
}

/// An address and UDP port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// The IP address.
    public var address: IPAddress
    /// The UDP port.
    public var port: UInt16

    /// An endpoint.
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String {
        address.isV6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// A UDP datagram found in a frame.
public struct UDPDatagram {
    /// Sender.
    public var source: Endpoint
    /// Receiver.
    public var destination: Endpoint
    /// The UDP payload.
    public var payload: UnsafeRawBufferPointer
}

/// What the link/IP/UDP decoder made of one frame.
public enum FrameDecodeResult {
    /// A whole UDP datagram.
    case udp(UDPDatagram)
    /// An IPv4 fragment, handed to the reassembler.
    case ipv4Fragment(IPv4Fragment)
    /// Not UDP over IP (ARP, TCP, ICMP, …): nothing to do.
    case notUDP
    /// A link type this decoder does not know.
    case unsupportedLinkType(UInt32)
    /// A header whose length fields lie or that the capture cut short: dropped and counted.
    case malformed(String)
}

/// One IPv4 fragment (RFC 791), with the fields reassembly needs.
public struct IPv4Fragment {
    /// Source address.
    public var source: UInt32
    /// Destination address.
    public var destination: UInt32
    /// The identification field.
    public var identification: UInt16
    /// The protocol field.
    public var proto: UInt8
    /// Offset of this fragment's data in the original payload, in bytes.
    public var offsetBytes: Int
    /// The more-fragments flag.
    public var moreFragments: Bool
    /// This fragment's data.
    public var data: UnsafeRawBufferPointer
}

/// Decodes link layer, IPv4/IPv6 and UDP headers in place.
public enum FrameDecoder {
    /// Decodes `frame` down to its UDP datagram.
    public static func decode(_ frame: UnsafeRawBufferPointer, linkType: UInt32) -> FrameDecodeResult {
        switch linkType {
        case LinkType.ethernet:
            guard var type = frame.be16(12) else { return .malformed("Ethernet header cut short") }
            var o = 14
            // 802.1Q, 802.1ad (QinQ) and the old 0x9100 tag: skip each 4-byte tag.
            while type == 0x8100 || type == 0x88A8 || type == 0x9100 {
                guard let t = frame.be16(o + 2) else { return .malformed("VLAN tag cut short") }
                type = t
                o += 4
            }
            return ip(frame, at: o, etherType: type)
        case LinkType.linuxSLL:
            guard let type = frame.be16(14) else { return .malformed("Linux cooked header cut short") }
            return ip(frame, at: 16, etherType: type)
        case LinkType.linuxSLL2:
            guard let type = frame.be16(0), frame.count >= 20 else { return .malformed("Linux cooked v2 header cut short") }
            return ip(frame, at: 20, etherType: type)
        case LinkType.raw, LinkType.rawAlt12, LinkType.rawAlt14, LinkType.ipv4, LinkType.ipv6:
            guard let b = frame.u8(0) else { return .malformed("empty raw IP frame") }
            return ip(frame, at: 0, etherType: b >> 4 == 6 ? 0x86DD : 0x0800)
        case LinkType.null, LinkType.loop:
            guard let le = frame.u32(0, bigEndian: false) else { return .malformed("loopback header cut short") }
            let family = linkType == LinkType.loop ? le.byteSwapped : (le > 0xFFFF ? le.byteSwapped : le)
            switch family {
            case 2: return ip(frame, at: 4, etherType: 0x0800)
            case 10, 24, 28, 30: return ip(frame, at: 4, etherType: 0x86DD)  // AF_INET6 on Linux, BSDs, macOS
            default: return .notUDP
            }
        default:
            return .unsupportedLinkType(linkType)
        }
    }

    private static func ip(_ frame: UnsafeRawBufferPointer, at o: Int, etherType: UInt16) -> FrameDecodeResult {
        switch etherType {
        case 0x0800: return ipv4(frame, at: o)
        case 0x86DD: return ipv6(frame, at: o)
        default: return .notUDP
        }
    }

    private static func ipv4(_ frame: UnsafeRawBufferPointer, at o: Int) -> FrameDecodeResult {
        guard let b0 = frame.u8(o), b0 >> 4 == 4 else { return .malformed("IPv4 version field is not 4") }
        let headerLength = Int(b0 & 0x0F) * 4
        guard headerLength >= 20, let total = frame.be16(o + 2), let flagsFrag = frame.be16(o + 6),
            let proto = frame.u8(o + 9), let src = frame.be32(o + 12), let dst = frame.be32(o + 16)
        else { return .malformed("IPv4 header cut short or header length below 20") }
        guard Int(total) >= headerLength else { return .malformed("IPv4 total length \(total) below its header") }
        guard let packet = frame.slice(o, Int(total)) else {
            return .malformed("IPv4 total length \(total) exceeds the \(frame.count - o) bytes captured")
        }
        guard proto == 17 else { return .notUDP }
        let data = UnsafeRawBufferPointer(rebasing: packet[headerLength...])
        let moreFragments = flagsFrag & 0x2000 != 0
        let fragmentOffset = Int(flagsFrag & 0x1FFF) * 8
        if moreFragments || fragmentOffset > 0 {
            return .ipv4Fragment(
                IPv4Fragment(
                    source: src, destination: dst, identification: frame.be16(o + 4)!, proto: proto,
                    offsetBytes: fragmentOffset, moreFragments: moreFragments, data: data))
        }
        return udp(data, src: .v4(src), dst: .v4(dst))
    }

    private static func ipv6(_ frame: UnsafeRawBufferPointer, at o: Int) -> FrameDecodeResult {
        guard let b0 = frame.u8(o), b0 >> 4 == 6, let payloadLength = frame.be16(o + 4),
            var next = frame.u8(o + 6), frame.count >= o + 40
        else { return .malformed("IPv6 header cut short") }
        func half(_ at: Int) -> UInt64 { UInt64(frame.be32(at)!) << 32 | UInt64(frame.be32(at + 4)!) }
        let src = IPAddress.v6(half(o + 8), half(o + 16))
        let dst = IPAddress.v6(half(o + 24), half(o + 32))
        guard let packet = frame.slice(o + 40, Int(payloadLength)) else {
            return .malformed("IPv6 payload length \(payloadLength) exceeds the \(frame.count - o - 40) bytes captured")
        }
        var p = 0
        // Walk the extension headers to UDP.
        while true {
            switch next {
            case 17:
                return udp(UnsafeRawBufferPointer(rebasing: packet[p...]), src: src, dst: dst)
            case 0, 43, 60:  // hop-by-hop, routing, destination options
                guard let n = packet.u8(p), let len = packet.u8(p + 1), packet.count >= p + (Int(len) + 1) * 8 else {
                    return .malformed("IPv6 extension header cut short")
                }
                next = n
                p += (Int(len) + 1) * 8
            case 44:
                return .malformed("IPv6 fragment (not reassembled)")
            default:
                return .notUDP
            }
        }
    }

    /// Decodes a UDP header and payload (used for reassembled IPv4 datagrams too).
    public static func udp(_ data: UnsafeRawBufferPointer, src: IPAddress, dst: IPAddress) -> FrameDecodeResult {
        guard let sport = data.be16(0), let dport = data.be16(2), let length = data.be16(4) else {
            return .malformed("UDP header cut short")
        }
        // A zero length is legal only for IPv6 jumbograms; treat it as "to the end".
        let udpLength = length == 0 ? data.count : Int(length)
        guard udpLength >= 8 else { return .malformed("UDP length \(length) below its header") }
        guard let payload = data.slice(8, udpLength - 8) else {
            return .malformed("UDP length \(length) exceeds the \(data.count) bytes that follow")
        }
        return .udp(
            UDPDatagram(
                source: Endpoint(address: src, port: sport), destination: Endpoint(address: dst, port: dport),
                payload: payload))
    }
}
