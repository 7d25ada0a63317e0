import SautiWire

/// An open-addressing hash table from stream key to the stream's index, with a cheap multiplicative
/// hash instead of SipHash: replay looks one up per packet, and a capture is not an
/// adversary that can choose keys to collide (a hostile one costs time, never memory or
/// correctness: probing is linear and the table grows at half load).
struct FlowTable {
    private var keys: [StreamKey?]
    private var values: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        keys = [StreamKey?](repeating: nil, count: c)
        values = [Int32](repeating: -1, count: c)
        mask = c - 1
    }

    @inline(__always)
    private static func mix(_ a: IPAddress) -> UInt64 {
        switch a {
        case .v4(let v): return UInt64(v)
        case .v6(let hi, let lo): return hi ^ (lo &* 0x9E37_79B9_7F4A_7C15)
        }
    }

    @inline(__always)
    private static func slot(_ k: StreamKey, _ mask: Int) -> Int {
        var h = mix(k.source.address) &* 0x9E37_79B9_7F4A_7C15
        h ^= mix(k.destination.address) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= (UInt64(k.source.port) << 16 | UInt64(k.destination.port) | UInt64(k.ssrc) << 32) &* 0x1656_67B1_9E37_79F9
        h ^= h >> 29
        return Int(truncatingIfNeeded: h) & mask
    }

    subscript(key: StreamKey) -> Int? {
        var i = FlowTable.slot(key, mask)
        while let k = keys[i] {
            if k == key { return Int(values[i]) }
            i = (i + 1) & mask
        }
        return nil
    }

    mutating func insert(_ index: Int, for key: StreamKey) {
        let value = Int32(index)
        if (count + 1) * 2 > keys.count { grow() }
        var i = FlowTable.slot(key, mask)
        while let k = keys[i] {
            if k == key {
                values[i] = value
                return
            }
            i = (i + 1) & mask
        }
        keys[i] = key
        values[i] = value
        count += 1
    }

    private mutating func grow() {
        let old = zip(keys, values).compactMap { k, v in k.map { ($0, Int(v)) } }
        let c = keys.count * 2
        keys = [StreamKey?](repeating: nil, count: c)
        values = [Int32](repeating: -1, count: c)
        mask = c - 1
        count = 0
        for (k, v) in old { insert(v, for: k) }
    }
}
