import Foundation

/// A date-time as the API sent it (`2023-11-07T05:31:56Z`, `2021-01-01T00:00:00+00:00`, with or without
/// fractional seconds), kept verbatim so it round-trips, with the parsed ``date`` when it parses.
public struct Timestamp: Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    /// The instant, or nil when the string is not ISO 8601.
    public let date: Date?

    public init(rawValue: String) {
        self.rawValue = rawValue
        self.date = Timestamp.parse(rawValue)
    }

    /// Formats `date` the way Leen's examples do: UTC with a `Z`, whole seconds.
    public init(_ date: Date) {
        let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        self.rawValue = whole.formatted(Date.ISO8601FormatStyle())
        self.date = whole
    }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public var description: String { rawValue }

    static func parse(_ text: String) -> Date? {
        if let d = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return d }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
