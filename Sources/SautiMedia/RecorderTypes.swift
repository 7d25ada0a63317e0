import SautiAudio

/// Which audio a recording holds.
public enum RecordingChannels: String, Sendable, Equatable {
    /// The caller's audio (what the leg receives, decoded): a mono file.
    case caller
    /// Both directions as a stereo file: the caller on the left, the engine's side (what
    /// the leg sent in the same 20 ms tick, silence when it sent nothing) on the right.
    case both
}

/// What to record, where, and when to stop: the Record verb.
///
/// A recording starts at the next frame boundary (after the beep, if any) and ends at the
/// first of: `maxLengthMilliseconds` recorded, `silenceTimeoutMilliseconds` of caller
/// silence, a finish key, `MediaLeg.stopRecording()`, a new recording on the leg, the
/// leg closing (hangup), or an error writing the file. Its outcome comes as
/// `LegEvent.recordingFinished`.
public struct RecordingSpec: Sendable, Equatable {
    /// Where the WAV file goes (created or truncated).
    public var path: String
    /// The caller alone (mono) or both directions (stereo).
    public var channels: RecordingChannels = .caller
    /// How samples are stored: 16-bit PCM, or G.711 µ-law/A-law (8 bits a sample).
    public var encoding: WAVEncoding = .pcm16
    /// The longest the recording runs, in ms of recorded time (trimmed silence included:
    /// trimming can only make the file shorter); 0 for no limit.
    public var maxLengthMilliseconds = 0
    /// This long without the caller's audio reaching `silenceThresholdDBFS` ends the
    /// recording (counted from its start, so a caller who never speaks ends it too); 0 for
    /// no timeout. Measured on the caller's side only, in whole 20 ms frames.
    public var silenceTimeoutMilliseconds = 0
    /// RFC 4733 digits from the caller that end the recording (the digit is not kept; the
    /// audio during the key press may be).
    public var finishOnKeys: Set<Character> = []
    /// A 1 kHz beep this long is sent before recording starts (not recorded); 0 for none.
    /// While it plays, the leg's own source waits, unread, and resumes after it.
    public var beepMilliseconds = 0
    /// Drops leading and trailing silence from the file, at 20 ms frame granularity: a
    /// frame is silence when every channel's RMS level is below `silenceThresholdDBFS`.
    public var trimSilence = true
    /// The level below which a frame counts as silence, in dBFS (RMS relative to full scale,
    /// 32768). The default, −45 dBFS, is about 20 dB under quiet speech on a phone line and
    /// above G.711's idle-channel noise.
    public var silenceThresholdDBFS = -45.0
    /// Writes Ogg Opus (RFC 7845, through libsndfile) at `path` instead of a WAV. The audio
    /// is recorded as a WAV beside it (`<path>.part.wav`, valid while it grows) and
    /// converted when the recording ends; `encoding` applies to that WAV only.
    public var oggOpus = false

    /// A recording of the caller to `path` as 16-bit PCM, with trimming and no limits.
    public init(
        path: String, channels: RecordingChannels = .caller, encoding: WAVEncoding = .pcm16,
        maxLengthMilliseconds: Int = 0, silenceTimeoutMilliseconds: Int = 0, finishOnKeys: Set<Character> = [],
        beepMilliseconds: Int = 0, trimSilence: Bool = true, silenceThresholdDBFS: Double = -45
    ) {
        self.path = path
        self.channels = channels
        self.encoding = encoding
        self.maxLengthMilliseconds = maxLengthMilliseconds
        self.silenceTimeoutMilliseconds = silenceTimeoutMilliseconds
        self.finishOnKeys = finishOnKeys
        self.beepMilliseconds = beepMilliseconds
        self.trimSilence = trimSilence
        self.silenceThresholdDBFS = silenceThresholdDBFS
    }
}

/// Why a recording ended.
public enum RecordingEnd: Sendable, Equatable {
    /// `maxLengthMilliseconds` were recorded.
    case maxLength
    /// `silenceTimeoutMilliseconds` of caller silence.
    case silence
    /// The caller pressed this finish key.
    case finishKey(Character)
    /// The leg closed (or the engine shut down).
    case hangup
    /// `MediaLeg.stopRecording()`, or a new recording replaced it.
    case stopped
    /// The file could not be created, written or finished: the system's or libsndfile's
    /// reason. What was written stays a valid WAV file.
    case error(String)
}

/// How a recording ended, and what it left on disk.
public struct RecordingOutcome: Sendable, Equatable {
    /// The file's path, as given.
    public var path: String
    /// Why it ended.
    public var reason: RecordingEnd
    /// Sample frames in the file (one sample per channel), after trimming.
    public var frames: Int
    /// The file's sample rate, in Hz.
    public var sampleRate: Int
    /// Channels in the file (1 or 2).
    public var channels: Int
    /// The file's size, in bytes (0 if it could not be created).
    public var bytes: Int
    /// Audio lost because the file writer fell more than two seconds behind, in ms (0
    /// unless the disk stalled).
    public var droppedMilliseconds: Int

    /// The file's audio, in seconds.
    public var durationSeconds: Double { sampleRate > 0 ? Double(frames) / Double(sampleRate) : 0 }

    /// An outcome.
    public init(
        path: String, reason: RecordingEnd, frames: Int, sampleRate: Int, channels: Int, bytes: Int,
        droppedMilliseconds: Int = 0
    ) {
        self.path = path
        self.reason = reason
        self.frames = frames
        self.sampleRate = sampleRate
        self.channels = channels
        self.bytes = bytes
        self.droppedMilliseconds = droppedMilliseconds
    }
}
