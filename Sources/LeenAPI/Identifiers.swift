/// A Leen id (a UUID string such as `3c90c3cc-0d44-4b50-8888-8dd25736052a`), typed by what it names so an
/// organization id cannot be passed where a connection id belongs.
///
/// Ids are kept as the exact string the API sent: no case folding, no parsing that could fail.
public struct LeenID<Kind: LeenIDKind>: RawRepresentable, Codable, Hashable, Sendable, Comparable,
    CustomStringConvertible, ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// What a ``LeenID`` names.
public protocol LeenIDKind: Sendable {}
public enum OrganizationKind: LeenIDKind {}
public enum ConnectionKind: LeenIDKind {}

public typealias OrganizationID = LeenID<OrganizationKind>
public typealias ConnectionID = LeenID<ConnectionKind>
