// Where a play URL may not lead: the operator's deny list, checked against every address
// the URL's host resolves to, before the request and at every redirect.

import Foundation
import SautiWire

#if canImport(Glibc)
    import Glibc
#endif

/// One entry of the deny list: an address or network, and optionally one port.
///
/// Written as `127.0.0.1`, `10.0.0.0/8`, `127.0.0.1:8080`, `::1`, `fd00::/8`,
/// `[::1]:8080`, or `*:8080` (any address, that port). An IPv4 rule also matches the
/// IPv4-mapped IPv6 form of its addresses (`::ffff:127.0.0.1`).
public struct AddressRule: Sendable, Equatable, CustomStringConvertible {
    /// The network; nil for any address.
    public let network: IPAddress?
    /// The prefix length in bits (32 or 128 for one address).
    public let prefixLength: Int
    /// The port; nil for every port.
    public let port: UInt16?

    /// A rule for `network/prefixLength`, on `port` or every port.
    public init(network: IPAddress?, prefixLength: Int? = nil, port: UInt16? = nil) {
        self.network = network
        let full = network?.isV6 == true ? 128 : 32
        self.prefixLength = min(max(0, prefixLength ?? full), full)
        self.port = port
    }

    /// Parses the written form (see the type); nil when it is not one.
    public init?(_ text: String) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var port: UInt16?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = UInt16(after.dropFirst()) else { return nil }
                port = p
            }
            rest = rest[rest.index(after: rest.startIndex)..<close]
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            // One colon: an IPv4 address (or *) with a port. IPv6 needs brackets for a port.
            guard let p = UInt16(rest[rest.index(after: colon)...]) else { return nil }
            port = p
            rest = rest[..<colon]
        }
        if rest == "*" {
            guard port != nil else { return nil }
            self.init(network: nil, port: port)
            return
        }
        var prefix: Int?
        if let slash = rest.firstIndex(of: "/") {
            guard let n = Int(rest[rest.index(after: slash)...]), n >= 0 else { return nil }
            prefix = n
            rest = rest[..<slash]
        }
        guard let address = IPAddress(rest) else { return nil }
        if let prefix, prefix > (address.isV6 ? 128 : 32) { return nil }
        self.init(network: address, prefixLength: prefix, port: port)
    }

    /// Whether `address` on `port` falls under the rule.
    public func matches(_ address: IPAddress, port: UInt16) -> Bool {
        if let p = self.port, p != port { return false }
        guard let network else { return true }
        switch (network, address) {
        case (.v4(let n), .v4(let a)):
            return Self.samePrefix(UInt64(n) << 32, 0, UInt64(a) << 32, 0, bits: prefixLength)
        case (.v6(let nh, let nl), .v6(let ah, let al)):
            return Self.samePrefix(nh, nl, ah, al, bits: prefixLength)
        case (.v4, .v6(let ah, let al)):
            // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
            guard ah == 0, al >> 32 == 0xFFFF else { return false }
            return matches(.v4(UInt32(truncatingIfNeeded: al)), port: port)
        default:
            return false
        }
    }

    private static func samePrefix(_ ah: UInt64, _ al: UInt64, _ bh: UInt64, _ bl: UInt64, bits: Int) -> Bool {
        func mask(_ n: Int) -> UInt64 { n <= 0 ? 0 : n >= 64 ? ~0 : ~0 << (64 - n) }
        return (ah ^ bh) & mask(bits) == 0 && (al ^ bl) & mask(bits - 64) == 0
    }

    public var description: String {
        let portText = port.map { ":\($0)" } ?? ""
        guard let network else { return "*" + portText }
        let full = network.isV6 ? 128 : 32
        let base = prefixLength == full ? "\(network)" : "\(network)/\(prefixLength)"
        return network.isV6 && port != nil ? "[\(base)]\(portText)" : base + portText
    }

    /// Link-local addresses (169.254.0.0/16 and fe80::/10), where cloud metadata services
    /// answer: denied by default.
    public static let linkLocal: [AddressRule] = [
        AddressRule(network: .v4(0xA9FE_0000), prefixLength: 16),
        AddressRule(network: .v6(0xFE80_0000_0000_0000, 0), prefixLength: 10),
    ]
}

/// Resolves `host` (a name or an address literal) to its addresses with `getaddrinfo`.
/// Blocking: call off the media threads. Returns an empty list when it does not resolve.
func resolveAddresses(_ host: String) -> [IPAddress] {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
    defer { freeaddrinfo(first) }
    var out: [IPAddress] = []
    var cursor: UnsafeMutablePointer<addrinfo>? = first
    while let entry = cursor {
        if let sa = entry.pointee.ai_addr {
            if entry.pointee.ai_family == AF_INET {
                let a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                out.append(.v4(UInt32(bigEndian: a)))
            } else if entry.pointee.ai_family == AF_INET6 {
                let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                let (hi, lo) = withUnsafeBytes(of: bytes) { raw -> (UInt64, UInt64) in
                    var h: UInt64 = 0
                    var l: UInt64 = 0
                    for i in 0..<8 { h = h << 8 | UInt64(raw[i]) }
                    for i in 8..<16 { l = l << 8 | UInt64(raw[i]) }
                    return (h, l)
                }
                out.append(.v6(hi, lo))
            }
        }
        cursor = entry.pointee.ai_next
    }
    return out
}
