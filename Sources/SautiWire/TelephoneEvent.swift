/// An RFC 4733 §2.3 telephone-event payload: 4 bytes per event.
public struct TelephoneEvent: Equatable, Sendable {
    /// The event code: 0–9 digits, 10 `*`, 11 `#`, 12–15 A–D, others tones.
    public var event: UInt8
    /// The E bit: this packet ends the event.
    public var isEnd: Bool
    /// Power level, in −dBm0 (0–63).
    public var volume: UInt8
    /// Duration so far, in timestamp units of the event's clock.
    public var duration: UInt16

    /// An event with the given fields.
    public init(event: UInt8, isEnd: Bool, volume: UInt8, duration: UInt16) {
        self.event = event
        self.isEnd = isEnd
        self.volume = volume
        self.duration = duration
    }

    /// Parses the first event of a payload; nil if it is shorter than 4 bytes.
    /// (Redundant events, RFC 4733 §2.5.1.5, would follow in further 4-byte blocks.)
    public init?(parsing payload: UnsafeRawBufferPointer) {
        guard payload.count >= 4 else { return nil }
        event = payload[0]
        isEnd = payload[1] & 0x80 != 0
        volume = payload[1] & 0x3F
        duration = payload.be16(2)!
    }

    /// Writes the 4-byte payload into `buffer`; returns false if it is too small.
    public func serialize(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= 4 else { return false }
        buffer[0] = event
        buffer[1] = (isEnd ? 0x80 : 0) | (volume & 0x3F)
        buffer.storeBE16(duration, at: 2)
        return true
    }

    /// The DTMF character for the event code (0–9, *, #, A–D), or nil for other events.
    public var digit: Character? { TelephoneEvent.digit(for: event) }

    /// The event code of a DTMF character (0–9, *, #, A–D), or nil.
    public static func code(for digit: Character) -> UInt8? {
        switch digit {
        case "0"..."9": return digit.asciiValue! - UInt8(ascii: "0")
        case "*": return 10
        case "#": return 11
        case "A"..."D": return digit.asciiValue! - UInt8(ascii: "A") + 12
        case "a"..."d": return digit.asciiValue! - UInt8(ascii: "a") + 12
        default: return nil
        }
    }

    /// The DTMF character for an event code, or nil for non-DTMF events.
    public static func digit(for event: UInt8) -> Character? {
        switch event {
        case 0...9: return Character(Unicode.Scalar(UInt8(ascii: "0") + event))
        case 10: return "*"
        case 11: return "#"
        case 12...15: return Character(Unicode.Scalar(UInt8(ascii: "A") + event - 12))
        default: return nil
        }
    }
}

/// A digit detected from RFC 4733 events, reported once.
public struct DetectedDigit: Equatable, Sendable {
    /// The DTMF character.
    public var digit: Character
    /// The event code.
    public var event: UInt8
    /// RTP timestamp of the event start (the timestamp all its packets carry).
    public var rtpTimestamp: UInt32
    /// Arrival time of the first packet seen of the event, in nanoseconds.
    public var firstArrivalNanoseconds: Int64
    /// The longest duration seen, in timestamp units.
    public var durationUnits: Int
    /// Number of end packets seen (0 when the event timed out instead).
    public var endPackets: Int
    /// Whether the first packet seen carried the marker bit (false when the start was lost).
    public var sawMarker: Bool
    /// Packets that belonged to the event.
    public var packets: Int
}

/// Turns a stream of RFC 4733 packets into digits, each exactly once (RFC 4733 §2.5.2):
/// retransmitted starts and the repeated end packets do not repeat a digit, a lost start
/// (no marker) still begins an event, and an event whose end never comes is closed when a
/// new event starts, when audio resumes, or when `finish` is called. Each event is
/// identified by its RTP timestamp; it is reported when it ends.
public struct TelephoneEventTracker: Sendable {
    private var current: DetectedDigit?
    /// True when no event is open (none yet, or the last one ended).
    @usableFromInline
    var currentEnded = true
    /// Timestamps of recently finished events, so late end retransmissions are ignored.
    private var recentlyFinished: [UInt32] = []
    /// The timestamp of the open event's current segment (RFC 4733 §2.5.1.3: an event longer
    /// than the 16-bit duration continues in segments with new timestamps).
    private var segmentTimestamp: UInt32 = 0
    /// Duration of the open event's earlier segments, in timestamp units.
    private var segmentBase = 0
    /// The longest duration seen in the current segment.
    private var segmentDuration = 0

    /// A tracker with no event in progress.
    public init() {}

    /// Feeds one telephone-event packet. Returns the digit if this packet completes one,
    /// or the previous event's digit if this packet starts a new event before that one ended.
    public mutating func ingest(
        _ event: TelephoneEvent, rtpTimestamp: UInt32, marker: Bool, arrivalNanoseconds: Int64
    ) -> DetectedDigit? {
        var finished: DetectedDigit? = nil
        if let cur = current, !currentEnded, cur.event == event.event, rtpTimestamp != segmentTimestamp,
            segmentDuration >= 0xFF00, rtpTimestamp == segmentTimestamp &+ UInt32(segmentDuration)
        {
            // A long press continues in a new segment: the same digit, not a new one.
            segmentBase += segmentDuration
            segmentTimestamp = rtpTimestamp
            segmentDuration = 0
        }
        if var cur = current, segmentTimestamp == rtpTimestamp, cur.event == event.event {
            cur.packets += 1
            segmentDuration = max(segmentDuration, Int(event.duration))
            cur.durationUnits = max(cur.durationUnits, segmentBase + Int(event.duration))
            if event.isEnd {
                cur.endPackets += 1
                if !currentEnded {
                    currentEnded = true
                    current = cur
                    return finishCurrent(keep: true)
                }
            }
            current = cur
            return nil
        }
        if recentlyFinished.contains(rtpTimestamp) && current?.rtpTimestamp != rtpTimestamp {
            return nil  // a late retransmission of an event already reported
        }
        // A new event: whatever was in progress and never ended is closed now.
        if current != nil && !currentEnded { finished = finishCurrent(keep: false) }
        guard let digit = event.digit else {
            current = nil
            return finished
        }
        current = DetectedDigit(
            digit: digit, event: event.event, rtpTimestamp: rtpTimestamp, firstArrivalNanoseconds: arrivalNanoseconds,
            durationUnits: Int(event.duration), endPackets: event.isEnd ? 1 : 0, sawMarker: marker, packets: 1)
        segmentTimestamp = rtpTimestamp
        segmentBase = 0
        segmentDuration = Int(event.duration)
        currentEnded = false
        if event.isEnd {
            // Only one digit can be returned: if this packet closed an unfinished event, that
            // one goes out now and this one on its next end packet, audioResumed or finish.
            if finished != nil { return finished }
            currentEnded = true
            return finishCurrent(keep: true)
        }
        return finished
    }

    /// Audio resumed after an event: an event that never ended is over (RFC 4733 §2.5.2.1).
    @inlinable
    public mutating func audioResumed() -> DetectedDigit? {
        guard !currentEnded else { return nil }
        return closeUnended()
    }

    @usableFromInline
    mutating func closeUnended() -> DetectedDigit? {
        guard current != nil else { return nil }
        return finishCurrent(keep: false)
    }

    /// The stream is over: report an event still in progress.
    public mutating func finish() -> DetectedDigit? {
        audioResumed()
    }

    /// The event in progress, updated with every later packet (durations, end count).
    public var lastEvent: DetectedDigit? { current }

    private mutating func finishCurrent(keep: Bool) -> DetectedDigit? {
        guard let cur = current else { return nil }
        recentlyFinished.append(cur.rtpTimestamp)
        if recentlyFinished.count > 8 { recentlyFinished.removeFirst() }
        if !keep { current = nil }
        currentEnded = true
        return cur
    }
}
