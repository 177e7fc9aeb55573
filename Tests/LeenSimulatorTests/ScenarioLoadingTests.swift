import Foundation
import LeenAPI
import Synchronization
import Testing

@testable import LeenSimulator

/// Loading and applying a scenario does work proportional to its size. Walks over the whole fleet are counted
/// by the connection store (``ConnectionStore/visited``); a lookup that scanned the fleet per step (as one did,
/// making 20,000 steps load in 20 s) shows up here as steps x connections visits, without timing anything.
@Suite("Scenario loading stays linear")
struct ScenarioLoadingTests {
    static func visited(_ state: SimulatorState) -> Int { state.data.withLock { $0.connections.visited } }

    /// `count` connections over 10 organizations named by identifier, and a step per connection, half of
    /// them naming the connection by identifier and half by id, all due at `at`.
    static func scenario(count: Int, at: Double = 60) -> Scenario {
        let organizations = (1...10).map { Scenario.Organization(id: nil, name: "O\($0)", identifier: "o\($0)") }
        let connections = (0..<count).map { index in
            Scenario.Connection(
                id: connectionID(index), organization: "o\(index % 10 + 1)", vendor: .tenable,
                identifier: "c\(index)")
        }
        let steps = (0..<count).map { index in
            Scenario.Step(
                at: at, connection: index.isMultiple(of: 2) ? "c\(index)" : connectionID(index),
                health: .internalError)
        }
        return Scenario(organizations: organizations, connections: connections, steps: steps)
    }

    static func connectionID(_ index: Int) -> String {
        "00000000-0000-4000-8000-" + String(String(index, radix: 16).leftPadded(to: 12))
    }

    @Test("Loading 10,000 steps and applying them walks the fleet only for the summary")
    func stepsDoNotWalkTheFleet() throws {
        let count = 10_000
        let state = try SimulatorState(configuration: .frozen { $0.failureRate = 0 }, scenario: Self.scenario(count: count))
        // Every step's connection was checked at load, by identifier or id, without a walk.
        #expect(Self.visited(state) == 0)
        #expect(state.summary().byHealth == ["HEALTHY": count])
        #expect(Self.visited(state) == count)

        state.advanceClock(by: 60)
        let summary = state.summary()
        // The summary walks once; the 10,000 steps applied before it added nothing.
        #expect(Self.visited(state) == 2 * count)
        #expect(summary.byHealth == ["INTERNAL_ERROR": count])
    }

    @Test("A batch of removals in one organization leaves its list right, without walking the fleet")
    func batchOfRemovals() async throws {
        let count = 3_000
        var scenario = Scenario(
            organizations: [.init(id: ScenarioTests.organizationID, name: "Acme", identifier: "acme")],
            connections: (0..<count).map {
                .init(id: Self.connectionID($0), organization: "acme", vendor: .tenable, identifier: "c\($0)")
            })
        // Every other connection is removed at t = 30, by identifier.
        scenario.steps = stride(from: 0, to: count, by: 2).map { .init(at: 30, connection: "c\($0)", remove: true) }
        try await withSimulator(.frozen(), scenario: scenario) { sim async throws in
            sim.advance(30)
            let reply = try await sim.get(connectionsPath(ScenarioTests.organizationID) + "?limit=1000&offset=1000")
            #expect(reply.json?["total"]?.intValue == count / 2)
            let identifiers = try #require(reply.json?["items"]?.arrayValue).compactMap { $0["identifier"]?.stringValue }
            #expect(identifiers == stride(from: 2001, to: 3000, by: 2).map { "c\($0)" })
            #expect(Self.visited(sim.state) == 0)
            #expect(sim.state.summary().connections == count / 2)
            // A removed identifier is gone from the index too.
            #expect(try await sim.send("PUT", "/_sim/connections/c0/state", body: #"{"state":"PAUSED"}"#, key: nil).status == 404)
        }
    }

    @Test("Organizations are found by id or identifier, the first in creation order winning")
    func organizationReferences() async throws {
        let first = "0b0e6c0e-1111-4aaa-8bbb-00000000000a"
        let second = "0b0e6c0e-1111-4aaa-8bbb-00000000000b"
        // The second organization's identifier is the first one's id: a reference to it means the first.
        let scenario = Scenario(
            organizations: [
                .init(id: first, name: "First", identifier: "shared"),
                .init(id: second, name: "Second", identifier: first),
            ],
            connections: [
                .init(organization: first, vendor: .tenable, identifier: "by-id"),
                .init(organization: "shared", vendor: .tenable, identifier: "by-identifier"),
                .init(organization: second, vendor: .tenable, identifier: "second"),
            ])
        try await withSimulator(.frozen(), scenario: scenario) { sim async throws in
            let inFirst = try await sim.items(connectionsPath(first)).compactMap { $0["identifier"]?.stringValue }
            #expect(inFirst == ["by-id", "by-identifier"])
            let inSecond = try await sim.items(connectionsPath(second)).compactMap { $0["identifier"]?.stringValue }
            #expect(inSecond == ["second"])
        }
    }
}

@Suite("Identifier index")
struct IdentifierIndexTests {
    @Test("The smallest id of an identifier is found; removing it promotes the next; moves re-index")
    func index() {
        var index = IdentifierIndex()
        index.insert("b", identifier: "x")
        index.insert("c", identifier: "x")
        index.insert("a", identifier: "x")
        index.insert("d", identifier: nil)
        #expect(index.first("x") == "a")
        #expect(Set(index.all("x")) == ["a", "b", "c"])
        index.remove("a", identifier: "x")
        #expect(index.first("x") == "b")
        index.move("b", from: "x", to: "y")
        #expect(index.first("x") == "c")
        #expect(index.first("y") == "b")
        index.remove("c", identifier: "x")
        #expect(index.first("x") == nil)
        #expect(index.all("x").isEmpty)
    }

    @Test("A PATCHed identifier is found under its new name only; a shared identifier names the smallest id")
    func patchedIdentifier() async throws {
        try await withSimulator(.frozen { $0.failureRate = 0 }) { sim async throws in
            let acme = try await sim.createOrganization()
            let other = try await sim.createOrganization(name: "Other", identifier: "other")
            let a = try await sim.createTenable(acme, identifier: "shared")
            let b = try await sim.createTenable(other, identifier: "shared")
            let (low, high) = a < b ? (a, b) : (b, a)
            let paused = try await sim.send("PUT", "/_sim/connections/shared/state", body: #"{"state":"PAUSED"}"#, key: nil)
            #expect(paused.json?["id"]?.stringValue == low)

            let lowOrganization = low == a ? acme : other
            #expect(try await sim.patch(connectionPath(lowOrganization, low), #"{"identifier":"renamed"}"#).status == 200)
            let renamed = try await sim.send("PUT", "/_sim/connections/renamed/state", body: #"{"state":"ACTIVE"}"#, key: nil)
            #expect(renamed.json?["id"]?.stringValue == low)
            let shared = try await sim.send("PUT", "/_sim/connections/shared/state", body: #"{"state":"PAUSED"}"#, key: nil)
            #expect(shared.json?["id"]?.stringValue == high)

            #expect(try await sim.delete("/_sim/connections/\(high)", key: nil).status == 200)
            let gone = try await sim.send("PUT", "/_sim/connections/shared/state", body: #"{"state":"PAUSED"}"#, key: nil)
            #expect(gone.status == 404)
        }
    }
}
