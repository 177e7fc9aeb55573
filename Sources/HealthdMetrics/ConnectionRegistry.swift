import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The open connections of one metrics server, oldest first, and whether each is handling a request.
///
/// At ``HTTPLimits/maximumConnections`` a new connection closes the oldest idle one (no request in progress:
/// idle keep-alive, or a head that has not arrived in full) instead of waiting in the listen backlog. A
/// flood of idle or slowloris connections then costs the daemon a bounded number of file descriptors, and a
/// scrape, which sends its request at once, still gets in: with a backlog-only limit it would wait behind
/// the flood until idle timeouts freed enough slots. When every connection is busy, the new one is closed.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        var busy = false
    }
    private struct State {
        var next: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
    }
    private let state = Mutex(State())
    let maximum: Int
    /// Connections closed to make room (for tests and the log).
    let evicted = Atomic<Int>(0)

    init(maximum: Int) { self.maximum = max(1, maximum) }

    var count: Int { state.withLock { $0.entries.count } }

    /// Registers `channel`; returns its id, or nil when it was refused (every other connection busy).
    func register(_ channel: any Channel) -> UInt64? {
        let (id, victim): (UInt64?, (any Channel)?) = state.withLock { state in
            var victim: (any Channel)?
            if state.entries.count >= maximum {
                guard let oldest = state.entries.filter({ !$0.value.busy }).keys.min() else {
                    return (nil, nil)
                }
                victim = state.entries.removeValue(forKey: oldest)?.channel
            }
            let id = state.next
            state.next += 1
            state.entries[id] = Entry(channel: channel)
            return (id, victim)
        }
        if let victim {
            evicted.add(1, ordering: .relaxed)
            victim.close(promise: nil)
        }
        if let id {
            channel.closeFuture.whenComplete { _ in self.remove(id) }
        }
        return id
    }

    func setBusy(_ id: UInt64, _ busy: Bool) {
        state.withLock { $0.entries[id]?.busy = busy }
    }

    func remove(_ id: UInt64) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }
}

/// Tells the registry when a connection starts and finishes a request, and closes a connection whose
/// request is not answered within the request timeout. Sits after the HTTP codec, on the channel's loop.
final class ConnectionActivityHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let registry: ConnectionRegistry
    let id: UInt64
    let requestTimeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(registry: ConnectionRegistry, id: UInt64, requestTimeout: TimeAmount) {
        self.registry = registry
        self.id = id
        self.requestTimeout = requestTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            registry.setBusy(id, true)
            if deadline == nil {
                let channel = context.channel
                deadline = context.eventLoop.scheduleTask(in: requestTimeout) { channel.close(promise: nil) }
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            registry.setBusy(id, false)
            // The response is handed to NIO: from here a client that does not read is NIO's backpressure,
            // and the deadline runs until it is written out.
            let scheduled = deadline
            deadline = nil
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { _ in scheduled?.cancel() }
            promise.map { written.futureResult.cascade(to: $0) }
            context.write(data, promise: written)
            return
        }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}

@available(*, unavailable)
extension ConnectionActivityHandler: Sendable {}
