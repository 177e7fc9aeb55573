import Foundation
import LeenAPI

extension Scenario {
    /// A scenario of a plain fleet for benchmarks (`leen-sim fleet scenario`): `organizations` organizations
    /// `o1`…, and `connections` connections `c1`… spread round-robin over them, all of `vendor` without
    /// credentials, ACTIVE and HEALTHY at start, with random evolution on. Ids are drawn from `seed`, so the same
    /// arguments give the same file.
    ///
    /// SNYK, the default, connects through OAuth unless given an API key: a scenario connection has none, so
    /// leen-healthd declares it without credentials.
    public static func fleet(
        organizations: Int, connections: Int, seed: UInt64 = 1, vendor: Vendor = .snyk
    ) throws -> Scenario {
        guard organizations >= 1 else { throw FleetError("organizations must be at least 1, found \(organizations)") }
        guard connections >= 0 else { throw FleetError("connections must be at least 0, found \(connections)") }
        var random = SeededRandom(seed: seed)
        var organizationEntries: [Organization] = []
        organizationEntries.reserveCapacity(organizations)
        for index in 1...organizations {
            organizationEntries.append(Organization(id: random.uuid(), name: "o\(index)", identifier: "o\(index)"))
        }
        var connectionEntries: [Connection] = []
        connectionEntries.reserveCapacity(connections)
        for index in 0..<connections {
            connectionEntries.append(
                Connection(
                    id: random.uuid(), organization: organizationEntries[index % organizations].id!, vendor: vendor,
                    identifier: "c\(index + 1)"))
        }
        return Scenario(randomEvolution: true, organizations: organizationEntries, connections: connectionEntries)
    }

    /// The scenario as a file's JSON (compact), readable by ``load(path:)``. Keys are sorted: the same scenario
    /// gives the same bytes.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
