// Opus (RFC 6716) through libopus: one encoder and one decoder state per stream.

import COpus

/// Why an Opus encoder or decoder could not be made.
public enum OpusError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A sample rate libopus does not run at (it takes 8,000, 12,000, 16,000, 24,000 and
    /// 48,000 Hz).
    case unsupportedSampleRate(Int)
    /// A setting out of its range: which, and the value.
    case invalidSetting(String, Int)
    /// libopus refused: its message (`opus_strerror`).
    case libopus(String)

    /// What went wrong, for people.
    public var description: String {
        switch self {
        case .unsupportedSampleRate(let r): return "Opus cannot run at \(r) Hz: use 8000, 12000, 16000, 24000 or 48000"
        case .invalidSetting(let name, let v): return "Opus \(name) \(v) is out of range"
        case .libopus(let m): return "libopus: \(m)"
        }
    }

    static func code(_ c: Int32) -> OpusError { .libopus(String(cString: opus_strerror(c))) }
}

/// The rates libopus encodes and decodes at, in Hz.
public enum OpusRate {
    /// 8, 12, 16, 24 and 48 kHz.
    public static let supported: Set<Int> = [8000, 12000, 16000, 24000, 48000]
    /// Opus's RTP clock (RFC 7587 §4.1): always 48 kHz, whatever the audio's bandwidth.
    public static let rtpClockRate = 48000
    /// The largest packet duration, in 48 kHz samples (120 ms).
    public static let maxPacketSamples48k = 5760
}

/// Encoder settings. The defaults suit a voice call: 24 kb/s VBR, complexity 5, in-band
/// FEC on (for 10 % expected loss), no DTX.
public struct OpusEncoderSettings: Sendable, Equatable, Hashable {
    /// Target bitrate, in bits per second (`OPUS_SET_BITRATE`, 6,000 ... 510,000).
    public var bitrate = 24_000
    /// CPU/quality trade-off, 0 (cheapest) ... 10 (`OPUS_SET_COMPLEXITY`).
    public var complexity = 5
    /// The complexity while the encoder codes narrowband only (the audio is 8 kHz, as from
    /// a G.711 leg, or the receiver plays no wider); nil: `complexity`. On narrowband SILK
    /// it costs far less quality to go lower than on wideband (Benchmarks/README.md, opus:
    /// PESQ 4.42 at 5, 4.28 at 2; wideband 3.83 and 2.90), and the encoder is most of a
    /// transcoded call's cost.
    public var narrowbandComplexity: Int?
    /// Constant bitrate instead of VBR (`OPUS_SET_VBR` 0; SDP `cbr=1`).
    public var constantBitrate = false
    /// In-band FEC (LBRR) so the receiver can rebuild a lost packet from the next one
    /// (`OPUS_SET_INBAND_FEC`; SDP `useinbandfec=1`).
    public var inbandFEC = true
    /// The loss the FEC is sized for, in percent (`OPUS_SET_PACKET_LOSS_PERC`, 0 ... 100).
    /// libopus adds LBRR only when this is above 0.
    public var expectedLossPercent = 10
    /// Discontinuous transmission: near-empty packets in silence, which the sender then
    /// does not send (`OPUS_SET_DTX`; SDP `usedtx=1`).
    public var dtx = false
    /// The widest audio band to encode, as the highest audio rate in Hz the receiver
    /// plays (SDP `maxplaybackrate`); nil for no cap (`OPUS_SET_MAX_BANDWIDTH`).
    public var maxPlaybackRate: Int?

    /// Voice defaults.
    public init() {}

    /// Checks the ranges.
    public func validate() throws(OpusError) {
        guard 6000...510_000 ~= bitrate else { throw .invalidSetting("bitrate", bitrate) }
        guard 0...10 ~= complexity else { throw .invalidSetting("complexity", complexity) }
        if let n = narrowbandComplexity, !(0...10 ~= n) { throw .invalidSetting("narrowband complexity", n) }
        guard 0...100 ~= expectedLossPercent else { throw .invalidSetting("expected loss", expectedLossPercent) }
    }

    /// The libopus bandwidth constant for `maxPlaybackRate` (RFC 7587 §6.1's mapping).
    var maxBandwidth: Int32 { Self.bandwidth(forAudioRate: maxPlaybackRate) }

    /// The narrowest libopus band that carries audio sampled at `rate` Hz
    /// (`OPUS_BANDWIDTH_NARROWBAND` for 8,000 ... `OPUS_BANDWIDTH_FULLBAND` for 48,000 or nil).
    static func bandwidth(forAudioRate rate: Int?) -> Int32 {
        guard let r = rate else { return OPUS_BANDWIDTH_FULLBAND }
        switch r {
        case ...8000: return OPUS_BANDWIDTH_NARROWBAND
        case ...12000: return OPUS_BANDWIDTH_MEDIUMBAND
        case ...16000: return OPUS_BANDWIDTH_WIDEBAND
        case ...24000: return OPUS_BANDWIDTH_SUPERWIDEBAND
        default: return OPUS_BANDWIDTH_FULLBAND
        }
    }
}

/// A libopus encoder for one mono stream (`OpusEncoder *`, `OPUS_APPLICATION_VOIP`).
/// Allocates only in `init`; `encode` allocates nothing. One owner (a leg, on its worker).
public final class OpusEncoder {
    /// The PCM rate it takes, in Hz.
    public let sampleRate: Int
    /// Its settings.
    public private(set) var settings: OpusEncoderSettings
    /// Frames libopus refused to encode (counted; the caller sends nothing for them).
    public private(set) var errors = 0
    private let state: OpaquePointer

    /// An encoder at `sampleRate` (8/12/16/24/48 kHz) with `settings`.
    public init(sampleRate: Int, settings: OpusEncoderSettings = OpusEncoderSettings()) throws(OpusError) {
        guard OpusRate.supported.contains(sampleRate) else { throw .unsupportedSampleRate(sampleRate) }
        try settings.validate()
        var error: Int32 = 0
        guard let s = opus_encoder_create(opus_int32(sampleRate), 1, OPUS_APPLICATION_VOIP, &error), error == OPUS_OK
        else { throw .code(error) }
        state = s
        self.sampleRate = sampleRate
        self.settings = settings
        try apply(settings)
    }

    deinit { opus_encoder_destroy(state) }

    /// Applies new settings to the running encoder (a setup step, not per frame; allocates
    /// nothing). The content band (`limitBand(toAudioRate:)`) and the loss set with
    /// `setExpectedLoss(percent:)` are kept.
    public func apply(_ settings: OpusEncoderSettings) throws(OpusError) {
        try settings.validate()
        try set(OPUS_SET_SIGNAL_REQUEST, Int(OPUS_SIGNAL_VOICE))
        try set(OPUS_SET_BITRATE_REQUEST, settings.bitrate)
        try set(OPUS_SET_VBR_REQUEST, settings.constantBitrate ? 0 : 1)
        try set(OPUS_SET_INBAND_FEC_REQUEST, settings.inbandFEC ? 1 : 0)
        try set(OPUS_SET_DTX_REQUEST, settings.dtx ? 1 : 0)
        self.settings = settings
        try set(OPUS_SET_PACKET_LOSS_PERC_REQUEST, fecLossPercent)
        try set(OPUS_SET_MAX_BANDWIDTH_REQUEST, Int(bandwidth))
        try set(OPUS_SET_COMPLEXITY_REQUEST, complexity)
    }

    /// The complexity in force: `settings.narrowbandComplexity` while the encoder codes
    /// narrowband only (`bandRate` 8,000), else `settings.complexity`.
    public var complexity: Int {
        bandRate <= 8000 ? settings.narrowbandComplexity ?? settings.complexity : settings.complexity
    }

    private func set(_ request: Int32, _ value: Int) throws(OpusError) {
        let r = sauti_opus_encoder_set_int(state, request, opus_int32(value))
        if r != OPUS_OK { throw .code(r) }
    }

    /// The highest audio rate in the PCM being encoded, in Hz, when it is lower than
    /// `sampleRate` (audio that came from a G.711 leg is 8,000 even at 16 kHz); nil when
    /// unknown. Set with `limitBand(toAudioRate:)`.
    public private(set) var contentRate: Int?
    /// The loss the FEC is sized for now, in percent: `settings.expectedLossPercent`
    /// unless `setExpectedLoss(percent:)` changed it.
    public private(set) var expectedLossPercent: Int?

    /// The band libopus may use (`OPUS_SET_MAX_BANDWIDTH`): the narrower of the remote's
    /// `maxPlaybackRate` and `contentRate`.
    public var bandwidth: Int32 {
        let cap = min(settings.maxPlaybackRate ?? Int.max, contentRate ?? Int.max)
        return OpusEncoderSettings.bandwidth(forAudioRate: cap == Int.max ? nil : cap)
    }

    /// The loss the in-band FEC is sized for now, in percent; 0 when FEC is off.
    public var fecLossPercent: Int {
        settings.inbandFEC ? (expectedLossPercent ?? settings.expectedLossPercent) : 0
    }

    /// The widest band libopus may code now, as the audio rate that carries it, in Hz
    /// (8,000 for narrowband ... 48,000 for fullband), at most `sampleRate`.
    public var bandRate: Int {
        let rate: Int
        switch bandwidth {
        case OPUS_BANDWIDTH_NARROWBAND: rate = 8000
        case OPUS_BANDWIDTH_MEDIUMBAND: rate = 12000
        case OPUS_BANDWIDTH_WIDEBAND: rate = 16000
        case OPUS_BANDWIDTH_SUPERWIDEBAND: rate = 24000
        default: rate = 48000
        }
        return min(rate, sampleRate)
    }

    /// Tells the encoder the highest audio rate in what it is given (nil: as wide as
    /// `sampleRate`), so it spends no bits and no work on a band that holds nothing: audio
    /// from an 8 kHz leg is coded as narrowband (SILK at 8 kHz), about half the encoder's
    /// work of wideband. libopus changes SILK's band a step at a time through a low-pass
    /// fade (narrowband is reached about 5 s after wideband in 1.3), not at once; the
    /// complexity follows at once when `settings.narrowbandComplexity` differs. One or two
    /// `opus_encoder_ctl`s, no allocation: callable from a tick when the value changes.
    /// Returns false when libopus refused (the band is then unchanged).
    @discardableResult
    public func limitBand(toAudioRate rate: Int?) -> Bool {
        let old = contentRate
        let oldComplexity = complexity
        contentRate = rate
        if (try? set(OPUS_SET_MAX_BANDWIDTH_REQUEST, Int(bandwidth))) == nil {
            contentRate = old
            return false
        }
        if complexity != oldComplexity && (try? set(OPUS_SET_COMPLEXITY_REQUEST, complexity)) == nil { return false }
        return true
    }

    /// Sizes the in-band FEC for `percent` loss (0 ... 100; `OPUS_SET_PACKET_LOSS_PERC`);
    /// nil goes back to `settings.expectedLossPercent`. At 0 libopus adds no FEC data, which
    /// saves about a quarter of the encoder's work and gives the bits to the audio. Has no
    /// effect while `settings.inbandFEC` is off. One `opus_encoder_ctl`, no allocation.
    /// Returns false when the value is out of range or libopus refused.
    @discardableResult
    public func setExpectedLoss(percent: Int?) -> Bool {
        if let p = percent, !(0...100 ~= p) { return false }
        let old = expectedLossPercent
        expectedLossPercent = percent
        if (try? set(OPUS_SET_PACKET_LOSS_PERC_REQUEST, fecLossPercent)) == nil {
            expectedLossPercent = old
            return false
        }
        return true
    }

    /// Encodes one frame of `pcm` (2.5, 5, 10, 20, 40 or 60 ms at `sampleRate`) into
    /// `packet`; returns the packet's length in bytes, 0 when libopus refused (counted in
    /// `errors`). With DTX, a packet of 2 bytes or fewer is silence not worth sending.
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, into packet: UnsafeMutableRawBufferPointer) -> Int {
        guard let input = pcm.baseAddress, let output = packet.baseAddress else { return 0 }
        let n = opus_encode(
            state, input, Int32(pcm.count), output.assumingMemoryBound(to: UInt8.self), opus_int32(packet.count))
        if n < 0 {
            errors += 1
            return 0
        }
        return Int(n)
    }

    /// The complexity libopus runs at now (`OPUS_GET_COMPLEXITY`).
    public var appliedComplexity: Int {
        var v: opus_int32 = -1
        _ = sauti_opus_encoder_get_int(state, OPUS_GET_COMPLEXITY_REQUEST, &v)
        return Int(v)
    }

    /// The encoder's lookahead, in samples at `sampleRate` (`OPUS_GET_LOOKAHEAD`).
    public var lookaheadSamples: Int {
        var v: opus_int32 = 0
        _ = sauti_opus_encoder_get_int(state, OPUS_GET_LOOKAHEAD_REQUEST, &v)
        return Int(v)
    }

    /// Starts a new stream (`OPUS_RESET_STATE`).
    public func reset() { _ = sauti_opus_encoder_reset(state) }
}

/// What one call to the decoder produced.
public enum OpusDecodeOutcome: Equatable, Sendable {
    /// Audio decoded from the packet.
    case decoded(samples: Int)
    /// Audio rebuilt from the next packet's in-band FEC (LBRR) — or libopus's PLC when
    /// that packet carries none.
    case recovered(samples: Int)
    /// Concealment (`opus_decode` with no payload).
    case concealed(samples: Int)
    /// The payload was corrupt: concealment was played in its place (counted in `errors`).
    case corrupt(samples: Int)

    /// Samples written.
    public var samples: Int {
        switch self {
        case .decoded(let n), .recovered(let n), .concealed(let n), .corrupt(let n): return n
        }
    }
}

/// A libopus decoder for one mono stream (`OpusDecoder *`). Loss is concealed by the
/// codec: `conceal` is `opus_decode` with no payload, and `recover` rebuilds a lost packet
/// from the next one's FEC. A corrupt packet never traps: it is concealed and counted.
/// Allocates only in `init`. One owner (a leg, on its worker; a replay stream).
public final class OpusDecoder {
    /// The PCM rate it produces, in Hz.
    public let sampleRate: Int
    /// Packets libopus rejected as corrupt (each was concealed instead).
    public private(set) var errors = 0
    private let state: OpaquePointer

    /// A decoder producing `sampleRate` (8/12/16/24/48 kHz) mono.
    public init(sampleRate: Int) throws(OpusError) {
        guard OpusRate.supported.contains(sampleRate) else { throw .unsupportedSampleRate(sampleRate) }
        var error: Int32 = 0
        guard let s = opus_decoder_create(opus_int32(sampleRate), 1, &error), error == OPUS_OK else {
            throw .code(error)
        }
        state = s
        self.sampleRate = sampleRate
    }

    deinit { opus_decoder_destroy(state) }

    /// The largest frame a packet decodes to at this rate (120 ms), in samples.
    public var maxFrameSamples: Int { sampleRate * 120 / 1000 }

    /// The samples `payload` decodes to at this rate; nil when its TOC is invalid.
    public func samples(in payload: UnsafeRawBufferPointer) -> Int? {
        Self.samples(in: payload, sampleRate: sampleRate)
    }

    /// The samples `payload` decodes to at `sampleRate` (`opus_packet_get_nb_samples`);
    /// nil for an empty or malformed packet or one longer than 120 ms.
    public static func samples(in payload: UnsafeRawBufferPointer, sampleRate: Int) -> Int? {
        guard !payload.isEmpty, let base = payload.baseAddress else { return nil }
        let n = opus_packet_get_nb_samples(
            base.assumingMemoryBound(to: UInt8.self), opus_int32(payload.count), opus_int32(sampleRate))
        guard n > 0, Int(n) <= sampleRate * 120 / 1000 else { return nil }
        return Int(n)
    }

    /// Decodes `payload` into `out` (room for its duration: up to `maxFrameSamples`). A
    /// payload libopus rejects is concealed instead: `expectedSamples` of PLC (or 20 ms
    /// when nil), outcome `.corrupt`.
    public func decode(
        _ payload: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Int16>, expectedSamples: Int? = nil
    ) -> OpusDecodeOutcome {
        guard let base = payload.baseAddress, !payload.isEmpty, let dst = out.baseAddress else {
            errors += 1
            return .corrupt(samples: concealSamples(expectedSamples, out))
        }
        let n = opus_decode(
            state, base.assumingMemoryBound(to: UInt8.self), opus_int32(payload.count), dst, Int32(out.count), 0)
        if n < 0 {
            errors += 1
            return .corrupt(samples: concealSamples(expectedSamples, out))
        }
        return .decoded(samples: Int(n))
    }

    /// Rebuilds the `samples` (a multiple of 2.5 ms) just before `next` from its in-band
    /// FEC (`opus_decode` with `decode_fec` 1); libopus conceals when `next` has no FEC.
    public func recover(samples: Int, from next: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Int16>)
        -> OpusDecodeOutcome
    {
        let count = min(samples, out.count)
        guard let base = next.baseAddress, !next.isEmpty, let dst = out.baseAddress, count > 0 else {
            return .concealed(samples: concealSamples(count, out))
        }
        let n = opus_decode(
            state, base.assumingMemoryBound(to: UInt8.self), opus_int32(next.count), dst, Int32(count), 1)
        if n < 0 {
            errors += 1
            return .corrupt(samples: concealSamples(count, out))
        }
        return .recovered(samples: Int(n))
    }

    /// Conceals `samples` (a multiple of 2.5 ms; 20 ms when nil) with libopus's PLC
    /// (`opus_decode` with no payload).
    public func conceal(samples: Int? = nil, into out: UnsafeMutableBufferPointer<Int16>) -> OpusDecodeOutcome {
        .concealed(samples: concealSamples(samples, out))
    }

    private func concealSamples(_ samples: Int?, _ out: UnsafeMutableBufferPointer<Int16>) -> Int {
        // PLC takes whole 2.5 ms steps.
        let step = sampleRate / 400
        var count = min(samples ?? sampleRate / 50, out.count)
        count -= count % step
        guard count > 0, let dst = out.baseAddress else { return 0 }
        let n = opus_decode(state, nil, 0, dst, Int32(count), 0)
        if n < 0 {
            out.update(repeating: 0)
            return count
        }
        return Int(n)
    }

    /// Starts a new stream (`OPUS_RESET_STATE`): a new SSRC, a restart.
    public func reset() { _ = sauti_opus_decoder_reset(state) }
}
