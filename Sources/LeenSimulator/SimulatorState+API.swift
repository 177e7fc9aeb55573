import Foundation
import LeenAPI
import Synchronization

/// What the `/v1` endpoints do to the store. Inputs arrive validated (see `RequestValidation`).
extension SimulatorState {
    // MARK: Organizations

    func createOrganization(name: String, identifier: String) -> Organization {
        withData { data, now in
            let id = OrganizationID(data.ids.uuid())
            let organization = Organization(
                id: id, name: name, identifier: identifier, createdAt: Timestamp(date(now)),
                updatedAt: Timestamp(date(now)))
            data.organizations[id] = OrganizationRecord(organization: organization)
            data.organizationOrder.append(id)
            return organization
        }
    }

    func listOrganizations(offset: Int, limit: Int) -> (items: [[UInt8]], total: Int) {
        withData { data, _ in
            let visible = data.organizationOrder.filter { data.organizations[$0]?.deleted == false }
            var items: [[UInt8]] = []
            for id in visible.dropFirst(offset).prefix(limit) where data.organizations[id] != nil {
                items.append(data.organizations[id]!.encoded())
            }
            return (items, visible.count)
        }
    }

    func refresh(_ record: inout ConnectionRecord, now: Double, randomEvolution: Bool, base: String) -> [UInt8] {
        advance(&record, to: now, randomEvolution: randomEvolution)
        return record.encoded(view(record, publicBaseURL: base))
    }

    func organization(_ id: OrganizationID) throws -> Organization {
        try withData { data, _ in try Self.liveOrganization(id, in: data).organization }
    }

    func deleteOrganization(_ id: OrganizationID) throws -> Organization {
        try withData { data, now in
            var record = try Self.liveOrganization(id, in: data)
            record.deleted = true
            record.organization.updatedAt = Timestamp(date(now))
            data.organizations[id] = record
            return record.organization
        }
    }

    static func liveOrganization(_ id: OrganizationID, in data: SimulatorData) throws -> OrganizationRecord {
        guard let record = data.organizations[id], !record.deleted else { throw SimulatorError.organizationNotFound() }
        return record
    }

    // MARK: Connections

    func createConnection(_ organizationID: OrganizationID, _ request: CreateConnectionRequest) throws -> Connection {
        try withData { data, now in
            _ = try Self.liveOrganization(organizationID, in: data)
            if configuration.rejectDuplicateIdentifiers, let identifier = request.identifier,
                data.connections.all(withIdentifier: identifier).contains(where: {
                    data.connections[$0]?.connection.organizationID == organizationID
                        && data.connections[$0]?.connection.state != .deleted
                })
            {
                throw SimulatorError.detail(
                    status: 409, message: "A connection with identifier '\(identifier)' already exists")
            }
            let id = ConnectionID(data.ids.uuid())
            let oauth: Bool =
                switch request.vendor.authorization {
                case .oauth2: true
                case .oauth2UnlessAPIKey: !Self.hasAPIKey(request.credentials)
                case .credentials: false
                }
            var record = ConnectionRecord(
                connection: Connection(
                    id: id, vendor: request.vendor, isActive: false,
                    refreshIntervalSecs: configuration.refreshIntervalSecs, timeoutSecs: configuration.timeoutSecs,
                    organizationID: organizationID, state: .pending, identifier: request.identifier,
                    createdAt: Timestamp(date(now)), updatedAt: Timestamp(date(now))),
                credentials: request.credentials, key: SeededRandom.key(id.rawValue),
                jobBase: now + Double(configuration.firstJobDelaySecs))
            record.oauthPending = oauth
            record.showsAuthorizeURL = oauth
            record.credentialsRejected = Self.rejects(request.credentials, data.rejectedCredentialValues)
            data.connections[id] = record
            data.organizations[organizationID]!.connectionIDs.append(id)
            return view(record, publicBaseURL: data.publicBaseURL)
        }
    }

    /// Snyk takes an API key instead of OAuth; the field name is not documented, so any of these counts.
    /// Whether any field of `credentials`, at any depth, is a value the simulated vendors refuse.
    static func rejects(_ credentials: VendorCredentials?, _ values: Set<String>) -> Bool {
        guard let credentials, !values.isEmpty else { return false }
        func rejected(_ value: JSONValue) -> Bool {
            switch value {
            case .string(let text): values.contains(text)
            case .array(let items): items.contains(where: rejected)
            case .object(let members): members.values.contains(where: rejected)
            default: false
            }
        }
        return credentials.fields.values.contains(where: rejected)
    }

    static func hasAPIKey(_ credentials: VendorCredentials?) -> Bool {
        guard let credentials else { return false }
        return ["api_key", "api_token", "token"].contains { credentials.fields[$0]?.stringValue?.isEmpty == false }
    }

    /// One page of an organization's connections, as the JSON of each (see ``ConnectionRecord/encoded(_:)``).
    func listConnections(
        _ organizationID: OrganizationID, offset: Int, limit: Int
    ) throws -> (items: [[UInt8]], total: Int) {
        try withData { data, now in
            let organization = try Self.liveOrganization(organizationID, in: data)
            var visible = organization.connectionIDs
            if configuration.deletedVisibility != .visible {
                visible.removeAll { data.connections[$0]?.connection.state == .deleted }
            }
            var items: [[UInt8]] = []
            items.reserveCapacity(min(limit, max(0, visible.count - offset)))
            let base = data.publicBaseURL
            let random = data.randomEvolution
            for id in visible.dropFirst(offset).prefix(limit) {
                // In place: no copy of the record per item.
                let item = data.connections.update(id) { refresh(&$0, now: now, randomEvolution: random, base: base) }
                if let item { items.append(item) }
            }
            return (items, visible.count)
        }
    }

    /// Runs `body` on a connection of a live organization, advanced to now, and stores the result.
    func withConnection<T>(
        _ organizationID: OrganizationID, _ id: ConnectionID,
        _ body: (inout ConnectionRecord, inout SimulatorData, Double) throws -> T
    ) throws -> T {
        try withData { data, now in
            let organization = try Self.liveOrganization(organizationID, in: data)
            guard var record = data.connections[id], record.connection.organizationID == organizationID else {
                throw SimulatorError.connectionNotFound()
            }
            if record.connection.state == .deleted, configuration.deletedVisibility == .hidden {
                throw SimulatorError.connectionNotFound()
            }
            _ = organization
            advance(&record, to: now, randomEvolution: data.randomEvolution)
            let result = try body(&record, &data, now)
            data.connections[id] = record
            return result
        }
    }

    func connection(_ organizationID: OrganizationID, _ id: ConnectionID) throws -> Connection {
        try withConnection(organizationID, id) { record, data, _ in
            var connection = view(record, publicBaseURL: data.publicBaseURL)
            connection.organizationName = data.organizations[organizationID]?.organization.name
            return connection
        }
    }

    func updateConnection(
        _ organizationID: OrganizationID, _ id: ConnectionID, _ update: UpdateConnectionRequest
    ) throws -> Connection {
        try withConnection(organizationID, id) { record, data, now in
            if let credentials = update.credentials {
                record.credentials = credentials
                record.customerLatched = false
                record.freshCredentials = true
                record.credentialsRejected = Self.rejects(credentials, data.rejectedCredentialValues)
                record.credentialUpdates += 1
            }
            if let identifier = update.identifier { record.connection.identifier = identifier }
            let state = update.state ?? (configuration.patchOmittedState == .active ? .active : nil)
            if let state, state != record.connection.state { setState(&record, state, at: now) }
            record.connection.updatedAt = Timestamp(date(now))
            return view(record, publicBaseURL: data.publicBaseURL)
        }
    }

    func deleteConnection(_ organizationID: OrganizationID, _ id: ConnectionID) throws -> Connection {
        try withConnection(organizationID, id) { record, data, now in
            if record.connection.state != .deleted { setState(&record, .deleted, at: now) }
            return view(record, publicBaseURL: data.publicBaseURL)
        }
    }

    func testCredentials(_ organizationID: OrganizationID, _ id: ConnectionID) throws -> ConnectionTestResult {
        try withConnection(organizationID, id) { record, _, _ in
            if record.oauthPending {
                return ConnectionTestResult(isValid: false, message: "OAuth authorization has not been completed")
            }
            if record.connection.vendor.authorization == .credentials, record.credentials?.isEmpty ?? true {
                return ConnectionTestResult(isValid: false, message: "No credentials are stored for this connection")
            }
            // New credentials are tested as they are, before the next job has used them.
            if record.credentialsRejected || record.customerLatched || (record.connection.health?.name == .unauthorized && !record.freshCredentials) {
                return ConnectionTestResult(isValid: false, message: "The vendor rejected the credentials")
            }
            return ConnectionTestResult(isValid: true, message: "Credentials are valid")
        }
    }

    // MARK: Requests

    enum Authentication: Sendable, Equatable {
        case accepted
        case missing
        case invalid
        case expired
    }

    func authenticate(_ key: String?) -> Authentication {
        data.withLock { data in
            guard let key, !key.isEmpty else { return .missing }
            if data.expiredKeys.contains(key) { return .expired }
            return data.apiKeys.contains(key) ? .accepted : .invalid
        }
    }

    func drawFault(path: String, firstPage: Bool = true) -> FaultDecision {
        data.withLock { data in
            let now = data.clock.now
            applyDueSteps(&data, now: now)
            return FaultDecision.draw(
                path: path, firstPage: firstPage, settings: data.faults, queue: &data.faultQueue, rng: &data.faultRandom)
        }
    }

    func record(status: Int) {
        data.withLock { $0.responses[status, default: 0] += 1 }
    }

    var isStopping: Bool { data.withLock { $0.stopping } }

    func setStopping() { data.withLock { $0.stopping = true } }

    func setPublicBaseURL(_ url: String) { data.withLock { $0.publicBaseURL = url } }
}
