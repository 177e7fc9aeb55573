import HealthdCore
import LeenAPI
import Testing

/// One row of the diff table: the changes expected, in order.
typealias DiffCase = TransitionCase<[ConnectionChange]>

@Suite("Connection diff")
struct ConnectionDiffTests {
    typealias F = Fixture
    static let healthy = F.observation()
    static let unauthorized = F.observation(health: F.health(.unauthorized, details: [F.detail("/alerts")]))
    static let timeout = F.observation(health: F.health(.executionTimeout))
    static let pendingNoHealth = F.observation(state: .pending, isActive: false, health: nil)
    static let a = F.detail("/api/alerts")
    static let b = F.detail("/api/vulns", "vulnerabilities")
    static let c = F.detail("/api/devices", "devices")
    static let d = F.detail("/api/users", "users")

    static func with(
        _ base: ConnectionObservation, _ change: (inout ConnectionObservation) -> Void
    ) -> ConnectionObservation {
        var copy = base
        change(&copy)
        return copy
    }

    static func details(_ details: Set<HealthDetail>) -> ConnectionObservation {
        F.observation(health: F.health(.unauthorized, details: details))
    }

    static let cases: [DiffCase] = [
        // Appearance.
        DiffCase(name: "first seen", previous: nil, current: healthy, expected: [.firstSeen]),
        DiffCase(name: "first seen without health", previous: nil, current: pendingNoHealth, expected: [.firstSeen]),
        DiffCase(
            name: "first seen waiting for OAuth",
            previous: nil, current: F.observation(state: .pending, isActive: false, health: nil, oauthURL: F.oauthURL),
            expected: [.firstSeen, .oauthPending(url: F.oauthURL)]),
        DiffCase(name: "never seen, not listed", previous: nil, current: nil, expected: []),
        DiffCase(name: "unchanged", previous: unauthorized, current: unauthorized, expected: []),
        DiffCase(
            name: "description only is no change",
            previous: timeout, current: with(timeout) { $0.health?.description = "Job ran for 30 minutes" },
            expected: []),
        DiffCase(name: "disappeared", previous: healthy, current: nil, expected: [.disappeared]),
        DiffCase(
            name: "disappeared is reported once", previous: healthy, current: nil, previouslyMissing: true,
            expected: []),
        DiffCase(
            name: "reappeared unchanged", previous: healthy, current: healthy, previouslyMissing: true,
            expected: [.reappeared]),
        DiffCase(
            name: "reappeared with changes", previous: healthy, current: unauthorized, previouslyMissing: true,
            expected: [
                .reappeared, .status(from: .healthy, to: .unhealthy), .name(from: .healthy, to: .unauthorized),
                .resolutionOwner(from: .leen, to: .customer), .details(added: [F.detail("/alerts")], removed: []),
            ]),

        // Health.
        DiffCase(
            name: "status, name and owner together",
            previous: healthy, current: F.observation(health: F.health(.unauthorized)),
            expected: [
                .status(from: .healthy, to: .unhealthy), .name(from: .healthy, to: .unauthorized),
                .resolutionOwner(from: .leen, to: .customer),
            ]),
        DiffCase(
            name: "recovery clears the details",
            previous: unauthorized, current: healthy,
            expected: [
                .status(from: .unhealthy, to: .healthy), .name(from: .unauthorized, to: .healthy),
                .resolutionOwner(from: .customer, to: .leen), .details(added: [], removed: [F.detail("/alerts")]),
            ]),
        DiffCase(
            name: "name changes while UNHEALTHY",
            previous: timeout, current: F.observation(health: F.health(.rateLimitExceeded)),
            expected: [.name(from: .executionTimeout, to: .rateLimitExceeded)]),
        DiffCase(
            name: "name and owner change while UNHEALTHY",
            previous: timeout, current: F.observation(health: F.health(.vendorServerError)),
            expected: [
                .name(from: .executionTimeout, to: .vendorServerError),
                .resolutionOwner(from: .leen, to: .vendor),
            ]),
        DiffCase(
            name: "owner only",
            previous: F.observation(health: F.health(.unhealthy, .vendorClientError, .leen)),
            current: F.observation(health: F.health(.unhealthy, .vendorClientError, .vendor)),
            expected: [.resolutionOwner(from: .leen, to: .vendor)]),
        DiffCase(
            name: "health nil -> present",
            previous: pendingNoHealth, current: with(pendingNoHealth) { $0.health = F.health(.healthy) },
            expected: [
                .status(from: nil, to: .healthy), .name(from: nil, to: .healthy),
                .resolutionOwner(from: nil, to: .leen),
            ]),
        DiffCase(
            name: "health present -> nil",
            previous: unauthorized, current: with(unauthorized) { $0.health = nil },
            expected: [
                .status(from: .unhealthy, to: nil), .name(from: .unauthorized, to: nil),
                .resolutionOwner(from: .customer, to: nil), .details(added: [], removed: [F.detail("/alerts")]),
            ]),
        DiffCase(
            name: "first job after activation",
            previous: pendingNoHealth, current: healthy,
            expected: [
                .status(from: nil, to: .healthy), .name(from: nil, to: .healthy),
                .resolutionOwner(from: nil, to: .leen), .state(from: .pending, to: .active),
            ]),

        // Unknown enumeration values are compared like documented ones.
        DiffCase(
            name: "unknown status and name",
            previous: timeout, current: F.observation(health: F.health("DEGRADED", "QUOTA_EXHAUSTED", .leen)),
            expected: [
                .status(from: .unhealthy, to: "DEGRADED"), .name(from: .executionTimeout, to: "QUOTA_EXHAUSTED"),
            ]),
        DiffCase(
            name: "unknown name unchanged",
            previous: F.observation(health: F.health(.unhealthy, "QUOTA_EXHAUSTED", "PARTNER")),
            current: F.observation(health: F.health(.unhealthy, "QUOTA_EXHAUSTED", "PARTNER")), expected: []),
        DiffCase(
            name: "unknown owner",
            previous: F.observation(health: F.health(.unhealthy, "QUOTA_EXHAUSTED", .leen)),
            current: F.observation(health: F.health(.unhealthy, "QUOTA_EXHAUSTED", "PARTNER")),
            expected: [.resolutionOwner(from: .leen, to: "PARTNER")]),
        DiffCase(
            name: "unknown state", previous: healthy, current: with(healthy) { $0.state = "ARCHIVED" },
            expected: [.state(from: .active, to: "ARCHIVED")]),

        // Details: a set of endpoint + data_export_type.
        DiffCase(
            name: "details added", previous: details([a]), current: details([a, b]),
            expected: [.details(added: [b], removed: [])]),
        DiffCase(
            name: "details removed", previous: details([a, b, c]), current: details([c]),
            expected: [.details(added: [], removed: [a, b])]),
        DiffCase(
            name: "details partially replaced", previous: details([a, b, c]), current: details([b, c, d]),
            expected: [.details(added: [d], removed: [a])]),
        DiffCase(
            name: "same endpoint, other export type", previous: details([F.detail("/api", "alerts")]),
            current: details([F.detail("/api", "issues")]),
            expected: [.details(added: [F.detail("/api", "issues")], removed: [F.detail("/api", "alerts")])]),
        DiffCase(
            name: "details reordered by the API is no change",
            previous: ConnectionObservation(
                F.connection("x", health: .unauthorized, details: [a, b, c]), identifier: "x"),
            current: ConnectionObservation(
                F.connection("x", health: .unauthorized, details: [c, a, b]), identifier: "x"),
            expected: []),

        // Connection state and is_active.
        DiffCase(
            name: "state without is_active", previous: healthy, current: with(healthy) { $0.state = .paused },
            expected: [.state(from: .active, to: .paused)]),
        DiffCase(
            name: "state and is_active: one state change",
            previous: healthy, current: with(healthy) { ($0.state, $0.isActive) = (.paused, false) },
            expected: [.state(from: .active, to: .paused)]),
        DiffCase(
            name: "is_active flip without state", previous: healthy, current: with(healthy) { $0.isActive = false },
            expected: [.active(from: true, to: false)]),
        DiffCase(
            name: "deleted", previous: healthy, current: with(healthy) { ($0.state, $0.isActive) = (.deleted, false) },
            expected: [.state(from: .active, to: .deleted)]),
        DiffCase(
            name: "everything at once",
            previous: timeout, current: with(unauthorized) { $0.isActive = false },
            expected: [
                .name(from: .executionTimeout, to: .unauthorized), .resolutionOwner(from: .leen, to: .customer),
                .details(added: [F.detail("/alerts")], removed: []), .active(from: true, to: false),
            ]),

        // OAuth.
        DiffCase(
            name: "OAuth pending appears",
            previous: pendingNoHealth,
            current: with(pendingNoHealth) { ($0.oauthPending, $0.oauthAuthorizeURL) = (true, F.oauthURL) },
            expected: [.oauthPending(url: F.oauthURL)]),
        DiffCase(
            name: "OAuth still pending is no change",
            previous: F.observation(state: .pending, isActive: false, health: nil, oauthURL: F.oauthURL),
            current: F.observation(state: .pending, isActive: false, health: nil, oauthURL: F.oauthURL),
            expected: []),
        DiffCase(
            name: "OAuth completed",
            previous: F.observation(state: .pending, isActive: false, health: nil, oauthURL: F.oauthURL),
            current: F.observation(health: nil),
            expected: [.state(from: .pending, to: .active), .oauthCompleted]),
    ]

    @Test(arguments: cases)
    func diff(_ row: DiffCase) {
        #expect(row.changes == row.expected)
    }

    @Test func observationFromConnectionMarksOAuthPendingUntilActive() {
        let pending = ConnectionObservation(
            F.connection(
                "entra", vendor: .msEntra, state: .pending, isActive: false, health: nil, oauthURL: F.oauthURL),
            identifier: "entra")
        #expect(pending.oauthPending)
        #expect(pending.oauthAuthorizeURL == F.oauthURL)
        #expect(pending.health == nil)

        let active = ConnectionObservation(
            F.connection("entra", vendor: .msEntra, state: .active, oauthURL: F.oauthURL), identifier: "entra")
        #expect(!active.oauthPending)
        #expect(active.oauthAuthorizeURL == nil)
        #expect(ConnectionDiff.changes(previous: pending, current: active).contains(.oauthCompleted))

        let plain = ConnectionObservation(F.connection("tenable", details: nil), identifier: "tenable")
        #expect(!plain.oauthPending)
        #expect(plain.health?.details == [])
    }
}
