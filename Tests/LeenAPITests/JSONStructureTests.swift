import Foundation
import Testing

@testable import LeenAPI

@Suite("JSON structure: members and elements found without decoding")
struct JSONStructureTests {
    /// What `plainBytes` counts, one byte at a time.
    static func plainBytesOneByOne(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count, bytes[index] >= 0x20, bytes[index] != UInt8(ascii: "\""),
            bytes[index] != UInt8(ascii: "\\")
        {
            index += 1
        }
        return index - start
    }

    @Test("plain string bytes are counted eight at a time up to the first quote, backslash or control byte, and non-ASCII ones noticed")
    func plainBytesMatchOneByOne() {
        var generator = SystemRandomNumberGenerator()
        // Bytes around every boundary the word tests have: below and at 0x20, the two bytes looked for and
        // their neighbours, 0x7F-0x81 and 0xFF (UTF-8), so that borrows between bytes are exercised.
        let alphabet: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x61, 0x7F, 0x80, 0x81, 0xA2, 0xDC, 0xFF]
        for _ in 0..<5_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let plain = Int.random(in: 0...length, using: &generator)
            // Mostly plain bytes, then anything: the first special byte may fall anywhere in a word.
            let bytes = (0..<length).map { index -> UInt8 in
                index < plain
                    ? [0x20, 0x41, 0x7A, 0x80, 0xC3, 0xA9, 0xFF, 0x5B][Int.random(in: 0..<8, using: &generator)]
                    : alphabet.randomElement(using: &generator)!
            }
            let start = Int.random(in: 0...length, using: &generator)
            let (counted, nonASCII) = bytes.withUnsafeBytes { JSONStringBytes.plain($0, from: start) }
            let expected = Self.plainBytesOneByOne(bytes, from: start)
            // It may stop short in the last eight bytes (left to the caller), never past the first special byte.
            #expect(counted <= expected, "\(bytes) from \(start)")
            #expect(counted == expected || start + counted + 8 > bytes.count, "\(bytes) from \(start)")
            #expect(nonASCII == bytes[start..<(start + counted)].contains { $0 >= 0x80 }, "\(bytes) from \(start)")
        }
    }

    @Test("strings with escapes, quotes and control bytes at every offset are followed as before")
    func stringsAtEveryOffset() throws {
        for padding in 0..<17 {
            let text = String(repeating: "é", count: padding % 3) + String(repeating: "a", count: padding)
            let document = "{\"items\": [\"\(text)\\\"q\", {\"k\": \"\(text)\\\\\"}, 1], \"next\": \"\(text)\"}"
            let structure = try #require(
                Array(document.utf8).withUnsafeBytes { JSONStructure($0, arrayKey: "items") }, "\(padding)")
            #expect(structure.elements.count == 3)
            #expect(structure.members.map(\.key) == ["items", "next"])
            // A raw control byte inside a string is not JSON.
            let broken = "{\"items\": [\"\(text)\u{01}\"]}"
            #expect(Array(broken.utf8).withUnsafeBytes { JSONStructure($0, arrayKey: "items") } == nil)
            // An unterminated string is not either.
            let open = "{\"items\": [\"\(text)"
            #expect(Array(open.utf8).withUnsafeBytes { JSONStructure($0, arrayKey: "items") } == nil)
        }
    }
}
