/// Why a capture file could not be read further. Every case carries the byte offset
/// in the file where the problem is, so a user can look at it with a hex dump.
public enum CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with a pcap or pcapng magic number.
    case unknownFormat(magic: UInt32)
    /// The file ends in the middle of a header or record.
    case truncated(offset: Int, what: String)
    /// A header or block field holds an impossible value.
    case corrupt(offset: Int, what: String)

    public var description: String {
        switch self {
        case .unknownFormat(let magic):
            return "not a pcap or pcapng file (magic 0x\(String(magic, radix: 16)))"
        case .truncated(let offset, let what):
            return "truncated at byte \(offset): \(what)"
        case .corrupt(let offset, let what):
            return "corrupt at byte \(offset): \(what)"
        }
    }

    /// The byte offset of the problem, when there is one.
    public var offset: Int? {
        switch self {
        case .unknownFormat: return 0
        case .truncated(let o, _), .corrupt(let o, _): return o
        }
    }
}

/// Link-layer header types (tcpdump.org/linktypes), the ones a replay can decode.
public enum LinkType {
    /// LINKTYPE_NULL: BSD loopback, a 4-byte address family in the capturing host's byte order.
    public static let null: UInt32 = 0
    /// LINKTYPE_ETHERNET.
    public static let ethernet: UInt32 = 1
    /// LINKTYPE_RAW: raw IPv4 or IPv6.
    public static let raw: UInt32 = 101
    /// DLT_RAW as some systems number it.
    public static let rawAlt12: UInt32 = 12
    /// DLT_RAW as OpenBSD numbers it.
    public static let rawAlt14: UInt32 = 14
    /// LINKTYPE_LOOP: OpenBSD loopback, the family in network byte order.
    public static let loop: UInt32 = 108
    /// LINKTYPE_LINUX_SLL: Linux cooked capture v1.
    public static let linuxSLL: UInt32 = 113
    /// LINKTYPE_IPV4.
    public static let ipv4: UInt32 = 228
    /// LINKTYPE_IPV6.
    public static let ipv6: UInt32 = 229
    /// LINKTYPE_LINUX_SLL2: Linux cooked capture v2.
    public static let linuxSLL2: UInt32 = 276
}

/// One captured frame, pointing into the capture's bytes.
public struct CapturedFrame {
    /// Capture time in nanoseconds since the Unix epoch.
    public var timestampNanoseconds: Int64
    /// The frame's link-layer type.
    public var linkType: UInt32
    /// The captured bytes (possibly fewer than the frame had on the wire).
    public var data: UnsafeRawBufferPointer
    /// The frame's length on the wire.
    public var originalLength: Int
    /// Byte offset of the frame's record in the file.
    public var fileOffset: Int
    /// 1-based frame number in the file, as Wireshark numbers frames.
    public var number: Int
}

/// The container format of a capture.
public enum CaptureFormat: String, Sendable, Codable {
    /// Classic libpcap, microsecond timestamps.
    case pcap
    /// Classic libpcap, nanosecond timestamps.
    case pcapNanosecond = "pcap-ns"
    /// pcapng.
    case pcapng
}

/// Reads pcap (both byte orders, µs and ns) and pcapng (SHB, IDB, EPB, SPB, the obsolete
/// PB; several sections and interfaces; per-interface timestamp resolution and offset)
/// from bytes in memory. It copies nothing: frames point into the buffer.
public struct CaptureReader {
    private let bytes: UnsafeRawBufferPointer
    /// The container format found.
    public let format: CaptureFormat
    private var offset: Int
    private var bigEndian: Bool
    private var frameNumber = 0
    // pcap
    private var pcapLinkType: UInt32 = 0
    private var nanosecond = false
    // pcapng, per interface of the current section
    private var interfaces: [Interface] = []
    private var lastTimestamp: Int64 = 0

    private struct Interface {
        var linkType: UInt32
        var snapLength: Int
        /// Timestamp units per second.
        var unitsPerSecond: UInt64
        /// Seconds added to every timestamp (if_tsoffset).
        var offsetSeconds: Int64
    }

    /// Bytes consumed so far (for progress reports).
    public var position: Int { offset }

    /// Starts reading `bytes`, which must outlive the reader. Throws if the file header is bad.
    public init(bytes: UnsafeRawBufferPointer) throws(CaptureError) {
        self.bytes = bytes
        guard let magicLE = bytes.u32(0, bigEndian: false) else {
            throw .truncated(offset: 0, what: "file shorter than a capture header (\(bytes.count) bytes)")
        }
        switch magicLE {
        case 0xA1B2_C3D4, 0xA1B2_3C4D:
            bigEndian = false
        case 0xD4C3_B2A1, 0x4D3C_B2A1:
            bigEndian = true
        case 0x0A0D_0D0A:
            bigEndian = false  // fixed by the section header's byte-order magic
        default:
            throw .unknownFormat(magic: magicLE)
        }
        if magicLE == 0x0A0D_0D0A {
            format = .pcapng
            offset = 0
            return
        }
        let magic = bytes.u32(0, bigEndian: bigEndian)!
        nanosecond = magic == 0xA1B2_3C4D
        format = nanosecond ? .pcapNanosecond : .pcap
        guard let link = bytes.u32(20, bigEndian: bigEndian) else {
            throw .truncated(offset: 0, what: "pcap file header needs 24 bytes, the file has \(bytes.count)")
        }
        // The upper bits may carry FCS information; the link type is the low 16.
        pcapLinkType = link & 0xFFFF
        offset = 24
    }

    /// The next frame, nil at the clean end of the file.
    public mutating func next() throws(CaptureError) -> CapturedFrame? {
        switch format {
        case .pcap, .pcapNanosecond: return try nextPcap()
        case .pcapng: return try nextPcapng()
        }
    }

    private mutating func nextPcap() throws(CaptureError) -> CapturedFrame? {
        if offset == bytes.count { return nil }
        let start = offset
        guard let sec = bytes.u32(start, bigEndian: bigEndian), let frac = bytes.u32(start + 4, bigEndian: bigEndian),
            let incl = bytes.u32(start + 8, bigEndian: bigEndian), let orig = bytes.u32(start + 12, bigEndian: bigEndian)
        else {
            throw .truncated(offset: start, what: "record header needs 16 bytes, \(bytes.count - start) left")
        }
        // 256 KiB is far past any real snap length; a larger one is a corrupt header.
        guard incl <= 262_144 else { throw .corrupt(offset: start, what: "record length \(incl) is implausible") }
        guard let data = bytes.slice(start + 16, Int(incl)) else {
            throw .truncated(offset: start, what: "record of \(incl) bytes, \(bytes.count - start - 16) left")
        }
        guard nanosecond || frac < 1_000_000 else {
            throw .corrupt(offset: start + 4, what: "microsecond field \(frac) is 1,000,000 or more")
        }
        offset = start + 16 + Int(incl)
        frameNumber += 1
        let ns = Int64(sec) * 1_000_000_000 + (nanosecond ? Int64(frac) : Int64(frac) * 1000)
        return CapturedFrame(
            timestampNanoseconds: ns, linkType: pcapLinkType, data: data, originalLength: Int(orig), fileOffset: start,
            number: frameNumber)
    }

    private mutating func nextPcapng() throws(CaptureError) -> CapturedFrame? {
        while offset < bytes.count {
            let start = offset
            guard let rawType = bytes.u32(start, bigEndian: false) else {
                throw .truncated(offset: start, what: "block header needs 8 bytes")
            }
            if rawType == 0x0A0D_0D0A {
                // Section header: the byte-order magic decides how to read the rest.
                guard let bom = bytes.u32(start + 8, bigEndian: false) else {
                    throw .truncated(offset: start, what: "section header block needs 12 bytes")
                }
                switch bom {
                case 0x1A2B_3C4D: bigEndian = false
                case 0x4D3C_2B1A: bigEndian = true
                default: throw .corrupt(offset: start + 8, what: "byte-order magic 0x\(String(bom, radix: 16))")
                }
                interfaces.removeAll()
            }
            guard let type = bytes.u32(start, bigEndian: bigEndian),
                let total32 = bytes.u32(start + 4, bigEndian: bigEndian)
            else {
                throw .truncated(offset: start, what: "block header needs 8 bytes")
            }
            let total = Int(total32)
            guard total >= 12, total % 4 == 0 else {
                throw .corrupt(offset: start + 4, what: "block length \(total) is not a multiple of 4 of at least 12")
            }
            guard let block = bytes.slice(start, total) else {
                throw .truncated(offset: start, what: "block of \(total) bytes, \(bytes.count - start) left")
            }
            guard block.u32(total - 4, bigEndian: bigEndian) == total32 else {
                throw .corrupt(offset: start + total - 4, what: "trailing block length differs from \(total)")
            }
            offset = start + total
            let body = UnsafeRawBufferPointer(rebasing: block[8..<(total - 4)])
            switch type {
            case 0x0A0D_0D0A:
                continue
            case 1:  // Interface Description Block
                guard let link = body.u16(0, bigEndian: bigEndian), let snap = body.u32(4, bigEndian: bigEndian) else {
                    throw .corrupt(offset: start, what: "interface description block shorter than 8 bytes")
                }
                var iface = Interface(
                    linkType: UInt32(link), snapLength: Int(snap), unitsPerSecond: 1_000_000, offsetSeconds: 0)
                try readInterfaceOptions(body, from: 8, blockStart: start, into: &iface)
                interfaces.append(iface)
            case 6, 2:  // Enhanced Packet Block; obsolete Packet Block
                let isEPB = type == 6
                let ifaceID: Int
                if isEPB {
                    guard let v = body.u32(0, bigEndian: bigEndian) else {
                        throw .corrupt(offset: start, what: "enhanced packet block too short")
                    }
                    ifaceID = Int(v)
                } else {
                    guard let v = body.u16(0, bigEndian: bigEndian) else {
                        throw .corrupt(offset: start, what: "packet block too short")
                    }
                    ifaceID = Int(v)
                }
                guard ifaceID < interfaces.count else {
                    throw .corrupt(offset: start + 8, what: "packet names interface \(ifaceID), only \(interfaces.count) defined")
                }
                guard let hi = body.u32(4, bigEndian: bigEndian), let lo = body.u32(8, bigEndian: bigEndian),
                    let cap = body.u32(12, bigEndian: bigEndian), let orig = body.u32(16, bigEndian: bigEndian)
                else {
                    throw .corrupt(offset: start, what: "packet block shorter than its 20 fixed bytes")
                }
                guard let data = body.slice(20, Int(cap)) else {
                    throw .corrupt(offset: start + 20, what: "captured length \(cap) exceeds the block")
                }
                let iface = interfaces[ifaceID]
                let ts = timestamp(units: UInt64(hi) << 32 | UInt64(lo), iface)
                lastTimestamp = ts
                frameNumber += 1
                return CapturedFrame(
                    timestampNanoseconds: ts, linkType: iface.linkType, data: data, originalLength: Int(orig),
                    fileOffset: start, number: frameNumber)
            case 3:  // Simple Packet Block: interface 0, no timestamp
                guard let iface = interfaces.first else {
                    throw .corrupt(offset: start, what: "simple packet block before any interface description")
                }
                guard let orig = body.u32(0, bigEndian: bigEndian) else {
                    throw .corrupt(offset: start, what: "simple packet block too short")
                }
                var cap = min(Int(orig), body.count - 4)
                if iface.snapLength > 0 { cap = min(cap, iface.snapLength) }
                frameNumber += 1
                return CapturedFrame(
                    timestampNanoseconds: lastTimestamp, linkType: iface.linkType, data: body.slice(4, cap)!,
                    originalLength: Int(orig), fileOffset: start, number: frameNumber)
            default:
                continue  // name resolution, statistics, custom blocks: not needed
            }
        }
        return nil
    }

    private func readInterfaceOptions(
        _ body: UnsafeRawBufferPointer, from first: Int, blockStart: Int, into iface: inout Interface
    ) throws(CaptureError) {
        var o = first
        while let code = body.u16(o, bigEndian: bigEndian), let len = body.u16(o + 2, bigEndian: bigEndian) {
            if code == 0 { break }
            guard let value = body.slice(o + 4, Int(len)) else {
                throw .corrupt(offset: blockStart + 8 + o, what: "interface option \(code) runs past its block")
            }
            if code == 9, len >= 1 {  // if_tsresol
                let r = value[0]
                let exponent = Int(r & 0x7F)
                if r & 0x80 != 0 {
                    guard exponent < 64 else { throw .corrupt(offset: blockStart, what: "if_tsresol 2^-\(exponent)") }
                    iface.unitsPerSecond = 1 << UInt64(exponent)
                } else {
                    guard exponent <= 19 else { throw .corrupt(offset: blockStart, what: "if_tsresol 10^-\(exponent)") }
                    var p: UInt64 = 1
                    for _ in 0..<exponent { p *= 10 }
                    iface.unitsPerSecond = p
                }
            } else if code == 14, len == 8 {  // if_tsoffset
                let hi = value.u32(0, bigEndian: bigEndian)!
                let lo = value.u32(4, bigEndian: bigEndian)!
                iface.offsetSeconds = Int64(bitPattern: UInt64(hi) << 32 | UInt64(lo))
            }
            o += 4 + (Int(len) + 3) & ~3
        }
    }

    private func timestamp(units: UInt64, _ iface: Interface) -> Int64 {
        let perSecond = iface.unitsPerSecond
        let seconds = units / perSecond
        let rest = units % perSecond
        // rest < perSecond ≤ 2^63; scale to nanoseconds without overflow.
        let nanos = perSecond <= 1_000_000_000 && 1_000_000_000 % perSecond == 0
            ? rest * (1_000_000_000 / perSecond)
            : UInt64((Double(rest) / Double(perSecond)) * 1e9)
        return Int64(truncatingIfNeeded: seconds &* 1_000_000_000 &+ nanos) &+ iface.offsetSeconds &* 1_000_000_000
    }
}
