// G.711 µ-law and A-law, bit-exact with the ITU-T G.191 Software Tool Library (STL).
//
// The STL encoder truncates the 16-bit input to 14 bits (µ-law) or 13 bits (A-law); other
// encoders (sox rounds, libsndfile negates) disagree with it at some decision
// boundaries. The tests check every one of the 65 536 inputs against the STL vectors.

/// A G.711 companding law.
public enum G711Law: String, Sendable {
    /// µ-law (PCMU, RTP static payload type 0).
    case ulaw
    /// A-law (PCMA, RTP static payload type 8).
    case alaw
}

/// ITU-T G.711 companding: 16-bit linear PCM ↔ 8-bit codes, one code per sample.
///
/// Decoding looks up a 256-entry table; encoding looks up a table indexed by the sample's top
/// 14 (µ-law) or 12 (A-law) bits: the only bits the STL encoder looks at. The tables are built
/// once, on first use, from the formulas in `G711+Tables.swift`.
///
/// The scalar functions suit a sample at a time; the bulk `encode`/`decode` fetch the table once
/// per call and allocate nothing, for the per-frame path.
public enum G711 {
    /// Encodes one 16-bit linear sample as a µ-law code, as the STL `ulaw_compress` does.
    ///
    /// The two least significant bits are dropped (truncation, not rounding).
    public static func encodeULaw(_ sample: Int16) -> UInt8 {
        // Safe: `ulawEncodeIndex` is < 16 384, the table's count.
        ulawEncodeTable.withUnsafeBufferPointer { $0[ulawEncodeIndex(sample)] }
    }

    /// Decodes one µ-law code to 16-bit linear PCM (the 14-bit value, left-justified), as the
    /// STL `ulaw_expand` does. Code `0xFF` and `0x7F` (±0) both give 0.
    public static func decodeULaw(_ code: UInt8) -> Int16 {
        // Safe: a `UInt8` is < 256, the table's count.
        ulawDecodeTable.withUnsafeBufferPointer { $0[Int(code)] }
    }

    /// Encodes one 16-bit linear sample as an A-law code (even bits inverted, as sent on the
    /// wire), as the STL `alaw_compress` does.
    ///
    /// The four least significant bits are dropped (truncation, not rounding).
    public static func encodeALaw(_ sample: Int16) -> UInt8 {
        // Safe: `alawEncodeIndex` is < 4 096, the table's count.
        alawEncodeTable.withUnsafeBufferPointer { $0[alawEncodeIndex(sample)] }
    }

    /// Decodes one A-law code (even bits inverted, as sent on the wire) to 16-bit linear PCM
    /// (the 13-bit value, left-justified), as the STL `alaw_expand` does.
    public static func decodeALaw(_ code: UInt8) -> Int16 {
        // Safe: a `UInt8` is < 256, the table's count.
        alawDecodeTable.withUnsafeBufferPointer { $0[Int(code)] }
    }

    /// Bulk: decode `codes.count` bytes into `samples` (same count). No allocation.
    ///
    /// Each `samples[i]` equals `decodeULaw(codes[i])` or `decodeALaw(codes[i])`.
    /// - Precondition: `samples.count == codes.count`.
    public static func decode(
        _ law: G711Law,
        _ codes: UnsafeBufferPointer<UInt8>,
        into samples: UnsafeMutableBufferPointer<Int16>
    ) {
        precondition(
            samples.count == codes.count,
            "G711.decode: \(codes.count) codes but room for \(samples.count) samples")
        // A branch per law rather than `let table = …`: copying the array reference would cost
        // a retain and release per call, atomics on a count every worker thread shares.
        switch law {
        case .ulaw: lookUp(codes, in: ulawDecodeTable, into: samples)
        case .alaw: lookUp(codes, in: alawDecodeTable, into: samples)
        }
    }

    /// `samples[i] = table[codes[i]]` for each `i`; `table` has 256 entries.
    @inline(__always)
    private static func lookUp(
        _ codes: UnsafeBufferPointer<UInt8>,
        in table: [Int16],
        into samples: UnsafeMutableBufferPointer<Int16>
    ) {
        table.withUnsafeBufferPointer { table in
            for i in 0..<codes.count {
                // Safe: the caller checked `samples.count == codes.count`; a `UInt8` is < 256,
                // the table's count.
                samples[i] = table[Int(codes[i])]
            }
        }
    }

    /// Bulk: encode `samples.count` samples into `codes` (same count). No allocation.
    ///
    /// Each `codes[i]` equals `encodeULaw(samples[i])` or `encodeALaw(samples[i])`.
    /// - Precondition: `codes.count == samples.count`.
    public static func encode(
        _ law: G711Law,
        _ samples: UnsafeBufferPointer<Int16>,
        into codes: UnsafeMutableBufferPointer<UInt8>
    ) {
        precondition(
            codes.count == samples.count,
            "G711.encode: \(samples.count) samples but room for \(codes.count) codes")
        switch law {
        case .ulaw:
            ulawEncodeTable.withUnsafeBufferPointer { table in
                for i in 0..<samples.count {
                    // Safe: `i` < both counts (checked above); the index is < 16 384.
                    codes[i] = table[ulawEncodeIndex(samples[i])]
                }
            }
        case .alaw:
            alawEncodeTable.withUnsafeBufferPointer { table in
                for i in 0..<samples.count {
                    // Safe: `i` < both counts (checked above); the index is < 4 096.
                    codes[i] = table[alawEncodeIndex(samples[i])]
                }
            }
        }
    }
}
