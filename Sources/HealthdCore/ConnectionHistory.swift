import Foundation

/// One leen-healthd event from the journal, reduced to what a connection's history needs.
public struct HistoryRecord: Sendable, Hashable {
    public var event: String
    public var eventID: String?
    /// `LEEN_OBSERVED_AT`, else the entry's realtime: when the change was seen, not when it was written (an
    /// event replayed after a crash, or paced, lands later).
    public var time: Date
    public var organizationID: String?
    public var connectionID: String?
    public var identifier: String?
    public var vendor: String?
    public var effectiveStatus: String?
    public var healthName: String?
    public var resolutionOwner: String?
    public var previousStatus: String?
    public var previousHealthName: String?
    public var previousResolutionOwner: String?
    public var previousState: String?
    public var confirmed: Bool?
    public var unhealthySince: Date?
    public var incidentID: String?
    public var incidentDimension: String?
    public var incidentValue: String?
    /// The organizations `incident_started` counts (`LEEN_BY_ORGANIZATION`'s keys).
    public var incidentOrganizations: [String]

    public init(
        event: String, eventID: String? = nil, time: Date, organizationID: String? = nil, connectionID: String? = nil,
        identifier: String? = nil, vendor: String? = nil, effectiveStatus: String? = nil, healthName: String? = nil,
        resolutionOwner: String? = nil, previousStatus: String? = nil, previousHealthName: String? = nil,
        previousResolutionOwner: String? = nil, previousState: String? = nil, confirmed: Bool? = nil,
        unhealthySince: Date? = nil, incidentID: String? = nil, incidentDimension: String? = nil,
        incidentValue: String? = nil, incidentOrganizations: [String] = []
    ) {
        self.event = event
        self.eventID = eventID
        self.time = time
        self.organizationID = organizationID
        self.connectionID = connectionID
        self.identifier = identifier
        self.vendor = vendor
        self.effectiveStatus = effectiveStatus
        self.healthName = healthName
        self.resolutionOwner = resolutionOwner
        self.previousStatus = previousStatus
        self.previousHealthName = previousHealthName
        self.previousResolutionOwner = previousResolutionOwner
        self.previousState = previousState
        self.confirmed = confirmed
        self.unhealthySince = unhealthySince
        self.incidentID = incidentID
        self.incidentDimension = incidentDimension
        self.incidentValue = incidentValue
        self.incidentOrganizations = incidentOrganizations
    }

    /// The journal's receive time, in microseconds since the epoch, as the reader passes it.
    public static let realtimeField = "__REALTIME_TIMESTAMP"

    /// The fields ``init(fields:)`` reads: what a journal reader needs to fetch.
    public static let fieldNames = [
        "LEEN_EVENT", "LEEN_EVENT_ID", "LEEN_OBSERVED_AT", "LEEN_ORGANIZATION_ID", "LEEN_CONNECTION_ID",
        "LEEN_IDENTIFIER", "LEEN_VENDOR", "LEEN_EFFECTIVE_STATUS", "LEEN_HEALTH_NAME", "LEEN_RESOLUTION_OWNER",
        "LEEN_PREVIOUS_STATUS", "LEEN_PREVIOUS_HEALTH_NAME", "LEEN_PREVIOUS_RESOLUTION_OWNER", "LEEN_PREVIOUS_STATE",
        "LEEN_CONFIRMED", "LEEN_UNHEALTHY_SINCE", "LEEN_INCIDENT_ID", "LEEN_INCIDENT_DIMENSION",
        "LEEN_INCIDENT_VALUE", "LEEN_BY_ORGANIZATION",
    ]

    /// A journal entry's fields; nil for entries that are not events (diagnostics, barrier markers) or have
    /// no usable time.
    public init?(fields: [String: String]) {
        guard let event = fields["LEEN_EVENT"] else { return nil }
        let realtime = fields[Self.realtimeField].flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1e6) }
        guard let time = fields["LEEN_OBSERVED_AT"].flatMap(HistoryTime.iso8601) ?? realtime else { return nil }
        var organizations: [String] = []
        if let counts = fields["LEEN_BY_ORGANIZATION"],
            let object = try? JSONSerialization.jsonObject(with: Data(counts.utf8)) as? [String: Any]
        {
            organizations = object.keys.sorted()
        }
        self.init(
            event: event, eventID: fields["LEEN_EVENT_ID"], time: time, organizationID: fields["LEEN_ORGANIZATION_ID"],
            connectionID: fields["LEEN_CONNECTION_ID"], identifier: fields["LEEN_IDENTIFIER"],
            vendor: fields["LEEN_VENDOR"], effectiveStatus: fields["LEEN_EFFECTIVE_STATUS"],
            healthName: fields["LEEN_HEALTH_NAME"], resolutionOwner: fields["LEEN_RESOLUTION_OWNER"],
            previousStatus: fields["LEEN_PREVIOUS_STATUS"], previousHealthName: fields["LEEN_PREVIOUS_HEALTH_NAME"],
            previousResolutionOwner: fields["LEEN_PREVIOUS_RESOLUTION_OWNER"],
            previousState: fields["LEEN_PREVIOUS_STATE"], confirmed: fields["LEEN_CONFIRMED"].map { $0 == "true" },
            unhealthySince: fields["LEEN_UNHEALTHY_SINCE"].flatMap(HistoryTime.iso8601),
            incidentID: fields["LEEN_INCIDENT_ID"], incidentDimension: fields["LEEN_INCIDENT_DIMENSION"],
            incidentValue: fields["LEEN_INCIDENT_VALUE"], incidentOrganizations: organizations)
    }
}

/// `--since` / `--until` values: ISO 8601, `now`, or relative to now (`-24h`, `-7d`, `-1d12h`, `+30m`).
public enum HistoryTime {
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var text: String
        public var description: String {
            "'\(text)' is not a time: use ISO 8601 (2026-11-30T12:00:00Z, 2026-11-30), now, or -24h, -7d, -90m, -1d12h"
        }
    }

    public static func parse(_ text: String, now: Date) throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "now" { return now }
        if let sign = trimmed.first, sign == "-" || sign == "+" {
            guard let seconds = relativeSeconds(trimmed.dropFirst()) else { throw Invalid(text: text) }
            return now.addingTimeInterval(sign == "-" ? -seconds : seconds)
        }
        guard let date = iso8601(trimmed) else { throw Invalid(text: text) }
        return date
    }

    /// `1d12h` in seconds: number-unit pairs with units s, m, h, d, w.
    static func relativeSeconds(_ text: Substring) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        var total = 0.0
        var number = ""
        for character in text {
            if character.isASCII, character.isNumber {
                number.append(character)
            } else if let unit = units[character], let value = Double(number) {
                total += value * unit
                number = ""
            } else {
                return nil
            }
        }
        return number.isEmpty && !text.isEmpty ? total : nil
    }

    /// ISO 8601 with or without fractional seconds and with a zone (`Z` or an offset), a space instead of the
    /// `T`, a time without a zone (UTC), or a date alone (midnight UTC).
    public static func iso8601(_ text: String) -> Date? {
        if let date = try? eventFormat.parse(text) { return date }
        var text = text.replacingOccurrences(of: " ", with: "T")
        if text.count == 10 { text += "T00:00:00Z" }
        if text.count >= 19, !text.hasSuffix("Z"), !text.dropFirst(19).contains(where: { $0 == "+" || $0 == "-" }) {
            text += "Z"
        }
        // A formatter per call: ISO8601DateFormatter is not Sendable; the events' own times took the fast path.
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime],
        ] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// `2026-11-30T12:00:00.000Z`, as the events write times.
    public static func format(_ date: Date) -> String { date.formatted(eventFormat) }

    /// The events' format. Tried first when parsing: a whole journal's times are read.
    static let eventFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// A window of time: `[start, end]`.
public struct HistoryWindow: Sendable, Hashable {
    public var start: Date
    public var end: Date

    public init(start: Date, end: Date) {
        self.start = start
        self.end = end
    }

    public var duration: TimeInterval { max(0, end.timeIntervalSince(start)) }
}

/// Timelines, time per status and owner, availability and open problems over a window, from journal events.
/// Pure: the records and the window are given.
///
/// Each connection counts, at every instant, as the effective status of its last event, except:
/// - before its first known status, and after it stops being tracked (`connection_untracked`,
///   `organization_untracked`), it is UNKNOWN;
/// - while its organization's polls fail (`api_unreachable`/`api_rejected` until `api_recovered`) it is
///   UNKNOWN, unless MISSING;
/// - while the daemon was not running, its last status carries on (a restart reports what changed meanwhile).
/// The status at the window's start is the last event before it; when no earlier event was read (the journal
/// was vacuumed), the first event's `LEEN_PREVIOUS_*` fields, or the status of an event that does not change
/// it (a confirmation, a reminder), say what held since the start.
public struct HistoryReport: Sendable, Hashable {
    public var window: HistoryWindow
    public var connections: [ConnectionHistory]
    /// Incidents open at the window's end that concern the reported connections (all, when asked).
    public var openIncidents: [Incident]
    /// Copies of events already read (same `LEEN_EVENT_ID`), dropped.
    public var duplicates: Int

    public struct Incident: Sendable, Hashable {
        public var id: String
        public var startedAt: Date
        public var dimension: String?
        public var value: String?
        public var organizations: [String]
    }

    /// The summed times of every reported connection.
    public var totals: HistoryDurations {
        connections.reduce(into: HistoryDurations()) { total, connection in
            for (status, seconds) in connection.durations.byStatus { total.byStatus[status, default: 0] += seconds }
            for (owner, seconds) in connection.durations.unhealthyByOwner {
                total.unhealthyByOwner[owner, default: 0] += seconds
            }
        }
    }

    /// - Parameter allIncidents: report every incident open at the window's end, not only those that name a
    ///   reported connection or organization (the history of every connection).
    public init(records: [HistoryRecord], window: HistoryWindow, allIncidents: Bool = false) {
        self.window = window
        var seen: Set<String> = []
        var unique: [HistoryRecord] = []
        var duplicates = 0
        for record in records {
            if let id = record.eventID, !seen.insert(id).inserted {
                duplicates += 1
                continue
            }
            unique.append(record)
        }
        self.duplicates = duplicates
        // Stable: events of one poll share a time and keep the order they were written in.
        let ordered = unique.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
            .map(\.element)

        var byConnection: [String: [HistoryRecord]] = [:]
        var keys: [String] = []
        var organizationEvents: [String: [HistoryRecord]] = [:]
        var started: [String: HistoryRecord] = [:]
        var resolved: [String: Date] = [:]
        for record in ordered {
            switch record.event {
            case "incident_started": started[record.incidentID ?? ""] = record
            case "incident_resolved": if let id = record.incidentID, record.time <= window.end { resolved[id] = record.time }
            default:
                if let identifier = record.identifier {
                    let key = "\(record.organizationID ?? "")\u{0}\(identifier)"
                    if byConnection[key] == nil { keys.append(key) }
                    byConnection[key, default: []].append(record)
                } else if let organization = record.organizationID, Self.organizationEvents.contains(record.event) {
                    organizationEvents[organization, default: []].append(record)
                }
            }
        }
        var openByID: [String: Incident] = [:]
        for (id, record) in started where record.time <= window.end && resolved[id] == nil {
            openByID[id] = Incident(
                id: id, startedAt: record.time, dimension: record.incidentDimension, value: record.incidentValue,
                organizations: record.incidentOrganizations)
        }
        let connections = keys.sorted().map { key in
            let records = byConnection[key]!
            return ConnectionHistory(
                records: records, organizationEvents: organizationEvents[records[0].organizationID ?? ""] ?? [],
                window: window, openIncidents: Set(openByID.keys))
        }
        self.connections = connections
        let named = Set(connections.compactMap(\.openIncidentID))
        let organizations = Set(connections.compactMap(\.organizationID))
        openIncidents = openByID.values.filter {
            allIncidents || named.contains($0.id) || !organizations.isDisjoint(with: $0.organizations)
        }.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
    }

    /// Events about an organization that change what its connections count as.
    static let organizationEvents: Set<String> = ["api_unreachable", "api_rejected", "api_recovered", "organization_untracked"]
}

/// Seconds spent in each effective status, and unhealthy seconds by resolution owner.
public struct HistoryDurations: Sendable, Hashable {
    public var byStatus: [String: TimeInterval] = [:]
    public var unhealthyByOwner: [String: TimeInterval] = [:]

    public init() {}

    /// Healthy time out of the time with a known health (HEALTHY or UNHEALTHY), in percent; nil when there
    /// was none. UNKNOWN, PAUSED, OAUTH_PENDING and MISSING time count neither way.
    public var availability: Double? {
        let healthy = byStatus["HEALTHY", default: 0]
        let known = healthy + byStatus["UNHEALTHY", default: 0]
        return known > 0 ? healthy / known * 100 : nil
    }
}

/// One connection over the window.
public struct ConnectionHistory: Sendable, Hashable {
    public var organizationID: String?
    public var connectionID: String?
    public var identifier: String
    public var vendor: String?
    /// What the connection counted as at the window's start.
    public var atStart: Status
    public var timeline: [Transition]
    public var durations: HistoryDurations
    /// The connection is UNHEALTHY at the window's end.
    public var openProblem: Problem?
    /// An incident open at the window's end that the connection's events belong to.
    public var openIncidentID: String?

    public struct Status: Sendable, Hashable {
        public var effectiveStatus: String
        public var healthName: String?
        public var resolutionOwner: String?

        public init(_ effectiveStatus: String, healthName: String? = nil, resolutionOwner: String? = nil) {
            self.effectiveStatus = effectiveStatus
            self.healthName = healthName
            self.resolutionOwner = resolutionOwner
        }

        static let unknown = Status("UNKNOWN")
    }

    public struct Transition: Sendable, Hashable {
        public var time: Date
        public var event: String
        public var eventID: String?
        /// What the connection counts as after the event (an API failure makes it UNKNOWN).
        public var effectiveStatus: String
        /// The event's own health name and owner, when it has them.
        public var healthName: String?
        public var resolutionOwner: String?
        public var incidentID: String?
    }

    public struct Problem: Sendable, Hashable {
        /// When the connection became UNHEALTHY; nil when that was before the earliest event read.
        public var since: Date?
        public var healthName: String?
        public var resolutionOwner: String?
        public var confirmed: Bool?
    }

    /// Events that restate the connection's status without changing it.
    static let restating: Set<String> = [
        "connection_unhealthy_confirmed", "connection_still_unhealthy", "connection_flapping",
        "connection_flapping_ended", "connection_details_changed", "connection_untracked",
    ]

    init(records: [HistoryRecord], organizationEvents: [HistoryRecord], window: HistoryWindow, openIncidents: Set<String>) {
        organizationID = records.lazy.compactMap(\.organizationID).first
        connectionID = records.lazy.compactMap(\.connectionID).last
        identifier = records[0].identifier ?? ""
        vendor = records.lazy.compactMap(\.vendor).last

        var own: Status?  // from the connection's last event with a status
        var tracked = true
        var stale = false
        var problemSince: Date?
        var confirmed: Bool?
        var incident: String?
        func counted() -> Status {
            guard let own, tracked else { return .unknown }
            return stale && own.effectiveStatus != "MISSING" ? .unknown : own
        }
        func apply(_ record: HistoryRecord) {
            if record.identifier == nil {
                switch record.event {
                case "api_recovered": stale = false
                case "organization_untracked": tracked = false
                default: stale = true
                }
                return
            }
            if let id = record.incidentID { incident = id }
            if record.event == "connection_untracked" { tracked = false }
            guard let status = record.effectiveStatus else { return }
            if record.event != "connection_untracked" { tracked = true }
            let wasUnhealthy = own?.effectiveStatus == "UNHEALTHY"
            own = Status(status, healthName: record.healthName, resolutionOwner: record.resolutionOwner)
            if status == "UNHEALTHY" {
                if let since = record.unhealthySince {
                    problemSince = since
                } else if !wasUnhealthy {
                    problemSince = record.time
                }
                if let value = record.confirmed { confirmed = value }
            } else {
                problemSince = nil
                confirmed = nil
            }
        }

        let events = (records + organizationEvents).enumerated().sorted {
            ($0.element.time, $0.offset) < ($1.element.time, $1.offset)
        }.map(\.element)
        for record in events where record.time < window.start { apply(record) }
        if own == nil, let first = records.first(where: { $0.time >= window.start && $0.time <= window.end }) {
            own = Self.before(first)
            if own?.effectiveStatus == "UNHEALTHY" {
                problemSince = first.unhealthySince
                confirmed = Self.restating.contains(first.event) ? first.confirmed : nil
            }
        }
        atStart = counted()

        var durations = HistoryDurations()
        var cursor = window.start
        func account(until time: Date) {
            let seconds = time.timeIntervalSince(cursor)
            guard seconds > 0 else { return }
            let status = counted()
            durations.byStatus[status.effectiveStatus, default: 0] += seconds
            if status.effectiveStatus == "UNHEALTHY" {
                durations.unhealthyByOwner[status.resolutionOwner ?? "UNKNOWN", default: 0] += seconds
            }
            cursor = time
        }
        var timeline: [Transition] = []
        for record in events where record.time >= window.start && record.time <= window.end {
            account(until: record.time)
            apply(record)
            timeline.append(
                Transition(
                    time: record.time, event: record.event, eventID: record.eventID,
                    effectiveStatus: counted().effectiveStatus, healthName: record.healthName,
                    resolutionOwner: record.resolutionOwner, incidentID: record.incidentID))
        }
        account(until: window.end)
        self.timeline = timeline
        self.durations = durations
        if let own, tracked, own.effectiveStatus == "UNHEALTHY" {
            openProblem = Problem(
                since: problemSince, healthName: own.healthName, resolutionOwner: own.resolutionOwner,
                confirmed: confirmed)
        }
        openIncidentID = incident.flatMap { openIncidents.contains($0) ? $0 : nil }
    }

    /// What held before `record` when nothing earlier was read: its `LEEN_PREVIOUS_*` fields, or its own
    /// status for an event that does not change it; nil (unknown) for a first observation.
    static func before(_ record: HistoryRecord) -> Status? {
        if restating.contains(record.event), let status = record.effectiveStatus {
            return Status(status, healthName: record.healthName, resolutionOwner: record.resolutionOwner)
        }
        if record.previousState == "PAUSED" { return Status("PAUSED") }
        switch record.previousStatus {
        case "HEALTHY"?, "UNHEALTHY"?:
            return Status(
                record.previousStatus!, healthName: record.previousHealthName,
                resolutionOwner: record.previousResolutionOwner)
        case nil: return nil
        default: return .unknown
        }
    }
}
