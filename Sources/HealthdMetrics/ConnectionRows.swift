import Foundation
import HealthdCore
import LeenAPI
import NIOCore

/// The health a connection is exported with: what the last poll saw, unless that is not known now.
public enum EffectiveStatus: String, Sendable, Hashable, CaseIterable {
    case healthy = "HEALTHY"
    case unhealthy = "UNHEALTHY"
    /// The organization's API is failing (the last health is stale), there is no health yet, or Leen sent
    /// a status this build does not know.
    case unknown = "UNKNOWN"

    public init(_ connection: TrackedConnection, organizationStale: Bool) {
        self.init(status: connection.observation.health?.status, organizationStale: organizationStale)
    }

    /// - Parameter status: the last health's status, nil before the first job.
    public init(status: HealthStatus?, organizationStale: Bool) {
        guard !organizationStale, let status else {
            self = .unknown
            return
        }
        switch status {
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
    /// Members of `leen_connection_state`'s one-hot set (Leen's documented states, then UNKNOWN, which is
    /// written only when it is set).
    static let states = ["PENDING", "ACTIVE", "PAUSED", "DELETED", "UNKNOWN"]
    static let unknownState = states.count - 1

    struct Row {
        /// `organization_id="…",connection_id="…",identifier="…",vendor="…"` in ``ConnectionRows/bytes``.
        var labels: Range<Int>
        /// `,health_name="…",resolution_owner="…"` in ``ConnectionRows/bytes``; empty without health.
        var reason: Range<Int>
        var status: EffectiveStatus
        var stateIndex: Int
        var failingDetails: Int
        var oauthPending: Bool
        var transitions: Int
        var healthChange: Date
        var lastChange: Date
    }

    /// Every row's label bytes, back to back (reader index 0).
    var bytes: ByteBuffer
    var rows: [Row] = []
    /// The longest `labels` plus `reason` of any row (for reserving output space).
    var longestLabels = 0

    /// Organizations in id order; connections in the snapshot's order within each. Sorting them too
    /// (by the labels' bytes) cost a third of the flattening for 100k connections, and neither Prometheus
    /// nor the tests (which compare sets of lines) need an order.
    ///
    /// Each row's labels are written with one reservation and raw copies: appending a few strings to an
    /// `Array` or a `ByteBuffer` one call at a time cost about 100 ns per call here, the better part of a
    /// millisecond per 10,000 connections per label.
    init(_ organizations: [MetricsInput.Organization]) {
        let count = organizations.reduce(0) { $0 + $1.state.connections.count }
        rows.reserveCapacity(count)
        bytes = ByteBufferAllocator().buffer(capacity: count * 220)
        for organization in organizations.sorted(by: { $0.id < $1.id }) {
            var prefix = Array("organization_id=\"".utf8)
            ExpositionWriter.appendEscaped(organization.id.rawValue, to: &prefix)
            prefix += Array("\",connection_id=\"".utf8)
            let stale = organization.state.isStale
            prefix.withUnsafeBytes { prefix in
                for tracked in organization.state.connections.values where !tracked.missing {
                    let health = tracked.observation.health
                    let (labels, reason) = appendLabels(
                        prefix: prefix, connectionID: tracked.observation.connectionID.rawValue,
                        identifier: tracked.observation.identifier, vendor: tracked.observation.vendor.rawValue,
                        name: health?.name.rawValue, owner: health?.resolutionOwner.rawValue)
                    rows.append(
                        Row(
                            labels: labels, reason: reason,
                            status: EffectiveStatus(status: health?.status, organizationStale: stale),
                            stateIndex: Self.stateIndex(tracked.observation.state),
                            failingDetails: health?.details.count ?? 0, oauthPending: tracked.observation.oauthPending,
                            transitions: tracked.transitions, healthChange: tracked.healthSince,
                            lastChange: tracked.changedAt))
                }
            }
        }
        longestLabels = rows.reduce(0) { max($0, $1.labels.count + $1.reason.count) }
    }

    private static let identifierKey = Array("\",identifier=\"".utf8)
    private static let vendorKey = Array("\",vendor=\"".utf8)
    private static let healthNameKey = Array(",health_name=\"".utf8)
    private static let ownerKey = Array("\",resolution_owner=\"".utf8)
    /// The keys above together, plus the closing quotes.
    private static let keyBytes = identifierKey.count + vendorKey.count + healthNameKey.count + ownerKey.count + 2

    /// Writes a row's labels and, with a health, its reason labels; returns both ranges.
    private mutating func appendLabels(
        prefix: UnsafeRawBufferPointer, connectionID: String, identifier: String, vendor: String, name: String?,
        owner: String?
    ) -> (labels: Range<Int>, reason: Range<Int>) {
        // Escaping at most doubles a value.
        let maximum =
            prefix.count + Self.keyBytes
            + 2 * (connectionID.utf8.count + identifier.utf8.count + vendor.utf8.count + (name?.utf8.count ?? 0)
                + (owner?.utf8.count ?? 0))
        let labelStart = bytes.writerIndex
        var labelEnd = labelStart
        bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: maximum) { raw in
            var cursor = ExpositionWriter.Cursor(raw.baseAddress!)
            cursor.copy(prefix)
            cursor.escaped(connectionID)
            Self.identifierKey.withUnsafeBytes { cursor.copy($0) }
            cursor.escaped(identifier)
            Self.vendorKey.withUnsafeBytes { cursor.copy($0) }
            cursor.escaped(vendor)
            cursor.byte(UInt8(ascii: "\""))
            labelEnd = labelStart + cursor.count
            if let name, let owner {
                Self.healthNameKey.withUnsafeBytes { cursor.copy($0) }
                cursor.escaped(name)
                Self.ownerKey.withUnsafeBytes { cursor.copy($0) }
                cursor.escaped(owner)
                cursor.byte(UInt8(ascii: "\""))
            }
            return cursor.count
        }
        return (labelStart..<labelEnd, labelEnd..<bytes.writerIndex)
    }

    /// The index in ``states``.
    static func stateIndex(_ state: ConnectionState?) -> Int {
        switch state {
        case .pending?: 0
        case .active?: 1
        case .paused?: 2
        case .deleted?: 3
        default: unknownState
        }
    }
}
