// The production recorder, worker side. A recording is two passive halves meeting
// through a `SampleRing`:
//
// - `Recorder` runs on the leg's media worker, called once per tick by the leg: it writes
//   the tick's frame (interleaved with the sent frame for stereo) into the ring, never
//   blocking, never allocating, and decides every end but errors (max length, silence
//   timeout, finish key, stop, hangup);
// - `RecordingWriter` (Recorder+Writer.swift) runs on the engine's I/O thread: it opens
//   the WAV file, drains the ring into it about every 500 ms, trims silence and finishes
//   the file, and reports the outcome.
//
// The outcome event comes from the I/O thread, once the file is final. `RecordingReports`
// keeps a leg's `.closed` after the outcomes of recordings still finishing.

import SautiAudio
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A leg's recordings still to report, and its `.closed` held back until they have.
///
/// The worker yields `.closed` and finishes the event stream when the leg closes; a
/// recording ended by that close (or just before it) reports from the I/O thread later.
/// Outcomes are yielded under this lock, so `.closed` always follows them.
final class RecordingReports: Sendable {
    private struct State {
        /// Recordings started and not yet reported.
        var outstanding = 0
        /// The leg closed: the last report yields `.closed` and finishes the events.
        var legClosed = false
    }
    private let state = Mutex(State())
    private let events: AsyncStream<LegEvent>.Continuation

    init(events: AsyncStream<LegEvent>.Continuation) { self.events = events }

    /// A recording starts; false if the leg is closed already (it must not start).
    func begin() -> Bool {
        state.withLock { s in
            guard !s.legClosed else { return false }
            s.outstanding += 1
            return true
        }
    }

    /// A recording's outcome; the leg's `.closed` follows if it was waiting for it.
    func report(_ outcome: RecordingOutcome) {
        state.withLock { s in
            events.yield(.recordingFinished(outcome))
            s.outstanding -= 1
            if s.legClosed && s.outstanding == 0 {
                events.yield(.closed)
                events.finish()
            }
        }
    }

    /// The leg closes: true when a recording still has to report, and the last report
    /// will yield `.closed` (the leg must not); false when the leg yields it now.
    func legClosing() -> Bool {
        state.withLock { s in
            s.legClosed = true
            return s.outstanding > 0
        }
    }
}

/// What a recording's two halves share: the ring, how it ended, and the reports.
final class RecordingLink: Sendable {
    /// Recorded samples (interleaved for stereo), worker → I/O thread.
    let ring: SampleRing
    /// Where the outcome goes.
    let reports: RecordingReports
    /// Why the worker ended the recording; the first reason set wins.
    private let end = Mutex<RecordingEnd?>(nil)
    /// Set by the I/O thread when the file failed: the worker stops feeding the ring.
    private let aborted = Atomic<Bool>(false)
    /// Ticks dropped because the ring was full (the writer fell behind).
    let droppedTicks = Atomic<Int>(0)

    init(ring: SampleRing, reports: RecordingReports) {
        self.ring = ring
        self.reports = reports
    }

    /// Worker: the recording ends for `reason` (kept if none was set); nothing more is written.
    func finish(_ reason: RecordingEnd) {
        end.withLock { if $0 == nil { $0 = reason } }
        ring.finish()
    }

    /// Why it ended (read after `ring.isFinished`).
    var reason: RecordingEnd? { end.withLock { $0 } }

    /// I/O thread: the file failed; the worker drops the recording at its next tick.
    func abort() { aborted.store(true, ordering: .releasing) }

    /// Whether the I/O side gave up on the file.
    var isAborted: Bool { aborted.load(ordering: .acquiring) }
}

/// The worker half of a recording: called by its leg once per tick, after the leg sent
/// its frame. Writes whole ticks into the ring (a tick that does not fit is dropped and
/// counted, never waited for), plays the beep first, and ends the recording on max
/// length, silence timeout and finish keys.
///
/// Confined to the leg's worker: `@unchecked Sendable` only to be built in a command.
final class Recorder: @unchecked Sendable {
    /// Shared with the writer.
    let link: RecordingLink
    /// Samples per channel in a tick (the leg's 20 ms frame).
    let frameSamples: Int
    /// Caller left, engine right.
    private let stereo: Bool
    /// Interleaving scratch for stereo (2 × `frameSamples`), made once.
    private let interleaved: UnsafeMutableBufferPointer<Int16>
    /// The beep's generator.
    private var beepTone: ToneGenerator
    /// Ticks of beep still to send before recording starts.
    private(set) var beepTicksLeft: Int
    /// Ticks recorded (dropped ones included: this is recorded time).
    private var ticksRecorded = 0
    /// The maximum length, in ticks (`Int.max` for none).
    private let maxTicks: Int
    /// The silence timeout, in ticks (`Int.max` for none).
    private let silenceTimeoutTicks: Int
    /// Consecutive caller ticks below the threshold.
    private var silentTicks = 0
    /// A tick of the caller is silence when its sum of squares is below this.
    private let silenceEnergy: Int64
    /// Keys that end the recording.
    private let finishOnKeys: Set<Character>
    /// Checks, in debug builds, that only one thread (the leg's worker) ticks it.
    private var confinement = ThreadConfinement()

    /// The leg moved to another worker: that thread ticks the recording from now on.
    func rehome() { confinement.reset() }

    /// A recording of ticks of `frameSamples` samples (per channel) as `spec` asks.
    init(_ spec: RecordingSpec, frameSamples: Int, sampleRate: Int, link: RecordingLink) {
        self.link = link
        self.frameSamples = frameSamples
        stereo = spec.channels == .both
        interleaved = .allocate(capacity: stereo ? 2 * frameSamples : 0)
        interleaved.initialize(repeating: 0)
        beepTone = ToneGenerator(.beep(), sampleRate: sampleRate)
        let tickMilliseconds = max(1, frameSamples * 1000 / sampleRate)
        func ticks(_ ms: Int) -> Int { (ms + tickMilliseconds - 1) / tickMilliseconds }
        beepTicksLeft = ticks(max(0, spec.beepMilliseconds))
        maxTicks = spec.maxLengthMilliseconds > 0 ? ticks(spec.maxLengthMilliseconds) : .max
        silenceTimeoutTicks = spec.silenceTimeoutMilliseconds > 0 ? ticks(spec.silenceTimeoutMilliseconds) : .max
        silenceEnergy = SilenceLevel.energyThreshold(dBFS: spec.silenceThresholdDBFS, samples: frameSamples)
        finishOnKeys = spec.finishOnKeys
    }

    deinit { interleaved.deallocate() }

    /// Whether the beep is still playing (the leg sends it instead of its source).
    var isBeeping: Bool { beepTicksLeft > 0 }

    /// The next beep frame, into the leg's outbound frame.
    func beep(into frame: UnsafeMutableBufferPointer<Int16>) { beepTone.fill(frame) }

    /// One tick: `inbound` is the caller's frame, `outbound` the frame the leg sent (nil
    /// when it sent none: silence). Returns false when the recording is over; the leg then
    /// drops it.
    func tick(inbound: UnsafeBufferPointer<Int16>, outbound: UnsafeBufferPointer<Int16>?) -> Bool {
        confinement.check()
        if link.isAborted { return false }
        if beepTicksLeft > 0 {
            beepTicksLeft -= 1
            return true
        }
        if stereo {
            let out = interleaved
            if let outbound {
                // Safe: the leg's frames are `frameSamples` long both ways (fixed when the leg
                // opened), so i < inbound.count = outbound.count and 2i + 1 < out.count.
                for i in 0..<frameSamples {
                    out[2 * i] = inbound[i]
                    out[2 * i + 1] = outbound[i]
                }
            } else {
                for i in 0..<frameSamples {
                    out[2 * i] = inbound[i]
                    out[2 * i + 1] = 0
                }
            }
            write(UnsafeBufferPointer(out))
        } else {
            write(inbound)
        }
        ticksRecorded += 1
        if SilenceLevel.energy(inbound) < silenceEnergy {
            silentTicks += 1
        } else {
            silentTicks = 0
        }
        if ticksRecorded >= maxTicks {
            finish(.maxLength)
            return false
        }
        if silentTicks >= silenceTimeoutTicks {
            finish(.silence)
            return false
        }
        return true
    }

    /// Whole ticks only, so the writer always reads whole ticks.
    private func write(_ samples: UnsafeBufferPointer<Int16>) {
        if link.ring.space >= samples.count {
            link.ring.write(samples)
        } else {
            link.droppedTicks.add(1, ordering: .relaxed)
        }
    }

    /// A digit from the caller; true if it is a finish key and ended the recording.
    func digit(_ digit: Character) -> Bool {
        guard finishOnKeys.contains(digit) else { return false }
        finish(.finishKey(digit))
        return true
    }

    /// Ends the recording; the writer finishes the file and reports.
    func finish(_ reason: RecordingEnd) { link.finish(reason) }
}

/// Frame levels for silence detection and trimming.
enum SilenceLevel {
    /// The sum of squares at or above which `samples` samples are not silence: the RMS
    /// level `dBFS` relative to full scale (32768).
    static func energyThreshold(dBFS: Double, samples: Int) -> Int64 {
        let rms = 32768 * pow(10, dBFS / 20)
        let energy = rms * rms * Double(samples)
        return energy >= Double(Int64.max) ? .max : Int64(energy.rounded(.up))
    }

    /// The sum of squares of `samples`.
    @inline(__always)
    static func energy(_ samples: UnsafeBufferPointer<Int16>) -> Int64 {
        var sum: Int64 = 0
        for x in samples {
            let v = Int32(x)
            // Safe: v² ≤ 2³⁰, and a frame has far fewer than 2³³ samples.
            sum &+= Int64(v &* v)
        }
        return sum
    }

    /// The sum of squares of channel `channel` of interleaved frames of `channels` channels.
    @inline(__always)
    static func energy(_ samples: UnsafeBufferPointer<Int16>, channel: Int, of channels: Int) -> Int64 {
        var sum: Int64 = 0
        var i = channel
        while i < samples.count {
            let v = Int32(samples[i])
            // Safe: as above.
            sum &+= Int64(v &* v)
            i += channels
        }
        return sum
    }
}

/// In debug builds, traps if the thing holding it is used from a second thread: the first
/// thread to `check` owns it. Release builds keep nothing and check nothing.
struct ThreadConfinement {
    #if DEBUG
        private var owner: pthread_t?
    #endif

    /// Traps (debug builds) unless called on the owning thread.
    @inline(__always)
    mutating func check() {
        #if DEBUG
            let me = pthread_self()
            if let owner {
                precondition(pthread_equal(owner, me) != 0, "used off the thread it is confined to")
            } else {
                owner = me
            }
        #endif
    }

    /// Forgets the owner: the next `check` adopts its thread (after a hand-over between
    /// workers, which the command queue orders).
    mutating func reset() {
        #if DEBUG
            owner = nil
        #endif
    }
}
