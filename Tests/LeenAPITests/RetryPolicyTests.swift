import Foundation
import Testing

@testable import LeenAPI
@testable import LeenAPIClient

@Suite("Retry policy")
struct RetryPolicyTests {
    /// Whole-second steps so every expected delay is exact: 1, 2, 4, 8, then capped at 8.
    static let policy = RetryPolicy(
        maximumAttempts: 5, baseDelay: .seconds(1), maximumDelay: .seconds(8), maximumRetryAfter: .seconds(30))

    /// The largest `unit` a `Double.random(in: 0..<1)` can return.
    static let almostOne = 1.0.nextDown

    @Test func defaults() {
        let policy = RetryPolicy()
        #expect(policy.maximumAttempts == 4)
        #expect(policy.baseDelay == .milliseconds(200))
        #expect(policy.maximumDelay == .seconds(10))
        #expect(policy.maximumRetryAfter == .seconds(60))
        #expect(policy.backoff(retry: 1, unit: 1) == .milliseconds(200))
        #expect(policy.backoff(retry: 2, unit: 1) == .milliseconds(400))
    }

    @Test(arguments: 1...12)
    func zeroUnitMeansNoWait(_ retry: Int) {
        #expect(Self.policy.backoff(retry: retry, unit: 0) == .zero)
    }

    @Test(arguments: [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (6, 8.0), (31, 8.0), (1_000, 8.0)])
    func unitNearOneGivesTheCappedExponentialStep(_ retry: Int, _ step: Double) {
        let full = Self.policy.backoff(retry: retry, unit: 1)
        #expect(full == .seconds(step))
        let almost = Self.policy.backoff(retry: retry, unit: Self.almostOne)
        #expect(almost < full || almost == full)
        #expect(abs(almost.seconds - step) < 1e-9)
        #expect(almost <= Self.policy.maximumDelay)
    }

    @Test func stepsDoubleUntilTheCap() {
        let steps = (1...6).map { Self.policy.backoff(retry: $0, unit: 1) }
        #expect(steps == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        for (previous, next) in zip(steps, steps.dropFirst()) where next < Self.policy.maximumDelay {
            #expect(next == previous * 2)
        }
    }

    @Test(arguments: [0.0, 0.1, 0.25, 0.5, 0.75, 0.999])
    func fullJitterScalesTheStepLinearly(_ unit: Double) {
        for retry in 1...6 {
            let step = Self.policy.backoff(retry: retry, unit: 1).seconds
            let delay = Self.policy.backoff(retry: retry, unit: unit)
            #expect(abs(delay.seconds - step * unit) < 1e-9)
            #expect(delay >= .zero)
            #expect(delay <= Self.policy.maximumDelay)
        }
    }

    @Test func unitOutsideZeroOneIsClamped() {
        #expect(Self.policy.backoff(retry: 3, unit: -0.5) == .zero)
        #expect(Self.policy.backoff(retry: 3, unit: 7) == .seconds(4))
        #expect(Self.policy.backoff(retry: 9, unit: 7) == Self.policy.maximumDelay)
    }

    @Test func retryBelowOneIsTreatedAsTheFirst() {
        #expect(Self.policy.backoff(retry: 0, unit: 1) == .seconds(1))
        #expect(Self.policy.backoff(retry: -3, unit: 1) == .seconds(1))
    }

    @Test func hugeRetryNumbersDoNotOverflow() {
        #expect(Self.policy.backoff(retry: .max, unit: 1) == .seconds(8))
        let uncapped = RetryPolicy(baseDelay: .seconds(1), maximumDelay: .seconds(1_000_000_000_000))
        #expect(uncapped.backoff(retry: .max, unit: 1) == .seconds(1 << 30))
    }

    @Test func sub_secondBaseDelay() {
        let policy = RetryPolicy(baseDelay: .milliseconds(250), maximumDelay: .seconds(1))
        #expect(policy.backoff(retry: 1, unit: 1) == .milliseconds(250))
        #expect(policy.backoff(retry: 2, unit: 1) == .milliseconds(500))
        #expect(policy.backoff(retry: 3, unit: 1) == .seconds(1))
        #expect(policy.backoff(retry: 4, unit: 1) == .seconds(1))
        #expect(policy.backoff(retry: 2, unit: 0.5) == .milliseconds(250))
    }

    // MARK: delay(afterAttempt:retryAfter:unit:)

    @Test func givesUpAtTheLastAttempt() {
        for attempt in 1..<5 {
            #expect(Self.policy.delay(afterAttempt: attempt, retryAfter: nil, unit: 1) != nil, "attempt \(attempt)")
        }
        #expect(Self.policy.delay(afterAttempt: 5, retryAfter: nil, unit: 1) == nil)
        #expect(Self.policy.delay(afterAttempt: 6, retryAfter: nil, unit: 1) == nil)
        #expect(Self.policy.delay(afterAttempt: 5, retryAfter: .seconds(1), unit: 1) == nil)
    }

    @Test func computedDelayIsTheBackoffForThatRetry() {
        // Attempt n failed, so the next one is retry n.
        for attempt in 1..<5 {
            #expect(
                Self.policy.delay(afterAttempt: attempt, retryAfter: nil, unit: 0.5)
                    == Self.policy.backoff(retry: attempt, unit: 0.5))
        }
        #expect(Self.policy.delay(afterAttempt: 1, retryAfter: nil, unit: 1) == .seconds(1))
        #expect(Self.policy.delay(afterAttempt: 4, retryAfter: nil, unit: 1) == .seconds(8))
    }

    @Test(arguments: [Duration.zero, .milliseconds(1), .seconds(3), .seconds(20), .seconds(30)])
    func honoursRetryAfterExactly(_ retryAfter: Duration) {
        // Even above maximumDelay (8s), and regardless of the jitter unit.
        for unit in [0.0, 0.5, Self.almostOne] {
            #expect(Self.policy.delay(afterAttempt: 1, retryAfter: retryAfter, unit: unit) == retryAfter)
            #expect(Self.policy.delay(afterAttempt: 4, retryAfter: retryAfter, unit: unit) == retryAfter)
        }
    }

    @Test(arguments: [Duration.seconds(30) + .nanoseconds(1), .seconds(31), .seconds(3_600)])
    func retryAfterBeyondTheLimitGivesUp(_ retryAfter: Duration) {
        #expect(Self.policy.delay(afterAttempt: 1, retryAfter: retryAfter, unit: 0.5) == nil)
    }

    @Test func noneNeverRetries() {
        #expect(RetryPolicy.none.maximumAttempts == 1)
        #expect(RetryPolicy.none.delay(afterAttempt: 1, retryAfter: nil, unit: 0.5) == nil)
        #expect(RetryPolicy.none.delay(afterAttempt: 1, retryAfter: .seconds(1), unit: 0.5) == nil)
    }

    @Test(arguments: [0, -1, Int.min])
    func atLeastOneAttempt(_ attempts: Int) {
        let policy = RetryPolicy(maximumAttempts: attempts)
        #expect(policy.maximumAttempts == 1)
        #expect(policy.delay(afterAttempt: 1, retryAfter: nil, unit: 0.5) == nil)
    }

    @Test func durationSeconds() {
        #expect(Duration.milliseconds(1_500).seconds == 1.5)
        #expect(Duration.seconds(-2).seconds == -2)
        #expect(Duration.zero.seconds == 0)
        #expect(abs(Duration.nanoseconds(1).seconds - 1e-9) < 1e-18)
    }
}

@Suite("Retry-After parsing")
struct RetryAfterTests {
    /// `Sun, 06 Nov 1994 08:49:37 GMT`, the RFC 9110 example instant.
    static let example = Date(timeIntervalSince1970: 784_111_777)
    /// Two minutes before the example instant.
    static let now = example.addingTimeInterval(-120)

    @Test(arguments: [("0", 0), ("120", 120), (" 5 ", 5), ("5 ", 5), ("   86400", 86_400), ("007", 7)])
    func delaySeconds(_ text: String, _ seconds: Int64) {
        #expect(RetryAfter.parse(text, now: Self.now) == .seconds(seconds))
    }

    @Test(arguments: ["-1", "abc", "", "   ", "1.5", "+5", "5s", "1 2", "0x10", "١٢", "Sun, 06 Nov 1994"])
    func rejects(_ text: String) {
        #expect(RetryAfter.parse(text, now: Self.now) == nil)
    }

    @Test func hugeDelaySecondsSaturateInsteadOfFailing() throws {
        let delay = try #require(RetryAfter.parse("99999999999999999999999", now: Self.now))
        #expect(delay > .seconds(86_400 * 30))
        // Far longer than any policy waits in-line.
        #expect(RetryPolicy().delay(afterAttempt: 1, retryAfter: delay, unit: 0.5) == nil)
    }

    @Test(arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850
        "Sun Nov  6 08:49:37 1994",  // asctime
        "  Sun, 06 Nov 1994 08:49:37 GMT ",
    ])
    func httpDatesAreMeasuredFromNow(_ text: String) {
        #expect(RetryAfter.parse(text, now: Self.now) == .seconds(120))
        #expect(RetryAfter.parse(text, now: Self.example) == .zero)
        #expect(RetryAfter.parse(text, now: Self.example.addingTimeInterval(-3_600)) == .seconds(3_600))
    }

    @Test func partialSecondsRoundUp() {
        let text = "Sun, 06 Nov 1994 08:49:37 GMT"
        #expect(RetryAfter.parse(text, now: Self.example.addingTimeInterval(-0.25)) == .seconds(1))
        #expect(RetryAfter.parse(text, now: Self.example.addingTimeInterval(-10.5)) == .seconds(11))
    }

    @Test func pastDateMeansNow() {
        let text = "Sun, 06 Nov 1994 08:49:37 GMT"
        #expect(RetryAfter.parse(text, now: Self.example.addingTimeInterval(1)) == .zero)
        #expect(RetryAfter.parse(text, now: Date(timeIntervalSince1970: 1_699_335_116)) == .zero)
        #expect(RetryAfter.parse(text) == .zero)  // the real clock is long past 1994
    }

    @Test func asctimeWithTwoDigitDay() {
        #expect(RetryAfter.parse("Wed Nov 16 08:49:37 1994", now: Self.example) == .seconds(10 * 86_400))
    }

    @Test func imfFixdateInTheFuture() {
        let now = Date(timeIntervalSince1970: 1_699_335_116)  // Tue, 07 Nov 2023 05:31:56 GMT
        #expect(RetryAfter.parse("Tue, 07 Nov 2023 05:32:26 GMT", now: now) == .seconds(30))
    }
}
