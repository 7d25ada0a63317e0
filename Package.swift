// swift-tools-version: 6.1
// The Sautikit media engine. No Swift package dependencies: the toolchain plus
// Debian's C libraries, each behind a `systemLibrary` target (DESIGN.md).
import PackageDescription

// The media path (wire parsing, codecs, the engine) is compiled optimized in every
// configuration: the steady state's no-allocation guarantee holds only for specialized
// generic code (unspecialized stdlib generics box their elements on the heap), and the
// tests check that guarantee under `swift test`.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "Sautikit",
    products: [
        .executable(name: "sauti", targets: ["sauti"]),
        .executable(name: "sautid", targets: ["sautid"]),
        .library(name: "SautiWire", targets: ["SautiWire"]),
        .library(name: "SautiAudio", targets: ["SautiAudio"]),
        .library(name: "SautiMedia", targets: ["SautiMedia"]),
        .library(name: "SautiReplay", targets: ["SautiReplay"]),
        .library(name: "SautiFlow", targets: ["SautiFlow"]),
        .library(name: "SautiHTTP", targets: ["SautiHTTP"]),
        .library(name: "SautiVoice", targets: ["SautiVoice"]),
    ],
    targets: [
        // C libraries from Debian.
        .systemLibrary(
            name: "CSndFile",
            pkgConfig: "sndfile",
            providers: [.apt(["libsndfile1-dev"])]
        ),

        .systemLibrary(
            name: "COpus",
            pkgConfig: "opus",
            providers: [.apt(["libopus-dev"])]
        ),
        .systemLibrary(
            name: "CSpeexDSP",
            pkgConfig: "speexdsp",
            providers: [.apt(["libspeexdsp-dev"])]
        ),
        .systemLibrary(
            name: "CEspeakNG",
            pkgConfig: "espeak-ng",
            providers: [.apt(["libespeak-ng-dev"])]
        ),
        // epoll, timerfd, eventfd, recvmmsg/sendmmsg: what Swift's Glibc module lacks.
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(name: "CSautiLinux"),

        // Bytes on the wire: RTP, RTCP, RFC 4733, SDP, pcap/pcapng. No I/O, no C.
        .target(name: "SautiWire", swiftSettings: hotPath),
        // Samples in, samples out: G.711, WAV files.
        .target(name: "SautiAudio", dependencies: ["CSndFile", "CSpeexDSP", "CEspeakNG", "COpus"], swiftSettings: hotPath),
        // The real-time engine: media workers, legs, jitter buffers, concealment.
        .target(name: "SautiMedia", dependencies: ["SautiWire", "SautiAudio", "CSautiLinux"], swiftSettings: hotPath),
        // Offline pipeline: capture → streams → stats, DTMF, RTCP, WAV, report.
        .target(name: "SautiReplay", dependencies: ["SautiWire", "SautiAudio", "SautiMedia"]),
        // The voice-actions language: JSON and XML documents parsed into one validated model.
        // No I/O, no dependencies.
        .target(name: "SautiVoice"),
        // The call-flow interpreter: runs voice-actions documents on a leg, fetching and
        // signing the customer's callbacks.
        .target(name: "SautiFlow", dependencies: ["SautiVoice", "SautiMedia", "CCrypto"]),
        // The project's HTTP/1.1 server: an epoll event loop, handlers in Swift concurrency.
        .target(name: "SautiHTTP", dependencies: ["CSautiLinux"]),
        // The control plane: the store, the API routes, the voice_url and events_url loops,
        // recordings behind presigned URLs.
        .target(
            name: "SautiControl",
            dependencies: ["SautiHTTP", "SautiFlow", "SautiVoice", "SautiMedia", "SautiAudio", "SautiWire", "CSQLite", "CCrypto"]),
        // The daemon: the control API and the media plane.
        .executableTarget(name: "sautid", dependencies: ["SautiControl", "SautiHTTP"]),
        // The command line.
        .executableTarget(name: "sauti", dependencies: ["SautiReplay", "SautiMedia", "SautiVoice"]),

        // Benchmarks (not part of `swift test`): `swift run -c release sauti-bench`.
        .executableTarget(
            name: "sauti-bench",
            dependencies: [
                "SautiWire", "SautiAudio", "SautiMedia", "SautiReplay", "SautiVoice", "SautiControl", "SautiHTTP", "CSpeexDSP",
            ],
            path: "Benchmarks/SautiBench"
        ),

        .testTarget(name: "SautiWireTests", dependencies: ["SautiWire"]),
        .testTarget(name: "SautiAudioTests", dependencies: ["SautiAudio", "SautiTestSupport"]),
        // Counts heap allocations on opted-in threads (wraps malloc): tests only.
        .target(name: "CSautiAllocCounter", path: "Tests/CSautiAllocCounter"),
        // Child processes with deadlines, tools run to completion and blocking work awaited
        // off the cooperative pool, and the Python test HTTP servers: tests only.
        .target(name: "SautiTestSupport", path: "Tests/SautiTestSupport"),
        .testTarget(
            name: "SautiMediaTests", dependencies: ["SautiMedia", "CSautiAllocCounter", "SautiTestSupport"], exclude: ["play_url_server.py"]),
        .testTarget(name: "SautiReplayTests", dependencies: ["SautiReplay", "SautiTestSupport"]),
        .testTarget(name: "SautiVoiceTests", dependencies: ["SautiVoice", "SautiTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "SautiFlowTests", dependencies: ["SautiFlow", "SautiVoice", "SautiMedia", "SautiTestSupport"],
            exclude: ["ivr_app.py"]),
        .testTarget(name: "SautiControlTests", dependencies: ["SautiControl", "SautiTestSupport"]),
        .testTarget(name: "SautiHTTPTests", dependencies: ["SautiHTTP", "SautiTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
