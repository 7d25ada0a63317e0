import SautiAudio

#if canImport(Glibc)
import Glibc
#endif

/// A `say`'s producer side, run on the engine's speech thread until `step` returns false:
/// the first pass takes the phrase from the speech cache (synthesizing it with espeak-ng on
/// a miss — on this thread, the only one that touches espeak-ng), later passes resample
/// it to the leg's rate into the playback ring, like a file player.
///
/// `@unchecked Sendable`: handed to the speech thread once, then touched only there.
final class SpeechPlayer: @unchecked Sendable {
    static let chunkSamples = 1024

    let text: String
    let language: String
    let wordsPerMinute: Int
    let cache: SpeechCache
    let link: PlaybackLink
    private var samples: [Int16] = []
    private var feeder: PlaybackFeeder?
    private var position = 0
    private var loopsDone = 0
    private var inputDone = false

    init(text: String, language: String, wordsPerMinute: Int, cache: SpeechCache, link: PlaybackLink) {
        self.text = text
        self.language = language
        self.wordsPerMinute = wordsPerMinute
        self.cache = cache
        self.link = link
    }

    func step() -> Bool {
        if link.isCancelled { return false }
        if feeder == nil {
            do {
                // At the leg's rate, from the cache: a common prompt is resampled once, not per call.
                samples = try cache.speech(
                    text, language: language, wordsPerMinute: wordsPerMinute, sampleRate: link.sampleRate)
                feeder = try PlaybackFeeder(
                    ring: link.ring, inputRate: link.sampleRate, outputRate: link.sampleRate,
                    maximumChunk: Self.chunkSamples)
                link.samplesPerLoop.store(samples.count, ordering: .releasing)
            } catch let error as SpeechError {
                link.fail(error.isLanguage ? .unknownLanguage : .speechError, error.description)
                return false
            } catch {
                link.fail(.speechError, "\(error)")
                return false
            }
        }
        guard let feeder else { return false }
        if !feeder.hasPending && link.ring.available > link.ring.capacity / 2 { return true }
        while true {
            guard feeder.drainPending() else { return true }
            if inputDone {
                guard feeder.finish() else { return true }
                link.ring.finish()
                return false
            }
            if position >= samples.count {
                loopsDone += 1
                link.playback.decodedLoops.store(loopsDone, ordering: .releasing)
                let loops = link.playback.loopCount
                if samples.isEmpty || (loops != 0 && loopsDone >= loops) {
                    inputDone = true
                    continue
                }
                position = 0
            }
            let n = min(Self.chunkSamples, samples.count - position)
            samples.withUnsafeBufferPointer { all in
                feeder.push(UnsafeBufferPointer(rebasing: all[position..<(position + n)]))
            }
            position += n
        }
    }
}

extension SpeechError {
    var isLanguage: Bool { if case .unknownLanguage = self { return true } else { return false } }
}

extension MediaLeg {
    /// Speaks `text` in the voice for `language` (a BCP 47 tag; docs/voices.md) as the leg's
    /// outbound audio, `loop` times (0: until `stopPlayback()`), replacing the current source
    /// at the next frame. Synthesis runs on the engine's speech thread and a phrase already
    /// spoken comes from the speech cache. The outcome is an event, as for a file:
    /// `.playbackFinished`, or `.playbackFailed` with `unknown-language` or `speech-error`
    /// (the call goes on with silence).
    @discardableResult
    public func say(_ text: String, language: String = "en-US", wordsPerMinute: Int = 160, loop: Int = 1) -> Playback {
        let playback = Playback(path: "say:\(language):\(text.prefix(64))", loopCount: loop < 0 ? 1 : loop)
        let speech = self.speech
        onWorker { leg in
            if let current = leg.sourceObject as? PlaybackSource { current.stop() }
            let link = PlaybackLink(playback: playback, sampleRate: leg.configuration.sampleRate, events: leg.events)
            leg.sourceObject = PlaybackSource(link: link)
            let player = SpeechPlayer(
                text: text, language: language, wordsPerMinute: wordsPerMinute, cache: speech.cache, link: link)
            speech.thread.every { player.step() }
        }
        return playback
    }
}
