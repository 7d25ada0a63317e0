/// The delay estimator of the live jitter buffer (NetEq's name for the part).
///
/// Each packet's transit (arrival minus media time, in samples) counts for the last
/// `window` packets. Lateness is a packet's transit over the window's smallest. The target
/// delay covers the second-largest lateness in the window: a lone outlier goes late rather
/// than delaying every packet for it, but as soon as such a delay recurs it is covered.
/// With fewer than three packets the largest counts: of two, the second-largest lateness is
/// always zero, and a sender's first burst (ffmpeg sends a 182 ms and a 74 ms packet back
/// to back) would be played with no delay for its first packet, then skipped through.
/// The window is kept as 16 blocks, each with its minimum and two largest transits, so an
/// update costs O(1) and a query O(blocks), with no allocation.
struct DelayEstimator {
    private static let blockCount = 16
    private let blockSize: Int
    /// Per block: minimum at [b], largest at [16 + b], second largest at [32 + b].
    private var blocks: [Int64]
    private var current = 0
    private var inBlock = 0
    /// Packets since the reset, counted up to 3.
    private var seen = 0
    /// The smallest transit in the window, in samples.
    private(set) var minimumTransit: Int64 = 0
    /// The second-largest lateness in the window (the largest when fewer than three packets), in samples.
    private(set) var peakLateness: Int64 = 0

    /// A window of about `packets` packets.
    init(packets: Int = 256) {
        blockSize = max(1, packets / Self.blockCount)
        blocks = [Int64](repeating: 0, count: 3 * Self.blockCount)
        reset()
    }

    mutating func reset() {
        for b in 0..<Self.blockCount {
            blocks[b] = .max
            blocks[Self.blockCount + b] = .min
            blocks[2 * Self.blockCount + b] = .min
        }
        current = 0
        inBlock = 0
        seen = 0
        minimumTransit = 0
        peakLateness = 0
    }

    /// Adds one packet's transit (arrival − timestamp, both in samples).
    mutating func add(transit: Int64) {
        let n = Self.blockCount
        if inBlock == blockSize {
            current = current + 1 == n ? 0 : current + 1
            inBlock = 0
        }
        let fresh = inBlock == 0
        inBlock += 1
        let c = current
        seen = min(seen + 1, 3)
        let few = seen < 3
        (minimumTransit, peakLateness) = blocks.withUnsafeMutableBufferPointer { t -> (Int64, Int64) in
            if fresh {
                t[c] = .max
                t[n + c] = .min
                t[2 * n + c] = .min
            }
            if transit < t[c] { t[c] = transit }
            if transit > t[n + c] {
                t[2 * n + c] = t[n + c]
                t[n + c] = transit
            } else if transit > t[2 * n + c] {
                t[2 * n + c] = transit
            }
            var low = Int64.max
            var top1 = Int64.min
            var top2 = Int64.min
            for b in 0..<n {
                if t[b] < low { low = t[b] }
                let (f, g) = (t[n + b], t[2 * n + b])
                if f > top1 {
                    top2 = max(top1, g)
                    top1 = f
                } else if f > top2 {
                    top2 = f
                }
            }
            return (low, (few || top2 == .min ? top1 : top2) - low)
        }
    }
}
