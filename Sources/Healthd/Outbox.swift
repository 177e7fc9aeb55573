import Foundation
import HealthdCore
import LeenAPI
import NIOCore
import Synchronization

/// Events committed to the state directory and not yet written to the journal, in commit order.
///
/// The protocol that makes delivery exactly-once (docs/events.md, "Delivery"):
/// 1. ``stage(_:in:now:)`` adds a batch to its stream's list *before* the stream's file is written, so every
///    file written from then on includes it;
/// 2. the file is written (state and unsent events together, durably: appended to its log or replaced
///    atomically, ``StateStore/save(_:delivery:for:compact:durable:deferSync:)``; only a commit with no event to
///    release may leave its appended record to the page cache);
/// 3. ``release(_:count:)`` hands the batch to the ``JournalWriter`` only then.
/// An event therefore reaches the journal only after it is on disk, and stays on disk (in every later write
/// of its stream's file) until it was sent. A file may still list an event that was sent just after it was
/// written; start-up asks the journal which of those landed (``OutboxRecovery``).
///
/// Bounded: pollers wait in ``waitForRoom()`` while more than `limit` events are pending, so a storm slows
/// polling instead of growing memory without end; nothing is discarded.
public final class Outbox: Sendable {
    /// Whose events: one organization's (its state file) or the daemon's own (`daemon.json`).
    public enum Stream: Hashable, Sendable, CustomStringConvertible {
        case daemon
        case organization(OrganizationID)

        public var description: String {
            switch self {
            case .daemon: "daemon"
            case .organization(let id): id.rawValue
            }
        }
    }

    /// One unsent event and when it was committed (for the age of the oldest).
    public struct Pending: Codable, Hashable, Sendable {
        public var event: HealthEvent
        public var since: Date

        public init(event: HealthEvent, since: Date) {
            self.event = event
            self.since = since
        }
    }

    /// A ``Pending`` as the outbox keeps it: packed (``PackedEvent``), since events can wait long and by the
    /// hundred thousand.
    struct Waiting {
        var event: PackedEvent
        var since: Date

        init(_ pending: Pending) {
            event = PackedEvent(pending.event)
            since = pending.since
        }

        var pending: Pending { Pending(event: event.event, since: since) }
    }

    struct State {
        var unsent: [Stream: CircularBuffer<Waiting>] = [:]
        /// How many of each stream's first unsent events were released to the writer.
        var released: [Stream: Int] = [:]
        /// One entry per released event, in release order: the writer's queue.
        var queue = CircularBuffer<Stream>()
        var count = 0
        var written: [EventKind: Int] = [:]
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }

    let state = Mutex(State())
    /// Counts released events for the writer's thread to wait on (plus one wake-up on close).
    let work = DispatchSemaphore(value: 0)
    /// Pollers wait while more than this many events are pending.
    public let limit: Int
    /// The writer's queue is made again, small, when it empties at a larger capacity than this.
    static let keptQueueCapacity = 1024

    public init(limit: Int = 50_000) {
        self.limit = max(1, limit)
    }

    /// Adds a batch to the end of its stream, not yet to be sent (step 1), and returns what the stream's file
    /// must now include (``unsent(_:)``): the events staged earlier and not yet sent, then the batch.
    @discardableResult
    public func stage(_ events: [HealthEvent], in stream: Stream, now: Date) -> [Pending] {
        let batch = events.map { Pending(event: $0, since: now) }
        let earlier = state.withLock { state -> [Waiting] in
            let earlier = Array(state.unsent[stream] ?? CircularBuffer())
            if !batch.isEmpty {
                state.unsent[stream, default: CircularBuffer()].append(contentsOf: batch.map(Waiting.init))
                state.count += batch.count
            }
            return earlier
        }
        // The batch as it came, rather than unpacked again: usually it is all there is.
        return earlier.map(\.pending) + batch
    }

    /// Hands the first `count` staged-but-unreleased events of `stream` to the writer (step 3).
    public func release(_ stream: Stream, count: Int) {
        guard count > 0 else { return }
        let released = state.withLock { state -> Int in
            let available = (state.unsent[stream]?.count ?? 0) - state.released[stream, default: 0]
            let released = min(count, available)
            state.released[stream, default: 0] += released
            for _ in 0..<released { state.queue.append(stream) }
            return released
        }
        // The writer re-checks the queue after each wake-up, so surplus signals only cost a loop turn.
        if released > 0 { work.signal() }
    }

    /// Stages and releases at once: for events already on disk (recovered at start-up).
    public func restore(_ pending: [Pending], in stream: Stream) {
        guard !pending.isEmpty else { return }
        state.withLock { state in
            state.unsent[stream, default: CircularBuffer()].append(contentsOf: pending.map(Waiting.init))
            state.count += pending.count
        }
        release(stream, count: pending.count)
    }

    /// What a write of `stream`'s file must include: every event staged and not yet sent.
    public func unsent(_ stream: Stream) -> [Pending] {
        // Unpacked outside the lock: the writer's thread and other streams' commits need it meanwhile.
        state.withLock { Array($0.unsent[stream] ?? CircularBuffer()) }.map(\.pending)
    }

    /// Whether `stream` has events staged and not yet sent.
    public func hasUnsent(_ stream: Stream) -> Bool {
        state.withLock { $0.unsent[stream]?.isEmpty == false }
    }

    /// The next released event, without removing it; blocks until there is one. Nil once closed and empty.
    /// Only the writer's thread calls it (one consumer), so the event it returns stays first until ``sent(_:)``.
    func next() -> (Stream, HealthEvent)? {
        while true {
            let head = state.withLock { state -> (Stream, PackedEvent)?? in
                if let stream = state.queue.first, let waiting = state.unsent[stream]?.first {
                    return .some((stream, waiting.event))
                }
                return state.closed ? .some(nil) : nil
            }
            if let head { return head.map { ($0, $1.event) } }
            work.wait()
        }
    }

    /// The writer sent `stream`'s first event.
    func sent(_ stream: Stream) {
        let resumed = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.queue.first == stream, let pending = state.unsent[stream]?.popFirst() else { return [] }
            state.queue.removeFirst()
            state.released[stream, default: 1] -= 1
            if state.unsent[stream]?.isEmpty == true {
                state.unsent[stream] = nil
                state.released[stream] = nil
            }
            // A circular buffer keeps its largest size: the start's backlog at 100k connections (two events
            // per connection) left the writer's queue at 5 MiB for the daemon's life (jemalloc's heap profile).
            if state.queue.isEmpty, state.queue.capacity > Self.keptQueueCapacity { state.queue = CircularBuffer() }
            state.count -= 1
            state.written[pending.event.kind, default: 0] += 1
            guard state.count < limit, !state.roomWaiters.isEmpty else { return [] }
            defer { state.roomWaiters.removeAll() }
            return state.roomWaiters
        }
        for waiter in resumed { waiter.resume() }
    }

    /// Returns once fewer than `limit` events are pending (at once when there are).
    public func waitForRoom() async {
        // Checked first without a continuation, which would suspend the poll's task and schedule it again.
        if state.withLock({ $0.count < limit || $0.closed }) { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let hasRoom = state.withLock { state -> Bool in
                if state.count < limit || state.closed { return true }
                state.roomWaiters.append(continuation)
                return false
            }
            if hasRoom { continuation.resume() }
        }
    }

    /// Lets the writer end once the released events are sent, and lets waiting pollers go.
    func close() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            defer { state.roomWaiters.removeAll() }
            return state.roomWaiters
        }
        for waiter in waiters { waiter.resume() }
        work.signal()
    }

    /// For metrics: pending events, the oldest one's commit time, events written by kind.
    public var status: (pending: Int, oldest: Date?, written: [EventKind: Int]) {
        state.withLock { state in
            (state.count, state.unsent.values.compactMap { $0.first?.since }.min(), state.written)
        }
    }
}
