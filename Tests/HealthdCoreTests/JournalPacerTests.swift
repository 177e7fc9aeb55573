import HealthdCore
import Testing

@Suite("Journal pacing: never more than the burst in any window")
struct JournalPacerTests {
    /// Sends as fast as the pacer lets through for `duration` seconds and returns the send times.
    func sendTimes(_ pacer: inout JournalPacer, from start: Double = 0, for duration: Double) -> [Double] {
        var now = start
        var times: [Double] = []
        while now < start + duration {
            if let wait = pacer.take(now: now) {
                now += wait
            } else {
                times.append(now)
            }
        }
        return times
    }

    /// The most sends in any window of `length` (windows starting at each send: the worst alignment).
    func busiestWindow(_ times: [Double], length: Double) -> Int {
        var best = 0
        var end = 0
        for start in times.indices {
            while end < times.count, times[end] < times[start] + length { end += 1 }
            best = max(best, end - start)
        }
        return best
    }

    @Test(arguments: [(40_000, 10.0), (10_000, 30.0), (100, 1.0), (4, 0.5)])
    func neverExceedsTheBurstInAnyWindow(burst: Int, interval: Double) {
        var pacer = JournalPacer(burst: burst, interval: interval)
        let times = sendTimes(&pacer, for: interval * 5)
        #expect(busiestWindow(times, length: interval) <= burst)
        // …and uses most of it: after the first window the rate is 3/4 of the burst per interval.
        #expect(times.count >= Int(Double(burst) * 0.75 * 5))
    }

    @Test func aQuietPeriodRefillsOnlyUpToAQuarterOfTheBurst() {
        var pacer = JournalPacer(burst: 400, interval: 10)
        #expect(pacer.available(now: 0) == 100)
        _ = sendTimes(&pacer, for: 1)
        #expect(pacer.available(now: 1000) == 100)
    }

    @Test func saysHowLongToWait() throws {
        var pacer = JournalPacer(burst: 4, interval: 4)  // capacity 1, refill 0.75/s
        let first = pacer.take(now: 0)
        #expect(first == nil)
        let taken = pacer.take(now: 0)
        let wait = try #require(taken)
        #expect(abs(wait - 4.0 / 3) < 1e-9)
        let after = pacer.take(now: wait)
        #expect(after == nil)
    }

    @Test func aClockThatGoesBackDoesNotMintBudget() {
        var pacer = JournalPacer(burst: 4, interval: 4)
        let results = [pacer.take(now: 10), pacer.take(now: 5), pacer.take(now: 10)]
        #expect(results[0] == nil)
        #expect(results[1] != nil)
        #expect(results[2] != nil)
    }
}
