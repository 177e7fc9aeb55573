import Foundation
import LeenAPI

/// Reads the JSON of the largest state files by hand: the organization files and `credentials.json`, at a
/// start with state.
///
/// Written by hand because of a measurement: `JSONDecoder` over them was 42% of a restart's CPU at 100k
/// connections (perf; 59 MB of organization files and a 12 MB `credentials.json`).
///
/// An accelerator only. It reads what the writers write (``StateFileJSON``, ``OrganizationFileEncoder`` and
/// `JSONEncoder` for `credentials.json`): known members, each once, no `null`, integers, and dates in
/// whole UTC seconds. Anything else, from a damaged file to a format it does not know, makes it give up
/// (``Mismatch``), and `JSONDecoder` reads the file as before: what a file means and the errors it gets stay
/// `JSONDecoder`'s. `StateFileReaderTests` checks that both read the same from the writers' files.
///
/// Every byte is read through ``peek()``, which checks the bounds: the fuzz targets feed it any input.
struct StateFileReader {
    /// The reader gives up; `JSONDecoder` reads the file.
    struct Mismatch: Error {}

    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    /// Strings read by ``repeatedString()``, each kept once per file.
    private var repeated: [String: String] = [:]

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// What `body` reads from the whole of `data`, or nil when it gives up or leaves more than whitespace.
    static func read<T>(_ data: Data, _ body: (inout StateFileReader) throws(Mismatch) -> T) -> T? {
        data.withUnsafeBytes { bytes in
            var reader = StateFileReader(bytes: bytes)
            guard let value = try? body(&reader) else { return nil }
            reader.skipWhitespace()
            return reader.position == bytes.count ? value : nil
        }
    }

    /// Sets `slot` to `value`; a member named twice gives up (how `JSONDecoder` reads repeats is its own).
    static func once<T>(_ slot: inout T?, _ value: T) throws(Mismatch) {
        guard slot == nil else { throw Mismatch() }
        slot = value
    }

    // MARK: Structure

    /// A member's name, matched against literals (`case "alert":` in a `switch`). A name with escapes
    /// matches none.
    struct Key {
        fileprivate let raw: RawString

        static func ~= (pattern: StaticString, key: Key) -> Bool {
            let name = key.raw.bytes
            guard !key.raw.escaped, pattern.utf8CodeUnitCount == name.count else { return false }
            guard let base = name.baseAddress, name.count > 0 else { return true }
            return memcmp(pattern.utf8Start, base, name.count) == 0
        }
    }

    /// Each member of an object, by name; `member` reads its value.
    mutating func object(_ member: (inout Self, Key) throws(Mismatch) -> Void) throws(Mismatch) {
        try expect(UInt8(ascii: "{"))
        if try closes(UInt8(ascii: "}")) { return }
        repeat {
            let key = Key(raw: try rawString())
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
        } while try continues(closing: UInt8(ascii: "}"))
    }

    /// An object whose member names are data (a dictionary); a name twice gives up.
    mutating func dictionary<Value>(_ value: (inout Self) throws(Mismatch) -> Value) throws(Mismatch) -> [String: Value] {
        var result: [String: Value] = [:]
        try object { reader, key throws(Mismatch) in
            let name = try Self.string(key.raw)
            guard result.updateValue(try value(&reader), forKey: name) == nil else { throw Mismatch() }
        }
        return result
    }

    /// An object's members in order, names as data; a repeated name is left to the caller.
    mutating func members<Value>(_ value: (inout Self) throws(Mismatch) -> Value) throws(Mismatch) -> [(key: String, value: Value)] {
        var result: [(key: String, value: Value)] = []
        try object { reader, key throws(Mismatch) in result.append((try Self.string(key.raw), try value(&reader))) }
        return result
    }

    mutating func array<Element>(_ element: (inout Self) throws(Mismatch) -> Element) throws(Mismatch) -> [Element] {
        try expect(UInt8(ascii: "["))
        var result: [Element] = []
        if try closes(UInt8(ascii: "]")) { return result }
        repeat { result.append(try element(&self)) } while try continues(closing: UInt8(ascii: "]"))
        return result
    }

    // MARK: Values

    mutating func bool() throws(Mismatch) -> Bool {
        skipWhitespace()
        if literal("true") { return true }
        if literal("false") { return false }
        throw Mismatch()
    }

    /// An integer in `Int`'s range: digits with an optional minus, no fraction or exponent.
    mutating func int() throws(Mismatch) -> Int {
        skipWhitespace()
        let negative = peek() == UInt8(ascii: "-")
        if negative { position += 1 }
        let magnitude = try digits()
        if negative {
            guard magnitude <= UInt64(Int.max) + 1 else { throw Mismatch() }
            return magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude)
        }
        guard let value = Int(exactly: magnitude) else { throw Mismatch() }
        return value
    }

    /// A non-negative integer in `UInt64`'s range.
    mutating func uint64() throws(Mismatch) -> UInt64 {
        skipWhitespace()
        return try digits()
    }

    mutating func string() throws(Mismatch) -> String { try Self.string(rawString()) }

    /// A string that many values of a file repeat (each connection's organization id, the health's
    /// description): read once, then shared, so a restored state holds one copy per file rather than one per
    /// connection, as a polled one does (`PageMemo`). At most 64 different strings are kept for sharing.
    mutating func repeatedString() throws(Mismatch) -> String {
        let text = try string()
        if let kept = repeated[text] { return kept }
        if repeated.count < 64 { repeated[text] = text }
        return text
    }

    /// A date as `JSONEncoder`'s `.iso8601` writes a whole second (`2026-12-01T07:34:32Z`), in the years
    /// 1970 to 9999; any other spelling gives up (and is `JSONDecoder`'s to judge).
    mutating func date() throws(Mismatch) -> Date {
        let raw = try rawString()
        let text = raw.bytes
        guard !raw.escaped, text.count == 20, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"),
            text[10] == UInt8(ascii: "T"), text[13] == UInt8(ascii: ":"), text[16] == UInt8(ascii: ":"),
            text[19] == UInt8(ascii: "Z")
        else { throw Mismatch() }
        func number(_ start: Int, _ count: Int) throws(Mismatch) -> Int {
            var value = 0
            for offset in start..<start + count {
                let digit = Int(text[offset]) - Int(UInt8(ascii: "0"))
                guard (0...9).contains(digit) else { throw Mismatch() }
                value = value * 10 + digit
            }
            return value
        }
        let year = try number(0, 4), month = try number(5, 2), day = try number(8, 2)
        let hour = try number(11, 2), minute = try number(14, 2), second = try number(17, 2)
        guard (1970...9999).contains(year), (1...12).contains(month),
            (1...Self.days(inMonth: month, of: year)).contains(day), hour < 24, minute < 60, second < 60
        else { throw Mismatch() }
        let seconds = Self.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    // MARK: Bytes

    /// A string's bytes between the quotes, as written.
    fileprivate struct RawString {
        var bytes: UnsafeRawBufferPointer
        /// Has a backslash.
        var escaped: Bool
        /// Every byte below 0x80.
        var ascii: Bool
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = peek(),
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\t")
        {
            position += 1
        }
    }

    private mutating func expect(_ byte: UInt8) throws(Mismatch) {
        skipWhitespace()
        guard peek() == byte else { throw Mismatch() }
        position += 1
    }

    /// Takes `byte` (an empty object's or array's end) if it is next.
    private mutating func closes(_ byte: UInt8) throws(Mismatch) -> Bool {
        skipWhitespace()
        guard peek() == byte else { return false }
        position += 1
        return true
    }

    /// After a member or element: true for a comma (another follows), false for `closing`.
    private mutating func continues(closing: UInt8) throws(Mismatch) -> Bool {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: ","):
            position += 1
            return true
        case closing:
            position += 1
            return false
        default:
            throw Mismatch()
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - position >= count,
            memcmp(word.utf8Start, bytes.baseAddress! + position, count) == 0
        else { return false }
        position += count
        return true
    }

    /// Digits without a leading zero (but `0` itself), not followed by a fraction or an exponent.
    private mutating func digits() throws(Mismatch) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { throw Mismatch() }
            value = sum
            position += 1
        }
        let count = position - start
        guard count > 0, count == 1 || bytes[start] != UInt8(ascii: "0") else { throw Mismatch() }
        if let next = peek(), next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            throw Mismatch()
        }
        return value
    }

    private mutating func rawString() throws(Mismatch) -> RawString {
        try expect(UInt8(ascii: "\""))
        let start = position
        var escaped = false
        var high: UInt8 = 0
        while true {
            let plain = JSONStringBytes.plain(bytes, from: position)
            position += plain.count
            if plain.nonASCII { high = 0x80 }
            guard let byte = peek() else { throw Mismatch() }
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw Mismatch() }  // JSON escapes control characters
            if byte == UInt8(ascii: "\\") {
                escaped = true
                position += 1  // the escaped byte is skipped below, so an escaped quote does not end the string
                guard peek() != nil else { throw Mismatch() }
            }
            high |= byte
            position += 1
        }
        let raw = RawString(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), escaped: escaped, ascii: high < 0x80)
        position += 1
        return raw
    }

    /// The string a raw string spells: escapes resolved, UTF-8 checked.
    private static func string(_ raw: RawString) throws(Mismatch) -> String {
        if !raw.escaped {
            if raw.ascii { return String(decoding: raw.bytes, as: UTF8.self) }
            guard let text = String(validating: raw.bytes, as: UTF8.self) else { throw Mismatch() }
            return text
        }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(raw.bytes.count)
        var index = 0
        let text = raw.bytes
        while index < text.count {
            let byte = text[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < text.count else { throw Mismatch() }
            let simple: UInt8? =
                switch text[index] {
                case UInt8(ascii: "\""): UInt8(ascii: "\"")
                case UInt8(ascii: "\\"): UInt8(ascii: "\\")
                case UInt8(ascii: "/"): UInt8(ascii: "/")
                case UInt8(ascii: "b"): 0x08
                case UInt8(ascii: "f"): 0x0C
                case UInt8(ascii: "n"): UInt8(ascii: "\n")
                case UInt8(ascii: "r"): UInt8(ascii: "\r")
                case UInt8(ascii: "t"): UInt8(ascii: "\t")
                default: nil
                }
            if let simple {
                utf8.append(simple)
                index += 1
                continue
            }
            var scalar = try hex4Starting(at: &index, in: text)
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate: only a low one may follow.
                guard index + 1 < text.count, text[index] == UInt8(ascii: "\\"), text[index + 1] == UInt8(ascii: "u")
                else { throw Mismatch() }
                index += 1
                let low = try hex4Starting(at: &index, in: text)
                guard (0xDC00...0xDFFF).contains(low) else { throw Mismatch() }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw Mismatch() }
            utf8.append(contentsOf: UTF8.encode(unicode)!)
        }
        guard let string = String(validating: utf8, as: UTF8.self) else { throw Mismatch() }
        return string
    }

    /// The four hex digits after the `u` at `index`; leaves `index` after them.
    private static func hex4Starting(at index: inout Int, in text: UnsafeRawBufferPointer) throws(Mismatch) -> UInt32 {
        guard text[index] == UInt8(ascii: "u"), index + 4 < text.count else { throw Mismatch() }
        var value: UInt32 = 0
        for offset in 1...4 {
            let byte = text[index + offset]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw Mismatch()
            }
            value = value << 4 | digit
        }
        index += 5
        return value
    }

    // MARK: Calendar

    private static func days(inMonth month: Int, of year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (years from 1970 here).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        // Counted from March, so that the leap day ends a year.
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
