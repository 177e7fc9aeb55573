import HTTPTypes
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
/// HTTP/1.1, GET only, one request at a time per connection (keep-alive), closes on graceful shutdown.
public struct InheritedSocketServer: Service {
    let socket: Int32
    let endpoint: MetricsEndpoint
    let logger: Logger

    public init(
        socket: Int32, provider: @escaping MetricsEndpoint.Provider,
        processMetrics: @escaping @Sendable () -> ProcessMetrics? = ProcessMetrics.current,
        logger: Logger = Logger(label: "leen-healthd.metrics")
    ) {
        self.socket = socket
        endpoint = MetricsEndpoint(provider: provider, processMetrics: processMetrics, logger: logger)
        self.logger = logger
    }

    public func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(socket) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    try child.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                    return try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        logger.info("metrics endpoint serving on the socket passed by systemd", metadata: ["fd": "\(socket)"])
        let endpoint = self.endpoint
        let logger = self.logger
        try await endpoint.whileKeptPrepared {
            try await serve(server, endpoint: endpoint, logger: logger)
        }
    }

    private func serve(
        _ server: NIOAsyncChannel<NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, Never>, endpoint: MetricsEndpoint,
        logger: Logger
    ) async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await Self.serve(connection, endpoint: endpoint, logger: logger) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    static func serve(
        _ connection: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, endpoint: MetricsEndpoint, logger: Logger
    ) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequest?
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
                        if request.method == .get || request.method == .head {
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
            }
        } catch {
            logger.debug("metrics connection ended", metadata: ["error": "\(error)"])
        }
    }
}
