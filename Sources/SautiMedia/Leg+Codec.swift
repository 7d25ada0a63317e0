import SautiAudio

extension Leg {
    /// Frame storage: 20 ms at 48 kHz, the highest leg rate.
    static let maxFrameSamples = 960

    /// The jitter buffer for a configuration's codec and rate.
    static func jitterBuffer(for configuration: LegConfiguration) -> LiveJitterBuffer {
        LiveJitterBuffer(
            codec: configuration.codec, sampleRate: configuration.sampleRate,
            minDelayMilliseconds: configuration.minJitterDelayMilliseconds,
            maxDelayMilliseconds: configuration.maxJitterDelayMilliseconds)
    }

    /// The Opus encoder of an Opus configuration (nil for G.711, or settings libopus
    /// refuses: the leg then sends nothing, counted as encode errors).
    static func encoder(for configuration: LegConfiguration) -> OpusEncoder? {
        guard configuration.codec == .opus else { return nil }
        return try? OpusEncoder(sampleRate: configuration.sampleRate, settings: configuration.opus.encoder)
    }

    /// After a re-offer changed the codec, its rate or the Opus settings: new frame views,
    /// jitter buffer and encoder (allocation here is a control step, not per frame).
    func codecChanged(from old: LegConfiguration) {
        let rateChanged = old.codec != configuration.codec || old.sampleRate != configuration.sampleRate
        if rateChanged {
            frameSamples = configuration.sampleRate / 50
            frameTicks = configuration.codec.clockRate / 50
            inFrame = UnsafeMutableBufferPointer(rebasing: inStorage[0..<frameSamples])
            outFrame = UnsafeMutableBufferPointer(rebasing: outStorage[0..<frameSamples])
            inFrame.update(repeating: 0)
            outFrame.update(repeating: 0)
        }
        if rateChanged || old.remote != configuration.remote {
            jitterBuffer = Leg.jitterBuffer(for: configuration)
            source = nil
            // Another far end (or codec): its receiver reports size the FEC afresh.
            opusLoss = ReportedLossTracker()
            opusEncoder?.setExpectedLoss(percent: nil)
        }
        if rateChanged || old.opus != configuration.opus {
            if let e = opusEncoder, !rateChanged, configuration.codec == .opus {
                if (try? e.apply(configuration.opus.encoder)) == nil { statistics.encodeErrors += 1 }
            } else {
                opusEncoder = Leg.encoder(for: configuration)
                // A new encoder keeps the FEC size the far end's reports set.
                if configuration.opus.fecFollowsReportedLoss, let level = opusLoss.level {
                    opusEncoder?.setExpectedLoss(percent: level)
                }
            }
            if !configuration.opus.fecFollowsReportedLoss { opusEncoder?.setExpectedLoss(percent: nil) }
            prepareOpusPacketStorage()
        }
    }
}
