import ArgumentParser
import AsyncHTTPClient
import Foundation
import LeenAPI
import LeenAPIClient
import LeenSimulator

/// `leen-sim fleet …`: files for running leen-healthd against a large simulated fleet (the benchmarks).
struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Write a fleet's scenario file, or leen-healthd's configuration declaring a fleet.",
        subcommands: [ScenarioCommand.self, ConfigCommand.self])
}

extension FleetCommand {
    struct ScenarioCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scenario",
            abstract: "Write a scenario file: organizations o1…, connections c1… spread round-robin over them.",
            discussion: """
                The connections are of one vendor, without credentials, ACTIVE and HEALTHY at start, with random \
                evolution on. Ids are drawn from --seed: the same arguments write the same file. Prints \
                organizations=N connections=M. Run it with leen-sim --scenario FILE.
                """)

        @Option(help: "Organizations (at least 1).")
        var organizations: Int

        @Option(help: "Connections, spread round-robin over the organizations.")
        var connections: Int

        @Option(help: "Seed for the organization and connection ids.")
        var seed: UInt64 = 1

        @Option(help: "Vendor of every connection (SNYK: OAuth, so declared without credentials).")
        var vendor = "SNYK"

        @Option(help: "The scenario file to write.")
        var output: String

        func validate() throws {
            guard organizations >= 1 else { throw ValidationError("--organizations must be at least 1") }
            guard connections >= 0 else { throw ValidationError("--connections must be at least 0") }
            guard Vendor(rawValue: vendor, documentedOnly: true) != nil else {
                throw ValidationError("--vendor: '\(vendor)' is not a documented vendor")
            }
        }

        func run() throws {
            let scenario = try Scenario.fleet(
                organizations: organizations, connections: connections, seed: seed, vendor: Vendor(rawValue: vendor))
            try writeFile(try scenario.jsonData(), to: output)
            print("organizations=\(organizations) connections=\(connections)")
        }
    }

    struct ConfigCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "config",
            abstract: "Write leen-healthd's configuration declaring every connection of a fleet.",
            discussion: """
                The fleet comes from a scenario file (--from-scenario; every organization needs its id) or from \
                a running leen-sim, listed through its provisioning API (--from-url). Deleted connections and \
                connections without an identifier are left out. OAuth vendors get no credentials; every secret \
                field of the others references --secret-file. Options left out leave their key out (the \
                daemon's default). Prints organizations=N connections=M vendors=V skipped=S.
                """)

        @Option(name: .customLong("from-scenario"), help: "Declare the fleet of this scenario file.")
        var scenarioPath: String?

        @Option(name: .customLong("from-url"), help: "Declare the fleet that this API serves (its /v1 URL).")
        var url: String?

        @Option(name: .customLong("api-key"), help: "X-API-KEY for listing --from-url.")
        var apiKey = "leen-sim-key"

        @Option(help: "Page size for listing --from-url (at most leen-sim's --page-limit-max).")
        var listPageSize = 1000

        @Option(help: "api.base_url (default: --from-url; required with --from-scenario).")
        var baseURL: String?

        @Option(help: "api.key: the file holding the daemon's API key.")
        var keyFile: String

        @Option(help: "The file every secret credential field references (needed for vendors with credentials).")
        var secretFile: String?

        @Option(help: "state_directory.")
        var stateDirectory: String?

        @Option(help: "metrics.listen (HOST:PORT).")
        var listen: String?

        @Option(help: "poll.interval (60s, 1m30s, …).")
        var interval: String?

        @Option(help: "poll.jitter (10% or 0.1).")
        var jitter: String?

        @Option(help: "poll.concurrency.")
        var concurrency: Int?

        @Option(help: "poll.page_size.")
        var pageSize: Int?

        @Option(help: "The configuration file to write.")
        var output: String

        func validate() throws {
            switch (scenarioPath, url) {
            case (nil, nil), (.some, .some):
                throw ValidationError("give one of --from-scenario FILE and --from-url URL")
            case (.some, nil) where baseURL == nil: throw ValidationError("--from-scenario needs --base-url")
            default: break
            }
            if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                throw ValidationError("--from-url: '\(url)' is not an http:// or https:// URL")
            }
            guard listPageSize >= 1 else { throw ValidationError("--list-page-size must be at least 1") }
        }

        func run() async throws {
            let fleet: Fleet
            if let scenarioPath {
                do {
                    fleet = try Fleet(scenario: try Scenario.load(path: scenarioPath))
                } catch let error as FleetError {
                    throw FleetError("\(scenarioPath): \(error)")
                }
            } else {
                let client = LeenClient(
                    configuration: .init(
                        endpoint: .custom(url!), apiKey: LeenAPIKey(apiKey), userAgent: "leen-sim fleet config"),
                    httpClient: .shared)
                fleet = try await Fleet.listed(by: client, pageSize: listPageSize)
            }
            let settings = Fleet.DaemonSettings(
                baseURL: baseURL ?? url!, keyFile: keyFile, secretFile: secretFile, stateDirectory: stateDirectory,
                listen: listen, interval: interval, jitter: jitter, concurrency: concurrency, pageSize: pageSize,
                source: scenarioPath ?? url)
            let text = try fleet.daemonConfiguration(settings)
            try writeFile(Data(text.utf8), to: output)
            print(
                "organizations=\(fleet.organizations.count) connections=\(fleet.connectionCount) "
                    + "vendors=\(fleet.vendors.count) skipped=\(fleet.skipped)")
        }
    }
}

/// Writes a file whole (a reader never sees half of it), with an error that names it.
func writeFile(_ data: Data, to path: String) throws {
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw FleetError("\(path): cannot write: \(error.localizedDescription)")
    }
}
