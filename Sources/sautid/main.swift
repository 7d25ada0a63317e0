// sautid: the engine's daemon. The control API over HTTP, the store, the media plane.

import Foundation
import SautiControl
import SautiHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Prints a line and flushes it (stdout is a pipe or a file when supervised).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("-h") || arguments.contains("--help") {
    print(DaemonOptions.usage)
    exit(0)
}
if arguments.contains("--openapi") {
    FileHandle.standardOutput.write(OpenAPI.json)
    print()
    exit(0)
}

func fail(_ message: String, status: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("sautid: \(message)\n".utf8))
    exit(status)
}

let configuration: ControlConfiguration
do {
    configuration = try DaemonOptions.parse(arguments, environment: ProcessInfo.processInfo.environment)
} catch {
    fail("\(error)", status: 2)
}

let control: ControlPlane
do {
    control = try ControlPlane(configuration: configuration)
} catch {
    fail("cannot start: \(error)")
}
let api = ControlAPI(control: control)
var httpConfiguration = HTTPServerConfiguration()
httpConfiguration.host = configuration.apiHost
httpConfiguration.port = configuration.apiPort
let server: HTTPServer
do {
    server = try HTTPServer(configuration: httpConfiguration) { request in await api.handle(request) }
    try server.start()
} catch {
    fail("cannot serve the API on \(configuration.apiHost):\(configuration.apiPort): \(error)")
}

let data = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path
say("sautid: API on http://\(configuration.apiHost):\(server.port) (OpenAPI at /v1/openapi.json)")
say("sautid: store \(data)/sauti.db, recordings \(data)/recordings")
say("sautid: RTP on \(configuration.mediaAddress) ports \(configuration.rtpFirstPort)-\(configuration.rtpLastPort)")
say(
    "sautid: bearer tokens: registrar "
        + (configuration.registrarToken == nil ? "in \(data)/registrar.token" : "as configured") + ", customer "
        + (configuration.customerTokens.isEmpty ? "in \(data)/customer.token" : "as configured"))
say("sautid: ready")

// Recordings past their retention are pruned hourly.
let pruner = Task {
    while !Task.isCancelled {
        control.pruneRecordings()
        try? await Task.sleep(for: .seconds(3600))
    }
}

// SIGTERM or SIGINT: stop taking requests, end live calls (recordings are finished and
// fsynced), close the store, exit 0.
signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
let stop = AsyncStream<Int32> { continuation in
    let sources = [SIGTERM, SIGINT].map { s in
        let source = DispatchSource.makeSignalSource(signal: s)
        source.setEventHandler { continuation.yield(s) }
        source.resume()
        return source
    }
    // The sources live as long as the stream.
    nonisolated(unsafe) let keep = sources
    continuation.onTermination = { _ in _ = keep }
}
for await s in stop {
    say("sautid: signal \(s): shutting down")
    break
}
pruner.cancel()
await server.shutdown()
await control.shutdown()
await control.drainEvents()
say("sautid: stopped")
// Every write is committed (SQLite, the recordings fsynced): leave without running exit
// handlers, which would tear libraries (OpenSSL) down under a thread still finishing.
_exit(0)
