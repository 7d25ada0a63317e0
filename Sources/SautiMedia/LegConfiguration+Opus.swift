import SautiAudio
import SautiWire

/// How an Opus leg runs: the PCM rate its frames have (what its sinks get and its sources
/// fill; libopus decodes and encodes at that rate directly) and the encoder's settings.
/// The defaults suit voice: wideband (16 kHz), 24 kb/s VBR, complexity 5, in-band FEC
/// sized for the loss the far end reports, 20 ms packets. Ticks are always 20 ms: longer
/// packets gather two or three ticks' frames, 10 ms packets go two a tick.
public struct OpusLegSettings: Sendable, Equatable {
    /// The PCM rate of the leg's frames, in Hz: 8,000, 12,000, 16,000, 24,000 or 48,000
    /// (another value is taken as 16,000).
    public var sampleRate = 16_000
    /// The encoder: bitrate, complexity, FEC, DTX, CBR, bandwidth cap.
    public var encoder = OpusEncoderSettings()
    /// The duration of each packet sent, in ms: 10, 20, 40 or 60 (another value is taken
    /// as 20). SDP sets it from the remote's `ptime`/`maxptime` (RFC 7587 §7).
    public var ptimeMilliseconds = 20
    /// Size the in-band FEC for the loss the far end reports in its RTCP receiver reports
    /// (0, 1, 5, 10 or 20 %, smoothed, with hysteresis; `encoder.expectedLossPercent` until
    /// the first report). False keeps `encoder.expectedLossPercent` for the whole call.
    public var fecFollowsReportedLoss = true

    /// Voice defaults.
    public init() {}

    /// `sampleRate` if libopus runs at it, else 16,000.
    public var effectiveSampleRate: Int { OpusRate.supported.contains(sampleRate) ? sampleRate : 16_000 }

    /// `ptimeMilliseconds` if the leg sends packets of it (10, 20, 40, 60), else 20.
    public var effectivePtimeMilliseconds: Int {
        [10, 20, 40, 60].contains(ptimeMilliseconds) ? ptimeMilliseconds : 20
    }

    /// The settings to send to a remote whose fmtp and ptime are `remote`: the bitrate
    /// capped by its `maxaveragebitrate`, FEC only when its decoder uses it
    /// (`useinbandfec=1`), DTX when it asks (`usedtx=1`), CBR when it asks (`cbr=1`), the
    /// band capped by its `maxplaybackrate`, packets as long as its `ptime`/`maxptime` ask.
    public func negotiated(with remote: OpusSendParameters) -> OpusLegSettings {
        var s = self
        s.ptimeMilliseconds = remote.ptimeMilliseconds
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
