import CSautiLinux
import SautiAudio
import SautiWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One call leg's media state: sockets, RTP in and out, jitter buffer, digits, RTCP.
/// Owned by one media worker and touched only on its thread (checked in debug builds);
/// the control side holds a `MediaLeg` and talks to it through the worker's commands.
final class Leg: @unchecked Sendable {
    let id: UInt64
    var configuration: LegConfiguration
    let rtp: UDPSocket
    let rtcp: UDPSocket
    let pool: PortPool
    let events: AsyncStream<LegEvent>.Continuation
    let published: SharedStatistics

    // Remote addresses, as sockaddr so a per-packet check allocates nothing.
    var remote: (sockaddr_storage, socklen_t)?
    var remoteRTCP: (sockaddr_storage, socklen_t)?
    var remoteEndpoint: Endpoint?

    // Inbound.
    var statistics = LegStatistics()
    var jitterBuffer: LiveJitterBuffer
    var source: RTPSourceState?
    var remoteSSRC: UInt32 = 0
    var arrivalJitter = InterarrivalJitter()
    var lastReceiveNanoseconds: Int64 = 0
    var timedOut = false
    var tracker = TelephoneEventTracker()
    var lastEventPacketNanoseconds: Int64 = 0
    var collection: DigitCollectionSpec?
    var collected = ""
    var collectionStarted: Int64 = 0
    var lastDigitNanoseconds: Int64 = 0
    // RTCP in: the last SR's middle NTP bits and when it came, for our RR's LSR/DLSR.
    var lastSRMiddle: UInt32 = 0
    var lastSRArrival: Int64 = 0
    var expectedPrior: UInt64 = 0
    var receivedPrior: UInt64 = 0

    // Outbound.
    let ssrc: UInt32
    var sequence: UInt16
    var timestamp: UInt32
    var first = true
    var sourceObject: FrameSource?
    /// The room output the leg hears, while it is `sourceObject`: a frame that was the
    /// room's shared mix goes out as the room's shared payload, encoded once for all.
    var roomOutput: RoomOutput?
    var sinks: [FrameSink] = []
    /// The running recording's worker half (Recorder.swift), called after the outbound frame.
    var recorder: Recorder?
    /// Recordings still to report; holds `.closed` back until they have.
    var recordingReports: RecordingReports?
    var pendingDigits: [(digit: Character, durationMs: Int)] = []
    var sentDigits = ""
    var sendingEvent: (event: UInt8, timestamp: UInt32, duration: Int, target: Int, endsSent: Int)?
    var eventGapTicks = 0
    /// When the next RTCP report is due (ns, monotonic).
    var nextRTCP: Int64 = 0
    var rng = SystemRandomNumberGenerator()
    var octetsSent: UInt32 = 0
    /// The relay this leg is part of (LegRelay.swift): its inbound packets leave the peer
    /// undecoded, and the peer's leave this leg.
    var relay: RelayState?

    // Buffers, made once and freed in deinit: raw so the per-tick path has no
    // copy-on-write uniqueness checks. Frames are views of storage for 20 ms at 48 kHz,
    // so a re-offer to another codec or rate keeps them.
    /// PCM samples per frame (20 ms at `configuration.sampleRate`).
    var frameSamples: Int
    /// RTP clock units per frame (20 ms at the codec's clock: 160, or 960 for Opus).
    var frameTicks: Int
    var inFrame: UnsafeMutableBufferPointer<Int16>
    var outFrame: UnsafeMutableBufferPointer<Int16>
    let inStorage: UnsafeMutableBufferPointer<Int16>
    let outStorage: UnsafeMutableBufferPointer<Int16>
    /// The Opus encoder, on Opus legs (LegConfiguration+Opus.swift).
    var opusEncoder: OpusEncoder?
    /// Frames gathered for an Opus packet longer than a tick (40 or 60 ms), 60 ms at 48 kHz;
    /// nil when packets are 10 or 20 ms (Leg+OpusSend.swift).
    var opusPacketPCM: UnsafeMutableBufferPointer<Int16>?
    /// Frames in `opusPacketPCM` so far.
    var opusPendingFrames = 0
    /// The RTP timestamp of the first frame in `opusPacketPCM`.
    var opusPacketTimestamp: UInt32 = 0
    /// The loss the far end reports, for the size of the Opus FEC.
    var opusLoss = ReportedLossTracker()
    let packet: UnsafeMutableRawBufferPointer
    let rtcpBuffer: UnsafeMutableRawBufferPointer
    let cnameBytes: [UInt8]

    init(
        id: UInt64, configuration: LegConfiguration, sockets: (rtp: UDPSocket, rtcp: UDPSocket), pool: PortPool,
        events: AsyncStream<LegEvent>.Continuation, published: SharedStatistics, now: Int64
    ) {
        self.id = id
        self.configuration = configuration
        self.rtp = sockets.rtp
        self.rtcp = sockets.rtcp
        self.pool = pool
        self.events = events
        self.published = published
        frameSamples = configuration.sampleRate / 50
        frameTicks = configuration.codec.clockRate / 50
        jitterBuffer = Leg.jitterBuffer(for: configuration)
        var rng = SystemRandomNumberGenerator()
        ssrc = rng.next()
        sequence = rng.next()
        timestamp = rng.next()
        inStorage = .allocate(capacity: Leg.maxFrameSamples)
        inStorage.initialize(repeating: 0)
        outStorage = .allocate(capacity: Leg.maxFrameSamples)
        outStorage.initialize(repeating: 0)
        inFrame = UnsafeMutableBufferPointer(rebasing: inStorage[0..<frameSamples])
        outFrame = UnsafeMutableBufferPointer(rebasing: outStorage[0..<frameSamples])
        packet = .allocate(byteCount: 1500, alignment: 8)
        opusEncoder = Leg.encoder(for: configuration)
        rtcpBuffer = .allocate(byteCount: 1500, alignment: 8)
        cnameBytes = Array(configuration.cname.utf8.prefix(255))
        lastReceiveNanoseconds = now
        nextRTCP = now + rtcpInterval()
        applyRemote()
        prepareOpusPacketStorage()
    }

    deinit {
        inStorage.deallocate()
        outStorage.deallocate()
        packet.deallocate()
        rtcpBuffer.deallocate()
        opusPacketPCM?.deallocate()
    }

    /// Takes the remote addresses from the configuration.
    func applyRemote() {
        if let r = configuration.remote {
            remote = SocketAddress.make(r)
            remoteEndpoint = r
            let rr = configuration.remoteRTCP ?? (configuration.rtcpMux ? r : Endpoint(address: r.address, port: r.port &+ 1))
            remoteRTCP = SocketAddress.make(rr)
        } else {
            remote = nil
            remoteRTCP = nil
            remoteEndpoint = nil
        }
        statistics.remote = remoteEndpoint
    }

    // MARK: Inbound

    /// Traps in debug builds when the leg is touched off its worker's thread.
    var confinement = ThreadConfinement()

    /// The worker that owns the leg. It changes only when the leg moves (`MediaWorker
    /// .handOver`), under this lock, which `submit` also holds: a command is queued on the
    /// owner, and a command queued on the old owner before the move is forwarded.
    private let ownerLock = Mutex<MediaWorker?>(nil)

    /// The owning worker.
    var owner: MediaWorker? { ownerLock.withLock { $0 } }

    /// Sets the first owner (before the leg's first command).
    func adopt(_ worker: MediaWorker) { ownerLock.withLock { $0 = worker } }

    /// Queues `body` on the owning worker.
    func submit(_ body: @escaping @Sendable (MediaWorker) -> Void) {
        ownerLock.withLock { $0?.submit(self, body) }
    }

    /// Runs `change` on the owner under the lock: the hand-over swaps the owner and queues
    /// the leg's arrival on the new one in one step, so no command overtakes it.
    func changeOwner(_ change: (inout MediaWorker?) -> Void) { ownerLock.withLock { change(&$0) } }

    /// The leg arrived on another worker's thread: the confinement checks adopt it.
    func rehome() {
        confinement.reset()
        recorder?.rehome()
    }

    /// One datagram on the RTP socket (or RTCP when muxed).
    func receiveRTP(_ data: UnsafeRawBufferPointer, from address: UnsafePointer<sockaddr_storage>, now: Int64) {
        confinement.check()
        if let r = remote, !SocketAddress.matches(address, r) {
            statistics.strayPackets += 1
            return
        }
        if RTPHeader.looksLikeRTCP(data) {
            receiveRTCP(data, now: now)
            return
        }
        guard configuration.direction.receives else { return }
        let header: RTPHeader
        do {
            header = try RTPHeader(parsing: data)
        } catch {
            statistics.malformedRTP += 1
            return
        }
        let pt = header.payloadType
        let isEvent = pt == configuration.telephoneEventPayloadType
        guard pt == configuration.payloadType || isEvent else {
            statistics.unknownPayloadType += 1
            return
        }
        if remote == nil {
            // Symmetric RTP: latch onto the first valid packet's source.
            remote = (address.pointee, address.pointee.ss_family == sa_family_t(AF_INET6)
                ? socklen_t(MemoryLayout<sockaddr_in6>.size) : socklen_t(MemoryLayout<sockaddr_in>.size))
            if let e = SocketAddress.endpoint(address) {
                remoteEndpoint = e
                statistics.remote = e
                let rr = configuration.rtcpMux ? e : Endpoint(address: e.address, port: e.port &+ 1)
                remoteRTCP = SocketAddress.make(rr)
                events.yield(.latched(e))
            }
        }
        lastReceiveNanoseconds = now
        if timedOut {
            timedOut = false
            events.yield(.mediaResumed)
        }
        // Sequence bookkeeping (RFC 3550 A.1); a new SSRC starts a new source.
        if source == nil || header.ssrc != remoteSSRC {
            if source != nil { statistics.restarts += 1 }
            remoteSSRC = header.ssrc
            source = RTPSourceState(firstSequence: header.sequenceNumber)
            arrivalJitter.reset()
            expectedPrior = 0
            receivedPrior = 0
        }
        let outcome = source!.update(header.sequenceNumber)
        if outcome == .restarted { statistics.restarts += 1 }
        statistics.packetsReceived += 1
        statistics.bytesReceived += header.payloadLength
        let payload = header.payload(in: data)
        if isEvent {
            guard let ev = TelephoneEvent(parsing: payload) else {
                statistics.malformedRTP += 1
                return
            }
            lastEventPacketNanoseconds = now
            if relay != nil && outcome != .duplicate { relayPacket(data, header: header, isEvent: true) }
            if let d = tracker.ingest(ev, rtpTimestamp: header.timestamp, marker: header.marker, arrivalNanoseconds: now) {
                digitDetected(d, now: now)
            }
            return
        }
        let arrivalUnits = now * Int64(configuration.codec.clockRate) / 1_000_000_000
        arrivalJitter.update(arrivalUnits: arrivalUnits, rtpTimestamp: header.timestamp)
        if let d = tracker.audioResumed() { digitDetected(d, now: now) }
        if relay != nil {
            if outcome != .duplicate { relayPacket(data, header: header, isEvent: false) }
            if !relayNeedsAudio { return }
        }
        if outcome == .duplicate { return }
        _ = jitterBuffer.put(
            ssrc: header.ssrc, timestamp: header.timestamp, arrival: now, payload: payload,
            sequence: header.sequenceNumber)
    }

    /// One datagram on the RTCP socket.
    func receiveRTCPDatagram(_ data: UnsafeRawBufferPointer, from address: UnsafePointer<sockaddr_storage>, now: Int64) {
        // RTCP may come from the RTP address's port + 1 or elsewhere on the same host; accept
        // only what parses (RTCP carries no audio, so bleed here is harmless but counted).
        receiveRTCP(data, now: now)
    }

    private func receiveRTCP(_ data: UnsafeRawBufferPointer, now: Int64) {
        do {
            try RTCP.forEachPacket(in: data) { p in
                if let sender = p.senderInfo {
                    lastSRMiddle = UInt32(truncatingIfNeeded: sender.ntpTimestamp >> 16)
                    lastSRArrival = now
                }
                for i in 0..<p.reportCount {
                    if let b = p.reportBlock(i), b.ssrc == ssrc { reportBlock(b, arrival: now) }
                }
            }
        } catch {
            statistics.malformedRTCP += 1
            return
        }
        statistics.rtcpReceived += 1
    }

    /// `arrival` is when the report reached the socket (monotonic ns): the worker reads
    /// sockets at the tick, so "now" would add up to a period to the RTT.
    private func reportBlock(_ b: RTCPReportBlock, arrival: Int64) {
        statistics.remoteFractionLost = Double(b.fractionLost) / 256
        opusLossReported(fractionLost: Double(b.fractionLost) / 256)
        statistics.remoteJitterMilliseconds = Double(b.jitter) * 1000 / Double(configuration.codec.clockRate)
        if b.lastSR != 0 {
            // RTT = now − LSR − DLSR, in 1/65536 s (RFC 3550 §6.4.1).
            let sinceArrival = UInt64(max(0, monotonicNanoseconds() - arrival))
            let arrivalNTP = NTPTime.now() &- sinceArrival * (1 << 32) / 1_000_000_000
            let nowMiddle = UInt32(truncatingIfNeeded: arrivalNTP >> 16)
            let rtt = nowMiddle &- b.lastSR &- b.delaySinceLastSR
            if rtt < 0x8000_0000 { statistics.roundTripMilliseconds = Double(rtt) * 1000 / 65536 }
        }
    }

    private func digitDetected(_ d: DetectedDigit, now: Int64) {
        statistics.digitsReceived += 1
        let clock = configuration.codec.clockRate
        events.yield(.digit(d.digit, durationMilliseconds: d.durationUnits * 1000 / clock))
        if let r = recorder, r.digit(d.digit) { recorder = nil }
        guard let spec = collection else { return }
        lastDigitNanoseconds = now
        if spec.finishOnKeys.contains(d.digit) {
            finishCollection(.finishKey)
            return
        }
        collected.append(d.digit)
        if let n = spec.numDigits, collected.count >= n { finishCollection(.numDigits) }
    }

    func startCollection(_ spec: DigitCollectionSpec, now: Int64) {
        if collection != nil { finishCollection(.canceled) }
        collection = spec
        collected = ""
        collectionStarted = now
        lastDigitNanoseconds = 0
    }

    func finishCollection(_ why: DigitCollectionEnd) {
        guard collection != nil else { return }
        events.yield(.digitsCollected(collected, why))
        collection = nil
        collected = ""
    }

    // MARK: Tick

    /// One 20 ms frame: play out inbound audio to the sinks, send one outbound frame,
    /// and the timers (digit timeouts, media timeout, RTCP).
    /// One whole tick: the inbound half, then the outbound half.
    func tick(now: Int64) {
        tickInbound(now: now)
        tickOutbound(now: now)
    }

    /// The inbound half of a tick: one frame from the jitter buffer to the sinks (a room's
    /// input among them), digits, collection and media timeouts. The worker runs every
    /// leg's inbound half, then mixes its rooms, then every leg's outbound half, so a room's
    /// mix holds this tick's audio.
    func tickInbound(now: Int64) {
        confinement.check()
        // Inbound: exactly one frame per tick to the sinks (a relay that needs no decoded
        // audio skips the jitter buffer: its packets already left).
        if relayNeedsAudio {
            _ = jitterBuffer.tick(now: now, into: inFrame)
        } else {
            inFrame.update(repeating: 0)
        }
        if !sinks.isEmpty {
            let view = UnsafeBufferPointer(inFrame)
            for s in sinks { s.write(view) }
        }
        // An event whose end never came is over after 500 ms of silence from it (RFC 4733 §2.5.2.1).
        if lastEventPacketNanoseconds != 0 && now - lastEventPacketNanoseconds > 500_000_000 {
            lastEventPacketNanoseconds = 0
            if let d = tracker.finish() { digitDetected(d, now: now) }
        }
        if let spec = collection {
            if collected.isEmpty && lastDigitNanoseconds == 0 {
                if now - collectionStarted >= Int64(spec.timeoutMilliseconds) * 1_000_000 { finishCollection(.timeout) }
            } else if now - lastDigitNanoseconds >= Int64(spec.interDigitTimeoutMilliseconds) * 1_000_000 {
                finishCollection(.interDigitTimeout)
            }
        }
        if configuration.mediaTimeoutMilliseconds > 0 && !timedOut && configuration.direction.receives
            && now - lastReceiveNanoseconds >= Int64(configuration.mediaTimeoutMilliseconds) * 1_000_000
        {
            timedOut = true
            events.yield(.mediaTimeout)
        }
    }

    /// The outbound half of a tick: one frame from the source (a room's mix among them)
    /// encoded and sent, the recorder, RTCP, the published counters.
    func tickOutbound(now: Int64) {
        // Outbound.
        var sentAudio = false
        if configuration.direction.sends, let remote {
            if relay == nil {
                sentAudio = sendFrame(to: remote)
            } else {
                relayTickOutbound(to: remote)
            }
        }
        if let r = recorder {
            // While relaying, the audio sent is the peer's inbound, decoded for the recording.
            let sent = relay.map { UnsafeBufferPointer($0.peer.inFrame) } ?? (sentAudio ? UnsafeBufferPointer(outFrame) : nil)
            if !r.tick(inbound: UnsafeBufferPointer(inFrame), outbound: sent) { recorder = nil }
        }
        timestamp &+= UInt32(frameTicks)
        if now >= nextRTCP {
            nextRTCP = now + rtcpInterval()
            sendRTCP(now: now)
        }
        publish()
    }

    /// The interval to the next report, randomized over [0.5, 1.5] × the configured one as
    /// RFC 3550 §6.3.1 asks, so legs opened together do not all report in the same tick.
    private func rtcpInterval() -> Int64 {
        let base = configuration.rtcpIntervalSeconds * 1e9
        return Int64(base * (0.5 + Double(rng.next() % 1_000_000) / 1_000_000))
    }

    /// Sends one frame: an RFC 4733 packet, or audio. True when it sent audio (then in
    /// `outFrame`, for a stereo recording).
    private func sendFrame(to remote: (sockaddr_storage, socklen_t)) -> Bool {
        if sendingEvent != nil || !pendingDigits.isEmpty || eventGapTicks > 0 {
            if sendEventPacket(to: remote) {
                // A digit replaces the audio: frames gathered for a longer Opus packet go.
                opusPendingFrames = 0
                return false
            }
        }
        var ended = false
        if let r = recorder, r.isBeeping {
            // A recording's beep goes first; the source waits, unread, and resumes after it.
            r.beep(into: outFrame)
        } else if let s = sourceObject {
            if !s.read(into: outFrame) {
                ended = true
                outFrame.update(repeating: 0)
            }
        } else {
            outFrame.update(repeating: 0)
        }
        if ended {
            sourceObject = nil
            events.yield(.sourceFinished)
        }
        let codec = configuration.codec
        let pcm = UnsafeBufferPointer(outFrame)
        // A frame that was a room's shared mix goes out as the room's shared payload.
        let room = !ended && roomOutput != nil && roomOutput === sourceObject && roomOutput!.heardShared
            ? roomOutput!.room : nil
        if codec == .opus { return sendOpus(pcm, to: remote, room: room) }
        let header = RTPHeader(
            marker: first, payloadType: configuration.payloadType, sequenceNumber: sequence, timestamp: timestamp,
            ssrc: ssrc)
        let n = frameSamples
        let codes = UnsafeMutableBufferPointer(rebasing: packet.bindMemory(to: UInt8.self)[12..<(12 + n)])
        if let room, n == 160 {
            // The room's shared mix, encoded once for every listener with this law.
            _ = codes.update(fromContentsOf: room.sharedG711(codec == .pcmu ? .ulaw : .alaw))
        } else {
            G711.encode(codec == .pcmu ? .ulaw : .alaw, pcm, into: codes)
        }
        first = false
        _ = header.serialize(into: packet)
        let length = 12 + n
        transmit(length: length, to: remote)
        octetsSent &+= UInt32(n)
        statistics.bytesSent += n
        return true
    }

    func transmit(length: Int, to remote: (sockaddr_storage, socklen_t)) {
        var address = remote.0
        let ok = rtp.send(UnsafeRawBufferPointer(rebasing: packet[0..<length]), to: &address, length: remote.1)
        sequence &+= 1
        if ok { statistics.packetsSent += 1 } else { statistics.sendErrors += 1 }
    }

    /// Sends the next RFC 4733 packet if an event is in progress or queued; returns false
    /// when audio should be sent instead.
    func sendEventPacket(to remote: (sockaddr_storage, socklen_t)) -> Bool {
        guard let pt = configuration.telephoneEventPayloadType else {
            pendingDigits.removeAll()
            return false
        }
        if sendingEvent == nil {
            if eventGapTicks > 0 {
                eventGapTicks -= 1
                return false
            }
            guard !pendingDigits.isEmpty else { return false }
            let next = pendingDigits.removeFirst()
            guard let code = TelephoneEvent.code(for: next.digit) else { return false }
            let units = next.durationMs * configuration.codec.clockRate / 1000
            sendingEvent = (code, timestamp, 0, max(units, frameTicks), 0)
            sentDigits.append(next.digit)
        }
        var ev = sendingEvent!
        let isFirst = ev.duration == 0
        ev.duration = min(ev.duration + frameTicks, ev.target)
        let ending = ev.duration >= ev.target
        // The end packet goes three times (RFC 4733 §2.5.1.4), each with a new sequence number.
        let payload = TelephoneEvent(
            event: ev.event, isEnd: ending, volume: 10, duration: UInt16(min(ev.duration, 65535)))
        let header = RTPHeader(marker: isFirst, payloadType: pt, sequenceNumber: sequence, timestamp: ev.timestamp, ssrc: ssrc)
        _ = header.serialize(into: packet)
        _ = payload.serialize(into: UnsafeMutableRawBufferPointer(rebasing: packet[12..<16]))
        transmit(length: 16, to: remote)
        if ending {
            ev.endsSent += 1
            if ev.endsSent >= 3 {
                sendingEvent = nil
                eventGapTicks = 2  // a little audio between digits
                if pendingDigits.isEmpty {
                    events.yield(.digitsSent(sentDigits))
                    sentDigits = ""
                }
                return true
            }
        }
        sendingEvent = ev
        return true
    }

    private func sendRTCP(now: Int64) {
        guard let remoteRTCP else { return }
        var blocks: (RTCPReportBlock, Bool) = (RTCPReportBlock(ssrc: 0, fractionLost: 0, cumulativeLost: 0, highestSequence: 0, jitter: 0, lastSR: 0, delaySinceLastSR: 0), false)
        if let s = source, s.isValid {
            let expected = s.expected
            let received = s.totalReceived - s.duplicates
            let expectedInterval = expected &- expectedPrior
            let receivedInterval = received &- receivedPrior
            expectedPrior = expected
            receivedPrior = received
            let lostInterval = Int64(expectedInterval) - Int64(receivedInterval)
            let fraction = expectedInterval == 0 || lostInterval <= 0 ? 0 : UInt8(min(255, (lostInterval << 8) / Int64(expectedInterval)))
            let dlsr = lastSRArrival == 0 ? 0 : UInt32(truncatingIfNeeded: (now - lastSRArrival) * 65536 / 1_000_000_000)
            blocks = (
                RTCPReportBlock(
                    ssrc: remoteSSRC, fractionLost: fraction, cumulativeLost: Int32(clamping: s.lost),
                    highestSequence: s.extendedMax, jitter: arrivalJitter.units, lastSR: lastSRMiddle,
                    delaySinceLastSR: dlsr), true)
        }
        let sender: RTCPSenderInfo? = statistics.packetsSent > 0
            ? RTCPSenderInfo(ntpTimestamp: NTPTime.now(), rtpTimestamp: timestamp, packetCount: UInt32(truncatingIfNeeded: statistics.packetsSent), octetCount: octetsSent)
            : nil
        var address = remoteRTCP.0
        let length = remoteRTCP.1
        let sent = { (buf: UnsafeMutableRawBufferPointer) -> Bool in
            let written = cnameBytes.withUnsafeBytes { cname in
                blocks.1
                    ? RTCPWriter.writeReport(into: buf, ssrc: ssrc, sender: sender, blocks: CollectionOfOne(blocks.0), cname: cname)
                    : RTCPWriter.writeReport(into: buf, ssrc: ssrc, sender: sender, blocks: EmptyCollection(), cname: cname)
            }
            guard let written else { return false }
            let socket = configuration.rtcpMux ? rtp : rtcp
            return socket.send(UnsafeRawBufferPointer(rebasing: buf[0..<written]), to: &address, length: length)
        }(rtcpBuffer)
        if sent { statistics.rtcpSent += 1 } else { statistics.sendErrors += 1 }
    }

    /// Copies the counters where the control side can read them.
    func publish() {
        if let s = source {
            statistics.packetsLost = Int(s.lost)
            statistics.duplicates = Int(s.duplicates)
            statistics.outOfOrder = Int(s.outOfOrder)
        }
        statistics.jitterMilliseconds = Double(arrivalJitter.units) * 1000 / Double(configuration.codec.clockRate)
        let jb = jitterBuffer.statistics
        statistics.late = jb.late
        statistics.concealedFrames = jb.concealedFrames
        statistics.recoveredFrames = jb.recoveredFrames
        statistics.stretchedFrames = jb.stretchedFrames
        statistics.skippedFrames = jb.skippedFrames
        statistics.dtxFrames = jb.dtxFrames
        statistics.decodeErrors = jb.decodeErrors
        statistics.fecLossPercent = opusEncoder?.fecLossPercent
        statistics.encodedBandRate = opusEncoder?.bandRate
        statistics.jitterBufferDelayMilliseconds = jb.targetDelayMilliseconds
        let snapshot = statistics
        published.store(snapshot)
    }

    /// Sends a BYE and closes the sockets' pool entry.
    func close() {
        if let remoteRTCP {
            var address = remoteRTCP.0
            let length = remoteRTCP.1
            if let n = RTCPWriter.writeBye(into: rtcpBuffer, ssrc: ssrc) {
                _ = (configuration.rtcpMux ? rtp : rtcp).send(UnsafeRawBufferPointer(rebasing: rtcpBuffer[0..<n]), to: &address, length: length)
            }
        }
        finishCollection(.canceled)
        // A playback ends with the leg: its I/O job stops and closes the file.
        if let playback = sourceObject as? PlaybackSource { playback.stop() }
        sourceObject = nil
        publish()
        pool.release(rtp.local.port)
        // A recording still finishing reports first, then yields `.closed` itself.
        if closeRecordings() { return }
        events.yield(.closed)
        events.finish()
    }
}

/// NTP wallclock time (RFC 3550 §4): seconds since 1900 in the high 32 bits.
enum NTPTime {
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let seconds = UInt64(ts.tv_sec) + 2_208_988_800
        let fraction = UInt64(ts.tv_nsec) * (1 << 32) / 1_000_000_000
        return seconds << 32 | fraction
    }
}
