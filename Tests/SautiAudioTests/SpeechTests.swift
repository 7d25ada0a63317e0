import Foundation
import SautiAudio
import Testing

/// espeak-ng through SautiAudio: real synthesis, the BCP 47 mapping, bad input.
@Suite(.serialized) struct SpeechTests {
    @Test("a phrase in en-US is speech: about the right length, not silent", arguments: ["en-US", "en-GB", "fr-FR", "sw", "es-MX"])
    func speaks(_ language: String) throws {
        let synth = SpeechSynthesizer.shared
        let rate = try synth.sampleRate
        #expect(rate == 22050)
        let samples = try synth.synthesize("Welcome to Acme support. Press one for billing.", language: language)
        let seconds = Double(samples.count) / Double(rate)
        #expect(seconds > 1.5 && seconds < 8, "\(language): \(seconds) s")
        let rms = (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, samples.count))).squareRoot()
        #expect(rms > 500, "\(language): RMS \(rms)")
    }

    @Test("languages map to espeak-ng voices; an unknown one is a clear error")
    func mapping() throws {
        #expect(try SpeechVoice.voice(for: "en-US") == "en-us")
        #expect(try SpeechVoice.voice(for: "en_gb") == "en-gb")
        #expect(try SpeechVoice.voice(for: "fr-CA") == "fr-fr")
        #expect(try SpeechVoice.voice(for: "sw-KE") == "sw")
        #expect(try SpeechVoice.voice(for: "de-LU") == "de", "primary subtag fallback")
        #expect(throws: SpeechError.unknownLanguage("xx-YY")) { try SpeechVoice.voice(for: "xx-YY") }
        #expect("\(SpeechError.unknownLanguage("xx"))".contains("supported: "))
    }

    @Test("empty and oversized text are refused")
    func badText() {
        #expect(throws: SpeechError.self) { try SpeechSynthesizer.shared.synthesize("   ", language: "en-US") }
        #expect(throws: SpeechError.self) {
            try SpeechSynthesizer.shared.synthesize(String(repeating: "a", count: 9000), language: "en-US")
        }
    }

    @Test("the rate changes the length; the same text twice gives the same length")
    func rate() throws {
        let a = try SpeechSynthesizer.shared.synthesize("one two three four five", language: "en-US")
        let b = try SpeechSynthesizer.shared.synthesize("one two three four five", language: "en-US")
        #expect(abs(a.count - b.count) < a.count / 20, "\(a.count) vs \(b.count)")
        let c = try SpeechSynthesizer.shared.synthesize("one two three four five", language: "en-US", wordsPerMinute: 320)
        #expect(c.count < a.count * 3 / 4, "faster speech is shorter: \(c.count) vs \(a.count)")
    }
}
