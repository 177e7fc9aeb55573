import LeenAPI
import LeenAPIClient

extension Fleet {
    /// The fleet a running simulator (or any Leen API) serves, listed page by page: live organizations, and
    /// their connections that are not deleted and have an identifier.
    public static func listed(by client: LeenClient, pageSize: Int = 1000) async throws -> Fleet {
        var organizations: [Organization] = []
        var skipped = 0
        for try await page in client.organizationPages(pageSize: pageSize) {
            for organization in page.items {
                var declared: [Connection] = []
                for try await connections in client.connectionPages(
                    organizationID: organization.id, pageSize: pageSize)
                {
                    for connection in connections.items {
                        guard connection.state != .deleted, let identifier = connection.identifier,
                            !identifier.isEmpty
                        else {
                            skipped += 1
                            continue
                        }
                        declared.append(Connection(identifier: identifier, vendor: connection.vendor))
                    }
                }
                let name = organization.name.isEmpty ? organization.id.rawValue : organization.name
                organizations.append(Organization(id: organization.id.rawValue, name: name, connections: declared))
            }
        }
        let fleet = Fleet(organizations: organizations, skipped: skipped)
        try fleet.checkUniqueIdentifiers()
        return fleet
    }
}
