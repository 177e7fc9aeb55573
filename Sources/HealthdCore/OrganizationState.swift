import Foundation
import LeenAPI

/// Whether the last polls of an organization worked.
public enum APIStatus: Codable, Hashable, Sendable {
    /// Not polled yet.
    case unknown
    case ok
    /// Polls fail (timeout, transport, 5xx, 429, malformed body) since this time.
    case unreachable(since: Date, reason: String)
    /// Leen refuses the key (401/403) since this time.
    case rejected(since: Date, reason: String)

    public var isOK: Bool { self == .ok }

    public var failingSince: Date? {
        switch self {
        case .unreachable(let since, _), .rejected(let since, _): since
        default: nil
        }
    }

    /// `ok`, `unreachable`, `rejected` or `unknown`.
    public var name: String {
        switch self {
        case .unknown: "unknown"
        case .ok: "ok"
        case .unreachable: "unreachable"
        case .rejected: "rejected"
        }
    }
}

/// The last known state of one monitored connection.
///
/// Its fields sit behind one immutable reference, replaced when a field changes. An organization's
/// connections are a dictionary, and a dictionary of 100 entries has 256 slots: with the fields inline
/// (304 bytes) that was 780 of the 900 bytes the state took per connection in a heap profile at 10k
/// connections. A slot is now 8 bytes, copies of a state (the metrics cache holds the last one while a poll
/// makes the next) copy references, and two values that share a box compare equal at once. Most
/// connections of most polls change nothing, so a change paying one allocation costs little.
public struct TrackedConnection: Codable, Hashable, Sendable {
    /// 175 bytes, so that a box takes the allocator's 192-byte class, not its 224-byte one (100,000 boxes
    /// at 100k connections): the observation's health shared (``ConnectionObservation``), the small fields
    /// last, after the 8-byte ones, and ``unlistedPolls`` (which counts to
    /// ``PollProcessor/unlistedPollsToDisappear``) kept clamped to 16 bits.
    struct Fields: Hashable, Sendable {
        var observation: ConnectionObservation
        var healthSince: Date
        var changedAt: Date
        var transitions: Int
        var alert: ConnectionAlertState
        var unlistedPolls: Int16
        var missing: Bool
    }

    final class Box: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box

    private var fields: Fields {
        get { box.fields }
        set { box = Box(newValue) }
    }

    /// Read in place (`_read`): a getter copied the whole observation, retaining each of its strings, for
    /// every field read through it (the flattening for /metrics reads five per connection).
    public var observation: ConnectionObservation {
        _read { yield box.fields.observation }
        set { fields.observation = newValue }
    }
    /// When the health (status, name or owner) last changed, or when first seen.
    public var healthSince: Date {
        get { box.fields.healthSince }
        set { fields.healthSince = newValue }
    }
    /// When anything last changed.
    public var changedAt: Date {
        get { box.fields.changedAt }
        set { fields.changedAt = newValue }
    }
    /// Not listed by the last successful poll.
    public var missing: Bool {
        get { box.fields.missing }
        set { fields.missing = newValue }
    }
    /// Health transitions seen since monitoring began.
    public var transitions: Int {
        get { box.fields.transitions }
        set { fields.transitions = newValue }
    }
    /// What the alerting rules remember (soft or hard, flapping, reminders); absent from older state files.
    public var alert: ConnectionAlertState {
        _read { yield box.fields.alert }
        set { fields.alert = newValue }
    }
    /// Complete listings in a row that did not list it (it is declared gone at
    /// ``PollProcessor/unlistedPollsToDisappear``); absent from older state files.
    public var unlistedPolls: Int {
        get { Int(box.fields.unlistedPolls) }
        set { fields.unlistedPolls = Int16(clamping: newValue) }
    }

    public init(
        observation: ConnectionObservation, healthSince: Date, changedAt: Date, missing: Bool = false,
        transitions: Int = 0, alert: ConnectionAlertState = ConnectionAlertState(), unlistedPolls: Int = 0
    ) {
        box = Box(
            Fields(
                observation: observation, healthSince: healthSince, changedAt: changedAt, transitions: transitions,
                alert: alert, unlistedPolls: Int16(clamping: unlistedPolls), missing: missing))
    }

    /// Whether the two hold the same box: then equal, without comparing a field.
    package func sharesFields(with other: TrackedConnection) -> Bool { box === other.box }

    /// What a connection's metric values are written from, beyond its times and counts.
    package struct MetricValues: Sendable {
        package var state: ConnectionState?
        package var failingDetails: Int
        package var oauthPending: Bool
        /// A health name and owner to write as reason labels.
        package var hasReason: Bool
        /// The alerting state's: a problem confirmed, flapping.
        package var confirmed: Bool
        package var flapping: Bool
    }

    /// What a connection's metric lines are written from: its label strings and ``MetricValues``.
    package struct MetricFields: Sendable {
        package var connectionID: String
        package var identifier: String
        package var vendor: String
        package var healthName: String?
        package var resolutionOwner: String?
        package var values: MetricValues
    }

    /// ``MetricValues``, read in one access to the box, retaining no string but the state's.
    package var metricValues: MetricValues {
        MetricValues(
            state: box.fields.observation.state, failingDetails: box.fields.observation.failingDetailCount,
            oauthPending: box.fields.observation.oauthPending, hasReason: box.fields.observation.healthStatus != nil,
            confirmed: box.fields.alert.isConfirmed, flapping: box.fields.alert.flappingSince != nil)
    }

    /// ``MetricFields``, read in one access to the box: from another module, each field read through
    /// ``observation`` copied the whole observation (its strings retained, then released) to take one
    /// field, four to eight times per connection flattened for `/metrics` (2–3% of the daemon's CPU at 100k
    /// connections, perf).
    package var metricFields: MetricFields {
        // Each field projected from the box's storage; a local copy of the observation would be the copy
        // this avoids.
        MetricFields(
            connectionID: box.fields.observation.connectionID.rawValue, identifier: box.fields.observation.identifier,
            vendor: box.fields.observation.vendor.rawValue, healthName: box.fields.observation.healthName?.rawValue,
            resolutionOwner: box.fields.observation.healthResolutionOwner?.rawValue, values: metricValues)
    }

    public static func == (a: TrackedConnection, b: TrackedConnection) -> Bool {
        a.box === b.box || a.box.fields == b.box.fields
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(box.fields) }

    enum CodingKeys: String, CodingKey {
        case observation, healthSince, changedAt, missing, transitions, alert, unlistedPolls
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let fields = box.fields
        try container.encode(fields.observation, forKey: .observation)
        try container.encode(fields.healthSince, forKey: .healthSince)
        try container.encode(fields.changedAt, forKey: .changedAt)
        try container.encode(fields.missing, forKey: .missing)
        try container.encode(fields.transitions, forKey: .transitions)
        try container.encode(fields.alert, forKey: .alert)
        try container.encode(fields.unlistedPolls, forKey: .unlistedPolls)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let observation = try container.decode(ConnectionObservation.self, forKey: .observation)
        let healthSince = try container.decode(Date.self, forKey: .healthSince)
        let changedAt = try container.decode(Date.self, forKey: .changedAt)
        let missing = try container.decode(Bool.self, forKey: .missing)
        let transitions = try container.decode(Int.self, forKey: .transitions)
        let unlistedPolls = try container.decodeIfPresent(Int.self, forKey: .unlistedPolls) ?? 0
        var alert: ConnectionAlertState
        if let decoded = try container.decodeIfPresent(ConnectionAlertState.self, forKey: .alert) {
            alert = decoded
        } else {
            // Written before the alerting rules, whose daemon paged every UNHEALTHY change at once: an open
            // problem counts as confirmed since its health last changed, so an upgrade does not page it again.
            alert = ConnectionAlertState()
            let effective = EffectiveStatus(observation, missing: missing, organizationStale: false)
            if effective == .unhealthy, observation.state != .deleted {
                alert.unhealthySince = healthSince
                alert.unhealthyPolls = 1
                alert.confirmedAt = healthSince
            }
        }
        self.init(
            observation: observation, healthSince: healthSince, changedAt: changedAt, missing: missing,
            transitions: transitions, alert: alert, unlistedPolls: unlistedPolls)
    }
}

/// Everything leen-healthd knows about one organization between polls; persisted in the state file.
public struct OrganizationState: Codable, Hashable, Sendable {
    public var api: APIStatus = .unknown
    public var lastSuccessfulPoll: Date?
    public var lastAttempt: Date?
    public var consecutiveFailures = 0
    /// Monitored connections by identifier.
    public var connections: [String: TrackedConnection] = [:]
    /// When the failing API was confirmed (``Configuration/APIRule``); nil while it answers or is not yet
    /// confirmed. Optional, so older state files decode.
    public var apiConfirmedAt: Date?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case api, lastSuccessfulPoll, lastAttempt, consecutiveFailures, connections, apiConfirmedAt
    }

    /// Connection health is *unknown* (stale) while the API is not answering: a failed poll says nothing
    /// about the connections.
    public var isStale: Bool { !api.isOK }

    /// True when the two differ at most in when polls ran: the state file need not be rewritten, since a
    /// restart that finds older poll times polls again first.
    public func differsOnlyInPollTimes(from other: OrganizationState) -> Bool {
        var same = self
        same.lastSuccessfulPoll = other.lastSuccessfulPoll
        same.lastAttempt = other.lastAttempt
        return same == other
    }
}
