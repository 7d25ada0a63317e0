import SautiWire
import Testing

/// IPAddress text in and out: dotted IPv4, IPv6 in RFC 5952 canonical form.
@Suite struct IPAddressTests {
    /// Input text and its canonical form (RFC 5952 §4: lowercase, no leading zeros, the
    /// longest run of two or more zero groups as "::", the first of equal runs).
    static let canonical: [(String, String)] = [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:DB8::ABCD", "2001:db8::abcd"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group is not compressed
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // equal runs: the first
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),  // the longest run
        ("0:0:1:0:0:0:0:0", "0:0:1::"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("fe80::1:2", "fe80::1:2"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6::8", "1:2:3:4:5:6:0:8"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ]

    @Test("IPv6 text is parsed and printed in canonical form", arguments: canonical)
    func ipv6(_ text: String, _ want: String) throws {
        let a = try #require(IPAddress(text))
        #expect(a.isV6)
        #expect(a.description == want)
        #expect(IPAddress(want) == a)
    }

    @Test("IPv6 groups land in the right halves")
    func ipv6Value() {
        #expect(IPAddress("2001:db8::1") == .v6(0x2001_0DB8_0000_0000, 1))
        #expect(IPAddress("::ffff:0:0") == .v6(0, 0x0000_FFFF_0000_0000))
        #expect(IPAddress.v6(0, 0).description == "::")
    }

    @Test(
        "IPv4 text",
        arguments: [
            ("192.0.2.1", 0xC000_0201), ("0.0.0.0", 0), ("255.255.255.255", 0xFFFF_FFFF), ("10.0.0.255", 0x0A00_00FF),
        ]
            as [(String, UInt32)])
    func ipv4(_ text: String, _ value: UInt32) {
        #expect(IPAddress(text) == .v4(value))
        #expect(IPAddress.v4(value).description == text)
        #expect(IPAddress(text)?.isV6 == false)
    }

    @Test(
        "not addresses",
        arguments: [
            "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.x", "1..2.3", "a.b.c.d", ":", ":::", "1::2::3", "12345::",
            "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2:3:4:5:6:7:8", "g::1", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:",
            "fe80::1%eth0", "2001:db8::1/64",
        ])
    func invalid(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("endpoints print IPv6 in brackets")
    func endpoints() {
        #expect(Endpoint(address: .v4(0xC000_0201), port: 5060).description == "192.0.2.1:5060")
        #expect(Endpoint(address: IPAddress("2001:db8::1")!, port: 5004).description == "[2001:db8::1]:5004")
        #expect(Endpoint(address: .v4(1), port: 1) != Endpoint(address: .v4(1), port: 2))
    }
}
