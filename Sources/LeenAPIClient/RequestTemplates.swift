import AsyncHTTPClient
import NIOHTTP1
import Synchronization

/// Requests already parsed, by URL: a monitor asks for the same pages again at every poll (each
/// organization's first page, and offset pages), and `HTTPClient.Request` parses its URL with Foundation's
/// `URL` every time it is made, which was 2% of the daemon's CPU at 100k connections when polls found nothing
/// new (perf).
///
/// A template has no headers and no body: those (the API key among them) are set on a copy for each
/// attempt, so nothing secret is kept here. URLs with a cursor, which Leen makes for one walk, are never
/// kept, and at most ``limit`` URLs are: beyond it, requests are parsed as before.
final class RequestTemplates: Sendable {
    static let limit = 4096

    /// Boxed: a request is 376 bytes, and a dictionary's slots (a power of two, at most three quarters
    /// full) would hold it inline.
    private final class Kept: Sendable {
        let request: HTTPClient.Request
        init(_ request: HTTPClient.Request) { self.request = request }
    }

    private let templates = Mutex<[String: Kept]>([:])

    /// A request for `url` with `method`, no headers and no body; kept for the next call when `keep` (for
    /// GET requests only: the URL is the key).
    func request(url: String, method: HTTPMethod, keep: Bool) throws -> HTTPClient.Request {
        if keep, let kept = templates.withLock({ $0[url] }) { return kept.request }
        let request = try HTTPClient.Request(url: url, method: method)
        if keep {
            templates.withLock { if $0.count < Self.limit { $0[url] = Kept(request) } }
        }
        return request
    }

    /// What is kept, by URL.
    var kept: [String: HTTPClient.Request] { templates.withLock { $0.mapValues(\.request) } }
}
