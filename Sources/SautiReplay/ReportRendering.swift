import Foundation

extension ReplayReport {
    /// The report as JSON (snake_case keys, sorted, pretty-printed).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Decodes a report written by `jsonData()`.
    public static func decode(json: Data) throws -> ReplayReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ReplayReport.self, from: json)
    }

    /// The report as a text table for a terminal.
    public func table() -> String {
        var out = ""
        func f(_ v: Double, _ places: Int = 3) -> String { String(format: "%.\(places)f", v) }
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            s.count >= w ? s : (left ? s + String(repeating: " ", count: w - s.count) : String(repeating: " ", count: w - s.count) + s)
        }
        out += "\(file): \(format), \(frames) frames, \(streams.count) RTP stream\(streams.count == 1 ? "" : "s")\n"
        if streams.isEmpty {
            out += "no RTP streams found (\(counters.udpDatagrams) UDP datagrams, none passed as RTP)\n"
        } else {
            let header = [
                pad("Source", 22, left: true), pad("Destination", 22, left: true), pad("SSRC", 10, left: true),
                pad("Codec", 20, left: true), pad("Pkts", 7), pad("Lost", 6), pad("Lost%", 6), pad("Dups", 5),
                pad("OOO", 4), pad("Rst", 3), pad("MinΔms", 8), pad("MeanΔms", 8), pad("MaxΔms", 9), pad("MeanJms", 8),
                pad("MaxJms", 8), pad("Start s", 10), pad("End s", 10), " Digits",
            ]
            out += header.joined(separator: " ") + "\n"
            for s in streams {
                let row = [
                    pad(s.source, 22, left: true), pad(s.destination, 22, left: true), pad(s.ssrc, 10, left: true),
                    pad(s.codecs.joined(separator: ","), 20, left: true), pad("\(s.packets)", 7), pad("\(s.lost)", 6),
                    pad(f(s.lostPercent, 1), 6), pad("\(s.duplicates)", 5), pad("\(s.outOfOrder)", 4),
                    pad("\(s.sequenceRestarts)", 3), pad(f(s.minDeltaMs), 8), pad(f(s.meanDeltaMs), 8),
                    pad(f(s.maxDeltaMs), 9), pad(f(s.meanJitterMs), 8), pad(f(s.maxJitterMs), 8),
                    pad(f(s.startSeconds, 6), 10), pad(f(s.endSeconds, 6), 10), " " + s.digitString,
                ]
                out += row.joined(separator: " ") + "\n"
            }
            for s in streams where !s.digits.isEmpty {
                out += "digits \(s.ssrc): "
                out += s.digits.map { "\($0.digit)@\(f($0.startSeconds))s/\(f($0.durationMs, 0))ms" }.joined(separator: " ")
                out += "\n"
            }
            for s in streams {
                if let w = s.wav {
                    out += "wav \(s.ssrc): \(w.path) (\(f(w.durationSeconds, 2)) s, \(w.concealedFrames) frames concealed, \(w.latePackets) late)\n"
                } else if let why = s.wavSkipped {
                    out += "wav \(s.ssrc): not written: \(why)\n"
                }
            }
        }
        if rtcp.packets > 0 || rtcp.malformed > 0 {
            out += "RTCP: \(rtcp.packets) packets, \(rtcp.malformed) malformed\n"
            for src in rtcp.sources {
                var line = "  \(src.ssrc): \(src.senderReports) SR, \(src.receiverReports) RR"
                if let c = src.cname { line += ", cname \(c)" }
                if let p = src.lastSenderPacketCount, let o = src.lastSenderOctetCount { line += ", sent \(p) pkts/\(o) octets" }
                if src.byes > 0 { line += ", BYE" }
                out += line + "\n"
            }
            for r in rtcp.receptionReports {
                var line = "  \(r.reporter) about \(r.source): \(r.reports) reports, fraction lost \(f(r.lastFractionLost * 100, 1))% (max \(f(r.maxFractionLost * 100, 1))%), cumulative lost \(r.cumulativeLost), jitter \(r.lastJitterUnits)"
                if let ms = r.lastJitterMs { line += " (\(f(ms)) ms)" }
                out += line + "\n"
            }
        }
        let c = counters
        if c.malformedFrames > 0 || c.malformedRtp > 0 || c.ipv4Fragments > 0 || c.unsupportedLinkTypeFrames > 0 {
            out += "dropped: \(c.malformedFrames) malformed frames, \(c.malformedRtp) malformed RTP, \(c.unsupportedLinkTypeFrames) of unsupported link types; IPv4 fragments \(c.ipv4Fragments) (\(c.ipv4Reassembled) reassembled, \(c.ipv4Incomplete) incomplete)\n"
            for e in c.malformedExamples { out += "  \(e)\n" }
        }
        if let e = error {
            out += "error: \(e.message); the report covers the frames before that point\n"
        }
        return out
    }
}
