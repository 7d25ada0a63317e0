/// Reassembles fragmented IPv4 datagrams (RFC 791, with RFC 815's hole list kept as a
/// byte count). Bounded: at most `maxPending` datagrams in progress and
/// `maxDatagramBytes` each; past that, the oldest is dropped and counted.
public struct IPv4Reassembler {
    private struct Key: Hashable {
        var source: UInt32
        var destination: UInt32
        var identification: UInt16
        var proto: UInt8
    }

    private struct Pending {
        var bytes: [UInt8]
        var covered: [Bool]
        var totalLength: Int?
        var order: Int
    }

    private var pending: [Key: Pending] = [:]
    private var counter = 0
    /// Datagrams in progress at most.
    public let maxPending: Int
    /// Largest datagram accepted (the IPv4 maximum).
    public let maxDatagramBytes = 65_535
    /// Fragments seen.
    public private(set) var fragments = 0
    /// Datagrams completed.
    public private(set) var reassembled = 0
    /// Datagrams given up on (evicted, overlapping inconsistently, or too large).
    public private(set) var dropped = 0

    /// A reassembler with room for `maxPending` datagrams at once.
    public init(maxPending: Int = 1024) {
        self.maxPending = maxPending
    }

    /// Datagrams still incomplete.
    public var incomplete: Int { pending.count }

    /// Adds a fragment; returns the whole IP payload when this fragment completes it.
    public mutating func add(_ f: IPv4Fragment) -> [UInt8]? {
        fragments += 1
        let key = Key(source: f.source, destination: f.destination, identification: f.identification, proto: f.proto)
        let end = f.offsetBytes + f.data.count
        guard end <= maxDatagramBytes else {
            if pending.removeValue(forKey: key) != nil { dropped += 1 }
            dropped += 1
            return nil
        }
        var p = pending[key] ?? {
            if pending.count >= maxPending, let oldest = pending.min(by: { $0.value.order < $1.value.order })?.key {
                pending.removeValue(forKey: oldest)
                dropped += 1
            }
            counter += 1
            return Pending(bytes: [], covered: [], totalLength: nil, order: counter)
        }()
        if p.bytes.count < end {
            p.bytes += [UInt8](repeating: 0, count: end - p.bytes.count)
            p.covered += [Bool](repeating: false, count: end - p.covered.count)
        }
        for i in 0..<f.data.count {
            p.bytes[f.offsetBytes + i] = f.data[i]
            p.covered[f.offsetBytes + i] = true
        }
        if !f.moreFragments { p.totalLength = end }
        if let total = p.totalLength, p.covered.count >= total, !p.covered[0..<total].contains(false) {
            pending.removeValue(forKey: key)
            reassembled += 1
            return Array(p.bytes[0..<total])
        }
        pending[key] = p
        return nil
    }
}
