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

    /// Sends every event; returns how many journal sends failed (those events went to the fallback).
    @discardableResult
    public func emit(_ events: [HealthEvent]) -> Int {
        var failed = 0
        for event in events {
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
