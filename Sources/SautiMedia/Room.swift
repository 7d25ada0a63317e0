// Conference rooms on the media plane: a `RoomMixer` owned by one worker, fed by its
// participants' legs (a sink each) and heard through them (a source each). The worker runs
// every leg's inbound half, mixes its rooms, then runs every leg's outbound half, so each
// tick's mix holds that tick's audio (no added frame of delay).
//
// The room runs at the highest rate among its participants (8, 16 or 48 kHz); a leg at
// another rate is resampled in and out with one resampler state per direction. Everyone who
// is not a talker hears the same mix: it is resampled once per listening rate and encoded
// once per codec (and Opus settings) per tick, and each such leg only writes its own RTP
// header around the shared payload.

import SautiAudio

/// Why a leg cannot join a room.
public enum RoomError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The room has `maxParticipants` already.
    case full(Int)
    /// The leg's rate is one a room does not run at (8, 16, 24 and 48 kHz are).
    case sampleRate(Int)
    /// The room was closed.
    case closed

    public var description: String {
        switch self {
        case .full(let n): return "the room is full (\(n) participants)"
        case .sampleRate(let r): return "a room cannot take a leg at \(r) Hz"
        case .closed: return "the room is closed"
        }
    }
}

/// What happens in a room, in order.
public enum RoomEvent: Sendable, Equatable {
    /// The leg joined (waiting: it hears wait audio until the room starts).
    case joined(legID: UInt64, waiting: Bool)
    /// The leg left (or closed).
    case left(legID: UInt64)
    /// The leg started speaking (its level crossed the speech threshold).
    case startedTalking(legID: UInt64)
    /// The leg stopped speaking (after the hangover).
    case stoppedTalking(legID: UInt64)
    /// The room started: waiting participants hear and are heard.
    case started
    /// The room's rate rose to this many Hz (a wider leg joined).
    case rateChanged(Int)
    /// The room closed: each participant's `left` follows, then nothing.
    case closed
}

/// A participant as the API shows it.
public struct RoomParticipantState: Sendable, Equatable {
    /// The leg.
    public var legID: UInt64
    /// Heard by no one.
    public var muted: Bool
    /// Hears wait audio until the room starts.
    public var waiting: Bool
    /// Speaking now (level over the threshold, or within the hangover).
    public var speaking: Bool
    /// Holds a talker seat (is mixed).
    public var talker: Bool
}

/// A room as the API shows it.
public struct RoomState: Sendable, Equatable {
    /// The room's rate, in Hz.
    public var sampleRate: Int
    /// Whether the room has started (waiting participants hear the mix from then on).
    public var started: Bool
    /// In join order.
    public var participants: [RoomParticipantState]
    /// Whether the room's mix is being recorded.
    public var recording: Bool
}

/// 20 ms frames from one rate to another with one resampler state, so there are no clicks
/// at frame edges. Made at a control step; converting allocates nothing.
final class FrameRateAdapter {
    let from: Int
    let to: Int
    private let resampler: Resampler
    private let output: UnsafeMutableBufferPointer<Int16>
    private let frame: Int

    init?(from: Int, to: Int, quality: Int) {
        guard from != to, let r = try? Resampler(inputRate: from, outputRate: to, quality: quality) else {
            return nil
        }
        self.from = from
        self.to = to
        resampler = r
        frame = to / 50
        output = .allocate(capacity: frame + 64)
        output.initialize(repeating: 0)
    }

    deinit { output.deallocate() }

    /// `input` (20 ms at `from`) as 20 ms at `to`: exactly `to / 50` samples.
    func convert(_ input: UnsafeBufferPointer<Int16>) -> UnsafeBufferPointer<Int16> {
        let (_, produced) = resampler.process(input: input, output: output)
        // The resampler hands out what its filter has settled; for these integer ratios it
        // is one frame a call. Pad a short first call with silence rather than drift.
        if produced < frame { UnsafeMutableBufferPointer(rebasing: output[produced..<frame]).update(repeating: 0) }
        return UnsafeBufferPointer(rebasing: output[0..<frame])
    }
}

/// One participant: the leg, its mixer slot, its sink and source, and what the room reports.
final class RoomParticipant {
    let leg: Leg
    var slot: Int
    /// The leg's rate, in Hz (a re-offer may change it: `Room.legRateChanged`).
    var legRate: Int
    var muted: Bool
    var waiting: Bool
    var speaking = false
    /// A beep sounds when this participant leaves.
    var beepOnExit = false
    var input: RoomInput!
    var output: RoomOutput!

    init(leg: Leg, slot: Int, muted: Bool, waiting: Bool) {
        self.leg = leg
        self.slot = slot
        legRate = leg.frameSamples * 50
        self.muted = muted
        self.waiting = waiting
    }
}

/// A room's worker side. Touched only on its worker.
final class Room: @unchecked Sendable {
    private(set) var mixer: RoomMixer
    private(set) var sampleRate: Int
    let capacity: Int
    let talkers: Int
    let events: AsyncStream<RoomEvent>.Continuation
    private(set) var started: Bool
    /// Leg id → participant; `order` keeps join order (for events and the API).
    private(set) var participants: [UInt64: RoomParticipant] = [:]
    private(set) var order: [RoomParticipant] = []
    /// Ticks mixed: shared mixes and payloads are made at most once per tick.
    private(set) var tick: UInt64 = 0

    /// The beep on enter and exit: ticks left, mixed over everything.
    private var beep: ToneGenerator
    private var beepTicksLeft = 0
    private let beepTicks = 10

    /// The room's recording: its mix (what a listener who is not a talker hears, beeps
    /// included), resampled to the rate it started at if the room's rate rose since.
    private var recorder: Recorder?
    private var recordingAdapter: FrameRateAdapter?
    private var recordingRate = 0

    /// The shared mix at other rates than the room's, once per tick each.
    private var sharedAtRate: [(rate: Int, adapter: FrameRateAdapter, stamp: UInt64, frame: UnsafeBufferPointer<Int16>)] = []
    /// The shared mix as G.711 (8 kHz), once per tick per law.
    private let sharedG711: UnsafeMutableBufferPointer<UInt8>
    private var sharedG711Stamp: (ulaw: UInt64, alaw: UInt64) = (0, 0)
    /// The shared mix as Opus, once per tick per rate and settings, each with its encoder.
    private var sharedOpus: [SharedOpus] = []

    /// libspeexdsp's quality for participants at other rates and the recording.
    let resamplerQuality: Int

    init(
        capacity: Int, sampleRate: Int, talkers: Int, started: Bool, events: AsyncStream<RoomEvent>.Continuation,
        resamplerQuality: Int = Resampler.defaultQuality
    ) {
        self.resamplerQuality = resamplerQuality
        self.capacity = capacity
        self.talkers = talkers
        self.sampleRate = sampleRate
        self.started = started
        self.events = events
        mixer = RoomMixer(capacity: capacity, frameSamples: sampleRate / 50, talkerLimit: talkers)
        beep = ToneGenerator(.beep(frequencyHz: 880), sampleRate: sampleRate)
        sharedG711 = .allocate(capacity: 2 * 160)
        sharedG711.initialize(repeating: 0)
    }

    deinit { sharedG711.deallocate() }

    static let rates: Set<Int> = [8000, 16000, 24000, 48000]

    /// Takes `leg` in: its inbound audio feeds the room, the room's mix becomes its source
    /// (unless `waiting`: then it keeps its own source, wait audio, and is not heard until
    /// the room starts).
    func join(_ leg: Leg, muted: Bool, waiting: Bool, beep: Bool) -> RoomError? {
        guard participants[leg.id] == nil else { return nil }
        let rate = leg.frameSamples * 50
        guard Room.rates.contains(rate) else { return .sampleRate(rate) }
        guard mixer.count < capacity else { return .full(capacity) }
        if rate > sampleRate { rebuild(at: rate) }
        guard let slot = mixer.join() else { return .full(capacity) }
        let p = RoomParticipant(leg: leg, slot: slot, muted: muted, waiting: waiting && !started)
        p.beepOnExit = beep
        mixer.setMuted(slot, muted || p.waiting)
        attach(p)
        participants[leg.id] = p
        order.append(p)
        events.yield(.joined(legID: leg.id, waiting: p.waiting))
        if beep { startBeep() }
        return nil
    }

    /// Makes `p`'s sink and source for the current rate and puts them on its leg.
    private func attach(_ p: RoomParticipant) {
        let input = RoomInput(room: self, participant: p)
        let output = RoomOutput(room: self, participant: p)
        if let old = p.input {
            p.leg.sinks.removeAll { $0 === old }
        }
        p.leg.sinks.append(input)
        let hadOutput = p.output != nil && p.leg.sourceObject === p.output
        p.input = input
        p.output = output
        if !p.waiting && (hadOutput || !isOurs(p.leg.sourceObject)) { hear(p) }
    }

    private func isOurs(_ s: FrameSource?) -> Bool { s is RoomOutput }

    /// `p` hears the room from its next frame: wait audio (a playback) stops.
    private func hear(_ p: RoomParticipant) {
        if p.leg.sourceObject !== p.output, let playback = p.leg.sourceObject as? PlaybackSource { playback.stop() }
        p.leg.sourceObject = p.output
        p.leg.roomOutput = p.output
    }

    /// A wider leg joined: a new mixer at `rate`, everyone re-seated, their resamplers remade.
    private func rebuild(at rate: Int) {
        let old = mixer
        mixer = RoomMixer(capacity: capacity, frameSamples: rate / 50, talkerLimit: talkers)
        sampleRate = rate
        beep = ToneGenerator(.beep(frequencyHz: 880), sampleRate: rate)
        sharedAtRate.removeAll()
        sharedOpus.removeAll()
        for p in order {
            old.leave(p.slot)
            p.slot = mixer.join() ?? 0
            mixer.setMuted(p.slot, p.muted || p.waiting)
            attach(p)
        }
        if recorder != nil { recordingAdapter = FrameRateAdapter(from: rate, to: recordingRate, quality: resamplerQuality) }
        events.yield(.rateChanged(rate))
    }

    /// Lets `leg` go: its sink goes, its source falls back to silence. A beep sounds if it
    /// joined with one.
    func leave(_ leg: Leg) {
        guard let p = participants.removeValue(forKey: leg.id) else { return }
        let beep = p.beepOnExit
        mixer.leave(p.slot)
        order.removeAll { $0 === p }
        detach(p)
        if p.speaking { events.yield(.stoppedTalking(legID: leg.id)) }
        events.yield(.left(legID: leg.id))
        if beep && !order.isEmpty { startBeep() }
    }

    /// `p` no longer hears or feeds the room: its sink goes, its source (the room, or its
    /// wait audio) stops and falls back to silence.
    private func detach(_ p: RoomParticipant) {
        let leg = p.leg
        leg.sinks.removeAll { $0 === p.input }
        if leg.sourceObject === p.output {
            leg.sourceObject = nil
        } else if p.waiting, let playback = leg.sourceObject as? PlaybackSource {
            playback.stop()
            leg.sourceObject = nil
        }
        if leg.roomOutput === p.output { leg.roomOutput = nil }
    }

    /// A re-offer changed `p`'s rate: its resamplers are remade (and the room widens if
    /// the leg is now wider than it).
    func legRateChanged(_ p: RoomParticipant, to rate: Int) {
        guard participants[p.leg.id] === p, Room.rates.contains(rate) else { return }
        p.legRate = rate
        if rate > sampleRate {
            rebuild(at: rate)
        } else {
            attach(p)
        }
    }

    func setMuted(_ legID: UInt64, _ muted: Bool) {
        guard let p = participants[legID] else { return }
        p.muted = muted
        mixer.setMuted(p.slot, muted || p.waiting)
    }

    /// The room starts: everyone waiting hears the mix and is heard.
    func start() {
        guard !started else { return }
        started = true
        events.yield(.started)
        for p in order where p.waiting {
            p.waiting = false
            mixer.setMuted(p.slot, p.muted)
            hear(p)
        }
    }

    func startBeep() {
        beepTicksLeft = beepTicks
    }

    /// Records the room's mix as `spec` asks; the outcome goes to `reports`.
    func startRecording(_ spec: RecordingSpec, reports: RecordingReports, io: MediaIOThread) {
        endRecording(.stopped)
        guard reports.begin() else { return }
        if isClosed {
            reports.report(
                RecordingOutcome(path: spec.path, reason: .error("the room is closed"), frames: 0, sampleRate: sampleRate, channels: 1, bytes: 0))
            return
        }
        let frame = sampleRate / 50
        var spec = spec
        spec.channels = .caller
        let ring = SampleRing(minimumCapacity: frame * 100)
        let link = RecordingLink(ring: ring, reports: reports)
        recorder = Recorder(spec, frameSamples: frame, sampleRate: sampleRate, link: link)
        recordingRate = sampleRate
        recordingAdapter = nil
        let writer = RecordingWriter(spec, frameSamples: frame, sampleRate: sampleRate, link: link)
        io.every { writer.service() }
    }

    func endRecording(_ reason: RecordingEnd) {
        guard let r = recorder else { return }
        recorder = nil
        r.finish(reason)
    }

    var isRecording: Bool { recorder != nil }

    /// One tick, after every leg's inbound half: beep, mix, talk events, recording.
    func mixTick() {
        tick &+= 1
        if beepTicksLeft > 0 {
            beepTicksLeft -= 1
            beep.fill(mixer.overlay())
        }
        mixer.mix()
        for p in order {
            let speaking = mixer.isSpeaking(p.slot) && !p.muted && !p.waiting
            if speaking != p.speaking {
                p.speaking = speaking
                events.yield(speaking ? .startedTalking(legID: p.leg.id) : .stoppedTalking(legID: p.leg.id))
            }
        }
        if let r = recorder {
            var frame = mixer.sharedOutput
            if let a = recordingAdapter { frame = a.convert(frame) }
            if !r.tick(inbound: frame, outbound: nil) { recorder = nil }
        }
    }

    /// The shared mix at `rate`, resampled once per tick.
    func shared(at rate: Int) -> UnsafeBufferPointer<Int16> {
        if rate == sampleRate { return mixer.sharedOutput }
        for i in sharedAtRate.indices where sharedAtRate[i].rate == rate {
            if sharedAtRate[i].stamp != tick {
                sharedAtRate[i].stamp = tick
                sharedAtRate[i].frame = sharedAtRate[i].adapter.convert(mixer.sharedOutput)
            }
            return sharedAtRate[i].frame
        }
        // A listening rate first heard: its resampler (a control-rate event, not per tick).
        guard let a = FrameRateAdapter(from: sampleRate, to: rate, quality: resamplerQuality) else { return mixer.sharedOutput }
        let frame = a.convert(mixer.sharedOutput)
        sharedAtRate.append((rate, a, tick, frame))
        return frame
    }

    /// The shared mix as 160 G.711 codes, encoded once per tick per law.
    func sharedG711(_ law: G711Law) -> UnsafeBufferPointer<UInt8> {
        let isU = law == .ulaw
        let codes = UnsafeMutableBufferPointer(rebasing: sharedG711[(isU ? 0 : 160)..<(isU ? 160 : 320)])
        let stamp = isU ? sharedG711Stamp.ulaw : sharedG711Stamp.alaw
        if stamp != tick {
            G711.encode(law, shared(at: 8000), into: codes)
            if isU { sharedG711Stamp.ulaw = tick } else { sharedG711Stamp.alaw = tick }
        }
        return UnsafeBufferPointer(codes)
    }

    /// The shared mix as one Opus packet at `rate` with `settings`, encoded once per tick
    /// by the group's own encoder; nil if libopus refuses the settings.
    func sharedOpus(rate: Int, settings: OpusEncoderSettings) -> UnsafeRawBufferPointer? {
        var group: SharedOpus?
        for g in sharedOpus where g.rate == rate && g.settings == settings {
            group = g
            break
        }
        if group == nil {
            guard let g = SharedOpus(rate: rate, settings: settings, content: sampleRate) else { return nil }
            sharedOpus.append(g)
            group = g
        }
        let g = group!
        if g.stamp != tick {
            g.stamp = tick
            g.length = g.encoder.encode(shared(at: rate), into: g.packet)
        }
        return UnsafeRawBufferPointer(rebasing: g.packet[0..<g.length])
    }

    private(set) var isClosed = false

    /// The room closes: everyone leaves (sources to silence), the recording ends.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        endRecording(.hangup)
        for p in order where p.speaking {
            p.speaking = false
            events.yield(.stoppedTalking(legID: p.leg.id))
        }
        events.yield(.closed)
        for p in order {
            detach(p)
            events.yield(.left(legID: p.leg.id))
        }
        participants.removeAll()
        order.removeAll()
        events.finish()
    }

    func state() -> RoomState {
        RoomState(
            sampleRate: sampleRate, started: started,
            participants: order.map {
                RoomParticipantState(
                    legID: $0.leg.id, muted: $0.muted, waiting: $0.waiting, speaking: $0.speaking,
                    talker: mixer.isTalker($0.slot))
            }, recording: recorder != nil)
    }
}

/// A group of listeners' shared Opus stream: one encoder, one packet per tick.
final class SharedOpus {
    let rate: Int
    let settings: OpusEncoderSettings
    let encoder: OpusEncoder
    let packet: UnsafeMutableRawBufferPointer
    var stamp: UInt64 = 0
    var length = 0

    /// `content`: the room's rate, when narrower than `rate` (the shared stream is coded no
    /// wider than the room's audio).
    init?(rate: Int, settings: OpusEncoderSettings, content: Int?) {
        guard let e = try? OpusEncoder(sampleRate: rate, settings: settings) else { return nil }
        if let content, content < rate { _ = e.limitBand(toAudioRate: content) }
        self.rate = rate
        self.settings = settings
        encoder = e
        packet = .allocate(byteCount: 1500, alignment: 8)
    }

    deinit { packet.deallocate() }
}

/// A participant's inbound audio into the room (resampled to the room's rate if need be).
final class RoomInput: FrameSink {
    unowned let room: Room
    unowned let participant: RoomParticipant
    private let adapter: FrameRateAdapter?

    init(room: Room, participant: RoomParticipant) {
        self.room = room
        self.participant = participant
        adapter = FrameRateAdapter(from: participant.legRate, to: room.sampleRate, quality: room.resamplerQuality)
    }

    func write(_ frame: UnsafeBufferPointer<Int16>) {
        if frame.count * 50 != participant.legRate {
            // A re-offer changed the leg's rate (a control event): new resamplers.
            room.legRateChanged(participant, to: frame.count * 50)
            return
        }
        if participant.waiting { return }
        let audio = adapter.map { $0.convert(frame) } ?? frame
        let input = room.mixer.input(participant.slot)
        let n = min(audio.count, input.count)
        // Safe: n ≤ both counts.
        _ = UnsafeMutableBufferPointer(rebasing: input[..<n]).update(fromContentsOf: UnsafeBufferPointer(rebasing: audio[..<n]))
    }
}

/// What a participant hears: everyone but themself if a talker, else the shared mix (at
/// the leg's rate). `heardShared` tells the leg, this tick, that it may send the room's
/// shared payload instead of encoding its own.
final class RoomOutput: FrameSource {
    unowned let room: Room
    unowned let participant: RoomParticipant
    private let adapter: FrameRateAdapter?
    /// This tick's frame was the shared mix.
    private(set) var heardShared = false

    /// The room's audio is no wider than its rate (an Opus leg in an 8 kHz room encodes
    /// narrowband).
    var contentSampleRate: Int? { room.sampleRate < participant.legRate ? room.sampleRate : nil }

    init(room: Room, participant: RoomParticipant) {
        self.room = room
        self.participant = participant
        adapter = FrameRateAdapter(from: room.sampleRate, to: participant.legRate, quality: room.resamplerQuality)
    }

    func read(into frame: UnsafeMutableBufferPointer<Int16>) -> Bool {
        if frame.count * 50 != participant.legRate {
            // A re-offer changed the leg's rate: new resamplers; silence this once.
            room.legRateChanged(participant, to: frame.count * 50)
            heardShared = false
            frame.update(repeating: 0)
            return true
        }
        let mix: UnsafeBufferPointer<Int16>
        if room.mixer.isTalker(participant.slot) {
            heardShared = false
            let own = room.mixer.output(participant.slot)
            mix = adapter.map { $0.convert(own) } ?? own
        } else {
            heardShared = true
            mix = room.shared(at: participant.legRate)
        }
        let n = min(frame.count, mix.count)
        _ = UnsafeMutableBufferPointer(rebasing: frame[..<n]).update(fromContentsOf: UnsafeBufferPointer(rebasing: mix[..<n]))
        if n < frame.count { UnsafeMutableBufferPointer(rebasing: frame[n...]).update(repeating: 0) }
        return true
    }
}
