// The mixing core of a conference room: every 20 ms, each participant hears everyone but
// themself, summed in 32 bits and saturated. Only the K loudest talkers are mixed; everyone
// who is not one of them hears the same mix, so a tick costs O(N) level measurement and
// O(K) mixing, and a leg can encode that shared mix once per codec for all its listeners.

/// One room's mixer: fixed capacity, every buffer made at init, nothing allocated per tick.
/// Confined to the room's worker thread (not `Sendable`).
///
/// Per tick: write each participant's decoded frame with `input(_:)` (or leave it silent),
/// call `mix()`, then read `output(_:)` for each participant.
///
/// Talkers. A participant is *speaking* while its frame energy is over the threshold, and
/// for a hangover after (so words and the gaps between them are one turn). Up to
/// `talkerLimit` speaking, unmuted participants hold a talker seat and are mixed. A seat
/// changes hands only when a challenger has been louder than the quietest seated talker by
/// the hysteresis margin for several ticks in a row, so seats do not flap between voices
/// of similar level. Everyone else's audio is still measured (levels, talk events), not
/// mixed.
public final class RoomMixer {
    /// Samples per frame (20 ms at the room's rate).
    public let frameSamples: Int
    /// The most participants.
    public let capacity: Int
    /// K: the most talkers mixed at once.
    public let talkerLimit: Int

    /// Mean square energy over which a frame is speech (−45 dBFS by default).
    public var speechEnergy: Float
    /// Ticks a participant stays speaking after its last loud frame (200 ms).
    public var hangoverTicks = 10
    /// A challenger takes a seat when louder than the quietest talker by this factor of
    /// energy (2: 3 dB) …
    public var takeoverRatio: Float = 2
    /// … for this many ticks in a row.
    public var takeoverTicks = 3

    private let inputs: UnsafeMutableBufferPointer<Int16>
    private let sum: UnsafeMutableBufferPointer<Int32>
    private let shared: UnsafeMutableBufferPointer<Int16>
    /// Audio everyone hears this tick (a beep), over the talkers.
    private let overlayBuffer: UnsafeMutableBufferPointer<Int16>
    private var hasOverlay = false
    /// Talker seat s's own mix (the sum without its audio).
    private let seatOutputs: UnsafeMutableBufferPointer<Int16>
    /// Per participant.
    private let inUse: UnsafeMutableBufferPointer<Bool>
    private let muted: UnsafeMutableBufferPointer<Bool>
    private let hasInput: UnsafeMutableBufferPointer<Bool>
    private let energy: UnsafeMutableBufferPointer<Float>
    private let smoothed: UnsafeMutableBufferPointer<Float>
    private let hangover: UnsafeMutableBufferPointer<Int32>
    private let louderTicks: UnsafeMutableBufferPointer<Int32>
    /// The seat a participant holds, or −1.
    private let seatOf: UnsafeMutableBufferPointer<Int32>
    /// Who holds seat s, or −1.
    private let seats: UnsafeMutableBufferPointer<Int32>
    /// Free participant slots, a stack.
    private let free: UnsafeMutableBufferPointer<Int32>
    private var freeCount: Int
    /// The highest slot in use + 1 (loops stop there).
    private var highWater = 0
    /// Seat changes so far (to see flapping).
    public private(set) var seatChanges = 0

    /// A mixer for up to `capacity` participants of `frameSamples` samples per frame,
    /// mixing at most `talkerLimit` talkers.
    public init(capacity: Int, frameSamples: Int = 160, talkerLimit: Int = 3, speechDBFS: Double = -45) {
        self.capacity = max(1, capacity)
        self.frameSamples = max(1, frameSamples)
        self.talkerLimit = max(1, talkerLimit)
        speechEnergy = Float(32768.0 * 32768.0 * pow10(speechDBFS / 10))
        func make<T>(_ count: Int, _ value: T) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
            b.initialize(repeating: value)
            return b
        }
        inputs = make(self.capacity * self.frameSamples, 0)
        sum = make(self.frameSamples, 0)
        shared = make(self.frameSamples, 0)
        overlayBuffer = make(self.frameSamples, 0)
        seatOutputs = make(self.talkerLimit * self.frameSamples, 0)
        inUse = make(self.capacity, false)
        muted = make(self.capacity, false)
        hasInput = make(self.capacity, false)
        energy = make(self.capacity, 0)
        smoothed = make(self.capacity, 0)
        hangover = make(self.capacity, 0)
        louderTicks = make(self.capacity, 0)
        seatOf = make(self.capacity, -1)
        seats = make(self.talkerLimit, -1)
        free = make(self.capacity, 0)
        for i in 0..<self.capacity { free[i] = Int32(self.capacity - 1 - i) }
        freeCount = self.capacity
    }

    deinit {
        inputs.deallocate()
        sum.deallocate()
        shared.deallocate()
        overlayBuffer.deallocate()
        seatOutputs.deallocate()
        inUse.deallocate()
        muted.deallocate()
        hasInput.deallocate()
        energy.deallocate()
        smoothed.deallocate()
        hangover.deallocate()
        louderTicks.deallocate()
        seatOf.deallocate()
        seats.deallocate()
        free.deallocate()
    }

    /// Participants in the room.
    public var count: Int { capacity - freeCount }

    /// A slot for a new participant; nil when the room is full.
    public func join() -> Int? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        let slot = Int(free[freeCount])
        inUse[slot] = true
        muted[slot] = false
        hasInput[slot] = false
        energy[slot] = 0
        smoothed[slot] = 0
        hangover[slot] = 0
        louderTicks[slot] = 0
        seatOf[slot] = -1
        highWater = max(highWater, slot + 1)
        return slot
    }

    /// Frees `slot` (its seat, if it had one, is free from the next tick).
    public func leave(_ slot: Int) {
        guard slot >= 0, slot < capacity, inUse[slot] else { return }
        if seatOf[slot] >= 0 { seats[Int(seatOf[slot])] = -1 }
        seatOf[slot] = -1
        inUse[slot] = false
        free[freeCount] = Int32(slot)
        freeCount += 1
        while highWater > 0 && !inUse[highWater - 1] { highWater -= 1 }
    }

    /// A muted participant hears the room and is never mixed.
    public func setMuted(_ slot: Int, _ value: Bool) {
        guard slot >= 0, slot < capacity, inUse[slot] else { return }
        muted[slot] = value
        if value, seatOf[slot] >= 0 {
            seats[Int(seatOf[slot])] = -1
            seatOf[slot] = -1
        }
    }

    /// The buffer to decode `slot`'s frame into this tick; writing it marks the input.
    public func input(_ slot: Int) -> UnsafeMutableBufferPointer<Int16> {
        hasInput[slot] = true
        return UnsafeMutableBufferPointer(rebasing: inputs[(slot * frameSamples)..<((slot + 1) * frameSamples)])
    }

    /// A frame every participant hears this tick, talkers included (a beep); write it
    /// before `mix()`.
    public func overlay() -> UnsafeMutableBufferPointer<Int16> {
        hasOverlay = true
        return overlayBuffer
    }

    /// Whether `slot` is speaking (over the threshold, or within the hangover).
    public func isSpeaking(_ slot: Int) -> Bool { inUse[slot] && hangover[slot] > 0 }

    /// Whether `slot` holds a talker seat (is mixed).
    public func isTalker(_ slot: Int) -> Bool { inUse[slot] && seatOf[slot] >= 0 }

    /// The frame's mean square energy of `slot`, this tick.
    public func frameEnergy(_ slot: Int) -> Float { energy[slot] }

    /// One tick: measure every input, settle the talker seats, mix.
    public func mix() {
        let n = frameSamples
        // 1. Levels and speaking, for everyone (O(N)).
        for p in 0..<highWater where inUse[p] {
            var e: Float = 0
            if hasInput[p] {
                let base = p * n
                var acc: Int64 = 0
                for i in 0..<n {
                    let s = Int64(inputs[base + i])
                    acc &+= s &* s
                }
                e = Float(acc) / Float(n)
            }
            energy[p] = e
            // Fast attack, slow release.
            smoothed[p] = e > smoothed[p] ? e : smoothed[p] * 0.9 + e * 0.1
            if e > speechEnergy {
                hangover[p] = Int32(hangoverTicks)
            } else if hangover[p] > 0 {
                hangover[p] -= 1
            }
        }
        // 2. Seats: talkers who stopped speaking (or have no audio) give theirs up.
        for s in 0..<talkerLimit where seats[s] >= 0 {
            let p = Int(seats[s])
            if !inUse[p] || muted[p] || hangover[p] == 0 {
                seats[s] = -1
                seatOf[p] = -1
            }
        }
        // Candidates: speaking, unmuted, unseated; the loudest fill free seats, and one who
        // stays louder than the quietest talker takes its seat.
        for p in 0..<highWater where inUse[p] && !muted[p] && hangover[p] > 0 && seatOf[p] < 0 {
            var freeSeat = -1
            var quietestSeat = -1
            var quietest = Float.greatestFiniteMagnitude
            for s in 0..<talkerLimit {
                let holder = seats[s]
                if holder < 0 {
                    freeSeat = s
                    break
                }
                if smoothed[Int(holder)] < quietest {
                    quietest = smoothed[Int(holder)]
                    quietestSeat = s
                }
            }
            if freeSeat >= 0 {
                seats[freeSeat] = Int32(p)
                seatOf[p] = Int32(freeSeat)
                louderTicks[p] = 0
                seatChanges += 1
            } else if quietestSeat >= 0 && smoothed[p] > quietest * takeoverRatio {
                louderTicks[p] += 1
                if louderTicks[p] >= Int32(takeoverTicks) {
                    let old = Int(seats[quietestSeat])
                    seatOf[old] = -1
                    seats[quietestSeat] = Int32(p)
                    seatOf[p] = Int32(quietestSeat)
                    louderTicks[p] = 0
                    seatChanges += 1
                }
            } else {
                louderTicks[p] = 0
            }
        }
        // 3. Mix the talkers (O(K·n)): the sum in 32 bits, then each talker's sum without
        //    its own audio, saturated.
        for i in 0..<n { sum[i] = 0 }
        for s in 0..<talkerLimit where seats[s] >= 0 {
            let base = Int(seats[s]) * n
            for i in 0..<n { sum[i] &+= Int32(inputs[base + i]) }
        }
        if hasOverlay {
            hasOverlay = false
            for i in 0..<n { sum[i] &+= Int32(overlayBuffer[i]) }
        }
        for i in 0..<n { shared[i] = Int16(clamping: sum[i]) }
        for s in 0..<talkerLimit where seats[s] >= 0 {
            let base = Int(seats[s]) * n
            let out = s * n
            for i in 0..<n { seatOutputs[out + i] = Int16(clamping: sum[i] &- Int32(inputs[base + i])) }
        }
        // Inputs are per tick: silent unless written again.
        for p in 0..<highWater where hasInput[p] {
            hasInput[p] = false
            let base = p * n
            for i in 0..<n { inputs[base + i] = 0 }
        }
    }

    /// What `slot` hears this tick: its own mix if it is a talker, else the shared mix.
    public func output(_ slot: Int) -> UnsafeBufferPointer<Int16> {
        let seat = slot >= 0 && slot < capacity ? Int(seatOf[slot]) : -1
        if seat >= 0 {
            return UnsafeBufferPointer(rebasing: seatOutputs[(seat * frameSamples)..<((seat + 1) * frameSamples)])
        }
        return UnsafeBufferPointer(shared)
    }

    /// The mix every non-talker hears (encode it once per codec for all of them).
    public var sharedOutput: UnsafeBufferPointer<Int16> { UnsafeBufferPointer(shared) }

    /// The participants holding talker seats now (−1 for an empty seat), in seat order.
    public func talkerSeat(_ seat: Int) -> Int { Int(seats[seat]) }
}

/// 10^x, without Foundation.
private func pow10(_ x: Double) -> Double {
    // exp(x · ln 10), by the standard library's `Double` API.
    var result = 1.0
    var base = 10.0
    var e = abs(x)
    // Integer part by squaring, fraction by a short series on ln(10)·frac.
    var n = Int(e)
    e -= Double(n)
    while n > 0 {
        if n & 1 == 1 { result *= base }
        base *= base
        n >>= 1
    }
    let y = e * 2.302585092994046
    var term = 1.0
    var series = 1.0
    for k in 1..<20 {
        term *= y / Double(k)
        series += term
    }
    result *= series
    return x < 0 ? 1 / result : result
}
