import SautiAudio
import SautiWire

/// How an Opus leg runs: the PCM rate its frames have (what its sinks get and its sources
/// fill; libopus decodes and encodes at that rate directly) and the encoder's settings.
/// The defaults suit voice: wideband (16 kHz), 24 kb/s VBR, complexity 5, in-band FEC.
/// Packets are 20 ms, one per tick.
public struct OpusLegSettings: Sendable, Equatable {
    /// The PCM rate of the leg's frames, in Hz: 8,000, 12,000, 16,000, 24,000 or 48,000
    /// (another value is taken as 16,000).
    public var sampleRate = 16_000
    /// The encoder: bitrate, complexity, FEC, DTX, CBR, bandwidth cap.
    public var encoder = OpusEncoderSettings()

    /// Voice defaults.
    public init() {}

    /// `sampleRate` if libopus runs at it, else 16,000.
    public var effectiveSampleRate: Int { OpusRate.supported.contains(sampleRate) ? sampleRate : 16_000 }

    /// The settings to send to a remote whose fmtp and ptime are `remote`: the bitrate
    /// capped by its `maxaveragebitrate`, FEC only when its decoder uses it
    /// (`useinbandfec=1`), DTX when it asks (`usedtx=1`), CBR when it asks (`cbr=1`), the
    /// band capped by its `maxplaybackrate`.
    public func negotiated(with remote: OpusSendParameters) -> OpusLegSettings {
        var s = self
        s.encoder.bitrate = remote.bitrate(local: encoder.bitrate)
        s.encoder.inbandFEC = encoder.inbandFEC && remote.remote.useInbandFEC
        s.encoder.dtx = remote.remote.useDTX
        s.encoder.constantBitrate = encoder.constantBitrate || remote.remote.cbr
        let cap = remote.remote.maxPlaybackRate
        s.encoder.maxPlaybackRate = cap < 48_000 ? min(cap, encoder.maxPlaybackRate ?? cap) : encoder.maxPlaybackRate
        return s
    }

    /// The fmtp this side writes for its own receive side: the rate it plays and
    /// captures, mono, FEC welcome, minptime 10.
    public var receiveParameters: OpusFormatParameters {
        var p = OpusFormatParameters()
        p.minptimeMilliseconds = 10
        p.maxPlaybackRate = effectiveSampleRate
        p.spropMaxCaptureRate = effectiveSampleRate
        p.useInbandFEC = true
        return p
    }
}

extension LegConfiguration {
    /// The PCM rate of the leg's frames, in Hz: 8,000 for G.711, `opus.sampleRate` for Opus.
    public var sampleRate: Int { codec == .opus ? opus.effectiveSampleRate : 8000 }
}
