import Foundation
import HealthdCore
import LeenAPI

/// The JSON `/status` serves: the current state of every monitored connection, per organization.
///
/// It holds no secret: ids, identifiers, vendors, states, health, details, times and the API's status.
/// Credentials are never in the snapshot, and the OAuth authorisation URL (which may carry a one-time
/// state token) is reduced to `oauth_pending`.
public struct StatusDocument: Codable, Sendable, Hashable {
    public var version: String
    /// True once the first poll cycle finished (`/-/ready` answers 200).
    public var ready: Bool
    public var generatedAt: Date
    public var organizations: [Organization]

    public struct Organization: Codable, Sendable, Hashable {
        public var id: String
        public var name: String?
        public var api: API
        public var lastSuccessfulPoll: Date?
        public var lastAttempt: Date?
        public var consecutiveFailures: Int
        public var connections: [Connection]
    }

    public struct API: Codable, Sendable, Hashable {
        /// `ok`, `unreachable`, `rejected` or `unknown` (not polled yet).
        public var status: String
        public var failingSince: Date?
        /// Why polls fail (error kind and status; never a credential).
        public var reason: String?
    }

    public struct Connection: Codable, Sendable, Hashable {
        public var identifier: String
        public var connectionID: String
        public var vendor: String
        public var state: String?
        public var isActive: Bool?
        /// The effective status (HEALTHY, UNHEALTHY, UNKNOWN, PAUSED, OAUTH_PENDING or MISSING), as the
        /// STATUS line and `leen-healthd status` show it; `/metrics` exports PAUSED and OAUTH_PENDING as UNKNOWN.
        public var status: String
        /// The status the last poll saw (nil before the connection's first job).
        public var reportedStatus: String?
        public var healthName: String?
        public var resolutionOwner: String?
        public var description: String?
        public var details: [Detail]
        /// When the health (status, name or owner) last changed, or when first seen.
        public var since: Date
        public var changedAt: Date
        /// No longer listed by Leen (its metrics are not exported).
        public var missing: Bool
        public var oauthPending: Bool
        public var transitions: Int
    }

    public struct Detail: Codable, Sendable, Hashable {
        public var endpoint: String
        public var dataExportType: String
    }

    /// The document for `input`, organizations by id and connections by identifier; `organizationID` keeps
    /// only that organization.
    public init(_ input: MonitorSnapshot, generatedAt: Date = Date(), organizationID: String? = nil) {
        version = input.daemon.version
        ready = input.daemon.ready
        self.generatedAt = generatedAt
        organizations = input.organizations
            .filter { organizationID == nil || $0.id.rawValue == organizationID }
            .sorted { $0.id < $1.id }
            .map(Self.organization)
    }

    static func organization(_ organization: MonitorSnapshot.Organization) -> Organization {
        let state = organization.state
        var reason: String?
        if case .unreachable(_, let why) = state.api { reason = why }
        if case .rejected(_, let why) = state.api { reason = why }
        return Organization(
            id: organization.id.rawValue, name: organization.name,
            api: API(status: state.api.name, failingSince: state.api.failingSince, reason: reason),
            lastSuccessfulPoll: state.lastSuccessfulPoll, lastAttempt: state.lastAttempt,
            consecutiveFailures: state.consecutiveFailures,
            connections: state.connections.values.sorted { $0.observation.identifier < $1.observation.identifier }
                .map { connection($0, stale: state.isStale) })
    }

    static func connection(_ tracked: TrackedConnection, stale: Bool) -> Connection {
        let observation = tracked.observation
        let health = observation.health
        return Connection(
            identifier: observation.identifier, connectionID: observation.connectionID.rawValue,
            vendor: observation.vendor.rawValue, state: observation.state?.rawValue, isActive: observation.isActive,
            status: EffectiveStatus(tracked, organizationStale: stale).rawValue,
            reportedStatus: health?.status.rawValue, healthName: health?.name.rawValue,
            resolutionOwner: health?.resolutionOwner.rawValue, description: health?.description,
            details: (health?.details ?? []).sorted().map {
                Detail(endpoint: $0.endpoint, dataExportType: $0.dataExportType.rawValue)
            },
            since: tracked.healthSince, changedAt: tracked.changedAt, missing: tracked.missing,
            oauthPending: observation.oauthPending, transitions: tracked.transitions)
    }

    /// Pretty-printed JSON with sorted keys, snake_case names and ISO 8601 times.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        // Every field is a plain value; encoding cannot fail.
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}
