import HealthdCore
import LeenAPI

/// When each organization is next polled. Pure bookkeeping for ``HealthDaemon``'s loop.
struct PollSchedule {
    var due: [OrganizationID: ContinuousClock.Instant] = [:]
    var inFlight: Set<OrganizationID> = []

    /// Organizations due by `now` and not in flight, earliest first, at most `limit` of them.
    func ready(at now: ContinuousClock.Instant, limit: Int) -> [OrganizationID] {
        guard limit > inFlight.count else { return [] }
        return due.filter { $0.value <= now && !inFlight.contains($0.key) }
            .sorted { ($0.value, $0.key) < ($1.value, $1.key) }
            .prefix(limit - inFlight.count).map(\.key)
    }

    /// The earliest due time of an organization not in flight.
    var nextDue: ContinuousClock.Instant? {
        due.filter { !inFlight.contains($0.key) }.values.min()
    }

    /// Keeps the schedule of organizations still configured; new ones are due at once.
    mutating func reconcile(with organizations: [OrganizationID], now: ContinuousClock.Instant) {
        let keep = Set(organizations)
        due = due.filter { keep.contains($0.key) }
        for id in organizations where due[id] == nil { due[id] = now }
    }

    /// The wait before the next poll: the interval with jitter while polls succeed; after `failures`
    /// consecutive failures, the interval doubled per further failure up to `maximumBackoff`, and never less
    /// than the server's `Retry-After`.
    static func delay(
        poll: Configuration.Poll, failures: Int, retryAfter: Duration?, unit: Double
    ) -> Duration {
        let interval = poll.interval.seconds
        var base = interval
        if failures > 1 {
            base = min(interval * Double(1 << min(failures - 1, 20)), max(interval, poll.maximumBackoff.seconds))
        }
        let jitter = min(max(poll.jitter, 0), 0.5)
        var seconds = base * (1 + jitter * (2 * unit - 1))
        if let retryAfter { seconds = max(seconds, retryAfter.seconds) }
        return .milliseconds(Int64(seconds * 1000))
    }
}
