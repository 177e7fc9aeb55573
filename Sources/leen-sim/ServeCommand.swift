import ArgumentParser
import Foundation
import LeenSimulator
import Logging
import ServiceLifecycle
import UnixSignals

/// `leen-sim serve`, the default subcommand: the simulator itself (`leen-sim --listen …` runs it).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the simulator (the default: `leen-sim --listen …` is `leen-sim serve --listen …`).",
        discussion: """
            Serves /v1/provisioning/... like Leen (validation, errors, pagination, health evolution) and a \
            control API under /_sim/ for faults, clock and direct changes. See docs/simulator.md.
            """)

    @Option(help: "Address to listen on: HOST:PORT, [IPv6]:PORT or :PORT.")
    var listen = "127.0.0.1:8080"

    @Option(name: .customLong("api-key"), help: "An accepted X-API-KEY (repeatable; default leen-sim-key).")
    var apiKeys: [String] = []

    @Option(
        name: .customLong("reject-credential-value"),
        help: "A credential value the simulated vendors refuse (repeatable): Test Connection Credentials says invalid and jobs end UNAUTHORIZED.")
    var rejectedCredentialValues: [String] = []

    @Option(help: "Seed for ids, fleet, health evolution and fault draws.")
    var seed: UInt64 = 1

    @Option(help: "Organizations to create at start.")
    var organizations = 0

    @Option(help: "Connections to create at start, spread over the organizations and vendors.")
    var connections = 0

    @Option(help: "Simulated seconds per real second (0 freezes the clock).")
    var timeScale: Double = 1

    @Option(help: "Simulated start time (ISO 8601); now when omitted.")
    var startTime: String?

    @Option(help: "Scenario file (JSON) with organizations, connections and timed steps.")
    var scenario: String?

    @Option(help: "Largest accepted page limit.")
    var pageLimitMax = 1000

    @Option(help: "A limit above --page-limit-max: reject (422) or clamp.")
    var overLimit: SimulatorConfiguration.OverLimitBehaviour = .reject

    @Option(help: "Soft-deleted connections: visible, get-only or hidden.")
    var deletedVisibility: SimulatorConfiguration.DeletedVisibility = .visible

    @Flag(inversion: .prefixedNo, help: "Honour enableCursor on the provisioning lists.")
    var cursorSupport = true

    @Option(help: "Cursor page envelope: full (count, total too) or minimal.")
    var cursorEnvelope: SimulatorConfiguration.CursorEnvelope = .full

    @Option(help: "What a PATCH without state does: unchanged or active.")
    var patchOmittedState: SimulatorConfiguration.PatchOmittedState = .unchanged

    @Flag(help: "Refuse (409) a second live connection with the same identifier in an organization.")
    var rejectDuplicateIdentifiers = false

    @Flag(inversion: .prefixedNo, help: "Require the documented credential fields per vendor.")
    var strictCredentials = true

    @Flag(help: "Keep oauth2_authorize_url after authorisation.")
    var keepOAuthURL = false

    @Option(help: "refresh_interval_secs of connections (simulated seconds between jobs).")
    var refreshInterval = 14400

    @Option(help: "timeout_secs of connections.")
    var timeoutSecs = 1800

    @Option(help: "Simulated seconds from creation or authorisation to the first job.")
    var firstJobDelay = 60

    @Option(help: "Probability that a job of a healthy connection fails.")
    var failureRate = 0.1

    @Option(help: "Probability that a LEEN or VENDOR failure repeats on the next job.")
    var failurePersistence = 0.5

    @Option(help: "Share of the pre-populated OAuth connections still waiting for authorisation.")
    var oauthPendingShare = 0.5

    @Option(help: "Authorise OAuth connections this many simulated seconds after creation.")
    var oauthAutoAuthorizeAfter: Double?

    @Option(help: "Base URL used in oauth2_authorize_url (default: the listen address).")
    var publicBaseURL: String?

    @Option(help: "Share of /v1 requests answered with --error-status.") var errorRate = 0.0
    @Option(help: "Status for --error-rate.") var errorStatus = 503
    @Option(help: "Share of /v1 requests answered 429.") var rateLimitRate = 0.0
    @Option(help: "Retry-After seconds on injected 429s.") var retryAfter = 1
    @Option(help: "Latency added to /v1 requests (ms).") var latencyMs = 0
    @Option(help: "Random extra latency, 0 to this many ms.") var latencyJitterMs = 0
    @Option(help: "Share of /v1 requests left hanging.") var hangRate = 0.0
    @Option(help: "How long a hanging request hangs (s).") var hangSecs = 300.0
    @Option(help: "Share of /v1 responses with JSON cut in half.") var truncateRate = 0.0
    @Option(help: "Share of /v1 responses with a non-JSON body.") var malformedRate = 0.0
    @Option(help: "Share of /v1 requests whose connection is closed mid-response.") var closeRate = 0.0

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let (host, port) = try Self.parseListen(listen)
        var config = SimulatorConfiguration()
        if !apiKeys.isEmpty { config.apiKeys = apiKeys }
        config.rejectedCredentialValues = Set(rejectedCredentialValues)
        config.seed = seed
        config.organizations = organizations
        config.connections = connections
        config.timeScale = timeScale
        if let startTime {
            guard let date = try? Date(startTime, strategy: .iso8601) else {
                throw ValidationError("--start-time: '\(startTime)' is not an ISO 8601 date-time")
            }
            config.startTime = date
        }
        config.pageLimitMax = pageLimitMax
        config.overLimit = overLimit
        config.deletedVisibility = deletedVisibility
        config.cursorSupport = cursorSupport
        config.cursorEnvelope = cursorEnvelope
        config.patchOmittedState = patchOmittedState
        config.rejectDuplicateIdentifiers = rejectDuplicateIdentifiers
        config.strictCredentials = strictCredentials
        config.clearOAuthURLWhenAuthorized = !keepOAuthURL
        config.refreshIntervalSecs = refreshInterval
        config.timeoutSecs = timeoutSecs
        config.firstJobDelaySecs = firstJobDelay
        config.failureRate = failureRate
        config.failurePersistence = failurePersistence
        config.oauthPendingShare = oauthPendingShare
        config.oauthAutoAuthorizeAfterSecs = oauthAutoAuthorizeAfter
        config.publicBaseURL = publicBaseURL
        config.faults.errorRate = errorRate
        config.faults.errorStatus = errorStatus
        config.faults.rateLimitRate = rateLimitRate
        config.faults.retryAfterSecs = retryAfter
        config.faults.latencyMs = latencyMs
        config.faults.latencyJitterMs = latencyJitterMs
        config.faults.hangRate = hangRate
        config.faults.hangSecs = hangSecs
        config.faults.truncateRate = truncateRate
        config.faults.malformedRate = malformedRate
        config.faults.closeRate = closeRate

        var logger = Logger(label: "leen-sim")
        logger.logLevel = logLevel
        let loaded: Scenario?
        do {
            loaded = try scenario.map { try Scenario.load(path: $0) }
        } catch {
            throw ValidationError("--scenario \(error)")
        }
        let simulator = try LeenSimulator(
            configuration: config, scenario: loaded, host: host, port: port, logger: logger)
        let announcer = logger
        let settings = config
        let service = ClosureService {
            try await simulator.run { port in
                announcer.notice(
                    "leen-sim listening",
                    metadata: [
                        "api": "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/v1",
                        "organizations": "\(settings.organizations)", "connections": "\(settings.connections)",
                        "seed": "\(settings.seed)", "time_scale": "\(settings.timeScale)",
                    ])
            }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Splits `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces on IPv4 loopback's default: 127.0.0.1).
    static func parseListen(_ text: String) throws -> (String, Int) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(after: close)...].drop { $0 == ":" }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            throw ValidationError("--listen: '\(text)' is not HOST:PORT")
        }
        if host.isEmpty { host = "127.0.0.1" }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ValidationError("--listen: '\(portText)' is not a port number")
        }
        return (String(host), port)
    }
}

extension SimulatorConfiguration.OverLimitBehaviour: ExpressibleByArgument {}
extension SimulatorConfiguration.DeletedVisibility: ExpressibleByArgument {}
extension SimulatorConfiguration.CursorEnvelope: ExpressibleByArgument {}
extension SimulatorConfiguration.PatchOmittedState: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
