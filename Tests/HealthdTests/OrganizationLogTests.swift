import Foundation
import HealthdCore
import LeenAPI
import Testing

@testable import Healthd

/// An organization's writes after the first append what changed to its log (``OrganizationLog``,
/// ``ChangeRecord``); the file and its records must always read back as the last state written, whatever a
/// crash or a failed write left.
@Suite("Organization log")
struct OrganizationLogTests {
    typealias Delivery = StateStore.Delivery

    /// A real organization's state (the fuzz seed) and the state a poll makes of it: one connection changed,
    /// one added, one removed, one sequence moved, one event unsent.
    static func poll() throws -> (OrganizationID, OrganizationState, Delivery, OrganizationState, Delivery) {
        let (id, stored) = try OrganizationFileEncoderTests.seed()
        let identifiers = stored.state.connections.keys.sorted()
        try #require(identifiers.count >= 3)
        var next = stored.state
        next.connections[identifiers[0]]!.transitions += 1
        var added = next.connections.removeValue(forKey: identifiers[1])!
        added.observation.identifier = "added \"one\""
        next.connections[added.observation.identifier] = added
        next.lastAttempt = Date(timeIntervalSince1970: 1_900_000_000)
        var delivery = stored.delivery
        delivery.stream.sequences[identifiers[0], default: 0] += 1
        delivery.outbox = [
            Outbox.Pending(
                event: HealthEvent(kind: .connectionUnhealthy, priority: .warning, message: "m", fields: [EventField("LEEN_EVENT_ID", "e-1")]),
                since: Date(timeIntervalSince1970: 1_900_000_001))
        ]
        return (id, stored.state, stored.delivery, next, delivery)
    }

    func withStore(_ body: (StateStore, URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(StateStore(directory: directory.path), directory)
    }

    @Test("a change holds the changed, added and removed connections, the moved sequences and the outbox")
    func changeHoldsWhatMoved() throws {
        let (_, state, delivery, next, nextDelivery) = try Self.poll()
        let identifiers = state.connections.keys.sorted()
        let log = OrganizationLog(token: "t", fileBytes: 60_000, state: state, stream: delivery.stream)
        let change = try #require(log.change(to: next, delivery: nextDelivery))
        #expect(Set(change.state.connections.keys) == [identifiers[0], "added \"one\""])
        #expect(change.removed == [identifiers[1]])
        #expect(change.delivery.stream.sequences == [identifiers[0]: nextDelivery.stream.sequences[identifiers[0]]!])
        #expect(change.delivery.stream.id == delivery.stream.id)
        #expect(change.delivery.outbox == nextDelivery.outbox)
        #expect(change.log == "t" && change.record == 1)
        #expect(change.state.lastAttempt == next.lastAttempt)

        // Applied to what was written, it gives what is written now.
        var (applied, appliedDelivery) = (state, delivery)
        change.apply(to: &applied, delivery: &appliedDelivery)
        #expect(applied == next)
        #expect(appliedDelivery == nextDelivery)

        // Its line reads back as itself, by hand and through JSONDecoder.
        let line = OrganizationFileEncoder.encode(change)
        #expect(line.last == UInt8(ascii: "\n") && line.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil)
        let byHand = StateFileReader.read(line.dropLast()) { reader throws(StateFileReader.Mismatch) in try reader.changeRecord() }
        #expect(byHand == change)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(ChangeRecord.self, from: line) == change)

        // Nothing changed: a record with the poll times and the outbox only.
        var unchanged = log
        unchanged.appended(change, bytes: line.count, state: next, delivery: nextDelivery)
        let second = try #require(unchanged.change(to: next, delivery: nextDelivery))
        #expect(second.state.connections.isEmpty && second.removed.isEmpty && second.delivery.stream.sequences.isEmpty)
        #expect(second.record == 2)
    }

    @Test("a new stream, or records past half the file (at least 16 KiB), call for the file to be written again")
    func whenTheFileIsWrittenAgain() throws {
        let (_, state, delivery, next, nextDelivery) = try Self.poll()
        var log = OrganizationLog(token: "t", fileBytes: 60_000, state: state, stream: delivery.stream)
        var otherStream = nextDelivery
        otherStream.stream = EventStream()
        #expect(log.change(to: next, delivery: otherStream) == nil)

        #expect(log.budget == 30_000)
        #expect(log.admits(30_000) && !log.admits(30_001))
        let change = try #require(log.change(to: next, delivery: nextDelivery))
        log.appended(change, bytes: 20_000, state: next, delivery: nextDelivery)
        #expect(log.records == 1 && log.bytes == 20_000)
        #expect(log.admits(10_000) && !log.admits(10_001))
        #expect(OrganizationLog(token: "t", fileBytes: 2_000, state: state, stream: delivery.stream).budget == 16 * 1024)
    }

    @Test("writes after the first append to the log; a new process reads the file with its records")
    func writesAppendAndReadBack() throws {
        let (id, state, delivery, next, nextDelivery) = try Self.poll()
        try withStore { store, _ in
            try store.save(state, delivery: delivery, for: id)
            let file = try Data(contentsOf: URL(fileURLWithPath: store.organizationFile(id)))
            #expect(!FileManager.default.fileExists(atPath: store.logFile(id)))

            try store.save(next, delivery: nextDelivery, for: id)
            var last = nextDelivery
            last.outbox = []
            try store.save(next, delivery: last, for: id)
            #expect(try Data(contentsOf: URL(fileURLWithPath: store.organizationFile(id))) == file, "the file was replaced")
            let lines = try String(contentsOfFile: store.logFile(id), encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)

            let loaded = try #require(try StateStore(directory: store.directory.path).loadStoredOrganizations()[id])
            #expect(loaded.state == next)
            #expect(loaded.delivery == last)

            // The next process's first write replaces the file, and the log goes.
            let restarted = StateStore(directory: store.directory.path)
            try restarted.save(state, delivery: last, for: id)
            #expect(!FileManager.default.fileExists(atPath: store.logFile(id)))
            #expect(try restarted.loadStoredOrganizations()[id]?.state == state)

            // So does a compacting write (a shutdown's), and remove takes both.
            try restarted.save(next, delivery: last, for: id)
            #expect(FileManager.default.fileExists(atPath: store.logFile(id)))
            try restarted.save(next, delivery: last, for: id, compact: true)
            #expect(!FileManager.default.fileExists(atPath: store.logFile(id)))
            try restarted.save(state, delivery: last, for: id)
            try restarted.remove(id)
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.organizationsDirectory.path).isEmpty)
        }
    }

    @Test("a write that need not be durable skips the change log's fdatasync on an append only, and reads back the same")
    func writesThatNeedNotBeDurable() throws {
        let (id, state, delivery, next, nextDelivery) = try Self.poll()
        try withStore { store, _ in
            // The first write replaces the file: durable regardless.
            try store.save(state, delivery: delivery, for: id, durable: false)
            #expect(store.unsyncedAppends == 0)
            try store.save(next, delivery: nextDelivery, for: id, durable: false)
            #expect(store.unsyncedAppends == 1)
            #expect(FileManager.default.fileExists(atPath: store.logFile(id)))

            var later = next
            later.connections[later.connections.keys.sorted()[0]]!.transitions += 1
            try store.save(later, delivery: nextDelivery, for: id, durable: false)
            #expect(store.unsyncedAppends == 2)
            let syncs = store.changeLogSyncs
            try store.save(next, delivery: nextDelivery, for: id)
            #expect(store.unsyncedAppends == 2)
            #expect(store.changeLogSyncs == syncs + 1)
            let lines = try String(contentsOfFile: store.logFile(id), encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 3)
            let loaded = try #require(try StateStore(directory: store.directory.path).loadStoredOrganizations()[id])
            #expect(loaded.state == next)

            // A compaction is a replacement: durable, whatever is asked.
            try store.save(later, delivery: nextDelivery, for: id, compact: true, durable: false)
            #expect(store.unsyncedAppends == 2)
            #expect(!FileManager.default.fileExists(atPath: store.logFile(id)))
        }
    }

    @Test("records past the budget replace the file; every write reads back")
    func compaction() throws {
        let (id, state, delivery, _, _) = try Self.poll()
        try withStore { store, _ in
            try store.save(state, delivery: delivery, for: id)
            var current = state
            var currentDelivery = delivery
            var replaced = 0
            var appended = 0
            let identifiers = state.connections.keys.sorted()
            for round in 0..<120 {
                current.connections[identifiers[round % identifiers.count]]!.transitions += 1
                currentDelivery.stream.sequences["s\(round % 7)", default: 0] += 1
                let hadLog = FileManager.default.fileExists(atPath: store.logFile(id))
                let before = try Data(contentsOf: URL(fileURLWithPath: store.organizationFile(id)))
                try store.save(current, delivery: currentDelivery, for: id)
                let after = try Data(contentsOf: URL(fileURLWithPath: store.organizationFile(id)))
                if after != before {
                    replaced += 1
                    #expect(hadLog && !FileManager.default.fileExists(atPath: store.logFile(id)))
                } else {
                    appended += 1
                }
                let loaded = try #require(try StateStore(directory: store.directory.path).loadStoredOrganizations()[id])
                #expect(loaded.state == current && loaded.delivery == currentDelivery, "round \(round)")
            }
            #expect(replaced >= 2 && appended > replaced * 5, "replaced \(replaced), appended \(appended)")
        }
    }

    @Test("a record cut short is ignored, records of a replaced file skipped")
    func crashLeftovers() throws {
        let (id, state, delivery, next, nextDelivery) = try Self.poll()
        try withStore { store, _ in
            try store.save(state, delivery: delivery, for: id)
            try store.save(next, delivery: nextDelivery, for: id)
            let oldLog = try Data(contentsOf: URL(fileURLWithPath: store.logFile(id)))

            // A crash in the middle of the next append: part of a line.
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: store.logFile(id)))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(oldLog.prefix(oldLog.count / 2)))
            try handle.close()
            #expect(try store.loadStoredOrganizations()[id]?.state == next)

            // A crash after a file's replacement, before its log's removal: the old records stay behind.
            try store.save(state, delivery: nextDelivery, for: id, compact: true)
            try oldLog.write(to: URL(fileURLWithPath: store.logFile(id)))
            let loaded = try #require(try store.loadStoredOrganizations()[id])
            #expect(loaded.state == state)
            #expect(loaded.delivery == nextDelivery)
        }
    }

    @Test("a log's lines are the bytes before each newline; what follows the last is no line")
    func lineBounds() {
        func lines(_ data: Data) -> [String] {
            StateStore.lineBounds(data).map { String(decoding: data[$0.start..<$0.newline], as: UTF8.self) }
        }
        #expect(lines(Data("a\n\nbc\ncut sh".utf8)) == ["a", "", "bc"])
        #expect(lines(Data("one\ntwo\n".utf8)) == ["one", "two"])
        #expect(lines(Data()).isEmpty && lines(Data("no newline".utf8)).isEmpty)
        // A slice's indices are those of the data it was cut from.
        let whole = Data("skip\nkept\nalso\npart".utf8)
        #expect(lines(whole[5...]) == ["kept", "also"])
        #expect(StateStore.lineBounds(whole[5...]).first?.start == 5)
    }

    @Test("a log removed after the directory was listed reads as none (a reader beside the daemon)")
    func logGoneWhileReading() throws {
        let (id, state, delivery, next, nextDelivery) = try Self.poll()
        try withStore { store, _ in
            try store.save(state, delivery: delivery, for: id)
            try store.save(next, delivery: nextDelivery, for: id)
            let file = URL(fileURLWithPath: store.organizationFile(id))
            let log = URL(fileURLWithPath: store.logFile(id))
            #expect(try StateStore.attemptOrganization(file, log: log).get().state == next)
            try FileManager.default.removeItem(at: log)
            #expect(try StateStore.attemptOrganization(file, log: log).get().state == state)
        }
    }

    @Test("a log that cannot be used sets its organization aside with its file")
    func unusableLogs() throws {
        let (id, state, delivery, next, nextDelivery) = try Self.poll()
        try withStore { store, _ in
            try store.save(state, delivery: delivery, for: id)
            try store.save(next, delivery: nextDelivery, for: id)
            let good = try Data(contentsOf: URL(fileURLWithPath: store.logFile(id)))

            // A complete line that is not a record.
            try (Data("{\"record\":\n".utf8) + good).write(to: URL(fileURLWithPath: store.logFile(id)))
            #expect(throws: StateError.self) { try store.loadStoredOrganizations() }
            // A record twice.
            try (good + good).write(to: URL(fileURLWithPath: store.logFile(id)))
            #expect(throws: StateError.self) { try store.loadStoredOrganizations() }

            var setAside: [StateStore.SetAside] = []
            #expect(try store.loadStoredOrganizations(unusable: .setAside, setAside: &setAside).isEmpty)
            #expect(setAside.map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["\(id).json", "\(id).log"])
            #expect(setAside[0].reason.contains("record 1, after record 1"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.organizationsDirectory.path).isEmpty)
        }
    }

    @Test("a failed append makes the next write replace the file")
    func failedAppend() throws {
        let (id, state, delivery, next, nextDelivery) = try Self.poll()
        try withStore { store, _ in
            try store.save(state, delivery: delivery, for: id)
            let file = try Data(contentsOf: URL(fileURLWithPath: store.organizationFile(id)))
            // A directory where the log goes: the append fails, and so does the replacement's removal of it.
            try FileManager.default.createDirectory(atPath: store.logFile(id), withIntermediateDirectories: false)
            #expect(throws: StateError.self) { try store.save(next, delivery: nextDelivery, for: id) }
            #expect(throws: StateError.self) { try store.save(next, delivery: nextDelivery, for: id) }
            try FileManager.default.removeItem(atPath: store.logFile(id))

            try store.save(next, delivery: nextDelivery, for: id)
            #expect(try Data(contentsOf: URL(fileURLWithPath: store.organizationFile(id))) != file)
            #expect(!FileManager.default.fileExists(atPath: store.logFile(id)))
            #expect(try store.loadStoredOrganizations()[id]?.state == next)
        }
    }
}
