import LeenAPI

/// Why polling an organization failed, in the core's own words. The daemon maps its HTTP client's errors
/// to it, so the core never depends on the client.
public struct PollFailure: Sendable, Hashable {
    /// What went wrong, coarsely. The raw values are what `LEEN_API_ERROR` and the poll metrics' `result`
    /// label show.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// 401: the key is missing, wrong or expired.
        case unauthorized
        /// 403.
        case forbidden
        /// 404: unknown organization.
        case notFound
        /// 422.
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
        /// Every page answered, but the walk is not provably complete (``ListingError``): a repeated cursor,
        /// an empty page before `total`, fewer or more items than `total`, an item listed twice.
        case incompleteListing
        /// The poll was cancelled.
        case cancelled
    }

    public var kind: Kind
    public var status: Int?
    /// Leen's `detail`, if it sent one.
    public var detail: String?
    /// One secret-free line: operation, request, status and cause.
    public var summary: String
    /// The server's `Retry-After`, when it sent one.
    public var retryAfter: Duration?

    public init(
        kind: Kind, status: Int? = nil, detail: String? = nil, summary: String, retryAfter: Duration? = nil
    ) {
        self.kind = kind
        self.status = status
        self.detail = detail
        self.summary = summary
        self.retryAfter = retryAfter
    }

    /// 401 and 403: the key is refused. Anything else: unreachable.
    public var isRejection: Bool { kind == .unauthorized || kind == .forbidden }
}

/// The outcome of polling one organization: every connection its pages listed, or why it failed.
public enum PollOutcome: Sendable {
    /// A provably complete listing (``PageSequence``).
    case success(Listing<Connection>)
    case failure(PollFailure)
}
