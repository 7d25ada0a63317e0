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

/// The test HTTP server (play_url_server.py, Python's http.server): serves a folder
/// plainly, chunked, slowly, stalled or cut short, and fails on request. Ends by itself.
struct PlayURLServer: Sendable {
    let server: TestHTTPServer
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("play_url_server.py").path
    static var python: String? { TestHTTPServer.python }

    /// Starts the server on `folder` and waits for its port.
    init(folder: String) async throws {
        server = try await TestHTTPServer(script: Self.script, arguments: [folder, "120"], log: folder + "/server.log")
    }

    var port: UInt16 { server.port }
    var process: BoundedProcess { server.process }
    func url(_ path: String) -> String { server.url(path) }

    /// The requests the server got, as (method, path, If-None-Match).
    func requests() async throws -> [(method: String, path: String, ifNoneMatch: String?)] {
        let text = try await fetchText(url("/log"))
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let method = object["method"] as? String, let path = object["path"] as? String
            else { return nil }
            return (method, path, object["if_none_match"] as? String)
        }.filter { $0.path != "/log" }
    }

    func stop() { server.stop() }
}

/// Legs playing http URLs (`MediaLeg.play(url:loop:)`) served by Python's http.server:
/// formats heard by a peer leg, chunked and slow delivery, the cache, and every failure.
/// Ports 38000-38999.
@Suite(.serialized, .enabled(if: PlayURLServer.python != nil, "python3 is not installed"))
struct PlayURLTests {
    static func engine(first: UInt16, cache: String, configure: (inout PlayURLConfiguration) -> Void = { _ in })
        throws -> MediaEngine
    {
        var c = MediaEngineConfiguration(workers: 1)
        c.firstPort = first
        c.lastPort = first + 19
        c.playURL.cacheDirectory = cache
        configure(&c.playURL)
        return try MediaEngine(configuration: c)
    }

    /// Plays `url` on A of a pair, waits for the end, and returns the events, what A sent
    /// (recorded as the right channel of a `.both` recording: exact, whatever the network
    /// and a busy machine do to the packets) and the playback's counters.
    static func play(_ url: String, engine: MediaEngine, seconds: Double = 10, loop: Int = 1) async throws -> (
        end: LegEvent?, events: [LegEvent], sent: [Int16], playback: Playback
    ) {
        let pair = try LegPair(engine: engine, fixedJitterMilliseconds: 100)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(100))
        let recording = InteropPaths.temporaryDirectory() + "/sent.wav"
        defer { try? FileManager.default.removeItem(atPath: (recording as NSString).deletingLastPathComponent) }
        pair.a.record(RecordingSpec(path: recording, channels: .both, trimSilence: false))
        let playback = pair.a.play(url: url, loop: loop)
        let end = await waitForEvent(pair.eventsA, seconds: seconds, isPlaybackEnd)
        try await Task.sleep(for: .milliseconds(100))
        pair.a.stopRecording()
        _ = await waitForEvent(pair.eventsA, seconds: 5) {
            if case .recordingFinished = $0 { return true } else { return false }
        }
        let stereo = try WAVReader.read(path: recording).samples
        let sent = stride(from: 1, to: stereo.count, by: 2).map { stereo[$0] }
        return (end, playbackEvents(pair.eventsA), sent, playback)
    }

    static let seconds = 3.0

    @Test(
        "a URL of each format is downloaded, decoded and played: what the leg sends is the file (NCC ≥ 0.95)",
        .enabled(if: PlayerFiles.hasSpeech, Comment(rawValue: PlayerFiles.corpusMissing)), .timeLimit(.minutes(1)),
        arguments: [0, 2, 3, 4])
    func formats(index: Int) async throws {
        let format = PlayerFormat.all[index]
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try await PlayerFiles.make(format, seconds: Self.seconds, in: dir)
        let reference = try await PlayerFiles.reference8k(sourceRate: format.sourceRate, seconds: Self.seconds, in: dir)
        let server = try await PlayURLServer(folder: dir)
        defer { server.stop() }
        let engine = try Self.engine(first: UInt16(38_000 + index * 20), cache: dir + "/cache")
        defer { engine.shutdown() }
        let url = server.url("/file/" + (file as NSString).lastPathComponent)
        let (end, events, sent, playback) = try await Self.play(url, engine: engine)
        #expect(end == .playbackFinished(path: url, loopsPlayed: 1, stopped: false), "\(events)")
        #expect(events.last == .sourceFinished)
        #expect(abs(playback.samplesPlayed - Int(Self.seconds * 8000)) <= 400, "\(playback.samplesPlayed) samples")
        let (lag, ncc) = Similarity.best(reference, sent)
        let (segmented, lags) = Similarity.segmental(reference, sent, lag: lag)
        print("play url \(format.name): NCC \(String(format: "%.4f", segmented)) by segment (\(ncc) at lag \(lag))")
        #expect(Set(lags).count == 1, "no gap or jump in what A sent: lags \(lags)")
        #expect(segmented >= 0.95, "\(format.name): NCC \(segmented)")
        #expect(try await server.requests().map(\.method) == ["GET"])
    }

    @Test(
        "chunked transfer and slow delivery stream: playback starts long before the download ends, and matches",
        .enabled(if: PlayerFiles.hasSpeech, Comment(rawValue: PlayerFiles.corpusMissing)), .timeLimit(.minutes(1)))
    func chunkedAndSlow() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 8 kHz 16-bit mono: 16 000 bytes a second of audio.
        let file = dir + "/prompt.wav"
        try await PlayerFiles.run(
            "sox", ["-D", PlayerFiles.speech(rate: 16000), "-r", "8000", file, "trim", "0", String(Self.seconds)],
            in: dir)
        let reference = try WAVReader.read(path: file).samples
        let server = try await PlayURLServer(folder: dir)
        defer { server.stop() }
        let engine = try Self.engine(first: 38_100, cache: dir + "/cache")
        defer { engine.shutdown() }

        for path in ["/chunked/prompt.wav", "/slow/prompt.wav?rate=24000"] {
            let url = server.url(path)
            let pair = try LegPair(engine: engine, fixedJitterMilliseconds: 100)
            try await Task.sleep(for: .milliseconds(100))
            let recording = dir + "/sent.wav"
            pair.a.record(RecordingSpec(path: recording, channels: .both, trimSilence: false))
            let started = ContinuousClock.now
            let playback = pair.a.play(url: url)
            var firstAudio: Duration?
            while ContinuousClock.now - started < .seconds(10) {
                if firstAudio == nil && playback.samplesPlayed > 0 { firstAudio = ContinuousClock.now - started }
                if pair.eventsA.all.contains(where: isPlaybackEnd) { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(100))
            pair.a.stopRecording()
            _ = await waitForEvent(pair.eventsA, seconds: 5) {
                if case .recordingFinished = $0 { return true } else { return false }
            }
            pair.close()
            let events = playbackEvents(pair.eventsA)
            #expect(events == [.playbackFinished(path: url, loopsPlayed: 1, stopped: false), .sourceFinished])
            let stereo = try WAVReader.read(path: recording).samples
            let sent = stride(from: 1, to: stereo.count, by: 2).map { stereo[$0] }
            let (lag, ncc) = Similarity.best(reference, sent)
            let (segmented, lags) = Similarity.segmental(reference, sent, lag: lag)
            let first = try #require(firstAudio)
            print(
                "play url \(path): first audio after \(first), NCC \(String(format: "%.4f", segmented)) (\(ncc)), "
                    + "underrun frames \(playback.underrunFrames)")
            #expect(segmented >= 0.95, "\(path): NCC \(segmented)")
            #expect(Set(lags).count == 1, "no gap or jump in what A sent: lags \(lags)")
            if path.hasPrefix("/slow") {
                // 48 000 bytes at 24 000 a second: the download takes 2 s; the audio starts
                // after the first few kilobytes, and 1.5× real time never runs dry.
                #expect(first < .milliseconds(700), "playback started \(first) after play(url:)")
                #expect(playback.underrunFrames <= 2)
            }
        }
        // no-store: nothing kept.
        #expect(engine.playCacheStatistics.entries == 0)
        #expect(try await server.requests().map(\.method) == ["GET", "GET"])
    }

    @Test("the cache: max-age plays from disk, no-cache revalidates with ETag (304), it survives a restart and stays under its cap", .timeLimit(.minutes(1)))
    func cache() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, seconds) in [("a.wav", 0.6), ("b.wav", 0.6), ("c.wav", 0.6)] {
            _ = try await PlayerFiles.tone(frequency: 1000, seconds: seconds, rate: 8000, in: dir, name: name)
        }
        let server = try await PlayURLServer(folder: dir)
        defer { server.stop() }
        let cacheDir = dir + "/cache"
        do {
            // About 9.6 kB a file: a cap of 25 kB holds two.
            let engine = try Self.engine(first: 38_200, cache: cacheDir) { $0.maximumCacheBytes = 25_000 }
            defer { engine.shutdown() }
            let fresh = server.url("/file/a.wav?cc=max-age%3D600")
            let revalidated = server.url("/file/b.wav?cc=no-cache")
            for url in [fresh, fresh, revalidated, revalidated] {
                let (end, events, _, playback) = try await Self.play(url, engine: engine, seconds: 5)
                #expect(end == .playbackFinished(path: url, loopsPlayed: 1, stopped: false), "\(url): \(events)")
                #expect(abs(playback.samplesPlayed - 4800) <= 160, "\(url): \(playback.samplesPlayed) samples")
            }
            let requests = try await server.requests()
            print("play url cache: requests \(requests)")
            #expect(requests.map(\.path) == ["/file/a.wav?cc=max-age%3D600", "/file/b.wav?cc=no-cache", "/file/b.wav?cc=no-cache"])
            #expect(requests.map(\.method).allSatisfy { $0 == "GET" })
            #expect(requests[1].ifNoneMatch == nil && requests[2].ifNoneMatch != nil, "the second b.wav is conditional")
            var s = engine.playCacheStatistics
            print("play url cache: \(s)")
            #expect(s.hits == 1 && s.misses == 2 && s.revalidated == 1 && s.entries == 2, "\(s)")
            // A third file passes the cap: the least recently used (a.wav) goes.
            let third = server.url("/file/c.wav?cc=max-age%3D600")
            _ = try await Self.play(third, engine: engine, seconds: 5)
            s = engine.playCacheStatistics
            #expect(s.evictions == 1 && s.entries == 2 && s.bytes <= 25_000, "\(s)")
        }
        // A new engine on the same folder: c.wav is fresh on disk, no request.
        let before = try await server.requests().count
        let engine = try Self.engine(first: 38_220, cache: cacheDir)
        defer { engine.shutdown() }
        let third = server.url("/file/c.wav?cc=max-age%3D600")
        let (end, _, _, _) = try await Self.play(third, engine: engine, seconds: 5)
        #expect(end == .playbackFinished(path: third, loopsPlayed: 1, stopped: false))
        #expect(try await server.requests().count == before)
        #expect(engine.playCacheStatistics.hits == 1)
    }

    /// A failing URL: the path (or whole URL), the configuration, the reason expected, and
    /// words of the message.
    struct Failure: Sendable, CustomTestStringConvertible {
        let name: String
        let path: String
        let reason: PlaybackFailureReason
        let words: String
        var idleTimeout = 10.0
        var maximumBytes = 64 << 20
        var denyServer = false
        var testDescription: String { name }
    }

    static let failures: [Failure] = [
        Failure(name: "404", path: "/file/missing.wav", reason: .notFound, words: "HTTP 404"),
        Failure(name: "410", path: "/status/410", reason: .notFound, words: "HTTP 410"),
        Failure(name: "500", path: "/status/500", reason: .httpStatus, words: "HTTP 500"),
        Failure(name: "403", path: "/status/403", reason: .httpStatus, words: "HTTP 403"),
        Failure(name: "stalled body", path: "/stall/tone.wav", reason: .timeout, words: "no bytes from the server for 1.0 s", idleTimeout: 1),
        Failure(name: "announced too large", path: "/big", reason: .tooLarge, words: "1073741824 bytes"),
        Failure(name: "chunked too large", path: "/endless", reason: .tooLarge, words: "limit", maximumBytes: 1 << 20),
        Failure(name: "not audio", path: "/file/notes.wav", reason: .unsupportedFormat, words: "Format not recognised"),
        Failure(name: "body cut short", path: "/truncated/long.wav", reason: .fetchError, words: ""),
        Failure(name: "not http", path: "ftp://127.0.0.1/x.wav", reason: .invalidURL, words: "http"),
        Failure(name: "unresolvable host", path: "http://no-such-host.invalid/x.wav", reason: .fetchError, words: "resolve"),
        Failure(name: "connection refused", path: "http://127.0.0.1:9/x.wav", reason: .fetchError, words: ""),
        Failure(name: "denied address", path: "/file/tone.wav", reason: .denied, words: "denied", denyServer: true),
        Failure(
            name: "redirect to a denied address", path: "/redirect?to=http://169.254.169.254/latest/meta-data",
            reason: .denied, words: "redirected"),
        Failure(
            name: "link-local denied by default", path: "http://169.254.169.254/latest/meta-data", reason: .denied,
            words: "169.254.0.0/16"),
    ]

    @Test(
        "a failed fetch or decode is .playbackFailed with its reason; the leg goes on and plays the next URL",
        .timeLimit(.minutes(1)), arguments: failures.indices)
    func failure(index: Int) async throws {
        let f = Self.failures[index]
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await PlayerFiles.tone(frequency: 1000, seconds: 0.4, rate: 8000, in: dir)
        _ = try await PlayerFiles.tone(frequency: 1000, seconds: 4, rate: 8000, in: dir, name: "long.wav")
        try "these are not audio samples\n".write(toFile: dir + "/notes.wav", atomically: true, encoding: .utf8)
        let server = try await PlayURLServer(folder: dir)
        defer { server.stop() }
        let engine = try Self.engine(first: UInt16(38_300 + index * 20), cache: dir + "/cache") { c in
            c.idleTimeoutSeconds = f.idleTimeout
            c.maximumResponseBytes = f.maximumBytes
            if f.denyServer { c.deniedAddresses.append(AddressRule("127.0.0.1:\(server.port)")!) }
        }
        defer { engine.shutdown() }
        let url = f.path.hasPrefix("/") ? server.url(f.path) : f.path
        let pair = try LegPair(engine: engine, fixedJitterMilliseconds: 100)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(100))
        pair.a.play(url: url)
        let end = await waitForEvent(pair.eventsA, seconds: 8, isPlaybackEnd)
        guard case .playbackFailed(let path, let reason, let message) = end else {
            Issue.record("\(f.name): \(String(describing: end)); events \(pair.eventsA.all)")
            return
        }
        print("play url \(f.name): \(reason.rawValue): \(message)")
        #expect(path == url && reason == f.reason, "\(f.name): \(reason): \(message)")
        #expect(f.words.isEmpty || message.contains(f.words), "\(f.name): \(message)")
        // The call goes on: the same leg plays a good URL next.
        let sentBefore = pair.a.statistics.packetsSent
        let good = server.url("/file/tone.wav")
        let next: LegEvent?
        if f.denyServer {
            try await Task.sleep(for: .milliseconds(200))
            next = .playbackFinished(path: good, loopsPlayed: 1, stopped: false)
        } else {
            pair.a.play(url: good)
            next = await waitForEvent(pair.eventsA, seconds: 5) {
                if case .playbackFinished(let p, _, _) = $0 { return p == good }
                return false
            }
        }
        #expect(next == .playbackFinished(path: good, loopsPlayed: 1, stopped: false), "\(pair.eventsA.all)")
        #expect(pair.a.statistics.packetsSent > sentBefore, "the leg keeps sending")
        if server.process.process.isRunning {
            #expect(try await server.requests().allSatisfy { $0.method == "GET" }, "GET only")
        }
    }

    @Test("stopPlayback() during a slow download stops at once and reports stopped; the download does not hold the leg", .timeLimit(.minutes(1)))
    func bargeInWhileDownloading() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await PlayerFiles.tone(frequency: 1000, seconds: 6, rate: 8000, in: dir)
        let server = try await PlayURLServer(folder: dir)
        defer { server.stop() }
        let engine = try Self.engine(first: 38_700, cache: dir + "/cache")
        defer { engine.shutdown() }
        let pair = try LegPair(engine: engine, fixedJitterMilliseconds: 100)
        defer { pair.close() }
        try await Task.sleep(for: .milliseconds(100))
        let url = server.url("/slow/tone.wav?rate=20000")
        let playback = pair.a.play(url: url)
        try await Task.sleep(for: .milliseconds(800))
        #expect(playback.samplesPlayed > 0, "playing while downloading")
        pair.a.stopPlayback()
        let end = await waitForEvent(pair.eventsA, seconds: 2, isPlaybackEnd)
        guard case .playbackFinished(let p, _, true) = end else {
            Issue.record("\(String(describing: end))")
            return
        }
        #expect(p == url)
        let played = playback.samplesPlayed
        try await Task.sleep(for: .milliseconds(300))
        #expect(playback.samplesPlayed == played, "nothing more is sent after the stop")
        #expect(!pair.eventsA.all.contains(.sourceFinished))
    }

    @Test("two legs playing one URL while it downloads share one GET, and both play all of it", .timeLimit(.minutes(1)))
    func joinedDownload() async throws {
        let dir = InteropPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await PlayerFiles.tone(frequency: 1000, seconds: 1.5, rate: 8000, in: dir)
        let server = try await PlayURLServer(folder: dir)
        defer { server.stop() }
        let engine = try Self.engine(first: 38_720, cache: dir + "/cache")
        defer { engine.shutdown() }
        let one = try LegPair(engine: engine)
        let two = try LegPair(engine: engine)
        defer {
            one.close()
            two.close()
        }
        try await Task.sleep(for: .milliseconds(100))
        let url = server.url("/slow/tone.wav?rate=32000")  // 24 000 bytes: 0.75 s
        let first = one.a.play(url: url)
        try await Task.sleep(for: .milliseconds(200))
        let second = two.a.play(url: url)
        for pair in [one, two] {
            let end = await waitForEvent(pair.eventsA, seconds: 5, isPlaybackEnd)
            #expect(end == .playbackFinished(path: url, loopsPlayed: 1, stopped: false), "\(pair.eventsA.all)")
        }
        #expect(first.samplesPlayed == 12_000 && second.samplesPlayed == 12_000)
        #expect(try await server.requests().count == 1)
        #expect(engine.playCacheStatistics.joined == 1)
    }

    @Test("deny rules parse and match: addresses, networks, ports, IPv6, v4-mapped")
    func denyRules() throws {
        let rule = try #require(AddressRule("127.0.0.1:8080"))
        #expect(rule.matches(.v4(0x7F00_0001), port: 8080))
        #expect(!rule.matches(.v4(0x7F00_0001), port: 8081))
        #expect(!rule.matches(.v4(0x7F00_0002), port: 8080))
        let net = try #require(AddressRule("10.0.0.0/8"))
        #expect(net.matches(.v4(0x0A01_0203), port: 1) && !net.matches(.v4(0x0B00_0000), port: 1))
        let any = try #require(AddressRule("*:8080"))
        #expect(any.matches(.v6(0, 1), port: 8080) && !any.matches(.v6(0, 1), port: 80))
        let v6 = try #require(AddressRule("[::1]:8080"))
        #expect(v6.matches(.v6(0, 1), port: 8080) && !v6.matches(.v4(0x7F00_0001), port: 8080))
        let mapped = IPAddress.v6(0, 0xFFFF_7F00_0001)
        #expect(rule.matches(mapped, port: 8080), "::ffff:127.0.0.1 is 127.0.0.1")
        #expect(try #require(AddressRule("fe80::/10")).matches(.v6(0xFE80_0000_0000_0001, 5), port: 1))
        for bad in ["", "*", "300.1.1.1", "10.0.0.0/33", "::1/129", "1.2.3.4:99999", "host.example", "[::1", "::1:80x"] {
            #expect(AddressRule(bad) == nil, "\(bad) is not a rule")
        }
        #expect(AddressRule("10.0.0.0/8")?.description == "10.0.0.0/8")
        #expect(AddressRule("[::1]:8080")?.description == "[::1]:8080")
    }
}
