/// The delay estimator of the live jitter buffer (NetEq's name for the part).
///
/// Each packet's transit (arrival minus media time, in samples) is kept for the last
/// `window` packets. Lateness is a packet's transit over the window's smallest. The target
/// delay covers the `rank`-th largest lateness in the window — rank 1 is the peak; a
/// higher rank lets the rarest outliers go late rather than delaying every packet for them
/// (with 256 packets and rank 3, about 99 % of packets are covered). Storage is made once;
/// an update is one pass over the window, with no allocation.
struct DelayEstimator {
    private var transits: [Int64]
    private var next = 0
    private var filled = 0
    private let rank: Int
    /// The smallest transit in the window, in samples.
    private(set) var minimumTransit: Int64 = 0
    /// The `rank`-th largest lateness in the window, in samples.
    private(set) var peakLateness: Int64 = 0

    /// A window of `packets` packets; the target covers all but the `rank − 1` latest.
    init(packets: Int = 256, rank: Int = 2) {
        transits = [Int64](repeating: 0, count: max(16, packets))
        self.rank = max(1, min(rank, 8))
    }

    mutating func reset() {
        next = 0
        filled = 0
        minimumTransit = 0
        peakLateness = 0
    }

    /// Adds one packet's transit (arrival − timestamp, both in samples).
    mutating func add(transit: Int64) {
        let n = transits.count
        filled = min(filled + 1, n)
        let rank = min(self.rank, filled)
        transits.withUnsafeMutableBufferPointer { t in
            t[next] = transit
            next = next + 1 == n ? 0 : next + 1
            var lowest = Int64.max
            // The `rank` largest transits, largest first (rank ≤ 8: a tiny insertion list).
            var top: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (.min, .min, .min, .min, .min, .min, .min, .min)
            withUnsafeMutableBytes(of: &top) { raw in
                let largest = raw.bindMemory(to: Int64.self)
                for i in 0..<filled {
                    let v = t[i]
                    if v < lowest { lowest = v }
                    if v > largest[rank - 1] {
                        var j = rank - 1
                        while j > 0 && largest[j - 1] < v {
                            largest[j] = largest[j - 1]
                            j -= 1
                        }
                        largest[j] = v
                    }
                }
                minimumTransit = lowest
                peakLateness = largest[rank - 1] - lowest
            }
        }
    }
}
