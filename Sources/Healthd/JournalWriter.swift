import Foundation
import HealthdCore
import LeenAPI
import Synchronization

/// Sends the outbox's released events, in order and paced (``JournalPacer``), on a thread of its own.
///
/// Its own thread because it blocks: sd_journal_sendv waits when journald is slow, and the pacer makes it
/// sleep. State-file writes stay on ``BlockingIO``, so a paced storm never delays committing the next poll.
public final class JournalWriter: Sendable {
    let outbox: Outbox
    let emitter: EventEmitter
    let pacer: Mutex<JournalPacer>
    let control = Mutex(Control())
    let finished = DispatchSemaphore(value: 0)

    struct Control {
        var started = false
        /// Set when shutdown's grace period ran out: stop before the next event (it stays on disk).
        var abandon = false
        var sendErrors = 0
    }

    public init(outbox: Outbox, emitter: EventEmitter, pacer: JournalPacer) {
        self.outbox = outbox
        self.emitter = emitter
        self.pacer = Mutex(pacer)
    }

    /// Journal sends that failed (those events went to the fallback, stderr).
    public var sendErrors: Int { control.withLock { $0.sendErrors } }

    /// Starts the thread (once).
    public func start() {
        let first = control.withLock { control -> Bool in
            defer { control.started = true }
            return !control.started
        }
        guard first else { return }
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "leen-healthd.journal"
        thread.start()
    }

    func run() {
        let clock = ContinuousClock()
        let origin = clock.now
        func seconds() -> Double { (clock.now - origin).seconds }
        while let (stream, event) = outbox.next() {
            if control.withLock({ $0.abandon }) { return }
            while let wait = pacer.withLock({ $0.take(now: seconds()) }) {
                Thread.sleep(forTimeInterval: wait)
            }
            let failed = emitter.emit([event])
            if failed > 0 { control.withLock { $0.sendErrors += failed } }
            outbox.sent(stream)
        }
    }

    /// Lets the writer send what is released for up to `grace`, then stops it; what is left stays in the
    /// state files and is sent at the next start. Returns whether everything was sent.
    @discardableResult
    public func finish(grace: Duration) async -> Bool {
        outbox.close()
        guard control.withLock({ $0.started }) else { return outbox.status.pending == 0 }
        let finished = finished
        let ended = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: finished.wait(timeout: .now() + grace.seconds) == .success)
            }
        }
        if !ended {
            control.withLock { $0.abandon = true }
            // Wait for the event in hand (one send, one pacer sleep at most) so nothing is sent after this.
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    finished.wait()
                    continuation.resume()
                }
            }
        }
        // The thread has ended: leave the semaphore signalled, so that finishing again returns at once
        // instead of waiting for a signal that will never come.
        finished.signal()
        return outbox.status.pending == 0
    }
}
