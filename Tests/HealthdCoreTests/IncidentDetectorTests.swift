import Foundation
import HealthdCore
import LeenAPI
import Testing

@Suite("Incident detector")
struct IncidentDetectorTests {
    typealias F = Fixture

    static let rule = Configuration.Incidents(minimumConnections: 10, minimumShare: 0.5, minimumOrganizationSize: 4)
    static let window = Duration.seconds(300)

    static func organization(_ index: Int) -> OrganizationID {
        OrganizationID(String(format: "00000000-0000-4000-8000-%012d", index))
    }

    /// An organization's state: `healthy` healthy connections, then the given unhealthy ones, each with the
    /// number of polls that saw it UNHEALTHY so far (1: it turned UNHEALTHY at this poll).
    static func state(healthy: Int, unhealthy: [(String, HealthName, polls: Int)], since: Date = F.time)
        -> OrganizationState
    {
        var state = OrganizationState()
        state.api = .ok
        for index in 0..<healthy {
            let identifier = "ok-\(index)"
            state.connections[identifier] = TrackedConnection(
                observation: F.observation(identifier), healthSince: since, changedAt: since)
        }
        for (identifier, name, polls) in unhealthy {
            var tracked = TrackedConnection(
                observation: F.observation(identifier, health: F.health(name)), healthSince: since, changedAt: since,
                transitions: 1)
            tracked.alert.unhealthySince = since
            tracked.alert.unhealthyPolls = polls
            state.connections[identifier] = tracked
        }
        return state
    }

    static func turned(_ prefix: String, _ count: Int, _ name: HealthName) -> [(String, HealthName, polls: Int)] {
        (0..<count).map { ("\(prefix)-\($0)", name, polls: 1) }
    }

    struct StormCase: Sendable, CustomTestStringConvertible {
        var name: String
        /// Per organization: healthy connections and those that turned UNHEALTHY at this poll.
        var organizations: [(healthy: Int, turned: [(String, HealthName, polls: Int)])]
        /// Minutes between two organizations' polls.
        var spacing: Double = 0
        var expected: [String]
        var testDescription: String { name }
    }

    static let stormCases: [StormCase] = [
        .init(
            name: "ten UNAUTHORIZED across five organizations", organizations: (0..<5).map { _ in (healthy: 20, turned: turned("c", 2, .unauthorized)) },
            expected: ["health_name UNAUTHORIZED 10"]),
        .init(
            name: "nine are not enough in a large fleet", organizations: (0..<3).map { _ in (healthy: 20, turned: turned("c", 3, .unauthorized)) },
            expected: []),
        .init(
            name: "half of an organization of four", organizations: [(healthy: 2, turned: turned("c", 2, .vendorServerError)), (healthy: 30, turned: [])],
            expected: ["health_name VENDOR_SERVER_ERROR 2"]),
        .init(
            name: "an organization of three is too small, and so is the fleet", organizations: [(healthy: 1, turned: turned("c", 2, .internalError))],
            expected: []),
        .init(
            name: "a single connection is never an incident", organizations: [(healthy: 0, turned: turned("c", 1, .internalError)), (healthy: 0, turned: [])],
            expected: []),
        .init(
            name: "different LEEN names, one owner", organizations: [
                (healthy: 40, turned: turned("t", 4, .executionTimeout) + turned("r", 3, .rateLimitExceeded) + turned("i", 3, .internalError)),
            ], expected: ["resolution_owner LEEN 10"]),
        .init(
            name: "further apart than one poll interval", organizations: (0..<5).map { _ in (healthy: 20, turned: turned("c", 2, .unauthorized)) },
            spacing: 2, expected: []),
    ]

    @Test(arguments: stormCases)
    func storms(_ test: StormCase) {
        var detector = IncidentDetector()
        var started: [String] = []
        let ids = IDSequence()
        for (index, organization) in test.organizations.enumerated() {
            let at = F.at(Double(index) * test.spacing)
            let verdict = detector.observe(
                organization: Self.organization(index),
                state: Self.state(healthy: organization.healthy, unhealthy: organization.turned, since: at), rule: Self.rule,
                window: .seconds(Self.window.seconds * (test.spacing > 0 ? 0.3 : 1)), now: at, makeID: { ids.next() })
            started += verdict.started.map { "\($0.key.dimension.rawValue) \($0.key.value) \($0.members.count)" }
            #expect(verdict.resolved.isEmpty)
        }
        #expect(started == test.expected)
        #expect(detector.open.count == test.expected.count)
    }

    @Test func membersJoinLeaveAndTheIncidentResolves() throws {
        var detector = IncidentDetector()
        let ids = IDSequence()
        let org = Self.organization(1)
        let rule = Configuration.Incidents(minimumConnections: 3, minimumShare: 1, minimumOrganizationSize: 100)
        func observe(_ state: OrganizationState, at minute: Double) -> IncidentDetector.Verdict {
            detector.observe(
                organization: org, state: state, rule: rule, window: Self.window, now: F.at(minute), makeID: { ids.next() })
        }
        let start = observe(Self.state(healthy: 5, unhealthy: Self.turned("c", 3, .unauthorized)), at: 0)
        #expect(start.started.map(\.id) == ["event-1"])
        #expect(start.membership == ["c-0": "event-1", "c-1": "event-1", "c-2": "event-1"])

        // The same connections polled again change nothing, and the verdict says so.
        let unchanged = detector
        let same = observe(
            Self.state(
                healthy: 5, unhealthy: [("c-0", .unauthorized, 2), ("c-1", .unauthorized, 2), ("c-2", .unauthorized, 2)]),
            at: 0.5)
        #expect(!same.changed && same.membership == start.membership && detector == unchanged)

        // A later onset of the same kind joins it, even after the window; another kind does not.
        let joined = observe(
            Self.state(
                healthy: 5,
                unhealthy: [("c-0", .unauthorized, 2), ("c-1", .unauthorized, 2), ("c-2", .unauthorized, 2),
                    ("late", .unauthorized, 1), ("other", .internalError, 1)]), at: 30)
        #expect(joined.started.isEmpty && joined.resolved.isEmpty)
        #expect(Set(joined.membership.keys) == ["c-0", "c-1", "c-2", "late"])
        #expect(detector.open.first?.peak == 4)
        #expect(start.changed && joined.changed)

        // Two recover: two left is no longer a storm of three.
        let resolved = observe(
            Self.state(healthy: 7, unhealthy: [("c-0", .unauthorized, 3), ("late", .unauthorized, 2)]), at: 31)
        #expect(resolved.resolved.map(\.id) == ["event-1"] && resolved.changed)
        #expect(resolved.resolved.first?.members.map(\.identifier) == ["c-0", "late"])
        #expect(resolved.membership.isEmpty)
        #expect(detector.open.isEmpty)
    }

    @Test func connectionsFirstSeenUnhealthyAreNoStorm() {
        var detector = IncidentDetector()
        var state = Self.state(healthy: 0, unhealthy: Self.turned("c", 12, .unauthorized))
        // First seen (no transition yet), and UNHEALTHY since before the alert state began.
        for identifier in ["c-0", "c-1", "c-2", "c-3", "c-4", "c-5"] { state.connections[identifier]?.transitions = 0 }
        for identifier in ["c-6", "c-7", "c-8", "c-9", "c-10"] { state.connections[identifier]?.healthSince = F.at(-60) }
        let verdict = detector.observe(
            organization: Self.organization(1), state: state, rule: Self.rule, window: Self.window, now: F.time,
            makeID: { "incident" })
        #expect(verdict.started.isEmpty)
        #expect(detector.recent.map(\.identifier) == ["c-11"])
    }

    @Test func anOpenIncidentSurvivesEncoding() throws {
        var detector = IncidentDetector()
        let ids = IDSequence()
        _ = detector.observe(
            organization: Self.organization(1), state: Self.state(healthy: 2, unhealthy: Self.turned("c", 2, .unauthorized)),
            rule: Self.rule, window: Self.window, now: F.time, makeID: { ids.next() })
        #expect(detector.open.count == 1)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var decoded = try decoder.decode(IncidentDetector.self, from: encoder.encode(detector))
        #expect(decoded == detector)
        // Restored, it still knows the organization's size: a recovery resolves it.
        let verdict = decoded.observe(
            organization: Self.organization(1), state: Self.state(healthy: 4, unhealthy: []), rule: Self.rule,
            window: Self.window, now: F.at(1), makeID: { ids.next() })
        #expect(verdict.resolved.map(\.id) == ["event-1"])
    }

    /// Members are kept by organization, then identifier, whatever order they join in, so that an
    /// organization's poll finds its own by binary search; another organization's members stay as they are.
    @Test func membersStaySortedAndOnlyThePolledOrganizationsLeave() throws {
        var detector = IncidentDetector()
        let ids = IDSequence()
        let rule = Configuration.Incidents(minimumConnections: 3, minimumShare: 1, minimumOrganizationSize: 100)
        func observe(_ index: Int, _ state: OrganizationState, at minute: Double) -> IncidentDetector.Verdict {
            detector.observe(
                organization: Self.organization(index), state: state, rule: rule, window: Self.window,
                now: F.at(minute), makeID: { ids.next() })
        }
        func members() -> [String] {
            detector.open.first.map { $0.members.map { "\($0.organizationID.rawValue.suffix(1))/\($0.identifier)" } } ?? []
        }
        _ = observe(2, Self.state(healthy: 1, unhealthy: Self.turned("b", 3, .unauthorized)), at: 0)
        _ = observe(3, Self.state(healthy: 1, unhealthy: [("c-1", .unauthorized, 1), ("c-0", .unauthorized, 1)]), at: 1)
        let joined = observe(1, Self.state(healthy: 1, unhealthy: Self.turned("a", 1, .unauthorized)), at: 2)
        #expect(members() == ["1/a-0", "2/b-0", "2/b-1", "2/b-2", "3/c-0", "3/c-1"])
        #expect(joined.membership == ["a-0": "event-1"])

        // Organization 2's b-1 recovers: only it leaves, and organization 2's poll sees only its own.
        let left = observe(
            2, Self.state(healthy: 2, unhealthy: [("b-0", .unauthorized, 2), ("b-2", .unauthorized, 2)]), at: 3)
        #expect(members() == ["1/a-0", "2/b-0", "2/b-2", "3/c-0", "3/c-1"])
        #expect(left.membership == ["b-0": "event-1", "b-2": "event-1"] && left.changed)

        // A file whose members are in another order (written before they were kept sorted) reads sorted.
        var shuffled = try #require(detector.open.first)
        shuffled.members.reverse()
        let decoded = try JSONDecoder().decode(IncidentDetector.Incident.self, from: JSONEncoder().encode(shuffled))
        #expect(decoded == detector.open.first)
    }

    @Test func forgottenOrganizationsLeaveTheirIncidents() {
        var detector = IncidentDetector()
        let ids = IDSequence()
        _ = detector.observe(
            organization: Self.organization(1), state: Self.state(healthy: 2, unhealthy: Self.turned("c", 2, .unauthorized)),
            rule: Self.rule, window: Self.window, now: F.time, makeID: { ids.next() })
        detector.forget([Self.organization(1)])
        #expect(detector.open.first?.members.isEmpty == true)
        let verdict = detector.observe(
            organization: Self.organization(2), state: Self.state(healthy: 3, unhealthy: []), rule: Self.rule,
            window: Self.window, now: F.at(1), makeID: { ids.next() })
        #expect(verdict.resolved.count == 1 && detector.open.isEmpty)
    }

    @Test func incidentEventsCountAndLowerTheirMembers() throws {
        var detector = IncidentDetector()
        let ids = IDSequence()
        let verdict = detector.observe(
            organization: Self.organization(1),
            state: Self.state(healthy: 2, unhealthy: Self.turned("c", 1, .unauthorized) + Self.turned("v", 1, .unauthorized)),
            rule: Self.rule, window: Self.window, now: F.time, makeID: { ids.next() })
        let incident = try #require(verdict.started.first)
        let started = EventBuilder.incidentStarted(incident, context: F.context())
        #expect(started.kind == .incidentStarted && started.priority == .error)
        #expect(started[field: "LEEN_INCIDENT_ID"] == incident.id)
        #expect(started[field: "LEEN_CONNECTIONS"] == "2")
        #expect(started[field: "LEEN_BY_HEALTH_NAME"] == "{\"UNAUTHORIZED\":2}")
        #expect(started[field: "LEEN_BY_RESOLUTION_OWNER"] == "{\"CUSTOMER\":2}")
        #expect(started[field: "LEEN_BY_ORGANIZATION"] == "{\"\(Self.organization(1))\":2}")
        #expect(started[field: "LEEN_EXAMPLES"] == "c-0 (\(Self.organization(1))), v-0 (\(Self.organization(1)))")
        let member = EventBuilder.withinIncident(
            try #require(F.events(from: F.observation("c-0"), to: F.observation("c-0", health: F.health(.unauthorized))).first),
            id: incident.id)
        #expect(member.priority == .info && member[field: "LEEN_INCIDENT_ID"] == incident.id)
        let resolved = EventBuilder.incidentResolved(incident, context: F.context())
        #expect(resolved.kind == .incidentResolved && resolved.priority == .notice)
        #expect(resolved[field: "LEEN_PEAK"] == "2")
    }
}
