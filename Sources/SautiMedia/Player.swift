// Playing audio files on a leg: the file part of the Play verb.
//
// A playback is three passive parts meeting through a `SampleRing` of about a second at
// the leg's rate:
//
// - `FilePlayer` (Player+File.swift) runs on the engine's I/O thread, re-armed every
//   20 ms: it opens the file (libsndfile), decodes it chunk by chunk to mono, resamples it
//   to the leg's rate (libspeexdsp) through a `PlaybackFeeder` (Player+Feeder.swift), loops
//   it, and keeps the ring topped up. A URL player feeds the same ring through the same
//   feeder from a download.
// - `PlaybackSource` (Player+Source.swift) is the leg's `FrameSource` on the media worker:
//   it only copies one frame out of the ring per tick. An underrun (the I/O thread fell
//   behind) plays silence for the missing part and is counted; it never waits.
// - `PlaybackLink` (below) is what they share: the ring, the counters, and who reports
//   the end.
//
// Events. Every `play(file:loop:)` ends with exactly one of:
// - `.playbackFinished(path:loopsPlayed:stopped: false)` when the last sample of the last
//   loop has been sent (from the worker, in order with the audio), followed by the
//   `.sourceFinished` every source gives when it ends;
// - `.playbackFinished(path:loopsPlayed:stopped: true)` when `stopPlayback()` or another
//   `play(file:)` stopped it (`loopsPlayed`: the loops heard in full); no `.sourceFinished`;
// - `.playbackFailed(path:reason:message:)` when the file could not be opened or decoded
//   (from the I/O thread, as soon as it is known). The leg keeps going: the samples
//   decoded before a mid-file error still play, then silence, and `.sourceFinished`.
// A playback replaced by a non-file source (`play(.tone)`, `setSource`) or ended by the
// leg's close reports nothing; its I/O job notices and closes the file.

import SautiAudio
import Synchronization

/// Why a playback failed (`LegEvent.playbackFailed`): the Play verb's reason tokens.
public enum PlaybackFailureReason: String, Sendable, Equatable {
    /// No file at the path.
    case notFound = "not-found"
    /// A file is there but cannot be opened for reading (permissions, a directory).
    case unreadable = "unreadable"
    /// Not audio libsndfile reads, or an encoding it does not decode.
    case unsupportedFormat = "unsupported-format"
    /// A known format, broken (bad header, corrupt data, a failed read or seek).
    case decodeError = "decode-error"
    /// `say`: no voice for the language tag.
    case unknownLanguage = "unknown-language"
    /// `say`: espeak-ng failed, or the text was empty or too long.
    case speechError = "speech-error"
    /// A URL: the server answered with a status other than 200, 404 or 410.
    case httpStatus = "http-status"
    /// A URL: no bytes from the server for the idle timeout, or the download took longer
    /// than the total timeout.
    case timeout = "timeout"
    /// A URL: the response is larger than the configured limit.
    case tooLarge = "too-large"
    /// A URL whose host (or a redirect's) resolves to an address on the deny list.
    case denied = "denied"
    /// A URL that is not absolute http or https.
    case invalidURL = "invalid-url"
    /// A URL that could not be fetched: the host does not resolve, the connection or TLS
    /// failed, the body was cut short, too many redirects.
    case fetchError = "fetch-error"

    /// The reason for a decoder's error.
    init(_ error: AudioFileDecoderError) {
        switch error {
        case .notFound: self = .notFound
        case .unreadable: self = .unreadable
        case .unsupportedFormat: self = .unsupportedFormat
        case .decodeError: self = .decodeError
        }
    }
}

/// The control side's view of one playback: what was asked and how it is going.
/// Counters are updated by the worker and the I/O thread and can be read at any time.
public final class Playback: Sendable {
    /// The file, as given to `play(file:loop:)`.
    public let path: String
    /// Times the file is played in all; 0 plays it until stopped.
    public let loopCount: Int
    /// Samples sent from the file so far, at the leg's rate.
    private let played = Atomic<Int>(0)
    /// Samples of silence sent because the ring ran dry (the I/O thread fell behind).
    private let underrunSampleCount = Atomic<Int>(0)
    /// Frames that had some of that silence.
    private let underrunFrameCount = Atomic<Int>(0)
    /// Loops decoded in full by the I/O thread (it runs up to a ring ahead of what is sent).
    let decodedLoops = Atomic<Int>(0)

    init(path: String, loopCount: Int) {
        self.path = path
        self.loopCount = loopCount
    }

    /// Samples of the file sent so far, at the leg's rate.
    public var samplesPlayed: Int { played.load(ordering: .relaxed) }
    /// Samples of silence sent in place of audio the I/O thread had not decoded in time.
    public var underrunSamples: Int { underrunSampleCount.load(ordering: .relaxed) }
    /// Frames (20 ms) with some underrun silence in them.
    public var underrunFrames: Int { underrunFrameCount.load(ordering: .relaxed) }
    /// Loops the I/O thread has decoded in full (it may be up to a second ahead of what
    /// was sent).
    public var loopsDecoded: Int { decodedLoops.load(ordering: .relaxed) }

    /// The worker's per-frame update: `samples` from the file, `missing` of silence.
    func count(played samples: Int, underrun missing: Int) {
        if samples > 0 { played.add(samples, ordering: .relaxed) }
        if missing > 0 {
            underrunSampleCount.add(missing, ordering: .relaxed)
            underrunFrameCount.add(1, ordering: .relaxed)
        }
    }
}

/// What a playback's producer (the I/O thread) and its source (the worker) share.
final class PlaybackLink: Sendable {
    /// Samples at the leg's rate, I/O thread → worker; about a second.
    let ring: SampleRing
    /// The counters the control side reads.
    let playback: Playback
    /// The leg's rate, in Hz: what the producer resamples to.
    let sampleRate: Int
    /// libspeexdsp's quality for that (`MediaEngineConfiguration.resamplerQuality`).
    let resamplerQuality: Int
    /// The leg's events.
    let events: AsyncStream<LegEvent>.Continuation
    /// Output samples one loop of the file makes at `sampleRate`, once the first loop is
    /// decoded (0 before): turns samples sent into loops heard.
    let samplesPerLoop = Atomic<Int>(0)
    /// Someone reported the end (finished, stopped or failed): the first to claim it.
    private let ended = Atomic<Bool>(false)
    /// The source is gone (stopped, replaced, or the leg closed): the producer stops.
    private let cancelled = Atomic<Bool>(false)

    /// A link with a ring of about `ringMilliseconds` at `sampleRate`.
    init(
        playback: Playback, sampleRate: Int, events: AsyncStream<LegEvent>.Continuation, ringMilliseconds: Int = 1000,
        resamplerQuality: Int = Resampler.defaultQuality
    ) {
        self.playback = playback
        self.sampleRate = sampleRate
        self.resamplerQuality = resamplerQuality
        self.events = events
        ring = SampleRing(minimumCapacity: max(1, sampleRate * ringMilliseconds / 1000))
    }

    /// True for the first caller only: that one reports the end.
    func claimEnd() -> Bool { !ended.exchange(true, ordering: .acquiringAndReleasing) }

    /// The consumer is gone: the producer stops at its next pass.
    func cancel() { cancelled.store(true, ordering: .releasing) }

    /// Whether the consumer is gone.
    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Producer: the playback failed. Reported at once (unless it already ended); what is in
    /// the ring still plays, then the source ends.
    func fail(_ reason: PlaybackFailureReason, _ message: String) {
        if claimEnd() { events.yield(.playbackFailed(path: playback.path, reason: reason, message: message)) }
        ring.finish()
    }

    /// Loops heard in full after `samples` were sent.
    func loopsHeard(afterSamples samples: Int) -> Int {
        let perLoop = samplesPerLoop.load(ordering: .acquiring)
        guard perLoop > 0 else { return 0 }
        return min(playback.decodedLoops.load(ordering: .acquiring), samples / perLoop)
    }
}

extension MediaLeg {
    /// Plays the audio file at `path` as the leg's outbound audio, `loop` times (0: until
    /// `stopPlayback()`; a negative count plays once), replacing the current source at the
    /// next frame.
    ///
    /// Any format libsndfile reads (WAV, FLAC, Ogg Vorbis and Opus, MP3, AIFF, …), any rate
    /// and channel count: it is mixed down to mono and resampled to the leg's rate. The file
    /// is opened and decoded on the engine's I/O thread; the worker only reads a ring. The
    /// outcome comes as an event: `.playbackFinished` or `.playbackFailed` (see Player.swift).
    /// Playback advances only while the leg sends (a leg with no remote yet, or recvonly,
    /// holds it where it is).
    /// - Returns: the playback's counters (samples played, underruns).
    @discardableResult
    public func play(file path: String, loop: Int = 1) -> Playback {
        let playback = Playback(path: path, loopCount: loop < 0 ? 1 : loop)
        let io = self.io
        let quality = resamplerQuality
        onWorker { leg in
            if let current = leg.sourceObject as? PlaybackSource { current.stop() }
            let link = PlaybackLink(
                playback: playback, sampleRate: leg.configuration.sampleRate, events: leg.events,
                resamplerQuality: quality)
            leg.sourceObject = PlaybackSource(link: link)
            let player = FilePlayer(path: path, link: link)
            io.every { player.step() }
        }
        return playback
    }

    /// Stops the file playing on the leg (barge-in): the next frame sent is silence, the
    /// ring is cleared, the I/O job closes the file, and `.playbackFinished(…, stopped: true)`
    /// reports the loops heard. Does nothing when no file is playing (a tone keeps going).
    public func stopPlayback() {
        onWorker { leg in
            guard let current = leg.sourceObject as? PlaybackSource else { return }
            current.stop()
            leg.sourceObject = nil
        }
    }
}
