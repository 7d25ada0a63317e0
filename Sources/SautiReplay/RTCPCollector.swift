import SautiWire

/// Gathers RTCP of a capture into a per-SSRC summary.
struct RTCPCollector {
    private var packets = 0
    private var malformed = 0
    private var sources: [UInt32: ReplayReport.RTCPSource] = [:]
    private var sourceOrder: [UInt32] = []
    private var reports: [Pair: ReplayReport.ReceptionReport] = [:]
    private var reportOrder: [Pair] = []
    private var lastJitter: [Pair: UInt32] = [:]

    private struct Pair: Hashable {
        var reporter: UInt32
        var source: UInt32
    }

    mutating func ingest(_ datagram: UnsafeRawBufferPointer) {
        let parsed: [RTCPPacket]
        do {
            parsed = try RTCP.parseCompound(datagram)
        } catch {
            malformed += 1
            return
        }
        packets += 1
        for p in parsed {
            switch p {
            case .senderReport(let ssrc, let sender, let blocks):
                update(ssrc) {
                    $0.senderReports += 1
                    $0.lastSenderPacketCount = sender.packetCount
                    $0.lastSenderOctetCount = sender.octetCount
                    $0.lastSenderRtpTimestamp = sender.rtpTimestamp
                    $0.lastSenderNtpSeconds = Double(sender.ntpTimestamp >> 32)
                        + Double(sender.ntpTimestamp & 0xFFFF_FFFF) / 4_294_967_296
                }
                add(blocks, from: ssrc)
            case .receiverReport(let ssrc, let blocks):
                update(ssrc) { $0.receiverReports += 1 }
                add(blocks, from: ssrc)
            case .sourceDescription(let chunks):
                for c in chunks {
                    if let cname = c.items.first(where: { $0.type == 1 }) {
                        update(c.ssrc) { $0.cname = cname.text }
                    }
                }
            case .goodbye(let list, _):
                for s in list { update(s) { $0.byes += 1 } }
            case .other:
                continue
            }
        }
    }

    private mutating func update(_ ssrc: UInt32, _ change: (inout ReplayReport.RTCPSource) -> Void) {
        if sources[ssrc] == nil {
            sources[ssrc] = .init(
                ssrc: hex(ssrc), cname: nil, senderReports: 0, receiverReports: 0, byes: 0, lastSenderPacketCount: nil,
                lastSenderOctetCount: nil, lastSenderRtpTimestamp: nil, lastSenderNtpSeconds: nil)
            sourceOrder.append(ssrc)
        }
        change(&sources[ssrc]!)
    }

    private mutating func add(_ blocks: [RTCPReportBlock], from reporter: UInt32) {
        for b in blocks {
            let key = Pair(reporter: reporter, source: b.ssrc)
            let fraction = Double(b.fractionLost) / 256
            if var r = reports[key] {
                r.reports += 1
                r.lastFractionLost = fraction
                r.maxFractionLost = max(r.maxFractionLost, fraction)
                r.cumulativeLost = Int(b.cumulativeLost)
                r.lastJitterUnits = b.jitter
                r.maxJitterUnits = max(r.maxJitterUnits, b.jitter)
                r.highestSequence = b.highestSequence
                reports[key] = r
            } else {
                reports[key] = .init(
                    reporter: hex(reporter), source: hex(b.ssrc), reports: 1, lastFractionLost: fraction,
                    maxFractionLost: fraction, cumulativeLost: Int(b.cumulativeLost), lastJitterUnits: b.jitter,
                    maxJitterUnits: b.jitter, lastJitterMs: nil, highestSequence: b.highestSequence)
                reportOrder.append(key)
            }
        }
    }

    func summary(clockOf: (UInt32) -> Int?) -> ReplayReport.RTCPSummary {
        .init(
            packets: packets, malformed: malformed, sources: sourceOrder.map { sources[$0]! },
            receptionReports: reportOrder.map { key in
                var r = reports[key]!
                if let clock = clockOf(key.source) { r.lastJitterMs = Double(r.lastJitterUnits) * 1000 / Double(clock) }
                return r
            })
    }
}
