/// A string-valued enumeration whose set of values the server may grow at any time.
///
/// Leen's API is generated from Pydantic models and adds vendors, health names and export types over time.
/// A client that fails to decode a response because one value is new would stop monitoring everything, so
/// every enumerated field in ``LeenAPI`` is an `OpenEnumeration`: the documented values are named constants
/// (`Vendor.tenable`, `HealthStatus.unhealthy`, …) that `switch` matches, and any other string decodes into a
/// value that keeps its exact spelling and encodes back unchanged.
///
/// ```swift
/// switch connection.health?.resolutionOwner {
/// case .customer?: notifyCustomer()
/// case .vendor?, .leen?: break
/// default: logUnknown()          // a value Leen added after this build
/// }
/// ```
public protocol OpenEnumeration: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
where RawValue == String {
    /// The values documented when this build was made, in documentation order.
    static var documentedValues: [Self] { get }
    /// Wraps any raw string, documented or not.
    init(rawValue: String)
}

extension OpenEnumeration {
    public init?(rawValue: String, documentedOnly: Bool) {
        self.init(rawValue: rawValue)
        if documentedOnly && !isDocumented { return nil }
    }

    public init(stringLiteral value: String) { self.init(rawValue: value) }

    /// True when this build knows the value from Leen's documentation.
    public var isDocumented: Bool { Self.documentedValues.contains(self) }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
