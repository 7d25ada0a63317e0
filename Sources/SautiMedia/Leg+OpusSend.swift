import SautiAudio
import SautiWire

#if canImport(Glibc)
    import Glibc
#endif

/// The loss an Opus sender sizes its in-band FEC for, from the far end's RTCP receiver
/// reports: the reported fraction lost, smoothed over reports (each counts half), mapped
/// to a few levels. A level is entered as soon as the smoothed loss reaches it and left
/// only when the loss falls below 60 % of that, so a level does not flap between reports.
/// At level 0 libopus codes no FEC: on a clean path the bits go to the audio and the
/// encoder does about a quarter less work.
struct ReportedLossTracker: Equatable {
    /// A level is left when the smoothed loss falls below this share of its entry point.
    static let leaveFactor = 0.6

    /// The highest level, in percent (0, 1, 5, 10, 20), whose entry point times `factor`
    /// `smoothedPercent` reaches; entry points 0.5, 3, 7 and 15 %. (No table: this runs on
    /// the worker, which allocates nothing, not even a lazily made constant.)
    static func level(at smoothedPercent: Double, factor: Double) -> Int {
        if smoothedPercent >= 15 * factor { return 20 }
        if smoothedPercent >= 7 * factor { return 10 }
        if smoothedPercent >= 3 * factor { return 5 }
        if smoothedPercent >= 0.5 * factor { return 1 }
        return 0
    }

    /// The smoothed loss, in percent; nil before the first report.
    private(set) var smoothedPercent: Double?
    /// The level in force, in percent; nil before the first report.
    private(set) var level: Int?

    /// Takes one report (`fractionLost`, 0 ... 1) and returns the level in percent.
    mutating func report(fractionLost: Double) -> Int {
        let p = min(max(fractionLost, 0), 1) * 100
        let s = smoothedPercent.map { 0.5 * $0 + 0.5 * p } ?? p
        smoothedPercent = s
        let reached = Self.level(at: s, factor: 1)
        let held = Self.level(at: s, factor: Self.leaveFactor)
        let current = level ?? 0
        let next = reached > current ? reached : min(current, held)
        level = next
        return next
    }
}

extension Leg {
    /// Packet storage for 60 ms at 48 kHz, the longest packet gathered from 20 ms frames.
    static let maxPacketSamples = 2880

    /// Makes (or frees) the buffer that gathers frames for packets longer than a tick (a
    /// control step: at setup and after a re-offer) and drops frames already gathered.
    func prepareOpusPacketStorage() {
        opusPendingFrames = 0
        let needed = configuration.codec == .opus && configuration.opus.effectivePtimeMilliseconds > 20
        if needed && opusPacketPCM == nil {
            let storage = UnsafeMutableBufferPointer<Int16>.allocate(capacity: Leg.maxPacketSamples)
            storage.initialize(repeating: 0)
            opusPacketPCM = storage
        } else if !needed, let storage = opusPacketPCM {
            storage.deallocate()
            opusPacketPCM = nil
        }
    }

    /// Sends this tick's frame `pcm` on an Opus leg: encoded no wider than the source's
    /// audio (`FrameSource.contentSampleRate`), in packets of the negotiated ptime — 20 ms
    /// one a tick, 10 ms two a tick, 40 and 60 ms gathered over two or three ticks and sent
    /// as one Opus packet whose timestamp is its first frame's. True when the frame was
    /// taken for sending (for a stereo recording).
    /// `room`: the frame is that room's shared mix; a 20 ms packet then carries the room's
    /// shared payload for this leg's rate and settings (encoded once for all such legs).
    func sendOpus(_ pcm: UnsafeBufferPointer<Int16>, to remote: (sockaddr_storage, socklen_t), room: Room? = nil) -> Bool {
        guard let encoder = opusEncoder else { return false }
        let content = sourceObject?.contentSampleRate
        if encoder.contentRate != content && !encoder.limitBand(toAudioRate: content) {
            statistics.encodeErrors += 1
        }
        switch configuration.opus.effectivePtimeMilliseconds {
        case 10:
            let half = pcm.count / 2
            let a = sendOpusPacket(UnsafeBufferPointer(rebasing: pcm[0..<half]), timestamp: timestamp, encoder, remote)
            // Safe: RTP timestamps wrap by design (RFC 3550 §5.1).
            let b = sendOpusPacket(
                UnsafeBufferPointer(rebasing: pcm[half...]), timestamp: timestamp &+ UInt32(frameTicks / 2), encoder,
                remote)
            return a || b
        case 40, 60:
            guard let storage = opusPacketPCM else { return false }
            let frames = configuration.opus.effectivePtimeMilliseconds / 20
            let start = opusPendingFrames * pcm.count
            guard start + pcm.count <= storage.count else {
                opusPendingFrames = 0
                return false
            }
            if opusPendingFrames == 0 { opusPacketTimestamp = timestamp }
            _ = UnsafeMutableBufferPointer(rebasing: storage[start..<(start + pcm.count)]).initialize(from: pcm)
            opusPendingFrames += 1
            guard opusPendingFrames == frames else { return true }
            opusPendingFrames = 0
            _ = sendOpusPacket(
                UnsafeBufferPointer(rebasing: storage[0..<(start + pcm.count)]), timestamp: opusPacketTimestamp,
                encoder,
                remote)
            return true
        default:
            if let room, let shared = room.sharedOpus(rate: frameSamples * 50, settings: encoder.settings) {
                return sendOpusPacket(pcm, timestamp: timestamp, encoder, remote, encoded: shared)
            }
            return sendOpusPacket(pcm, timestamp: timestamp, encoder, remote)
        }
    }

    /// Encodes `pcm` as one Opus packet and sends it with `timestamp`; false when nothing
    /// went (an encoder error, counted; DTX silence).
    private func sendOpusPacket(
        _ pcm: UnsafeBufferPointer<Int16>, timestamp packetTimestamp: UInt32, _ encoder: OpusEncoder,
        _ remote: (sockaddr_storage, socklen_t), encoded: UnsafeRawBufferPointer? = nil
    ) -> Bool {
        let body = UnsafeMutableRawBufferPointer(rebasing: packet[12...])
        let n: Int
        if let encoded, encoded.count <= body.count {
            body.copyMemory(from: encoded)
            n = encoded.count
        } else {
            n = encoder.encode(pcm, into: body)
        }
        if n == 0 {
            statistics.encodeErrors += 1
            return false
        }
        if n <= 2 && encoder.settings.dtx {
            // DTX: silence not worth a packet. The next packet starts a talk spurt (marker).
            first = true
            return false
        }
        let header = RTPHeader(
            marker: first, payloadType: configuration.payloadType, sequenceNumber: sequence, timestamp: packetTimestamp,
            ssrc: ssrc)
        first = false
        _ = header.serialize(into: packet)
        transmit(length: 12 + n, to: remote)
        octetsSent &+= UInt32(n)
        statistics.bytesSent += n
        return true
    }

    /// A receiver report on an Opus leg: the FEC follows the loss the far end saw.
    func opusLossReported(fractionLost: Double) {
        guard configuration.codec == .opus, configuration.opus.fecFollowsReportedLoss, let e = opusEncoder else {
            return
        }
        let level = opusLoss.report(fractionLost: fractionLost)
        if e.expectedLossPercent != level && !e.setExpectedLoss(percent: level) { statistics.encodeErrors += 1 }
    }
}
