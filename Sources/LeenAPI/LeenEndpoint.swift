/// Where the Leen API lives.
public enum LeenEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `https://api.leen.dev/v1`
    case us
    /// `https://api.eu-c1.leen.dev/v1`
    case eu
    /// `https://api.ap-se2.leen.dev/v1`
    case apac
    /// Any base URL that already includes the version prefix, e.g. `http://127.0.0.1:8080/v1` for leen-sim.
    case custom(String)

    /// Parses `us`, `eu`, `apac`, or an `http(s)://` base URL.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "us": self = .us
        case "eu": self = .eu
        case "apac": self = .apac
        default:
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else { return nil }
            self = .custom(text)
        }
    }

    /// The base URL without a trailing slash.
    public var baseURL: String {
        switch self {
        case .us: "https://api.leen.dev/v1"
        case .eu: "https://api.eu-c1.leen.dev/v1"
        case .apac: "https://api.ap-se2.leen.dev/v1"
        case .custom(let url): url.hasSuffix("/") ? String(url.dropLast()) : url
        }
    }

    public var description: String { baseURL }
}
