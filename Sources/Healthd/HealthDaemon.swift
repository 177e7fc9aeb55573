import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI
import Logging
import ServiceLifecycle
import Synchronization

/// The monitor as a `Service`: provisions, then polls every organization on its schedule until shutdown,
/// re-reading the configuration on ``requestReload()``.
///
/// Polls, timers and reload requests all post into one mailbox that a single loop consumes, so the
/// schedule has one owner and every concurrent piece is a child task of `run()`.
public final class HealthDaemon: Service {
    public let monitor: Monitor
    let loadConfiguration: @Sendable () throws -> Configuration
    let makeClient: @Sendable (Configuration) throws -> LeenClient
    let readSecret: @Sendable (SecretSource) throws -> String
    let hooks: Hooks
    let metrics: MetricsRecorder?
    let logger: Logger
    let mailbox: AsyncStream<Message>
    let post: AsyncStream<Message>.Continuation
    let activity = Locked(Activity())

    /// When the daemon last did something, for the watchdog and the startup timeout.
    struct Activity: Sendable {
        /// The scheduler loop handled a message.
        var loop: ContinuousClock.Instant?
        /// Startup (provisioning) finished an organization.
        var startup = ContinuousClock.now
        /// In-flight polls: when each last completed a page (or started).
        var polls: [OrganizationID: ContinuousClock.Instant] = [:]
        var ready = false
    }

    /// Lifecycle callbacks for the service manager (sd_notify) and the metrics endpoint.
    public struct Hooks: Sendable {
        /// Startup finished: config loaded, state restored, provisioning and the first poll cycle done.
        public var ready: @Sendable (_ summary: String) -> Void = { _ in }
        /// After every poll, with the current one-line summary.
        public var progress: @Sendable (_ summary: String) -> Void = { _ in }
        /// A reload starts.
        public var reloading: @Sendable () -> Void = {}
        /// A reload ended; `error` says why it was refused.
        public var reloaded: @Sendable (_ error: String?) -> Void = { _ in }
        /// Shutdown starts.
        public var stopping: @Sendable () -> Void = {}

        public init() {}
    }

    enum Message: Sendable {
        case tick
        case polled(OrganizationID, Monitor.PollResult?, Duration)
        case reload
        /// From the supervisor: the loop proves it is alive by handling it.
        case ping
    }

    public init(
        monitor: Monitor, loadConfiguration: @escaping @Sendable () throws -> Configuration,
        makeClient: @escaping @Sendable (Configuration) throws -> LeenClient,
        readSecret: @escaping @Sendable (SecretSource) throws -> String, hooks: Hooks = Hooks(),
        metrics: MetricsRecorder? = nil, logger: Logger
    ) {
        self.monitor = monitor
        self.metrics = metrics
        self.loadConfiguration = loadConfiguration
        self.makeClient = makeClient
        self.readSecret = readSecret
        self.hooks = hooks
        self.logger = logger
        (mailbox, post) = AsyncStream.makeStream(of: Message.self)
    }

    /// Asks the running daemon to re-read its configuration and secrets (SIGHUP).
    public func requestReload() { post.yield(.reload) }

    /// Whether the daemon is making progress, for the systemd watchdog: the scheduler loop has handled a
    /// message since `since` (the supervisor's previous ping), and no poll has gone `stall` without
    /// completing a page. Before the loop starts (startup), progress means provisioning advanced within `stall`.
    public func isMakingProgress(since: ContinuousClock.Instant, stall: Duration) -> Bool {
        let now = ContinuousClock.now
        return activity.withLock { activity in
            guard let loop = activity.loop else { return now - activity.startup < stall }
            return loop >= since && activity.polls.values.allSatisfy { now - $0 < stall }
        }
    }

    /// True once READY was reported (first provisioning and poll cycle done).
    public var isReady: Bool { activity.withLock { $0.ready } }

    /// Posts a ping the scheduler loop answers by handling it (see ``isMakingProgress(since:stall:)``).
    public func ping() { post.yield(.ping) }

    /// The longest a healthy poll may go without finishing a page: every attempt timing out, plus backoff.
    public static func stallLimit(_ configuration: Configuration) -> Duration {
        configuration.api.requestTimeout * configuration.api.maximumAttempts + .seconds(60)
    }

    public func run() async throws {
        var configuration = await monitor.configuration
        var client = try makeClient(configuration)
        metrics?.setPollInterval(configuration.poll.interval)
        await provisionAll(configuration, client: client)
        await monitor.emit([
            EventBuilder.event(
                .daemonStarted, .info,
                "leen-healthd started: \(configuration.organizations.count) organizations, "
                    + "\(configuration.organizations.reduce(0) { $0 + $1.connections.count }) declared connections",
                context: EventContext(organizationLabel: "", observedAt: Date()))
        ])
        var schedule = PollSchedule()
        schedule.reconcile(with: configuration.organizations.map(\.id), now: .now)
        var readySent = false
        var lastProgress = ContinuousClock.now - .seconds(1)
        var armedFor: ContinuousClock.Instant?
        let post = self.post

        try await withThrowingDiscardingTaskGroup { group in
            func dispatch() {
                for id in schedule.ready(at: .now, limit: max(1, configuration.poll.concurrency)) {
                    guard let organization = configuration.organizations.first(where: { $0.id == id }) else { continue }
                    schedule.inFlight.insert(id)
                    let pollClient = client
                    let poll = configuration.poll
                    let activity = self.activity
                    activity.withLock { $0.polls[id] = .now }
                    group.addTask {
                        let started = ContinuousClock.now
                        let result = await Self.poll(organization, client: pollClient, poll: poll) {
                            activity.withLock { $0.polls[id] = .now }
                        }
                        post.yield(.polled(id, result, ContinuousClock.now - started))
                    }
                }
                if let next = schedule.nextDue, armedFor.map({ next < $0 }) ?? true {
                    armedFor = next
                    group.addTask {
                        try? await Task.sleep(until: next)
                        post.yield(.tick)
                    }
                }
            }
            dispatch()
            for await message in mailbox.cancelOnGracefulShutdown() {
                activity.withLock { $0.loop = .now }
                switch message {
                case .ping:
                    // Under systemd: a trailing STATUS refresh, so polls skipped by the 1 s limit show soon.
                    if readySent, ContinuousClock.now - lastProgress >= .seconds(1) {
                        lastProgress = .now
                        hooks.progress(await monitor.snapshot().summary)
                    }
                case .tick:
                    if let armed = armedFor, armed <= .now { armedFor = nil }
                case .polled(let id, let result, let duration):
                    schedule.inFlight.remove(id)
                    activity.withLock { _ = $0.polls.removeValue(forKey: id) }
                    guard let result else { break }
                    let ingested = await monitor.ingest(result, organization: id)
                    var retryAfter: Duration?
                    var outcome = "success"
                    if case .failure(let error) = result {
                        retryAfter = error.retryAfter
                        outcome = error.kind.rawValue
                        // A failure that made no event is a repeat of an outage already reported.
                        if ingested?.events == 0 { metrics?.recordSuppressed() }
                    }
                    metrics?.recordPoll(organization: id, result: outcome, duration: duration)
                    if let ingested {
                        schedule.due[id] =
                            .now
                            + PollSchedule.delay(
                                poll: configuration.poll, failures: ingested.state.consecutiveFailures,
                                retryAfter: retryAfter, unit: Double.random(in: 0..<1))
                    }
                    // The summary walks every connection: at most once a second, not after every poll.
                    let becameReady = !readySent ? await monitor.firstCycleComplete : false
                    if becameReady || ContinuousClock.now - lastProgress >= .seconds(1) {
                        lastProgress = .now
                        let summary = await monitor.snapshot().summary
                        hooks.progress(summary)
                        if becameReady {
                            readySent = true
                            activity.withLock { $0.ready = true }
                            metrics?.setReady(true)
                            hooks.ready(summary)
                        }
                    }
                case .reload:
                    if let reloaded = await reload(current: configuration) {
                        configuration = reloaded.configuration
                        client = reloaded.client
                        schedule.reconcile(with: configuration.organizations.map(\.id), now: .now)
                        armedFor = nil
                    }
                    if !readySent, await monitor.firstCycleComplete {
                        readySent = true
                        activity.withLock { $0.ready = true }
                        metrics?.setReady(true)
                        hooks.ready(await monitor.snapshot().summary)
                    }
                }
                dispatch()
            }
            hooks.stopping()
            await monitor.emit([
                EventBuilder.event(
                    .daemonStopping, .info, "leen-healthd is stopping",
                    context: EventContext(organizationLabel: "", observedAt: Date()))
            ])
            group.cancelAll()
        }
        await monitor.persistAll()
    }

    /// Lists every page of an organization's connections; nil when cancelled (shutdown).
    static func poll(
        _ organization: OrganizationConfig, client: LeenClient, poll: Configuration.Poll,
        pageDone: @Sendable () -> Void = {}
    ) async -> Monitor.PollResult? {
        do {
            var all: [Connection] = []
            for try await page in client.connectionPages(
                organizationID: organization.id, pageSize: poll.pageSize, mode: poll.pagination)
            {
                all += page.items
                pageDone()
            }
            return .success(all)
        } catch let error as LeenAPIError {
            return .failure(error)
        } catch is CancellationError {
            return nil
        } catch {
            return .failure(
                LeenAPIError(
                    kind: .transport, operation: "list_connections", request: "GET organization \(organization.id)",
                    underlying: String(describing: error)))
        }
    }

    /// Provisions every organization, a few at a time.
    func provisionAll(_ configuration: Configuration, client: LeenClient) async {
        let provisioner = Provisioner(client: client, readSecret: readSecret, logger: logger)
        let applied = await monitor.appliedCredentials
        let limit = max(1, configuration.poll.concurrency)
        await withTaskGroup(of: (OrganizationID, Provisioner.Outcome).self) { group in
            var pending = configuration.organizations[...]
            func startNext() {
                guard let organization = pending.popFirst() else { return }
                group.addTask {
                    do {
                        let plan = try await provisioner.plan(organization, applied: applied)
                        return (organization.id, await provisioner.apply(plan, now: Date()))
                    } catch {
                        var outcome = Provisioner.Outcome()
                        outcome.failures = 1
                        outcome.events = [
                            EventBuilder.event(
                                .provisioningFailed, .error,
                                "Provisioning \(organization.label) failed: cannot list its connections: \(error)",
                                fields: [EventField("LEEN_ORGANIZATION_ID", organization.id.rawValue)]
                                    + provisioner.apiFields(error),
                                context: EventContext(organizationLabel: organization.label, observedAt: Date()))
                        ]
                        return (organization.id, outcome)
                    }
                }
            }
            for _ in 0..<limit { startNext() }
            for await (id, outcome) in group {
                activity.withLock { $0.startup = .now }
                await monitor.recordApplied(outcome.applied, organization: id)
                await monitor.emit(outcome.events)
                startNext()
            }
        }
        await monitor.flushAppliedCredentials()
    }

    /// Re-reads configuration and secrets; on any error keeps the current configuration and says why.
    func reload(current: Configuration) async -> (configuration: Configuration, client: LeenClient)? {
        hooks.reloading()
        let context = EventContext(organizationLabel: "", observedAt: Date())
        let configuration: Configuration
        let client: LeenClient
        do {
            configuration = try loadConfiguration()
            client = try makeClient(configuration)
        } catch {
            let reason = String(describing: error)
            logger.error("reload refused; the previous configuration stays in force", metadata: ["error": "\(reason)"])
            await monitor.emit([
                EventBuilder.event(
                    .configReloadFailed, .error,
                    "Reload refused, the previous configuration stays in force: \(reason)",
                    fields: [EventField("LEEN_ERROR", String(reason.prefix(4096)))], context: context)
            ])
            metrics?.recordReload(success: false)
            hooks.reloaded(reason)
            return nil
        }
        await monitor.setConfiguration(configuration)
        await provisionAll(configuration, client: client)
        await monitor.emit([
            EventBuilder.event(
                .configReloaded, .notice,
                "Configuration reloaded: \(configuration.organizations.count) organizations, "
                    + "\(configuration.organizations.reduce(0) { $0 + $1.connections.count }) declared connections",
                context: context)
        ])
        metrics?.recordReload(success: true)
        metrics?.setPollInterval(configuration.poll.interval)
        hooks.reloaded(nil)
        return (configuration, client)
    }
}

/// A mutex-guarded value that closures can share (a `Mutex` itself cannot be captured: it is not copyable).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try mutex.withLock { try body(&$0) }
    }
}
