import Foundation
import HealthdCore
import SystemdSupport

/// Start-up's question to the journal: which of the events the state files still list as unsent did the
/// previous process write before it stopped?
public enum OutboxRecovery {
    /// Given the recovered events, the `LEEN_EVENT_ID`s the journal already holds.
    public typealias Check = @Sendable ([Outbox.Pending]) throws -> Set<String>

    /// Asks the local journal: first a barrier (a marker entry the journal must show, so every entry the
    /// previous process sent is stored), then a scan of leen-healthd's entries since the oldest recovered
    /// event was committed (less a margin for clock steps).
    public static func journal(barrierTimeout: Duration = .seconds(10)) -> Check {
        { pending in
            let ids = Set(pending.compactMap { $0.event[field: "LEEN_EVENT_ID"] })
            guard let oldest = pending.map(\.since).min(), !ids.isEmpty else { return [] }
            let message = "leen-healthd restarts with \(pending.count) event(s) committed before it stopped; "
                + "checking which reached the journal"
            guard try JournalQuery.barrier(message: message, timeout: barrierTimeout) else {
                throw JournalQuery.Failure(operation: "waiting for the journal to show a marker entry", errno: ETIMEDOUT)
            }
            return try JournalQuery.present(
                ids, field: "LEEN_EVENT_ID", identifier: "leen-healthd", since: oldest.addingTimeInterval(-600))
        }
    }
}
