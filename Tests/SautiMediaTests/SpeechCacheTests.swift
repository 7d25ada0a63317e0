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
