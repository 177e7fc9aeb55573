import HealthdCore
import LeenAPI
import Testing

/// ``SchedulerStateMachine/delay(poll:failures:retryAfter:jitter:)``: the wait before an organization's next poll.
@Suite("Backoff and jitter")
struct BackoffTests {
    static let poll = Configuration.Poll(interval: .seconds(60), jitter: 0.1, maximumBackoff: .seconds(600))
    /// The largest `unit` a `Double.random(in: 0..<1)` can return.
    static let almostOne = 1.0.nextDown

    static func delay(
        _ poll: Configuration.Poll = Self.poll, failures: Int = 0, retryAfter: Duration? = nil, unit: Double = 0.5
    ) -> Double {
        SchedulerStateMachine.delay(poll: poll, failures: failures, retryAfter: retryAfter, jitter: unit).seconds
    }

    @Test(arguments: [(0.0, 54.0), (0.25, 57.0), (0.5, 60.0), (0.75, 63.0), (BackoffTests.almostOne, 66.0)])
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
    }

    @Test(arguments: [
        Duration.seconds(3_600), .seconds(99_999_999_999_999_999), .seconds(86_400 * 365 * 1_000),
    ])
    func retryAfterIsClampedToTheMaximumBackoff(_ retryAfter: Duration) {
        // A huge delay-seconds or a far-future HTTP-date waits max_backoff at most, and never traps.
        #expect(abs(Self.delay(failures: 8, retryAfter: retryAfter) - 600) <= 0.002)
        #expect(abs(Self.delay(failures: 1, retryAfter: retryAfter) - 600) <= 0.002)
        // With max_backoff below the interval, the interval is the longest wait.
        let short = Configuration.Poll(interval: .seconds(60), jitter: 0, maximumBackoff: .seconds(1))
        #expect(abs(Self.delay(short, failures: 3, retryAfter: retryAfter) - 60) <= 0.002)
    }
}
