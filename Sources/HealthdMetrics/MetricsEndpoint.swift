import Foundation
import HTTPTypes
import HealthdCore
import Logging
import NIOCore
import NIOPosix

/// What the metrics endpoint answers, independent of the HTTP server: a request head in, a reply out.
///
/// ``MetricsServer`` serves it with Hummingbird (``router()``); a server on an inherited systemd socket
/// can call ``respond(to:)`` with the same result.
///
/// | Path | Answer |
/// |---|---|
/// | `/` | a small HTML page with the version and links |
/// | `/metrics` | text 0.0.4, or OpenMetrics 1.0.0 when `Accept` prefers it; gzip when accepted |
/// | `/-/healthy` | 200 while serving |
/// | `/-/ready` | 200 once the first poll cycle finished, else 503 |
/// | `/status` | JSON of every monitored connection (``StatusDocument``); `?organization_id=` filters |
///
/// Each request reads one snapshot from the provider; it never waits on a poll.
public struct MetricsEndpoint: Sendable {
    /// Returns the current snapshot. The daemon implements it as a cheap actor read.
    public typealias Provider = @Sendable () async -> MonitorSnapshot

    public enum Route: String, Sendable, CaseIterable {
        case landing = "/"
        case metrics = "/metrics"
        case healthy = "/-/healthy"
        case ready = "/-/ready"
        case status = "/status"
    }

    public struct Reply: Sendable {
        public var status: HTTPResponse.Status
        public var headers: HTTPFields
        /// The body's bytes, in order: write them one after the other. Empty when the body is a ``stream``.
        public var chunks: [ByteBuffer]
        /// A body made as it is sent (`/metrics`, compressed or not).
        public var stream: BodyStream?

        /// The body's length (for `Content-Length`); nil for a stream of unknown length (sent chunked).
        public var contentLength: Int? {
            guard let stream else { return chunks.reduce(0) { $0 + $1.readableBytes } }
            return stream.length
        }

        /// The whole body in one buffer (tests; a stream is rendered to its end).
        public func collect() async -> ByteBuffer {
            var whole = ByteBuffer()
            for chunk in chunks { whole.writeImmutableBuffer(chunk) }
            if let stream {
                while let chunk = await stream.next() { whole.writeImmutableBuffer(chunk) }
            }
            return whole
        }

        init(_ status: HTTPResponse.Status, contentType: String, body: [ByteBuffer]) {
            self.status = status
            headers = [.contentType: contentType]
            chunks = body
        }

        init(_ status: HTTPResponse.Status, contentType: String, stream: BodyStream) {
            self.init(status, contentType: contentType, body: [])
            self.stream = stream
        }

        init(_ status: HTTPResponse.Status, text: String) {
            self.init(status, contentType: "text/plain; charset=utf-8", body: [ByteBuffer(string: text)])
        }

        /// Missing or wrong credentials: the challenge makes browsers and curl ask for them.
        static var unauthorized: Reply {
            var reply = Reply(.unauthorized, text: "Unauthorized\n")
            reply.headers[.wwwAuthenticate] = WebSecurity.challenge
            return reply
        }
    }

    let provider: Provider
    let processMetrics: @Sendable () -> ProcessMetrics?
    let logger: Logger
    /// Organizations flattened (and compressed) by earlier scrapes, reused while unchanged.
    let rowsCache = ConnectionRowsCache()
    /// Where rendering runs: CPU-bound work kept off the Swift concurrency pool, where the monitor's actors
    /// run (a scrape of 100k connections must never hold up a poll).
    let threadPool: NIOThreadPool = .singleton

    /// - Parameters:
    ///   - provider: the snapshot each request reads.
    ///   - processMetrics: the `process_*` values at scrape time (`/proc/self`; nil omits them).
    public init(
        provider: @escaping Provider, processMetrics: @escaping @Sendable () -> ProcessMetrics? = ProcessMetrics.current,
        logger: Logger = Logger(label: "leen-healthd.metrics")
    ) {
        self.provider = provider
        self.processMetrics = processMetrics
        self.logger = logger
    }

    /// Routes by path: 404 for an unknown path, 405 for a method other than GET or HEAD (for HEAD, the
    /// server sends the headers only).
    public func respond(to request: HTTPRequest) async -> Reply {
        let plan = Self.plan(for: request)
        switch plan.target {
        case .notFound:
            return Reply(.notFound, text: "Not Found\n")
        case .methodNotAllowed:
            var reply = Reply(.methodNotAllowed, text: "Method Not Allowed\n")
            reply.headers[.allow] = "GET, HEAD"
            return reply
        case .route(let route):
            return await respond(route, plan: plan)
        }
    }

    /// What a request asks for, read from its head alone: the route (or why none), the format, gzip and the
    /// `/status` filter. Pure: the fuzz targets (`Fuzz/`) call it without a server.
    public struct RequestPlan: Sendable, Hashable {
        public enum Target: Sendable, Hashable {
            case route(Route)
            case notFound
            case methodNotAllowed
        }

        public var target: Target
        /// `/metrics`: from `Accept`.
        public var format: ExpositionFormat
        /// From `Accept-Encoding`.
        public var gzip: Bool
        /// `/status?organization_id=`.
        public var organizationID: String?
    }

    public static func plan(for request: HTTPRequest) -> RequestPlan {
        let path = (request.path ?? "/").split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        let target: RequestPlan.Target =
            if let route = Route(rawValue: path.isEmpty ? "/" : path) {
                request.method == .get || request.method == .head ? .route(route) : .methodNotAllowed
            } else {
                .notFound
            }
        return RequestPlan(
            target: target, format: ExpositionFormat.negotiate(accept: request.headerFields[.accept]),
            gzip: ExpositionFormat.acceptsGzip(request.headerFields[.acceptEncoding]),
            organizationID: queryItem("organization_id", in: request.path))
    }

    /// The answer for `route` (the method is not checked).
    public func respond(_ route: Route, to request: HTTPRequest) async -> Reply {
        await respond(route, plan: Self.plan(for: request))
    }

    private func respond(_ route: Route, plan: RequestPlan) async -> Reply {
        switch route {
        case .healthy:
            return Reply(.ok, text: "OK\n")
        case .ready:
            let ready = await provider().daemon.ready
            return ready ? Reply(.ok, text: "Ready\n") : Reply(.serviceUnavailable, text: "Not ready: first poll cycle not finished\n")
        case .landing:
            let html = LandingPage.html(await provider())
            return Reply(.ok, contentType: "text/html; charset=utf-8", body: [ByteBuffer(string: html)])
        case .metrics:
            let input = await provider()
            let (format, gzip) = (plan.format, plan.gzip)
            var reply: Reply
            if gzip, let member = await renderCompressed(input, format: format) {
                let stream = BodyStream(.gzip(GzipMember.Cursor(member)), length: member.bytes, threadPool: threadPool)
                reply = Reply(.ok, contentType: format.contentType, stream: stream)
                reply.headers[.contentEncoding] = "gzip"
            } else {
                reply = Reply(.ok, contentType: format.contentType, stream: await textStream(input, format: format))
            }
            reply.headers[.vary] = "Accept, Accept-Encoding"
            reply.headers[.cacheControl] = "no-store"
            return reply
        case .status:
            let input = await provider()
            let (organization, gzip) = (plan.organizationID, plan.gzip)
            let (json, compressed) = await offload {
                let json = ByteBuffer(bytes: StatusDocument(input, organizationID: organization).encoded())
                return (json, gzip ? try? GzipMember.gzip(json) : nil)
            }
            var reply = Reply(.ok, contentType: "application/json", body: compressed ?? [json])
            if compressed != nil { reply.headers[.contentEncoding] = "gzip" }
            reply.headers[.vary] = "Accept-Encoding"
            reply.headers[.cacheControl] = "no-store"
            return reply
        }
    }

    /// The gzip `/metrics` body of `input` as the runs it splices, made on the thread pool; nil should
    /// compression fail (the text is then sent uncompressed).
    func renderCompressed(_ input: MonitorSnapshot, format: ExpositionFormat) async -> GzipMember? {
        let cache = rowsCache
        let processMetrics = self.processMetrics
        let logger = self.logger
        return await offload {
            do {
                return try MetricsRenderer.gzipMember(input, format: format, process: processMetrics(), cache: cache)
            } catch {
                logger.warning("gzip failed; answering uncompressed", metadata: ["error": "\(error)"])
                return nil
            }
        }
    }

    /// The uncompressed `/metrics` text of `input`, rendered chunk by chunk as it is sent.
    func textStream(_ input: MonitorSnapshot, format: ExpositionFormat) async -> BodyStream {
        let cache = rowsCache
        let processMetrics = self.processMetrics
        let cursor = await offload {
            // Flattening alone has no failure path (the cache throws only when compressing).
            let shared = MetricsRenderer.sharedLabels(input.daemon)
            let rows =
                (try? cache.refresh(input.organizations, deflated: false, sharedLabels: shared))
                ?? ConnectionRows(input.organizations)
            return TextCursor(input, rows: rows, format: format, process: processMetrics())
        }
        return BodyStream(.text(cursor), threadPool: threadPool)
    }

    /// Brings the cache up to the current snapshot between scrapes, so that a scrape finds the
    /// organizations polled since the last one already flattened and compressed. Does nothing until a
    /// scrape has asked for gzip.
    public func prepare() async {
        guard rowsCache.wantsDeflated else { return }
        let input = await provider()
        let cache = rowsCache
        let logger = self.logger
        await offload {
            do {
                _ = try cache.refresh(
                    input.organizations, deflated: true, sharedLabels: MetricsRenderer.sharedLabels(input.daemon))
            } catch {
                logger.debug("preparing the metrics cache failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Calls ``prepare()`` every `interval` until the task is cancelled (the servers run it beside the
    /// listener).
    public func keepPrepared(every interval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await prepare()
        }
    }

    /// Runs `serve` (a server's accept loop) with ``keepPrepared(every:)`` beside it, which stops when
    /// `serve` returns.
    func whileKeptPrepared(_ serve: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await keepPrepared() }
            defer { group.cancelAll() }
            try await serve()
        }
    }

    /// `body` on the thread pool; inline should the pool not run (it is the process-wide singleton, which
    /// is never shut down).
    private func offload<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
        do {
            return try await threadPool.runIfActive(body)
        } catch {
            return body()
        }
    }

    static func queryItem(_ name: String, in path: String?) -> String? {
        guard let path, let components = URLComponents(string: path) else { return nil }
        return components.queryItems?.first { $0.name == name }?.value
    }
}

/// `/`: what this is, its version, and links.
enum LandingPage {
    static func html(_ input: MonitorSnapshot) -> String {
        let connections = input.organizations.reduce(0) { $0 + $1.state.connections.values.count { !$0.missing } }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><title>leen-healthd</title></head>
            <body>
            <h1>leen-healthd</h1>
            <p>Health of Leen Security API connections. Version \(escape(input.daemon.version)), \
            built with Swift \(escape(BuildInfo.swiftVersion)).</p>
            <p>\(input.organizations.count) organizations, \(connections) monitored connections; \
            \(input.daemon.ready ? "first poll cycle finished" : "first poll cycle in progress").</p>
            <ul>
            <li><a href="metrics">/metrics</a>: Prometheus metrics</li>
            <li><a href="status">/status</a>: every monitored connection, as JSON</li>
            <li><a href="-/healthy">/-/healthy</a>: liveness</li>
            <li><a href="-/ready">/-/ready</a>: readiness (first poll cycle finished)</li>
            </ul>
            </body>
            </html>

            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
