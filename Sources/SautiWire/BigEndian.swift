// Bounds-checked big- and little-endian loads from a raw buffer. Every parser in
// this module reads through these, so a length field that lies can never read
// past the end of the buffer it came in.

extension UnsafeRawBufferPointer {
    /// The byte at `offset`, or nil past the end.
    @inlinable
    func u8(_ offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        return self[offset]
    }

    /// The big-endian 16-bit value at `offset`, or nil if it does not fit.
    @inlinable
    func be16(_ offset: Int) -> UInt16? {
        guard offset >= 0, offset &+ 2 <= count else { return nil }
        return UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    /// The big-endian 32-bit value at `offset`, or nil if it does not fit.
    @inlinable
    func be32(_ offset: Int) -> UInt32? {
        guard offset >= 0, offset &+ 4 <= count else { return nil }
        return UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }

    /// The 16-bit value at `offset` in the given byte order, or nil if it does not fit.
    @inlinable
    func u16(_ offset: Int, bigEndian: Bool) -> UInt16? {
        guard let v = be16(offset) else { return nil }
        return bigEndian ? v : v.byteSwapped
    }

    /// The 32-bit value at `offset` in the given byte order, or nil if it does not fit.
    @inlinable
    func u32(_ offset: Int, bigEndian: Bool) -> UInt32? {
        guard let v = be32(offset) else { return nil }
        return bigEndian ? v : v.byteSwapped
    }

    /// The sub-buffer `offset ..< offset + length`, or nil if it does not fit.
    @inlinable
    func slice(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, length >= 0, offset <= count, length <= count &- offset else { return nil }
        return UnsafeRawBufferPointer(rebasing: self[offset..<(offset + length)])
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Stores `value` big-endian at `offset`. The caller has checked the bounds.
    @inlinable
    func storeBE16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Stores `value` big-endian at `offset`. The caller has checked the bounds.
    @inlinable
    func storeBE32(_ value: UInt32, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 24)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        self[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 3] = UInt8(truncatingIfNeeded: value)
    }
}
