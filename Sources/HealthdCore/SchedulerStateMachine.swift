import HeapModule
import LeenAPI

/// The daemon's scheduler as a value: it takes what happened (a provisioning or a poll finished, a timer
/// fired, a reload was asked for or ended, the watchdog pinged, shutdown began) and says what to do next
/// (provision or poll these organizations, arm a timer, report ready or status, start a reload, write the
/// heartbeat, finish). It owns, once, when each organization is next due, the concurrency bound, backoff
/// with `Retry-After`, provisioning and its retries, readiness, the heartbeat's period and the reload's
/// lifecycle.
///
/// Each organization is provisioned before its first poll, at start and after every reload; one whose
/// provisioning failed is polled as usual and provisioned again with the polls' backoff until it succeeds.
/// An organization is never provisioned and polled at the same time.
///
/// It does no I/O and never reads a clock: every event carries `now`, and the jitter's random draw comes in
/// with the poll that needs it, so tests drive it step by step with exact instants.
public struct SchedulerStateMachine: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public enum Action: Sendable, Hashable {
        /// Provision these organizations (adopt, create, PATCH); deliver ``provisioningFinished(_:succeeded:jitter:now:)``.
        case startProvisioning([OrganizationID])
        /// Start polling these organizations, in this order.
        case startPolls([OrganizationID])
        /// Deliver ``timerFired(now:)`` at this instant (earlier timers stay valid; a later one is not needed).
        case armTimer(Instant)
        /// Every configured organization has been polled once since start: tell the service manager.
        case reportReady
        /// Refresh the status line (at most once a second).
        case reportStatus
        /// Re-read the configuration; deliver ``reloadFinished(_:now:)`` when done (provisioning follows as
        /// ``startProvisioning(_:)``).
        case startReload
        /// Write the `daemon_heartbeat` event (every `alerting.heartbeat`, the first one period after start).
        case heartbeat
        /// No provisioning is in flight any more: save what the provisionings recorded (applied credentials),
        /// which is otherwise saved at most every few seconds while they run.
        case provisioningSettled
        /// Stop: cancel polls in flight and end the loop.
        case finish
    }

    /// How a poll ended, as the monitor saw it.
    public enum PollCompletion: Sendable, Hashable {
        case succeeded
        /// `consecutiveFailures` counts this failure (kept in the organization's state, so it survives a
        /// restart); `retryAfter` is the server's, when it sent one.
        case failed(consecutiveFailures: Int, retryAfter: Duration?)
        /// Cancelled by shutdown: nothing was learnt.
        case cancelled
        /// The organization left the configuration while the poll ran.
        case forgotten
    }

    /// How a reload ended.
    public enum ReloadResult: Sendable, Hashable {
        /// The new configuration is in force; `heartbeat` is its `alerting.heartbeat` (nil: off).
        case applied(organizations: [OrganizationID], poll: Configuration.Poll, heartbeat: Duration?)
        /// The configuration was refused; the previous one stays in force.
        case refused
    }

    enum Phase: Sendable, Hashable {
        case idle
        case running
        case finished
    }

    enum Reload: Sendable, Hashable {
        case none
        case running
        /// Another reload was asked for while one ran: it starts when this one ends, so the last request
        /// always sees the last configuration.
        case runningWithPending
    }

    private(set) var phase = Phase.idle
    private(set) var poll: Configuration.Poll
    private(set) var organizations: [OrganizationID] = []
    /// When each configured organization is next due.
    private(set) var due: [OrganizationID: Instant] = [:]
    private(set) var inFlight: Set<OrganizationID> = []
    /// Organizations waiting for a slot, earliest first (see ``Waiting``).
    private var waiting = Heap<Waiting>()
    /// Organizations to provision: when, and after how many failed attempts in a row.
    private(set) var provisioning: [OrganizationID: (due: Instant, failures: Int)] = [:]
    /// Organizations whose provisioning is in flight now.
    private(set) var isProvisioning: Set<OrganizationID> = []
    /// Organizations to provision again once the slot they hold now is free (their files changed meanwhile).
    private(set) var provisionAgain: Set<OrganizationID> = []
    /// Organizations polled (successfully or not) since start: the first cycle is complete when it covers
    /// every configured one.
    private(set) var polledSinceStart: Set<OrganizationID> = []
    public private(set) var isReady = false
    private(set) var reload = Reload.none
    /// The instants of the timers armed and still sleeping. All of them, not only the earliest: once the
    /// earliest fired, remembering none let the next dispatch arm again for an instant a later timer already
    /// covered, and with every slot taken that instant is the heartbeat's. At 100k connections some 770
    /// timers slept until the heartbeat, each a child task the group walks past whenever a poll's task
    /// ends (3% of the daemon's CPU, perf).
    private var armed = Heap<Instant>()
    /// The earliest timer armed and not yet fired.
    var armedFor: Instant? { armed.min }
    private(set) var lastStatus: Instant?
    /// The heartbeat's period (nil: no heartbeat) and when it is next due.
    private(set) var heartbeat: Duration?
    private(set) var nextHeartbeat: Instant?

    /// The status line is refreshed at most this often: systemd need not hear of every poll.
    public static let statusInterval = Duration.seconds(1)

    public init(poll: Configuration.Poll, heartbeat: Duration? = nil) {
        self.poll = poll
        self.heartbeat = heartbeat
    }

    // MARK: Events

    /// The loop starts with these organizations, all due at once.
    ///
    /// - Parameter current: organizations whose restored state is as recent as a running daemon keeps it
    ///   (``Configuration/restoredViewLifetime``, before a restart): they count as polled for
    ///   readiness, so a restart with a current state is ready at once. They are provisioned and polled
    ///   as usual.
    public mutating func start(
        organizations: [OrganizationID], current: Set<OrganizationID> = [], now: Instant
    ) -> [Action] {
        guard phase == .idle else { return [] }
        phase = .running
        polledSinceStart = current.intersection(organizations)
        nextHeartbeat = heartbeat.map { now + $0 }
        reconcile(organizations, now: now)
        var actions: [Action] = []
        becomeReadyIfCycleComplete(now: now, into: &actions)
        dispatch(now: now, into: &actions)
        return actions
    }

    /// A poll ended. `jitter` is a uniform random draw in 0..<1 for the next delay.
    public mutating func pollFinished(
        _ organization: OrganizationID, _ completion: PollCompletion, jitter: Double, now: Instant
    ) -> [Action] {
        inFlight.remove(organization)
        guard phase == .running else { return [] }
        var actions: [Action] = []
        switch completion {
        case .cancelled, .forgotten:
            break
        case .succeeded:
            due[organization] = now + Self.delay(poll: poll, failures: 0, retryAfter: nil, jitter: jitter)
            polledSinceStart.insert(organization)
        case .failed(let failures, let retryAfter):
            due[organization] = now + Self.delay(poll: poll, failures: failures, retryAfter: retryAfter, jitter: jitter)
            polledSinceStart.insert(organization)
        }
        if !becomeReadyIfCycleComplete(now: now, into: &actions), completion != .cancelled {
            statusIfDue(now: now, into: &actions)
        }
        enqueue(organization)
        dispatch(now: now, into: &actions)
        return actions
    }

    /// A provisioning ended. A failed one is tried again after the polls' backoff for that many failures in a
    /// row (the interval, doubling up to `max_backoff`); polls go on meanwhile.
    ///
    /// `listed`: the provisioning's listing changed nothing and the monitor took it as a successful poll, so
    /// the organization's next poll is an interval away. Without this an organization was listed twice in a
    /// row at every start, once to provision it and once for its first poll.
    public mutating func provisioningFinished(
        _ organization: OrganizationID, succeeded: Bool, listed: Bool = false, jitter: Double, now: Instant
    ) -> [Action] {
        inFlight.remove(organization)
        isProvisioning.remove(organization)
        var actions: [Action] = isProvisioning.isEmpty ? [.provisioningSettled] : []
        guard phase == .running else { return actions }
        if listed, due[organization] != nil {
            due[organization] = now + Self.delay(poll: poll, failures: 0, retryAfter: nil, jitter: jitter)
            polledSinceStart.insert(organization)
            if !becomeReadyIfCycleComplete(now: now, into: &actions) { statusIfDue(now: now, into: &actions) }
        }
        if succeeded {
            provisioning[organization] = nil
        } else if let previous = provisioning[organization] {
            let failures = previous.failures + 1
            provisioning[organization] = (
                now + Self.delay(poll: poll, failures: failures, retryAfter: nil, jitter: jitter), failures
            )
        }
        if provisionAgain.remove(organization) != nil, provisioning[organization] == nil {
            provisioning[organization] = (now, 0)
        }
        enqueue(organization)
        dispatch(now: now, into: &actions)
        return actions
    }

    /// Credential files changed: provision these organizations again (the PATCH of what changed, and its
    /// test), in a slot like any provisioning. One being provisioned now is provisioned once more after it,
    /// since it may have read the files before they changed; one already waiting keeps its turn.
    public mutating func provisioningRequested(_ organizations: [OrganizationID], now: Instant) -> [Action] {
        guard phase == .running else { return [] }
        for id in organizations where due[id] != nil {
            if isProvisioning.contains(id) {
                provisionAgain.insert(id)
            } else if provisioning[id] == nil {
                provisioning[id] = (now, 0)
                enqueue(id)
            }
        }
        var actions: [Action] = []
        dispatch(now: now, into: &actions)
        return actions
    }

    /// Whether `organization` still has to be provisioned, and after how many failures.
    public func provisioningFailures(of organization: OrganizationID) -> Int? { provisioning[organization]?.failures }

    /// An armed timer fired.
    public mutating func timerFired(now: Instant) -> [Action] {
        guard phase == .running else { return [] }
        var actions: [Action] = []
        dispatch(now: now, into: &actions)
        return actions
    }

    /// SIGHUP: re-read the configuration. Polls go on meanwhile, with the configuration in force.
    public mutating func reloadRequested() -> [Action] {
        guard phase == .running else { return [] }
        switch reload {
        case .none:
            reload = .running
            return [.startReload]
        case .running, .runningWithPending:
            reload = .runningWithPending
            return []
        }
    }

    /// A reload ended: applied, the schedule follows the new organizations (new ones are due at once,
    /// removed ones are dropped); refused, nothing changes.
    public mutating func reloadFinished(_ result: ReloadResult, now: Instant) -> [Action] {
        guard phase == .running else { return [] }
        var actions: [Action] = []
        if case .applied(let organizations, let poll, let heartbeat) = result {
            self.poll = poll
            if heartbeat != self.heartbeat {
                self.heartbeat = heartbeat
                nextHeartbeat = heartbeat.map { now + $0 }
            }
            // A timer armed for a removed organization is harmless: it fires and dispatches what is due.
            reconcile(organizations, now: now)
        }
        if reload == .runningWithPending {
            reload = .running
            actions.append(.startReload)
        } else {
            reload = .none
        }
        becomeReadyIfCycleComplete(now: now, into: &actions)
        dispatch(now: now, into: &actions)
        return actions
    }

    /// The supervisor's periodic ping: a trailing status refresh, so polls whose refresh the one-second
    /// limit skipped show soon.
    public mutating func ping(now: Instant) -> [Action] {
        guard phase == .running, isReady else { return [] }
        var actions: [Action] = []
        statusIfDue(now: now, into: &actions)
        return actions
    }

    /// Graceful shutdown began.
    public mutating func shutdownRequested() -> [Action] {
        guard phase != .finished else { return [] }
        phase = .finished
        return [.finish]
    }

    // MARK: Queries

    /// Organizations in flight now.
    public var pollsInFlight: Set<OrganizationID> { inFlight }

    /// When `organization` is next due, if it is configured.
    public func nextPoll(of organization: OrganizationID) -> Instant? { due[organization] }

    /// True while a reload runs.
    public var isReloading: Bool { reload != .none }

    // MARK: Rules

    /// The wait before the next poll: the interval with jitter while polls succeed; after `failures`
    /// consecutive failures, the interval doubled per further failure up to `maximumBackoff`, and never less
    /// than the server's `Retry-After`.
    public static func delay(
        poll: Configuration.Poll, failures: Int, retryAfter: Duration?, jitter unit: Double
    ) -> Duration {
        let interval = poll.interval.seconds
        let longest = max(interval, poll.maximumBackoff.seconds)
        var base = interval
        if failures > 1 {
            base = min(interval * Double(1 << min(failures - 1, 20)), longest)
        }
        let jitter = poll.boundedJitter
        var seconds = base * (1 + jitter * (2 * unit - 1))
        // The server's Retry-After is honoured up to the longest backoff: a huge value or a far-future date must
        // neither park an organization for years nor overflow the conversion below.
        if let retryAfter { seconds = max(seconds, min(retryAfter.seconds, longest)) }
        return .milliseconds(Int64(seconds * 1000))
    }

    /// Follows the configured organizations; every one is to be provisioned now (a new configuration may
    /// declare new connections or credentials anywhere).
    private mutating func reconcile(_ configured: [OrganizationID], now: Instant) {
        organizations = configured
        let keep = Set(configured)
        due = due.filter { keep.contains($0.key) }
        for id in configured where due[id] == nil { due[id] = now }
        polledSinceStart.formIntersection(keep)
        provisioning = [:]
        for id in configured { provisioning[id] = (now, 0) }
        // Entries of removed organizations, and earlier ones of the rest, are dropped as they come up.
        for id in configured { enqueue(id) }
    }

    /// An organization waiting for a slot at `at`, to be provisioned or polled: what ``next(_:)`` said when
    /// it was queued. Queued whenever that changes or the organization leaves flight; an entry that no longer
    /// matches is dropped when it comes up (a later one holds the current time). Dispatching thus costs
    /// O(log n): it used to scan every organization at every dispatch, O(n²) per poll cycle.
    struct Waiting: Comparable {
        let at: Instant
        let id: OrganizationID
        let provision: Bool

        /// By time, then id. Not as tuples, which copied both ids (retained and released) at every comparison
        /// of the heap's every move: 1% of the daemon's CPU at 100k connections on a quiet fleet (perf).
        static func < (a: Self, b: Self) -> Bool { a.at != b.at ? a.at < b.at : a.id < b.id }
    }

    private mutating func enqueue(_ id: OrganizationID) {
        guard !inFlight.contains(id), let (at, provision) = next(id) else { return }
        waiting.insert(Waiting(at: at, id: id, provision: provision))
    }

    /// The earliest entry that still holds, with those before it dropped.
    private mutating func earliestWaiting() -> Waiting? {
        while let first = waiting.min {
            if !inFlight.contains(first.id), let (at, provision) = next(first.id), at == first.at,
                provision == first.provision
            {
                return first
            }
            waiting.removeMin()
        }
        return nil
    }

    /// When an organization next needs a slot: its provisioning when due first, else its poll.
    private func next(_ id: OrganizationID) -> (at: Instant, provision: Bool)? {
        guard let poll = due[id] else { return nil }
        if let provision = provisioning[id]?.due, provision <= poll { return (provision, true) }
        return (poll, false)
    }

    /// How late a timer fires after the instant it is armed for: what falls due within this much after the
    /// first starts on the same tick. Without it, 1,000 organizations polled every 20 s armed and fired 50
    /// timers a second, each a task, a sleep and a wake-up of the loop (perf, 100k connections). Late, never
    /// early: an instant may be a server's `Retry-After`. A hundredth of the interval, at most 100 ms.
    public static func timerSlack(_ poll: Configuration.Poll) -> Duration {
        min(.milliseconds(100), poll.interval / 100)
    }

    /// Writes the heartbeat when due and starts what is due, earliest first, within the concurrency bound;
    /// then arms a timer (``timerSlack(_:)`` after it) for the next heartbeat or, while a slot is free, the
    /// next due organization not in flight, unless one is armed for that time or earlier.
    private mutating func dispatch(now: Instant, into actions: inout [Action]) {
        // Timers due by now have fired, or their tick is on its way: none serves a later instant.
        while let earliest = armed.min, earliest <= now { armed.removeMin() }
        if let every = heartbeat, let next = nextHeartbeat, next <= now {
            actions.append(.heartbeat)
            nextHeartbeat = now + every
        }
        let limit = max(1, poll.concurrency)
        var provisions: [OrganizationID] = []
        var polls: [OrganizationID] = []
        while inFlight.count < limit, let first = earliestWaiting(), first.at <= now {
            waiting.removeMin()
            inFlight.insert(first.id)
            if first.provision {
                provisions.append(first.id)
                isProvisioning.insert(first.id)
            } else {
                polls.append(first.id)
            }
        }
        if !provisions.isEmpty { actions.append(.startProvisioning(provisions)) }
        if !polls.isEmpty { actions.append(.startPolls(polls)) }
        // With every slot taken no timer is needed: the next provisioning or poll to finish dispatches again.
        let nextPoll = inFlight.count < limit ? earliestWaiting()?.at : nil
        if let due = [nextPoll, nextHeartbeat].compactMap({ $0 }).min() {
            let next = due + Self.timerSlack(poll)
            if armedFor.map({ next < $0 }) ?? true {
                armed.insert(next)
                actions.append(.armTimer(next))
            }
        }
    }

    /// Reports ready the first time every configured organization has been polled. Returns true if it did.
    @discardableResult
    private mutating func becomeReadyIfCycleComplete(now: Instant, into actions: inout [Action]) -> Bool {
        // Counts first: the set is built only once enough organizations were polled.
        guard !isReady, polledSinceStart.count >= organizations.count,
            Set(organizations).isSubset(of: polledSinceStart)
        else { return false }
        isReady = true
        lastStatus = now
        actions.append(.reportReady)
        return true
    }

    private mutating func statusIfDue(now: Instant, into actions: inout [Action]) {
        if let last = lastStatus, now - last < Self.statusInterval { return }
        lastStatus = now
        actions.append(.reportStatus)
    }
}
