import Foundation
import LeenAPI

/// Where and when events are made: the organization's label for messages and the observation time.
/// Ids are not made here: ``EventStream/stamp(_:)`` gives them when the events are committed.
public struct EventContext: Sendable {
    public var organizationLabel: String
    public var observedAt: Date

    public init(organizationLabel: String, observedAt: Date) {
        self.organizationLabel = organizationLabel
        self.observedAt = observedAt
    }
}

/// Turns changes into journal events. Pure: no clock, no I/O.
///
/// Coalescing rules: a status, name or owner change in one poll is *one* health event (recovered,
/// unhealthy, reason changed or owner changed, in that order of precedence) that also carries any detail
/// changes; detail changes alone are a details event; state, OAuth and appearance changes each get their own.
public enum EventBuilder {
    /// Detail lists in a field are cut to this many bytes of JSON (the `_COUNT` field keeps the full count).
    public static let detailsByteLimit = 2048

    public static func connectionEvents(
        changes: [ConnectionChange], previous: ConnectionObservation?, current: ConnectionObservation?,
        context: EventContext
    ) -> [HealthEvent] {
        // Every event below stems from a change; without one, not even the label is made (most polls).
        guard !changes.isEmpty, let subject = current ?? previous else { return [] }
        var events: [HealthEvent] = []
        let label = "\(subject.identifier) (\(subject.vendor), \(context.organizationLabel))"
        func event(_ kind: EventKind, _ priority: EventPriority, _ message: String, extra: [EventField] = [])
            -> HealthEvent
        {
            HealthEvent(
                kind: kind, priority: priority, message: message,
                fields: common(kind, subject: subject, previous: previous, current: current, context: context) + extra)
        }

        if changes.contains(.firstSeen), let current {
            events.append(
                event(
                    .connectionMonitored, priority(for: current.health, quiet: .info),
                    "\(label) is now monitored: \(describe(current))"))
        }
        if changes.contains(.disappeared) {
            events.append(
                event(
                    .connectionDisappeared, .warning,
                    "\(label) is no longer listed by Leen (last seen \(describe(subject)))"))
        }
        if changes.contains(.reappeared), let current {
            events.append(event(.connectionReappeared, .notice, "\(label) is listed again: \(describe(current))"))
        }

        var detailFields: [EventField] = []
        var detailsChanged = false
        for case .details(let added, let removed) in changes {
            detailsChanged = true
            detailFields = detailsFields("LEEN_DETAILS_ADDED", added) + detailsFields("LEEN_DETAILS_REMOVED", removed)
        }
        let healthChange = changes.first {
            switch $0 {
            case .status, .name, .resolutionOwner: true
            default: false
            }
        }
        if healthChange != nil, !changes.contains(.firstSeen), let current {
            let before = previous?.health
            let after = current.health
            let was = before.map { " (was \(describe($0)))" } ?? ""
            if after?.status == .healthy, before?.status != .healthy {
                let text = before == nil ? "reports its first health result: HEALTHY" : "recovered: HEALTHY\(was)"
                events.append(event(.connectionRecovered, .notice, "\(label) \(text)", extra: detailFields))
            } else if after == nil {
                events.append(
                    event(
                        .connectionReasonChanged, .notice, "\(label) no longer reports a health result\(was)",
                        extra: detailFields))
            } else if before?.status != after?.status {
                events.append(
                    event(
                        .connectionUnhealthy, priority(for: after, quiet: .warning),
                        "\(label) became \(describe(after))\(advice(after))\(was)", extra: detailFields))
            } else if before?.name != after?.name {
                events.append(
                    event(
                        .connectionReasonChanged, priority(for: after, quiet: .notice),
                        "\(label) is now \(describe(after))\(advice(after))\(was)", extra: detailFields))
            } else {
                events.append(
                    event(
                        .connectionOwnerChanged, priority(for: after, quiet: .notice),
                        "\(label): resolution owner is now \(after?.resolutionOwner.rawValue ?? "none")"
                            + "\(advice(after))\(was)", extra: detailFields))
            }
        } else if detailsChanged, !changes.contains(.firstSeen), let current {
            let added = changes.reduce(0) { if case .details(let a, _) = $1 { $0 + a.count } else { $0 } }
            let removed = changes.reduce(0) { if case .details(_, let r) = $1 { $0 + r.count } else { $0 } }
            events.append(
                event(
                    .connectionDetailsChanged, added > 0 ? .warning : .notice,
                    "\(label): \(added) failing endpoint(s) added, \(removed) cleared; now \(describe(current))",
                    extra: detailFields))
        }

        for change in changes {
            switch change {
            case .state(let from, let to):
                events.append(
                    event(
                        .connectionStateChanged, to == .deleted ? .warning : .notice,
                        "\(label): state \(from?.rawValue ?? "none") -> \(to?.rawValue ?? "none")"))
            case .active(let from, let to):
                events.append(
                    event(
                        .connectionStateChanged, .notice,
                        "\(label): is_active \(from.map(String.init) ?? "none") -> \(to.map(String.init) ?? "none")"))
            case .oauthPending(let url):
                events.append(
                    event(
                        .connectionOAuthPending, .warning,
                        "\(label) waits for OAuth authorisation: an administrator must open "
                            + (url ?? "the connection's oauth2_authorize_url"),
                        extra: url.map { [EventField("LEEN_OAUTH_URL", $0)] } ?? []))
            case .oauthCompleted:
                events.append(event(.connectionOAuthCompleted, .notice, "\(label): OAuth authorisation completed"))
            default:
                break
            }
        }
        return events
    }

    // MARK: API events

    /// An organization-level API event: unreachable, rejected or recovered.
    public static func apiEvent(
        _ kind: EventKind, organizationID: OrganizationID, failure: PollFailure?, since: Date?, context: EventContext
    ) -> HealthEvent {
        var fields = header(kind, context: context) + [EventField("LEEN_ORGANIZATION_ID", organizationID.rawValue)]
        if let failure {
            fields += apiFields(failure)
            if let detail = failure.detail { fields.append(EventField("LEEN_API_DETAIL", detail)) }
        }
        if let since { fields.append(EventField("LEEN_FAILING_SINCE", timestamp(since))) }
        let org = context.organizationLabel
        let message: String =
            switch kind {
            case .apiRejected:
                "Leen rejected polling of \(org): \(failure?.summary ?? "unauthorized"); check the API key and region. "
                    + "Connection health is unknown until this is fixed."
            case .apiRecovered:
                "Polling \(org) works again" + (since.map { " (failing since \(timestamp($0)))" } ?? "")
            default:
                "Leen API unreachable for \(org): \(failure?.summary ?? "unknown error"). "
                    + "Connection health is unknown (stale) until polling recovers."
            }
        return HealthEvent(
            kind: kind, priority: kind == .apiRecovered ? .notice : .error, message: message, fields: fields)
    }

    /// An event that is not about one poll (provisioning, reload, lifecycle): the header, then `fields`.
    static func event(
        _ kind: EventKind, _ priority: EventPriority, _ message: String, fields: [EventField] = [],
        context: EventContext
    ) -> HealthEvent {
        HealthEvent(kind: kind, priority: priority, message: message, fields: header(kind, context: context) + fields)
    }

    // MARK: Pieces

    /// The fields every event starts with: what it is and when it was observed (``EventStream/stamp(_:)``
    /// adds its id and sequence right after `LEEN_EVENT`).
    static func header(_ kind: EventKind, context: EventContext) -> [EventField] {
        [EventField("LEEN_EVENT", kind.rawValue), EventField("LEEN_OBSERVED_AT", timestamp(context.observedAt))]
    }

    /// The fields every event of this instance carries besides its own: `LEEN_SHARD` (`K/N`) when sharded, so
    /// a journal gathered from every shard can be split by shard. The emitter appends them as it sends.
    public static func instanceFields(shard: Shard?) -> [EventField] {
        shard.map { [EventField("LEEN_SHARD", $0.description)] } ?? []
    }

    /// `LEEN_API_ERROR` and, when there was a response, `LEEN_HTTP_STATUS`.
    static func apiFields(_ failure: PollFailure) -> [EventField] {
        var fields = [EventField("LEEN_API_ERROR", failure.kind.rawValue)]
        if let status = failure.status { fields.append(EventField("LEEN_HTTP_STATUS", String(status))) }
        return fields
    }

    static func common(
        _ kind: EventKind, subject: ConnectionObservation, previous: ConnectionObservation?,
        current: ConnectionObservation?, context: EventContext
    ) -> [EventField] {
        var fields = header(kind, context: context) + [
            EventField("LEEN_ORGANIZATION_ID", subject.organizationID.rawValue),
            EventField("LEEN_CONNECTION_ID", subject.connectionID.rawValue),
            EventField("LEEN_IDENTIFIER", subject.identifier), EventField("LEEN_VENDOR", subject.vendor.rawValue),
        ]
        let shown = current ?? subject
        // Events come from successful polls only, so the organization is never stale here.
        let effective = EffectiveStatus(shown, missing: kind == .connectionDisappeared, organizationStale: false)
        fields.append(EventField("LEEN_EFFECTIVE_STATUS", effective.rawValue))
        if let state = shown.state { fields.append(EventField("LEEN_STATE", state.rawValue)) }
        if let active = shown.isActive { fields.append(EventField("LEEN_IS_ACTIVE", active ? "true" : "false")) }
        if let health = shown.health {
            fields += [
                EventField("LEEN_STATUS", health.status.rawValue), EventField("LEEN_HEALTH_NAME", health.name.rawValue),
                EventField("LEEN_RESOLUTION_OWNER", health.resolutionOwner.rawValue),
            ]
            if let description = health.description {
                fields.append(EventField("LEEN_HEALTH_DESCRIPTION", description))
            }
            fields += detailsFields("LEEN_DETAILS", health.details)
        }
        if let previous, current != nil {
            if let state = previous.state { fields.append(EventField("LEEN_PREVIOUS_STATE", state.rawValue)) }
            if let health = previous.health {
                fields += [
                    EventField("LEEN_PREVIOUS_STATUS", health.status.rawValue),
                    EventField("LEEN_PREVIOUS_HEALTH_NAME", health.name.rawValue),
                    EventField("LEEN_PREVIOUS_RESOLUTION_OWNER", health.resolutionOwner.rawValue),
                ]
            }
        }
        return fields
    }

    /// `NAME` (compact JSON array, at most ``detailsByteLimit`` bytes) and `NAME_COUNT`.
    static func detailsFields(_ name: String, _ details: Set<HealthDetail>) -> [EventField] {
        let sorted = details.sorted()
        var json = "["
        var included = 0
        for detail in sorted {
            let item =
                "{\"endpoint\":\(quoted(detail.endpoint)),\"data_export_type\":\(quoted(detail.dataExportType.rawValue))}"
            if json.utf8.count + item.utf8.count + 2 > detailsByteLimit { break }
            json += (included > 0 ? "," : "") + item
            included += 1
        }
        json += "]"
        return [EventField(name, json), EventField("\(name)_COUNT", String(sorted.count))]
    }

    /// `text` as a JSON string, as `JSONEncoder.compact` writes it.
    static func quoted(_ text: String) -> String {
        // Most texts (endpoints, export types, identifiers) need no escape, and JSONEncoder's output is then
        // the text between quotes: its fixed cost per call was most of `detailsFields`, 1% of the daemon's CPU
        // at 100k connections (perf). The rest go through it.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + text + "\""
        }
        // JSONEncoder on a String cannot fail.
        return String(decoding: try! JSONEncoder.compact.encode(text), as: UTF8.self)
    }

    static func priority(for health: ConnectionObservation.Health?, quiet: EventPriority) -> EventPriority {
        guard let health, health.status != .healthy else { return quiet }
        return health.resolutionOwner == .customer ? .error : .warning
    }

    static func describe(_ observation: ConnectionObservation) -> String {
        if observation.oauthPending { return "waiting for OAuth authorisation" }
        guard let health = observation.health else {
            return "no health yet (state \(observation.state?.rawValue ?? "unknown"))"
        }
        return describe(health)
    }

    static func describe(_ health: ConnectionObservation.Health?) -> String {
        guard let health else { return "without health" }
        if health.status == .healthy, health.name == .healthy { return "HEALTHY" }
        let details = health.details.isEmpty ? "" : ", \(health.details.count) failing endpoint(s)"
        return "\(health.status.rawValue): \(health.name.rawValue) (owner \(health.resolutionOwner.rawValue)\(details))"
    }

    /// Who must act, in words, as a clause to append to a message.
    static func advice(_ health: ConnectionObservation.Health?) -> String {
        OwnerAction.text(for: health).map { "; " + $0 } ?? ""
    }

    static func timestamp(_ date: Date) -> String {
        ISO8601Text.string(date, fractional: true)
    }
}
