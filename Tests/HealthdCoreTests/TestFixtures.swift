import Foundation
import Synchronization
import HealthdCore
import LeenAPI
import Testing

/// Small builders for observations, connections and event contexts, shared by the HealthdCore suites.
enum Fixture {
    static let organization: OrganizationID = "0b9c2f0e-5a4e-4d5c-9a43-7e1f7d1c0001"
    static let organizationLabel = "Acme (\(organization))"
    /// 2023-11-14T22:13:20Z.
    static let time = Date(timeIntervalSince1970: 1_700_000_000)
    static let oauthURL = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=leen"

    /// `time` plus `minutes`.
    static func at(_ minutes: Double) -> Date { time.addingTimeInterval(minutes * 60) }

    static func detail(_ endpoint: String, _ type: DataExportType = .alerts) -> HealthDetail {
        HealthDetail(endpoint: endpoint, dataExportType: type)
    }

    /// The health Leen's table gives a documented name (status, owner, description), with `details`.
    static func health(_ name: HealthName, details: Set<HealthDetail> = []) -> ConnectionObservation.Health {
        let row = name.documented!
        return .init(
            status: row.status, name: name, resolutionOwner: row.resolutionOwner, description: row.description,
            details: details)
    }

    /// Any combination, documented or not.
    static func health(
        _ status: HealthStatus, _ name: HealthName, _ owner: ResolutionOwner, details: Set<HealthDetail> = []
    ) -> ConnectionObservation.Health {
        .init(status: status, name: name, resolutionOwner: owner, details: details)
    }

    static func observation(
        _ identifier: String = "tenable-prod", vendor: Vendor = .tenable, state: ConnectionState? = .active,
        isActive: Bool? = true, health: ConnectionObservation.Health? = Fixture.health(.healthy),
        oauthURL: String? = nil
    ) -> ConnectionObservation {
        ConnectionObservation(
            organizationID: organization, connectionID: connectionID(identifier), identifier: identifier,
            vendor: vendor, state: state, isActive: isActive, health: health, oauthPending: oauthURL != nil,
            oauthAuthorizeURL: oauthURL)
    }

    /// A connection as Leen lists it; the id derives from the identifier unless given.
    static func connection(
        _ identifier: String?, id: String? = nil, vendor: Vendor = .tenable, state: ConnectionState? = .active,
        isActive: Bool? = true, health: HealthName? = .healthy, details: [HealthDetail]? = nil,
        oauthURL: String? = nil, createdAt: String = "2024-01-01T00:00:00Z"
    ) -> Connection {
        Connection(
            id: id.map { ConnectionID($0) } ?? connectionID(identifier ?? "anonymous"), vendor: vendor,
            isActive: isActive, refreshIntervalSecs: 14_400, timeoutSecs: 1_800, organizationID: organization,
            state: state, oauth2AuthorizeURL: oauthURL, identifier: identifier,
            createdAt: Timestamp(rawValue: createdAt),
            health: health.flatMap { ConnectionHealthStatus(documented: $0, details: details) })
    }

    static func connectionID(_ identifier: String) -> ConnectionID { ConnectionID("conn-\(identifier)") }

    static func context(at date: Date = time) -> EventContext {
        EventContext(organizationLabel: organizationLabel, observedAt: date)
    }

    /// The events the diff from `previous` to `current` makes.
    static func events(
        from previous: ConnectionObservation?, to current: ConnectionObservation?, previouslyMissing: Bool = false,
        context: EventContext = Fixture.context()
    ) -> [HealthEvent] {
        let changes = ConnectionDiff.changes(
            previous: previous, current: current, previouslyMissing: previouslyMissing)
        return EventBuilder.connectionEvents(changes: changes, previous: previous, current: current, context: context)
    }
}

/// A table row: a connection's last observation, this poll's, and what the test expects of the transition.
struct TransitionCase<Expected: Sendable>: Sendable, CustomTestStringConvertible {
    var name: String
    var previous: ConnectionObservation?
    var current: ConnectionObservation?
    var previouslyMissing = false
    var expected: Expected

    var testDescription: String { name }

    var changes: [ConnectionChange] {
        ConnectionDiff.changes(previous: previous, current: current, previouslyMissing: previouslyMissing)
    }

    var events: [HealthEvent] {
        Fixture.events(from: previous, to: current, previouslyMissing: previouslyMissing)
    }
}

/// Incident ids `event-1`, `event-2`, … in the order ``IncidentDetector`` asks for them.
final class IDSequence: Sendable {
    private let count = Mutex(0)

    func next() -> String {
        count.withLock {
            $0 += 1
            return "event-\($0)"
        }
    }
}
