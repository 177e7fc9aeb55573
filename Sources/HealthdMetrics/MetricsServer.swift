import Foundation
import HTTPTypes
import HealthdCore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// The Prometheus endpoint as a `Service`: serves ``MetricsEndpoint`` over HTTP/1.1 until graceful
/// shutdown.
///
/// ```swift
/// let server = try MetricsServer(
///     listen: "127.0.0.1:9464", provider: { await monitor.metricsInput() }, logger: logger)
/// // put it first in the ServiceGroup so that it keeps serving while the others stop
/// ```
public struct MetricsServer: Service {
    public let host: String
    /// The configured port; 0 picks a free one, reported to `onListening`.
    public let port: Int
    let endpoint: MetricsEndpoint
    /// TLS and basic authentication from the web configuration; nil: plain HTTP, open to anyone who connects.
    let security: WebSecurity?
    let limits: HTTPLimits
    /// Where connections are served; NIO's shared loops unless a test isolates a flood on its own.
    let eventLoopGroup: (any EventLoopGroup)?
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - host: the address to bind (`127.0.0.1` by default: loopback only).
    ///   - port: 0 for a free port.
    ///   - provider: the snapshot each request reads (never waits on a poll).
    ///   - processMetrics: `process_*` values per scrape; nil omits them.
    ///   - security: the web configuration in force (TLS, users); nil for plain HTTP without authentication.
    ///   - limits: idle timeout, connection and header limits.
    ///   - onListening: called with the bound port once the server accepts connections.
    public init(
        host: String = "127.0.0.1", port: Int = 9464, provider: @escaping MetricsEndpoint.Provider,
        processMetrics: @escaping @Sendable () -> ProcessMetrics? = ProcessMetrics.current,
        security: WebSecurity? = nil, limits: HTTPLimits = HTTPLimits(), eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "leen-healthd.metrics"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        endpoint = MetricsEndpoint(provider: provider, processMetrics: processMetrics, logger: logger)
        self.security = security
        self.limits = limits
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.onListening = onListening
    }

    /// The same with a `metrics.listen` value from the configuration (`HOST:PORT`, `[IPv6]:PORT`).
    public init(
        listen: String, provider: @escaping MetricsEndpoint.Provider,
        processMetrics: @escaping @Sendable () -> ProcessMetrics? = ProcessMetrics.current,
        security: WebSecurity? = nil, limits: HTTPLimits = HTTPLimits(),
        logger: Logger = Logger(label: "leen-healthd.metrics"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        let (host, port) = try Self.parseListen(listen)
        self.init(
            host: host, port: port, provider: provider, processMetrics: processMetrics, security: security,
            limits: limits, logger: logger, onListening: onListening)
    }

    public struct InvalidListenAddress: Error, CustomStringConvertible {
        public var value: String
        public var description: String { "invalid listen address '\(value)': expected HOST:PORT such as 127.0.0.1:9464" }
    }

    /// `127.0.0.1:9464` → (`127.0.0.1`, 9464); `[::1]:9464` → (`::1`, 9464).
    public static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw InvalidListenAddress(value: text) }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw InvalidListenAddress(value: text) }
        return (host, port)
    }

    public func run() async throws {
        let configuredPort = port
        let onListening = self.onListening
        let logger = self.logger
        let host = self.host
        let security = self.security
        let limits = self.limits
        let app = Application(
            router: endpoint.router(security: security),
            server: HTTPServerBuilder { responder in
                SecuredHTTPChannel(
                    base: HTTP1Channel(responder: responder, configuration: limits.http1Configuration()),
                    security: security, limits: limits)
            },
            configuration: .init(
                address: .hostname(host, port: configuredPort), serverName: "leen-healthd",
                backlog: limits.listenBacklog),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? configuredPort
                logger.info(
                    "metrics endpoint listening",
                    metadata: [
                        "address": "\(host):\(bound)", "tls": "\(security?.current.sslContext != nil)",
                        "basic_auth": "\(!(security?.current.config.basicAuthUsers.isEmpty ?? true))",
                    ])
                await onListening(bound)
            },
            eventLoopGroupProvider: eventLoopGroup.map { .shared($0) } ?? .singleton,
            logger: logger)
        try await endpoint.whileKeptPrepared {
            try await withThrowingDiscardingTaskGroup { group in
                if let security {
                    group.addTask { await security.watch(every: security.checkInterval) }
                }
                try await app.run()
                group.cancelAll()
            }
        }
    }
}

extension MetricsEndpoint {
    /// Every route on a Hummingbird router, answering GET; with `security`, every path but `/-/healthy` asks
    /// for basic authentication when the web configuration lists users.
    public func router(security: WebSecurity? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        // Before the routes: Hummingbird wraps each route (and the 404 answer) in the middleware added so far.
        if let security { router.add(middleware: BasicAuthMiddleware(security: security)) }
        for route in Route.allCases {
            router.get(RouterPath(route.rawValue)) { request, _ -> Response in
                let reply = await respond(route, to: request.head)
                guard let stream = reply.stream else {
                    return Response(status: reply.status, headers: reply.headers, body: .init(contentsOf: reply.chunks))
                }
                return Response(
                    status: reply.status, headers: reply.headers,
                    body: ResponseBody(contentLength: stream.length) { writer in
                        while let chunk = await stream.next() { try await writer.write(chunk) }
                        try await writer.finish(nil)
                    })
            }
        }
        return router
    }
}

/// Answers 401 with a `WWW-Authenticate: Basic` challenge unless the request's credentials match a user of
/// the web configuration. `/-/healthy` stays open: liveness probes carry no credentials, and it tells nothing
/// but that the process answers.
struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let security: WebSecurity

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if request.uri.path == MetricsEndpoint.Route.healthy.rawValue { return try await next(request, context) }
        guard await security.authorize(request.headers[.authorization]) else {
            let reply = MetricsEndpoint.Reply.unauthorized
            return Response(status: reply.status, headers: reply.headers, body: .init(contentsOf: reply.chunks))
        }
        return try await next(request, context)
    }
}
