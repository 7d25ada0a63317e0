import Synchronization

/// A single-producer, single-consumer ring of 16-bit samples between a media worker and
/// an I/O thread (a player's decoder fills it, a recorder's writer drains it). Capacity is
/// a power of two and `& mask` indexes it; positions are free-running counters published
/// with release/acquire atomics, so neither side ever blocks or allocates.
public final class SampleRing: @unchecked Sendable {  // Safe: one producer and one consumer meet only through the atomics.
    private let storage: UnsafeMutablePointer<Int16>
    /// Capacity in samples (a power of two).
    public let capacity: Int
    private let mask: Int
    private let writePosition = Atomic<Int>(0)
    private let readPosition = Atomic<Int>(0)
    /// Set by the producer when no more samples will come.
    private let finished = Atomic<Bool>(false)

    /// A ring holding at least `minimumCapacity` samples.
    public init(minimumCapacity: Int) {
        var c = 1
        while c < minimumCapacity { c <<= 1 }
        capacity = c
        mask = c - 1
        storage = .allocate(capacity: c)
        storage.initialize(repeating: 0, count: c)
    }

    deinit { storage.deallocate() }

    /// Samples waiting to be read.
    public var available: Int { writePosition.load(ordering: .acquiring) - readPosition.load(ordering: .acquiring) }

    /// Room for writing.
    public var space: Int { capacity - available }

    /// Producer: appends as many of `samples` as fit; returns how many.
    @discardableResult
    public func write(_ samples: UnsafeBufferPointer<Int16>) -> Int {
        let w = writePosition.load(ordering: .relaxed)
        let r = readPosition.load(ordering: .acquiring)
        let n = min(samples.count, capacity - (w - r))
        for i in 0..<n { storage[(w + i) & mask] = samples[i] }
        writePosition.store(w + n, ordering: .releasing)
        return n
    }

    /// Consumer: takes up to `out.count` samples; returns how many.
    @discardableResult
    public func read(into out: UnsafeMutableBufferPointer<Int16>) -> Int {
        let r = readPosition.load(ordering: .relaxed)
        let w = writePosition.load(ordering: .acquiring)
        let n = min(out.count, w - r)
        for i in 0..<n { out[i] = storage[(r + i) & mask] }
        readPosition.store(r + n, ordering: .releasing)
        return n
    }

    /// Consumer: drops everything waiting (a barge-in, a stop).
    public func clear() {
        readPosition.store(writePosition.load(ordering: .acquiring), ordering: .releasing)
    }

    /// Producer: no more samples will come.
    public func finish() { finished.store(true, ordering: .releasing) }

    /// Whether the producer finished and everything was read.
    public var isDrained: Bool { finished.load(ordering: .acquiring) && available == 0 }

    /// Whether the producer said it finished.
    public var isFinished: Bool { finished.load(ordering: .acquiring) }
}
