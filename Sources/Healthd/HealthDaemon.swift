import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI
import LeenAPIClient
import Logging
import ServiceLifecycle
import Synchronization

/// The monitor as a `Service`: provisions, then polls every organization on its schedule until shutdown,
/// re-reading the configuration on ``requestReload()``.
///
/// What to do and when is decided by ``SchedulerStateMachine`` (pure, in the core); this class only carries
/// out its actions. Polls, timers, reloads and pings post into one mailbox that a single loop consumes and
/// feeds to the machine, so the schedule has one owner and every concurrent piece is a child task of `run()`.
/// A reload runs beside the loop, so polls and the watchdog's pings go on while it provisions.
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
    /// The `provisioning_failed` messages each organization's last provisioning reported.
    let provisioningFailures = Locked([OrganizationID: Set<String>]())
    /// Each organization's last listing, so a poll decodes only the connections whose bytes changed
    /// (``PageMemo``). Polls of one organization never overlap (the scheduler's rule), so each memo serves
    /// one walk at a time.
    let pageMemos = Locked([OrganizationID: PageMemo]())

    /// When the daemon last did something, for the watchdog and the startup timeout: read by the supervisor
    /// on its own task, hence behind a lock.
    struct Activity: Sendable {
        /// The scheduler loop handled a message.
        var loop: ContinuousClock.Instant?
        /// Startup (provisioning) finished an organization.
        var startup = ContinuousClock.now
        /// In-flight polls and provisionings: when each last completed a page (or started).
        var polls: [OrganizationID: ContinuousClock.Instant] = [:]
        /// Set when the machine's `.reportReady` is carried out (the machine decides; this publishes it).
        var ready = false
        /// ``HealthDaemon/stallLimit(_:)`` of the configuration in force.
        var stall = HealthDaemon.stallLimit(api: Configuration.API(endpoint: .us, key: .file("/")))
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
        /// A poll ended; nil when it was cancelled (shutdown).
        case polled(OrganizationID, PollOutcome?, Duration)
        /// A provisioning ended: everything declared is in place, or not; with its listing when it wrote
        /// nothing, to be taken as a poll.
        case provisioned(OrganizationID, Bool, listed: (Listing<Connection>, Duration)?)
        case reload
        case reloaded(Reloaded?)
        /// From the supervisor: the loop proves it is alive by handling it.
        case ping
        /// The credential watcher saw these names change in a watched directory.
        case credentialFilesChanged(directory: String, names: Set<String>)
        /// The debounce of changed credential files may be over.
        case credentialFilesQuiet
    }

    /// How long changed credential files must stay unchanged before they are sent: one save is often
    /// several writes, a rename and a chmod.
    static let credentialQuiet = Duration.milliseconds(500)

    /// The most connections that turned UNAUTHORIZED in one poll whose credentials are tested.
    static let credentialTestsPerPoll = 20

    /// A configuration that a reload put in force, with its client.
    struct Reloaded: Sendable {
        var configuration: Configuration
        var client: LeenClient
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

    /// The organization's ``PageMemo``, made at its first walk with the identifiers it declares, in the
    /// monitor's sorted list (kept up to date by ``reload()``).
    func pageMemo(_ organization: OrganizationConfig) async -> PageMemo {
        if let memo = pageMemos.withLock({ $0[organization.id] }) { return memo }
        let declared = await monitor.declaredIdentifiers(of: organization.id)
            ?? DeclaredIdentifiers(organization.connections.map(\.identifier))
        return pageMemos.withLock { memos in
            if let memo = memos[organization.id] { return memo }
            let memo = PageMemo()
            memo.shareIdentifiers(sorted: declared.sorted)
            memos[organization.id] = memo
            return memo
        }
    }

    /// Asks the running daemon to re-read its configuration and secrets (SIGHUP).
    public func requestReload() { post.yield(.reload) }

    /// Whether the daemon is making progress, for the systemd watchdog: the scheduler loop has handled a
    /// message since `since` (the supervisor's previous ping), and no poll has gone longer than the stall limit
    /// of the configuration in force (``stallLimit(_:)``) without completing a page. Before the loop starts
    /// (startup), progress means provisioning advanced within that limit.
    public func isMakingProgress(since: ContinuousClock.Instant) -> Bool {
        let now = ContinuousClock.now
        return activity.withLock { activity in
            let stall = activity.stall
            guard let loop = activity.loop else { return now - activity.startup < stall }
            return loop >= since && activity.polls.values.allSatisfy { now - $0 < stall }
        }
    }

    /// True once READY was reported (first provisioning and poll cycle done).
    public var isReady: Bool { activity.withLock { $0.ready } }

    /// Posts a ping the scheduler loop answers by handling it (see ``isMakingProgress(since:stall:)``).
    public func ping() { post.yield(.ping) }

    /// The longest a healthy poll may go without finishing a page: every attempt timing out, a `Retry-After`
    /// waited out in-line between each two (the client's ``RetryPolicy/maximumRetryAfter``), and a minute
    /// of slack. Follows the configuration: set at start and by every reload.
    public static func stallLimit(_ configuration: Configuration) -> Duration { stallLimit(api: configuration.api) }

    static func stallLimit(api: Configuration.API) -> Duration {
        let retries = max(0, api.maximumAttempts - 1)
        let wait = max(RetryPolicy.forDaemon(api).maximumRetryAfter, RetryPolicy.forDaemon(api).maximumDelay)
        return api.requestTimeout * api.maximumAttempts + wait * retries + .seconds(60)
    }

    public func run() async throws {
        var configuration = await monitor.configuration
        /// The configuration's organizations by id: a search of the list for each poll started went through
        /// 500 organizations on average at 100k connections.
        func byID(_ configuration: Configuration) -> [OrganizationID: OrganizationConfig] {
            Dictionary(configuration.organizations.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
        var organizations = byID(configuration)
        var client = try makeClient(configuration)
        activity.withLock { $0.stall = Self.stallLimit(configuration) }
        metrics?.setPollInterval(configuration.poll.interval)
        await monitor.startDelivery()
        await monitor.emit([EventBuilder.daemonStarted(configuration, context: Self.daemonContext())])
        var machine = SchedulerStateMachine(poll: configuration.poll, heartbeat: configuration.alerting.heartbeat)
        let post = self.post
        var credentialWatch = CredentialWatch(configuration)
        var changedCredentials = Debouncer<OrganizationID>(quiet: Self.credentialQuiet)
        let watcher = startWatching(credentialWatch)
        defer { watcher?.stop() }

        try await withThrowingDiscardingTaskGroup { group in
            /// Hands a poll's outcome (nil: cancelled) to the monitor and starts the credential tests it calls for.
            func ingest(
                _ outcome: PollOutcome?, of id: OrganizationID, duration: Duration
            ) async -> SchedulerStateMachine.PollCompletion {
                guard let outcome else { return .cancelled }
                guard let ingested = await monitor.ingest(outcome, organization: id, duration: duration) else {
                    return .forgotten
                }
                // Beside the loop: a slow or failing test delays nothing, and its answer is a follow-up event
                // (see ``Monitor/recordCredentialTest(_:_:)``). One at a time, and a bounded number per poll: a
                // storm of UNAUTHORIZED connections (an incident) must not become a storm of calls to Leen.
                let requests = ingested.credentialTests
                if !requests.isEmpty {
                    let (testClient, monitor, logger) = (client, self.monitor, logger)
                    group.addTask {
                        for request in requests.prefix(Self.credentialTestsPerPoll) {
                            let verification = await CredentialCheck.run(
                                testClient, organization: request.organizationID, connection: request.connectionID)
                            // Shutdown cut it short: that is no answer to report.
                            if Task.isCancelled { return }
                            await monitor.recordCredentialTest(request, verification)
                        }
                        if requests.count > Self.credentialTestsPerPoll {
                            logger.notice(
                                "many connections turned UNAUTHORIZED in one poll; only the first were tested",
                                metadata: [
                                    "organization": "\(id)", "unauthorized": "\(requests.count)",
                                    "tested": "\(Self.credentialTestsPerPoll)",
                                ])
                        }
                    }
                }
                if case .failure(let failure) = outcome {
                    return .failed(consecutiveFailures: ingested.state.consecutiveFailures, retryAfter: failure.retryAfter)
                }
                return .succeeded
            }

            func perform(_ actions: [SchedulerStateMachine.Action]) async {
                for action in actions {
                    switch action {
                    case .startPolls(let ids):
                        for id in ids {
                            guard let organization = organizations[id] else {
                                // Cannot happen: the machine schedules configured organizations only.
                                post.yield(.polled(id, nil, .zero))
                                continue
                            }
                            let (pollClient, poll, activity) = (client, configuration.poll, self.activity)
                            let memo = await pageMemo(organization)
                            let outbox = monitor.outbox
                            activity.withLock { $0.polls[id] = .now }
                            group.addTask {
                                // Backpressure: a poll waits while the journal has a storm's worth to write.
                                await outbox.waitForRoom()
                                activity.withLock { $0.polls[id] = .now }
                                let started = ContinuousClock.now
                                let outcome = await Self.poll(organization, client: pollClient, poll: poll, memo: memo) {
                                    activity.withLock { $0.polls[id] = .now }
                                }
                                post.yield(.polled(id, outcome, ContinuousClock.now - started))
                            }
                        }
                    case .startProvisioning(let ids):
                        let applied = await monitor.appliedCredentials
                        for id in ids {
                            guard let organization = organizations[id] else {
                                continue
                            }
                            let attempt = (machine.provisioningFailures(of: id) ?? 0) + 1
                            let (provisioningClient, activity) = (client, self.activity)
                            activity.withLock { $0.polls[id] = .now }
                            let poll = configuration.poll
                            group.addTask {
                                let (succeeded, listed) = await self.provision(
                                    organization, client: provisioningClient, applied: applied, attempt: attempt,
                                    poll: poll)
                                post.yield(.provisioned(id, succeeded, listed: listed))
                            }
                        }
                    case .armTimer(let instant):
                        group.addTask {
                            try? await Task.sleep(until: instant)
                            post.yield(.tick)
                        }
                    case .reportReady:
                        // The first cycle's events go to the writer before READY=1, as without a commit window.
                        await monitor.flushCommits()
                        let summary = await monitor.statusSummary().line
                        activity.withLock { $0.ready = true }
                        metrics?.setReady(true)
                        hooks.progress(summary)
                        hooks.ready(summary)
                        // What the start (the configuration's and state files' decoding) left free goes back
                        // now, and what polls leave behind every minute.
                        group.addTask { await Allocator.trimPeriodically() }
                    case .reportStatus:
                        hooks.progress(await monitor.statusSummary().line)
                    case .startReload:
                        group.addTask { post.yield(.reloaded(await self.reload())) }
                    case .heartbeat:
                        await monitor.heartbeat()
                    case .provisioningSettled:
                        await monitor.flushAppliedCredentials()
                    case .finish:
                        hooks.stopping()
                        await monitor.emit([EventBuilder.daemonStopping(context: Self.daemonContext())])
                        group.cancelAll()
                    }
                }
            }

            await perform(
                machine.start(
                    organizations: configuration.organizations.map(\.id),
                    current: await monitor.organizationsPolled(within: configuration.restoredViewLifetime), now: .now))
            for await message in mailbox.cancelOnGracefulShutdown() {
                activity.withLock { $0.loop = .now }
                let actions: [SchedulerStateMachine.Action]
                switch message {
                case .ping:
                    actions = machine.ping(now: .now)
                case .tick:
                    actions = machine.timerFired(now: .now)
                case .provisioned(let id, let succeeded, let listed):
                    activity.withLock { _ = $0.polls.removeValue(forKey: id) }
                    var polled = false
                    if let (listing, duration) = listed {
                        polled = await ingest(.success(listing), of: id, duration: duration) == .succeeded
                    }
                    actions = machine.provisioningFinished(
                        id, succeeded: succeeded, listed: polled, jitter: Double.random(in: 0..<1), now: .now)
                case .polled(let id, let outcome, let duration):
                    activity.withLock { _ = $0.polls.removeValue(forKey: id) }
                    let completion = await ingest(outcome, of: id, duration: duration)
                    actions = machine.pollFinished(id, completion, jitter: Double.random(in: 0..<1), now: .now)
                case .credentialFilesChanged(let directory, let names):
                    let affected = credentialWatch.organizations(changedIn: directory, names: names)
                    actions = []
                    guard !affected.isEmpty else { break }
                    let deadline = changedCredentials.note(affected, now: .now)
                    group.addTask {
                        try? await Task.sleep(until: deadline)
                        post.yield(.credentialFilesQuiet)
                    }
                case .credentialFilesQuiet:
                    let quiet = changedCredentials.take(now: .now)
                    actions = quiet.isEmpty ? [] : machine.provisioningRequested(quiet.sorted(), now: .now)
                    if !quiet.isEmpty {
                        logger.notice(
                            "credential files changed; provisioning again to send them",
                            metadata: ["organizations": "\(quiet.sorted().map(\.rawValue))"])
                    }
                case .reload:
                    actions = machine.reloadRequested()
                case .reloaded(let reloaded):
                    if let reloaded {
                        configuration = reloaded.configuration
                        organizations = byID(configuration)
                        client = reloaded.client
                        credentialWatch = CredentialWatch(configuration)
                        reportUnwatchable(watcher?.watch(credentialWatch.directories))
                        activity.withLock { $0.stall = Self.stallLimit(configuration) }
                        actions = machine.reloadFinished(
                            .applied(
                                organizations: configuration.organizations.map(\.id), poll: configuration.poll,
                                heartbeat: configuration.alerting.heartbeat),
                            now: .now)
                    } else {
                        actions = machine.reloadFinished(.refused, now: .now)
                    }
                }
                await perform(actions)
            }
            await perform(machine.shutdownRequested())
        }
        // Within TimeoutStopSec= (30 s in the shipped unit): what is not written by then stays committed.
        await monitor.finishDelivery(grace: .seconds(15))
    }

    /// The inotify watcher for the configuration's credential files, posting into the mailbox; nil (logged)
    /// when inotify is not available: changes are then sent at the next reload only.
    func startWatching(_ watch: CredentialWatch) -> CredentialFileWatcher? {
        let post = self.post
        do {
            let watcher = try CredentialFileWatcher { directory, names in
                post.yield(.credentialFilesChanged(directory: directory, names: names))
            }
            reportUnwatchable(watcher.watch(watch.directories))
            return watcher
        } catch {
            logger.warning(
                "cannot watch credential files; changed credentials are sent at the next reload (SIGHUP)",
                metadata: ["error": "\(error)"])
            return nil
        }
    }

    func reportUnwatchable(_ problems: [String: String]?) {
        for (directory, why) in problems ?? [:] {
            logger.warning(
                "cannot watch a credential directory; its changes are sent at the next reload (SIGHUP)",
                metadata: ["directory": "\(directory)", "error": "\(why)"])
        }
    }

    static func daemonContext() -> EventContext { EventContext(organizationLabel: "", observedAt: Date()) }

    /// Lists every page of an organization's connections; nil when cancelled (shutdown).
    static func poll(
        _ organization: OrganizationConfig, client: LeenClient, poll: Configuration.Poll, memo: PageMemo? = nil,
        pageDone: @Sendable () -> Void = {}
    ) async -> PollOutcome? {
        do {
            var listing = Listing<Connection>(items: [])
            for try await page in client.connectionPages(
                organizationID: organization.id, pageSize: poll.pageSize, mode: poll.pagination, memo: memo)
            {
                listing.append(page)
                pageDone()
            }
            memo?.finishWalk()
            return .success(listing)
        } catch is CancellationError {
            return nil
        } catch let error as LeenAPIError where error.kind == .cancelled {
            return nil
        } catch {
            return .failure(PollFailure(calling: "list_connections GET organization \(organization.id)", error))
        }
    }

    /// Provisions one organization; true when everything declared is in place. A retry (`attempt` > 1) does
    /// not repeat a `provisioning_failed` already reported by the attempt before: an outage or a bad secret
    /// says so once, and again only when the reason changes.
    ///
    /// Also returns the plan's listing when the plan wrote nothing: it is then what a poll would have read.
    func provision(
        _ organization: OrganizationConfig, client: LeenClient, applied: StateStore.AppliedCredentials, attempt: Int,
        poll: Configuration.Poll
    ) async -> (succeeded: Bool, listed: (Listing<Connection>, Duration)?) {
        let provisioner = Provisioner(client: client, readSecret: readSecret)
        var outcome: Provisioner.Outcome
        var listed: (Listing<Connection>, Duration)?
        do {
            let plan = try await provisioner.plan(organization, applied: applied, listing: poll, memo: pageMemo(organization))
            outcome = await provisioner.apply(plan, now: Date())
            if !plan.writes { listed = (plan.listing, plan.listingDuration) }
        } catch {
            outcome = Provisioner.Outcome()
            outcome.failures = 1
            outcome.events = [
                EventBuilder.provisioningListFailed(
                    organization, why: "\(error)", failure: PollFailure(calling: "list_connections", error),
                    context: EventContext(organizationLabel: organization.label, observedAt: Date()))
            ]
        }
        if Task.isCancelled {
            // Shutdown cut it short: what it did stands, what it could not finish is no failure to report.
            outcome.events.removeAll { $0.kind == .provisioningFailed }
        }
        let failed = Set(outcome.events.filter { $0.kind == .provisioningFailed }.map(\.message))
        let reported = provisioningFailures.withLock { reported in
            defer { reported[organization.id] = failed.isEmpty ? nil : failed }
            return attempt > 1 ? reported[organization.id] ?? [] : []
        }
        let events = outcome.events.filter { $0.kind != .provisioningFailed || !reported.contains($0.message) }
        if events.count < outcome.events.count {
            logger.warning(
                "provisioning failed again; retrying with backoff",
                metadata: ["organization": "\(organization.id)", "attempt": "\(attempt)", "failures": "\(outcome.failures)"])
        }
        await monitor.recordApplied(outcome.applied, organization: organization.id)
        await monitor.recordVerifications(outcome.verifications)
        await monitor.emit(events, organization: organization.id)
        return (outcome.failures == 0, Task.isCancelled ? nil : listed)
    }

    /// Re-reads configuration and secrets; on any error keeps the current configuration and says why. Runs
    /// beside the scheduler loop; provisioning follows, organization by organization, as the machine says.
    func reload() async -> Reloaded? {
        hooks.reloading()
        let configuration: Configuration
        let client: LeenClient
        do {
            configuration = try loadConfiguration()
            client = try makeClient(configuration)
        } catch {
            let reason = String(describing: error)
            logger.error("reload refused; the previous configuration stays in force", metadata: ["error": "\(reason)"])
            await monitor.emit([EventBuilder.configReloadFailed(reason: reason, context: Self.daemonContext())])
            metrics?.recordReload(success: false)
            hooks.reloaded(reason)
            return nil
        }
        await monitor.setConfiguration(configuration)
        let configured = Set(configuration.organizations.map(\.id))
        pageMemos.withLock { $0 = $0.filter { configured.contains($0.key) } }
        for organization in configuration.organizations {
            guard let memo = pageMemos.withLock({ $0[organization.id] }),
                let declared = await monitor.declaredIdentifiers(of: organization.id)
            else { continue }
            memo.shareIdentifiers(sorted: declared.sorted)
        }
        await monitor.emit([EventBuilder.configReloaded(configuration, context: Self.daemonContext())])
        metrics?.recordReload(success: true)
        metrics?.setPollInterval(configuration.poll.interval)
        hooks.reloaded(nil)
        return Reloaded(configuration: configuration, client: client)
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
