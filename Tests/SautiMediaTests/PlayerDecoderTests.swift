import Foundation
import SautiAudio
import Testing

/// `AudioFileDecoder` (SautiAudio) on files made by ffmpeg and sox: what libsndfile reports,
/// mono downmix, rewind, and the typed errors. Here rather than in SautiAudioTests because
/// it shares the player tests' file making.
@Suite struct PlayerDecoderTests {
    @Test(
        "each format decodes: libsndfile names it, gives its rate, channels and length, and the audio is the source's",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)),
        .enabled(if: PlayerFiles.hasSpeech, Comment(rawValue: PlayerFiles.corpusMissing)),
        arguments: PlayerFormat.all)
    func decodes(format: PlayerFormat) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try await PlayerFiles.make(format, seconds: 2, in: dir)
        let decoder = try AudioFileDecoder(path: path)
        let f = decoder.format
        print(
            "decoder \(format.name): \(f.container) / \(f.encoding), \(f.sampleRate) Hz, \(f.channels) ch, \(f.frames.map(String.init) ?? "unknown") frames (\(AudioFileDecoder.libraryVersion))"
        )
        #expect(f.container == format.container)
        #expect(f.encoding == format.encoding)
        #expect(f.sampleRate == format.sourceRate)
        #expect(f.channels == format.channels)
        var samples: [Int16] = []
        var chunk = [Int16](repeating: 0, count: 333)
        while true {
            let n = try chunk.withUnsafeMutableBufferPointer { try decoder.read(into: $0) }
            if n == 0 { break }
            #expect(n <= 333)
            samples += chunk[..<n]
        }
        #expect(decoder.framesRead == samples.count)
        // Two seconds, give or take a codec's padding.
        #expect(abs(samples.count - 2 * format.sourceRate) <= format.sourceRate / 20, "\(samples.count) samples")
        // The source, read by libsndfile too: the decode matches it (lossy codecs loosely).
        let (_, source) = try WAVReader.read(path: PlayerFiles.speech(rate: format.sourceRate))
        let reference = Array(source.prefix(2 * format.sourceRate))
        let (lag, ncc) = Similarity.best(reference, samples, searchSamples: format.sourceRate / 100)
        print("decoder \(format.name): NCC \(String(format: "%.4f", ncc)) at lag \(lag) against the source")
        #expect(ncc > 0.9, "\(format.name): NCC \(ncc) at lag \(lag)")
        // Rewind: the same samples again.
        try decoder.rewind()
        var again = [Int16](repeating: 0, count: 1000)
        let n = try again.withUnsafeMutableBufferPointer { try decoder.read(into: $0) }
        #expect(n > 0 && Array(again[..<n]) == Array(samples[..<n]), "rewind starts over")
    }

    @Test("a stereo file decodes as the mean of its channels")
    func downmix() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/stereo.wav"
        let w = try WAVWriter(path: path, sampleRate: 8000, channels: 2)
        let left: [Int16] = (0..<3000).map { Int16(truncatingIfNeeded: $0 * 11) }
        let right: [Int16] = (0..<3000).map { Int16(truncatingIfNeeded: -$0 * 7 + 32767) }
        try w.write(zip(left, right).flatMap { [$0, $1] })
        try w.close()
        let decoder = try AudioFileDecoder(path: path, chunkFrames: 100)
        #expect(decoder.format.channels == 2 && decoder.format.frames == 3000)
        var out: [Int16] = []
        var chunk = [Int16](repeating: 0, count: 256)
        while true {
            let n = try chunk.withUnsafeMutableBufferPointer { try decoder.read(into: $0) }
            if n == 0 { break }
            #expect(n <= 100, "at most chunkFrames per read")
            out += chunk[..<n]
        }
        #expect(out == zip(left, right).map { Int16((Int32($0) + Int32($1)) / 2) })
    }

    @Test("missing files, directories, text and broken files fail with the right kind and libsndfile's message")
    func errors() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "not audio at all\n".write(toFile: dir + "/text.wav", atomically: true, encoding: .utf8)
        try "not audio at all\n".write(toFile: dir + "/text.mp3", atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: dir + "/empty.wav", contents: Data())
        try FileManager.default.createDirectory(atPath: dir + "/folder.wav", withIntermediateDirectories: true)
        // A WAV whose fmt chunk claims 40 bytes: a header libsndfile calls malformed.
        var wav = Data("RIFF".utf8) + le32(36) + Data("WAVEfmt ".utf8) + le32(40)
        wav += Data([1, 0, 1, 0]) + le32(8000) + le32(16000) + Data([2, 0, 16, 0]) + Data("data".utf8) + le32(0)
        try wav.write(to: URL(fileURLWithPath: dir + "/malformed.wav"))
        let cases: [(String, String, String)] = [
            (dir + "/none.wav", "not-found", "No such file or directory"),
            (dir + "/nodir/none.wav", "not-found", "No such file or directory"),
            (dir + "/text.wav/x.wav", "not-found", "Not a directory"),
            (dir + "/folder.wav", "unreadable", "is a directory"),
            (dir + "/text.wav", "unsupported-format", "Format not recognised"),
            (dir + "/text.mp3", "unsupported-format", "Format not recognised"),
            (dir + "/empty.wav", "unsupported-format", "Format not recognised"),
            (dir + "/malformed.wav", "decode-error", "Error in WAV file"),
        ]
        for (path, reason, message) in cases {
            do {
                let d = try AudioFileDecoder(path: path)
                Issue.record("\(path) opened: \(d.format)")
            } catch {
                print("decoder error: \(error)")
                #expect(error.reason == reason, "\(path): \(error)")
                #expect(error.message.contains(message), "\(path): \(error)")
                #expect(error.path == path)
            }
        }
    }
}

private func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
