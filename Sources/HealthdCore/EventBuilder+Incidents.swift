import Foundation
import LeenAPI

/// Incident events: about many connections at once, so without a connection's fields.
extension EventBuilder {
    /// Examples named in `incident_started`, at most.
    static let incidentExamples = 5

    /// One storm: counts by organization, health name and owner, a few example identifiers; at err when any
    /// of its connections is the CUSTOMER's to fix, warning otherwise (the worst of its members' own).
    public static func incidentStarted(_ incident: IncidentDetector.Incident, context: EventContext) -> HealthEvent {
        let members = incident.members
        let customer = members.contains { $0.resolutionOwner == ResolutionOwner.customer.rawValue }
        let organizations = Set(members.map(\.organizationID)).count
        let examples = members.prefix(incidentExamples).map { "\($0.identifier) (\($0.organizationID))" }
        return event(
            .incidentStarted, customer ? .error : .warning,
            "Incident: \(members.count) connections in \(organizations) organization(s) turned UNHEALTHY with "
                + "\(incident.key.dimension.rawValue) \(incident.key.value) within one poll interval, e.g. "
                + examples.joined(separator: ", ")
                + "; their own events are written at info until it is resolved",
            fields: incidentFields(incident) + [
                EventField("LEEN_CONNECTIONS", String(members.count)),
                EventField("LEEN_ORGANIZATIONS", String(organizations)),
                EventField("LEEN_BY_ORGANIZATION", counts(members.map(\.organizationID.rawValue))),
                EventField("LEEN_BY_HEALTH_NAME", counts(members.map(\.healthName))),
                EventField("LEEN_BY_RESOLUTION_OWNER", counts(members.map(\.resolutionOwner))),
                EventField("LEEN_EXAMPLES", examples.joined(separator: ", ")),
            ], context: context)
    }

    public static func incidentResolved(_ incident: IncidentDetector.Incident, context: EventContext) -> HealthEvent {
        event(
            .incidentResolved, .notice,
            "Incident resolved: connections turned UNHEALTHY with \(incident.key.dimension.rawValue) "
                + "\(incident.key.value) (at most \(incident.peak), since \(timestamp(incident.startedAt))); "
                + "\(incident.members.count) still affected, now reported one by one",
            fields: incidentFields(incident) + [
                EventField("LEEN_STARTED_AT", timestamp(incident.startedAt)),
                EventField("LEEN_PEAK", String(incident.peak)),
                EventField("LEEN_CONNECTIONS", String(incident.members.count)),
            ], context: context)
    }

    static func incidentFields(_ incident: IncidentDetector.Incident) -> [EventField] {
        [
            EventField("LEEN_INCIDENT_ID", incident.id),
            EventField("LEEN_INCIDENT_DIMENSION", incident.key.dimension.rawValue),
            EventField("LEEN_INCIDENT_VALUE", incident.key.value),
        ]
    }

    /// `{"a":2,"b":1}`, keys sorted.
    static func counts(_ values: [String]) -> String {
        let counted = Dictionary(values.map { ($0, 1) }, uniquingKeysWith: +)
        return "{" + counted.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\($0.value)" }.joined(separator: ",")
            + "}"
    }

    /// A member of an open incident: its event of this poll at info, with the incident's id.
    public static func withinIncident(_ event: HealthEvent, id: String) -> HealthEvent {
        var event = event
        event.priority = max(event.priority, .info)
        event.fields.append(EventField("LEEN_INCIDENT_ID", id))
        return event
    }
}
