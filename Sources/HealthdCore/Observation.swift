import Foundation
import LeenAPI

/// What one successful poll saw of one monitored connection: the fields whose changes matter.
///
/// Laid out for size (162 bytes): every monitored connection keeps one in its ``TrackedConnection``, whose
/// box must stay within 256 bytes (the allocator's next class is 320). The authorisation URL, set only
/// while an OAuth connection waits, sits behind a reference, and the two flags come last.
public struct ConnectionObservation: Codable, Hashable, Sendable {
    public var organizationID: OrganizationID
    public var connectionID: ConnectionID
    /// The identifier that ties the connection to the config.
    public var identifier: String
    public var vendor: Vendor
    public var state: ConnectionState?
    /// nil before the connection's first job.
    public var health: Health?
    private var authorizeURL: Text?
    public var isActive: Bool?
    /// True while `oauth2_authorize_url` is set on an OAuth connection that is not yet active.
    public var oauthPending: Bool

    public var oauthAuthorizeURL: String? {
        get { authorizeURL?.value }
        set { authorizeURL = newValue.map(Text.init) }
    }

    /// A string behind a reference, compared by value.
    final class Text: Hashable, Sendable {
        let value: String
        init(_ value: String) { self.value = value }
        static func == (a: Text, b: Text) -> Bool { a.value == b.value }
        func hash(into hasher: inout Hasher) { hasher.combine(value) }
    }

    /// The keys and rules of the synthesized coding this type had before its layout changed: the state
    /// files' fallback reader (`JSONDecoder`) reads what the hand reader does not.
    enum CodingKeys: String, CodingKey {
        case organizationID, connectionID, identifier, vendor, state, isActive, health, oauthPending, oauthAuthorizeURL
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            organizationID: try c.decode(OrganizationID.self, forKey: .organizationID),
            connectionID: try c.decode(ConnectionID.self, forKey: .connectionID),
            identifier: try c.decode(String.self, forKey: .identifier), vendor: try c.decode(Vendor.self, forKey: .vendor),
            state: try c.decodeIfPresent(ConnectionState.self, forKey: .state),
            isActive: try c.decodeIfPresent(Bool.self, forKey: .isActive),
            health: try c.decodeIfPresent(Health.self, forKey: .health),
            oauthPending: try c.decode(Bool.self, forKey: .oauthPending),
            oauthAuthorizeURL: try c.decodeIfPresent(String.self, forKey: .oauthAuthorizeURL))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(organizationID, forKey: .organizationID)
        try c.encode(connectionID, forKey: .connectionID)
        try c.encode(identifier, forKey: .identifier)
        try c.encode(vendor, forKey: .vendor)
        try c.encodeIfPresent(state, forKey: .state)
        try c.encodeIfPresent(isActive, forKey: .isActive)
        try c.encodeIfPresent(health, forKey: .health)
        try c.encode(oauthPending, forKey: .oauthPending)
        try c.encodeIfPresent(oauthAuthorizeURL, forKey: .oauthAuthorizeURL)
    }

    /// The health fields, with `details` as a set (order carries no meaning).
    public struct Health: Codable, Hashable, Sendable {
        public var status: HealthStatus
        public var name: HealthName
        public var resolutionOwner: ResolutionOwner
        public var description: String?
        public var details: Set<HealthDetail>

        public init(
            status: HealthStatus, name: HealthName, resolutionOwner: ResolutionOwner, description: String? = nil,
            details: Set<HealthDetail> = []
        ) {
            self.status = status
            self.name = name
            self.resolutionOwner = resolutionOwner
            self.description = description
            self.details = details
        }
    }

    public init(
        organizationID: OrganizationID, connectionID: ConnectionID, identifier: String, vendor: Vendor,
        state: ConnectionState?, isActive: Bool?, health: Health?, oauthPending: Bool = false,
        oauthAuthorizeURL: String? = nil
    ) {
        self.organizationID = organizationID
        self.connectionID = connectionID
        self.identifier = identifier
        self.vendor = vendor
        self.state = state
        self.isActive = isActive
        self.health = health
        self.oauthPending = oauthPending
        authorizeURL = oauthAuthorizeURL.map(Text.init)
    }

    /// Whether `ConnectionObservation(connection, identifier: identifier)` would equal this one, found
    /// without making it: most connections of most polls are listed as before, and making each one's
    /// observation (its health copied, a set of its details) to compare and drop it was about 2% of the
    /// daemon's CPU at 100k connections (perf). Strings the memo's unchanged items share with the state
    /// compare by their storage.
    public func matches(_ connection: Connection, identifier: String) -> Bool {
        guard self.identifier == identifier, connectionID == connection.id, vendor == connection.vendor,
            state == connection.state, isActive == connection.isActive, organizationID == connection.organizationID
        else { return false }
        let pendingURL = Self.pendingAuthorizeURL(of: connection)
        guard oauthPending == (pendingURL != nil), oauthAuthorizeURL == pendingURL else { return false }
        switch (health, connection.health) {
        case (nil, nil):
            return true
        case (let kept?, let listed?):
            guard kept.status == listed.status, kept.name == listed.name, kept.resolutionOwner == listed.resolutionOwner,
                kept.description == listed.description
            else { return false }
            let details = listed.details ?? []
            // A list may repeat a detail; the set does not.
            return details.isEmpty ? kept.details.isEmpty : kept.details == Set(details)
        default:
            return false
        }
    }

    /// The authorisation URL of a connection that waits for it (an OAuth URL set, the connection neither
    /// ACTIVE nor DELETED), else nil: what ``oauthPending`` and ``oauthAuthorizeURL`` keep.
    static func pendingAuthorizeURL(of connection: Connection) -> String? {
        connection.state != .active && connection.state != .deleted ? connection.oauth2AuthorizeURL : nil
    }

    /// The observation of a connection as the API returned it.
    public init(_ connection: Connection, identifier: String) {
        let pendingURL = Self.pendingAuthorizeURL(of: connection)
        self.init(
            organizationID: connection.organizationID, connectionID: connection.id, identifier: identifier,
            vendor: connection.vendor, state: connection.state, isActive: connection.isActive,
            health: connection.health.map {
                Health(
                    status: $0.status, name: $0.name, resolutionOwner: $0.resolutionOwner,
                    description: $0.description, details: Set($0.details ?? []))
            },
            oauthPending: pendingURL != nil, oauthAuthorizeURL: pendingURL)
    }
}
