import SautiAudio
import SautiMedia
import SautiWire

/// One pass over a capture.
struct ReplayEngine {
    let options: ReplayOptions
    let fileName: String
    private var flows = FlowTable()
    private var streams: [ReplayStream] = []
    private var candidates = 0
    private var nextOrder = 0
    private var lastSweep = Int64.min / 2
    private var counters = ReplayReport.Counters()
    private var reassembler = IPv4Reassembler()
    /// Payload formats learned from SDP, by the endpoint that receives them.
    private var sdpFormats: [Endpoint: [UInt8: (encoding: String?, clockRate: Int?)]] = [:]
    private var decodeAsPorts: [UInt16: [UInt8: (encoding: String?, clockRate: Int?)]] = [:]
    private var rtcp = RTCPCollector()
    private var firstFrameNanoseconds: Int64?

    init(options: ReplayOptions, fileName: String) {
        self.options = options
        self.fileName = fileName
        for rule in options.decodeAs {
            var map = decodeAsPorts[rule.port] ?? [:]
            if let pt = rule.payloadType { map[pt] = (rule.encoding, rule.clockRate) }
            decodeAsPorts[rule.port] = map
        }
    }

    mutating func run(bytes: UnsafeRawBufferPointer) -> ReplayReport {
        var reader: CaptureReader
        var report = ReplayReport(
            file: fileName, format: "unknown", frames: 0, firstFrameEpochSeconds: nil, streams: [],
            rtcp: .init(packets: 0, malformed: 0, sources: [], receptionReports: []), counters: .init(), error: nil)
        do {
            reader = try CaptureReader(bytes: bytes)
        } catch {
            report.error = .init(offset: error.offset, message: error.description)
            return report
        }
        report.format = reader.format.rawValue
        var frames = 0
        let progressEvery = 1 << 16
        do {
            while let frame = try reader.next() {
                frames += 1
                if frames & (progressEvery - 1) == 0 { options.progress?(reader.position, bytes.count) }
                handle(frame)
            }
        } catch {
            report.error = .init(offset: error.offset, message: error.description)
        }
        options.progress?(bytes.count, bytes.count)
        report.frames = frames
        report.firstFrameEpochSeconds = firstFrameNanoseconds.map { Double($0) / 1e9 }
        counters.ipv4Reassembled = reassembler.reassembled
        counters.ipv4Incomplete = reassembler.incomplete + reassembler.dropped
        report.streams = finishStreams()
        let streams = self.streams
        report.rtcp = rtcp.summary(clockOf: { ssrc in
            streams.first(where: { $0.key.ssrc == ssrc && $0.confirmed }).flatMap { s in
                s.audioCodec?.clockRate
                    ?? s.audioPayloadType.map { Int(s.analysisClock[Int($0)]) }.flatMap { $0 > 0 ? $0 : nil }
            }
        })
        report.counters = counters
        return report
    }

    private mutating func handle(_ frame: CapturedFrame) {
        if firstFrameNanoseconds == nil { firstFrameNanoseconds = frame.timestampNanoseconds }
        switch FrameDecoder.decode(frame.data, linkType: frame.linkType) {
        case .udp(let d):
            handle(d, at: frame.timestampNanoseconds)
        case .ipv4Fragment(let f):
            counters.ipv4Fragments += 1
            if let whole = reassembler.add(f) {
                whole.withUnsafeBytes { buf in
                    if case .udp(let d) = FrameDecoder.udp(buf, src: .v4(f.source), dst: .v4(f.destination)) {
                        handle(d, at: frame.timestampNanoseconds)
                    } else {
                        malformed("frame \(frame.number): reassembled IPv4 datagram has a bad UDP header")
                    }
                }
            }
        case .notUDP:
            counters.nonUdpFrames += 1
        case .unsupportedLinkType:
            counters.unsupportedLinkTypeFrames += 1
        case .malformed(let why):
            malformed("frame \(frame.number) (byte \(frame.fileOffset)): \(why)")
        }
    }

    private mutating func malformed(_ why: String) {
        counters.malformedFrames += 1
        if counters.malformedExamples.count < 10 { counters.malformedExamples.append(why) }
    }

    private mutating func handle(_ d: UDPDatagram, at ns: Int64) {
        counters.udpDatagrams += 1
        let p = d.payload
        guard let b0 = p.u8first, b0 >> 6 == 2 else {
            // Not RTP/RTCP (version 2): perhaps SIP with SDP.
            if let b0 = p.u8first, b0 >= 0x41, b0 <= 0x5A, let body = SIPMessage.sdpBody(p) {
                learnSDP(body)
            } else {
                counters.nonRtpDatagrams += 1
            }
            return
        }
        if RTPHeader.looksLikeRTCP(p) {
            rtcp.ingest(p)
            return
        }
        let header: RTPHeader
        do {
            header = try RTPHeader(parsing: p)
        } catch {
            // Bad padding or extension in what may be a real stream: count it there if known.
            if p.count >= 12 {
                let key = StreamKey(
                    source: d.source, destination: d.destination, ssrc: p.loadBigEndianUInt32(at: 8))
                if let i = flows[key] { streams[i].malformed += 1; counters.malformedRtp += 1; return }
            }
            counters.nonRtpDatagrams += 1
            return
        }
        let key = StreamKey(source: d.source, destination: d.destination, ssrc: header.ssrc)
        let index: Int
        if let i = flows[key] {
            index = i
        } else {
            if !options.ssrcFilter.isEmpty && !options.ssrcFilter.contains(header.ssrc) {
                counters.nonRtpDatagrams += 1
                return
            }
            let (formats, by) = knownFormats(d)
            if by == nil && candidates >= options.maxCandidateFlows {
                sweepCandidates(now: ns)
                if candidates >= options.maxCandidateFlows {
                    counters.nonRtpDatagrams += 1
                    return
                }
            }
            index = streams.count
            nextOrder += 1
            streams.append(
                ReplayStream(
                    key: key, order: nextOrder, firstNanoseconds: ns, firstSequence: header.sequenceNumber,
                    formats: formats, detectedBy: by))
            if by == nil { candidates += 1 }
            flows.insert(index, for: key)
        }
        let relativeMs = Double(ns - (firstFrameNanoseconds ?? ns)) / 1e6
        if streams[index].ingest(
            header, packet: p, at: ns, relativeMilliseconds: relativeMs, outputDirectory: options.outputDirectory,
            opusSampleRate: options.opusSampleRate)
        {
            candidates -= 1
        }
    }

    /// Forgets candidate flows that have been silent for 2 s: a real stream's second packet
    /// comes within a few frames, so they failed probation. Keeps a flood of one-packet
    /// flows from filling the table and locking real streams out.
    private mutating func sweepCandidates(now: Int64) {
        // At most ten sweeps a second of capture time: under a dense flood nothing is old
        // enough to go, and sweeping per packet would cost O(flows) each.
        guard now - lastSweep >= 100_000_000 else { return }
        lastSweep = now
        let horizon = now - 2_000_000_000
        var kept: [ReplayStream] = []
        kept.reserveCapacity(streams.count)
        var removed = 0
        for s in streams {
            if s.confirmed || s.lastNanoseconds >= horizon {
                kept.append(s)
            } else {
                removed += 1
                counters.rejectedFlows += 1
                counters.nonRtpDatagrams += s.statistics.packets
            }
        }
        guard removed > 0 else { return }
        streams = kept
        flows = FlowTable(capacity: max(1024, kept.count))
        for (i, s) in streams.enumerated() { flows.insert(i, for: s.key) }
        candidates -= removed
    }

    /// Formats known for a datagram's endpoints, and how (SDP or decode-as).
    private func knownFormats(_ d: UDPDatagram) -> ([UInt8: (encoding: String?, clockRate: Int?)], String?) {
        if let m = decodeAsPorts[d.destination.port] ?? decodeAsPorts[d.source.port] { return (m, "decode-as") }
        if let m = sdpFormats[d.destination] ?? sdpFormats[d.source] { return (m, "sdp") }
        return ([:], nil)
    }

    private mutating func learnSDP(_ body: String) {
        guard let sdp = try? SessionDescription(parsing: body) else { return }
        counters.sipWithSdp += 1
        for m in sdp.media where m.port != 0 && m.proto.hasPrefix("RTP") {
            guard let address = m.connectionAddress ?? sdp.connectionAddress else { continue }
            var map: [UInt8: (encoding: String?, clockRate: Int?)] = [:]
            for f in m.formats where f.encoding != nil { map[f.payloadType] = (f.encoding, f.clockRate) }
            sdpFormats[Endpoint(address: address, port: m.port)] = map
        }
    }

    private mutating func finishStreams() -> [ReplayReport.Stream] {
        var out: [ReplayReport.Stream] = []
        let base = firstFrameNanoseconds ?? 0
        for i in streams.indices {
            guard streams[i].confirmed else {
                counters.rejectedFlows += 1
                counters.nonRtpDatagrams += streams[i].statistics.packets
                continue
            }
            if let done = streams[i].events.finish() { streams[i].record(done) }
            let s = streams[i]
            var audio: ReplayReport.Audio? = nil
            var skipped: String? = nil
            if options.outputDirectory != nil {
                if let a = s.audio {
                    a.finish()
                    if let err = a.error {
                        skipped = "writing the WAV failed: \(err)"
                    } else {
                        let st = a.jitterBuffer.statistics
                        audio = .init(
                            path: a.path, sampleRate: a.sampleRate, samples: a.samplesOut,
                            durationSeconds: Double(a.samplesOut) / Double(a.sampleRate),
                            decodedFrames: st.decodedFrames, concealedFrames: st.concealedFrames, latePackets: st.late,
                            targetDelayMs: st.targetDelayMilliseconds)
                    }
                } else if let pt = s.audioPayloadType {
                    skipped = "codec \(s.encoding(of: pt) ?? "PT\(pt)") is not decoded by this version"
                } else {
                    skipped = "no audio packets (telephone-events only)"
                }
            }
            let st = s.statistics
            let pts = (0..<128).filter { s.payloadTypeCounts[$0] > 0 }
            let expected = st.expected
            var digitsOut: [ReplayReport.Digit] = []
            for d in s.digits {
                let pt = UInt8(pts.first(where: { s.isTelephoneEvent(UInt8($0)) }) ?? 101)
                let clock = s.eventClock(pt)
                digitsOut.append(
                    .init(
                        digit: String(d.digit), startSeconds: Double(d.firstArrivalNanoseconds - base) / 1e9,
                        durationMs: Double(d.durationUnits) * 1000 / Double(clock), rtpTimestamp: d.rtpTimestamp,
                        endPackets: d.endPackets, startReceived: d.sawMarker))
            }
            let uniqueReceived = Int(s.source.totalReceived) - Int(s.source.duplicates)
            out.append(
                .init(
                    source: "\(s.key.source)", destination: "\(s.key.destination)", ssrc: hex(s.key.ssrc),
                    payloadTypes: pts,
                    codecs: pts.map { pt in
                        s.isTelephoneEvent(UInt8(pt)) ? "telephone-event" : s.encoding(of: UInt8(pt)) ?? "PT\(pt)"
                    },
                    clockRate: s.audioCodec?.clockRate
                        ?? s.audioPayloadType.flatMap { s.analysisClock[Int($0)] > 0 ? Int(s.analysisClock[Int($0)]) : nil },
                    detectedBy: s.detectedBy, packets: st.packets, expected: expected, lost: st.lost,
                    lostPercent: expected == 0 ? 0 : Double(st.lost) * 100 / Double(expected),
                    lostDistinct: max(0, Int(s.source.expected) - uniqueReceived),
                    duplicates: Int(s.source.duplicates), outOfOrder: Int(s.source.outOfOrder),
                    sequenceRestarts: Int(s.source.restarts),
                    minDeltaMs: max(0, st.minDelta), meanDeltaMs: st.meanDelta, maxDeltaMs: st.maxDelta,
                    meanJitterMs: st.meanJitter, maxJitterMs: st.maxJitter, problems: st.hasProblems,
                    startSeconds: Double(s.firstNanoseconds - base) / 1e9, endSeconds: Double(s.lastNanoseconds - base) / 1e9,
                    digits: digitsOut, digitString: digitsOut.map(\.digit).joined(), wav: audio, wavSkipped: skipped))
        }
        return out
    }
}

/// `0x` and eight upper-case hex digits.
func hex(_ v: UInt32) -> String {
    let digits = String(v, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

extension UnsafeRawBufferPointer {
    var u8first: UInt8? { count > 0 ? self[0] : nil }

    func loadBigEndianUInt32(at o: Int) -> UInt32 {
        UInt32(self[o]) << 24 | UInt32(self[o + 1]) << 16 | UInt32(self[o + 2]) << 8 | UInt32(self[o + 3])
    }
}
