import Foundation
import HealthdTestSupport
import LeenAPI
import LeenSimulator
import Testing

/// The daemon killed with SIGKILL at random moments (during polls, state writes, journal sends and
/// recovery) while leen-sim's connections keep changing, next to a real private journald. Afterwards the
/// journal must hold, per connection, an unbroken chain of health events, each once.
@Suite(
    "Crash recovery against a real journald", .serialized,
    .enabled(if: journalEndToEnd, "needs a private journal: run through scripts/with-journald.sh (make test does)"))
struct CrashRecoveryTests {
    static let healthKinds: Set<String> = [
        "connection_monitored", "connection_unhealthy", "connection_recovered", "connection_reason_changed",
        "connection_owner_changed", "connection_details_changed",
    ]
    /// Events written by provisioning, in the daemon's own stream rather than the organization's.
    static let names: [HealthName] = [
        .healthy, .healthy, .unauthorized, .vendorServerError, .internalError, .executionTimeout, .rateLimitExceeded,
        .vendorClientError,
    ]

    @Test("At least 100 SIGKILLs: chains unbroken, no LEEN_EVENT_ID twice, the last event matches Leen")
    func randomKills() async throws {
        let rounds = ProcessInfo.processInfo.environment["LEEN_CRASH_ROUNDS"].flatMap(Int.init) ?? 100
        let organization = OrganizationID(UUID().uuidString.lowercased())
        let identifiers = (0..<80).map { String(format: "c%03d", $0) }
        let workspace = try Workspace()
        defer { workspace.remove() }
        var config = SimulatorConfiguration()
        config.apiKeys = [workspace.apiKey]
        config.timeScale = 0
        config.firstJobDelaySecs = 0
        let scenario = Scenario(
            randomEvolution: false, organizations: [.init(id: organization.rawValue, name: "Crash", identifier: "crash")],
            connections: identifiers.map { .init(organization: "crash", vendor: .tenable, identifier: $0) })
        var generator = SystemRandomNumberGenerator()
        var flips = 0
        var kills = 0
        var killsWithLog = 0
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            try workspace.write("config.yaml", Self.configuration(workspace, baseURL: baseURL, organization: organization, identifiers: identifiers))
            var expected: [String: String] = [:]
            func set(_ identifier: String, _ name: HealthName) throws {
                _ = try simulator.state.setHealth(identifier, try #require(ConnectionHealthStatus(documented: name, details: nil)))
                expected[identifier] = name.rawValue
            }
            func flip(_ count: Int) throws {
                for _ in 0..<count {
                    try set(identifiers.randomElement(using: &generator)!, Self.names.randomElement(using: &generator)!)
                    flips += 1
                }
            }
            for identifier in identifiers { try set(identifier, .healthy) }
            for _ in 0..<rounds {
                let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
                // Lifetimes from "still loading its state" to "several polls in": every phase gets killed.
                let lifetime = Double.random(in: 0.02...1.5, using: &generator)
                let flipAt = Double.random(in: 0...lifetime, using: &generator)
                try await Task.sleep(for: .seconds(flipAt))
                try flip(Int.random(in: 10...50, using: &generator))
                try await Task.sleep(for: .seconds(lifetime - flipAt))
                daemon.signal(SIGKILL)
                _ = try await daemon.waitForExit()
                kills += 1
                // The organization's last writes were appended to its log (``OrganizationLog``).
                if FileManager.default.fileExists(atPath: workspace.path("state/organizations/\(organization).log")) {
                    killsWithLog += 1
                }
            }
            // A last run that is left to catch up, then stopped cleanly once started.
            let started = try JournalReader.entries(["SYSLOG_IDENTIFIER=leen-healthd", "LEEN_EVENT=daemon_started"]).count
            let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            let deadline = ContinuousClock.now + .seconds(60)
            while try JournalReader.entries(["SYSLOG_IDENTIFIER=leen-healthd", "LEEN_EVENT=daemon_started"]).count == started,
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(100))
            }
            try await JournalReader.waitFor(organization: organization, "the journal to match leen-sim", timeout: .seconds(90)) {
                events in
                let last = Self.lastHealth(events)
                return identifiers.allSatisfy { last[$0] == expected[$0] }
            }
            let status = try await daemon.stop()
            #expect(status == 0, "exit status \(status); stderr ends: \(daemon.stderr.suffix(3000))")
        }

        let events = try JournalReader.events(organization: organization)
        let ids = events.compactMap { $0["LEEN_EVENT_ID"] }
        #expect(ids.count == events.count, "every event has an id")
        let repeated = Dictionary(grouping: ids, by: { $0 }).filter { $0.value.count > 1 }
        #expect(repeated.isEmpty, "events written twice: \(repeated.keys.prefix(5))")

        var broken: [String] = []
        var healthEvents = 0
        for identifier in identifiers {
            let chain = events.filter { $0["LEEN_IDENTIFIER"] == identifier && Self.healthKinds.contains($0["LEEN_EVENT"] ?? "") }
            healthEvents += chain.count
            guard let first = chain.first else {
                broken.append("\(identifier): no health event")
                continue
            }
            if first["LEEN_EVENT"] != "connection_monitored" { broken.append("\(identifier): starts with \(first["LEEN_EVENT"]!)") }
            for (previous, event) in zip(chain, chain.dropFirst()) {
                for field in ["STATUS", "HEALTH_NAME", "RESOLUTION_OWNER"]
                where event["LEEN_PREVIOUS_\(field)"] != previous["LEEN_\(field)"] {
                    broken.append(
                        "\(identifier): \(event["LEEN_EVENT"]!) #\(event["LEEN_EVENT_SEQUENCE"] ?? "?") says the previous "
                            + "\(field) was \(event["LEEN_PREVIOUS_\(field)"] ?? "nil"), the previous event said \(previous["LEEN_\(field)"] ?? "nil")")
                }
            }
            // The organization's stream numbers each connection's events, its provisioning's included,
            // 1, 2, 3, … without a gap.
            let sequence = events.filter { $0["LEEN_IDENTIFIER"] == identifier }
                .compactMap { $0["LEEN_EVENT_SEQUENCE"].flatMap(Int.init) }
            if sequence != Array(1...max(1, sequence.count)) { broken.append("\(identifier): sequence \(sequence)") }
        }
        #expect(broken.isEmpty, "\(broken.count) breaks, first: \(broken.prefix(5))")
        // How often a restart found committed events and asked the journal about them.
        let barriers = try JournalReader.entries(["SYSLOG_IDENTIFIER=leen-healthd"]).filter { $0["LEEN_JOURNAL_BARRIER"] != nil }.count
        print("crash test: \(barriers) restarts asked the journal about committed events, \(kills) SIGKILLs (\(killsWithLog) with a log of changes), \(flips) health changes made in leen-sim, \(healthEvents) health events and \(events.count) events in the journal, \(broken.count) breaks, \(repeated.count) repeated ids")
        #expect(kills >= min(rounds, 100))
        if rounds >= 50 {
            #expect(barriers > 0, "no restart had committed events to recover: the test did not test recovery")
            #expect(killsWithLog > 0, "no kill left a log of changes: the test did not test reading one")
        }
        #expect(healthEvents > identifiers.count, "transitions happened")
    }

    /// Each connection's health name in its last health event.
    static func lastHealth(_ events: [[String: String]]) -> [String: String] {
        var last: [String: String] = [:]
        for event in events where healthKinds.contains(event["LEEN_EVENT"] ?? "") {
            if let identifier = event["LEEN_IDENTIFIER"] { last[identifier] = event["LEEN_HEALTH_NAME"] ?? "" }
        }
        return last
    }

    static func configuration(
        _ workspace: Workspace, baseURL: String, organization: OrganizationID, identifiers: [String]
    ) -> String {
        """
        api:
          base_url: \(baseURL)/v1
          key: { file: \(workspace.path("api-key")) }
          timeout: 3s
          attempts: 2
        poll:
          interval: 100ms
          jitter: 0%
          concurrency: 1
          max_backoff: 1s
        state_directory: \(workspace.path("state"))
        metrics:
          listen: off
        organizations:
          - id: \(organization)
            name: Crash
            connections:
        """ + identifiers.map {
            """

                  - identifier: \($0)
                    vendor: TENABLE
                    credentials:
                      client_key: { file: \(workspace.path("tenable-client")) }
                      secret_key: { file: \(workspace.path("tenable-secret")) }
            """
        }.joined()
    }
}
