/// The bytes inside a JSON string that need no look, found eight at a time: what both of the daemon's
/// hand-written JSON readers (``JSONStructure``, over list pages; the state files' reader) spend most of
/// their time on, since most of a document's bytes are inside strings.
package enum JSONStringBytes {
    /// How many bytes from `start` on are plain string content (not a quote, a backslash or a control byte),
    /// counted a word of eight at a time; it stops before the last word that does not fit, leaving those
    /// bytes to the caller's byte-by-byte loop. `nonASCII`: whether any of them is 0x80 or above.
    @inline(__always)
    package static func plain(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (count: Int, nonASCII: Bool) {
        guard let base = bytes.baseAddress else { return (0, false) }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var index = start
        var seen: UInt64 = 0
        while index + 8 <= bytes.count {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            // The classic tests for "a byte below n" and "a zero byte" (after XOR with the byte looked for):
            // exact as to whether there is one, and the lowest flag is the first such byte (a false flag can
            // only follow a true one, through a borrow). Bytes of 0x80 and above (UTF-8) are never flagged.
            let control = (word &- ones &* 0x20) & ~word
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            let flags = (control | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)) & highs
            if flags != 0 {
                let plain = flags.trailingZeroBitCount / 8
                // Only the plain bytes' high bits: those below the first flagged byte.
                let mask: UInt64 = plain == 0 ? 0 : ~0 >> (64 - 8 * plain)
                seen |= word & mask
                return (index - start + plain, seen & highs != 0)
            }
            seen |= word
            index += 8
        }
        return (index - start, seen & highs != 0)
    }
}
