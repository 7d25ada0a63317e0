// The play cache: audio downloaded for `play(url:)`, kept on disk by URL and reused while
// the server's caching headers allow (RFC 9111, as a shared cache), within a size cap.

import Foundation
import Synchronization

/// What a response's headers say about keeping it (RFC 9111 §3, §4.2), for a shared
/// cache: `no-store` and `private` responses are not kept; `s-maxage`, then `max-age`,
/// then `Expires − Date`, then a tenth of `Date − Last-Modified` (at most a day) give how
/// long it is fresh; `no-cache` makes it stale at once (kept, asked again every time).
struct CachePolicy: Equatable, Sendable {
    /// Whether the response may be kept at all.
    var storable: Bool
    /// Seconds it stays fresh after it was received.
    var freshSeconds: Double
    /// The validators for a conditional request.
    var etag: String?
    var lastModified: String?

    /// The policy for a response's headers (names in any case) received at `now`
    /// (seconds since 1970).
    init(headers: [String: String], now: Double) {
        var lower: [String: String] = [:]
        for (k, v) in headers { lower[k.lowercased()] = v }
        let directives = Self.cacheControl(lower["cache-control"] ?? "")
        etag = lower["etag"]
        lastModified = lower["last-modified"]
        let date = lower["date"].flatMap(httpDate) ?? now
        let age = lower["age"].flatMap { Double($0) } ?? 0
        var lifetime: Double
        if let s = directives["s-maxage"].flatMap({ Double($0 ?? "") }) {
            lifetime = s
        } else if let m = directives["max-age"].flatMap({ Double($0 ?? "") }) {
            lifetime = m
        } else if let expiresText = lower["expires"] {
            // An Expires that does not parse means already expired (§5.3).
            lifetime = httpDate(expiresText).map { $0 - date } ?? 0
        } else if let lm = lastModified.flatMap(httpDate), date > lm {
            lifetime = min(86_400, (date - lm) / 10)
        } else {
            lifetime = 0
        }
        if directives["no-cache"] != nil { lifetime = 0 }
        freshSeconds = max(0, lifetime - age)
        storable =
            directives["no-store"] == nil && directives["private"] == nil
            && (freshSeconds > 0 || etag != nil || lastModified != nil)
    }

    /// Cache-Control's directives, names lowercased, values unquoted (nil for a bare name).
    static func cacheControl(_ text: String) -> [String: String?] {
        var out: [String: String?] = [:]
        for part in text.split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard !item.isEmpty else { continue }
            if let eq = item.firstIndex(of: "=") {
                let name = item[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
                var value = item[item.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                    value = String(value.dropFirst().dropLast())
                }
                out[name] = value
            } else {
                out[item.lowercased()] = .some(nil)
            }
        }
        return out
    }
}

/// An HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`; RFC 9110 §5.6.7) as seconds
/// since 1970; nil for anything else.
func httpDate(_ text: String) -> Double? {
    let parts = text.split(separator: " ")
    guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    guard let month = months.firstIndex(of: String(parts[2])) else { return nil }
    let clock = parts[4].split(separator: ":").compactMap { Int($0) }
    guard clock.count == 3, (1...31).contains(day), (0...23).contains(clock[0]), (0...59).contains(clock[1]),
        (0...60).contains(clock[2]), (1970...9999).contains(year)
    else { return nil }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = month < 2 ? year - 1 : year
    let era = y / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    return Double(days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2])
}

/// One cached response: its audio file and what it takes to reuse it.
struct PlayCacheEntry: Codable, Equatable, Sendable {
    /// The URL, as requested.
    var url: String
    /// The audio file's name in the cache directory.
    var file: String
    /// Its size in bytes.
    var size: Int
    /// When it stops being fresh (seconds since 1970); after that it is asked for again,
    /// conditionally when it has validators.
    var freshUntil: Double
    var etag: String?
    var lastModified: String?
    /// Last time a playback used it (seconds since 1970): eviction goes oldest first.
    var lastUsed: Double

    /// Whether it may be played without asking the server, at `now`.
    func isFresh(at now: Double) -> Bool { now < freshUntil }
    /// Whether a conditional request can revalidate it.
    var hasValidators: Bool { etag != nil || lastModified != nil }
}

/// Counters of the play cache, since the engine started.
public struct PlayCacheStatistics: Sendable, Equatable {
    /// Plays served from a fresh entry without a request.
    public var hits = 0
    /// Downloads of a whole response (no entry, a stale one without validators, or one the
    /// server changed).
    public var misses = 0
    /// Stale entries the server confirmed (304 Not Modified).
    public var revalidated = 0
    /// Plays that joined a download already under way for the same URL.
    public var joined = 0
    /// Entries removed to stay under the size cap.
    public var evictions = 0
    /// Entries kept and their total size in bytes.
    public var entries = 0
    public var bytes = 0
}

/// The on-disk cache of downloaded play audio: one audio file and one JSON metadata file
/// per URL in `directory`, an index in memory, least recently used out first when the
/// total passes `maximumBytes`. Safe to use from any thread. Entries being played when
/// they are evicted keep playing: the player holds the file open.
final class PlayCache: Sendable {
    let directory: String
    let maximumBytes: Int
    private struct State {
        var entries: [String: PlayCacheEntry] = [:]
        var bytes = 0
        var statistics = PlayCacheStatistics()
    }
    private let state = Mutex(State())

    /// Opens (creating) the cache in `directory` and loads what an earlier run left there;
    /// files without valid metadata, and partial downloads, are removed.
    init(directory: String, maximumBytes: Int) throws {
        self.directory = directory
        self.maximumBytes = maximumBytes
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var loaded: [String: PlayCacheEntry] = [:]
        var keep: Set<String> = []
        let names = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasSuffix(".json") {
            let path = directory + "/" + name
            guard let data = fm.contents(atPath: path),
                let entry = try? JSONDecoder().decode(PlayCacheEntry.self, from: data),
                let attributes = try? fm.attributesOfItem(atPath: directory + "/" + entry.file),
                (attributes[.size] as? Int) == entry.size
            else {
                try? fm.removeItem(atPath: path)
                continue
            }
            loaded[entry.url] = entry
            keep.insert(name)
            keep.insert(entry.file)
        }
        for name in names where !keep.contains(name) { try? fm.removeItem(atPath: directory + "/" + name) }
        state.withLock { s in
            s.entries = loaded
            s.bytes = loaded.values.reduce(0) { $0 + $1.size }
        }
        evict(keeping: nil)
    }

    /// The cache file name stem for `url`: FNV-1a 64 of the URL, in hex.
    static func stem(_ url: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in url.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A fresh path for a download of `url` in progress.
    func partPath(for url: String, attempt: Int) -> String {
        "\(directory)/\(Self.stem(url)).\(getpid()).\(attempt).part"
    }

    /// The entry for `url`, marked used now.
    func lookup(_ url: String, now: Double) -> (entry: PlayCacheEntry, path: String)? {
        state.withLock { s in
            guard var e = s.entries[url] else { return nil }
            e.lastUsed = now
            s.entries[url] = e
            return (e, directory + "/" + e.file)
        }
    }

    /// Counts a hit, miss, revalidation or join.
    func count(_ update: (inout PlayCacheStatistics) -> Void) { state.withLock { update(&$0.statistics) } }

    /// The counters and the current size.
    var statistics: PlayCacheStatistics {
        state.withLock { s in
            var out = s.statistics
            out.entries = s.entries.count
            out.bytes = s.bytes
            return out
        }
    }

    /// Keeps the finished download at `partPath` (`size` bytes) as the entry for `url`,
    /// replacing any older one; then evicts down to the cap. Returns false (and removes the
    /// part) when the response may not be kept or the file cannot be moved.
    @discardableResult
    func store(url: String, partPath: String, size: Int, policy: CachePolicy, now: Double) -> Bool {
        guard policy.storable, size <= maximumBytes else {
            unlink(partPath)
            return false
        }
        let stem = Self.stem(url)
        let file = "\(stem).\(Int(now * 1000)).audio"
        let entry = PlayCacheEntry(
            url: url, file: file, size: size, freshUntil: now + policy.freshSeconds, etag: policy.etag,
            lastModified: policy.lastModified, lastUsed: now)
        guard rename(partPath, directory + "/" + file) == 0 else {
            unlink(partPath)
            return false
        }
        let old = state.withLock { s -> PlayCacheEntry? in
            let old = s.entries[url]
            s.entries[url] = entry
            s.bytes += size - (old?.size ?? 0)
            return old
        }
        if let old, old.file != file { unlink(directory + "/" + old.file) }
        writeMetadata(entry)
        evict(keeping: url)
        return true
    }

    /// After a 304: the entry is fresh again under the new headers (validators the 304
    /// leaves out are kept).
    func refresh(url: String, policy: CachePolicy, now: Double) {
        let updated = state.withLock { s -> PlayCacheEntry? in
            guard var e = s.entries[url] else { return nil }
            e.freshUntil = now + policy.freshSeconds
            if let t = policy.etag { e.etag = t }
            if let m = policy.lastModified { e.lastModified = m }
            e.lastUsed = now
            s.entries[url] = e
            return e
        }
        if let updated { writeMetadata(updated) }
    }

    /// Drops the entry for `url` (its file is gone or no longer valid).
    func remove(_ url: String) {
        let old = state.withLock { s -> PlayCacheEntry? in
            guard let e = s.entries.removeValue(forKey: url) else { return nil }
            s.bytes -= e.size
            return e
        }
        guard let old else { return }
        unlink(directory + "/" + old.file)
        unlink(directory + "/" + Self.stem(url) + ".json")
    }

    private func writeMetadata(_ entry: PlayCacheEntry) {
        guard let data = try? JSONEncoder().encode(entry) else { return }
        let path = directory + "/" + Self.stem(entry.url) + ".json"
        let temporary = path + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        if rename(temporary, path) != 0 { unlink(temporary) }
    }

    /// Removes least recently used entries (never `keeping`) until the total fits the cap.
    private func evict(keeping: String?) {
        let victims = state.withLock { s -> [PlayCacheEntry] in
            guard s.bytes > maximumBytes else { return [] }
            var out: [PlayCacheEntry] = []
            for e in s.entries.values.sorted(by: { $0.lastUsed < $1.lastUsed }) where e.url != keeping {
                guard s.bytes > maximumBytes else { break }
                s.entries.removeValue(forKey: e.url)
                s.bytes -= e.size
                s.statistics.evictions += 1
                out.append(e)
            }
            return out
        }
        for e in victims {
            unlink(directory + "/" + e.file)
            unlink(directory + "/" + Self.stem(e.url) + ".json")
        }
    }
}
