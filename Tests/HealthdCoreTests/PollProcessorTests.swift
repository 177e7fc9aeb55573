import Foundation
import HealthdCore
import LeenAPI
import Testing

@Suite("Poll processor")
struct PollProcessorTests {
    typealias F = Fixture

    /// One organization polled again and again; minutes count from ``Fixture/time``.
    struct Organization {
        var state = OrganizationState()
        var declared: Set<String> = ["a", "b", "c"]

        mutating func poll(
            _ listed: [Connection], unreadable: [UndecodableItem] = [], at minute: Double
        ) -> [HealthEvent] {
            let (next, events) = PollProcessor.apply(
                listed: listed, unreadable: unreadable, declared: declared, organizationID: F.organization, to: state,
                context: F.context(at: F.at(minute)))
            state = next
            return events
        }

        mutating func fail(_ kind: PollFailure.Kind, at minute: Double) -> [HealthEvent] {
            let failure = PollFailure(kind: kind, summary: "list_connections: \(kind)")
            let (next, events) = PollProcessor.apply(
                failure: failure, organizationID: F.organization, to: state,
                context: F.context(at: F.at(minute)))
            state = next
            return events
        }
    }

    static let fleet = [F.connection("a"), F.connection("b", health: .unauthorized), F.connection("c")]

    /// `(kind, identifier)` of each event, for compact comparisons.
    static func summary(_ events: [HealthEvent]) -> [String] {
        events.map { event in
            [event.kind.rawValue, event[field: "LEEN_IDENTIFIER"]].compactMap { $0 }.joined(separator: " ")
        }
    }

    @Test func firstPollMonitorsDeclaredConnectionsOnly() throws {
        var org = Organization()
        org.declared = ["a", "b", "never-listed"]
        let events = org.poll(
            Self.fleet + [F.connection("undeclared"), F.connection(nil, id: "anonymous")], at: 0)
        // b is first seen UNAUTHORIZED, which is confirmed at once: the confirmation pages, not the health event.
        #expect(
            Self.summary(events) == [
                "connection_monitored a", "connection_monitored b", "connection_unhealthy_confirmed b",
            ])
        #expect(events[1].priority == .notice)
        #expect(events[2].priority == .error)
        #expect(org.state.api == .ok)
        #expect(!org.state.isStale)
        #expect(org.state.lastSuccessfulPoll == F.time)
        #expect(Set(org.state.connections.keys) == ["a", "b"])
        let b = try #require(org.state.connections["b"])
        #expect(b.observation == ConnectionObservation(Self.fleet[1], identifier: "b"))
        #expect(b.healthSince == F.time && b.changedAt == F.time && b.transitions == 0 && !b.missing)
        #expect(org.poll(Self.fleet, at: 1).isEmpty)
    }

    @Test(arguments: [
        (PollFailure.Kind.timeout, EventKind.apiUnreachable), (.transport, .apiUnreachable),
        (.server, .apiUnreachable), (.rateLimited, .apiUnreachable), (.malformedResponse, .apiUnreachable),
        (.unauthorized, .apiRejected), (.forbidden, .apiRejected),
    ])
    func failedPollIsOneAPIEventAndStaleConnections(_ error: PollFailure.Kind, _ kind: EventKind) throws {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        let before = org.state.connections

        let events = org.fail(error, at: 1)
        #expect(events.map(\.kind) == [kind])
        let event = try #require(events.first)
        // Failures are confirmed after three polls or ten minutes by default; a rejected key at once.
        #expect(event.priority == (kind == .apiRejected ? .error : .notice))
        #expect(event[field: "LEEN_CONFIRMED"] == (kind == .apiRejected ? "true" : "false"))
        #expect(event[field: "LEEN_API_ERROR"] == error.rawValue)
        #expect(event[field: "LEEN_CONNECTION_ID"] == nil)
        #expect(org.state.connections == before)
        #expect(org.state.isStale)
        #expect(org.state.api.name == (kind == .apiRejected ? "rejected" : "unreachable"))
        #expect(org.state.api.failingSince == F.at(1))
        #expect(org.state.consecutiveFailures == 1)
        #expect(org.state.lastSuccessfulPoll == F.time)

        #expect(org.fail(error, at: 2).isEmpty)
        #expect(org.state.consecutiveFailures == 2)
        #expect(org.state.api.failingSince == F.at(1))
        #expect(org.state.lastAttempt == F.at(2))
        #expect(org.state.connections == before)

        // Back with nothing changed: the recovery, and nothing about the connections.
        let recovery = org.poll(Self.fleet, at: 3)
        #expect(recovery.map(\.kind) == [.apiRecovered])
        #expect(recovery.first?.priority == .notice)
        #expect(recovery.first?[field: "LEEN_FAILING_SINCE"] == "2023-11-14T22:14:20.000Z")
        #expect(!org.state.isStale)
        #expect(org.state.consecutiveFailures == 0)
        #expect(org.state.api.failingSince == nil)
    }

    @Test func failureClassChangesAreReportedOnceEachAndKeepTheStartOfTheOutage() {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        #expect(org.fail(.timeout, at: 1).map(\.kind) == [.apiUnreachable])
        #expect(org.fail(.server, at: 2).isEmpty)
        let rejected = org.fail(.unauthorized, at: 3)
        #expect(rejected.map(\.kind) == [.apiRejected])
        #expect(rejected.first?[field: "LEEN_FAILING_SINCE"] == "2023-11-14T22:14:20.000Z")
        #expect(org.fail(.forbidden, at: 4).isEmpty)
        #expect(org.fail(.rateLimited, at: 5).map(\.kind) == [.apiUnreachable])
        #expect(org.state.api.failingSince == F.at(1))
        #expect(org.state.consecutiveFailures == 5)
    }

    @Test func failureBeforeTheFirstPollIsReported() {
        var org = Organization()
        #expect(org.fail(.unauthorized, at: 0).map(\.kind) == [.apiRejected])
        #expect(org.state.connections.isEmpty)
        // The first successful poll after it: recovered, then the connections seen for the first time.
        #expect(
            Self.summary(org.poll(Self.fleet, at: 1)) == [
                "api_recovered", "connection_monitored a", "connection_monitored b",
                "connection_unhealthy_confirmed b", "connection_monitored c",
            ])
    }

    @Test func recoveryReportsOnlyTheChangesThatHappenedMeanwhile() {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        _ = org.fail(.timeout, at: 1)
        _ = org.fail(.timeout, at: 2)
        var changed = Self.fleet
        changed[2] = F.connection("c", health: .vendorServerError)
        let events = org.poll(changed, at: 3)
        #expect(Self.summary(events) == ["api_recovered", "connection_unhealthy c"])
        #expect(events[1][field: "LEEN_PREVIOUS_STATUS"] == "HEALTHY")
    }

    @Test func missingConnectionDisappearsOnceAndReappears() throws {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        let withoutB = [Self.fleet[0], Self.fleet[2]]
        // One listing without it may have shifted under the walk: nothing yet; the second confirms.
        #expect(org.poll(withoutB, at: 0.5).isEmpty)
        #expect(org.state.connections["b"]?.unlistedPolls == 1 && org.state.connections["b"]?.missing == false)
        #expect(Self.summary(org.poll(withoutB, at: 1)) == ["connection_disappeared b", "connection_untracked b"])
        let gone = try #require(org.state.connections["b"])
        #expect(gone.missing && gone.changedAt == F.at(1))
        #expect(gone.observation == ConnectionObservation(Self.fleet[1], identifier: "b"))
        #expect(org.poll(withoutB, at: 2).isEmpty)
        // A failed poll says nothing about presence.
        _ = org.fail(.timeout, at: 3)
        #expect(org.state.connections["b"]?.missing == true)
        #expect(Self.summary(org.poll(withoutB, at: 4)) == ["api_recovered"])

        // Its problem stopped being tracked when it went, so it is confirmed afresh.
        #expect(
            Self.summary(org.poll(Self.fleet, at: 5)) == ["connection_reappeared b", "connection_unhealthy_confirmed b"])
        #expect(org.state.connections["b"]?.missing == false)
        #expect(org.poll(Self.fleet, at: 6).isEmpty)
    }

    @Test func aSingleMissFromOneListingIsForgottenWhenItIsListedAgain() {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        #expect(org.poll([Self.fleet[0], Self.fleet[2]], at: 1).isEmpty)
        #expect(org.poll(Self.fleet, at: 2).isEmpty)
        #expect(org.state.connections["b"]?.unlistedPolls == 0)
        // The count starts again: one more miss is still not a disappearance.
        #expect(org.poll([Self.fleet[0], Self.fleet[2]], at: 3).isEmpty)
    }

    @Test func anEmptyListingIsNotEveryConnectionGone() {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        #expect(org.poll([], at: 1).isEmpty)
        #expect(org.poll(Self.fleet, at: 2).isEmpty)
    }

    @Test func anUnreadableItemKeepsItsConnectionAsItWas() {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        let before = org.state.connections["b"]
        // b comes back unreadable, while c changes: c's change is written, b stays as it was.
        let unreadable = [UndecodableItem(index: 1, id: "conn-b", identifier: "b", reason: ".health: expected String")]
        let events = org.poll([Self.fleet[0], F.connection("c", health: .unauthorized)], unreadable: unreadable, at: 1)
        #expect(Self.summary(events) == ["connection_unhealthy c", "connection_unhealthy_confirmed c"])
        #expect(org.state.connections["b"] == before)
        for minute in 2...4 {
            #expect(
                org.poll([Self.fleet[0], F.connection("c", health: .unauthorized)], unreadable: unreadable, at: Double(minute))
                    .isEmpty)
        }
    }

    @Test func anUnreadableItemWithoutIdentifierStopsEveryDisappearance() {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        let anonymous = [UndecodableItem(index: 0, reason: ": expected object")]
        for minute in 1...3 {
            #expect(org.poll([Self.fleet[0]], unreadable: anonymous, at: Double(minute)).isEmpty)
        }
        #expect(org.state.connections.values.allSatisfy { !$0.missing && $0.unlistedPolls == 0 })
        // Readable again, b and c are gone: confirmed by two listings.
        #expect(org.poll([Self.fleet[0]], at: 4).isEmpty)
        #expect(Self.summary(org.poll([Self.fleet[0]], at: 5)).filter { $0.hasPrefix("connection_disappeared") }.count == 2)
    }

    @Test func reappearingWithOtherHealthSaysBoth() {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        _ = org.poll([Self.fleet[0], Self.fleet[1]], at: 0.5)
        _ = org.poll([Self.fleet[0], Self.fleet[1]], at: 1)
        let events = org.poll([Self.fleet[0], Self.fleet[1], F.connection("c", health: .unauthorized)], at: 2)
        #expect(
            Self.summary(events) == [
                "connection_reappeared c", "connection_unhealthy c", "connection_unhealthy_confirmed c",
            ])
    }

    @Test(arguments: [false, true])
    func duplicateIdentifiersPreferLiveThenNewest(_ reversed: Bool) {
        func order(_ list: [Connection]) -> [Connection] { reversed ? list.reversed() : list }
        var org = Organization()
        org.declared = ["a", "b"]
        _ = org.poll(
            order([
                F.connection("a", id: "a-old", createdAt: "2024-01-01T00:00:00Z"),
                F.connection("a", id: "a-deleted", state: .deleted, isActive: false, createdAt: "2024-06-01T00:00:00Z"),
                F.connection("b", id: "b-old", createdAt: "2024-01-01T00:00:00Z"),
                F.connection("b", id: "b-new", createdAt: "2024-03-01T00:00:00Z"),
            ]), at: 0)
        #expect(org.state.connections["a"]?.observation.connectionID == "a-old")
        #expect(org.state.connections["b"]?.observation.connectionID == "b-new")
    }

    @Test func identifiersNoLongerDeclaredAreUntrackedOnce() throws {
        var org = Organization()
        _ = org.poll(Self.fleet, at: 0)
        org.declared = ["a"]
        let events = org.poll(Self.fleet, at: 1)
        #expect(Self.summary(events) == ["connection_untracked b", "connection_untracked c"])
        #expect(events.allSatisfy { $0[field: "LEEN_REASON"] == "removed_from_config" && $0.priority == .notice })
        // b's confirmed problem is named, so whoever was paged knows it is no longer followed.
        #expect(events[0][field: "LEEN_CONFIRMED"] == "true")
        #expect(events[0].message.contains("UNAUTHORIZED"))
        #expect(events[1][field: "LEEN_CONFIRMED"] == "false")
        #expect(Set(org.state.connections.keys) == ["a"])
        #expect(org.poll([Self.fleet[0]], at: 2).isEmpty)
        org.declared = ["a", "b"]
        #expect(
            Self.summary(org.poll(Self.fleet, at: 3)) == ["connection_monitored b", "connection_unhealthy_confirmed b"])
    }

    @Test("In a poll that also changes declared connections, the undeclared ones' events come first")
    func undeclaredEventsPrecedeTheDeclaredOnes() throws {
        var org = Organization()
        org.declared = ["a", "b", "c"]
        _ = org.poll(Self.fleet, at: 0)
        org.declared = ["a", "d"]
        let changed = [F.connection("a", health: .unauthorized), F.connection("b"), F.connection("d")]
        let events = org.poll(changed, at: 1)
        #expect(Array(Self.summary(events).prefix(3)) == ["connection_untracked b", "connection_untracked c", "connection_unhealthy a"])
        #expect(Self.summary(events).contains("connection_monitored d"))
        #expect(Set(org.state.connections.keys) == ["a", "d"])
        // Every tracked connection declared again: nothing is untracked.
        #expect(!Self.summary(org.poll(changed, at: 2)).contains { $0.hasPrefix("connection_untracked") })
    }

    @Test func transitionsAndHealthSinceFollowHealthChangesOnly() throws {
        var org = Organization()
        org.declared = ["a"]
        func tracked() throws -> TrackedConnection { try #require(org.state.connections["a"]) }

        _ = org.poll([F.connection("a")], at: 0)
        #expect(try tracked().transitions == 0 && tracked().healthSince == F.at(0))

        _ = org.poll([F.connection("a", state: .paused)], at: 1)
        #expect(try tracked().transitions == 0 && tracked().healthSince == F.at(0) && tracked().changedAt == F.at(1))

        _ = org.poll([F.connection("a", state: .paused, health: .unauthorized)], at: 2)
        #expect(try tracked().transitions == 1 && tracked().healthSince == F.at(2) && tracked().changedAt == F.at(2))

        _ = org.poll([F.connection("a", state: .paused, health: .unauthorized)], at: 3)
        #expect(try tracked().transitions == 1 && tracked().healthSince == F.at(2) && tracked().changedAt == F.at(2))

        _ = org.poll(
            [F.connection("a", state: .paused, health: .unauthorized, details: [F.detail("/alerts")])], at: 4)
        #expect(try tracked().transitions == 1 && tracked().healthSince == F.at(2) && tracked().changedAt == F.at(4))

        _ = org.fail(.timeout, at: 5)
        _ = org.poll([F.connection("a", state: .paused, health: .executionTimeout)], at: 6)
        #expect(try tracked().transitions == 2 && tracked().healthSince == F.at(6))

        _ = org.poll([F.connection("a")], at: 7)
        #expect(try tracked().transitions == 3 && tracked().healthSince == F.at(7))
    }

    @Test("Declared identifiers: sorted once, each found by binary search, nothing else found")
    func declaredIdentifiers() {
        let names = ["m", "b", "z", "a", "k", "b", "y", "c"]
        let declared = DeclaredIdentifiers(names)
        #expect(declared.sorted == ["a", "b", "c", "k", "m", "y", "z"])
        for name in names { #expect(declared.contains(name), "\(name)") }
        for name in ["", "0", "aa", "d", "l", "zz", "B"] { #expect(!declared.contains(name), "\(name)") }
        #expect(!DeclaredIdentifiers([String]()).contains("a"))
        #expect(DeclaredIdentifiers(["only"]).contains("only"))
    }
}
