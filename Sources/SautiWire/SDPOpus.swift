/// The `a=fmtp` parameters of Opus (RFC 7587 §6.1): what a side wants to receive
/// (`maxplaybackrate`, `stereo`, `useinbandfec`, `usedtx`, `maxaverage­bitrate`, `cbr`) and
/// what it will send (`sprop-maxcapturerate`, `sprop-stereo`). Absent parameters take the
/// RFC's defaults. Some writers (FreeSWITCH) put `ptime`, `minptime` and `maxptime` in the
/// fmtp as well; they are read from there too.
public struct OpusFormatParameters: Sendable, Equatable, Hashable {
    /// The highest audio rate the writer's decoder plays, in Hz (8,000 ... 48,000).
    public var maxPlaybackRate = 48_000
    /// The highest audio rate the writer captures, in Hz (8,000 ... 48,000).
    public var spropMaxCaptureRate = 48_000
    /// The writer prefers to receive stereo.
    public var stereo = false
    /// The writer will likely send stereo.
    public var spropStereo = false
    /// The writer's decoder can use in-band FEC (so the sender should add it).
    public var useInbandFEC = false
    /// The writer prefers DTX (no packets in silence).
    public var useDTX = false
    /// The highest average bitrate the writer wants to receive, in bits per second
    /// (6,000 ... 510,000); nil for no limit.
    public var maxAverageBitrate: Int?
    /// The writer prefers constant bitrate.
    public var cbr = false
    /// `ptime` in the fmtp, in ms (non-standard; `a=ptime` is the standard place).
    public var ptimeMilliseconds: Int?
    /// `minptime` in the fmtp, in ms (WebRTC writes it).
    public var minptimeMilliseconds: Int?
    /// `maxptime` in the fmtp, in ms.
    public var maxptimeMilliseconds: Int?

    /// The RFC's defaults (everything absent).
    public init() {}

    /// One parameter ignored because it was malformed or out of range (its default used).
    public struct Problem: Sendable, Equatable, Hashable, CustomStringConvertible {
        /// The parameter's name as written.
        public var name: String
        /// Its value as written.
        public var value: String
        /// Why it was ignored.
        public var reason: String

        /// What was ignored and why.
        public var description: String { "opus fmtp \(name)=\(value) ignored: \(reason)" }
    }

    /// Reads an fmtp value (`useinbandfec=1; maxaveragebitrate=30000`). Names are
    /// case-insensitive; `;` or `; ` separate them; unknown names are skipped (RFC 7587
    /// §6.1: "MUST ignore"). A malformed or out-of-range value is ignored (the default
    /// stays) and reported in `problems`; nothing here throws.
    public init(fmtp: String?, problems: inout [Problem]) {
        self.init()
        guard let fmtp else { return }
        for item in fmtp.split(separator: ";") {
            let pair = item.split(separator: "=", maxSplits: 1)
            let name = pair[0].opusTrimmed().lowercased()
            guard !name.isEmpty else { continue }
            let raw = pair.count > 1 ? pair[1].opusTrimmed() : ""
            func bad(_ reason: String) { problems.append(Problem(name: name, value: raw, reason: reason)) }
            func flag() -> Bool? {
                switch raw {
                case "0": return false
                case "1": return true
                default:
                    bad("must be 0 or 1")
                    return nil
                }
            }
            func integer(_ range: ClosedRange<Int>, unit: String) -> Int? {
                guard let v = Int(raw), raw.allSatisfy(\.isASCII) else {
                    bad("not an integer")
                    return nil
                }
                guard range.contains(v) else {
                    bad("out of range \(range.lowerBound) ... \(range.upperBound) \(unit)")
                    return nil
                }
                return v
            }
            switch name {
            case "maxplaybackrate": if let v = integer(8000...48_000, unit: "Hz") { maxPlaybackRate = v }
            case "sprop-maxcapturerate": if let v = integer(8000...48_000, unit: "Hz") { spropMaxCaptureRate = v }
            case "stereo": if let v = flag() { stereo = v }
            case "sprop-stereo": if let v = flag() { spropStereo = v }
            case "useinbandfec": if let v = flag() { useInbandFEC = v }
            case "usedtx": if let v = flag() { useDTX = v }
            case "cbr": if let v = flag() { cbr = v }
            case "maxaveragebitrate": if let v = integer(6000...510_000, unit: "b/s") { maxAverageBitrate = v }
            case "ptime": if let v = integer(3...120, unit: "ms") { ptimeMilliseconds = v }
            case "minptime": if let v = integer(3...120, unit: "ms") { minptimeMilliseconds = v }
            case "maxptime": if let v = integer(3...120, unit: "ms") { maxptimeMilliseconds = v }
            default: continue
            }
        }
    }

    /// The fmtp value this side writes for what it wants to receive and will send:
    /// only what differs from the defaults, plus `useinbandfec` and `stereo=0` spelled out
    /// (peers read a missing `stereo` right, but some log it).
    public var fmtp: String {
        var items: [String] = []
        if let v = minptimeMilliseconds { items.append("minptime=\(v)") }
        if maxPlaybackRate != 48_000 { items.append("maxplaybackrate=\(maxPlaybackRate)") }
        if spropMaxCaptureRate != 48_000 { items.append("sprop-maxcapturerate=\(spropMaxCaptureRate)") }
        items.append("stereo=\(stereo ? 1 : 0)")
        if spropStereo { items.append("sprop-stereo=1") }
        items.append("useinbandfec=\(useInbandFEC ? 1 : 0)")
        if useDTX { items.append("usedtx=1") }
        if let v = maxAverageBitrate { items.append("maxaveragebitrate=\(v)") }
        if cbr { items.append("cbr=1") }
        return items.joined(separator: ";")
    }
}

extension Substring {
    fileprivate func opusTrimmed() -> String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

extension AudioCodecSpec {
    /// Opus (`opus/48000/2`) with `parameters` as this side's fmtp (what it wants to
    /// receive). The clock is always 48,000 and the channels always 2 in SDP (RFC 7587 §7):
    /// an rtpmap with another clock (`opus/16000`) does not match, so an offer with only
    /// that is refused (`noCommonCodec`).
    public static func opus(receiving parameters: OpusFormatParameters) -> AudioCodecSpec {
        AudioCodecSpec(encoding: "opus", clockRate: 48_000, channels: 2, fmtp: parameters.fmtp)
    }

    /// True for Opus.
    public var isOpus: Bool { encoding.lowercased() == "opus" }

    /// Opus, PCMU, PCMA: the preference for a leg that carries wideband audio when the far
    /// end has it.
    public static let widebandPreference: [AudioCodecSpec] = [.opus, .pcmu, .pcma]
}

/// How this side sends Opus to a remote, from the remote's fmtp and `a=ptime`/`a=maxptime`
/// (RFC 7587 §7.1: its receive parameters bound what we send).
public struct OpusSendParameters: Sendable, Equatable {
    /// The remote's fmtp, read.
    public var remote: OpusFormatParameters
    /// Malformed or out-of-range parameters that were ignored (their defaults used).
    public var problems: [OpusFormatParameters.Problem]
    /// The packet duration to send, in ms: 20 unless the remote's `ptime` (attribute or
    /// fmtp) or `maxptime` asks for less (10), or its ptime for more (40, 60).
    public var ptimeMilliseconds: Int

    /// The send side of a negotiated Opus stream.
    public init(fmtp: String?, remotePtimeMilliseconds: Int?, remoteMaxptimeMilliseconds: Int?) {
        var problems: [OpusFormatParameters.Problem] = []
        remote = OpusFormatParameters(fmtp: fmtp, problems: &problems)
        self.problems = problems
        let wanted = remotePtimeMilliseconds ?? remote.ptimeMilliseconds ?? 20
        let cap = remoteMaxptimeMilliseconds ?? remote.maxptimeMilliseconds ?? 120
        // Opus packets of 10, 20, 40 or 60 ms; the nearest at or below both.
        let choices = [60, 40, 20, 10]
        ptimeMilliseconds = choices.first { $0 <= wanted && $0 <= cap } ?? 10
    }

    /// The bitrate to send, in b/s: `local` capped by the remote's `maxaveragebitrate`.
    public func bitrate(local: Int) -> Int { min(local, remote.maxAverageBitrate ?? local) }
}

extension NegotiatedMedia {
    /// For an Opus stream: how to send it (the remote's fmtp and ptime, read); nil for
    /// other codecs.
    public var opusSendParameters: OpusSendParameters? {
        guard codec.isOpus else { return nil }
        return OpusSendParameters(
            fmtp: fmtp, remotePtimeMilliseconds: remotePtimeMilliseconds,
            remoteMaxptimeMilliseconds: remoteMaxptimeMilliseconds)
    }
}
