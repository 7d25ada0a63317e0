// WAV files through libsndfile: a writer for recordings, a reader for whole (small) files.
//
// µ-law and A-law WAV files are encoded here with `G711` and handed to libsndfile as raw
// bytes: libsndfile's own G.711 encoder differs from the ITU-T STL reference on 127 of the
// 65 536 inputs for each law (it negates negative samples, where the STL takes the one's
// complement), and a recording should hold the same codes the wire would.

import CSndFile

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a WAV file stores its samples.
public enum WAVEncoding: String, Sendable {
    /// 16-bit signed linear PCM (libsndfile `SF_FORMAT_PCM_16`, WAVE format tag 1).
    case pcm16
    /// G.711 µ-law, 8 bits per sample (libsndfile `SF_FORMAT_ULAW`, WAVE format tag 7).
    case ulaw
    /// G.711 A-law, 8 bits per sample (libsndfile `SF_FORMAT_ALAW`, WAVE format tag 6).
    case alaw
}

/// An audio file could not be created, written, closed or read.
public struct AudioFileError: Error, CustomStringConvertible {
    /// The file's path, as given.
    public let path: String
    /// What failed and why, ending with libsndfile's message (`sf_strerror`) or the system's
    /// (`strerror`, with the errno).
    public let reason: String

    /// Creates an error about the file at `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// Writes a WAV file as it goes: a recording.
///
/// The header is rewritten after every `write` (libsndfile `SFC_SET_UPDATE_HEADER_AUTO`), so
/// a process that dies mid-recording leaves a playable file holding everything written so far.
/// `close()` finalizes the file and fsyncs it and its directory.
///
/// Not `Sendable`: one owner writes and closes it. Each `write` is a few system calls (the data,
/// then the header), so keep it off a thread that must not block.
public final class WAVWriter {
    /// The libsndfile handle (`SNDFILE *`); nil once closed.
    private var file: OpaquePointer?
    /// The descriptor libsndfile writes through. Ours: we fsync and close it after `sf_close`.
    private var descriptor: Int32
    /// The path the file was created at, for errors and the directory fsync.
    private let path: String
    /// Interleaved channels per frame.
    private let channels: Int
    /// The law G.711 files are encoded with here; nil for 16-bit PCM.
    private let law: G711Law?
    /// Scratch for one chunk of G.711 codes (a whole number of frames), allocated once in
    /// `init` so that `write` allocates nothing; empty for 16-bit PCM.
    private var codes: UnsafeMutableBufferPointer<UInt8>

    /// Frames (one sample per channel) written so far.
    public private(set) var framesWritten: Int = 0

    /// Creates (or truncates) the WAV file at `path`.
    ///
    /// - Parameters:
    ///   - sampleRate: frames per second, in Hz.
    ///   - channels: interleaved channels per frame, 1 ... 1024.
    ///   - encoding: how samples are stored; G.711 is encoded bit-exact with ``G711``.
    /// - Throws: `AudioFileError` when the format is invalid or the file cannot be created, with
    ///   the system's or libsndfile's reason.
    public init(
        path: String,
        sampleRate: Int,
        channels: Int = 1,
        encoding: WAVEncoding = .pcm16
    ) throws(AudioFileError) {
        guard 1...Int(Int32.max) ~= sampleRate else {
            throw AudioFileError(
                path: path, reason: "sample rate \(sampleRate) Hz: need 1 ... \(Int32.max)")
        }
        guard 1...1024 ~= channels else {
            throw AudioFileError(path: path, reason: "\(channels) channels: need 1 ... 1024")
        }
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        info.format = Int32(SF_FORMAT_WAV) | encoding.sndfileSubtype
        guard sf_format_check(&info) == SF_TRUE else {
            throw AudioFileError(
                path: path,
                reason: "libsndfile cannot write \(encoding) WAV at \(sampleRate) Hz, "
                    + "\(channels) channels")
        }

        let descriptor = retryingInterrupts {
            open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        guard descriptor >= 0 else {
            throw AudioFileError(path: path, reason: systemError("cannot create the file"))
        }
        guard let file = sf_open_fd(descriptor, Int32(SFM_WRITE), &info, Int32(SF_FALSE)) else {
            let reason = "libsndfile cannot start the WAV file: " + sndfileError(nil)
            _ = closeDescriptor(descriptor)
            throw AudioFileError(path: path, reason: reason)
        }
        // Rewrite the header after every write: the file stays playable if we die.
        sf_command(file, Int32(SFC_SET_UPDATE_HEADER_AUTO), nil, Int32(SF_TRUE))

        self.file = file
        self.descriptor = descriptor
        self.path = path
        self.channels = channels
        switch encoding {
        case .pcm16:
            law = nil
            codes = UnsafeMutableBufferPointer(start: nil, count: 0)
        case .ulaw, .alaw:
            law = encoding == .ulaw ? .ulaw : .alaw
            // 4 KiB, rounded down to whole frames.
            codes = .allocate(capacity: max(1, 4096 / channels) * channels)
        }
    }

    deinit {
        try? close()
    }

    /// Appends interleaved frames. The header is kept valid as it goes
    /// (`SFC_SET_UPDATE_HEADER_AUTO`), so a crash leaves a playable file.
    ///
    /// Allocates nothing: G.711 is encoded through a scratch buffer made in `init`.
    /// - Throws: `AudioFileError` if the writer is closed, `samples` is not a whole number of
    ///   frames, or the system refuses the write (disk full, I/O error). `framesWritten` then
    ///   counts what did reach the file.
    public func write(_ samples: UnsafeBufferPointer<Int16>) throws(AudioFileError) {
        guard let file else {
            throw AudioFileError(path: path, reason: "write after close")
        }
        guard samples.count % channels == 0 else {
            throw AudioFileError(
                path: path,
                reason: "\(samples.count) samples is not a whole number of \(channels)-channel "
                    + "frames")
        }
        guard !samples.isEmpty else { return }
        guard let law else {
            let frames = samples.count / channels
            let written = Int(sf_writef_short(file, samples.baseAddress, sf_count_t(frames)))
            framesWritten += written
            guard written == frames else {
                throw writeError(file, wanted: frames, wrote: written)
            }
            return
        }
        var start = 0
        while start < samples.count {
            let count = min(codes.count, samples.count - start)
            let chunk = UnsafeMutableBufferPointer(rebasing: codes[..<count])
            G711.encode(
                law, UnsafeBufferPointer(rebasing: samples[start..<start + count]), into: chunk)
            // One byte per sample, so bytes written = samples written.
            let written = Int(sf_write_raw(file, chunk.baseAddress, sf_count_t(count)))
            framesWritten += written / channels
            guard written == count else {
                throw writeError(file, wanted: count / channels, wrote: written / channels)
            }
            start += count
        }
    }

    /// Appends interleaved frames; see ``write(_:)-(UnsafeBufferPointer<Int16>)``.
    public func write(_ samples: [Int16]) throws(AudioFileError) {
        try samples.withUnsafeBufferPointer { (samples) throws(AudioFileError) in
            try write(samples)
        }
    }

    /// Finalizes, fsyncs and closes the file. Idempotent; `deinit` closes too (ignoring errors).
    ///
    /// libsndfile writes its final header (`sf_close`, which leaves our descriptor open); then
    /// the file is fsynced (`fsync(2)` on that descriptor: libsndfile does not buffer) and
    /// closed, and its directory fsynced so that a new file's name is durable too.
    /// - Throws: `AudioFileError` naming each step that failed; the writer is closed anyway.
    public func close() throws(AudioFileError) {
        guard let file else { return }
        self.file = nil
        var failures: [String] = []
        let status = sf_close(file)
        if status != 0 {
            failures.append("libsndfile cannot finish the file: " + sndfileErrorNumber(status))
        }
        if retryingInterrupts({ fsync(descriptor) }) != 0 {
            failures.append(systemError("fsync"))
        }
        // Not retried on EINTR: Linux has released the descriptor by then.
        if closeDescriptor(descriptor) != 0 {
            failures.append(systemError("close"))
        }
        descriptor = -1
        codes.deallocate()
        codes = UnsafeMutableBufferPointer(start: nil, count: 0)
        syncDirectory(containing: path)
        if !failures.isEmpty {
            throw AudioFileError(path: path, reason: failures.joined(separator: "; "))
        }
    }

    /// The error for a short write, with libsndfile's reason (e.g. "No space left on device").
    private func writeError(_ file: OpaquePointer, wanted: Int, wrote: Int) -> AudioFileError {
        AudioFileError(
            path: path,
            reason: "wrote \(wrote) of \(wanted) frames after frame \(framesWritten - wrote): "
                + sndfileError(file))
    }
}

/// What `WAVReader` found in a file.
public struct WAVInfo: Sendable {
    /// Frames per second, in Hz.
    public let sampleRate: Int
    /// Interleaved channels per frame.
    public let channels: Int
    /// Frames (one sample per channel) actually read: the header's count is not trusted.
    public let frames: Int
}

/// Reads audio files through libsndfile.
public enum WAVReader {
    /// Reads a whole (small) file as interleaved Int16. Any format libsndfile reads.
    ///
    /// Samples are converted by libsndfile (G.711 decodes as ``G711`` does: the decode tables
    /// agree). The whole file is held in memory: meant for prompts and test files.
    /// - Throws: `AudioFileError` with libsndfile's reason when the file is missing, not audio,
    ///   malformed, or fails mid-read. Never traps on bad input.
    public static func read(path: String) throws(AudioFileError) -> (
        info: WAVInfo, samples: [Int16]
    ) {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            throw AudioFileError(path: path, reason: "cannot read: " + sndfileError(nil))
        }
        defer { sf_close(file) }
        let channels = Int(info.channels)
        let sampleRate = Int(info.samplerate)
        guard channels > 0, sampleRate > 0 else {
            throw AudioFileError(
                path: path, reason: "header gives \(channels) channels at \(sampleRate) Hz")
        }
        // Read in chunks, not by the header's frame count: a malformed header could claim
        // anything, so it only sizes a capped first reservation.
        let claimed = Int(clamping: max(info.frames, 0)).multipliedReportingOverflow(by: channels)
        var samples: [Int16] = []
        samples.reserveCapacity(claimed.overflow ? 0 : min(claimed.partialValue, 1 << 22))
        let chunkFrames = 4096
        var chunk = [Int16](repeating: 0, count: chunkFrames * channels)
        while true {
            let frames = chunk.withUnsafeMutableBufferPointer {
                Int(sf_readf_short(file, $0.baseAddress, sf_count_t(chunkFrames)))
            }
            guard frames > 0 else { break }
            samples.append(contentsOf: chunk[..<(frames * channels)])
        }
        if sf_error(file) != 0 {
            throw AudioFileError(
                path: path,
                reason: "read failed after \(samples.count / channels) frames: "
                    + sndfileError(file))
        }
        let wavInfo = WAVInfo(
            sampleRate: sampleRate, channels: channels, frames: samples.count / channels)
        return (wavInfo, samples)
    }
}

extension WAVEncoding {
    /// The libsndfile subtype (`SF_FORMAT_PCM_16`, `SF_FORMAT_ULAW`, `SF_FORMAT_ALAW`).
    fileprivate var sndfileSubtype: Int32 {
        switch self {
        case .pcm16: Int32(SF_FORMAT_PCM_16)
        case .ulaw: Int32(SF_FORMAT_ULAW)
        case .alaw: Int32(SF_FORMAT_ALAW)
        }
    }
}

/// libsndfile's message for `file`, or for the last failed open when `file` is nil.
///
/// The nil case reads a process-wide variable in libsndfile: another thread's failed open can
/// overwrite it in between. Only the message can be wrong, never the failure itself.
private func sndfileError(_ file: OpaquePointer?) -> String {
    String(cString: sf_strerror(file))
}

/// libsndfile's message for an error number (`sf_error_number`).
private func sndfileErrorNumber(_ number: Int32) -> String {
    String(cString: sf_error_number(number))
}

/// "`what`: `strerror(errno)` (errno N)", read right after the failed call.
private func systemError(_ what: String) -> String {
    let number = errno
    return "\(what): \(String(cString: strerror(number))) (errno \(number))"
}

/// Runs a system call again while it fails with `EINTR`.
private func retryingInterrupts(_ call: () -> Int32) -> Int32 {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// `close(2)`, under a name `WAVWriter.close()` does not shadow.
private func closeDescriptor(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}

/// Best-effort fsync of the directory holding `path`, so that a new file's name survives a
/// power loss. Ignores failures: some file systems refuse to fsync directories, and the file's
/// own data is already synced.
private func syncDirectory(containing path: String) {
    let directory: String
    if let slash = path.lastIndex(of: "/") {
        directory = slash == path.startIndex ? "/" : String(path[..<slash])
    } else {
        directory = "."
    }
    let descriptor = retryingInterrupts { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    guard descriptor >= 0 else { return }
    _ = retryingInterrupts { fsync(descriptor) }
    _ = closeDescriptor(descriptor)
}
