import CEspeakNG
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why text could not be spoken.
public enum SpeechError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The BCP 47 tag maps to no voice this engine has.
    case unknownLanguage(String)
    /// espeak-ng could not start (its data files are missing, typically).
    case engineUnavailable(String)
    /// Synthesis failed.
    case synthesisFailed(String)
    /// Empty text, or text over the length limit.
    case badText(String)

    public var description: String {
        switch self {
        case .unknownLanguage(let t):
            return "no voice for language \"\(t)\"; supported: \(SpeechVoice.supportedTags.joined(separator: ", "))"
        case .engineUnavailable(let m): return "espeak-ng is unavailable: \(m)"
        case .synthesisFailed(let m): return "speech synthesis failed: \(m)"
        case .badText(let m): return m
        }
    }
}

/// The mapping from BCP 47 language tags to espeak-ng voices (docs/voices.md lists it).
public enum SpeechVoice {
    /// Tag (lower-cased) → espeak-ng voice name. A tag not here falls back to its primary
    /// language subtag when that is here (`fr-CA` → `fr`), else it is an error.
    static let table: [String: String] = [
        "en": "en-us", "en-us": "en-us", "en-gb": "en-gb", "en-au": "en-gb", "en-ie": "en-gb", "en-ke": "en-gb",
        "en-ng": "en-gb", "en-za": "en-gb", "en-in": "en-gb", "en-029": "en-029", "en-scotland": "en-gb-scotland",
        "fr": "fr-fr", "fr-fr": "fr-fr", "fr-be": "fr-be", "fr-ch": "fr-ch", "fr-ca": "fr-fr",
        "sw": "sw", "sw-ke": "sw", "sw-tz": "sw",
        "de": "de", "de-de": "de", "de-at": "de", "de-ch": "de",
        "es": "es", "es-es": "es", "es-mx": "es-419", "es-419": "es-419", "es-us": "es-419",
        "pt": "pt", "pt-pt": "pt", "pt-br": "pt-br",
        "it": "it", "nl": "nl", "pl": "pl", "ru": "ru", "uk": "uk", "tr": "tr", "ar": "ar", "he": "he",
        "hi": "hi", "bn": "bn", "ur": "ur", "ta": "ta", "te": "te", "mr": "mr", "gu": "gu", "kn": "kn", "ml": "ml",
        "zh": "cmn", "zh-cn": "cmn", "cmn": "cmn", "yue": "yue", "zh-hk": "yue", "ja": "ja", "ko": "ko", "vi": "vi",
        "id": "id", "ms": "ms", "th": "th", "am": "am", "om": "om", "tn": "tn", "af": "af",
        "sv": "sv", "nb": "nb", "no": "nb", "da": "da", "fi": "fi", "is": "is", "el": "el", "cs": "cs", "sk": "sk",
        "hu": "hu", "ro": "ro", "bg": "bg", "hr": "hr", "sr": "sr", "sl": "sl", "et": "et", "lv": "lv", "lt": "lt",
        "ca": "ca", "eu": "eu", "ga": "ga", "cy": "cy", "fa": "fa", "ka": "ka", "hy": "hy", "az": "az", "kk": "kk",
    ]

    /// Every tag the table knows, sorted.
    public static var supportedTags: [String] { table.keys.sorted() }

    /// The espeak-ng voice for a BCP 47 tag (`_` accepted for `-`, case ignored).
    public static func voice(for tag: String) throws(SpeechError) -> String {
        let t = tag.lowercased().replacingUnderscores()
        if let v = table[t] { return v }
        if let primary = t.split(separator: "-").first, let v = table[String(primary)] { return v }
        throw .unknownLanguage(tag)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
}

/// Text to speech with espeak-ng, mono 16-bit at espeak's rate (22,050 Hz).
///
/// espeak-ng keeps global state, so one synthesizer exists per process (`shared`) and every
/// call into it is serialized by a lock; callers run it on a thread of their own (the
/// media plane's speech thread), never on a media worker.
public final class SpeechSynthesizer: Sendable {
    /// The process's synthesizer.
    public static let shared = SpeechSynthesizer()

    private let lock = Mutex<(started: Bool, rate: Int, error: String?)>((false, 0, nil))
    /// Longest text accepted, in UTF-8 bytes.
    public static let maxTextBytes = 8192

    private init() {}

    /// espeak-ng's output rate in Hz (22,050), once started.
    public var sampleRate: Int {
        get throws(SpeechError) { try start() }
    }

    @discardableResult
    private func start() throws(SpeechError) -> Int {
        let r: Result<Int, SpeechError> = lock.withLock { s in
            if let e = s.error { return .failure(.engineUnavailable(e)) }
            if s.started { return .success(s.rate) }
            espeak_ng_InitializePath(nil)
            var context: espeak_ng_ERROR_CONTEXT? = nil
            let status = espeak_ng_Initialize(&context)
            guard status == ENS_OK else {
                var buffer = [CChar](repeating: 0, count: 512)
                espeak_ng_GetStatusCodeMessage(status, &buffer, buffer.count)
                let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                espeak_ng_ClearErrorContext(&context)
                s.error = message
                return .failure(.engineUnavailable(message))
            }
            _ = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, nil)
            espeak_SetSynthCallback { wav, count, events in
                guard let events, let user = events.pointee.user_data, let wav, count > 0 else { return 0 }
                let sink = Unmanaged<SampleCollector>.fromOpaque(user).takeUnretainedValue()
                sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count)))
                return 0
            }
            s.started = true
            s.rate = Int(espeak_ng_GetSampleRate())
            return .success(s.rate)
        }
        return try r.get()
    }

    /// Synthesizes `text` in the voice for `language` (a BCP 47 tag) at `wordsPerMinute`.
    public func synthesize(_ text: String, language: String, wordsPerMinute: Int = 160) throws(SpeechError) -> [Int16] {
        let voice = try SpeechVoice.voice(for: language)
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.contains(where: { $0 > 0x20 }) else { throw .badText("nothing to say: the text is empty") }
        guard utf8.count <= Self.maxTextBytes else {
            throw .badText("text of \(utf8.count) bytes is over the \(Self.maxTextBytes)-byte limit")
        }
        try start()
        let collector = SampleCollector()
        let r: Result<[Int16], SpeechError> = lock.withLock { _ in
            // Select by language (what `espeak-ng --voices` lists in its language column),
            // which finds the voice file whatever it is named.
            let selected = voice.withCString { name -> espeak_ERROR in
                var spec = espeak_VOICE()
                spec.languages = name
                return espeak_SetVoiceByProperties(&spec)
            }
            guard selected == EE_OK else {
                return .failure(.unknownLanguage("\(language) (voice \(voice) is not installed)"))
            }
            espeak_SetParameter(espeakRATE, Int32(min(max(wordsPerMinute, 80), 450)), 0)
            let user = Unmanaged.passUnretained(collector).toOpaque()
            // espeak reads up to the terminating NUL.
            let terminated = utf8 + [0]
            let status = terminated.withUnsafeBytes { raw in
                espeak_Synth(raw.baseAddress, raw.count, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, user)
            }
            guard status == EE_OK else { return .failure(.synthesisFailed("espeak_Synth returned \(status.rawValue)")) }
            _ = espeak_ng_Synchronize()
            return .success(collector.samples)
        }
        return try r.get()
    }
}

/// Where the synthesis callback puts samples (one per synthesis; the lock serializes them).
private final class SampleCollector: @unchecked Sendable {
    var samples: [Int16] = []
}
