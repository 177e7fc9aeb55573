import Foundation
import HealthdCore
import LeenAPI
import Logging

/// The monitor's part of the alerting rules that sees more than one organization's poll.
extension Monitor {
    /// `organization_untracked` for each organization that `next` no longer configures, with what was known
    /// of it (so an alert on its connections can be closed downstream); the incident detector forgets them.
    func untrackedOrganizations(leaving next: Configuration) -> [HealthEvent] {
        let kept = Set(next.organizations.map(\.id))
        let removed = configuration.organizations.filter { !kept.contains($0.id) }
        incidents.forget(Set(removed.map(\.id)))
        return removed.map { organization in
            EventBuilder.organizationUntracked(
                organization.id, state: organizations[organization.id] ?? OrganizationState(),
                reason: .removedFromConfig,
                context: EventContext(organizationLabel: organization.label, observedAt: now()))
        }
    }

    /// Feeds a successful poll's state to the incident detector and applies its verdict to the poll's events:
    /// `incident_started` before them, the events of connections in an open incident at info (with
    /// `LEEN_INCIDENT_ID`), `incident_resolved` after them. Events of organizations polled before an incident
    /// was recognised keep the priority they were written with. Marks the detector for saving when it changed.
    func correlate(_ events: [HealthEvent], state: OrganizationState, organization: OrganizationID, at date: Date)
        async -> [HealthEvent]
    {
        guard !state.isStale, let rule = configuration.alerting.incidents else { return events }
        let context = EventContext(organizationLabel: "", observedAt: date)
        let verdict = incidents.observe(
            organization: organization, state: state, rule: rule, window: configuration.poll.interval, now: date,
            makeID: { UUID().uuidString.lowercased() })
        var result = verdict.started.map { EventBuilder.incidentStarted($0, context: context) }
        result += events.map { event in
            guard event[field: "LEEN_ORGANIZATION_ID"] == organization.rawValue,
                let identifier = event[field: "LEEN_IDENTIFIER"], let id = verdict.membership[identifier]
            else { return event }
            return EventBuilder.withinIncident(event, id: id)
        }
        result += verdict.resolved.map { EventBuilder.incidentResolved($0, context: context) }
        if !verdict.started.isEmpty || !verdict.resolved.isEmpty {
            incidentsChanged = true
        } else if verdict.changed {
            incidentDetailsChanged = true
        }
        return result
    }

    /// Saves the detector if a poll changed it. Called after the poll's commit: should the daemon die in
    /// between, the restarted one decides from the old detector again rather than lose an
    /// `incident_started` that was committed nowhere (the cost: that poll's incident events may be made twice).
    /// A change of details alone (the window, members, peaks) waits for ``incidentDetailsSavePeriod`` unless
    /// `force` (shutdown).
    func saveIncidentsIfChanged(force: Bool = false) async {
        let detailsDue =
            incidentDetailsChanged
            && (force || lastIncidentsSave.map { now().timeIntervalSince($0) >= Self.incidentDetailsSavePeriod } ?? true)
        guard incidentsChanged || detailsDue else { return }
        incidentsChanged = false
        incidentDetailsChanged = false
        lastIncidentsSave = now()
        let (store, detector, logger) = (store, incidents, logger)
        await io.run {
            do {
                try store.save(detector)
            } catch {
                logger.error("cannot save incidents", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Writes `daemon_heartbeat` with the summary counts.
    public func heartbeat() async {
        let summary = statusSummary()
        let event = EventBuilder.daemonHeartbeat(
            summary, openIncidents: incidents.open.count, pendingEvents: outbox.status.pending,
            context: EventContext(organizationLabel: "", observedAt: now()))
        await emit([event])
    }
}
