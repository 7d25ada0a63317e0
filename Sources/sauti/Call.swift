// `sauti call`: a test caller. Opens one leg to HOST:PORT, plays a WAV into it in real
// time, sends RFC 4733 digits at given offsets, records what comes back, and reports the
// RTP statistics of both directions (ours from the leg, the far end's from its RTCP).

import Foundation
import SautiAudio
import SautiMedia
import SautiWire
import Synchronization

let callUsage = """
    usage: sauti call HOST:PORT [--wav IN.wav] [--codec pcmu|pcma|opus] [--digits SPEC]
                      [--duration SECONDS] [--record OUT.wav] [--local-port N] [--json]
                      [--payload-type N] [--ptime MS]
           sauti call --sdp-in OFFER.sdp [--sdp-out ANSWER.sdp] [options as above]

    Opens an RTP leg to HOST:PORT (IPv4, or IPv6 in brackets: [::1]:4000), sends IN.wav
    as RTP in real time, sends RFC 4733 digits at the given times, records what comes
    back, and prints the RTP statistics of both directions: ours (packets, bytes, loss,
    jitter, late, concealed, digits) and the far end's from its RTCP reports (fraction
    lost, jitter, round-trip time).

      --wav IN.wav       audio to send: mono WAV, 8 kHz for pcmu and pcma; for opus
                         8, 12, 16, 24 or 48 kHz, the rate the leg runs at (silence
                         without it, at 16 kHz for opus)
      --codec C          pcmu (default, PT 0), pcma (PT 8) or opus (RFC 7587,
                         opus/48000/2, PT 111: 24 kb/s VBR, in-band FEC); digits use
                         PT 101 at the codec's clock
      --payload-type N   the payload type to send opus with (96-127; default 111)
      --ptime MS         opus packets of 10, 20 (default), 40 or 60 ms
      --sdp-in FILE      the far end's SDP offer: the call answers it, taking the far
                         end's address, the codec (opus, pcmu, pcma in that order, or
                         only --codec when given), payload types, ptime and the Opus
                         fmtp (bitrate cap, FEC, DTX, band) from it; no HOST:PORT then
      --sdp-out FILE     write this side's answer to --sdp-in (our address, port,
                         codec and fmtp) for the far end
      --digits SPEC      digits and when to send them, in seconds from the start:
                         "1@1.0,2@1.5,#@3" (0-9 * # A-D)
      --duration S       how long the call lasts, in seconds (default: the WAV's
                         length + 1, or 5 without a WAV)
      --record OUT.wav   write what the far end sent, decoded, as 16-bit 8 kHz WAV,
                         as the call goes (the media engine's recorder: a killed
                         call leaves a playable file missing at most its last second)
      --local-port N     bind RTP to the even port N (RTCP on N+1); default: a free
                         pair in 20000-29999
      --rtcp-interval S  seconds between our RTCP reports (default 1)
      --json             print the statistics as JSON instead of a table

    exit status: 0 the call ran; 1 it could not (no port, recording not written or
    failed: then at once, with the reason);
    2 usage error (bad arguments, missing or unusable WAV).
    """

/// A digit to send and when, in seconds from the start of the call.
struct ScheduledDigit: Equatable {
    var digit: Character
    var atSeconds: Double
}

/// What the command line asked for.
struct CallOptions {
    var remote: Endpoint
    var wavPath: String?
    var codec: AudioCodec = .pcmu
    /// `--codec` was given (an SDP offer is then answered with that codec only).
    var codecGiven = false
    var payloadType: UInt8?
    var ptimeMilliseconds: Int?
    var sdpInPath: String?
    var sdpOutPath: String?
    var digits: [ScheduledDigit] = []
    var durationSeconds: Double?
    var recordPath: String?
    var localPort: UInt16?
    var rtcpIntervalSeconds = 1.0
    var json = false
}

/// A bad command-line argument, with the message to print.
struct ArgumentError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Parses `HOST:PORT`: a dotted IPv4 address, `[IPv6]`, or `localhost`, and a port 1-65535.
func parseHostPort(_ text: String) throws(ArgumentError) -> Endpoint {
    let host: Substring
    let portText: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
            throw ArgumentError("\(text): an IPv6 address goes in brackets with a port: [::1]:4000")
        }
        host = text[text.index(after: text.startIndex)..<close]
        portText = text[text.index(close, offsetBy: 2)...]
    } else {
        guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
            throw ArgumentError("\(text): expected HOST:PORT, e.g. 127.0.0.1:4000 or [::1]:4000")
        }
        host = text[..<colon]
        portText = text[text.index(after: colon)...]
    }
    guard let port = UInt16(portText), port > 0 else {
        throw ArgumentError("\(text): the port must be a number from 1 to 65535")
    }
    let address: IPAddress?
    switch host.lowercased() {
    case "localhost": address = .v4(0x7F00_0001)
    default: address = IPAddress(host)
    }
    guard let address, address.isV6 == text.hasPrefix("[") else {
        throw ArgumentError("\(text): \(host) is not an IPv4 address (or an IPv6 one in brackets)")
    }
    return Endpoint(address: address, port: port)
}

/// Parses `"1@1.0,2@1.5,#@3"`: each digit (0-9 * # A-D) at a time in seconds (≥ 0).
func parseDigitSchedule(_ text: String) throws(ArgumentError) -> [ScheduledDigit] {
    var out: [ScheduledDigit] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
        let parts = item.trimmingCharacters(in: .whitespaces).split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 1, let digit = parts[0].uppercased().first,
            TelephoneEvent.code(for: digit) != nil
        else {
            throw ArgumentError("--digits \(text): \"\(item)\" is not DIGIT@SECONDS with a digit 0-9 * # A-D")
        }
        guard let at = Double(parts[1]), at.isFinite, at >= 0 else {
            throw ArgumentError("--digits \(text): \"\(item)\": the time must be seconds from the start, 0 or more")
        }
        out.append(ScheduledDigit(digit: digit, atSeconds: at))
    }
    return out.sorted { $0.atSeconds < $1.atSeconds }
}

/// Parses the arguments after `call`; fails (status 2) with a message on a bad one.
func parseCallOptions(_ args: ArraySlice<String>) -> CallOptions {
    var remote: Endpoint?
    var options = CallOptions(remote: Endpoint(address: .v4(0), port: 0))
    var it = args.makeIterator()
    func value(_ flag: String, _ what: String) -> String {
        guard let v = it.next() else { fail("\(flag) needs \(what)\n\(callUsage)") }
        return v
    }
    while let a = it.next() {
        switch a {
        case "--wav": options.wavPath = value(a, "a WAV file")
        case "--record": options.recordPath = value(a, "an output WAV path")
        case "--json": options.json = true
        case "--codec":
            switch value(a, "pcmu, pcma or opus").lowercased() {
            case "pcmu", "ulaw", "g711u": options.codec = .pcmu
            case "pcma", "alaw", "g711a": options.codec = .pcma
            case "opus": options.codec = .opus
            case let other: fail("--codec \(other): sauti call sends pcmu, pcma or opus")
            }
            options.codecGiven = true
        case "--payload-type":
            let v = value(a, "a dynamic payload type")
            guard let pt = UInt8(v), 96...127 ~= pt else {
                fail("--payload-type \(v): need a dynamic payload type, 96 to 127 (RFC 3551)")
            }
            options.payloadType = pt
        case "--ptime":
            let v = value(a, "milliseconds")
            guard let ms = Int(v), [10, 20, 40, 60].contains(ms) else {
                fail("--ptime \(v): opus packets of 10, 20, 40 or 60 ms")
            }
            options.ptimeMilliseconds = ms
        case "--sdp-in": options.sdpInPath = value(a, "the far end's SDP offer")
        case "--sdp-out": options.sdpOutPath = value(a, "a path for this side's SDP")
        case "--digits":
            let v = value(a, "a schedule like \"1@1.0,2@1.5,#@3\"")
            do {
                options.digits = try parseDigitSchedule(v)
            } catch {
                fail(error.description)
            }
        case "--duration":
            let v = value(a, "seconds")
            guard let s = Double(v), s.isFinite, s > 0, s <= 24 * 3600 else {
                fail("--duration \(v): need a number of seconds above 0 (at most a day)")
            }
            options.durationSeconds = s
        case "--rtcp-interval":
            let v = value(a, "seconds")
            guard let s = Double(v), s.isFinite, s >= 0.1 else {
                fail("--rtcp-interval \(v): need seconds, 0.1 or more")
            }
            options.rtcpIntervalSeconds = s
        case "--local-port":
            let v = value(a, "an even port")
            guard let p = UInt16(v), p > 0, p % 2 == 0, p < 65535 else {
                fail("--local-port \(v): need an even port from 2 to 65534 (RTP on it, RTCP on the next)")
            }
            options.localPort = p
        case "-h", "--help":
            print(callUsage)
            exit(0)
        default:
            if a.hasPrefix("-") { fail("unknown option \(a)\n\(callUsage)") }
            guard remote == nil else { fail("one HOST:PORT at a time (got \(remote!) and \(a))") }
            do {
                remote = try parseHostPort(a)
            } catch {
                fail(error.description)
            }
        }
    }
    if options.sdpInPath != nil {
        if let remote { fail("--sdp-in gives the far end's address: no HOST:PORT with it (got \(remote))") }
    } else {
        guard let remote else { fail("call needs HOST:PORT (or --sdp-in OFFER.sdp)\n\(callUsage)") }
        options.remote = remote
    }
    if options.sdpInPath != nil {
        if options.payloadType != nil { fail("--payload-type: with --sdp-in the offer numbers the codecs") }
        if options.ptimeMilliseconds != nil { fail("--ptime: with --sdp-in the offer's ptime and maxptime decide") }
    } else if let path = options.sdpOutPath {
        fail("--sdp-out \(path): writes the answer to an offer, so it needs --sdp-in OFFER.sdp")
    }
    if options.codec != .opus {
        if options.payloadType != nil { fail("--payload-type is for --codec opus (pcmu is 0, pcma 8)") }
        if options.ptimeMilliseconds != nil { fail("--ptime is for --codec opus (pcmu and pcma send 20 ms)") }
    }
    return options
}

/// Reads the WAV to send: mono, at a rate the codec's leg runs at (8 kHz for G.711; 8, 12,
/// 16, 24 or 48 kHz for Opus, when `opus`). Returns the samples and the rate.
func loadCallWAV(_ path: String, opus: Bool) -> (samples: [Int16], rate: Int) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
        fail("--wav \(path): no such file")
    }
    let wav: (info: WAVInfo, samples: [Int16])
    do {
        wav = try WAVReader.read(path: path)
    } catch {
        fail("--wav \(error)")
    }
    let rates = opus ? [8000, 12_000, 16_000, 24_000, 48_000] : [8000]
    guard rates.contains(wav.info.sampleRate), wav.info.channels == 1 else {
        let channels = wav.info.channels == 1 ? "mono" : "\(wav.info.channels) channels"
        let wanted = opus ? "opus sends mono at 8, 12, 16, 24 or 48 kHz" : "sauti call sends 8 kHz mono"
        let rate = opus ? 16_000 : 8000
        fail(
            "--wav \(path) is \(wav.info.sampleRate) Hz \(channels); \(wanted) as it is. "
                + "Convert it first: sox \(path) -r \(rate) -c 1 out.wav")
    }
    return (wav.samples, wav.info.sampleRate)
}

/// What the leg reported while the call ran.
final class CallEventLog: Sendable {
    private struct State {
        var digitsReceived = ""
        var digitsSent = ""
        var mediaTimeouts = 0
        var recording: RecordingOutcome?
    }
    private let state = Mutex(State())

    func record(_ event: LegEvent) {
        state.withLock { s in
            switch event {
            case .digit(let d, _): s.digitsReceived.append(d)
            case .digitsSent(let d): s.digitsSent += d
            case .mediaTimeout: s.mediaTimeouts += 1
            case .recordingFinished(let outcome): s.recording = outcome
            default: break
            }
        }
    }

    var digitsReceived: String { state.withLock { $0.digitsReceived } }
    var digitsSent: String { state.withLock { $0.digitsSent } }
    var mediaTimeouts: Int { state.withLock { $0.mediaTimeouts } }
    /// How the recording ended, once it did.
    var recording: RecordingOutcome? { state.withLock { $0.recording } }
}

/// The report `sauti call` prints.
struct CallReport: Encodable {
    struct Sent: Encodable {
        var packets: Int
        var bytes: Int
        var rtcpPackets: Int
        var digits: String
        var sendErrors: Int
    }
    struct Received: Encodable {
        var packets: Int
        var bytes: Int
        var lost: Int
        var duplicates: Int
        var outOfOrder: Int
        var jitterMs: Double
        var late: Int
        var concealedFrames: Int
        var jitterBufferDelayMs: Double
        var strayPackets: Int
        var unknownPayloadType: Int
        var malformedRtp: Int
        var rtcpPackets: Int
        var digitsReceived: Int
        var digits: String
        var mediaTimeouts: Int
    }
    /// The far end's view of our stream, from its RTCP receiver reports (null until one came).
    struct FarEnd: Encodable {
        var fractionLost: Double?
        var jitterMs: Double?
        var rttMs: Double?

        enum CodingKeys: String, CodingKey { case fractionLost, jitterMs, rttMs }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            // Written as null rather than left out: "no report came" is an answer too.
            try c.encode(fractionLost, forKey: .fractionLost)
            try c.encode(jitterMs, forKey: .jitterMs)
            try c.encode(rttMs, forKey: .rttMs)
        }
    }

    var local: String
    var remote: String
    var codec: String
    var payloadType: Int
    var durationSeconds: Double
    var wav: String?
    var record: String?
    var recordedSeconds: Double
    var sent: Sent
    var received: Received
    var farEnd: FarEnd

    var clockRate: Int
    var sampleRate: Int
    var ptimeMs: Int

    init(
        options: CallOptions, leg configuration: LegConfiguration, local: Endpoint, duration: Double,
        recordedSamples: Int, stats s: LegStatistics, events: CallEventLog
    ) {
        self.local = "\(local)"
        remote = configuration.remote.map { "\($0)" } ?? "\(options.remote)"
        codec = configuration.codec.rawValue
        payloadType = Int(configuration.payloadType)
        clockRate = configuration.codec.clockRate
        sampleRate = configuration.sampleRate
        ptimeMs = configuration.codec == .opus ? configuration.opus.effectivePtimeMilliseconds : 20
        durationSeconds = duration
        wav = options.wavPath
        record = options.recordPath
        recordedSeconds = Double(recordedSamples) / Double(configuration.sampleRate)
        sent = Sent(
            packets: s.packetsSent, bytes: s.bytesSent, rtcpPackets: s.rtcpSent, digits: events.digitsSent,
            sendErrors: s.sendErrors)
        received = Received(
            packets: s.packetsReceived, bytes: s.bytesReceived, lost: s.packetsLost, duplicates: s.duplicates,
            outOfOrder: s.outOfOrder, jitterMs: s.jitterMilliseconds, late: s.late, concealedFrames: s.concealedFrames,
            jitterBufferDelayMs: s.jitterBufferDelayMilliseconds, strayPackets: s.strayPackets,
            unknownPayloadType: s.unknownPayloadType, malformedRtp: s.malformedRTP, rtcpPackets: s.rtcpReceived,
            digitsReceived: s.digitsReceived, digits: events.digitsReceived, mediaTimeouts: events.mediaTimeouts)
        farEnd = FarEnd(
            fractionLost: s.remoteFractionLost, jitterMs: s.remoteJitterMilliseconds, rttMs: s.roundTripMilliseconds)
    }

    func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }

    /// The statistics as a two-column table: what we sent (with the far end's view of it)
    /// and what we received.
    func table() -> String {
        func ms(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "-" }
        let lostSent = farEnd.fractionLost.map { String(format: "%.1f%% (RTCP)", $0 * 100) } ?? "-"
        let rows: [(String, String, String)] = [
            ("packets", "\(sent.packets)", "\(received.packets)"),
            ("bytes", "\(sent.bytes)", "\(received.bytes)"),
            ("lost", lostSent, "\(received.lost)"),
            ("jitter (ms)", farEnd.jitterMs.map { ms($0) + " (RTCP)" } ?? "-", ms(received.jitterMs)),
            ("duplicates", "-", "\(received.duplicates)"),
            ("out of order", "-", "\(received.outOfOrder)"),
            ("late", "-", "\(received.late)"),
            ("concealed frames", "-", "\(received.concealedFrames)"),
            ("stray packets", "-", "\(received.strayPackets)"),
            ("RTCP packets", "\(sent.rtcpPackets)", "\(received.rtcpPackets)"),
            ("digits", "\(sent.digits.count) \"\(sent.digits)\"", "\(received.digitsReceived) \"\(received.digits)\""),
        ]
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func left(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        var out = "call \(local) -> \(remote)  \(codec)/\(clockRate) (PT \(payloadType), \(ptimeMs) ms"
        out += sampleRate == clockRate ? ")  " : ", audio at \(sampleRate) Hz)  "
        out += String(format: "%.2f s", durationSeconds)
        if let record { out += String(format: "  recorded %.2f s to %@", recordedSeconds, record) }
        out += "\n\n"
        out += pad("", 18) + left("sent", 18) + left("received", 18) + "\n"
        for (name, a, b) in rows { out += pad(name, 18) + left(a, 18) + left(b, 18) + "\n" }
        out += "\nround trip (RTCP): \(farEnd.rttMs.map { ms($0) + " ms" } ?? "-")"
        if received.mediaTimeouts > 0 { out += "  media timeouts: \(received.mediaTimeouts)" }
        return out + "\n"
    }
}

/// The local address for a leg to `remote`: loopback for a loopback remote, else any
/// address of its family.
func localAddress(toward remote: IPAddress) -> IPAddress {
    switch remote {
    case .v4(let a): return a >> 24 == 127 ? .v4(0x7F00_0001) : .v4(0)
    case .v6(let hi, let lo): return hi == 0 && lo == 1 ? .v6(0, 1) : .v6(0, 0)
    }
}

/// The offer in `--sdp-in`, answered for a leg at `port` on `address`: the answer and the
/// leg it describes (`base` keeps what SDP does not carry). Fails (status 2) with the
/// reason when the offer cannot be answered.
func answerOffer(
    _ offer: String, path: String, options: CallOptions, base: LegConfiguration, address: IPAddress, port: UInt16
) -> (answer: SDPAnswer, leg: LegConfiguration) {
    let opus = AudioCodecSpec.opus(receiving: base.opus.receiveParameters)
    let preference: [AudioCodecSpec]
    switch (options.codecGiven, options.codec) {
    case (false, _): preference = [opus, .pcmu, .pcma]
    case (true, .opus): preference = [opus]
    case (true, .pcmu): preference = [.pcmu]
    case (true, .pcma): preference = [.pcma]
    }
    // A fixed session id: the description is written once.
    var session = SDPSession(
        config: SDPLocalConfig(
            address: address, alternateAddress: address.isV6 ? .v4(0x7F00_0001) : .v6(0, 1), sessionName: "sauti call",
            codecPreference: preference),
        localPort: port, sessionID: 1)
    let answer: SDPAnswer
    do {
        answer = try session.answer(toOffer: offer)
    } catch {
        fail("--sdp-in \(path): \(error)")
    }
    guard var leg = LegConfiguration(negotiated: answer.media, base: base) else {
        fail("--sdp-in \(path): the codec agreed on (\(answer.media.codec.encoding)) is not one sauti call sends")
    }
    guard answer.media.remoteRTP != nil else {
        fail("--sdp-in \(path): the offer gives no address to send to (c=0.0.0.0 or port 0)")
    }
    if let send = answer.media.opusSendParameters, !send.problems.isEmpty {
        FileHandle.standardError.write(Data(send.problems.map { "sauti: --sdp-in \(path): \($0)\n" }.joined().utf8))
    }
    leg.rtcpIntervalSeconds = base.rtcpIntervalSeconds
    return (answer, leg)
}

func callCommand(_ args: ArraySlice<String>) async -> Never {
    var options = parseCallOptions(args)
    var offer: String?
    if let path = options.sdpInPath {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            fail("--sdp-in \(path): no such file, or not text")
        }
        offer = text
    }
    // An offer is answered with Opus first unless --codec says otherwise.
    let mayBeOpus = options.codec == .opus || (offer != nil && !options.codecGiven)
    let wav = options.wavPath.map { loadCallWAV($0, opus: mayBeOpus) }
    var base = LegConfiguration(codec: options.codec, remote: options.remote)
    base.rtcpIntervalSeconds = options.rtcpIntervalSeconds
    base.mediaTimeoutMilliseconds = 0
    base.opus.sampleRate = wav?.rate ?? 16_000
    if let pt = options.payloadType { base.payloadType = pt }
    if let ms = options.ptimeMilliseconds { base.opus.ptimeMilliseconds = ms }
    var legConfiguration = base
    if let offer, let path = options.sdpInPath {
        // Answered once to learn the far end (our port is not known yet; the media agreed on
        // does not depend on it), and again below with the port for --sdp-out.
        legConfiguration =
            answerOffer(offer, path: path, options: options, base: base, address: .v4(0x7F00_0001), port: 9).leg
        options.remote = legConfiguration.remote!
        if let wav, wav.rate != legConfiguration.sampleRate {
            fail(
                "--wav \(options.wavPath!) is \(wav.rate) Hz, but the offer's codec (\(legConfiguration.codec.rawValue)) "
                    + "runs at \(legConfiguration.sampleRate) Hz: convert it (sox IN.wav -r \(legConfiguration.sampleRate) -c 1 out.wav) "
                    + "or answer with --codec opus")
        }
    }
    let rate = legConfiguration.sampleRate
    let samples = wav?.samples
    let duration =
        options.durationSeconds ?? samples.map { Double($0.count) / Double(rate) + 1 } ?? 5
    if let late = options.digits.first(where: { $0.atSeconds >= duration }) {
        fail(
            String(
                format: "--digits: %@ at %g s is not before the end of the call (%g s); give a longer --duration",
                String(late.digit), late.atSeconds, duration))
    }
    var configuration = MediaEngineConfiguration(workers: 1)
    configuration.address = localAddress(toward: options.remote.address)
    if let p = options.localPort {
        configuration.firstPort = p
        configuration.lastPort = p + 1
    }
    let engine: MediaEngine
    let leg: MediaLeg
    do {
        engine = try MediaEngine(configuration: configuration)
        leg = try engine.openLeg(legConfiguration)
    } catch {
        fail("cannot open a leg: \(error)", status: 1)
    }
    if let offer, let path = options.sdpInPath, let out = options.sdpOutPath {
        let answer = answerOffer(
            offer, path: path, options: options, base: base, address: configuration.address, port: leg.local.port
        ).answer
        do {
            try answer.sdp.write(toFile: out, atomically: true, encoding: .utf8)
        } catch {
            fail("--sdp-out \(out): \(error.localizedDescription)", status: 1)
        }
    }
    // Recorded by the engine's recorder: written as the call goes, the header kept valid,
    // fsynced when the leg closes. Everything the far end sent, silence included.
    if let path = options.recordPath {
        leg.record(RecordingSpec(path: path, trimSilence: false))
    }
    if let samples { leg.setSource(PCMSource(samples: samples)) }

    let log = CallEventLog()
    let events = Task {
        for await e in leg.events {
            log.record(e)
            // A path that cannot be created fails at once (within a tick), a full disk when it fills.
            if case .recordingFinished(let outcome) = e, case .error(let why) = outcome.reason {
                fail("--record \(outcome.path): \(why)", status: 1)
            }
        }
    }
    let clock = ContinuousClock()
    let start = clock.now
    let digits = options.digits
    let sender = Task {
        for d in digits {
            try? await clock.sleep(until: start + .milliseconds(Int64((d.atSeconds * 1000).rounded())))
            if Task.isCancelled { return }
            leg.sendDigits(String(d.digit))
        }
    }
    try? await clock.sleep(until: start + .milliseconds(Int64((duration * 1000).rounded())))
    sender.cancel()
    leg.close()
    // `.closed` ends the events; the final counters are published with it.
    await events.value
    engine.shutdown()

    if let path = options.recordPath, log.recording == nil {
        fail("--record \(path): the recording did not finish", status: 1)
    }
    let report = CallReport(
        options: options, leg: legConfiguration, local: leg.local, duration: duration,
        recordedSamples: log.recording?.frames ?? 0, stats: leg.statistics, events: log)
    if options.json {
        do {
            FileHandle.standardOutput.write(try report.jsonData())
            FileHandle.standardOutput.write(Data("\n".utf8))
        } catch {
            fail("could not encode the report: \(error)", status: 1)
        }
    } else {
        FileHandle.standardOutput.write(Data(report.table().utf8))
    }
    exit(0)
}
