import Foundation
import LeenAPI

/// A scripted run of the simulator, read from `--scenario FILE` (JSON).
///
/// ```json
/// {
///   "random_evolution": false,
///   "organizations": [{"id": "…uuid…", "name": "Acme", "identifier": "acme"}],
///   "connections": [{"organization": "acme", "vendor": "TENABLE", "identifier": "tenable-prod",
///                    "health": "HEALTHY"}],
///   "steps": [{"at": 5, "connection": "tenable-prod", "health": "UNAUTHORIZED",
///              "details": [{"endpoint": "https://x.example/alerts", "data_export_type": "alerts"}]}]
/// }
/// ```
/// `at` is in simulated seconds after the start. A connection named in a step is scripted: random evolution
/// never changes its health.
public struct Scenario: Codable, Sendable {
    /// False turns random evolution off for every connection.
    public var randomEvolution: Bool?
    public var organizations: [Organization]?
    public var connections: [Connection]?
    public var steps: [Step]?

    public init(
        randomEvolution: Bool? = nil, organizations: [Organization]? = nil, connections: [Connection]? = nil,
        steps: [Step]? = nil
    ) {
        self.randomEvolution = randomEvolution
        self.organizations = organizations
        self.connections = connections
        self.steps = steps
    }

    enum CodingKeys: String, CodingKey {
        case organizations, connections, steps
        case randomEvolution = "random_evolution"
    }

    /// Reads and decodes a scenario file, with an error that names the file.
    public static func load(path: String) throws -> Scenario {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ScenarioError(message: "\(path): cannot read: \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(Scenario.self, from: data)
        } catch let error as DecodingError {
            throw ScenarioError(message: "\(path): \(describe(error))")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing '\(key.stringValue)' at \(path(c.codingPath))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "\(c.debugDescription) at \(path(c.codingPath))"
        @unknown default: return "invalid scenario"
        }
    }

    /// An organization to create at start.
    public struct Organization: Codable, Sendable {
        public var id: String?
        public var name: String
        public var identifier: String?
        public init(id: String? = nil, name: String, identifier: String? = nil) {
            self.id = id
            self.name = name
            self.identifier = identifier
        }
    }

    /// A connection to create at start.
    public struct Connection: Codable, Sendable {
        public var id: String?
        /// The organization's id or identifier.
        public var organization: String
        public var vendor: Vendor
        public var identifier: String?
        /// ACTIVE when omitted (PENDING for an OAuth connection still waiting).
        public var state: ConnectionState?
        /// Initial health; HEALTHY when omitted for an ACTIVE connection.
        public var health: HealthName?
        public var details: [HealthDetail]?
        /// True: an OAuth connection still waiting for authorisation.
        public var oauthPending: Bool?

        public init(
            id: String? = nil, organization: String, vendor: Vendor, identifier: String? = nil,
            state: ConnectionState? = nil, health: HealthName? = nil, details: [HealthDetail]? = nil,
            oauthPending: Bool? = nil
        ) {
            self.id = id
            self.organization = organization
            self.vendor = vendor
            self.identifier = identifier
            self.state = state
            self.health = health
            self.details = details
            self.oauthPending = oauthPending
        }

        enum CodingKeys: String, CodingKey {
            case id, organization, vendor, identifier, state, health, details
            case oauthPending = "oauth_pending"
        }
    }

    /// A change at a simulated time.
    public struct Step: Codable, Sendable {
        /// Simulated seconds after the start.
        public var at: Double
        /// Connection id or identifier the step acts on.
        public var connection: String?
        public var health: HealthName?
        public var details: [HealthDetail]?
        public var state: ConnectionState?
        /// Completes the OAuth authorisation.
        public var authorize: Bool?
        /// Removes the connection outright (404, no longer listed).
        public var remove: Bool?
        /// Replaces the fault settings.
        public var faults: FaultSettings?
        /// Queues one-shot faults.
        public var queue: [QueuedFault]?

        public init(
            at: Double, connection: String? = nil, health: HealthName? = nil, details: [HealthDetail]? = nil,
            state: ConnectionState? = nil, authorize: Bool? = nil, remove: Bool? = nil, faults: FaultSettings? = nil,
            queue: [QueuedFault]? = nil
        ) {
            self.at = at
            self.connection = connection
            self.health = health
            self.details = details
            self.state = state
            self.authorize = authorize
            self.remove = remove
            self.faults = faults
            self.queue = queue
        }
    }
}

/// A scenario file that cannot be used.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
