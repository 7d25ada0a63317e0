// Streaming decode of any audio file libsndfile reads (WAV, FLAC, Ogg Vorbis and Opus,
// MP3, AIFF, …) to 16-bit mono, chunk by chunk: the file side of a player.

import CSndFile

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Why an audio file could not be opened or decoded. Each case carries the path and the
/// message of whoever refused (the system's `strerror`, or libsndfile's `sf_strerror`).
public enum AudioFileDecoderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No file at the path (`ENOENT`, `ENOTDIR`).
    case notFound(path: String, message: String)
    /// Something is there but cannot be read as a file: permission denied, a directory,
    /// too many open files (any other `open(2)` failure).
    case unreadable(path: String, message: String)
    /// Not audio libsndfile knows, or an encoding it does not decode
    /// (`SF_ERR_UNRECOGNISED_FORMAT`, `SF_ERR_UNSUPPORTED_ENCODING`).
    case unsupportedFormat(path: String, message: String)
    /// A known format whose header or data is broken, or an I/O error while reading
    /// (`SF_ERR_MALFORMED_FILE`, `SF_ERR_SYSTEM`, libsndfile's other codes, a failed read
    /// or seek).
    case decodeError(path: String, message: String)

    /// The path the error is about.
    public var path: String {
        switch self {
        case .notFound(let p, _), .unreadable(let p, _), .unsupportedFormat(let p, _), .decodeError(let p, _): return p
        }
    }

    /// The system's or libsndfile's message.
    public var message: String {
        switch self {
        case .notFound(_, let m), .unreadable(_, let m), .unsupportedFormat(_, let m), .decodeError(_, let m): return m
        }
    }

    /// The kind as a short token: `not-found`, `unreadable`, `unsupported-format`,
    /// `decode-error` (what the Play verb reports).
    public var reason: String {
        switch self {
        case .notFound: return "not-found"
        case .unreadable: return "unreadable"
        case .unsupportedFormat: return "unsupported-format"
        case .decodeError: return "decode-error"
        }
    }

    /// `path: reason: message`.
    public var description: String { "\(path): \(reason): \(message)" }
}

/// What an opened audio file holds.
public struct AudioFileFormat: Sendable, Equatable {
    /// The container, as libsndfile names it (`SFC_GET_FORMAT_INFO` on `SF_FORMAT_TYPEMASK`):
    /// "WAV (Microsoft)", "FLAC (Free Lossless Audio Codec)", "OGG (OGG Container format)",
    /// "MPEG-1/2 Audio".
    public let container: String
    /// The encoding (the `SF_FORMAT_SUBMASK` part): "Signed 16 bit PCM", "Vorbis", "Opus",
    /// "MPEG Layer III", "U-Law".
    public let encoding: String
    /// libsndfile's format word (`SF_INFO.format`: container | encoding | endianness).
    public let sndfileFormat: Int32
    /// Frames per second, in Hz.
    public let sampleRate: Int
    /// Interleaved channels per frame (decoded as one: see `AudioFileDecoder.read`).
    public let channels: Int
    /// Frames the header announces; nil when unknown (an Ogg stream being written, a
    /// pipe). An estimate for some formats (MP3 without a Xing/LAME header): the reads
    /// are what count.
    public let frames: Int?

    /// The header's duration in seconds, when it gives a frame count.
    public var durationSeconds: Double? { frames.map { Double($0) / Double(sampleRate) } }
}

/// Reads an audio file through libsndfile, chunk by chunk, as 16-bit mono at the file's
/// rate (channels are averaged). For the blocking side of a player: the media I/O thread
/// opens it and reads a chunk at a time into a ring; nothing here is for a media worker.
///
/// Allocates in `init` only (the libsndfile handle, a scratch buffer for multichannel
/// files); `read` allocates nothing itself (libsndfile's decoders may, inside).
/// Not `Sendable`: one owner at a time.
public final class AudioFileDecoder {
    /// The path opened.
    public let path: String
    /// What the file holds.
    public let format: AudioFileFormat
    /// The libsndfile handle (`SNDFILE *`); nil once closed.
    private var file: OpaquePointer?
    /// Interleaved frames for downmixing, `chunkFrames × channels` samples; empty for mono.
    private let interleaved: UnsafeMutableBufferPointer<Int16>
    /// The most frames one libsndfile call reads into `interleaved`.
    private let chunkFrames: Int
    /// The byte source libsndfile reads through, for a decoder opened on one; kept alive
    /// while the handle is open.
    private var virtualIO: VirtualIOBox?
    /// Mono frames read since the start (or the last `rewind`).
    public private(set) var framesRead = 0

    /// Opens `path` and reads its header.
    ///
    /// The file is opened with `open(2)` first, so a missing file is told apart from one
    /// libsndfile refuses; libsndfile then reads through that descriptor (and closes it).
    /// - Parameter chunkFrames: the most frames a multichannel file is read at a time
    ///   (sizes the downmix buffer; mono files read straight into the caller's buffer).
    /// - Throws: `AudioFileDecoderError` saying why.
    public convenience init(path: String, chunkFrames: Int = 1024) throws(AudioFileDecoderError) {
        let descriptor = retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else {
            let number = errno
            let message = "\(String(cString: strerror(number))) (errno \(number))"
            if number == ENOENT || number == ENOTDIR { throw .notFound(path: path, message: message) }
            throw .unreadable(path: path, message: message)
        }
        var status = stat()
        if fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR {
            _ = closeDescriptor(descriptor)
            throw .unreadable(path: path, message: "is a directory")
        }
        var info = SF_INFO()
        guard let file = sf_open_fd(descriptor, Int32(SFM_READ), &info, Int32(SF_TRUE)) else {
            // sf_open_fd does not close the descriptor when it fails.
            let number = sf_error(nil)
            let message = String(cString: sf_strerror(nil))
            _ = closeDescriptor(descriptor)
            throw Self.openError(path: path, number: number, message: message)
        }
        try self.init(opened: file, info: info, name: path, virtualIO: nil, chunkFrames: chunkFrames)
    }

    /// Opens audio that `source` delivers (a download in progress, for a URL player):
    /// libsndfile reads it through its virtual I/O, calling `source` for every read and
    /// for the length. `name` stands for the path in errors.
    ///
    /// How far libsndfile reads before this returns depends on the format: a WAV or FLAC
    /// header is a few kilobytes; MP3 and Ogg (Vorbis, Opus) are read to their end to learn
    /// the length, so a source that blocks until bytes arrive makes those wait for the
    /// whole download.
    /// - Throws: `AudioFileDecoderError` (`.unsupportedFormat`, `.decodeError`).
    public convenience init(source: any AudioByteSource, name: String, chunkFrames: Int = 1024)
        throws(AudioFileDecoderError)
    {
        let box = VirtualIOBox(source)
        var io = SF_VIRTUAL_IO(
            get_filelen: { user in VirtualIOBox.from(user).length() },
            seek: { offset, whence, user in VirtualIOBox.from(user).seek(offset, whence) },
            read: { pointer, count, user in VirtualIOBox.from(user).read(pointer, count) },
            write: { _, _, _ in 0 },
            tell: { user in VirtualIOBox.from(user).position })
        var info = SF_INFO()
        // The box outlives the handle: the decoder keeps it until `close()`.
        guard let file = sf_open_virtual(&io, Int32(SFM_READ), &info, Unmanaged.passUnretained(box).toOpaque()) else {
            throw Self.openError(path: name, number: sf_error(nil), message: String(cString: sf_strerror(nil)))
        }
        try self.init(opened: file, info: info, name: name, virtualIO: box, chunkFrames: chunkFrames)
    }

    /// The rest of both inits, for a handle libsndfile opened: checks the header and sets
    /// up the downmix buffer. Closes `file` when it throws.
    private init(opened file: OpaquePointer, info: SF_INFO, name: String, virtualIO: VirtualIOBox?, chunkFrames: Int)
        throws(AudioFileDecoderError)
    {
        path = name
        guard info.channels > 0, info.samplerate > 0 else {
            sf_close(file)
            throw .decodeError(
                path: name, message: "the header gives \(info.channels) channels at \(info.samplerate) Hz")
        }
        self.file = file
        self.virtualIO = virtualIO
        let channels = Int(info.channels)
        self.chunkFrames = max(1, chunkFrames)
        interleaved =
            channels == 1
            ? UnsafeMutableBufferPointer(start: nil, count: 0) : .allocate(capacity: self.chunkFrames * channels)
        // libsndfile gives SF_COUNT_MAX when it cannot know the length (Ogg being written, a pipe).
        let frames: Int? = info.frames >= 0 && info.frames < sf_count_t.max ? Int(info.frames) : nil
        format = AudioFileFormat(
            container: Self.formatName(info.format & Int32(SF_FORMAT_TYPEMASK)),
            encoding: Self.formatName(info.format & Int32(SF_FORMAT_SUBMASK)),
            sndfileFormat: info.format, sampleRate: Int(info.samplerate), channels: channels, frames: frames)
    }

    deinit {
        close()
        if interleaved.baseAddress != nil { interleaved.deallocate() }
    }

    /// Reads up to `output.count` mono samples: the next frames, channels averaged.
    /// Returns how many; 0 at the end of the file.
    /// - Throws: `.decodeError` with libsndfile's message when decoding fails mid-file (the
    ///   samples read before the failure were returned by earlier calls), or when closed.
    public func read(into output: UnsafeMutableBufferPointer<Int16>) throws(AudioFileDecoderError) -> Int {
        guard let file else { throw .decodeError(path: path, message: "read after close") }
        guard let outBase = output.baseAddress, !output.isEmpty else { return 0 }
        let channels = format.channels
        var got: Int
        if channels == 1 {
            got = Int(sf_readf_short(file, outBase, sf_count_t(output.count)))
        } else {
            let want = min(output.count, chunkFrames)
            got = Int(sf_readf_short(file, interleaved.baseAddress, sf_count_t(want)))
            got = max(0, got)
            for frame in 0..<got {
                var sum: Int32 = 0
                for c in 0..<channels { sum += Int32(interleaved[frame * channels + c]) }
                // The mean of int16s is an int16: no saturation needed.
                output[frame] = Int16(truncatingIfNeeded: sum / Int32(channels))
            }
        }
        if got <= 0 {
            if sf_error(file) != 0 {
                throw .decodeError(
                    path: path, message: "after \(framesRead) frames: " + String(cString: sf_strerror(file)))
            }
            return 0
        }
        framesRead += got
        return got
    }

    /// Goes back to the first frame (for the next loop of a prompt): `sf_seek`.
    /// - Throws: `.decodeError` when the file cannot seek (libsndfile's message).
    public func rewind() throws(AudioFileDecoderError) {
        guard let file else { throw .decodeError(path: path, message: "rewind after close") }
        if sf_seek(file, 0, SEEK_SET) != 0 {
            throw .decodeError(path: path, message: "cannot seek to the start: " + String(cString: sf_strerror(file)))
        }
        framesRead = 0
    }

    /// Closes the file (also done by `deinit`). Idempotent.
    public func close() {
        guard let file else { return }
        self.file = nil
        sf_close(file)
        virtualIO = nil
    }

    /// The typed error for libsndfile's failure to open: `number` from `sf_error(NULL)`.
    private static func openError(path: String, number: Int32, message: String) -> AudioFileDecoderError {
        switch number {
        // libsndfile's own word: "Format not recognised." or an unsupported encoding. Its
        // other codes (malformed headers, truncated files, internal SFE_* numbers such as
        // 18 "File contains data in an unimplemented format." for a FLAC file cut inside its
        // header) are about a broken file of a known kind.
        case Int32(SF_ERR_UNRECOGNISED_FORMAT), Int32(SF_ERR_UNSUPPORTED_ENCODING):
            return .unsupportedFormat(path: path, message: message + missingCodecHint(path))
        default:
            return .decodeError(path: path, message: message)
        }
    }

    /// When the file's extension names a format this libsndfile was built without (MP3 and
    /// Opus are optional in libsndfile's build), says so; else "".
    private static func missingCodecHint(_ path: String) -> String {
        let ext = path.split(separator: "/").last?.split(separator: ".").last?.lowercased() ?? ""
        let wanted: (Int32, String)?
        switch ext {
        case "mp3", "mp2", "mpga":
            wanted = (Int32(SF_FORMAT_MPEG) | Int32(SF_FORMAT_MPEG_LAYER_III), "MPEG audio (MP3)")
        case "opus": wanted = (Int32(SF_FORMAT_OGG) | Int32(SF_FORMAT_OPUS), "Ogg Opus")
        case "ogg", "oga": wanted = (Int32(SF_FORMAT_OGG) | Int32(SF_FORMAT_VORBIS), "Ogg Vorbis")
        case "flac": wanted = (Int32(SF_FORMAT_FLAC) | Int32(SF_FORMAT_PCM_16), "FLAC")
        default: wanted = nil
        }
        guard let (format, name) = wanted else { return "" }
        var info = SF_INFO()
        info.samplerate = 8000
        info.channels = 1
        info.format = format
        // sf_format_check answers for writing; libsndfile builds each of these codecs for
        // reading and writing together, so it tells whether the codec is there at all.
        guard sf_format_check(&info) != SF_TRUE else { return "" }
        return " (\(libraryVersion) was built without \(name) support)"
    }

    /// libsndfile's version string, e.g. "libsndfile-1.2.0" (`sf_version_string`).
    public static var libraryVersion: String { String(cString: sf_version_string()) }

    /// libsndfile's name for a container or encoding (`SFC_GET_FORMAT_INFO`).
    private static func formatName(_ format: Int32) -> String {
        var info = SF_FORMAT_INFO()
        info.format = format
        guard sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0,
            let name = info.name
        else {
            return String(format, radix: 16)
        }
        return String(cString: name)
    }
}

/// Bytes of audio that are not a plain file: what `AudioFileDecoder(source:name:)` reads.
/// Its calls come from libsndfile, on the thread reading the decoder; they may block (a
/// download that has not reached `offset` yet).
public protocol AudioByteSource: AnyObject {
    /// The total length in bytes, as far as it can be told (libsndfile asks once, when it
    /// opens; a WAV decoder reads up to this length, so a guess must not be short).
    func length() -> Int
    /// Copies up to `buffer.count` bytes from `offset` into `buffer`; returns how many, 0 at
    /// the end (or when the bytes will never come).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int
}

/// libsndfile's virtual I/O state for one `AudioByteSource`: the position it seeks and
/// reads from (libsndfile keeps none of its own).
final class VirtualIOBox {
    let source: any AudioByteSource
    /// The position, in bytes.
    var position: sf_count_t = 0
    /// The length, asked once.
    private var cachedLength: sf_count_t?

    init(_ source: any AudioByteSource) { self.source = source }

    static func from(_ user: UnsafeMutableRawPointer?) -> VirtualIOBox {
        // Safe: libsndfile hands back the pointer `AudioFileDecoder.init(source:)` gave it,
        // to a box the decoder keeps alive while the handle is open.
        Unmanaged<VirtualIOBox>.fromOpaque(user!).takeUnretainedValue()
    }

    func length() -> sf_count_t {
        if let cachedLength { return cachedLength }
        let n = sf_count_t(max(0, source.length()))
        cachedLength = n
        return n
    }

    func seek(_ offset: sf_count_t, _ whence: Int32) -> sf_count_t {
        let target: sf_count_t
        switch whence {
        case SEEK_SET: target = offset
        case SEEK_CUR: target = position + offset
        case SEEK_END: target = length() + offset
        default: return -1
        }
        guard target >= 0 else { return -1 }
        position = target
        return target
    }

    func read(_ pointer: UnsafeMutableRawPointer?, _ count: sf_count_t) -> sf_count_t {
        guard let pointer, count > 0 else { return 0 }
        var done = 0
        // Fill the whole request unless the source ends: libsndfile takes a short read as
        // the end of the file.
        while done < Int(count) {
            let n = source.read(
                into: UnsafeMutableRawBufferPointer(start: pointer + done, count: Int(count) - done),
                at: Int(position) + done)
            if n <= 0 { break }
            done += n
        }
        position += sf_count_t(done)
        return sf_count_t(done)
    }
}

/// Runs a system call again while it fails with `EINTR`.
private func retryingInterrupts(_ call: () -> Int32) -> Int32 {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// `close(2)`, under a name `AudioFileDecoder.close()` does not shadow.
private func closeDescriptor(_ descriptor: Int32) -> Int32 {
    Glibc.close(descriptor)
}
