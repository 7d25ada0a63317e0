/// Per-stream statistics computed the way Wireshark's RTP stream analysis computes them
/// (`tshark -z rtp,streams`), so that a replay report and Wireshark agree to the packet
/// and within 0.01 ms: packets, expected and lost (expected minus received, so
/// duplicates make it negative), min/mean/max delta between packets, and min/mean/max
/// jitter (RFC 3550's running estimate, in ms, from the capture's arrival times).
///
/// The arithmetic follows Wireshark's published algorithm, including its quirks: the
/// mean is updated only on "regular" packets (not the first, not marked, not comfort
/// noise, not behind in timestamp) but divided by all packets so far; packets whose
/// payload type has no known clock (telephone-event, dynamic types without SDP)
/// leave the jitter alone but still move the reference time.
struct WiresharkStatistics {
    private var first = true
    private(set) var startSequence: UInt16 = 0
    private(set) var stopSequence: UInt16 = 0
    private var sequence: UInt16 = 0
    private var cycles: Int = 0
    private var under = false
    private var timeMilliseconds: Double = 0
    private var lastTimestamp: UInt32 = 0
    private var extendedTimestamp: UInt64 = 0
    /// Timestamp of the last packet with a known clock: the jitter's reference.
    private var nominalTimestamp: UInt64 = 0
    private var payloadType: UInt8 = 0
    /// Packets analysed.
    private(set) var packets = 0
    private(set) var delta: Double = 0
    private(set) var minDelta: Double = -1
    private(set) var maxDelta: Double = 0
    private(set) var meanDelta: Double = 0
    private(set) var jitter: Double = 0
    private(set) var minJitter: Double = -1
    private(set) var maxJitter: Double = 0
    private(set) var meanJitter: Double = 0
    /// Sequence errors (gaps, late or duplicate packets), as Wireshark counts them.
    private(set) var sequenceErrors = 0
    /// Packets behind in timestamp.
    private(set) var wrongTimestamps = 0

    /// Expected packets: the span from the first to the last packet's sequence number.
    var expected: Int { Int(stopSequence) + cycles * 65536 - Int(startSequence) + 1 }
    /// Expected minus received.
    var lost: Int { expected - packets }

    private static let comfortNoise: UInt8 = 13
    private static let comfortNoiseOld: UInt8 = 19

    /// Adds one packet. `timeMilliseconds` is relative to the capture's first frame;
    /// `clockRate` is the payload type's clock, 0 where Wireshark does not know it.
    mutating func add(
        timeMilliseconds now: Double, sequence seq: UInt16, timestamp: UInt32, marker: Bool, payloadType pt: UInt8,
        clockRate: Int
    ) {
        if first {
            first = false
            extendedTimestamp = UInt64(timestamp)
            startSequence = seq
            stopSequence = seq
            sequence = seq
            timeMilliseconds = now
            lastTimestamp = timestamp
            nominalTimestamp = extendedTimestamp
            payloadType = pt
            packets = 1
            return
        }
        // Extend the timestamp as Wireshark does, in unsigned 64-bit arithmetic.
        var ext = (extendedTimestamp & 0xFFFF_FFFF_0000_0000) | UInt64(timestamp)
        if ext &+ 0x8000_0000 < extendedTimestamp {
            ext &+= 0x1_0000_0000
        } else if extendedTimestamp &+ 0x8000_0000 < ext {
            ext &-= 0x1_0000_0000
        }
        extendedTimestamp = ext

        // Behind in timestamp: the previous packet's timestamp is later (wrap-aware).
        let inTimeSequence = Int32(bitPattern: timestamp &- lastTimestamp) >= 0
        if !inTimeSequence { wrongTimestamps += 1 }
        lastTimestamp = timestamp

        if seq < startSequence && !under {
            cycles += 1
            under = true
        } else if seq == 0 && stopSequence == 65535 && !under {
            cycles += 1
            under = true
        } else if seq > startSequence && under {
            under = false
        }

        if sequence &+ 1 == seq {
            sequence = seq
        } else if sequence == 65535 && seq == 0 {
            sequence = seq
        } else if Int(sequence) + 1 < Int(seq) || Int(sequence) - Int(seq) > 0xFF00 {
            sequence = seq
            sequenceErrors += 1
        } else if Int(sequence) + 1 > Int(seq) {
            sequenceErrors += 1
        }

        let isComfortNoise = pt == Self.comfortNoise || pt == Self.comfortNoiseOld
        let followsComfortNoise = payloadType == Self.comfortNoise || payloadType == Self.comfortNoiseOld
        payloadType = pt

        var currentJitter: Double = 0
        if clockRate != 0 {
            // Wireshark divides by the clock in kHz with integer division.
            let nominalDiff = Double(Int64(bitPattern: ext &- nominalTimestamp)) / Double(clockRate / 1000)
            let expectedTime = timeMilliseconds + nominalDiff
            let diff = abs(now - expectedTime)
            currentJitter = (15 * jitter + diff) / 16
            delta = now - timeMilliseconds
            jitter = currentJitter
            nominalTimestamp = ext
        } else {
            delta = now - timeMilliseconds
        }

        let regular = !marker && !isComfortNoise && !followsComfortNoise
        if regular {
            if delta > maxDelta { maxDelta = delta }
            if minDelta == -1 || delta < minDelta { minDelta = delta }
            meanDelta = (meanDelta * Double(packets - 1) + delta) / Double(packets)
            if clockRate != 0 {
                if jitter > maxJitter { maxJitter = jitter }
                meanJitter = (meanJitter * Double(packets - 1) + currentJitter) / Double(packets)
                if minJitter == -1 || jitter < minJitter { minJitter = jitter }
            }
        }
        timeMilliseconds = now
        stopSequence = seq
        packets += 1
    }

    /// Whether Wireshark would flag the stream as having problems.
    var hasProblems: Bool { sequenceErrors > 0 || wrongTimestamps > 0 }
}

/// Clock rates as Wireshark's RTP analysis knows them, for its jitter figures.
enum WiresharkClock {
    /// The clock of a static payload type (RFC 3551), 0 where there is none.
    static func staticClock(_ pt: UInt8) -> Int {
        switch pt {
        case 0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 15, 18, 19: return 8000
        case 6: return 16000
        case 10, 11: return 44100
        case 14, 25, 26, 28, 31, 32, 33, 34: return 90000
        case 16: return 11025
        case 17: return 22050
        default: return 0
        }
    }

    /// The clock of a dynamic payload type described by `encoding`/`rate`, 0 for
    /// telephone-event (its timestamp does not advance) or an unknown encoding.
    static func dynamicClock(encoding: String?, rate: Int?) -> Int {
        guard let encoding else { return 0 }
        if encoding.lowercased().hasPrefix("telephone-event") { return 0 }
        if let rate, rate > 0 { return rate }
        switch encoding.lowercased() {
        case "opus": return 48000
        case "amr", "evrc", "smv", "g726-16", "g726-24", "g726-32", "g726-40", "gsm-efr": return 8000
        case "amr-wb", "evs", "g7221": return 16000
        default: return 0
        }
    }
}
