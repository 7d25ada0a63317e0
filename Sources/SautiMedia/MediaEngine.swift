import CSautiLinux
import SautiAudio
import SautiWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Settings of the media plane.
public struct MediaEngineConfiguration: Sendable {
    /// Media worker threads (default: one per core).
    public var workers: Int
    /// The local address legs bind to.
    public var address: IPAddress = .v4(0x7F00_0001)
    /// The RTP port range (RTP even, RTCP the next odd port).
    public var firstPort: UInt16 = 20_000
    public var lastPort: UInt16 = 29_999
    /// Run on each worker thread as it starts (tests use it to count allocations there).
    public var onWorkerThreadStart: (@Sendable () -> Void)?
    /// The media workers' nice value (nil leaves it alone). The default, -10, makes the
    /// scheduler run a worker's tick ahead of the engine's other threads (file I/O and
    /// speech run at +5) and of other processes on its core; it needs root or
    /// CAP_SYS_NICE, and without them the workers quietly stay at 0. On this project's
    /// 2-core machine it is what lets 1,000 legs playing and recording hold every tick.
    public var workerNice: Int32? = -10
    /// Playing http(s) URLs: the download cache, limits, timeouts and the deny list.
    public var playURL = PlayURLConfiguration()
    /// libspeexdsp's resampling quality wherever rates differ — bridges, rooms, files and
    /// speech played to a leg: 0 (fastest) ... 10 (best); 5 by default (about 4 µs per 20 ms
    /// frame between 8 and 16 kHz; `sauti-bench opus` prints the table). Values outside are
    /// taken as the nearest end.
    public var resamplerQuality = Resampler.defaultQuality

    /// Defaults: a worker per core, loopback, ports 20000–29999.
    public init(workers: Int? = nil) {
        self.workers = workers ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Why the engine could not start or open a leg.
public enum MediaEngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(SystemError)
    /// No ports.
    case ports(PortPoolError)
    /// The engine was shut down.
    case shutDown
    /// The play cache folder cannot be created or read.
    case playCache(String)

    public var description: String {
        switch self {
        case .system(let e): return "\(e)"
        case .ports(let e): return "\(e)"
        case .shutDown: return "the media engine is shut down"
        case .playCache(let m): return "the play cache: \(m)"
        }
    }
}

/// The media plane: a fixed set of media workers and the port pool. Opens legs and places
/// each on a worker.
public final class MediaEngine: Sendable {
    let workers: [MediaWorker]
    /// The port pool.
    public let ports: PortPool
    /// The thread that does the blocking side of players and recorders (decoding files,
    /// writing WAVs), off the media workers.
    public let io: MediaIOThread
    /// The thread that synthesizes speech (espeak-ng keeps global state: one thread only).
    public let speechThread: MediaIOThread
    /// Synthesized phrases, shared by every leg.
    public let speechCache: SpeechCache
    /// Downloads and caches the audio of play URLs.
    let fetcher: PlayFetcher
    /// `MediaEngineConfiguration.resamplerQuality`, within 0 ... 10.
    public let resamplerQuality: Int
    private let next = Atomic<Int>(0)
    private let legIDs = Atomic<UInt64>(0)
    private let running = Atomic<Bool>(true)

    /// Starts the workers.
    public init(configuration: MediaEngineConfiguration = MediaEngineConfiguration()) throws(MediaEngineError) {
        do {
            ports = try PortPool(address: configuration.address, first: configuration.firstPort, last: configuration.lastPort)
        } catch {
            throw .ports(error)
        }
        var ws: [MediaWorker] = []
        for i in 0..<max(1, configuration.workers) {
            do {
                let hook = configuration.onWorkerThreadStart
                let nice = configuration.workerNice
                ws.append(
                    try MediaWorker(index: i) {
                        if let nice { _ = sauti_set_thread_nice(nice) }
                        hook?()
                    })
            } catch {
                throw .system(error)
            }
        }
        do {
            fetcher = try PlayFetcher(configuration: configuration.playURL)
        } catch {
            throw .playCache("\(error)")
        }
        workers = ws
        // 50 ms passes: players refill rings of a second, recorders drain rings of two.
        io = MediaIOThread(name: "sauti-media-io", intervalMilliseconds: 50)
        speechThread = MediaIOThread(name: "sauti-speech")
        resamplerQuality = min(max(configuration.resamplerQuality, 0), 10)
        speechCache = SpeechCache(resamplerQuality: resamplerQuality)
        for w in workers { w.start() }
    }

    /// Opens a leg: binds a port pair and starts it on a worker.
    public func openLeg(_ configuration: LegConfiguration) throws(MediaEngineError) -> MediaLeg {
        guard running.load(ordering: .acquiring) else { throw .shutDown }
        let sockets: (rtp: UDPSocket, rtcp: UDPSocket)
        do {
            sockets = try ports.allocate()
        } catch {
            throw .ports(error)
        }
        let id = legIDs.add(1, ordering: .relaxed).newValue
        let worker = workers[next.add(1, ordering: .relaxed).oldValue % workers.count]
        let (stream, continuation) = AsyncStream<LegEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let shared = SharedStatistics()
        let leg = Leg(
            id: id, configuration: configuration, sockets: sockets, pool: ports, events: continuation, published: shared,
            now: monotonicNanoseconds())
        leg.adopt(worker)
        worker.submit(leg) { $0.add(leg) }
        return MediaLeg(
            leg: leg, io: io, events: stream, statistics: shared,
            speech: (thread: speechThread, cache: speechCache), fetcher: fetcher, resamplerQuality: resamplerQuality)
    }

    /// The play cache's counters (hits, misses, revalidations, evictions, size).
    public var playCacheStatistics: PlayCacheStatistics { fetcher.cache.statistics }

    /// Tick timing of every worker.
    public var tickTiming: [TickStatistics] { workers.map(\.tickTiming) }

    /// Closes every leg and stops the workers.
    public func shutdown() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        for w in workers { w.stop() }
        io.stop()
        speechThread.stop()
        fetcher.shutdown()
    }

    deinit { shutdown() }
}

/// The control side's handle on a leg. Every change is a command the leg's worker applies
/// at the next frame boundary; events arrive on `events`.
public final class MediaLeg: Sendable {
    let leg: Leg
    /// The worker that runs the leg now (legs move to their room's or bridge's worker).
    var worker: MediaWorker { leg.owner! }
    /// The engine's I/O thread (recordings write there).
    let io: MediaIOThread
    /// The engine's speech thread and cache (`say`).
    let speech: (thread: MediaIOThread, cache: SpeechCache)
    /// The engine's downloader for play URLs.
    let fetcher: PlayFetcher
    /// The engine's resampling quality (files, bridges).
    let resamplerQuality: Int
    private let shared: SharedStatistics
    private let closed = Atomic<Bool>(false)
    /// The leg's events, in order; finishes after `.closed`.
    public let events: AsyncStream<LegEvent>

    init(
        leg: Leg, io: MediaIOThread, events: AsyncStream<LegEvent>, statistics: SharedStatistics,
        speech: (thread: MediaIOThread, cache: SpeechCache), fetcher: PlayFetcher, resamplerQuality: Int
    ) {
        self.fetcher = fetcher
        self.resamplerQuality = resamplerQuality
        self.leg = leg
        self.io = io
        self.speech = speech
        self.events = events
        self.shared = statistics
    }

    /// A number unique to the leg in this engine.
    public var id: UInt64 { leg.id }
    /// The local RTP endpoint (RTCP is on the next port).
    public var local: Endpoint { leg.rtp.local }
    /// The leg's counters as of the last tick.
    public var statistics: LegStatistics { shared.load() }
    /// Which worker runs the leg.
    public var workerIndex: Int { worker.index }

    func onWorker(_ body: @escaping @Sendable (Leg) -> Void) {
        let leg = self.leg
        leg.submit { _ in body(leg) }
    }

    /// Moves the leg to `worker` at a frame boundary and returns once it runs there (at
    /// once if it is there already). Its sockets, buffers, playback and recording go with
    /// it; datagrams that arrive meanwhile wait in the socket.
    func move(to target: MediaWorker) async {
        let leg = self.leg
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            leg.submit { w in w.handOver(leg, to: target) { _ in c.resume() } }
        }
    }

    /// Moves the leg to the worker that runs `other`, so the two can be joined without
    /// crossing threads (a bridge's legs share a worker).
    public func move(toWorkerOf other: MediaLeg) async {
        await move(to: other.worker)
    }

    /// Moves the leg to the media worker `index` (modulo the worker count).
    public func move(toWorker index: Int, of engine: MediaEngine) async {
        await move(to: engine.workers[((index % engine.workers.count) + engine.workers.count) % engine.workers.count])
    }

    /// Replaces the configuration (a re-offer: new remote, codec, direction); the leg keeps
    /// its ports, SSRC and sequence. Inbound state restarts if the codec or remote changed.
    public func update(_ configuration: LegConfiguration) {
        onWorker { leg in
            let old = leg.configuration
            leg.configuration = configuration
            if old.remote != configuration.remote || old.remoteRTCP != configuration.remoteRTCP || old.rtcpMux != configuration.rtcpMux {
                leg.applyRemote()
            }
            leg.codecChanged(from: old)
        }
    }

    /// Plays `kind` as the outbound audio from the next frame on.
    public func play(_ kind: LegSourceKind) {
        onWorker { leg in
            switch kind {
            case .silence: leg.sourceObject = nil
            case .tone(let spec): leg.sourceObject = ToneSource(spec, sampleRate: leg.configuration.sampleRate)
            }
        }
    }

    /// Makes `source` the outbound audio (the next issue's players and TTS use this).
    public func setSource(_ source: (any FrameSource & Sendable)?) {
        onWorker { leg in leg.sourceObject = source }
    }

    /// Adds a sink that gets every decoded inbound frame.
    public func addSink(_ sink: any FrameSink & Sendable) {
        onWorker { leg in leg.sinks.append(sink) }
    }

    /// Removes a sink.
    public func removeSink(_ sink: any FrameSink & Sendable) {
        onWorker { leg in leg.sinks.removeAll { $0 === sink } }
    }

    /// Sends `digits` as RFC 4733 events, each `durationMilliseconds` long; characters
    /// that are not DTMF are skipped. `.digitsSent` follows.
    public func sendDigits(_ digits: String, durationMilliseconds: Int = 100) {
        let list = digits.filter { TelephoneEvent.code(for: $0) != nil }.map { ($0, max(40, durationMilliseconds)) }
        onWorker { leg in leg.pendingDigits.append(contentsOf: list.map { (digit: $0.0, durationMs: $0.1) }) }
    }

    /// Starts collecting digits; `.digitsCollected` reports the result.
    public func collectDigits(_ spec: DigitCollectionSpec) {
        onWorker { leg in leg.startCollection(spec, now: monotonicNanoseconds()) }
    }

    /// Collects digits and waits for the result.
    public func gatherDigits(_ spec: DigitCollectionSpec) async -> (digits: String, end: DigitCollectionEnd) {
        collectDigits(spec)
        for await e in events {
            if case .digitsCollected(let d, let why) = e { return (d, why) }
        }
        return ("", .canceled)
    }

    /// Closes the leg: a BYE, the ports back to the pool, `.closed` on the events.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let leg = self.leg
        leg.submit { w in w.remove(leg) }
    }
}
