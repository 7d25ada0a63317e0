import Foundation

/// Files in `audio-fixtures/` (see its README for where each came from).
enum Fixtures {
    /// The package's `audio-fixtures` folder, found from this source file's path.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SautiAudioTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("audio-fixtures")

    /// Reads `audio-fixtures/<name>` as 16-bit little-endian words.
    static func littleEndianWords(_ name: String) throws -> [Int16] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { raw in
            (0..<raw.count / 2).map {
                Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))
            }
        }
    }
}
