import Foundation

/// One metric family: its name, type, unit, help and labels, and its header lines in both formats.
public struct MetricFamily: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case gauge, counter, histogram, summary, info
    }

    /// The name the samples carry: with `_total` for a counter and `_info` for an info metric; the base of
    /// `_bucket`/`_sum`/`_count` for a histogram or summary.
    public let name: String
    public let kind: Kind
    public let help: String
    /// `seconds` or `bytes` when the name ends with it (OpenMetrics `# UNIT`).
    public let unit: String?
    /// Label names in the order they are written (a histogram's `le` excluded).
    public let labels: [String]

    init(_ name: String, _ kind: Kind, labels: [String] = [], unit: String? = nil, help: String) {
        self.name = name
        self.kind = kind
        self.labels = labels
        self.unit = unit
        self.help = help
    }

    /// The family name in OpenMetrics: a counter's without `_total`, an info metric's without `_info`.
    public var openMetricsName: String {
        switch kind {
        case .counter where name.hasSuffix("_total"): String(name.dropLast("_total".count))
        case .info where name.hasSuffix("_info"): String(name.dropLast("_info".count))
        default: name
        }
    }

    /// `# HELP` and `# TYPE` (text 0.0.4), or `# TYPE`, `# UNIT` and `# HELP` (OpenMetrics).
    func header(_ format: ExpositionFormat) -> String {
        switch format {
        case .text:
            let type = kind == .info ? "gauge" : kind.rawValue
            return "# HELP \(name) \(Self.escapeHelp(help, quotes: false))\n# TYPE \(name) \(type)\n"
        case .openMetrics:
            let family = openMetricsName
            let unitLine = unit.map { "# UNIT \(family) \($0)\n" } ?? ""
            return "# TYPE \(family) \(kind.rawValue)\n\(unitLine)# HELP \(family) \(Self.escapeHelp(help, quotes: true))\n"
        }
    }

    static func escapeHelp(_ help: String, quotes: Bool) -> String {
        var escaped = help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
        if quotes { escaped = escaped.replacingOccurrences(of: "\"", with: "\\\"") }
        return escaped
    }
}

extension MetricFamily {
    /// The labels of every per-connection family, in this order. Never `details`, never `owner`.
    public static let connectionLabels = ["organization_id", "connection_id", "identifier", "vendor"]

    // MARK: Per connection (rendered from the snapshot on every scrape)

    public static let connectionHealthy = MetricFamily(
        "leen_connection_healthy", .gauge, labels: connectionLabels,
        help: "1 when the last poll saw the connection HEALTHY and its organization's API answers, else 0. "
            + "Values are the daemon's state after its last poll, not fetched at scrape time.")
    public static let connectionStatus = MetricFamily(
        "leen_connection_status", .gauge, labels: connectionLabels + ["status"],
        help: "Health status, one-hot over HEALTHY, UNHEALTHY and UNKNOWN "
            + "(UNKNOWN: the organization's API is failing, no health yet, or a status this build does not know).")
    public static let connectionReason = MetricFamily(
        "leen_connection_reason", .gauge, labels: connectionLabels + ["health_name", "resolution_owner"],
        help: "Last known health name and who must act (LEEN, VENDOR or CUSTOMER); always 1, "
            + "absent before the connection's first job.")
    public static let connectionState = MetricFamily(
        "leen_connection_state", .gauge, labels: connectionLabels + ["state"],
        help: "Connection state, one-hot over PENDING, ACTIVE, PAUSED and DELETED "
            + "(plus UNKNOWN when Leen sent no state or one this build does not know).")
    public static let connectionFailingDetails = MetricFamily(
        "leen_connection_failing_details", .gauge, labels: connectionLabels,
        help: "Failing endpoint and export-type entries in the connection's last known health details.")
    public static let connectionOAuthPending = MetricFamily(
        "leen_connection_oauth_pending", .gauge, labels: connectionLabels,
        help: "1 while an OAuth connection waits for an administrator to open its authorisation URL, else 0.")
    public static let connectionTransitions = MetricFamily(
        "leen_connection_health_transitions_total", .counter, labels: connectionLabels,
        help: "Health changes (status, name or resolution owner) seen since monitoring of the connection began.")
    public static let connectionHealthChange = MetricFamily(
        "leen_connection_health_change_timestamp_seconds", .gauge, labels: connectionLabels, unit: "seconds",
        help: "When the connection's health (status, name or resolution owner) last changed, or was first seen.")
    public static let connectionLastChange = MetricFamily(
        "leen_connection_last_change_timestamp_seconds", .gauge, labels: connectionLabels, unit: "seconds",
        help: "When anything about the connection last changed (health, details, state, OAuth, presence).")

    public static let connectionUnhealthyConfirmed = MetricFamily(
        "leen_connection_unhealthy_confirmed", .gauge, labels: connectionLabels,
        help: "1 while the connection is UNHEALTHY and its problem is confirmed (hard) by the alerting rules, "
            + "else 0 (healthy, soft, unknown or paused). Alert on this, not on leen_connection_status.")
    public static let connectionFlapping = MetricFamily(
        "leen_connection_flapping", .gauge, labels: connectionLabels,
        help: "1 while the connection's status changes too often (alerting.flapping), else 0.")

    // MARK: Per organization and API

    public static let apiUp = MetricFamily(
        "leen_api_up", .gauge, labels: ["organization_id"],
        help: "1 when the last poll of the organization succeeded, 0 while polls fail or before the first poll.")
    public static let apiDownConfirmed = MetricFamily(
        "leen_api_down_confirmed", .gauge, labels: ["organization_id"],
        help: "1 while failing polls of the organization are confirmed by alerting.api (so many in a row, or so "
            + "long; a rejected key at once), else 0.")
    public static let pollLastSuccess = MetricFamily(
        "leen_poll_last_success_timestamp_seconds", .gauge, labels: ["organization_id"], unit: "seconds",
        help: "When the organization was last polled successfully (absent until the first success).")
    public static let polls = MetricFamily(
        "leen_polls_total", .counter, labels: ["organization_id"],
        help: "Polls of the organization (all pages of its connections), successful or not.")
    public static let pollFailures = MetricFamily(
        "leen_poll_failures_total", .counter, labels: ["organization_id", "reason"],
        help: "Failed polls of the organization by reason (timeout, transport, server, rateLimited, "
            + "malformedResponse, incompleteListing, unauthorized, forbidden, ...).")
    public static let pollDuration = MetricFamily(
        "leen_poll_duration_seconds", .histogram, labels: ["organization_id"], unit: "seconds",
        help: "Duration of one poll of an organization, all pages and retries included.")
    public static let pollInterval = MetricFamily(
        "leen_poll_interval_seconds", .gauge, unit: "seconds",
        help: "The configured time between two polls of an organization (poll.interval).")
    public static let apiRequests = MetricFamily(
        "leen_api_requests_total", .counter, labels: ["operation", "code"],
        help: "HTTP requests to the Leen API by operation and status code "
            + "(or the error kind, such as timeout, when no response came). Every attempt counts.")
    public static let apiRetries = MetricFamily(
        "leen_api_retries_total", .counter, labels: ["operation"],
        help: "Requests to the Leen API that were retried, by operation.")
    public static let apiRetryAfter = MetricFamily(
        "leen_api_retry_after_wait_seconds", .summary, unit: "seconds",
        help: "Waits that honoured a Retry-After header from Leen: their count and total seconds.")

    // MARK: Daemon

    public static let buildInfo = MetricFamily(
        "leen_build_info", .info, labels: ["version", "swift_version"],
        help: "leen-healthd's version and the Swift version it was built with; always 1.")
    /// Only on a sharded instance (`--shard`, `shard:`); its `shard` label is on every sample.
    public static let shardInfo = MetricFamily(
        "leen_shard_info", .info, labels: ["shard", "shards"],
        help: "This instance's shard and the number of shards sharing its configuration; always 1. Only when sharded.")
    public static let configReloadSuccessful = MetricFamily(
        "leen_config_last_reload_successful", .gauge,
        help: "1 when the last configuration (re)load succeeded, 0 when it was refused.")
    public static let configReloadSuccessTime = MetricFamily(
        "leen_config_last_reload_success_timestamp_seconds", .gauge, unit: "seconds",
        help: "When the configuration was last loaded successfully (at start, or by a reload).")
    public static let configReloads = MetricFamily(
        "leen_config_reloads_total", .counter,
        help: "Configuration reloads attempted (SIGHUP), successful or not.")
    public static let configReloadFailures = MetricFamily(
        "leen_config_reload_failures_total", .counter,
        help: "Configuration reloads refused; the previous configuration stayed in force.")
    public static let webConfigReloadSuccessful = MetricFamily(
        "leen_web_config_last_reload_successful", .gauge,
        help: "0 when the last change of the web configuration file was refused (the previous one serves), else 1.")
    public static let webConfigReloadFailures = MetricFamily(
        "leen_web_config_reload_failures_total", .counter,
        help: "Changes of the web configuration file (or its TLS files) refused; the previous one stayed in force.")
    public static let events = MetricFamily(
        "leen_events_total", .counter, labels: ["event"],
        help: "Events written (journal, or stderr without a journal) by event type (LEEN_EVENT).")
    public static let eventsPending = MetricFamily(
        "leen_events_pending", .gauge,
        help: "Events committed to the state directory and not yet written to the journal (paced, or waiting).")
    public static let eventsOldestPendingAge = MetricFamily(
        "leen_events_oldest_pending_age_seconds", .gauge, unit: "seconds",
        help: "Age of the oldest event waiting for the journal; 0 when none waits.")
    public static let stateWriteErrors = MetricFamily(
        "leen_state_write_errors_total", .counter,
        help: "State-file writes that failed (the daemon logs why; the events were still written).")
    public static let unreadableItems = MetricFamily(
        "leen_list_items_unreadable_total", .counter,
        help: "Listed items that did not decode; each connection among them kept its last known state (logged).")
    public static let journalSendErrors = MetricFamily(
        "leen_journal_send_errors_total", .counter,
        help: "Journal sends that failed; the event was written to stderr instead.")
    public static let incidentsOpen = MetricFamily(
        "leen_incidents_open", .gauge,
        help: "Incidents open now: many connections that turned UNHEALTHY the same way at once (alerting.incidents).")
    public static let eventsSuppressed = MetricFamily(
        "leen_events_suppressed_total", .counter,
        help: "Failed polls not reported again because their outage was already reported by one event.")

    public static let credentialVerifications = MetricFamily(
        "leen_credential_verifications_total", .counter, labels: ["result"],
        help: "Credential tests run by the daemon (after a rotation, or when a connection turned UNAUTHORIZED) by result: valid, invalid, error.")

    // MARK: Process (read from /proc/self at scrape time)

    public static let processCPU = MetricFamily(
        "process_cpu_seconds_total", .counter, unit: "seconds", help: "Total user and system CPU time spent in seconds.")
    public static let processResident = MetricFamily(
        "process_resident_memory_bytes", .gauge, unit: "bytes", help: "Resident memory size in bytes.")
    public static let processVirtual = MetricFamily(
        "process_virtual_memory_bytes", .gauge, unit: "bytes", help: "Virtual memory size in bytes.")
    public static let processOpenFDs = MetricFamily(
        "process_open_fds", .gauge, help: "Number of open file descriptors.")
    public static let processMaxFDs = MetricFamily(
        "process_max_fds", .gauge, help: "Maximum number of open file descriptors.")
    public static let processStartTime = MetricFamily(
        "process_start_time_seconds", .gauge, unit: "seconds",
        help: "Start time of the process since unix epoch in seconds.")

    /// Every family `/metrics` can contain, in the order they are written.
    public static let all: [MetricFamily] = [
        connectionHealthy, connectionStatus, connectionReason, connectionState, connectionFailingDetails,
        connectionOAuthPending, connectionTransitions, connectionHealthChange, connectionLastChange,
        connectionUnhealthyConfirmed, connectionFlapping, apiUp, apiDownConfirmed, pollLastSuccess, polls, pollFailures, pollDuration, pollInterval, apiRequests, apiRetries,
        apiRetryAfter, buildInfo, shardInfo, configReloadSuccessful, configReloadSuccessTime, configReloads,
        configReloadFailures, webConfigReloadSuccessful, webConfigReloadFailures, events, eventsPending,
        eventsOldestPendingAge, stateWriteErrors, unreadableItems, journalSendErrors,
        eventsSuppressed, incidentsOpen, credentialVerifications, processCPU, processResident,
        processVirtual, processOpenFDs, processMaxFDs, processStartTime,
    ]
}
