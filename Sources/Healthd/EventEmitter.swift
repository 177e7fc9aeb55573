import HealthdCore
import Synchronization
import SystemdSupport

/// Writes events to the journal (or stderr when there is none), counts them, and tells observers.
///
/// A failed journal send is never silent: the event is written to stderr instead and counted in
/// ``sendErrors``.
public final class EventEmitter: Sendable {
    let sink: any JournalSink
    let fallback: any JournalSink
    let observers: [@Sendable (HealthEvent) -> Void]
    private let counters = Mutex(Counters())

    public struct Counters: Sendable, Hashable {
        /// Events written, by kind.
        public var emitted: [EventKind: Int] = [:]
        /// Journal sends that failed (the event then went to stderr).
        public var sendErrors = 0
    }

    /// - Parameters:
    ///   - sink: where events go (the journal, or a stream on stderr).
    ///   - fallback: where an event goes when `sink` fails.
    ///   - observers: also told about every event (the demo prints them; tests record them).
    public init(
        sink: any JournalSink, fallback: any JournalSink = StreamSink(format: .logfmt),
        observers: [@Sendable (HealthEvent) -> Void] = []
    ) {
        self.sink = sink
        self.fallback = fallback
        self.observers = observers
    }

    /// The journal when one is listening, else one line per event on stderr in `format`.
    public static func standard(
        format: StreamSink.Format, observers: [@Sendable (HealthEvent) -> Void] = []
    ) -> EventEmitter {
        let stderr = StreamSink(format: format)
        return EventEmitter(
            sink: Journal.isAvailable ? SystemdJournalSink() : stderr, fallback: stderr, observers: observers)
    }

    public func emit(_ events: [HealthEvent]) {
        for event in events { emit(event) }
    }

    public func emit(_ event: HealthEvent) {
        let entry = JournalEntry(event.journalFields.map { ($0.name, $0.value) })
        var failed = false
        do {
            try sink.send(entry)
        } catch {
            failed = true
            try? fallback.send(entry)
        }
        counters.withLock {
            $0.emitted[event.kind, default: 0] += 1
            if failed { $0.sendErrors += 1 }
        }
        for observer in observers { observer(event) }
    }

    public var counts: Counters { counters.withLock { $0 } }
}
