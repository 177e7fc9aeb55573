import LeenAPI
import Foundation
import NIOCore
import NIOHTTP1

// The provisioning operations. Paths are relative to the endpoint's base URL, which includes `/v1`.
extension LeenClient {
    static let organizations = ["provisioning", "organizations"]

    static func connectionsPath(_ organization: OrganizationID) -> [String] {
        organizations + [organization.rawValue, "connections"]
    }

    static func connectionPath(_ organization: OrganizationID, _ connection: ConnectionID) -> [String] {
        connectionsPath(organization) + [connection.rawValue]
    }

    // MARK: Organizations

    /// `POST /provisioning/organizations`. Not retried: a retry could create a second organization.
    public func createOrganization(_ request: CreateOrganizationRequest) async throws -> Organization {
        try await call(
            Endpoint(operation: "create_organization", method: .POST, path: Self.organizations, idempotent: false),
            body: request)
    }

    /// `GET /provisioning/organizations`: one page.
    public func listOrganizations(_ page: PageRequest = PageRequest()) async throws -> Page<Organization> {
        try await call(
            Endpoint(
                operation: "list_organizations", method: .GET, path: Self.organizations, query: page.queryItems,
                idempotent: true))
    }

    /// Every page of `GET /provisioning/organizations`.
    public func organizationPages(
        pageSize: Int = 100, mode: PaginationMode = .offset, excludeTotal: Bool = false
    ) -> PageSequence<Organization> {
        PageSequence(pageSize: pageSize, mode: mode, excludeTotal: excludeTotal, identify: { $0.map(\.id.rawValue) }) {
            request in
            try await listOrganizations(request)
        }
    }

    /// `GET /provisioning/organizations/{organization_id}`.
    public func getOrganization(_ id: OrganizationID) async throws -> Organization {
        try await call(
            Endpoint(
                operation: "get_organization_by_id", method: .GET, path: Self.organizations + [id.rawValue],
                idempotent: true))
    }

    /// `DELETE /provisioning/organizations/{organization_id}` (soft delete; the path is not documented).
    /// Returns the organization when the response body is one.
    @discardableResult
    public func deleteOrganization(_ id: OrganizationID) async throws -> Organization? {
        let body: JSONValue = try await call(
            Endpoint(
                operation: "delete_organization_by_id", method: .DELETE, path: Self.organizations + [id.rawValue],
                idempotent: true))
        guard let data = try? JSONEncoder.compact.encode(body) else { return nil }
        return try? JSONDecoder().decode(Organization.self, from: data)
    }

    // MARK: Connections

    /// `POST …/connections`.
    ///
    /// When the request has an `identifier` and an attempt fails transiently, the client first lists the
    /// organization's connections: if one with that identifier exists, the create took effect and it is
    /// returned. Only if none exists is the create sent again. Without an identifier it is never retried.
    public func createConnection(
        organizationID: OrganizationID, _ request: CreateConnectionRequest
    ) async throws -> Connection {
        let endpoint = Endpoint(
            operation: "create_connection", method: .POST, path: Self.connectionsPath(organizationID),
            idempotent: false)
        guard let identifier = request.identifier else {
            return try await call(endpoint, body: request)
        }
        return try await call(endpoint, body: request) {
            try await findConnection(organizationID: organizationID, identifier: identifier)
        }
    }

    /// `GET …/connections`: one page. With a memo, items listed byte for byte as in the memo's last walk are
    /// not decoded again (see ``PageMemo``).
    public func listConnections(
        organizationID: OrganizationID, _ page: PageRequest = PageRequest(), memo: PageMemo? = nil
    ) async throws -> Page<Connection> {
        let endpoint = Endpoint(
            operation: "list_connections", method: .GET, path: Self.connectionsPath(organizationID),
            query: page.queryItems, idempotent: true)
        guard let memo else { return try await call(endpoint) }
        return try await call(endpoint, decodeBody: { body in try body.withUnsafeReadableBytes { try memo.decode(bytes: $0) } })
    }

    /// Every page of `GET …/connections`; a memo must serve one walk at a time, and the caller calls its
    /// ``PageMemo/finishWalk()`` once the walk has read every page.
    public func connectionPages(
        organizationID: OrganizationID, pageSize: Int = 100, mode: PaginationMode = .offset,
        excludeTotal: Bool = false, memo: PageMemo? = nil
    ) -> PageSequence<Connection> {
        PageSequence(pageSize: pageSize, mode: mode, excludeTotal: excludeTotal, identify: { $0.map(\.id.rawValue) }) {
            request in
            try await listConnections(organizationID: organizationID, request, memo: memo)
        }
    }

    /// All of an organization's connections, every page walked; throws ``ListingError`` unless the walk is
    /// provably complete.
    public func allConnections(
        organizationID: OrganizationID, pageSize: Int = 100, mode: PaginationMode = .offset
    ) async throws -> Listing<Connection> {
        try await connectionPages(organizationID: organizationID, pageSize: pageSize, mode: mode).collect()
    }

    /// The organization's connection with this `identifier` that is not deleted, if any.
    public func findConnection(organizationID: OrganizationID, identifier: String) async throws -> Connection? {
        for try await page in connectionPages(organizationID: organizationID) {
            if let match = page.items.first(where: { $0.identifier == identifier && $0.state != .deleted }) {
                return match
            }
        }
        return nil
    }

    /// `GET …/connections/{connection_id}`.
    public func getConnection(organizationID: OrganizationID, connectionID: ConnectionID) async throws -> Connection {
        try await call(
            Endpoint(
                operation: "get_connection_by_id", method: .GET,
                path: Self.connectionPath(organizationID, connectionID), idempotent: true))
    }

    /// `PATCH …/connections/{connection_id}`: sets the fields present in `update`. Setting fields is
    /// idempotent, so it is retried like a GET.
    public func updateConnection(
        organizationID: OrganizationID, connectionID: ConnectionID, _ update: UpdateConnectionRequest
    ) async throws -> Connection {
        try await call(
            Endpoint(
                operation: "update_connection_by_id", method: .PATCH,
                path: Self.connectionPath(organizationID, connectionID), idempotent: true),
            body: update)
    }

    /// `DELETE …/connections/{connection_id}`: returns the (soft-deleted) connection.
    @discardableResult
    public func deleteConnection(organizationID: OrganizationID, connectionID: ConnectionID) async throws -> Connection {
        try await call(
            Endpoint(
                operation: "delete_connection_by_id", method: .DELETE,
                path: Self.connectionPath(organizationID, connectionID), idempotent: true))
    }

    /// `GET …/connections/{connection_id}/test`: whether Leen can use the stored credentials.
    public func testConnectionCredentials(
        organizationID: OrganizationID, connectionID: ConnectionID
    ) async throws -> ConnectionTestResult {
        try await call(
            Endpoint(
                operation: "test_connection_by_id", method: .GET,
                path: Self.connectionPath(organizationID, connectionID) + ["test"], idempotent: true))
    }
}
