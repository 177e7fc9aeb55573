import HealthdTestSupport
import Foundation
import HealthdCore
import LeenAPI
import LeenSimulator
import Testing

/// The daemon as a real process writing to a real journald (started by `scripts/with-journald.sh` in
/// private namespaces), against leen-sim with transitions made by the test.
@Suite(
    "leen-healthd → real journald", .serialized,
    .enabled(if: journalEndToEnd, "needs a private journald: run through scripts/with-journald.sh (make test does)"))
struct JournalEndToEndTests {
    let organization = OrganizationID(UUID().uuidString.lowercased())

    /// Starts the simulator and a workspace, runs `body`, then checks no secret reached the journal,
    /// stderr or the state files.
    func withSetup(
        _ body: (LeenSimulator, Workspace, String, _ stderr: inout [String]) async throws -> Void
    ) async throws {
        var workspace = try Workspace()
        defer { workspace.remove() }
        let (config, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        var stderr: [String] = []
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            try workspace.write("config.yaml", workspace.configuration(baseURL: baseURL, organization: organization))
            try await body(simulator, workspace, baseURL, &stderr)
            workspace.tenableSecret = (try? String(contentsOfFile: workspace.path("tenable-secret"), encoding: .utf8))
                ?? workspace.tenableSecret
        }
        let journal = try JournalReader.entries().map { $0.values.joined(separator: "\n") }.joined(separator: "\n")
        let state = workspace.stateFiles()
        #expect(!state.isEmpty)
        for secret in workspace.secrets {
            #expect(!journal.contains(secret), "a secret reached the journal")
            #expect(!state.contains(secret), "a secret reached the state files")
            for text in stderr { #expect(!text.contains(secret), "a secret reached stderr") }
        }
    }

    @Test("transitions become journal events with typed fields, and nothing else")
    func transitions() async throws {
        try await withSetup { simulator, workspace, _, stderr in
            let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            var events = try await JournalReader.waitFor(organization: organization, "first poll") {
                $0.of("connection_monitored").count == 2 && !$0.of("connection_oauth_pending").isEmpty
            }
            #expect(events.of("connection_adopted", "tenable-e2e").count == 1)
            let created = try #require(events.of("connection_created", "entra-e2e").first)
            let url = try #require(created["LEEN_OAUTH_URL"])
            #expect(url.contains("/_sim/oauth/authorize?connection_id="))
            #expect(events.of("connection_oauth_pending", "entra-e2e").first?["LEEN_OAUTH_URL"] == url)

            // CUSTOMER must act: UNAUTHORIZED with a failing export type.
            try simulator.state.setHealth(
                "tenable-e2e",
                try #require(
                    ConnectionHealthStatus(
                        documented: .unauthorized,
                        details: [HealthDetail(endpoint: "https://api.tenable.example/v1/alerts", dataExportType: .alerts)])))
            events = try await JournalReader.waitFor(organization: organization, "unhealthy") {
                !$0.of("connection_unhealthy", "tenable-e2e").isEmpty
            }
            let unhealthy = try #require(events.of("connection_unhealthy", "tenable-e2e").first)
            #expect(unhealthy["MESSAGE_ID"] == EventKind.connectionUnhealthy.messageID)
            // The change itself is a notice; UNAUTHORIZED is confirmed at once, and its confirmation pages.
            #expect(unhealthy["PRIORITY"] == "5")
            #expect(unhealthy["LEEN_CONFIRMED"] == "true")
            let confirmed = try #require(events.of("connection_unhealthy_confirmed", "tenable-e2e").first)
            #expect(confirmed["PRIORITY"] == "3")
            #expect(unhealthy["SYSLOG_IDENTIFIER"] == "leen-healthd")
            #expect(unhealthy["LEEN_VENDOR"] == "TENABLE")
            #expect(unhealthy["LEEN_STATUS"] == "UNHEALTHY")
            #expect(unhealthy["LEEN_PREVIOUS_STATUS"] == "HEALTHY")
            #expect(unhealthy["LEEN_HEALTH_NAME"] == "UNAUTHORIZED")
            #expect(unhealthy["LEEN_PREVIOUS_HEALTH_NAME"] == "HEALTHY")
            #expect(unhealthy["LEEN_RESOLUTION_OWNER"] == "CUSTOMER")
            #expect(unhealthy["LEEN_PREVIOUS_RESOLUTION_OWNER"] == "LEEN")
            #expect(
                unhealthy["LEEN_DETAILS"]
                    == #"[{"endpoint":"https://api.tenable.example/v1/alerts","data_export_type":"alerts"}]"#)
            #expect(unhealthy["LEEN_DETAILS_ADDED_COUNT"] == "1")
            #expect(unhealthy["LEEN_CONNECTION_ID"] == events.of("connection_adopted", "tenable-e2e").first?["LEEN_CONNECTION_ID"])
            #expect(unhealthy["MESSAGE"]?.contains("CUSTOMER must act") == true)

            // The administrator authorises the OAuth connection; its first job runs.
            try simulator.state.authorize("entra-e2e")
            simulator.state.advanceClock(by: 61)
            events = try await JournalReader.waitFor(organization: organization, "oauth completed and first health") {
                !$0.of("connection_oauth_completed", "entra-e2e").isEmpty
                    && !$0.of("connection_recovered", "entra-e2e").isEmpty
            }
            #expect(events.of("connection_state_changed", "entra-e2e").first?["LEEN_STATE"] == "ACTIVE")

            // Recovery.
            try simulator.state.setHealth("tenable-e2e", try #require(ConnectionHealthStatus(documented: .healthy)))
            events = try await JournalReader.waitFor(organization: organization, "recovered") {
                !$0.of("connection_recovered", "tenable-e2e").isEmpty
            }
            let recovered = try #require(events.of("connection_recovered", "tenable-e2e").first)
            #expect(recovered["PRIORITY"] == "5")
            #expect(recovered["LEEN_DETAILS_REMOVED_COUNT"] == "1")

            #expect(try await daemon.stop() == 0)
            stderr.append(daemon.stderr)
            events = try JournalReader.events(organization: organization)
            let connectionEvents = events.filter { $0["LEEN_IDENTIFIER"] != nil }.map {
                "\($0["LEEN_EVENT"]!) \($0["LEEN_IDENTIFIER"]!)"
            }
            #expect(
                connectionEvents.sorted()
                    == [
                        "connection_adopted tenable-e2e", "connection_created entra-e2e",
                        "connection_monitored entra-e2e", "connection_monitored tenable-e2e",
                        "connection_oauth_completed entra-e2e", "connection_oauth_pending entra-e2e",
                        "connection_recovered entra-e2e", "connection_recovered tenable-e2e",
                        "connection_state_changed entra-e2e", "connection_unhealthy tenable-e2e",
                        "connection_unhealthy_confirmed tenable-e2e",
                        // UNAUTHORIZED: Leen's credential test, as a follow-up naming the event.
                        "credentials_tested tenable-e2e",
                    ])
            #expect(
                events.of("credentials_tested", "tenable-e2e").first?["LEEN_RELATED_EVENT_ID"]
                    == events.of("connection_unhealthy", "tenable-e2e").first?["LEEN_EVENT_ID"])
            let ids = events.compactMap { $0["LEEN_EVENT_ID"] }
            #expect(Set(ids).count == ids.count)
            #expect(events.allSatisfy { $0.keys.filter { $0.hasPrefix("LEEN_") }.allSatisfy(EventField.isValidName) })
        }
    }

    @Test("a restart emits nothing for unchanged connections and the changes made while down")
    func restart() async throws {
        try await withSetup { simulator, workspace, _, stderr in
            var daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            try await JournalReader.waitFor(organization: organization, "first poll") {
                $0.of("connection_monitored").count == 2
            }
            #expect(try await daemon.stop() == 0)
            stderr.append(daemon.stderr)
            let before = try JournalReader.events(organization: organization).count

            try simulator.state.setHealth(
                "tenable-e2e", try #require(ConnectionHealthStatus(documented: .vendorServerError)))
            daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            let events = try await JournalReader.waitFor(organization: organization, "change made while down") {
                !$0.of("connection_unhealthy", "tenable-e2e").isEmpty
            }
            try await Task.sleep(for: .seconds(1))  // a few more polls: nothing else may appear
            #expect(try await daemon.stop() == 0)
            stderr.append(daemon.stderr)
            let after = Array(try JournalReader.events(organization: organization).dropFirst(before))
            #expect(after.filter { $0["LEEN_IDENTIFIER"] != nil }.map { $0["LEEN_EVENT"]! } == ["connection_unhealthy"])
            #expect(events.of("connection_unhealthy", "tenable-e2e").first?["LEEN_PREVIOUS_HEALTH_NAME"] == "HEALTHY")
        }
    }

    @Test("an API outage is one API event and its confirmation, never connection events; recovery reports only real changes")
    func outage() async throws {
        try await withSetup { simulator, workspace, _, stderr in
            let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            try await JournalReader.waitFor(organization: organization, "first poll") {
                $0.of("connection_monitored").count == 2
            }
            var faults = FaultSettings()
            faults.errorRate = 1
            faults.errorStatus = 503
            simulator.state.setFaults(faults)
            var events = try await JournalReader.waitFor(organization: organization, "api_unreachable") {
                !$0.of("api_unreachable").isEmpty
            }
            let unreachable = try #require(events.of("api_unreachable").first)
            #expect(unreachable["PRIORITY"] == "5")
            #expect(unreachable["LEEN_CONFIRMED"] == "false")
            #expect(unreachable["LEEN_API_ERROR"] == "server")
            #expect(unreachable["LEEN_HTTP_STATUS"] == "503")
            // The third failed poll in a row confirms the outage: the same event again, at err.
            events = try await JournalReader.waitFor(organization: organization, "api_unreachable confirmed") {
                $0.of("api_unreachable").count == 2
            }
            #expect(events.of("api_unreachable").last?["PRIORITY"] == "3")
            #expect(events.of("api_unreachable").last?["LEEN_CONFIRMED"] == "true")
            let during = events.count
            // While down, a connection really changes; polls keep failing.
            try simulator.state.setHealth("tenable-e2e", try #require(ConnectionHealthStatus(documented: .rateLimitExceeded)))
            try await Task.sleep(for: .seconds(2))
            #expect(try JournalReader.events(organization: organization).count == during)

            simulator.state.resetFaults()
            events = try await JournalReader.waitFor(organization: organization, "api_recovered") {
                !$0.of("api_recovered").isEmpty && !$0.of("connection_unhealthy", "tenable-e2e").isEmpty
            }
            try await Task.sleep(for: .seconds(1))
            events = try JournalReader.events(organization: organization)
            let afterOutage = events.dropFirst(during).map { $0["LEEN_EVENT"]! }
            #expect(afterOutage == ["api_recovered", "connection_unhealthy"])

            // A refused key is api_rejected.
            simulator.state.expireAPIKey(workspace.apiKey)
            events = try await JournalReader.waitFor(organization: organization, "api_rejected") {
                !$0.of("api_rejected").isEmpty
            }
            #expect(events.of("api_rejected").first?["LEEN_HTTP_STATUS"] == "401")
            #expect(try await daemon.stop() == 0)
            stderr.append(daemon.stderr)
        }
    }

    @Test("SIGHUP reloads; an invalid config is refused and the daemon keeps running; new credentials are PATCHed")
    func reload() async throws {
        try await withSetup { simulator, workspace, _, stderr in
            let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            try await JournalReader.waitFor(organization: organization, "first poll") {
                $0.of("connection_monitored").count == 2
            }
            let good = try String(contentsOfFile: workspace.path("config.yaml"), encoding: .utf8)
            try workspace.write("config.yaml", good.replacingOccurrences(of: "vendor: TENABLE", with: "vendor: TENABLEX"))
            let earlierRefusals = try Self.daemonEvents("config_reload_failed").count
            daemon.signal(SIGHUP)
            var all = try await waitForEvent("config_reload_failed", after: earlierRefusals)
            let refusal = try #require(all.first)
            #expect(refusal["LEEN_ERROR"]?.contains(workspace.path("config.yaml") + ":") == true)
            #expect(refusal["LEEN_ERROR"]?.contains("TENABLEX") == true)
            #expect(daemon.isRunning)

            // Still monitoring with the old configuration.
            try simulator.state.setHealth("tenable-e2e", try #require(ConnectionHealthStatus(documented: .internalError)))
            try await JournalReader.waitFor(organization: organization, "event after a refused reload") {
                !$0.of("connection_unhealthy", "tenable-e2e").isEmpty
            }

            // A valid config with a changed secret: reloaded, and the new credentials are sent.
            try workspace.write("config.yaml", good)
            try workspace.write("tenable-secret", "rotated-\(UUID().uuidString.prefix(8))-SECRET")
            let earlierReloads = try Self.daemonEvents("config_reloaded").count
            daemon.signal(SIGHUP)
            all = try await waitForEvent("config_reloaded", after: earlierReloads)
            #expect(all.count == 1)
            let events = try await JournalReader.waitFor(organization: organization, "credentials_updated") {
                !$0.of("credentials_updated", "tenable-e2e").isEmpty
            }
            #expect(events.of("credentials_updated", "tenable-e2e").count == 1)
            #expect(try await daemon.stop() == 0)
            stderr.append(daemon.stderr)
        }
    }

    /// Every daemon-level event of `kind` in the journal (other suites' daemons share it).
    static func daemonEvents(_ kind: String) throws -> [[String: String]] {
        try JournalReader.entries(["SYSLOG_IDENTIFIER=leen-healthd", "LEEN_EVENT=\(kind)"])
    }

    /// Waits for daemon-level events (no organization field) of `kind` beyond the `after` already in the
    /// journal, and returns those new ones, oldest first.
    func waitForEvent(_ kind: String, after: Int) async throws -> [[String: String]] {
        let end = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < end {
            let found = try Self.daemonEvents(kind)
            if found.count > after { return Array(found.dropFirst(after)) }
            try await Task.sleep(for: .milliseconds(150))
        }
        Issue.record("timed out waiting for \(kind)")
        return []
    }
}
