import SautiAudio
import Synchronization

/// Synthesized phrases kept in memory, least recently used first out, within a byte
/// budget: a prompt that thousands of callers hear is synthesized once. Keyed by voice,
/// rate and text. Safe from any thread.
public final class SpeechCache: Sendable {
    private struct Entry {
        var samples: [Int16]
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    private let state = Mutex(State())
    /// Most bytes of audio held.
    public let budgetBytes: Int

    /// A cache of at most `budgetBytes` of audio (default 64 MiB, about 25 minutes at 22 kHz).
    /// libspeexdsp's quality for resampling espeak-ng's 22,050 Hz to a leg's rate.
    public let resamplerQuality: Int

    public init(budgetBytes: Int = 64 << 20, resamplerQuality: Int = Resampler.defaultQuality) {
        self.budgetBytes = budgetBytes
        self.resamplerQuality = resamplerQuality
    }

    static func key(text: String, voice: String, wordsPerMinute: Int) -> String { "\(voice)|\(wordsPerMinute)|\(text)" }

    /// The cached audio for a phrase, if any.
    public func lookup(text: String, voice: String, wordsPerMinute: Int) -> [Int16]? {
        let k = Self.key(text: text, voice: voice, wordsPerMinute: wordsPerMinute)
        return state.withLock { s in
            s.clock += 1
            guard var e = s.entries[k] else {
                s.misses += 1
                return nil
            }
            s.hits += 1
            e.lastUse = s.clock
            s.entries[k] = e
            return e.samples
        }
    }

    /// Keeps a phrase, evicting the least recently used ones beyond the budget.
    public func store(_ samples: [Int16], text: String, voice: String, wordsPerMinute: Int) {
        let k = Self.key(text: text, voice: voice, wordsPerMinute: wordsPerMinute)
        let size = samples.count * 2
        guard size <= budgetBytes else { return }
        state.withLock { s in
            s.clock += 1
            if let old = s.entries[k] { s.bytes -= old.samples.count * 2 }
            s.entries[k] = Entry(samples: samples, lastUse: s.clock)
            s.bytes += size
            while s.bytes > budgetBytes, let victim = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                s.bytes -= victim.value.samples.count * 2
                s.entries.removeValue(forKey: victim.key)
            }
        }
    }

    /// Hits, misses, entries and bytes held.
    public var counts: (hits: Int, misses: Int, entries: Int, bytes: Int) {
        state.withLock { ($0.hits, $0.misses, $0.entries.count, $0.bytes) }
    }

    /// Synthesizes through the cache: the cached audio when there is some, else
    /// espeak-ng's (stored for next time). Blocking: call it off the media workers.
    public func speech(
        _ text: String, language: String, wordsPerMinute: Int = 160, synthesizer: SpeechSynthesizer = .shared
    ) throws(SpeechError) -> [Int16] {
        let voice = try SpeechVoice.voice(for: language)
        if let hit = lookup(text: text, voice: voice, wordsPerMinute: wordsPerMinute) { return hit }
        let samples = try synthesizer.synthesize(text, language: language, wordsPerMinute: wordsPerMinute)
        store(samples, text: text, voice: voice, wordsPerMinute: wordsPerMinute)
        return samples
    }

    /// The phrase at `sampleRate` (a leg's rate): resampled once from the synthesizer's
    /// rate and kept beside it, so that thousands of calls hearing one prompt neither
    /// synthesize nor resample it again.
    public func speech(
        _ text: String, language: String, wordsPerMinute: Int = 160, sampleRate: Int,
        synthesizer: SpeechSynthesizer = .shared
    ) throws(SpeechError) -> [Int16] {
        let native = try synthesizer.sampleRate
        guard sampleRate != native else {
            return try speech(text, language: language, wordsPerMinute: wordsPerMinute, synthesizer: synthesizer)
        }
        let voice = try SpeechVoice.voice(for: language) + "@\(sampleRate)"
        if let hit = lookup(text: text, voice: voice, wordsPerMinute: wordsPerMinute) { return hit }
        let samples = try speech(text, language: language, wordsPerMinute: wordsPerMinute, synthesizer: synthesizer)
        let resampled: [Int16]
        do {
            resampled = try Resampler.resample(samples, from: native, to: sampleRate, quality: resamplerQuality)
        } catch {
            throw .synthesisFailed("cannot resample \(native) Hz to \(sampleRate) Hz: \(error)")
        }
        store(resampled, text: text, voice: voice, wordsPerMinute: wordsPerMinute)
        return resampled
    }
}
