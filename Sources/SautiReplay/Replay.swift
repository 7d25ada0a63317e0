import SautiAudio
import SautiMedia
import SautiWire

#if canImport(Glibc)
import Glibc
#endif

/// Why a replay could not start.
public enum ReplayError: Error, CustomStringConvertible {
    /// The capture file could not be opened or mapped.
    case cannotRead(path: String, reason: String)
    /// The capture's header is not pcap or pcapng.
    case notACapture(path: String, CaptureError)
    /// The output folder could not be created.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotRead(let p, let r): return "\(p): cannot read: \(r)"
        case .notACapture(let p, let e): return "\(p): \(e)"
        case .cannotWrite(let p, let r): return "\(p): cannot write: \(r)"
        }
    }
}

/// Offline replay of a captured call: finds the RTP streams, computes their statistics
/// (Wireshark-compatible), reports RFC 4733 digits and RTCP, and plays each stream's audio
/// through a jitter buffer against the capture's arrival times into a WAV.
public enum Replay {
    /// Replays the capture at `path`.
    public static func run(path: String, options: ReplayOptions = ReplayOptions()) throws(ReplayError) -> ReplayReport {
        let file = try MappedFile(path: path)
        defer { file.close() }
        if let dir = options.outputDirectory { try makeDirectory(dir) }
        var engine = ReplayEngine(options: options, fileName: path)
        return engine.run(bytes: file.bytes)
    }

    /// Replays a capture held in memory (for tests and benchmarks).
    public static func run(bytes: UnsafeRawBufferPointer, name: String, options: ReplayOptions) -> ReplayReport {
        var engine = ReplayEngine(options: options, fileName: name)
        return engine.run(bytes: bytes)
    }

    static func makeDirectory(_ path: String) throws(ReplayError) {
        var st = stat()
        if stat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else { throw .cannotWrite(path: path, reason: "exists and is not a folder") }
            return
        }
        // Create parents as `mkdir -p` does.
        var built = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            built += part
            if stat(built, &st) != 0 && mkdir(built, 0o755) != 0 && errno != EEXIST {
                throw .cannotWrite(path: built, reason: String(cString: strerror(errno)))
            }
            built += "/"
        }
    }
}

/// A read-only memory map of a whole file.
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private var mapped: UnsafeMutableRawPointer?

    init(path: String) throws(ReplayError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        guard st.st_mode & S_IFMT == S_IFREG else { throw .cannotRead(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .cannotRead(path: path, reason: String(cString: strerror(errno)))
        }
        madvise(p, size, MADV_SEQUENTIAL)
        mapped = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    func close() {
        if let p = mapped {
            munmap(p, bytes.count)
            mapped = nil
        }
    }
}
