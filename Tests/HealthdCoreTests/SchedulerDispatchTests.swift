import LeenAPI
import Testing

@testable import HealthdCore

/// The scheduler picks what to start from a queue (`SchedulerStateMachine.Waiting`), not a scan of every
/// organization. Here it is driven by thousands of random events, and after each one its choices are checked
/// against a scan of its state: the earliest due first, within the bound, and a timer for the next one.
@Suite("Scheduler dispatch under random events")
struct SchedulerDispatchTests {
    typealias Machine = SchedulerStateMachine
    typealias Instant = ContinuousClock.Instant

    /// A small deterministic generator (SplitMix64), so a failure replays.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// When `id` next needs a slot, read from the machine's state as the rule says: its provisioning when due
    /// first, else its poll.
    static func next(_ machine: Machine, _ id: OrganizationID) -> (at: Instant, provision: Bool)? {
        guard let poll = machine.due[id] else { return nil }
        if let provision = machine.provisioning[id]?.due, provision <= poll { return (provision, true) }
        return (poll, false)
    }

    static func check(_ machine: Machine, _ actions: [Machine.Action], now: Instant, limit: Int) {
        let started = actions.flatMap { action -> [OrganizationID] in
            switch action {
            case .startPolls(let ids), .startProvisioning(let ids): ids
            default: []
            }
        }
        #expect(machine.inFlight.count <= limit)
        #expect(Set(started).count == started.count)
        let waiting = machine.due.keys.filter { !machine.inFlight.contains($0) }.compactMap { id in
            next(machine, id).map { (at: $0.at, id: id) }
        }
        let dueNow = waiting.filter { $0.at <= now }
        // Nothing due waits while a slot is free.
        if machine.inFlight.count < limit { #expect(dueNow.isEmpty, "due and waiting with a free slot: \(dueNow)") }
        // What started was due, and no waiting organization was due before it.
        for id in started {
            guard let mine = next(machine, id) else { continue }
            #expect(mine.at <= now)
            for other in dueNow { #expect((mine.at, id) < (other.at, other.id)) }
        }
        // The timer: the next due organization while a slot is free, or the heartbeat.
        for case .armTimer(let instant) in actions {
            let nextPoll = machine.inFlight.count < limit ? waiting.map(\.at).min() : nil
            #expect(instant == [nextPoll, machine.nextHeartbeat].compactMap { $0 }.min().map { $0 + Machine.timerSlack(machine.poll) })
        }
    }

    /// Driven as the daemon drives it: every armed timer is a task sleeping until its instant, which then
    /// delivers a tick; polls end a little after they start. A timer is armed only for an instant earlier
    /// than every timer still sleeping, so few ever sleep at once (a later one would be a task doing nothing).
    @Test("timers armed only where no sleeping timer serves, so few sleep at once", arguments: [1, 2])
    func timersDoNotPileUp(concurrency: Int) {
        var random = SplitMix(state: UInt64(concurrency))
        var poll = Configuration.Poll()
        poll.interval = .seconds(20)
        poll.jitter = 0.1
        poll.concurrency = concurrency
        // Half a slot's time busy with one slot: polls start on time.
        let all = (0..<100).map { OrganizationID("org-\($0)") }
        var now = ContinuousClock.now
        let end = now + .seconds(600)
        var machine = Machine(poll: poll, heartbeat: .seconds(60))
        var sleeping: [Instant] = []
        var ending: [(at: Instant, id: OrganizationID)] = []
        var started = 0
        var most = 0
        func handle(_ actions: [Machine.Action]) {
            for action in actions {
                switch action {
                case .startPolls(let ids), .startProvisioning(let ids):
                    for id in ids {
                        started += 1
                        ending.append((now + .milliseconds(Int64.random(in: 20...200, using: &random)), id))
                    }
                case .armTimer(let instant):
                    #expect(sleeping.allSatisfy { instant < $0 }, "armed for \(instant) behind a sleeping timer")
                    sleeping.append(instant)
                    most = max(most, sleeping.count)
                default: break
                }
            }
        }
        handle(machine.start(organizations: all, now: now))
        while now < end {
            let timer = sleeping.min()
            let poll = ending.min { $0.at < $1.at }
            if let timer, poll.map({ timer <= $0.at }) ?? true {
                now = timer
                sleeping.removeAll { $0 == timer }
                handle(machine.timerFired(now: now))
            } else if let poll {
                now = poll.at
                ending.removeAll { $0.id == poll.id }
                let jitter = Double.random(in: 0..<1, using: &random)
                handle(
                    machine.isProvisioning.contains(poll.id)
                        ? machine.provisioningFinished(poll.id, succeeded: true, listed: true, jitter: jitter, now: now)
                        : machine.pollFinished(poll.id, .succeeded, jitter: jitter, now: now))
            } else {
                Issue.record("nothing left to happen: the scheduler stalled")
                return
            }
        }
        // Every organization polled about once per interval for the ten minutes: nothing stalled.
        #expect(started >= all.count * 28)
        #expect(most <= 3, "\(most) timers slept at once")
    }

    @Test("the earliest due start first, within the bound, and the timer is armed for the next", arguments: [1, 2, 3])
    func randomEvents(seed: UInt64) {
        var random = SplitMix(state: seed)
        var poll = Configuration.Poll()
        poll.interval = .seconds(20)
        poll.jitter = 0.2
        poll.concurrency = 3
        poll.maximumBackoff = .seconds(120)
        let all = (0..<40).map { OrganizationID("org-\($0)") }
        let t0 = ContinuousClock.now
        var now = t0
        var machine = Machine(poll: poll, heartbeat: .seconds(300))
        var actions = machine.start(organizations: all, now: now)
        Self.check(machine, actions, now: now, limit: poll.concurrency)
        for _ in 0..<3_000 {
            let flying = machine.inFlight.sorted()
            switch Int.random(in: 0..<10, using: &random) {
            case 0...4 where !flying.isEmpty:
                let id = flying.randomElement(using: &random)!
                let jitter = Double.random(in: 0..<1, using: &random)
                if machine.isProvisioning.contains(id) {
                    actions = machine.provisioningFinished(
                        id, succeeded: Bool.random(using: &random), listed: Bool.random(using: &random), jitter: jitter,
                        now: now)
                } else {
                    let completion: Machine.PollCompletion =
                        switch Int.random(in: 0..<8, using: &random) {
                        case 0: .failed(consecutiveFailures: Int.random(in: 1...5, using: &random), retryAfter: nil)
                        case 1: .failed(consecutiveFailures: 1, retryAfter: .seconds(Int64.random(in: 1...90, using: &random)))
                        case 2: .cancelled
                        default: .succeeded
                        }
                    actions = machine.pollFinished(id, completion, jitter: jitter, now: now)
                }
            case 5:
                let some = all.filter { _ in Int.random(in: 0..<8, using: &random) == 0 }
                actions = machine.provisioningRequested(some, now: now)
            case 6 where Int.random(in: 0..<20, using: &random) == 0:
                // A reload that drops some organizations and brings some back.
                let kept = all.filter { _ in Int.random(in: 0..<4, using: &random) != 0 }
                _ = machine.reloadRequested()
                actions = machine.reloadFinished(.applied(organizations: kept, poll: poll, heartbeat: .seconds(300)), now: now)
            default:
                now = now + .milliseconds(Int64.random(in: 0...4_000, using: &random))
                actions = machine.timerFired(now: now)
            }
            Self.check(machine, actions, now: now, limit: poll.concurrency)
        }
    }
}
