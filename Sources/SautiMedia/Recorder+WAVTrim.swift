#if canImport(Glibc)
    import Glibc
#endif

/// Shortens a finished WAV file's audio in place: how a recording loses its trailing
/// silence once it ended.
///
/// The RIFF chunks are walked to the `data` chunk; then, in this order, the header is
/// rewritten for the shorter data (the `data` size, the `fact` sample count G.711 files
/// carry, the RIFF size), the file is cut after the kept samples (`ftruncate`), and
/// fsynced. At every step the file is a valid WAV: between the first two, its header
/// claims less than the file holds, and readers stop at the data chunk's end.
///
/// Done here rather than with libsndfile's `SFC_FILE_TRUNCATE` so that the header never
/// claims more data than the file holds, and because `WAVWriter` keeps its handle private.
enum WAVTrim {
    /// Why a file could not be trimmed.
    enum Failure: Error, CustomStringConvertible {
        /// A system call failed.
        case system(SystemError)
        /// The file is not a RIFF WAVE file with a `data` chunk in its first 4 KiB, or
        /// something follows the data chunk (left alone).
        case layout(String)

        var description: String {
            switch self {
            case .system(let e): return "\(e)"
            case .layout(let why): return why
            }
        }
    }

    /// Keeps the first `frames` sample frames of the WAV at `path` (`bytesPerFrame` bytes
    /// each); a file with no more than that is left alone.
    static func truncate(path: String, frames: Int, bytesPerFrame: Int) throws(Failure) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .system(.last("open")) }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 4096)
        let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard got >= 12 else { throw got < 0 ? .system(.last("pread")) : .layout("not a WAV file: too short") }
        func u32(_ at: Int) -> Int {
            Int(header[at]) | Int(header[at + 1]) << 8 | Int(header[at + 2]) << 16 | Int(header[at + 3]) << 24
        }
        func tag(_ at: Int) -> String { String(decoding: header[at..<(at + 4)], as: UTF8.self) }
        guard tag(0) == "RIFF", tag(8) == "WAVE" else { throw .layout("not a RIFF WAVE file") }
        var offset = 12
        var factCount: Int?
        var data: (offset: Int, size: Int)?
        while offset + 8 <= got {
            let size = u32(offset + 4)
            switch tag(offset) {
            case "fact": if size >= 4 { factCount = offset + 8 }
            case "data": data = (offset + 8, size)
            default: break
            }
            if data != nil { break }
            offset += 8 + size + (size & 1)
        }
        guard let data else { throw .layout("no data chunk in the first \(got) bytes") }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system(.last("fstat")) }
        let fileSize = Int(info.st_size)
        let end = data.offset + data.size
        guard end + (data.size & 1) >= fileSize else {
            throw .layout("\(fileSize - end) bytes follow the data chunk; left as it is")
        }
        let keep = frames * bytesPerFrame
        guard keep < min(data.size, fileSize - data.offset) else { return }
        let pad = keep & 1
        try put(UInt32(keep), at: data.offset - 4, fd)
        if let factCount { try put(UInt32(frames), at: factCount, fd) }
        try put(UInt32(data.offset + keep + pad - 8), at: 4, fd)
        if ftruncate(fd, off_t(data.offset + keep + pad)) != 0 { throw .system(.last("ftruncate")) }
        if pad != 0 { try putByte(0, at: data.offset + keep, fd) }
        while fsync(fd) != 0 {
            if errno != EINTR { throw .system(.last("fsync")) }
        }
    }

    private static func put(_ value: UInt32, at offset: Int, _ fd: Int32) throws(Failure) {
        var little = value.littleEndian
        let n = withUnsafeBytes(of: &little) { pwrite(fd, $0.baseAddress, 4, off_t(offset)) }
        if n != 4 { throw .system(.last("pwrite")) }
    }

    private static func putByte(_ value: UInt8, at offset: Int, _ fd: Int32) throws(Failure) {
        var byte = value
        if pwrite(fd, &byte, 1, off_t(offset)) != 1 { throw .system(.last("pwrite")) }
    }
}
