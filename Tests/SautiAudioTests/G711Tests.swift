import SautiAudio
import Testing

/// The ITU-T G.191 STL G.711 sweep vectors in `audio-fixtures/g711/`: every Int16 input, the
/// STL code for it (low byte of each word), and the STL decode of that code.
struct STLSweep: Sendable {
    /// `sweep.src`: −32 768 … 32 767 in order.
    let input: [Int16]
    /// `sweep-r.u` / `sweep-r.a`: the STL code for each input, one word each.
    let codeWords: [Int16]
    /// `sweep-r.u-u` / `sweep-r.a-a`: the STL decode of each of those codes.
    let decoded: [Int16]

    init(_ law: G711Law) throws {
        let suffix = law == .ulaw ? "u" : "a"
        input = try Fixtures.littleEndianWords("g711/sweep.src")
        codeWords = try Fixtures.littleEndianWords("g711/sweep-r.\(suffix)")
        decoded = try Fixtures.littleEndianWords("g711/sweep-r.\(suffix)-\(suffix)")
    }

    /// The code for input `i`: the low byte of its word.
    func code(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: codeWords[i]) }
}

func encodeScalar(_ law: G711Law) -> @Sendable (Int16) -> UInt8 {
    law == .ulaw ? G711.encodeULaw : G711.encodeALaw
}

func decodeScalar(_ law: G711Law) -> @Sendable (UInt8) -> Int16 {
    law == .ulaw ? G711.decodeULaw : G711.decodeALaw
}

/// Every Int16 value, −32 768 … 32 767.
let everySample: [Int16] = (Int(Int16.min)...Int(Int16.max)).map { Int16($0) }

@Suite("G.711 against the ITU-T G.191 STL reference vectors")
struct G711STLTests {
    @Test(
        "the fixtures are the STL sweep: every input once, one code per word",
        arguments: [
            G711Law.ulaw, .alaw,
        ])
    func fixturesAreTheSweep(law: G711Law) throws {
        let sweep = try STLSweep(law)
        #expect(sweep.input == everySample)
        #expect(sweep.codeWords.count == 65_536 && sweep.decoded.count == 65_536)
        #expect(sweep.codeWords.allSatisfy { 0...255 ~= $0 }, "codes are the low byte only")
        // So the decode check below covers every code.
        #expect(Set(sweep.codeWords).count == 256)
    }

    @Test(
        "encoding each of the 65 536 inputs gives the STL code",
        arguments: [
            G711Law.ulaw, .alaw,
        ])
    func encodeIsBitExact(law: G711Law) throws {
        let sweep = try STLSweep(law)
        let encode = encodeScalar(law)
        let wrong = sweep.input.indices.filter { encode(sweep.input[$0]) != sweep.code($0) }
        let shown = wrong.prefix(5).map {
            "\(sweep.input[$0]) → \(encode(sweep.input[$0])), STL \(sweep.code($0))"
        }
        #expect(wrong.isEmpty, "\(wrong.count) inputs differ from STL, e.g. \(shown)")
    }

    @Test("decoding each code gives the STL sample", arguments: [G711Law.ulaw, .alaw])
    func decodeIsBitExact(law: G711Law) throws {
        let sweep = try STLSweep(law)
        let decode = decodeScalar(law)
        let wrong = sweep.input.indices.filter { decode(sweep.code($0)) != sweep.decoded[$0] }
        let shown = wrong.prefix(5).map {
            "\(sweep.code($0)) → \(decode(sweep.code($0))), STL \(sweep.decoded[$0])"
        }
        #expect(wrong.isEmpty, "\(wrong.count) sweep words decode differently, e.g. \(shown)")
    }
}

@Suite("G.711 edge values")
struct G711EdgeTests {
    /// (sample, µ-law code, A-law code) from the STL vectors: zero, ±1, segment and step
    /// boundaries, the extremes, and inputs where rounding (sox) would give another code:
    /// sox gives µ 0xFE for 2, A 0xD4 for 12, µ 0x00 for −31 612.
    static let encodings: [(Int16, UInt8, UInt8)] = [
        (0, 0xFF, 0xD5), (1, 0xFF, 0xD5), (2, 0xFF, 0xD5), (-1, 0x7F, 0x55), (-4, 0x7F, 0x55),
        (-5, 0x7E, 0x55), (12, 0xFD, 0xD5), (16, 0xFD, 0xD4), (-16, 0x7D, 0x55),
        (-17, 0x7D, 0x54), (4095, 0xAF, 0x9A), (4096, 0xAF, 0x85), (-4097, 0x2F, 0x05),
        (-31612, 0x01, 0x2B), (32767, 0x80, 0xAA), (-32768, 0x00, 0x2A),
    ]

    @Test("encode", arguments: encodings)
    func encode(sample: Int16, ulaw: UInt8, alaw: UInt8) {
        #expect(G711.encodeULaw(sample) == ulaw)
        #expect(G711.encodeALaw(sample) == alaw)
    }

    /// (code, µ-law sample, A-law sample), from the STL vectors.
    static let decodings: [(UInt8, Int16, Int16)] = [
        (0x00, -32124, -5504), (0x80, 32124, 5504), (0xFF, 0, 848), (0x7F, 0, -848),
        (0x7E, -8, -880), (0xD5, 716, 8), (0x55, -716, -8), (0xAA, 5372, 32256),
        (0x2A, -5372, -32256),
    ]

    @Test("decode", arguments: decodings)
    func decode(code: UInt8, ulaw: Int16, alaw: Int16) {
        #expect(G711.decodeULaw(code) == ulaw)
        #expect(G711.decodeALaw(code) == alaw)
    }

    @Test(
        "re-encoding a decoded sample gives the code back (µ-law −0 becomes +0)",
        arguments: [
            G711Law.ulaw, .alaw,
        ])
    func decodeThenEncodeIsIdentity(law: G711Law) {
        let (encode, decode) = (encodeScalar(law), decodeScalar(law))
        let wrong = (UInt8.min...UInt8.max).filter { code in
            encode(decode(code)) != (law == .ulaw && code == 0x7F ? 0xFF : code)
        }
        #expect(wrong.isEmpty, "codes that do not come back: \(wrong)")
    }
}

@Suite("G.711 bulk functions")
struct G711BulkTests {
    @Test(
        "bulk encode equals the scalar encode on every input and on short lengths",
        arguments: [G711Law.ulaw, .alaw])
    func bulkEncode(law: G711Law) {
        let encode = encodeScalar(law)
        let expected = everySample.map(encode)
        // Odd and empty lengths and an offset start exercise any unrolled loop's remainder.
        for range in [0..<65_536, 0..<0, 0..<1, 3..<10, 65_529..<65_536, 1_001..<1_161] {
            var codes = [UInt8](repeating: 0xA5, count: range.count)
            everySample[range].withUnsafeBufferPointer { samples in
                codes.withUnsafeMutableBufferPointer { G711.encode(law, samples, into: $0) }
            }
            #expect(codes[...] == expected[range], "range \(range)")
        }
    }

    @Test(
        "bulk decode equals the scalar decode on every code and on short lengths",
        arguments: [G711Law.ulaw, .alaw])
    func bulkDecode(law: G711Law) {
        let decode = decodeScalar(law)
        // Every code four times, in a scrambled order.
        let codes = (0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 167 &+ 13) }
        let expected = codes.map(decode)
        for range in [0..<1024, 0..<0, 0..<1, 5..<12, 1017..<1024, 100..<260] {
            var samples = [Int16](repeating: 0x5A5A, count: range.count)
            codes[range].withUnsafeBufferPointer { codes in
                samples.withUnsafeMutableBufferPointer { G711.decode(law, codes, into: $0) }
            }
            #expect(samples[...] == expected[range], "range \(range)")
        }
    }
}
