import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("Scenarios")
struct ScenarioTests {
    static let organizationID = "0b0e6c0e-1111-4aaa-8bbb-000000000001"
    static let removedID = "0b0e6c0e-2222-4aaa-8bbb-000000000002"
    static let stepDetails = [HealthDetail(endpoint: "https://x.example/alerts", dataExportType: .alerts)]

    static var scenario: Scenario {
        var faults = FaultSettings()
        faults.errorRate = 1
        faults.errorStatus = 502
        faults.pathContains = "/test"
        return Scenario(
            organizations: [.init(id: organizationID, name: "Acme", identifier: "acme")],
            connections: [
                .init(organization: "acme", vendor: .tenable, identifier: "tenable-prod"),
                .init(organization: "acme", vendor: .qualys, identifier: "qualys-prod"),
                .init(id: removedID, organization: organizationID, vendor: .insightVM, identifier: "ivm"),
                .init(organization: "acme", vendor: .tenable, identifier: "free-running"),
                .init(organization: "acme", vendor: .msEntra, identifier: "entra", oauthPending: true),
                .init(
                    organization: "acme", vendor: .crowdStrikeSpotlight, identifier: "starts-broken",
                    health: .vendorServerError, details: stepDetails),
            ],
            steps: [
                // Deliberately out of order: the simulator sorts by time.
                .init(at: 20, connection: "qualys-prod", state: .paused),
                .init(at: 10, connection: "tenable-prod", health: .unauthorized, details: stepDetails),
                .init(at: 30, connection: removedID, remove: true),
                .init(at: 40, faults: faults),
                .init(at: 50, connection: "entra", authorize: true),
            ])
    }

    /// Random evolution would break every job (failureRate 1), and jobs run every 5 simulated seconds.
    static var config: SimulatorConfiguration {
        .frozen {
            $0.refreshIntervalSecs = 5
            $0.firstJobDelaySecs = 60
            $0.failureRate = 1
            $0.failurePersistence = 0
        }
    }

    /// Connections of the scenario organization by identifier.
    static func byIdentifier(_ sim: Sim) async throws -> [String: JSONValue] {
        let items = try await sim.items(connectionsPath(organizationID))
        var result: [String: JSONValue] = [:]
        for item in items { result[try #require(item["identifier"]?.stringValue)] = item }
        return result
    }

    @Test("The scenario's organizations and connections exist at start with their initial health")
    func initialFleet() async throws {
        try await withSimulator(Self.config, scenario: Self.scenario) { sim async throws in
            let organization = try await sim.get(organizationPath(Self.organizationID))
            #expect(organization.json?["name"]?.stringValue == "Acme")
            #expect(organization.json?["identifier"]?.stringValue == "acme")
            let connections = try await Self.byIdentifier(sim)
            #expect(Set(connections.keys) == ["tenable-prod", "qualys-prod", "ivm", "free-running", "entra", "starts-broken"])
            #expect(connections["ivm"]?["id"]?.stringValue == Self.removedID)
            for name in ["tenable-prod", "qualys-prod", "ivm", "free-running"] {
                #expect(connections[name]?["state"]?.stringValue == "ACTIVE", "\(name)")
                #expect(connections[name]?["is_active"]?.boolValue == true, "\(name)")
                #expect(connections[name]?["health"]?["name"]?.stringValue == "HEALTHY", "\(name)")
            }
            let entra = try #require(connections["entra"])
            #expect(entra["state"]?.stringValue == "PENDING")
            #expect(entra["health"]?.isNull == true)
            #expect(entra["oauth2_authorize_url"]?.stringValue?.hasSuffix("connection_id=\(entra["id"]?.stringValue ?? "")") == true)
            let broken = try #require(connections["starts-broken"]?["health"])
            #expect(broken["name"]?.stringValue == "VENDOR_SERVER_ERROR")
            #expect(broken["resolution_owner"]?.stringValue == "VENDOR")
            #expect(broken["details"]?[0]?["data_export_type"]?.stringValue == "alerts")
        }
    }

    @Test("Each step applies once its time is reached, and only then")
    func stepsApplyOnTime() async throws {
        try await withSimulator(Self.config, scenario: Self.scenario) { sim async throws in
            let ids = try await Self.byIdentifier(sim).compactMapValues { $0["id"]?.stringValue }
            let tenable = try #require(ids["tenable-prod"])
            let qualys = try #require(ids["qualys-prod"])
            let entra = try #require(ids["entra"])

            // t = 9: jobs have run (every 5 s) but no step is due.
            sim.advance(9)
            var now = try await Self.byIdentifier(sim)
            #expect(now["tenable-prod"]?["health"]?["name"]?.stringValue == "HEALTHY")
            #expect(now["free-running"]?["health"]?["status"]?.stringValue == "UNHEALTHY")

            // t = 10: the health step.
            sim.advance(1)
            now = try await Self.byIdentifier(sim)
            let health = try #require(now["tenable-prod"]?["health"])
            #expect(health["name"]?.stringValue == "UNAUTHORIZED")
            #expect(health["resolution_owner"]?.stringValue == "CUSTOMER")
            #expect(health["details"] == .array([
                .object(["endpoint": .string("https://x.example/alerts"), "data_export_type": .string("alerts")])
            ]))
            #expect(now["tenable-prod"]?["updated_at"]?.stringValue == timestamp(10))
            #expect(now["qualys-prod"]?["state"]?.stringValue == "ACTIVE")

            // t = 19 / 20: the state step.
            sim.advance(9)
            #expect(try await sim.connection(Self.organizationID, qualys)["state"]?.stringValue == "ACTIVE")
            sim.advance(1)
            let paused = try await sim.connection(Self.organizationID, qualys)
            #expect(paused["state"]?.stringValue == "PAUSED")
            #expect(paused["is_active"]?.boolValue == false)
            // Resume it by PATCH: the step is not applied a second time.
            #expect(try await sim.patch(connectionPath(Self.organizationID, qualys), #"{"state":"ACTIVE"}"#).status == 200)

            // t = 29 / 30: the remove step.
            sim.advance(9)
            #expect(try await sim.get(connectionPath(Self.organizationID, Self.removedID)).status == 200)
            sim.advance(1)
            #expect(try await sim.get(connectionPath(Self.organizationID, Self.removedID)).status == 404)
            #expect(try await Self.byIdentifier(sim)["ivm"] == nil)
            #expect(try await sim.connection(Self.organizationID, qualys)["state"]?.stringValue == "ACTIVE")

            // t = 39 / 40: the faults step (only paths containing /test).
            sim.advance(9)
            #expect(try await sim.get(connectionPath(Self.organizationID, tenable) + "/test").status == 200)
            sim.advance(1)
            #expect(try await sim.get(connectionPath(Self.organizationID, tenable) + "/test").status == 502)
            #expect(try await sim.get(connectionPath(Self.organizationID, tenable)).status == 200)
            #expect(sim.state.faults.errorStatus == 502)

            // t = 49 / 50: the authorise step, then the first job firstJobDelaySecs later.
            sim.advance(9)
            #expect(try await sim.connection(Self.organizationID, entra)["oauth2_authorize_url"]?.stringValue != nil)
            sim.advance(1)
            let authorised = try await sim.connection(Self.organizationID, entra)
            #expect(authorised["oauth2_authorize_url"]?.isNull == true)
            #expect(authorised["state"]?.stringValue == "PENDING")
            sim.advance(60)
            let active = try await sim.connection(Self.organizationID, entra)
            #expect(active["state"]?.stringValue == "ACTIVE")
            // Scripted: HEALTHY on its first job despite failureRate 1.
            #expect(active["health"]?["name"]?.stringValue == "HEALTHY")

            // Long after: scripted connections keep their scripted health, unscripted ones evolve.
            sim.advance(1000)
            now = try await Self.byIdentifier(sim)
            #expect(now["tenable-prod"]?["health"] == health)
            #expect(now["qualys-prod"]?["health"]?["name"]?.stringValue == "HEALTHY")
            #expect(now["free-running"]?["health"]?["status"]?.stringValue == "UNHEALTHY")
            #expect(now["starts-broken"]?["health"]?["status"]?.stringValue == "UNHEALTHY")
            #expect(sim.state.summary().connections == 5)
        }
    }

    @Test("Steps are applied by control calls too, without any API request")
    func stepsDueOnSummary() async throws {
        try await withSimulator(Self.config, scenario: Self.scenario) { sim async throws in
            sim.advance(30)
            let summary = sim.state.summary()
            #expect(summary.connections == 5)
            // Nothing but the step at t = 20 pauses a connection.
            #expect(summary.byState["PAUSED"] == 1)
            #expect(summary.byState["PENDING"] == 1)
        }
    }

    @Test("random_evolution false keeps every connection as scripted")
    func randomEvolutionOff() async throws {
        let scenario = Scenario(
            randomEvolution: false, organizations: [.init(id: Self.organizationID, name: "Acme", identifier: "acme")],
            connections: [.init(organization: "acme", vendor: .tenable, identifier: "t")])
        try await withSimulator(Self.config, scenario: scenario) { sim async throws in
            let created = try await sim.createTenable(Self.organizationID, identifier: "api-created")
            sim.advance(500)
            let all = try await Self.byIdentifier(sim)
            #expect(all["t"]?["health"]?["name"]?.stringValue == "HEALTHY")
            let apiCreated = try await sim.connection(Self.organizationID, created)
            #expect(apiCreated["state"]?.stringValue == "ACTIVE")
            #expect(apiCreated["health"]?["name"]?.stringValue == "HEALTHY")
        }
    }

    @Test("A step naming an unknown connection is a ScenarioError")
    func unknownConnectionInStep() throws {
        let scenario = Scenario(
            organizations: [.init(name: "Acme", identifier: "acme")],
            connections: [.init(organization: "acme", vendor: .tenable, identifier: "t")],
            steps: [.init(at: 5, connection: "nope", health: .unauthorized)])
        let error = try #require(throws: ScenarioError.self) {
            _ = try SimulatorState(configuration: .frozen(), scenario: scenario)
        }
        #expect(error.message.contains("unknown connection 'nope'"))
        #expect(error.message.contains("steps[0]"))
    }

    @Test("withRunning refuses a bad scenario before serving")
    func withRunningRejectsBadScenario() async throws {
        let scenario = Scenario(connections: [.init(organization: "ghost", vendor: .tenable)])
        await #expect(throws: ScenarioError.self) {
            try await withSimulator(.frozen(), scenario: scenario) { _ in }
        }
    }

    @Test("Unknown organizations and duplicate ids are ScenarioErrors")
    func otherScenarioErrors() throws {
        let unknownOrganization = try #require(throws: ScenarioError.self) {
            _ = try SimulatorState(
                configuration: .frozen(),
                scenario: Scenario(connections: [.init(organization: "ghost", vendor: .tenable)]))
        }
        #expect(unknownOrganization.message.contains("unknown organization 'ghost'"))
        let duplicate = try #require(throws: ScenarioError.self) {
            _ = try SimulatorState(
                configuration: .frozen(),
                scenario: Scenario(organizations: [
                    .init(id: Self.organizationID, name: "A"), .init(id: Self.organizationID, name: "B"),
                ]))
        }
        #expect(duplicate.message.contains("duplicate id"))
    }

    static func temporaryFile(_ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("leen-sim-scenario-\(UUID().uuidString).json").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("Scenario.load names a missing file")
    func loadMissingFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).json").path
        let error = try #require(throws: ScenarioError.self) { try Scenario.load(path: path) }
        #expect(error.message.hasPrefix(path))
        #expect(error.message.contains("cannot read"))
        #expect(error.description == error.message)
    }

    @Test("Scenario.load names the file for bad JSON and says where a field is missing")
    func loadBadJSON() throws {
        let bad = try Self.temporaryFile("{ this is not json")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let syntax = try #require(throws: ScenarioError.self) { try Scenario.load(path: bad) }
        #expect(syntax.message.hasPrefix("\(bad): "))

        let incomplete = try Self.temporaryFile(#"{"steps":[{"at":1},{"connection":"x"}]}"#)
        defer { try? FileManager.default.removeItem(atPath: incomplete) }
        let missing = try #require(throws: ScenarioError.self) { try Scenario.load(path: incomplete) }
        #expect(missing.message.hasPrefix("\(incomplete): "))
        #expect(missing.message.contains("missing 'at'"))
        #expect(missing.message.contains(".steps[1]"))
    }

    @Test("Scenario.load reads the documented file format and the simulator runs it")
    func loadAndRun() async throws {
        let path = try Self.temporaryFile(
            """
            {
              "random_evolution": false,
              "organizations": [{"id": "\(Self.organizationID)", "name": "Acme", "identifier": "acme"}],
              "connections": [{"organization": "acme", "vendor": "TENABLE", "identifier": "tenable-prod",
                               "health": "HEALTHY"},
                              {"organization": "acme", "vendor": "MS_ENTRA", "identifier": "entra",
                               "oauth_pending": true}],
              "steps": [{"at": 5, "connection": "tenable-prod", "health": "UNAUTHORIZED",
                         "details": [{"endpoint": "https://x.example/alerts", "data_export_type": "alerts"}]},
                        {"at": 6, "queue": [{"kind": "status", "status": 429, "retry_after": "3"}]}]
            }
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let scenario = try Scenario.load(path: path)
        #expect(scenario.randomEvolution == false)
        #expect(scenario.connections?.count == 2)
        #expect(scenario.connections?[1].oauthPending == true)
        #expect(scenario.steps?.first?.details?.first?.dataExportType == .alerts)
        #expect(scenario.steps?.last?.queue?.first?.retryAfter == "3")

        try await withSimulator(.frozen(), scenario: scenario) { sim async throws in
            sim.advance(5)
            let items = try await Self.byIdentifier(sim)
            #expect(items["tenable-prod"]?["health"]?["name"]?.stringValue == "UNAUTHORIZED")
            #expect(items["entra"]?["state"]?.stringValue == "PENDING")
            sim.advance(1)
            let limited = try await sim.get(organizationsPath)
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") == "3")
            #expect(try await sim.get(organizationsPath).status == 200)
        }
    }
}
