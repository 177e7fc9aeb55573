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

/// Tells the registry when a connection starts and finishes a request. Sits after the HTTP codec.
final class ConnectionActivityHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let registry: ConnectionRegistry
    let id: UInt64

    init(registry: ConnectionRegistry, id: UInt64) {
        self.registry = registry
        self.id = id
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { registry.setBusy(id, true) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { registry.setBusy(id, false) }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension ConnectionActivityHandler: Sendable {}
