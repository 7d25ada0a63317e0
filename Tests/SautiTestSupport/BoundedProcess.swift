// Shared by the test targets: child processes with a deadline, and the test HTTP servers
// (Python scripts that print "port N" once they listen).

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process with a deadline: killed (SIGTERM, then SIGKILL) if it outlives it.
/// Its output goes to a log file, read back for failure messages. Waiting for it polls
/// (`wait(seconds:)`), so it never holds a thread of the cooperative pool.
public struct BoundedProcess: Sendable {
    public let process: Process
    /// Where its standard output goes (and its standard error, unless `errorLogPath`).
    public let logPath: String
    /// Where its standard error goes when kept apart from `logPath`.
    public let errorLogPath: String?

    /// Starts `executable arguments…` with its standard output and error in `log`, or its
    /// standard error in `errorLog` when given.
    public init(_ executable: String, _ arguments: [String], log: String, errorLog: String? = nil) throws {
        logPath = log
        errorLogPath = errorLog
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        var errorHandle = handle
        if let errorLog {
            _ = FileManager.default.createFile(atPath: errorLog, contents: nil)
            errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorLog))
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = handle
        p.standardError = errorHandle
        try p.run()
        process = p
    }

    /// Waits for the process to exit, up to `seconds`; then ends it. Returns its status
    /// and whether it had to be ended.
    @discardableResult
    public func wait(seconds: Double) async -> (status: Int32, killed: Bool) {
        let started = ContinuousClock.now
        let deadline = started + .milliseconds(Int64(seconds * 1000))
        // A cancelled test (its time limit passed) stops waiting at once. The poll starts
        // at 1 ms and backs off to 20 ms: a short tool (soxi, curl) is seen to end soon
        // after it does, a long one costs 50 wake-ups a second.
        var poll = Duration.milliseconds(1)
        while process.isRunning && ContinuousClock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: poll)
            poll = min(poll * 2, .milliseconds(20))
        }
        let waited = ContinuousClock.now - started
        if waited > .seconds(10) {
            let name = process.executableURL?.lastPathComponent ?? "?"
            // Still running: what the kernel says of it (R running, S sleeping in wchan, Z
            // exited but not reaped), to tell a hung tool from an end not noticed.
            let state = process.isRunning ? " and is still running (\(Self.kernelState(process.processIdentifier)))" : ""
            print("BoundedProcess: \(name) \(process.arguments ?? []) ran \(waited)\(state)")
        }
        var killed = false
        if process.isRunning {
            killed = true
            process.terminate()
            let grace = ContinuousClock.now + .seconds(2)
            while process.isRunning && ContinuousClock.now < grace { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        // It has ended, or SIGKILL ends it now: this reaps it without parking the thread
        // for longer than that takes.
        process.waitUntilExit()
        return (process.terminationStatus, killed)
    }

    /// The kernel's view of process `pid`: its state letter from /proc/PID/stat and, when
    /// it sleeps, where (/proc/PID/wchan); "gone" when there is no such process.
    static func kernelState(_ pid: Int32) -> String {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return "gone" }
        let state = stat[stat.index(after: close)...].split(separator: " ").first.map(String.init) ?? "?"
        let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? ""
        return "state \(state)" + (wchan.isEmpty || wchan == "0" ? "" : ", waiting in \(wchan)")
    }

    /// What the process printed.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// A test HTTP server: a Python script that binds 127.0.0.1 on a free port, prints
/// `port N`, and exits by itself after its lifetime.
public struct TestHTTPServer: Sendable {
    public let process: BoundedProcess
    public let port: UInt16

    /// Debian's python3 (setup.sh installs it), nil when absent.
    public static var python: String? {
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `script arguments…` with python3, logging to `log`, and waits (up to 10 s) for
    /// its port.
    public init(script: String, arguments: [String], log: String) async throws {
        guard let python = Self.python else { throw StartFailure(description: "python3 is not installed") }
        process = try BoundedProcess(python, [script] + arguments, log: log)
        let deadline = ContinuousClock.now + .seconds(10)
        var found: UInt16?
        while found == nil && ContinuousClock.now < deadline && process.process.isRunning {
            if let line = process.log.split(separator: "\n").first(where: { $0.hasPrefix("port ") }) {
                found = UInt16(line.dropFirst(5))
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        guard let found else { throw StartFailure(description: "\(script) did not start: \(process.log)") }
        port = found
    }

    /// `http://127.0.0.1:PORT` + `path`.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Ends the server (it would end by itself at its deadline).
    public func stop() { process.process.terminate() }
}

/// A fresh folder under the system's temporary directory, named `prefix-UUID`.
public func makeTemporaryDirectory(prefix: String) -> String {
    let p = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// The package's executable `name` as built for this test run: next to the test bundle,
/// or in `.build/debug` of the package at `packageRoot`.
public func builtExecutable(_ name: String, packageRoot: URL) -> String {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [dir, dir.deletingLastPathComponent()] {
        let p = candidate.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return packageRoot.appendingPathComponent(".build/debug/\(name)").path
}

/// A small seeded generator (SplitMix64): fuzz and synthetic inputs that a failure can be
/// replayed from by its seed.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
