import Foundation
import HealthdCore
import LeenAPI

/// One write of an organization's file appended to its log (`organizations/<id>.log`, one JSON line each)
/// instead of replacing the file: what changed since the last write.
///
/// `state` is the whole state but for `connections`, which holds only the connections added or changed;
/// `removed` names those gone. `delivery`'s stream holds only the sequences that moved, its outbox every
/// unsent event (the outbox is small: what a poll or two made). `log` and `record` tie the record to the
/// file it follows (``OrganizationLog``).
struct ChangeRecord: Codable, Hashable, Sendable {
    /// The ``OrganizationLog/token`` of the file this record follows; a record of another file is stale.
    var log: String
    /// 1 for the first record after the file, then 2, 3, …
    var record: Int
    var state: OrganizationState
    var removed: [String]
    var delivery: StateStore.Delivery

    /// The state and delivery this record's write left, from those the writes before it left.
    func apply(to state: inout OrganizationState, delivery: inout StateStore.Delivery) {
        // Taken out of `state`, so that the dictionary changes in place rather than being copied for every
        // record of a restart.
        var connections = state.connections
        state.connections = [:]
        for identifier in removed { connections[identifier] = nil }
        for (identifier, tracked) in self.state.connections { connections[identifier] = tracked }
        state = self.state
        state.connections = connections
        delivery.stream.id = self.delivery.stream.id
        for (subject, sequence) in self.delivery.stream.sequences { delivery.stream.sequences[subject] = sequence }
        delivery.outbox = self.delivery.outbox
    }
}

/// What the store last wrote for one organization, from which the next write is appended as a
/// ``ChangeRecord`` or, once the records would outgrow ``budget``, replaces the file (a compaction).
///
/// Why a log: a poll commits its organization's state before its events are sent (``Outbox``), and in a
/// fleet whose connections keep changing that is every poll. Replacing a 60 KB file (a temporary file,
/// `fsync`, `rename`, `fsync` of the directory) was 24% of the daemon's CPU at 100k connections, most of it
/// the file's creation and replacement rather than its bytes (docs/benchmarks.md, the seventh round);
/// appending the two or three connections a poll changed costs a fraction of it (and the records of many
/// organizations share an `fdatasync` of the change log, ``ChangeLog``).
///
/// Pure: the store keeps one per organization, the tests drive it without a file.
struct OrganizationLog: Sendable, Equatable {
    /// Names the file these records follow: a new one for every replacement, so records left by a crash
    /// between a replacement and the log's removal are recognised and skipped.
    let token: String
    /// Records appended since the file was written.
    private(set) var records = 0
    /// Their bytes.
    private(set) var bytes = 0
    /// The file's size when written.
    let fileBytes: Int
    /// What the file and the records hold, together: the connections (shared with the monitor's state, not
    /// copied) and the stream.
    private(set) var connections: [String: TrackedConnection]
    private(set) var stream: EventStream

    /// Records below this many bytes never make a compaction, however small the file: appending is cheaper
    /// than replacing even a small file.
    static let minimumBudget = 16 * 1024

    init(token: String, fileBytes: Int, state: OrganizationState, stream: EventStream) {
        self.token = token
        self.fileBytes = fileBytes
        connections = state.connections
        self.stream = stream
    }

    /// A new file's token: 64 random bits.
    static func newToken() -> String {
        var random = SystemRandomNumberGenerator()
        let value = random.next()
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// How many bytes of records may follow the file before it is written again: half its size, so a
    /// restart reads at most half as much again as the files alone.
    var budget: Int { max(fileBytes / 2, Self.minimumBudget) }

    /// The record that takes what was written to `state` and `delivery`; nil when the stream is not the
    /// one written (a new stream needs a new file).
    func change(to state: OrganizationState, delivery: StateStore.Delivery) -> ChangeRecord? {
        guard delivery.stream.id == stream.id else { return nil }
        var header = state
        var changed: [String: TrackedConnection] = [:]
        var found = 0
        for (identifier, tracked) in state.connections {
            // `==` compares the connections' boxes first: an unchanged connection is the same box.
            if let written = connections[identifier] {
                found += 1
                if written == tracked { continue }
            }
            changed[identifier] = tracked
        }
        // Every written connection still there was found above: none to look for otherwise.
        let removed =
            found == connections.count
            ? [] : connections.keys.filter { state.connections[$0] == nil }.sorted()
        header.connections = changed
        let sequences = delivery.stream.sequences.changed(since: stream.sequences)
        return ChangeRecord(
            log: token, record: records + 1, state: header, removed: removed,
            delivery: StateStore.Delivery(stream: EventStream(id: stream.id, sequences: sequences), outbox: delivery.outbox))
    }

    /// Whether a record of `count` bytes may be appended, or the file must be written again.
    func admits(_ count: Int) -> Bool { bytes + count <= budget }

    /// Notes that `record`, encoded in `count` bytes, was appended, leaving `state` and `delivery`.
    mutating func appended(_ record: ChangeRecord, bytes count: Int, state: OrganizationState, delivery: StateStore.Delivery) {
        records = record.record
        bytes += count
        connections = state.connections
        stream = delivery.stream
    }
}
