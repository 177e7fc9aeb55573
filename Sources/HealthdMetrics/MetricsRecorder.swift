import Foundation
import HealthdCore
import LeenAPI
import Synchronization

/// Where the daemon records what metrics count. Cheap, lock-protected updates; ``counters`` copies them
/// for a scrape.
public final class MetricsRecorder: Sendable {
    private let state: Mutex<DaemonCounters>

    public init(startTime: Date = Date(), version: String) {
        state = Mutex(DaemonCounters(startTime: startTime, version: version))
    }

    public var counters: DaemonCounters { state.withLock { $0 } }

    /// One poll of an organization: `result` is `success` or a `LeenAPIError.Kind` raw value.
    public func recordPoll(organization: OrganizationID, result: String, duration: Duration) {
        state.withLock {
            $0.polls[DaemonCounters.PollKey(organization: organization, result: result), default: 0] += 1
            $0.pollDurations[organization, default: Histogram()].observe(duration.seconds)
        }
    }

    /// One HTTP attempt reported by `LeenClient`'s observer.
    public func recordRequest(_ event: LeenClient.RequestEvent) {
        state.withLock {
            let code = event.status.map(String.init) ?? event.errorKind?.rawValue ?? "unknown"
            $0.requests[DaemonCounters.RequestKey(operation: event.operation, code: code), default: 0] += 1
            if let delay = event.retryDelay {
                $0.retries[event.operation, default: 0] += 1
                if event.honouredRetryAfter {
                    $0.retryAfterWaits += 1
                    $0.retryAfterSeconds += delay.seconds
                }
            }
        }
    }

    public func recordReload(success: Bool, at date: Date = Date()) {
        state.withLock {
            $0.lastReloadSuccessful = success
            if success { $0.lastReloadSuccess = date }
            $0.reloads[success ? "success" : "failure", default: 0] += 1
        }
    }

    public func recordEvents(emitted: [EventKind: Int], sendErrors: Int) {
        state.withLock {
            $0.eventsEmitted = emitted
            $0.journalSendErrors = sendErrors
        }
    }

    public func recordSuppressed(_ count: Int = 1) {
        state.withLock { $0.eventsSuppressed += count }
    }

    public func setReady(_ ready: Bool) {
        state.withLock { $0.ready = ready }
    }

    /// The configured `poll.interval`, at start and after each successful reload.
    public func setPollInterval(_ interval: Duration) {
        state.withLock { $0.pollInterval = interval }
    }
}
