// The validated model of the voice-actions language: what a customer's voice_url returns,
// as JSON or as XML, once both forms have been parsed and checked. Every value here is
// within its documented limits (docs/voice-actions.md); defaults are filled in.

/// A validated response: the actions to run on a call, in order.
public struct VoiceDocument: Sendable, Equatable {
    /// The actions, at most `VoiceLimits.maxActions` of them.
    public var actions: [VoiceAction]

    /// A document of these actions (not validated: build documents by parsing).
    public init(actions: [VoiceAction]) {
        self.actions = actions
    }
}

/// The limits of the language (docs/voice-actions.md, "Limits").
public enum VoiceLimits {
    /// Actions in one response (`MaxActionSteps`); a 51st is an error, never truncated.
    public static let maxActions = 50
    /// Prompt actions (say, play, pause) nested in one getDigits or record.
    public static let maxPromptActions = 10
    /// Bytes in one document, JSON or XML.
    public static let maxDocumentBytes = 1 << 20
    /// Nesting depth of JSON arrays and objects, or of XML elements.
    public static let maxDepth = 16
    /// Members of one JSON object, or attributes of one XML element.
    public static let maxMembers = 64
    /// Problems reported for one document; past this a final `.tooManyIssues` ends the list.
    public static let maxIssues = 1000
    /// Unicode scalars in a `say` text.
    public static let maxSayTextScalars = 4096
    /// Characters in a URL (ASCII only).
    public static let maxURLLength = 2048
    /// Numbers or SIP URIs one dial may ring.
    public static let maxDialTargets = 10
    /// URLs one play may queue.
    public static let maxPlayURLs = 10
}

/// One step of a call flow.
public enum VoiceAction: Sendable, Equatable {
    /// Speak text with the speech synthesizer.
    case say(Say)
    /// Play audio files fetched from URLs.
    case play(Play)
    /// Collect DTMF digits, optionally with a prompt.
    case getDigits(GetDigits)
    /// Connect the caller to numbers or SIP URIs.
    case dial(Dial)
    /// Put the caller into a named conference room.
    case conference(Conference)
    /// Record the caller, optionally after a prompt.
    case record(Record)
    /// Fetch the rest of the flow from another URL.
    case redirect(Redirect)
    /// Refuse the call before it is answered.
    case reject(Reject)
    /// End the call.
    case hangup
    /// Wait in silence.
    case pause(Pause)

    /// The verb's name, as JSON writes it (`"getDigits"`).
    public var verb: String {
        switch self {
        case .say: "say"
        case .play: "play"
        case .getDigits: "getDigits"
        case .dial: "dial"
        case .conference: "conference"
        case .record: "record"
        case .redirect: "redirect"
        case .reject: "reject"
        case .hangup: "hangup"
        case .pause: "pause"
        }
    }

    /// Whether the action may run only before the call is answered (reject). The parser
    /// allows such an action only first in a response; the interpreter checks the call.
    public var isValidOnlyBeforeAnswer: Bool {
        if case .reject = self { return true }
        return false
    }
}

/// An action that may be nested as a prompt in getDigits or record.
public enum PromptAction: Sendable, Equatable {
    /// Speak text.
    case say(Say)
    /// Play audio.
    case play(Play)
    /// Wait in silence.
    case pause(Pause)
}

/// `say`: speak text (`<Say>` in XML, the text as content).
public struct Say: Sendable, Equatable {
    /// What to speak: 1 to 4096 Unicode scalars, not only white space.
    public var text: String
    /// A voice name (`man`, `woman`, `Polly.Joanna`); nil is the engine's default voice.
    public var voice: String?
    /// The language as a BCP 47 tag (`en-US`, `sw-KE`).
    public var language: String
    /// How many times to speak it, 1 to 1000; 0 repeats until the call ends (at most 1000).
    public var loop: Int
    /// Whether to play a beep after the text (Africa's Talking's `playBeep`).
    public var playBeep: Bool

    /// A say with the defaults: language `en-US`, loop 1, no beep.
    public init(text: String, voice: String? = nil, language: String = "en-US", loop: Int = 1, playBeep: Bool = false) {
        self.text = text
        self.voice = voice
        self.language = language
        self.loop = loop
        self.playBeep = playBeep
    }
}

/// `play`: play audio files, one after the other.
public struct Play: Sendable, Equatable {
    /// Absolute http(s) URLs of the audio, 1 to 10.
    public var urls: [String]
    /// How many times to play the list, 1 to 1000; 0 repeats until the call ends (at most 1000).
    public var loop: Int

    /// A play of these URLs, once.
    public init(urls: [String], loop: Int = 1) {
        self.urls = urls
        self.loop = loop
    }
}

/// `getDigits`: collect DTMF digits (TwiML's `<Gather>`).
public struct GetDigits: Sendable, Equatable {
    /// Digits to collect before finishing, 1 to 64; nil collects until `finishOnKey` or a
    /// timeout. XML's `maxDigits` (Africa's Talking also writes `numDigits`).
    public var numDigits: Int?
    /// Seconds to wait for the first digit after the prompt, 1 to 120.
    public var timeoutSeconds: Int
    /// Seconds to wait between digits, 1 to 60; nil uses `timeoutSeconds`.
    public var interDigitTimeoutSeconds: Int?
    /// The key that ends input (`#`), or empty for none. Not part of the digits sent.
    public var finishOnKey: String
    /// Where to send the digits; nil sends them to the number's voice_url.
    public var callbackURL: String?
    /// Whether to send an empty result when no digit comes; otherwise the flow continues
    /// with the next action (as Africa's Talking does).
    public var actionOnEmptyResult: Bool
    /// Played while waiting; the first digit stops it (barge-in).
    public var prompt: [PromptAction]

    /// A getDigits with the defaults: timeout 5 s, finish on `#`, continue when no digit.
    public init(
        numDigits: Int? = nil, timeoutSeconds: Int = 5, interDigitTimeoutSeconds: Int? = nil, finishOnKey: String = "#",
        callbackURL: String? = nil, actionOnEmptyResult: Bool = false, prompt: [PromptAction] = []
    ) {
        self.numDigits = numDigits
        self.timeoutSeconds = timeoutSeconds
        self.interDigitTimeoutSeconds = interDigitTimeoutSeconds
        self.finishOnKey = finishOnKey
        self.callbackURL = callbackURL
        self.actionOnEmptyResult = actionOnEmptyResult
        self.prompt = prompt
    }
}

/// Whom a dial rings.
public enum DialTarget: Sendable, Equatable {
    /// An E.164 number (`+254711000000`).
    case number(String)
    /// A SIP URI (`sip:agent@pbx.example.com`).
    case sip(String)

    /// The number or the URI, as written.
    public var address: String {
        switch self {
        case .number(let n): n
        case .sip(let u): u
        }
    }
}

/// `dial`: connect the caller to numbers or SIP URIs.
public struct Dial: Sendable, Equatable {
    /// Whom to ring, 1 to 10. XML: `phoneNumbers="a,b"`, or `<Number>`/`<Sip>` children.
    public var targets: [DialTarget]
    /// The E.164 number shown to the called party; nil is the called number.
    public var callerId: String?
    /// Seconds to ring before giving up, 5 to 600.
    public var timeoutSeconds: Int
    /// Longest the connected call may last, in seconds, 1 to 86400.
    public var maxDurationSeconds: Int
    /// Whether to record the connected call.
    public var record: Bool
    /// Whether to ring the targets one after the other; otherwise all at once, first answer wins.
    public var sequential: Bool
    /// Audio URL the caller hears while the targets ring; nil is a ringing tone.
    public var ringbackTone: String?
    /// DTMF to send once answered: `0-9 * #`, `w` waits 0.5 s, 1 to 32 characters.
    public var sendDigits: String?
    /// Where to send the dial's outcome; nil continues with the next action.
    public var callbackURL: String?

    /// A dial with the defaults: ring 30 s, 4 hours at most, all at once, no recording.
    public init(
        targets: [DialTarget], callerId: String? = nil, timeoutSeconds: Int = 30, maxDurationSeconds: Int = 14400,
        record: Bool = false, sequential: Bool = false, ringbackTone: String? = nil, sendDigits: String? = nil,
        callbackURL: String? = nil
    ) {
        self.targets = targets
        self.callerId = callerId
        self.timeoutSeconds = timeoutSeconds
        self.maxDurationSeconds = maxDurationSeconds
        self.record = record
        self.sequential = sequential
        self.ringbackTone = ringbackTone
        self.sendDigits = sendDigits
        self.callbackURL = callbackURL
    }
}

/// `conference`: join a named room.
public struct Conference: Sendable, Equatable {
    /// The room's name: 1 to 128 Unicode scalars, no control characters.
    public var name: String
    /// Whether the caller joins muted (hears, is not heard).
    public var muted: Bool
    /// Whether a beep sounds when someone joins or leaves.
    public var beep: Bool
    /// Whether the conference starts when this caller joins; otherwise the caller waits
    /// (hearing `waitURL`) until someone who starts it joins.
    public var startConferenceOnEnter: Bool
    /// Whether the conference ends for everyone when this caller leaves.
    public var endConferenceOnExit: Bool
    /// Most participants the room admits, 2 to 250.
    public var maxParticipants: Int
    /// Audio URL played while the caller waits alone; nil is silence.
    public var waitURL: String?
    /// Whether to record the room.
    public var record: Bool

    /// A conference with the defaults: not muted, beep, start on enter, 250 participants.
    public init(
        name: String, muted: Bool = false, beep: Bool = true, startConferenceOnEnter: Bool = true,
        endConferenceOnExit: Bool = false, maxParticipants: Int = 250, waitURL: String? = nil, record: Bool = false
    ) {
        self.name = name
        self.muted = muted
        self.beep = beep
        self.startConferenceOnEnter = startConferenceOnEnter
        self.endConferenceOnExit = endConferenceOnExit
        self.maxParticipants = maxParticipants
        self.waitURL = waitURL
        self.record = record
    }
}

/// The file a `record` writes.
public enum RecordingFormat: String, Sendable, Equatable, CaseIterable {
    /// WAV, 16-bit PCM at the leg's rate (`audio/wav`).
    case wav
    /// Ogg Opus (RFC 7845, `audio/ogg`).
    case opus

    /// The file name's extension.
    public var fileExtension: String { self == .wav ? "wav" : "opus" }
}

/// `record`: record the caller.
public struct Record: Sendable, Equatable {
    /// Longest recording, in seconds, 1 to 14400.
    public var maxLengthSeconds: Int
    /// Seconds of silence that end the recording, 1 to 3600; 0 never ends it on silence.
    public var timeoutSeconds: Int
    /// Keys that end the recording (any of `0-9 * #`, at most 12), or empty for none.
    public var finishOnKey: String
    /// Whether to beep before recording starts.
    public var playBeep: Bool
    /// Whether to cut the silence at the start and the end.
    public var trimSilence: Bool
    /// The file written: WAV (the default) or Ogg Opus.
    public var format: RecordingFormat
    /// Where to send the recording's id, duration and status; nil is the voice_url.
    public var callbackURL: String?
    /// Played before recording starts.
    public var prompt: [PromptAction]

    /// A record with the defaults: one hour at most, 5 s of silence ends it, any key ends it, beep.
    public init(
        maxLengthSeconds: Int = 3600, timeoutSeconds: Int = 5, finishOnKey: String = "1234567890*#",
        playBeep: Bool = true,
        trimSilence: Bool = false, format: RecordingFormat = .wav, callbackURL: String? = nil,
        prompt: [PromptAction] = []
    ) {
        self.format = format
        self.maxLengthSeconds = maxLengthSeconds
        self.timeoutSeconds = timeoutSeconds
        self.finishOnKey = finishOnKey
        self.playBeep = playBeep
        self.trimSilence = trimSilence
        self.callbackURL = callbackURL
        self.prompt = prompt
    }
}

/// `redirect`: POST the call state to a URL and run its reply instead of the rest.
public struct Redirect: Sendable, Equatable {
    /// Absolute http(s) URL.
    public var url: String

    /// A redirect to `url`.
    public init(url: String) {
        self.url = url
    }
}

/// `reject`: refuse the call without answering it.
public struct Reject: Sendable, Equatable {
    /// What the caller is told.
    public enum Reason: String, Sendable, Equatable, CaseIterable {
        /// A plain refusal (SIP 603 Decline).
        case rejected
        /// The line is busy (SIP 486 Busy Here).
        case busy
    }

    /// Why the call is refused; `rejected` by default.
    public var reason: Reason

    /// A reject for `reason`.
    public init(reason: Reason = .rejected) {
        self.reason = reason
    }
}

/// `pause`: wait in silence.
public struct Pause: Sendable, Equatable {
    /// Seconds to wait, 1 to 600.
    public var lengthSeconds: Int

    /// A pause of `lengthSeconds` (1 by default).
    public init(lengthSeconds: Int = 1) {
        self.lengthSeconds = lengthSeconds
    }
}
