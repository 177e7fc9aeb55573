import Foundation
import LeenAPI

/// Why a connection or organization stops being tracked (`LEEN_REASON`).
public enum UntrackedReason: String, Sendable, Hashable {
    case removedFromConfig = "removed_from_config"
    case deleted
    case notListed = "not_listed"

    var words: String {
        switch self {
        case .removedFromConfig: "it was removed from the configuration"
        case .deleted: "it was deleted in Leen (state DELETED)"
        case .notListed: "Leen no longer lists it"
        }
    }
}

/// The events of the alerting rules: confirmation, reminders, flapping and the end of tracking. Built with
/// the same header and connection fields as the health events.
extension EventBuilder {
    /// `LEEN_CONFIRMED`: whether the connection's problem is hard.
    static func confirmedField(_ confirmed: Bool) -> EventField {
        EventField("LEEN_CONFIRMED", confirmed ? "true" : "false")
    }

    static func label(_ observation: ConnectionObservation, _ context: EventContext) -> String {
        "\(observation.identifier) (\(observation.vendor), \(context.organizationLabel))"
    }

    /// A connection event about `tracked` as it is now, with the alerting fields.
    static func alertingEvent(
        _ kind: EventKind, _ priority: EventPriority, _ message: String, _ tracked: TrackedConnection,
        context: EventContext, extra: [EventField] = []
    ) -> HealthEvent {
        let observation = tracked.observation
        var fields = common(kind, subject: observation, previous: nil, current: observation, context: context)
        fields.append(confirmedField(tracked.alert.isConfirmed))
        if let since = tracked.alert.unhealthySince {
            fields.append(EventField("LEEN_UNHEALTHY_SINCE", timestamp(since)))
        }
        return HealthEvent(kind: kind, priority: priority, message: message, fields: fields + extra)
    }

    /// err for owner CUSTOMER, warning otherwise: the priority a confirmed problem pages with.
    static func confirmedPriority(_ tracked: TrackedConnection) -> EventPriority {
        priority(for: tracked.observation.health, quiet: .warning)
    }

    public static func connectionUnhealthyConfirmed(_ tracked: TrackedConnection, context: EventContext) -> HealthEvent {
        let health = tracked.observation.health
        let since = tracked.alert.unhealthySince.map { " since \(timestamp($0))" } ?? ""
        return alertingEvent(
            .connectionUnhealthyConfirmed, confirmedPriority(tracked),
            "\(label(tracked.observation, context)) is confirmed \(describe(health))\(since), "
                + "seen by at least \(tracked.alert.unhealthyPolls) poll(s)\(advice(health))",
            tracked, context: context,
            extra: [EventField("LEEN_UNHEALTHY_POLLS", String(tracked.alert.unhealthyPolls))])
    }

    public static func connectionStillUnhealthy(_ tracked: TrackedConnection, context: EventContext) -> HealthEvent {
        let health = tracked.observation.health
        let since = tracked.alert.unhealthySince.map { " since \(timestamp($0))" } ?? ""
        return alertingEvent(
            .connectionStillUnhealthy, confirmedPriority(tracked),
            "\(label(tracked.observation, context)) is still \(describe(health))\(since)\(advice(health))",
            tracked, context: context)
    }

    public static func connectionFlapping(
        _ tracked: TrackedConnection, rule: Configuration.Flapping, context: EventContext
    ) -> HealthEvent {
        let changes = tracked.alert.statusChanges.count
        return alertingEvent(
            .connectionFlapping, .warning,
            "\(label(tracked.observation, context)) is flapping: its status changed \(changes) times within "
                + "\(rule.window.compactText); its changes are written at info until it is stable for "
                + "\(rule.stableFor.compactText). Now \(describe(tracked.observation))",
            tracked, context: context, extra: [EventField("LEEN_STATUS_CHANGES", String(changes))])
    }

    /// Written at the confirmed priority when the connection is left with a confirmed problem (its
    /// confirmation was written at info while it flapped), else at notice.
    public static func connectionFlappingEnded(_ tracked: TrackedConnection, context: EventContext) -> HealthEvent {
        let observation = tracked.observation
        return alertingEvent(
            .connectionFlappingEnded, tracked.alert.isConfirmed ? confirmedPriority(tracked) : .notice,
            "\(label(observation, context)) is no longer flapping: \(describe(observation))"
                + (tracked.alert.isConfirmed ? " (confirmed)\(advice(observation.health))" : ""),
            tracked, context: context)
    }

    /// The last event about a connection; `tracked` is its state before it stopped being tracked, so the
    /// message and `LEEN_CONFIRMED` say which problem, if any, is no longer followed.
    public static func connectionUntracked(
        _ tracked: TrackedConnection, reason: UntrackedReason, context: EventContext
    ) -> HealthEvent {
        let observation = tracked.observation
        let problem =
            observation.health?.status == .unhealthy
            ? "; its problem (\(describe(observation.health))) is no longer tracked" : ""
        return alertingEvent(
            .connectionUntracked, .notice,
            "\(label(observation, context)) is no longer monitored: \(reason.words)\(problem)", tracked,
            context: context, extra: [EventField("LEEN_REASON", reason.rawValue)])
    }

    /// An organization left the configuration; `state` is what was known of it.
    public static func organizationUntracked(
        _ organizationID: OrganizationID, state: OrganizationState, reason: UntrackedReason, context: EventContext
    ) -> HealthEvent {
        let unhealthy = state.connections.values.filter { $0.observation.health?.status == .unhealthy }.count
        let confirmed = state.connections.values.filter(\.alert.isConfirmed).count
        let problems = unhealthy > 0 ? "; its \(unhealthy) unhealthy connection(s) are no longer tracked" : ""
        return event(
            .organizationUntracked, .notice,
            "Organization \(context.organizationLabel) is no longer monitored: \(reason.words)\(problems)",
            fields: [
                EventField("LEEN_ORGANIZATION_ID", organizationID.rawValue), EventField("LEEN_REASON", reason.rawValue),
                EventField("LEEN_CONNECTIONS", String(state.connections.count)),
                EventField("LEEN_UNHEALTHY", String(unhealthy)), EventField("LEEN_CONFIRMED_UNHEALTHY", String(confirmed)),
            ], context: context)
    }

}
