/// Paces journal writes so journald's rate limit never has to drop one: at most `burst` entries in any window
/// of `interval`, whatever the window's alignment.
///
/// journald counts a unit's entries per window (`LogRateLimitIntervalSec=`, `LogRateLimitBurst=`) and
/// silently drops those beyond the burst, telling the sender nothing. A token bucket of capacity C refilled
/// at r per second lets through at most C + r·I entries in any window of length I; with C = burst/4 and
/// r = (3/4)·burst/I that is exactly `burst`. Pure: the caller passes the time (seconds on any monotonic clock).
public struct JournalPacer: Sendable, Hashable {
    public let burst: Int
    public let interval: Double
    let capacity: Double
    let refillPerSecond: Double
    var tokens: Double
    var last: Double?

    /// - Parameters:
    ///   - burst: entries allowed in any window of `interval` seconds (at least 4).
    public init(burst: Int, interval: Double) {
        self.burst = max(4, burst)
        self.interval = max(0.001, interval)
        capacity = Double(self.burst) / 4
        refillPerSecond = Double(self.burst) * 3 / 4 / self.interval
        tokens = capacity
    }

    /// Takes one entry's budget at `now` if there is some (nil), else says how long to wait first.
    public mutating func take(now: Double) -> Double? {
        refill(now: now)
        // The tolerance absorbs rounding: waiting exactly the returned time must be enough.
        if tokens >= 1 - 1e-9 {
            tokens = max(0, tokens - 1)
            return nil
        }
        return (1 - tokens) / refillPerSecond
    }

    /// Entries that may be written at `now` without waiting.
    public mutating func available(now: Double) -> Int {
        refill(now: now)
        return Int(tokens)
    }

    mutating func refill(now: Double) {
        if let last, now > last { tokens = min(capacity, tokens + (now - last) * refillPerSecond) }
        if last == nil || now > last! { last = now }
    }
}
