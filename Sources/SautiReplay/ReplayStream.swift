import SautiAudio
import SautiMedia
import SautiWire

/// Identity of an RTP stream: Wireshark's key (source, destination, SSRC).
struct StreamKey: Hashable {
    var source: Endpoint
    var destination: Endpoint
    var ssrc: UInt32
}

/// Payload formats a stream learned from SDP or `--decode-as`: type → (encoding, clock).
typealias FormatMap = [UInt8: (encoding: String?, clockRate: Int?)]

/// Everything replay tracks for one stream (or a candidate flow still on probation). A
/// struct kept in one array and updated in place: the per-packet path takes no reference
/// counts and no dynamic exclusivity checks. The audio side, which only `--out` needs, is
/// a class of its own (`StreamAudio`).
struct ReplayStream {
    let key: StreamKey
    let order: Int
    var detectedBy: String
    var confirmed: Bool
    var statistics = WiresharkStatistics()
    var source: RTPSourceState
    var payloadTypeCounts: [UInt32]
    var firstNanoseconds: Int64
    var lastNanoseconds: Int64
    /// Clock for Wireshark's jitter, per payload type.
    let analysisClock: [Int32]
    /// Which payload types carry RFC 4733 events (asked per packet, so a table).
    let telephoneEventTypes: [Bool]
    let formats: FormatMap
    var events = TelephoneEventTracker()
    var digits: [DetectedDigit] = []
    var audioCodec: AudioCodec?
    var audioPayloadType: UInt8?
    var audio: StreamAudio?
    var malformed = 0
    // Audio clock estimate from arrivals, for event durations when SDP is silent.
    var lastAudioTimestamp: UInt32 = 0
    var lastAudioArrival: Int64 = -1
    var clockEstimate: Double = 0

    init(key: StreamKey, order: Int, firstNanoseconds: Int64, firstSequence: UInt16, formats: FormatMap, detectedBy: String?) {
        self.key = key
        self.order = order
        self.firstNanoseconds = firstNanoseconds
        self.lastNanoseconds = firstNanoseconds
        self.source = RTPSourceState(firstSequence: firstSequence)
        self.formats = formats
        self.detectedBy = detectedBy ?? "probation"
        self.confirmed = detectedBy != nil
        if formats.isEmpty {
            // Most flows (and every hostile one) know no formats: share one copy of the tables.
            (analysisClock, telephoneEventTypes) = (Self.defaultClocks, Self.defaultEventTypes)
        } else {
            (analysisClock, telephoneEventTypes) = Self.tables(formats)
        }
        payloadTypeCounts = Self.zeroCounts
    }

    private static let zeroCounts = [UInt32](repeating: 0, count: 128)
    private static let defaultClocks = tables([:]).clocks
    private static let defaultEventTypes = tables([:]).events

    private static func tables(_ formats: FormatMap) -> (clocks: [Int32], events: [Bool]) {
        let clocks: [Int32] = (0..<128).map { pt in
            if pt < 96 { return Int32(WiresharkClock.staticClock(UInt8(pt))) }
            guard let f = formats[UInt8(pt)] else { return 0 }
            return Int32(WiresharkClock.dynamicClock(encoding: f.encoding, rate: f.clockRate))
        }
        // SDP's or decode-as's word; else 101, the customary choice (Wireshark's default too).
        let events: [Bool] = (0..<128).map { pt in
            if let f = formats[UInt8(pt)] { return f.encoding?.lowercased() == "telephone-event" }
            return pt == 101
        }
        return (clocks, events)
    }

    @inline(__always)
    func isTelephoneEvent(_ pt: UInt8) -> Bool { telephoneEventTypes[Int(pt & 0x7F)] }

    func encoding(of pt: UInt8) -> String? {
        if let f = formats[pt], let e = f.encoding { return e }
        switch pt {
        case 0: return "PCMU"
        case 3: return "GSM"
        case 4: return "G723"
        case 8: return "PCMA"
        case 9: return "G722"
        case 13: return "CN"
        case 18: return "G729"
        default: return nil
        }
    }

    /// The clock of the telephone events: SDP's, else the audio clock, else estimated, else 8 kHz.
    func eventClock(_ pt: UInt8) -> Int {
        if let r = formats[pt]?.clockRate { return r }
        if let c = audioCodec { return c.clockRate }
        if let a = audioPayloadType, let r = formats[a]?.clockRate { return r }
        if clockEstimate > 0 {
            return [8000, 16000, 48000].min(by: { abs(Double($0) - clockEstimate) < abs(Double($1) - clockEstimate) })!
        }
        return 8000
    }

    /// Adds a finished (or updated) digit.
    mutating func record(_ digit: DetectedDigit) {
        if let i = digits.lastIndex(where: { $0.rtpTimestamp == digit.rtpTimestamp && $0.event == digit.event }) {
            digits[i] = digit
        } else {
            digits.append(digit)
        }
    }

    /// Takes one parsed packet that arrived at `ns`. `relativeMilliseconds` is its time after
    /// the capture's first frame. Returns true when this packet confirmed the stream.
    mutating func ingest(
        _ h: RTPHeader, packet: UnsafeRawBufferPointer, at ns: Int64, relativeMilliseconds: Double,
        outputDirectory: String?, opusSampleRate: Int = 48_000
    ) -> Bool {
        let pt = h.payloadType
        statistics.add(
            timeMilliseconds: relativeMilliseconds, sequence: h.sequenceNumber, timestamp: h.timestamp,
            marker: h.marker, payloadType: pt, clockRate: Int(analysisClock[Int(pt)]))
        payloadTypeCounts[Int(pt)] &+= 1
        lastNanoseconds = ns
        let outcome = source.update(h.sequenceNumber)
        var confirmedNow = false
        if !confirmed && source.isValid {
            confirmed = true
            confirmedNow = true
            audio?.confirmed = true
        }
        let payload = h.payload(in: packet)
        if isTelephoneEvent(pt) {
            if let ev = TelephoneEvent(parsing: payload) {
                if let done = events.ingest(ev, rtpTimestamp: h.timestamp, marker: h.marker, arrivalNanoseconds: ns) {
                    record(done)
                }
                // Later packets of a reported event refresh its duration and end count.
                if let last = events.lastEvent, let i = digits.lastIndex(where: { $0.rtpTimestamp == last.rtpTimestamp }) {
                    digits[i] = last
                }
            }
            return confirmedNow
        }
        if pt == 13 || pt == 19 { return confirmedNow }  // comfort noise: not audio to decode
        if let done = events.audioResumed() { record(done) }
        // Estimate the audio clock from arrivals (for event durations when nothing says it).
        if outcome == .inOrder && lastAudioArrival >= 0 && h.timestamp != lastAudioTimestamp {
            let dt = Double(ns - lastAudioArrival) / 1e9
            if dt > 0.005 && dt < 0.5 {
                let r = Double(h.timestamp &- lastAudioTimestamp) / dt
                clockEstimate = clockEstimate == 0 ? r : clockEstimate * 0.9 + r * 0.1
            }
        }
        lastAudioTimestamp = h.timestamp
        lastAudioArrival = ns
        if audioPayloadType == nil {
            audioPayloadType = pt
            audioCodec = AudioCodec(payloadType: pt, encoding: formats[pt]?.encoding)
        }
        guard let dir = outputDirectory, pt == audioPayloadType, let codec = audioCodec, outcome != .duplicate else {
            return confirmedNow
        }
        if audio == nil {
            audio = StreamAudio(
                codec: codec, sampleRate: opusSampleRate, directory: dir, fileName: wavName, confirmed: confirmed)
        }
        audio!.insert(h, payload: payload, at: ns)
        return confirmedNow
    }

    /// `stream<N>_<SSRC>_<source>_to_<destination>.wav`, with IPv6 colons as dots.
    var wavName: String {
        func clean(_ e: Endpoint) -> String {
            String("\(e.address)".map { $0 == ":" ? "." : $0 }) + "-\(e.port)"
        }
        return "stream\(order)_\(hex(key.ssrc))_\(clean(key.source))_to_\(clean(key.destination)).wav"
    }
}

/// A stream's audio output: the jitter buffer and the WAV it plays into. Frames collect in
/// memory while the stream is on probation, then reach the WAV in chunks of about a second
/// (one write and one header update per chunk, not per frame).
final class StreamAudio {
    var jitterBuffer: JitterBuffer
    let codec: AudioCodec
    let path: String
    var confirmed: Bool
    var writer: WAVWriter?
    var pending: [Int16] = []
    var samplesOut = 0
    var error: String?

    /// The WAV's rate, in Hz (the clock rate for G.711; the Opus decode rate).
    let sampleRate: Int

    init(codec: AudioCodec, sampleRate: Int, directory: String, fileName: String, confirmed: Bool) {
        self.codec = codec
        let configuration = JitterBuffer.Configuration(codec: codec, sampleRate: sampleRate)
        self.sampleRate = configuration.sampleRate
        self.jitterBuffer = JitterBuffer(configuration: configuration)
        self.path = directory + "/" + fileName
        self.confirmed = confirmed
        pending.reserveCapacity(16_384)
    }

    func insert(_ h: RTPHeader, payload: UnsafeRawBufferPointer, at ns: Int64) {
        _ = jitterBuffer.insert(
            timestamp: h.timestamp, marker: h.marker, arrival: ns, payload: payload, sequence: h.sequenceNumber
        ) { collect($0) }
    }

    private func collect(_ frame: UnsafeBufferPointer<Int16>) {
        samplesOut += frame.count
        guard error == nil else { return }
        pending.append(contentsOf: frame)
        if confirmed && pending.count >= 8192 { flush() }
    }

    /// Writes what is collected, opening the WAV first if needed.
    func flush() {
        guard error == nil else { return }
        do {
            if writer == nil { writer = try WAVWriter(path: path, sampleRate: sampleRate) }
            try pending.withUnsafeBufferPointer { try writer!.write($0) }
            pending.removeAll(keepingCapacity: true)
        } catch {
            self.error = "\(error)"
        }
    }

    /// Plays out what is left and closes the WAV.
    func finish() {
        jitterBuffer.finish { collect($0) }
        flush()
        do { try writer?.close() } catch { self.error = "\(error)" }
    }
}
