import Foundation
import LeenAPI
import Synchronization

/// What one successful poll saw of one monitored connection: the fields whose changes matter.
///
/// Laid out for size (98 bytes): every monitored connection keeps one in its ``TrackedConnection``, whose
/// box must stay within 192 bytes (the allocator's next class is 224). The health sits behind a reference
/// that observations with equal health share (``SharedHealth``), the authorisation URL, set only while an
/// OAuth connection waits, behind another, and the two flags come last.
public struct ConnectionObservation: Codable, Hashable, Sendable {
    public var organizationID: OrganizationID
    public var connectionID: ConnectionID
    /// The identifier that ties the connection to the config.
    public var identifier: String
    public var vendor: Vendor
    public var state: ConnectionState?
    private var sharedHealth: SharedHealth?
    private var authorizeURL: Text?
    public var isActive: Bool?
    /// True while `oauth2_authorize_url` is set on an OAuth connection that is not yet active.
    public var oauthPending: Bool

    public var oauthAuthorizeURL: String? {
        get { authorizeURL?.value }
        set { authorizeURL = newValue.map(Text.init) }
    }

    /// nil before the connection's first job.
    public var health: Health? {
        get { sharedHealth?.value }
        set { sharedHealth = newValue.map(SharedHealth.make) }
    }

    /// The health's fields read in place: the ``health`` getter copies the whole value out of its shared
    /// instance, retaining each of its strings, and these are read for every connection of every flattening
    /// for `/metrics` and every STATUS count.
    public var healthStatus: HealthStatus? { sharedHealth?.value.status }
    public var healthName: HealthName? { sharedHealth?.value.name }
    public var healthResolutionOwner: ResolutionOwner? { sharedHealth?.value.resolutionOwner }
    public var failingDetailCount: Int { sharedHealth?.value.details.count ?? 0 }

    /// A health value, immutable, held once for all the observations that have it.
    ///
    /// Most connections of a fleet share a handful of healths (HEALTHY, "Connection is healthy", LEEN, no
    /// details): kept inline, the 72 bytes of each connection's copy took its state's box from the
    /// allocator's 192-byte class to the 256-byte one (6 MB at 100k connections).
    final class SharedHealth: Hashable, Sendable {
        let value: Health

        private init(_ value: Health) { self.value = value }

        static func == (a: SharedHealth, b: SharedHealth) -> Bool { a === b || a.value == b.value }
        func hash(into hasher: inout Hasher) { hasher.combine(value) }

        /// The instance kept for `value`, or a new one that is kept from now on. The table is bounded: a fleet
        /// whose descriptions differ from one connection to the next must not grow it for ever, so when it
        /// is full it starts again empty (observations keep the instances they hold; new ones are shared
        /// again as they are made).
        static func make(_ value: Health) -> SharedHealth {
            table.withLock { table in
                if let kept = table[value] { return kept }
                if table.count >= tableLimit { table.removeAll(keepingCapacity: true) }
                let made = SharedHealth(value)
                table[value] = made
                return made
            }
        }

        static let tableLimit = 1024
        private static let table = Mutex<[Health: SharedHealth]>([:])
        /// How many values the table holds (tests).
        static var tableCount: Int { table.withLock { $0.count } }
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
        sharedHealth = health.map(SharedHealth.make)
        self.oauthPending = oauthPending
        authorizeURL = oauthAuthorizeURL.map(Text.init)
    }

    /// Whether `ConnectionObservation(connection, identifier: identifier)` would equal this one, found
    /// without making it: most connections of most polls are listed as before, and making each one's
    /// observation (its health copied, a set of its details) to compare and drop it was about 2% of the
    /// daemon's CPU at 100k connections (perf). Strings the memo's unchanged items share with the state
    /// compare by their storage.
    public func matches(_ connection: Connection, identifier: String) -> Bool {
        withUnsafePointer(to: connection) { matches(listedAt: $0, identifier: identifier) }
    }

    /// As above, for the connection at `listed`, read where it is, field by field: given by value to a call
    /// the compiler could not see into, every listed connection of a poll was copied first (its references
    /// retained and released), 1.4% of the daemon's CPU at 100k connections on a quiet fleet (perf).
    func matches(listedAt listed: UnsafePointer<Connection>, identifier: String) -> Bool {
        guard self.identifier == identifier, connectionID == listed.pointee.id, vendor == listed.pointee.vendor,
            state == listed.pointee.state, isActive == listed.pointee.isActive,
            organizationID == listed.pointee.organizationID
        else { return false }
        let pendingURL = Self.pendingAuthorizeURL(state: listed.pointee.state, url: listed.pointee.oauth2AuthorizeURL)
        guard oauthPending == (pendingURL != nil), oauthAuthorizeURL == pendingURL else { return false }
        // Both read in place (`….value.…`): the `health` getters would copy the values out, retaining each of
        // their strings.
        switch (sharedHealth, listed.pointee.sharedHealth) {
        case (nil, nil):
            return true
        case (let shared?, let listed?):
            guard shared.value.status == listed.value.status, shared.value.name == listed.value.name,
                shared.value.resolutionOwner == listed.value.resolutionOwner,
                shared.value.description == listed.value.description
            else { return false }
            return Self.sameDetails(listed.value.details ?? [], shared.value.details)
        default:
            return false
        }
    }

    /// Whether `listed` holds the members of `kept` and nothing else (a list may repeat a detail; the set does
    /// not). A connection's few details are compared both ways in place: making a set of them for every
    /// UNHEALTHY connection of every poll was 0.6% of the daemon's CPU at 100k connections on a quiet fleet
    /// (perf). A long list, which nothing says Leen never sends, is made a set.
    static func sameDetails(_ listed: [HealthDetail], _ kept: Set<HealthDetail>) -> Bool {
        guard listed.count <= 8 else { return kept == Set(listed) }
        return listed.allSatisfy(kept.contains) && kept.allSatisfy(listed.contains)
    }

    /// The authorisation URL of a connection that waits for it (an OAuth URL set, the connection neither
    /// ACTIVE nor DELETED), else nil: what ``oauthPending`` and ``oauthAuthorizeURL`` keep.
    static func pendingAuthorizeURL(state: ConnectionState?, url: String?) -> String? {
        state != .active && state != .deleted ? url : nil
    }

    /// The observation of a connection as the API returned it.
    public init(_ connection: Connection, identifier: String) {
        let pendingURL = Self.pendingAuthorizeURL(state: connection.state, url: connection.oauth2AuthorizeURL)
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
