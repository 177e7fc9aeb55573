import Foundation
import HealthdCore
import LeenAPI

/// The bytes of a state file being written: each ``TrackedConnection`` as the JSON its `Codable` conformance
/// reads back, written by hand, and the rest as given.
///
/// Written by hand because of a measurement: an organization's file is written again after every poll that
/// made an event, and `JSONEncoder` over its connections was the largest share of the daemon's CPU in a
/// changing fleet (31% at 10k connections, docs/benchmarks.md). Keeping each connection's encoded bytes
/// instead, the first remedy, held 14.5 MB of heap at 10k connections (heaptrack). Written directly, nothing
/// is kept, and the 10k bench went from 75 to 68 µs per connection-poll (one run each). `StateFileJSONTests` checks that the output and `JSONEncoder`'s are the same JSON, for a
/// connection with every field set, so a field added to the type and not here fails there.
struct StateFileJSON {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func write(_ tracked: TrackedConnection) {
        raw("{\"alert\":")
        write(tracked.alert)
        raw(",\"changedAt\":")
        date(tracked.changedAt)
        raw(",\"healthSince\":")
        date(tracked.healthSince)
        raw(",\"missing\":")
        bool(tracked.missing)
        raw(",\"observation\":")
        write(tracked.observation)
        raw(",\"transitions\":")
        int(tracked.transitions)
        raw(",\"unlistedPolls\":")
        int(tracked.unlistedPolls)
        byte(UInt8(ascii: "}"))
    }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func append(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }

    /// `"key":` followed by the connection, for an object of connections by identifier.
    mutating func member(_ identifier: String, _ tracked: TrackedConnection) {
        string(identifier)
        byte(UInt8(ascii: ":"))
        write(tracked)
    }

    /// An organization's or the daemon's ``StateStore/Delivery``: its stream and the events not yet known
    /// to be in the journal. Written by hand too: every poll that makes events saves them here first, and
    /// `JSONEncoder` over them was 9% of the daemon's CPU in a changing 10k fleet (`make bench PROFILE=1`).
    mutating func write(_ delivery: StateStore.Delivery) {
        raw("{\"outbox\":[")
        separated(delivery.outbox) { file, pending in
            file.write(pending.event)
            file.raw(",\"since\":")
            file.date(pending.since)
            file.byte(UInt8(ascii: "}"))
        }
        raw("],\"stream\":{\"id\":")
        string(delivery.stream.id)
        raw(",\"sequences\":{")
        // Sorted (as they are kept), as the rest of the file, so that an unchanged state is written as the
        // same bytes.
        separated(delivery.stream.sequences) { file, entry in
            file.string(entry.key)
            file.byte(UInt8(ascii: ":"))
            file.bytes.append(contentsOf: String(entry.value).utf8)
        }
        raw("}}}")
    }

    /// `state`'s members other than `connections`, as its `Codable` conformance writes them, each after a
    /// comma (they follow `connections`). By hand too: once a poll wrote only what it changed, `JSONEncoder`
    /// for these few members was 1.2% of the daemon's CPU at 100k connections (perf).
    mutating func writeMembers(of state: OrganizationState) {
        raw(",\"api\":")
        switch state.api {
        case .unknown: raw("{\"unknown\":{}}")
        case .ok: raw("{\"ok\":{}}")
        case .unreachable(let since, let reason):
            raw("{\"unreachable\":{\"reason\":")
            string(reason)
            raw(",\"since\":")
            date(since)
            raw("}}")
        case .rejected(let since, let reason):
            raw("{\"rejected\":{\"reason\":")
            string(reason)
            raw(",\"since\":")
            date(since)
            raw("}}")
        }
        followingMember(",\"apiConfirmedAt\":", state.apiConfirmedAt) { $0.date($1) }
        raw(",\"consecutiveFailures\":")
        int(state.consecutiveFailures)
        followingMember(",\"lastAttempt\":", state.lastAttempt) { $0.date($1) }
        followingMember(",\"lastSuccessfulPoll\":", state.lastSuccessfulPoll) { $0.date($1) }
    }

    /// `incidents.json`: the incident detector, as its `Codable` conformance writes it (sorted keys; its
    /// sizes by organization, a dictionary whose keys are not strings, as `[id, size, id, size, …]`). By
    /// hand too: in a fleet where a storm was open, its thousands of members made `JSONEncoder` over the
    /// detector 5% of the CPU that changes cost the daemon at 100k connections (perf, this file written at
    /// most every 10 s).
    mutating func write(_ file: StateStore.IncidentsFile) {
        raw("{\"detector\":{\"open\":[")
        separated(file.detector.open) { file, incident in
            file.raw("{\"id\":")
            file.string(incident.id)
            file.raw(",\"key\":{\"dimension\":")
            file.string(incident.key.dimension.rawValue)
            file.raw(",\"value\":")
            file.string(incident.key.value)
            file.raw("},\"members\":[")
            file.separated(incident.members) { $0.write($1) }
            file.raw("],\"peak\":")
            file.int(incident.peak)
            file.raw(",\"startedAt\":")
            file.date(incident.startedAt)
            file.byte(UInt8(ascii: "}"))
        }
        raw("],\"recent\":[")
        separated(file.detector.recent) { $0.write($1) }
        raw("],\"sizes\":[")
        separated(file.detector.sizes) { file, entry in
            file.string(entry.key.rawValue)
            file.byte(UInt8(ascii: ","))
            file.int(entry.value)
        }
        raw("]},\"version\":")
        int(file.version)
        byte(UInt8(ascii: "}"))
    }

    private mutating func write(_ member: IncidentDetector.Member) {
        raw("{\"healthName\":")
        string(member.healthName)
        raw(",\"identifier\":")
        string(member.identifier)
        raw(",\"organizationID\":")
        string(member.organizationID.rawValue)
        raw(",\"resolutionOwner\":")
        string(member.resolutionOwner)
        raw(",\"since\":")
        date(member.since)
        byte(UInt8(ascii: "}"))
    }

    /// `{"event":` and the event; the caller closes the pending entry.
    private mutating func write(_ event: HealthEvent) {
        raw("{\"event\":{\"fields\":[")
        separated(event.fields) { file, field in
            file.raw("{\"name\":")
            file.string(field.name)
            file.raw(",\"value\":")
            file.string(field.value)
            file.byte(UInt8(ascii: "}"))
        }
        raw("],\"kind\":")
        string(event.kind.rawValue)
        raw(",\"message\":")
        string(event.message)
        raw(",\"priority\":")
        int(event.priority.rawValue)
        byte(UInt8(ascii: "}"))
    }

    private mutating func write(_ alert: ConnectionAlertState) {
        byte(UInt8(ascii: "{"))
        leadingMember("\"confirmedAt\":", alert.confirmedAt) { $0.date($1) }
        leadingMember("\"flappingSince\":", alert.flappingSince) { $0.date($1) }
        leadingMember("\"remindedAt\":", alert.remindedAt) { $0.date($1) }
        raw("\"statusChanges\":[")
        separated(alert.statusChanges) { $0.date($1) }
        raw("],\"unhealthyPolls\":")
        int(alert.unhealthyPolls)
        followingMember(",\"unhealthySince\":", alert.unhealthySince) { $0.date($1) }
        byte(UInt8(ascii: "}"))
    }

    private mutating func write(_ observation: ConnectionObservation) {
        raw("{\"connectionID\":")
        string(observation.connectionID.rawValue)
        followingMember(",\"health\":", observation.health) { $0.write($1) }
        raw(",\"identifier\":")
        string(observation.identifier)
        followingMember(",\"isActive\":", observation.isActive) { $0.bool($1) }
        followingMember(",\"oauthAuthorizeURL\":", observation.oauthAuthorizeURL) { $0.string($1) }
        raw(",\"oauthPending\":")
        bool(observation.oauthPending)
        raw(",\"organizationID\":")
        string(observation.organizationID.rawValue)
        followingMember(",\"state\":", observation.state) { $0.string($1.rawValue) }
        raw(",\"vendor\":")
        string(observation.vendor.rawValue)
        byte(UInt8(ascii: "}"))
    }

    private mutating func write(_ health: ConnectionObservation.Health) {
        byte(UInt8(ascii: "{"))
        leadingMember("\"description\":", health.description) { $0.string($1) }
        raw("\"details\":[")
        separated(health.details) { file, detail in
            file.raw("{\"data_export_type\":")
            file.string(detail.dataExportType.rawValue)
            file.raw(",\"endpoint\":")
            file.string(detail.endpoint)
            file.byte(UInt8(ascii: "}"))
        }
        raw("],\"name\":")
        string(health.name.rawValue)
        raw(",\"resolutionOwner\":")
        string(health.resolutionOwner.rawValue)
        raw(",\"status\":")
        string(health.status.rawValue)
        byte(UInt8(ascii: "}"))
    }

    /// Each item written by `write`, with commas between them (the elements of an array or the members of
    /// an object; the caller writes the brackets).
    private mutating func separated<Items: Sequence>(_ items: Items, _ write: (inout Self, Items.Element) -> Void) {
        var first = true
        for item in items {
            if !first { byte(UInt8(ascii: ",")) }
            first = false
            write(&self, item)
        }
    }

    /// `key` (which starts with the comma) and the value, when there is a value (a member that follows others).
    private mutating func followingMember<T>(_ key: StaticString, _ value: T?, _ write: (inout Self, T) -> Void) {
        guard let value else { return }
        raw(key)
        write(&self, value)
    }

    /// `key`, the value and a comma, when there is a value (a member that others follow).
    private mutating func leadingMember<T>(_ key: StaticString, _ value: T?, _ write: (inout Self, T) -> Void) {
        guard let value else { return }
        raw(key)
        write(&self, value)
        byte(UInt8(ascii: ","))
    }

    // MARK: Values

    private mutating func byte(_ value: UInt8) { bytes.append(value) }

    private mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    private mutating func int(_ value: Int) { bytes.append(contentsOf: String(value).utf8) }

    /// A JSON string: quotes, backslashes and control characters escaped, everything else as UTF-8.
    mutating func string(_ value: String) {
        byte(UInt8(ascii: "\""))
        // Most strings (identifiers, names, dates) need no escape: copied whole, not byte by byte.
        let plain = value.utf8.withContiguousStorageIfAvailable { units -> Bool in
            guard !units.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") })
            else { return false }
            bytes.append(contentsOf: units)
            return true
        }
        if plain == true {
            byte(UInt8(ascii: "\""))
            return
        }
        for unit in value.utf8 {
            switch unit {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case UInt8(ascii: "\n"): raw("\\n")
            case UInt8(ascii: "\r"): raw("\\r")
            case UInt8(ascii: "\t"): raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                byte(Self.hex[Int(unit >> 4)])
                byte(Self.hex[Int(unit & 0xF)])
            default: byte(unit)
            }
        }
        byte(UInt8(ascii: "\""))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// As `JSONEncoder`'s `.iso8601` writes it: UTC, whole seconds (`2026-12-01T07:34:32Z`).
    private mutating func date(_ value: Date) {
        byte(UInt8(ascii: "\""))
        ISO8601Text.append(value, fractional: false, to: &bytes)
        byte(UInt8(ascii: "\""))
    }
}
