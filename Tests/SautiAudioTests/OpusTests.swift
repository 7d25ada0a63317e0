import Foundation
import SautiAudio
import SautiTestSupport
import Testing

/// The libopus wrapper: round trips, PLC, FEC, corrupt packets, settings.
@Suite struct OpusTests {
    /// A 440 Hz + 1100 Hz tone at `rate`, `seconds` long, about -9 dBFS.
    static func tone(rate: Int, seconds: Double) -> [Int16] {
        (0..<Int(Double(rate) * seconds)).map { i in
            let t = Double(i) / Double(rate)
            return Int16((6000 * sin(2 * .pi * 440 * t) + 4000 * sin(2 * .pi * 1100 * t)).rounded())
        }
    }

    /// Normalized cross-correlation of `a[i]` with `b[i + lag]` over `range` of `a`.
    static func ncc(_ a: [Int16], _ b: [Int16], lag: Int, range: Range<Int>) -> Double {
        var xy = 0.0, xx = 0.0, yy = 0.0
        for i in range where i + lag >= 0 && i + lag < b.count {
            let x = Double(a[i]), y = Double(b[i + lag])
            xy += x * y
            xx += x * x
            yy += y * y
        }
        return xx == 0 || yy == 0 ? 0 : xy / (xx * yy).squareRoot()
    }

    /// Encodes `pcm` in 20 ms packets.
    static func encode(_ pcm: [Int16], rate: Int, settings: OpusEncoderSettings = OpusEncoderSettings()) throws
        -> [[UInt8]]
    {
        let encoder = try OpusEncoder(sampleRate: rate, settings: settings)
        let n = rate / 50
        var packets: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        for start in stride(from: 0, to: pcm.count - n + 1, by: n) {
            let length = pcm[start..<(start + n)].withUnsafeBufferPointer { frame in
                buffer.withUnsafeMutableBytes { encoder.encode(frame, into: $0) }
            }
            #expect(length > 0)
            packets.append(Array(buffer[0..<length]))
        }
        return packets
    }

    @Test(
        "encode then decode at each rate: the tone comes back (NCC ≥ 0.9 after the codec's delay)",
        arguments: [8000, 16_000, 24_000, 48_000])
    func roundTrip(rate: Int) throws {
        let source = Self.tone(rate: rate, seconds: 1)
        let packets = try Self.encode(source, rate: rate)
        let decoder = try OpusDecoder(sampleRate: rate)
        var out: [Int16] = []
        var frame = [Int16](repeating: 0, count: decoder.maxFrameSamples)
        for p in packets {
            let outcome = p.withUnsafeBytes { payload in
                frame.withUnsafeMutableBufferPointer { decoder.decode(payload, into: $0) }
            }
            #expect(outcome == .decoded(samples: rate / 50))
            out += frame[0..<outcome.samples]
        }
        let range = (rate / 5)..<(rate * 4 / 5)
        let best = (0...(rate / 100)).map { Self.ncc(source, out, lag: $0, range: range) }.max() ?? 0
        #expect(best >= 0.9, "NCC \(best) at \(rate) Hz")
        #expect(decoder.errors == 0)
    }

    @Test("rates libopus does not run at are refused; settings out of range are refused")
    func badSettings() {
        #expect(throws: OpusError.unsupportedSampleRate(44_100)) { try OpusDecoder(sampleRate: 44_100) }
        #expect(throws: OpusError.unsupportedSampleRate(22_050)) { try OpusEncoder(sampleRate: 22_050) }
        var s = OpusEncoderSettings()
        s.complexity = 11
        #expect(throws: OpusError.invalidSetting("complexity", 11)) { try OpusEncoder(sampleRate: 16_000, settings: s) }
        s = OpusEncoderSettings()
        s.bitrate = 1000
        #expect(throws: OpusError.invalidSetting("bitrate", 1000)) { try OpusEncoder(sampleRate: 16_000, settings: s) }
    }

    @Test("corrupt packets (seeded random bytes, truncations, empty) are concealed and counted, never a crash")
    func corruptPackets() throws {
        let seed: UInt64 = 0xC0FF_EE01
        var rng = SplitMix64(seed: seed)
        let decoder = try OpusDecoder(sampleRate: 16_000)
        var frame = [Int16](repeating: 0, count: decoder.maxFrameSamples)
        let good = try Self.encode(Self.tone(rate: 16_000, seconds: 0.2), rate: 16_000)
        var corrupt = 0
        var inputs: [[UInt8]] = [[], [0xFF], [0x03, 0xFF], [0x0B, 0xFF, 0xFF]]  // code-3 frame counts out of range
        for _ in 0..<500 {
            inputs.append((0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        }
        for p in good { inputs.append(Array(p.prefix(1))) }
        for p in inputs {
            let outcome = p.withUnsafeBytes { payload in
                frame.withUnsafeMutableBufferPointer { decoder.decode(payload, into: $0, expectedSamples: 320) }
            }
            if case .corrupt(let n) = outcome {
                corrupt += 1
                #expect(n == 320, "seed \(seed): concealment of the expected length")
            }
            #expect(outcome.samples <= decoder.maxFrameSamples, "seed \(seed)")
        }
        #expect(corrupt > 0 && decoder.errors == corrupt, "seed \(seed): \(corrupt) corrupt, \(decoder.errors) counted")
        // The decoder still works afterwards.
        decoder.reset()
        let outcome = good[0].withUnsafeBytes { payload in
            frame.withUnsafeMutableBufferPointer { decoder.decode(payload, into: $0) }
        }
        #expect(outcome == .decoded(samples: 320))
    }

    @Test("a lost packet: FEC from the next packet is closer to the original than PLC")
    func fecBeatsPLC() throws {
        let rate = 16_000
        let n = rate / 50
        let source = Self.tone(rate: rate, seconds: 1)
        var settings = OpusEncoderSettings()
        settings.expectedLossPercent = 20
        let packets = try Self.encode(source, rate: rate, settings: settings)
        let lost = 25
        func run(fec: Bool) throws -> [Int16] {
            let decoder = try OpusDecoder(sampleRate: rate)
            var out: [Int16] = []
            var frame = [Int16](repeating: 0, count: decoder.maxFrameSamples)
            for (i, p) in packets.enumerated() {
                let outcome: OpusDecodeOutcome
                if i == lost {
                    outcome = frame.withUnsafeMutableBufferPointer { buffer in
                        fec
                            ? packets[i + 1].withUnsafeBytes { decoder.recover(samples: n, from: $0, into: buffer) }
                            : decoder.conceal(samples: n, into: buffer)
                    }
                    #expect(fec ? outcome == .recovered(samples: n) : outcome == .concealed(samples: n))
                } else {
                    outcome = p.withUnsafeBytes { payload in
                        frame.withUnsafeMutableBufferPointer { decoder.decode(payload, into: $0) }
                    }
                }
                out += frame[0..<outcome.samples]
            }
            return out
        }
        let clean = try run(fec: false)  // reference decode without loss below
        let decoder = try OpusDecoder(sampleRate: rate)
        var full: [Int16] = []
        var frame = [Int16](repeating: 0, count: decoder.maxFrameSamples)
        for p in packets {
            let o = p.withUnsafeBytes { payload in
                frame.withUnsafeMutableBufferPointer { decoder.decode(payload, into: $0) }
            }
            full += frame[0..<o.samples]
        }
        let withFEC = try run(fec: true)
        let window = (lost * n)..<((lost + 1) * n)
        func error(_ x: [Int16]) -> Double {
            window.reduce(0.0) { $0 + pow(Double(x[$1]) - Double(full[$1]), 2) }
        }
        #expect(error(withFEC) < error(clean) / 2, "FEC error \(error(withFEC)), PLC error \(error(clean))")
    }

    @Test("PLC with no payload gives whole 2.5 ms steps, and the packet duration is read from the TOC")
    func plcAndDuration() throws {
        let decoder = try OpusDecoder(sampleRate: 48_000)
        var frame = [Int16](repeating: 0, count: decoder.maxFrameSamples)
        #expect(
            frame.withUnsafeMutableBufferPointer { decoder.conceal(samples: 960, into: $0) } == .concealed(samples: 960)
        )
        #expect(
            frame.withUnsafeMutableBufferPointer { decoder.conceal(samples: 1000, into: $0) }
                == .concealed(samples: 960))
        let packets = try Self.encode(Self.tone(rate: 48_000, seconds: 0.1), rate: 48_000)
        #expect(packets[0].withUnsafeBytes { OpusDecoder.samples(in: $0, sampleRate: 48_000) } == 960)
        #expect(packets[0].withUnsafeBytes { OpusDecoder.samples(in: $0, sampleRate: 8000) } == 160)
        #expect([UInt8]().withUnsafeBytes { OpusDecoder.samples(in: $0, sampleRate: 48_000) } == nil)
    }

    @Test("DTX: silence comes out as packets of at most 2 bytes")
    func dtx() throws {
        var s = OpusEncoderSettings()
        s.dtx = true
        let packets = try Self.encode([Int16](repeating: 0, count: 16_000), rate: 16_000, settings: s)
        let sizes = packets.map(\.count)
        print("opus dtx packet sizes: \(sizes)")
        #expect(sizes.suffix(20).filter { $0 <= 2 }.count >= 15, "\(sizes)")
    }
}

