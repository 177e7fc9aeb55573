import Foundation
import HealthdCore
import LeenAPI

/// The health a connection is exported with: what the last poll saw, unless that is not known now.
public enum EffectiveStatus: String, Sendable, Hashable, CaseIterable {
    case healthy = "HEALTHY"
    case unhealthy = "UNHEALTHY"
    /// The organization's API is failing (the last health is stale), there is no health yet, or Leen sent
    /// a status this build does not know.
    case unknown = "UNKNOWN"

    public init(_ connection: TrackedConnection, organizationStale: Bool) {
        guard !organizationStale, let health = connection.observation.health else {
            self = .unknown
            return
        }
        switch health.status {
        case .healthy: self = .healthy
        case .unhealthy: self = .unhealthy
        default: self = .unknown
        }
    }
}

/// The exported connections of one snapshot, flattened for rendering: each row's label pairs are escaped
/// once into one shared byte array, then copied into every per-connection family.
///
/// Connections with `missing == true` (no longer listed by Leen) are left out, and so is everything the
/// snapshot no longer holds: a connection's series exist exactly as long as it is monitored.
struct ConnectionRows {
    /// Members of `leen_connection_state`'s one-hot set; index 4 (UNKNOWN) is written only when it is set.
    static let states = ConnectionState.documentedValues.map(\.rawValue) + ["UNKNOWN"]
    static let unknownState = states.count - 1

    struct Row {
        /// `organization_id="…",connection_id="…",identifier="…",vendor="…"` in ``ConnectionRows/bytes``.
        var labels: Range<Int>
        /// `,health_name="…",resolution_owner="…"` in ``ConnectionRows/bytes``; nil without health.
        var reason: Range<Int>?
        var status: EffectiveStatus
        var stateIndex: Int
        var failingDetails: Int
        var oauthPending: Bool
        var transitions: Int
        var healthChange: Date
        var lastChange: Date
    }

    var bytes: [UInt8] = []
    var rows: [Row] = []

    /// Organizations in id order; connections in identifier order within each.
    init(_ organizations: [MetricsInput.Organization]) {
        let count = organizations.reduce(0) { $0 + $1.state.connections.count }
        rows.reserveCapacity(count)
        bytes.reserveCapacity(count * 200)
        for organization in organizations.sorted(by: { $0.id < $1.id }) {
            let stale = organization.state.isStale
            let connections = organization.state.connections.values.filter { !$0.missing }
            for tracked in connections.sorted(by: { $0.observation.identifier < $1.observation.identifier }) {
                append(tracked, organizationID: organization.id, stale: stale)
            }
        }
    }

    private mutating func append(_ tracked: TrackedConnection, organizationID: OrganizationID, stale: Bool) {
        let observation = tracked.observation
        let labelStart = bytes.count
        ExpositionWriter.appendLabelPairs(
            [
                ("organization_id", organizationID.rawValue), ("connection_id", observation.connectionID.rawValue),
                ("identifier", observation.identifier), ("vendor", observation.vendor.rawValue),
            ], to: &bytes)
        let labels = labelStart..<bytes.count
        var reason: Range<Int>?
        if let health = observation.health {
            let reasonStart = bytes.count
            bytes.append(UInt8(ascii: ","))
            ExpositionWriter.appendLabelPairs(
                [("health_name", health.name.rawValue), ("resolution_owner", health.resolutionOwner.rawValue)],
                to: &bytes)
            reason = reasonStart..<bytes.count
        }
        let stateIndex = observation.state.flatMap { ConnectionState.documentedValues.firstIndex(of: $0) }
        rows.append(
            Row(
                labels: labels, reason: reason, status: EffectiveStatus(tracked, organizationStale: stale),
                stateIndex: stateIndex ?? Self.unknownState, failingDetails: observation.health?.details.count ?? 0,
                oauthPending: observation.oauthPending, transitions: tracked.transitions,
                healthChange: tracked.healthSince, lastChange: tracked.changedAt))
    }

    /// A generous guess of the text's size, so the output buffer is allocated once.
    var estimatedBytes: Int {
        bytes.count * 14 + rows.count * 14 * 64
    }
}
