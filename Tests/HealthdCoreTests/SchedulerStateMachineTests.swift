import HealthdCore
import LeenAPI
import Testing

/// The scheduler driven event by event, with exact instants and jitter draws: no I/O, no clock, no sleeps.
@Suite("Scheduler state machine")
struct SchedulerStateMachineTests {
    typealias Machine = SchedulerStateMachine
    static let t0 = ContinuousClock.now
    static func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int64(seconds * 1000)) }
    /// Where a timer for `seconds` is armed: ``SchedulerStateMachine/timerSlack(_:)`` later (100 ms for the
    /// intervals of a minute or more these tests use).
    static func timer(_ seconds: Double) -> ContinuousClock.Instant { at(seconds) + .milliseconds(100) }
    static let a = OrganizationID("org-a")
    static let b = OrganizationID("org-b")
    static let c = OrganizationID("org-c")

    static func poll(interval: Duration = .seconds(60), concurrency: Int = 2, jitter: Double = 0) -> Configuration.Poll {
        var poll = Configuration.Poll()
        poll.interval = interval
        poll.concurrency = concurrency
        poll.jitter = jitter
        poll.maximumBackoff = .seconds(600)
        return poll
    }

    /// The organizations a list of actions starts, in order.
    static func started(_ actions: [Machine.Action]) -> [OrganizationID] {
        actions.flatMap { action -> [OrganizationID] in
            if case .startPolls(let ids) = action { return ids }
            return []
        }
    }

    /// The organizations a list of actions provisions, in order.
    static func provisioned(_ actions: [Machine.Action]) -> [OrganizationID] {
        actions.flatMap { action -> [OrganizationID] in
            if case .startProvisioning(let ids) = action { return ids }
            return []
        }
    }

    static func timers(_ actions: [Machine.Action]) -> [ContinuousClock.Instant] {
        actions.compactMap { action in
            if case .armTimer(let instant) = action { return instant }
            return nil
        }
    }

    @Test("start: every organization is due at once, within the concurrency bound, in id order")
    func startRespectsTheBound() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        let actions = machine.startProvisioned(organizations: [Self.c, Self.a, Self.b], now: Self.at(0))
        #expect(Self.started(actions) == [Self.a, Self.b])
        // c is due already but waits for a free slot: no timer, the next poll to finish starts it.
        #expect(Self.timers(actions).isEmpty)
        #expect(!actions.contains(.reportReady))
        #expect(machine.pollsInFlight == [Self.a, Self.b])
    }

    @Test("a finished poll frees a slot for the next due organization and schedules itself one interval on")
    func finishedPollStartsTheNext() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b, Self.c], now: Self.at(0))
        let actions = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1))
        #expect(Self.provisioned(actions) == [Self.c], "c's turn: provisioning first, then its poll")
        #expect(machine.nextPoll(of: Self.a) == Self.at(61))
        #expect(machine.pollsInFlight == [Self.b, Self.c])
        // Both slots are taken again: no timer until one frees.
        #expect(Self.timers(actions).isEmpty)
    }

    @Test("no more polls than the bound, however many are due")
    func boundHolds() {
        var machine = Machine(poll: Self.poll(concurrency: 1))
        let organizations = (0..<20).map { OrganizationID("org-\($0)") }
        var running = Self.started(machine.startProvisioned(organizations: organizations, now: Self.at(0)))
        var polled: [OrganizationID] = []
        var now = 0.0
        while let current = running.first {
            #expect(machine.pollsInFlight.count <= 1)
            polled.append(current)
            now += 0.1
            var next = machine.pollFinished(current, .succeeded, jitter: 0.5, now: Self.at(now))
            // The next organization is provisioned first, in the same single slot.
            for id in Self.provisioned(next) {
                #expect(machine.pollsInFlight == [id])
                next = machine.provisioningFinished(id, succeeded: true, jitter: 0.5, now: Self.at(now))
            }
            running = Self.started(next)
            #expect(running.count <= 1)
        }
        #expect(polled == organizations.sorted())
    }

    @Test("ready once every organization has been polled, successfully or not; reported once")
    func readinessAfterFirstCycle() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b], now: Self.at(0))
        let first = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1))
        #expect(!first.contains(.reportReady))
        #expect(!machine.isReady)
        let second = machine.pollFinished(
            Self.b, .failed(consecutiveFailures: 1, retryAfter: nil), jitter: 0.5, now: Self.at(2))
        #expect(second.contains(.reportReady))
        #expect(machine.isReady)
        let later = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(70))
        #expect(!later.contains(.reportReady))
    }

    @Test("a poll cancelled by shutdown does not count towards readiness")
    func cancelledPollIsNotACycle() {
        var machine = Machine(poll: Self.poll(concurrency: 1))
        _ = machine.startProvisioned(organizations: [Self.a], now: Self.at(0))
        let actions = machine.pollFinished(Self.a, .cancelled, jitter: 0.5, now: Self.at(1))
        #expect(!actions.contains(.reportReady))
        #expect(!machine.isReady)
    }

    @Test("status at most once a second after polls; the watchdog ping gives a trailing refresh once ready")
    func statusIsRateLimited() {
        var machine = Machine(poll: Self.poll(concurrency: 3))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b, Self.c], now: Self.at(0))
        #expect(machine.ping(now: Self.at(0.5)).isEmpty, "no status before ready")
        #expect(machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1)).contains(.reportStatus))
        #expect(!machine.pollFinished(Self.b, .succeeded, jitter: 0.5, now: Self.at(1.2)).contains(.reportStatus))
        // The third completes the cycle: ready (which carries the status) rather than a separate status.
        let ready = machine.pollFinished(Self.c, .succeeded, jitter: 0.5, now: Self.at(1.4))
        #expect(ready.contains(.reportReady) && !ready.contains(.reportStatus))
        #expect(machine.ping(now: Self.at(2)).isEmpty)
        #expect(machine.ping(now: Self.at(2.5)) == [.reportStatus])
    }

    @Test("Retry-After is honoured when it is longer than the backoff")
    func retryAfterWins() {
        var machine = Machine(poll: Self.poll(concurrency: 1))
        _ = machine.startProvisioned(organizations: [Self.a], now: Self.at(0))
        let actions = machine.pollFinished(
            Self.a, .failed(consecutiveFailures: 1, retryAfter: .seconds(300)), jitter: 0.5, now: Self.at(1))
        #expect(machine.nextPoll(of: Self.a) == Self.at(301))
        #expect(Self.timers(actions) == [Self.timer(301)])
        let shorter = Machine.delay(poll: Self.poll(), failures: 1, retryAfter: .seconds(5), jitter: 0.5)
        #expect(shorter == .seconds(60))
    }

    @Test("a timer fires: what is due starts; an earlier timer is not re-armed for a later instant")
    func timers() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b], now: Self.at(0))
        let first = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1))
        #expect(Self.timers(first) == [Self.timer(61)])
        let second = machine.pollFinished(Self.b, .succeeded, jitter: 0.5, now: Self.at(2))
        #expect(Self.timers(second).isEmpty, "the timer armed for 61 s already covers b at 62 s")
        #expect(machine.timerFired(now: Self.at(30)).isEmpty, "a timer firing early starts nothing")
        let fired = machine.timerFired(now: Self.timer(61))
        #expect(Self.started(fired) == [Self.a])
        #expect(Self.timers(fired) == [Self.timer(62)])
    }

    @Test("polls due within the timer's slack start on one tick; none starts before it is due")
    func timerSlackCoalesces() {
        var machine = Machine(poll: Self.poll(interval: .seconds(20), concurrency: 3))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b, Self.c], now: Self.at(0))
        #expect(Machine.timerSlack(Self.poll(interval: .seconds(20))) == .milliseconds(100))
        #expect(Machine.timerSlack(Self.poll(interval: .seconds(2))) == .milliseconds(20))
        // Due at 21.00, 21.05 and 21.30 s: one timer, 100 ms after the first, covers the first two.
        #expect(Self.timers(machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1))) == [Self.at(21.1)])
        #expect(Self.timers(machine.pollFinished(Self.b, .succeeded, jitter: 0.5, now: Self.at(1.05))).isEmpty)
        #expect(Self.timers(machine.pollFinished(Self.c, .succeeded, jitter: 0.5, now: Self.at(1.3))).isEmpty)
        let fired = machine.timerFired(now: Self.at(21.1))
        #expect(Self.started(fired) == [Self.a, Self.b], "c, due at 21.3 s, waits for its own timer")
        #expect(Self.timers(fired) == [Self.at(21.4)])
    }

    @Test("a reload while polls are in flight: polls go on, the new organizations join when it ends")
    func reloadWithPollsInFlight() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b], now: Self.at(0))
        #expect(machine.reloadRequested() == [.startReload])
        #expect(machine.isReloading)
        // A poll ends during the reload: scheduled as usual.
        _ = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1))
        #expect(machine.nextPoll(of: Self.a) == Self.at(61))
        // The reload drops b (still in flight) and adds c with a shorter interval.
        let applied = machine.reloadFinished(
            .applied(
                organizations: [Self.a, Self.c], poll: Self.poll(interval: .seconds(30), concurrency: 2), heartbeat: nil),
            now: Self.at(2))
        #expect(!machine.isReloading)
        #expect(machine.nextPoll(of: Self.b) == nil)
        // b still holds a slot until its poll returns. Every organization is provisioned again, a first (by id).
        #expect(Self.provisioned(applied) == [Self.a] && Self.started(applied).isEmpty)
        #expect(machine.pollsInFlight == [Self.a, Self.b])
        let forgotten = machine.pollFinished(Self.b, .forgotten, jitter: 0.5, now: Self.at(3))
        #expect(Self.provisioned(forgotten) == [Self.c] && Self.started(forgotten).isEmpty)
        #expect(machine.nextPoll(of: Self.b) == nil, "a forgotten organization is not rescheduled")
        // a's poll is not due yet; c's is, right after its provisioning.
        #expect(Self.started(machine.provisioningFinished(Self.a, succeeded: true, jitter: 0.5, now: Self.at(3.5))).isEmpty)
        #expect(Self.started(machine.provisioningFinished(Self.c, succeeded: true, jitter: 0.5, now: Self.at(3.6))) == [Self.c])
        _ = machine.pollFinished(Self.c, .succeeded, jitter: 0.5, now: Self.at(4))
        #expect(machine.nextPoll(of: Self.c) == Self.at(34), "the new interval applies")
    }

    @Test("a restored view is current for the interval stretched by the jitter the schedule applies, plus a request's timeout")
    func restoredViewLifetime() {
        var configuration = Configuration(
            api: Configuration.API(endpoint: .us, key: .credential("k"), requestTimeout: .seconds(30)),
            poll: Configuration.Poll(interval: .seconds(60), jitter: 0.1), organizations: [])
        #expect(configuration.restoredViewLifetime == .seconds(96))
        configuration.poll.jitter = 2  // the schedule stretches a wait by half at most
        #expect(configuration.restoredViewLifetime == .seconds(120))
        configuration.poll.jitter = -1
        configuration.api.requestTimeout = .milliseconds(500)
        #expect(configuration.restoredViewLifetime == .milliseconds(60_500))
    }

    @Test("a restart with a current state is ready at once, and still provisions and polls everything")
    func currentStateIsReadyAtOnce() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        let all = machine.start(organizations: [Self.a, Self.b], current: [Self.a, Self.b, Self.c], now: Self.at(0))
        #expect(all.contains(.reportReady))
        #expect(Self.provisioned(all) == [Self.a, Self.b])

        // One organization without a current state: ready once it is polled.
        var partly = Machine(poll: Self.poll(concurrency: 2))
        let start = partly.start(organizations: [Self.a, Self.b], current: [Self.a], now: Self.at(0))
        #expect(!start.contains(.reportReady))
        _ = partly.provisioningFinished(Self.a, succeeded: true, listed: true, jitter: 0.5, now: Self.at(1))
        #expect(!partly.isReady)
        let b = partly.provisioningFinished(Self.b, succeeded: true, listed: true, jitter: 0.5, now: Self.at(2))
        #expect(b.contains(.reportReady))
    }

    @Test("provisioning settles when none is in flight any more, not while others still run")
    func provisioningSettles() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        let start = machine.start(organizations: [Self.a, Self.b, Self.c], now: Self.at(0))
        #expect(Self.provisioned(start) == [Self.a, Self.b])
        // a finishes while b runs: c takes the slot, nothing settles.
        let a = machine.provisioningFinished(Self.a, succeeded: true, listed: true, jitter: 0.5, now: Self.at(1))
        #expect(Self.provisioned(a) == [Self.c])
        #expect(!a.contains(.provisioningSettled))
        #expect(!machine.provisioningFinished(Self.b, succeeded: true, listed: true, jitter: 0.5, now: Self.at(2))
            .contains(.provisioningSettled))
        // The last one: settled, even when it failed (its retry waits for the backoff).
        #expect(machine.provisioningFinished(Self.c, succeeded: false, jitter: 0.5, now: Self.at(3))
            .contains(.provisioningSettled))
    }

    @Test("a provisioning whose listing served as the first poll: no second listing, ready when all are listed")
    func provisioningListingServesAsFirstPoll() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        let start = machine.start(organizations: [Self.a, Self.b], now: Self.at(0))
        #expect(Self.provisioned(start) == [Self.a, Self.b] && Self.started(start).isEmpty)
        // a's provisioning changed nothing: its listing is its first poll.
        let a = machine.provisioningFinished(Self.a, succeeded: true, listed: true, jitter: 0.5, now: Self.at(1))
        #expect(Self.started(a).isEmpty, "a is not listed again")
        #expect(machine.nextPoll(of: Self.a) == Self.at(61))
        #expect(!a.contains(.reportReady))
        // b's provisioning created a connection: its listing is out of date, so b is polled now.
        let b = machine.provisioningFinished(Self.b, succeeded: true, listed: false, jitter: 0.5, now: Self.at(2))
        #expect(Self.started(b) == [Self.b])
        #expect(!b.contains(.reportReady))
        let polled = machine.pollFinished(Self.b, .succeeded, jitter: 0.5, now: Self.at(3))
        #expect(polled.contains(.reportReady))
        // Later provisionings (changed credential files) that change nothing count as polls too.
        _ = machine.provisioningRequested([Self.a], now: Self.at(10))
        _ = machine.provisioningFinished(Self.a, succeeded: true, listed: true, jitter: 0.5, now: Self.at(11))
        #expect(machine.nextPoll(of: Self.a) == Self.at(71))
    }

    @Test("readiness follows the organizations a reload leaves: one never polled is no longer waited for")
    func reloadCompletesTheCycle() {
        var machine = Machine(poll: Self.poll(concurrency: 1))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b], now: Self.at(0))
        _ = machine.reloadRequested()
        _ = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1))
        #expect(!machine.isReady)
        let actions = machine.reloadFinished(
            .applied(organizations: [Self.a], poll: Self.poll(concurrency: 1), heartbeat: nil), now: Self.at(2))
        #expect(actions.contains(.reportReady))
    }

    @Test("reload requests while one runs are merged into one more reload; a refused reload changes nothing")
    func reloadsAreSerialised() {
        var machine = Machine(poll: Self.poll(concurrency: 1))
        _ = machine.startProvisioned(organizations: [Self.a], now: Self.at(0))
        #expect(machine.reloadRequested() == [.startReload])
        #expect(machine.reloadRequested().isEmpty)
        #expect(machine.reloadRequested().isEmpty)
        let refused = machine.reloadFinished(.refused, now: Self.at(1))
        #expect(refused.filter { $0 == .startReload }.count == 1, "the pending request starts one more reload")
        #expect(machine.nextPoll(of: Self.a) == Self.at(0))
        #expect(machine.reloadFinished(.refused, now: Self.at(2)).filter { $0 == .startReload }.isEmpty)
        #expect(!machine.isReloading)
    }

    @Test("shutdown with polls in flight: finish once, then nothing starts")
    func shutdownWithPollsInFlight() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b, Self.c], now: Self.at(0))
        #expect(machine.shutdownRequested() == [.finish])
        #expect(machine.shutdownRequested().isEmpty)
        #expect(machine.pollFinished(Self.a, .cancelled, jitter: 0.5, now: Self.at(1)).isEmpty)
        #expect(machine.pollFinished(Self.b, .succeeded, jitter: 0.5, now: Self.at(1)).isEmpty)
        #expect(machine.timerFired(now: Self.at(100)).isEmpty)
        #expect(machine.reloadRequested().isEmpty)
        #expect(machine.ping(now: Self.at(100)).isEmpty)
    }

    @Test("an empty configuration is ready at once and polls nothing")
    func emptyConfiguration() {
        var machine = Machine(poll: Self.poll())
        #expect(machine.start(organizations: [], now: Self.at(0)) == [.reportReady])
    }

    @Test("the heartbeat: first one period after start, then every period, its timer armed even with every slot taken")
    func heartbeat() {
        var machine = Machine(poll: Self.poll(interval: .seconds(600), concurrency: 1), heartbeat: .seconds(3600))
        let start = machine.startProvisioned(organizations: [Self.a], now: Self.at(0))
        #expect(Self.started(start) == [Self.a])
        #expect(!start.contains(.heartbeat))
        #expect(Self.timers(start) == [Self.timer(3600)])
        // The next poll comes first: its timer is armed.
        #expect(Self.timers(machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1))) == [Self.timer(601)])
        #expect(!machine.timerFired(now: Self.at(3599)).contains(.heartbeat))
        #expect(machine.timerFired(now: Self.at(3600)).filter { $0 == .heartbeat }.count == 1)
        #expect(!machine.timerFired(now: Self.at(3601)).contains(.heartbeat))
        #expect(machine.timerFired(now: Self.at(7200)).contains(.heartbeat))
    }

    @Test("a reload turns the heartbeat off, or on one period later; without one there is none")
    func heartbeatFollowsReloads() {
        var machine = Machine(poll: Self.poll(concurrency: 1), heartbeat: .seconds(60))
        _ = machine.startProvisioned(organizations: [Self.a], now: Self.at(0))
        _ = machine.reloadRequested()
        _ = machine.reloadFinished(.applied(organizations: [Self.a], poll: Self.poll(concurrency: 1), heartbeat: nil), now: Self.at(1))
        #expect(!machine.timerFired(now: Self.at(120)).contains(.heartbeat))
        _ = machine.reloadRequested()
        let on = machine.reloadFinished(
            .applied(organizations: [Self.a], poll: Self.poll(concurrency: 1), heartbeat: .seconds(30)), now: Self.at(200))
        #expect(Self.timers(on).contains(Self.timer(230)))
        #expect(!machine.timerFired(now: Self.at(229)).contains(.heartbeat))
        #expect(machine.timerFired(now: Self.at(230)).contains(.heartbeat))

        var silent = Machine(poll: Self.poll(concurrency: 1))
        _ = silent.start(organizations: [Self.a], now: Self.at(0))
        for second in stride(from: 60.0, through: 86_400, by: 3600) {
            #expect(!silent.timerFired(now: Self.at(second)).contains(.heartbeat))
        }
    }

    @Test("provisioning comes before each organization's first poll, and never at the same time as a poll")
    func provisioningBeforeTheFirstPoll() {
        var machine = Machine(poll: Self.poll(concurrency: 2))
        let start = machine.start(organizations: [Self.b, Self.a], now: Self.at(0))
        #expect(Self.provisioned(start) == [Self.a, Self.b] && Self.started(start).isEmpty)
        #expect(machine.pollsInFlight == [Self.a, Self.b])
        #expect(Self.started(machine.provisioningFinished(Self.b, succeeded: true, jitter: 0.5, now: Self.at(1))) == [Self.b])
        #expect(machine.provisioningFailures(of: Self.b) == nil)
        #expect(!machine.isReady)
        #expect(Self.started(machine.provisioningFinished(Self.a, succeeded: true, jitter: 0.5, now: Self.at(2))) == [Self.a])
    }

    @Test("a failed provisioning does not hold polls back and is tried again with backoff until it succeeds")
    func failedProvisioningIsRetriedWithBackoff() {
        var machine = Machine(poll: Self.poll(interval: .seconds(60), concurrency: 1))
        _ = machine.start(organizations: [Self.a], now: Self.at(0))
        // The first attempt fails (Leen down at start): the poll runs at once all the same.
        #expect(Self.started(machine.provisioningFinished(Self.a, succeeded: false, jitter: 0.5, now: Self.at(1))) == [Self.a])
        #expect(machine.provisioningFailures(of: Self.a) == 1)
        let polled = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(2))
        #expect(machine.isReady || polled.contains(.reportReady))
        // Next due: the provisioning retry one interval after the failure (61 s), before the poll (62 s).
        #expect(Self.timers(polled) == [Self.timer(61)])
        let retry = machine.timerFired(now: Self.at(61))
        #expect(Self.provisioned(retry) == [Self.a] && Self.started(retry).isEmpty)
        // Failing again doubles the wait (120 s), up to max_backoff; the poll due meanwhile still runs.
        #expect(Self.started(machine.provisioningFinished(Self.a, succeeded: false, jitter: 0.5, now: Self.at(62))) == [Self.a])
        #expect(machine.provisioningFailures(of: Self.a) == 2)
        _ = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(63))
        let poll123 = machine.timerFired(now: Self.at(123))
        #expect(Self.started(poll123) == [Self.a] && Self.provisioned(poll123).isEmpty, "the poll at 123 s comes first")
        _ = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(123))
        var attempts: [Double] = []
        var now = 123.0
        var failures = 2
        // Drive time forward: polls succeed, provisioning keeps failing until its fifth attempt.
        while now < 3_000, machine.provisioningFailures(of: Self.a) != nil {
            now += 1
            for action in machine.timerFired(now: Self.at(now)) + machine.ping(now: Self.at(now)) {
                if case .startProvisioning = action {
                    attempts.append(now)
                    failures += 1
                    _ = machine.provisioningFinished(Self.a, succeeded: failures > 4, jitter: 0.5, now: Self.at(now))
                } else if case .startPolls = action {
                    _ = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(now))
                }
            }
        }
        #expect(machine.provisioningFailures(of: Self.a) == nil, "provisioned at last")
        // Attempts 3, 4 and 5: 120 s, 240 s, then 480 s after the previous failure (give or take the poll's slot).
        #expect(attempts.count == 3)
        if attempts.count == 3 {
            #expect(attempts[0] >= 62 + 120 && attempts[0] < 62 + 120 + 5)
            #expect(attempts[1] >= attempts[0] + 240 && attempts[1] < attempts[0] + 245)
            #expect(attempts[2] >= attempts[1] + 480 && attempts[2] < attempts[1] + 485)
        }
    }

    @Test("a reload provisions every organization again")
    func reloadProvisionsAgain() {
        var machine = Machine(poll: Self.poll(concurrency: 4))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b], now: Self.at(0))
        _ = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: Self.at(1))
        _ = machine.pollFinished(Self.b, .succeeded, jitter: 0.5, now: Self.at(1))
        _ = machine.reloadRequested()
        let applied = machine.reloadFinished(
            .applied(organizations: [Self.a, Self.b], poll: Self.poll(concurrency: 4), heartbeat: nil), now: Self.at(2))
        #expect(Self.provisioned(applied) == [Self.a, Self.b])
    }
}

extension SchedulerStateMachine {
    /// Starts, and finishes successfully at `now` every provisioning that follows: the schedule as it stands
    /// once provisioning is done, for tests about polls. Returns every action but the provisioning ones.
    mutating func startProvisioned(organizations: [OrganizationID], now: Instant) -> [Action] {
        var pending = start(organizations: organizations, now: now)
        var result: [Action] = []
        while !pending.isEmpty {
            let action = pending.removeFirst()
            if case .startProvisioning(let ids) = action {
                for id in ids { pending += provisioningFinished(id, succeeded: true, jitter: 0.5, now: now) }
            } else {
                result.append(action)
            }
        }
        return result
    }
}
