// Running a command-line tool (curl, sox, soxi, python3, tshark, sauti) to completion from
// async test code: its output goes to temporary files and its end is awaited by polling
// (BoundedProcess.wait), so no thread of the cooperative pool is parked for the tool's run.
// (Process.waitUntilExit or reading a pipe to EOF would park one; with two pool threads on
// a 2-core machine, that made other suites' Task.sleep wake hundreds of ms late.)

import Foundation

/// What a tool run by `runTool` did.
public struct ToolRun: Sendable {
    /// Where the tool's standard error goes.
    public enum ErrorOutput: Sendable {
        /// Into `output`, interleaved with standard output as written (curl -v, a script's
        /// traceback in a failure message).
        case merged
        /// Into `errors`, apart from `output` (a tool whose standard output is parsed).
        case separate
    }

    /// Its exit status (the signal's number if a signal ended it), or -1 when it outlived
    /// its deadline and was ended.
    public let status: Int32
    /// Whether it outlived its deadline and was ended.
    public let killed: Bool
    /// Its standard output (with its standard error when `.merged`), decoded as UTF-8.
    public let output: String
    /// Its standard error when `.separate`; "" when `.merged`.
    public let errors: String
}

/// Runs `executable arguments…` to completion, standard input empty, and ends it (SIGTERM,
/// then SIGKILL) if it runs longer than `seconds`. Throws only when it cannot be started.
public func runTool(
    _ executable: String, _ arguments: [String], seconds: Double = 30, errors: ToolRun.ErrorOutput = .merged
) async throws -> ToolRun {
    let dir = makeTemporaryDirectory(prefix: "sauti-tool")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let errorLog = errors == .separate ? dir + "/errors" : nil
    let p = try BoundedProcess(executable, arguments, log: dir + "/output", errorLog: errorLog)
    let (status, killed) = await p.wait(seconds: seconds)
    // Decoded leniently: a stray byte that is not UTF-8 does not lose the whole output.
    func read(_ path: String?) -> String {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
    return ToolRun(status: killed ? -1 : status, killed: killed, output: read(p.logPath), errors: read(errorLog))
}
