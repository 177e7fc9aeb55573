import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("Seeded determinism")
struct DeterminismTests {
    static func config(seed: UInt64) -> SimulatorConfiguration {
        .frozen {
            $0.seed = seed
            $0.organizations = 3
            $0.connections = 60
            $0.failureRate = 0.3
            // oauth2_authorize_url would otherwise carry each run's own port.
            $0.publicBaseURL = "http://leen-sim.test"
        }
    }

    /// Clock advances between snapshots (cumulative): within a job interval, across one, across many.
    static let advances: [Double] = [0, 600, 14_400, 3 * 14_400 + 17, 86_400 * 3]

    /// The organization list, then every organization's full connection list, at each clock advance.
    static func history(seed: UInt64) async throws -> [JSONValue] {
        try await withSimulator(config(seed: seed)) { sim async throws in
            var snapshots: [JSONValue] = []
            for advance in advances {
                sim.advance(advance)
                let organizations = try await sim.get(organizationsPath)
                #expect(organizations.status == 200)
                snapshots.append(try #require(organizations.json))
                for id in sim.state.organizationIDs() {
                    let connections = try await sim.get(connectionsPath(id.rawValue) + "?limit=1000")
                    #expect(connections.status == 200)
                    snapshots.append(try #require(connections.json))
                }
            }
            return snapshots
        }
    }

    static func connectionIDs(_ snapshots: [JSONValue]) -> [String] {
        snapshots.flatMap { $0["items"]?.arrayValue ?? [] }.filter { $0["vendor"] != nil }
            .compactMap { $0["id"]?.stringValue }
    }

    @Test("The same seed and configuration replay the same fleet and the same health history")
    func sameSeedSameHistory() async throws {
        let first = try await Self.history(seed: 42)
        let second = try await Self.history(seed: 42)
        #expect(first.count == second.count)
        #expect(first.count == Self.advances.count * 4)
        for (index, (a, b)) in zip(first, second).enumerated() {
            #expect(a == b, "snapshot \(index) differs")
        }

        // The snapshots really hold the fleet: 3 organizations, 60 connections, spread round-robin.
        let organizations = try #require(first.first?["items"]?.arrayValue)
        #expect(organizations.count == 3)
        let perOrganization = first[1...3].map { $0["items"]?.arrayValue?.count ?? 0 }
        #expect(perOrganization == [20, 20, 20])
        #expect(Set(Self.connectionIDs(Array(first[0..<4]))).count == 60)

        // And health does evolve over the snapshots, so the comparison covers a real history.
        let healthNames = first.flatMap { $0["items"]?.arrayValue ?? [] }.compactMap { $0["health"]?["name"]?.stringValue }
        #expect(Set(healthNames).count > 2)
        // Pending OAuth connections point at the configured public base URL.
        let urls = first.flatMap { $0["items"]?.arrayValue ?? [] }.compactMap { $0["oauth2_authorize_url"]?.stringValue }
        #expect(!urls.isEmpty)
        #expect(urls.allSatisfy { $0.hasPrefix("http://leen-sim.test/_sim/oauth/authorize?connection_id=") })
        let firstHealth = first[1...3].flatMap { $0["items"]?.arrayValue ?? [] }.map { $0["health"] }
        let lastHealth = first.suffix(3).flatMap { $0["items"]?.arrayValue ?? [] }.map { $0["health"] }
        #expect(firstHealth != lastHealth)
    }

    @Test("The same seed gives byte-identical responses")
    func byteIdentical() async throws {
        func bodies(seed: UInt64) async throws -> [Data] {
            try await withSimulator(Self.config(seed: seed)) { sim async throws in
                var bodies: [Data] = []
                for advance in [0.0, 14_400, 86_400] {
                    sim.advance(advance)
                    bodies.append(try await sim.get(organizationsPath).body)
                    for id in sim.state.organizationIDs() {
                        let reply = try await sim.get(connectionsPath(id.rawValue) + "?limit=1000")
                        bodies.append(reply.body)
                        let first = try #require(reply.json?["items"]?[0]?["id"]?.stringValue)
                        bodies.append(try await sim.get(connectionPath(id.rawValue, first)).body)
                    }
                }
                return bodies
            }
        }
        let first = try await bodies(seed: 11)
        let second = try await bodies(seed: 11)
        #expect(first.count == 21)
        #expect(first == second)
    }

    @Test("A different seed gives different ids and a different history")
    func differentSeedDiffers() async throws {
        let a = try await Self.history(seed: 42)
        let b = try await Self.history(seed: 43)
        let idsA = Self.connectionIDs(Array(a[0..<4]))
        let idsB = Self.connectionIDs(Array(b[0..<4]))
        #expect(idsA.count == 60 && idsB.count == 60)
        #expect(Set(idsA).isDisjoint(with: Set(idsB)))
        let organizationsA = a[0]["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
        let organizationsB = b[0]["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
        #expect(organizationsA != organizationsB)
    }

    @Test("Ids handed out by the API follow the seed too")
    func apiCreatedIDsAreSeeded() async throws {
        func run(seed: UInt64) async throws -> (ids: [String], list: JSONValue) {
            try await withSimulator(.frozen { $0.seed = seed; $0.failureRate = 0.5 }) { sim async throws in
                var ids: [String] = []
                let organization = try await sim.createOrganization()
                ids.append(organization)
                for n in 0..<5 { ids.append(try await sim.createTenable(organization, identifier: "c\(n)")) }
                sim.advance(60 + 14_400 * 4)
                let list = try #require(try await sim.get(connectionsPath(organization)).json)
                return (ids, list)
            }
        }
        let first = try await run(seed: 9)
        let second = try await run(seed: 9)
        #expect(first.ids == second.ids)
        #expect(first.list == second.list)
        #expect(first.list["items"]?.arrayValue?.count == 5)
        let other = try await run(seed: 10)
        #expect(first.ids[0] != other.ids[0])
        #expect(first.list != other.list)
    }

    @Test("Same seed: the control API's summary is identical too")
    func summariesMatch() async throws {
        func summary(seed: UInt64) async throws -> (SimulatorState.Summary, [OrganizationID]) {
            try await withSimulator(Self.config(seed: seed)) { sim async throws in
                sim.advance(14_400 * 2)
                return (sim.state.summary(), sim.state.organizationIDs())
            }
        }
        let (a, idsA) = try await summary(seed: 5)
        let (b, idsB) = try await summary(seed: 5)
        #expect(idsA == idsB)
        #expect(a.byHealth == b.byHealth)
        #expect(a.byState == b.byState)
        #expect(a.connections == 60)
        #expect(a.byState.values.reduce(0, +) == 60)
        #expect(a.simulatedTime == timestamp(14_400 * 2))
    }
}
