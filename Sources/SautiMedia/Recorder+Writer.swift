import SautiAudio

#if canImport(Glibc)
    import Glibc
#endif

/// The I/O-thread half of a recording: a periodic job on `MediaIOThread` that opens the
/// WAV file, drains the ring into it, trims silence and finishes the file.
///
/// - Drains every `drainIntervalNanoseconds` (500 ms), or sooner when the ring is half
///   full; every write rewrites the WAV header (`WAVWriter`), so a process killed at any
///   moment leaves a playable file missing at most the last drain interval (the Record
///   verb promises at most a second). Each drain costs a few system calls whatever its
///   size, so a longer interval is what lets thousands of recordings run at once.
/// - Leading silence is never written: ticks are dropped until the first one that is not
///   silence. Trailing silence is written as it comes (the recording may go on) and cut
///   off when the recording ends (`WAVTrim`), after the file was closed and fsynced.
/// - A failure to create or write the file ends the recording with `.error`: the writer
///   closes what it wrote (a valid file: the header is rewritten on every write), tells
///   the worker to stop feeding the ring, and reports.
///
/// Confined to the I/O thread: `@unchecked Sendable` only to be handed to it once.
final class RecordingWriter: @unchecked Sendable {
    /// How often the ring is drained into the file, in ns.
    static let drainIntervalNanoseconds: Int64 = 500_000_000

    private let link: RecordingLink
    private let spec: RecordingSpec
    /// The file's rate, in Hz.
    private let sampleRate: Int
    /// Channels in the file.
    private let channels: Int
    /// Samples in one tick, all channels.
    private let tickSamples: Int
    /// A channel's tick is silence when its sum of squares is below this.
    private let silenceEnergy: Int64
    /// Where ring contents are read to, a whole number of ticks; made once.
    private let scratch: UnsafeMutableBufferPointer<Int16>
    /// The file, once open.
    private var writer: WAVWriter?
    /// The file was created (it exists, and its size is reported).
    private var created = false
    /// Reported: nothing more to do.
    private var done = false
    /// A tick that is not silence was written, or trimming is off: ticks are written.
    private var heardSound: Bool
    /// Sample frames in the file up to the end of the last tick that was not silence.
    private var soundEndFrame = 0
    /// When the ring was last drained (monotonic ns).
    /// When the ring was last drained. Starts at a random phase of the interval, so
    /// recordings started together do not all drain in the same pass.
    private var lastDrain: Int64 = monotonicNanoseconds() - Int64.random(in: 0..<RecordingWriter.drainIntervalNanoseconds)
    /// Checks, in debug builds, that only the I/O thread services it.
    private var confinement = ThreadConfinement()

    init(_ spec: RecordingSpec, frameSamples: Int, sampleRate: Int, link: RecordingLink) {
        self.spec = spec
        self.link = link
        self.sampleRate = sampleRate
        channels = spec.channels == .both ? 2 : 1
        tickSamples = frameSamples * channels
        silenceEnergy = SilenceLevel.energyThreshold(dBFS: spec.silenceThresholdDBFS, samples: frameSamples)
        heardSound = !spec.trimSilence
        // Half a second of ticks per read: a full ring (two seconds) takes four.
        scratch = .allocate(capacity: tickSamples * 25)
        scratch.initialize(repeating: 0)
    }

    deinit { scratch.deallocate() }

    /// One pass of the I/O thread: false once the recording is reported (the job ends).
    func service() -> Bool {
        confinement.check()
        guard !done else { return false }
        if writer == nil {
            do {
                writer = try WAVWriter(
                    path: wavPath, sampleRate: sampleRate, channels: channels, encoding: spec.encoding)
                created = true
            } catch {
                fail(error.reason)
                return false
            }
        }
        // Read before draining: everything written before `finish` is then in the ring.
        let finished = link.ring.isFinished
        let now = monotonicNanoseconds()
        if !finished && now - lastDrain < Self.drainIntervalNanoseconds
            && link.ring.available < link.ring.capacity / 2
        {
            return true
        }
        lastDrain = now
        if let failure = drain() {
            fail(failure)
            return false
        }
        if finished {
            finalize()
            return false
        }
        return true
    }

    /// Moves everything in the ring to the file; the failure's reason, if any.
    private func drain() -> String? {
        guard let writer else { return nil }
        while true {
            let n = link.ring.read(into: scratch)
            if n == 0 { return nil }
            // The worker writes whole ticks, so `n` is a whole number of them.
            let ticks = n / tickSamples
            var start = 0
            if !heardSound {
                while start < ticks && isSilence(tick: start) { start += 1 }
                if start == ticks { continue }
                heardSound = true
            }
            let first = writer.framesWritten
            for t in start..<ticks where !isSilence(tick: t) {
                soundEndFrame = first + (t - start + 1) * (tickSamples / channels)
            }
            do {
                try writer.write(UnsafeBufferPointer(rebasing: scratch[(start * tickSamples)..<(ticks * tickSamples)]))
            } catch {
                return error.reason
            }
        }
    }

    /// Whether tick `t` of the scratch is silence on every channel.
    private func isSilence(tick t: Int) -> Bool {
        let samples = UnsafeBufferPointer(rebasing: scratch[(t * tickSamples)..<((t + 1) * tickSamples)])
        for c in 0..<channels where SilenceLevel.energy(samples, channel: c, of: channels) >= silenceEnergy {
            return false
        }
        return true
    }

    /// The recording ended: close (fsync) the file, cut trailing silence, report.
    private func finalize() {
        var reason = link.reason ?? .stopped
        var frames = writer?.framesWritten ?? 0
        var failures: [String] = []
        do {
            try writer?.close()
        } catch {
            failures.append(error.reason)
        }
        writer = nil
        if spec.trimSilence && failures.isEmpty && soundEndFrame < frames {
            let bytesPerFrame = (spec.encoding == .pcm16 ? 2 : 1) * channels
            do {
                try WAVTrim.truncate(path: wavPath, frames: soundEndFrame, bytesPerFrame: bytesPerFrame)
                frames = soundEndFrame
            } catch {
                failures.append("trimming trailing silence: \(error)")
            }
        }
        if let failure = convertToOggOpus() { failures.append(failure) }
        if !failures.isEmpty { reason = .error(failures.joined(separator: "; ")) }
        report(reason, frames: frames)
    }

    /// Where the WAV is written: the recording's path, or beside it for Ogg Opus.
    private var wavPath: String { spec.oggOpus ? spec.path + ".part.wav" : spec.path }

    /// For an Ogg Opus recording: the closed WAV converted to `spec.path`, then removed.
    /// The failure's reason, if any (the WAV is kept then).
    private func convertToOggOpus() -> String? {
        guard spec.oggOpus, created else { return nil }
        do throws(AudioFileError) {
            try OggOpusFile.convert(wav: wavPath, to: spec.path)
        } catch {
            return "converting to Ogg Opus: \(error.reason)"
        }
        unlink(wavPath)
        return nil
    }

    /// The file failed: stop the worker, keep what was written (closed, fsynced), report.
    private func fail(_ reason: String) {
        link.abort()
        var message = reason
        let frames = writer?.framesWritten ?? 0
        do {
            try writer?.close()
        } catch {
            message += "; " + error.reason
        }
        writer = nil
        if let failure = convertToOggOpus() { message += "; " + failure }
        report(.error(message), frames: frames)
    }

    private func report(_ reason: RecordingEnd, frames: Int) {
        done = true
        var info = stat()
        let bytes = created && stat(spec.path, &info) == 0 ? Int(info.st_size) : 0
        let tickMilliseconds = tickSamples / channels * 1000 / sampleRate
        link.reports.report(
            RecordingOutcome(
                path: spec.path, reason: reason, frames: frames, sampleRate: sampleRate, channels: channels,
                bytes: bytes, droppedMilliseconds: link.droppedTicks.load(ordering: .relaxed) * tickMilliseconds))
    }
}
