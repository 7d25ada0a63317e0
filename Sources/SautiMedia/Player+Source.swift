/// A playback's worker side: the leg's `FrameSource`, reading one frame per tick from the
/// ring the I/O thread fills. Never blocks, never allocates: a short ring gives silence for
/// the missing samples (counted as an underrun once the playback has started), a finished
/// and drained ring ends the source.
///
/// Touched only on the leg's worker (the leg owns it). Its `deinit` tells the producer to
/// stop: a playback replaced by another source, or dropped with its leg, closes its file.
final class PlaybackSource: FrameSource {
    /// What it shares with the producer.
    let link: PlaybackLink
    /// Samples sent from the file so far (worker-local; published to `Playback`).
    private var played = 0

    init(link: PlaybackLink) { self.link = link }

    deinit { link.cancel() }

    func read(into frame: UnsafeMutableBufferPointer<Int16>) -> Bool {
        let ring = link.ring
        // Read `finished` before the samples: if the producer had finished by then,
        // everything it wrote is visible to the read below, so a short read means drained.
        let finished = ring.isFinished
        if played == 0 && !finished && ring.available < frame.count {
            // The start: the file is still being opened and decoded. Silence until a whole
            // frame is there, so the first frame is not cut short (and not an underrun).
            frame.update(repeating: 0)
            return true
        }
        let n = ring.read(into: frame)
        played += n
        if n == frame.count {
            link.playback.count(played: n, underrun: 0)
            return true
        }
        // Safe: n < frame.count here.
        UnsafeMutableBufferPointer(rebasing: frame[n...]).update(repeating: 0)
        if finished {
            link.playback.count(played: n, underrun: 0)
            if n > 0 { return true }  // the last samples, padded; the end is the next read
            if link.claimEnd() {
                link.events.yield(
                    .playbackFinished(
                        path: link.playback.path, loopsPlayed: link.playback.decodedLoops.load(ordering: .acquiring),
                        stopped: false))
            }
            return false
        }
        link.playback.count(played: n, underrun: frame.count - n)
        return true
    }

    /// Barge-in, on the worker: drops what the ring holds, tells the producer to stop, and
    /// reports `.playbackFinished(…, stopped: true)` unless the playback had already ended.
    func stop() {
        link.ring.clear()
        link.cancel()
        if link.claimEnd() {
            link.events.yield(
                .playbackFinished(
                    path: link.playback.path, loopsPlayed: link.loopsHeard(afterSamples: played), stopped: true))
        }
    }
}
