import Foundation
import Synchronization

/// Releases committed events once the change log that holds their commit is durable, one `fdatasync` for
/// every commit of a short window (``StateStore/syncChanges()``, ``ChangeLog``).
///
/// A commit whose record was appended without a sync hands its release here instead of releasing at once;
/// the first such commit schedules a sync on the blocking-I/O thread `window` later, and that sync releases
/// every commit handed over by then, in order. The poll that committed goes on meanwhile: only its events
/// wait, for at most the window plus the sync.
///
/// Releasing by count stays in order across a stream's commits (``Outbox/release(_:count:)`` releases a
/// stream's first unreleased events): a later commit of the same stream that was written durably at once
/// (its file replaced) holds every unsent event before its own, so it may release them before the sync.
final class GroupCommit: Sendable {
    private let store: StateStore
    private let io: BlockingIO
    private let outbox: Outbox
    let window: Duration
    /// Told of a failed sync (the events are released all the same, as after any failed write: at least once,
    /// with the same ids).
    private let failed: @Sendable (StateError) -> Void
    private let failureCount = Atomic<Int>(0)
    /// Syncs that failed (counted with the state's write errors).
    var failures: Int { failureCount.load(ordering: .relaxed) }

    private struct Waiting {
        var releases: [(stream: Outbox.Stream, count: Int)] = []
        var scheduled = false
    }
    private let waiting = Mutex(Waiting())

    init(
        store: StateStore, io: BlockingIO, outbox: Outbox, window: Duration,
        failed: @escaping @Sendable (StateError) -> Void
    ) {
        self.store = store
        self.io = io
        self.outbox = outbox
        self.window = window
        self.failed = failed
    }

    /// Releases `count` events of `stream` after the next sync.
    func release(_ stream: Outbox.Stream, count: Int) {
        let schedule = waiting.withLock { waiting in
            waiting.releases.append((stream, count))
            defer { waiting.scheduled = true }
            return !waiting.scheduled
        }
        if schedule { io.runAfter(window) { self.sync() } }
    }

    /// Syncs now and releases what waits (at a stop), on the blocking-I/O thread.
    func flush() async {
        await io.run { self.sync() }
    }

    /// On the blocking-I/O thread.
    private func sync() {
        let releases = waiting.withLock { waiting in
            defer { waiting = Waiting() }
            return waiting.releases
        }
        guard !releases.isEmpty else { return }
        do {
            try store.syncChanges()
        } catch {
            failureCount.add(1, ordering: .relaxed)
            failed(error as? StateError ?? StateError(path: store.changeLogFile, reason: "\(error)"))
        }
        for release in releases { outbox.release(release.stream, count: release.count) }
    }
}
