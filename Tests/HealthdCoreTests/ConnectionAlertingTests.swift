import Foundation
import HealthdCore
import LeenAPI
import Testing

@Suite("Alerting rules: soft and hard, reminders, flapping, closing events")
struct ConnectionAlertingTests {
    typealias F = Fixture

    /// One organization with one declared connection, `a`, polled under `policy`; minutes count from
    /// ``Fixture/time``.
    struct Harness {
        var policy = Configuration.Alerting()
        var state = OrganizationState()
        var declared: Set<String> = ["a"]

        mutating func poll(_ health: HealthName?, state connectionState: ConnectionState = .active, at minute: Double)
            -> [HealthEvent]
        {
            poll([F.connection("a", state: connectionState, health: health)], at: minute)
        }

        mutating func poll(_ listed: [Connection], at minute: Double) -> [HealthEvent] {
            let (next, events) = PollProcessor.apply(
                listed: listed, declared: declared, organizationID: F.organization, to: state, policy: policy,
                context: F.context(at: F.at(minute)))
            state = next
            return events
        }

        mutating func fail(_ kind: PollFailure.Kind, at minute: Double) -> [HealthEvent] {
            let (next, events) = PollProcessor.apply(
                failure: PollFailure(kind: kind, summary: "list_connections: \(kind)"), organizationID: F.organization,
                to: state, policy: policy, context: F.context(at: F.at(minute)))
            state = next
            return events
        }

        var alert: ConnectionAlertState { state.connections["a"]?.alert ?? ConnectionAlertState() }
    }

    static func kinds(_ events: [HealthEvent]) -> [EventKind] { events.map(\.kind) }

    // MARK: Soft and hard

    struct ConfirmationCase: Sendable, CustomTestStringConvertible {
        var name: String
        var health: HealthName
        var rule: Configuration.ConfirmationRule?
        /// Minutes of the polls that see the problem (after a healthy poll at minute 0).
        var polls: [Double]
        /// The poll (minute) that confirms it, nil for none.
        var confirmedAt: Double?
        var priority: EventPriority = .warning
        var testDescription: String { name }
    }

    static let confirmationCases: [ConfirmationCase] = [
        .init(
            name: "CUSTOMER (UNAUTHORIZED) at once", health: .unauthorized, polls: [1, 2], confirmedAt: 1,
            priority: .error),
        .init(
            name: "LEEN: two polls and an hour", health: .internalError, polls: [1, 2, 30, 60, 61], confirmedAt: 61),
        .init(
            name: "LEEN: one poll is not enough", health: .executionTimeout, polls: [90],
            confirmedAt: nil),
        .init(
            name: "VENDOR: three polls and four hours", health: .vendorServerError, polls: [1, 2, 3, 200, 241],
            confirmedAt: 241),
        .init(
            name: "a rule of three polls and no time", health: .vendorServerError,
            rule: .init(polls: 3), polls: [1, 2, 3, 4], confirmedAt: 3),
        .init(
            name: "a rule for a health name beats the owner's", health: .rateLimitExceeded,
            rule: .immediate, polls: [1], confirmedAt: 1),
    ]

    @Test("A lasting soft problem is counted up to what confirmation needs, then polls leave the state alone")
    func softProblemCountStops() {
        var harness = Harness()
        harness.policy.vendor = .init(polls: 3, minimum: .seconds(4 * 3600))
        _ = harness.poll(.healthy, at: 0)
        for minute in 1...6 { _ = harness.poll(.vendorServerError, at: Double(minute)) }
        #expect(harness.alert.unhealthyPolls == 3)
        #expect(!harness.alert.isConfirmed)
        let before = harness.state
        #expect(harness.poll(.vendorServerError, at: 7).isEmpty)
        #expect(harness.state.differsOnlyInPollTimes(from: before))
        // Confirmed once the time is met too; the event says the count is a lower bound.
        let confirmed = harness.poll(.vendorServerError, at: 4 * 60 + 2).filter { $0.kind == .connectionUnhealthyConfirmed }
        #expect(confirmed.count == 1)
        #expect(confirmed.first?.message.contains("seen by at least 3 poll(s)") == true)
        #expect(confirmed.first?[field: "LEEN_UNHEALTHY_POLLS"] == "3")
    }

    @Test(arguments: confirmationCases)
    func confirmation(_ test: ConfirmationCase) throws {
        var harness = Harness()
        if let rule = test.rule { harness.policy.healthNames[test.health] = rule }
        _ = harness.poll(.healthy, at: 0)
        var confirmedAt: Double?
        for minute in test.polls {
            let events = harness.poll(test.health, at: minute)
            let confirmations = events.filter { $0.kind == .connectionUnhealthyConfirmed }
            #expect(confirmations.count <= 1)
            if let confirmation = confirmations.first {
                #expect(confirmedAt == nil, "confirmed twice")
                confirmedAt = minute
                #expect(confirmation.priority == test.priority)
                #expect(confirmation[field: "LEEN_CONFIRMED"] == "true")
                #expect(confirmation[field: "LEEN_UNHEALTHY_SINCE"] == "2023-11-14T22:14:20.000Z")
                #expect(confirmation[field: "LEEN_HEALTH_NAME"] == test.health.rawValue)
            }
            #expect(harness.alert.isConfirmed == (confirmedAt != nil))
        }
        #expect(confirmedAt == test.confirmedAt)
    }

    @Test func softHealthEventsAreNoticeAndConfirmedChangesKeepTheirPriority() throws {
        var harness = Harness()
        _ = harness.poll(.healthy, at: 0)
        let soft = harness.poll(.internalError, at: 1)
        #expect(Self.kinds(soft) == [.connectionUnhealthy])
        #expect(soft[0].priority == .notice && soft[0][field: "LEEN_CONFIRMED"] == "false")

        // A change of reason while soft stays at notice; the confirming poll writes the confirmation.
        #expect(harness.poll(.executionTimeout, at: 2).map(\.priority) == [.notice])
        #expect(Self.kinds(harness.poll(.executionTimeout, at: 61)) == [.connectionUnhealthyConfirmed])

        // Once hard, a new owner changes who must act: it keeps its usual priority.
        let owner = harness.poll(.unauthorized, at: 62)
        #expect(Self.kinds(owner) == [.connectionReasonChanged])
        #expect(owner[0].priority == .error && owner[0][field: "LEEN_CONFIRMED"] == "true")

        // The recovery says the problem that ended had been confirmed; the next problem starts soft.
        let recovered = harness.poll(.healthy, at: 63)
        #expect(Self.kinds(recovered) == [.connectionRecovered])
        #expect(recovered[0][field: "LEEN_CONFIRMED"] == "true")
        #expect(!harness.alert.isConfirmed && harness.alert.unhealthySince == nil && harness.alert.unhealthyPolls == 0)
        #expect(harness.poll(.internalError, at: 64)[0][field: "LEEN_CONFIRMED"] == "false")
    }

    @Test func pausedConnectionsAreNotConfirmed() {
        var harness = Harness()
        #expect(Self.kinds(harness.poll(.unauthorized, state: .paused, at: 0)) == [.connectionMonitored])
        #expect(!harness.alert.isConfirmed && harness.alert.unhealthyPolls == 0)
        #expect(
            Self.kinds(harness.poll(.unauthorized, at: 1)) == [.connectionStateChanged, .connectionUnhealthyConfirmed])
    }

    // MARK: Reminders

    static let reminderCases: [(Duration?, [Double])] = [(.seconds(24 * 3600), [1441]), (nil, [])]

    @Test(arguments: reminderCases)
    func remindersWhileConfirmed(_ every: Duration?, _ expected: [Double]) {
        var harness = Harness()
        harness.policy.remindEvery = every
        _ = harness.poll(.unauthorized, at: 0)
        var reminded: [Double] = []
        for minute in [1.0, 720, 1439, 1441, 1442, 2000] {
            let events = harness.poll(.unauthorized, at: minute)
            if let reminder = events.first(where: { $0.kind == .connectionStillUnhealthy }) {
                #expect(reminder.priority == .error)
                reminded.append(minute)
            }
        }
        #expect(reminded == expected)
        #expect(harness.poll(.unauthorized, at: 1441 + 1440).contains { $0.kind == .connectionStillUnhealthy } == (every != nil))
    }

    // MARK: Flapping

    @Test func flappingIsReportedOnceThenQuietUntilStable() throws {
        var harness = Harness()
        harness.policy.flapping = .init(changes: 2, window: .seconds(3600), stableFor: .seconds(1800))
        _ = harness.poll(.healthy, at: 0)
        #expect(harness.poll(.unauthorized, at: 1).map(\.priority).contains(.error))
        #expect(Self.kinds(harness.poll(.healthy, at: 2)) == [.connectionRecovered])
        // The third change within the hour: flapping, and the change itself at info.
        let third = harness.poll(.unauthorized, at: 3)
        #expect(
            Self.kinds(third) == [.connectionUnhealthy, .connectionUnhealthyConfirmed, .connectionFlapping])
        #expect(third.map(\.priority) == [.info, .info, .warning])
        #expect(third[2][field: "LEEN_STATUS_CHANGES"] == "3")
        #expect(harness.alert.flappingSince == F.at(3))
        // Further changes: at info, and no second flapping event.
        for minute in [4.0, 5, 6] {
            let events = harness.poll(minute.truncatingRemainder(dividingBy: 2) == 0 ? HealthName.healthy : .unauthorized, at: minute)
            #expect(!events.isEmpty && events.allSatisfy { $0.priority == .info })
            // Only what the rule needs is kept: `changes + 1` timestamps, however often it changes.
            #expect(harness.alert.statusChanges.count <= 3)
        }
        // Not yet stable for 30 minutes since the last change (minute 6).
        #expect(harness.poll(.healthy, at: 35).isEmpty)
        #expect(harness.poll(.unauthorized, at: 36).allSatisfy { $0.priority == .info })
        // Stable: it ends, at the priority of the confirmed problem it is left with.
        let ended = harness.poll(.unauthorized, at: 66)
        #expect(Self.kinds(ended) == [.connectionFlappingEnded])
        #expect(ended[0].priority == .error && ended[0][field: "LEEN_CONFIRMED"] == "true")
        #expect(harness.alert.flappingSince == nil)
        #expect(harness.state.connections["a"]?.alert.statusChanges.count == 1)
    }

    @Test func flappingOffCountsNothing() {
        var harness = Harness()
        harness.policy.flapping = nil
        for minute in 0..<20 {
            let events = harness.poll(minute % 2 == 0 ? HealthName.healthy : .unauthorized, at: Double(minute))
            #expect(!events.contains { $0.kind == .connectionFlapping })
        }
        #expect(harness.alert.statusChanges.isEmpty)
    }

    // MARK: The API

    @Test func apiFailuresAreNoticeUntilConfirmedByCount() throws {
        var harness = Harness()
        _ = harness.poll(.healthy, at: 0)
        let first = harness.fail(.timeout, at: 1)
        #expect(Self.kinds(first) == [.apiUnreachable])
        #expect(first[0].priority == .notice && first[0][field: "LEEN_CONFIRMED"] == "false")
        #expect(harness.fail(.timeout, at: 2).isEmpty)
        let third = harness.fail(.server, at: 3)
        #expect(Self.kinds(third) == [.apiUnreachable])
        #expect(third[0].priority == .error && third[0][field: "LEEN_CONFIRMED"] == "true")
        #expect(third[0][field: "LEEN_FAILING_SINCE"] == "2023-11-14T22:14:20.000Z")
        #expect(harness.state.apiConfirmedAt == F.at(3))
        #expect(harness.fail(.timeout, at: 4).isEmpty)
        let recovered = harness.poll(.healthy, at: 5)
        #expect(Self.kinds(recovered) == [.apiRecovered])
        #expect(recovered[0][field: "LEEN_CONFIRMED"] == "true")
        #expect(harness.state.apiConfirmedAt == nil)
    }

    @Test func apiFailuresAreConfirmedByTime() {
        var harness = Harness()
        harness.policy.api = .init(polls: 10, after: .seconds(600))
        #expect(harness.fail(.timeout, at: 0).map(\.priority) == [.notice])
        #expect(harness.fail(.timeout, at: 9).isEmpty)
        #expect(harness.fail(.timeout, at: 10).map(\.priority) == [.error])
    }

    @Test func rejectionIsConfirmedAtOnceAlsoDuringASoftOutage() {
        var harness = Harness()
        #expect(harness.fail(.timeout, at: 0).map(\.priority) == [.notice])
        let rejected = harness.fail(.forbidden, at: 1)
        #expect(Self.kinds(rejected) == [.apiRejected])
        #expect(rejected[0].priority == .error && rejected[0][field: "LEEN_CONFIRMED"] == "true")
    }

    // MARK: Closing events

    @Test func deletedAndUnlistedConnectionsAreUntracked() throws {
        var harness = Harness()
        _ = harness.poll(.unauthorized, at: 0)
        #expect(harness.alert.isConfirmed)
        let deleted = harness.poll(.unauthorized, state: .deleted, at: 1)
        #expect(Self.kinds(deleted) == [.connectionStateChanged, .connectionUntracked])
        #expect(deleted[1][field: "LEEN_REASON"] == "deleted" && deleted[1][field: "LEEN_CONFIRMED"] == "true")
        #expect(!harness.alert.isConfirmed)
        #expect(harness.poll(.unauthorized, state: .deleted, at: 2).isEmpty)

        var unlisted = Harness()
        _ = unlisted.poll(.vendorServerError, at: 0)
        #expect(unlisted.poll([], at: 0.5).isEmpty)
        let gone = unlisted.poll([], at: 1)
        #expect(Self.kinds(gone) == [.connectionDisappeared, .connectionUntracked])
        #expect(gone[1][field: "LEEN_REASON"] == "not_listed" && gone[1][field: "LEEN_CONFIRMED"] == "false")
        #expect(unlisted.state.connections["a"]?.alert.unhealthySince == nil)
        #expect(unlisted.poll([], at: 2).isEmpty)
    }

    @Test func organizationUntrackedCountsItsProblems() {
        var harness = Harness()
        harness.declared = ["a", "b"]
        _ = harness.poll([F.connection("a", health: .unauthorized), F.connection("b", health: .internalError)], at: 0)
        let event = EventBuilder.organizationUntracked(
            F.organization, state: harness.state, reason: .removedFromConfig, context: F.context())
        #expect(event.kind == .organizationUntracked && event.priority == .notice)
        #expect(event[field: "LEEN_REASON"] == "removed_from_config")
        #expect(event[field: "LEEN_CONNECTIONS"] == "2")
        #expect(event[field: "LEEN_UNHEALTHY"] == "2")
        #expect(event[field: "LEEN_CONFIRMED_UNHEALTHY"] == "1")
    }

    // MARK: State files

    @Test func stateWrittenBeforeAlertingStillDecodes() throws {
        var harness = Harness()
        harness.declared = ["a", "b"]
        _ = harness.poll([F.connection("a", health: .healthy), F.connection("b", health: .healthy)], at: 0)
        _ = harness.poll([F.connection("a", health: .healthy), F.connection("b", health: .vendorServerError)], at: 1)
        _ = harness.fail(.unauthorized, at: 1)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        var json = try #require(
            try JSONSerialization.jsonObject(with: encoder.encode(harness.state)) as? [String: Any])
        #expect(json["apiConfirmedAt"] != nil)
        json["apiConfirmedAt"] = nil
        var connections = try #require(json["connections"] as? [String: [String: Any]])
        #expect(connections["a"]?["alert"] != nil && connections["b"]?["alert"] != nil)
        connections["a"]?["alert"] = nil
        connections["b"]?["alert"] = nil
        json["connections"] = connections
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let old = try decoder.decode(OrganizationState.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.apiConfirmedAt == nil)
        #expect(old.connections["a"]?.alert == ConnectionAlertState())
        #expect(old.connections["b"]?.observation == harness.state.connections["b"]?.observation)
        #expect(old.api == harness.state.api)
        // The daemon that wrote it had paged b's problem already: it counts as confirmed since it began.
        let b = try #require(old.connections["b"]?.alert)
        #expect(b.confirmedAt == F.at(1) && b.unhealthySince == F.at(1) && b.unhealthyPolls == 1)

        // So the first poll after the upgrade pages nothing again.
        harness.state = old
        harness.state.api = .ok
        let next = harness.poll([F.connection("a", health: .healthy), F.connection("b", health: .vendorServerError)], at: 2)
        #expect(next.isEmpty)
        // A confirmed problem is counted up to 2 (the incident detector's "not a first poll") and no further,
        // so from then on a poll that sees it again changes nothing the state file must keep (the monitor
        // then leaves the file as it is).
        #expect(harness.state.connections["b"]?.alert.unhealthyPolls == 2)
        let before = harness.state
        #expect(harness.poll([F.connection("a", health: .healthy), F.connection("b", health: .vendorServerError)], at: 3).isEmpty)
        #expect(harness.state.differsOnlyInPollTimes(from: before))
        #expect(harness.state != before)
    }
}
