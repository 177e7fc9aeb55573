/// `state` of a connection.
public struct ConnectionState: OpenEnumeration {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let pending: ConnectionState = "PENDING"
    public static let active: ConnectionState = "ACTIVE"
    public static let paused: ConnectionState = "PAUSED"
    public static let deleted: ConnectionState = "DELETED"
    public static let documentedValues: [ConnectionState] = [.pending, .active, .paused, .deleted]
}

/// `direction` of a connection (seen only in Leen's demo code, not in the docs).
public struct ConnectionDirection: OpenEnumeration {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let source: ConnectionDirection = "SOURCE"
    public static let pullDestination: ConnectionDirection = "PULL_DESTINATION"
    public static let documentedValues: [ConnectionDirection] = [.source, .pullDestination]
}

/// A connection (`ConnectionRespModel`), as returned by create, list, get, update and delete.
///
/// Fields the contract marks unconfirmed or version-dependent are optional, so every documented response
/// variant decodes; unknown fields are ignored.
public struct Connection: Codable, Hashable, Sendable, Identifiable {
    public var id: ConnectionID
    public var vendor: Vendor
    /// Required in current docs; absent from the oldest create response.
    public var isActive: Bool?
    public var refreshIntervalSecs: Int
    public var timeoutSecs: Int
    public var organizationID: OrganizationID
    /// Required in current docs; absent from the oldest create response.
    public var state: ConnectionState?
    /// Set for OAuth vendors until the connection is authorised.
    public var oauth2AuthorizeURL: String?
    /// The caller's own reference; leen-healthd ties config to Leen with it.
    public var identifier: String?
    public var createdAt: Timestamp?
    public var updatedAt: Timestamp?
    /// Result of the most recent job; nil before the first job has run.
    public var health: ConnectionHealthStatus?
    /// Only in the Get Connection by ID example.
    public var organizationName: String?
    public var direction: ConnectionDirection?

    public init(
        id: ConnectionID, vendor: Vendor, isActive: Bool?, refreshIntervalSecs: Int, timeoutSecs: Int,
        organizationID: OrganizationID, state: ConnectionState?, oauth2AuthorizeURL: String? = nil,
        identifier: String? = nil, createdAt: Timestamp? = nil, updatedAt: Timestamp? = nil,
        health: ConnectionHealthStatus? = nil, organizationName: String? = nil, direction: ConnectionDirection? = nil
    ) {
        self.id = id
        self.vendor = vendor
        self.isActive = isActive
        self.refreshIntervalSecs = refreshIntervalSecs
        self.timeoutSecs = timeoutSecs
        self.organizationID = organizationID
        self.state = state
        self.oauth2AuthorizeURL = oauth2AuthorizeURL
        self.identifier = identifier
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.health = health
        self.organizationName = organizationName
        self.direction = direction
    }

    enum CodingKeys: String, CodingKey {
        case id, vendor, state, identifier, health, direction
        case isActive = "is_active"
        case refreshIntervalSecs = "refresh_interval_secs"
        case timeoutSecs = "timeout_secs"
        case organizationID = "organization_id"
        case oauth2AuthorizeURL = "oauth2_authorize_url"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case organizationName = "organization_name"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(vendor, forKey: .vendor)
        try c.encodeIfPresent(isActive, forKey: .isActive)
        try c.encode(refreshIntervalSecs, forKey: .refreshIntervalSecs)
        try c.encode(timeoutSecs, forKey: .timeoutSecs)
        try c.encode(organizationID, forKey: .organizationID)
        try c.encodeIfPresent(state, forKey: .state)
        // Nullable fields the API always sends, as null when empty.
        try c.encode(oauth2AuthorizeURL, forKey: .oauth2AuthorizeURL)
        try c.encode(identifier, forKey: .identifier)
        try c.encodeIfPresent(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(updatedAt, forKey: .updatedAt)
        try c.encode(health, forKey: .health)
        try c.encodeIfPresent(organizationName, forKey: .organizationName)
        try c.encodeIfPresent(direction, forKey: .direction)
    }
}

/// Body of `POST /provisioning/organizations/{organization_id}/connections`.
public struct CreateConnectionRequest: Codable, Hashable, Sendable {
    public var vendor: Vendor
    /// Omit for OAuth vendors.
    public var credentials: VendorCredentials?
    public var identifier: String?
    /// Per-vendor options, e.g. `{"oauth2_redirect_urls": {"success": …, "error": …}}`.
    public var options: JSONValue?

    public init(
        vendor: Vendor, credentials: VendorCredentials? = nil, identifier: String? = nil, options: JSONValue? = nil
    ) {
        self.vendor = vendor
        self.credentials = credentials
        self.identifier = identifier
        self.options = options
    }
}

/// Body of `PATCH …/connections/{connection_id}`: only the fields that are set are sent.
public struct UpdateConnectionRequest: Codable, Hashable, Sendable {
    public var credentials: VendorCredentials?
    public var identifier: String?
    public var state: ConnectionState?

    public init(credentials: VendorCredentials? = nil, identifier: String? = nil, state: ConnectionState? = nil) {
        self.credentials = credentials
        self.identifier = identifier
        self.state = state
    }
}

/// `ConnectionTestRespModel`, from `GET …/connections/{connection_id}/test`.
public struct ConnectionTestResult: Codable, Hashable, Sendable {
    public var isValid: Bool
    public var message: String?

    public init(isValid: Bool, message: String?) {
        self.isValid = isValid
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case isValid = "is_valid"
        case message
    }
}
