import Foundation
import HealthdCore
import Testing

/// `leen-healthd history`'s arithmetic on hand-built events: a window of 100 minutes from `Fixture.time`.
@Suite("Connection history")
struct ConnectionHistoryTests {
    static let organization = "org-1"
    static let window = HistoryWindow(start: Fixture.at(0), end: Fixture.at(100))

    /// An event about `tenable-prod` at `minutes` past the window's start.
    static func event(
        _ kind: String, at minutes: Double, _ status: String?, name: String? = nil, owner: String? = nil,
        previous: (status: String, name: String, owner: String)? = nil, id: String? = nil,
        configure: (inout HistoryRecord) -> Void = { _ in }
    ) -> HistoryRecord {
        var record = HistoryRecord(
            event: kind, eventID: id ?? UUID().uuidString, time: Fixture.at(minutes), organizationID: organization,
            connectionID: "c-1", identifier: "tenable-prod", vendor: "TENABLE", effectiveStatus: status,
            healthName: name ?? (status == "HEALTHY" ? "HEALTHY" : nil), resolutionOwner: owner,
            previousStatus: previous?.status, previousHealthName: previous?.name,
            previousResolutionOwner: previous?.owner)
        configure(&record)
        return record
    }

    static func api(_ kind: String, at minutes: Double) -> HistoryRecord {
        HistoryRecord(event: kind, eventID: UUID().uuidString, time: Fixture.at(minutes), organizationID: organization)
    }

    static let healthy = ("HEALTHY", "HEALTHY", "LEEN")

    func only(_ records: [HistoryRecord], window: HistoryWindow = Self.window) throws -> ConnectionHistory {
        let report = HistoryReport(records: records, window: window)
        #expect(report.connections.count == 1)
        return try #require(report.connections.first)
    }

    @Test("healthy, then UNHEALTHY for CUSTOMER, then healthy: timeline, time per owner, availability")
    func scripted() throws {
        let history = try only([
            Self.event("connection_monitored", at: -30, "HEALTHY", owner: "LEEN"),
            Self.event(
                "connection_unhealthy", at: 20, "UNHEALTHY", name: "UNAUTHORIZED", owner: "CUSTOMER",
                previous: Self.healthy),
            Self.event("connection_unhealthy_confirmed", at: 20, "UNHEALTHY", name: "UNAUTHORIZED", owner: "CUSTOMER") {
                $0.confirmed = true
            },
            Self.event(
                "connection_recovered", at: 30, "HEALTHY", owner: "LEEN",
                previous: ("UNHEALTHY", "UNAUTHORIZED", "CUSTOMER")),
        ])
        #expect(history.atStart == .init("HEALTHY", healthName: "HEALTHY", resolutionOwner: "LEEN"))
        #expect(
            history.timeline.map { "\($0.event) \($0.effectiveStatus) \($0.healthName ?? "-") \($0.resolutionOwner ?? "-")" }
                == [
                    "connection_unhealthy UNHEALTHY UNAUTHORIZED CUSTOMER",
                    "connection_unhealthy_confirmed UNHEALTHY UNAUTHORIZED CUSTOMER",
                    "connection_recovered HEALTHY HEALTHY LEEN",
                ])
        #expect(history.timeline.first?.time == Fixture.at(20))
        #expect(history.durations.byStatus == ["HEALTHY": 90 * 60, "UNHEALTHY": 10 * 60])
        #expect(history.durations.unhealthyByOwner == ["CUSTOMER": 10 * 60])
        #expect(history.durations.availability == 90)
        #expect(history.openProblem == nil)
        #expect(history.identifier == "tenable-prod" && history.connectionID == "c-1" && history.vendor == "TENABLE")
    }

    @Test("a window that starts mid-problem with no earlier event: the first event's LEEN_PREVIOUS_* fields")
    func startsMidProblem() throws {
        let history = try only([
            Self.event(
                "connection_owner_changed", at: 40, "UNHEALTHY", name: "VENDOR_SERVER_ERROR", owner: "LEEN",
                previous: ("UNHEALTHY", "VENDOR_SERVER_ERROR", "VENDOR")),
            Self.event(
                "connection_recovered", at: 70, "HEALTHY", owner: "LEEN",
                previous: ("UNHEALTHY", "VENDOR_SERVER_ERROR", "LEEN")),
        ])
        #expect(history.atStart == .init("UNHEALTHY", healthName: "VENDOR_SERVER_ERROR", resolutionOwner: "VENDOR"))
        #expect(history.durations.unhealthyByOwner == ["VENDOR": 40 * 60, "LEEN": 30 * 60])
        #expect(history.durations.availability == 30)
    }

    @Test("an event before the window says what held at its start, over the first event's previous fields")
    func earlierEventWins() throws {
        let history = try only([
            Self.event("connection_state_changed", at: -5, "PAUSED"),
            Self.event("connection_state_changed", at: 50, "HEALTHY", previous: ("UNHEALTHY", "X", "LEEN")) {
                $0.previousState = "PAUSED"
            },
        ])
        #expect(history.atStart.effectiveStatus == "PAUSED")
        #expect(history.durations.byStatus == ["PAUSED": 50 * 60, "HEALTHY": 50 * 60])
        // Paused time is neither healthy nor unhealthy.
        #expect(history.durations.availability == 100)
    }

    @Test("a mid-problem start without previous fields, from a reminder: its LEEN_UNHEALTHY_SINCE dates the problem")
    func reminderDatesTheProblem() throws {
        let history = try only([
            Self.event("connection_still_unhealthy", at: 10, "UNHEALTHY", name: "UNAUTHORIZED", owner: "CUSTOMER") {
                $0.unhealthySince = Fixture.at(-1_440)
                $0.confirmed = true
            }
        ])
        #expect(history.atStart.effectiveStatus == "UNHEALTHY")
        #expect(history.durations.unhealthyByOwner == ["CUSTOMER": 100 * 60])
        #expect(history.durations.availability == 0)
        let problem = try #require(history.openProblem)
        #expect(problem.since == Fixture.at(-1_440))
        #expect(problem.confirmed == true)
        #expect(problem.healthName == "UNAUTHORIZED" && problem.resolutionOwner == "CUSTOMER")
    }

    @Test("an open problem that started in the window is dated by its first UNHEALTHY event, not by later ones")
    func openProblem() throws {
        let history = try only([
            Self.event("connection_monitored", at: -10, "HEALTHY", owner: "LEEN"),
            Self.event(
                "connection_unhealthy", at: 60, "UNHEALTHY", name: "INTERNAL_ERROR", owner: "LEEN",
                previous: Self.healthy) { $0.confirmed = false },
            Self.event(
                "connection_reason_changed", at: 80, "UNHEALTHY", name: "RATE_LIMIT_EXCEEDED", owner: "LEEN",
                previous: ("UNHEALTHY", "INTERNAL_ERROR", "LEEN")),
        ])
        let problem = try #require(history.openProblem)
        #expect(problem.since == Fixture.at(60))
        #expect(problem.healthName == "RATE_LIMIT_EXCEEDED")
        #expect(problem.confirmed == false)
    }

    @Test("nothing about the connection: no history, and no availability")
    func noEvents() {
        let report = HistoryReport(records: [Self.api("api_unreachable", at: 5)], window: Self.window)
        #expect(report.connections.isEmpty)
        #expect(report.totals.availability == nil)
        #expect(report.openIncidents.isEmpty)
    }

    @Test("an event written again after a crash (same LEEN_EVENT_ID) counts once")
    func duplicates() throws {
        let unhealthy = Self.event(
            "connection_unhealthy", at: 50, "UNHEALTHY", name: "UNAUTHORIZED", owner: "CUSTOMER",
            previous: Self.healthy, id: "same")
        var replayed = unhealthy
        replayed.time = Fixture.at(50)  // the replay keeps LEEN_OBSERVED_AT
        let report = HistoryReport(
            records: [Self.event("connection_monitored", at: -1, "HEALTHY", owner: "LEEN"), unhealthy, replayed],
            window: Self.window)
        #expect(report.duplicates == 1)
        let history = try #require(report.connections.first)
        #expect(history.timeline.count == 1)
        #expect(history.durations.unhealthyByOwner == ["CUSTOMER": 50 * 60])
    }

    @Test("unknown time (before the first status, API outages, after untracking) counts neither way")
    func unknownTime() throws {
        let history = try only([
            Self.event("connection_monitored", at: 10, "HEALTHY", owner: "LEEN"),
            Self.api("api_unreachable", at: 20),
            Self.api("api_unreachable", at: 25),  // the confirmation: still failing
            Self.api("api_recovered", at: 40),
            Self.event(
                "connection_unhealthy", at: 60, "UNHEALTHY", name: "UNAUTHORIZED", owner: "CUSTOMER",
                previous: Self.healthy),
            Self.event("connection_untracked", at: 90, "UNHEALTHY", name: "UNAUTHORIZED", owner: "CUSTOMER"),
        ])
        #expect(history.atStart.effectiveStatus == "UNKNOWN")
        #expect(history.durations.byStatus == ["UNKNOWN": (10 + 20 + 10) * 60, "HEALTHY": 30 * 60, "UNHEALTHY": 30 * 60])
        #expect(history.durations.availability == 50)
        #expect(history.timeline.map(\.effectiveStatus) == ["HEALTHY", "UNKNOWN", "UNKNOWN", "HEALTHY", "UNHEALTHY", "UNKNOWN"])
        #expect(history.openProblem == nil)
    }

    @Test("an incident open at the window's end, named by the connection's events; a resolved one is not")
    func incidents() throws {
        let member = Self.event(
            "connection_unhealthy", at: 30, "UNHEALTHY", name: "INTERNAL_ERROR", owner: "LEEN", previous: Self.healthy
        ) { $0.incidentID = "i-open" }
        let open = HistoryRecord(
            event: "incident_started", eventID: "s1", time: Fixture.at(30), incidentID: "i-open",
            incidentDimension: "health_name", incidentValue: "INTERNAL_ERROR", incidentOrganizations: [Self.organization])
        let old = HistoryRecord(event: "incident_started", eventID: "s2", time: Fixture.at(-60), incidentID: "i-old")
        let resolved = HistoryRecord(event: "incident_resolved", eventID: "r2", time: Fixture.at(-30), incidentID: "i-old")
        let elsewhere = HistoryRecord(
            event: "incident_started", eventID: "s3", time: Fixture.at(10), incidentID: "i-else",
            incidentOrganizations: ["org-2"])
        var report = HistoryReport(records: [member, open, old, resolved, elsewhere], window: Self.window)
        #expect(report.connections.first?.openIncidentID == "i-open")
        #expect(report.openIncidents.map(\.id) == ["i-open"])
        #expect(report.openIncidents.first?.startedAt == Fixture.at(30))
        report = HistoryReport(records: [member, open, old, resolved, elsewhere], window: Self.window, allIncidents: true)
        #expect(report.openIncidents.map(\.id) == ["i-else", "i-open"])
        // Resolved after the window's end: still open at its end.
        let later = HistoryRecord(event: "incident_resolved", eventID: "r1", time: Fixture.at(120), incidentID: "i-open")
        #expect(HistoryReport(records: [member, open, later], window: Self.window).openIncidents.count == 1)
    }

    @Test("events outside the window are not in the timeline, and one identifier in two organizations is two histories")
    func selection() {
        var other = Self.event("connection_monitored", at: 5, "HEALTHY", owner: "LEEN")
        other.organizationID = "org-2"
        let report = HistoryReport(
            records: [
                Self.event("connection_monitored", at: -5, "HEALTHY", owner: "LEEN"), other,
                Self.event("connection_unhealthy", at: 150, "UNHEALTHY", name: "X", owner: "LEEN", previous: Self.healthy),
            ], window: Self.window)
        #expect(report.connections.map { $0.organizationID ?? "-" } == [Self.organization, "org-2"])
        #expect(report.connections[0].timeline.isEmpty)
        #expect(report.connections[0].durations.byStatus == ["HEALTHY": 100 * 60])
        #expect(report.totals.byStatus == ["HEALTHY": 195 * 60, "UNKNOWN": 5 * 60])
    }

    @Test("a journal entry's fields: LEEN_OBSERVED_AT, else the entry's realtime; entries without LEEN_EVENT are not events")
    func recordFromFields() throws {
        let record = try #require(
            HistoryRecord(fields: [
                "LEEN_EVENT": "incident_started", "LEEN_EVENT_ID": "e", "LEEN_OBSERVED_AT": "2023-11-14T22:13:20.500Z",
                "__REALTIME_TIMESTAMP": "1700000100000000", "LEEN_BY_ORGANIZATION": #"{"b":1,"a":2}"#,
                "LEEN_CONFIRMED": "true", "LEEN_UNHEALTHY_SINCE": "2023-11-14T22:00:00.000Z",
            ]))
        #expect(record.time == Fixture.time.addingTimeInterval(0.5))
        #expect(record.incidentOrganizations == ["a", "b"])
        #expect(record.confirmed == true)
        #expect(record.unhealthySince == Fixture.time.addingTimeInterval(-800))
        let fallback = HistoryRecord(fields: ["LEEN_EVENT": "x", "__REALTIME_TIMESTAMP": "1700000100000000"])
        #expect(fallback?.time == Fixture.time.addingTimeInterval(100))
        #expect(HistoryRecord(fields: ["MESSAGE": "a log line", "__REALTIME_TIMESTAMP": "1"]) == nil)
    }

    @Test(
        "--since and --until: ISO 8601, now, and relative forms",
        arguments: [
            ("now", 0.0), ("-24h", -86_400), ("-7d", -604_800), ("-1d12h", -129_600), ("-90m", -5_400),
            ("+30s", 30), ("-2w", -1_209_600),
            ("2023-11-14T22:13:20Z", 0), ("2023-11-14T22:13:20.250Z", 0.25), ("2023-11-15T00:13:20+02:00", 0),
            ("2023-11-14 22:13:20", 0), ("2023-11-14T22:13:20", 0), ("2023-11-14", -80_000),
        ])
    func times(text: String, offset: Double) throws {
        #expect(try HistoryTime.parse(text, now: Fixture.time) == Fixture.time.addingTimeInterval(offset))
    }

    @Test("invalid times are refused", arguments: ["", "-", "-7", "-7x", "yesterday", "7d", "2023-13-45"])
    func invalidTimes(text: String) {
        #expect(throws: HistoryTime.Invalid.self) { try HistoryTime.parse(text, now: Fixture.time) }
    }
}
