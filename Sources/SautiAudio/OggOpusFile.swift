// Ogg Opus files (RFC 7845) through libsndfile (`SF_FORMAT_OGG | SF_FORMAT_OPUS`).

import CSndFile

#if canImport(Glibc)
    import Glibc
#endif

/// Writing Ogg Opus: a finished 16-bit WAV converted in one pass (recordings that ask for
/// Ogg Opus are recorded as WAV, whose header stays valid while it grows, and converted
/// when they end). libsndfile encodes with libopus; the rate must be one Opus runs at.
public enum OggOpusFile {
    /// Converts the WAV at `wavPath` into an Ogg Opus file at `path` (created or
    /// truncated; fsynced) at `compressionLevel` (libsndfile's 0, highest bitrate ... 1,
    /// lowest). Returns the frames written.
    /// - Throws: `AudioFileError` naming the file and libsndfile's reason.
    @discardableResult
    public static func convert(wav wavPath: String, to path: String, compressionLevel: Double = 0.7)
        throws(AudioFileError) -> Int
    {
        var inInfo = SF_INFO()
        guard let input = sf_open(wavPath, Int32(SFM_READ), &inInfo) else {
            throw AudioFileError(path: wavPath, reason: String(cString: sf_strerror(nil)))
        }
        defer { sf_close(input) }
        guard OpusRate.supported.contains(Int(inInfo.samplerate)) else {
            throw AudioFileError(path: path, reason: "Ogg Opus cannot hold \(inInfo.samplerate) Hz audio")
        }
        var outInfo = SF_INFO()
        outInfo.samplerate = inInfo.samplerate
        outInfo.channels = inInfo.channels
        outInfo.format = Int32(SF_FORMAT_OGG) | Int32(SF_FORMAT_OPUS)
        guard sf_format_check(&outInfo) == SF_TRUE else {
            throw AudioFileError(path: path, reason: "libsndfile has no Ogg Opus writer")
        }
        guard let output = sf_open(path, Int32(SFM_WRITE), &outInfo) else {
            throw AudioFileError(path: path, reason: String(cString: sf_strerror(nil)))
        }
        // libsndfile's compression level picks the Opus bitrate (0 highest ... 1 lowest):
        // 0.7: about 80 kb/s for 16 kHz mono speech (measured with libsndfile 1.2.0).
        var level = compressionLevel
        sf_command(output, Int32(SFC_SET_COMPRESSION_LEVEL), &level, Int32(MemoryLayout<Double>.size))
        let channels = Int(inInfo.channels)
        let chunkFrames = 4800
        var buffer = [Int16](repeating: 0, count: chunkFrames * channels)
        var total = 0
        var failure: String?
        while true {
            let n = buffer.withUnsafeMutableBufferPointer {
                Int(sf_readf_short(input, $0.baseAddress, sf_count_t(chunkFrames)))
            }
            if n <= 0 { break }
            let written = buffer.withUnsafeBufferPointer { Int(sf_writef_short(output, $0.baseAddress, sf_count_t(n))) }
            if written != n {
                failure = String(cString: sf_strerror(output))
                break
            }
            total += n
        }
        sf_write_sync(output)
        if sf_close(output) != 0 && failure == nil { failure = "closing failed" }
        if let failure { throw AudioFileError(path: path, reason: failure) }
        // Make the finished file durable, as WAV recordings are.
        let fd = open(path, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        return total
    }
}
