import SautiWire
import Testing

/// Builders for link, IP and UDP headers, to make frames in memory.
enum Build {
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xFFFF)) }

    /// A UDP header (checksum 0) and payload; `length` overrides the length field.
    static func udp(_ sport: UInt16, _ dport: UInt16, _ payload: [UInt8], length: UInt16? = nil) -> [UInt8] {
        be16(sport) + be16(dport) + be16(length ?? UInt16(8 + payload.count)) + [0, 0] + payload
    }

    /// An IPv4 header with a correct checksum, then `payload`.
    static func ipv4(
        _ src: String, _ dst: String, proto: UInt8 = 17, _ payload: [UInt8], identification: UInt16 = 0x1234,
        flagsFragment: UInt16 = 0x4000, totalLength: UInt16? = nil, options: [UInt8] = []
    ) -> [UInt8] {
        let headerLength = 20 + options.count
        var h: [UInt8] =
            [0x40 | UInt8(headerLength / 4), 0] + be16(totalLength ?? UInt16(headerLength + payload.count))
        h += be16(identification) + be16(flagsFragment) + [64, proto, 0, 0]
        h += ipv4Bytes(src) + ipv4Bytes(dst) + options
        var sum: UInt32 = 0
        for i in stride(from: 0, to: h.count, by: 2) { sum += UInt32(h[i]) << 8 | UInt32(h[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        h[10...11] = ArraySlice(be16(~UInt16(sum)))
        return h + payload
    }

    /// An IPv6 header, then `payload` (extension headers included).
    static func ipv6(_ src: String, _ dst: String, next: UInt8 = 17, _ payload: [UInt8], payloadLength: UInt16? = nil)
        -> [UInt8]
    {
        [0x60, 0, 0, 0] + be16(payloadLength ?? UInt16(payload.count)) + [next, 64] + ipv6Bytes(src) + ipv6Bytes(dst)
            + payload
    }

    /// A hop-by-hop, destination-options or routing header of `(units + 1) · 8` bytes.
    static func extensionHeader(next: UInt8, units: UInt8 = 0) -> [UInt8] {
        let length = (Int(units) + 1) * 8
        // PadN filling the rest (for options headers; a routing header just carries bytes).
        return [next, units, 1, UInt8(length - 4)] + [UInt8](repeating: 0, count: length - 4)
    }

    /// An Ethernet header with VLAN tags (TPID, TCI), then `payload`.
    static func ethernet(type: UInt16, tags: [(UInt16, UInt16)] = [], _ payload: [UInt8]) -> [UInt8] {
        var f: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]
        for (tpid, tci) in tags { f += be16(tpid) + be16(tci) }
        return f + be16(type) + payload
    }

    /// Linux cooked capture v1: packet type, ARPHRD, address length, 8 address bytes, protocol.
    static func sll(protocol p: UInt16, _ payload: [UInt8]) -> [UInt8] {
        be16(0) + be16(1) + be16(6) + [2, 0, 0, 0, 0, 1, 0, 0] + be16(p) + payload
    }

    /// Linux cooked capture v2: protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes.
    static func sll2(protocol p: UInt16, _ payload: [UInt8]) -> [UInt8] {
        be16(p) + [0, 0] + be32(3) + be16(1) + [4, 6] + [2, 0, 0, 0, 0, 1, 0, 0] + payload
    }

    /// BSD loopback: the address family as a 32-bit number in the given byte order.
    static func loopback(family: UInt32, bigEndian: Bool, _ payload: [UInt8]) -> [UInt8] {
        let b = be32(family)
        return (bigEndian ? b : b.reversed()) + payload
    }
}

/// A decode result as plain values, to compare.
enum Decoded: Equatable, CustomStringConvertible {
    case udp(source: String, destination: String, payload: [UInt8])
    case fragment(offset: Int, more: Bool, identification: UInt16, data: [UInt8])
    case notUDP
    case unsupported(UInt32)
    case malformed

    init(_ r: FrameDecodeResult) {
        switch r {
        case .udp(let d): self = .udp(source: "\(d.source)", destination: "\(d.destination)", payload: Array(d.payload))
        case .ipv4Fragment(let f):
            self = .fragment(
                offset: f.offsetBytes, more: f.moreFragments, identification: f.identification, data: Array(f.data))
        case .notUDP: self = .notUDP
        case .unsupportedLinkType(let t): self = .unsupported(t)
        case .malformed: self = .malformed
        }
    }

    var description: String {
        switch self {
        case .udp(let s, let d, let p): return "udp \(s) > \(d) \(p.count) bytes"
        case .fragment(let o, let m, let i, let d): return "fragment id \(i) @\(o) more \(m) \(d.count) bytes"
        case .notUDP: return "not UDP"
        case .unsupported(let t): return "unsupported link \(t)"
        case .malformed: return "malformed"
        }
    }
}

/// Decodes `frame` and returns the result as values.
func decode(_ frame: [UInt8], _ linkType: UInt32) -> Decoded {
    frame.withUnsafeBytes { Decoded(FrameDecoder.decode($0, linkType: linkType)) }
}

@Suite struct FrameDecoderTests {
    static let payload: [UInt8] = [0x80, 0x00, 0x00, 0x01] + Array("an RTP-ish payload".utf8)
    static let udp4 = Build.udp(4000, 5004, payload)
    static let ipv4 = Build.ipv4("192.0.2.1", "198.51.100.2", udp4)
    static let ipv6 = Build.ipv6("2001:db8::1", "2001:db8:0:1::2", udp4)
    static let v4 = ("192.0.2.1:4000", "198.51.100.2:5004")
    static let v6 = ("[2001:db8::1]:4000", "[2001:db8:0:1::2]:5004")

    /// A frame of some encapsulation that must decode to `payload` between the given endpoints.
    struct LinkCase: Sendable, CustomTestStringConvertible {
        var name: String
        var linkType: UInt32
        var frame: [UInt8]
        var source: String
        var destination: String

        var testDescription: String { name }
    }

    static let linkCases: [LinkCase] = {
        var c: [LinkCase] = []
        func add(_ name: String, _ link: UInt32, _ frame: [UInt8], _ v6: Bool) {
            let e = v6 ? FrameDecoderTests.v6 : FrameDecoderTests.v4
            c.append(LinkCase(name: name, linkType: link, frame: frame, source: e.0, destination: e.1))
        }
        add("Ethernet IPv4", LinkType.ethernet, Build.ethernet(type: 0x0800, ipv4), false)
        add("Ethernet IPv6", LinkType.ethernet, Build.ethernet(type: 0x86DD, ipv6), true)
        add("Ethernet 802.1Q IPv4", LinkType.ethernet, Build.ethernet(type: 0x0800, tags: [(0x8100, 100)], ipv4), false)
        add(
            "Ethernet QinQ IPv4", LinkType.ethernet,
            Build.ethernet(type: 0x0800, tags: [(0x88A8, 200), (0x8100, 100)], ipv4), false)
        add(
            "Ethernet QinQ (0x9100) IPv6", LinkType.ethernet,
            Build.ethernet(type: 0x86DD, tags: [(0x9100, 7), (0x8100, 8)], ipv6), true)
        add("Linux SLL IPv4", LinkType.linuxSLL, Build.sll(protocol: 0x0800, ipv4), false)
        add("Linux SLL IPv6", LinkType.linuxSLL, Build.sll(protocol: 0x86DD, ipv6), true)
        add("Linux SLL2 IPv4", LinkType.linuxSLL2, Build.sll2(protocol: 0x0800, ipv4), false)
        add("Linux SLL2 IPv6", LinkType.linuxSLL2, Build.sll2(protocol: 0x86DD, ipv6), true)
        for link in [LinkType.raw, LinkType.rawAlt12, LinkType.rawAlt14, LinkType.ipv4] {
            add("raw IPv4 (link \(link))", link, ipv4, false)
        }
        let hopByHop = Build.ipv6(
            "2001:db8::1", "2001:db8:0:1::2", next: 0, Build.extensionHeader(next: 17) + udp4)
        add("raw IPv6 with hop-by-hop options", LinkType.raw, hopByHop, true)
        add("IPv6 link type, hop-by-hop", LinkType.ipv6, hopByHop, true)
        let chain = Build.ipv6(
            "2001:db8::1", "2001:db8:0:1::2", next: 0,
            Build.extensionHeader(next: 60) + Build.extensionHeader(next: 43, units: 1)
                + Build.extensionHeader(next: 17, units: 2)
                + udp4)
        add("raw IPv6: hop-by-hop, destination options, routing", LinkType.raw, chain, true)
        for bigEndian in [false, true] {
            let order = bigEndian ? "big-endian" : "little-endian"
            add(
                "DLT_NULL AF_INET \(order)", LinkType.null, Build.loopback(family: 2, bigEndian: bigEndian, ipv4), false
            )
            for family: UInt32 in [24, 28, 30, 10] {
                add(
                    "DLT_NULL AF_INET6=\(family) \(order)", LinkType.null,
                    Build.loopback(family: family, bigEndian: bigEndian, ipv6), true)
            }
        }
        add("LOOP AF_INET", LinkType.loop, Build.loopback(family: 2, bigEndian: true, ipv4), false)
        add("LOOP AF_INET6=24", LinkType.loop, Build.loopback(family: 24, bigEndian: true, ipv6), true)
        return c
    }()

    @Test("each encapsulation decodes to the UDP datagram", arguments: linkCases)
    func encapsulation(_ c: LinkCase) {
        #expect(
            decode(c.frame, c.linkType) == .udp(source: c.source, destination: c.destination, payload: Self.payload))
    }

    @Test("every cut of every frame is malformed, and nothing past the cut is read", arguments: linkCases)
    func truncations(_ c: LinkCase) {
        // The cut is a view of the whole frame, so a decoder that read past its end would find
        // valid bytes there and succeed.
        c.frame.withUnsafeBytes { whole in
            for n in 0..<c.frame.count {
                let result = Decoded(
                    FrameDecoder.decode(UnsafeRawBufferPointer(rebasing: whole[0..<n]), linkType: c.linkType))
                #expect(result == .malformed, "cut at \(n) of \(c.frame.count): \(result)")
            }
        }
    }

    @Test("bytes after the IP packet (Ethernet padding) are not payload")
    func ethernetTrailer() {
        let short = Build.ipv4("192.0.2.1", "198.51.100.2", Build.udp(4000, 5004, [1, 2]))
        var frame = Build.ethernet(type: 0x0800, short)
        frame += [UInt8](repeating: 0xEE, count: 60 - frame.count) + [0xDE, 0xAD, 0xBE, 0xEF]  // padding and FCS
        #expect(decode(frame, LinkType.ethernet) == .udp(source: Self.v4.0, destination: Self.v4.1, payload: [1, 2]))
        // A UDP length shorter than the IP payload bounds the payload too.
        let inner = Build.ipv4("192.0.2.1", "198.51.100.2", Build.udp(4000, 5004, [1, 2, 3, 4], length: 10))
        #expect(decode(inner, LinkType.raw) == .udp(source: Self.v4.0, destination: Self.v4.1, payload: [1, 2]))
    }

    @Test("IPv4 options are skipped")
    func ipv4Options() {
        let withOptions = Build.ipv4("192.0.2.1", "198.51.100.2", Self.udp4, options: [0x94, 4, 0, 0])  // router alert
        #expect(
            decode(withOptions, LinkType.raw) == .udp(source: Self.v4.0, destination: Self.v4.1, payload: Self.payload))
    }

    @Test("a UDP length of zero means to the end of the IP payload")
    func zeroUDPLength() {
        let jumbo = Build.ipv6("2001:db8::1", "2001:db8:0:1::2", Build.udp(4000, 5004, [9, 8, 7], length: 0))
        #expect(decode(jumbo, LinkType.raw) == .udp(source: Self.v6.0, destination: Self.v6.1, payload: [9, 8, 7]))
    }

    @Test("frames whose length fields exceed the captured bytes are malformed")
    func lyingLengths() {
        // IPv4 total length 1 byte past the frame.
        let long = Build.ipv4("192.0.2.1", "198.51.100.2", Self.udp4, totalLength: UInt16(20 + Self.udp4.count + 1))
        #expect(decode(long, LinkType.raw) == .malformed)
        #expect(decode(Build.ethernet(type: 0x0800, long), LinkType.ethernet) == .malformed)
        // UDP length 1 byte past the IP payload.
        let udpLong = Build.ipv4(
            "192.0.2.1", "198.51.100.2", Build.udp(4000, 5004, Self.payload, length: UInt16(8 + Self.payload.count + 1))
        )
        #expect(decode(udpLong, LinkType.raw) == .malformed)
        // IPv6 payload length 1 byte past the frame.
        let v6Long = Build.ipv6("2001:db8::1", "2001:db8::2", Self.udp4, payloadLength: UInt16(Self.udp4.count + 1))
        #expect(decode(v6Long, LinkType.raw) == .malformed)
        // An extension header longer than the IPv6 payload.
        let extLong = Build.ipv6("2001:db8::1", "2001:db8::2", next: 0, [17, 200, 1, 0, 0, 0, 0, 0] + Self.udp4)
        #expect(decode(extLong, LinkType.raw) == .malformed)
    }

    @Test("header fields below their minimum are malformed")
    func belowMinimum() {
        var ihl4 = Self.ipv4
        ihl4[0] = 0x44
        #expect(decode(ihl4, LinkType.raw) == .malformed)
        let totalBelowHeader = Build.ipv4("192.0.2.1", "198.51.100.2", Self.udp4, totalLength: 19)
        #expect(decode(totalBelowHeader, LinkType.raw) == .malformed)
        let udpShort = Build.ipv4("192.0.2.1", "198.51.100.2", Build.udp(4000, 5004, Self.payload, length: 7))
        #expect(decode(udpShort, LinkType.raw) == .malformed)
        // An EtherType saying IPv4 over an IPv6 packet, and the other way round.
        #expect(decode(Build.ethernet(type: 0x0800, Self.ipv6), LinkType.ethernet) == .malformed)
        #expect(decode(Build.ethernet(type: 0x86DD, Self.ipv4), LinkType.ethernet) == .malformed)
        // An IPv6 fragment header: not reassembled.
        let v6Fragment = Build.ipv6("2001:db8::1", "2001:db8::2", next: 44, [17, 0, 0, 1, 0, 0, 0, 9] + Self.udp4)
        #expect(decode(v6Fragment, LinkType.raw) == .malformed)
    }

    @Test("what is not UDP over IP is .notUDP")
    func notUDP() {
        let arp = Build.ethernet(type: 0x0806, [UInt8](repeating: 0, count: 28))
        #expect(decode(arp, LinkType.ethernet) == .notUDP)
        let tcp = Build.ipv4("192.0.2.1", "198.51.100.2", proto: 6, [UInt8](repeating: 0, count: 20))
        #expect(decode(tcp, LinkType.raw) == .notUDP)
        let icmpv6 = Build.ipv6("2001:db8::1", "2001:db8::2", next: 58, [128, 0, 0, 0, 0, 1, 0, 1])
        #expect(decode(icmpv6, LinkType.raw) == .notUDP)
        let tcpAfterOptions = Build.ipv6(
            "2001:db8::1", "2001:db8::2", next: 0, Build.extensionHeader(next: 6) + [UInt8](repeating: 0, count: 20))
        #expect(decode(tcpAfterOptions, LinkType.raw) == .notUDP)
        #expect(decode(Build.loopback(family: 7, bigEndian: false, Self.ipv4), LinkType.null) == .notUDP)
        #expect(decode(Build.sll(protocol: 0x0806, [0, 0]), LinkType.linuxSLL) == .notUDP)
        #expect(decode(Build.ethernet(type: 0x0800, tags: [(0x8100, 1)], Self.ipv4), LinkType.ethernet) != .notUDP)
    }

    @Test("unknown link types are reported as such", arguments: [127, 147, 2, 0xFFFF] as [UInt32])
    func unsupported(_ link: UInt32) {
        #expect(decode(Build.ethernet(type: 0x0800, Self.ipv4), link) == .unsupported(link))
    }

    @Test("IPv4 fragments come out as .ipv4Fragment with their fields")
    func fragments() {
        let data = [UInt8](0..<24)
        let first = Build.ipv4("192.0.2.1", "198.51.100.2", data, identification: 0xBEEF, flagsFragment: 0x2000)
        #expect(decode(first, LinkType.raw) == .fragment(offset: 0, more: true, identification: 0xBEEF, data: data))
        let last = Build.ipv4("192.0.2.1", "198.51.100.2", data, identification: 0xBEEF, flagsFragment: 185)
        #expect(decode(last, LinkType.raw) == .fragment(offset: 1480, more: false, identification: 0xBEEF, data: data))
        // Don't-fragment alone is a whole datagram.
        let whole = Build.ipv4("192.0.2.1", "198.51.100.2", Self.udp4, flagsFragment: 0x4000)
        #expect(decode(whole, LinkType.raw) == .udp(source: Self.v4.0, destination: Self.v4.1, payload: Self.payload))
        // A fragment of something other than UDP is not ours.
        let tcpFragment = Build.ipv4("192.0.2.1", "198.51.100.2", proto: 6, data, flagsFragment: 0x2000)
        #expect(decode(tcpFragment, LinkType.raw) == .notUDP)
    }
}
