import LeenAPI
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A typed client for Leen's provisioning API (organizations and connections).
///
/// Every request carries `X-API-KEY`, has a timeout that covers the whole exchange, and is retried when it is
/// safe: idempotent calls on transport errors, timeouts, 5xx and 429 (waiting out `Retry-After`), with
/// exponential backoff and full jitter. `POST` create is never blindly retried: before trying again the
/// client looks the connection up by its `identifier`, so a create that reached Leen is not made twice.
///
/// ```swift
/// let client = LeenClient(configuration: .init(endpoint: .eu, apiKey: LeenAPIKey(key)), httpClient: http)
/// for try await page in client.connectionPages(organizationID: org, pageSize: 100) { … }
/// ```
public struct LeenClient: Sendable {
    public let configuration: Configuration
    let httpClient: HTTPClient
    let logger: Logger
    let observer: (@Sendable (RequestEvent) -> Void)?
    /// Requests parsed once, for URLs asked for again and again (``RequestTemplates``).
    let templates = RequestTemplates()

    /// - Parameters:
    ///   - httpClient: the client to send with; the caller owns its lifetime.
    ///   - observer: told about every attempt (for metrics); called on the requesting task, keep it cheap.
    public init(
        configuration: Configuration, httpClient: HTTPClient, logger: Logger = Logger(label: "leen.api"),
        observer: (@Sendable (RequestEvent) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
        self.observer = observer
    }

    /// One HTTP attempt, as reported to the observer.
    public struct RequestEvent: Sendable {
        public var operation: String
        public var method: String
        /// The HTTP status, or nil when no response came.
        public var status: Int?
        /// Set when the attempt failed.
        public var errorKind: LeenAPIError.Kind?
        public var duration: Duration
        /// 1 for the first attempt.
        public var attempt: Int
        /// The wait before the next attempt, when one follows.
        public var retryDelay: Duration?
        /// True when `retryDelay` is the server's `Retry-After`.
        public var honouredRetryAfter: Bool
    }

    // MARK: - Requests

    /// One API operation: method, path segments (percent-encoded here) and query.
    struct Endpoint: Sendable {
        var operation: String
        var method: HTTPMethod
        var path: [String]
        var query: [(String, String)] = []
        /// Safe to send twice (GET, DELETE, a PATCH that sets fields).
        var idempotent: Bool

        /// Asked for again with the same URL: a GET without a cursor (which Leen makes for one walk).
        var repeats: Bool { method == .GET && !query.contains { $0.0 == "cursor" } }

        var displayPath: String { "/" + path.joined(separator: "/") }
        var display: String { "\(method.rawValue) \(displayPath)" }
    }

    struct RawResponse: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    /// Sends `endpoint` with retries and decodes a 2xx body as `Response`.
    ///
    /// - Parameter beforeRetry: for non-idempotent calls: run after a transient failure and before trying
    ///   again; a non-nil result ends the call with that value (the first attempt took effect after all).
    func call<Response: Decodable & Sendable>(
        _ endpoint: Endpoint, body: (some Encodable & Sendable)? = String?.none, as: Response.Type = Response.self,
        beforeRetry: (@Sendable () async throws -> Response?)? = nil,
        decodeBody: (ByteBuffer) throws -> Response = { try LeenClient.decodeBody(Response.self, from: Data($0.readableBytesView)) }
    ) async throws -> Response {
        let payload: ByteBuffer?
        if let body {
            do {
                payload = ByteBuffer(bytes: try JSONEncoder().encode(body))
            } catch {
                throw LeenAPIError(
                    kind: .validation, operation: endpoint.operation, request: endpoint.display,
                    underlying: "request body could not be encoded")
            }
        } else {
            payload = nil
        }
        let retryable = endpoint.idempotent || beforeRetry != nil
        var attempt = 1
        while true {
            let started = ContinuousClock.now
            var failure: LeenAPIError
            var status: Int?
            do {
                let raw = try await send(endpoint, payload: payload)
                status = raw.status
                if (200..<300).contains(raw.status) {
                    do {
                        let value = try decodeBody(raw.body)
                        report(endpoint, status: raw.status, error: nil, since: started, attempt: attempt, delay: nil)
                        return value
                    } catch {
                        failure = LeenAPIError(
                            kind: .malformedResponse, operation: endpoint.operation, request: endpoint.display,
                            status: raw.status, underlying: Self.summary(of: error))
                    }
                } else {
                    failure = Self.error(for: raw, endpoint: endpoint, secrets: secrets(sentWith: payload))
                }
            } catch let error as LeenAPIError {
                failure = error
            }
            failure.attempts = attempt
            try Task.checkCancellation()

            let delay = retryable && failure.isTransient
                ? configuration.retry.delay(
                    afterAttempt: attempt, retryAfter: failure.retryAfter, unit: Double.random(in: 0..<1))
                : nil
            report(endpoint, status: status, error: failure.kind, since: started, attempt: attempt, delay: delay,
                   retryAfter: failure.retryAfter != nil)
            guard let delay else { throw failure }
            if let beforeRetry, let existing = try await beforeRetry() {
                return existing
            }
            logger.debug(
                "retrying Leen API request",
                metadata: [
                    "operation": "\(endpoint.operation)", "attempt": "\(attempt)",
                    "delay_ms": "\(Int(delay.seconds * 1000))", "error": "\(failure.kind.rawValue)",
                ])
            try await Task.sleep(for: delay)
            attempt += 1
        }
    }

    /// One HTTP exchange, bounded by the request timeout from the first byte sent to the last byte read.
    ///
    /// Through AsyncHTTPClient's delegate API, whose deadline covers the whole exchange and which hands the
    /// body over once, whole: the async API's deadline ends with the response head, and bounding the body
    /// too took a task group with a sleeping task per request (1.2% of the daemon's CPU at 100k connections
    /// in that function alone, perf), and the body came over chunk by chunk, each a hop from the event loop
    /// to the task.
    func send(_ endpoint: Endpoint, payload: ByteBuffer?) async throws -> RawResponse {
        var headers = HTTPHeaders()
        headers.add(name: "X-API-KEY", value: configuration.apiKey.secretValue)
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "User-Agent", value: configuration.userAgent)
        if payload != nil { headers.add(name: "Content-Type", value: "application/json") }
        do {
            var request = try templates.request(url: url(for: endpoint), method: endpoint.method, keep: endpoint.repeats)
            request.headers = headers
            request.body = payload.map { .byteBuffer($0) }
            let accumulator = ResponseAccumulator(request: request, maxBodySize: configuration.maximumResponseBytes)
            let task = httpClient.execute(
                request: request, delegate: accumulator,
                deadline: .now() + .nanoseconds(configuration.requestTimeout.nanoseconds))
            let response = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
            return RawResponse(status: Int(response.status.code), headers: response.headers, body: response.body ?? ByteBuffer())
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw LeenAPIError(kind: .timeout, operation: endpoint.operation, request: endpoint.display)
        } catch let error as HTTPClientError where error == .cancelled {
            throw CancellationError()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw LeenAPIError(
                kind: .transport, operation: endpoint.operation, request: endpoint.display,
                underlying: Self.summary(of: error))
        }
    }

    func url(for endpoint: Endpoint) -> String {
        var url = configuration.endpoint.baseURL
        for segment in endpoint.path {
            url += "/" + Self.percentEncoded(segment, allowed: .urlPathSegmentAllowed)
        }
        if !endpoint.query.isEmpty {
            url += "?" + endpoint.query.map { "\($0.0)=\(Self.queryEscape($0.1))" }.joined(separator: "&")
        }
        return url
    }

    static func queryEscape(_ value: String) -> String { percentEncoded(value, allowed: .urlQueryValueAllowed) }

    /// `value` percent-encoded but for `allowed`. A value of ASCII letters, digits, `-`, `.`, `_` and `~` (ids,
    /// numbers, most cursors), which both sets allow, comes back as it is without Foundation's lookup of
    /// every character: building each request's URL that way was about 1% of the daemon's CPU at 100k
    /// connections (perf).
    static func percentEncoded(_ value: String, allowed: CharacterSet) -> String {
        let unreserved = value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                true
            default: false
            }
        }
        return unreserved ? value : value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// How every call reads a 2xx body: `T` from JSON, or the error whose ``summary(of:)`` becomes the
    /// `malformedResponse` error's text. Public so that the fuzz targets (`Fuzz/`) read bodies as calls do.
    public static func decodeBody<T: Decodable>(_ type: T.Type, from body: Data) throws -> T {
        try JSONDecoder().decode(T.self, from: body)
    }

    /// The API key and the credential values of `payload`: what an error that quotes the request must not
    /// repeat.
    func secrets(sentWith payload: ByteBuffer?) -> [String] {
        [configuration.apiKey.secretValue]
            + (payload.map { SecretRedaction.credentialValues(inJSON: Array($0.readableBytesView)) } ?? [])
    }

    /// Maps a non-2xx response to a typed error with Leen's `detail`, without `secrets` (the request's key and
    /// credentials) should the server quote them back.
    static func error(for raw: RawResponse, endpoint: Endpoint, secrets: [String] = []) -> LeenAPIError {
        let kind: LeenAPIError.Kind =
            switch raw.status {
            case 401: .unauthorized
            case 403: .forbidden
            case 404: .notFound
            case 422: .validation
            case 429: .rateLimited
            case 500..<600: .server
            default: .http
            }
        var error = LeenAPIError(
            kind: kind, operation: endpoint.operation, request: endpoint.display, status: raw.status)
        if let value = raw.headers.first(name: "Retry-After"), kind == .rateLimited || kind == .server {
            error.retryAfter = RetryAfter.parse(value)
        }
        let data = Data(raw.body.readableBytesView)
        if kind == .validation, let body = try? JSONDecoder().decode(HTTPValidationError.self, from: data) {
            error.validationIssues = body.detail.map { issue in
                var issue = issue
                issue.msg = SecretRedaction.redact(issue.msg, secrets: secrets)
                return issue
            }
        } else if let body = try? JSONDecoder().decode(DetailBody.self, from: data),
            case .string(let detail)? = body.detail
        {
            // The request's own secrets are redacted first, whole (a cut through one would leave its first
            // characters); then anything else credential-like, and the length bound.
            error.detail = ServerText.sanitize(SecretRedaction.redact(detail, secrets: secrets))
        }
        return error
    }

    /// A one-line description of a transport or decoding error. These never contain headers or bodies.
    public static func summary(of error: any Error) -> String {
        switch error {
        case let error as DecodingError:
            switch error {
            case .dataCorrupted(let c): "invalid JSON at \(path(c.codingPath)): \(c.debugDescription)"
            case .keyNotFound(let key, let c): "missing key '\(key.stringValue)' at \(path(c.codingPath))"
            case .typeMismatch(_, let c): "wrong type at \(path(c.codingPath)): \(c.debugDescription)"
            case .valueNotFound(_, let c): "null at \(path(c.codingPath))"
            @unknown default: "undecodable response"
            }
        default:
            String(describing: error)
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.isEmpty ? "top level" : codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            .joined(separator: ".")
    }

    private func report(
        _ endpoint: Endpoint, status: Int?, error: LeenAPIError.Kind?, since started: ContinuousClock.Instant,
        attempt: Int, delay: Duration?, retryAfter: Bool = false
    ) {
        guard let observer else { return }
        observer(
            RequestEvent(
                operation: endpoint.operation, method: endpoint.method.rawValue, status: status, errorKind: error,
                duration: ContinuousClock.now - started, attempt: attempt, retryDelay: delay,
                honouredRetryAfter: delay != nil && retryAfter))
    }
}

extension CharacterSet {
    static let urlPathSegmentAllowed: CharacterSet = {
        var set = CharacterSet.urlPathAllowed
        set.remove(charactersIn: "/;?#")
        return set
    }()

    static let urlQueryValueAllowed: CharacterSet = {
        var set = CharacterSet.urlQueryAllowed
        set.remove(charactersIn: "&=+#;")
        return set
    }()
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, attos) = components
        return s * 1_000_000_000 + attos / 1_000_000_000
    }
}
