import LeenAPI

/// Which connections a bulk control call acts on (`PUT /_sim/bulk/health`): those that meet every criterion
/// given. The criteria are checked against each connection as it is now, after the jobs due by now have run.
///
/// ```json
/// {"organization": "acme", "vendor": "SNYK", "status": "HEALTHY", "identifier_prefix": "c1"}
/// {"ids": ["tenable-prod", "0b0e6c0e-2222-4aaa-8bbb-000000000002"]}
/// {"all": true}
/// ```
///
/// Decoding refuses unknown keys and undocumented vendors, states and statuses: a misspelt criterion would
/// otherwise be ignored and widen the selection.
public struct ConnectionSelection: Sendable, Equatable, Decodable {
    /// Every connection; needed when no other criterion is given, so that `{}` selects nothing by mistake.
    public var all: Bool
    /// An organization's id, or else the identifier of the first live organization that has it.
    public var organization: String?
    /// Connection ids or identifiers, resolved as the single-connection routes do; each must exist.
    public var ids: [String]?
    public var vendor: Vendor?
    /// The connection's `state`.
    public var state: ConnectionState?
    /// The current `health.status`; a connection without health has none and does not match.
    public var status: HealthStatus?
    /// The current `health.name` (any name, documented or not).
    public var healthName: HealthName?
    public var identifierPrefix: String?

    public init(
        all: Bool = false, organization: String? = nil, ids: [String]? = nil, vendor: Vendor? = nil,
        state: ConnectionState? = nil, status: HealthStatus? = nil, healthName: HealthName? = nil,
        identifierPrefix: String? = nil
    ) {
        self.all = all
        self.organization = organization
        self.ids = ids
        self.vendor = vendor
        self.state = state
        self.status = status
        self.healthName = healthName
        self.identifierPrefix = identifierPrefix
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case all, organization, ids, vendor, state, status
        case healthName = "health_name"
        case identifierPrefix = "identifier_prefix"
    }

    /// True when no criterion narrows the selection (and `all` is not set): such a selection is refused.
    public var isEmpty: Bool {
        !all && organization == nil && ids == nil && vendor == nil && state == nil && status == nil
            && healthName == nil && identifierPrefix == nil
    }

    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        let known = CodingKeys.allCases.map(\.rawValue)
        if let unknown = keys.first(where: { !known.contains($0) }) {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "unknown key '\(unknown)' (known: \(known.joined(separator: ", ")))"))
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        all = try container.decodeIfPresent(Bool.self, forKey: .all) ?? false
        organization = try container.decodeIfPresent(String.self, forKey: .organization)
        ids = try container.decodeIfPresent([String].self, forKey: .ids)
        vendor = try Self.documented(Vendor.self, .vendor, in: container)
        state = try Self.documented(ConnectionState.self, .state, in: container)
        status = try Self.documented(HealthStatus.self, .status, in: container)
        healthName = try container.decodeIfPresent(HealthName.self, forKey: .healthName)
        identifierPrefix = try container.decodeIfPresent(String.self, forKey: .identifierPrefix)
        for (key, value) in [(CodingKeys.organization, organization), (.identifierPrefix, identifierPrefix)]
        where value?.isEmpty == true {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "must not be empty")
        }
        if let index = ids?.firstIndex(of: "") {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath + [CodingKeys.ids, AnyKey(intValue: index)],
                    debugDescription: "must not be empty"))
        }
    }

    private static func documented<Value: OpenEnumeration>(
        _ type: Value.Type, _ key: CodingKeys, in container: KeyedDecodingContainer<CodingKeys>
    ) throws -> Value? {
        guard let value = try container.decodeIfPresent(Value.self, forKey: key) else { return nil }
        guard value.isDocumented else {
            let names = Value.documentedValues.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "unknown value '\(value.rawValue)' (one of \(names))")
        }
        return value
    }

    /// Whether a connection, as it is now, meets the criteria other than `organization` and `ids` (those choose
    /// the candidates).
    func matches(_ connection: Connection) -> Bool {
        if let vendor, connection.vendor != vendor { return false }
        if let state, connection.state != state { return false }
        if let status, connection.health?.status != status { return false }
        if let healthName, connection.health?.name != healthName { return false }
        if let identifierPrefix, connection.identifier?.hasPrefix(identifierPrefix) != true { return false }
        return true
    }
}

/// Any key, to see every key an object has.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        stringValue = "\(intValue)"
        self.intValue = intValue
    }
}
