import Foundation
import LeenAPI

/// Everything the monitor knows at one instant: every configured organization's state and the daemon's
/// counters. What a scrape renders, `/status` serves and the STATUS line summarises; a value, so readers
/// never wait on a poll and a poll never waits on a reader.
public struct MonitorSnapshot: Sendable {
    public var takenAt: Date
    public var organizations: [Organization]
    public var daemon: DaemonCounters

    public init(takenAt: Date = Date(), organizations: [Organization], daemon: DaemonCounters) {
        self.takenAt = takenAt
        self.organizations = organizations
        self.daemon = daemon
    }

    public struct Organization: Sendable {
        public var id: OrganizationID
        public var name: String?
        public var state: OrganizationState

        public init(id: OrganizationID, name: String?, state: OrganizationState) {
            self.id = id
            self.name = name
            self.state = state
        }
    }

    /// The STATUS line (see ``StatusSummary/line``).
    public var summary: String { StatusSummary(organizations).line }
}
