import HealthdCore
import LeenAPI
import Testing

@testable import Healthd

@Suite("Poll schedule")
struct PollScheduleTests {
    static let start = ContinuousClock.now
    static let poll = Configuration.Poll(interval: .seconds(60), jitter: 0.1, maximumBackoff: .seconds(600))
    /// The largest `unit` a `Double.random(in: 0..<1)` can return.
    static let almostOne = 1.0.nextDown

    static func at(_ seconds: Int) -> ContinuousClock.Instant { start.advanced(by: .seconds(seconds)) }

    /// a due at 0, b at 1, c at 5, d at 30.
    static func schedule(inFlight: Set<OrganizationID> = []) -> PollSchedule {
        PollSchedule(due: ["a": at(0), "b": at(1), "c": at(5), "d": at(30)], inFlight: inFlight)
    }

    static func delay(
        _ poll: Configuration.Poll = Self.poll, failures: Int = 0, retryAfter: Duration? = nil, unit: Double = 0.5
    ) -> Double {
        PollSchedule.delay(poll: poll, failures: failures, retryAfter: retryAfter, unit: unit).seconds
    }

    @Test func readyIsDueEarliestFirstUpToTheLimit() {
        #expect(Self.schedule().ready(at: Self.at(10), limit: 10) == ["a", "b", "c"])
        #expect(Self.schedule().ready(at: Self.at(10), limit: 2) == ["a", "b"])
        #expect(Self.schedule().ready(at: Self.at(1), limit: 10) == ["a", "b"])
        #expect(Self.schedule().ready(at: Self.at(-1), limit: 10) == [])
        #expect(Self.schedule().ready(at: Self.at(30), limit: 10) == ["a", "b", "c", "d"])
    }

    @Test func readyLeavesRoomForThoseInFlight() {
        #expect(Self.schedule(inFlight: ["a"]).ready(at: Self.at(10), limit: 2) == ["b"])
        #expect(Self.schedule(inFlight: ["a"]).ready(at: Self.at(10), limit: 4) == ["b", "c"])
        #expect(Self.schedule(inFlight: ["a", "b"]).ready(at: Self.at(10), limit: 2) == [])
        #expect(Self.schedule(inFlight: ["a", "b", "c"]).ready(at: Self.at(60), limit: 2) == [])
        #expect(Self.schedule(inFlight: ["d"]).ready(at: Self.at(60), limit: 2) == ["a"])
    }

    @Test func equalDueTimesAreOrderedByID() {
        let schedule = PollSchedule(due: ["z": Self.at(0), "m": Self.at(0), "b": Self.at(2)])
        #expect(schedule.ready(at: Self.at(5), limit: 5) == ["m", "z", "b"])
    }

    @Test func nextDueSkipsThoseInFlight() {
        #expect(Self.schedule().nextDue == Self.at(0))
        #expect(Self.schedule(inFlight: ["a", "b"]).nextDue == Self.at(5))
        #expect(PollSchedule().nextDue == nil)
    }

    @Test func reconcileAddsNewOrganizationsDueNowAndDropsRemovedOnes() {
        var schedule = Self.schedule(inFlight: [])
        schedule.reconcile(with: ["b", "d", "e"], now: Self.at(7))
        #expect(schedule.due == ["b": Self.at(1), "d": Self.at(30), "e": Self.at(7)])
        #expect(schedule.ready(at: Self.at(7), limit: 5) == ["b", "e"])
        schedule.reconcile(with: [], now: Self.at(8))
        #expect(schedule.due.isEmpty)
    }

    @Test(arguments: [(0.0, 54.0), (0.25, 57.0), (0.5, 60.0), (0.75, 63.0), (PollScheduleTests.almostOne, 66.0)])
    func jitterSpreadsTheIntervalBothWays(_ unit: Double, _ seconds: Double) {
        #expect(abs(Self.delay(unit: unit) - seconds) <= 0.002)
        #expect(abs(Self.delay(failures: 1, unit: unit) - seconds) <= 0.002)
    }

    @Test(arguments: [(-1.0, 0.0), (0.0, 0.0), (0.9, 0.5)])
    func jitterIsClampedToHalfTheInterval(_ jitter: Double, _ effective: Double) {
        var poll = Self.poll
        poll.jitter = jitter
        #expect(abs(Self.delay(poll, unit: 0) - 60 * (1 - effective)) <= 0.002)
        #expect(abs(Self.delay(poll, unit: Self.almostOne) - 60 * (1 + effective)) <= 0.002)
    }

    @Test(arguments: [(0, 60.0), (1, 60.0), (2, 120.0), (3, 240.0), (4, 480.0), (5, 600.0), (6, 600.0), (64, 600.0)])
    func backoffDoublesAfterFailuresUpToTheMaximum(_ failures: Int, _ seconds: Double) {
        #expect(abs(Self.delay(failures: failures) - seconds) <= 0.002)
        // Jitter still applies to the backed-off wait.
        #expect(abs(Self.delay(failures: failures, unit: 0) - seconds * 0.9) <= 0.002)
    }

    @Test func maximumBackoffBelowTheIntervalNeverShortensIt() {
        let poll = Configuration.Poll(interval: .seconds(60), jitter: 0, maximumBackoff: .seconds(10))
        #expect(Self.delay(poll, failures: 5) == 60)
    }

    @Test func retryAfterIsAFloor() {
        #expect(abs(Self.delay(failures: 1, retryAfter: .seconds(300)) - 300) <= 0.002)
        #expect(abs(Self.delay(failures: 1, retryAfter: .seconds(10)) - 60) <= 0.002)
        #expect(abs(Self.delay(failures: 2, retryAfter: .seconds(90), unit: 0) - 108) <= 0.002)
        #expect(abs(Self.delay(failures: 8, retryAfter: .seconds(3_600)) - 3_600) <= 0.002)
    }
}
