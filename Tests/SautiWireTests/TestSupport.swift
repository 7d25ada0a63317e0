import Foundation
import SautiWire
import Testing

/// Files in `audio-fixtures/` (see its README for where each came from).
enum Fixtures {
    /// The package's `audio-fixtures` folder, found from this source file's path.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SautiWireTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("audio-fixtures")

    /// `audio-fixtures/packets/aiortc`: aiortc's single-packet test vectors.
    static let aiortc = directory.appendingPathComponent("packets/aiortc")

    /// The bytes of one aiortc vector, e.g. `rtp.bin`.
    static func aiortcPacket(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: aiortc.appendingPathComponent(name)))
    }

    /// `aiortc_packets_truth.json`, the expected values transcribed from aiortc's tests.
    static func aiortcTruth() throws -> AiortcTruth {
        let data = try Data(contentsOf: aiortc.appendingPathComponent("aiortc_packets_truth.json"))
        return try JSONDecoder().decode(AiortcTruth.self, from: data)
    }
}

/// The layout of `aiortc_packets_truth.json` (field names as the file spells them).
struct AiortcTruth: Decodable {
    /// One vector.
    struct Entry: Decodable {
        var valid: Bool
        var version: Int?
        var marker: Int?
        var payload_type: Int?
        var sequence_number: Int?
        var timestamp: UInt32?
        var csrc: [UInt32]?
        var payload_len: Int?
        var padding_size: Int?
        var bytes: Int
        var hex: String
        var packets: [RTCPEntry]?
        var error: String?
    }

    /// One RTCP packet of a vector.
    struct RTCPEntry: Decodable {
        var type: String
        var ssrc: UInt32?
        var ntp_timestamp: UInt64?
        var rtp_timestamp: UInt32?
        var packet_count: UInt32?
        var octet_count: UInt32?
        var reports: [Report]?
        var chunks: [Chunk]?
        var sources: [UInt32]?
        var fmt: Int?
        var media_ssrc: UInt32?
        var nack_lost: [Int]?
        var fci: String?
    }

    /// A reception report block.
    struct Report: Decodable {
        var ssrc: UInt32
        var fraction_lost: UInt8
        var packets_lost: Int32
        var highest_sequence: UInt32
        var jitter: UInt32
        var lsr: UInt32
        var dlsr: UInt32
    }

    /// An SDES chunk; items are `[type, text]` pairs.
    struct Chunk: Decodable {
        var ssrc: UInt32
        var items: [Item]
    }

    /// One `[type, text]` SDES item.
    struct Item: Decodable {
        var type: UInt8
        var text: String

        init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            type = try c.decode(UInt8.self)
            text = try c.decode(String.self)
        }
    }

    var packets: [String: Entry]
}

/// Bytes from a hex string ("80c8 00…"; spaces ignored).
func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// Builds binary test inputs field by field in a chosen byte order.
struct ByteWriter {
    /// The bytes so far.
    var bytes: [UInt8] = []
    /// Multi-byte fields are written big-endian when true.
    var bigEndian: Bool

    init(bigEndian: Bool) { self.bigEndian = bigEndian }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u16(_ v: UInt16) {
        let le = [UInt8(v & 0xFF), UInt8(v >> 8)]
        bytes += bigEndian ? le.reversed() : le
    }

    mutating func u32(_ v: UInt32) {
        let le = (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
        bytes += bigEndian ? le.reversed() : le
    }

    mutating func append(_ b: [UInt8]) { bytes += b }

    /// Zero bytes up to the next multiple of 4.
    mutating func pad4() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}

/// SplitMix64: a small seeded generator, so random tests replay from their seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seed of the random tests: `SAUTI_FUZZ_SEED` if set, else a fixed one.
let fuzzSeed: UInt64 =
    ProcessInfo.processInfo.environment["SAUTI_FUZZ_SEED"].flatMap { UInt64($0) }
    ?? 0x5A07_1C0D_E5EE_D001

/// Parses `bytes` as RTP, as a value to compare.
func parseRTP(_ bytes: [UInt8]) -> Result<RTPHeader, RTPParseError> {
    bytes.withUnsafeBytes { raw in
        do throws(RTPParseError) { return .success(try RTPHeader(parsing: raw)) } catch { return .failure(error) }
    }
}

/// Parses `bytes` as a compound RTCP packet, as a value to compare.
func parseRTCP(_ bytes: [UInt8]) -> Result<[RTCPPacket], RTCPParseError> {
    bytes.withUnsafeBytes { raw in
        do throws(RTCPParseError) { return .success(try RTCP.parseCompound(raw)) } catch { return .failure(error) }
    }
}

/// The 16 bytes of an IPv6 address given as text.
func ipv6Bytes(_ text: String) -> [UInt8] {
    guard case .v6(let hi, let lo)? = IPAddress(text) else { fatalError("not IPv6: \(text)") }
    return (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * UInt64($0))) }
        + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * UInt64($0))) }
}

/// The 4 bytes of an IPv4 address given as text.
func ipv4Bytes(_ text: String) -> [UInt8] {
    guard case .v4(let a)? = IPAddress(text) else { fatalError("not IPv4: \(text)") }
    return [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF)]
}
