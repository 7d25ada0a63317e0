import Foundation
import SautiAudio
import SautiMedia
import SautiTestSupport
import Testing

// Test files for the player tests, made at test time with ffmpeg and sox from the shared
// corpus's speech (../shared/corpus/audio_src), or synthesized by sox when only a tone is
// needed. Ports: PlayerTests 36000-36799, PlayerAllocationTests 36800-36999.

/// One kind of file a leg can play.
struct PlayerFormat: Sendable, CustomTestStringConvertible {
    /// For test names.
    let name: String
    /// The file's extension.
    let fileExtension: String
    /// The corpus speech it is made from: 16 000 or 48 000 Hz.
    let sourceRate: Int
    /// The tool and its arguments between the input and the output file.
    let tool: Tool
    /// What libsndfile should call its container and encoding.
    let container: String
    let encoding: String
    /// Channels in the file.
    let channels: Int

    enum Tool: Sendable {
        case ffmpeg([String])
        case sox([String])
    }

    var testDescription: String { name }

    /// WAV, FLAC, MP3, Ogg Vorbis and Ogg Opus, at 16 and 48 kHz, one stereo: every one
    /// resampled to the leg's 8 kHz.
    static let all: [PlayerFormat] = [
        PlayerFormat(
            name: "WAV 16 kHz (sox)", fileExtension: "wav", sourceRate: 16000, tool: .sox([]),
            container: "WAV (Microsoft)", encoding: "Signed 16 bit PCM", channels: 1),
        PlayerFormat(
            name: "WAV 48 kHz stereo", fileExtension: "wav", sourceRate: 48000,
            tool: .ffmpeg(["-ac", "2", "-c:a", "pcm_s16le"]), container: "WAV (Microsoft)",
            encoding: "Signed 16 bit PCM", channels: 2),
        PlayerFormat(
            name: "FLAC 16 kHz", fileExtension: "flac", sourceRate: 16000, tool: .ffmpeg(["-c:a", "flac"]),
            container: "FLAC (Free Lossless Audio Codec)", encoding: "Signed 16 bit PCM", channels: 1),
        PlayerFormat(
            name: "MP3 48 kHz", fileExtension: "mp3", sourceRate: 48000,
            tool: .ffmpeg(["-c:a", "libmp3lame", "-b:a", "128k"]), container: "MPEG-1/2 Audio",
            encoding: "MPEG Layer III", channels: 1),
        PlayerFormat(
            name: "Ogg Vorbis 16 kHz", fileExtension: "ogg", sourceRate: 16000,
            tool: .ffmpeg(["-c:a", "libvorbis", "-q:a", "6"]), container: "OGG (OGG Container format)",
            encoding: "Vorbis", channels: 1),
        PlayerFormat(
            name: "Ogg Opus 48 kHz", fileExtension: "opus", sourceRate: 48000,
            tool: .ffmpeg(["-c:a", "libopus", "-b:a", "64k"]), container: "OGG (OGG Container format)",
            encoding: "Opus", channels: 1),
    ]
}

enum PlayerFiles {
    /// The corpus speech at `rate` (16 000 or 48 000).
    static func speech(rate: Int) -> String {
        InteropPaths.corpus.appendingPathComponent("audio_src/speech_\(rate / 1000)k.wav").path
    }

    static let corpusMissing = "the shared corpus is not at ../shared/corpus (audio_src/speech_*.wav)"

    static var hasSpeech: Bool { FileManager.default.fileExists(atPath: speech(rate: 16000)) }

    /// Runs `tool arguments` to completion; throws with its output when it fails.
    static func run(_ tool: String, _ arguments: [String], in dir: String) async throws {
        let executable = tool == "ffmpeg" ? (InteropPaths.ffmpeg ?? "/usr/bin/ffmpeg") : "/usr/bin/\(tool)"
        let p = try BoundedProcess(executable, arguments, log: dir + "/\(tool)-\(UUID().uuidString).log")
        let (status, killed) = await p.wait(seconds: 60)
        guard status == 0 && !killed else {
            throw ToolFailure(description: "\(tool) \(arguments.joined(separator: " ")): status \(status): \(p.log)")
        }
    }

    struct ToolFailure: Error, CustomStringConvertible { let description: String }

    /// The first `seconds` of the corpus speech at `format.sourceRate`, made into a file of
    /// `format` in `dir`.
    static func make(_ format: PlayerFormat, seconds: Double, in dir: String) async throws -> String {
        try await make(format, from: speech(rate: format.sourceRate), seconds: seconds, in: dir)
    }

    /// The first `seconds` of `source` (a mono WAV at `format.sourceRate`) made into a file
    /// of `format` in `dir`.
    static func make(_ format: PlayerFormat, from source: String, seconds: Double, in dir: String) async throws
        -> String
    {
        let out = dir + "/speech-\(format.sourceRate).\(format.name.filter(\.isLetter)).\(format.fileExtension)"
        switch format.tool {
        case .sox(let args):
            try await run("sox", ["-D", source] + args + [out, "trim", "0", String(seconds)], in: dir)
        case .ffmpeg(let args):
            try await run(
                "ffmpeg",
                ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", source, "-t", String(seconds)] + args
                    + [out], in: dir)
        }
        return out
    }

    /// The reference: the first `seconds` of the corpus speech resampled to 8 kHz by sox
    /// (`-D`: no dither, the same on every run).
    static func reference8k(sourceRate: Int, seconds: Double, in dir: String) async throws -> [Int16] {
        let out = dir + "/reference-\(sourceRate).wav"
        try await run(
            "sox", ["-D", speech(rate: sourceRate), "-r", "8000", out, "trim", "0", String(seconds)], in: dir)
        return try WAVReader.read(path: out).samples
    }

    /// A sine of `frequency` Hz, `seconds` long, at `rate`, made by sox (half scale).
    static func tone(frequency: Int, seconds: Double, rate: Int, in dir: String, name: String = "tone.wav") async throws
        -> String
    {
        let out = dir + "/" + name
        try await run(
            "sox",
            [
                "-D", "-n", "-r", String(rate), "-c", "1", "-b", "16", out, "synth", String(seconds), "sine",
                String(frequency), "vol", "0.5",
            ], in: dir)
        return out
    }
}

/// A pair of legs on loopback: `a` sends to `b`, `b` keeps what it receives.
struct LegPair {
    let a: MediaLeg
    let b: MediaLeg
    let received: PCMRecorderSink
    let eventsA: EventLog

    /// `fixedJitterMilliseconds`: B's jitter buffer holds that delay and never adapts, so
    /// what B hears keeps the timing A sent it with even when a busy machine delays packets.
    init(engine: MediaEngine, codec: AudioCodec = .pcmu, seconds: Double = 30, fixedJitterMilliseconds: Int? = nil)
        throws
    {
        var cb = LegConfiguration(codec: codec)
        cb.mediaTimeoutMilliseconds = 0
        if let fixed = fixedJitterMilliseconds {
            cb.minJitterDelayMilliseconds = fixed
            cb.maxJitterDelayMilliseconds = fixed
        }
        b = try engine.openLeg(cb)
        var ca = LegConfiguration(codec: codec, remote: b.local)
        ca.mediaTimeoutMilliseconds = 0
        a = try engine.openLeg(ca)
        received = PCMRecorderSink(maximumSeconds: seconds, sampleRate: 8000)
        b.addSink(received)
        eventsA = EventLog(a)
    }

    func close() {
        a.close()
        b.close()
    }
}

/// The events about playbacks, in order.
func playbackEvents(_ log: EventLog) -> [LegEvent] {
    log.all.filter {
        switch $0 {
        case .playbackFinished, .playbackFailed, .sourceFinished: return true
        default: return false
        }
    }
}

/// Waits until `log` holds an event matching `match`, up to `seconds`; returns it.
func waitForEvent(_ log: EventLog, seconds: Double, _ match: (LegEvent) -> Bool) async -> LegEvent? {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if let e = log.all.first(where: match) { return e }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return log.all.first(where: match)
}

/// `.playbackFinished` or `.playbackFailed`.
func isPlaybackEnd(_ e: LegEvent) -> Bool {
    switch e {
    case .playbackFinished, .playbackFailed: return true
    default: return false
    }
}

/// 20 ms frames (160 samples at 8 kHz) of `samples`, each: is it the `frequency` tone?
func toneFrames(_ samples: [Int16], frequency: Double) -> [Bool] {
    stride(from: 0, to: samples.count - 159, by: 160).map { i in
        toneShare(samples[i..<(i + 160)], frequency: frequency) > 0.8
    }
}
