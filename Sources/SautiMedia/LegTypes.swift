import SautiWire

/// Which way media flows on a leg, from the engine's side.
public enum LegDirection: String, Sendable, Equatable {
    /// Send and receive.
    case sendrecv
    /// Send only (the far end put us on hold as recvonly, or we hold it with music).
    case sendonly
    /// Receive only.
    case recvonly
    /// Neither.
    case inactive

    var sends: Bool { self == .sendrecv || self == .sendonly }
    var receives: Bool { self == .sendrecv || self == .recvonly }
}

/// How a leg is set up.
public struct LegConfiguration: Sendable, Equatable {
    /// The codec sent and received.
    public var codec: AudioCodec
    /// Its payload type (0 for PCMU, 8 for PCMA, or what SDP negotiated).
    public var payloadType: UInt8
    /// The RFC 4733 telephone-event payload type, nil for none.
    public var telephoneEventPayloadType: UInt8? = 101
    /// Where to send RTP; nil to latch onto the source of the first valid packet.
    public var remote: Endpoint?
    /// Where to send RTCP; nil for the RTP address's port + 1 (or the RTP address with `rtcpMux`).
    public var remoteRTCP: Endpoint?
    /// RTCP on the RTP port (RFC 5761).
    public var rtcpMux = false
    /// Media direction.
    public var direction: LegDirection = .sendrecv
    /// No inbound RTP for this long raises `.mediaTimeout`; 0 disables.
    public var mediaTimeoutMilliseconds = 30_000
    /// Jitter-buffer delay bounds, in ms.
    public var minJitterDelayMilliseconds = 20
    public var maxJitterDelayMilliseconds = 300
    /// Seconds between RTCP reports (RFC 3550 suggests 5).
    public var rtcpIntervalSeconds = 5.0
    /// The CNAME in RTCP SDES.
    public var cname = "sautikit"
    /// Opus legs: the PCM rate and the encoder (LegConfiguration+Opus.swift).
    public var opus = OpusLegSettings()

    /// A leg sending and receiving `codec` with its static payload type (111 for Opus,
    /// as WebRTC numbers it, until SDP says otherwise).
    public init(codec: AudioCodec, remote: Endpoint? = nil) {
        self.codec = codec
        switch codec {
        case .pcmu: payloadType = 0
        case .pcma: payloadType = 8
        case .opus: payloadType = 111
        }
        self.remote = remote
    }
}

/// Why digit collection ended.
public enum DigitCollectionEnd: String, Sendable, Equatable {
    /// The wanted number of digits came.
    case numDigits
    /// The finish key was pressed (it is not part of the digits).
    case finishKey
    /// No first digit within the timeout.
    case timeout
    /// Too long between two digits.
    case interDigitTimeout
    /// Replaced by a new collection, or the leg closed.
    case canceled
}

/// What to collect: like `getDigits`.
public struct DigitCollectionSpec: Sendable, Equatable {
    /// Stop after this many digits; nil for no limit.
    public var numDigits: Int?
    /// Wait this long for the first digit, in ms.
    public var timeoutMilliseconds = 5000
    /// Wait this long between digits, in ms.
    public var interDigitTimeoutMilliseconds = 3000
    /// Keys that end collection (not included), e.g. "#".
    public var finishOnKeys: Set<Character> = ["#"]

    /// A spec.
    public init(
        numDigits: Int? = nil, timeoutMilliseconds: Int = 5000, interDigitTimeoutMilliseconds: Int = 3000,
        finishOnKeys: Set<Character> = ["#"]
    ) {
        self.numDigits = numDigits
        self.timeoutMilliseconds = timeoutMilliseconds
        self.interDigitTimeoutMilliseconds = interDigitTimeoutMilliseconds
        self.finishOnKeys = finishOnKeys
    }
}

/// What a leg reports to the control side.
public enum LegEvent: Sendable, Equatable {
    /// An RFC 4733 digit, once, when it ended (or timed out); duration in ms.
    case digit(Character, durationMilliseconds: Int)
    /// Digit collection ended.
    case digitsCollected(String, DigitCollectionEnd)
    /// The leg latched onto a remote address (symmetric RTP).
    case latched(Endpoint)
    /// No inbound RTP for the configured time.
    case mediaTimeout
    /// Inbound RTP resumed after a media timeout.
    case mediaResumed
    /// The current source finished (e.g. a tone with a duration, a file played out).
    case sourceFinished
    /// A file playback (`MediaLeg.play(file:loop:)`) ended: its last sample was sent after
    /// `loopsPlayed` loops (`stopped` false; `.sourceFinished` follows), or `stopPlayback()`
    /// or a new `play(file:)` stopped it after `loopsPlayed` loops heard in full (`stopped`
    /// true). See Player.swift.
    case playbackFinished(path: String, loopsPlayed: Int, stopped: Bool)
    /// A file playback could not open or decode its file; the leg goes on (silence, or the
    /// audio decoded before a mid-file error). `message` is the system's or libsndfile's.
    case playbackFailed(path: String, reason: PlaybackFailureReason, message: String)
    /// Digits queued with `sendDigits` have all been sent.
    case digitsSent(String)
    /// A recording ended and its file is final (closed, fsynced): where, how long, why.
    case recordingFinished(RecordingOutcome)
    /// The leg is closed; no more events follow.
    case closed
}

/// A leg's counters, readable at any time.
public struct LegStatistics: Sendable, Equatable {
    /// RTP packets received from the remote (valid, in the leg's payload types).
    public var packetsReceived = 0
    /// Payload bytes received.
    public var bytesReceived = 0
    /// RTP packets sent.
    public var packetsSent = 0
    /// Payload bytes sent.
    public var bytesSent = 0
    /// Packets lost (RFC 3550: expected minus received).
    public var packetsLost = 0
    /// Packets whose sequence number had been seen.
    public var duplicates = 0
    /// Packets behind the highest sequence number.
    public var outOfOrder = 0
    /// Sequence restarts and SSRC changes.
    public var restarts = 0
    /// Interarrival jitter (RFC 3550 A.8), in ms.
    public var jitterMilliseconds = 0.0
    /// Packets dropped by the jitter buffer as too late.
    public var late = 0
    /// Frames concealed by the jitter buffer.
    public var concealedFrames = 0
    /// Frames the jitter buffer inserted to grow its delay (concealment, not counted above).
    public var stretchedFrames = 0
    /// Frames the jitter buffer skipped to cut its delay.
    public var skippedFrames = 0
    /// Opus: frames rebuilt from the next packet's in-band FEC.
    public var recoveredFrames = 0
    /// Opus: frames of DTX silence (the sender paused; not loss).
    public var dtxFrames = 0
    /// Packets the decoder rejected as corrupt (concealed instead).
    public var decodeErrors = 0
    /// Frames the encoder failed on (nothing sent for them).
    public var encodeErrors = 0
    /// Opus: the loss the encoder's in-band FEC is sized for now, in percent (0: no FEC);
    /// nil on G.711 legs.
    public var fecLossPercent: Int?
    /// Opus: the widest band the encoder may code now, as the audio rate that carries it,
    /// in Hz (8,000 while the leg's audio comes from a G.711 leg; libopus moves to a new
    /// band through a fade of a few seconds); nil on G.711 legs.
    public var encodedBandRate: Int?
    /// The jitter buffer's target delay, in ms.
    public var jitterBufferDelayMilliseconds = 0.0
    /// Datagrams from other sources after latching: dropped (RTP bleed).
    public var strayPackets = 0
    /// RTP datagrams that failed to parse, or were cut short.
    public var malformedRTP = 0
    /// RTCP datagrams that failed to parse.
    public var malformedRTCP = 0
    /// RTP packets of payload types the leg does not use.
    public var unknownPayloadType = 0
    /// RTCP compound packets received.
    public var rtcpReceived = 0
    /// RTCP compound packets sent.
    public var rtcpSent = 0
    /// Round-trip time from RTCP (LSR/DLSR), in ms, once known.
    public var roundTripMilliseconds: Double?
    /// What the remote last reported about our stream: fraction lost (0–1).
    public var remoteFractionLost: Double?
    /// …and its jitter, in ms.
    public var remoteJitterMilliseconds: Double?
    /// Digits received.
    public var digitsReceived = 0
    /// Send failures (the kernel refused a datagram).
    public var sendErrors = 0
    /// Inbound packets relayed undecoded to the bridged leg (LegRelay).
    public var packetsRelayed = 0
    /// Relayed packets this leg could not send on (no remote yet, not sending, no
    /// telephone-event payload type, too long).
    public var relayDropped = 0
    /// The remote RTP address in use.
    public var remote: Endpoint?

    /// All zero.
    public init() {}
}
