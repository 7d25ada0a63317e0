import SautiWire
import Testing

/// Random and mutated inputs through every parser: none may crash, read outside its
/// buffer, or return views outside it. Seeded (`SAUTI_FUZZ_SEED` overrides the fixed
/// seed); every failure names the seed and iteration, so a run can be replayed.
@Suite struct FuzzTests {
    /// The parsers under test.
    enum Target: String, CaseIterable, Sendable {
        case rtp, rtcp, frames, captures, sip
    }

    static let iterations = 2000

    /// Valid inputs to mutate, per target.
    static func corpus(_ target: Target) throws -> [[UInt8]] {
        let names = try Fixtures.aiortcTruth().packets.keys.sorted()
        let packets = try names.map { try Fixtures.aiortcPacket($0) }
        switch target {
        case .rtp, .rtcp:
            return packets
        case .frames:
            return FrameDecoderTests.linkCases.map(\.frame)
        case .captures:
            var pcapng = PcapngFile()
            pcapng.section(bigEndian: true)
            pcapng.interface(linkType: 1, options: [(9, [0x80 | 10]), (14, pcapng.u64(5))])
            pcapng.packet(interface: 0, timestamp: 99, data: [1, 2, 3])
            pcapng.simplePacket(data: [4, 5])
            pcapng.obsoletePacket(interface: 0, timestamp: 1, data: [6])
            return [
                CaptureReaderTests.threeInterfaces(bigEndian: false).bytes, pcapng.bytes,
                PcapFile.bytes(
                    bigEndian: true, nanosecond: true, linkType: 1,
                    records: [
                        .init(seconds: 1, fraction: 2, data: [1, 2, 3]), .init(seconds: 3, fraction: 4, data: []),
                    ]),
            ]
        case .sip:
            return [Array(SDPTests.invite.utf8)]
        }
    }

    /// A random change to `input`: flipped, overwritten, inserted or removed bytes, or a cut.
    static func mutate(_ input: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !b.isEmpty:
                b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !b.isEmpty:
                b[Int.random(in: 0..<b.count, using: &rng)] = [0x00, 0xFF, 0x7F, 0x80, 0x01].randomElement(using: &rng)!
            case 2:
                b.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...b.count, using: &rng))
            case 3 where !b.isEmpty:
                b.remove(at: Int.random(in: 0..<b.count, using: &rng))
            case 4:
                b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
            default:
                if !b.isEmpty { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            }
        }
        return b
    }

    @Test("random and mutated inputs", arguments: Target.allCases)
    func fuzz(_ target: Target) throws {
        let seed = fuzzSeed &+ UInt64(Target.allCases.firstIndex(of: target)!)
        var rng = SeededGenerator(seed: seed)
        let corpus = try Self.corpus(target)
        let linkTypes: [UInt32] = [
            LinkType.ethernet, LinkType.linuxSLL, LinkType.linuxSLL2, LinkType.raw, LinkType.null, LinkType.loop,
            LinkType.ipv6,
        ]
        for i in 0..<Self.iterations {
            let input: [UInt8] =
                i % 4 == 0
                ? (0..<Int.random(in: 0..<96, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                : Self.mutate(corpus.randomElement(using: &rng)!, &rng)
            let context = Comment(rawValue: "seed \(seed) (SAUTI_FUZZ_SEED=\(fuzzSeed)) \(target) iteration \(i)")
            switch target {
            case .rtp:
                if case .success(let h) = parseRTP(input) {
                    #expect(h.payloadOffset + h.payloadLength + h.paddingLength == input.count, context)
                    input.withUnsafeBytes { raw in
                        #expect(h.payload(in: raw).count == h.payloadLength, context)
                        _ = TelephoneEvent(parsing: h.payload(in: raw))
                    }
                }
            case .rtcp:
                _ = parseRTCP(input)
            case .frames:
                let link = linkTypes.randomElement(using: &rng)!
                input.withUnsafeBytes { raw in
                    let lo = raw.baseAddress
                    func inside(_ v: UnsafeRawBufferPointer) -> Bool {
                        guard let b = v.baseAddress, let lo else { return v.isEmpty }
                        return lo.distance(to: b) >= 0 && lo.distance(to: b) + v.count <= raw.count
                    }
                    switch FrameDecoder.decode(raw, linkType: link) {
                    case .udp(let d): #expect(inside(d.payload), context)
                    case .ipv4Fragment(let f): #expect(inside(f.data), context)
                    default: break
                    }
                }
            case .captures:
                // readCapture checks that every frame lies inside the buffer.
                let r = readCapture(input)
                for f in r.frames {
                    f.data.withUnsafeBytes { _ = FrameDecoder.decode($0, linkType: f.linkType) }
                }
            case .sip:
                if let body = input.withUnsafeBytes({ SIPMessage.sdpBody($0) }) {
                    _ = try? SessionDescription(parsing: body)
                }
                _ = try? SessionDescription(parsing: String(decoding: input, as: UTF8.self))
            }
        }
    }
}
