import Foundation
import Healthd
import HealthdCore
import HealthdMetrics
import LeenAPI
import Testing

/// One state, every output: the STATUS line, `leen-healthd status`, `/status`, `/metrics` and the events must
/// say the same thing about each connection, because they all ask ``EffectiveStatus``.
@Suite("Every output agrees on a connection's status")
struct ConnectionViewAgreementTests {
    static let now = Date(timeIntervalSince1970: 1_764_460_800)
    static let live = OrganizationID("org-live")
    static let stale = OrganizationID("org-stale")

    static func connection(
        _ identifier: String, organization: OrganizationID = live, state: ConnectionState = .active,
        health: ConnectionObservation.Health?, oauthPending: Bool = false, missing: Bool = false
    ) -> TrackedConnection {
        TrackedConnection(
            observation: ConnectionObservation(
                organizationID: organization, connectionID: ConnectionID("id-\(identifier)"), identifier: identifier,
                vendor: .tenable, state: state, isActive: state == .active, health: health,
                oauthPending: oauthPending, oauthAuthorizeURL: oauthPending ? "https://example.test/authorize" : nil),
            healthSince: now, changedAt: now, missing: missing)
    }

    static let healthy = ConnectionObservation.Health(status: .healthy, name: .healthy, resolutionOwner: .leen)
    static let unauthorized = ConnectionObservation.Health(
        status: .unhealthy, name: .unauthorized, resolutionOwner: .customer)
    static let vendorError = ConnectionObservation.Health(
        status: .unhealthy, name: .vendorServerError, resolutionOwner: .vendor)

    /// identifier -> (connection, the status every output must show).
    static let cases: [(TrackedConnection, EffectiveStatus)] = [
        (connection("healthy", health: healthy), .healthy),
        (connection("customer", health: unauthorized), .unhealthy),
        (connection("vendor", health: vendorError), .unhealthy),
        (connection("no-health-yet", health: nil), .unknown),
        (connection("undocumented", health: .init(status: "DEGRADED", name: "NEW_REASON", resolutionOwner: "PARTNER")), .unknown),
        (connection("paused", state: .paused, health: unauthorized), .paused),
        (connection("oauth", state: .pending, health: nil, oauthPending: true), .oauthPending),
        (connection("gone", health: healthy, missing: true), .missing),
        (connection("stale-healthy", organization: stale, health: healthy), .unknown),
        (connection("stale-gone", organization: stale, health: healthy, missing: true), .missing),
    ]

    static func snapshot() -> MonitorSnapshot {
        var live = OrganizationState()
        live.api = .ok
        var stale = OrganizationState()
        stale.api = .unreachable(since: now, reason: "timeout")
        for (tracked, _) in cases {
            if tracked.observation.organizationID == Self.live {
                live.connections[tracked.observation.identifier] = tracked
            } else {
                stale.connections[tracked.observation.identifier] = tracked
            }
        }
        var daemon = DaemonCounters(startTime: now, version: "test")
        daemon.ready = true
        return MonitorSnapshot(
            takenAt: now,
            organizations: [.init(id: Self.live, name: "Live", state: live), .init(id: Self.stale, name: "Stale", state: stale)],
            daemon: daemon)
    }

    static var expected: [String: EffectiveStatus] {
        Dictionary(uniqueKeysWithValues: cases.map { ($0.0.observation.identifier, $0.1) })
    }

    @Test("the STATUS line counts what the view says")
    func statusLine() {
        #expect(
            Self.snapshot().summary
                == "8 connections: 1 healthy, 2 unhealthy (1 CUSTOMER), 3 unknown, 1 paused, 1 waiting for OAuth, "
                + "2 missing; API failing for 1 of 2 organizations")
    }

    @Test("leen-healthd status shows the view's status for each connection")
    func statusCommand() {
        let snapshot = Self.snapshot()
        let rows = StatusReport.rows(Dictionary(uniqueKeysWithValues: snapshot.organizations.map { ($0.id, $0.state) }))
        #expect(Dictionary(uniqueKeysWithValues: rows.map { ($0.identifier, $0.status) }) == Self.expected.mapValues(\.rawValue))
    }

    @Test("/status shows the view's status for each connection")
    func statusDocument() {
        let document = StatusDocument(Self.snapshot(), generatedAt: Self.now)
        let shown = document.organizations.flatMap(\.connections).map { ($0.identifier, $0.status) }
        #expect(Dictionary(uniqueKeysWithValues: shown) == Self.expected.mapValues(\.rawValue))
    }

    @Test("/metrics exports the view's status (PAUSED and OAUTH_PENDING as UNKNOWN, MISSING not at all)")
    func metrics() {
        let text = MetricsRenderer.renderString(Self.snapshot(), format: .text, process: nil)
        var exported: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("leen_connection_status{") && line.hasSuffix(" 1") {
            let identifier = line.firstMatch(of: /identifier="([^"]*)"/).map { String($0.1) }
            let status = line.firstMatch(of: /status="([^"]*)"/).map { String($0.1) }
            if let identifier, let status { exported[identifier] = status }
        }
        let expected = Self.expected.filter { $0.value != .missing }.mapValues(\.exported.rawValue)
        #expect(exported == expected)
    }

    @Test("connection events carry the view's status in LEEN_EFFECTIVE_STATUS")
    func events() {
        for (tracked, status) in Self.cases where tracked.observation.organizationID == Self.live {
            let context = EventContext(organizationLabel: "Live", observedAt: Self.now)
            let changes = ConnectionDiff.changes(
                previous: tracked.missing ? tracked.observation : nil, current: tracked.missing ? nil : tracked.observation)
            let events = EventBuilder.connectionEvents(
                changes: changes, previous: tracked.missing ? tracked.observation : nil,
                current: tracked.missing ? nil : tracked.observation, context: context)
            #expect(!events.isEmpty)
            for event in events {
                #expect(event[field: "LEEN_EFFECTIVE_STATUS"] == status.rawValue, "\(tracked.observation.identifier)")
            }
        }
    }
}
