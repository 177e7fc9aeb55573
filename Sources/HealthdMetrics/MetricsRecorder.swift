import Foundation
import HealthdCore
import LeenAPI
import Synchronization

/// Where the daemon records what metrics count outside the monitor: HTTP requests (from the client's
/// observer thread), reloads, readiness and the poll interval. Cheap, lock-protected updates; the monitor
/// copies ``counters`` into each snapshot next to its own poll and event counters.
public final class MetricsRecorder: Sendable {
    private let state: Mutex<DaemonCounters>

    /// - Parameter shard: the instance's shard, fixed for its life: every sample then carries its `shard` label.
    public init(startTime: Date = Date(), version: String, shard: Shard? = nil) {
        var counters = DaemonCounters(startTime: startTime, version: version)
        counters.shard = shard
        state = Mutex(counters)
    }

    public var counters: DaemonCounters { state.withLock { $0 } }

    /// One HTTP attempt to Leen, as the client's observer reports it.
    public struct Request: Sendable {
        /// `list_connections`, `create_connection`, …
        public var operation: String
        /// The HTTP status (`"200"`), or the error kind (`"timeout"`) when no response came.
        public var code: String
        /// The wait before the next attempt, when one follows.
        public var retryDelay: Duration?
        /// True when `retryDelay` is the server's `Retry-After`.
        public var honouredRetryAfter: Bool

        public init(operation: String, code: String, retryDelay: Duration?, honouredRetryAfter: Bool) {
            self.operation = operation
            self.code = code
            self.retryDelay = retryDelay
            self.honouredRetryAfter = honouredRetryAfter
        }
    }

    public func recordRequest(_ event: Request) {
        state.withLock {
            $0.requests[DaemonCounters.RequestKey(operation: event.operation, code: event.code), default: 0] += 1
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

    /// A change of the web configuration file applied, or refused.
    public func recordWebConfigReload(success: Bool) {
        state.withLock {
            $0.webConfigLastReloadSuccessful = success
            if !success { $0.webConfigReloadFailures += 1 }
        }
    }

    public func setReady(_ ready: Bool) {
        state.withLock { $0.ready = ready }
    }

    /// The configured `poll.interval`, at start and after each successful reload.
    public func setPollInterval(_ interval: Duration) {
        state.withLock { $0.pollInterval = interval }
    }
}
