// Playing an http(s) URL on a leg: the URL part of the Play verb.
//
// `play(url:)` gives the leg the same `PlaybackSource` and ring as a file. What fills the
// ring depends on the play cache (PlayURL+Cache.swift):
// - a fresh cached copy is played like any file, by a `FilePlayer` on the engine's I/O
//   thread;
// - otherwise a thread of the playback's own checks the deny list, starts (or joins) the
//   download (PlayURL+Fetch.swift) and decodes it as it arrives: the decoder reads the
//   part file through libsndfile's virtual I/O and waits, on that thread only, for bytes
//   not there yet. A WAV or FLAC starts playing after its first few kilobytes; MP3 and Ogg
//   once complete (libsndfile reads them to the end to learn their length).
// Every failure is a `.playbackFailed` with a reason token, and the call goes on.

import Foundation
import SautiAudio

/// A URL playback's producer side: where the audio comes from, then the decoding.
final class URLPlayer: @unchecked Sendable {
    let url: String
    let link: PlaybackLink
    let fetcher: PlayFetcher
    let io: MediaIOThread

    init(url: String, link: PlaybackLink, fetcher: PlayFetcher, io: MediaIOThread) {
        self.url = url
        self.link = link
        self.fetcher = fetcher
        self.io = io
    }

    /// Runs on the playback's own thread until the audio is handed to the I/O thread (a
    /// cached file) or decoded to the end (a download).
    func run() {
        // A revalidated entry evicted before it could be opened: look again, a few times at
        // most.
        for _ in 0..<3 {
            if link.isCancelled { return }
            let start: PlayFetcher.Start
            do {
                start = try fetcher.start(url)
            } catch {
                link.fail(error.reason, error.message)
                return
            }
            switch start {
            case .cached(let path):
                playCached(path)
                return
            case .download(let download):
                while download.phase == .connecting && !link.isCancelled { usleep(5_000) }
                switch download.phase {
                case .connecting:
                    return  // stopped while waiting
                case .failed(let reason, let message):
                    link.fail(reason, message)
                    return
                case .notModified:
                    while !download.finished.load(ordering: .acquiring) { usleep(2_000) }
                    guard let cached = fetcher.cache.lookup(url, now: Date().timeIntervalSince1970) else { continue }
                    playCached(cached.path)
                    return
                case .streaming, .complete:
                    let reader = DownloadReader(download: download, cancelled: { [link] in link.isCancelled })
                    let player = FilePlayer(
                        path: url, link: link,
                        open: { [url] () throws(AudioFileDecoderError) -> AudioFileDecoder in
                            try AudioFileDecoder(source: reader, name: url, chunkFrames: FilePlayer.chunkFrames)
                        },
                        sourceFailure: {
                            if case .failed(let reason, let message) = download.phase { return (reason, message) }
                            return nil
                        })
                    // The ring holds about a second: top it up every 20 ms, as the I/O thread would.
                    while player.step() { usleep(20_000) }
                    return
                }
            }
        }
        link.fail(.fetchError, "the download of \(url) ended before it could be read")
    }

    /// Hands a cached copy to a file player on the I/O thread.
    private func playCached(_ path: String) {
        let player = FilePlayer(path: path, link: link)
        io.every { player.step() }
    }
}

extension MediaLeg {
    /// Plays the audio at an http or https `url` as the leg's outbound audio, `loop` times
    /// (0: until `stopPlayback()`), replacing the current source at the next frame.
    ///
    /// Fetched with GET only, streamed (a WAV or FLAC starts before the download ends) and
    /// kept in the engine's play cache by URL, reused while the server's caching headers
    /// allow and revalidated with its ETag or Last-Modified after (RFC 9111). Any format
    /// `play(file:)` takes. The outcome is an event, as for a file: `.playbackFinished`, or
    /// `.playbackFailed` with `not-found` (404, 410), `http-status`, `timeout`, `too-large`,
    /// `denied`, `invalid-url`, `fetch-error`, `unsupported-format` or `decode-error`; the
    /// call goes on.
    @discardableResult
    public func play(url: String, loop: Int = 1) -> Playback {
        let playback = Playback(path: url, loopCount: loop < 0 ? 1 : loop)
        let io = self.io
        let fetcher = self.fetcher
        let quality = resamplerQuality
        onWorker { leg in
            if let current = leg.sourceObject as? PlaybackSource { current.stop() }
            let link = PlaybackLink(
                playback: playback, sampleRate: leg.configuration.sampleRate, events: leg.events,
                resamplerQuality: quality)
            leg.sourceObject = PlaybackSource(link: link)
            let player = URLPlayer(url: url, link: link, fetcher: fetcher, io: io)
            // Off the worker: starting a thread is not for a media tick.
            io.submit {
                let thread = Thread { player.run() }
                thread.name = "sauti-play-url"
                thread.start()
            }
        }
        return playback
    }
}
