/// Why a datagram is not a valid RTP packet (RFC 3550 §5.1).
public enum RTPParseError: Error, Equatable, Sendable {
    /// Fewer than the 12 fixed header bytes.
    case tooShort(length: Int)
    /// The version field is not 2.
    case badVersion(UInt8)
    /// The CSRC list runs past the end of the datagram.
    case truncatedCSRC(needed: Int, length: Int)
    /// The header extension's profile/length or its body runs past the end.
    case truncatedExtension(needed: Int, length: Int)
    /// The padding count is zero or larger than what follows the header.
    case badPadding(count: Int, available: Int)
}

/// The fixed RTP header plus where the payload lies, parsed in place from a
/// datagram (RFC 3550 §5.1). Parsing copies nothing: `payloadOffset` and
/// `payloadLength` index the buffer that was parsed.
public struct RTPHeader: Equatable, Sendable {
    /// The version field (always 2 once parsed).
    public var version: UInt8 = 2
    /// The P bit: the packet ends in padding, whose last byte counts it.
    public var padding: Bool = false
    /// The X bit: a header extension follows the CSRC list.
    public var hasExtension: Bool = false
    /// Number of CSRC identifiers (0–15).
    public var csrcCount: UInt8 = 0
    /// The M bit.
    public var marker: Bool = false
    /// The payload type, 0–127.
    public var payloadType: UInt8 = 0
    /// The 16-bit sequence number.
    public var sequenceNumber: UInt16 = 0
    /// The 32-bit media timestamp, in units of the payload's clock rate.
    public var timestamp: UInt32 = 0
    /// The synchronization source.
    public var ssrc: UInt32 = 0
    /// The header extension's profile field (0 when there is none).
    public var extensionProfile: UInt16 = 0
    /// Bytes of header extension body (after its 4-byte profile/length word).
    public var extensionLength: Int = 0
    /// Offset of the payload in the parsed buffer, in bytes.
    public var payloadOffset: Int = 12
    /// Payload length in bytes, padding excluded.
    public var payloadLength: Int = 0
    /// Padding bytes at the end, including the count byte itself.
    public var paddingLength: Int = 0

    /// A header with the given fields and no CSRC, extension or padding.
    public init(
        marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
    }

    /// Parses the header of `packet` (one whole datagram).
    public init(parsing packet: UnsafeRawBufferPointer) throws(RTPParseError) {
        let length = packet.count
        guard length >= 12 else { throw .tooShort(length: length) }
        let b0 = packet[0]
        let b1 = packet[1]
        version = b0 >> 6
        guard version == 2 else { throw .badVersion(version) }
        padding = b0 & 0x20 != 0
        hasExtension = b0 & 0x10 != 0
        csrcCount = b0 & 0x0F
        marker = b1 & 0x80 != 0
        payloadType = b1 & 0x7F
        // Safe: length >= 12 was checked above.
        sequenceNumber = packet.be16(2)!
        timestamp = packet.be32(4)!
        ssrc = packet.be32(8)!
        var offset = 12 + Int(csrcCount) * 4
        guard offset <= length else { throw .truncatedCSRC(needed: offset, length: length) }
        if hasExtension {
            guard let profile = packet.be16(offset), let words = packet.be16(offset + 2) else {
                throw .truncatedExtension(needed: offset + 4, length: length)
            }
            extensionProfile = profile
            extensionLength = Int(words) * 4
            offset += 4 + extensionLength
            guard offset <= length else { throw .truncatedExtension(needed: offset, length: length) }
        }
        payloadOffset = offset
        var end = length
        if padding {
            let count = Int(packet[length - 1])
            guard count > 0, count <= length - offset else {
                throw .badPadding(count: count, available: length - offset)
            }
            paddingLength = count
            end -= count
        }
        payloadLength = end - offset
    }

    /// The CSRC at `index` in `packet`, which must be the buffer this header was parsed from.
    public func csrc(_ index: Int, in packet: UnsafeRawBufferPointer) -> UInt32? {
        guard index >= 0, index < Int(csrcCount) else { return nil }
        return packet.be32(12 + index * 4)
    }

    /// The payload bytes of `packet`, which must be the buffer this header was parsed from.
    public func payload(in packet: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: packet[payloadOffset..<(payloadOffset + payloadLength)])
    }

    /// Writes the fixed header and the CSRC list (at most 15; `csrcCount` is taken from it)
    /// into `buffer`. Returns the bytes written, or nil if `buffer` is too small or the list too long.
    @discardableResult
    public func serialize(into buffer: UnsafeMutableRawBufferPointer, csrcs: some Collection<UInt32>) -> Int? {
        guard csrcs.count <= 15, buffer.count >= 12 + 4 * csrcs.count else { return nil }
        var h = self
        h.csrcCount = UInt8(csrcs.count)
        guard h.serialize(into: buffer) != nil else { return nil }
        var o = 12
        for c in csrcs {
            buffer.storeBE32(c, at: o)
            o += 4
        }
        return o
    }

    /// Bytes `serialize(into:)` writes: 12 plus 4 per CSRC (extension and padding are not written).
    public var serializedLength: Int { 12 + Int(csrcCount) * 4 }

    /// Writes the fixed header (CSRCs left for the caller) into `buffer`.
    /// Returns the bytes written, or nil if `buffer` is too small.
    @discardableResult
    public func serialize(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard buffer.count >= 12 else { return nil }
        buffer[0] = 0x80 | (padding ? 0x20 : 0) | (hasExtension ? 0x10 : 0) | (csrcCount & 0x0F)
        buffer[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        buffer.storeBE16(sequenceNumber, at: 2)
        buffer.storeBE32(timestamp, at: 4)
        buffer.storeBE32(ssrc, at: 8)
        return 12
    }
}

extension RTPHeader {
    /// True if the second byte is in the RTCP packet-type range 192–223 that RFC 5761 §4
    /// reserves, i.e. the datagram is RTCP, not RTP (RTP payload types 64–95 with the marker).
    @inlinable
    public static func looksLikeRTCP(_ packet: UnsafeRawBufferPointer) -> Bool {
        guard packet.count >= 2, packet[0] >> 6 == 2 else { return false }
        return packet[1] >= 192 && packet[1] <= 223
    }
}
