import Foundation
import HealthdCore
import LeenAPI

/// The state files' types, read as their writers write them (``StateFileReader``). Each reader takes the
/// members its type's `Codable` conformance reads, in any order, each once; a member that conformance would
/// read differently (one missing that has a default there, a legacy form) gives up, and `JSONDecoder` reads
/// the file.
extension StateFileReader {
    mutating func organizationFile() throws(Mismatch) -> StateStore.OrganizationFile {
        var version: Int?, organizationID: OrganizationID?, state: OrganizationState?
        var delivery: StateStore.Delivery?, log: String?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "version": try Self.once(&version, reader.int())
            case "log": try Self.once(&log, reader.string())
            case "organizationID": try Self.once(&organizationID, OrganizationID(reader.string()))
            case "state": try Self.once(&state, reader.organizationState())
            case "delivery": try Self.once(&delivery, reader.delivery())
            default: throw Mismatch()
            }
        }
        // No delivery is version 1's form, which reads as nil.
        guard let version, let organizationID, let state else { throw Mismatch() }
        return StateStore.OrganizationFile(
            version: version, organizationID: organizationID, state: state, delivery: delivery, log: log)
    }

    /// A line of an organization's log.
    mutating func changeRecord() throws(Mismatch) -> ChangeRecord {
        var log: String?, record: Int?, state: OrganizationState?, removed: [String]?
        var delivery: StateStore.Delivery?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "log": try Self.once(&log, reader.string())
            case "record": try Self.once(&record, reader.int())
            case "state": try Self.once(&state, reader.organizationState())
            case "removed": try Self.once(&removed, reader.array { reader throws(Mismatch) in try reader.string() })
            case "delivery": try Self.once(&delivery, reader.delivery())
            default: throw Mismatch()
            }
        }
        guard let log, let record, let state, let removed, let delivery else { throw Mismatch() }
        return ChangeRecord(log: log, record: record, state: state, removed: removed, delivery: delivery)
    }

    mutating func appliedCredentials() throws(Mismatch) -> StateStore.AppliedCredentials {
        var version: Int?, salt: String?, applied: [(key: String, value: String)]?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "version": try Self.once(&version, reader.int())
            case "salt": try Self.once(&salt, reader.string())
            case "applied": try Self.once(&applied, reader.members { reader throws(Mismatch) in try reader.string() })
            default: throw Mismatch()
            }
        }
        guard let version, let salt, let applied,
            let credentials = StateStore.AppliedCredentials(version: version, salt: salt, entries: applied)
        else { throw Mismatch() }
        return credentials
    }

    mutating func delivery() throws(Mismatch) -> StateStore.Delivery {
        var stream: EventStream?, outbox: [Outbox.Pending]?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "stream": try Self.once(&stream, reader.eventStream())
            case "outbox": try Self.once(&outbox, reader.array { reader throws(Mismatch) in try reader.pending() })
            default: throw Mismatch()
            }
        }
        guard let stream, let outbox else { throw Mismatch() }
        return StateStore.Delivery(stream: stream, outbox: outbox)
    }

    mutating func eventStream() throws(Mismatch) -> EventStream {
        var id: String?, sequences: [String: UInt64]?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "id": try Self.once(&id, reader.string())
            case "sequences": try Self.once(&sequences, reader.dictionary { reader throws(Mismatch) in try reader.uint64() })
            default: throw Mismatch()
            }
        }
        guard let id, let sequences else { throw Mismatch() }
        return EventStream(id: id, sequences: SubjectSequences(sequences))
    }

    mutating func pending() throws(Mismatch) -> Outbox.Pending {
        var event: HealthEvent?, since: Date?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "event": try Self.once(&event, reader.event())
            case "since": try Self.once(&since, reader.date())
            default: throw Mismatch()
            }
        }
        guard let event, let since else { throw Mismatch() }
        return Outbox.Pending(event: event, since: since)
    }

    mutating func event() throws(Mismatch) -> HealthEvent {
        var kind: EventKind?, priority: EventPriority?, message: String?, fields: [EventField]?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "kind":
                guard let value = EventKind(rawValue: try reader.string()) else { throw Mismatch() }
                try Self.once(&kind, value)
            case "priority":
                guard let value = EventPriority(rawValue: try reader.int()) else { throw Mismatch() }
                try Self.once(&priority, value)
            case "message": try Self.once(&message, reader.string())
            case "fields": try Self.once(&fields, reader.array { reader throws(Mismatch) in try reader.field() })
            default: throw Mismatch()
            }
        }
        guard let kind, let priority, let message, let fields else { throw Mismatch() }
        return HealthEvent(kind: kind, priority: priority, message: message, fields: fields)
    }

    mutating func field() throws(Mismatch) -> EventField {
        var name: String?, value: String?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "name": try Self.once(&name, reader.string())
            case "value": try Self.once(&value, reader.string())
            default: throw Mismatch()
            }
        }
        guard let name, let value else { throw Mismatch() }
        return EventField(name, value)
    }

    mutating func organizationState() throws(Mismatch) -> OrganizationState {
        var api: APIStatus?, lastSuccessfulPoll: Date?, lastAttempt: Date?, consecutiveFailures: Int?
        var connections: [String: TrackedConnection]?, apiConfirmedAt: Date?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "api": try Self.once(&api, reader.apiStatus())
            case "lastSuccessfulPoll": try Self.once(&lastSuccessfulPoll, reader.date())
            case "lastAttempt": try Self.once(&lastAttempt, reader.date())
            case "consecutiveFailures": try Self.once(&consecutiveFailures, reader.int())
            case "connections":
                try Self.once(&connections, reader.dictionary { reader throws(Mismatch) in try reader.tracked() })
            case "apiConfirmedAt": try Self.once(&apiConfirmedAt, reader.date())
            default: throw Mismatch()
            }
        }
        guard let api, let consecutiveFailures, let connections else { throw Mismatch() }
        var state = OrganizationState()
        state.api = api
        state.lastSuccessfulPoll = lastSuccessfulPoll
        state.lastAttempt = lastAttempt
        state.consecutiveFailures = consecutiveFailures
        state.connections = connections
        state.apiConfirmedAt = apiConfirmedAt
        return state
    }

    /// As Swift's synthesized coding of an enum writes it: one member named after the case, whose object
    /// holds the associated values.
    mutating func apiStatus() throws(Mismatch) -> APIStatus {
        var status: APIStatus?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "unknown", "ok":
                try reader.object { _, _ throws(Mismatch) in throw Mismatch() }
                try Self.once(&status, "ok" ~= key ? .ok : .unknown)
            case "unreachable", "rejected":
                var since: Date?, reason: String?
                try reader.object { reader, key throws(Mismatch) in
                    switch key {
                    case "since": try Self.once(&since, reader.date())
                    case "reason": try Self.once(&reason, reader.string())
                    default: throw Mismatch()
                    }
                }
                guard let since, let reason else { throw Mismatch() }
                try Self.once(&status, "rejected" ~= key ? .rejected(since: since, reason: reason) : .unreachable(since: since, reason: reason))
            default: throw Mismatch()
            }
        }
        guard let status else { throw Mismatch() }
        return status
    }

    mutating func tracked() throws(Mismatch) -> TrackedConnection {
        var observation: ConnectionObservation?, healthSince: Date?, changedAt: Date?, missing: Bool?
        var transitions: Int?, alert: ConnectionAlertState?, unlistedPolls: Int?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "observation": try Self.once(&observation, reader.observation())
            case "healthSince": try Self.once(&healthSince, reader.date())
            case "changedAt": try Self.once(&changedAt, reader.date())
            case "missing": try Self.once(&missing, reader.bool())
            case "transitions": try Self.once(&transitions, reader.int())
            case "alert": try Self.once(&alert, reader.alertState())
            case "unlistedPolls": try Self.once(&unlistedPolls, reader.int())
            default: throw Mismatch()
            }
        }
        // Without `alert` (a file from before the alerting rules) the Codable conformance derives it.
        guard let observation, let healthSince, let changedAt, let missing, let transitions, let alert else {
            throw Mismatch()
        }
        return TrackedConnection(
            observation: observation, healthSince: healthSince, changedAt: changedAt, missing: missing,
            transitions: transitions, alert: alert, unlistedPolls: unlistedPolls ?? 0)
    }

    mutating func alertState() throws(Mismatch) -> ConnectionAlertState {
        var alert = ConnectionAlertState()
        var unhealthySince: Date?, unhealthyPolls: Int?, confirmedAt: Date?, remindedAt: Date?
        var statusChanges: [Date]?, flappingSince: Date?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "unhealthySince": try Self.once(&unhealthySince, reader.date())
            case "unhealthyPolls": try Self.once(&unhealthyPolls, reader.int())
            case "confirmedAt": try Self.once(&confirmedAt, reader.date())
            case "remindedAt": try Self.once(&remindedAt, reader.date())
            case "statusChanges": try Self.once(&statusChanges, reader.array { reader throws(Mismatch) in try reader.date() })
            case "flappingSince": try Self.once(&flappingSince, reader.date())
            default: throw Mismatch()
            }
        }
        guard let unhealthyPolls, let statusChanges else { throw Mismatch() }
        alert.unhealthySince = unhealthySince
        alert.unhealthyPolls = unhealthyPolls
        alert.confirmedAt = confirmedAt
        alert.remindedAt = remindedAt
        alert.statusChanges = statusChanges
        alert.flappingSince = flappingSince
        return alert
    }

    mutating func observation() throws(Mismatch) -> ConnectionObservation {
        var organizationID: OrganizationID?, connectionID: ConnectionID?, identifier: String?, vendor: Vendor?
        var state: ConnectionState?, isActive: Bool?, health: ConnectionObservation.Health?, oauthPending: Bool?
        var oauthAuthorizeURL: String?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "organizationID": try Self.once(&organizationID, OrganizationID(reader.repeatedString()))
            case "connectionID": try Self.once(&connectionID, ConnectionID(reader.string()))
            case "identifier": try Self.once(&identifier, reader.string())
            case "vendor": try Self.once(&vendor, Vendor(decoded: reader.string()))
            case "state": try Self.once(&state, ConnectionState(decoded: reader.string()))
            case "isActive": try Self.once(&isActive, reader.bool())
            case "health": try Self.once(&health, reader.health())
            case "oauthPending": try Self.once(&oauthPending, reader.bool())
            case "oauthAuthorizeURL": try Self.once(&oauthAuthorizeURL, reader.string())
            default: throw Mismatch()
            }
        }
        guard let organizationID, let connectionID, let identifier, let vendor, let oauthPending else {
            throw Mismatch()
        }
        return ConnectionObservation(
            organizationID: organizationID, connectionID: connectionID, identifier: identifier, vendor: vendor,
            state: state, isActive: isActive, health: health, oauthPending: oauthPending,
            oauthAuthorizeURL: oauthAuthorizeURL)
    }

    mutating func health() throws(Mismatch) -> ConnectionObservation.Health {
        var status: HealthStatus?, name: HealthName?, resolutionOwner: ResolutionOwner?, description: String?
        var details: [HealthDetail]?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "status": try Self.once(&status, HealthStatus(decoded: reader.string()))
            case "name": try Self.once(&name, HealthName(decoded: reader.string()))
            case "resolutionOwner": try Self.once(&resolutionOwner, ResolutionOwner(decoded: reader.string()))
            case "description": try Self.once(&description, reader.repeatedString())
            case "details": try Self.once(&details, reader.array { reader throws(Mismatch) in try reader.detail() })
            default: throw Mismatch()
            }
        }
        guard let status, let name, let resolutionOwner, let details else { throw Mismatch() }
        return ConnectionObservation.Health(
            status: status, name: name, resolutionOwner: resolutionOwner, description: description,
            details: Set(details))
    }

    mutating func detail() throws(Mismatch) -> HealthDetail {
        var endpoint: String?, dataExportType: DataExportType?
        try object { reader, key throws(Mismatch) in
            switch key {
            case "endpoint": try Self.once(&endpoint, reader.string())
            case "data_export_type": try Self.once(&dataExportType, DataExportType(decoded: reader.string()))
            default: throw Mismatch()
            }
        }
        guard let endpoint, let dataExportType else { throw Mismatch() }
        return HealthDetail(endpoint: endpoint, dataExportType: dataExportType)
    }
}
