import SautiWire

/// A `--decode-as PORT[=PT/ENCODING/RATE]` rule: UDP to or from `port` is RTP (no
/// probation needed), and, when given, payload type `payloadType` is `encoding` at
/// `clockRate` Hz.
public struct DecodeAsRule: Equatable, Sendable {
    /// The UDP port.
    public var port: UInt16
    /// The payload type the rule names, if any.
    public var payloadType: UInt8?
    /// The encoding name (`PCMU`, `PCMA`, `opus`, `telephone-event`, …).
    public var encoding: String?
    /// The clock rate, in Hz.
    public var clockRate: Int?

    /// Parses `PORT` or `PORT=PT/ENCODING/RATE`. Returns nil with no message; see `parse`.
    public static func parse(_ text: String) -> Result<DecodeAsRule, ReplayUsageError> {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard let port = UInt16(parts[0]), port > 0 else {
            return .failure(.init("--decode-as \(text): \(parts[0]) is not a UDP port (1-65535)"))
        }
        guard parts.count == 2 else { return .success(DecodeAsRule(port: port)) }
        let fields = parts[1].split(separator: "/", omittingEmptySubsequences: false)
        guard fields.count == 3 else {
            return .failure(.init("--decode-as \(text): expected PORT=PT/ENCODING/RATE, e.g. 4000=96/opus/48000"))
        }
        guard let pt = UInt8(fields[0]), pt < 128 else {
            return .failure(.init("--decode-as \(text): payload type \(fields[0]) is not 0-127"))
        }
        guard !fields[1].isEmpty, fields[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            return .failure(.init("--decode-as \(text): encoding name '\(fields[1])' is empty or has odd characters"))
        }
        guard let rate = Int(fields[2]), rate >= 1000, rate <= 192_000 else {
            return .failure(.init("--decode-as \(text): clock rate \(fields[2]) is not 1000-192000 Hz"))
        }
        return .success(DecodeAsRule(port: port, payloadType: pt, encoding: String(fields[1]), clockRate: rate))
    }

    /// A rule.
    public init(port: UInt16, payloadType: UInt8? = nil, encoding: String? = nil, clockRate: Int? = nil) {
        self.port = port
        self.payloadType = payloadType
        self.encoding = encoding
        self.clockRate = clockRate
    }
}

/// A mistake in how replay was asked to run.
public struct ReplayUsageError: Error, Equatable, CustomStringConvertible {
    /// What was wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// How a replay runs.
public struct ReplayOptions: Sendable {
    /// Folder for one WAV per stream; nil for the report only.
    public var outputDirectory: String?
    /// Only these SSRCs (empty: all).
    public var ssrcFilter: Set<UInt32> = []
    /// `--decode-as` rules.
    public var decodeAs: [DecodeAsRule] = []
    /// Unconfirmed candidate flows held at most (bounds memory on hostile captures).
    public var maxCandidateFlows = 65_536
    /// The rate Opus streams are decoded at, in Hz (8,000, 12,000, 16,000, 24,000 or
    /// 48,000): libopus decodes at it directly, so each rate's WAV is a plain libopus decode.
    public var opusSampleRate = 48_000
    /// Progress callback: bytes read and total, called now and then.
    public var progress: (@Sendable (Int, Int) -> Void)?

    /// Report only, all streams.
    public init(outputDirectory: String? = nil) {
        self.outputDirectory = outputDirectory
    }
}
