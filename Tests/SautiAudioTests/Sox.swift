import Foundation

/// Runs sox's tools (`sox`, `soxi`) as subprocesses: the real peer the WAV tests check against.
/// They must be installed (`apt-get install sox`).
enum Sox {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `tool arguments…` and returns its standard output without the trailing newline.
    /// Throws with its standard error when it cannot start or exits non-zero.
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Small outputs only (soxi answers, sox warnings): reading one pipe after the other
        // cannot deadlock on a full pipe.
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: stderr, as: UTF8.self)
            throw Failure(
                description: "\(tool) \(arguments.joined(separator: " ")) exited "
                    + "\(process.terminationStatus) (is sox installed?): \(message)")
        }
        return String(decoding: stdout, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
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

    static func info(_ path: String) throws -> Info {
        Info(
            sampleRate: try run("soxi", ["-r", path]),
            channels: try run("soxi", ["-c", path]),
            encoding: try run("soxi", ["-e", path]),
            bitsPerSample: try run("soxi", ["-b", path]),
            frames: try run("soxi", ["-s", path]),
            durationSeconds: try run("soxi", ["-D", path]))
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
