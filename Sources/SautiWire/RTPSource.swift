/// Sequence-number arithmetic that survives wrap-around (STYLE.md: compare only through these).
public enum SequenceNumber {
    /// True if `a` comes after `b` in 16-bit serial-number order.
    @inlinable
    public static func isNewer(_ a: UInt16, than b: UInt16) -> Bool {
        Int16(bitPattern: a &- b) > 0
    }

    /// Signed distance from `b` to `a`, in −32768 ... 32767.
    @inlinable
    public static func distance(from b: UInt16, to a: UInt16) -> Int {
        Int(Int16(bitPattern: a &- b))
    }
}

/// The per-source bookkeeping of RFC 3550 Appendix A.1: probation of a new source,
/// extension of the 16-bit sequence number across wrap, detection of restarts, and
/// the counts for expected/lost (A.3). Duplicates and reordering are counted too.
public struct RTPSourceState: Sendable {
    /// Sequential packets needed before a source is valid (RFC 3550 MIN_SEQUENTIAL).
    public static let minSequential = 2
    /// A jump ahead larger than this is not loss but a possible restart (MAX_DROPOUT).
    public static let maxDropout = 3000
    /// A jump back smaller than this is a late packet (MAX_MISORDER).
    public static let maxMisorder = 100

    /// What became of one packet.
    public enum Outcome: Equatable, Sendable {
        /// Still on probation; not yet counted as valid.
        case probation
        /// A packet in order (possibly after a gap).
        case inOrder
        /// A packet older than the highest seen (reordered or late), first copy.
        case outOfOrder
        /// A sequence number already received.
        case duplicate
        /// A jump the source restarted from; the statistics restarted with it.
        case restarted
        /// A large jump not (yet) confirmed by a following packet; ignored.
        case badJump
    }

    /// Highest sequence number seen.
    public private(set) var maxSeq: UInt16 = 0
    /// Wraps of the sequence number, shifted left 16 (RFC 3550 `cycles`).
    public private(set) var cycles: UInt32 = 0
    /// First extended sequence number of the current run.
    public private(set) var baseSeq: UInt32 = 0
    /// Last 'bad' sequence number + 1, for restart detection.
    private var badSeq: UInt32 = 1 << 17
    /// Remaining probation packets; 0 once the source is valid.
    public private(set) var probation: Int = RTPSourceState.minSequential
    /// Valid packets received (duplicates included, as RFC 3550 counts them).
    public private(set) var received: UInt64 = 0
    /// Duplicate packets seen (a sequence number already received within the window).
    public private(set) var duplicates: UInt64 = 0
    /// Packets that arrived after a higher sequence number.
    public private(set) var outOfOrder: UInt64 = 0
    /// Times the source restarted its sequence numbering.
    public private(set) var restarts: UInt64 = 0
    /// Packets expected before the current run (sum over earlier runs).
    private var expectedBeforeRestart: UInt64 = 0
    /// Bitmap of the last 1024 sequence numbers received, for duplicate detection.
    private var seen = SeenWindow()

    /// A source whose first packet has sequence number `seq`.
    public init(firstSequence seq: UInt16) {
        initSequence(seq)
        maxSeq = seq &- 1
        probation = RTPSourceState.minSequential
    }

    /// Whether the source has passed probation.
    public var isValid: Bool { probation == 0 }

    /// Extended highest sequence number received.
    public var extendedMax: UInt32 { cycles &+ UInt32(maxSeq) }

    /// Packets expected over the source's life: each run's span, summed over restarts.
    public var expected: UInt64 {
        expectedBeforeRestart + UInt64(extendedMax &- baseSeq &+ 1)
    }

    /// Packets lost: expected minus received, duplicates not counted as received.
    public var lost: Int64 {
        Int64(expected) - Int64(received - duplicates)
    }

    private mutating func initSequence(_ seq: UInt16) {
        baseSeq = UInt32(seq)
        maxSeq = seq
        badSeq = 1 << 17
        cycles = 0
        seen.reset(at: UInt32(seq))
    }

    /// Updates the state with one packet's sequence number (RFC 3550 A.1 `update_seq`).
    public mutating func update(_ seq: UInt16) -> Outcome {
        let udelta = seq &- maxSeq
        if probation > 0 {
            if seq == maxSeq &+ 1 {
                probation -= 1
                maxSeq = seq
                if probation == 0 {
                    // The probation packets count: they were RTP all along.
                    let first = seq &- UInt16(RTPSourceState.minSequential - 1)
                    initSequence(first)
                    // The probation packets may straddle 65535 → 0: then the run is in its second cycle.
                    if seq < first { cycles = 1 << 16 }
                    for k in 0..<RTPSourceState.minSequential {
                        seen.mark(baseSeq + UInt32(k))
                    }
                    maxSeq = seq
                    received = UInt64(RTPSourceState.minSequential)
                    return .inOrder
                }
            } else {
                probation = RTPSourceState.minSequential - 1
                maxSeq = seq
            }
            return .probation
        }
        var outcome = Outcome.inOrder
        if udelta < UInt16(RTPSourceState.maxDropout) {
            if seq < maxSeq { cycles &+= 1 << 16 }  // wrapped
            maxSeq = seq
        } else if udelta <= UInt16.max - UInt16(RTPSourceState.maxMisorder) {
            // A very large jump.
            if UInt32(seq) == badSeq {
                // Two sequential packets: the source restarted. Keep the old run's counts.
                expectedBeforeRestart += UInt64(extendedMax &- baseSeq &+ 1)
                restarts += 1
                initSequence(seq)
                received += 1
                seen.mark(UInt32(seq))
                return .restarted
            } else {
                badSeq = UInt32(seq &+ 1)
                return .badJump
            }
        } else {
            outcome = .outOfOrder
        }
        let ext = extendedSequence(seq)
        received += 1
        if seen.testAndMark(ext) {
            duplicates += 1
            return .duplicate
        }
        if outcome == .outOfOrder { outOfOrder += 1 }
        return outcome
    }

    /// The extended sequence number of `seq`, near the current highest one.
    public func extendedSequence(_ seq: UInt16) -> UInt32 {
        let d = SequenceNumber.distance(from: maxSeq, to: seq)
        return UInt32(truncatingIfNeeded: Int64(extendedMax) + Int64(d))
    }

    /// Received over all runs (duplicates included). `received` is not reset by a restart,
    /// so it already is this total.
    public var totalReceived: UInt64 { received }
}

/// A sliding bitmap of the last 1024 extended sequence numbers, for duplicate detection.
struct SeenWindow: Sendable {
    private var bits = [UInt64](repeating: 0, count: 16)
    private var top: UInt32 = 0

    mutating func reset(at seq: UInt32) {
        for i in bits.indices { bits[i] = 0 }
        top = seq
    }

    mutating func mark(_ seq: UInt32) { _ = testAndMark(seq) }

    /// Marks `seq` as seen; returns true if it already was.
    mutating func testAndMark(_ seq: UInt32) -> Bool {
        let ahead = Int64(seq) - Int64(top)
        if ahead > 0 {
            // Clear the slots the window slides over.
            let clear = min(ahead, 1024)
            for k in 1...clear {
                let s = UInt32(truncatingIfNeeded: Int64(top) + k) & 1023
                bits[Int(s >> 6)] &= ~(1 << UInt64(s & 63))
            }
            top = seq
        } else if ahead <= -1024 {
            return false  // too old to know; not a duplicate we can prove
        }
        let s = seq & 1023
        let mask: UInt64 = 1 << UInt64(s & 63)
        let was = bits[Int(s >> 6)] & mask != 0
        bits[Int(s >> 6)] |= mask
        return was
    }
}

/// RFC 3550 Appendix A.8 interarrival jitter, in timestamp units, kept with 4 fractional bits.
public struct InterarrivalJitter: Sendable {
    private var lastTransit: Int64 = 0
    private var hasTransit = false
    /// Jitter scaled by 16 (the A.8 fixed-point form).
    public private(set) var scaled: Int64 = 0

    /// A jitter estimator with no packets yet.
    public init() {}

    /// Adds one packet: its arrival in timestamp units and its RTP timestamp.
    public mutating func update(arrivalUnits: Int64, rtpTimestamp: UInt32) {
        let transit = arrivalUnits &- Int64(rtpTimestamp)
        if hasTransit {
            var d = transit &- lastTransit
            // The RTP timestamp wraps every 2^32 units; keep d near zero.
            d = Int64(Int32(truncatingIfNeeded: d))
            if d < 0 { d = -d }
            scaled += d - ((scaled + 8) >> 4)
        }
        lastTransit = transit
        hasTransit = true
    }

    /// The jitter in timestamp units (as an RTCP report block carries it).
    public var units: UInt32 { UInt32(clamping: scaled >> 4) }

    /// Forget the history (after a source restart).
    public mutating func reset() {
        hasTransit = false
        scaled = 0
    }
}
