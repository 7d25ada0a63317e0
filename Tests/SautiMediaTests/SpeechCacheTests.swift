import SautiAudio
import SautiMedia
import Testing

/// The speech cache in front of espeak-ng.
@Suite(.serialized) struct SpeechCacheTests {
    @Test("a phrase is synthesized once; the second time it comes from the cache, identical")
    func hit() throws {
        let cache = SpeechCache()
        let first = try cache.speech("Your call is important to us.", language: "en-US")
        let second = try cache.speech("Your call is important to us.", language: "en-us")
        #expect(first == second)
        let c = cache.counts
        #expect(c.misses == 1 && c.hits == 1 && c.entries == 1 && c.bytes == first.count * 2)
        // Another language or rate is another entry.
        _ = try cache.speech("Your call is important to us.", language: "en-GB")
        _ = try cache.speech("Your call is important to us.", language: "en-US", wordsPerMinute: 200)
        #expect(cache.counts.entries == 3)
    }

    @Test("a phrase at a leg's rate is resampled once and kept: the next call at that rate is a hit of the same samples")
    func atLegRate() throws {
        let cache = SpeechCache()
        let native = try cache.speech("Please hold.", language: "en-US")
        let first = try cache.speech("Please hold.", language: "en-US", sampleRate: 8000)
        let hitsBefore = cache.counts.hits
        let second = try cache.speech("Please hold.", language: "en-US", sampleRate: 8000)
        #expect(first == second && cache.counts.hits == hitsBefore + 1 && cache.counts.entries == 2)
        let rate = try SpeechSynthesizer.shared.sampleRate
        #expect(first.count == native.count * 8000 / rate, "\(first.count) samples at 8 kHz for \(native.count) at \(rate)")
        // The same energy, give or take the filter: not silence, not clipped.
        let energy = { (s: [Int16]) in s.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, s.count)) }
        #expect(energy(first) > energy(native) * 0.5 && energy(first) < energy(native) * 1.5)
        #expect(try cache.speech("Please hold.", language: "en-US", sampleRate: rate) == native)
    }

    @Test("the budget holds: least recently used phrases go first")
    func eviction() throws {
        let one = try SpeechSynthesizer.shared.synthesize("one", language: "en-US")
        let cache = SpeechCache(budgetBytes: one.count * 2 * 3 + 100)
        for word in ["one", "two", "three"] { _ = try cache.speech(word, language: "en-US") }
        _ = try cache.speech("one", language: "en-US")  // "one" is now the most recent
        _ = try cache.speech("four", language: "en-US")
        #expect(cache.counts.bytes <= cache.budgetBytes)
        #expect(cache.lookup(text: "one", voice: "en-us", wordsPerMinute: 160) != nil, "recently used stays")
        #expect(cache.lookup(text: "two", voice: "en-us", wordsPerMinute: 160) == nil, "least recently used went")
    }

    @Test("an unknown language fails before anything is cached")
    func unknown() {
        let cache = SpeechCache()
        #expect(throws: SpeechError.self) { try cache.speech("hello", language: "tlh-Klingon") }
        #expect(cache.counts.entries == 0)
    }
}
