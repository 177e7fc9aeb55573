import AsyncHTTPClient
import Foundation
import Healthd
import HealthdCore
import HealthdMetrics
import LeenAPI
import LeenAPIClient
import LeenSimulator
import Logging
import ServiceLifecycle
import SystemdSupport
import UnixSignals

/// `leen-healthd demo`: an embedded leen-sim with a lively fleet, and the real daemon monitoring it.
///
/// Three organizations, eleven declared connections across nine vendors (two OAuth ones waiting for
/// authorisation), one pre-existing connection to adopt and one the config does not declare. The simulator
/// runs 2880 times faster than real time, so Leen's 4-hour job interval passes every 5 seconds, and jobs
/// fail often enough to show every kind of event within a minute.
public enum Demo {
    public struct Options: Sendable {
        /// Where the simulator listens; a free loopback port when nil.
        public var listen: (host: String, port: Int)?
        /// Stop after this long; run until Ctrl-C when nil.
        public var duration: Duration?
        public var seed: UInt64 = 7

        public init(listen: (host: String, port: Int)? = nil, duration: Duration? = nil) {
            self.listen = listen
            self.duration = duration
        }
    }

    static let acme = OrganizationID("6d1f3a52-8b7e-4f0e-9c3a-5a2b1e0d4c11")
    static let globex = OrganizationID("2b9c7e14-3d5a-4a61-8f2e-9e7d6c5b4a22")
    static let initech = OrganizationID("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c33")

    /// The simulated fleet: the organizations, one connection to adopt, one the config does not declare.
    static func scenario() -> Scenario {
        Scenario(
            organizations: [
                .init(id: acme.rawValue, name: "Acme Corp", identifier: "acme"),
                .init(id: globex.rawValue, name: "Globex", identifier: "globex"),
                .init(id: initech.rawValue, name: "Initech", identifier: "initech"),
            ],
            connections: [
                .init(organization: "acme", vendor: .tenable, identifier: "tenable-prod"),
                .init(organization: "globex", vendor: .qualys, identifier: "legacy-qualys"),
            ])
    }

    static func simulatorConfiguration(seed: UInt64) -> SimulatorConfiguration {
        var config = SimulatorConfiguration()
        config.seed = seed
        config.apiKeys = ["demo-api-key"]
        config.timeScale = 2880
        config.failureRate = 0.3
        config.failurePersistence = 0.5
        config.firstJobDelaySecs = 3 * 2880
        config.oauthAutoAuthorizeAfterSecs = 15 * 2880
        return config
    }

    /// The daemon's configuration for the demo, with its secrets written under `directory`.
    static func configuration(baseURL: String, directory: URL) throws -> Configuration {
        func secret(_ name: String, _ value: String) throws -> CredentialTemplate {
            let path = directory.appendingPathComponent(name).path
            try AtomicFile.write(Data(value.utf8), to: path)
            return .secret(.file(path))
        }
        let keyPath = directory.appendingPathComponent("api-key").path
        try AtomicFile.write(Data("demo-api-key".utf8), to: keyPath)
        let organizations = [
            OrganizationConfig(
                id: acme, name: "Acme Corp",
                connections: [
                    ConnectionConfig(
                        identifier: "tenable-prod", vendor: .tenable,
                        credentials: .object([
                            "client_key": try secret("tenable-client-key", "demo-tenable-client"),
                            "secret_key": try secret("tenable-secret-key", "demo-tenable-secret"),
                        ])),
                    ConnectionConfig(identifier: "entra", vendor: .msEntra),
                    ConnectionConfig(
                        identifier: "aws-inspector", vendor: .awsInspector2,
                        credentials: .object([
                            "aws": .object([
                                "aws_access_key_id": try secret("aws-key-id", "AKIADEMO"),
                                "aws_secret_access_key": try secret("aws-secret", "demo-aws-secret"),
                                "aws_region_name": .literal("eu-west-1"), "type": .literal("direct_access"),
                            ])
                        ])),
                    ConnectionConfig(
                        identifier: "insightvm", vendor: .insightVM,
                        credentials: .object([
                            "base_url": .literal("https://insightvm.acme.example"),
                            "api_key": try secret("insightvm-key", "demo-insightvm"),
                        ])),
                ]),
            OrganizationConfig(
                id: globex, name: "Globex",
                connections: [
                    ConnectionConfig(
                        identifier: "crowdstrike-spotlight", vendor: .crowdStrikeSpotlight,
                        credentials: .object([
                            "client_id": try secret("cs-id", "demo-cs-id"),
                            "client_secret": try secret("cs-secret", "demo-cs-secret"),
                        ])),
                    ConnectionConfig(identifier: "defender-vms", vendor: .msDefenderVMS),
                    ConnectionConfig(
                        identifier: "sentinelone-vms", vendor: .sentinelOneVMS,
                        credentials: .object([
                            "base_url": .literal("https://globex.sentinelone.example"),
                            "api_token": try secret("s1-token", "demo-s1-token"),
                        ])),
                ]),
            OrganizationConfig(
                id: initech, name: "Initech",
                connections: [
                    ConnectionConfig(
                        identifier: "qualys", vendor: .qualys,
                        credentials: .object([
                            "username": .literal("initech-api"), "password": try secret("qualys-pw", "demo-qualys"),
                        ])),
                    ConnectionConfig(
                        identifier: "wiz", vendor: .wizVMS,
                        credentials: .object([
                            "client_id": try secret("wiz-id", "demo-wiz-id"),
                            "client_secret": try secret("wiz-secret", "demo-wiz-secret"),
                        ])),
                    ConnectionConfig(
                        identifier: "github", vendor: .gitHub,
                        credentials: .object(["token": try secret("github-token", "demo-github-token")])),
                    ConnectionConfig(
                        identifier: "okta", vendor: .oktaIDP,
                        credentials: .object([
                            "domain": .literal("https://initech.okta.example"),
                            "api_token": try secret("okta-token", "demo-okta"),
                        ])),
                ]),
        ]
        return Configuration(
            api: .init(endpoint: .custom(baseURL + "/v1"), key: .file(keyPath), requestTimeout: .seconds(5)),
            poll: .init(interval: .seconds(2), jitter: 0.2, concurrency: 2, pageSize: 100),
            stateDirectory: directory.appendingPathComponent("state").path,
            metrics: .init(listen: nil), events: .init(stderrFormat: .logfmt), organizations: organizations)
    }

    /// Runs the demo; `print` gets every event line and the banners.
    public static func run(
        _ options: Options, logger: Logger, print: @escaping @Sendable (String) -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("leen-healthd-demo-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }

        var simLogger = logger
        simLogger.logLevel = .warning
        let simulator = try LeenSimulator(
            configuration: simulatorConfiguration(seed: options.seed), scenario: scenario(),
            host: options.listen?.host ?? "127.0.0.1", port: options.listen?.port ?? 0, logger: simLogger)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let simService = ClosureService { try await simulator.run { portSink.yield($0) } }
        let journal = Journal.isAvailable
        let emitter = EventEmitter(
            sink: journal ? SystemdJournalSink() : NullSink(), fallback: NullSink(), observers: [{ print(ConsoleLine.of($0)) }])

        let driver = ClosureService {
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            let baseURL = "http://127.0.0.1:\(port)"
            let configuration = try configuration(baseURL: baseURL, directory: directory)
            print("leen-sim listening on \(baseURL)/v1 (key: demo-api-key); time runs 2880x (a Leen job every 5 s)")
            print("events go to stdout\(journal ? " and the journal (journalctl -t leen-healthd -f)" : "")")
            print("state directory: \(configuration.stateDirectory)")
            print(String(repeating: "-", count: 100))
            try await HTTPClient.withHTTPClient(configuration: .init(), backgroundActivityLogger: logger) { http in
                let monitor = try Monitor(
                    configuration: configuration, store: StateStore(directory: configuration.stateDirectory),
                    emitter: emitter, logger: logger)
                let reader = SecretReader(environment: [:])
                let daemon = HealthDaemon(
                    monitor: monitor, loadConfiguration: { configuration },
                    makeClient: { config in
                        LeenClient(
                            configuration: DaemonRunner.clientConfiguration(config, key: try reader.read(config.api.key)),
                            httpClient: http, logger: logger)
                    },
                    readSecret: { try reader.read($0) }, logger: logger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await daemon.run() }
                    if let duration = options.duration {
                        group.addTask {
                            try? await Task.sleep(for: duration)
                            throw DemoFinished()
                        }
                    }
                    do {
                        try await group.next()
                    } catch is DemoFinished {}
                    group.cancelAll()
                }
                let snapshot = await monitor.snapshot()
                print(String(repeating: "-", count: 100))
                print(snapshot.summary)
                print(StatusReport.table(StatusReport.rows(
                    Dictionary(uniqueKeysWithValues: snapshot.organizations.map { ($0.id, $0.state) }),
                    names: Dictionary(uniqueKeysWithValues: snapshot.organizations.map { ($0.id, $0.name ?? $0.id.rawValue) }))))
            }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: simService),
                    .init(service: driver, successTerminationBehavior: .gracefullyShutdownGroup),
                ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    struct DemoFinished: Error {}
}
