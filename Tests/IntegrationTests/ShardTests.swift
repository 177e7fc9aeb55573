import AsyncHTTPClient
import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import LeenAPIClient
import NIOCore
import Testing

@testable import Healthd
@testable import LeenSimulator

/// One configuration, several shards: the real loading, `check-config`, `provision --dry-run` and `status`
/// of the built binary, each with `--shard K/N`.
@Suite("Shards of one configuration")
struct ShardTests {
    static let organizationCount = 9

    /// Organizations `Org-1` … `Org-9`, each with an existing TENABLE connection `tenable-e2e`.
    static func setup(apiKey: String) -> (SimulatorConfiguration, Scenario, [OrganizationID]) {
        var config = SimulatorConfiguration()
        config.apiKeys = [apiKey]
        config.timeScale = 0
        config.firstJobDelaySecs = 60
        // Random ids, drawn again in the 1 case of 256 where all of them land on one of 2 shards (the growing
        // test would have nothing to move).
        var ids: [OrganizationID]
        repeat {
            ids = (1...organizationCount).map { _ in OrganizationID(UUID().uuidString.lowercased()) }
        } while Set(ids.map { Shard.owner(of: $0, among: 2) }).count < 2
        let scenario = Scenario(
            randomEvolution: false,
            organizations: ids.enumerated().map { .init(id: $1.rawValue, name: "Org-\($0 + 1)", identifier: "o\($0 + 1)") },
            connections: ids.indices.map { .init(organization: "o\($0 + 1)", vendor: .tenable, identifier: "tenable-e2e") })
        return (config, scenario, ids)
    }

    /// The daemon's configuration for every organization, each declaring `tenable-e2e`.
    static func configuration(_ workspace: Workspace, baseURL: String, ids: [OrganizationID]) -> String {
        var text = """
            api:
              base_url: \(baseURL)/v1
              key: { file: \(workspace.path("api-key")) }
              timeout: 3s
              attempts: 2
            state_directory: \(workspace.path("state"))
            metrics:
              listen: off
            organizations:

            """
        for (index, id) in ids.enumerated() {
            text += """
                  - id: \(id)
                    name: Org-\(index + 1)
                    connections:
                      - identifier: tenable-e2e
                        vendor: TENABLE
                        credentials:
                          client_key: { file: \(workspace.path("tenable-client")) }
                          secret_key: { file: \(workspace.path("tenable-secret")) }

                """
        }
        return text
    }

    @Test("N shards own every organization exactly once: check-config, provision --dry-run and status --shard K/N")
    func shardsCoverOnce() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let (config, scenario, ids) = Self.setup(apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            _, baseURL in
            let path = workspace.path("leen-healthd.yaml")
            try Self.configuration(workspace, baseURL: baseURL, ids: ids).write(toFile: path, atomically: true, encoding: .utf8)
            let names = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, "Org-\($0 + 1)") })

            // A state directory with every organization, as an unsharded daemon (or the old shards) left it.
            let everything = try ConfigLoader.load(path: path, environment: [:])
            #expect(everything.organizations.count == Self.organizationCount)
            let monitor = try Monitor(
                configuration: everything, store: StateStore(directory: everything.stateDirectory),
                emitter: EventEmitter(sink: NullSink(), fallback: NullSink()), logger: quietLogger)
            let client = simulatorClient(baseURL: baseURL, apiKey: workspace.apiKey)
            for id in ids {
                let listing = try await client.allConnections(organizationID: id)
                _ = await monitor.ingest(.success(Listing(items: listing.items)), organization: id)
            }

            for count in 1...3 {
                var owned: [String: Int] = [:]
                for index in 1...count {
                    let shard = Shard(index: index, count: count)!
                    let expected = Set(ids.filter { shard.owns($0) }.map { names[$0]! })

                    // The real loading: only the shard's organizations.
                    let loaded = try ConfigLoader.load(path: path, environment: [:], shard: .given(shard))
                    #expect(Set(loaded.organizations.map(\.label)) == expected)

                    let check = try await runDaemonBinary(
                        ["check-config", "--config", path, "--shard", "\(shard)"], in: workspace)
                    #expect(check.status == 0, "stderr: \(check.stderr)")
                    #expect(
                        check.stdout.contains("shard \(shard): \(expected.count) of \(Self.organizationCount) organizations"),
                        "\(check.stdout)")

                    let plan = try await runDaemonBinary(
                        ["provision", "--dry-run", "--config", path, "--shard", "\(shard)"], in: workspace)
                    #expect(plan.status == 0, "stderr: \(plan.stderr)")
                    #expect(plan.stdoutLines.first?.hasPrefix("shard \(shard): ") == true, "\(plan.stdout)")
                    let headings = plan.stdoutLines.filter { $0.hasPrefix("Org-") && $0.hasSuffix(":") }
                        .map { String($0.dropLast()) }
                    #expect(Set(headings) == expected, "\(plan.stdout)")
                    #expect(headings.count == expected.count)
                    for heading in headings { owned[heading, default: 0] += 1 }

                    // status with the configuration (its names), and with the state directory alone.
                    let status = try await runDaemonBinary(
                        ["status", "--config", path, "--shard", "\(shard)", "--json"], in: workspace)
                    #expect(status.status == 0, "stderr: \(status.stderr)")
                    let rows = try JSONDecoder().decode([StatusReport.Row].self, from: Data(status.stdout.utf8))
                    #expect(Set(rows.map(\.organization)) == expected)
                    let bare = try await runDaemonBinary(
                        ["status", "--state-directory", workspace.path("state"), "--shard", "\(shard)", "--json"],
                        in: workspace)
                    let bareRows = try JSONDecoder().decode([StatusReport.Row].self, from: Data(bare.stdout.utf8))
                    #expect(Set(bareRows.map { names[OrganizationID($0.organizationID)]! }) == expected)
                }
                #expect(owned == Dictionary(uniqueKeysWithValues: names.values.map { ($0, 1) }), "\(count) shards")
            }

            // The flag's value is checked like the key's.
            let refused = try await runDaemonBinary(["check-config", "--config", path, "--shard", "5/4"], in: workspace)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("the shard K must be between 1 and 4 (N), found 5 in '5/4'"), "\(refused.stderr)")
        }
    }

    /// What one run of a sharded daemon showed: its `/metrics` once ready, and the events it wrote (stderr, JSON).
    struct ShardRun {
        var samples: [Substring]
        var events: [[String: String]]
    }

    /// Runs `leen-healthd run --shard` until ready, scrapes it, stops it.
    static func runShard(_ shard: Shard, config path: String, state: String) async throws -> ShardRun {
        let port = Int.random(in: 30000..<40000)
        let daemon = try DaemonProcess(command: [
            daemonBinary(), "run", "--config", path, "--shard", "\(shard)", "--web.listen-address", "127.0.0.1:\(port)",
            "--state-directory", state,
        ])
        defer { if daemon.isRunning { daemon.signal(SIGKILL) } }
        func get(_ target: String) async throws -> String? {
            guard
                let response = try? await HTTPClient.shared.execute(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)\(target)"), timeout: .seconds(5))
            else { return nil }
            let body = try await response.body.collect(upTo: 64 << 20)
            return String(decoding: body.readableBytesView, as: UTF8.self)
        }
        let end = ContinuousClock.now + .seconds(30)
        while try await get("/-/ready") != "Ready\n", ContinuousClock.now < end, daemon.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        let metrics = try #require(try await get("/metrics"), "stderr: \(daemon.stderr)")
        #expect(try await daemon.stop() == 0)
        let events = daemon.stderr.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        }.filter { $0["LEEN_EVENT"] != nil }
        return ShardRun(samples: metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }, events: events)
    }

    @Test(
        "A sharded daemon polls only its organizations, labels every sample shard=\"K\" and every event LEEN_SHARD",
        .disabled(if: journalEndToEnd, "with a journal, events go there instead of stderr"))
    func shardedDaemon() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let (config, scenario, ids) = Self.setup(apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            _, baseURL in
            let path = workspace.path("leen-healthd.yaml")
            try (Self.configuration(workspace, baseURL: baseURL, ids: ids) + "events:\n  stderr_format: json\n")
                .write(toFile: path, atomically: true, encoding: .utf8)
            // The shard of the first organization, so it owns at least one (the ids are random).
            let shard = Shard(index: Shard.owner(of: ids[0], among: 3), count: 3)!
            let owned = Set(ids.filter { shard.owns($0) }.map(\.rawValue))
            #expect(!owned.isEmpty && owned.count < ids.count)
            let run = try await Self.runShard(shard, config: path, state: workspace.path("state-shard"))

            #expect(run.samples.count > 100)
            for sample in run.samples {
                #expect(sample.contains("{shard=\"\(shard.index)\""), "\(sample)")
            }
            #expect(run.samples.contains("leen_shard_info{shard=\"\(shard.index)\",shards=\"3\"} 1"))
            let polled = Set(run.samples.compactMap { line -> String? in
                guard line.hasPrefix("leen_api_up{"), let match = line.firstMatch(of: /organization_id="([^"]+)"/) else {
                    return nil
                }
                return String(match.1)
            })
            #expect(polled == owned)

            #expect(run.events.contains { $0["LEEN_EVENT"] == "connection_monitored" })
            #expect(
                run.events.allSatisfy { $0["LEEN_SHARD"] == "\(shard)" },
                "\(run.events.filter { $0["LEEN_SHARD"] != "\(shard)" })")
            #expect(Set(run.events.compactMap { $0["LEEN_ORGANIZATION_ID"] }) == owned)
        }
    }

    @Test(
        "From 1 to 2 shards: the moved organizations are adopted with a connection_monitored baseline, nothing else repeats",
        .disabled(if: journalEndToEnd, "with a journal, events go there instead of stderr"))
    func growing() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let (config, scenario, ids) = Self.setup(apiKey: workspace.apiKey)
        // `setup` draws ids that 2 shards split.
        let moving = Set(ids.filter { Shard.owner(of: $0, among: 2) == 2 })
        try #require(!moving.isEmpty && moving.count < ids.count, "every organization on one shard")
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            _, baseURL in
            let path = workspace.path("leen-healthd.yaml")
            try (Self.configuration(workspace, baseURL: baseURL, ids: ids) + "events:\n  stderr_format: json\n")
                .write(toFile: path, atomically: true, encoding: .utf8)
            let (first, second) = (workspace.path("state-shard-1"), workspace.path("state-shard-2"))

            // One shard: everything, with its baseline.
            let alone = try await Self.runShard(Shard(index: 1, count: 1)!, config: path, state: first)
            #expect(alone.events.filter { $0["LEEN_EVENT"] == "connection_monitored" }.count == ids.count)

            // Two shards: shard 1 keeps its state; shard 2 starts with none.
            let kept = try await Self.runShard(Shard(index: 1, count: 2)!, config: path, state: first)
            let added = try await Self.runShard(Shard(index: 2, count: 2)!, config: path, state: second)

            // The old shard writes nothing about any organization: the moved ones leave without an event, the
            // others go on from their state.
            #expect(
                kept.events.filter { $0["LEEN_ORGANIZATION_ID"] != nil }.isEmpty,
                "\(kept.events.map { $0["LEEN_EVENT"] ?? "?" })")
            // The new shard adopts each moved connection and writes its baseline, and nothing else about it.
            let moved = added.events.filter { $0["LEEN_ORGANIZATION_ID"] != nil }
            #expect(Set(moved.compactMap { $0["LEEN_ORGANIZATION_ID"] }) == Set(moving.map(\.rawValue)))
            var kinds: [String: Int] = [:]
            for event in moved { kinds[event["LEEN_EVENT"]!, default: 0] += 1 }
            #expect(kinds == ["connection_adopted": moving.count, "connection_monitored": moving.count])

            // The old shard's state directory no longer holds the moved organizations (removed at its stop).
            let remaining = Set(try StateStore(directory: first).loadOrganizations().keys)
            #expect(remaining == Set(ids).subtracting(moving))
            #expect(Set(try StateStore(directory: second).loadOrganizations().keys) == moving)
        }
    }
}
