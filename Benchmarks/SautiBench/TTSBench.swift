import Foundation
import SautiAudio
import SautiMedia

/// TTS cache hit versus miss: the cost of synthesizing a prompt with espeak-ng against
/// taking it from the speech cache, per phrase, in the same run.
func ttsBenchmark() throws -> [String: Any] {
    let phrases = (0..<40).map { "Thank you for calling. Your reference number is \($0 * 7919 % 100_000). Please hold." }
    let cache = SpeechCache()
    _ = try cache.speech("warm up", language: "en-US")
    var start = DispatchTime.now().uptimeNanoseconds
    var audioSamples = 0
    for p in phrases { audioSamples += try cache.speech(p, language: "en-US").count }
    let miss = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(phrases.count) / 1000
    let rounds = 1000
    start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<rounds { for p in phrases { _ = try cache.speech(p, language: "en-US") } }
    let hit = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(phrases.count * rounds) / 1000
    let audioSeconds = Double(audioSamples) / 22050 / Double(phrases.count)
    print("TTS: \(phrases.count) phrases of \(String(format: "%.2f", audioSeconds)) s of speech each (espeak-ng, en-US)")
    print(String(format: "  miss (synthesize):  %10.1f µs per phrase  (%.0f× real time)", miss, audioSeconds * 1e6 / miss))
    print(String(format: "  hit (from cache):   %10.2f µs per phrase", hit))
    print(String(format: "  a hit costs 1/%.0f of a miss", miss / hit))
    return ["miss_us_per_phrase": miss, "hit_us_per_phrase": hit, "speech_seconds_per_phrase": audioSeconds]
}
