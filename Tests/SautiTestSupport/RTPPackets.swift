/// One RTP packet as a test's far end sees it.
public struct SeenPacket: Sendable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequence: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var payload: [UInt8]

    /// Parses `b`; nil for anything that is not RTP version 2 (RTCP included).
    public init?(_ b: [UInt8]) {
        guard b.count >= 12, b[0] >> 6 == 2, !(b[1] >= 200 && b[1] <= 204) else { return nil }
        marker = b[1] & 0x80 != 0
        payloadType = b[1] & 0x7F
        sequence = UInt16(b[2]) << 8 | UInt16(b[3])
        timestamp = UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7])
        ssrc = UInt32(b[8]) << 24 | UInt32(b[9]) << 16 | UInt32(b[10]) << 8 | UInt32(b[11])
        payload = Array(b[12...])
    }
}

/// An RTP packet as a far end writes it.
public func rtpPacket(
    pt: UInt8, marker: Bool = false, sequence: UInt16, timestamp: UInt32, ssrc: UInt32, payload: [UInt8]
) -> [UInt8] {
    var b: [UInt8] = [0x80, (marker ? 0x80 : 0) | pt, UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
    for shift in [24, 16, 8, 0] { b.append(UInt8((timestamp >> UInt32(shift)) & 0xFF)) }
    for shift in [24, 16, 8, 0] { b.append(UInt8((ssrc >> UInt32(shift)) & 0xFF)) }
    return b + payload
}

/// Checks that `packets` (audio and RFC 4733, in arrival order) are one continuous stream:
/// one SSRC, sequence numbers each one more than the last, audio timestamps moving on by
/// whole frames of `frameSamples`. More than one frame is a gap in time, which a sender
/// marks so (a stall of the machine at a switch: up to a second is allowed); backwards,
/// part of a frame or further is a broken stream. Returns the problems found.
public func continuityProblems(_ packets: [SeenPacket], audioPT: UInt8, frameSamples: Int32 = 160) -> [String] {
    var problems: [String] = []
    guard let first = packets.first else { return ["no packets"] }
    if packets.contains(where: { $0.ssrc != first.ssrc }) {
        problems.append("more than one SSRC: \(Set(packets.map(\.ssrc)))")
    }
    var lastAudio: SeenPacket?
    for (i, p) in packets.enumerated() {
        if i > 0, p.sequence != packets[i - 1].sequence &+ 1 {
            problems.append("sequence \(packets[i - 1].sequence) then \(p.sequence) at packet \(i)")
        }
        guard p.payloadType == audioPT else { continue }
        if let l = lastAudio {
            let step = Int32(bitPattern: p.timestamp &- l.timestamp)
            if step <= 0 || step % frameSamples != 0 || step > frameSamples * 50 {
                problems.append("timestamp step \(step) at packet \(i)")
            }
        }
        lastAudio = p
    }
    return problems
}
