import Foundation
import SautiControl
import SautiHTTP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The control API's throughput and the call setup rate, on an in-process control plane
/// (a fresh data folder in bench-out/):
/// - `GET /v1/calls/{id}` driven by wrk (one thread, 64 connections, on the other core):
///   requests per second, and per second of our process's CPU (the "one core" figure);
/// - call setup: the registrar's `POST /v1/calls` (inbound, with an SDP offer), the
///   engine's answer, the voice_url's one-action document (`say` of a cached phrase) run on
///   the leg, and the hangup when it ends; calls completed per second with `concurrency`
///   calls in flight.
struct APIBenchmark {
    var seconds = 5.0
    var calls = 1000
    var concurrency = 64
    var workDirectory = "bench-out/api"

    static let registrarToken = "bench-registrar-token-0123456789"
    static let customerToken = "bench-customer-token-0123456789"

    func run() async throws -> [String: Any] {
        try? FileManager.default.removeItem(atPath: workDirectory)
        var c = ControlConfiguration()
        c.dataDirectory = workDirectory
        c.apiPort = 0
        c.registrarToken = Self.registrarToken
        c.customerTokens = [Self.customerToken]
        c.rtpFirstPort = 40_000
        c.rtpLastPort = 59_999
        c.mediaWorkers = 1
        let control = try ControlPlane(configuration: c)
        let api = ControlAPI(control: control)
        var hc = HTTPServerConfiguration()
        hc.port = 0
        let server = try HTTPServer(configuration: hc) { await api.handle($0) }
        try server.start()
        // The customer's app: every voice_url request gets one action.
        let document = Array(#"[{"verb":"say","text":"Thank you."}]"#.utf8)
        var ac = HTTPServerConfiguration()
        ac.port = 0
        let app = try HTTPServer(configuration: ac) { _ in HTTPResponse.json(200, document) }
        try app.start()
        let number = try control.store.createNumber(e164: "+254700000100")
        _ = try control.store.updateRouting(
            id: number.id, voiceURL: "http://127.0.0.1:\(app.port)/voice", eventsURL: nil, signingSecret: "bench")
        var out: [String: Any] = [:]

        // 1. wrk on GET /v1/calls/{id}.
        let call = try control.store.createCall(
            numberID: number.id, direction: "inbound", localE164: "+254700000100", remoteE164: "+1", pbxCallID: "HD_1")
        if let wrk = which("wrk") {
            let cpu0 = processCPUSeconds()
            let (text, status) = try runCapturing(
                wrk,
                [
                    "-t1", "-c64", "-d\(Int(seconds))s", "-H", "Authorization: Bearer \(Self.customerToken)",
                    "http://127.0.0.1:\(server.port)/v1/calls/\(call.id)",
                ])
            let cpu = processCPUSeconds() - cpu0
            let rps = text.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            let non2xx = text.contains("Non-2xx")
            let perCore = cpu > 0 ? rps * seconds / cpu : 0
            print(String(format: "GET /v1/calls/{id}: %.0f requests/s (wrk -t1 -c64), %.0f per second of our CPU (%.2f CPU-s in %.0f s)%@", rps, perCore, cpu, seconds, non2xx ? "; some were not 2xx" : ""))
            if status != 0 { print("wrk exited \(status)") }
            out["get_call_requests_per_second"] = rps
            out["get_call_requests_per_cpu_second"] = perCore
        } else {
            print("wrk not found: install it (scripts/setup.sh) for the API throughput")
        }

        // 2. Call setup rate.
        let offer = [
            "v=0", "o=bench 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 9 RTP/AVP 0",
            "a=rtpmap:0 PCMU/8000", "a=sendrecv", "",
        ].joined(separator: "\r\n")
        let body = try JSONSerialization.data(withJSONObject: [
            "direction": "inbound", "local_e164": "+254700000100", "remote_e164": "+254711000000", "sdp": offer,
        ])
        let session = URLSession(configuration: .ephemeral)
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)/v1/calls")!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("Bearer \(Self.registrarToken)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        // Warm the speech cache and the connections.
        _ = try await session.data(for: request)
        try await Task.sleep(for: .seconds(2))
        let before = try completedCount(control)
        let started = DispatchTime.now().uptimeNanoseconds
        var opened = 0
        var failures = 0
        try await withThrowingTaskGroup(of: Bool.self) { group in
            var inFlight = 0
            func wait() async throws {
                if let ok = try await group.next() {
                    inFlight -= 1
                    if !ok { failures += 1 }
                }
            }
            while opened < calls {
                while inFlight >= concurrency { try await wait() }
                let r = request
                group.addTask {
                    guard let (_, response) = try? await session.data(for: r) else { return false }
                    return (response as? HTTPURLResponse)?.statusCode == 201
                }
                opened += 1
                inFlight += 1
            }
            while inFlight > 0 { try await wait() }
        }
        let openSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        // Each call now says its phrase and hangs up; wait for all to complete.
        let deadline = Date().addingTimeInterval(60)
        while try completedCount(control) - before < calls - failures && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let allSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let completed = try completedCount(control) - before
        print(String(format: "call setup: %d calls opened in %.2f s (%.0f calls/s, %d refused) with %d in flight; %d completed the one-action flow and hung up %.2f s after the first", calls, openSeconds, Double(calls) / openSeconds, failures, concurrency, completed, allSeconds))
        out["calls_opened_per_second"] = Double(calls) / openSeconds
        out["calls_completed"] = completed
        out["seconds_to_complete_all"] = allSeconds
        out["concurrency"] = concurrency
        session.invalidateAndCancel()
        await app.shutdown()
        await server.shutdown()
        await control.shutdown()
        return out
    }

    func completedCount(_ control: ControlPlane) throws -> Int {
        var f = SQLiteStore.CallFilter()
        f.status = "completed"
        f.limit = 500
        var total = 0
        var page = try control.store.calls(f)
        while !page.isEmpty {
            total += page.count
            guard page.count == f.limit, let last = page.last else { break }
            f.before = last.sequence
            page = try control.store.calls(f)
        }
        return total
    }
}

/// User + system CPU seconds of this process so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Runs a tool to completion; its standard output and exit status.
func runCapturing(_ executable: String, _ arguments: [String]) throws -> (String, Int32) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (String(decoding: data, as: UTF8.self), p.terminationStatus)
}
