import Foundation
import SautiVoice

let validateUsage = """
    usage: sauti validate FILE|- [--errors-json]

    Parses and validates a voice-actions document (JSON, or XML when its first character
    that is not white space is `<`; docs/voice-actions.md) and prints its normalized model
    as JSON. On problems, prints every one to stderr as LINE:COLUMN: WHERE: KIND: found …,
    expected …; with --errors-json, prints them to stdout as JSON instead.

    exit status: 0 valid; 1 invalid; 2 usage error or unreadable file.
    """

/// `sauti validate FILE|-`.
func validateCommand(_ args: ArraySlice<String>) -> Never {
    var source: String?
    var errorsJSON = false
    for a in args {
        switch a {
        case "-h", "--help":
            print(validateUsage)
            exit(0)
        case "--errors-json": errorsJSON = true
        default:
            if a.hasPrefix("-") && a != "-" { fail("unknown option \(a)\n\(validateUsage)") }
            guard source == nil else { fail("one document at a time\n\(validateUsage)") }
            source = a
        }
    }
    guard let source else { fail("validate needs a file, or - for standard input\n\(validateUsage)") }
    let handle: FileHandle
    if source == "-" {
        handle = FileHandle.standardInput
    } else {
        guard let h = FileHandle(forReadingAtPath: source) else { fail("\(source): cannot open") }
        handle = h
    }
    // Read one byte past the limit, so that an oversized document is reported, not cut.
    let data: Data
    do {
        data = try handle.read(upToCount: VoiceLimits.maxDocumentBytes + 1) ?? Data()
    } catch {
        fail("\(source): \(error.localizedDescription)")
    }
    let name = source == "-" ? "<stdin>" : source
    do {
        let document = try VoiceDocument.parse([UInt8](data))
        FileHandle.standardOutput.write(Data(document.normalizedJSON().utf8))
        exit(0)
    } catch {
        if errorsJSON {
            FileHandle.standardOutput.write(Data(error.jsonRendering().utf8))
        } else {
            let lines = error.issues.map { "\(name):\($0.description)\n" }.joined()
            FileHandle.standardError.write(Data(lines.utf8))
        }
        exit(1)
    }
}
