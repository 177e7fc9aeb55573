import Foundation

/// A date-time as the API sent it (`2023-11-07T05:31:56Z`, `2021-01-01T00:00:00+00:00`, with or without
/// fractional seconds), which round-trips as it came, with the parsed ``date`` when it parses.
public struct Timestamp: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The common spelling (`2023-11-07T05:31:56Z`: UTC, whole seconds) is kept as its instant alone and
    /// spelled again when asked: its 20 bytes do not fit in a string's inline storage, and the daemon keeps
    /// two timestamps for every listed connection (about 130 bytes of heap together in a heap profile at 10k
    /// connections, 13 MB at 100k).
    /// Any other spelling is kept verbatim, behind a reference: inline, its string and optional date made
    /// every timestamp 25 bytes (32 with an optional's padding) for a case the API hardly uses, and a
    /// connection holds two (``Connection``).
    private enum Storage: Hashable, Sendable {
        case canonical(Date)
        case verbatim(Verbatim)
    }

    private final class Verbatim: Hashable, Sendable {
        let text: String
        let date: Date?

        init(_ text: String, _ date: Date?) {
            self.text = text
            self.date = date
        }

        static func == (a: Verbatim, b: Verbatim) -> Bool { a.text == b.text && a.date == b.date }
        func hash(into hasher: inout Hasher) {
            hasher.combine(text)
            hasher.combine(date)
        }
    }

    private let storage: Storage

    /// The string as the API sent it.
    public var rawValue: String {
        switch storage {
        case .canonical(let date): Self.canonical(date)!
        case .verbatim(let verbatim): verbatim.text
        }
    }

    /// The instant, or nil when the string is not ISO 8601.
    public var date: Date? {
        switch storage {
        case .canonical(let date): date
        case .verbatim(let verbatim): verbatim.date
        }
    }

    public init(rawValue: String) {
        // Spelled back to check: `rawValue` of a canonical timestamp is that spelling.
        if let date = Self.parseCanonical(rawValue), Self.canonical(date) == rawValue {
            storage = .canonical(date)
            return
        }
        let date = Timestamp.parse(rawValue)
        if let date, Self.canonical(date) == rawValue {
            storage = .canonical(date)
        } else {
            storage = .verbatim(Verbatim(rawValue, date))
        }
    }

    /// Formats `date` the way Leen's examples do: UTC with a `Z`, whole seconds.
    public init(_ date: Date) {
        let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        storage =
            Self.canonical(whole) != nil
            ? .canonical(whole) : .verbatim(Verbatim(whole.formatted(Date.ISO8601FormatStyle()), whole))
    }

    /// Whether the instant is kept without its string (tests).
    var isCanonical: Bool {
        if case .canonical = storage { true } else { false }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` for a whole second of the years 1583 to 9999, else nil (before 1583 Foundation
    /// counts in the Julian calendar, and such a string is simply kept). By hand (days to a civil date as in
    /// Howard Hinnant's `civil_from_days`): it runs for every timestamp decoded, to decide whether the string
    /// needs keeping.
    static func canonical(_ date: Date) -> String? {
        let interval = date.timeIntervalSince1970
        guard interval.rounded(.down) == interval, let seconds = Int64(exactly: interval) else { return nil }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let second = seconds - days * 86_400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        guard (1_583...9_999).contains(year) else { return nil }
        return String(unsafeUninitializedCapacity: 20) { buffer in
            func put(_ value: Int64, _ width: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(day, 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(second / 3_600, 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(second / 60 % 60, 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(second % 60, 2, at: 17)
            buffer[19] = UInt8(ascii: "Z")
            return 20
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public var description: String { rawValue }

    /// The instant of a string in the common spelling (``canonical(_:)``'s, a valid date and time of the years
    /// 1583 to 9999), by hand; nil for anything else, which ``parse(_:)`` reads. By hand because every
    /// decoded connection has two timestamps, and `Date.ISO8601FormatStyle` for them was 1.5% of the daemon's
    /// CPU at 100k connections once the rest of the decoding was by hand (perf, docs/benchmarks.md).
    static func parseCanonical(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
                bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
                bytes[19] == UInt8(ascii: "Z")
            else { return nil }
            func number(_ start: Int, _ count: Int) -> Int? {
                var value = 0
                for index in start..<(start + count) {
                    let digit = bytes[index] &- UInt8(ascii: "0")
                    guard digit < 10 else { return nil }
                    value = value * 10 + Int(digit)
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                (1_583...9_999).contains(year), (1...12).contains(month), hour < 24, minute < 60, second < 60
            else { return nil }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            guard (1...days).contains(day) else { return nil }
            // Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`), years counted from March.
            let shiftedYear = month <= 2 ? year - 1 : year
            let era = shiftedYear / 400
            let yearOfEra = shiftedYear - era * 400
            let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            let sinceEpoch = era * 146_097 + dayOfEra - 719_468
            return Date(timeIntervalSince1970: Double(sinceEpoch * 86_400 + hour * 3_600 + minute * 60 + second))
        }
    }

    static func parse(_ text: String) -> Date? {
        if let d = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return d }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
