import CSautiLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A leg's counters shared between its worker (writer) and the control side (reader).
final class SharedStatistics: Sendable {
    private let value = Mutex(LegStatistics())
    func store(_ s: LegStatistics) { value.withLock { $0 = s } }
    func load() -> LegStatistics { value.withLock { $0 } }
}

/// Tick timing of a worker: how late ticks ran, for the load benchmark and for operators.
public struct TickStatistics: Sendable, Equatable {
    /// Ticks run.
    public var ticks = 0
    /// Ticks that ran more than one period late (caught up, and counted here).
    public var lateTicks = 0
    /// Lateness histogram: bucket i counts ticks that started between i and i+1 × 100 µs
    /// after their deadline (the last bucket holds everything later).
    public var latenessBuckets = [Int](repeating: 0, count: 201)
    /// Ticks owed after a stall longer than the catch-up allows: not run, counted here.
    public var skippedTicks = 0
    /// The largest lateness seen, in µs.
    public var maxLatenessMicroseconds = 0
    /// Time spent working (ticks and receiving), in ns: CPU per leg is this over legs and time.
    public var busyNanoseconds: Int64 = 0

    /// All zero.
    public init() {}

    /// The lateness below which `fraction` (0–1) of ticks started, in µs.
    public func latenessPercentile(_ fraction: Double) -> Int {
        let total = latenessBuckets.reduce(0, +)
        guard total > 0 else { return 0 }
        var seen = 0
        for (i, n) in latenessBuckets.enumerated() {
            seen += n
            if Double(seen) >= fraction * Double(total) { return (i + 1) * 100 }
        }
        return maxLatenessMicroseconds
    }
}

/// One media worker: a thread with an epoll instance, a 20 ms timerfd on CLOCK_MONOTONIC
/// and an eventfd for commands. Everything it owns (legs, sockets, buffers) is touched only
/// on its thread. Commands from the control side are queued and applied at a frame
/// boundary; the queue's lock is taken once per wake-up, never per packet.
final class MediaWorker: @unchecked Sendable {
    static let periodNanoseconds: Int64 = 20_000_000
    static let maxCatchUp = 5
    private static let timerCookie: UInt64 = .max
    private static let eventCookie: UInt64 = .max - 1
    private static let rtcpFlag: UInt64 = 1 << 32

    let index: Int
    /// Wakes the thread: the timer and the command eventfd only.
    private let epoll: Int32
    /// The legs' sockets: polled without waiting at each tick, never a wake-up source, so a
    /// worker wakes 50 times a second whatever its load (arrival times come from the
    /// kernel's receive timestamps).
    private let sockets: Int32
    private let timer: Int32
    private let wake: Int32
    private let commands = Mutex<[(Leg?, @Sendable (MediaWorker) -> Void)]>([])
    private let stopping = Atomic<Bool>(false)
    private var thread: pthread_t?
    private let onThreadStart: (@Sendable () -> Void)?

    // Worker-confined state.
    private var legs: [Leg] = []
    private var legsByFD: [Leg?] = []
    /// The rooms this worker mixes (their legs are on this worker).
    private var rooms: [Room] = []
    private var nextDeadline: Int64 = 0
    private var tickStatistics = TickStatistics()
    private var lastPublishedTick = 0
    private let published = Mutex(TickStatistics())
    private var batch: [sauti_datagram]
    private let batchStorage: UnsafeMutableRawPointer
    private static let batchSize = 32
    private static let datagramCapacity = 2048
    private var events = [sauti_epoll_event](repeating: sauti_epoll_event(), count: 64)
    /// The tick's poll of the legs' sockets has its own: a tick runs while `run` is still
    /// reading `events` (relaying legs' sockets share the wake-up set).
    private var socketEvents = [sauti_epoll_event](repeating: sauti_epoll_event(), count: 64)

    init(index: Int, onThreadStart: (@Sendable () -> Void)?) throws(SystemError) {
        self.index = index
        self.onThreadStart = onThreadStart
        epoll = try syscall("epoll_create1") { sauti_epoll_create() }
        sockets = try syscall("epoll_create1") { sauti_epoll_create() }
        timer = try syscall("timerfd_create") { sauti_timerfd_create() }
        wake = try syscall("eventfd") { sauti_eventfd_create() }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: Self.batchSize * Self.datagramCapacity, alignment: 16)
        batchStorage = storage
        batch = (0..<Self.batchSize).map { i in
            var d = sauti_datagram()
            d.buffer = storage + i * Self.datagramCapacity
            d.capacity = Self.datagramCapacity
            return d
        }
        try syscall("epoll_ctl") { sauti_epoll_add(epoll, timer, SAUTI_EPOLLIN, Self.timerCookie) }
        try syscall("epoll_ctl") { sauti_epoll_add(epoll, wake, SAUTI_EPOLLIN, Self.eventCookie) }
    }

    deinit {
        close(epoll)
        close(sockets)
        close(timer)
        close(wake)
        batchStorage.deallocate()
    }

    /// Starts the thread; the first tick is one period from now.
    func start() {
        nextDeadline = sauti_monotonic_ns() + Self.periodNanoseconds
        _ = sauti_timerfd_arm(timer, nextDeadline, Self.periodNanoseconds)
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        pthread_create(&t, nil, { arg in
            let worker = Unmanaged<MediaWorker>.fromOpaque(arg!).takeRetainedValue()
            worker.run()
            return nil
        }, box.toOpaque())
        thread = t
    }

    /// Stops the thread after closing every leg, and waits for it.
    func stop() {
        stopping.store(true, ordering: .releasing)
        _ = sauti_eventfd_signal(wake)
        if let t = thread { pthread_join(t, nil) }
        thread = nil
    }

    /// Queues `body` to run on the worker thread at the next frame boundary.
    func submit(_ leg: Leg? = nil, _ body: @escaping @Sendable (MediaWorker) -> Void) {
        commands.withLock { $0.append((leg, body)) }
        _ = sauti_eventfd_signal(wake)
    }

    /// The tick timing so far (a deep copy: the worker keeps writing its own in place).
    var tickTiming: TickStatistics {
        published.withLock { p in
            var copy = p
            copy.latenessBuckets = p.latenessBuckets.map { $0 }
            return copy
        }
    }

    // MARK: On the worker thread

    func add(_ leg: Leg) {
        legs.append(leg)
        register(leg.rtp.fd, leg, rtcp: false)
        register(leg.rtcp.fd, leg, rtcp: true)
    }

    private func register(_ fd: Int32, _ leg: Leg, rtcp: Bool) {
        if Int(fd) >= legsByFD.count { legsByFD += [Leg?](repeating: nil, count: Int(fd) + 64 - legsByFD.count) }
        legsByFD[Int(fd)] = leg
        _ = sauti_enable_timestamps(fd)
        _ = sauti_epoll_add(sockets, fd, SAUTI_EPOLLIN, UInt64(fd) | (rtcp ? Self.rtcpFlag : 0))
    }

    /// Makes `leg`'s RTP socket wake the worker (`on`), or only be polled at the tick again:
    /// a relaying leg's packets leave on arrival, not up to a period later (LegRelay.swift).
    func wakeOnArrival(_ leg: Leg, _ on: Bool) {
        if on {
            _ = sauti_epoll_add(epoll, leg.rtp.fd, SAUTI_EPOLLIN, UInt64(UInt32(bitPattern: leg.rtp.fd)))
        } else {
            _ = sauti_epoll_del(epoll, leg.rtp.fd)
        }
    }

    func add(_ room: Room) { rooms.append(room) }

    func remove(_ room: Room) {
        if let i = rooms.firstIndex(where: { $0 === room }) { rooms.remove(at: i) }
    }

    func remove(_ leg: Leg) {
        detach(leg)
        leg.close()
    }

    /// Takes `leg` off this worker: its sockets leave the poll set (datagrams wait in the
    /// kernel), it is no longer ticked, and rooms here forget it.
    private func detach(_ leg: Leg) {
        leg.unlinkRelay()
        _ = sauti_epoll_del(sockets, leg.rtp.fd)
        _ = sauti_epoll_del(sockets, leg.rtcp.fd)
        if Int(leg.rtp.fd) < legsByFD.count { legsByFD[Int(leg.rtp.fd)] = nil }
        if Int(leg.rtcp.fd) < legsByFD.count { legsByFD[Int(leg.rtcp.fd)] = nil }
        if let i = legs.firstIndex(where: { $0 === leg }) { legs.remove(at: i) }
        for room in rooms { room.leave(leg) }
    }

    /// Moves `leg` (owned by this worker; called on its thread, at a frame boundary) to
    /// `target`, then runs `arrived` on the target's thread. Commands for the leg queued
    /// here after this one are forwarded to the target, in order, behind the arrival.
    func handOver(_ leg: Leg, to target: MediaWorker, arrived: @escaping @Sendable (MediaWorker) -> Void) {
        guard target !== self, legs.contains(where: { $0 === leg }) else {
            arrived(self)
            return
        }
        detach(leg)
        leg.changeOwner { owner in
            owner = target
            target.submit(leg) { w in
                leg.rehome()
                w.add(leg)
                arrived(w)
            }
        }
    }

    private func run() {
        onThreadStart?()
        while !stopping.load(ordering: .acquiring) {
            let n = events.withUnsafeMutableBufferPointer { sauti_epoll_wait(epoll, $0.baseAddress, Int32($0.count), -1) }
            if n < 0 { continue }  // EINTR
            for i in 0..<Int(n) {
                let cookie = events[i].data
                switch cookie {
                case Self.timerCookie:
                    let expirations = sauti_timerfd_read(timer)
                    if expirations > 0 { runTicks(Int(expirations)) }
                case Self.eventCookie:
                    _ = sauti_eventfd_drain(wake)
                    applyCommands()
                default:
                    // A relaying leg's RTP socket (`wakeOnArrival`): its packets leave now.
                    let start = sauti_monotonic_ns()
                    drain(Int32(truncatingIfNeeded: cookie & 0xFFFF_FFFF), rtcp: false, now: start, offset: sauti_realtime_ns() - start)
                    tickStatistics.busyNanoseconds += sauti_monotonic_ns() - start
                }
            }
        }
        applyCommands()
        for leg in legs { remove(leg) }
    }

    private func applyCommands() {
        let pending = commands.withLock { q -> [(Leg?, @Sendable (MediaWorker) -> Void)] in
            let taken = q
            q.removeAll(keepingCapacity: true)
            return taken
        }
        for (leg, body) in pending {
            // A command queued before its leg moved away follows the leg.
            if let leg, let owner = leg.owner, owner !== self {
                leg.submit(body)
                continue
            }
            body(self)
        }
    }

    /// Receives everything waiting on every leg's sockets.
    private func pollSockets() {
        let start = sauti_monotonic_ns()
        // Kernel timestamps are CLOCK_REALTIME; the engine keeps time on CLOCK_MONOTONIC.
        let realtimeOffset = sauti_realtime_ns() - start
        while true {
            let n = socketEvents.withUnsafeMutableBufferPointer { sauti_epoll_wait(sockets, $0.baseAddress, Int32($0.count), 0) }
            if n <= 0 { break }
            for i in 0..<Int(n) {
                let cookie = socketEvents[i].data
                drain(Int32(truncatingIfNeeded: cookie & 0xFFFF_FFFF), rtcp: cookie & Self.rtcpFlag != 0, now: start, offset: realtimeOffset)
            }
            if Int(n) < socketEvents.count { break }
        }
        tickStatistics.busyNanoseconds += sauti_monotonic_ns() - start
    }

    /// Receives everything waiting on `fd` in batches of `batchSize`.
    private func drain(_ fd: Int32, rtcp: Bool, now: Int64, offset: Int64) {
        guard Int(fd) < legsByFD.count, let leg = legsByFD[Int(fd)] else { return }
        while true {
            let n = batch.withUnsafeMutableBufferPointer { sauti_recv_batch(fd, $0.baseAddress, Int32($0.count)) }
            if n <= 0 { return }
            batch.withUnsafeMutableBufferPointer { datagrams in
                for i in 0..<Int(n) {
                    let length = datagrams[i].length
                    if length > Self.datagramCapacity {
                        leg.statistics.malformedRTP += 1
                        continue
                    }
                    let data = UnsafeRawBufferPointer(start: datagrams[i].buffer, count: length)
                    let stamp = datagrams[i].timestamp_ns
                    let arrival = stamp != 0 ? min(stamp - offset, now) : now
                    // Safe: the element stays put while the buffer pointer is held.
                    let address = UnsafeMutablePointer(mutating: datagrams.baseAddress! + i).pointer(to: \.address)!
                    if rtcp {
                        leg.receiveRTCPDatagram(data, from: address, now: arrival)
                    } else {
                        leg.receiveRTP(data, from: address, now: arrival)
                    }
                }
            }
            if Int(n) < Self.batchSize { return }
        }
    }

    private func runTicks(_ count: Int) {
        let woke = sauti_monotonic_ns()
        pollSockets()
        // A late wake-up runs the ticks it owes, up to `maxCatchUp` of them: each is counted
        // late. Beyond that (a stall of over 100 ms) running them all back to back would
        // only burst packets out and make the next tick late too; those are counted as
        // skipped, never dropped silently.
        let run = min(count, Self.maxCatchUp)
        if count > run {
            tickStatistics.skippedTicks += count - run
            nextDeadline += Int64(count - run) * Self.periodNanoseconds
        }
        for k in 0..<run {
            let start = sauti_monotonic_ns()
            // Lateness: when the worker woke for this tick's deadline (catch-up ticks: when they ran).
            let lateness = max(0, (k == 0 ? woke : start) - nextDeadline)
            if k > 0 || lateness >= Self.periodNanoseconds { tickStatistics.lateTicks += 1 }
            let bucket = min(Int(lateness / 100_000), tickStatistics.latenessBuckets.count - 1)
            tickStatistics.latenessBuckets[bucket] += 1
            tickStatistics.maxLatenessMicroseconds = max(tickStatistics.maxLatenessMicroseconds, Int(lateness / 1000))
            tickStatistics.ticks += 1
            // The legs' clock is the tick's deadline, not when it ran: a jitter buffer that
            // measured its delay from a wake-up that came a few ms late on one tick and on
            // time the next would see that scheduling noise as delay, and stretch and skip
            // frames on a busy machine. (Arrival times are the kernel's stamps.)
            let clock = nextDeadline
            if rooms.isEmpty {
                for leg in legs { leg.tick(now: clock) }
            } else {
                // Every leg's audio in, every room mixed, every leg's frame out: a room's mix
                // holds this tick's audio.
                for leg in legs { leg.tickInbound(now: clock) }
                for room in rooms { room.mixTick() }
                for leg in legs { leg.tickOutbound(now: clock) }
            }
            nextDeadline += Self.periodNanoseconds
            tickStatistics.busyNanoseconds += sauti_monotonic_ns() - start
        }
        if tickStatistics.ticks - lastPublishedTick >= 50 {
            lastPublishedTick = tickStatistics.ticks
            // Copy element by element into storage only the lock's value owns: no allocation.
            published.withLock { p in
                p.ticks = tickStatistics.ticks
                p.lateTicks = tickStatistics.lateTicks
                p.skippedTicks = tickStatistics.skippedTicks
                p.maxLatenessMicroseconds = tickStatistics.maxLatenessMicroseconds
                p.busyNanoseconds = tickStatistics.busyNanoseconds
                for i in 0..<p.latenessBuckets.count { p.latenessBuckets[i] = tickStatistics.latenessBuckets[i] }
            }
        }
    }
}
