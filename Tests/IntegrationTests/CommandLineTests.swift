import HealthdTestSupport
import Foundation
import HealthdCore
import LeenAPI
import LeenSimulator
import SystemdSupport
import Testing

@testable import Healthd

/// What one run of the `leen-healthd` binary did.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String

    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

/// Runs the built `leen-healthd` with `arguments` until it exits (killed after `timeout`).
func runDaemonBinary(_ arguments: [String], in workspace: Workspace, timeout: Duration = .seconds(30)) async throws
    -> CommandResult
{
    let id = UUID().uuidString
    let out = workspace.path("stdout-\(id)")
    let err = workspace.path("stderr-\(id)")
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    _ = FileManager.default.createFile(atPath: err, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: daemonBinary())
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["NOTIFY_SOCKET"] = nil
    environment["CREDENTIALS_DIRECTORY"] = nil
    process.environment = environment
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    try process.run()
    let end = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now > end {
            process.terminate()
            Issue.record("leen-healthd \(arguments) did not exit within \(timeout)")
            break
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, stdout: try String(contentsOfFile: out, encoding: .utf8),
        stderr: try String(contentsOfFile: err, encoding: .utf8))
}

@Suite("leen-healthd command line")
struct CommandLineTests {
    @Test("check-config on a valid configuration exits 0 and says valid")
    func checkConfigValid() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let path = workspace.path("leen-healthd.yaml")
        try workspace.configuration(baseURL: "http://127.0.0.1:9", organization: OrganizationID(UUID().uuidString))
            .write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await runDaemonBinary(["check-config", "--config", path], in: workspace)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdoutLines == ["\(path): valid (1 organizations, 2 connections)"])
        #expect(result.stderr.isEmpty)
    }

    @Test("check-config on an invalid configuration exits 78 with one PATH:LINE:COLUMN line per problem")
    func checkConfigInvalid() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("open-secret", "tenable-open-SECRET")
        chmod(workspace.path("open-secret"), 0o644)
        let path = workspace.path("invalid.yaml")
        try """
        api:
          base_url: http://127.0.0.1:9/v1
          key: { file: \(workspace.path("api-key")) }
        poll:
          intervall: 10m
        organizations:
          - id: 3c90c3cc-0d44-4b50-8888-8dd25736052a
            connections:
              - identifier: tenable-prod
                vendor: TENABEL
                credentials:
                  client_key: { file: \(workspace.path("tenable-client")) }
                  secret_key: { file: \(workspace.path("open-secret")) }
        """.write(toFile: path, atomically: true, encoding: .utf8)

        let result = try await runDaemonBinary(["check-config", "--config", path], in: workspace)
        #expect(result.status == 78)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderrLines == [
                "\(path):5:3: poll: unknown key 'intervall'; did you mean 'interval'?",
                "\(path):10:17: organizations[0].connections[0].vendor: "
                    + "unknown vendor 'TENABEL'; did you mean 'TENABLE'?",
                "\(path):13:31: organizations[0].connections[0].credentials.secret_key: file "
                    + "\(workspace.path("open-secret")) is readable by every user; chmod 600 it",
            ])
        let shape = /^(.+):([0-9]+):([0-9]+): \S.*$/
        for line in result.stderrLines {
            let match = try #require(line.wholeMatch(of: shape), "not PATH:LINE:COLUMN: message: \(line)")
            #expect(String(match.1) == path)
        }
        #expect(!result.stderr.contains("tenable-open-SECRET"))
    }

    @Test("provision --dry-run prints the plan, exits 0 and changes nothing")
    func provisionDryRun() async throws {
        try await ProvisioningHarness.run(existing: ProvisioningHarness.dryRunFleet) { bench in
            let before = try await bench.listed()
            let result = try await runDaemonBinary(
                ["provision", "--dry-run", "--config", try bench.writeConfiguration()], in: bench.workspace)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try await bench.expectDryRun(printed: result.stdoutLines, before: before)
            for secret in bench.workspace.secrets { #expect(!(result.stdout + result.stderr).contains(secret)) }
        }
    }

    @Test(
        "provision applies the plan, records it, and writes its events to stderr in events.stderr_format",
        .disabled(if: Journal.isAvailable, "with a journal, events go there instead of stderr"))
    func provisionApplies() async throws {
        try await ProvisioningHarness.run(existing: [
            .init(organization: "e2e", vendor: .tenable, identifier: "tenable-e2e")
        ]) {
            bench in
            let result = try await runDaemonBinary(
                ["provision", "--config", try bench.writeConfiguration()], in: bench.workspace)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(Set(try await bench.listed().compactMap(\.identifier)) == ["tenable-e2e", "entra-e2e"])
            #expect(FileManager.default.fileExists(atPath: bench.workspace.path("state/credentials.json")))

            let events = result.stderrLines.filter {
                $0.contains("connection_created") || $0.contains("connection_adopted")
            }
            #expect(events.count == 2, "stderr: \(result.stderr)")
            // The configuration says `stderr_format: json`.
            for line in events {
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
                #expect(["connection_created", "connection_adopted"].contains(object["LEEN_EVENT"]))
            }

            // An invalid configuration is EX_CONFIG (78) with PATH:LINE:COLUMN lines, as for run and check-config.
            let broken = bench.workspace.path("broken.yaml")
            try "api:\n  regionn: us\n".write(toFile: broken, atomically: true, encoding: .utf8)
            let refused = try await runDaemonBinary(["provision", "--dry-run", "--config", broken], in: bench.workspace)
            #expect(refused.status == 78, "stderr: \(refused.stderr)")
            #expect(refused.stderr.contains("\(broken):2:3:"), "stderr: \(refused.stderr)")
        }
    }

    @Test("status prints the monitored connections from the state directory, as a table or JSON, filtered")
    func statusFromStateDirectory() async throws {
        try await ProvisioningHarness.run(existing: [
            .init(organization: "e2e", vendor: .tenable, identifier: "tenable-e2e", health: .unauthorized),
            .init(organization: "e2e", vendor: .msEntra, identifier: "entra-e2e", oauthPending: true),
            .init(organization: "e2e", vendor: .msDefenderVMS, identifier: "defender-e2e", health: .vendorServerError),
        ]) { bench in
            let workspace = bench.workspace
            let organization = bench.organization
            // A short in-process run: one poll ingested by the monitor, which writes the state directory.
            let path = try bench.writeConfiguration()
            let declared = try String(contentsOfFile: path, encoding: .utf8)
                + "\n      - identifier: defender-e2e\n        vendor: MS_DEFENDER_VMS\n"
            try declared.write(toFile: path, atomically: true, encoding: .utf8)
            let configuration = try ConfigLoader.load(path: path, environment: [:])
            let monitor = try Monitor(
                configuration: configuration, store: StateStore(directory: configuration.stateDirectory),
                emitter: EventEmitter(sink: NullSink(), fallback: NullSink()), logger: quietLogger)
            // Three monitored (two of them unhealthy), one OAuth pending, and UNAUTHORIZED confirmed at once
            // (alerting.confirm); the VENDOR problem waits for more polls.
            #expect(await monitor.ingest(.success(Listing(items: try await bench.listed())), organization: organization)?.events == 5)

            func status(_ arguments: [String]) async throws -> CommandResult {
                let result = try await runDaemonBinary(["status"] + arguments, in: workspace)
                #expect(result.status == 0, "stderr: \(result.stderr)")
                return result
            }
            let table = try await status(["--state-directory", workspace.path("state")])
            let lines = table.stdoutLines.map { $0.split(separator: " ").map(String.init) }
            #expect(
                lines.first == [
                    "ORGANIZATION", "IDENTIFIER", "VENDOR", "STATE", "STATUS", "HEALTH", "OWNER", "FOR", "SINCE", "API",
                ])
            let rows = Dictionary(uniqueKeysWithValues: lines.dropFirst().prefix(3).map { ($0[1], $0) })
            let tenable = try #require(rows["tenable-e2e"])
            #expect(tenable.count == 10)
            #expect(
                Array(tenable.prefix(7)) == [
                    organization.rawValue, "tenable-e2e", "TENABLE", "ACTIVE", "UNHEALTHY", "UNAUTHORIZED", "CUSTOMER",
                ])
            #expect(tenable[7].wholeMatch(of: /[0-9]+s/) != nil, "FOR: \(tenable[7])")
            #expect(tenable.last == "ok")
            let entra = try #require(rows["entra-e2e"])
            #expect(
                Array(entra.prefix(8)) == [
                    organization.rawValue, "entra-e2e", "MS_ENTRA", "PENDING", "OAUTH_PENDING", "-", "-", "-",
                ])
            // Below the table, what each unhealthy connection's owner should do.
            let advice = Array(table.stdoutLines.drop { $0 != "What to do:" }.dropFirst())
            #expect(advice.count == 2, "\(table.stdout)")
            #expect(advice.contains { $0.contains("tenable-e2e (\(organization.rawValue)): CUSTOMER must act") })
            #expect(advice.contains { $0.contains("defender-e2e (\(organization.rawValue)): VENDOR-side problem") })

            // With the configuration: its state directory and the organization's name; as JSON.
            func json(_ arguments: [String]) async throws -> [StatusReport.Row] {
                let result = try await status(["--config", path, "--json"] + arguments)
                return try JSONDecoder().decode([StatusReport.Row].self, from: Data(result.stdout.utf8))
            }
            let all = try await json([])
            #expect(all.map(\.identifier) == ["defender-e2e", "entra-e2e", "tenable-e2e"])
            #expect(all.allSatisfy { $0.organization == "E2E" && $0.organizationID == organization.rawValue && $0.api == "ok" })
            #expect(all.map(\.status) == ["UNHEALTHY", "OAUTH_PENDING", "UNHEALTHY"])
            #expect(all.map(\.owner) == ["VENDOR", "-", "CUSTOMER"])
            #expect(all[1].unhealthySince == nil && all[1].unhealthyForSeconds == nil && all[1].action == nil)
            let customer = all[2]
            #expect(customer.action == "CUSTOMER must act: update the connection's credentials")
            #expect(customer.unhealthySince == customer.since)
            #expect((0..<600).contains(customer.unhealthyForSeconds ?? -1))

            // Filters, alone and together.
            #expect(try await json(["--unhealthy"]).map(\.identifier) == ["defender-e2e", "tenable-e2e"])
            #expect(try await json(["--owner", "customer"]).map(\.identifier) == ["tenable-e2e"])
            #expect(try await json(["--organization", "e2e", "--owner", "VENDOR"]).map(\.identifier) == ["defender-e2e"])
            #expect(try await json(["--organization", organization.rawValue.uppercased()]).count == 3)
            #expect(try await json(["--organization", "3c90c3cc-0d44-4b50-8888-8dd25736052a"]).isEmpty)
        }
    }

    @Test("--help lists every subcommand")
    func helpListsSubcommands() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try await runDaemonBinary(["--help"], in: workspace)
        #expect(result.status == 0)
        let subcommands = result.stdoutLines.compactMap { line -> String? in
            guard let match = line.firstMatch(of: /^\s+([a-z][a-z-]*)\b/) else { return nil }
            return String(match.1)
        }
        for name in ["run", "check-config", "provision", "status", "history", "demo", "pause", "resume", "test"] {
            #expect(subcommands.contains(name), "\(name) missing from:\n\(result.stdout)")
        }
    }

    @Test("--version prints the version")
    func versionIsPrinted() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try await runDaemonBinary(["--version"], in: workspace)
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == Version.current)
        #expect(Version.current.wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+.*/) != nil)
    }
}
