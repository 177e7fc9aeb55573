import LeenAPI
/// A failed call to the Leen API.
///
/// It says which operation failed, on which path, with what HTTP status and what Leen's `detail` said.
/// It never holds the API key or a request body, so it is safe to log.
public struct LeenAPIError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarsely: what a caller switches on.
    public enum Kind: String, Sendable, Hashable {
        /// 401: the key is missing, wrong or expired, or belongs to another environment.
        case unauthorized
        /// 403.
        case forbidden
        /// 404: unknown organization or connection.
        case notFound
        /// 422: the request failed validation; see ``LeenAPIError/validationIssues``.
        case validation
        /// 429 after the retries allowed.
        case rateLimited
        /// 5xx after the retries allowed.
        case server
        /// Any other non-2xx status.
        case http
        /// No complete response within the request timeout.
        case timeout
        /// The connection failed or closed before a complete response.
        case transport
        /// A 2xx response whose body is not the JSON expected.
        case malformedResponse
        /// The task was cancelled.
        case cancelled
    }

    public var kind: Kind
    /// The operation, e.g. `list_connections`.
    public var operation: String
    /// `GET /provisioning/organizations/…/connections`, without query or host.
    public var request: String
    public var status: Int?
    /// Leen's `detail` message for non-422 errors.
    public var detail: String?
    /// The field locations of a 422.
    public var validationIssues: [ValidationIssue]
    /// The server's `Retry-After`, when it sent one.
    public var retryAfter: Duration?
    /// Attempts made, the first one included.
    public var attempts: Int
    /// A short, secret-free description of an underlying transport or decoding error.
    public var underlying: String?

    public init(
        kind: Kind, operation: String, request: String, status: Int? = nil, detail: String? = nil,
        validationIssues: [ValidationIssue] = [], retryAfter: Duration? = nil, attempts: Int = 1,
        underlying: String? = nil
    ) {
        self.kind = kind
        self.operation = operation
        self.request = request
        self.status = status
        self.detail = detail
        self.validationIssues = validationIssues
        self.retryAfter = retryAfter
        self.attempts = attempts
        self.underlying = underlying
    }

    /// True for failures worth retrying on an idempotent request: transport, timeout, 5xx, 429.
    public var isTransient: Bool {
        switch kind {
        case .transport, .timeout, .server, .rateLimited: true
        default: false
        }
    }

    public var description: String {
        var text = "\(operation) failed: \(request)"
        if let status { text += " answered HTTP \(status)" }
        switch kind {
        case .timeout: text += " timed out"
        case .transport: text += " could not complete"
        case .malformedResponse: text += " returned a body that is not the expected JSON"
        case .cancelled: text += " was cancelled"
        default: break
        }
        if let detail { text += ": \(detail)" }
        if !validationIssues.isEmpty {
            text += ": " + validationIssues.map(\.description).joined(separator: "; ")
        }
        if let underlying { text += " (\(underlying))" }
        if let retryAfter { text += " [Retry-After \(Int(retryAfter.seconds.rounded(.up)))s]" }
        if attempts > 1 { text += " after \(attempts) attempts" }
        return text
    }
}
