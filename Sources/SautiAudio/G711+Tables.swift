// The G.711 lookup tables and the formulas they are built from.
//
// The formulas follow ITU-T G.711 Tables 1a/2a with the STL's quantisation: a negative sample's
// magnitude is its one's complement (`~x`, i.e. −x − 1) shifted right, so the encoder truncates
// towards the decision level below. They run once per table entry, never per sample.

extension G711 {
    /// µ-law code for every 14-bit input, indexed by ``ulawEncodeIndex(_:)``: 16 384 entries.
    static let ulawEncodeTable: [UInt8] = (0..<(1 << 14)).map {
        ulawEncodeFormula(Int16(bitPattern: UInt16($0) << 2))
    }

    /// A-law code for every 12-bit input, indexed by ``alawEncodeIndex(_:)``: 4 096 entries.
    static let alawEncodeTable: [UInt8] = (0..<(1 << 12)).map {
        alawEncodeFormula(Int16(bitPattern: UInt16($0) << 4))
    }

    /// Linear sample for every µ-law code: 256 entries.
    static let ulawDecodeTable: [Int16] = (0...255).map { ulawDecodeFormula(UInt8($0)) }

    /// Linear sample for every A-law code: 256 entries.
    static let alawDecodeTable: [Int16] = (0...255).map { alawDecodeFormula(UInt8($0)) }

    /// Index into ``ulawEncodeTable``: the sample's top 14 bits, 0 ..< 16 384.
    ///
    /// The µ-law encoder reads only `sample >> 2` (and `~sample >> 2 == ~(sample >> 2)`), so
    /// the top 14 bits of the bit pattern name its input exactly.
    @inline(__always)
    static func ulawEncodeIndex(_ sample: Int16) -> Int {
        Int(UInt16(bitPattern: sample) &>> 2)
    }

    /// Index into ``alawEncodeTable``: the sample's top 12 bits, 0 ..< 4 096.
    ///
    /// The A-law encoder reads only `sample >> 4`; see ``ulawEncodeIndex(_:)``.
    @inline(__always)
    static func alawEncodeIndex(_ sample: Int16) -> Int {
        Int(UInt16(bitPattern: sample) &>> 4)
    }

    /// µ-law encoding by formula (the STL `ulaw_compress`); builds ``ulawEncodeTable``.
    static func ulawEncodeFormula(_ sample: Int16) -> UInt8 {
        let x = Int(sample)
        // 14-bit magnitude, truncated; plus the µ-law bias of 33, clamped to the top of segment 7.
        let biased = min(((x < 0 ? ~x : x) >> 2) + 33, 0x1FFF)
        // Segment s (0...7) holds biased values 2^(s+5) ..< 2^(s+6); 16 steps of 2^(s+1) each.
        let segment = Int.bitWidth - (biased >> 6).leadingZeroBitCount
        let step = (biased >> (segment + 1)) & 0xF
        // µ-law sends the magnitude code inverted; the sign bit is 1 for zero and positive.
        let inversion = x < 0 ? 0x7F : 0xFF
        return UInt8(((segment << 4) | step) ^ inversion)
    }

    /// µ-law decoding by formula (the STL `ulaw_expand`); builds ``ulawDecodeTable``.
    static func ulawDecodeFormula(_ code: UInt8) -> Int16 {
        let inverted = Int(~code)
        let segment = (inverted >> 4) & 0x7
        let step = inverted & 0xF
        // Middle of the interval, biased, in 14-bit units: (2·step + 33) << segment; minus the
        // bias of 33; ×4 to left-justify. 0x84 = 4 · 33.
        let magnitude = (((step << 3) + 0x84) << segment) - 0x84
        return Int16(code & 0x80 != 0 ? magnitude : -magnitude)
    }

    /// A-law encoding by formula (the STL `alaw_compress`); builds ``alawEncodeTable``.
    static func alawEncodeFormula(_ sample: Int16) -> UInt8 {
        let x = Int(sample)
        // 12-bit magnitude (13-bit signed input), truncated.
        let magnitude = (x < 0 ? ~x : x) >> 4
        // Segment 0 holds 0 ..< 32 in steps of 2 (here 0 ..< 16 in steps of 1); segment s ≥ 1
        // holds 2^(s+3) ..< 2^(s+4) in 16 steps of 2^(s−1).
        let segment = max(Int.bitWidth - magnitude.leadingZeroBitCount - 4, 0)
        let step = (magnitude >> max(segment - 1, 0)) & 0xF
        let sign = x < 0 ? 0 : 0x80
        // A-law sends the code with its even bits inverted.
        return UInt8((sign | (segment << 4) | step) ^ 0x55)
    }

    /// A-law decoding by formula (the STL `alaw_expand`); builds ``alawDecodeTable``.
    static func alawDecodeFormula(_ code: UInt8) -> Int16 {
        let uninverted = Int(code ^ 0x55)
        let segment = (uninverted >> 4) & 0x7
        let step = uninverted & 0xF
        // Middle of the interval, left-justified to 16 bits: segment 0 is (2·step + 1) · 8;
        // segment s ≥ 1 is (2·step + 33) · 8 << (s − 1). 0x108 = 8 · 33.
        let magnitude =
            segment == 0 ? (step << 4) + 8 : ((step << 4) + 0x108) << (segment - 1)
        return Int16(code & 0x80 != 0 ? magnitude : -magnitude)
    }
}
