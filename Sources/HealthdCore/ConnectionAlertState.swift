import Foundation

/// What the alerting rules remember about one connection between polls: whether its problem is soft or
/// hard (confirmed), when it was last reminded, and whether it flaps. Persisted with the connection.
///
/// 44 bytes, not 73: its four optional dates are kept as seconds with NaN for none (an optional `Date` is
/// 9 bytes, 16 with padding), its count in 32 bits. Every monitored connection holds one, in the box of its
/// ``TrackedConnection``, whose size the allocator rounds up to the next of its classes.
public struct ConnectionAlertState: Codable, Hashable, Sendable {
    /// When the connection became UNHEALTHY; nil while it is not.
    public var unhealthySince: Date? {
        get { unhealthySinceSeconds.date }
        set { unhealthySinceSeconds = CompactDate(newValue) }
    }
    /// Successive successful polls that saw it UNHEALTHY, this episode, counted up to what confirmation
    /// needs (the rule's `polls`, at least 2) and not once confirmed. Kept clamped to 32 bits.
    public var unhealthyPolls: Int {
        get { Int(unhealthyPollCount) }
        set { unhealthyPollCount = Int32(clamping: newValue) }
    }
    /// When its problem was confirmed (hard); nil while soft or not unhealthy.
    public var confirmedAt: Date? {
        get { confirmedAtSeconds.date }
        set { confirmedAtSeconds = CompactDate(newValue) }
    }
    /// When `connection_still_unhealthy` was last written for the confirmed problem.
    public var remindedAt: Date? {
        get { remindedAtSeconds.date }
        set { remindedAtSeconds = CompactDate(newValue) }
    }
    /// The latest health status changes within the flapping window (at most `flapping.changes + 1`), oldest
    /// first.
    public var statusChanges: [Date] = []
    /// Since when the connection flaps; nil when it does not.
    public var flappingSince: Date? {
        get { flappingSinceSeconds.date }
        set { flappingSinceSeconds = CompactDate(newValue) }
    }

    private var unhealthySinceSeconds = CompactDate(nil)
    private var confirmedAtSeconds = CompactDate(nil)
    private var remindedAtSeconds = CompactDate(nil)
    private var flappingSinceSeconds = CompactDate(nil)
    private var unhealthyPollCount: Int32 = 0

    /// An optional date in 8 bytes: seconds since the reference date, NaN for none (a date's own seconds
    /// are never NaN). Compared and hashed as the optional date.
    struct CompactDate: Hashable, Sendable {
        private let seconds: Double

        init(_ date: Date?) { seconds = date?.timeIntervalSinceReferenceDate ?? .nan }

        var date: Date? { seconds.isNaN ? nil : Date(timeIntervalSinceReferenceDate: seconds) }

        static func == (a: CompactDate, b: CompactDate) -> Bool { a.date == b.date }
        func hash(into hasher: inout Hasher) { hasher.combine(date) }
    }

    /// The keys and rules of the synthesized coding this type had before its dates were compact: the
    /// state files' fallback reader (`JSONDecoder`) reads what the hand reader does not.
    enum CodingKeys: String, CodingKey {
        case unhealthySince, unhealthyPolls, confirmedAt, remindedAt, statusChanges, flappingSince
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        unhealthySince = try c.decodeIfPresent(Date.self, forKey: .unhealthySince)
        unhealthyPolls = try c.decode(Int.self, forKey: .unhealthyPolls)
        confirmedAt = try c.decodeIfPresent(Date.self, forKey: .confirmedAt)
        remindedAt = try c.decodeIfPresent(Date.self, forKey: .remindedAt)
        statusChanges = try c.decode([Date].self, forKey: .statusChanges)
        flappingSince = try c.decodeIfPresent(Date.self, forKey: .flappingSince)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(unhealthySince, forKey: .unhealthySince)
        try c.encode(unhealthyPolls, forKey: .unhealthyPolls)
        try c.encodeIfPresent(confirmedAt, forKey: .confirmedAt)
        try c.encodeIfPresent(remindedAt, forKey: .remindedAt)
        try c.encode(statusChanges, forKey: .statusChanges)
        try c.encodeIfPresent(flappingSince, forKey: .flappingSince)
    }

    public init() {}

    public var isConfirmed: Bool { confirmedAt != nil }

    /// A connection that stops being tracked, or recovers, takes nothing along but its flapping history.
    mutating func endProblem() {
        unhealthySince = nil
        unhealthyPolls = 0
        confirmedAt = nil
        remindedAt = nil
    }
}
