/// Faults leen-sim injects into `/v1` requests, by rate (each request draws from the seeded generator) or
/// queued one-shot (the next matching requests get exactly these, in order). Settable by flag at start and
/// at runtime through `/_sim/faults`.
public struct FaultSettings: Codable, Sendable, Hashable {
    /// Share of requests answered with ``errorStatus``.
    public var errorRate: Double = 0
    public var errorStatus: Int = 503
    /// Share of requests answered 429 with `Retry-After: retryAfterSecs`.
    public var rateLimitRate: Double = 0
    public var retryAfterSecs: Int = 1
    /// Added to every request, plus a uniform 0…``latencyJitterMs``.
    public var latencyMs: Int = 0
    public var latencyJitterMs: Int = 0
    /// Share of requests that get no answer for ``hangSecs`` (then a normal one).
    public var hangRate: Double = 0
    public var hangSecs: Double = 300
    /// Share of 200 responses whose JSON body is cut in half (valid HTTP, invalid JSON).
    public var truncateRate: Double = 0
    /// Share of 200 responses whose body is not JSON at all.
    public var malformedRate: Double = 0
    /// Share of requests whose connection is closed before the response is complete.
    public var closeRate: Double = 0
    /// Only requests whose path contains this are affected (all `/v1` requests when nil).
    public var pathContains: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case errorRate = "error_rate", errorStatus = "error_status", rateLimitRate = "rate_limit_rate"
        case retryAfterSecs = "retry_after_secs", latencyMs = "latency_ms", latencyJitterMs = "latency_jitter_ms"
        case hangRate = "hang_rate", hangSecs = "hang_secs", truncateRate = "truncate_rate"
        case malformedRate = "malformed_rate", closeRate = "close_rate", pathContains = "path_contains"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = FaultSettings.defaults
        errorRate = try c.decodeIfPresent(Double.self, forKey: .errorRate) ?? d.errorRate
        errorStatus = try c.decodeIfPresent(Int.self, forKey: .errorStatus) ?? d.errorStatus
        rateLimitRate = try c.decodeIfPresent(Double.self, forKey: .rateLimitRate) ?? d.rateLimitRate
        retryAfterSecs = try c.decodeIfPresent(Int.self, forKey: .retryAfterSecs) ?? d.retryAfterSecs
        latencyMs = try c.decodeIfPresent(Int.self, forKey: .latencyMs) ?? d.latencyMs
        latencyJitterMs = try c.decodeIfPresent(Int.self, forKey: .latencyJitterMs) ?? d.latencyJitterMs
        hangRate = try c.decodeIfPresent(Double.self, forKey: .hangRate) ?? d.hangRate
        hangSecs = try c.decodeIfPresent(Double.self, forKey: .hangSecs) ?? d.hangSecs
        truncateRate = try c.decodeIfPresent(Double.self, forKey: .truncateRate) ?? d.truncateRate
        malformedRate = try c.decodeIfPresent(Double.self, forKey: .malformedRate) ?? d.malformedRate
        closeRate = try c.decodeIfPresent(Double.self, forKey: .closeRate) ?? d.closeRate
        pathContains = try c.decodeIfPresent(String.self, forKey: .pathContains)
    }

    static let defaults = FaultSettings()
}

/// One fault for the next matching request.
public struct QueuedFault: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Answer with `status` (and `retry_after` as the `Retry-After` header when given).
        case status
        /// No answer for `hang_secs`.
        case hang
        /// The head and the first half of the body, then nothing for `hang_secs`, then the rest: a server
        /// (or a proxy) that stalls in the middle of a response. Only JSON answers take it.
        case stallBody = "stall_body"
        case truncate
        case malformed
        case close
        /// Process the request, then close the connection instead of answering: the change is made but
        /// the client never hears of it (a lost response).
        case dropResponse = "drop_response"
        /// A list response that answers 200 but is not a faithful page (``ListingFault``): what a buggy or
        /// inconsistent server sends. Only list requests take it.
        case listing
        /// Answer with `status` (400 when not given) and a `detail` quoting the request: method, path, the
        /// `X-API-KEY` header and the body. Servers' error messages sometimes echo what they were sent; a
        /// client must not pass such a detail on as it is (the API key, a credential).
        case echo
    }

    /// How a ``Kind/listing`` fault bends one list page.
    public enum ListingFault: String, Codable, Sendable, CaseIterable {
        /// `next_cursor` points back at this page (cursor mode; in offset mode, the page is served again
        /// whatever the offset, as by a server that ignores it).
        case cursorLoop = "cursor_loop"
        /// `total` says five more items than exist.
        case inflatedTotal = "inflated_total"
        /// No items, `total` 0: a listing that looks complete and empty.
        case empty
        /// The page's first item is listed a second time, at its end.
        case duplicateItem = "duplicate_item"
        /// The page's first item has `refresh_interval_secs` and `resolution_owner` set to null.
        case nullField = "null_field"
    }

    public var kind: Kind
    public var status: Int?
    /// The raw `Retry-After` header value: seconds or an HTTP date.
    public var retryAfter: String?
    public var hangSecs: Double?
    public var pathContains: String?
    /// For ``Kind/listing``.
    public var listing: ListingFault?
    /// Matching requests to let through before this fault applies (a failure in the middle of a walk).
    public var skip: Int?

    public init(
        kind: Kind, status: Int? = nil, retryAfter: String? = nil, hangSecs: Double? = nil, pathContains: String? = nil,
        listing: ListingFault? = nil, skip: Int? = nil
    ) {
        self.kind = kind
        self.skip = skip
        self.listing = listing
        self.status = status
        self.retryAfter = retryAfter
        self.hangSecs = hangSecs
        self.pathContains = pathContains
    }

    enum CodingKeys: String, CodingKey {
        case kind, status
        case retryAfter = "retry_after", hangSecs = "hang_secs", pathContains = "path_contains", listing, skip
    }
}

/// What the fault layer decided for one request.
struct FaultDecision: Sendable {
    enum Action: Sendable {
        case status(Int, retryAfter: String?)
        case hang(seconds: Double)
        case stallBody(seconds: Double)
        case truncate
        case malformed
        case close
        case dropResponse
        case listing(QueuedFault.ListingFault)
        case echo(Int)
    }

    var delayMs: Int = 0
    var action: Action?

    /// Draws the decision for `path` from the queue first, then the rates.
    ///
    /// - Parameter firstPage: the request asks for a listing's first page (no cursor, offset 0). A queued
    ///   `empty` listing waits for one: it stands for Leen answering a whole listing that is complete and
    ///   empty, not for one empty page in the middle of a walk (which is another fault, a listing whose
    ///   `total` disagrees with what was listed).
    static func draw(
        path: String, firstPage: Bool = true, settings: FaultSettings, queue: inout [QueuedFault],
        rng: inout SeededRandom
    ) -> FaultDecision {
        var decision = FaultDecision()
        if let index = queue.firstIndex(where: { fault in
            (fault.pathContains.map(path.contains) ?? true)
                && (firstPage || fault.kind != .listing || (fault.listing ?? .empty) != .empty)
        }) {
            if let skip = queue[index].skip, skip > 0 {
                // Queued faults apply in order: this one holds back the ones behind it while it waits.
                queue[index].skip = skip - 1
                return decision
            }
            let fault = queue.remove(at: index)
            switch fault.kind {
            case .status: decision.action = .status(fault.status ?? 503, retryAfter: fault.retryAfter)
            case .hang: decision.action = .hang(seconds: fault.hangSecs ?? settings.hangSecs)
            case .stallBody: decision.action = .stallBody(seconds: fault.hangSecs ?? settings.hangSecs)
            case .truncate: decision.action = .truncate
            case .malformed: decision.action = .malformed
            case .close: decision.action = .close
            case .dropResponse: decision.action = .dropResponse
            case .listing: decision.action = .listing(fault.listing ?? .empty)
            case .echo: decision.action = .echo(fault.status ?? 400)
            }
            return decision
        }
        guard settings.pathContains.map(path.contains) ?? true else { return decision }
        decision.delayMs = settings.latencyMs
        if settings.latencyJitterMs > 0 {
            decision.delayMs += Int.random(in: 0...settings.latencyJitterMs, using: &rng)
        }
        let u = Double.random(in: 0..<1, using: &rng)
        var edge = 0.0
        let candidates: [(Double, FaultDecision.Action)] = [
            (settings.errorRate, .status(settings.errorStatus, retryAfter: nil)),
            (settings.rateLimitRate, .status(429, retryAfter: String(settings.retryAfterSecs))),
            (settings.hangRate, .hang(seconds: settings.hangSecs)),
            (settings.truncateRate, .truncate),
            (settings.malformedRate, .malformed),
            (settings.closeRate, .close),
        ]
        for (rate, action) in candidates where rate > 0 {
            edge += rate
            if u < edge {
                decision.action = action
                break
            }
        }
        return decision
    }
}
