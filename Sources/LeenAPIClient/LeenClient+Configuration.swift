import LeenAPI

extension LeenClient {
    /// How a ``LeenClient`` talks to the API.
    public struct Configuration: Sendable {
        public var endpoint: LeenEndpoint
        public var apiKey: LeenAPIKey
        /// Limit for one HTTP exchange, head and body together.
        public var requestTimeout: Duration
        public var retry: RetryPolicy
        /// Largest response body accepted.
        public var maximumResponseBytes: Int
        public var userAgent: String

        public init(
            endpoint: LeenEndpoint, apiKey: LeenAPIKey, requestTimeout: Duration = .seconds(30),
            retry: RetryPolicy = RetryPolicy(), maximumResponseBytes: Int = 32 << 20,
            userAgent: String = "leen-healthd"
        ) {
            self.endpoint = endpoint
            self.apiKey = apiKey
            self.requestTimeout = requestTimeout
            self.retry = retry
            self.maximumResponseBytes = maximumResponseBytes
            self.userAgent = userAgent
        }
    }
}
