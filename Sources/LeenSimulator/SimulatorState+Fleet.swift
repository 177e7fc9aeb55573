import Foundation
import LeenAPI

extension SimulatorState {
    /// Creates the pre-populated fleet: organizations, then connections spread round-robin over them and
    /// over a seeded shuffle of the documented vendors. Each connection already has a few jobs behind it at a
    /// seeded phase, some OAuth ones still wait for authorisation, and about 2% are paused.
    static func populate(_ data: inout SimulatorData, configuration: SimulatorConfiguration, start: Double) {
        guard configuration.organizations > 0 else { return }
        for index in 0..<configuration.organizations {
            let id = OrganizationID(data.ids.uuid())
            let organization = Organization(
                id: id, name: "Simulated Organization \(index + 1)", identifier: "org-\(index + 1)",
                createdAt: Timestamp(Date(timeIntervalSince1970: start - 86_400)),
                updatedAt: Timestamp(Date(timeIntervalSince1970: start - 86_400)))
            data.organizations[id] = OrganizationRecord(organization: organization)
            data.organizationOrder.append(id)
        }
        data.connections.reserveCapacity(data.connections.count + configuration.connections)
        var vendors = Vendor.documentedValues
        vendors.shuffle(using: &data.ids)
        let interval = Double(configuration.refreshIntervalSecs)
        for index in 0..<configuration.connections {
            let organizationID = data.organizationOrder[index % data.organizationOrder.count]
            let vendor = vendors[index % vendors.count]
            let id = ConnectionID(data.ids.uuid())
            let key = SeededRandom.key(id.rawValue)
            let created = start - 3 * interval - 600
            var record = ConnectionRecord(
                connection: Connection(
                    id: id, vendor: vendor, isActive: true, refreshIntervalSecs: configuration.refreshIntervalSecs,
                    timeoutSecs: configuration.timeoutSecs, organizationID: organizationID, state: .active,
                    identifier: "\(vendor.rawValue.lowercased().replacingOccurrences(of: "_", with: "-"))-\(index + 1)",
                    createdAt: Timestamp(Date(timeIntervalSince1970: created)),
                    updatedAt: Timestamp(Date(timeIntervalSince1970: created))),
                key: key,
                jobBase: start - 2 * interval - SeededRandom.unit(configuration.seed, key, 100) * interval)
            if vendor.authorization == .oauth2,
                SeededRandom.unit(configuration.seed, key, 101) < configuration.oauthPendingShare
            {
                record.connection.state = .pending
                record.connection.isActive = false
                record.oauthPending = true
                record.showsAuthorizeURL = true
            } else if SeededRandom.unit(configuration.seed, key, 102) < 0.02 {
                record.connection.state = .paused
                record.connection.isActive = false
                record.connection.health = ConnectionHealthStatus(documented: .healthy)
            }
            data.connections[id] = record
            data.organizations[organizationID]?.connectionIDs.append(id)
        }
    }

    /// Adds a scenario's organizations, connections and steps.
    static func load(
        _ scenario: Scenario, into data: inout SimulatorData, configuration: SimulatorConfiguration, start: Double
    ) throws {
        if let random = scenario.randomEvolution { data.randomEvolution = random }
        for (index, entry) in (scenario.organizations ?? []).enumerated() {
            let id = OrganizationID(entry.id ?? data.ids.uuid())
            guard data.organizations[id] == nil else {
                throw ScenarioError(message: "organizations[\(index)]: duplicate id \(id)")
            }
            data.organizations[id] = OrganizationRecord(
                organization: Organization(
                    id: id, name: entry.name, identifier: entry.identifier,
                    createdAt: Timestamp(Date(timeIntervalSince1970: start)),
                    updatedAt: Timestamp(Date(timeIntervalSince1970: start))))
            data.organizationOrder.append(id)
        }
        // Organization references (id or identifier) resolve through a map made once; searching the organization
        // list for each connection cost organizations x connections. The first organization in creation order
        // that has the reference as its id or identifier wins, as before.
        var organizationsByReference: [String: OrganizationID] = [:]
        for id in data.organizationOrder {
            if organizationsByReference[id.rawValue] == nil { organizationsByReference[id.rawValue] = id }
            if let identifier = data.organizations[id]?.organization.identifier,
                organizationsByReference[identifier] == nil
            {
                organizationsByReference[identifier] = id
            }
        }
        data.connections.reserveCapacity(data.connections.count + (scenario.connections?.count ?? 0))
        let scripted = Set((scenario.steps ?? []).compactMap(\.connection))
        for (index, entry) in (scenario.connections ?? []).enumerated() {
            guard let organizationID = organizationsByReference[entry.organization] else {
                throw ScenarioError(
                    message: "connections[\(index)]: unknown organization '\(entry.organization)'")
            }
            let id = ConnectionID(entry.id ?? data.ids.uuid())
            guard !data.connections.contains(id) else {
                throw ScenarioError(message: "connections[\(index)]: duplicate id \(id)")
            }
            let oauthPending = entry.oauthPending ?? false
            let state = entry.state ?? (oauthPending ? .pending : .active)
            var record = ConnectionRecord(
                connection: Connection(
                    id: id, vendor: entry.vendor, isActive: state == .active,
                    refreshIntervalSecs: configuration.refreshIntervalSecs, timeoutSecs: configuration.timeoutSecs,
                    organizationID: organizationID, state: state, identifier: entry.identifier,
                    createdAt: Timestamp(Date(timeIntervalSince1970: start)),
                    updatedAt: Timestamp(Date(timeIntervalSince1970: start))),
                key: SeededRandom.key(id.rawValue),
                jobBase: start + Double(configuration.refreshIntervalSecs))
            record.oauthPending = oauthPending
            record.showsAuthorizeURL = oauthPending
            record.scripted = scripted.contains(id.rawValue) || entry.identifier.map(scripted.contains) ?? false
            if !oauthPending, state != .pending {
                record.connection.health = health(entry.health ?? .healthy, details: entry.details)
            }
            data.connections[id] = record
            data.organizations[organizationID]?.connectionIDs.append(id)
        }
        data.steps = (scenario.steps ?? []).sorted { $0.at < $1.at }
        for (index, step) in data.steps.enumerated() {
            if let reference = step.connection, find(reference, in: data) == nil {
                throw ScenarioError(message: "steps[\(index)] (at \(step.at)): unknown connection '\(reference)'")
            }
        }
    }
}
