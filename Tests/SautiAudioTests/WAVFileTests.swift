import Foundation
import SautiAudio
import Testing

/// A WAV format the round-trip tests write.
struct WAVCase: Sendable, CustomTestStringConvertible {
    let encoding: WAVEncoding
    let channels: Int
    let sampleRate: Int

    var testDescription: String { "\(encoding), \(channels) ch, \(sampleRate) Hz" }

    /// What soxi calls the encoding, and its bits per sample.
    var soxEncoding: (name: String, bits: String) {
        switch encoding {
        case .pcm16: ("Signed Integer PCM", "16")
        case .ulaw: ("u-law", "8")
        case .alaw: ("A-law", "8")
        }
    }

    /// What reading `samples` back must give: G.711 files hold the codes `G711` encodes.
    func expectedReadBack(_ samples: [Int16]) -> [Int16] {
        switch encoding {
        case .pcm16: samples
        case .ulaw: samples.map { G711.decodeULaw(G711.encodeULaw($0)) }
        case .alaw: samples.map { G711.decodeALaw(G711.encodeALaw($0)) }
        }
    }
}

/// Where two sample arrays differ, briefly (a failure message of 65 536 samples helps no one).
func difference(_ got: [Int16], _ expected: [Int16]) -> String? {
    guard got != expected else { return nil }
    let differing = (0..<min(got.count, expected.count)).filter { got[$0] != expected[$0] }
    let first = differing.first.map { "first at \($0): \(got[$0]), expected \(expected[$0])" }
    return "\(got.count) samples, expected \(expected.count); \(differing.count) differ; "
        + (first ?? "")
}

/// Writes `samples` in 20 ms ticks, as a recorder would, alternating the two `write`s.
func writeInTicks(_ samples: [Int16], to writer: WAVWriter, _ wavCase: WAVCase) throws {
    let tick = wavCase.sampleRate / 50 * wavCase.channels
    for (n, start) in stride(from: 0, to: samples.count, by: tick).enumerated() {
        let part = samples[start..<min(start + tick, samples.count)]
        if n.isMultiple(of: 2) {
            try writer.write(Array(part))
        } else {
            try part.withUnsafeBufferPointer { try writer.write($0) }
        }
    }
}

@Suite("WAV files")
struct WAVFileTests {
    static let cases = [
        WAVCase(encoding: .pcm16, channels: 1, sampleRate: 8000),
        WAVCase(encoding: .ulaw, channels: 1, sampleRate: 8000),
        WAVCase(encoding: .alaw, channels: 1, sampleRate: 8000),
        WAVCase(encoding: .alaw, channels: 2, sampleRate: 16000),
        WAVCase(encoding: .pcm16, channels: 2, sampleRate: 48000),
    ]

    @Test("every Int16 written reads back through WAVReader, soxi and sox", arguments: cases)
    func roundTrip(wavCase: WAVCase) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("every-sample.wav")
        let frames = everySample.count / wavCase.channels
        let writer = try WAVWriter(
            path: path, sampleRate: wavCase.sampleRate, channels: wavCase.channels,
            encoding: wavCase.encoding)
        try writeInTicks(everySample, to: writer, wavCase)
        #expect(writer.framesWritten == frames)
        try writer.close()

        let expected = wavCase.expectedReadBack(everySample)
        let (info, samples) = try WAVReader.read(path: path)
        #expect(info.sampleRate == wavCase.sampleRate)
        #expect(info.channels == wavCase.channels)
        #expect(info.frames == frames)
        #expect(difference(samples, expected) == nil, "WAVReader")

        let soxInfo = try await Sox.info(path)
        let expectedInfo = Sox.Info(
            sampleRate: "\(wavCase.sampleRate)", channels: "\(wavCase.channels)",
            encoding: wavCase.soxEncoding.name, bitsPerSample: wavCase.soxEncoding.bits,
            frames: "\(frames)",
            durationSeconds: String(format: "%.6f", Double(frames) / Double(wavCase.sampleRate)))
        #expect(soxInfo == expectedInfo)

        // sox's own decode of the bytes on disk, independent of libsndfile's reader.
        let raw = directory.path("decoded.raw")
        _ = try await Sox.run("sox", ["-D", path, "-t", "raw", "-e", "signed", "-b", "16", raw])
        let decoded = try Data(contentsOf: URL(fileURLWithPath: raw)).withUnsafeBytes { bytes in
            (0..<bytes.count / 2).map {
                Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))
            }
        }
        #expect(difference(decoded, expected) == nil, "sox")
    }

    @Test(
        "the header is valid while recording, before close",
        arguments: [
            WAVEncoding.pcm16, .ulaw,
        ])
    func headerValidBeforeClose(encoding: WAVEncoding) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("recording.wav")
        let writer = try WAVWriter(path: path, sampleRate: 8000, encoding: encoding)
        let tick = [Int16](repeating: 1000, count: 160)
        for _ in 0..<5 { try writer.write(tick) }
        // As a player or a crash would find it: nothing closed or flushed by us.
        #expect(try await Sox.run("soxi", ["-s", path]) == "800")
        #expect(try WAVReader.read(path: path).info.frames == 800)
        for _ in 0..<5 { try writer.write(tick) }
        #expect(try await Sox.run("soxi", ["-s", path]) == "1600")
        try writer.close()
        #expect(try WAVReader.read(path: path).info.frames == 1600)
    }

    @Test("close is idempotent, writing after it throws, and deinit closes")
    func closing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("closing.wav")
        let writer = try WAVWriter(path: path, sampleRate: 8000)
        try writer.write([1, 2, 3])
        try writer.write([])
        try writer.close()
        try writer.close()
        let error = #expect(throws: AudioFileError.self) { try writer.write([4]) }
        #expect(error?.reason == "write after close")
        #expect(writer.framesWritten == 3)

        let dropped = directory.path("dropped.wav")
        do {
            let writer = try WAVWriter(path: dropped, sampleRate: 16000, encoding: .alaw)
            try writer.write([Int16](repeating: -300, count: 320))
        }
        let (info, samples) = try WAVReader.read(path: dropped)
        #expect(info.frames == 320 && info.sampleRate == 16000)
        #expect(samples.allSatisfy { $0 == G711.decodeALaw(G711.encodeALaw(-300)) })
    }

    @Test("a stereo write must hold whole frames")
    func partialFrame() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try WAVWriter(path: directory.path("s.wav"), sampleRate: 8000, channels: 2)
        let error = #expect(throws: AudioFileError.self) { try writer.write([1, 2, 3]) }
        #expect(error?.reason.contains("not a whole number of 2-channel frames") == true)
        #expect(writer.framesWritten == 0)
    }

    @Test(
        "an unwritable path gives the system's reason",
        arguments: [
            ("/proc/no-such-process/y.wav", ["No such file or directory"]),
            ("/no-such-directory-for-sauti/a.wav", ["No such file or directory"]),
            ("/", ["Is a directory"]),
            // Refused at open, or (as root) at libsndfile's first write of the header, or its
            // read-back of the header (a proc file takes no writes).
            ("/proc/version", ["Permission denied", "Input/output error", "No 'data' chunk marker"]),
        ])
    func unwritablePath(path: String, reasons: [String]) {
        let error = #expect(throws: AudioFileError.self) {
            try WAVWriter(path: path, sampleRate: 8000)
        }
        #expect(error?.path == path)
        #expect(
            reasons.contains { error?.reason.contains($0) == true },
            "reason: \(error?.reason ?? "none")")
        #expect(error?.description == "\(path): \(error?.reason ?? "")")
    }

    @Test(
        "a full disk gives an error, not a crash",
        .enabled(if: FileManager.default.fileExists(atPath: "/dev/full")))
    func fullDisk() {
        let error = #expect(throws: AudioFileError.self) {
            let writer = try WAVWriter(path: "/dev/full", sampleRate: 8000, encoding: .ulaw)
            try writer.write([Int16](repeating: 0, count: 160))
            try writer.close()
        }
        // The system's reason when libsndfile passes it on; at least the short write, named,
        // when it does not (seen once in a loaded parallel run).
        #expect(
            error?.reason.contains("No space left on device") == true || error?.reason.contains("wrote 0 of") == true,
            "reason: \(error?.reason ?? "none")")
    }

    @Test(
        "an impossible format is refused before the file is created",
        arguments: [
            (0, 1, "sample rate 0 Hz: need 1 ... 2147483647"),
            (-8000, 1, "sample rate -8000 Hz: need 1 ... 2147483647"),
            (8000, 0, "0 channels: need 1 ... 1024"),
            (8000, 1025, "1025 channels: need 1 ... 1024"),
        ])
    func impossibleFormat(sampleRate: Int, channels: Int, reason: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("never.wav")
        let error = #expect(throws: AudioFileError.self) {
            try WAVWriter(path: path, sampleRate: sampleRate, channels: channels)
        }
        #expect(error?.reason == reason)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

@Suite("Reading bad audio files")
struct WAVReaderBadInputTests {
    /// A valid 8 kHz mono 16-bit WAV of `frames` frames, as bytes.
    static func validWAV(frames: Int, in directory: TemporaryDirectory) throws -> Data {
        let path = directory.path("valid.wav")
        let writer = try WAVWriter(path: path, sampleRate: 8000)
        try writer.write((0..<frames).map { Int16(truncatingIfNeeded: $0 &* 977) })
        try writer.close()
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    @Test(
        "non-audio, empty, missing and directory paths give libsndfile's reason",
        arguments: [
            "text", "empty", "missing", "directory", "header only, wrong magic",
        ])
    func notAudio(kind: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var path = directory.path("input.wav")
        switch kind {
        case "text":
            try Data("hello, this is not audio\n".utf8).write(to: URL(fileURLWithPath: path))
        case "empty": try Data().write(to: URL(fileURLWithPath: path))
        case "missing": break
        case "directory": path = directory.url.path
        default:
            var bytes = try Self.validWAV(frames: 100, in: directory)
            bytes[0] = UInt8(ascii: "X")
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        let error = #expect(throws: AudioFileError.self) { try WAVReader.read(path: path) }
        #expect(error?.path == path)
        #expect(error?.reason.hasPrefix("cannot read: ") == true)
        #expect((error?.reason.count ?? 0) > "cannot read: ".count, "an empty reason")
    }

    @Test("a truncated file gives the frames that are there")
    func truncated() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let bytes = try Self.validWAV(frames: 1000, in: directory)
        let path = directory.path("cut.wav")
        // Header (44 bytes) plus 300 frames and half of the next.
        try bytes.prefix(44 + 601).write(to: URL(fileURLWithPath: path))
        let (info, samples) = try WAVReader.read(path: path)
        #expect(info.frames == 300)
        #expect(samples == (0..<300).map { Int16(truncatingIfNeeded: $0 &* 977) })
    }

    @Test("corrupted headers never crash the reader (seeded)")
    func corruptedHeaders() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let valid = try Self.validWAV(frames: 200, in: directory)
        let path = directory.path("fuzz.wav")
        let seed: UInt64 = 0x5A07_1A0D
        var random = SplitMix64(seed: seed)
        var (read, refused) = (0, 0)
        for round in 0..<300 {
            var bytes = valid
            // 1 to 4 random bytes in the header, sometimes a random cut.
            for _ in 0...(random.next() % 4) {
                bytes[Int(random.next() % 64)] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.next() % 4 == 0 { bytes = bytes.prefix(Int(random.next() % 120)) }
            try bytes.write(to: URL(fileURLWithPath: path))
            do {
                let (info, samples) = try WAVReader.read(path: path)
                #expect(
                    samples.count == info.frames * info.channels,
                    "seed \(seed) round \(round)")
                read += 1
            } catch {
                #expect(!error.reason.isEmpty, "seed \(seed) round \(round)")
                refused += 1
            }
        }
        #expect(read + refused == 300)
    }
}

/// SplitMix64: a small seedable generator, so a failing fuzz round can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
