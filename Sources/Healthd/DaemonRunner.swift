import AsyncHTTPClient
import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI
import LeenAPIClient
import NIOCore
import Logging
import ServiceLifecycle
import SystemdSupport
import UnixSignals

/// The composition root of `leen-healthd run`: logging, config, state, HTTP client, services, signals.
public enum DaemonRunner {
    /// Exit status for an invalid configuration (sysexits EX_CONFIG).
    public static let exitConfig: Int32 = 78

    /// Diagnostics go to the journal when one listens, else to stderr.
    public static func bootstrapLogging(level: Logger.Level) {
        let journal = Journal.isAvailable
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                journal
                ? JournalLogHandler(label: label, sink: SystemdJournalSink())
                : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Where the metrics endpoint listens, when the command line says (`--web.listen-address`).
    public enum ListenOverride: Sendable, Equatable {
        /// `HOST:PORT`, already checked with ``MetricsServer/parseListen(_:)``.
        case address(String)
        /// No metrics endpoint.
        case off
    }

    /// Runs the daemon until SIGTERM/SIGINT. SIGHUP reloads. Throws ``ConfigErrors``-style errors for an
    /// invalid configuration at start (the caller exits 78).
    ///
    /// - Parameters:
    ///   - listen: replaces `metrics.listen` of the configuration (the listener is bound once, at start; a
    ///     reload does not move it). A socket passed by systemd wins over both.
    ///   - webConfigFile: replaces `metrics.web_config_file` (`--web.config.file`). The file named at start is
    ///     watched and re-read when it changes; naming another one takes a restart.
    ///   - shard: which organizations this instance owns (`--shard`, else the file's `shard` key); kept by
    ///     reloads.
    ///   - stateDirectory: replaces `state_directory` (`--state-directory`).
    public static func run(
        configPath: String, listen: ListenOverride? = nil, webConfigFile: String? = nil,
        shard: ShardSelection = .fromFile, stateDirectory: String? = nil, logger: Logger
    ) async throws {
        Allocator.setUp()
        var options = Options(listen: listen, webConfigFile: webConfigFile)
        options.shard = shard
        options.stateDirectory = stateDirectory
        try await run(configPath: configPath, options: options, logger: logger)
    }

    /// What `run` takes beyond the configuration file: the command line's overrides, and the hooks `demo` uses
    /// to run the very same daemon while printing what it does.
    public struct Options: Sendable {
        public var listen: ListenOverride?
        public var webConfigFile: String?
        /// The shard to load the configuration for (`--shard`); the one in force at start stays for reloads.
        public var shard: ShardSelection = .fromFile
        /// Replaces `state_directory` (`--state-directory`): shards of one configuration on one host each
        /// need their own.
        public var stateDirectory: String?
        /// Called with every event once written.
        public var observers: [@Sendable (HealthEvent) -> Void] = []
        /// False sends nothing to standard error when no journal listens (the demo prints events through an
        /// observer, so the stderr copy would double them).
        public var eventsToStandardError = true
        /// Called with the metrics endpoint's port once it is bound (the actual port when the address says 0).
        public var onMetricsListening: (@Sendable (Int) -> Void)?

        public init(listen: ListenOverride? = nil, webConfigFile: String? = nil) {
            self.listen = listen
            self.webConfigFile = webConfigFile
        }
    }

    public static func run(configPath: String, options: Options, logger: Logger) async throws {
        let listen = options.listen
        let webConfigFile = options.webConfigFile
        if !CoreDumps.disable() {
            logger.warning("cannot turn core dumps off; a crash could write secrets to a core file")
        }
        let environment = ProcessInfo.processInfo.environment
        var configuration = try ConfigLoader.load(path: configPath, environment: environment, shard: options.shard)
        if let directory = options.stateDirectory { configuration.stateDirectory = directory }
        let startShard = configuration.shard
        announceShard(configuration, logger: logger)
        // Held until the process ends: a second daemon on this state directory stops here.
        let lock = try StateDirectoryLock(directory: configuration.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        let reader = SecretReader(environment: environment)
        let serviceManager = ServiceManager()
        try await HTTPClient.withHTTPClient(
            configuration: httpConfiguration(configuration), backgroundActivityLogger: logger
        ) { http in
            let emitter =
                options.eventsToStandardError
                ? EventEmitter.standard(
                    format: StreamSink.Format(configuration.events.stderrFormat), observers: options.observers,
                    fields: EventBuilder.instanceFields(shard: configuration.shard))
                : EventEmitter(
                    sink: Journal.isAvailable ? SystemdJournalSink() : NullSink(), fallback: NullSink(),
                    observers: options.observers, fields: EventBuilder.instanceFields(shard: configuration.shard))
            let recorder = MetricsRecorder(version: Version.current, shard: configuration.shard)
            // Loaded before anything starts: a bad web configuration is a configuration error (exit 78).
            let security = try (webConfigFile ?? configuration.metrics.webConfigFile).map { path throws(ConfigErrors) in
                try WebSecurity(path: path, logger: logger, onReload: { recorder.recordWebConfigReload(success: $0) })
            }
            let monitor = try Monitor(
                configuration: configuration, store: StateStore(directory: configuration.stateDirectory),
                emitter: emitter, pacer: configuration.events.pacer, outboxLimit: configuration.events.maximumPending,
                landed: Journal.isAvailable ? OutboxRecovery.journal() : nil,
                // Events wait up to a tenth of a second longer for polls made a minute apart; in a changing
                // fleet the commits of that tenth share one fdatasync (``GroupCommit``).
                commitWindow: .milliseconds(100), logger: logger)
            var hooks = HealthDaemon.Hooks()
            hooks.ready = { serviceManager.ready(status: $0) }
            hooks.progress = { serviceManager.status($0) }
            hooks.reloading = { serviceManager.reloading() }
            hooks.reloaded = { error in
                serviceManager.notify(
                    "READY=1\nSTATUS=" + (error.map { "reload refused: \($0.prefix(200))" } ?? "configuration reloaded"))
            }
            hooks.stopping = { serviceManager.stopping() }
            let daemon = HealthDaemon(
                monitor: monitor,
                loadConfiguration: {
                    var reloaded = try reloadConfiguration(
                        path: configPath, environment: environment, shard: startShard, logger: logger)
                    if let directory = options.stateDirectory { reloaded.stateDirectory = directory }
                    return reloaded
                },
                makeClient: { config in
                    LeenClient(
                        configuration: clientConfiguration(config, key: try reader.read(config.api.key)),
                        httpClient: http, logger: logger, observer: { recorder.recordRequest(.init($0)) })
                },
                readSecret: { try reader.read($0) }, hooks: hooks, metrics: recorder, logger: logger)
            let reload = SignalReloadService(daemon: daemon)
            let supervisor = SupervisorService(daemon: daemon, manager: serviceManager)

            // The metrics listener comes first: READY waits until it is bound, and it stops last.
            let provider: MetricsEndpoint.Provider = { await monitor.snapshot(recorder: recorder) }
            let (bound, boundSink) = AsyncStream.makeStream(of: Int.self)
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
            if let socket = serviceManager.listeningSockets().first {
                services.append(
                    .init(
                        service: InheritedSocketServer(
                            socket: socket, provider: provider, security: security, logger: logger)))
                boundSink.yield(0)
            } else if let listen = Self.listenAddress(configuration, override: listen) {
                services.append(
                    .init(
                        service: try MetricsServer(
                            listen: listen, provider: provider, security: security, logger: logger,
                            onListening: { port in
                                options.onMetricsListening?(port)
                                boundSink.yield(port)
                            })))
            } else {
                boundSink.yield(0)
            }
            let monitorAfterListener = ClosureService {
                var iterator = bound.makeAsyncIterator()
                guard await iterator.next() != nil else { return }
                try await daemon.run()
            }
            services += [
                .init(service: monitorAfterListener, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: reload),
                .init(service: supervisor, successTerminationBehavior: .ignore),
            ]
            let group = ServiceGroup(
                configuration: .init(
                    services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }

    /// Logs which organizations a sharded instance owns; an empty shard is valid but said out loud (a
    /// configuration with fewer organizations than shards, or an unlucky draw, leaves one with nothing).
    static func announceShard(_ configuration: Configuration, logger: Logger) {
        guard let summary = configuration.shardSummary else { return }
        if configuration.organizations.isEmpty {
            logger.warning("\(summary): this instance owns no organization and polls nothing")
        } else {
            logger.notice("\(summary)")
        }
    }

    /// The configuration a reload (SIGHUP) loads: for the shard in force since start, whatever the file's
    /// `shard` key now says (a change is logged and waits for a restart, like the metrics listener).
    static func reloadConfiguration(
        path: String, environment: [String: String], shard: Shard?, logger: Logger
    ) throws(ConfigErrors) -> Configuration {
        let parsed = try ConfigLoader.loadWithPositions(path: path, environment: environment, shard: .kept(shard))
        if let inFile = parsed.shardInFile, inFile != shard {
            let running = shard.map(String.init(describing:)) ?? "none"
            logger.warning("the configuration now says shard \(inFile); shard \(running) stays in force until a restart")
        }
        announceShard(parsed.configuration, logger: logger)
        return parsed.configuration
    }

    /// The address the metrics endpoint binds: the command line's, else the configuration's; nil for none.
    static func listenAddress(_ configuration: Configuration, override: ListenOverride?) -> String? {
        switch override {
        case .address(let address)?: address
        case .off?: nil
        case nil: configuration.metrics.listen
        }
    }

    public static func clientConfiguration(_ configuration: Configuration, key: String) -> LeenClient.Configuration {
        LeenClient.Configuration(
            endpoint: configuration.api.endpoint, apiKey: LeenAPIKey(key),
            requestTimeout: configuration.api.requestTimeout,
            retry: .forDaemon(configuration.api),
            userAgent: "leen-healthd/\(Version.current)")
    }

    static func httpConfiguration(_ configuration: Configuration) -> HTTPClient.Configuration {
        var http = HTTPClient.Configuration()
        http.timeout = .init(connect: .seconds(10), read: .seconds(Int64(configuration.api.requestTimeout.seconds)))
        http.redirectConfiguration = .disallow
        // No tracer: the daemon bootstraps none, yet AsyncHTTPClient made a span and set its attributes for
        // every request through the default no-op tracer, 2.9% of the daemon's CPU at 100k connections (perf).
        http.tracing.tracer = nil
        return http
    }
}

/// Turns SIGHUP into ``HealthDaemon/requestReload()``. SIGHUP is trapped here only, once.
public struct SignalReloadService: Service {
    let daemon: HealthDaemon

    public init(daemon: HealthDaemon) { self.daemon = daemon }

    public func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            daemon.requestReload()
        }
    }
}

extension MetricsRecorder.Request {
    /// What metrics count of one HTTP attempt the client reports.
    init(_ event: LeenClient.RequestEvent) {
        self.init(
            operation: event.operation, code: event.status.map(String.init) ?? event.errorKind?.rawValue ?? "unknown",
            retryDelay: event.retryDelay, honouredRetryAfter: event.honouredRetryAfter)
    }
}

extension StreamSink.Format {
    init(_ format: Configuration.StderrFormat) {
        switch format {
        case .logfmt: self = .logfmt
        case .json: self = .json
        }
    }
}

/// The version printed by `--version` and sent as the User-Agent.
public enum Version {
    public static let current = "0.1.0"
}

extension RetryPolicy {
    /// The daemon's retries for a configuration: its attempts, the client's default delays. One place, so the
    /// stall limit (``HealthDaemon/stallLimit(_:)``) is computed from the policy the client really uses.
    static func forDaemon(_ api: Configuration.API) -> RetryPolicy {
        RetryPolicy(maximumAttempts: api.maximumAttempts)
    }
}
