import Foundation

/// What the alerting rules remember about one connection between polls: whether its problem is soft or
/// hard (confirmed), when it was last reminded, and whether it flaps. Persisted with the connection.
public struct ConnectionAlertState: Codable, Hashable, Sendable {
    /// When the connection became UNHEALTHY; nil while it is not.
    public var unhealthySince: Date?
    /// Successive successful polls that saw it UNHEALTHY, this episode, counted up to what confirmation
    /// needs (the rule's `polls`, at least 2) and not once confirmed.
    public var unhealthyPolls = 0
    /// When its problem was confirmed (hard); nil while soft or not unhealthy.
    public var confirmedAt: Date?
    /// When `connection_still_unhealthy` was last written for the confirmed problem.
    public var remindedAt: Date?
    /// The latest health status changes within the flapping window (at most `flapping.changes + 1`), oldest
    /// first.
    public var statusChanges: [Date] = []
    /// Since when the connection flaps; nil when it does not.
    public var flappingSince: Date?

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
