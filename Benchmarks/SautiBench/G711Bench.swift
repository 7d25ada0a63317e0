// G.711 throughput: ours (bulk, per 60 s buffer and per 20 ms frame) beside sox converting the
// same audio in the same run.

import Foundation
import SautiAudio

/// Figures from one `g711Benchmark` run. Throughputs are in samples per second.
struct G711BenchResult {
    /// Our bulk encode/decode over the whole 60 s buffer per call.
    var ulawEncode = 0.0
    var ulawDecode = 0.0
    var alawEncode = 0.0
    var alawDecode = 0.0
    /// Our µ-law bulk calls on 160-sample (20 ms at 8 kHz) frames, as the media tick makes them.
    var ulawEncodePerFrame = 0.0
    var ulawDecodePerFrame = 0.0
    /// sox converting the same 60 s raw file, end to end (process start, file I/O, codec), from
    /// the median of several runs; nil when sox is missing.
    var soxULawEncode: Double?
    var soxULawDecode: Double?
    var soxALawEncode: Double?
    var soxALawDecode: Double?
    /// sox's marginal rate, start-up excluded: the extra samples of a 100× longer input (sox
    /// concatenating the 60 s file 100 times, output to /dev/null) over the extra time.
    var soxULawEncodeMarginal: Double?
    var soxULawDecodeMarginal: Double?
    var soxALawEncodeMarginal: Double?
    var soxALawDecodeMarginal: Double?
    /// Median seconds sox takes to convert an 8-sample file: its start-up cost, which the
    /// end-to-end figures include.
    var soxStartupSeconds: Double?
    /// Samples where `sox -D` encodes differently from us (sox rounds, the STL truncates).
    var soxEncodeDifferences: [G711Law: Int] = [:]
    /// Whether sox's decode of our codes equals ours, sample for sample.
    var soxDecodeAgrees: [G711Law: Bool] = [:]

    /// All figures by name, for machine-readable output.
    var figures: [String: Double] {
        var figures = [
            "g711_ulaw_encode_samples_per_second": ulawEncode,
            "g711_ulaw_decode_samples_per_second": ulawDecode,
            "g711_alaw_encode_samples_per_second": alawEncode,
            "g711_alaw_decode_samples_per_second": alawDecode,
            "g711_ulaw_encode_160_samples_per_second": ulawEncodePerFrame,
            "g711_ulaw_decode_160_samples_per_second": ulawDecodePerFrame,
        ]
        figures["sox_ulaw_encode_samples_per_second"] = soxULawEncode
        figures["sox_ulaw_decode_samples_per_second"] = soxULawDecode
        figures["sox_alaw_encode_samples_per_second"] = soxALawEncode
        figures["sox_alaw_decode_samples_per_second"] = soxALawDecode
        figures["sox_ulaw_encode_marginal_samples_per_second"] = soxULawEncodeMarginal
        figures["sox_ulaw_decode_marginal_samples_per_second"] = soxULawDecodeMarginal
        figures["sox_alaw_encode_marginal_samples_per_second"] = soxALawEncodeMarginal
        figures["sox_alaw_decode_marginal_samples_per_second"] = soxALawDecodeMarginal
        figures["sox_startup_seconds"] = soxStartupSeconds
        return figures
    }
}

/// Encodes and decodes 60 s of 8 kHz speech for about `seconds` per figure, times sox on the
/// same audio, prints a table and returns the figures.
func g711Benchmark(seconds: Double) -> G711BenchResult {
    let (samples, source) = g711BenchSignal(frames: 60 * 8000)
    let count = samples.count
    var result = G711BenchResult()
    let codes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count)
    let decoded = UnsafeMutableBufferPointer<Int16>.allocate(capacity: count)
    defer {
        codes.deallocate()
        decoded.deallocate()
    }

    samples.withUnsafeBufferPointer { input in
        for law in [G711Law.ulaw, .alaw] {
            let encode = samplesPerSecond(samples: count, seconds: seconds) {
                G711.encode(law, input, into: codes)
            }
            let decode = samplesPerSecond(samples: count, seconds: seconds) {
                G711.decode(law, UnsafeBufferPointer(codes), into: decoded)
            }
            // Reads the outputs (so no optimiser can drop the work) and checks them.
            let scalarEncode = law == .ulaw ? G711.encodeULaw : G711.encodeALaw
            let scalarDecode = law == .ulaw ? G711.decodeULaw : G711.decodeALaw
            for i in stride(from: 0, to: count, by: 997) {
                precondition(codes[i] == scalarEncode(input[i]), "bulk encode is wrong at \(i)")
                precondition(decoded[i] == scalarDecode(codes[i]), "bulk decode is wrong at \(i)")
            }
            if law == .ulaw {
                (result.ulawEncode, result.ulawDecode) = (encode, decode)
            } else {
                (result.alawEncode, result.alawDecode) = (encode, decode)
            }
        }

        let frame = 160
        let frames = count / frame
        result.ulawEncodePerFrame = samplesPerSecond(samples: frames * frame, seconds: seconds) {
            for f in 0..<frames {
                let range = f * frame..<(f + 1) * frame
                G711.encode(
                    .ulaw, UnsafeBufferPointer(rebasing: input[range]),
                    into: UnsafeMutableBufferPointer(rebasing: codes[range]))
            }
        }
        result.ulawDecodePerFrame = samplesPerSecond(samples: frames * frame, seconds: seconds) {
            for f in 0..<frames {
                let range = f * frame..<(f + 1) * frame
                G711.decode(
                    .ulaw, UnsafeBufferPointer(rebasing: codes[range]),
                    into: UnsafeMutableBufferPointer(rebasing: decoded[range]))
            }
        }
        precondition(decoded[count / 2] == G711.decodeULaw(G711.encodeULaw(input[count / 2])))
    }

    timeSox(samples, into: &result)
    printG711Table(result, samples: count, source: source, seconds: seconds)
    return result
}

/// Runs `body` (which handles `samples` samples) repeatedly for about `seconds`, after one
/// warm-up call, and returns samples per second.
private func samplesPerSecond(samples: Int, seconds: Double, _ body: () -> Void) -> Double {
    body()
    let clock = ContinuousClock()
    let start = clock.now
    var calls = 0
    var elapsed = Duration.zero
    repeat {
        body()
        calls += 1
        elapsed = clock.now - start
    } while elapsed < .seconds(seconds)
    return Double(calls * samples) / elapsed.seconds
}

/// 60 s of mono 8 kHz: `speech_8k.wav` from the shared corpus repeated, or, without it, a
/// generated speech-like signal (voiced harmonics under a syllable-rate envelope, plus noise).
private func g711BenchSignal(frames: Int) -> (samples: [Int16], source: String) {
    let relative = "shared/corpus/audio_src/speech_8k.wav"
    let candidates = [
        "../" + relative,  // run from the package root (swift run)
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../" + relative).standardized.path,
    ]
    for path in candidates {
        guard let (info, speech) = try? WAVReader.read(path: path),
            info.sampleRate == 8000, info.channels == 1, !speech.isEmpty
        else { continue }
        return ((0..<frames).map { speech[$0 % speech.count] }, "speech_8k.wav repeated")
    }
    var noise: UInt32 = 0x2545_F491  // fixed seed: the same signal every run
    let samples = (0..<frames).map { n -> Int16 in
        let t = Double(n) / 8000
        let pitch = 120 + 30 * sin(2 * .pi * 0.7 * t)
        let envelope = max(0, sin(2 * .pi * 4 * t))
        var voiced = 0.0
        for harmonic in 1...8 {
            voiced += sin(2 * .pi * pitch * Double(harmonic) * t) / Double(harmonic)
        }
        noise = noise &* 1_664_525 &+ 1_013_904_223
        let hiss = Double(Int32(bitPattern: noise)) / Double(Int32.max)
        return Int16(max(-32768, min(32767, 6000 * envelope * voiced + 300 * hiss)))
    }
    return (samples, "generated speech-like signal (speech_8k.wav not found)")
}

/// Times sox on the same audio (and on it repeated 100 times, to separate its start-up from its
/// codec) and compares its output with ours; leaves the sox fields nil when sox cannot be run.
private func timeSox(_ samples: [Int16], into result: inout G711BenchResult) {
    let fileManager = FileManager.default
    let directory = fileManager.temporaryDirectory
        .appendingPathComponent("sauti-g711-bench-\(getpid())")
    try? fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? fileManager.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    func write(_ data: Data, _ name: String) -> Bool {
        (try? data.write(to: URL(fileURLWithPath: path(name)))) != nil
    }

    let repeats = 100
    let pcm = samples.withUnsafeBytes { Data($0) }  // s16le on a little-endian machine
    guard write(pcm, "in.raw"), write(Data(repeating: 0, count: 16), "tiny.raw") else { return }

    let runs = 7
    /// `sox` converting `copies` copies of `input` (concatenated by sox) to `output`.
    func encodeArguments(_ input: String, _ law: G711Law, copies: Int = 1, to output: String)
        -> [String]
    {
        let linear = ["-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1"]
        return ["-D"] + Array(repeating: linear + [path(input)], count: copies).joined()
            + ["-t", "raw", "-e", law == .ulaw ? "u-law" : "a-law", output]
    }
    func decodeArguments(_ input: String, _ law: G711Law, copies: Int = 1, to output: String)
        -> [String]
    {
        let encoding = law == .ulaw ? "u-law" : "a-law"
        let compressed = ["-t", "raw", "-r", "8000", "-e", encoding, "-b", "8", "-c", "1"]
        return ["-D"] + Array(repeating: compressed + [path(input)], count: copies).joined()
            + ["-t", "raw", "-e", "signed", "-b", "16", output]
    }

    let tiny = encodeArguments("tiny.raw", .ulaw, to: path("tiny.codes"))
    guard let startup = medianSoxSeconds(tiny, runs: runs) else { return }
    result.soxStartupSeconds = startup
    let count = Double(samples.count)
    for law in [G711Law.ulaw, .alaw] {
        // sox decodes our codes, so its output can be compared with our decode sample for sample.
        let codes = samples.map(law == .ulaw ? G711.encodeULaw : G711.encodeALaw)
        guard write(Data(codes), "ours.codes") else { return }

        let longEncode = medianSoxSeconds(
            encodeArguments("in.raw", law, copies: repeats, to: "/dev/null"), runs: 3)
        let longDecode = medianSoxSeconds(
            decodeArguments("ours.codes", law, copies: repeats, to: "/dev/null"), runs: 3)
        let encode = medianSoxSeconds(
            encodeArguments("in.raw", law, to: path("sox.codes")), runs: runs)
        let decode = medianSoxSeconds(
            decodeArguments("ours.codes", law, to: path("sox.raw")), runs: runs)
        func marginal(_ long: Double?, _ short: Double?) -> Double? {
            guard let long, let short, long > short else { return nil }
            return Double(repeats - 1) * count / (long - short)
        }
        let rates = (
            encode.map { count / $0 }, decode.map { count / $0 },
            marginal(longEncode, encode), marginal(longDecode, decode)
        )
        if law == .ulaw {
            (result.soxULawEncode, result.soxULawDecode) = (rates.0, rates.1)
            (result.soxULawEncodeMarginal, result.soxULawDecodeMarginal) = (rates.2, rates.3)
        } else {
            (result.soxALawEncode, result.soxALawDecode) = (rates.0, rates.1)
            (result.soxALawEncodeMarginal, result.soxALawDecodeMarginal) = (rates.2, rates.3)
        }

        if let theirs = fileManager.contents(atPath: path("sox.codes")), theirs.count == codes.count
        {
            result.soxEncodeDifferences[law] = zip(theirs, codes).count { $0 != $1 }
        }
        if let theirs = fileManager.contents(atPath: path("sox.raw")) {
            let ours = codes.map(law == .ulaw ? G711.decodeULaw : G711.decodeALaw)
            result.soxDecodeAgrees[law] = theirs == ours.withUnsafeBytes { Data($0) }
        }
    }
}

/// Median wall-clock seconds of `runs` runs of `sox arguments`, or nil if any run fails.
private func medianSoxSeconds(_ arguments: [String], runs: Int) -> Double? {
    var times: [Double] = []
    for _ in 0..<runs {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sox"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let clock = ContinuousClock()
        let start = clock.now
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        let elapsed = clock.now - start
        guard process.terminationStatus == 0 else { return nil }
        times.append(elapsed.seconds)
    }
    return times.sorted()[times.count / 2]
}

private func printG711Table(
    _ result: G711BenchResult, samples: Int, source: String, seconds: Double
) {
    func mega(_ value: Double?) -> String {
        value.map { String(format: "%10.1f", $0 / 1e6) } ?? "         -"
    }
    func ratio(_ ours: Double, _ theirs: Double?) -> String {
        theirs.map { String(format: "%9.0f×", ours / $0) } ?? "         -"
    }
    print(
        "G.711: \(samples) samples (\(samples / 8000) s at 8 kHz, \(source)); "
            + String(format: "%.1f s per figure of ours", seconds))
    print("Msamples/s                 ours   sox (60 s file)  sox (marginal)  ours/sox (marginal)")
    let rows: [(String, Double, Double?, Double?)] = [
        ("µ-law encode", result.ulawEncode, result.soxULawEncode, result.soxULawEncodeMarginal),
        ("µ-law decode", result.ulawDecode, result.soxULawDecode, result.soxULawDecodeMarginal),
        ("A-law encode", result.alawEncode, result.soxALawEncode, result.soxALawEncodeMarginal),
        ("A-law decode", result.alawDecode, result.soxALawDecode, result.soxALawDecodeMarginal),
        ("µ-law encode, 160/call", result.ulawEncodePerFrame, nil, nil),
        ("µ-law decode, 160/call", result.ulawDecodePerFrame, nil, nil),
    ]
    for (name, ours, sox, soxMarginal) in rows {
        let label = name.padding(toLength: 22, withPad: " ", startingAt: 0)
        print(
            "\(label)\(mega(ours))      \(mega(sox))      \(mega(soxMarginal))      "
                + ratio(ours, soxMarginal))
    }
    guard let startup = result.soxStartupSeconds else {
        print("sox: not run (is it installed?)")
        return
    }
    print(
        "sox: whole runs of `sox -D -t raw …` (process start, file I/O, codec), median of 7; "
            + "marginal = extra samples / extra time of 100 copies concatenated. "
            + String(format: "sox start-up alone (8-sample file): %.1f ms.", startup * 1e3))
    for law in [G711Law.ulaw, .alaw] {
        let differences = result.soxEncodeDifferences[law].map(String.init) ?? "?"
        let agrees = result.soxDecodeAgrees[law].map { $0 ? "identical" : "DIFFERENT" } ?? "?"
        print(
            "\(law): sox encode differs from ours (STL) on \(differences) of \(samples) samples "
                + "(sox rounds, the STL truncates); sox decode of our codes: \(agrees).")
    }
}

extension Duration {
    /// The duration in seconds.
    fileprivate var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
