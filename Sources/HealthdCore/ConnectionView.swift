import Foundation
import LeenAPI

/// What a monitored connection's status is *now*, computed in one place for every output: the STATUS line,
/// `leen-healthd status`, `/status`, `/metrics` and the events.
public enum EffectiveStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case healthy = "HEALTHY"
    case unhealthy = "UNHEALTHY"
    /// The organization's API is failing (the last health is stale), there is no health yet, or Leen sent a
    /// status this build does not know.
    case unknown = "UNKNOWN"
    /// The connection's state is PAUSED: Leen runs no jobs, so its health says nothing current.
    case paused = "PAUSED"
    /// An OAuth connection waits for an administrator to authorise it.
    case oauthPending = "OAUTH_PENDING"
    /// No longer listed by Leen.
    case missing = "MISSING"

    /// The status of `connection` in an organization whose API is failing (`organizationStale`) or not.
    ///
    /// Precedence: a connection Leen no longer lists is missing; a stale organization says nothing about its
    /// connections; a paused connection's health is not current; an OAuth connection waiting for
    /// authorisation has no meaningful health; then the last health, where only the documented values count.
    public init(_ connection: TrackedConnection, organizationStale: Bool) {
        // The fields read one by one, in place: handing the observation to the initialiser below copied it
        // (retaining and releasing each of its strings) for every connection of every `/metrics` flattening
        // and STATUS count, 1.2% of the daemon's CPU at 100k connections (perf).
        self.init(
            missing: connection.missing, organizationStale: organizationStale, state: connection.observation.state,
            oauthPending: connection.observation.oauthPending, healthStatus: connection.observation.healthStatus)
    }

    /// The status of one observation; `missing` when Leen no longer lists the connection.
    public init(_ observation: ConnectionObservation, missing: Bool, organizationStale: Bool) {
        self.init(
            missing: missing, organizationStale: organizationStale, state: observation.state,
            oauthPending: observation.oauthPending, healthStatus: observation.healthStatus)
    }

    private init(
        missing: Bool, organizationStale: Bool, state: ConnectionState?, oauthPending: Bool, healthStatus: HealthStatus?
    ) {
        if missing {
            self = .missing
        } else if organizationStale {
            self = .unknown
        } else if state == .paused {
            self = .paused
        } else if oauthPending {
            self = .oauthPending
        } else {
            switch healthStatus {
            case .healthy?: self = .healthy
            case .unhealthy?: self = .unhealthy
            default: self = .unknown
            }
        }
    }

    /// The three values `leen_connection_status` exports (a one-hot set, for alerting on UNHEALTHY): paused
    /// and OAuth-pending connections are UNKNOWN there, with their own gauges (`leen_connection_state`,
    /// `leen_connection_oauth_pending`); missing ones are not exported at all.
    public enum Exported: String, Sendable, Hashable, CaseIterable {
        case healthy = "HEALTHY"
        case unhealthy = "UNHEALTHY"
        case unknown = "UNKNOWN"
    }

    public var exported: Exported {
        switch self {
        case .healthy: .healthy
        case .unhealthy: .unhealthy
        default: .unknown
        }
    }
}

/// Counts of connections by effective status, and the one-line summary systemd shows as `STATUS=`.
public struct StatusSummary: Sendable, Hashable {
    public var counts: [EffectiveStatus: Int] = [:]
    /// Unhealthy connections whose resolution owner is CUSTOMER (the operator's to fix).
    public var unhealthyCustomer = 0
    public var organizations = 0
    /// Organizations whose last poll failed.
    public var failingOrganizations = 0

    public init() {}

    public init(_ organizations: [MonitorSnapshot.Organization]) {
        for organization in organizations { add(StatusSummary(organization.state)) }
    }

    /// One organization's share. The monitor keeps one per organization, updated when its state changes, and
    /// adds them up for the STATUS line after every poll: counting every connection of the fleet after every
    /// poll made the line's cost grow with the fleet times the organizations.
    public init(_ state: OrganizationState) {
        organizations = 1
        let stale = state.isStale
        // An organization not polled yet is stale but not failing: only a failed poll counts here.
        if state.api.failingSince != nil { failingOrganizations = 1 }
        // Counted by position, then put in the dictionary once per status: a dictionary update per connection
        // hashed the status 100 times per poll (about 1% of the daemon's CPU at 100k connections, perf).
        let statuses = EffectiveStatus.allCases
        var tally = [Int](repeating: 0, count: statuses.count)
        for tracked in state.connections.values {
            let status = EffectiveStatus(tracked, organizationStale: stale)
            tally[status.position] += 1
            if status == .unhealthy, tracked.observation.healthResolutionOwner == .customer {
                unhealthyCustomer += 1
            }
        }
        for (status, count) in zip(statuses, tally) where count > 0 { counts[status] = count }
    }

    /// Whether the shares of the two states are the same without counting them again: the same
    /// connections, staleness and failing poll. A poll that found nothing new leaves the state's connections
    /// as they were (the same storage, which compares equal at once); counting them again after every such
    /// poll was 1.6% of the daemon's CPU at 100k connections on a quiet fleet (perf).
    public static func sameShare(_ state: OrganizationState, _ other: OrganizationState) -> Bool {
        state.isStale == other.isStale && (state.api.failingSince != nil) == (other.api.failingSince != nil)
            && state.connections == other.connections
    }

    public mutating func add(_ other: StatusSummary) {
        counts.merge(other.counts, uniquingKeysWith: +)
        unhealthyCustomer += other.unhealthyCustomer
        organizations += other.organizations
        failingOrganizations += other.failingOrganizations
    }

    /// Monitored connections that Leen still lists.
    public var listed: Int { counts.filter { $0.key != .missing }.values.reduce(0, +) }

    /// `412 connections: 405 healthy, 6 unhealthy (4 CUSTOMER), 1 unknown; API ok`, with paused, OAuth
    /// and missing counts added when there are any.
    public var line: String {
        var parts = [
            "\(counts[.healthy, default: 0]) healthy",
            "\(counts[.unhealthy, default: 0]) unhealthy (\(unhealthyCustomer) CUSTOMER)",
            "\(counts[.unknown, default: 0]) unknown",
        ]
        for (status, words) in [(EffectiveStatus.paused, "paused"), (.oauthPending, "waiting for OAuth"), (.missing, "missing")]
        where counts[status, default: 0] > 0 {
            parts.append("\(counts[status, default: 0]) \(words)")
        }
        let api =
            failingOrganizations == 0
            ? "API ok" : "API failing for \(failingOrganizations) of \(organizations) organizations"
        return "\(listed) connections: " + parts.joined(separator: ", ") + "; \(api)"
    }
}

/// Who must act on an unhealthy connection and what they should do, in words: events and `status` say it
/// the same way.
public enum OwnerAction {
    /// Nil for a healthy connection or one without health.
    public static func text(for health: ConnectionObservation.Health?) -> String? {
        guard let health, health.status != .healthy else { return nil }
        switch health.resolutionOwner {
        case .customer: return "CUSTOMER must act: update the connection's credentials"
        case .vendor: return "VENDOR-side problem, often clears on the next run"
        case .leen: return "LEEN-side problem: Leen fixes it, escalate if it persists"
        default: return "resolution owner \(health.resolutionOwner.rawValue)"
        }
    }
}

extension EffectiveStatus {
    /// Where the status is in `allCases`.
    var position: Int {
        switch self {
        case .healthy: 0
        case .unhealthy: 1
        case .unknown: 2
        case .paused: 3
        case .oauthPending: 4
        case .missing: 5
        }
    }
}
