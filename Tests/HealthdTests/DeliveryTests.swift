import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import NIOCore
import Synchronization
import SystemdSupport
import Testing

@testable import Healthd

/// The outbox protocol through the monitor: events are committed with the state before they are sent, a
/// restart sends what was committed and not yet in the journal, once, with the same ids.
@Suite("Delivery: commit, then send; recover after a crash")
struct DeliveryTests {
    let organization: OrganizationID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"

    final class Recorded: Sendable {
        let events = Mutex<[HealthEvent]>([])
        var all: [HealthEvent] { events.withLock { $0 } }
        var emitter: EventEmitter {
            EventEmitter(sink: NullSink(), fallback: NullSink(), observers: [{ event in self.events.withLock { $0.append(event) } }])
        }
    }

    func configuration(_ directory: URL, identifiers: [String] = ["a", "b"]) -> Configuration {
        Configuration(
            api: .init(endpoint: .custom("http://127.0.0.1:9/v1"), key: .file("/nonexistent")),
            stateDirectory: directory.path,
            organizations: [
                OrganizationConfig(
                    id: organization, name: "Acme", connections: identifiers.map { ConnectionConfig(identifier: $0, vendor: .tenable) })
            ])
    }

    func listing(_ health: [String: HealthName]) -> PollOutcome {
        .success(
            Listing(items: health.sorted { $0.key < $1.key }.map { identifier, name in
                Connection(
                    id: ConnectionID("conn-\(identifier)"), vendor: .tenable, isActive: true, refreshIntervalSecs: 14_400,
                    timeoutSecs: 1_800, organizationID: organization, state: .active, oauth2AuthorizeURL: nil,
                    identifier: identifier, createdAt: Timestamp(rawValue: "2024-01-01T00:00:00Z"),
                    health: ConnectionHealthStatus(documented: name, details: nil))
            }))
    }

    func withDirectory(_ body: (URL) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-delivery-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory)
    }

    func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let end = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < end else {
                Issue.record("timed out waiting for \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test("A poll that changes nothing but poll times leaves an up-to-date state file alone")
    func unchangedPollsDoNotRewriteTheFile() async throws {
        try await withDirectory { directory in
            let config = configuration(directory)
            let store = StateStore(directory: config.stateDirectory)
            let recorded = Recorded()
            let monitor = try Monitor(configuration: config, store: store, emitter: recorded.emitter, logger: quietLogger)
            let file = directory.appendingPathComponent("organizations/\(organization).json").path
            let log = directory.appendingPathComponent("organizations/\(organization).log").path
            // A write replaces the file (rename) or appends to its log, so a file and log stamped with an old
            // time and still carrying it were not written since.
            let stamp = Date(timeIntervalSince1970: 946_684_800)
            func markWritten() throws {
                for path in [file, log] where FileManager.default.fileExists(atPath: path) {
                    try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: path)
                }
            }
            func rewritten() throws -> Bool {
                try [file, log].filter { FileManager.default.fileExists(atPath: $0) }.contains { path in
                    try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date != stamp
                }
            }
            let healthy = listing(["a": .healthy, "b": .healthy])
            await monitor.ingest(healthy, organization: organization)
            // The events are in the file until the writer sends them: the next poll must write it again.
            await monitor.startDelivery()
            await monitor.waitUntilWritten()
            try markWritten()
            await monitor.ingest(healthy, organization: organization)
            #expect(try rewritten())
            #expect(try store.loadStoredOrganizations()[organization]?.delivery.outbox.isEmpty == true)

            try markWritten()
            await monitor.ingest(healthy, organization: organization)
            await monitor.ingest(healthy, organization: organization)
            #expect(try !rewritten(), "an unchanged poll rewrote the file")

            // A change in health rewrites it, with the event.
            await monitor.ingest(listing(["a": .vendorServerError, "b": .healthy]), organization: organization)
            #expect(try rewritten())
            // So does a change without an event: the VENDOR problem counts one more poll.
            await monitor.waitUntilWritten()
            try markWritten()
            await monitor.ingest(listing(["a": .vendorServerError, "b": .healthy]), organization: organization)
            #expect(try rewritten())
            let stored = try #require(try store.loadStoredOrganizations()[organization])
            #expect(stored.state.connections["a"]?.alert.unhealthyPolls == 2)

            // A failed poll is a change too (the API status).
            try markWritten()
            await monitor.ingest(.failure(PollFailure(kind: .timeout, summary: "timed out")), organization: organization)
            #expect(try rewritten())
            await monitor.finishDelivery(grace: .seconds(5))
        }
    }

    @Test("Events are on disk before they are sent, and a restart sends only those the journal lacks")
    func recoverAfterACrashBetweenCommitAndSend() async throws {
        try await withDirectory { directory in
            let config = configuration(directory)
            let store = StateStore(directory: config.stateDirectory)
            // The first process commits two polls' events and dies before its writer sends any.
            let first = Recorded()
            let crashed = try Monitor(configuration: config, store: store, emitter: first.emitter, logger: quietLogger)
            await crashed.ingest(listing(["a": .healthy, "b": .healthy]), organization: organization)
            await crashed.ingest(listing(["a": .unauthorized, "b": .healthy]), organization: organization)
            #expect(first.all.isEmpty)
            let committed = try #require(try store.loadStoredOrganizations()[organization]).delivery.outbox.map(\.event)
            #expect(
                committed.map(\.kind) == [
                    .connectionMonitored, .connectionMonitored, .connectionUnhealthy, .connectionUnhealthyConfirmed,
                ])
            #expect(committed.allSatisfy { $0[field: "LEEN_EVENT_ID"] != nil })

            // The journal already holds the first one (sent just before the crash).
            let landedID = try #require(committed[0][field: "LEEN_EVENT_ID"])
            let asked = Mutex<[String]>([])
            let second = Recorded()
            let restarted = try Monitor(
                configuration: config, store: store, emitter: second.emitter,
                landed: { pending in
                    asked.withLock { $0 = pending.compactMap { $0.event[field: "LEEN_EVENT_ID"] } }
                    return [landedID]
                }, logger: quietLogger)
            await restarted.startDelivery()
            try await eventually("the recovered events") { second.all.count == 3 }
            #expect(asked.withLock { $0 } == committed.compactMap { $0[field: "LEEN_EVENT_ID"] })
            #expect(second.all == Array(committed.dropFirst()), "the same events, same ids, in order")

            // The next poll continues the sequences and trims the file's outbox to what is unsent.
            await restarted.ingest(listing(["a": .healthy, "b": .healthy]), organization: organization)
            try await eventually("the recovery event") { second.all.count == 4 }
            let recovered = second.all[3]
            #expect(recovered.kind == .connectionRecovered)
            #expect(recovered[field: "LEEN_EVENT_SEQUENCE"] == "4")
            await restarted.finishDelivery(grace: .seconds(5))
            #expect(try store.loadStoredOrganizations()[organization]?.delivery.outbox.isEmpty == true)
            let ids = (first.all + second.all).compactMap { $0[field: "LEEN_EVENT_ID"] }
            #expect(Set(ids).count == ids.count)
        }
    }

    @Test("Without a journal to ask, recovered events are all sent again, with the ids they had")
    func recoverWithoutAJournal() async throws {
        try await withDirectory { directory in
            let config = configuration(directory)
            let store = StateStore(directory: config.stateDirectory)
            let crashed = try Monitor(configuration: config, store: store, emitter: Recorded().emitter, logger: quietLogger)
            await crashed.ingest(listing(["a": .healthy, "b": .vendorServerError]), organization: organization)
            let committed = try #require(try store.loadStoredOrganizations()[organization]).delivery.outbox.map(\.event)
            let again = Recorded()
            let restarted = try Monitor(
                configuration: config, store: store, emitter: again.emitter,
                landed: { _ in throw JournalQuery.Failure(operation: "sd_journal_open", errno: EACCES) }, logger: quietLogger)
            await restarted.startDelivery()
            try await eventually("the resent events") { again.all.count == committed.count }
            #expect(again.all == committed)
        }
    }

    @Test("With a commit window, polls' events wait for one shared sync of the change log; a clean stop sends them and empties it")
    func groupCommit() async throws {
        try await withDirectory { directory in
            let config = configuration(directory)
            let store = StateStore(directory: config.stateDirectory)
            let sent = Recorded()
            let monitor = try Monitor(
                configuration: config, store: store, emitter: sent.emitter, commitWindow: .seconds(3600), logger: quietLogger)
            await monitor.startDelivery()
            // The first write replaces the file: durable at once, its events go.
            await monitor.ingest(listing(["a": .healthy, "b": .healthy]), organization: organization)
            try await eventually("the first events") { sent.all.count == 2 }
            let syncs = store.changeLogSyncs
            // The next two are appended; their events wait for the sync the window holds back.
            await monitor.ingest(listing(["a": .unauthorized, "b": .healthy]), organization: organization)
            await monitor.ingest(listing(["a": .unauthorized, "b": .unauthorized]), organization: organization)
            let committed = try #require(try store.loadStoredOrganizations()[organization]).delivery.outbox
            #expect(committed.count == 4, "both polls' events are on disk")
            try await Task.sleep(for: .milliseconds(200))
            #expect(sent.all.count == 2)
            #expect(store.changeLogSyncs == syncs)

            await monitor.finishDelivery(grace: .seconds(10))
            #expect(store.changeLogSyncs == syncs + 1, "one sync for both")
            #expect(Array(sent.all.dropFirst(2)) == committed.map(\.event), "the committed events, in order")
            #expect(try Data(contentsOf: URL(fileURLWithPath: store.changeLogFile)).isEmpty)
            let stored = try #require(try StateStore(directory: config.stateDirectory).loadStoredOrganizations()[organization])
            #expect(stored.delivery.outbox.isEmpty)
            #expect(stored.state.connections["b"]?.observation.health?.name == .unauthorized)
        }
    }

    @Test("A clean shutdown sends what it can within the grace and keeps the rest for the next start")
    func shutdownKeepsWhatIsLeft() async throws {
        try await withDirectory { directory in
            let identifiers = (0..<40).map { "c\($0)" }
            let config = configuration(directory, identifiers: identifiers)
            let store = StateStore(directory: config.stateDirectory)
            let sent = Recorded()
            // 4 entries per second at most: 40 first events cannot all go out within the grace.
            let monitor = try Monitor(
                configuration: config, store: store, emitter: sent.emitter, pacer: JournalPacer(burst: 4, interval: 1),
                logger: quietLogger)
            await monitor.startDelivery()
            await monitor.ingest(listing(Dictionary(uniqueKeysWithValues: identifiers.map { ($0, .healthy) })), organization: organization)
            await monitor.finishDelivery(grace: .milliseconds(300))
            let left = try #require(try store.loadStoredOrganizations()[organization]).delivery.outbox.map(\.event)
            #expect(!sent.all.isEmpty)
            #expect(!left.isEmpty)
            #expect(sent.all.count + left.count == 40, "every event either sent or kept, none twice")
            #expect(Set(sent.all).isDisjoint(with: left))
            // Finishing again (a second shutdown path) returns at once and sends nothing more.
            let again = ContinuousClock.now
            await monitor.finishDelivery(grace: .seconds(30))
            #expect(ContinuousClock.now - again < .seconds(10))
            #expect(sent.all.count + left.count == 40)

            let next = Recorded()
            let restarted = try Monitor(configuration: config, store: store, emitter: next.emitter, landed: { _ in [] }, logger: quietLogger)
            await restarted.startDelivery()
            try await eventually("the kept events") { next.all.count == left.count }
            #expect(next.all == left)
        }
    }

    @Test("While too many events wait, pollers wait; they go on as the writer catches up")
    func backpressure() async throws {
        let outbox = Outbox(limit: 3)
        outbox.stage((0..<5).map { _ in HealthEvent(kind: .daemonStarted, priority: .info, message: "m", fields: []) }, in: .daemon, now: Date())
        let passed = Mutex(false)
        let waiter = Task {
            await outbox.waitForRoom()
            passed.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(passed.withLock { !$0 })
        outbox.release(.daemon, count: 5)
        for _ in 0..<3 {
            _ = try #require(outbox.next())
            outbox.sent(.daemon)
        }
        await waiter.value
        #expect(passed.withLock { $0 })
        #expect(outbox.status.pending == 2)
        #expect(outbox.status.written[.daemonStarted] == 3)
    }

    @Test("The writer's queue shrinks back once a backlog is sent")
    func queueShrinks() throws {
        let outbox = Outbox()
        let backlog = 20 * Outbox.keptQueueCapacity
        outbox.stage(
            (0..<backlog).map { _ in HealthEvent(kind: .daemonStarted, priority: .info, message: "m", fields: []) },
            in: .daemon, now: Date())
        outbox.release(.daemon, count: backlog)
        #expect(outbox.state.withLock { $0.queue.capacity } >= backlog)
        for _ in 0..<backlog {
            _ = try #require(outbox.next())
            outbox.sent(.daemon)
        }
        #expect(outbox.status.pending == 0)
        #expect(outbox.state.withLock { $0.queue.capacity } <= Outbox.keptQueueCapacity)
    }

    @Test("Only released events are handed out, in release order across streams")
    func releaseOrder() throws {
        let outbox = Outbox()
        func event(_ message: String) -> HealthEvent { HealthEvent(kind: .daemonStarted, priority: .info, message: message, fields: []) }
        outbox.stage([event("d1"), event("d2")], in: .daemon, now: Date())
        outbox.stage([event("o1")], in: .organization(organization), now: Date())
        outbox.release(.organization(organization), count: 1)
        outbox.release(.daemon, count: 1)
        #expect(outbox.unsent(.daemon).map(\.event.message) == ["d1", "d2"])
        var order: [String] = []
        for _ in 0..<2 {
            let (stream, next) = try #require(outbox.next())
            order.append(next.message)
            outbox.sent(stream)
        }
        #expect(order == ["o1", "d1"])
        #expect(outbox.unsent(.daemon).map(\.event.message) == ["d2"], "staged, not released: kept, not sent")
        // Staging says what the stream's file must include: the earlier unsent ones, then the batch.
        let toWrite = outbox.stage([event("d3")], in: .daemon, now: Date())
        #expect(toWrite.map(\.event.message) == ["d2", "d3"])
        #expect(toWrite == outbox.unsent(.daemon))
        outbox.close()
        #expect(outbox.next().map { _ in true } == nil)
    }

    @Test("An organization's file name keeps letters, digits and hyphens, and replaces anything else")
    func organizationFileNames() {
        let cases: [(String, String)] = [
            ("c15c0289-ec2d-4a91-a7ec-8e65a18debbe", "c15c0289-ec2d-4a91-a7ec-8e65a18debbe.json"),
            ("ORG-42", "ORG-42.json"),
            ("a/b.c d", "a_b_c_d.json"),
            ("..", "__.json"),
            ("café-ß", "café-ß.json"),
            ("x\u{0}y_", "x_y_.json"),
        ]
        for (id, name) in cases { #expect(StateStore.fileName(OrganizationID(id)) == name, "\(id)") }
        let store = StateStore(directory: "/var/lib/leen-healthd")
        #expect(store.organizationFile(OrganizationID("o-1")) == "/var/lib/leen-healthd/organizations/o-1.json")
        #expect(store.organizationsDirectory.path == "/var/lib/leen-healthd/organizations")
    }

    @Test("A corrupt or unknown-version state file is moved aside, reported once, and its organization starts afresh")
    func unusableStateFilesAreSetAside() async throws {
        try await withDirectory { directory in
            let other: OrganizationID = "9f1c2d3e-0000-4000-8000-000000000002"
            var config = configuration(directory)
            config.organizations.append(OrganizationConfig(id: other, name: "Other", connections: [ConnectionConfig(identifier: "z", vendor: .tenable)]))
            let store = StateStore(directory: config.stateDirectory)
            // A good run leaves both organizations' files, then one is cut short and the other is from the future.
            let first = try Monitor(configuration: config, store: store, emitter: Recorded().emitter, logger: quietLogger)
            await first.ingest(listing(["a": .healthy, "b": .unauthorized]), organization: organization)
            await first.ingest(.success(Listing(items: [])), organization: other)
            let files = store.organizationsDirectory
            let corrupt = files.appendingPathComponent(StateStore.fileName(organization))
            let future = files.appendingPathComponent(StateStore.fileName(other))
            let truncated = try Data(contentsOf: corrupt).prefix(40)
            try truncated.write(to: corrupt)
            var newer = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: future)) as? [String: Any])
            newer["version"] = 99
            try JSONSerialization.data(withJSONObject: newer).write(to: future)
            try Data("{\"version\":1,\"detector\":".utf8).write(to: store.incidentsFile)

            // Read-only tools skip them and move nothing.
            #expect(try store.loadOrganizations().isEmpty)
            #expect(FileManager.default.fileExists(atPath: corrupt.path))

            let recorded = Recorded()
            let restarted = try Monitor(configuration: config, store: store, emitter: recorded.emitter, logger: quietLogger)
            await restarted.startDelivery()
            try await eventually("the set-aside events") { recorded.all.count == 3 }
            let reported = recorded.all
            #expect(reported.allSatisfy { $0.kind == .stateFileSetAside && $0.priority == .error })
            #expect(Set(reported.compactMap { $0[field: "LEEN_STATE_FILE"] }) == [corrupt.path, future.path, store.incidentsFile.path])
            let versionEvent = try #require(reported.first { $0[field: "LEEN_STATE_FILE"] == future.path })
            #expect(versionEvent[field: "LEEN_ERROR"]?.contains("format version 99") == true)
            // Kept for inspection, byte for byte; the originals are gone.
            for event in reported {
                let movedTo = try #require(event[field: "LEEN_SET_ASIDE_TO"])
                #expect(movedTo.hasPrefix(directory.appendingPathComponent("set-aside").path))
                #expect(FileManager.default.fileExists(atPath: movedTo))
            }
            let kept = try #require(reported.first { $0[field: "LEEN_STATE_FILE"] == corrupt.path }?[field: "LEEN_SET_ASIDE_TO"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: kept)) == truncated)
            #expect(!FileManager.default.fileExists(atPath: corrupt.path) && !FileManager.default.fileExists(atPath: future.path))

            // The organization starts from an empty baseline: its connections are observed afresh.
            await restarted.ingest(listing(["a": .healthy, "b": .unauthorized]), organization: organization)
            try await eventually("the fresh observations") { recorded.all.count > 3 }
            await restarted.waitUntilWritten()
            #expect(recorded.all.dropFirst(3).contains { $0.kind == .connectionMonitored })
            // And a later start finds nothing more to set aside (without a journal to ask, it may send the
            // reports again, by the same ids).
            let again = Recorded()
            let third = try Monitor(configuration: config, store: store, emitter: again.emitter, logger: quietLogger)
            await third.startDelivery()
            await third.waitUntilWritten()
            let ids = Set(reported.compactMap { $0[field: "LEEN_EVENT_ID"] })
            #expect(again.all.filter { $0.kind == .stateFileSetAside }.allSatisfy { ids.contains($0[field: "LEEN_EVENT_ID"] ?? "") })
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("set-aside").path).count == 3)
        }
    }
}
