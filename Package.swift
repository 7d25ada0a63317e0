// swift-tools-version: 6.1
// The Sautikit media engine. No Swift package dependencies: the toolchain plus
// Debian's C libraries, each behind a `systemLibrary` target (DESIGN.md).
import PackageDescription

let package = Package(
    name: "Sautikit",
    products: [
        .executable(name: "sauti", targets: ["sauti"]),
        .library(name: "SautiWire", targets: ["SautiWire"]),
        .library(name: "SautiAudio", targets: ["SautiAudio"]),
        .library(name: "SautiMedia", targets: ["SautiMedia"]),
        .library(name: "SautiReplay", targets: ["SautiReplay"]),
    ],
    targets: [
        // C libraries from Debian.
        .systemLibrary(
            name: "CSndFile",
            pkgConfig: "sndfile",
            providers: [.apt(["libsndfile1-dev"])]
        ),

        // Bytes on the wire: RTP, RTCP, RFC 4733, SDP, pcap/pcapng. No I/O, no C.
        .target(name: "SautiWire"),
        // Samples in, samples out: G.711, WAV files.
        .target(name: "SautiAudio", dependencies: ["CSndFile"]),
        // The real-time engine; for now the jitter buffer and concealment the replay plays through.
        .target(name: "SautiMedia", dependencies: ["SautiWire", "SautiAudio"]),
        // Offline pipeline: capture → streams → stats, DTMF, RTCP, WAV, report.
        .target(name: "SautiReplay", dependencies: ["SautiWire", "SautiAudio", "SautiMedia"]),
        // The command line.
        .executableTarget(name: "sauti", dependencies: ["SautiReplay"]),

        // Benchmarks (not part of `swift test`): `swift run -c release sauti-bench`.
        .executableTarget(
            name: "sauti-bench",
            dependencies: ["SautiWire", "SautiAudio", "SautiReplay"],
            path: "Benchmarks/SautiBench"
        ),

        .testTarget(name: "SautiWireTests", dependencies: ["SautiWire"]),
        .testTarget(name: "SautiAudioTests", dependencies: ["SautiAudio"]),
        .testTarget(name: "SautiMediaTests", dependencies: ["SautiMedia"]),
        .testTarget(name: "SautiReplayTests", dependencies: ["SautiReplay"]),
    ],
    swiftLanguageModes: [.v6]
)
