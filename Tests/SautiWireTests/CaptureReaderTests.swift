import SautiWire
import Testing

/// A classic pcap file built in memory.
struct PcapFile {
    /// One record: seconds, fraction (µs or ns), captured bytes, length on the wire.
    struct Record {
        var seconds: UInt32
        var fraction: UInt32
        var data: [UInt8]
        var originalLength: UInt32? = nil
    }

    static func bytes(bigEndian: Bool, nanosecond: Bool, linkType: UInt32, records: [Record]) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u32(nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4)
        w.u16(2)
        w.u16(4)
        w.u32(0)  // thiszone
        w.u32(0)  // sigfigs
        w.u32(65535)  // snaplen
        w.u32(linkType)
        for r in records {
            w.u32(r.seconds)
            w.u32(r.fraction)
            w.u32(UInt32(r.data.count))
            w.u32(r.originalLength ?? UInt32(r.data.count))
            w.append(r.data)
        }
        return w.bytes
    }
}

/// A pcapng file built in memory, block by block; each section in its own byte order.
struct PcapngFile {
    /// The file so far.
    var bytes: [UInt8] = []
    /// Byte order of the current section.
    var bigEndian = false

    /// Byte offset at which the next block starts.
    var nextOffset: Int { bytes.count }

    /// Appends a block: type, total length, body padded to 32 bits, total length again.
    mutating func block(_ type: UInt32, _ body: [UInt8], totalLength: UInt32? = nil, trailingLength: UInt32? = nil) {
        var padded = body
        while padded.count % 4 != 0 { padded.append(0) }
        let total = UInt32(12 + padded.count)
        var w = ByteWriter(bigEndian: bigEndian)
        w.u32(type)
        w.u32(totalLength ?? total)
        w.append(padded)
        w.u32(trailingLength ?? total)
        bytes += w.bytes
    }

    /// A writer in the current section's byte order, for building a body.
    func body() -> ByteWriter { ByteWriter(bigEndian: bigEndian) }

    /// Section Header Block; starts a section in the given byte order.
    mutating func section(bigEndian: Bool) {
        self.bigEndian = bigEndian
        var b = body()
        b.u32(0x1A2B_3C4D)
        b.u16(1)
        b.u16(0)
        b.u32(0xFFFF_FFFF)  // section length: unknown
        b.u32(0xFFFF_FFFF)
        block(0x0A0D_0D0A, b.bytes)
    }

    /// Interface Description Block with options (code, value); opt_endofopt is added.
    mutating func interface(linkType: UInt16, snapLength: UInt32 = 0, options: [(UInt16, [UInt8])] = []) {
        var b = body()
        b.u16(linkType)
        b.u16(0)
        b.u32(snapLength)
        for (code, value) in options {
            b.u16(code)
            b.u16(UInt16(value.count))
            b.append(value)
            b.pad4()
        }
        if !options.isEmpty {
            b.u16(0)
            b.u16(0)
        }
        block(1, b.bytes)
    }

    /// Enhanced Packet Block.
    mutating func packet(
        interface: UInt32, timestamp: UInt64, data: [UInt8], originalLength: UInt32? = nil,
        capturedLength: UInt32? = nil
    ) {
        var b = body()
        b.u32(interface)
        b.u32(UInt32(timestamp >> 32))
        b.u32(UInt32(timestamp & 0xFFFF_FFFF))
        b.u32(capturedLength ?? UInt32(data.count))
        b.u32(originalLength ?? UInt32(data.count))
        b.append(data)
        block(6, b.bytes)
    }

    /// Simple Packet Block.
    mutating func simplePacket(data: [UInt8], originalLength: UInt32? = nil) {
        var b = body()
        b.u32(originalLength ?? UInt32(data.count))
        b.append(data)
        block(3, b.bytes)
    }

    /// The obsolete Packet Block.
    mutating func obsoletePacket(interface: UInt16, timestamp: UInt64, data: [UInt8]) {
        var b = body()
        b.u16(interface)
        b.u16(0)  // drops
        b.u32(UInt32(timestamp >> 32))
        b.u32(UInt32(timestamp & 0xFFFF_FFFF))
        b.u32(UInt32(data.count))
        b.u32(UInt32(data.count))
        b.append(data)
        block(2, b.bytes)
    }

    /// A 64-bit option value in the section's byte order.
    func u64(_ v: UInt64) -> [UInt8] {
        var b = body()
        b.u32(UInt32(v >> 32))
        b.u32(UInt32(v & 0xFFFF_FFFF))
        return b.bytes
    }
}

/// A frame as plain values, to compare.
struct Frame: Equatable, CustomStringConvertible {
    var timestampNanoseconds: Int64
    var linkType: UInt32
    var data: [UInt8]
    var originalLength: Int
    var fileOffset: Int
    var number: Int

    var description: String {
        "#\(number)@\(fileOffset) t=\(timestampNanoseconds) link \(linkType) \(data.count)/\(originalLength) bytes"
    }
}

/// What reading a whole capture gave: its format, the frames read, and the error that stopped it.
struct ReadResult {
    var format: CaptureFormat?
    var frames: [Frame] = []
    var error: CaptureError?
}

/// Reads every frame of `bytes` (at most 100 000, so a reader bug cannot loop forever).
func readCapture(_ bytes: [UInt8]) -> ReadResult {
    bytes.withUnsafeBytes { raw in
        var result = ReadResult()
        do throws(CaptureError) {
            var reader = try CaptureReader(bytes: raw)
            result.format = reader.format
            while result.frames.count < 100_000, let f = try reader.next() {
                // Frames point into the buffer, never outside it.
                let start = f.data.baseAddress.map { $0 - raw.baseAddress! } ?? 0
                #expect(start >= 0 && start + f.data.count <= raw.count)
                result.frames.append(
                    Frame(
                        timestampNanoseconds: f.timestampNanoseconds, linkType: f.linkType, data: Array(f.data),
                        originalLength: f.originalLength, fileOffset: f.fileOffset, number: f.number))
            }
            #expect(reader.position == raw.count)
        } catch {
            result.error = error
        }
        return result
    }
}

/// The kind of a capture error, without its text.
enum ErrorKind: Equatable {
    case unknownFormat, truncated, corrupt

    init?(_ e: CaptureError?) {
        switch e {
        case .unknownFormat?: self = .unknownFormat
        case .truncated?: self = .truncated
        case .corrupt?: self = .corrupt
        case nil: return nil
        }
    }
}

@Suite struct CaptureReaderTests {
    static let t0: UInt64 = 1_700_000_000

    // MARK: - pcap

    @Test(
        "pcap in both byte orders, microsecond and nanosecond",
        arguments: [(false, false), (false, true), (true, false), (true, true)] as [(Bool, Bool)])
    func classicPcap(_ bigEndian: Bool, _ nanosecond: Bool) {
        let long = (0..<60).map { UInt8($0) }
        let bytes = PcapFile.bytes(
            bigEndian: bigEndian, nanosecond: nanosecond, linkType: LinkType.ethernet,
            records: [
                .init(seconds: UInt32(Self.t0), fraction: 123_456, data: [1, 2, 3, 4, 5]),
                .init(seconds: UInt32(Self.t0) + 1, fraction: 999_999, data: long, originalLength: 1514),
                .init(seconds: 0, fraction: 0, data: []),
            ])
        let r = readCapture(bytes)
        #expect(r.error == nil)
        #expect(r.format == (nanosecond ? .pcapNanosecond : .pcap))
        let scale: Int64 = nanosecond ? 1 : 1000
        let t0 = Int64(Self.t0) * 1_000_000_000
        #expect(
            r.frames == [
                Frame(
                    timestampNanoseconds: t0 + 123_456 * scale, linkType: 1, data: [1, 2, 3, 4, 5], originalLength: 5,
                    fileOffset: 24, number: 1),
                Frame(
                    timestampNanoseconds: t0 + 1_000_000_000 + 999_999 * scale, linkType: 1, data: long,
                    originalLength: 1514, fileOffset: 45, number: 2),
                Frame(timestampNanoseconds: 0, linkType: 1, data: [], originalLength: 0, fileOffset: 121, number: 3),
            ])
    }

    @Test("the link type's upper 16 bits (FCS flags) are not part of it")
    func linkTypeFlags() {
        let bytes = PcapFile.bytes(
            bigEndian: false, nanosecond: false, linkType: 0x1400_0000 | LinkType.linuxSLL,
            records: [.init(seconds: 1, fraction: 0, data: [0])])
        #expect(readCapture(bytes).frames.map(\.linkType) == [LinkType.linuxSLL])
    }

    @Test("a microsecond field of a million is corrupt in µs files, fine in ns files")
    func microsecondRange() {
        let record = PcapFile.Record(seconds: 1, fraction: 1_000_000, data: [0])
        let us = readCapture(PcapFile.bytes(bigEndian: false, nanosecond: false, linkType: 1, records: [record]))
        #expect(ErrorKind(us.error) == .corrupt && us.error?.offset == 24 + 4)
        let ns = readCapture(PcapFile.bytes(bigEndian: true, nanosecond: true, linkType: 1, records: [record]))
        #expect(ns.error == nil && ns.frames.first?.timestampNanoseconds == 1_001_000_000)
    }

    @Test("a pcap file with no records has no frames")
    func emptyPcap() {
        let r = readCapture(PcapFile.bytes(bigEndian: false, nanosecond: false, linkType: 101, records: []))
        #expect(r.error == nil && r.frames.isEmpty && r.format == .pcap)
    }

    // MARK: - pcapng

    /// One section with three interfaces: Ethernet at the default µs, raw IP at ns
    /// (if_tsresol 9, after an if_name option), Linux SLL at 2^-20 s.
    static func threeInterfaces(bigEndian: Bool) -> (bytes: [UInt8], offsets: [Int]) {
        var f = PcapngFile()
        f.section(bigEndian: bigEndian)
        f.interface(linkType: UInt16(LinkType.ethernet))
        f.interface(
            linkType: UInt16(LinkType.raw), snapLength: 262_144,
            options: [(2, Array("eth0:".utf8)), (9, [9]), (0x8001, [1, 2, 3, 4, 5])])
        f.interface(linkType: UInt16(LinkType.linuxSLL), options: [(9, [0x80 | 20])])
        f.block(5, [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])  // interface statistics: skipped
        var offsets: [Int] = []
        offsets.append(f.nextOffset)
        f.packet(interface: 0, timestamp: t0 * 1_000_000 + 123_456, data: [0xE0, 0xE1, 0xE2])
        offsets.append(f.nextOffset)
        f.packet(
            interface: 1, timestamp: t0 * 1_000_000_000 + 123_456_789, data: [0x45, 0, 0, 20, 9], originalLength: 1500)
        offsets.append(f.nextOffset)
        // 5.5 s + 1/1024 s = 5 500 976 562.5 ns.
        f.packet(interface: 2, timestamp: 5 << 20 + 1 << 19 + 1 << 10, data: Array(repeating: 7, count: 16))
        f.block(4, [0, 0, 0, 0])  // name resolution: skipped
        offsets.append(f.nextOffset)
        f.packet(interface: 0, timestamp: 0, data: [])
        return (f.bytes, offsets)
    }

    @Test("pcapng: interfaces with their own link type and timestamp resolution", arguments: [false, true])
    func pcapngInterfaces(_ bigEndian: Bool) {
        let (bytes, offsets) = Self.threeInterfaces(bigEndian: bigEndian)
        let r = readCapture(bytes)
        #expect(r.error == nil && r.format == .pcapng)
        let t0 = Int64(Self.t0) * 1_000_000_000
        #expect(
            r.frames == [
                Frame(
                    timestampNanoseconds: t0 + 123_456_000, linkType: LinkType.ethernet, data: [0xE0, 0xE1, 0xE2],
                    originalLength: 3, fileOffset: offsets[0], number: 1),
                Frame(
                    timestampNanoseconds: t0 + 123_456_789, linkType: LinkType.raw, data: [0x45, 0, 0, 20, 9],
                    originalLength: 1500, fileOffset: offsets[1], number: 2),
                Frame(
                    timestampNanoseconds: 5_500_976_562, linkType: LinkType.linuxSLL,
                    data: Array(repeating: 7, count: 16),
                    originalLength: 16, fileOffset: offsets[2], number: 3),
                Frame(
                    timestampNanoseconds: 0, linkType: LinkType.ethernet, data: [], originalLength: 0,
                    fileOffset: offsets[3], number: 4),
            ])
    }

    @Test("the same capture in either byte order reads the same")
    func byteOrderIndependent() {
        let le = readCapture(Self.threeInterfaces(bigEndian: false).bytes)
        let be = readCapture(Self.threeInterfaces(bigEndian: true).bytes)
        #expect(le.frames == be.frames && !le.frames.isEmpty)
    }

    @Test(
        "if_tsresol: powers of ten and of two",
        arguments: [
            (3, 1500, 1_500_000_000), (6, 1_500_000, 1_500_000_000), (9, 1_500_000_000, 1_500_000_000),
            (0, 2, 2_000_000_000), (12, 1_500_000_000_001, 1_500_000_000), (0x80 | 0, 3, 3_000_000_000),
            (0x80 | 1, 3, 1_500_000_000), (0x80 | 10, 1536, 1_500_000_000), (0x80 | 30, 3 << 29, 1_500_000_000),
        ] as [(UInt8, UInt64, Int64)])
    func timestampResolution(_ tsresol: UInt8, _ units: UInt64, _ nanoseconds: Int64) {
        var f = PcapngFile()
        f.section(bigEndian: false)
        f.interface(linkType: 1, options: [(9, [tsresol])])
        f.packet(interface: 0, timestamp: units, data: [1])
        #expect(readCapture(f.bytes).frames.map(\.timestampNanoseconds) == [nanoseconds])
    }

    @Test("if_tsoffset adds seconds to every timestamp of its interface")
    func timestampOffset() {
        for bigEndian in [false, true] {
            var f = PcapngFile()
            f.section(bigEndian: bigEndian)
            f.interface(linkType: 1, options: [(14, f.u64(Self.t0)), (9, [3])])
            f.interface(linkType: 1)
            f.packet(interface: 0, timestamp: 250, data: [1])
            f.packet(interface: 1, timestamp: 250, data: [1])
            #expect(
                readCapture(f.bytes).frames.map(\.timestampNanoseconds) == [
                    Int64(Self.t0) * 1_000_000_000 + 250_000_000, 250_000,
                ])
        }
    }

    @Test("simple packet blocks: interface 0, the last timestamp, cut to the snap length")
    func simplePackets() {
        var f = PcapngFile()
        f.section(bigEndian: true)
        f.interface(linkType: UInt16(LinkType.raw), snapLength: 62)
        f.interface(linkType: UInt16(LinkType.ethernet))
        f.packet(interface: 1, timestamp: 7_000_000, data: [9])
        let spb1 = f.nextOffset
        // 62 bytes kept of 100, padded to 64 in the block: the snap length says where the data ends.
        f.simplePacket(data: Array(repeating: 0xAB, count: 62), originalLength: 100)
        let spb2 = f.nextOffset
        f.simplePacket(data: [1, 2, 3, 4, 5])
        let r = readCapture(f.bytes)
        #expect(r.error == nil)
        #expect(
            Array(r.frames.dropFirst()) == [
                Frame(
                    timestampNanoseconds: 7_000_000_000, linkType: LinkType.raw,
                    data: Array(repeating: 0xAB, count: 62),
                    originalLength: 100, fileOffset: spb1, number: 2),
                Frame(
                    timestampNanoseconds: 7_000_000_000, linkType: LinkType.raw, data: [1, 2, 3, 4, 5],
                    originalLength: 5,
                    fileOffset: spb2, number: 3),
            ])
    }

    @Test("the obsolete packet block")
    func obsoletePacketBlock() {
        var f = PcapngFile()
        f.section(bigEndian: false)
        f.interface(linkType: 1)
        f.interface(linkType: UInt16(LinkType.linuxSLL2), options: [(9, [9])])
        f.obsoletePacket(interface: 1, timestamp: 42, data: [1, 2, 3])
        let r = readCapture(f.bytes)
        #expect(r.error == nil)
        #expect(r.frames.map(\.linkType) == [LinkType.linuxSLL2] && r.frames.map(\.timestampNanoseconds) == [42])
        #expect(r.frames.map(\.data) == [[1, 2, 3]])
    }

    @Test("several sections, each with its own byte order and interfaces; frame numbers run on")
    func severalSections() {
        var f = PcapngFile()
        f.section(bigEndian: false)
        f.interface(linkType: UInt16(LinkType.ethernet))
        f.packet(interface: 0, timestamp: 1_000_000, data: [1])
        f.section(bigEndian: true)
        f.interface(linkType: UInt16(LinkType.raw), options: [(9, [9])])
        f.interface(linkType: UInt16(LinkType.null))
        f.packet(interface: 1, timestamp: 2_000_000, data: [2])
        f.packet(interface: 0, timestamp: 3_000_000_000, data: [3])
        f.section(bigEndian: false)
        f.interface(linkType: UInt16(LinkType.loop))
        f.packet(interface: 0, timestamp: 4_000_000, data: [4])
        let r = readCapture(f.bytes)
        #expect(r.error == nil)
        #expect(r.frames.map(\.linkType) == [LinkType.ethernet, LinkType.null, LinkType.raw, LinkType.loop])
        #expect(r.frames.map(\.timestampNanoseconds) == [1_000_000_000, 2_000_000_000, 3_000_000_000, 4_000_000_000])
        #expect(r.frames.map(\.number) == [1, 2, 3, 4])
    }

    @Test("interfaces do not carry over into the next section")
    func interfacesPerSection() {
        var f = PcapngFile()
        f.section(bigEndian: false)
        f.interface(linkType: 1)
        f.interface(linkType: 1)
        f.packet(interface: 1, timestamp: 0, data: [1])
        f.section(bigEndian: true)
        f.interface(linkType: 1)
        let epb = f.nextOffset
        f.packet(interface: 1, timestamp: 0, data: [2])
        let r = readCapture(f.bytes)
        #expect(r.frames.count == 1)
        #expect(ErrorKind(r.error) == .corrupt && r.error?.offset == epb + 8)
    }

    @Test("a pcapng file with only a section header has no frames")
    func emptyPcapng() {
        var f = PcapngFile()
        f.section(bigEndian: true)
        let r = readCapture(f.bytes)
        #expect(r.error == nil && r.frames.isEmpty && r.format == .pcapng)
    }

    // MARK: - Bad input

    /// A bad capture, the error kind it must raise, and the byte offset it must name.
    struct BadCapture: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var kind: ErrorKind
        var offset: Int
        /// Frames read before the error.
        var framesBefore = 0

        var testDescription: String { name }
    }

    static var badCaptures: [BadCapture] {
        var out: [BadCapture] = []
        let good = PcapFile.bytes(
            bigEndian: false, nanosecond: false, linkType: 1,
            records: [.init(seconds: 1, fraction: 0, data: [1, 2, 3, 4, 5])])
        out.append(BadCapture(name: "empty file", bytes: [], kind: .truncated, offset: 0))
        out.append(BadCapture(name: "3 bytes", bytes: Array(good.prefix(3)), kind: .truncated, offset: 0))
        out.append(
            BadCapture(name: "truncated pcap file header", bytes: Array(good.prefix(14)), kind: .truncated, offset: 0))
        out.append(
            BadCapture(
                name: "pcap file header 1 byte short", bytes: Array(good.prefix(23)), kind: .truncated, offset: 0))
        out.append(
            BadCapture(
                name: "not a capture (a zip)", bytes: [0x50, 0x4B, 3, 4] + Array(repeating: 0, count: 30),
                kind: .unknownFormat, offset: 0))
        out.append(
            BadCapture(
                name: "truncated first record header", bytes: Array(good.prefix(24 + 10)), kind: .truncated, offset: 24)
        )
        out.append(
            BadCapture(
                name: "truncated second record header", bytes: good + [1, 0, 0, 0, 0, 0, 0, 0, 9], kind: .truncated,
                offset: 45,
                framesBefore: 1))
        out.append(
            BadCapture(
                name: "record length past the end of the file", bytes: Array(good.dropLast()), kind: .truncated,
                offset: 24))
        var implausible = good
        implausible[24 + 8..<24 + 12] = [0, 0, 0, 1]  // 16 MiB
        out.append(BadCapture(name: "implausible record length", bytes: implausible, kind: .corrupt, offset: 24))
        var huge = good
        huge[24 + 8..<24 + 12] = [0xFF, 0xFF, 0xFF, 0xFF]
        out.append(BadCapture(name: "record length 2^32 − 1", bytes: huge, kind: .corrupt, offset: 24))

        // pcapng
        var f = PcapngFile()
        f.section(bigEndian: false)
        f.interface(linkType: 1)
        let ok = f
        let next = f.nextOffset  // 28 + 20 = 48

        var g = ok
        g.block(6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], totalLength: 33)
        out.append(
            BadCapture(
                name: "pcapng block length not a multiple of 4", bytes: g.bytes, kind: .corrupt, offset: next + 4))
        g = ok
        g.block(6, [], totalLength: 8, trailingLength: 8)
        out.append(BadCapture(name: "pcapng block length below 12", bytes: g.bytes, kind: .corrupt, offset: next + 4))
        g = ok
        g.packet(interface: 0, timestamp: 0, data: [1, 2, 3, 4])
        let trailerMismatch = g.bytes.count - 4
        var mismatched = g
        mismatched.bytes[trailerMismatch] &+= 4
        out.append(
            BadCapture(
                name: "pcapng trailing length differs", bytes: mismatched.bytes, kind: .corrupt, offset: trailerMismatch
            ))
        out.append(
            BadCapture(
                name: "pcapng block past the end", bytes: Array(g.bytes.dropLast(4)), kind: .truncated, offset: next))
        out.append(
            BadCapture(
                name: "pcapng stray bytes after a block", bytes: g.bytes + [6, 0, 0], kind: .truncated,
                offset: g.bytes.count, framesBefore: 1))
        g = ok
        g.packet(interface: 1, timestamp: 0, data: [1])
        out.append(
            BadCapture(name: "EPB naming an undefined interface", bytes: g.bytes, kind: .corrupt, offset: next + 8))
        g = ok
        g.packet(interface: 0, timestamp: 0, data: [1, 2, 3, 4], capturedLength: 5)
        out.append(
            BadCapture(name: "EPB captured length past its block", bytes: g.bytes, kind: .corrupt, offset: next + 20))
        g = ok
        g.block(6, [0, 0, 0, 0, 0, 0, 0, 0])
        out.append(BadCapture(name: "EPB shorter than its fixed fields", bytes: g.bytes, kind: .corrupt, offset: next))
        var s = PcapngFile()
        s.section(bigEndian: false)
        s.simplePacket(data: [1])
        out.append(BadCapture(name: "SPB before any interface", bytes: s.bytes, kind: .corrupt, offset: 28))
        var bom = PcapngFile()
        bom.section(bigEndian: false)
        bom.bytes[8] = 0x4E
        out.append(BadCapture(name: "bad byte-order magic", bytes: bom.bytes, kind: .corrupt, offset: 8))
        out.append(
            BadCapture(
                name: "section header cut short", bytes: Array(bom.bytes.prefix(10)), kind: .truncated, offset: 0))
        g = ok
        g.interface(linkType: 1, options: [(9, [20])])
        out.append(BadCapture(name: "if_tsresol 10^-20", bytes: g.bytes, kind: .corrupt, offset: next))
        g = ok
        g.interface(linkType: 1, options: [(9, [0x80 | 64])])
        out.append(BadCapture(name: "if_tsresol 2^-64", bytes: g.bytes, kind: .corrupt, offset: next))
        g = ok
        // An if_name option claiming 200 bytes in a block that has 8 after it.
        g.block(1, [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 200, 0, 0x65, 0x74, 0x68, 0x30])
        out.append(
            BadCapture(name: "interface option past its block", bytes: g.bytes, kind: .corrupt, offset: next + 8 + 8))
        g = ok
        g.block(1, [1, 0])
        out.append(
            BadCapture(name: "interface description shorter than 8 bytes", bytes: g.bytes, kind: .corrupt, offset: next)
        )
        return out
    }

    @Test("bad input throws CaptureError naming the byte offset", arguments: badCaptures)
    func badInput(_ bad: BadCapture) {
        let r = readCapture(bad.bytes)
        #expect(ErrorKind(r.error) == bad.kind, "\(r.error.map(String.init(describing:)) ?? "no error")")
        #expect(r.error?.offset == bad.offset, "\(r.error.map(String.init(describing:)) ?? "no error")")
        #expect(r.frames.count == bad.framesBefore)
        // The message names the offset too.
        if let e = r.error, bad.kind != .unknownFormat { #expect(e.description.contains("byte \(bad.offset)")) }
    }

    @Test("the unknown-format error names the magic number")
    func unknownMagic() {
        let r = readCapture([0x50, 0x4B, 3, 4, 0, 0])
        #expect(r.error == .unknownFormat(magic: 0x0403_4B50))
        #expect(r.error?.description == "not a pcap or pcapng file (magic 0x4034b50)")
    }

    // MARK: - PcapWriter

    @Test("PcapWriter's frames read back and decode to the datagrams written")
    func pcapWriterRoundTrip() {
        var w = PcapWriter()
        let payloads: [[UInt8]] = [[], [1], Array(0..<200)]
        for (i, p) in payloads.enumerated() {
            w.appendUDP(
                timestampNanoseconds: 1_500_000_000 + Int64(i) * 20_000_000, source: (0xC000_0201, 4000),
                destination: (0xC000_0202, 5004), payload: p)
        }
        let r = readCapture(w.bytes)
        #expect(r.error == nil && r.format == .pcap)
        #expect(r.frames.map(\.timestampNanoseconds) == [1_500_000_000, 1_520_000_000, 1_540_000_000])
        for (frame, payload) in zip(r.frames, payloads) {
            // The IPv4 header checksum sums to 0xFFFF.
            var sum: UInt32 = 0
            for i in stride(from: 14, to: 34, by: 2) { sum += UInt32(frame.data[i]) << 8 | UInt32(frame.data[i + 1]) }
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            #expect(sum == 0xFFFF)
            frame.data.withUnsafeBytes { raw in
                guard case .udp(let d) = FrameDecoder.decode(raw, linkType: frame.linkType) else {
                    Issue.record("not UDP")
                    return
                }
                #expect(d.source.description == "192.0.2.1:4000" && d.destination.description == "192.0.2.2:5004")
                #expect(Array(d.payload) == payload)
            }
        }
    }
}
