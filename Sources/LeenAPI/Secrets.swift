import Foundation

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

/// Takes secrets out of text a server wrote back. Some servers' error messages quote the request they
/// refused (its headers, its body); such a message must not carry the API key or a credential into an
/// error, a log line or a journal event.
public enum SecretRedaction {
    public static let marker = "<redacted>"
    /// Said instead of text that still holds part of a secret after every whole occurrence was replaced.
    public static let withheld = "<withheld: it quoted part of a secret>"
    /// A run of this many characters of a secret counts as quoting it (a quote cut short by the server).
    public static let partLength = 8

    /// `text` with every occurrence of each secret (as written, or escaped as in JSON) replaced by
    /// ``marker``; ``withheld`` when a run of ``partLength`` characters of a secret is still there.
    public static func redact(_ text: String, secrets: [String]) -> String {
        var text = text
        let secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        for secret in secrets {
            for form in Set([secret, jsonEscaped(secret)]) {
                text = text.replacingOccurrences(of: form, with: marker)
            }
        }
        for secret in secrets {
            let characters = Array(secret)
            guard characters.count >= partLength else { continue }
            for start in 0...(characters.count - partLength)
            where text.contains(String(characters[start..<(start + partLength)])) {
                return withheld
            }
        }
        return text
    }

    /// The string values under every `credentials` member of a JSON request body (nested at any depth).
    public static func credentialValues(inJSON body: [UInt8]) -> [String] {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else { return [] }
        return credentialValues(in: value, underCredentials: false)
    }

    private static func credentialValues(in value: JSONValue, underCredentials: Bool) -> [String] {
        switch value {
        case .string(let string): underCredentials ? [string] : []
        case .array(let items): items.flatMap { credentialValues(in: $0, underCredentials: underCredentials) }
        case .object(let members):
            members.flatMap { key, member in
                credentialValues(in: member, underCredentials: underCredentials || key == "credentials")
            }
        default: []
        }
    }

    private static func jsonEscaped(_ text: String) -> String {
        guard let data = try? JSONEncoder().encode(text), let quoted = String(data: data, encoding: .utf8) else {
            return text
        }
        return String(quoted.dropFirst().dropLast())
    }
}
