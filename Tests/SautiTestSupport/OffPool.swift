// Blocking work (a raw socket client, a synchronous URL load) run on a thread of its own,
// awaited, so it never parks a thread of the cooperative pool that the code under test,
// and other suites' Task.sleep, need.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` on a thread of its own (1 MiB stack) and returns its result.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in
        let t = Thread { c.resume(returning: body()) }
        t.stackSize = 1 << 20
        t.start()
    }
}

/// The body of a GET of `url` (a test server's request log), loaded off the pool:
/// Foundation's `String(contentsOf:)` waits for the response on the calling thread.
public func fetchText(_ url: String) async throws -> String {
    let result = await offPool { () -> Result<String, any Error> in
        Result {
            guard let u = URL(string: url) else { throw CocoaError(.fileReadInvalidFileName) }
            return try String(contentsOf: u, encoding: .utf8)
        }
    }
    return try result.get()
}

/// Runs `body(k)` for k in 0..<count every 20 ms on a thread of its own, paced on the
/// monotonic clock, so the cadence holds when the test's task pool is busy.
public func pacedOnThread(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
        let thread = Thread {
            var next = DispatchTime.now().uptimeNanoseconds
            for k in 0..<count {
                body(k)
                next += 20_000_000
                let now = DispatchTime.now().uptimeNanoseconds
                if next > now { usleep(UInt32((next - now) / 1000)) }
            }
            c.resume()
        }
        thread.start()
    }
}
