/// An organization (`OrganizationRespModel`). Only `id`, `name` and `identifier` are documented.
public struct Organization: Codable, Hashable, Sendable, Identifiable {
    public var id: OrganizationID
    public var name: String
    public var identifier: String?
    public var createdAt: Timestamp?
    public var updatedAt: Timestamp?

    public init(
        id: OrganizationID, name: String, identifier: String?, createdAt: Timestamp? = nil,
        updatedAt: Timestamp? = nil
    ) {
        self.id = id
        self.name = name
        self.identifier = identifier
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, identifier
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// Body of `POST /provisioning/organizations`.
public struct CreateOrganizationRequest: Codable, Hashable, Sendable {
    public var name: String
    public var identifier: String

    public init(name: String, identifier: String) {
        self.name = name
        self.identifier = identifier
    }
}
