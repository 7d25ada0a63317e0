import CSautiLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A dedicated thread for the blocking side of media (file reading and decoding, writing
/// recordings, synthesis): jobs queue up and run in order, off the media workers. A job
/// that must run again later (a recorder draining its ring, a player refilling) is
/// re-armed by `every`, which runs it about every `intervalMilliseconds` until it returns
/// false. The media workers never wait on this thread; they meet it through `SampleRing`s.
public final class MediaIOThread: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var periodic: [(id: Int, body: @Sendable () -> Bool)] = []
        var nextID = 0
        var stopping = false
    }

    private let state = Mutex(State())
    private let wake: Int32
    private let name: String
    nonisolated(unsafe) private var thread = pthread_t()
    private let intervalMilliseconds: Int
    /// The thread's nice value: above the media workers' 0, so a burst of file work
    /// never takes a core from a worker's tick; the rings give it a second or more of slack.
    private let nice: Int32

    /// Starts the thread; periodic jobs run every `intervalMilliseconds`.
    public init(name: String, intervalMilliseconds: Int = 20, nice: Int32 = 5) {
        self.name = name
        self.intervalMilliseconds = intervalMilliseconds
        self.nice = nice
        wake = sauti_eventfd_create()
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { arg in
            let me = Unmanaged<MediaIOThread>.fromOpaque(arg!).takeRetainedValue()
            me.run()
            return nil
        }, box.toOpaque())
    }

    /// Runs `job` once, soon, on the thread.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        state.withLock { $0.jobs.append(job) }
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
    }

    /// Runs `job` on every pass until it returns false.
    public func every(_ job: @escaping @Sendable () -> Bool) {
        state.withLock { s in
            s.periodic.append((s.nextID, job))
            s.nextID += 1
        }
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
    }

    /// Runs the remaining jobs and periodic jobs a last time, then stops the thread.
    public func stop() {
        let already = state.withLock { s -> Bool in
            let was = s.stopping
            s.stopping = true
            return was
        }
        guard !already else { return }
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
        pthread_join(thread, nil)
        close(wake)
    }

    private func run() {
        _ = sauti_set_thread_nice(nice)
        var fds = pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
        while true {
            _ = poll(&fds, 1, Int32(intervalMilliseconds))
            var value: UInt64 = 0
            if fds.revents != 0 { _ = Glibc.read(wake, &value, 8) }
            let (jobs, periodic, stopping) = state.withLock { s -> ([@Sendable () -> Void], [(id: Int, body: @Sendable () -> Bool)], Bool) in
                let j = s.jobs
                s.jobs.removeAll()
                return (j, s.periodic, s.stopping)
            }
            for job in jobs { job() }
            var done: [Int] = []
            for p in periodic where !p.body() { done.append(p.id) }
            if !done.isEmpty { state.withLock { s in s.periodic.removeAll { done.contains($0.id) } } }
            if stopping {
                // Last pass: let periodic jobs finish their work (a recorder closes its file).
                let remaining = state.withLock { $0.periodic }
                for p in remaining { _ = p.body() }
                return
            }
        }
    }
}
