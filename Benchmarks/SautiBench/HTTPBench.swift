import Foundation
import SautiHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// `sauti-bench http`: the HTTP server with a trivial JSON handler under wrk
/// (`wrk -t1 -c64 -d5s` by default) on loopback; prints wrk's requests/s and the server
/// process's CPU over the run, so requests/s per core of server CPU can be read off.
func httpBenchmark(_ args: [String]) throws -> [String: Any] {
    var seconds = 5
    var connections = 64
    var threads = 1
    var it = args.makeIterator()
    while let a = it.next() {
        switch a {
        case "--seconds": seconds = Int(it.next() ?? "") ?? seconds
        case "--connections": connections = Int(it.next() ?? "") ?? connections
        case "--threads": threads = Int(it.next() ?? "") ?? threads
        default: throw BenchError("unknown option \(a)\n\(usage)")
        }
    }
    guard let wrk = which("wrk") else {
        print("wrk not found: install it (scripts/setup.sh installs Debian's wrk)")
        return ["error": "wrk not installed"]
    }
    let body = Array("{\"id\":\"CA0123456789\",\"status\":\"completed\",\"duration_seconds\":42}".utf8)
    var config = HTTPServerConfiguration()
    config.port = 0
    let server = try HTTPServer(configuration: config) { request in
        request.path == "/v1/ping" ? .json(200, body) : .json(404, Array("{}".utf8))
    }
    try server.start()
    let url = "http://127.0.0.1:\(server.port)/v1/ping"
    print("http benchmark: trivial JSON route, \(wrk) -t\(threads) -c\(connections) -d\(seconds)s \(url)")

    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
            + Double(u.ru_stime.tv_usec) / 1e6
    }
    let output = Pipe()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: wrk)
    p.arguments = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", url]
    p.standardOutput = output
    p.standardError = output
    let cpu0 = cpuSeconds()
    let wall0 = Date()
    try p.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    let wall = Date().timeIntervalSince(wall0)
    let cpu = cpuSeconds() - cpu0
    print(text)

    let done = DispatchSemaphore(value: 0)
    let stats = server.statistics
    Task {
        await server.shutdown()
        done.signal()
    }
    done.wait()

    func figure(after label: String) -> Double? {
        guard
            let line = text.split(separator: "\n").first(where: {
                $0.trimmingCharacters(in: .whitespaces).hasPrefix(label)
            })
        else { return nil }
        return Double(line.split(separator: " ").last.map(String.init) ?? "")
    }
    let rps = figure(after: "Requests/sec:") ?? 0
    let coreShare = cpu / wall
    let perCore = coreShare > 0 ? rps / coreShare : 0
    let errors = text.contains("Non-2xx") || text.contains("Socket errors")
    print(
        String(
            format:
                "requests/s: %.0f   server CPU: %.2f cores   requests/s per server core: %.0f   (goal for a real route: 20,000 on one core)",
            rps, coreShare, perCore))
    if errors { print("wrk reported errors or non-2xx responses: see above") }
    return [
        "route": "GET /v1/ping (trivial JSON)", "wrk": "-t\(threads) -c\(connections) -d\(seconds)s",
        "requests_per_second": rps, "server_cpu_cores": coreShare, "requests_per_second_per_server_core": perCore,
        "server_requests": stats.requests, "wrk_errors": errors,
        "cpu_cores": ProcessInfo.processInfo.activeProcessorCount,
    ]
}
