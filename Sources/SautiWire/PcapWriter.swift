/// Builds a classic pcap file (little-endian, microsecond timestamps, Ethernet) of
/// IPv4/UDP datagrams in memory: for tests, fixtures and benchmark captures.
public struct PcapWriter {
    /// The file so far.
    public private(set) var bytes: [UInt8] = []

    /// A file with just the pcap header.
    public init(snapLength: UInt32 = 65_535) {
        append32(0xA1B2_C3D4)
        append16(2)
        append16(4)
        append32(0)
        append32(0)
        append32(snapLength)
        append32(UInt32(LinkType.ethernet))
    }

    /// Forgets the bytes written so far, the file header included: for writing a large
    /// file in pieces, where only the first piece carries the header.
    public mutating func dropHeader() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// Appends one Ethernet/IPv4/UDP frame carrying `payload`.
    public mutating func appendUDP(
        timestampNanoseconds: Int64, source: (address: UInt32, port: UInt16), destination: (address: UInt32, port: UInt16),
        payload: some Collection<UInt8>
    ) {
        let udpLength = 8 + payload.count
        let ipLength = 20 + udpLength
        let frameLength = 14 + ipLength
        let micros = timestampNanoseconds / 1000
        append32(UInt32(truncatingIfNeeded: micros / 1_000_000))
        append32(UInt32(truncatingIfNeeded: micros % 1_000_000))
        append32(UInt32(frameLength))
        append32(UInt32(frameLength))
        // Ethernet: locally administered addresses, IPv4.
        bytes += [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]
        // IPv4 header with a correct checksum.
        var ip: [UInt8] = [0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0]
        for a in [source.address, destination.address] {
            ip += [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF)]
        }
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[i]) << 8 | UInt32(ip[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let check = ~UInt16(sum)
        ip[10] = UInt8(check >> 8)
        ip[11] = UInt8(check & 0xFF)
        bytes += ip
        bytes += [
            UInt8(source.port >> 8), UInt8(source.port & 0xFF), UInt8(destination.port >> 8),
            UInt8(destination.port & 0xFF), UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0,
        ]
        bytes += payload
    }

    private mutating func append16(_ v: UInt16) {
        bytes += [UInt8(v & 0xFF), UInt8(v >> 8)]
    }

    private mutating func append32(_ v: UInt32) {
        bytes += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
    }
}

extension RTPHeader {
    /// A whole RTP packet (fixed header plus `payload`) as bytes.
    public func packet(payload: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        out.withUnsafeMutableBytes { _ = serialize(into: $0) }
        out += payload
        return out
    }
}
