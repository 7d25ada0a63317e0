import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import Synchronization
import SautiTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// The Record verb on real legs over loopback: a peer leg (or ffmpeg, or `sauti call`)
// sends audio, the leg under test records it; files are checked with WAVReader and
// with sox's `soxi`. Ports 35000-35999.

/// Helpers for the recorder tests.
enum RecorderTesting {
    /// An engine on its own 40 ports of 35000-35899 (`slot` 0 ... 22).
    static func engine(slot: Int, workers: Int = 1) throws -> MediaEngine {
        var c = MediaEngineConfiguration(workers: workers)
        c.firstPort = UInt16(35_000 + slot * 40)
        c.lastPort = c.firstPort + 39
        return try MediaEngine(configuration: c)
    }

    /// `b` (the leg recording, with its event log) and `a`, a peer sending to it; `b`
    /// latches onto `a` and sends back to it.
    static func pair(_ engine: MediaEngine, codec: AudioCodec = .pcmu) async throws -> (
        a: MediaLeg, b: MediaLeg, log: EventLog
    ) {
        var cb = LegConfiguration(codec: codec)
        cb.mediaTimeoutMilliseconds = 0
        let b = try engine.openLeg(cb)
        let log = EventLog(b)
        var ca = LegConfiguration(codec: codec, remote: b.local)
        ca.mediaTimeoutMilliseconds = 0
        let a = try engine.openLeg(ca)
        let latched = await until(seconds: 2) { log.all.contains { if case .latched = $0 { true } else { false } } }
        #expect(latched, "b latched onto a")
        return (a, b, log)
    }

    /// Polls `condition` every 10 ms for up to `seconds`; whether it became true.
    static func until(seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// The recording outcomes in `log`, in order.
    static func outcomes(_ log: EventLog) -> [RecordingOutcome] {
        log.all.compactMap { if case .recordingFinished(let o) = $0 { o } else { nil } }
    }

    /// Waits up to `seconds` for the `index`th outcome in `log`.
    static func outcome(_ log: EventLog, index: Int = 0, seconds: Double) async -> RecordingOutcome? {
        _ = await until(seconds: seconds) { outcomes(log).count > index }
        let all = outcomes(log)
        return all.count > index ? all[index] : nil
    }

    /// `soxi FLAG path`'s answer, trimmed ("" if soxi failed).
    static func soxi(_ flag: String, _ path: String) async -> String {
        guard let run = try? await runTool("/usr/bin/soxi", [flag, path], errors: .separate), run.status == 0 else {
            return ""
        }
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether sox's `soxi` is installed (scripts/setup.sh installs it; CI has it).
    static let hasSoxi = FileManager.default.isExecutableFile(atPath: "/usr/bin/soxi")

    /// Runs a command to completion; its status (-1 if it could not start).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) async -> Int32 {
        (try? await runTool(executable, arguments))?.status ?? -1
    }

    /// Runs `body` with a tmpfs of `size` (mount's `size=` option) mounted at `mountPoint`,
    /// and unmounts it after, also when `body` throws.
    static func withTmpfs(size: String, at mountPoint: String, _ body: () async throws -> Void) async throws {
        try #require(
            await run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mountPoint]) == 0,
            "mount a \(size) tmpfs")
        do {
            try await body()
        } catch {
            await run("/bin/umount", [mountPoint])
            throw error
        }
        await run("/bin/umount", [mountPoint])
    }

    /// Channel `c` of interleaved `samples` of `channels`.
    static func channel(_ samples: [Int16], _ c: Int, of channels: Int) -> [Int16] {
        stride(from: c, to: samples.count, by: channels).map { samples[$0] }
    }

    /// The share of 20 ms frames of `samples` (8 kHz) whose power is mostly at `frequency`.
    static func toneFrames(_ samples: [Int16], frequency: Double) -> Double {
        let frames = stride(from: 0, to: samples.count - 159, by: 160).map {
            toneShare(samples[$0..<($0 + 160)], frequency: frequency)
        }
        return frames.isEmpty ? 0 : Double(frames.filter { $0 > 0.9 }.count) / Double(frames.count)
    }

    /// Whether a 20 ms frame is not silence for the recorder: RMS at −45 dBFS or above.
    /// (The jitter buffer may shift the audio by part of a frame, so a trimmed file's first
    /// and last frames can be partly silence.)
    static func isSound(_ frame: ArraySlice<Int16>) -> Bool {
        let energy = frame.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (energy / Double(max(1, frame.count))).squareRoot() >= 32768 * pow(10, -45.0 / 20)
    }

    /// `seconds` of a tone at `frequency` and −10 dBFS, 8 kHz.
    static func tone(seconds: Double, frequency: Double) -> [Int16] {
        var g = ToneGenerator(ToneSpec(frequenciesHz: [frequency], levelDBFS: -10), sampleRate: 8000)
        var out = [Int16](repeating: 0, count: Int(seconds * 8000))
        out.withUnsafeMutableBufferPointer { g.fill($0) }
        return out
    }

    /// The WAV header's size for what WAVWriter writes (libsndfile): 44 bytes for 16-bit
    /// PCM, 58 for G.711 (an 18-byte fmt chunk and a fact chunk).
    static func headerBytes(_ encoding: WAVEncoding) -> Int { encoding == .pcm16 ? 44 : 58 }
}

@Suite(.serialized) struct RecorderTests {
    typealias T = RecorderTesting

    static let formats: [(RecordingChannels, WAVEncoding)] = [
        (.caller, .pcm16), (.both, .pcm16), (.caller, .ulaw), (.both, .alaw),
    ]

    @Test(
        "a recording of a peer's tone, mono or stereo, PCM or G.711, ends at its max length with a valid file",
        .enabled(if: T.hasSoxi), .timeLimit(.minutes(1)), arguments: formats)
    func formatsAndMaxLength(channels: RecordingChannels, encoding: WAVEncoding) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try T.engine(slot: Self.formats.firstIndex { $0 == (channels, encoding) }!)
        defer { engine.shutdown() }
        let (a, b, log) = try await T.pair(engine, codec: encoding == .alaw ? .pcma : .pcmu)
        a.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -10)))
        b.play(.tone(ToneSpec(frequenciesHz: [400], levelDBFS: -10)))
        try await Task.sleep(for: .milliseconds(300))  // the tone reaches b's jitter buffer
        let path = dir + "/rec.wav"
        let started = ContinuousClock.now
        b.record(
            RecordingSpec(
                path: path, channels: channels, encoding: encoding, maxLengthMilliseconds: 2000, trimSilence: false))
        let o = try #require(await T.outcome(log, seconds: 5))
        let elapsed = ContinuousClock.now - started
        let n = channels == .both ? 2 : 1
        #expect(o.reason == .maxLength)
        #expect(o.frames == 16_000, "2 s at 8 kHz: \(o.frames) frames")
        #expect(o.sampleRate == 8000 && o.channels == n && o.droppedMilliseconds == 0)
        // The frame count above is the exact check; the report waits for the file writer (a
        // thread at nice +5, which a loaded machine runs late), so the bound is loose.
        #expect(elapsed >= .milliseconds(1950) && elapsed < .milliseconds(4000), "ended after 2 s: \(elapsed)")
        #expect(o.bytes == T.headerBytes(encoding) + o.frames * n * (encoding == .pcm16 ? 2 : 1), "\(o.bytes) bytes")

        let (info, samples) = try WAVReader.read(path: path)
        #expect(info.sampleRate == 8000 && info.channels == n && info.frames == o.frames)
        let duration = await T.soxi("-D", path)
        #expect(abs((Double(duration) ?? 0) - 2.0) <= 0.04, "soxi -D: \(duration)")
        #expect(await T.soxi("-c", path) == "\(n)")
        #expect(await T.soxi("-r", path) == "8000")
        let expectedEncoding = ["pcm16": "Signed Integer PCM", "ulaw": "u-law", "alaw": "A-law"][encoding.rawValue]!
        #expect(await T.soxi("-e", path) == expectedEncoding)
        let caller = T.channel(samples, 0, of: n)
        #expect(
            T.toneFrames(caller, frequency: 1000) > 0.75, "the caller's 1 kHz tone, left (jitter-buffer seams aside)")
        if channels == .both {
            let engineSide = T.channel(samples, 1, of: 2)
            #expect(T.toneFrames(engineSide, frequency: 400) > 0.95, "the leg's own 400 Hz tone, right")
            #expect(T.toneFrames(caller, frequency: 400) == 0 && T.toneFrames(engineSide, frequency: 1000) == 0)
        }
        a.close()
        b.close()
    }

    @Test("caller silence ends the recording; leading and trailing silence are trimmed", .timeLimit(.minutes(1)))
    func silenceTimeoutAndTrim() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try T.engine(slot: 4)
        defer { engine.shutdown() }
        let (a, b, log) = try await T.pair(engine)
        let path = dir + "/rec.wav"
        let started = ContinuousClock.now
        // 400 ms of silence, then a 1 s tone, then silence until the timeout: one source, so
        // the timing is the worker's (a sleep in the test's task pool can come later than
        // the 700 ms timeout beside the whole suite, and the recording then ends empty).
        a.setSource(PCMSource(samples: [Int16](repeating: 0, count: 3200) + T.tone(seconds: 1, frequency: 1000)))
        b.record(RecordingSpec(path: path, silenceTimeoutMilliseconds: 700))
        let o = try #require(await T.outcome(log, seconds: 5))
        let elapsed = ContinuousClock.now - started
        #expect(o.reason == .silence)
        // The upper bound is loose: this test's own sleep can come late beside the suite (the
        // recording's length, checked below, is the precise measure).
        #expect(elapsed >= .milliseconds(2000) && elapsed < .milliseconds(8000), "0.4 + 1 + 0.7 s: \(elapsed)")
        // The tone alone is left; a jitter-buffer seam may add or remove a frame or two.
        #expect(abs(o.frames - 8000) <= 480, "about 1 s of tone: \(o.frames) frames")
        let (info, samples) = try WAVReader.read(path: path)
        #expect(info.frames == o.frames && o.bytes == 44 + 2 * o.frames)
        #expect(T.toneFrames(samples, frequency: 1000) > 0.75)
        #expect(T.isSound(samples.prefix(160)), "starts with sound (the tone, maybe part of a frame)")
        #expect(T.isSound(samples.suffix(160)), "ends with sound (the tone, maybe part of a frame)")
        if T.hasSoxi { #expect(abs((Double(await T.soxi("-D", path)) ?? 0) - Double(o.frames) / 8000) < 0.001) }
        a.close()
        b.close()
    }

    @Test(
        "trimming keeps the audio between silences; without it the silences stay", .timeLimit(.minutes(1)),
        arguments: [true, false])
    func trim(trimSilence: Bool) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try T.engine(slot: trimSilence ? 5 : 6)
        defer { engine.shutdown() }
        let (a, b, log) = try await T.pair(engine)
        let path = dir + "/rec.wav"
        // The peer sends 0.6 s of silence, a 1 s tone, 0.6 s of silence; the recording stops after.
        let burst =
            [Int16](repeating: 0, count: 4800) + T.tone(seconds: 1, frequency: 1000)
            + [Int16](repeating: 0, count: 4800)
        let started = ContinuousClock.now
        b.record(RecordingSpec(path: path, trimSilence: trimSilence))
        a.setSource(PCMSource(samples: burst))
        try await Task.sleep(for: .milliseconds(2600))
        b.stopRecording()
        // A busy machine may oversleep: the untrimmed recording is as long as it ran.
        let ran = ContinuousClock.now - started
        let ranFrames = Int(Double(ran.components.seconds) * 8000 + Double(ran.components.attoseconds) * 8000 / 1e18)
        let o = try #require(await T.outcome(log, seconds: 3))
        #expect(o.reason == .stopped)
        let (info, samples) = try WAVReader.read(path: path)
        #expect(info.frames == o.frames && o.bytes == 44 + 2 * o.frames)
        if trimSilence {
            #expect(abs(o.frames - 8000) <= 480, "the 1 s tone alone: \(o.frames) frames")
            #expect(T.isSound(samples.prefix(160)), "starts with sound (the tone, maybe part of a frame)")
            #expect(T.isSound(samples.suffix(160)), "ends with sound (the tone, maybe part of a frame)")
            if T.hasSoxi { #expect(await T.soxi("-s", path) == "\(o.frames)", "the trimmed header agrees") }
        } else {
            #expect(abs(o.frames - ranFrames) <= 800, "everything from start to stop (\(ran)): \(o.frames) frames")
            #expect(samples.prefix(2400).allSatisfy { $0 == 0 } && samples.suffix(2400).allSatisfy { $0 == 0 })
        }
        // The 1 s tone among the silences (a longer run than planned has more silence).
        #expect(T.toneFrames(samples, frequency: 1000) > (trimSilence ? 0.75 : 0.75 * 8000 / Double(max(o.frames, 8000))))
        a.close()
        b.close()
    }

    @Test("a finish key ends the recording; other digits do not", .timeLimit(.minutes(1)))
    func finishKey() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try T.engine(slot: 7)
        defer { engine.shutdown() }
        let (a, b, log) = try await T.pair(engine)
        a.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -10)))
        let path = dir + "/rec.wav"
        let started = ContinuousClock.now
        b.record(RecordingSpec(path: path, finishOnKeys: ["#", "*"], trimSilence: false))
        try await Task.sleep(for: .milliseconds(800))
        a.sendDigits("1", durationMilliseconds: 100)
        try await Task.sleep(for: .milliseconds(700))
        #expect(T.outcomes(log).isEmpty, "a digit that is not a finish key goes by")
        let pressed = ContinuousClock.now - started
        a.sendDigits("#", durationMilliseconds: 100)
        let o = try #require(await T.outcome(log, seconds: 3))
        let elapsed = ContinuousClock.now - started
        #expect(o.reason == .finishKey("#"))
        #expect(pressed >= .milliseconds(1500) && elapsed < pressed + .seconds(2), "# at \(pressed), ended at \(elapsed)")
        // The recording runs until the # (the test's sleeps may come late beside the suite, so
        // the length is measured against when # was sent): up to a few frames of the key's
        // event on the wire and the jitter buffer's delay either side.
        let ms = Int(pressed.components.seconds) * 1000 + Int(pressed.components.attoseconds / 1_000_000_000_000_000)
        #expect(o.frames >= 8 * (ms - 300) && o.frames <= 8 * (ms + 500), "\(o.frames) frames for # at \(ms) ms")
        #expect(log.digits == "1#")
        let (info, _) = try WAVReader.read(path: path)
        #expect(info.frames == o.frames)
        a.close()
        b.close()
    }

    @Test(
        "closing the leg (or shutting the engine down) ends the recording as a hangup, reported before .closed",
        .timeLimit(.minutes(1)), arguments: [false, true])
    func hangup(shutdown: Bool) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try T.engine(slot: shutdown ? 9 : 8)
        defer { engine.shutdown() }
        let (a, b, log) = try await T.pair(engine)
        a.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -10)))
        let path = dir + "/rec.wav"
        let started = ContinuousClock.now
        b.record(RecordingSpec(path: path, channels: .both, encoding: .ulaw, trimSilence: false))
        try await Task.sleep(for: .seconds(1))
        if shutdown { engine.shutdown() } else { b.close() }
        // A busy machine may oversleep: the recording is as long as it ran.
        let ran = ContinuousClock.now - started
        let ranFrames = Int(Double(ran.components.seconds) * 8000 + Double(ran.components.attoseconds) * 8000 / 1e18)
        // Polled: `EventLog.finished` waits on the events' task, past its timeout, if they never end.
        #expect(await T.until(seconds: 5) { log.all.contains(.closed) }, "the events end")
        let events = log.all
        let o = try #require(T.outcomes(log).first)
        #expect(o.reason == .hangup)
        #expect(events.last == .closed, "the events end with .closed")
        #expect(events.dropLast().last == .recordingFinished(o), "the outcome comes just before .closed")
        #expect(abs(o.frames - ranFrames) <= 800, "about the \(ran) it ran: \(o.frames) frames")
        let (info, samples) = try WAVReader.read(path: path)
        #expect(info.frames == o.frames && info.channels == 2 && o.bytes == 58 + 2 * o.frames)
        #expect(T.toneFrames(T.channel(samples, 0, of: 2), frequency: 1000) > 0.8)
        if T.hasSoxi { #expect(await T.soxi("-s", path) == "\(o.frames)") }
        a.close()
    }

    @Test(
        "a beep goes first, is not recorded, and the leg's own source resumes after it without a .sourceFinished",
        .timeLimit(.minutes(1)))
    func beep() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try T.engine(slot: 10)
        defer { engine.shutdown() }
        let (a, b, log) = try await T.pair(engine)
        let heard = CollectingSink()
        a.addSink(heard)
        b.play(.tone(ToneSpec(frequenciesHz: [400], levelDBFS: -10)))
        try await Task.sleep(for: .milliseconds(400))
        let path = dir + "/rec.wav"
        let started = ContinuousClock.now
        b.record(
            RecordingSpec(
                path: path, channels: .both, maxLengthMilliseconds: 1000, beepMilliseconds: 500, trimSilence: false))
        let o = try #require(await T.outcome(log, seconds: 4))
        let elapsed = ContinuousClock.now - started
        try await Task.sleep(for: .milliseconds(300))
        #expect(o.reason == .maxLength && o.frames == 8000, "1 s recorded after the beep: \(o.frames)")
        #expect(elapsed >= .milliseconds(1480) && elapsed < .milliseconds(3400), "0.5 s beep + 1 s: \(elapsed)")
        // What the peer heard: the 400 Hz tone, 25 frames of 1 kHz beep, the 400 Hz tone again.
        let got = heard.samples
        let frames = stride(from: 0, to: got.count - 159, by: 160).map { i -> Int in
            let slice = got[i..<(i + 160)]
            return toneShare(slice, frequency: 1000) > 0.9 ? 1 : toneShare(slice, frequency: 400) > 0.9 ? 4 : 0
        }
        let beepFrames = frames.filter { $0 == 1 }.count
        #expect(beepFrames >= 23 && beepFrames <= 26, "a 500 ms beep: \(beepFrames) frames")
        let firstBeep = frames.firstIndex(of: 1) ?? 0
        let lastBeep = frames.lastIndex(of: 1) ?? 0
        #expect(frames[..<firstBeep].suffix(10).allSatisfy { $0 == 4 }, "the tone before")
        #expect(frames[(lastBeep + 1)...].prefix(40).filter { $0 == 4 }.count >= 38, "the tone after")
        #expect(!log.all.contains(.sourceFinished), "the beep is not the leg's source")
        // The file: the leg's side (right) is its tone, from the first sample: the beep is not in it.
        let (_, samples) = try WAVReader.read(path: path)
        let right = T.channel(samples, 1, of: 2)
        #expect(T.toneFrames(right, frequency: 400) > 0.95 && T.toneFrames(right, frequency: 1000) == 0)
        a.close()
        b.close()
    }

    @Test(
        "an unwritable path ends the recording at once with the system's reason; the leg goes on",
        .timeLimit(.minutes(1)))
    func unwritablePath() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try T.engine(slot: 11)
        defer { engine.shutdown() }
        let (a, b, log) = try await T.pair(engine)
        a.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -10)))
        let missing = dir + "/no-such-folder/rec.wav"
        let started = ContinuousClock.now
        b.record(RecordingSpec(path: missing))
        let o = try #require(await T.outcome(log, seconds: 2))
        #expect(ContinuousClock.now - started < .milliseconds(1000), "at once (the file writer's next pass)")
        guard case .error(let why) = o.reason else {
            Issue.record("expected an error, got \(o.reason)")
            return
        }
        #expect(why.contains("No such file or directory"), "\(why)")
        #expect(o.frames == 0 && o.bytes == 0 && o.path == missing)
        b.record(RecordingSpec(path: dir))  // a directory
        let o2 = try #require(await T.outcome(log, index: 1, seconds: 2))
        #expect(o2.reason == .error("cannot create the file: Is a directory (errno 21)"), "\(o2.reason)")
        // The leg is unaffected: it still receives, and records to a good path.
        let before = b.statistics.packetsReceived
        let good = dir + "/good.wav"
        b.record(RecordingSpec(path: good, maxLengthMilliseconds: 400, trimSilence: false))
        let o3 = try #require(await T.outcome(log, index: 2, seconds: 3))
        #expect(o3.reason == .maxLength && o3.frames == 3200)
        #expect(b.statistics.packetsReceived > before + 15)
        #expect(!log.all.contains(.closed))
        a.close()
        b.close()
    }

    @Test(
        "a full disk ends the recording with an error and leaves a valid file of what was written",
        .enabled(if: getuid() == 0, "mounting a small tmpfs needs root (CI runs as root)"), .timeLimit(.minutes(1)))
    func fullDisk() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mountPoint = dir + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try await T.withTmpfs(size: "64k", at: mountPoint) {
            let engine = try T.engine(slot: 12)
            defer { engine.shutdown() }
            let (a, b, log) = try await T.pair(engine)
            a.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -10)))
            try await Task.sleep(for: .milliseconds(200))
            let path = mountPoint + "/rec.wav"
            b.record(RecordingSpec(path: path, trimSilence: false))
            // 16 kB a second: 64 KiB last about 4 s.
            let o = try #require(await T.outcome(log, seconds: 10))
            guard case .error(let why) = o.reason else {
                Issue.record("expected an error, got \(o.reason)")
                return
            }
            #expect(why.contains("No space left on device"), "\(why)")
            let (info, samples) = try WAVReader.read(path: path)
            print("recorder full disk: \(why); \(o.frames) frames reported, \(info.frames) read, \(o.bytes) bytes")
            #expect(info.frames >= 3 * 8000 && info.frames <= o.frames, "what was written: \(info.frames) frames")
            #expect(o.bytes > 60_000 && o.bytes <= 65_536)
            #expect(T.toneFrames(samples, frequency: 1000) > 0.8)
            if T.hasSoxi {
                let seconds = Double(await T.soxi("-D", path)) ?? 0
                #expect(abs(seconds - Double(info.frames) / 8000) < 0.01, "soxi reads it: \(seconds) s")
            }
            // The leg goes on.
            let before = b.statistics.packetsReceived
            try await Task.sleep(for: .milliseconds(300))
            #expect(b.statistics.packetsReceived > before + 10 && !log.all.contains(.closed))
            a.close()
            b.close()
        }
    }

    @Test(
        "sauti call --record killed with SIGKILL mid-call leaves a playable file missing at most the last second",
        .enabled(if: T.hasSoxi), .timeLimit(.minutes(1)))
    func killNine() async throws {
        let sauti = InteropPaths.sauti
        try #require(FileManager.default.isExecutableFile(atPath: sauti), "build sauti first (swift build): \(sauti)")
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try T.engine(slot: 13)
        defer { engine.shutdown() }
        var configuration = LegConfiguration(codec: .pcmu)
        configuration.mediaTimeoutMilliseconds = 0
        let b = try engine.openLeg(configuration)
        b.play(.tone(ToneSpec(frequenciesHz: [1000], levelDBFS: -10)))
        let out = dir + "/out.wav"
        let call = try BoundedProcess(
            sauti, ["call", "127.0.0.1:\(b.local.port)", "--record", out, "--duration", "10", "--local-port", "35900"],
            log: dir + "/call.log")
        try await Task.sleep(for: .milliseconds(2500))
        #expect(call.process.isRunning, "sauti call still runs: \(call.log)")
        kill(call.process.processIdentifier, SIGKILL)
        let (status, _) = await call.wait(seconds: 5)
        #expect(status == SIGKILL, "killed by SIGKILL")
        let (info, samples) = try WAVReader.read(path: out)
        let soxiSeconds = await T.soxi("-D", out)
        print(
            "recorder kill -9: \(info.frames) frames (\(Double(info.frames) / 8000) s) after 2.5 s; soxi \(soxiSeconds) s"
        )
        #expect(info.sampleRate == 8000 && info.channels == 1)
        #expect(info.frames >= 12_000, "at least 1.5 s of the 2.5 s: \(info.frames) frames")
        #expect(await T.soxi("-s", out) == "\(info.frames)", "the header agrees with the data")
        #expect(T.toneFrames(Array(samples.suffix(8000)), frequency: 1000) > 0.8, "the leg's tone")
        b.close()
    }

    @Test(
        "a recording of a leg that ffmpeg feeds from a WAV matches the source",
        .enabled(if: InteropPaths.ffmpeg != nil, Comment(rawValue: ffmpegMissing)), .timeLimit(.minutes(1)),
        arguments: [(AudioCodec.pcmu, WAVEncoding.pcm16), (.pcma, .alaw)])
    func ffmpegSource(codec: AudioCodec, encoding: WAVEncoding) async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wav = dir + "/source.wav"
        try writeWAV(InteropTests.source, to: wav)
        let engine = try T.engine(slot: codec == .pcmu ? 14 : 15)
        defer { engine.shutdown() }
        var configuration = LegConfiguration(codec: codec)
        configuration.mediaTimeoutMilliseconds = 0
        let leg = try engine.openLeg(configuration)
        let log = EventLog(leg)
        let path = dir + "/rec.wav"
        leg.record(RecordingSpec(path: path, encoding: encoding))
        let ffmpeg = try BoundedProcess(
            InteropPaths.ffmpeg!,
            [
                "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", wav, "-ar", "8000", "-ac", "1",
                "-c:a", codec == .pcmu ? "pcm_mulaw" : "pcm_alaw", "-payload_type", codec == .pcmu ? "0" : "8",
                "-f", "rtp", "rtp://127.0.0.1:\(leg.local.port)",
            ], log: dir + "/ffmpeg.log")
        let (status, killed) = await ffmpeg.wait(seconds: 20)
        #expect(status == 0 && !killed, "ffmpeg: \(ffmpeg.log)")
        try await Task.sleep(for: .milliseconds(600))  // the jitter buffer plays out the rest
        leg.stopRecording()
        let o = try #require(await T.outcome(log, seconds: 3))
        #expect(o.reason == .stopped)
        let (info, recorded) = try WAVReader.read(path: path)
        #expect(info.frames == o.frames)
        if T.hasSoxi {
            #expect(await T.soxi("-s", path) == "\(o.frames)", "the trimmed header (and fact chunk) agree")
        }
        let reference = Similarity.g711RoundTrip(InteropTests.source, codec == .pcmu ? .ulaw : .alaw)
        let (lag, ncc) = Similarity.best(reference, recorded)
        let (segmented, lags) = Similarity.segmental(reference, recorded, lag: lag)
        print(
            "recorder ffmpeg -> leg -> \(encoding) WAV: NCC \(String(format: "%.5f", ncc)) at lag \(lag), "
                + "\(String(format: "%.5f", segmented)) by segment; \(o.frames) frames (source \(reference.count))")
        #expect(segmented >= 0.95, "NCC \(segmented) by segment (lags \(lags)); \(ncc) at one lag \(lag)")
        #expect(abs(o.frames - reference.count) <= 800, "trimmed to about the source's length")
        leg.close()
    }
}
