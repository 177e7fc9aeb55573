import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import Synchronization
import Testing

@testable import Healthd

/// The shared change log (``ChangeLog``): every record appended to an organization's log is in it too, and it
/// alone is synced before events go; what a power loss takes from an organization's log, it gives back.
@Suite("Change log")
struct ChangeLogTests {
    typealias Delivery = StateStore.Delivery

    func withStore(budget: Int = 64 << 20, _ body: (StateStore) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-changes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(StateStore(directory: directory.path, changeLogBudget: budget))
    }

    /// `state` with one connection's transition count moved `by`.
    static func changed(_ state: OrganizationState, by count: Int) -> OrganizationState {
        var state = state
        state.connections[state.connections.keys.sorted()[0]]!.transitions += count
        return state
    }

    func lines(_ path: String) throws -> [Substring] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    }

    @Test("a record goes to its organization's log and, after its file's token and number, to the change log")
    func recordsGoToBoth() throws {
        let (id, state, delivery, next, nextDelivery) = try OrganizationLogTests.poll()
        try withStore { store in
            try store.save(state, delivery: delivery, for: id)
            #expect(!FileManager.default.fileExists(atPath: store.changeLogFile), "a replacement is no record")
            try store.save(next, delivery: nextDelivery, for: id)
            try store.save(Self.changed(next, by: 1), delivery: nextDelivery, for: id)
            let own = try lines(store.logFile(id))
            let shared = try lines(store.changeLogFile)
            #expect(own.count == 2 && shared.count == 2)
            let token = try #require(try store.loadStoredOrganizationFileToken(id))
            for (number, (line, record)) in zip(own, shared).enumerated() {
                #expect(record == "\(token) \(number + 1) " + line)
            }
        }
    }

    @Test("what a power loss took from an organization's log is read from the change log, and kept until the file is written again")
    func powerLossTail() throws {
        let (id, state, delivery, next, nextDelivery) = try OrganizationLogTests.poll()
        try withStore { store in
            try store.save(state, delivery: delivery, for: id)
            try store.save(next, delivery: nextDelivery, for: id)
            let afterOne = try Data(contentsOf: URL(fileURLWithPath: store.logFile(id)))
            let last = Self.changed(next, by: 2)
            try store.save(last, delivery: nextDelivery, for: id)
            #expect(try lines(store.logFile(id)).count == 2)

            // The organization's log loses its last record (synced only at a checkpoint); the change log has it.
            try afterOne.write(to: URL(fileURLWithPath: store.logFile(id)))
            let restarted = StateStore(directory: store.directory.path)
            #expect(try restarted.loadStoredOrganizations()[id]?.state == last)

            // Until the organization's file is written again, the change log is not emptied…
            #expect(throws: StateError.self) { try restarted.checkpointAfterFailure() }
            try restarted.checkpointChanges()
            #expect(try lines(store.changeLogFile).count == 2)
            // …and its first write, a replacement, frees it.
            try restarted.save(last, delivery: nextDelivery, for: id)
            try restarted.checkpointChanges()
            #expect(try Data(contentsOf: URL(fileURLWithPath: store.changeLogFile)).isEmpty)
            #expect(try restarted.loadStoredOrganizations()[id]?.state == last)
        }
    }

    @Test("records of replaced files, records the organization's log gave, and a cut-short line are skipped")
    func skipped() throws {
        let (id, state, delivery, next, nextDelivery) = try OrganizationLogTests.poll()
        try withStore { store in
            try store.save(state, delivery: delivery, for: id)
            try store.save(next, delivery: nextDelivery, for: id)
            try store.save(state, delivery: delivery, for: id, compact: true)
            try store.save(Self.changed(state, by: 3), delivery: delivery, for: id)
            let shared = try lines(store.changeLogFile)
            #expect(shared.count == 2)
            // A line cut short by a crash ends the file.
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: store.changeLogFile))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(shared[1].prefix(40).utf8))
            try handle.close()
            #expect(try store.loadStoredOrganizations()[id]?.state == Self.changed(state, by: 3))
        }
    }

    @Test("a record that skips ahead of its organization's log makes the organization unusable")
    func gap() throws {
        let (id, state, delivery, next, nextDelivery) = try OrganizationLogTests.poll()
        try withStore { store in
            try store.save(state, delivery: delivery, for: id)
            try store.save(next, delivery: nextDelivery, for: id)
            try store.save(Self.changed(next, by: 1), delivery: nextDelivery, for: id)
            // The organization's log loses both records, the change log its first.
            try Data().write(to: URL(fileURLWithPath: store.logFile(id)))
            let shared = try lines(store.changeLogFile)
            try Data((shared[1] + "\n").utf8).write(to: URL(fileURLWithPath: store.changeLogFile))
            #expect(throws: StateError.self) { try StateStore(directory: store.directory.path).loadStoredOrganizations() }
        }
    }

    @Test("past its budget, a sync syncs the organizations' logs and empties the change log; everything reads back")
    func checkpoint() throws {
        let (id, state, delivery, next, nextDelivery) = try OrganizationLogTests.poll()
        try withStore(budget: 4096) { store in
            try store.save(state, delivery: delivery, for: id)
            var current = next
            var emptied = 0
            for round in 1...40 {
                current = Self.changed(current, by: 1)
                try store.save(current, delivery: nextDelivery, for: id)
                let size = try Data(contentsOf: URL(fileURLWithPath: store.changeLogFile)).count
                if size == 0 { emptied += 1 }
                #expect(size <= 4096 + 4096, "round \(round)")
                let loaded = StateStore(directory: store.directory.path)
                #expect(try loaded.loadStoredOrganizations()[id]?.state == current, "round \(round)")
            }
            #expect(emptied >= 2)
        }
    }

    @Test("commits handed to a group commit share one sync, and their events go only after it")
    func groupCommit() async throws {
        let (id, state, delivery, next, nextDelivery) = try OrganizationLogTests.poll()
        let other: OrganizationID = "00000000-0000-4000-8000-000000000002"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-group-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = StateStore(directory: directory.path)
        let io = BlockingIO()
        let outbox = Outbox(limit: 100)
        let failures = Mutex(0)
        let group = GroupCommit(store: store, io: io, outbox: outbox, window: .seconds(3600)) { _ in failures.withLock { $0 += 1 } }
        let event = HealthEvent(kind: .connectionUnhealthy, priority: .warning, message: "m", fields: [])
        for organization in [id, other] {
            try store.save(state, delivery: delivery, for: organization)
            let staged = outbox.stage([event], in: .organization(organization), now: Date())
            var withEvent = nextDelivery
            withEvent.outbox = staged
            #expect(try store.save(next, delivery: withEvent, for: organization, deferSync: true))
            group.release(.organization(organization), count: 1)
        }
        let syncs = store.changeLogSyncs
        #expect(outbox.status.pending == 2)
        #expect(outbox.state.withLock { $0.queue.count } == 0, "nothing released before the sync")
        await group.flush()
        #expect(store.changeLogSyncs == syncs + 1)
        #expect(failures.withLock { $0 } == 0)
        #expect(outbox.state.withLock { $0.queue.count } == 2)
    }

    @Test("a stream's commit written durably at once releases the waiting commit's events first, the sync the rest")
    func releasesStayInOrder() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-group-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = StateStore(directory: directory.path)
        let outbox = Outbox(limit: 100)
        let group = GroupCommit(store: store, io: BlockingIO(), outbox: outbox, window: .seconds(3600)) { _ in }
        let stream = Outbox.Stream.organization("00000000-0000-4000-8000-000000000003")
        func event(_ message: String) -> HealthEvent {
            HealthEvent(kind: .connectionUnhealthy, priority: .warning, message: message, fields: [])
        }
        // The first commit waits for the sync; the second (a file replaced, say) is durable at once and holds both.
        _ = outbox.stage([event("first")], in: stream, now: Date())
        group.release(stream, count: 1)
        _ = outbox.stage([event("second")], in: stream, now: Date())
        outbox.release(stream, count: 1)
        #expect(outbox.next()?.1.message == "first")
        outbox.sent(stream)
        await group.flush()
        #expect(outbox.next()?.1.message == "second")
        outbox.sent(stream)
        #expect(outbox.status.pending == 0)
    }
}

extension StateStore {
    /// The token of an organization's file as written.
    func loadStoredOrganizationFileToken(_ organization: OrganizationID) throws -> String? {
        try Self.read(
            OrganizationFile.self, from: Data(contentsOf: URL(fileURLWithPath: organizationFile(organization))),
            path: organizationFile(organization), versions: Self.organizationVersions
        ).log
    }

    /// A checkpoint as a failed append asks for one (``ChangeLog/broken``): refused while organizations
    /// still need the change log.
    func checkpointAfterFailure() throws {
        try written.changes.withLock { changes throws(StateError) in
            changes.broken = true
        }
        defer { written.changes.withLock { $0.broken = false } }
        try appendChange(Data(), log: "/nonexistent", sync: false)
    }
}
