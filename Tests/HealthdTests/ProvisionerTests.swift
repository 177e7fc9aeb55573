import HealthdTestSupport
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


@Suite("Provisioner against leen-sim")
struct ProvisionerTests {
    @Test("declared connections missing in Leen are created with their credentials")
    func createsMissingConnections() async throws {
        try await ProvisioningHarness.run { bench in
            try bench.workspace.write("qualys-password", "qualys-pw-SECRET")
            let declared = [
                bench.tenable("tenable-prod"), bench.qualys("qualys-scanner", passwordFile: "qualys-password"),
            ]
            let (plan, outcome) = try await bench.provision(declared, applied: noneApplied())

            #expect(
                plan.actions == [
                    .create(identifier: "tenable-prod", vendor: .tenable),
                    .create(identifier: "qualys-scanner", vendor: .qualys),
                ])
            #expect(outcome.failures == 0)
            #expect(outcome.events.map(\.kind) == [.connectionCreated, .connectionCreated])
            #expect(bench.requests.changes == ["create_connection", "create_connection"])

            let listed = try await bench.listed()
            #expect(
                Set(listed.map { "\($0.identifier ?? "-") \($0.vendor)" }) == [
                    "tenable-prod TENABLE", "qualys-scanner QUALYS",
                ])
            for connection in listed {
                let identifier = try #require(connection.identifier)
                let event = try #require(outcome.events.of(.connectionCreated, identifier).first)
                #expect(event[field: "LEEN_EVENT"] == "connection_created")
                #expect(event[field: "LEEN_ORGANIZATION_ID"] == bench.organization.rawValue)
                #expect(event[field: "LEEN_CONNECTION_ID"] == connection.id.rawValue)
                #expect(event[field: "LEEN_VENDOR"] == connection.vendor.rawValue)
                #expect(event[field: "LEEN_STATE"] == "PENDING")
                #expect(event[field: "LEEN_EVENT_ID"] == nil, "ids are given when the monitor commits the event")
                #expect(event[field: "LEEN_OBSERVED_AT"]?.isEmpty == false)
                #expect(event[field: "LEEN_OAUTH_URL"] == nil)
                #expect(event.priority == .notice)
                #expect(event.message.contains(identifier) && event.message.contains(connection.id.rawValue))
                #expect(
                    event.journalFields.first { $0.name == "MESSAGE_ID" }?.value == "70c5ef2ee5854ef9a0542d23f5143212")
                #expect(outcome.applied[identifier]?.hasPrefix("hmac-sha256:") == true)
                let test = try await bench.client.testConnectionCredentials(
                    organizationID: bench.organization, connectionID: connection.id)
                #expect(test.isValid, "\(identifier): \(test.message ?? "")")
            }

            // The secrets themselves reached the simulator, every field of them.
            #expect(bench.stored("tenable-prod")?.fields["client_key"] == .string(bench.workspace.tenableClient))
            #expect(bench.stored("tenable-prod")?.fields["secret_key"] == .string(bench.workspace.tenableSecret))
            #expect(
                bench.stored("qualys-scanner")?.fields == ["username": "bench-api", "password": "qualys-pw-SECRET"])
            expectNoSecrets(outcome.events, bench.workspace.secrets + ["qualys-pw-SECRET"])
        }
    }

    @Test("an existing connection with the declared identifier is adopted, neither re-created nor patched")
    func adoptsExistingConnection() async throws {
        try await ProvisioningHarness.run(existing: [
            .init(organization: "e2e", vendor: .tenable, identifier: "tenable-prod")
        ]) {
            bench in
            let before = try await bench.listed()
            let existing = try #require(before.first)
            let applied = noneApplied()
            let (plan, outcome) = try await bench.provision([bench.tenable("tenable-prod")], applied: applied)

            #expect(plan.actions == [.adopt(identifier: "tenable-prod", connectionID: existing.id)])
            #expect(outcome.failures == 0)
            #expect(outcome.events.map(\.kind) == [.connectionAdopted])
            let event = try #require(outcome.events.first)
            #expect(event[field: "LEEN_CONNECTION_ID"] == existing.id.rawValue)
            #expect(event[field: "LEEN_IDENTIFIER"] == "tenable-prod")
            #expect(event[field: "LEEN_VENDOR"] == "TENABLE")
            #expect(event[field: "LEEN_ORGANIZATION_ID"] == bench.organization.rawValue)
            #expect(event.priority == .info)

            // The baseline is the hash of the declared credentials.
            let expected = CredentialFingerprint.of(
                .object([
                    "client_key": .string(bench.workspace.tenableClient),
                    "secret_key": .string(bench.workspace.tenableSecret),
                ]), salt: applied.salt)
            #expect(outcome.applied == ["tenable-prod": expected])

            // Nothing was sent: no POST, no PATCH, the connection as it was, its (absent) credentials untouched.
            #expect(bench.requests.changes == [])
            #expect(try await bench.listed() == before)
            #expect(bench.stored("tenable-prod") == nil)

            // Adopted once: from then on it is up to date.
            let again = try await bench.provisioner.plan(
                bench.organizationConfig([bench.tenable("tenable-prod")]),
                applied: applied.recording(outcome, in: bench.organization))
            #expect(again.actions == [.unchanged(identifier: "tenable-prod", connectionID: existing.id)])
        }
    }

    @Test("a changed secret is sent with PATCH once, then the connection is unchanged")
    func changedCredentialsArePatched() async throws {
        try await ProvisioningHarness.run { bench in
            let declared = [bench.tenable("tenable-prod")]
            let first = try await bench.provision(declared, applied: noneApplied())
            #expect(first.outcome.events.map(\.kind) == [.connectionCreated])
            var applied = noneApplied().recording(first.outcome, in: bench.organization)
            let id = try #require(try await bench.listed().first?.id)

            // Same secrets: nothing to do.
            let unchanged = try await bench.provision(declared, applied: applied)
            #expect(unchanged.plan.actions == [.unchanged(identifier: "tenable-prod", connectionID: id)])
            #expect(unchanged.outcome.events.isEmpty)
            #expect(bench.requests.changes == ["create_connection"])

            let rotated = "tenable-secret-rotated-SECRET"
            try bench.workspace.write("tenable-secret", rotated)
            let second = try await bench.provision(declared, applied: applied)
            #expect(second.plan.actions == [.updateCredentials(identifier: "tenable-prod", connectionID: id)])
            #expect(second.outcome.failures == 0)
            // The PATCH, then Leen's test of what it sent: the rotation's result.
            #expect(second.outcome.events.map(\.kind) == [.credentialsUpdated, .credentialsRotated])
            let verified = try #require(second.outcome.events.last)
            #expect(verified[field: "LEEN_CREDENTIALS_VALID"] == "true" && verified.priority == .notice)
            #expect(second.outcome.verifications == ["valid": 1])
            let event = try #require(second.outcome.events.first)
            #expect(event[field: "LEEN_CONNECTION_ID"] == id.rawValue)
            #expect(event[field: "LEEN_IDENTIFIER"] == "tenable-prod")
            #expect(event[field: "LEEN_VENDOR"] == "TENABLE")
            #expect(event.priority == .notice)
            #expect(bench.requests.changes == ["create_connection", "update_connection_by_id", "test_connection_by_id"])
            #expect(bench.stored("tenable-prod")?.fields["secret_key"] == .string(rotated))
            #expect(bench.stored("tenable-prod")?.fields["client_key"] == .string(bench.workspace.tenableClient))
            let newHash = try #require(second.outcome.applied["tenable-prod"])
            #expect(newHash != first.outcome.applied["tenable-prod"])
            expectNoSecrets(first.outcome.events + second.outcome.events, bench.workspace.secrets + [rotated])

            applied = applied.recording(second.outcome, in: bench.organization)
            let third = try await bench.provision(declared, applied: applied)
            #expect(third.plan.actions == [.unchanged(identifier: "tenable-prod", connectionID: id)])
            #expect(third.outcome.events.isEmpty)
            #expect(bench.requests.changes == ["create_connection", "update_connection_by_id", "test_connection_by_id"])
            #expect(try await bench.listed().count == 1)
        }
    }

    @Test("planning and a dry run change nothing in Leen and write no state")
    func dryRunChangesNothing() async throws {
        try await ProvisioningHarness.run(existing: ProvisioningHarness.dryRunFleet) { bench in
            let before = try await bench.listed()

            // Provisioner.plan: lists, nothing else.
            let plan = try await bench.provisioner.plan(
                bench.organizationConfig([
                    bench.tenable("tenable-e2e"), ConnectionConfig(identifier: "entra-e2e", vendor: .msEntra),
                ]),
                applied: noneApplied())
            #expect(plan.actions.map(\.verb) == ["adopt", "create", "unmanaged"])
            #expect(Set(bench.requests.all) == ["list_connections"])

            // `provision --dry-run`, in-process.
            let output = Lines()
            let status = try await ProvisionCommand.run(
                configPath: try bench.writeConfiguration(), dryRun: true, logger: quietLogger,
                print: { output.append($0) })
            #expect(status == 0)
            #expect(output.all.first?.hasPrefix("E2E:") == true)
            try await bench.expectDryRun(printed: output.all, before: before)
        }
    }

    @Test("provision without --dry-run creates, adopts, records hashes (no secrets) and is idempotent")
    func provisionCommandApplies() async throws {
        try await ProvisioningHarness.run(existing: [
            .init(organization: "e2e", vendor: .tenable, identifier: "tenable-e2e")
        ]) {
            bench in
            let configPath = try bench.writeConfiguration()
            let output = Lines()
            let status = try await ProvisionCommand.run(
                configPath: configPath, dryRun: false, logger: quietLogger, print: { output.append($0) })
            #expect(status == 0)
            let text = output.all.joined(separator: "\n")
            #expect(text.contains("connection_adopted") && text.contains("tenable-e2e"))
            #expect(text.contains("connection_created") && text.contains("entra-e2e"))
            #expect(Set(try await bench.listed().compactMap(\.identifier)) == ["tenable-e2e", "entra-e2e"])

            let stored = try StateStore(directory: bench.workspace.path("state")).loadCredentials()
            #expect(
                Set(stored.applied.keys) == [
                    StateStore.AppliedCredentials.key(bench.organization, "tenable-e2e"),
                    StateStore.AppliedCredentials.key(bench.organization, "entra-e2e"),
                ])
            let state = bench.workspace.stateFiles()
            for secret in bench.workspace.secrets { #expect(!state.contains(secret)) }

            // A second pass finds everything up to date: no event, no new connection.
            let again = Lines()
            #expect(
                try await ProvisionCommand.run(
                    configPath: configPath, dryRun: false, logger: quietLogger, print: { again.append($0) }) == 0)
            #expect(again.all.isEmpty)
            #expect(try await bench.listed().count == 2)
        }
    }

    @Test("creating an OAuth connection reports its oauth2_authorize_url")
    func oauthCreationReportsAuthorizeURL() async throws {
        try await ProvisioningHarness.run { bench in
            let (_, outcome) = try await bench.provision(
                [ConnectionConfig(identifier: "entra", vendor: .msEntra)], applied: noneApplied())
            let created = try #require(try await bench.listed().first)
            let url = try #require(created.oauth2AuthorizeURL)
            #expect(url.hasPrefix(bench.baseURL))
            #expect(outcome.events.map(\.kind) == [.connectionCreated])
            let event = try #require(outcome.events.first)
            #expect(event[field: "LEEN_OAUTH_URL"] == url)
            #expect(event.message.contains(url))
            #expect(event.priority == .warning)
            #expect(outcome.applied == ["entra": CredentialFingerprint.none])
            #expect(bench.stored("entra") == nil)
        }
    }

    @Test("connections the config does not declare are reported and never deleted")
    func undeclaredConnectionsAreReported() async throws {
        try await ProvisioningHarness.run(existing: [
            .init(organization: "e2e", vendor: .qualys, identifier: "legacy-qualys"),
            .init(organization: "e2e", vendor: .gitHub),
        ]) { bench in
            let before = try await bench.listed()
            let legacy = try #require(before.first { $0.identifier == "legacy-qualys" })
            let anonymous = try #require(before.first { $0.identifier == nil })
            let (_, outcome) = try await bench.provision([bench.tenable("tenable-prod")], applied: noneApplied())

            #expect(outcome.failures == 0)
            let unmanaged = outcome.events.of(.connectionUnmanaged)
            #expect(unmanaged.count == 2)
            let named = try #require(unmanaged.first { $0[field: "LEEN_CONNECTION_ID"] == legacy.id.rawValue })
            #expect(named[field: "LEEN_IDENTIFIER"] == "legacy-qualys")
            #expect(named[field: "LEEN_VENDOR"] == "QUALYS")
            #expect(named.message.contains("legacy-qualys"))
            let unnamed = try #require(unmanaged.first { $0[field: "LEEN_CONNECTION_ID"] == anonymous.id.rawValue })
            #expect(unnamed[field: "LEEN_IDENTIFIER"] == nil)
            #expect(unnamed[field: "LEEN_VENDOR"] == "GITHUB")
            #expect(outcome.applied.keys.sorted() == ["tenable-prod"])

            #expect(!bench.requests.all.contains("delete_connection_by_id"))
            #expect(bench.requests.changes == ["create_connection"])
            let after = try await bench.listed()
            for connection in before {
                #expect(after.first { $0.id == connection.id } == connection)
            }
        }
    }

    @Test("a connection with the declared identifier but another vendor fails and is left alone")
    func vendorMismatchFails() async throws {
        try await ProvisioningHarness.run(existing: [.init(organization: "e2e", vendor: .qualys, identifier: "scanner")]
        ) {
            bench in
            let before = try await bench.listed()
            let existing = try #require(before.first)
            let (plan, outcome) = try await bench.provision([bench.tenable("scanner")], applied: noneApplied())

            #expect(
                plan.actions == [
                    .vendorMismatch(
                        identifier: "scanner", connectionID: existing.id, declared: .tenable, existing: .qualys)
                ])
            #expect(outcome.failures == 1)
            #expect(outcome.events.map(\.kind) == [.provisioningFailed])
            let event = try #require(outcome.events.first)
            #expect(event[field: "LEEN_IDENTIFIER"] == "scanner")
            #expect(event[field: "LEEN_CONNECTION_ID"] == existing.id.rawValue)
            #expect(event[field: "LEEN_VENDOR"] == "TENABLE")
            #expect(event.message.contains("QUALYS"))
            #expect(event.priority == .error)
            #expect(outcome.applied.isEmpty)
            #expect(bench.requests.changes == [])
            #expect(try await bench.listed() == before)
            #expect(bench.stored("scanner") == nil)
        }
    }

    @Test("an unreadable secret fails only its connection; the others are provisioned")
    func unreadableSecretFailsOneConnection() async throws {
        try await ProvisioningHarness.run { bench in
            try bench.workspace.write("world-readable", "qualys-pw-SECRET")
            chmod(bench.workspace.path("world-readable"), 0o644)
            let declared = [
                bench.qualys("qualys-missing", passwordFile: "does-not-exist"),
                bench.tenable("tenable-prod"),
                bench.qualys("qualys-open", passwordFile: "world-readable"),
            ]
            let (plan, outcome) = try await bench.provision(declared, applied: noneApplied())

            #expect(Set(plan.unresolvable.keys) == ["qualys-missing", "qualys-open"])
            #expect(outcome.failures == 2)
            #expect(
                outcome.events.of(.connectionCreated).compactMap { $0[field: "LEEN_IDENTIFIER"] } == ["tenable-prod"])
            let failures = outcome.events.of(.provisioningFailed)
            #expect(failures.compactMap { $0[field: "LEEN_IDENTIFIER"] }.sorted() == ["qualys-missing", "qualys-open"])
            #expect(
                failures.allSatisfy { $0[field: "LEEN_VENDOR"] == "QUALYS" && $0[field: "LEEN_CONNECTION_ID"] == nil })
            #expect(
                outcome.events.of(.provisioningFailed, "qualys-missing").first?.message.contains("does not exist")
                    == true)
            #expect(
                outcome.events.of(.provisioningFailed, "qualys-open").first?.message.contains("readable by every user")
                    == true)
            #expect(outcome.applied.keys.sorted() == ["tenable-prod"])
            #expect(try await bench.listed().compactMap(\.identifier) == ["tenable-prod"])
            expectNoSecrets(outcome.events, bench.workspace.secrets + ["qualys-pw-SECRET"])
        }
    }

    @Test("no secret appears in any event field or message, whatever happens")
    func secretsNeverInEvents() async throws {
        try await ProvisioningHarness.run(existing: [.init(organization: "e2e", vendor: .qualys, identifier: "clash")])
        {
            bench in
            try bench.workspace.write("partial-key", "partial-client-key-SECRET")
            try bench.workspace.write("qualys-password", "qualys-pw-SECRET")
            let declared = [
                bench.tenable("tenable-prod"),
                bench.qualys("qualys-scanner", passwordFile: "qualys-password"),
                bench.tenable("clash"),
                // Leen refuses it (422: secret_key is missing); the error must not echo the key sent.
                ConnectionConfig(
                    identifier: "tenable-partial", vendor: .tenable,
                    credentials: .object(["client_key": bench.secret("partial-key")])),
            ]
            let first = try await bench.provision(declared, applied: noneApplied())
            let refused = try #require(first.outcome.events.of(.provisioningFailed, "tenable-partial").first)
            #expect(refused[field: "LEEN_API_ERROR"] == "validation")
            #expect(refused[field: "LEEN_HTTP_STATUS"] == "422")

            try bench.workspace.write("tenable-secret", "tenable-secret-rotated-SECRET")
            try bench.workspace.write("qualys-password", "qualys-pw-rotated-SECRET")
            let second = try await bench.provision(
                declared, applied: noneApplied().recording(first.outcome, in: bench.organization))
            #expect(second.outcome.events.of(.credentialsUpdated).count == 2)

            let events = first.outcome.events + second.outcome.events
            #expect(
                Set(events.map(\.kind)).isSuperset(of: [.connectionCreated, .provisioningFailed, .credentialsUpdated]))
            let secrets =
                bench.workspace.secrets + [
                    "partial-client-key-SECRET", "qualys-pw-SECRET", "tenable-secret-rotated-SECRET",
                    "qualys-pw-rotated-SECRET",
                ]
            expectNoSecrets(events, secrets)
            for hash in Array(first.outcome.applied.values) + Array(second.outcome.applied.values) {
                #expect(!secrets.contains { hash.contains($0) })
            }
        }
    }
}

