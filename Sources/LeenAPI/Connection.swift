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
///
/// 128 bytes rather than 288: the daemon keeps one for every connection (the last walk's, in its
/// ``PageMemo``). The health sits behind a reference that the connections of one page with equal health
/// share (most are HEALTHY, with nothing failing), and the fields a listing hardly ever has (an OAuth URL,
/// the organization's name, the direction) behind another that is nil when none is set.
public struct Connection: Codable, Hashable, Sendable, Identifiable {
    // Stored in this order, the 9-byte timestamps each followed by the small fields, so that a connection
    // is 128 bytes, not 152: the page memo keeps an organization's last walk, and its 100 connections then
    // take jemalloc's 14 KiB class, not 16 KiB (2 MB at 100k connections).
    public var id: ConnectionID
    public var vendor: Vendor
    public var organizationID: OrganizationID
    /// Required in current docs; absent from the oldest create response.
    public var state: ConnectionState?
    /// The caller's own reference; leen-healthd ties config to Leen with it.
    public var identifier: String?
    /// Set by ``share(from:)`` to another connection's equal value. Read in place
    /// (`sharedHealth?.value.status`) where the ``health`` getter would copy the value out, retaining each of
    /// its strings.
    public private(set) var sharedHealth: SharedHealth?
    var rare: Rare?
    public var createdAt: Timestamp?
    /// Required in current docs; absent from the oldest create response.
    public var isActive: Bool?
    private var storedRefreshIntervalSecs: Int32
    public var updatedAt: Timestamp?
    private var storedTimeoutSecs: Int32

    /// Seconds, kept in 32 bits (a value past about 68 years reads as `Int32.max`) for the layout above.
    public var refreshIntervalSecs: Int {
        get { Int(storedRefreshIntervalSecs) }
        set { storedRefreshIntervalSecs = Int32(clamping: newValue) }
    }
    public var timeoutSecs: Int {
        get { Int(storedTimeoutSecs) }
        set { storedTimeoutSecs = Int32(clamping: newValue) }
    }

    /// Result of the most recent job; nil before the first job has run.
    public var health: ConnectionHealthStatus? {
        get { sharedHealth?.value }
        set { sharedHealth = newValue.map(SharedHealth.init) }
    }
    /// Set for OAuth vendors until the connection is authorised.
    public var oauth2AuthorizeURL: String? {
        get { rare?.oauth2AuthorizeURL }
        set { rare = Rare.make(newValue, rare?.organizationName, rare?.direction) }
    }
    /// Only in the Get Connection by ID example.
    public var organizationName: String? {
        get { rare?.organizationName }
        set { rare = Rare.make(rare?.oauth2AuthorizeURL, newValue, rare?.direction) }
    }
    public var direction: ConnectionDirection? {
        get { rare?.direction }
        set { rare = Rare.make(rare?.oauth2AuthorizeURL, rare?.organizationName, newValue) }
    }

    /// A health value, immutable, shared by the connections that have it.
    public final class SharedHealth: Hashable, Sendable {
        public let value: ConnectionHealthStatus
        init(_ value: ConnectionHealthStatus) { self.value = value }
        public static func == (a: SharedHealth, b: SharedHealth) -> Bool { a === b || a.value == b.value }
        public func hash(into hasher: inout Hasher) { hasher.combine(value) }
    }

    /// The fields a listing hardly ever sets, immutable; nil when none is set.
    final class Rare: Hashable, Sendable {
        let oauth2AuthorizeURL: String?
        let organizationName: String?
        let direction: ConnectionDirection?

        private init(_ oauth2AuthorizeURL: String?, _ organizationName: String?, _ direction: ConnectionDirection?) {
            self.oauth2AuthorizeURL = oauth2AuthorizeURL
            self.organizationName = organizationName
            self.direction = direction
        }

        static func make(_ oauth2AuthorizeURL: String?, _ organizationName: String?, _ direction: ConnectionDirection?) -> Rare? {
            oauth2AuthorizeURL == nil && organizationName == nil && direction == nil
                ? nil : Rare(oauth2AuthorizeURL, organizationName, direction)
        }

        static func == (a: Rare, b: Rare) -> Bool {
            a === b
                || (a.oauth2AuthorizeURL == b.oauth2AuthorizeURL && a.organizationName == b.organizationName
                    && a.direction == b.direction)
        }
        func hash(into hasher: inout Hasher) {
            hasher.combine(oauth2AuthorizeURL)
            hasher.combine(organizationName)
            hasher.combine(direction)
        }
    }

    public init(
        id: ConnectionID, vendor: Vendor, isActive: Bool?, refreshIntervalSecs: Int, timeoutSecs: Int,
        organizationID: OrganizationID, state: ConnectionState?, oauth2AuthorizeURL: String? = nil,
        identifier: String? = nil, createdAt: Timestamp? = nil, updatedAt: Timestamp? = nil,
        health: ConnectionHealthStatus? = nil, organizationName: String? = nil, direction: ConnectionDirection? = nil
    ) {
        self.id = id
        self.vendor = vendor
        self.isActive = isActive
        storedRefreshIntervalSecs = Int32(clamping: refreshIntervalSecs)
        storedTimeoutSecs = Int32(clamping: timeoutSecs)
        self.organizationID = organizationID
        self.state = state
        self.identifier = identifier
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        sharedHealth = health.map(SharedHealth.init)
        rare = Rare.make(oauth2AuthorizeURL, organizationName, direction)
    }

    /// Takes `other`'s health and rare fields' storage where they are equal to this connection's, so that
    /// equal values are held once (a page's items, ``PageMemo``).
    mutating func share(from other: Connection) {
        if let mine = sharedHealth, let theirs = other.sharedHealth, mine !== theirs, mine.value == theirs.value {
            sharedHealth = theirs
        }
        if let mine = rare, let theirs = other.rare, mine !== theirs, mine == theirs { rare = theirs }
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

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(ConnectionID.self, forKey: .id), vendor: try c.decode(Vendor.self, forKey: .vendor),
            isActive: try c.decodeIfPresent(Bool.self, forKey: .isActive),
            refreshIntervalSecs: try c.decode(Int.self, forKey: .refreshIntervalSecs),
            timeoutSecs: try c.decode(Int.self, forKey: .timeoutSecs),
            organizationID: try c.decode(OrganizationID.self, forKey: .organizationID),
            state: try c.decodeIfPresent(ConnectionState.self, forKey: .state),
            oauth2AuthorizeURL: try c.decodeIfPresent(String.self, forKey: .oauth2AuthorizeURL),
            identifier: try c.decodeIfPresent(String.self, forKey: .identifier),
            createdAt: try c.decodeIfPresent(Timestamp.self, forKey: .createdAt),
            updatedAt: try c.decodeIfPresent(Timestamp.self, forKey: .updatedAt),
            health: try c.decodeIfPresent(ConnectionHealthStatus.self, forKey: .health),
            organizationName: try c.decodeIfPresent(String.self, forKey: .organizationName),
            direction: try c.decodeIfPresent(ConnectionDirection.self, forKey: .direction))
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
