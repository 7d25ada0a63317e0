import SautiAudio

/// Something that produces a leg's outbound audio, one frame per tick (a player, TTS, a
/// room's mix, a bridge peer). Called on the leg's media worker only; must not block.
public protocol FrameSource: AnyObject {
    /// Fills `frame` (the leg's rate, 16-bit mono). Returns false when the source has
    /// finished; `frame` is then ignored and the leg falls back to silence.
    func read(into frame: UnsafeMutableBufferPointer<Int16>) -> Bool

    /// The highest audio rate the frames carry, in Hz, when it is below the leg's rate (a
    /// bridge from an 8 kHz leg: 8,000, even though the frames are resampled to 16 kHz);
    /// nil when they are as wide as the leg's rate or it is not known. An Opus leg encodes
    /// no wider than this (`OpusEncoder.limitBand(toAudioRate:)`). Read once a tick.
    var contentSampleRate: Int? { get }
}

extension FrameSource {
    /// Not known: the leg's own rate.
    public var contentSampleRate: Int? { nil }
}

/// Something that takes a leg's decoded inbound audio, one frame per tick (a recorder, a
/// detector, a room). Called on the leg's media worker only; must not block.
public protocol FrameSink: AnyObject {
    /// Takes one frame; the buffer is valid only during the call.
    func write(_ frame: UnsafeBufferPointer<Int16>)
}

/// What a leg sends.
public enum LegSourceKind: Sendable {
    /// Silence (comfort for the far end; nothing is sent in sendonly/inactive).
    case silence
    /// A generated tone (beeps, ringback, DTMF tones).
    case tone(ToneSpec)
}

/// A tone as a frame source.
final class ToneSource: FrameSource {
    private var generator: ToneGenerator
    init(_ spec: ToneSpec, sampleRate: Int) { generator = ToneGenerator(spec, sampleRate: sampleRate) }
    func read(into frame: UnsafeMutableBufferPointer<Int16>) -> Bool {
        generator.fill(frame)
        return true
    }
}
