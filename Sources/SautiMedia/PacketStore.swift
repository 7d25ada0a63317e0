/// The packet store of a jitter buffer (NetEq's name): payloads kept by extended RTP
/// timestamp in preallocated slots, and rendering of any sample range from them.
/// Storage is allocated at `init`; nothing after allocates.
struct PacketStore {
    let capacity: Int
    let maxPayloadBytes: Int
    private var payloads: [UInt8]
    private var slotTimestamp: [Int64]
    private var slotLength: [Int]
    /// Payload bytes per slot (equal to `slotLength` for G.711; an Opus packet's bytes).
    private var slotBytes: [Int]
    /// RTP sequence number per slot (Opus: tells a DTX pause from loss).
    private var slotSequence: [UInt16]
    private var slotUsed: [Bool]
    private var covered: [Bool]
    /// Packets held.
    private(set) var count = 0
    /// One past the last sample of any packet stored since the last reset.
    private(set) var endTimestamp: Int64 = 0

    enum Outcome {
        case inserted, duplicate, full
    }

    init(capacity: Int, maxPayloadBytes: Int, frameSamples: Int) {
        self.capacity = capacity
        self.maxPayloadBytes = maxPayloadBytes
        payloads = [UInt8](repeating: 0, count: capacity * maxPayloadBytes)
        slotTimestamp = [Int64](repeating: 0, count: capacity)
        slotLength = [Int](repeating: 0, count: capacity)
        slotBytes = [Int](repeating: 0, count: capacity)
        slotSequence = [UInt16](repeating: 0, count: capacity)
        slotUsed = [Bool](repeating: false, count: capacity)
        covered = [Bool](repeating: false, count: frameSamples)
    }

    /// Forgets every packet; the end moves to `timestamp`.
    mutating func reset(at timestamp: Int64) {
        for i in 0..<capacity { slotUsed[i] = false }
        count = 0
        endTimestamp = timestamp
    }

    /// Stores `payload` (its first `samples` samples' worth of bytes) at `timestamp`.
    /// With `stateful` (Opus), `samples` is the packet's duration in clock units and the
    /// whole payload is kept (up to `maxPayloadBytes`).
    mutating func insert(
        timestamp: Int64, samples: Int, payload: UnsafeRawBufferPointer, sequence: UInt16 = 0, stateful: Bool = false
    ) -> Outcome {
        for i in 0..<capacity where slotUsed[i] && slotTimestamp[i] == timestamp { return .duplicate }
        guard let slot = slotUsed.firstIndex(of: false) else { return .full }
        let length = stateful ? min(payload.count, maxPayloadBytes) : min(samples, maxPayloadBytes, payload.count)
        slotUsed[slot] = true
        slotTimestamp[slot] = timestamp
        slotLength[slot] = stateful ? samples : length
        slotBytes[slot] = length
        slotSequence[slot] = sequence
        count += 1
        let base = slot * maxPayloadBytes
        payloads.withUnsafeMutableBytes { dst in
            // Safe: length ≤ maxPayloadBytes and ≤ payload.count, so both ranges are in bounds.
            UnsafeMutableRawBufferPointer(rebasing: dst[base..<(base + length)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[0..<length]))
        }
        endTimestamp = max(endTimestamp, timestamp + Int64(slotLength[slot]))
        return .inserted
    }

    /// A stored packet: its slot, first timestamp, duration (clock units) and sequence.
    struct Entry {
        var slot: Int
        var timestamp: Int64
        var samples: Int
        var sequence: UInt16
        var end: Int64 { timestamp + Int64(samples) }
    }

    private func entry(_ slot: Int) -> Entry {
        Entry(slot: slot, timestamp: slotTimestamp[slot], samples: slotLength[slot], sequence: slotSequence[slot])
    }

    /// The packet whose samples include `timestamp` (the earliest starting, if several).
    func packet(covering timestamp: Int64) -> Entry? {
        var best = -1
        for slot in 0..<capacity where slotUsed[slot] {
            let s = slotTimestamp[slot]
            guard s <= timestamp && s + Int64(slotLength[slot]) > timestamp else { continue }
            if best < 0 || s < slotTimestamp[best] { best = slot }
        }
        return best < 0 ? nil : entry(best)
    }

    /// The first packet starting after `timestamp`.
    func packet(after timestamp: Int64) -> Entry? {
        var best = -1
        for slot in 0..<capacity where slotUsed[slot] && slotTimestamp[slot] > timestamp {
            if best < 0 || slotTimestamp[slot] < slotTimestamp[best] { best = slot }
        }
        return best < 0 ? nil : entry(best)
    }

    /// Calls `body` with the stored payload of `slot`.
    func withPayload<R>(_ slot: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let base = slot * maxPayloadBytes
        let bytes = slotBytes[slot]
        return payloads.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[base..<(base + bytes)])) }
    }

    /// Frees `slot`.
    mutating func remove(_ slot: Int) {
        guard slotUsed[slot] else { return }
        slotUsed[slot] = false
        count -= 1
    }

    /// Decodes the samples `[start, start + out.count)` that stored packets cover into `out`,
    /// then releases the packets wholly before the range's end. Returns a mask of the
    /// covered samples through `isCovered` and their count.
    mutating func render(
        from start: Int64, codec: AudioCodec, into out: UnsafeMutableBufferPointer<Int16>,
        uncovered: (UnsafeMutableBufferPointer<Int16>, UnsafeBufferPointer<Bool>) -> Void
    ) -> Int {
        let n = out.count
        let end = start + Int64(n)
        var coveredCount = 0
        let maxPayload = maxPayloadBytes
        covered.withUnsafeMutableBufferPointer { covered in
            covered.update(repeating: false)
            payloads.withUnsafeBytes { store in
                for slot in 0..<capacity where slotUsed[slot] {
                    let s = slotTimestamp[slot]
                    let e = s + Int64(slotLength[slot])
                    guard s < end && e > start else { continue }
                    let from = Int(max(s, start) - start)
                    let to = Int(min(e, end) - start)
                    let base = slot * maxPayload
                    let payload = UnsafeRawBufferPointer(rebasing: store[base..<(base + slotLength[slot])])
                    let offset = Int(start - s)
                    codec.decode(
                        payload, samples: (from + offset)..<(to + offset),
                        into: UnsafeMutableBufferPointer(rebasing: out[from..<to]))
                    for k in from..<to where !covered[k] {
                        covered[k] = true
                        coveredCount += 1
                    }
                }
            }
            if coveredCount < n { uncovered(out, UnsafeBufferPointer(covered)) }
        }
        release(before: end)
        return coveredCount
    }

    /// Drops packets that end at or before `timestamp`.
    mutating func release(before timestamp: Int64) {
        for slot in 0..<capacity where slotUsed[slot] && slotTimestamp[slot] + Int64(slotLength[slot]) <= timestamp {
            slotUsed[slot] = false
            count -= 1
        }
    }
}
