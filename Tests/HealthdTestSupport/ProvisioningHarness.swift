import AsyncHTTPClient
import Foundation
import HealthdCore
import LeenAPI
import LeenAPIClient
import Logging
import Synchronization
import Testing

@testable import Healthd
@testable import LeenSimulator

/// Every API operation a ``LeenClient`` attempted, in order (from its observer).
package final class RequestLog: Sendable {
    package init() {}

    private let operations = Mutex<[String]>([])

    package func record(_ event: LeenClient.RequestEvent) { operations.withLock { $0.append(event.operation) } }

    package var all: [String] { operations.withLock { $0 } }
    /// The operations other than listing (the ones that could change something).
    package var changes: [String] { all.filter { $0 != "list_connections" } }
}

/// One organization in an in-process simulator, secrets in a ``Workspace``, and a ``Provisioner`` whose
/// client records every request.
package struct ProvisioningHarness {
    package let simulator: LeenSimulator
    package let baseURL: String
    package let organization: OrganizationID
    package let workspace: Workspace
    package let client: LeenClient
    package let requests: RequestLog

    /// Runs `body` against a simulator whose organization holds `existing` connections (organization
    /// reference `e2e`), with a frozen clock and no random evolution.
    package static func run<T: Sendable>(
        existing: [Scenario.Connection] = [], _ body: (ProvisioningHarness) async throws -> T
    ) async throws -> T {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let organization = OrganizationID(UUID().uuidString.lowercased())
        let (config, scenario) = simulatorSetup(
            organization: organization, apiKey: workspace.apiKey, existing: existing)
        return try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            let requests = RequestLog()
            let client = simulatorClient(baseURL: baseURL, apiKey: workspace.apiKey, observer: { requests.record($0) })
            return try await body(
                ProvisioningHarness(
                    simulator: simulator, baseURL: baseURL, organization: organization, workspace: workspace,
                    client: client, requests: requests))
        }
    }

    package var provisioner: Provisioner {
        Provisioner(client: client, readSecret: { try SecretReader(environment: [:]).read($0) })
    }

    package func organizationConfig(_ connections: [ConnectionConfig]) -> OrganizationConfig {
        OrganizationConfig(id: organization, name: "Bench", connections: connections)
    }

    /// A secret read from the workspace file `name`.
    package func secret(_ name: String) -> CredentialTemplate { .secret(.file(workspace.path(name))) }

    /// A TENABLE connection whose keys are the workspace's `tenable-client` and `tenable-secret` files.
    package func tenable(_ identifier: String) -> ConnectionConfig {
        ConnectionConfig(
            identifier: identifier, vendor: .tenable,
            credentials: .object(["client_key": secret("tenable-client"), "secret_key": secret("tenable-secret")]))
    }

    /// A QUALYS connection with a literal username and the password in the workspace file `passwordFile`.
    package func qualys(_ identifier: String, passwordFile: String) -> ConnectionConfig {
        ConnectionConfig(
            identifier: identifier, vendor: .qualys,
            credentials: .object(["username": .literal("bench-api"), "password": secret(passwordFile)]))
    }

    /// Plans and applies once.
    package func provision(
        _ connections: [ConnectionConfig], applied: StateStore.AppliedCredentials
    ) async throws -> (plan: Provisioner.Plan, outcome: Provisioner.Outcome) {
        let plan = try await provisioner.plan(organizationConfig(connections), applied: applied)
        return (plan, await provisioner.apply(plan, now: Date()))
    }

    /// Writes the workspace's configuration for this simulator and organization (`tenable-e2e`, `entra-e2e`)
    /// as `leen-healthd.yaml`; returns its path.
    package func writeConfiguration() throws -> String {
        let file = workspace.path("leen-healthd.yaml")
        try workspace.configuration(baseURL: baseURL, organization: organization)
            .write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The connections with which a dry run of ``writeConfiguration()`` adopts, creates and reports one each.
    package static let dryRunFleet: [Scenario.Connection] = [
        .init(organization: "e2e", vendor: .tenable, identifier: "tenable-e2e"),
        .init(organization: "e2e", vendor: .qualys, identifier: "legacy-qualys"),
    ]

    /// Checks a printed dry-run plan over ``dryRunFleet`` and that Leen still lists exactly `before` and no
    /// state was written.
    package func expectDryRun(printed: [String], before: [Connection], sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let rows = planRows(printed)
        let ids = Dictionary(uniqueKeysWithValues: before.map { ($0.identifier ?? "-", $0.id.rawValue) })
        #expect(
            rows["tenable-e2e"] == ["adopt", "tenable-e2e", "TENABLE", ids["tenable-e2e"] ?? "?"],
            sourceLocation: sourceLocation)
        #expect(rows["entra-e2e"] == ["create", "entra-e2e", "MS_ENTRA", "-"], sourceLocation: sourceLocation)
        #expect(
            rows["legacy-qualys"] == ["unmanaged", "legacy-qualys", "QUALYS", ids["legacy-qualys"] ?? "?"],
            sourceLocation: sourceLocation)
        #expect(try await listed() == before, sourceLocation: sourceLocation)
        #expect(simulator.state.summary().connections == before.count, sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: workspace.path("state")), sourceLocation: sourceLocation)
    }

    /// The organization's connections, as Leen lists them.
    package func listed() async throws -> [Connection] {
        try await client.allConnections(organizationID: organization).items
    }

    /// The credentials the simulator stores for the connection with this identifier.
    package func stored(_ identifier: String) -> VendorCredentials? {
        let organization = self.organization
        return simulator.state.data.withLock { data in
            data.connections.values.first {
                $0.connection.organizationID == organization && $0.connection.identifier == identifier
            }?.credentials
        }
    }
}

/// ``simulatorSetup(organization:apiKey:)`` with `existing` as the organization's connections.
package func simulatorSetup(
    organization: OrganizationID, apiKey: String, existing: [Scenario.Connection]
) -> (SimulatorConfiguration, Scenario) {
    let (config, template) = simulatorSetup(organization: organization, apiKey: apiKey)
    var scenario = template
    scenario.connections = existing
    return (config, scenario)
}

/// A client of the in-process simulator at `baseURL`.
package func simulatorClient(
    baseURL: String, apiKey: String, observer: (@Sendable (LeenClient.RequestEvent) -> Void)? = nil
) -> LeenClient {
    LeenClient(
        configuration: .init(endpoint: .custom(baseURL + "/v1"), apiKey: LeenAPIKey(apiKey)),
        httpClient: HTTPClient.shared, logger: quietLogger, observer: observer)
}

/// A fresh, empty record of applied credentials.
package func noneApplied() -> StateStore.AppliedCredentials { StateStore.AppliedCredentials(salt: "bench-salt", applied: [:]) }

extension StateStore.AppliedCredentials {
    /// With the hashes an outcome applied in `organization`.
    package func recording(_ outcome: Provisioner.Outcome, in organization: OrganizationID) -> Self {
        var copy = self
        for (identifier, hash) in outcome.applied { copy[organization, identifier] = hash }
        return copy
    }
}

extension Array where Element == HealthEvent {
    package func of(_ kind: EventKind, _ identifier: String? = nil) -> [HealthEvent] {
        filter { $0.kind == kind && (identifier == nil || $0[field: "LEEN_IDENTIFIER"] == identifier) }
    }
}

/// Records an issue for every journal field (MESSAGE included) of every event that contains a secret.
package func expectNoSecrets(_ events: [HealthEvent], _ secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    for event in events {
        for field in event.journalFields {
            for secret in secrets where field.value.contains(secret) {
                Issue.record(
                    "\(event.kind.rawValue) \(field.name) contains a secret: \(field.value)",
                    sourceLocation: sourceLocation)
            }
        }
    }
}

/// Lines printed by a command under test.
package final class Lines: Sendable {
    package init() {}

    private let lines = Mutex<[String]>([])
    package func append(_ line: String) { lines.withLock { $0.append(line) } }
    package var all: [String] { lines.withLock { $0 } }
}

/// The rows of a printed provisioning plan (`  VERB  IDENTIFIER  VENDOR  CONNECTION`), by identifier.
package func planRows(_ printed: [String]) -> [String: [String]] {
    var rows: [String: [String]] = [:]
    for line in printed.flatMap({ $0.split(separator: "\n") }) where line.hasPrefix("  ") {
        let cells = line.split(separator: " ").map(String.init)
        if cells.count >= 2 { rows[cells[1]] = cells }
    }
    return rows
}
