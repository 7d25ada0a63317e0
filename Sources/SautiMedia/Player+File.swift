import SautiAudio

#if canImport(Glibc)
    import Glibc
#endif

/// A file playback's I/O side, run by the engine's I/O thread about every 20 ms
/// (`MediaIOThread.every`) until `step` returns false: opens the file on the first pass,
/// then decodes, loops and resamples it into the ring until the ring is full.
///
/// `@unchecked Sendable`: handed to the I/O thread once, then touched only there (checked
/// in debug builds).
final class FilePlayer: @unchecked Sendable {
    /// Input frames decoded per libsndfile call.
    static let chunkFrames = 1024

    /// The file.
    let path: String
    /// The ring, counters and events it shares with the worker.
    let link: PlaybackLink
    /// Open once the first pass ran.
    private var decoder: AudioFileDecoder?
    private var feeder: PlaybackFeeder?
    /// One chunk of decoded mono samples at the file's rate, made once the file is open.
    private var chunk = UnsafeMutableBufferPointer<Int16>(start: nil, count: 0)
    /// Frames decoded in the current loop.
    private var framesThisLoop = 0
    /// Loops decoded in full.
    private var loopsDone = 0
    /// All loops are decoded; the feeder's tail is going out.
    private var inputDone = false
    #if DEBUG
        /// The thread running the passes, to check it never changes.
        private var owner: pthread_t?
    #endif

    /// Opens the decoder, for a source that is not a file at `path` (a download).
    private let opener: (() throws(AudioFileDecoderError) -> AudioFileDecoder)?
    /// Why the source itself failed, if it did (a download cut off): reported in place of
    /// the decoder's error or a short end.
    private let sourceFailure: (() -> (PlaybackFailureReason, String)?)?

    /// A player of the file at `path`; or, given `open`, of what that decoder reads, with
    /// `sourceFailure` telling when the bytes under it failed.
    init(
        path: String, link: PlaybackLink, open: (() throws(AudioFileDecoderError) -> AudioFileDecoder)? = nil,
        sourceFailure: (() -> (PlaybackFailureReason, String)?)? = nil
    ) {
        self.path = path
        self.link = link
        opener = open
        self.sourceFailure = sourceFailure
    }

    deinit {
        if chunk.baseAddress != nil { chunk.deallocate() }
    }

    /// One pass: false when the job is done (the playback ended, failed, or was stopped).
    func step() -> Bool {
        #if DEBUG
            if let owner {
                precondition(pthread_equal(owner, pthread_self()) != 0, "FilePlayer off its I/O thread")
            } else {
                owner = pthread_self()
            }
        #endif
        if link.isCancelled {
            close()
            return false
        }
        if decoder == nil {
            guard open() else { return false }
        }
        guard let decoder, let feeder else { return false }
        // Refill in bulk: nothing to do while the ring holds over half its second (most
        // passes), so a pass over thousands of players costs an atomic load each.
        if !feeder.hasPending && link.ring.available > link.ring.capacity / 2 { return true }
        while true {
            guard feeder.drainPending() else { return true }  // the ring is full
            if inputDone {
                guard feeder.finish() else { return true }
                link.ring.finish()
                close()
                return false
            }
            let n: Int
            do {
                n = try decoder.read(into: chunk)
            } catch {
                return failed(error)
            }
            if n > 0 {
                framesThisLoop += n
                feeder.push(UnsafeBufferPointer(rebasing: chunk[..<n]))
                continue
            }
            // The end of one pass over the file (or the bytes under it stopped coming).
            if let (reason, message) = sourceFailure?() {
                link.fail(reason, message)
                close()
                return false
            }
            if framesThisLoop == 0 {
                // Nothing in it (or nothing more after a rewind): done, whatever the loop count.
                inputDone = true
                continue
            }
            loopsDone += 1
            if loopsDone == 1 {
                link.samplesPerLoop.store(
                    framesThisLoop * link.sampleRate / decoder.format.sampleRate, ordering: .releasing)
            }
            link.playback.decodedLoops.store(loopsDone, ordering: .releasing)
            let loopCount = link.playback.loopCount
            if loopCount != 0 && loopsDone >= loopCount {
                inputDone = true
                continue
            }
            do {
                try decoder.rewind()
            } catch {
                return failed(error)
            }
            framesThisLoop = 0
        }
    }

    /// Opens the file and sets up the feeder; on failure reports it and returns false.
    private func open() -> Bool {
        let d: AudioFileDecoder
        do {
            if let opener {
                d = try opener()
            } else {
                d = try AudioFileDecoder(path: path, chunkFrames: Self.chunkFrames)
            }
        } catch {
            _ = failed(error)
            return false
        }
        do {
            feeder = try PlaybackFeeder(
                ring: link.ring, inputRate: d.format.sampleRate, outputRate: link.sampleRate,
                maximumChunk: Self.chunkFrames, quality: link.resamplerQuality)
        } catch {
            link.fail(
                .unsupportedFormat, "cannot resample \(d.format.sampleRate) Hz to \(link.sampleRate) Hz: \(error)")
            return false
        }
        chunk = .allocate(capacity: Self.chunkFrames)
        decoder = d
        return true
    }

    /// Reports a decoder's error and ends the job.
    private func failed(_ error: AudioFileDecoderError) -> Bool {
        if let (reason, message) = sourceFailure?() {
            link.fail(reason, message)
        } else {
            link.fail(PlaybackFailureReason(error), error.message)
        }
        close()
        return false
    }

    /// Closes the file (the feeder and buffers go with the player).
    private func close() {
        decoder?.close()
        decoder = nil
    }
}
