import Foundation
import LeenAPI

/// What one successful poll saw of one monitored connection: the fields whose changes matter.
public struct ConnectionObservation: Codable, Hashable, Sendable {
    public var organizationID: OrganizationID
    public var connectionID: ConnectionID
    /// The identifier that ties the connection to the config.
    public var identifier: String
    public var vendor: Vendor
    public var state: ConnectionState?
    public var isActive: Bool?
    /// nil before the connection's first job.
    public var health: Health?
    /// True while `oauth2_authorize_url` is set on an OAuth connection that is not yet active.
    public var oauthPending: Bool
    public var oauthAuthorizeURL: String?

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
        self.oauthAuthorizeURL = oauthAuthorizeURL
    }

    /// The observation of a connection as the API returned it.
    public init(_ connection: Connection, identifier: String) {
        let pending =
            connection.oauth2AuthorizeURL != nil && connection.state != .active && connection.state != .deleted
        self.init(
            organizationID: connection.organizationID, connectionID: connection.id, identifier: identifier,
            vendor: connection.vendor, state: connection.state, isActive: connection.isActive,
            health: connection.health.map {
                Health(
                    status: $0.status, name: $0.name, resolutionOwner: $0.resolutionOwner,
                    description: $0.description, details: Set($0.details ?? []))
            },
            oauthPending: pending, oauthAuthorizeURL: pending ? connection.oauth2AuthorizeURL : nil)
    }
}
