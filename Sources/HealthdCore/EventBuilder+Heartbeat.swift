import Foundation

/// The heartbeat: about the whole daemon, so without a connection's fields.
extension EventBuilder {
    /// The periodic sign of life, with the summary counts. `pendingEvents`: events built but not yet written.
    public static func daemonHeartbeat(
        _ summary: StatusSummary, openIncidents: Int, pendingEvents: Int, context: EventContext
    ) -> HealthEvent {
        event(
            .daemonHeartbeat, .info, "leen-healthd is running: \(summary.line)",
            fields: [
                EventField("LEEN_CONNECTIONS", String(summary.listed)),
                EventField("LEEN_HEALTHY", String(summary.counts[.healthy, default: 0])),
                EventField("LEEN_UNHEALTHY", String(summary.counts[.unhealthy, default: 0])),
                EventField("LEEN_UNHEALTHY_CUSTOMER", String(summary.unhealthyCustomer)),
                EventField("LEEN_UNKNOWN", String(summary.counts[.unknown, default: 0])),
                EventField("LEEN_PAUSED", String(summary.counts[.paused, default: 0])),
                EventField("LEEN_OAUTH_PENDING", String(summary.counts[.oauthPending, default: 0])),
                EventField("LEEN_MISSING", String(summary.counts[.missing, default: 0])),
                EventField("LEEN_ORGANIZATIONS", String(summary.organizations)),
                EventField("LEEN_FAILING_ORGANIZATIONS", String(summary.failingOrganizations)),
                EventField("LEEN_OPEN_INCIDENTS", String(openIncidents)),
                EventField("LEEN_PENDING_EVENTS", String(pendingEvents)),
            ], context: context)
    }
}
