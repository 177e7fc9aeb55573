import LeenAPI

/// One difference between two observations of a connection, as ``ConnectionDiff`` finds them.
public enum ConnectionChange: Hashable, Sendable {
    /// Monitored for the first time (no previous observation).
    case firstSeen
    /// `health.status` changed (nil: no health yet).
    case status(from: HealthStatus?, to: HealthStatus?)
    /// `health.name` changed, also while the status stays UNHEALTHY.
    case name(from: HealthName?, to: HealthName?)
    /// `health.resolution_owner` changed.
    case resolutionOwner(from: ResolutionOwner?, to: ResolutionOwner?)
    /// Failing `details` entries (endpoint + data_export_type) came or went.
    case details(added: Set<HealthDetail>, removed: Set<HealthDetail>)
    /// Connection `state` changed.
    case state(from: ConnectionState?, to: ConnectionState?)
    /// `is_active` flipped without a state change.
    case active(from: Bool?, to: Bool?)
    /// The connection waits for OAuth authorisation.
    case oauthPending(url: String?)
    /// OAuth authorisation was completed.
    case oauthCompleted
    /// No longer listed, or 404.
    case disappeared
    /// Listed again after having disappeared.
    case reappeared
}

/// The pure diff between the last observation of a connection and the current one.
public enum ConnectionDiff {
    /// The changes from `previous` to `current`.
    ///
    /// - Parameters:
    ///   - previous: the last observation; nil when never seen.
    ///   - current: this poll's observation; nil when the poll succeeded and the connection was not there.
    ///   - previouslyMissing: the connection had already disappeared before this poll.
    public static func changes(
        previous: ConnectionObservation?, current: ConnectionObservation?, previouslyMissing: Bool = false
    ) -> [ConnectionChange] {
        guard let current else {
            return previous != nil && !previouslyMissing ? [.disappeared] : []
        }
        guard let previous else {
            var changes: [ConnectionChange] = [.firstSeen]
            if current.oauthPending { changes.append(.oauthPending(url: current.oauthAuthorizeURL)) }
            return changes
        }
        var changes: [ConnectionChange] = []
        if previouslyMissing { changes.append(.reappeared) }
        let before = previous.health
        let after = current.health
        if before?.status != after?.status { changes.append(.status(from: before?.status, to: after?.status)) }
        if before?.name != after?.name { changes.append(.name(from: before?.name, to: after?.name)) }
        if before?.resolutionOwner != after?.resolutionOwner {
            changes.append(.resolutionOwner(from: before?.resolutionOwner, to: after?.resolutionOwner))
        }
        let oldDetails = before?.details ?? []
        let newDetails = after?.details ?? []
        if oldDetails != newDetails {
            changes.append(
                .details(added: newDetails.subtracting(oldDetails), removed: oldDetails.subtracting(newDetails)))
        }
        if previous.state != current.state {
            changes.append(.state(from: previous.state, to: current.state))
        } else if previous.isActive != current.isActive {
            changes.append(.active(from: previous.isActive, to: current.isActive))
        }
        if !previous.oauthPending && current.oauthPending {
            changes.append(.oauthPending(url: current.oauthAuthorizeURL))
        } else if previous.oauthPending && !current.oauthPending {
            changes.append(.oauthCompleted)
        }
        return changes
    }
}
