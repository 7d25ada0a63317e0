// The control plane: calls as records and legs, the voice_url loop on each, the
// registrar's signals, the signalling webhook, events_url delivery, and recordings.

import Foundation
import SautiAudio
import SautiFlow
import SautiMedia
import SautiVoice
import SautiWire
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Settings of `sautid` (flags, environment and config file fill it: see `DaemonOptions`).
public struct ControlConfiguration: Sendable {
    /// Where the store, the recordings and the generated secrets live.
    public var dataDirectory = "sauti-data"
    public var apiHost = "127.0.0.1"
    public var apiPort: UInt16 = 8080
    /// The address legs bind to and put in SDP.
    public var mediaAddress = "127.0.0.1"
    public var rtpFirstPort: UInt16 = 20_000
    public var rtpLastPort: UInt16 = 29_999
    public var mediaWorkers: Int?
    /// The registrar's bearer token; nil: generated once and kept in the data folder.
    public var registrarToken: String?
    /// Customers' bearer tokens; empty: one generated and kept in the data folder.
    public var customerTokens: [String] = []
    /// Where the engine asks the registrar to answer, reject or hang up calls.
    public var signallingWebhookURL: String?
    /// Seconds a customer's app (voice_url, callbacks) may take to reply.
    public var callbackTimeoutSeconds = 10.0
    /// Days a finished recording is kept before it is pruned (0: forever).
    public var recordingRetentionDays = 30
    /// Seconds a presigned recording URL stays valid.
    public var presignedURLSeconds = 900
    /// Attempts to deliver one events_url event before giving up on it.
    public var eventDeliveryAttempts = 6
    /// How requests to the signalling webhook are retried (3 attempts, 250 ms then 500 ms
    /// apart, 2 s each at most).
    public var signallingRetry = SignallingRetry()
    /// Talkers mixed at once in a conference room (the K loudest; everyone is still heard
    /// for levels, talk events and digits).
    public var conferenceTalkers = 3
    /// The codecs legs negotiate, most preferred first: a peer that offers Opus gets Opus
    /// (wideband, in-band FEC), one that offers only G.711 gets G.711.
    public var codecs: [AudioCodecSpec] = [.opus, .pcmu, .pcma]
    /// How Opus legs run: PCM rate, bitrate, complexity (SDP then narrows what the far end
    /// asks for: bitrate cap, FEC, DTX, ptime, band).
    public var opus = OpusLegSettings()
    /// libspeexdsp's resampling quality, 0 ... 10 (`MediaEngineConfiguration.resamplerQuality`).
    public var resamplerQuality = Resampler.defaultQuality

    public init() {}

    public var storePath: String { dataDirectory + "/sauti.db" }
    public var recordingsDirectory: String { dataDirectory + "/recordings" }
}

/// An API-level failure: the HTTP status and the error body's code and message.
public struct ControlError: Error, Sendable, Equatable {
    public var status: Int
    public var code: String
    public var message: String
    public var details: [String]

    public init(_ status: Int, _ code: String, _ message: String, details: [String] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    static func store(_ e: StoreError) -> ControlError {
        switch e {
        case .notFound(let m): ControlError(404, "not_found", m)
        case .conflict(let m): ControlError(409, "conflict", m)
        case .invalidTransition: ControlError(409, "invalid_transition", e.description)
        case .database(let m): ControlError(500, "store_error", m)
        }
    }
}

/// A call with a leg in this process.
final class LiveCall: Sendable {
    let id: String
    let leg: MediaLeg
    let numberID: String?
    /// The SDP session (offer/answer state) of the leg.
    let sdp: Mutex<SDPSession>
    /// The current action, for the live state.
    let currentAction = Mutex<String?>(nil)
    /// The task running the flow.
    let flowTask = Mutex<Task<Void, Never>?>(nil)
    /// Hands the running flow a new document (`POST /v1/calls/{id}/actions`).
    let flowControl = CallFlowControl()
    /// What the leg was last set to carry (codec and PCM rate), for the live state; nil
    /// before SDP agreed on anything.
    let media: Mutex<LegConfiguration?>

    init(id: String, leg: MediaLeg, numberID: String?, sdp: SDPSession, media: LegConfiguration? = nil) {
        self.id = id
        self.leg = leg
        self.numberID = numberID
        self.sdp = Mutex(sdp)
        self.media = Mutex(media)
    }

    /// Sets the leg to `configuration` and keeps it for the live state.
    func update(_ configuration: LegConfiguration) {
        media.withLock { $0 = configuration }
        leg.update(configuration)
    }
}

/// The engine's control side: owns the media engine and the store.
public final class ControlPlane: Sendable {
    public let configuration: ControlConfiguration
    public let store: SQLiteStore
    public let media: MediaEngine
    /// The key that signs presigned recording URLs (kept in the data folder, so URLs
    /// survive a restart).
    let presignKey: Data
    public let registrarToken: String
    public let customerTokens: [String]
    let live = Mutex<[String: LiveCall]>([:])
    let events: EventDelivery
    /// The signalling webhook's client (its timeout is one attempt's,
    /// `signallingRetry.attemptTimeoutSeconds`).
    let webhook: CallbackPoster
    /// One signalling request at a time per call (ControlPlane+Signalling.swift).
    let signallingTurns = SignallingTurns()
    /// The voice_url client every call's flow shares.
    let flowClient: CallbackClient
    /// Named conference rooms.
    let conferences: ConferenceDirectory
    /// The calls placed by `dial` that still ring or talk (ControlPlane+Dial.swift).
    let dials = DialRegistry()

    /// Opens the data folder (creating it), the store and the media engine; recovers what a
    /// previous process left (live calls become failed with `engine-restart`, their
    /// recordings are kept up to the last second written).
    public init(configuration: ControlConfiguration) throws {
        self.configuration = configuration
        let fm = FileManager.default
        try fm.createDirectory(atPath: configuration.recordingsDirectory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: configuration.storePath)
        presignKey = Data(try Self.secret(named: "presign.key", in: configuration.dataDirectory).utf8)
        registrarToken = try configuration.registrarToken
            ?? Self.secret(named: "registrar.token", in: configuration.dataDirectory)
        customerTokens =
            configuration.customerTokens.isEmpty
            ? [try Self.secret(named: "customer.token", in: configuration.dataDirectory)] : configuration.customerTokens
        var m = MediaEngineConfiguration(workers: configuration.mediaWorkers)
        m.address = IPAddress(configuration.mediaAddress) ?? .v4(0x7F00_0001)
        m.resamplerQuality = configuration.resamplerQuality
        m.firstPort = configuration.rtpFirstPort
        m.lastPort = configuration.rtpLastPort
        m.playURL.cacheDirectory = configuration.dataDirectory + "/play-cache"
        // A play URL may not point at the engine's own API.
        if let api = AddressRule("\(configuration.apiHost):\(configuration.apiPort)") {
            m.playURL.deniedAddresses.append(api)
        }
        if configuration.apiHost == "0.0.0.0", let any = AddressRule("*:\(configuration.apiPort)") {
            m.playURL.deniedAddresses.append(any)
        }
        media = try MediaEngine(configuration: m)
        flowClient = CallbackClient(timeoutSeconds: configuration.callbackTimeoutSeconds)
        webhook = CallbackPoster(timeoutSeconds: configuration.signallingRetry.attemptTimeoutSeconds)
        events = EventDelivery(
            poster: CallbackPoster(timeoutSeconds: configuration.callbackTimeoutSeconds),
            attempts: configuration.eventDeliveryAttempts)
        conferences = ConferenceDirectory(talkers: configuration.conferenceTalkers)
        conferences.attach(self)
        try recover()
    }

    /// Reads the secret `name` from the data folder, creating it (random, 0600) the first time.
    static func secret(named name: String, in directory: String) throws -> String {
        let path = directory + "/" + name
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty { return t }
        }
        let value = CallbackSignature.randomHex(24)
        guard FileManager.default.createFile(atPath: path, contents: Data((value + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw ControlError(500, "data_dir", "cannot write \(path)")
        }
        return value
    }

    /// After a crash: calls that were live are failed with `engine-restart`; their pending
    /// recordings are closed as they are on disk (the header is valid to the last second).
    func recover() throws {
        for r in try store.pendingRecordings() {
            let path = configuration.recordingsDirectory + "/" + r.file
            // An Ogg Opus recording grows as a WAV beside it and is converted at its end: a
            // process that died first left that WAV, converted now (kept if that fails).
            var reason = "engine-restart"
            let part = path + ".part.wav"
            if path.hasSuffix(".opus") && !FileManager.default.fileExists(atPath: path)
                && FileManager.default.fileExists(atPath: part)
            {
                do throws(AudioFileError) {
                    try OggOpusFile.convert(wav: part, to: path)
                    unlink(part)
                } catch {
                    reason += "; converting to Ogg Opus: \(error.reason) (the audio is kept in \(r.file).part.wav)"
                }
            }
            let (duration, bytes) = Self.recordingFacts(path)
            try store.finishRecording(
                id: r.id, status: bytes > 0 ? "ready" : "failed", durationSeconds: duration, bytes: bytes,
                reason: reason)
        }
        for c in try store.liveCalls() {
            try store.transition(callID: c.id, to: "failed", cause: "engine-restart")
        }
    }

    /// A recording's duration (from its header: WAV or Ogg Opus) and size; (0, 0) when it
    /// is not there.
    static func recordingFacts(_ path: String) -> (Double, Int) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attributes[.size] as? Int
        else { return (0, 0) }
        guard let d = try? AudioFileDecoder(path: path) else { return (0, size) }
        return (Double(d.format.frames ?? 0) / Double(max(1, d.format.sampleRate)), size)
    }

    /// Waits, up to `seconds`, until every queued events_url event is delivered or given up
    /// (the `completed` of calls just ended among them).
    public func drainEvents(seconds: Double = 3) async {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var idleChecks = 0
        while ContinuousClock.now < deadline && idleChecks < 2 {
            idleChecks = events.isIdle ? idleChecks + 1 : 0
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Closes every live call (their recordings finish) and stops the media engine.
    public func shutdown() async {
        let calls = live.withLock { Array($0.values) }
        await conferences.closeAll()
        for c in calls { c.leg.close() }
        for c in calls {
            let task = c.flowTask.withLock { $0 }
            await task?.value
        }
        media.shutdown()
    }

    // MARK: Calls from the registrar

    /// `POST /v1/calls`: an inbound call with the caller's SDP offer (answered here, and the
    /// number's flow started), or an outbound call (an SDP offer returned; the answer comes
    /// with the `answered` signal).
    public func openCall(direction: String, localE164: String, remoteE164: String, pbxCallID: String?, sdpOffer: String?)
        throws(ControlError) -> (call: CallRecord, sdp: String)
    {
        guard direction == "inbound" || direction == "outbound" else {
            throw ControlError(422, "invalid_direction", "direction must be inbound or outbound", details: ["/direction"])
        }
        let number: NumberRecord?
        do {
            number = try store.number(e164: localE164)
        } catch {
            throw .store(error)
        }
        if direction == "inbound" {
            guard let number else {
                throw ControlError(404, "unknown_number", "\(localE164) is not a number served by this engine")
            }
            guard number.voiceURL != nil else {
                throw ControlError(409, "no_voice_url", "\(localE164) has no voice_url: set its routing first")
            }
            guard let sdpOffer, !sdpOffer.isEmpty else {
                throw ControlError(422, "missing_sdp", "an inbound call needs the caller's SDP offer", details: ["/sdp"])
            }
            var (leg, session) = try newLeg()
            let answer: SDPAnswer
            do {
                answer = try session.answer(toOffer: sdpOffer)
            } catch {
                leg.close()
                throw ControlError(422, "sdp_rejected", "\(error)", details: ["/sdp"])
            }
            guard let legConfiguration = legConfiguration(answer.media) else {
                leg.close()
                throw ControlError(422, "sdp_rejected", "no audio codec in common", details: ["/sdp"])
            }
            leg.update(legConfiguration)
            let call: CallRecord
            do {
                call = try store.createCall(
                    numberID: number.id, direction: direction, localE164: localE164, remoteE164: remoteE164,
                    pbxCallID: pbxCallID)
                _ = try store.transition(callID: call.id, to: "ringing")
            } catch {
                leg.close()
                throw .store(error)
            }
            let liveCall = LiveCall(id: call.id, leg: leg, numberID: number.id, sdp: session, media: legConfiguration)
            live.withLock { $0[call.id] = liveCall }
            deliverEvent(call.id, numberID: number.id, name: "started")
            deliverEvent(call.id, numberID: number.id, name: "ringing")
            startFlow(liveCall, number: number)
            let current = (try? store.call(id: call.id)) ?? call
            return (current, answer.sdp)
        }
        // Outbound: a leg and an offer; the flow starts when the registrar says answered.
        var (leg, session) = try newLeg()
        let offer = session.offer()
        let call: CallRecord
        do {
            call = try store.createCall(
                numberID: number?.id, direction: direction, localE164: localE164, remoteE164: remoteE164,
                pbxCallID: pbxCallID)
        } catch {
            leg.close()
            throw .store(error)
        }
        live.withLock { $0[call.id] = LiveCall(id: call.id, leg: leg, numberID: number?.id, sdp: session) }
        deliverEvent(call.id, numberID: number?.id, name: "started")
        return (call, offer)
    }

    /// A leg on the media plane and the SDP session that describes it. `preferring`: a
    /// codec to put first in offers (a dialed call offers its caller's codec first, so a
    /// far end that has it too answers with it and the call is relayed, not transcoded).
    func newLeg(preferring: AudioCodecSpec? = nil) throws(ControlError) -> (MediaLeg, SDPSession) {
        let leg: MediaLeg
        do {
            leg = try media.openLeg(LegConfiguration(codec: .pcmu))
        } catch {
            throw ControlError(503, "no_media", "\(error)")
        }
        var codecs = configuration.codecs
        if let first = preferring, let i = codecs.firstIndex(where: { $0.encoding.lowercased() == first.encoding.lowercased() }) {
            codecs.insert(codecs.remove(at: i), at: 0)
        }
        let session = SDPSession(
            config: SDPLocalConfig(
                address: IPAddress(configuration.mediaAddress) ?? .v4(0x7F00_0001), codecPreference: codecs),
            localPort: leg.local.port, sessionID: UInt64.random(in: 1...UInt64(Int64.max)))
        return (leg, session)
    }

    /// `POST /v1/calls/{id}/signal`: what the registrar reports.
    public func signal(callID: String, kind: String, cause: String?, sdp: String?) throws(ControlError) -> CallRecord {
        let call: CallRecord
        do {
            call = try store.call(id: callID)
        } catch {
            throw .store(error)
        }
        let liveCall = live.withLock { $0[callID] }
        try checkChildSignal(call, kind: kind, sdp: sdp)
        // A repeated signal (ringing while ringing, answered once the engine has answered an
        // inbound call) changes nothing and is not an error.
        if (kind == "ringing" && call.status == "ringing") || (kind == "answered" && call.status == "in-progress") {
            return call
        }
        switch kind {
        case "ringing":
            try move(callID, to: "ringing", cause: nil)
            deliverEvent(callID, numberID: call.numberID, name: "ringing")
        case "answered":
            if let liveCall, let sdp {
                let narrowest = dialingCallRate(call)
                // Applied to a copy first: an answer the engine cannot use changes nothing.
                let applied = liveCall.sdp.withLock { s -> Result<LegConfiguration?, ControlError> in
                    var copy = s
                    do {
                        let update = try copy.applyAnswer(sdp)
                        var c = legConfiguration(update.media)
                        if c == nil && call.parentCallID != nil {
                            return .failure(ControlError(422, "sdp_rejected", "no audio codec the engine can use", details: ["/sdp"]))
                        }
                        if let r = narrowest, c?.codec == .opus, r < c?.sampleRate ?? 0, OpusRate.supported.contains(r) {
                            c?.opus.sampleRate = r
                        }
                        s = copy
                        return .success(c)
                    } catch {
                        return .failure(ControlError(422, "sdp_rejected", "\(error)", details: ["/sdp"]))
                    }
                }
                switch applied {
                case .success(let c): if let c { liveCall.update(c) }
                case .failure(let e): throw e
                }
            }
            try move(callID, to: "in-progress", cause: nil)
            deliverEvent(callID, numberID: call.numberID, name: "answered")
            if let liveCall, call.direction == "outbound", call.parentCallID == nil, let numberID = call.numberID,
                let number = try? store.number(id: numberID), number.voiceURL != nil
            {
                startFlow(liveCall, number: number, answered: true)
            }
        case "busy", "no-answer", "canceled", "failed":
            try move(callID, to: kind, cause: cause)
            end(callID, numberID: call.numberID)
        case "hangup":
            let status = call.status == "in-progress" ? "completed" : "canceled"
            try move(callID, to: status, cause: cause ?? "remote-hangup")
            end(callID, numberID: call.numberID)
        default:
            throw ControlError(
                422, "invalid_signal",
                "signal must be ringing, answered, busy, no-answer, canceled, failed or hangup, not \(kind)",
                details: ["/signal"])
        }
        reportToDial(callID)
        do {
            return try store.call(id: callID)
        } catch {
            throw .store(error)
        }
    }

    /// The leg an SDP exchange agreed on, with the daemon's Opus settings under what SDP
    /// says (`ControlConfiguration.opus`); nil when the codec is not one legs carry.
    func legConfiguration(_ media: NegotiatedMedia) -> LegConfiguration? {
        var base = LegConfiguration(codec: .pcmu)
        base.opus = configuration.opus
        return LegConfiguration(negotiated: media, base: base)
    }

    /// The PCM rate of the leg of the call that dialed `call`, nil when `call` was not
    /// dialed by a live call. A dialed call's Opus leg runs no wider than this: all it hears
    /// is that call, and all it says goes to it, so at 8 kHz beside a G.711 caller libopus
    /// codes and decodes at 8 kHz directly — no resampler in the bridge either way and none
    /// inside libopus (about a tenth of a transcoded call's cost; `sauti-bench opus`, the
    /// 8 kHz leg rows). The rate is set with the answer, before any audio, so nothing
    /// restarts mid-stream.
    func dialingCallRate(_ call: CallRecord) -> Int? {
        guard let parent = call.parentCallID, let p = live.withLock({ $0[parent] }) else { return nil }
        return p.media.withLock { $0?.sampleRate }
    }

    func move(_ callID: String, to status: String, cause: String?) throws(ControlError) {
        do {
            try store.transition(callID: callID, to: status, cause: cause)
        } catch {
            throw .store(error)
        }
    }

    /// Closes a call's leg (its flow sees the hangup and ends) and reports completion.
    /// Reported once: whoever ends the call first (the registrar's signal, the flow's
    /// hangup, the API) removes it from the live calls.
    func end(_ callID: String, numberID: String?) {
        guard let liveCall = live.withLock({ $0.removeValue(forKey: callID) }) else { return }
        liveCall.leg.close()
        // After the flow has wound down (a recording cut by the hangup reports its outcome
        // first), so that `completed` is the call's last lifecycle event.
        let flow = liveCall.flowTask.withLock { $0 }
        Task { [weak self] in
            await flow?.value
            self?.deliverEvent(callID, numberID: numberID, name: "completed")
        }
    }

    /// `POST /v1/calls/{id}/hangup` (a customer ends a call).
    public func hangup(callID: String) async throws(ControlError) -> CallRecord {
        let call: CallRecord
        do {
            call = try store.call(id: callID)
        } catch {
            throw .store(error)
        }
        guard !CallStatus.terminal.contains(call.status) else {
            throw ControlError(409, "call_ended", "the call is already \(call.status)")
        }
        // In the call's turn: a child call whose dial is still being retried is hung up
        // after the registrar has the dial (or the dial is given up and the call failed).
        if case .skipped(let status) = await requestSignalling(callID: callID, action: "hangup", extra: [:]) {
            throw ControlError(
                409, "call_ended", "the call became \(status) while an earlier request on it was in flight")
        }
        let now = (try? store.call(id: callID).status) ?? call.status
        try move(callID, to: now == "in-progress" ? "completed" : "canceled", cause: "api-hangup")
        end(callID, numberID: call.numberID)
        // A dialing flow waiting on this call (a child call) hears that it ended.
        reportToDial(callID)
        do {
            return try store.call(id: callID)
        } catch {
            throw .store(error)
        }
    }

    /// `POST /v1/calls/{id}/actions`: a new document replaces what runs now.
    public func replaceActions(callID: String, document: VoiceDocument) throws(ControlError) {
        guard let liveCall = live.withLock({ $0[callID] }) else {
            throw ControlError(409, "call_not_live", "the call \(callID) has no live media here")
        }
        liveCall.flowControl.replace(with: document)
    }

    /// The live state of a call: the current action and the leg's RTP counters.
    public func liveState(callID: String) -> [String: Any]? {
        guard let c = live.withLock({ $0[callID] }) else { return nil }
        let s = c.leg.statistics
        var rtp: [String: Any] = [
            "packets_sent": s.packetsSent, "packets_received": s.packetsReceived, "packets_lost": s.packetsLost,
            "jitter_ms": s.jitterMilliseconds, "local_port": Int(c.leg.local.port),
        ]
        if let m = c.media.withLock({ $0 }) {
            rtp["codec"] = m.codec.rawValue
            rtp["sample_rate"] = m.sampleRate
        }
        return ["current_action": c.currentAction.withLock { $0 } as Any? ?? NSNull(), "rtp": rtp]
    }

    // MARK: The flow

    func startFlow(_ liveCall: LiveCall, number: NumberRecord, answered: Bool = false, document: VoiceDocument? = nil) {
        let secret = (try? store.signingSecret(numberID: number.id)) ?? ""
        var flowConfiguration = CallFlowConfiguration(recordingsDirectory: configuration.recordingsDirectory)
        flowConfiguration.callbackTimeoutSeconds = configuration.callbackTimeoutSeconds
        flowConfiguration.client = flowClient
        let call = (try? store.call(id: liveCall.id))
        let context = CallFlowContext(
            callID: liveCall.id, direction: call?.direction ?? "inbound", localNumber: number.e164,
            remoteNumber: call?.remoteE164 ?? "", voiceURL: number.voiceURL ?? "", signingSecret: secret,
            answered: answered || call?.status == "in-progress")
        let signalling = EngineSignalling(control: self, callID: liveCall.id)
        let store = self.store
        var flow = CallFlow(
            leg: liveCall.leg, context: context, configuration: flowConfiguration, signalling: signalling,
            control: liveCall.flowControl,
            onEvent: { [weak self] e in self?.flowEvent(e, call: liveCall, numberID: number.id) })
        flow.conferencing = conferences
        _ = store
        let task = Task {
            _ = await flow.run(initial: document)
        }
        liveCall.flowTask.withLock { $0 = task }
    }

    /// A flow event: into the store (the call's timeline), and recordings tracked.
    func flowEvent(_ e: CallFlowEvent, call: LiveCall, numberID: String) {
        var detail = e.detail
        if e.name == "action.started" { call.currentAction.withLock { $0 = detail["verb"] } }
        switch e.name {
        case "recording.started":
            if let id = detail["id"], let path = detail["path"] {
                try? store.createRecording(id: id, callID: call.id, file: (path as NSString).lastPathComponent)
            }
        case "recording.finished":
            if let id = detail["id"] {
                try? store.finishRecording(
                    id: id, status: detail["status"] == "completed" ? "ready" : "failed",
                    durationSeconds: Double(detail["duration_seconds"] ?? "") ?? 0,
                    bytes: Self.recordingFacts(detail["path"] ?? "").1, reason: detail["reason"] ?? "")
                deliverEvent(call.id, numberID: numberID, name: "recording-ready", extra: ["recording_id": id])
            }
            detail["path"] = nil
        default:
            break
        }
        try? store.appendEvent(callID: call.id, name: e.name, detail: detail, occurredAt: storeTimestamp(e.occurredAt))
    }

    // MARK: events_url

    /// Queues a lifecycle event for the number's events_url (signed, in order per call,
    /// retried with backoff).
    func deliverEvent(_ callID: String, numberID: String?, name: String, extra: [String: String] = [:]) {
        guard let numberID, let number = try? store.number(id: numberID), let url = number.eventsURL else { return }
        let secret = (try? store.signingSecret(numberID: numberID)) ?? ""
        var body: [String: Any] = ["call_id": callID, "event": name, "occurred_at": storeTimestamp()]
        if let c = try? store.call(id: callID) {
            body["status"] = c.status
            body["direction"] = c.direction
            body["local_e164"] = c.localE164
            body["remote_e164"] = c.remoteE164
            if let d = c.durationSeconds { body["duration_seconds"] = d }
        }
        for (k, v) in extra { body[k] = v }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        events.enqueue(callID: callID, url: url, body: data, secret: secret) { [weak self] outcome in
            try? self?.store.appendEvent(
                callID: callID, name: "events_url.\(outcome == nil ? "delivered" : "failed")",
                detail: ["event": name, "error": outcome ?? ""])
        }
    }

    // MARK: Recordings

    /// A presigned URL path for a recording's audio, valid `presignedURLSeconds`.
    public func presignedPath(recordingID: String, now: Date = Date()) -> (path: String, expires: Int) {
        let expires = Int(now.timeIntervalSince1970) + configuration.presignedURLSeconds
        return ("/v1/recordings/\(recordingID)/audio?expires=\(expires)&signature=\(presignSignature(recordingID, expires))", expires)
    }

    func presignSignature(_ id: String, _ expires: Int) -> String {
        CallbackSignature.hmacSHA256(key: presignKey, message: Data("\(id):\(expires)".utf8))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a presigned URL's expiry and signature; the recording's file when they hold.
    public func verifyPresigned(recordingID: String, expires: String?, signature: String?, now: Date = Date())
        throws(ControlError) -> String
    {
        guard let expires, let e = Int(expires), let signature else {
            throw ControlError(403, "bad_signature", "the URL is not a presigned recording URL")
        }
        let expected = Array(presignSignature(recordingID, e).utf8)
        let given = Array(signature.utf8)
        var difference: UInt8 = expected.count == given.count ? 0 : 1
        if expected.count == given.count { for i in expected.indices { difference |= expected[i] ^ given[i] } }
        guard difference == 0 else { throw ControlError(403, "bad_signature", "the URL's signature does not match") }
        guard Int(now.timeIntervalSince1970) <= e else {
            throw ControlError(403, "url_expired", "the presigned URL expired; fetch the recording again for a new one")
        }
        let r: RecordingRecord
        do {
            r = try store.recording(id: recordingID)
        } catch {
            throw .store(error)
        }
        guard r.status == "ready" else { throw ControlError(410, "expired", "the recording is \(r.status)") }
        return configuration.recordingsDirectory + "/" + r.file
    }

    /// Prunes ready recordings older than the retention: marked expired, files removed.
    public func pruneRecordings(now: Date = Date()) {
        guard configuration.recordingRetentionDays > 0 else { return }
        let cutoff = storeTimestamp(now.addingTimeInterval(-Double(configuration.recordingRetentionDays) * 86_400))
        for r in (try? store.expireRecordings(readyBefore: cutoff)) ?? [] {
            try? FileManager.default.removeItem(atPath: configuration.recordingsDirectory + "/" + r.file)
        }
    }
}

/// The flow's signalling for a call of this engine: the registrar through the webhook,
/// and the call record.
struct EngineSignalling: CallSignalling {
    let control: ControlPlane
    let callID: String

    func answer() async {
        await control.requestSignalling(callID: callID, action: "answer", extra: [:])
        // Not when the call ended meanwhile (the caller hung up while the answer was retried).
        if let c = try? control.store.call(id: callID), c.status != "in-progress",
            (try? control.store.transition(callID: callID, to: "in-progress")) != nil
        {
            control.deliverEvent(callID, numberID: c.numberID, name: "answered")
        }
    }

    func reject(reason: Reject.Reason) async {
        await control.requestSignalling(callID: callID, action: "reject", extra: ["reason": reason.rawValue])
        let c = try? control.store.call(id: callID)
        if c.map({ !CallStatus.terminal.contains($0.status) }) ?? false {
            try? control.store.transition(
                callID: callID, to: reason == .busy ? "busy" : "failed", cause: "rejected:\(reason.rawValue)")
        }
        control.end(callID, numberID: c?.numberID)
    }

    func hangup() async {
        let c = try? control.store.call(id: callID)
        if let c, !CallStatus.terminal.contains(c.status) {
            await control.requestSignalling(callID: callID, action: "hangup", extra: [:])
            try? control.store.transition(
                callID: callID, to: c.status == "in-progress" ? "completed" : "canceled", cause: "engine-hangup")
        }
        control.end(callID, numberID: c?.numberID)
    }
}
