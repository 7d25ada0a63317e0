// The call-flow interpreter: runs a voice-actions document on a leg, one action at a
// time, as plain async code awaiting the leg's events; asks the customer's app for the
// next document where a verb says so (getDigits, record, redirect).

import Foundation
import SautiMedia
import SautiVoice
import Synchronization

/// What the interpreter needs from the signalling side (the registrar, through the
/// daemon's signalling webhook): the engine never speaks SIP itself.
public protocol CallSignalling: Sendable {
    /// Answer the call (200 OK to the INVITE). Called once, before the first action that
    /// needs the call answered.
    func answer() async
    /// Refuse the call unanswered (486 for busy, 603 for rejected).
    func reject(reason: Reject.Reason) async
    /// End the call (BYE). The leg is closed by whoever implements it.
    func hangup() async
}

/// Signalling with no SIP side: answering does nothing, rejecting and hanging up close
/// the leg. For `sauti` and the tests, where the far end is a bare RTP peer.
public struct LegOnlySignalling: CallSignalling {
    public let leg: MediaLeg
    public init(leg: MediaLeg) { self.leg = leg }
    public func answer() async {}
    public func reject(reason: Reject.Reason) async { leg.close() }
    public func hangup() async { leg.close() }
}

/// Who the call is and where its flow comes from.
public struct CallFlowContext: Sendable {
    /// The call's id (the call record's).
    public var callID: String
    /// `inbound` or `outbound`.
    public var direction: String
    /// The platform's number on the call, and the other party.
    public var localNumber: String
    public var remoteNumber: String
    /// The number's voice_url: the first document, and callbacks without their own URL.
    public var voiceURL: String
    /// The number's voice_signing_secret: every request is signed with it.
    public var signingSecret: String
    /// Whether the call is already answered (an outbound call the far end picked up).
    public var answered: Bool

    public init(
        callID: String, direction: String = "inbound", localNumber: String, remoteNumber: String, voiceURL: String,
        signingSecret: String, answered: Bool = false
    ) {
        self.callID = callID
        self.direction = direction
        self.localNumber = localNumber
        self.remoteNumber = remoteNumber
        self.voiceURL = voiceURL
        self.signingSecret = signingSecret
        self.answered = answered
    }
}

/// How the interpreter behaves where the document does not say.
public struct CallFlowConfiguration: Sendable {
    /// Where recordings go: `<callID>-<recording id>.wav`.
    public var recordingsDirectory: String
    /// Said when a callback fails (then the call is hung up); nil hangs up at once.
    public var fallbackText: String? = "We are sorry, an application error occurred. Goodbye."
    public var fallbackLanguage = "en-US"
    /// Seconds a callback may take.
    public var callbackTimeoutSeconds = 10.0
    /// Documents one call may fetch (the first, callbacks, redirects): a bound on
    /// redirect loops.
    public var maximumDocuments = 100
    /// The record verb's beep, in ms.
    public var beepMilliseconds = 400
    /// The HTTP client for callbacks, shared by every call of an engine (one URLSession);
    /// nil makes one per flow.
    public var client: CallbackClient?

    public init(recordingsDirectory: String) { self.recordingsDirectory = recordingsDirectory }
}

/// Something that happened in a call's flow, for the call's event timeline.
public struct CallFlowEvent: Sendable, Equatable, CustomStringConvertible {
    /// `call.answered`, `action.started`, `play.failed`, `digits.collected`,
    /// `recording.finished`, `callback.sent`, `callback.failed`, `action.unsupported`,
    /// `action.invalid`, `call.hangup`, `call.rejected`, `call.remote-hangup`, …
    public var name: String
    public var occurredAt: Date
    public var detail: [String: String]

    public init(name: String, occurredAt: Date = Date(), detail: [String: String] = [:]) {
        self.name = name
        self.occurredAt = occurredAt
        self.detail = detail
    }

    public var description: String {
        name + (detail.isEmpty ? "" : " " + detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}

/// How a flow ended. (An `Error` only so that it can be a `Result`'s failure inside the
/// interpreter.)
public enum CallFlowEnd: Error, Sendable, Equatable {
    /// A hangup action, or the last document ran out of actions.
    case hungUp
    /// A reject action, before answer.
    case rejected(Reject.Reason)
    /// The caller went away (the leg closed, or its media stopped).
    case remoteHangup
    /// A callback failed; the fallback ran. The failure's reason token.
    case failed(String)
}

/// Hands a running flow a new document from outside (the API's "replace what runs
/// now"): the current prompt or recording stops, a wait ends, and the new document runs
/// from its first action.
public final class CallFlowControl: Sendable {
    private let pending = Mutex<VoiceDocument?>(nil)
    private let wake = Mutex<(@Sendable () -> Void)?>(nil)

    public init() {}

    /// Replaces what the flow runs now with `document`.
    public func replace(with document: VoiceDocument) {
        pending.withLock { $0 = document }
        wake.withLock { $0 }?()
    }

    var hasReplacement: Bool { pending.withLock { $0 != nil } }
    func take() -> VoiceDocument? { pending.withLock { d in defer { d = nil }; return d } }
    func onReplace(_ body: @escaping @Sendable () -> Void) { wake.withLock { $0 = body } }
}

/// Runs a call's flow. Create one per call and `await run()` in that call's task: an
/// error in the flow ends that call alone.
public struct CallFlow: Sendable {
    public let leg: MediaLeg
    public let context: CallFlowContext
    public let configuration: CallFlowConfiguration
    public let signalling: any CallSignalling
    public let control: CallFlowControl?
    public let onEvent: @Sendable (CallFlowEvent) -> Void
    /// Named rooms for the `conference` verb; nil: the verb is reported unsupported.
    public var conferencing: (any CallConferencing)?

    public init(
        leg: MediaLeg, context: CallFlowContext, configuration: CallFlowConfiguration,
        signalling: any CallSignalling, control: CallFlowControl? = nil,
        onEvent: @escaping @Sendable (CallFlowEvent) -> Void
    ) {
        self.leg = leg
        self.context = context
        self.configuration = configuration
        self.signalling = signalling
        self.control = control
        self.onEvent = onEvent
    }

    /// Fetches the voice_url's document (or starts with `initial`) and runs it, and whatever
    /// the callbacks return, until the call ends. Consumes the leg's events: nothing else
    /// may read them.
    public func run(initial: VoiceDocument? = nil) async -> CallFlowEnd {
        let runner = FlowRunner(self)
        return await runner.run(initial: initial)
    }
}

/// One call's interpreter state. Used by one task only.
final class FlowRunner {
    let flow: CallFlow
    let mailbox: EventMailbox
    let client: CallbackClient
    var answered: Bool
    var closed = false
    var documents = 0
    var sequence = 0
    var recordings = 0

    init(_ flow: CallFlow) {
        self.flow = flow
        let mailbox = EventMailbox(flow.leg.events)
        self.mailbox = mailbox
        client = flow.configuration.client ?? CallbackClient(timeoutSeconds: flow.configuration.callbackTimeoutSeconds)
        answered = flow.context.answered
        flow.control?.onReplace { [leg = flow.leg] in
            // Whatever the flow waits on ends now: a prompt, a recording, a digit or a pause.
            leg.stopPlayback()
            leg.stopRecording()
            mailbox.interrupt()
        }
    }

    /// Whether a new document is waiting to replace the current one.
    var replaced: Bool { flow.control?.hasReplacement ?? false }

    func emit(_ name: String, _ detail: [String: String] = [:]) { flow.onEvent(CallFlowEvent(name: name, detail: detail)) }

    /// What one action did to the flow.
    enum Next {
        /// Go on with the next action.
        case proceed
        /// Replace the rest with this document.
        case replace(VoiceDocument)
        /// The flow is over.
        case end(CallFlowEnd)
    }

    func run(initial: VoiceDocument?) async -> CallFlowEnd {
        var document: VoiceDocument
        if let initial {
            document = initial
        } else {
            switch await request(flow.context.voiceURL, event: "call.incoming", extra: [:]) {
            case .success(let d): document = d
            case .failure(let end): return await finish(end)
            }
        }
        var index = 0
        while true {
            if closed { return await finish(.remoteHangup) }
            if let d = flow.control?.take() {
                emit("actions.replaced", ["actions": String(d.actions.count)])
                document = d
                index = 0
            }
            guard index < document.actions.count else {
                emit("document.ended")
                return await finish(.hungUp)
            }
            let action = document.actions[index]
            index += 1
            emit("action.started", ["verb": action.verb, "index": String(index - 1)])
            switch await perform(action) {
            case .proceed: continue
            case .replace(let d):
                document = d
                index = 0
            case .end(let end): return await finish(end)
            }
        }
    }

    /// Hangs up unless the call is already over, and reports the end.
    func finish(_ end: CallFlowEnd) async -> CallFlowEnd {
        switch end {
        case .hungUp:
            emit("call.hangup")
            await flow.signalling.hangup()
        case .rejected(let reason):
            emit("call.rejected", ["reason": reason.rawValue])
        case .remoteHangup:
            emit("call.remote-hangup")
            await flow.signalling.hangup()
        case .failed:
            await flow.signalling.hangup()
        }
        return end
    }

    // MARK: Actions

    func answerIfNeeded() async {
        guard !answered else { return }
        answered = true
        await flow.signalling.answer()
        emit("call.answered")
    }

    func perform(_ action: VoiceAction) async -> Next {
        if case .reject(let r) = action {
            guard !answered else {
                emit("action.invalid", ["verb": "reject", "why": "the call is already answered"])
                return .end(.hungUp)
            }
            await flow.signalling.reject(reason: r.reason)
            return .end(.rejected(r.reason))
        }
        if case .hangup = action { return .end(.hungUp) }
        await answerIfNeeded()
        switch action {
        case .say(let s):
            return await prompt(.say(s), bargeIn: false).isClosed ? .end(.remoteHangup) : .proceed
        case .play(let p):
            return await prompt(.play(p), bargeIn: false).isClosed ? .end(.remoteHangup) : .proceed
        case .pause(let p):
            return await prompt(.pause(p), bargeIn: false).isClosed ? .end(.remoteHangup) : .proceed
        case .getDigits(let g):
            return await getDigits(g)
        case .record(let r):
            return await record(r)
        case .redirect(let r):
            switch await request(r.url, event: "redirect", extra: [:]) {
            case .success(let d): return .replace(d)
            case .failure(let end): return .end(end)
            }
        case .conference(let c):
            return await conference(c)
        case .dial(let d):
            return await dial(d)
        case .reject, .hangup:
            return .proceed  // handled above
        }
    }

    /// How a prompt ended.
    enum PromptEnd {
        case finished
        case bargedIn(Character)
        case closed
        var isClosed: Bool { if case .closed = self { return true } else { return false } }
    }

    /// Plays one say, play or pause; with `bargeIn`, the first digit stops it.
    func prompt(_ p: PromptAction, bargeIn: Bool) async -> PromptEnd {
        switch p {
        case .say(let s):
            let playback = flow.leg.say(s.text, language: s.language, loop: s.loop)
            return await awaitPlayback(playback.path, bargeIn: bargeIn)
        case .play(let play):
            let rounds = play.loop == 0 ? Int.max : max(1, play.loop)
            for _ in 0..<rounds {
                for url in play.urls {
                    let playback = flow.leg.play(url: url)
                    let end = await awaitPlayback(playback.path, bargeIn: bargeIn)
                    if case .finished = end { continue }
                    return end
                }
            }
            return .finished
        case .pause(let pause):
            let deadline = ContinuousClock.now + .seconds(pause.lengthSeconds)
            while true {
                guard let e = await mailbox.next(before: deadline) else { return closed ? .closed : .finished }
                if replaced { return .finished }
                switch e {
                case .closed, .mediaTimeout:
                    closed = true
                    return .closed
                case .digit(let d, _) where bargeIn: return .bargedIn(d)
                default: continue
                }
            }
        }
    }

    /// Waits for the playback at `path` to end (or fail: reported, and the flow goes on).
    func awaitPlayback(_ path: String, bargeIn: Bool) async -> PromptEnd {
        while let e = await mailbox.next(before: nil) {
            if replaced { return .finished }
            switch e {
            case .playbackFinished(let p, _, _) where p == path:
                return .finished
            case .playbackFailed(let p, let reason, let message) where p == path:
                emit("play.failed", ["url": p, "reason": reason.rawValue, "message": message])
                return .finished
            case .digit(let d, _) where bargeIn:
                flow.leg.stopPlayback()
                // Its `.playbackFinished(stopped: true)` is read and dropped by later waits.
                return .bargedIn(d)
            case .closed, .mediaTimeout:
                closed = true
                return .closed
            default:
                continue
            }
        }
        closed = true
        return .closed
    }

    func getDigits(_ g: GetDigits) async -> Next {
        var digits = ""
        var end: String?
        let finishKeys = Set(g.finishOnKey)
        func take(_ d: Character) {
            if finishKeys.contains(d) {
                end = "finish-key"
                return
            }
            digits.append(d)
            if let n = g.numDigits, digits.count >= n { end = "max-digits" }
        }
        for p in g.prompt {
            if replaced { return .proceed }
            switch await prompt(p, bargeIn: true) {
            case .finished: continue
            case .bargedIn(let d):
                emit("prompt.barged-in", ["digit": String(d)])
                take(d)
            case .closed: return .end(.remoteHangup)
            }
            break
        }
        let inter = g.interDigitTimeoutSeconds ?? g.timeoutSeconds
        var deadline = ContinuousClock.now + .seconds(digits.isEmpty ? g.timeoutSeconds : inter)
        while end == nil {
            guard let e = await mailbox.next(before: deadline) else {
                if closed { return .end(.remoteHangup) }
                if replaced { return .proceed }
                end = "timeout"
                break
            }
            switch e {
            case .digit(let d, _):
                take(d)
                deadline = ContinuousClock.now + .seconds(inter)
            case .closed, .mediaTimeout:
                closed = true
                return .end(.remoteHangup)
            default:
                continue
            }
        }
        emit("digits.collected", ["digits": digits, "end": end ?? "timeout"])
        if digits.isEmpty && end == "timeout" && !g.actionOnEmptyResult { return .proceed }
        switch await request(
            g.callbackURL ?? flow.context.voiceURL, event: "digits",
            extra: ["digits": digits, "digits_end": end ?? "timeout"])
        {
        // A reply with actions replaces the rest; an empty one lets the rest run.
        case .success(let d): return d.actions.isEmpty ? .proceed : .replace(d)
        case .failure(let e): return .end(e)
        }
    }

    func record(_ r: Record) async -> Next {
        for p in r.prompt {
            if await prompt(p, bargeIn: false).isClosed { return .end(.remoteHangup) }
        }
        recordings += 1
        let id = CallbackSignature.randomHex(12)
        let path = "\(flow.configuration.recordingsDirectory)/\(flow.context.callID)-\(id).\(r.format.fileExtension)"
        emit("recording.started", ["id": id, "path": path])
        var spec = RecordingSpec(
            path: path, maxLengthMilliseconds: r.maxLengthSeconds * 1000,
            silenceTimeoutMilliseconds: r.timeoutSeconds * 1000, finishOnKeys: Set(r.finishOnKey),
            beepMilliseconds: r.playBeep ? flow.configuration.beepMilliseconds : 0, trimSilence: r.trimSilence)
        spec.oggOpus = r.format == .opus
        flow.leg.record(spec)
        var outcome: RecordingOutcome?
        // Replaced mid-recording: the recording was stopped; its outcome comes within moments.
        var stopDeadline: ContinuousClock.Instant?
        while outcome == nil {
            if replaced && stopDeadline == nil { stopDeadline = .now + .seconds(5) }
            guard let e = await mailbox.next(before: stopDeadline) else {
                if closed || mailbox.isEnded { break }
                if let d = stopDeadline, d <= .now { break }
                continue  // woken by a replacement: wait for the outcome
            }
            switch e {
            case .recordingFinished(let o) where o.path == path: outcome = o
            case .closed, .mediaTimeout: closed = true
            default: continue
            }
        }
        guard let outcome else {
            emit("recording.lost", ["id": id])
            return closed ? .end(.remoteHangup) : .proceed
        }
        let (status, reason): (String, String)
        switch outcome.reason {
        case .maxLength: (status, reason) = ("completed", "max-length")
        case .silence: (status, reason) = ("completed", "silence")
        case .finishKey(let k): (status, reason) = ("completed", "key:\(k)")
        case .hangup: (status, reason) = ("completed", "hangup")
        case .stopped: (status, reason) = ("completed", "stopped")
        case .error(let m): (status, reason) = ("failed", "error: \(m)")
        }
        let duration = String(format: "%.3f", outcome.durationSeconds)
        emit(
            "recording.finished",
            ["id": id, "path": path, "duration_seconds": duration, "status": status, "reason": reason])
        // Replaced while recording: the recording is kept (its event above), the new
        // document goes on without a callback.
        if replaced { return .proceed }
        let result = await request(
            r.callbackURL ?? flow.context.voiceURL, event: "recording",
            extra: [
                "recording": [
                    "id": id, "duration_seconds": outcome.durationSeconds, "status": status, "reason": reason,
                    "bytes": outcome.bytes,
                ] as [String: Any]
            ])
        if closed { return .end(.remoteHangup) }
        switch result {
        case .success(let d): return d.actions.isEmpty ? .proceed : .replace(d)
        case .failure(let e): return .end(e)
        }
    }

    // MARK: Callbacks

    /// POSTs the call state (and `extra`) to `url`; on failure runs the fallback and gives
    /// the end to report.
    func request(_ url: String, event: String, extra: [String: Any]) async -> Result<VoiceDocument, CallFlowEnd> {
        documents += 1
        guard documents <= flow.configuration.maximumDocuments else {
            emit("callback.failed", ["url": url, "reason": "too-many-documents"])
            return .failure(await fallback("too-many-documents"))
        }
        sequence += 1
        var body: [String: Any] = [
            "call_id": flow.context.callID, "direction": flow.context.direction,
            "local_e164": flow.context.localNumber, "remote_e164": flow.context.remoteNumber,
            "status": answered ? "in-progress" : "ringing", "event": event, "sequence": sequence,
        ]
        for (k, v) in extra { body[k] = v }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        let result = await client.post(url, body: data, secret: flow.context.signingSecret)
        switch result {
        case .success(let d):
            emit("callback.sent", ["url": url, "event": event, "actions": String(d.actions.count)])
            return .success(d)
        case .failure(let f):
            emit("callback.failed", ["url": url, "event": event, "reason": f.reason, "message": f.description])
            return .failure(await fallback(f.reason))
        }
    }

    /// The configured fallback: say the apology (answering if need be), then the call ends.
    func fallback(_ reason: String) async -> CallFlowEnd {
        if let text = flow.configuration.fallbackText, !closed {
            await answerIfNeeded()
            let playback = flow.leg.say(text, language: flow.configuration.fallbackLanguage)
            _ = await awaitPlayback(playback.path, bargeIn: false)
            emit("fallback.said", ["reason": reason])
        }
        return .failed(reason)
    }
}
