/// The result of a replay: one entry per RTP stream, the RTCP summary, and what the
/// capture held besides. Encoded as the `--json` report (snake_case keys).
public struct ReplayReport: Codable, Sendable, Equatable {
    /// The capture file.
    public var file: String
    /// Its container format.
    public var format: String
    /// Frames read.
    public var frames: Int
    /// Capture time of the first frame, seconds since the Unix epoch.
    public var firstFrameEpochSeconds: Double?
    /// The streams, in order of first packet.
    public var streams: [Stream]
    /// RTCP found in the capture.
    public var rtcp: RTCPSummary
    /// What was dropped or skipped, and why.
    public var counters: Counters
    /// Set when the capture could not be read to its end: the report covers what came before.
    public var error: CaptureProblem?

    /// A read error: where and what.
    public struct CaptureProblem: Codable, Sendable, Equatable {
        /// Byte offset in the file.
        public var offset: Int?
        /// What was wrong.
        public var message: String
    }

    /// One RTP stream: a (source, destination, SSRC) triple.
    public struct Stream: Codable, Sendable, Equatable {
        /// Sender address:port.
        public var source: String
        /// Receiver address:port.
        public var destination: String
        /// The SSRC, as 0xXXXXXXXX.
        public var ssrc: String
        /// Payload types seen, ascending.
        public var payloadTypes: [Int]
        /// Codec names per payload type seen (`PCMU`, `telephone-event`, `opus`, `PT96`, …).
        public var codecs: [String]
        /// The clock rate of the audio, in Hz, when known.
        public var clockRate: Int?
        /// How the stream was recognised: `sdp`, `decode-as`, or `probation` (RFC 3550 A.1).
        public var detectedBy: String
        /// Packets received (duplicates included).
        public var packets: Int
        /// Packets expected from the first to the last sequence number (Wireshark's span).
        public var expected: Int
        /// Expected minus received, as Wireshark reports it: duplicates make it negative.
        public var lost: Int
        /// `lost` as a percentage of `expected`.
        public var lostPercent: Double
        /// Packets never received (RFC 3550: expected minus distinct received, never negative).
        public var lostDistinct: Int
        /// Packets whose sequence number had been received already.
        public var duplicates: Int
        /// Packets that arrived after a later sequence number.
        public var outOfOrder: Int
        /// Times the sequence numbering restarted (RFC 3550 A.1).
        public var sequenceRestarts: Int
        /// Inter-packet delta, in ms (Wireshark's definition).
        public var minDeltaMs: Double
        /// Mean inter-packet delta, in ms.
        public var meanDeltaMs: Double
        /// Largest inter-packet delta, in ms.
        public var maxDeltaMs: Double
        /// Mean RFC 3550 interarrival jitter, in ms.
        public var meanJitterMs: Double
        /// Largest RFC 3550 interarrival jitter, in ms.
        public var maxJitterMs: Double
        /// Whether Wireshark would mark the stream as having problems (sequence or timestamp errors).
        public var problems: Bool
        /// First packet, seconds after the capture's first frame.
        public var startSeconds: Double
        /// Last packet, seconds after the capture's first frame.
        public var endSeconds: Double
        /// RFC 4733 digits, each once.
        public var digits: [Digit]
        /// The digits as one string.
        public var digitString: String
        /// The decoded audio, when written.
        public var wav: Audio?
        /// Why no audio was written, when it was not.
        public var wavSkipped: String?
    }

    /// One RFC 4733 digit.
    public struct Digit: Codable, Sendable, Equatable {
        /// The DTMF character.
        public var digit: String
        /// Arrival of its first packet, seconds after the capture's first frame.
        public var startSeconds: Double
        /// Its duration, in ms (the longest duration field, at the event clock).
        public var durationMs: Double
        /// The event's RTP timestamp.
        public var rtpTimestamp: UInt32
        /// End packets received (0: the end was lost and the event timed out).
        public var endPackets: Int
        /// Whether the marker (start) packet was received.
        public var startReceived: Bool
    }

    /// The WAV written for a stream.
    public struct Audio: Codable, Sendable, Equatable {
        /// Path of the file.
        public var path: String
        /// Sample rate, in Hz.
        public var sampleRate: Int
        /// Samples written.
        public var samples: Int
        /// Duration, in seconds.
        public var durationSeconds: Double
        /// 20 ms frames played from received audio.
        public var decodedFrames: Int
        /// Frames concealed (lost, late, or silence between talk spurts).
        public var concealedFrames: Int
        /// Packets the jitter buffer dropped as late.
        public var latePackets: Int
        /// The jitter buffer's last target delay, in ms.
        public var targetDelayMs: Int
    }

    /// RTCP in the capture.
    public struct RTCPSummary: Codable, Sendable, Equatable {
        /// Compound RTCP packets parsed.
        public var packets: Int
        /// Datagrams that looked like RTCP but did not parse (each reason kept once, with a count).
        public var malformed: Int
        /// Per sending SSRC.
        public var sources: [RTCPSource]
        /// Per (reporter, reported source) pair: what receivers said.
        public var receptionReports: [ReceptionReport]
    }

    /// What one SSRC said in RTCP.
    public struct RTCPSource: Codable, Sendable, Equatable {
        /// The SSRC, as 0xXXXXXXXX.
        public var ssrc: String
        /// The SDES CNAME, when sent.
        public var cname: String?
        /// Sender reports sent.
        public var senderReports: Int
        /// Receiver reports sent.
        public var receiverReports: Int
        /// BYE packets naming this SSRC.
        public var byes: Int
        /// The last sender report's packet count.
        public var lastSenderPacketCount: UInt32?
        /// The last sender report's octet count.
        public var lastSenderOctetCount: UInt32?
        /// The last sender report's RTP timestamp.
        public var lastSenderRtpTimestamp: UInt32?
        /// The last sender report's NTP time, as seconds since 1900 (fractional).
        public var lastSenderNtpSeconds: Double?
    }

    /// Reception reports one SSRC made about another.
    public struct ReceptionReport: Codable, Sendable, Equatable {
        /// The reporting SSRC.
        public var reporter: String
        /// The SSRC reported on.
        public var source: String
        /// Report blocks seen.
        public var reports: Int
        /// The last fraction lost, 0–1.
        public var lastFractionLost: Double
        /// The highest fraction lost, 0–1.
        public var maxFractionLost: Double
        /// The last cumulative number of packets lost.
        public var cumulativeLost: Int
        /// The last jitter, in timestamp units.
        public var lastJitterUnits: UInt32
        /// The highest jitter, in timestamp units.
        public var maxJitterUnits: UInt32
        /// The last jitter in ms, when the source's clock is known.
        public var lastJitterMs: Double?
        /// The last extended highest sequence number.
        public var highestSequence: UInt32
    }

    /// What the capture held besides RTP streams, and what was dropped.
    public struct Counters: Codable, Sendable, Equatable {
        /// UDP datagrams found.
        public var udpDatagrams = 0
        /// Frames that were not UDP over IP.
        public var nonUdpFrames = 0
        /// Frames of link types replay cannot decode.
        public var unsupportedLinkTypeFrames = 0
        /// Frames whose headers lied about their length or were cut short: dropped.
        public var malformedFrames = 0
        /// The first few reasons for malformed frames, with the frame number.
        public var malformedExamples: [String] = []
        /// IPv4 fragments seen.
        public var ipv4Fragments = 0
        /// IPv4 datagrams reassembled from fragments.
        public var ipv4Reassembled = 0
        /// IPv4 datagrams whose fragments never all arrived, or were dropped.
        public var ipv4Incomplete = 0
        /// SIP messages carrying SDP.
        public var sipWithSdp = 0
        /// UDP datagrams that never became part of a stream (not RTP, or a flow that failed probation).
        public var nonRtpDatagrams = 0
        /// RTP-like packets in known streams that failed to parse (bad padding, truncated CSRC/extension).
        public var malformedRtp = 0
        /// Flows that looked like RTP but never passed probation.
        public var rejectedFlows = 0

        /// All zero.
        public init() {}
    }
}
