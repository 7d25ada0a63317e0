import Foundation
import SautiAudio
import Testing

/// What the encoder is told about its audio and its path: the band of the content
/// (`limitBand(toAudioRate:)`) and the loss its FEC is sized for (`setExpectedLoss`),
/// read back from the packets themselves.
@Suite struct OpusBandAndLossTests {
    /// The audio rate of the band a packet's TOC byte says it codes (RFC 6716 §3.1).
    static func bandRate(_ packet: [UInt8]) -> Int {
        let config = Int(packet[0] >> 3)
        switch config {
        case 0...3, 16...19: return 8000
        case 4...7: return 12_000
        case 8...11, 20...23: return 16_000
        case 12...13, 24...27: return 24_000
        default: return 48_000
        }
    }

    /// True when a SILK-only mono packet of one 20 ms frame carries FEC (LBRR) data: after
    /// the TOC, the range coder's first two symbols are the frame's VAD flag and the LBRR
    /// flag, each one equiprobable bit (RFC 6716 §4.2.3), so they are the byte's top bits.
    static func hasLBRR(_ packet: [UInt8]) -> Bool {
        packet.count > 2 && packet[0] >> 3 < 12 && packet[1] & 0x40 != 0
    }

    /// `seconds` of a voiced, speech-like signal at `rate` (harmonics of 140 Hz to 3.5 kHz,
    /// with a syllable envelope), wide enough that a wideband encoder codes above 4 kHz.
    static func voice(rate: Int, seconds: Double) -> [Int16] {
        (0..<Int(Double(rate) * seconds)).map { i in
            let t = Double(i) / Double(rate)
            let envelope = 0.3 + 0.7 * max(0, sin(2 * .pi * 2 * t))
            var v = 0.0
            for h in 1...50 where Double(h) * 140 < Double(rate) / 2 {
                v += sin(2 * .pi * 140 * Double(h) * t) / Double(h)
            }
            return Int16((5000 * envelope * v).rounded())
        }
    }

    /// Encodes `pcm` in 20 ms frames with `encoder`.
    static func packets(_ pcm: ArraySlice<Int16>, _ encoder: OpusEncoder) -> [[UInt8]] {
        let n = encoder.sampleRate / 50
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        for start in stride(from: pcm.startIndex, to: pcm.endIndex - n + 1, by: n) {
            let length = pcm[start..<(start + n)].withUnsafeBufferPointer { frame in
                buffer.withUnsafeMutableBytes { encoder.encode(frame, into: $0) }
            }
            if length > 0 { out.append(Array(buffer[0..<length])) }
        }
        return out
    }

    @Test(
        "content at 8 kHz: a 16 kHz encoder moves down to narrowband (libopus fades over some seconds), and widens again"
    )
    func contentBand() throws {
        let encoder = try OpusEncoder(sampleRate: 16_000)
        let source = Self.voice(rate: 16_000, seconds: 10)
        let before = Self.packets(source[0..<16_000], encoder)
        #expect(before.suffix(25).allSatisfy { Self.bandRate($0) == 16_000 }, "wideband to start with")
        #expect(encoder.limitBand(toAudioRate: 8000))
        #expect(encoder.contentRate == 8000 && encoder.bandRate == 8000)
        // SILK lowers its band through a low-pass fade (about 5 s in libopus 1.3) rather
        // than at once; by 8 s it codes narrowband.
        let limited = Self.packets(source[16_000..<144_000], encoder)
        let firstNarrow = limited.firstIndex { Self.bandRate($0) == 8000 }
        print("limited to 8 kHz: narrowband from packet \(firstNarrow ?? -1) (\(limited.count) packets)")
        #expect(limited.suffix(50).allSatisfy { Self.bandRate($0) == 8000 }, "narrowband after 7 s")
        #expect(encoder.limitBand(toAudioRate: nil))
        let after = Self.packets(source[144_000...], encoder)
        #expect(after.suffix(40).allSatisfy { Self.bandRate($0) > 8000 }, "wider again: \(after.map(Self.bandRate))")
    }

    @Test("the band is the narrower of the remote's maxplaybackrate and the content's rate, and survives apply()")
    func narrowerOfBoth() throws {
        var settings = OpusEncoderSettings()
        settings.maxPlaybackRate = 12_000
        let encoder = try OpusEncoder(sampleRate: 48_000, settings: settings)
        #expect(encoder.bandRate == 12_000)
        encoder.limitBand(toAudioRate: 16_000)
        #expect(encoder.bandRate == 12_000)
        encoder.limitBand(toAudioRate: 8000)
        #expect(encoder.bandRate == 8000)
        settings.maxPlaybackRate = nil
        try encoder.apply(settings)
        #expect(encoder.contentRate == 8000 && encoder.bandRate == 8000)
        let packets = Self.packets(Self.voice(rate: 48_000, seconds: 0.5)[...], encoder)
        #expect(packets.allSatisfy { Self.bandRate($0) == 8000 })
        encoder.limitBand(toAudioRate: nil)
        #expect(encoder.bandRate == 48_000)
    }

    @Test("FEC sized for 0 % loss carries no LBRR data; for 10 % it does; nil goes back to the setting")
    func expectedLoss() throws {
        let encoder = try OpusEncoder(sampleRate: 8000)
        let source = Self.voice(rate: 8000, seconds: 3)
        #expect(encoder.fecLossPercent == 10)
        let start = Self.packets(source[0..<8000], encoder)
        #expect(start.suffix(40).filter(Self.hasLBRR).count >= 8, "FEC at the default 10 %")
        #expect(encoder.setExpectedLoss(percent: 0))
        #expect(encoder.fecLossPercent == 0)
        let clean = Self.packets(source[8000..<16_000], encoder)
        #expect(clean.filter(Self.hasLBRR).isEmpty, "\(clean.filter(Self.hasLBRR).count) packets with FEC at 0 %")
        #expect(encoder.setExpectedLoss(percent: nil))
        #expect(encoder.fecLossPercent == 10)
        let again = Self.packets(source[16_000...], encoder)
        #expect(again.suffix(40).filter(Self.hasLBRR).count >= 8)
        #expect(!encoder.setExpectedLoss(percent: 101) && encoder.fecLossPercent == 10, "out of range: refused")
        // FEC off in the settings: no FEC whatever the loss.
        var off = OpusEncoderSettings()
        off.inbandFEC = false
        try encoder.apply(off)
        encoder.setExpectedLoss(percent: 20)
        #expect(encoder.fecLossPercent == 0)
        #expect(Self.packets(source[0..<8000], encoder).filter(Self.hasLBRR).isEmpty)
    }

    @Test("narrowbandComplexity applies while the encoder codes narrowband only: a 16 kHz encoder told its audio is 8 kHz, an 8 kHz encoder; wideband goes back to complexity")
    func narrowbandComplexity() throws {
        var settings = OpusEncoderSettings()
        settings.complexity = 5
        settings.narrowbandComplexity = 1
        let wide = try OpusEncoder(sampleRate: 16_000, settings: settings)
        #expect(wide.complexity == 5 && wide.appliedComplexity == 5)
        #expect(wide.limitBand(toAudioRate: 8000))
        #expect(wide.complexity == 1 && wide.appliedComplexity == 1)
        #expect(wide.limitBand(toAudioRate: nil))
        #expect(wide.appliedComplexity == 5)
        // A receiver that plays 8 kHz at most: narrowband from the start, and after apply().
        settings.maxPlaybackRate = 8000
        try wide.apply(settings)
        #expect(wide.appliedComplexity == 1)
        let narrow = try OpusEncoder(sampleRate: 8000, settings: settings)
        #expect(narrow.appliedComplexity == 1)
        // Unset: the one complexity everywhere.
        let plain = try OpusEncoder(sampleRate: 8000)
        #expect(plain.appliedComplexity == OpusEncoderSettings().complexity)
        settings.narrowbandComplexity = 11
        #expect(throws: OpusError.invalidSetting("narrowband complexity", 11)) { try OpusEncoder(sampleRate: 8000, settings: settings) }
    }
}
