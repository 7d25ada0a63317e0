import Foundation
import SautiReplay

/// `sauti`: the Sautikit command line.
let usage = """
    usage: sauti replay CAPTURE [options]     report and decode the RTP streams of a capture
           sauti call HOST:PORT [options]     call an RTP peer: send a WAV and digits, record, report
           sauti validate FILE|-              check a voice-actions document (JSON or XML), print it normalized

    sauti replay --help and sauti call --help tell more.
    """

let replayUsage = """
    usage: sauti replay CAPTURE [--out DIR] [--json] [--stream SSRC]... [--decode-as PORT[=PT/CODEC/RATE]]... [--opus-rate HZ] [--quiet]

    Finds every RTP stream in a pcap or pcapng capture and reports, per stream, packets,
    loss, duplicates, reordering, delta and jitter (Wireshark-compatible), RFC 4733 digits
    and RTCP; with --out, writes one WAV per stream of the decoded audio, played out
    through a jitter buffer against the capture's arrival times.

      --out DIR        write WAVs into DIR (created if missing)
      --json           print the report as JSON instead of a table
      --stream SSRC    only this SSRC (hex 0x1234abcd or decimal); repeatable
      --decode-as R    treat UDP port PORT as RTP; with =PT/CODEC/RATE also map a
                       payload type, e.g. --decode-as 4000=96/opus/48000; repeatable
      --opus-rate HZ   decode Opus streams at HZ (8000, 12000, 16000, 24000 or 48000;
                       default 48000): a plain libopus decode at that rate, FEC from
                       the next packet and PLC where packets are missing
      --quiet          no progress on stderr

    exit status: 0 streams reported; 1 the capture is unreadable (partial report printed);
    2 usage error; 3 no RTP stream found.
    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("sauti: \(message)\n".utf8))
    exit(status)
}

func parseSSRC(_ text: String) -> UInt32? {
    let t = text.lowercased()
    if t.hasPrefix("0x") { return UInt32(t.dropFirst(2), radix: 16) }
    return UInt32(t)
}

func replayCommand(_ args: ArraySlice<String>) -> Never {
    var options = ReplayOptions()
    var path: String?
    var json = false
    var quiet = false
    var it = args.makeIterator()
    while let a = it.next() {
        switch a {
        case "--out":
            guard let v = it.next() else { fail("--out needs a folder") }
            options.outputDirectory = v
        case "--json": json = true
        case "--opus-rate":
            guard let v = it.next(), let r = Int(v), [8000, 12000, 16000, 24000, 48000].contains(r) else {
                fail("--opus-rate needs 8000, 12000, 16000, 24000 or 48000")
            }
            options.opusSampleRate = r
        case "--quiet", "-q": quiet = true
        case "--stream":
            guard let v = it.next() else { fail("--stream needs an SSRC") }
            for part in v.split(separator: ",") {
                guard let s = parseSSRC(String(part)) else { fail("--stream \(part): not an SSRC (hex 0x… or decimal)") }
                options.ssrcFilter.insert(s)
            }
        case "--decode-as":
            guard let v = it.next() else { fail("--decode-as needs PORT or PORT=PT/CODEC/RATE") }
            switch DecodeAsRule.parse(v) {
            case .success(let r): options.decodeAs.append(r)
            case .failure(let e): fail(e.description)
            }
        case "-h", "--help":
            print(replayUsage)
            exit(0)
        default:
            if a.hasPrefix("-") { fail("unknown option \(a)\n\(replayUsage)") }
            guard path == nil else { fail("one capture at a time (got \(path!) and \(a))") }
            path = a
        }
    }
    guard let path else { fail("replay needs a capture file\n\(replayUsage)") }
    if !quiet {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size > 4 << 20 {
            let started = Date()
            nonisolated(unsafe) var lastShown = -1
            options.progress = { done, total in
                let pct = total > 0 ? done * 100 / total : 100
                if pct / 10 != lastShown / 10 || pct == 100 && lastShown != 100 {
                    lastShown = pct
                    let secs = Date().timeIntervalSince(started)
                    FileHandle.standardError.write(Data(String(format: "replay: %3d%% of %@ (%.1f s)\n", pct, path, secs).utf8))
                }
            }
        }
    }
    let report: ReplayReport
    do {
        report = try Replay.run(path: path, options: options)
    } catch {
        fail("\(error)", status: 1)
    }
    if json {
        do {
            FileHandle.standardOutput.write(try report.jsonData())
            FileHandle.standardOutput.write(Data("\n".utf8))
        } catch {
            fail("could not encode the report: \(error)", status: 1)
        }
    } else {
        FileHandle.standardOutput.write(Data(report.table().utf8))
    }
    if let e = report.error {
        FileHandle.standardError.write(Data("sauti: \(path): \(e.message)\n".utf8))
        exit(1)
    }
    if report.streams.isEmpty {
        FileHandle.standardError.write(Data("sauti: \(path): no RTP stream found\n".utf8))
        exit(3)
    }
    exit(0)
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "replay": replayCommand(arguments.dropFirst())
case "call": await callCommand(arguments.dropFirst())
case "validate": validateCommand(arguments.dropFirst())
case "-h", "--help", "help": print(usage)
case nil: fail(usage)
default: fail("unknown command \(arguments.first!)\n\(usage)")
}
