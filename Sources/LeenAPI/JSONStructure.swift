/// Where the members of a JSON object and the elements of one array member lie in a UTF-8 document, found
/// without decoding any value.
///
/// Only structure is checked (strings, nesting, separators); values are left to `JSONDecoder`. A document this
/// cannot follow gives nil, and so does one whose keys `JSONDecoder` might read differently (an escaped or a
/// repeated key): the caller then decodes it as a whole, so any error and any reading is still `JSONDecoder`'s.
struct JSONStructure {
    /// Top-level members: key and value range.
    var members: [(key: String, value: Range<Int>)] = []
    /// The elements of the array member named by `arrayKey`, in order.
    var elements: [Range<Int>] = []
    /// False when that member is absent or not an array.
    var foundArray = false

    init?(_ bytes: UnsafeRawBufferPointer, arrayKey: String) {
        var scanner = Scanner(bytes: bytes)
        guard scanner.skipSpace() == UInt8(ascii: "{") else { return nil }
        scanner.index += 1
        if scanner.skipSpace() == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                guard scanner.skipSpace() == UInt8(ascii: "\""), let keyRange = scanner.string() else { return nil }
                guard scanner.skipSpace() == UInt8(ascii: ":") else { return nil }
                scanner.index += 1
                scanner.skipSpace()
                let start = scanner.index
                // Plain printable ASCII keys only: escapes and other bytes are JSONDecoder's to read.
                guard bytes[keyRange].allSatisfy({ (0x20..<0x7F).contains($0) && $0 != UInt8(ascii: "\\") }) else {
                    return nil
                }
                let key = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[keyRange]), as: UTF8.self)
                guard !members.contains(where: { $0.key == key }) else { return nil }
                if key == arrayKey, scanner.peek == UInt8(ascii: "[") {
                    guard !foundArray, let elements = scanner.arrayElements() else { return nil }
                    self.elements = elements
                    foundArray = true
                } else {
                    guard scanner.value() else { return nil }
                }
                members.append((key, start..<scanner.index))
                switch scanner.skipSpace() {
                case UInt8(ascii: ","): scanner.index += 1
                case UInt8(ascii: "}"): scanner.index += 1
                    guard scanner.skipSpace() == nil else { return nil }
                    return
                default: return nil
                }
            }
        }
        guard scanner.skipSpace() == nil else { return nil }
    }

    func value(of key: String) -> Range<Int>? { members.first { $0.key == key }?.value }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        /// Skips whitespace; returns the next byte (nil at the end).
        @discardableResult
        mutating func skipSpace() -> UInt8? {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return bytes[index]
                }
            }
            return nil
        }

        /// At a quote: moves past the string; returns its contents' range.
        mutating func string() -> Range<Int>? {
            let start = index + 1
            index = start
            while index < bytes.count {
                // Most of a page's bytes are inside strings: they are skipped eight at a time up to the
                // first one that needs a look.
                index += JSONStringBytes.plain(bytes, from: index).count
                guard index < bytes.count else { return nil }
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    index += 1
                    return start..<(index - 1)
                case UInt8(ascii: "\\"): index += 2
                // A raw control byte is not JSON; JSONDecoder reads some (NUL) as the end of its input.
                case 0..<0x20: return nil
                default: index += 1
                }
            }
            return nil
        }

        /// Moves past one value of any kind; false if the structure is broken.
        mutating func value() -> Bool {
            guard let first = peek else { return false }
            switch first {
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: "\""):
                        guard string() != nil else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            return true
                        }
                    case 0x20, 0x09, 0x0A, 0x0D: break
                    case 0..<0x20: return false
                    default: break
                    }
                    index += 1
                }
                return false
            default:
                // A number, true, false or null: up to the next separator.
                let start = index
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                        return index > start
                    // Numbers, true, false and null are letters, digits, signs and points only.
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
                        index += 1
                    default: return false
                    }
                }
                return index > start
            }
        }

        /// At `[`: moves past the array; returns its elements' ranges.
        mutating func arrayElements() -> [Range<Int>]? {
            index += 1
            var elements: [Range<Int>] = []
            if skipSpace() == UInt8(ascii: "]") {
                index += 1
                return elements
            }
            while true {
                skipSpace()
                let start = index
                guard value() else { return nil }
                elements.append(start..<index)
                switch skipSpace() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return elements
                default: return nil
                }
            }
        }
    }
}
