import SautiWire
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Two legs of the same codec joined without decoding: each RTP packet one leg receives
/// leaves the other leg at once, its payload untouched. The header is rewritten so the
/// far end of the receiving side sees one continuous stream of that leg: its SSRC, its
/// sequence numbers and timestamps carried on from what the leg sent before (ringback, a
/// prompt) and after. RFC 4733 packets pass through the same way, with the payload type
/// each side negotiated.
///
/// Both legs run on one worker (`start` moves the second to the first's), so the relay is
/// plain worker-confined state: no ring, no lock, no allocation per packet. A relaying
/// leg's RTP socket wakes the worker (other legs' sockets are polled at the tick), so a
/// packet leaves on arrival rather than up to a period later. A leg keeps
/// decoding its inbound audio only while a recording or a sink needs it (a stereo
/// recording of the bridge hears both legs' decoded audio).
public final class LegRelay: Sendable {
    /// The legs.
    public let a: MediaLeg
    /// The second leg.
    public let b: MediaLeg

    private init(_ a: MediaLeg, _ b: MediaLeg) {
        self.a = a
        self.b = b
    }

    /// Joins `a` and `b` from their next packets on: `b` moves to `a`'s worker first, and
    /// what each leg was sending (a tone, a playback) stops. Returns once the relay runs.
    /// Both legs must use the same codec at the same packetization (`canRelay`).
    public static func start(_ a: MediaLeg, _ b: MediaLeg) async -> LegRelay {
        await b.move(toWorkerOf: a)
        let x = a.leg
        let y = b.leg
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            x.submit { w in
                // The second leg moved here; if either has since gone (closed, moved on),
                // there is nothing to join.
                if x.owner === w && y.owner === w && x !== y {
                    x.link(to: y)
                    y.link(to: x)
                }
                c.resume()
            }
        }
        return LegRelay(a, b)
    }

    /// Whether two legs' configurations allow relaying packets untouched: the same codec
    /// at the same clock rate (the engine packetizes every codec at 20 ms).
    public static func canRelay(_ a: LegConfiguration, _ b: LegConfiguration) -> Bool {
        a.codec == b.codec && a.codec.clockRate == b.codec.clockRate && a.sampleRate == b.sampleRate
    }

    /// Separates the legs: each goes back to its own source (silence). Returns once done.
    public func stop() async {
        let x = a.leg
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            x.submit { _ in
                x.unlinkRelay()
                c.resume()
            }
        }
    }
}

/// A leg's half of a relay: where its inbound packets go, and the rewrite of the packets
/// it receives from the peer. Worker-confined, like the leg.
struct RelayState {
    /// The leg whose far end gets this leg's inbound packets.
    let peer: Leg
    /// Added to the peer's sequence numbers to continue this leg's outbound sequence.
    var sequenceOffset: UInt16 = 0
    /// Added to the peer's timestamps to continue this leg's outbound timestamps.
    var timestampOffset: UInt32 = 0
    /// The peer's SSRC the offsets were set for; nil until its first packet.
    var peerSSRC: UInt32?
}

extension Leg {
    /// Starts relaying with `peer` (on this worker). What the leg was sending stops.
    func link(to peer: Leg) {
        confinement.check()
        if let playback = sourceObject as? PlaybackSource { playback.stop() }
        sourceObject = nil
        roomOutput = nil
        relay = RelayState(peer: peer)
        owner?.wakeOnArrival(self, true)
    }

    /// Ends the relay this leg is part of, on both legs (on this worker).
    func unlinkRelay() {
        guard let r = relay else { return }
        relay = nil
        owner?.wakeOnArrival(self, false)
        if r.peer.relay?.peer === self {
            r.peer.relay = nil
            r.peer.owner?.wakeOnArrival(r.peer, false)
        }
    }

    /// Whether this leg must still decode its inbound audio while relaying: a recording on
    /// either leg (a stereo recording hears both) or a sink listens.
    var relayNeedsAudio: Bool {
        guard let r = relay else { return true }
        return recorder != nil || r.peer.recorder != nil || !sinks.isEmpty
    }

    /// Sends an inbound packet (`data`, parsed as `header`) out of the peer leg, rewritten
    /// into the peer's outbound stream. Per packet: no allocation.
    func relayPacket(_ data: UnsafeRawBufferPointer, header: RTPHeader, isEvent: Bool) {
        guard let peer = relay?.peer else { return }
        peer.forward(data, header: header, isEvent: isEvent)
        statistics.packetsRelayed += 1
    }

    /// The peer side of `relayPacket`: this leg sends a packet that came in on the peer.
    private func forward(_ data: UnsafeRawBufferPointer, header: RTPHeader, isEvent: Bool) {
        guard var r = relay, configuration.direction.sends, let remote else {
            statistics.relayDropped += 1
            return
        }
        let pt: UInt8
        if isEvent {
            guard let te = configuration.telephoneEventPayloadType else {
                statistics.relayDropped += 1
                return
            }
            pt = te
        } else {
            pt = configuration.payloadType
        }
        guard data.count <= packet.count, data.count >= 12 else {
            statistics.relayDropped += 1
            return
        }
        if r.peerSSRC != header.ssrc {
            // The first packet (or a new stream from the peer): continue from what this leg
            // sent last, so the far end sees no break.
            r.peerSSRC = header.ssrc
            // Safe: sequence numbers and timestamps wrap by design.
            r.sequenceOffset = sequence &- header.sequenceNumber
            r.timestampOffset = timestamp &- header.timestamp
            first = false
        }
        // Safe: as above.
        let outSequence = header.sequenceNumber &+ r.sequenceOffset
        let outTimestamp = header.timestamp &+ r.timestampOffset
        relay = r
        packet.copyMemory(from: data)
        // Bytes 1 (marker and payload type), 2–3 (sequence), 4–7 (timestamp), 8–11 (SSRC).
        packet[1] = (data[1] & 0x80) | pt
        packet[2] = UInt8(truncatingIfNeeded: outSequence >> 8)
        packet[3] = UInt8(truncatingIfNeeded: outSequence)
        packet[4] = UInt8(truncatingIfNeeded: outTimestamp >> 24)
        packet[5] = UInt8(truncatingIfNeeded: outTimestamp >> 16)
        packet[6] = UInt8(truncatingIfNeeded: outTimestamp >> 8)
        packet[7] = UInt8(truncatingIfNeeded: outTimestamp)
        packet[8] = UInt8(truncatingIfNeeded: ssrc >> 24)
        packet[9] = UInt8(truncatingIfNeeded: ssrc >> 16)
        packet[10] = UInt8(truncatingIfNeeded: ssrc >> 8)
        packet[11] = UInt8(truncatingIfNeeded: ssrc)
        var address = remote.0
        if rtp.send(UnsafeRawBufferPointer(rebasing: packet[0..<data.count]), to: &address, length: remote.1) {
            statistics.packetsSent += 1
            statistics.bytesSent += data.count - 12
            // Safe: RTCP's octet count wraps (RFC 3550 §6.4.1).
            octetsSent &+= UInt32(truncatingIfNeeded: data.count - 12)
        } else {
            statistics.sendErrors += 1
        }
        // The leg's own next packet (a digit, audio after the relay) follows the newest
        // relayed one. Safe: wrap-aware comparison.
        if Int16(bitPattern: outSequence &- sequence) >= 0 { sequence = outSequence &+ 1 }
    }

    /// The outbound half of a tick while the peer's packets go out of this leg: no audio of
    /// its own, only the digits queued with `sendDigits` (RFC 4733). A packet of its own
    /// takes the next sequence number, so later relayed ones shift by one.
    func relayTickOutbound(to remote: (sockaddr_storage, socklen_t)) {
        guard sendingEvent != nil || !pendingDigits.isEmpty || eventGapTicks > 0 else { return }
        let before = sequence
        _ = sendEventPacket(to: remote)
        // Safe: wrap-aware difference of two sequence numbers.
        let used = sequence &- before
        if used != 0, var r = relay {
            r.sequenceOffset &+= used
            relay = r
        }
    }
}

/// Two legs joined the cheapest way they allow: relayed undecoded when their codecs match
/// (`LegRelay`), transcoded through decoded PCM otherwise (`LegBridge`). Either way the
/// second leg moves to the first's worker, and what each was sending stops.
public enum LegJoin: Sendable {
    /// Same codec: packets relayed.
    case relayed(LegRelay)
    /// Different codecs or rates: decoded, resampled, encoded.
    case transcoded(LegBridge)

    /// Joins `a` and `b` from their next frames on.
    public static func join(_ a: MediaLeg, _ b: MediaLeg) async -> LegJoin {
        let (ca, cb) = (await a.currentConfiguration(), await b.currentConfiguration())
        if let ca, let cb, LegRelay.canRelay(ca, cb) { return .relayed(await LegRelay.start(a, b)) }
        await b.move(toWorkerOf: a)
        a.stopPlayback()
        b.stopPlayback()
        return .transcoded(LegBridge(a, b, resamplerQuality: a.resamplerQuality))
    }

    /// Whether the packets are relayed undecoded.
    public var isRelayed: Bool {
        if case .relayed = self { return true }
        return false
    }

    /// Separates the legs; each goes back to silence.
    public func stop() async {
        switch self {
        case .relayed(let r): await r.stop()
        case .transcoded(let b): b.stop()
        }
    }
}

extension MediaLeg {
    /// The leg's configuration as its worker has it now; nil once the leg is closed.
    public func currentConfiguration() async -> LegConfiguration? {
        let leg = self.leg
        return await withCheckedContinuation { (c: CheckedContinuation<LegConfiguration?, Never>) in
            let once = OnceResume(c)
            leg.submit { _ in once.resume(leg.configuration) }
            // A closed leg runs no more commands.
            if leg.owner == nil { once.resume(nil) }
        }
    }
}

/// Resumes a continuation at most once.
private final class OnceResume<T: Sendable>: Sendable {
    private let c: Mutex<CheckedContinuation<T, Never>?>
    init(_ c: CheckedContinuation<T, Never>) { self.c = Mutex(c) }
    func resume(_ value: T) { c.withLock { $0.take() }?.resume(returning: value) }
}
