import SautiWire
import Testing

/// IPv4 fragments through `FrameDecoder` and `IPv4Reassembler`: any order, duplicates,
/// incomplete sets, and the bound on datagrams in progress.
@Suite struct ReassemblyTests {
    static let payload: [UInt8] = (0..<100).map { UInt8($0 * 7 & 0xFF) }
    /// The UDP datagram (header + payload, 108 bytes) that is fragmented.
    static let datagram = Build.udp(4000, 5004, payload)

    /// Raw IPv4 frames carrying `datagram` cut into pieces of `sizes` bytes (multiples of 8 but the last).
    static func fragments(
        id: UInt16, _ datagram: [UInt8] = datagram, sizes: [Int] = [40, 40, 28], source: String = "192.0.2.1"
    ) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var offset = 0
        for (i, size) in sizes.enumerated() {
            let more = i < sizes.count - 1
            let piece = Array(datagram[offset..<(offset + size)])
            out.append(
                Build.ipv4(
                    source, "198.51.100.2", piece, identification: id,
                    flagsFragment: UInt16(offset / 8) | (more ? 0x2000 : 0)))
            offset += size
        }
        return out
    }

    /// Decodes `frame` (raw IPv4), which must be a fragment, and adds it.
    static func add(_ frame: [UInt8], to r: inout IPv4Reassembler) -> [UInt8]? {
        frame.withUnsafeBytes { raw in
            guard case .ipv4Fragment(let f) = FrameDecoder.decode(raw, linkType: LinkType.raw) else {
                Issue.record("not a fragment")
                return nil
            }
            return r.add(f)
        }
    }

    /// The UDP payload of a reassembled IP payload.
    static func udpPayload(_ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBytes { raw in
            guard case .udp(let d) = FrameDecoder.udp(raw, src: .v4(0xC000_0201), dst: .v4(0xC633_6402)) else {
                return nil
            }
            #expect(d.source.port == 4000 && d.destination.port == 5004)
            return Array(d.payload)
        }
    }

    @Test(
        "three fragments in every order reassemble when the last one arrives",
        arguments: [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    func everyOrder(_ order: [Int]) {
        let frames = Self.fragments(id: 7)
        var r = IPv4Reassembler()
        var results: [[UInt8]?] = []
        for i in order { results.append(Self.add(frames[i], to: &r)) }
        #expect(results.dropLast().allSatisfy { $0 == nil })
        #expect(results.last! == Self.datagram)
        #expect(Self.udpPayload((results.last ?? nil) ?? []) == Self.payload)
        #expect(r.fragments == 3 && r.reassembled == 1 && r.incomplete == 0 && r.dropped == 0)
    }

    @Test("many small fragments, reversed")
    func manyFragments() {
        let sizes = Array(repeating: 8, count: 13) + [4]
        let frames = Self.fragments(id: 9, sizes: sizes)
        var r = IPv4Reassembler()
        var done: [UInt8]? = nil
        for f in frames.reversed() {
            #expect(done == nil)
            done = Self.add(f, to: &r)
        }
        #expect(done == Self.datagram)
    }

    @Test("a duplicated fragment does not complete or break the datagram")
    func duplicates() {
        let frames = Self.fragments(id: 1)
        var r = IPv4Reassembler()
        #expect(Self.add(frames[0], to: &r) == nil)
        #expect(Self.add(frames[0], to: &r) == nil)
        #expect(Self.add(frames[2], to: &r) == nil)
        #expect(Self.add(frames[2], to: &r) == nil)
        #expect(Self.add(frames[1], to: &r) == Self.datagram)
        #expect(r.reassembled == 1 && r.incomplete == 0)
        // A late copy after completion starts a new datagram that never completes.
        #expect(Self.add(frames[1], to: &r) == nil)
        #expect(r.incomplete == 1 && r.reassembled == 1)
    }

    @Test("an incomplete set never completes, and does not hold up others")
    func incomplete() {
        var r = IPv4Reassembler()
        let missingMiddle = Self.fragments(id: 100)
        #expect(Self.add(missingMiddle[0], to: &r) == nil)
        #expect(Self.add(missingMiddle[2], to: &r) == nil)
        let missingLast = Self.fragments(id: 101)
        #expect(Self.add(missingLast[0], to: &r) == nil)
        #expect(Self.add(missingLast[1], to: &r) == nil)
        // Same identification, other source: a different datagram.
        let other = Self.fragments(id: 100, source: "192.0.2.99")
        #expect(Self.add(other[0], to: &r) == nil)
        #expect(Self.add(other[1], to: &r) == nil)
        #expect(Self.add(other[2], to: &r) == Self.datagram)
        #expect(r.incomplete == 2 && r.reassembled == 1)
        // More copies of what is there do not help.
        for f in missingMiddle where f != missingMiddle[1] { #expect(Self.add(f, to: &r) == nil) }
        #expect(r.incomplete == 2 && r.reassembled == 1 && r.dropped == 0)
    }

    @Test("interleaved datagrams reassemble separately")
    func interleaved() {
        let a = Self.fragments(id: 1)
        let otherPayload = Build.udp(4000, 5004, Array(repeating: 0x55, count: 60))
        let b = Self.fragments(id: 2, otherPayload, sizes: [32, 36])
        var r = IPv4Reassembler()
        #expect(Self.add(a[2], to: &r) == nil)
        #expect(Self.add(b[1], to: &r) == nil)
        #expect(Self.add(a[0], to: &r) == nil)
        #expect(Self.add(b[0], to: &r) == otherPayload)
        #expect(Self.add(a[1], to: &r) == Self.datagram)
    }

    @Test("at most maxPending datagrams are kept; the oldest is dropped")
    func bound() {
        var r = IPv4Reassembler(maxPending: 4)
        let sets = (0..<6).map { Self.fragments(id: UInt16(1000 + $0)) }
        for s in sets { #expect(Self.add(s[0], to: &r) == nil) }
        #expect(r.incomplete == 4 && r.dropped == 2)
        // The newest completes.
        #expect(Self.add(sets[5][1], to: &r) == nil)
        #expect(Self.add(sets[5][2], to: &r) == Self.datagram)
        // The oldest lost its first fragment: the rest of it never completes.
        #expect(Self.add(sets[0][1], to: &r) == nil)
        #expect(Self.add(sets[0][2], to: &r) == nil)
        #expect(r.incomplete == 4 && r.dropped == 2)
        // The ones kept still complete.
        #expect(Self.add(sets[2][1], to: &r) == nil)
        #expect(Self.add(sets[2][2], to: &r) == Self.datagram)
    }

    @Test("a flood of first fragments keeps the reassembler bounded")
    func flood() {
        var r = IPv4Reassembler(maxPending: 16)
        for id in 0..<2000 {
            _ = Self.add(Self.fragments(id: UInt16(id), sizes: [8, 100])[0], to: &r)
            #expect(r.incomplete <= 16)
        }
        #expect(r.incomplete == 16 && r.dropped == 2000 - 16)
    }

    @Test("a fragment reaching past 65 535 bytes is dropped")
    func tooLarge() {
        var r = IPv4Reassembler()
        let first = Self.fragments(id: 5)[0]
        #expect(Self.add(first, to: &r) == nil)
        let beyond = Build.ipv4(
            "192.0.2.1", "198.51.100.2", [UInt8](repeating: 1, count: 16), identification: 5, flagsFragment: 8191)
        #expect(Self.add(beyond, to: &r) == nil)
        #expect(r.incomplete == 0 && r.dropped == 2)  // the fragment and the datagram it belonged to
    }
}
