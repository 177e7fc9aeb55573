import Foundation
import LeenAPI

/// Applies one poll's outcome to an organization's state and says which events that makes. Pure.
public enum PollProcessor {
    /// A successful poll: every declared identifier is diffed against its last observation.
    ///
    /// - Parameters:
    ///   - listed: all connections the organization's pages returned.
    ///   - declared: the identifiers the config declares for this organization.
    public static func apply(
        listed: [Connection], declared: Set<String>, organizationID: OrganizationID, to state: OrganizationState,
        context: EventContext
    ) -> (OrganizationState, [HealthEvent]) {
        var next = state
        var events: [HealthEvent] = []
        let now = context.observedAt
        if let since = state.api.failingSince {
            events.append(
                EventBuilder.apiEvent(
                    .apiRecovered, organizationID: organizationID, failure: nil, since: since,
                    context: context))
        }
        next.api = .ok
        next.lastSuccessfulPoll = now
        next.lastAttempt = now
        next.consecutiveFailures = 0

        let current = match(listed, declared: declared)
        next.connections = next.connections.filter { declared.contains($0.key) }
        for identifier in declared.sorted() {
            let previous = next.connections[identifier]
            let observation = current[identifier]
            let changes = ConnectionDiff.changes(
                previous: previous?.observation, current: observation, previouslyMissing: previous?.missing ?? false)
            guard !changes.isEmpty || observation != nil else { continue }
            events += EventBuilder.connectionEvents(
                changes: changes, previous: previous?.observation, current: observation, context: context)
            if let observation {
                let healthChanged = changes.contains {
                    switch $0 {
                    case .status, .name, .resolutionOwner: true
                    default: false
                    }
                }
                next.connections[identifier] = TrackedConnection(
                    observation: observation,
                    healthSince: healthChanged || previous == nil ? now : previous!.healthSince,
                    changedAt: changes.isEmpty ? previous?.changedAt ?? now : now, missing: false,
                    transitions: (previous?.transitions ?? 0) + (healthChanged && previous != nil ? 1 : 0))
            } else if var gone = previous, !gone.missing {
                gone.missing = true
                gone.changedAt = now
                next.connections[identifier] = gone
            }
        }
        return (next, events)
    }

    /// A failed poll: the organization's connections become stale, and one API event is made when the
    /// API's status changes (ok -> unreachable, unreachable -> rejected, …). Never a connection event.
    public static func apply(
        failure: PollFailure, organizationID: OrganizationID, to state: OrganizationState,
        context: EventContext
    ) -> (OrganizationState, [HealthEvent]) {
        var next = state
        let now = context.observedAt
        next.lastAttempt = now
        next.consecutiveFailures += 1
        let since = state.api.failingSince ?? now
        let status: APIStatus =
            failure.isRejection
            ? .rejected(since: since, reason: failure.summary) : .unreachable(since: since, reason: failure.summary)
        var events: [HealthEvent] = []
        if state.api.name != status.name {
            events.append(
                EventBuilder.apiEvent(
                    failure.isRejection ? .apiRejected : .apiUnreachable, organizationID: organizationID,
                    failure: failure, since: since, context: context))
        }
        next.api = status
        return (next, events)
    }

    /// The declared connections among `listed`, by identifier. When several share an identifier, a
    /// connection that is not DELETED wins, then the most recently created.
    static func match(_ listed: [Connection], declared: Set<String>) -> [String: ConnectionObservation] {
        var best: [String: Connection] = [:]
        for connection in listed {
            guard let identifier = connection.identifier, declared.contains(identifier) else { continue }
            if let existing = best[identifier], rank(existing) >= rank(connection) { continue }
            best[identifier] = connection
        }
        return best.mapValues { ConnectionObservation($0, identifier: $0.identifier ?? "") }
    }

    static func rank(_ connection: Connection) -> (Int, Double) {
        (connection.state == .deleted ? 0 : 1, connection.createdAt?.date?.timeIntervalSince1970 ?? 0)
    }
}
