import Foundation
import Healthd
import HealthdCore
import HealthdMetrics
import LeenAPI
import LeenAPIClient
import LeenSimulator
import Logging
import Synchronization
import ServiceLifecycle
import SystemdSupport
import UnixSignals

/// `leen-healthd demo`: an embedded leen-sim with a lively fleet, and the real daemon monitoring it.
///
/// Three organizations, eleven declared connections across nine vendors (two OAuth ones waiting for
/// authorisation), one pre-existing connection to adopt and one the config does not declare. The simulator
/// runs 2880 times faster than real time, so Leen's 4-hour job interval passes every 5 seconds, and jobs
/// fail often enough to show every kind of event within a minute. The daemon is the real one, run on a
/// configuration file the demo writes, so it serves /metrics and /status too; a simulated customer puts new
/// credentials in place when Leen says they were rejected, and the daemon rotates them.
public enum Demo {
    public struct Options: Sendable {
        /// Where the simulator listens; a free loopback port when nil.
        public var listen: (host: String, port: Int)?
        /// Stop after this long; run until Ctrl-C when nil.
        public var duration: Duration?
        public var seed: UInt64 = 7
        /// Where the daemon serves /metrics and /status (`HOST:PORT`; port 0 picks a free one).
        public var metricsListen = "127.0.0.1:0"
        /// How long the demo's customer takes to put new credentials in place after a connection turns
        /// UNHEALTHY with UNAUTHORIZED.
        public var customerDelay: Duration = .seconds(20)

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
            ],
            // Credential failures are rare (HealthModel); scripted ones on the adopted connection show the
            // rotation within a minute: the vendor rejects the credentials, the customer replaces them, the
            // daemon rotates them.
            steps: [
                .init(at: 20 * 2880, connection: "tenable-prod", health: .unauthorized),
                .init(at: 90 * 2880, connection: "tenable-prod", health: .unauthorized),
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

    /// A credential value in the demo's configuration: written inline, or a secret kept in a file.
    indirect enum Credential {
        case literal(String)
        /// A secret in the file `name` of the demo's directory, holding `value`.
        case file(name: String, value: String)
        case object(KeyValuePairs<String, Credential>)
    }

    /// The declared connections by organization, with their credentials.
    static let declared: [(id: OrganizationID, name: String, connections: [(identifier: String, vendor: Vendor, credentials: Credential?)])] = [
        (
            acme, "Acme Corp",
            [
                (
                    "tenable-prod", .tenable,
                    .object([
                        "client_key": .file(name: "tenable-client-key", value: "demo-tenable-client"),
                        "secret_key": .file(name: "tenable-secret-key", value: "demo-tenable-secret"),
                    ])
                ),
                ("entra", .msEntra, nil),
                (
                    "aws-inspector", .awsInspector2,
                    .object([
                        "aws": .object([
                            "aws_access_key_id": .file(name: "aws-key-id", value: "AKIADEMO"),
                            "aws_secret_access_key": .file(name: "aws-secret", value: "demo-aws-secret"),
                            "aws_region_name": .literal("eu-west-1"), "type": .literal("direct_access"),
                        ])
                    ])
                ),
                (
                    "insightvm", .insightVM,
                    .object([
                        "base_url": .literal("https://insightvm.acme.example"),
                        "api_key": .file(name: "insightvm-key", value: "demo-insightvm"),
                    ])
                ),
            ]
        ),
        (
            globex, "Globex",
            [
                (
                    "crowdstrike-spotlight", .crowdStrikeSpotlight,
                    .object([
                        "client_id": .file(name: "cs-id", value: "demo-cs-id"),
                        "client_secret": .file(name: "cs-secret", value: "demo-cs-secret"),
                    ])
                ),
                ("defender-vms", .msDefenderVMS, nil),
                (
                    "sentinelone-vms", .sentinelOneVMS,
                    .object([
                        "base_url": .literal("https://globex.sentinelone.example"),
                        "api_token": .file(name: "s1-token", value: "demo-s1-token"),
                    ])
                ),
            ]
        ),
        (
            initech, "Initech",
            [
                (
                    "qualys", .qualys,
                    .object([
                        "username": .literal("initech-api"), "password": .file(name: "qualys-pw", value: "demo-qualys"),
                    ])
                ),
                (
                    "wiz", .wizVMS,
                    .object([
                        "client_id": .file(name: "wiz-id", value: "demo-wiz-id"),
                        "client_secret": .file(name: "wiz-secret", value: "demo-wiz-secret"),
                    ])
                ),
                ("github", .gitHub, .object(["token": .file(name: "github-token", value: "demo-github-token")])),
                (
                    "okta", .oktaIDP,
                    .object([
                        "domain": .literal("https://initech.okta.example"),
                        "api_token": .file(name: "okta-token", value: "demo-okta"),
                    ])
                ),
            ]
        ),
    ]

    /// What the demo wrote: its configuration file, and each connection's secret files (the customer of
    /// ``Customer`` rewrites them).
    struct Written {
        var configPath: String
        var stateDirectory: String
        var secretFiles: [String: [String]]
    }

    /// Writes the daemon's configuration file (YAML, as an operator would) and its secrets under `directory`.
    /// The demo runs the real daemon on it, so every output it shows is the daemon's own.
    static func writeConfiguration(baseURL: String, directory: URL) throws -> Written {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        // JSON's string syntax is YAML's double-quoted scalar.
        func quoted(_ text: String) -> String {
            String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
        }
        var secretFiles: [String: [String]] = [:]
        func render(_ credential: Credential, identifier: String) throws -> String {
            switch credential {
            case .literal(let value):
                return quoted(value)
            case .file(let name, let value):
                try AtomicFile.write(Data(value.utf8), to: path(name))
                secretFiles[identifier, default: []].append(path(name))
                return "{file: \(quoted(path(name)))}"
            case .object(let pairs):
                let members = try pairs.map { "\($0.key): \(try render($0.value, identifier: identifier))" }
                return "{" + members.joined(separator: ", ") + "}"
            }
        }
        try AtomicFile.write(Data("demo-api-key".utf8), to: path("api-key"))
        let stateDirectory = path("state")
        var yaml = """
            # Written by `leen-healthd demo`: the daemon runs on this file as it would on yours.
            api:
              base_url: \(quoted(baseURL + "/v1"))
              key: {file: \(quoted(path("api-key")))}
              timeout: 5s
            poll:
              interval: 2s
              jitter: 20%
              concurrency: 2
            state_directory: \(quoted(stateDirectory))
            events:
              stderr_format: logfmt
            alerting:
              # Leen's jobs run 2880 times faster here: confirm problems within seconds, not hours.
              confirm:
                customer: {polls: 2}
                vendor: {polls: 3, for: 5s}
                leen: {polls: 3, for: 5s}
            organizations:

            """
        for organization in declared {
            yaml += "  - id: \(organization.id.rawValue)\n    name: \(quoted(organization.name))\n    connections:\n"
            for connection in organization.connections {
                yaml += "      - identifier: \(quoted(connection.identifier))\n        vendor: \(connection.vendor.rawValue)\n"
                if let credentials = connection.credentials {
                    yaml += "        credentials: \(try render(credentials, identifier: connection.identifier))\n"
                }
            }
        }
        let configPath = path("leen-healthd.yaml")
        try AtomicFile.write(Data(yaml.utf8), to: configPath)
        return Written(configPath: configPath, stateDirectory: stateDirectory, secretFiles: secretFiles)
    }

    /// Plays the customer: some time after a connection turns UNHEALTHY with UNAUTHORIZED, puts new
    /// credentials in its secret files, as an administrator would. The daemon notices the files change and
    /// sends them to Leen (credential rotation).
    final class Customer: Sendable {
        let secretFiles: [String: [String]]
        let delay: Duration
        /// Identifier to when its credentials get fixed; rotations done so far (for new values).
        let pending = Mutex<(due: [String: ContinuousClock.Instant], rotations: Int)>(([:], 0))

        init(secretFiles: [String: [String]], delay: Duration) {
            self.secretFiles = secretFiles
            self.delay = delay
        }

        /// An event observer.
        func observe(_ event: HealthEvent) {
            guard let identifier = event[field: "LEEN_IDENTIFIER"], secretFiles[identifier] != nil else { return }
            let rejected = event[field: "LEEN_HEALTH_NAME"] == HealthName.unauthorized.rawValue
                && event[field: "LEEN_STATUS"] == HealthStatus.unhealthy.rawValue
            pending.withLock { state in
                if rejected {
                    if state.due[identifier] == nil { state.due[identifier] = .now + delay }
                } else if event.kind == .connectionRecovered {
                    state.due[identifier] = nil
                }
            }
        }

        /// Rewrites the secret files of the connections whose fix is due; returns lines to print.
        func fixDue() throws -> [String] {
            let due: [(String, Int)] = pending.withLock { state in
                let now = ContinuousClock.now
                let ready = state.due.filter { $0.value <= now }.keys.sorted()
                return ready.map { identifier in
                    state.due[identifier] = nil
                    state.rotations += 1
                    return (identifier, state.rotations)
                }
            }
            return try due.map { identifier, rotation in
                let files = secretFiles[identifier] ?? []
                for file in files {
                    let old = try String(contentsOfFile: file, encoding: .utf8)
                    let base = old.split(separator: "~").first.map(String.init) ?? old
                    try AtomicFile.write(Data("\(base)~\(rotation)".utf8), to: file)
                }
                return "customer: new credentials for \(identifier) written to \(files.count) secret file(s)"
            }
        }
    }

    /// Runs the demo; `print` gets every event line and the banners.
    public static func run(
        _ options: Options, logger: Logger, print: @escaping @Sendable (String) -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("leen-healthd-demo-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true)
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
        let written = Mutex<Written?>(nil)

        let driver = ClosureService {
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            let baseURL = "http://127.0.0.1:\(port)"
            let files = try writeConfiguration(baseURL: baseURL, directory: directory)
            written.withLock { $0 = files }
            let customer = Customer(secretFiles: files.secretFiles, delay: options.customerDelay)
            let journal = Journal.isAvailable
            print("leen-sim listening on \(baseURL)/v1 (key: demo-api-key); time runs 2880x (a Leen job every 5 s)")
            print("configuration: \(files.configPath); state directory: \(files.stateDirectory)")
            print("events go to stdout\(journal ? " and the journal (journalctl -t leen-healthd -f)" : "")")
            var runOptions = DaemonRunner.Options(listen: .address(options.metricsListen))
            runOptions.eventsToStandardError = false
            runOptions.observers = [
                { print(ConsoleLine.of($0)) },
                { customer.observe($0) },
            ]
            runOptions.onMetricsListening = { port in
                let host = (try? MetricsServer.parseListen(options.metricsListen).host) ?? "127.0.0.1"
                let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
                print("metrics and status: curl \(base)/metrics ; curl \(base)/status")
                print("status from the state directory: leen-healthd status --state-directory \(files.stateDirectory)")
                print(String(repeating: "-", count: 100))
            }
            try await withThrowingTaskGroup(of: Void.self) { [runOptions] group in
                group.addTask {
                    try await DaemonRunner.run(configPath: files.configPath, options: runOptions, logger: logger)
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: .seconds(1))
                        do {
                            for line in try customer.fixDue() { print(line) }
                        } catch {
                            print("customer: cannot write new credentials: \(error)")
                        }
                    }
                }
                // The daemon returns after the group's graceful shutdown reached it (Ctrl-C, or --duration).
                try await group.next()
                group.cancelAll()
            }
            print(String(repeating: "-", count: 100))
            let states = try StateStore(directory: files.stateDirectory).loadOrganizations()
            let names = Dictionary(uniqueKeysWithValues: declared.map { ($0.id, $0.name) })
            print(StatusSummary(states.map { .init(id: $0.key, name: names[$0.key], state: $0.value) }).line)
            print(StatusReport.table(StatusReport.rows(states, names: names)))
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: simService),
            .init(service: driver, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let duration = options.duration {
            let timer = ClosureService {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
            }
            services.append(.init(service: timer, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
