/// The packet store of a jitter buffer (NetEq's name): payloads kept by extended RTP
/// timestamp in preallocated slots, and rendering of any sample range from them.
/// Storage is allocated at `init`; nothing after allocates.
struct PacketStore {
    let capacity: Int
    let maxPayloadBytes: Int
    private var payloads: [UInt8]
    private var slotTimestamp: [Int64]
    private var slotLength: [Int]
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
    mutating func insert(timestamp: Int64, samples: Int, payload: UnsafeRawBufferPointer) -> Outcome {
        for i in 0..<capacity where slotUsed[i] && slotTimestamp[i] == timestamp { return .duplicate }
        guard let slot = slotUsed.firstIndex(of: false) else { return .full }
        let length = min(samples, maxPayloadBytes, payload.count)
        slotUsed[slot] = true
        slotTimestamp[slot] = timestamp
        slotLength[slot] = length
        count += 1
        let base = slot * maxPayloadBytes
        payloads.withUnsafeMutableBytes { dst in
            // Safe: length ≤ maxPayloadBytes and ≤ payload.count, so both ranges are in bounds.
            UnsafeMutableRawBufferPointer(rebasing: dst[base..<(base + length)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[0..<length]))
        }
        endTimestamp = max(endTimestamp, timestamp + Int64(length))
        return .inserted
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
