import Foundation
import LeenAPI
import Synchronization

/// What `/_sim/` does: direct control for tests and operators. Never reachable under `/v1`.
extension SimulatorState {
    /// A snapshot of the simulator for `GET /_sim/state`.
    public struct Summary: Codable, Sendable {
        public var simulatedTime: String
        public var timeScale: Double
        public var organizations: Int
        public var connections: Int
        public var byState: [String: Int]
        public var byHealth: [String: Int]
        public var responsesByStatus: [String: Int]
        public var faults: FaultSettings
        public var queuedFaults: [QueuedFault]

        enum CodingKeys: String, CodingKey {
            case organizations, connections, faults
            case simulatedTime = "simulated_time", timeScale = "time_scale", byState = "by_state"
            case byHealth = "by_health", responsesByStatus = "responses_by_status", queuedFaults = "queued_faults"
        }
    }

    /// Counts after advancing every connection to now (walks the whole fleet).
    public func summary() -> Summary {
        withData { data, now in
            var byState: [String: Int] = [:]
            var byHealth: [String: Int] = [:]
            let random = data.randomEvolution
            data.connections.walk { _, record in
                advance(&record, to: now, randomEvolution: random)
                byState[record.connection.state?.rawValue ?? "none", default: 0] += 1
                byHealth[record.connection.health?.name.rawValue ?? "none", default: 0] += 1
            }
            return Summary(
                simulatedTime: Timestamp(date(now)).rawValue, timeScale: data.clock.timeScale,
                organizations: data.organizations.values.filter { !$0.deleted }.count,
                connections: data.connections.count, byState: byState, byHealth: byHealth,
                responsesByStatus: Dictionary(uniqueKeysWithValues: data.responses.map { (String($0.key), $0.value) }),
                faults: data.faults, queuedFaults: data.faultQueue)
        }
    }

    /// Every organization id, in creation order (for benchmarks and tests).
    public func organizationIDs() -> [OrganizationID] {
        data.withLock { data in data.organizationOrder.filter { data.organizations[$0]?.deleted == false } }
    }

    /// Runs `body` on the connection with this id or identifier.
    func control<T>(_ reference: String, _ body: (inout ConnectionRecord, inout SimulatorData, Double) -> T) throws
        -> T
    {
        try withData { data, now in
            guard let id = Self.find(reference, in: data), var record = data.connections[id] else {
                throw SimulatorError.connectionNotFound()
            }
            advance(&record, to: now, randomEvolution: data.randomEvolution)
            let result = body(&record, &data, now)
            data.connections[id] = record
            return result
        }
    }

    /// Sets a connection's health now; it is scripted from then on (random evolution leaves it alone).
    @discardableResult
    public func setHealth(_ reference: String, _ health: ConnectionHealthStatus) throws -> Connection {
        try control(reference) { record, data, now in
            Self.set(health, on: &record, updatedAt: Timestamp(date(now)))
            return view(record, publicBaseURL: data.publicBaseURL)
        }
    }

    /// Sets the health of every connection `selection` picks, at once, as ``setHealth(_:_:)`` does for one;
    /// returns how many it set. All or nothing: an unknown organization or id changes nothing.
    ///
    /// Work is proportional to the candidates: the organization's connections, the listed ids, or else the
    /// whole fleet, each visited once.
    @discardableResult
    public func setHealth(of selection: ConnectionSelection, _ health: ConnectionHealthStatus) throws -> Int {
        guard !selection.isEmpty else {
            throw SimulatorError.detail(
                status: 400,
                message: "the selection names no criterion; give one, or \"all\": true for every connection")
        }
        return try withData { data, now in
            var organizationID: OrganizationID?
            if let reference = selection.organization {
                organizationID = try Self.liveOrganizationID(reference, in: data)
            }
            var candidates: [ConnectionID]?
            if let references = selection.ids {
                var seen = Set<ConnectionID>()
                candidates = []
                for (index, reference) in references.enumerated() {
                    guard let id = Self.find(reference, in: data) else {
                        throw SimulatorError.detail(
                            status: 404, message: "Connection cannot be found: '\(reference)' (ids[\(index)])")
                    }
                    if seen.insert(id).inserted { candidates?.append(id) }
                }
            } else if let organizationID {
                candidates = data.organizations[organizationID]?.connectionIDs
            }
            let updatedAt = Timestamp(date(now))
            let random = data.randomEvolution
            var matched = 0
            let change = { (record: inout ConnectionRecord) in
                self.advance(&record, to: now, randomEvolution: random)
                if let organizationID, record.connection.organizationID != organizationID { return }
                guard selection.matches(record.connection) else { return }
                Self.set(health, on: &record, updatedAt: updatedAt)
                matched += 1
            }
            if let candidates {
                for id in candidates { data.connections.update(id, change) }
            } else {
                data.connections.walk { _, record in change(&record) }
            }
            return matched
        }
    }

    /// What setting a connection's health through the control API does to its record.
    static func set(_ health: ConnectionHealthStatus, on record: inout ConnectionRecord, updatedAt: Timestamp) {
        record.connection.health = health
        record.customerLatched = health.resolutionOwner == .customer && health.status == .unhealthy
        record.scripted = true
        record.connection.updatedAt = updatedAt
    }

    /// A live organization by id, or else the first live one, in creation order, with this identifier.
    static func liveOrganizationID(_ reference: String, in data: SimulatorData) throws -> OrganizationID {
        let id = OrganizationID(reference)
        if data.organizations[id]?.deleted == false { return id }
        guard
            let match = data.organizationOrder.first(where: {
                data.organizations[$0].map { !$0.deleted && $0.organization.identifier == reference } ?? false
            })
        else { throw SimulatorError.organizationNotFound() }
        return match
    }

    @discardableResult
    public func setState(_ reference: String, _ state: ConnectionState) throws -> Connection {
        try control(reference) { record, data, now in
            setState(&record, state, at: now)
            return view(record, publicBaseURL: data.publicBaseURL)
        }
    }

    /// Completes OAuth authorisation, as an administrator opening `oauth2_authorize_url` would.
    @discardableResult
    public func authorize(_ reference: String) throws -> Connection {
        try control(reference) { record, data, now in
            authorize(&record, at: now)
            return view(record, publicBaseURL: data.publicBaseURL)
        }
    }

    /// Removes a connection outright: 404 and no longer listed (unlike DELETE's soft delete).
    public func remove(_ reference: String) throws {
        try withData { data, _ in
            guard let id = Self.find(reference, in: data) else { throw SimulatorError.connectionNotFound() }
            Self.remove(id, from: &data)
        }
    }

    /// Moves simulated time forward; jobs due in between run on the next read.
    public func advanceClock(by seconds: Double) {
        data.withLock { $0.clock.advance(by: seconds) }
    }

    public func setTimeScale(_ scale: Double) {
        data.withLock { $0.clock.setTimeScale(scale) }
    }

    public var faults: FaultSettings {
        get { data.withLock { $0.faults } }
    }

    public func setFaults(_ faults: FaultSettings) {
        data.withLock { $0.faults = faults }
    }

    public func enqueueFaults(_ faults: [QueuedFault]) {
        data.withLock { $0.faultQueue += faults }
    }

    /// Clears fault rates and the queue.
    public func resetFaults() {
        data.withLock {
            $0.faults = FaultSettings()
            $0.faultQueue = []
        }
    }

    /// Replaces the credential values the simulated vendors refuse, and re-judges every connection's stored
    /// credentials by them (as a vendor revoking a key would: its next job and test say so).
    public func setRejectedCredentialValues(_ values: Set<String>) {
        data.withLock { data in
            data.rejectedCredentialValues = values
            data.connections.walk { _, record in
                record.credentialsRejected = Self.rejects(record.credentials, values)
            }
        }
    }

    public var rejectedCredentialValues: Set<String> { data.withLock { $0.rejectedCredentialValues } }

    /// What the simulator knows of a connection's credentials, without their values: for tests and
    /// operators checking that a rotation arrived.
    public struct CredentialsView: Codable, Sendable, Hashable {
        public var connectionID: ConnectionID
        /// The credential field names (top level), sorted.
        public var fields: [String]
        /// Credential changes received by PATCH since the connection was created.
        public var credentialUpdates: Int
        /// Whether the vendor refuses them.
        public var rejected: Bool

        enum CodingKeys: String, CodingKey {
            case fields, rejected
            case connectionID = "connection_id", credentialUpdates = "credential_updates"
        }
    }

    public func credentials(_ reference: String) throws -> CredentialsView {
        try control(reference) { record, _, _ in
            CredentialsView(
                connectionID: record.connection.id, fields: (record.credentials?.fields.keys).map { $0.sorted() } ?? [],
                credentialUpdates: record.credentialUpdates, rejected: record.credentialsRejected)
        }
    }

    public func addAPIKey(_ key: String) {
        data.withLock {
            $0.apiKeys.insert(key)
            $0.expiredKeys.remove(key)
        }
    }

    /// The key is refused from now on with `{"detail": "API key has expired"}`.
    public func expireAPIKey(_ key: String) {
        _ = data.withLock { $0.expiredKeys.insert(key) }
    }
}
