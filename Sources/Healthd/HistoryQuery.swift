import Foundation
import HealthdCore
import LeenAPI
import SystemdSupport

/// `leen-healthd history`: reads leen-healthd's events from a journal (the sd_journal API) and prints what
/// ``HistoryReport`` makes of them, as text for people or JSON for scripts (docs/operations.md, "History").
public enum HistoryQuery {
    /// Which connections: one (by identifier or Leen connection id), an organization's, or all.
    public struct Selection: Sendable, Hashable {
        public var connection: String?
        public var organization: String?

        public init(connection: String?, organization: String?) {
            self.connection = connection
            self.organization = organization
        }
    }

    /// The journal matches: the selected connections' events, plus the organization-level events that change
    /// what they count as (API outages, untracking) and incidents, which name no connection.
    public static func terms(_ selection: Selection) -> [[String]] {
        let base = ["SYSLOG_IDENTIFIER=leen-healthd"]
        let organization = selection.organization.map { ["LEEN_ORGANIZATION_ID=\($0)"] } ?? []
        var terms: [[String]]
        if let connection = selection.connection {
            terms = [
                base + ["LEEN_IDENTIFIER=\(connection)"] + organization,
                base + ["LEEN_CONNECTION_ID=\(connection)"] + organization,
            ]
        } else if !organization.isEmpty {
            terms = [base + organization]
        } else {
            // Every event, but not the daemon's diagnostic logs, which share the identifier.
            terms = [base + EventKind.allCases.map { "LEEN_EVENT=\($0.rawValue)" }]
        }
        let shared: [EventKind] = [.apiUnreachable, .apiRejected, .apiRecovered, .organizationUntracked, .incidentStarted, .incidentResolved]
        terms.append(base + shared.map { "LEEN_EVENT=\($0.rawValue)" })
        return terms
    }

    /// Reads the journal and builds the report. The whole journal up to now is read, not only the window: the
    /// last event before the window says what held at its start, an incident may have started long before,
    /// and an event is written after it was observed (paced, or replayed after a crash).
    /// - Parameter directory: journal files to read instead of this machine's journal.
    public static func report(directory: String?, selection: Selection, window: HistoryWindow) throws -> HistoryReport {
        let entries = try JournalQuery.entries(
            from: directory.map { .directory($0) } ?? .local, matching: terms(selection),
            fields: HistoryRecord.fieldNames)
        return HistoryReport(
            records: entries.compactMap(HistoryRecord.init(fields:)), window: window,
            allIncidents: selection == Selection(connection: nil, organization: nil))
    }

    // MARK: Text

    public static func text(_ report: HistoryReport) -> String {
        let window = report.window
        var lines = [
            "Window \(HistoryTime.format(window.start)) to \(HistoryTime.format(window.end)) (\(words(window.duration)))"
        ]
        if report.connections.isEmpty { lines.append("No leen-healthd events about these connections.") }
        for connection in report.connections {
            lines.append("")
            lines.append(
                "\(connection.identifier)" + (connection.vendor.map { " (\($0))" } ?? "")
                    + " organization \(connection.organizationID ?? "-") connection \(connection.connectionID ?? "-")")
            let start = connection.atStart
            lines.append("  at start: \(describe(start.effectiveStatus, start.healthName, start.resolutionOwner))")
            if connection.timeline.isEmpty {
                lines.append("  no events in the window")
            } else {
                let cells = connection.timeline.map {
                    [
                        HistoryTime.format($0.time), $0.event, $0.effectiveStatus, $0.healthName ?? "-",
                        $0.resolutionOwner ?? "-", $0.incidentID ?? "",
                    ]
                }
                let table = StatusReport.columns(["TIME", "EVENT", "STATUS", "HEALTH", "OWNER", "INCIDENT"], cells)
                lines += table.split(separator: "\n").map { "  " + $0.trimmingCharacters(in: .whitespaces) }
            }
            lines += summary(connection.durations).map { "  " + $0 }
            if let problem = connection.openProblem {
                let since = problem.since.map { "since \(HistoryTime.format($0)) (\(words(window.end.timeIntervalSince($0))))" }
                    ?? "since before the earliest event read"
                let confirmed = problem.confirmed == true ? ", confirmed" : problem.confirmed == false ? ", not confirmed" : ""
                lines.append(
                    "  open problem: \(describe("UNHEALTHY", problem.healthName, problem.resolutionOwner)) \(since)\(confirmed)")
            } else {
                lines.append("  open problem: none")
            }
            if let incident = connection.openIncidentID { lines.append("  open incident: \(incident)") }
        }
        if report.connections.count > 1 {
            lines.append("")
            lines.append("All \(report.connections.count) connections:")
            lines += summary(report.totals).map { "  " + $0 }
        }
        if !report.openIncidents.isEmpty {
            lines.append("")
            for incident in report.openIncidents {
                lines.append(
                    "Open incident \(incident.id): \(incident.dimension ?? "-") \(incident.value ?? "-") since "
                        + "\(HistoryTime.format(incident.startedAt)), organizations \(incident.organizations.joined(separator: ", "))")
            }
        }
        if report.duplicates > 0 {
            lines.append("")
            lines.append("\(report.duplicates) repeated event(s) (same LEEN_EVENT_ID, written again after a crash) counted once.")
        }
        return lines.joined(separator: "\n")
    }

    static func summary(_ durations: HistoryDurations) -> [String] {
        let known = ["HEALTHY", "UNHEALTHY"].map { durations.byStatus[$0, default: 0] }.reduce(0, +)
        let availability = durations.availability.map { String(format: "%.2f%%", $0) } ?? "n/a"
        let others = durations.byStatus.filter { !["HEALTHY", "UNHEALTHY"].contains($0.key) && $0.value > 0 }
            .sorted { $0.key < $1.key }.map { "\($0.key.lowercased()) \(words($0.value))" }
        var lines = [
            "availability \(availability): healthy \(words(durations.byStatus["HEALTHY", default: 0])) of "
                + "\(words(known)) with a known health"
                + (others.isEmpty ? "" : "; not counted: " + others.joined(separator: ", "))
        ]
        let owners = durations.unhealthyByOwner.sorted { $0.key < $1.key }.map { "\($0.key) \(words($0.value))" }
        lines.append("unhealthy by owner: " + (owners.isEmpty ? "none" : owners.joined(separator: ", ")))
        return lines
    }

    static func describe(_ status: String, _ healthName: String?, _ owner: String?) -> String {
        guard status == "UNHEALTHY" else { return status }
        return "UNHEALTHY " + (healthName ?? "-") + " (owner " + (owner ?? "-") + ")"
    }

    /// Whole seconds as `1d2h3m4s`; under a second as `0.25s`.
    static func words(_ seconds: TimeInterval) -> String {
        seconds > 0 && seconds < 1 ? String(format: "%.2fs", seconds) : Duration.seconds(seconds).compactText
    }

    // MARK: JSON

    /// The JSON document: every key always present (null when there is no value), times as the events write
    /// them, durations in seconds (milliseconds precision), percentages with 3 decimals.
    public static func json(_ report: HistoryReport) throws -> String {
        let document: [String: Any] = [
            "window": [
                "since": HistoryTime.format(report.window.start), "until": HistoryTime.format(report.window.end),
                "seconds": rounded(report.window.duration),
            ],
            "connections": report.connections.map(json),
            "totals": json(report.totals),
            "open_incidents": report.openIncidents.map { incident -> [String: Any] in
                [
                    "incident_id": incident.id, "started_at": HistoryTime.format(incident.startedAt),
                    "dimension": nullable(incident.dimension), "value": nullable(incident.value),
                    "organizations": incident.organizations,
                ]
            },
            "duplicate_events": report.duplicates,
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func json(_ connection: ConnectionHistory) -> [String: Any] {
        var object = json(connection.durations)
        object["organization_id"] = nullable(connection.organizationID)
        object["connection_id"] = nullable(connection.connectionID)
        object["identifier"] = connection.identifier
        object["vendor"] = nullable(connection.vendor)
        object["at_start"] = status(
            connection.atStart.effectiveStatus, connection.atStart.healthName, connection.atStart.resolutionOwner)
        object["timeline"] = connection.timeline.map { transition -> [String: Any] in
            var row = status(transition.effectiveStatus, transition.healthName, transition.resolutionOwner)
            row["time"] = HistoryTime.format(transition.time)
            row["event"] = transition.event
            row["event_id"] = nullable(transition.eventID)
            row["incident_id"] = nullable(transition.incidentID)
            return row
        }
        object["open_problem"] =
            connection.openProblem.map { problem -> Any in
                [
                    "since": nullable(problem.since.map(HistoryTime.format)), "health_name": nullable(problem.healthName),
                    "resolution_owner": nullable(problem.resolutionOwner), "confirmed": nullable(problem.confirmed),
                ]
            } ?? NSNull()
        object["open_incident_id"] = nullable(connection.openIncidentID)
        return object
    }

    static func json(_ durations: HistoryDurations) -> [String: Any] {
        [
            "seconds_by_status": durations.byStatus.mapValues(rounded),
            "unhealthy_seconds_by_owner": durations.unhealthyByOwner.mapValues(rounded),
            "availability_percent": nullable(durations.availability.map { ($0 * 1000).rounded() / 1000 }),
        ]
    }

    static func status(_ effectiveStatus: String, _ healthName: String?, _ owner: String?) -> [String: Any] {
        ["effective_status": effectiveStatus, "health_name": nullable(healthName), "resolution_owner": nullable(owner)]
    }

    static func nullable(_ value: (any Sendable)?) -> Any { value ?? NSNull() }

    static func rounded(_ seconds: TimeInterval) -> Double { (seconds * 1000).rounded() / 1000 }
}
