import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import LeenSimulator
import SystemdSupport
import Testing

/// `leen-healthd history` (the built executable) on what a real daemon wrote to a real journald, against
/// leen-sim with a problem scripted by the test: healthy, UNHEALTHY (CUSTOMER, UNAUTHORIZED) for a known
/// time, healthy again.
@Suite(
    "leen-healthd history on a real journal", .serialized,
    .enabled(if: journalEndToEnd, "needs a private journald: run through scripts/with-journald.sh (make test does)"))
struct HistoryTests {
    let organization = OrganizationID(UUID().uuidString.lowercased())
    /// How far an observed time may be from the scripted change: the poll interval (300 ms) and a poll's own time.
    static let tolerance = 0.8

    @Test("the timeline, time unhealthy per owner and availability match the scripted problem; --directory reads the same")
    func scriptedProblem() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let (config, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        let since = Date()
        var broke = Date()
        var fixed = Date()
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            try workspace.write("config.yaml", workspace.configuration(baseURL: baseURL, organization: organization))
            let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            try await JournalReader.waitFor(organization: organization, "first poll") {
                !$0.of("connection_monitored", "tenable-e2e").isEmpty
            }
            try await Task.sleep(for: .seconds(1))
            broke = Date()
            try simulator.state.setHealth("tenable-e2e", try #require(ConnectionHealthStatus(documented: .unauthorized)))
            try await JournalReader.waitFor(organization: organization, "unhealthy") {
                !$0.of("connection_unhealthy", "tenable-e2e").isEmpty
            }
            try await Task.sleep(for: .seconds(max(0, 3 - Date().timeIntervalSince(broke))))
            fixed = Date()
            try simulator.state.setHealth("tenable-e2e", try #require(ConnectionHealthStatus(documented: .healthy)))
            try await JournalReader.waitFor(organization: organization, "recovered") {
                !$0.of("connection_recovered", "tenable-e2e").isEmpty
            }
            try await Task.sleep(for: .seconds(1))
            #expect(try await daemon.stop() == 0)
        }
        let events = try JournalReader.events(organization: organization)
        let monitoredAt = try #require(
            events.of("connection_monitored", "tenable-e2e").first?["LEEN_OBSERVED_AT"].flatMap(HistoryTime.iso8601))

        // A crash can write an event again with its id: the copy is recognised and counted once.
        let unhealthy = try #require(events.of("connection_unhealthy", "tenable-e2e").first)
        var copy: [(name: String, value: String)] = [
            ("MESSAGE", unhealthy["MESSAGE"] ?? ""), ("SYSLOG_IDENTIFIER", "leen-healthd"),
        ]
        copy += unhealthy.filter { $0.key.hasPrefix("LEEN_") }.sorted { $0.key < $1.key }.map {
            (name: $0.key, value: $0.value)
        }
        try SystemdJournalSink().send(JournalEntry(copy))
        try await Task.sleep(for: .milliseconds(500))

        let until = Date()
        let window = ["--since", HistoryTime.format(since), "--until", HistoryTime.format(until)]
        let local = try SystemTool.run(daemonBinary(), ["history", "tenable-e2e", "--json"] + window)
        #expect(local.status == 0, "\(local.stderr)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as? [String: Any], "\(local.stdout)")
        #expect(number(document["duplicate_events"]) == 1)
        let connections = try #require(document["connections"] as? [[String: Any]])
        #expect(connections.count == 1)
        let connection = try #require(connections.first)
        #expect(connection["identifier"] as? String == "tenable-e2e")
        #expect(connection["organization_id"] as? String == organization.rawValue)
        #expect((connection["at_start"] as? [String: Any])?["effective_status"] as? String == "UNKNOWN")
        #expect(connection["open_problem"] is NSNull)

        let timeline = try #require(connection["timeline"] as? [[String: Any]])
        let changes = timeline.filter {
            ["connection_monitored", "connection_unhealthy", "connection_recovered"].contains($0["event"] as? String)
        }.map { "\($0["event"]!) \($0["effective_status"]!) \($0["health_name"]!) \($0["resolution_owner"]!)" }
        #expect(
            changes == [
                "connection_monitored HEALTHY HEALTHY LEEN", "connection_unhealthy UNHEALTHY UNAUTHORIZED CUSTOMER",
                "connection_recovered HEALTHY HEALTHY LEEN",
            ])

        let byOwner = try #require(connection["unhealthy_seconds_by_owner"] as? [String: Any])
        #expect(Set(byOwner.keys) == ["CUSTOMER"])
        let customer = try #require(number(byOwner["CUSTOMER"]))
        let scripted = fixed.timeIntervalSince(broke)
        #expect(abs(customer - scripted) < Self.tolerance, "unhealthy \(customer) s, scripted \(scripted) s")
        let byStatus = try #require(connection["seconds_by_status"] as? [String: Any])
        let healthy = try #require(number(byStatus["HEALTHY"]))
        let expectedHealthy = until.timeIntervalSince(monitoredAt) - scripted
        #expect(abs(healthy - expectedHealthy) < Self.tolerance, "healthy \(healthy) s, scripted \(expectedHealthy) s")
        #expect(abs((number(byStatus["UNKNOWN"]) ?? 0) - monitoredAt.timeIntervalSince(since)) < 0.01)
        let availability = try #require(number(connection["availability_percent"]))
        #expect(abs(availability - expectedHealthy / (expectedHealthy + scripted) * 100) < 10)
        #expect(abs(availability - healthy / (healthy + customer) * 100) < 0.01)

        // A copy of the journal's files (as taken off another machine), read as a directory: the same report.
        let copied = workspace.path("journal-copy")
        try FileManager.default.copyItem(atPath: "/run/log/journal", toPath: copied)
        let directory = try SystemTool.run(
            daemonBinary(), ["history", "tenable-e2e", "--json", "--directory", copied] + window)
        #expect(directory.status == 0, "\(directory.stderr)")
        #expect(directory.stdout == local.stdout)

        // For people: the same facts as a table and summary lines.
        let text = try SystemTool.run(daemonBinary(), ["history", "tenable-e2e"] + window)
        #expect(text.status == 0)
        #expect(text.stdout.contains("connection_unhealthy"))
        #expect(text.stdout.contains("unhealthy by owner: CUSTOMER"))
        #expect(text.stdout.contains("open problem: none"))

        // By organization: the OAuth connection too, and nothing of other tests' organizations.
        let byOrganization = try SystemTool.run(
            daemonBinary(), ["history", "--json", "--organization", organization.rawValue] + window)
        let all = try #require(
            try JSONSerialization.jsonObject(with: Data(byOrganization.stdout.utf8)) as? [String: Any])
        let identifiers = (all["connections"] as? [[String: Any]])?.compactMap { $0["identifier"] as? String }
        #expect(identifiers == ["entra-e2e", "tenable-e2e"])
    }

    /// A JSON number as Double, however JSONSerialization gave it.
    func number(_ value: Any?) -> Double? {
        (value as? Double) ?? (value as? Int).map(Double.init) ?? (value as? NSNumber)?.doubleValue
    }

    @Test("an unreadable directory is an error on stderr and exit status 1, not an empty history; '-24h' is a value")
    func unreadable() throws {
        let run = try SystemTool.run(
            daemonBinary(),
            ["history", "--since", "-24h", "--until", "-1s", "--directory", "/nonexistent-\(UUID().uuidString)"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot read the journal"))
    }
}
