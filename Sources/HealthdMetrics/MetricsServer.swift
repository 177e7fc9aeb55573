import Foundation
import HTTPTypes
import Hummingbird
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
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - host: the address to bind (`127.0.0.1` by default: loopback only).
    ///   - port: 0 for a free port.
    ///   - provider: the snapshot each request reads (never waits on a poll).
    ///   - processMetrics: `process_*` values per scrape; nil omits them.
    ///   - onListening: called with the bound port once the server accepts connections.
    public init(
        host: String = "127.0.0.1", port: Int = 9464, provider: @escaping MetricsEndpoint.Provider,
        processMetrics: @escaping @Sendable () -> ProcessMetrics? = ProcessMetrics.current,
        logger: Logger = Logger(label: "leen-healthd.metrics"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        endpoint = MetricsEndpoint(provider: provider, processMetrics: processMetrics, logger: logger)
        self.logger = logger
        self.onListening = onListening
    }

    /// The same with a `metrics.listen` value from the configuration (`HOST:PORT`, `[IPv6]:PORT`).
    public init(
        listen: String, provider: @escaping MetricsEndpoint.Provider,
        processMetrics: @escaping @Sendable () -> ProcessMetrics? = ProcessMetrics.current,
        logger: Logger = Logger(label: "leen-healthd.metrics"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        let (host, port) = try Self.parseListen(listen)
        self.init(
            host: host, port: port, provider: provider, processMetrics: processMetrics, logger: logger,
            onListening: onListening)
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
        let app = Application(
            router: endpoint.router(),
            configuration: .init(address: .hostname(host, port: configuredPort), serverName: "leen-healthd"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? configuredPort
                logger.info("metrics endpoint listening", metadata: ["address": "\(host):\(bound)"])
                await onListening(bound)
            },
            logger: logger)
        try await endpoint.whileKeptPrepared { try await app.run() }
    }
}

extension MetricsEndpoint {
    /// Every route on a Hummingbird router, answering GET.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        for route in Route.allCases {
            router.get(RouterPath(route.rawValue)) { request, _ -> Response in
                let reply = await respond(route, to: request.head)
                guard let stream = reply.stream else {
                    return Response(status: reply.status, headers: reply.headers, body: .init(contentsOf: reply.chunks))
                }
                return Response(
                    status: reply.status, headers: reply.headers,
                    body: ResponseBody { writer in
                        while let chunk = await stream.next() { try await writer.write(chunk) }
                        try await writer.finish(nil)
                    })
            }
        }
        return router
    }
}
