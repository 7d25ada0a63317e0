import Foundation
import SautiTestSupport

/// Runs sox's tools (`sox`, `soxi`) as subprocesses: the real peer the WAV tests check against.
/// They must be installed (`apt-get install sox`).
enum Sox {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `tool arguments…` and returns its standard output without the trailing newline.
    /// Throws with its standard error when it cannot start or exits non-zero.
    static func run(_ tool: String, _ arguments: [String]) async throws -> String {
        let run = try await runTool("/usr/bin/env", [tool] + arguments, errors: .separate)
        guard run.status == 0 else {
            throw Failure(
                description: "\(tool) \(arguments.joined(separator: " ")) exited "
                    + "\(run.status) (is sox installed?): \(run.errors)")
        }
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What `soxi` reports about a file.
    struct Info: Equatable, CustomStringConvertible {
        var sampleRate: String
        var channels: String
        var encoding: String
        var bitsPerSample: String
        var frames: String
        var durationSeconds: String

        var description: String {
            "\(sampleRate) Hz, \(channels) ch, \(encoding) \(bitsPerSample)-bit, \(frames) frames, "
                + "\(durationSeconds) s"
        }
    }

    static func info(_ path: String) async throws -> Info {
        Info(
            sampleRate: try await run("soxi", ["-r", path]),
            channels: try await run("soxi", ["-c", path]),
            encoding: try await run("soxi", ["-e", path]),
            bitsPerSample: try await run("soxi", ["-b", path]),
            frames: try await run("soxi", ["-s", path]),
            durationSeconds: try await run("soxi", ["-D", path]))
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("SautiAudioTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
