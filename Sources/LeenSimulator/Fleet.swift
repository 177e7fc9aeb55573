import Foundation
import LeenAPI

/// A fleet as leen-healthd's configuration declares it: organizations, each with the identifier and vendor of
/// its connections. Read from a scenario file or listed through the provisioning API of a running leen-sim;
/// ``daemonConfiguration(_:)`` writes the configuration (`leen-sim fleet config`).
public struct Fleet: Sendable, Equatable {
    public struct Organization: Sendable, Equatable {
        public var id: String
        public var name: String
        public var connections: [Connection]

        public init(id: String, name: String, connections: [Connection] = []) {
            self.id = id
            self.name = name
            self.connections = connections
        }
    }

    public struct Connection: Sendable, Equatable {
        public var identifier: String
        public var vendor: Vendor

        public init(identifier: String, vendor: Vendor) {
            self.identifier = identifier
            self.vendor = vendor
        }
    }

    public var organizations: [Organization]
    /// Connections of the source that cannot be declared and were left out: soft-deleted ones and those
    /// without an identifier (leen-healthd knows connections by identifier).
    public var skipped: Int

    public init(organizations: [Organization], skipped: Int = 0) {
        self.organizations = organizations
        self.skipped = skipped
    }

    public var connectionCount: Int { organizations.reduce(0) { $0 + $1.connections.count } }

    /// The vendors of the declared connections, in order of first appearance.
    public var vendors: [Vendor] {
        var seen = Set<Vendor>()
        return organizations.flatMap(\.connections).map(\.vendor).filter { seen.insert($0).inserted }
    }

    /// The fleet a scenario creates at start. Every organization needs its `id` (leen-sim draws missing ids from
    /// its seed, and the configuration must name the ids it will have); connections name their organization by
    /// id or identifier, as in the simulator.
    public init(scenario: Scenario) throws {
        var organizations: [Organization] = []
        var byReference: [String: Int] = [:]
        for (index, entry) in (scenario.organizations ?? []).enumerated() {
            guard let id = entry.id, !id.isEmpty else {
                throw FleetError(
                    "organizations[\(index)] has no id: the configuration must name the id leen-sim gives it; "
                        + "set ids in the scenario, or list a running leen-sim instead (--from-url)")
            }
            if byReference[id] == nil { byReference[id] = index }
            if let identifier = entry.identifier, byReference[identifier] == nil { byReference[identifier] = index }
            organizations.append(Organization(id: id, name: entry.name.isEmpty ? id : entry.name))
        }
        var skipped = 0
        for (index, entry) in (scenario.connections ?? []).enumerated() {
            guard let organization = byReference[entry.organization] else {
                throw FleetError("connections[\(index)]: unknown organization '\(entry.organization)'")
            }
            guard entry.state != .deleted, let identifier = entry.identifier, !identifier.isEmpty else {
                skipped += 1
                continue
            }
            organizations[organization].connections.append(Connection(identifier: identifier, vendor: entry.vendor))
        }
        self.init(organizations: organizations, skipped: skipped)
        try checkUniqueIdentifiers()
    }

    /// leen-healthd refuses a configuration that declares an identifier twice in one organization; say so here,
    /// where the cause is visible.
    func checkUniqueIdentifiers() throws {
        for organization in organizations {
            var seen = Set<String>()
            for connection in organization.connections where !seen.insert(connection.identifier).inserted {
                throw FleetError(
                    "organization \(organization.id) has two connections with identifier '\(connection.identifier)'; "
                        + "leen-healthd's configuration needs identifiers unique within an organization")
            }
        }
    }
}

/// A fleet that cannot be generated or declared as asked.
public struct FleetError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
