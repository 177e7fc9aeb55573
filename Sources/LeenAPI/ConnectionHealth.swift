/// `health.status`: the high-level verdict of the connection's most recent job.
public struct HealthStatus: OpenEnumeration {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let healthy: HealthStatus = "HEALTHY"
    public static let unhealthy: HealthStatus = "UNHEALTHY"
    public static let documentedValues: [HealthStatus] = [.healthy, .unhealthy]
}

/// `health.resolution_owner`: who has to act for the connection to become healthy.
public struct ResolutionOwner: OpenEnumeration {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Leen's infrastructure or code; Leen fixes it.
    public static let leen: ResolutionOwner = "LEEN"
    /// Invalid, expired or insufficient credentials; the customer must update them.
    public static let customer: ResolutionOwner = "CUSTOMER"
    /// The vendor's API or network; often transient.
    public static let vendor: ResolutionOwner = "VENDOR"
    public static let documentedValues: [ResolutionOwner] = [.leen, .customer, .vendor]
}

/// `health.name`: why the most recent job ended as it did.
public struct HealthName: OpenEnumeration {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let healthy: HealthName = "HEALTHY"
    public static let executionTimeout: HealthName = "EXECUTION_TIMEOUT"
    public static let rateLimitExceeded: HealthName = "RATE_LIMIT_EXCEEDED"
    public static let vendorClientError: HealthName = "VENDOR_CLIENT_ERROR"
    public static let internalError: HealthName = "INTERNAL_ERROR"
    public static let vendorServerError: HealthName = "VENDOR_SERVER_ERROR"
    public static let unauthorized: HealthName = "UNAUTHORIZED"
    public static let documentedValues: [HealthName] = [
        .healthy, .executionTimeout, .rateLimitExceeded, .vendorClientError, .internalError, .vendorServerError,
        .unauthorized,
    ]

    /// One row of the Connection Health page's table.
    public struct Documented: Sendable, Hashable {
        public let status: HealthStatus
        public let resolutionOwner: ResolutionOwner
        public let description: String
    }

    /// The status, owner and description Leen documents for this name, or nil for an undocumented name.
    public var documented: Documented? {
        switch self {
        case .healthy: Documented(status: .healthy, resolutionOwner: .leen, description: "Connection is healthy")
        case .executionTimeout:
            Documented(status: .unhealthy, resolutionOwner: .leen, description: "Execution timeout")
        case .rateLimitExceeded:
            Documented(status: .unhealthy, resolutionOwner: .leen, description: "Rate limit exceeded")
        case .vendorClientError:
            Documented(status: .unhealthy, resolutionOwner: .leen, description: "Vendor returned a 4xx client error")
        case .internalError: Documented(status: .unhealthy, resolutionOwner: .leen, description: "Internal error")
        case .vendorServerError:
            Documented(status: .unhealthy, resolutionOwner: .vendor, description: "Vendor returned a 5xx server error")
        case .unauthorized:
            Documented(status: .unhealthy, resolutionOwner: .customer, description: "Connection is unauthorized")
        default: nil
        }
    }
}

/// `details[].data_export_type`. Only `alerts` is documented; every other value is kept as sent.
public struct DataExportType: OpenEnumeration {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let alerts: DataExportType = "alerts"
    public static let documentedValues: [DataExportType] = [.alerts]
}

/// One failing part of a connection: a vendor endpoint and the kind of data it exports.
public struct HealthDetail: Codable, Hashable, Sendable, Comparable {
    public var endpoint: String
    public var dataExportType: DataExportType

    public init(endpoint: String, dataExportType: DataExportType) {
        self.endpoint = endpoint
        self.dataExportType = dataExportType
    }

    enum CodingKeys: String, CodingKey {
        case endpoint
        case dataExportType = "data_export_type"
    }

    public static func < (lhs: HealthDetail, rhs: HealthDetail) -> Bool {
        (lhs.endpoint, lhs.dataExportType.rawValue) < (rhs.endpoint, rhs.dataExportType.rawValue)
    }
}

/// `ConnectionHealthStatus`: the result of the connection's most recent job run.
public struct ConnectionHealthStatus: Codable, Hashable, Sendable {
    public var name: HealthName
    public var status: HealthStatus
    public var description: String?
    public var resolutionOwner: ResolutionOwner
    /// Failing endpoints and export types; `null` in the API when there are none (e.g. HEALTHY).
    public var details: [HealthDetail]?

    public init(
        name: HealthName, status: HealthStatus, description: String?, resolutionOwner: ResolutionOwner,
        details: [HealthDetail]?
    ) {
        self.name = name
        self.status = status
        self.description = description
        self.resolutionOwner = resolutionOwner
        self.details = details
    }

    /// A health value as Leen's table defines it for a documented name.
    public init?(documented name: HealthName, details: [HealthDetail]? = nil) {
        guard let row = name.documented else { return nil }
        self.init(
            name: name, status: row.status, description: row.description, resolutionOwner: row.resolutionOwner,
            details: details)
    }

    enum CodingKeys: String, CodingKey {
        case name, status, description, details
        case resolutionOwner = "resolution_owner"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(status, forKey: .status)
        try c.encode(description, forKey: .description)
        try c.encode(resolutionOwner, forKey: .resolutionOwner)
        try c.encode(details, forKey: .details)  // explicit null, as the API sends it
    }
}
