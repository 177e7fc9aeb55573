import HummingbirdCore
import Logging
import NIOCore

/// What one client may hold of the metrics endpoint. The defaults keep a misbehaving or hostile client from
/// starving Prometheus: a scrape needs one connection, small headers and a few seconds.
public struct HTTPLimits: Sendable, Hashable {
    /// A connection with no request in progress (idle keep-alive, a request head arriving byte by byte, a TLS
    /// handshake never finished) is closed after this long.
    public var idleTimeout: Duration
    /// Open connections at most. A new connection beyond it closes the oldest idle one (see
    /// ``ConnectionRegistry``), or is itself closed when every other one is busy with a request. Within the
    /// unit's file descriptor budget: `LimitNOFILE=` leaves room for this many plus the daemon's own.
    public var maximumConnections: Int
    /// The request head (request line and headers together) at most; a larger one is answered 400 and closed.
    public var maximumHeaderBytes: Int
    /// Header fields per request at most.
    public var maximumHeaderFields: Int
    /// Connections the kernel queues until the server accepts them (kernel memory, no file descriptor): a
    /// burst larger than this is dropped and retried by the clients' TCP 1, 3, 7… seconds later.
    public var listenBacklog: Int
    /// A request not answered in full after this long (a client that does not read its response holds the
    /// rendered body in memory) closes its connection. The idle timeout does not cover it: a request is in
    /// progress.
    public var requestTimeout: Duration

    public init(
        idleTimeout: Duration = .seconds(30), maximumConnections: Int = 512, maximumHeaderBytes: Int = 16 * 1024,
        maximumHeaderFields: Int = 100, listenBacklog: Int = 1024, requestTimeout: Duration = .seconds(300)
    ) {
        self.idleTimeout = idleTimeout
        self.maximumConnections = maximumConnections
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumHeaderFields = maximumHeaderFields
        self.listenBacklog = listenBacklog
        self.requestTimeout = requestTimeout
    }

    /// Hummingbird's HTTP/1 channel with these limits (its decoder limits and its idle timer).
    func http1Configuration() -> HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(
            idleTimeout: TimeAmount(idleTimeout),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: maximumHeaderBytes, maxHeaderListSize: maximumHeaderBytes,
                maxHeaderFieldCount: maximumHeaderFields))
    }
}

/// Hummingbird's HTTP/1 channel behind TLS when the web configuration asks for it, with each connection
/// counted in a ``ConnectionRegistry``. Unlike HummingbirdTLS's `TLSChannel`, whose context is fixed when the
/// server starts, the context is picked per connection, so a reloaded certificate serves every connection
/// accepted after the reload.
struct SecuredHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let security: WebSecurity?
    let registry: ConnectionRegistry

    let limits: HTTPLimits

    init(base: HTTP1Channel, security: WebSecurity?, limits: HTTPLimits) {
        self.base = base
        self.security = security
        self.limits = limits
        registry = ConnectionRegistry(maximum: limits.maximumConnections)
    }

    var responder: HTTPChannelHandler.Responder { base.responder }

    struct Refused: Error {}

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard let id = registry.register(channel) else {
            logger.debug("metrics connection refused: every connection is busy")
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(Refused())
        }
        var configuration = base.configuration
        let registry = self.registry
        let requestTimeout = TimeAmount(limits.requestTimeout)
        configuration.additionalChannelHandlers = {
            [ConnectionActivityHandler(registry: registry, id: id, requestTimeout: requestTimeout)]
        }
        let http1 = HTTP1Channel(responder: base.responder, configuration: configuration)
        return channel.eventLoop.makeCompletedFuture {
            if let handler = security?.tlsHandler() { try channel.pipeline.syncOperations.addHandler(handler) }
        }.flatMap {
            http1.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
