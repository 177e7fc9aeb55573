import HealthdCore
import SystemdSupport

/// Writes events to the journal (or stderr when there is none) and tells observers. Blocking: the monitor
/// calls it on its blocking-I/O thread (``BlockingIO``).
///
/// A failed journal send is never silent: the event is written to stderr instead, and ``emit(_:)`` returns
/// how many sends failed so the monitor counts them.
public final class EventEmitter: Sendable {
    let sink: any JournalSink
    let fallback: any JournalSink
    let observers: [@Sendable (HealthEvent) -> Void]
    /// Added to every event as it is sent: the instance's own fields (``EventBuilder/instanceFields(shard:)``).
    /// Here rather than in each event's header because they are the process's, not the event's: every event,
    /// recovered ones from a state file included, is sent through here.
    let fields: [EventField]

    /// - Parameters:
    ///   - sink: where events go (the journal, or a stream on stderr).
    ///   - fallback: where an event goes when `sink` fails.
    ///   - observers: also told about every event (the demo prints them; tests record them).
    ///   - fields: appended to every event (`LEEN_SHARD` on a sharded instance).
    public init(
        sink: any JournalSink, fallback: any JournalSink = StreamSink(format: .logfmt),
        observers: [@Sendable (HealthEvent) -> Void] = [], fields: [EventField] = []
    ) {
        self.sink = sink
        self.fallback = fallback
        self.observers = observers
        self.fields = fields
    }

    /// The journal when one is listening, else one line per event on stderr in `format`.
    public static func standard(
        format: StreamSink.Format, observers: [@Sendable (HealthEvent) -> Void] = [], fields: [EventField] = []
    ) -> EventEmitter {
        let stderr = StreamSink(format: format)
        return EventEmitter(
            sink: Journal.isAvailable ? SystemdJournalSink() : stderr, fallback: stderr, observers: observers,
            fields: fields)
    }

    /// Sends every event; returns how many journal sends failed (those events went to the fallback).
    @discardableResult
    public func emit(_ events: [HealthEvent]) -> Int {
        var failed = 0
        for var event in events {
            if !fields.isEmpty { event.fields += fields }
            let entry = JournalEntry(event.journalFields.map { ($0.name, $0.value) })
            do {
                try sink.send(entry)
            } catch {
                failed += 1
                try? fallback.send(entry)
            }
            for observer in observers { observer(event) }
        }
        return failed
    }
}

/// Drops entries: where events need no journal (the demo without one prints them itself; tests observe them).
public struct NullSink: JournalSink {
    public init() {}
    public func send(_ entry: JournalEntry) throws {}
}
