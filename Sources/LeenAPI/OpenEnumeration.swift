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

    /// A documented value longer than 15 bytes (which Swift cannot keep inline) takes its constant's string, a
    /// literal: a fleet holds the same few vendor and health names once per connection (in the state, the
    /// page memo and the state files read at start), and each decoded copy was a heap string of its own.
    public init(from decoder: any Decoder) throws {
        self.init(decoded: try decoder.singleValueContainer().decode(String.self))
    }

    /// The value a decoder read: a documented one longer than 15 bytes takes its constant's string (above).
    /// Inlinable, so that callers in other modules (the state files' reader) run it specialised: through the
    /// protocol, it looked up array metadata at every call (4% of a start after SIGKILL at 100k, perf).
    @inlinable
    public init(decoded raw: String) {
        if raw.utf8.count > 15, let known = Self.documentedValues.first(where: { $0.rawValue == raw }) {
            self = known
        } else {
            self.init(rawValue: raw)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
