import Foundation
import LeenAPI

/// The daemon's counters that metrics and `/status` show: the monitor's (polls, events) and the recorder's
/// (HTTP requests, reloads, readiness), copied together into each ``MonitorSnapshot``.
public struct DaemonCounters: Sendable {
    public var startTime: Date
    public var version: String
    /// The instance's shard (`--shard`, `shard:`), nil unsharded: `/metrics` then labels every sample with
    /// `shard="K"` and adds `leen_shard_info`.
    public var shard: Shard?
    /// Polls by organization and result: `success`, or a ``PollFailure/Kind`` raw value.
    public var polls: [PollKey: Int] = [:]
    /// Duration of polls (all pages of one organization), per organization.
    public var pollDurations: [OrganizationID: Histogram] = [:]
    /// HTTP requests to Leen by operation (`list_connections`, …) and status code (`"200"`, or the error
    /// kind such as `"timeout"` when no response came).
    public var requests: [RequestKey: Int] = [:]
    /// Retries by operation.
    public var retries: [String: Int] = [:]
    /// Waits that honoured a `Retry-After`: how many, and their total seconds.
    public var retryAfterWaits = 0
    public var retryAfterSeconds = 0.0
    /// Outcome of the last configuration (re)load, and when it last succeeded.
    public var lastReloadSuccessful = true
    public var lastReloadSuccess: Date?
    /// Reloads by result (`success` / `failure`).
    public var reloads: [String: Int] = [:]
    /// Outcome of the last reload of the web configuration file (true while none failed, or without one).
    public var webConfigLastReloadSuccessful = true
    /// Changes of the web configuration that were refused (the previous one stayed in force).
    public var webConfigReloadFailures = 0
    /// Journal events written, by kind.
    public var eventsEmitted: [EventKind: Int] = [:]
    /// Events committed and waiting for the journal (paced, or not yet sent).
    public var eventsPending = 0
    /// Seconds since the oldest waiting event was committed (0 when none waits), as of the snapshot.
    public var oldestPendingEventAge = 0.0
    /// State-file writes that failed (the events were still sent).
    public var stateWriteErrors = 0
    /// Listed items that did not decode (each kept its connection as it was).
    public var unreadableItems = 0
    /// Journal sends that failed (the event went to stderr instead).
    public var journalSendErrors = 0
    /// Repeated API failures not reported again (one event per outage, not per failed poll).
    public var eventsSuppressed = 0
    /// Credential tests the daemon ran (after a rotation, or for a connection that turned UNAUTHORIZED), by
    /// ``CredentialVerification/result``: `valid`, `invalid`, `error`.
    public var credentialVerifications: [String: Int] = [:]
    /// Incidents open now (``IncidentDetector``).
    public var openIncidents = 0
    /// True once every organization was polled since start (`/-/ready`).
    public var ready = false
    /// The configured `poll.interval` (`leen_poll_interval_seconds`, for the "polls stale" alert).
    public var pollInterval: Duration?

    public init(startTime: Date, version: String) {
        self.startTime = startTime
        self.version = version
    }

    public struct PollKey: Hashable, Sendable {
        public var organization: OrganizationID
        public var result: String
        public init(organization: OrganizationID, result: String) {
            self.organization = organization
            self.result = result
        }
    }

    public struct RequestKey: Hashable, Sendable {
        public var operation: String
        public var code: String
        public init(operation: String, code: String) {
            self.operation = operation
            self.code = code
        }
    }
}

/// A cumulative histogram with fixed upper bounds (Prometheus `le` buckets; `+Inf` is implied).
public struct Histogram: Sendable, Hashable {
    public var upperBounds: [Double]
    /// Observations at or below each bound (cumulative), same length as ``upperBounds``.
    public var cumulativeCounts: [Int]
    public var sum = 0.0
    public var count = 0

    /// Buckets for poll durations, 5 ms to 60 s.
    public static let pollDurationBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    public init(upperBounds: [Double] = Histogram.pollDurationBounds) {
        self.upperBounds = upperBounds
        cumulativeCounts = Array(repeating: 0, count: upperBounds.count)
    }

    public mutating func observe(_ value: Double) {
        for index in upperBounds.indices where value <= upperBounds[index] { cumulativeCounts[index] += 1 }
        sum += value
        count += 1
    }
}
