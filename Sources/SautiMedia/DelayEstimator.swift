/// The delay estimator of the live jitter buffer (NetEq's name for the part).
///
/// Each packet's transit (arrival minus media time, in samples) is compared with the
/// smallest transit of the last `window` packets: the difference is how much later than
/// the fastest packet it came. The target delay covers the largest such lateness seen in
/// the window, plus a margin, between the configured bounds. Minimum and maximum are kept
/// per block of 16 packets, so an update costs O(window / 16), with no allocation.
struct DelayEstimator {
    private static let blockSize = 16
    private let blocks: Int
    private var blockMin: [Int64]
    private var blockMaxRelative: [Int64]
    private var current = 0
    private var inBlock = 0
    private var filled = 0
    /// The smallest transit in the window, in samples.
    private(set) var minimumTransit: Int64 = 0
    /// The largest lateness relative to `minimumTransit` in the window, in samples.
    private(set) var peakLateness: Int64 = 0

    /// A window of about `packets` packets (rounded up to blocks of 16).
    init(packets: Int = 256) {
        blocks = max(2, (packets + Self.blockSize - 1) / Self.blockSize)
        blockMin = [Int64](repeating: .max, count: blocks)
        blockMaxRelative = [Int64](repeating: 0, count: blocks)
    }

    mutating func reset() {
        for i in 0..<blocks {
            blockMin[i] = .max
            blockMaxRelative[i] = 0
        }
        current = 0
        inBlock = 0
        filled = 0
        minimumTransit = 0
        peakLateness = 0
    }

    /// Adds one packet's transit (arrival − timestamp, both in samples).
    mutating func add(transit: Int64) {
        if inBlock == Self.blockSize {
            current = (current + 1) % blocks
            blockMin[current] = .max
            blockMaxRelative[current] = 0
            inBlock = 0
        }
        inBlock += 1
        filled = min(filled + 1, blocks * Self.blockSize)
        if transit < blockMin[current] { blockMin[current] = transit }
        var m = Int64.max
        for b in 0..<blocks where blockMin[b] < m { m = blockMin[b] }
        minimumTransit = m
        let relative = transit - m
        if relative > blockMaxRelative[current] { blockMaxRelative[current] = relative }
        var peak: Int64 = 0
        for b in 0..<blocks where blockMaxRelative[b] > peak { peak = blockMaxRelative[b] }
        peakLateness = peak
    }
}
