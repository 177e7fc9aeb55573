import AsyncHTTPClient
import Foundation
import HealthdCore
import LeenAPI
import LeenAPIClient
import Logging
import SystemdSupport

/// `leen-healthd provision [--dry-run]`: one provisioning pass over every organization.
public enum ProvisionCommand {
    /// Returns the exit status: 0 when everything was provisioned, 1 when anything failed.
    public static func run(
        configPath: String, dryRun: Bool, shard: ShardSelection = .fromFile, stateDirectory: String? = nil,
        logger: Logger, print: @escaping @Sendable (String) -> Void
    ) async throws -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        var configuration = try ConfigLoader.load(path: configPath, environment: environment, shard: shard)
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        // Said first: a shard's plan leaves the other shards' organizations out on purpose.
        if let summary = configuration.shardSummary {
            print(configuration.organizations.isEmpty ? "\(summary): nothing to provision" : summary)
        }
        let reader = SecretReader(environment: environment)
        let store = StateStore(directory: configuration.stateDirectory)
        // A pass that records credentials must not race a running daemon's writes (a dry run writes nothing).
        let lock = dryRun ? nil : try StateDirectoryLock(directory: configuration.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        return try await HTTPClient.withHTTPClient(configuration: .init(), backgroundActivityLogger: logger) { http in
            let client = LeenClient(
                configuration: DaemonRunner.clientConfiguration(configuration, key: try reader.read(configuration.api.key)),
                httpClient: http, logger: logger)
            let provisioner = Provisioner(client: client, readSecret: { try reader.read($0) })
            var credentials = try store.loadCredentials()
            var failures = 0
            let emitter = EventEmitter.standard(
                format: StreamSink.Format(configuration.events.stderrFormat), observers: [{ print(ConsoleLine.of($0)) }],
                fields: EventBuilder.instanceFields(shard: configuration.shard))
            // A one-shot command writes its events directly (no outbox): ids from a stream of its own.
            var stream = EventStream()
            for organization in configuration.organizations {
                let plan: Provisioner.Plan
                do {
                    plan = try await provisioner.plan(organization, applied: credentials)
                } catch {
                    print("\(organization.label): cannot list connections: \(error)")
                    failures += 1
                    continue
                }
                if dryRun {
                    print(planTable(plan))
                    continue
                }
                let outcome = await provisioner.apply(plan, now: Date())
                var events = outcome.events
                stream.stamp(&events)
                emitter.emit(events)
                failures += outcome.failures
                for (identifier, hash) in outcome.applied {
                    credentials[organization.id, identifier] = hash
                }
            }
            if !dryRun { try store.save(credentials) }
            return failures == 0 ? 0 : 1
        }
    }

    /// `ACTION  IDENTIFIER  VENDOR  CONNECTION` lines for one organization.
    public static func planTable(_ plan: Provisioner.Plan) -> String {
        let vendors = Dictionary(uniqueKeysWithValues: plan.organization.connections.map { ($0.identifier, $0.vendor) })
        var lines = ["\(plan.organization.label):"]
        for action in plan.actions {
            let (identifier, vendor, id): (String, String, String) =
                switch action {
                case .create(let identifier, let vendor): (identifier, vendor.rawValue, "-")
                case .adopt(let identifier, let id), .updateCredentials(let identifier, let id),
                    .unchanged(let identifier, let id):
                    (identifier, vendors[identifier]?.rawValue ?? "?", id.rawValue)
                case .vendorMismatch(let identifier, let id, let declared, let existing):
                    (identifier, "\(declared.rawValue) (Leen has \(existing.rawValue))", id.rawValue)
                case .unmanaged(let id, let identifier, let vendor): (identifier ?? "-", vendor.rawValue, id.rawValue)
                case .blocked(let identifier, let vendor, let why): (identifier, vendor.rawValue, "-  (\(why))")
                }
            var line = "  " + action.verb.padding(toLength: 10, withPad: " ", startingAt: 0)
            line += identifier.padding(toLength: 28, withPad: " ", startingAt: 0) + " "
            line += vendor.padding(toLength: 24, withPad: " ", startingAt: 0) + " " + id
            if let why = plan.unresolvable[identifier] { line += "  (credentials unreadable: \(why))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
