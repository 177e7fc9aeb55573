import Foundation
import HealthdTestSupport
import LeenAPI
import LeenSimulator
import Testing

/// Issue #13, points 4 and 5, with the real parts: the built `leen-healthd`, an in-process leen-sim and a
/// private journald. `pause`, `resume` and `test` and their errors; a credential file rewritten under a
/// running daemon (renamed over, and written in place) is sent, tested and reported, a rotation to a value
/// the vendor refuses is reported as failed, and the connection that then turns UNAUTHORIZED gets Leen's
/// test answer.
@Suite(
    "Maintenance commands and credential rotation", .serialized,
    .enabled(if: journalEndToEnd, "needs a private journald: run through scripts/with-journald.sh (make test does)"))
struct MaintenanceJournalTests {
    let organization = OrganizationID(UUID().uuidString.lowercased())

    /// `leen-healthd ARGS --config CONFIG`: exit status, stdout, stderr.
    func command(_ arguments: [String], config: String) throws -> SystemTool.Output {
        try SystemTool.run(daemonBinary(), arguments + ["--config", config])
    }

    /// The connection as Leen's API shows it.
    func connection(_ baseURL: String, key: String, id: String) throws -> [String: Any] {
        let output = try SystemTool.run(
            "/usr/bin/curl",
            ["-sS", "-H", "X-API-KEY: \(key)", "\(baseURL)/v1/provisioning/organizations/\(organization)/connections/\(id)"])
        return try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
    }

    /// leen-sim's view of a connection's credentials (no values): `credential_updates`, `rejected`.
    func simCredentials(_ baseURL: String, _ reference: String) throws -> [String: Any] {
        let output = try SystemTool.run("/usr/bin/curl", ["-sS", "\(baseURL)/_sim/connections/\(reference)/credentials"])
        return try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
    }

    /// A simulator with `tenable-e2e` and a daemon (metrics on `metricsPort`) that monitors it; `body` gets the
    /// simulator, the configuration's path and the daemon, which is stopped (or killed) afterwards.
    func withDaemon(
        _ workspace: Workspace, metricsPort: Int,
        _ body: (LeenSimulator, String, String, DaemonProcess) async throws -> Void
    ) async throws {
        let (config, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            try workspace.write(
                "config.yaml",
                workspace.configuration(baseURL: baseURL, organization: organization)
                    .replacingOccurrences(of: "  listen: off", with: "  listen: 127.0.0.1:\(metricsPort)"))
            let path = workspace.path("config.yaml")
            let daemon = try DaemonProcess(configPath: path)
            defer { if daemon.isRunning { daemon.signal(SIGKILL) } }
            try await JournalReader.waitFor(organization: organization, "monitored") {
                !$0.of("connection_monitored", "tenable-e2e").isEmpty
            }
            try await body(simulator, baseURL, path, daemon)
            #expect(try await daemon.stop() == 0)
        }
    }

    @Test("pause, resume and test against leen-sim; unknown identifier, 404, 401 and configuration errors")
    func commands() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let (config, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            // tenable-cmd is created with credentials by `provision`, so Leen has some to test.
            let text = workspace.configuration(baseURL: baseURL, organization: organization)
                .replacingOccurrences(of: "identifier: tenable-e2e", with: "identifier: tenable-cmd")
            try workspace.write("config.yaml", text)
            let path = workspace.path("config.yaml")
            #expect(try command(["provision"], config: path).status == 0)

            let paused = try command(["pause", "tenable-cmd"], config: path)
            #expect(paused.status == 0, "\(paused.stderr)")
            #expect(paused.stdout.contains("tenable-cmd (TENABLE, E2E): state PENDING -> PAUSED"), "\(paused.stdout)")
            let pausedEvents = try await JournalReader.waitFor(organization: organization, "paused") {
                !$0.of("connection_paused_by_operator", "tenable-cmd").isEmpty
            }
            let id = try #require(pausedEvents.of("connection_paused_by_operator", "tenable-cmd").first)
            let environment = ProcessInfo.processInfo.environment
            let who = [environment["SUDO_USER"], environment["USER"]].compactMap { $0 }.first { !$0.isEmpty }
                ?? "uid \(getuid())"
            #expect(id["LEEN_OPERATOR"] == who)
            #expect(id["LEEN_STATE"] == "PAUSED" && id["LEEN_PREVIOUS_STATE"] == "PENDING")
            #expect(id["MESSAGE_ID"] == "e5591409f4492d3f70fbc7827a89ec57" && id["PRIORITY"] == "5")
            #expect(id["LEEN_OBSERVED_AT"] != nil)
            let connectionID = try #require(id["LEEN_CONNECTION_ID"])
            #expect(try connection(baseURL, key: workspace.apiKey, id: connectionID)["state"] as? String == "PAUSED")

            // By connection id, and within one organization (by its name).
            let resumed = try command(["resume", connectionID, "--organization", "E2E"], config: path)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(try connection(baseURL, key: workspace.apiKey, id: connectionID)["state"] as? String == "ACTIVE")
            try await JournalReader.waitFor(organization: organization, "resumed") {
                $0.of("connection_resumed_by_operator", "tenable-cmd").first?["LEEN_STATE"] == "ACTIVE"
            }

            let valid = try command(["test", "tenable-cmd"], config: path)
            #expect(valid.status == 0, "\(valid.stderr)")
            #expect(valid.stdout.contains("is_valid=true") && valid.stdout.contains("message: Credentials are valid"))
            // The vendor refuses the stored credentials: exit 1, with Leen's message.
            simulator.state.setRejectedCredentialValues([workspace.tenableSecret])
            let invalid = try command(["test", "tenable-cmd"], config: path)
            #expect(invalid.status == 1)
            #expect(invalid.stdout.contains("is_valid=false") && invalid.stdout.contains("The vendor rejected the credentials"))

            let unknown = try command(["pause", "no-such-connection"], config: path)
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("no connection with identifier no-such-connection in E2E"), "\(unknown.stderr)")
            let missing = try command(["test", UUID().uuidString.lowercased()], config: path)
            #expect(missing.status == 3, "\(missing.stderr)")
            #expect(missing.stderr.contains("404"))
            // The connection disappears between the lookup and the call: Leen's 404.
            simulator.state.enqueueFaults([QueuedFault(kind: .status, status: 404, pathContains: "/test")])
            let gone = try command(["test", "tenable-cmd"], config: path)
            #expect(gone.status == 3, "\(gone.stderr)")

            try workspace.write("api-key", "wrong-key-\(UUID().uuidString)")
            let rejected = try command(["resume", "tenable-cmd"], config: path)
            #expect(rejected.status == 4)
            #expect(rejected.stderr.contains("Leen rejected the API key (HTTP 401)"), "\(rejected.stderr)")
            try workspace.write("api-key", workspace.apiKey)

            let badOrganization = try command(["test", "tenable-cmd", "--organization", "nowhere"], config: path)
            #expect(badOrganization.status == 78)
            let badConfig = try command(["pause", "tenable-cmd"], config: workspace.path("missing.yaml"))
            #expect(badConfig.status == 78)
        }
    }

    @Test("a connection paused by an operator is shown PAUSED and its health pages nobody until it is resumed")
    func pausedConnectionUnderTheDaemon() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let metricsPort = Int.random(in: 40000..<50000)
        try await withDaemon(workspace, metricsPort: metricsPort) { simulator, _, path, _ in
            #expect(try command(["pause", "tenable-e2e"], config: path).status == 0)
            var events = try await JournalReader.waitFor(organization: organization, "the daemon sees it paused") {
                $0.of("connection_state_changed", "tenable-e2e").last?["LEEN_STATE"] == "PAUSED"
            }
            #expect(events.of("connection_paused_by_operator", "tenable-e2e").count == 1)
            let changed = try #require(events.of("connection_state_changed", "tenable-e2e").last)
            #expect(changed["LEEN_EFFECTIVE_STATUS"] == "PAUSED" && changed["PRIORITY"] == "5")

            // Its health turns UNAUTHORIZED meanwhile: written, at info, never confirmed.
            try simulator.state.setHealth("tenable-e2e", try #require(ConnectionHealthStatus(documented: .unauthorized)))
            events = try await JournalReader.waitFor(organization: organization, "unhealthy while paused") {
                !$0.of("connection_unhealthy", "tenable-e2e").isEmpty
            }
            #expect(events.of("connection_unhealthy", "tenable-e2e").last?["PRIORITY"] == "6")
            try await Task.sleep(for: .seconds(1))
            #expect(try JournalReader.events(organization: organization).of("connection_unhealthy_confirmed").isEmpty)
            let metrics = try SystemTool.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(metricsPort)/metrics"]).stdout
            let stateLine = metrics.split(separator: "\n").first {
                $0.hasPrefix("leen_connection_state{") && $0.contains("identifier=\"tenable-e2e\"")
                    && $0.contains("state=\"PAUSED\"")
            }
            #expect(stateLine?.hasSuffix(" 1") == true, "\(stateLine ?? "no PAUSED series")")

            // Resumed and still UNAUTHORIZED: the rules apply again, and the CUSTOMER's problem pages at once.
            #expect(try command(["resume", "tenable-e2e"], config: path).status == 0)
            events = try await JournalReader.waitFor(organization: organization, "confirmed after resume") {
                !$0.of("connection_unhealthy_confirmed", "tenable-e2e").isEmpty
            }
            #expect(events.of("connection_unhealthy_confirmed", "tenable-e2e").first?["PRIORITY"] == "3")
            #expect(events.of("connection_resumed_by_operator", "tenable-e2e").count == 1)
        }
    }

    @Test("rotation: a rewritten credential file is sent, tested and reported; a refused value is said loudly")
    func rotation() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let metricsPort = Int.random(in: 40000..<50000)
        try await withDaemon(workspace, metricsPort: metricsPort) { simulator, baseURL, _, daemon in
            func rotations() throws -> [[String: String]] {
                try JournalReader.entries(["LEEN_EVENT=credentials_rotated", "LEEN_ORGANIZATION_ID=\(organization)"])
            }
            func waitForRotations(_ count: Int) async throws -> [[String: String]] {
                for _ in 0..<200 {
                    let found = try rotations()
                    if found.count >= count { return found }
                    try await Task.sleep(for: .milliseconds(100))
                }
                Issue.record("timed out waiting for credentials_rotated #\(count); stderr: \(daemon.stderr.suffix(2000))")
                return try rotations()
            }

            // 1. An atomic replace (write to a temporary file, rename over), as editors and tools do.
            try workspace.write("tenable-secret", "rotated-secret-1-\(UUID().uuidString)")
            var rotated = try await waitForRotations(1)
            #expect(rotated.last?["LEEN_CREDENTIALS_VALID"] == "true")
            #expect(rotated.last?["PRIORITY"] == "5")
            #expect(rotated.last?["MESSAGE_ID"] == "356217bf4f102d75f1a1b45f255e928a")
            #expect(rotated.last?["LEEN_IDENTIFIER"] == "tenable-e2e")
            #expect(try simCredentials(baseURL, "tenable-e2e")["credential_updates"] as? Int == 1)
            #expect(try simCredentials(baseURL, "tenable-e2e")["fields"] as? [String] == ["client_key", "secret_key"])

            // 2. Written in place (truncate and write, same inode), to a value the vendor refuses.
            let refused = "refused-secret-\(UUID().uuidString)"
            simulator.state.setRejectedCredentialValues([refused])
            let handle = try #require(FileHandle(forWritingAtPath: workspace.path("tenable-secret")))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data(refused.utf8))
            try handle.close()
            rotated = try await waitForRotations(2)
            #expect(rotated.last?["LEEN_CREDENTIALS_VALID"] == "false")
            #expect(rotated.last?["PRIORITY"] == "3", "a failed rotation is an error")
            #expect(rotated.last?["MESSAGE"]?.contains("FAILED") == true)
            #expect(try simCredentials(baseURL, "tenable-e2e")["credential_updates"] as? Int == 2)
            #expect(try simCredentials(baseURL, "tenable-e2e")["rejected"] as? Bool == true)

            // 3. Leen's next job uses them: UNAUTHORIZED, and the daemon attaches Leen's test answer.
            simulator.state.advanceClock(by: 14_400 + 60)
            let events = try await JournalReader.waitFor(organization: organization, "credentials_tested") {
                !$0.of("credentials_tested", "tenable-e2e").isEmpty
            }
            let unhealthy = try #require(events.of("connection_unhealthy", "tenable-e2e").last)
            #expect(unhealthy["LEEN_HEALTH_NAME"] == "UNAUTHORIZED")
            let tested = try #require(events.of("credentials_tested", "tenable-e2e").last)
            #expect(tested["LEEN_RELATED_EVENT_ID"] == unhealthy["LEEN_EVENT_ID"])
            #expect(tested["LEEN_CREDENTIALS_VALID"] == "false")
            #expect(tested["LEEN_CREDENTIALS_TEST_MESSAGE"] == "The vendor rejected the credentials")

            // 4. Valid credentials again: reported valid, but the connection is not assumed fixed.
            try workspace.write("tenable-secret", "rotated-secret-3-\(UUID().uuidString)")
            rotated = try await waitForRotations(3)
            #expect(rotated.last?["LEEN_CREDENTIALS_VALID"] == "true")
            try await Task.sleep(for: .seconds(1))
            #expect(try JournalReader.events(organization: organization).of("connection_recovered", "tenable-e2e").isEmpty)

            let metrics = try SystemTool.run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(metricsPort)/metrics"]).stdout
            // Two rotations valid; one rotation and the UNAUTHORIZED test invalid.
            #expect(metrics.contains("leen_credential_verifications_total{result=\"valid\"} 2"), "\(metrics.prefix(200))")
            #expect(metrics.contains("leen_credential_verifications_total{result=\"invalid\"} 2"))
            #expect(metrics.contains("leen_credential_verifications_total{result=\"error\"} 0"))
            #expect(metrics.contains("leen_connection_status{") && metrics.contains("status=\"UNHEALTHY\"} 1"))
        }
    }
}
