import SautiAudio
import SautiMedia
import SautiWire

/// Identity of an RTP stream: Wireshark's key (source, destination, SSRC).
struct StreamKey: Hashable {
    var source: Endpoint
    var destination: Endpoint
    var ssrc: UInt32
}

/// Everything replay tracks for one stream (or a candidate flow still on probation).
final class ReplayStream {
    let key: StreamKey
    let order: Int
    var detectedBy: String
    var confirmed: Bool
    var statistics = WiresharkStatistics()
    var source: RTPSourceState
    var payloadTypeCounts = [Int](repeating: 0, count: 128)
    var firstNanoseconds: Int64
    var lastNanoseconds: Int64
    /// Clock for Wireshark's jitter, per payload type.
    var analysisClock: [Int]
    /// Payload type → (encoding, clock) this stream learned from SDP or decode-as.
    var formats: [UInt8: (encoding: String?, clockRate: Int?)]
    var events = TelephoneEventTracker()
    var digits: [DetectedDigit] = []
    var audioCodec: AudioCodec?
    var audioPayloadType: UInt8?
    var jitterBuffer: JitterBuffer?
    var writer: WAVWriter?
    var pendingSamples: [Int16] = []
    var samplesOut = 0
    var wavPath: String?
    var wavError: String?
    var malformed = 0
    // Audio clock estimate from arrivals, for event durations when SDP is silent.
    var lastAudio: (timestamp: UInt32, arrival: Int64)?
    var clockEstimate: Double = 0

    init(
        key: StreamKey, order: Int, firstNanoseconds: Int64, firstSequence: UInt16,
        formats: [UInt8: (encoding: String?, clockRate: Int?)], detectedBy: String?
    ) {
        self.key = key
        self.order = order
        self.firstNanoseconds = firstNanoseconds
        self.lastNanoseconds = firstNanoseconds
        self.source = RTPSourceState(firstSequence: firstSequence)
        self.formats = formats
        self.detectedBy = detectedBy ?? "probation"
        self.confirmed = detectedBy != nil
        self.analysisClock = ReplayStream.clocks(formats)
    }

    static func clocks(_ formats: [UInt8: (encoding: String?, clockRate: Int?)]) -> [Int] {
        (0..<128).map { pt in
            if pt < 96 { return WiresharkClock.staticClock(UInt8(pt)) }
            guard let f = formats[UInt8(pt)] else { return 0 }
            return WiresharkClock.dynamicClock(encoding: f.encoding, rate: f.clockRate)
        }
    }

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

    /// Which payload types carry RFC 4733 events: SDP's or decode-as's word, else 101,
    /// the customary choice (Wireshark's default too). A table: it is asked per packet.
    lazy var telephoneEventTypes: [Bool] = (0..<128).map { pt in
        if let f = formats[UInt8(pt)] { return f.encoding?.lowercased() == "telephone-event" }
        return pt == 101
    }

    @inline(__always)
    func isTelephoneEvent(_ pt: UInt8) -> Bool { telephoneEventTypes[Int(pt & 0x7F)] }

    /// The clock of the telephone events: SDP's, else the audio clock, else estimated, else 8 kHz.
    func eventClock(_ pt: UInt8) -> Int {
        if let r = formats[pt]?.clockRate { return r }
        if let c = audioCodec { return c.clockRate }
        if let a = audioPayloadType, let r = formats[a]?.clockRate { return r }
        let known = [8000, 16000, 48000]
        if clockEstimate > 0 {
            return known.min(by: { abs(Double($0) - clockEstimate) < abs(Double($1) - clockEstimate) })!
        }
        return 8000
    }
}
