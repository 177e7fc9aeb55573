/// The `X-API-KEY` value. It prints as `<redacted>` wherever it is interpolated, dumped or reflected.
public struct LeenAPIKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The key itself; read it only to put it in the request header.
    public let secretValue: String

    public init(_ secretValue: String) { self.secretValue = secretValue }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "LeenAPIKey(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// Vendor credentials for a create or update body (`credentials`), e.g. `{"client_key": …, "secret_key": …}`.
///
/// The values are secrets: `description`, `debugDescription` and `Mirror` show only the field names, so a
/// credential cannot leak through logging, string interpolation or `dump`.
public struct VendorCredentials: Codable, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The credential object as sent to Leen.
    public var fields: [String: JSONValue]

    public init(_ fields: [String: JSONValue]) { self.fields = fields }

    public init(from decoder: any Decoder) throws {
        fields = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(fields)
    }

    /// True when the object has at least one member.
    public var isEmpty: Bool { fields.isEmpty }

    /// The value at a dotted path (`aws.type`), for validation; never log it.
    public subscript(path path: String) -> JSONValue? { JSONValue.object(fields)[path: path] }

    public var description: String { "<redacted credentials: \(fields.keys.sorted().joined(separator: ", "))>" }
    public var debugDescription: String { "VendorCredentials(\(description))" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
