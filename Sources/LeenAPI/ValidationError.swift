/// FastAPI's 422 body (`HTTPValidationError`): `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`.
public struct HTTPValidationError: Codable, Hashable, Sendable {
    public var detail: [ValidationIssue]
    public init(detail: [ValidationIssue]) { self.detail = detail }
}

/// One `ValidationError`. Pydantic v2's `input` and `ctx` members are deliberately not decoded: `input`
/// echoes the rejected value, which may be a credential.
public struct ValidationIssue: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Where the error is, e.g. `["body", "credentials", "client_key"]` or `["query", "limit"]`.
    public var loc: [LocationComponent]
    public var msg: String
    public var type: String

    public init(loc: [LocationComponent], msg: String, type: String) {
        self.loc = loc
        self.msg = msg
        self.type = type
    }

    /// `body.credentials.client_key: Field required`.
    public var description: String {
        // `msg` may quote the rejected input; `loc` names fields, which are safe.
        "\(loc.map(\.description).joined(separator: ".")): \(ServerText.sanitize(msg))"
    }

    /// A member of `loc`: a field name or an array index.
    public enum LocationComponent: Codable, Hashable, Sendable, CustomStringConvertible,
        ExpressibleByStringLiteral, ExpressibleByIntegerLiteral
    {
        case key(String)
        case index(Int)

        public init(stringLiteral value: String) { self = .key(value) }
        public init(integerLiteral value: Int) { self = .index(value) }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .index(i) } else { self = .key(try c.decode(String.self)) }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .key(let k): try c.encode(k)
            case .index(let i): try c.encode(i)
            }
        }

        public var description: String {
            switch self {
            case .key(let k): k
            case .index(let i): String(i)
            }
        }
    }
}

/// A non-422 error body: FastAPI's `{"detail": "…"}`. `detail` may also be any other JSON.
package struct DetailBody: Decodable {
    package var detail: JSONValue?
}
