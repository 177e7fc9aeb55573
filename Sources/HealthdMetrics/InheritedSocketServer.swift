import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves ``MetricsEndpoint`` on a listening socket inherited from systemd (socket activation,
/// `leen-healthd.socket`), with plain SwiftNIO: Hummingbird 2 can only bind addresses itself, not adopt
/// an open file descriptor.
///
/// HTTP/1.1, GET only, one request at a time per connection (keep-alive), closes on graceful shutdown. The
/// pipeline is the bound server's (``SecuredHTTPChannel``: TLS from the web configuration, Hummingbird's
/// decoder limits and idle timer, the connection limit), and so is basic authentication.
public struct InheritedSocketServer: Service {
    let socket: Int32
    let endpoint: MetricsEndpoint
    let security: WebSecurity?
    let limits: HTTPLimits
    let logger: Logger

    public init(
        socket: Int32, provider: @escaping MetricsEndpoint.Provider,
        processMetrics: @escaping @Sendable () -> ProcessMetrics? = ProcessMetrics.current,
        security: WebSecurity? = nil, limits: HTTPLimits = HTTPLimits(),
        logger: Logger = Logger(label: "leen-healthd.metrics")
    ) {
        self.socket = socket
        endpoint = MetricsEndpoint(provider: provider, processMetrics: processMetrics, logger: logger)
        self.security = security
        self.limits = limits
        self.logger = logger
    }

    public func run() async throws {
        // The responder is unused: connections are served by `serve(_:endpoint:security:logger:)` below.
        let channel = SecuredHTTPChannel(
            base: HTTP1Channel(responder: { _, _, _ in }, configuration: limits.http1Configuration()),
            security: security, limits: limits)
        let logger = self.logger
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(socket) { child in channel.setup(channel: child, logger: logger) }
        logger.info("metrics endpoint serving on the socket passed by systemd", metadata: ["fd": "\(socket)"])
        let endpoint = self.endpoint
        let security = self.security
        try await endpoint.whileKeptPrepared {
            try await withThrowingDiscardingTaskGroup { group in
                if let security {
                    group.addTask { await security.watch(every: security.checkInterval) }
                }
                try await serve(server, endpoint: endpoint, security: security, logger: logger)
                group.cancelAll()
            }
        }
    }

    private func serve(
        _ server: NIOAsyncChannel<NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, Never>, endpoint: MetricsEndpoint,
        security: WebSecurity?, logger: Logger
    ) async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask {
                            await Self.serve(connection, endpoint: endpoint, security: security, logger: logger)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    static func serve(
        _ connection: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, endpoint: MetricsEndpoint,
        security: WebSecurity?, logger: Logger
    ) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequest?
                do {
                    for try await part in inbound {
                        switch part {
                        case .head(let request):
                            head = request
                        case .body:
                            break
                        case .end:
                            guard let request = head else { continue }
                            head = nil
                            let reply: MetricsEndpoint.Reply
                            let path = request.path?.split(separator: "?", maxSplits: 1).first.map(String.init)
                            if let security, path != MetricsEndpoint.Route.healthy.rawValue,
                                await !security.authorize(request.headerFields[.authorization])
                            {
                                reply = .unauthorized
                            } else if request.method == .get || request.method == .head {
                                reply = await endpoint.respond(to: request)
                            } else {
                                reply = MetricsEndpoint.Reply(.methodNotAllowed, text: "only GET is supported\n")
                            }
                            var headers = reply.headers
                            // Without a length (a streamed text), NIO's encoder sends the body chunked.
                            if let length = reply.contentLength { headers[.contentLength] = String(length) }
                            try await outbound.write(.head(HTTPResponse(status: reply.status, headerFields: headers)))
                            if request.method != .head {
                                // Chunk by chunk: a 100k-connection text is hundreds of MB, never held whole.
                                for chunk in reply.chunks { try await outbound.write(.body(chunk)) }
                                if let stream = reply.stream {
                                    while let chunk = await stream.next() { try await outbound.write(.body(chunk)) }
                                }
                            }
                            try await outbound.write(.end(nil))
                        }
                    }
                } catch is HTTPParserError {
                    // Oversized or malformed head: answered like the bound server (Hummingbird) does, then closed.
                    try await outbound.write(
                        .head(
                            HTTPResponse(
                                status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])))
                    try await outbound.write(.end(nil))
                }
            }
        } catch {
            logger.debug("metrics connection ended", metadata: ["error": "\(error)"])
        }
    }
}
