import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import Synchronization
import SystemdSupport
import Testing

@testable import Healthd

@Suite("Monitor: incidents across organizations")
struct MonitorAlertingTests {
    final class Events: Sendable {
        let all = Mutex<[HealthEvent]>([])
        func take() -> [HealthEvent] { all.withLock { events in defer { events = [] }; return events } }
    }

    /// What the monitor's writer sent since the last call, once it has sent everything committed.
    static func written(_ monitor: Monitor, _ events: Events) async -> [HealthEvent] {
        await monitor.waitUntilWritten()
        return events.take()
    }

    static let first: OrganizationID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    static let second: OrganizationID = "7f1e2d3c-4b5a-4968-8776-655443322110"

    static func connection(_ identifier: String, in organization: OrganizationID, _ health: HealthName) -> Connection {
        Connection(
            id: ConnectionID("conn-\(identifier)"), vendor: .tenable, isActive: true, refreshIntervalSecs: 14_400,
            timeoutSecs: 1_800, organizationID: organization, state: .active, identifier: identifier,
            health: ConnectionHealthStatus(documented: health, details: nil))
    }

    /// Organizations of TENABLE connections, with an incident rule of 3 connections (all of an organization
    /// counts: share 1, organizations of fewer than 100 are small).
    static func configuration(_ directory: URL, _ organizations: [(OrganizationID, [String])]) -> Configuration {
        var configuration = Configuration(
            api: .init(endpoint: .us, key: .file("/nonexistent")), stateDirectory: directory.path,
            organizations: organizations.map { id, identifiers in
                OrganizationConfig(id: id, connections: identifiers.map { ConnectionConfig(identifier: $0, vendor: .tenable) })
            })
        configuration.alerting.incidents = .init(minimumConnections: 3, minimumShare: 1, minimumOrganizationSize: 100)
        return configuration
    }

    @Test("A storm across two organizations is one incident: its connections' events at info, kept across a restart")
    func stormAcrossOrganizations() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-incidents-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = Self.configuration(directory, [(Self.first, ["a", "b"]), (Self.second, ["c", "d"])])
        let events = Events()
        let emitter = events.emitter
        let store = StateStore(directory: directory.path)
        let monitor = try Monitor(configuration: configuration, store: store, emitter: emitter, logger: quietLogger)
        await monitor.startDelivery()

        // Seen healthy first: connections first seen UNHEALTHY are not a storm.
        await monitor.ingest(
            .success([Self.connection("a", in: Self.first, .healthy), Self.connection("b", in: Self.first, .healthy)]),
            organization: Self.first)
        await monitor.ingest(
            .success([Self.connection("c", in: Self.second, .healthy), Self.connection("d", in: Self.second, .healthy)]),
            organization: Self.second)
        _ = await Self.written(monitor, events)

        await monitor.ingest(
            .success([Self.connection("a", in: Self.first, .unauthorized), Self.connection("b", in: Self.first, .unauthorized)]),
            organization: Self.first)
        let alone = await Self.written(monitor, events)
        #expect(!alone.contains { $0.kind == .incidentStarted })
        #expect(alone.filter { $0.kind == .connectionUnhealthyConfirmed }.allSatisfy { $0.priority == .error })

        await monitor.ingest(
            .success([Self.connection("c", in: Self.second, .unauthorized), Self.connection("d", in: Self.second, .unauthorized)]),
            organization: Self.second)
        let storm = await Self.written(monitor, events)
        let started = try #require(storm.first)
        #expect(started.kind == .incidentStarted && started.priority == .error)
        #expect(started[field: "LEEN_CONNECTIONS"] == "4")
        let id = try #require(started[field: "LEEN_INCIDENT_ID"])
        let members = storm.dropFirst()
        #expect(!members.isEmpty && members.allSatisfy { $0.priority == .info && $0[field: "LEEN_INCIDENT_ID"] == id })
        #expect(await monitor.snapshot().daemon.openIncidents == 1)

        // A restart finds the incident open; its members recovering in one organization resolves it.
        await monitor.finishDelivery(grace: .seconds(10))
        let restarted = try Monitor(configuration: configuration, store: store, emitter: emitter, logger: quietLogger)
        await restarted.startDelivery()
        #expect(await restarted.snapshot().daemon.openIncidents == 1)
        await restarted.ingest(
            .success([Self.connection("c", in: Self.second, .healthy), Self.connection("d", in: Self.second, .healthy)]),
            organization: Self.second)
        let resolved = await Self.written(restarted, events)
        #expect(resolved.last?.kind == .incidentResolved)
        #expect(resolved.last?[field: "LEEN_INCIDENT_ID"] == id)
        #expect(resolved.filter { $0.kind == .connectionRecovered }.allSatisfy { $0[field: "LEEN_INCIDENT_ID"] == nil })
        #expect(await restarted.snapshot().daemon.openIncidents == 0)
    }

    @Test("A poll that only counts an unhealthy connection towards confirmation commits without fdatasync")
    func pollsWithoutEventsAreNotSynced() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-unsynced-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = Self.configuration(directory, [(Self.first, ["a"])])
        let events = Events()
        let store = StateStore(directory: directory.path)
        let monitor = try Monitor(configuration: configuration, store: store, emitter: events.emitter, logger: quietLogger)
        await monitor.startDelivery()
        func poll(_ health: HealthName) async { await monitor.ingest(.success([Self.connection("a", in: Self.first, health)]), organization: Self.first) }

        // The first write replaces the file, the second creates the log: both durable.
        await poll(.healthy)
        _ = await Self.written(monitor, events)
        await poll(.vendorServerError)
        #expect(await Self.written(monitor, events).map(\.kind) == [.connectionUnhealthy])
        #expect(store.unsyncedAppends == 0)
        // VENDOR's rule counts 3 polls (and 4 hours): the next two polls change the count, not the output.
        await poll(.vendorServerError)
        await poll(.vendorServerError)
        #expect(await Self.written(monitor, events).isEmpty)
        #expect(store.unsyncedAppends == 2)
        // The count is at the rule's: nothing to write. A recovery is an event: durable.
        await poll(.vendorServerError)
        await poll(.healthy)
        #expect(await Self.written(monitor, events).map(\.kind) == [.connectionRecovered])
        #expect(store.unsyncedAppends == 2)
        // What was appended without fdatasync reads back (the kernel has it).
        let stored = try #require(try StateStore(directory: directory.path).loadStoredOrganizations()[Self.first])
        #expect(stored.state.connections["a"]?.observation.health?.name == .healthy)
        await monitor.finishDelivery(grace: .seconds(10))
    }

    @Test("Incident details alone (the window, members) are saved at most every 10 s and at shutdown; a start or end at once")
    func incidentDetailSavesAreSpaced() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-incidents-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = Self.configuration(directory, [(Self.first, ["a", "b", "c", "d"])])
        let clock = Mutex(Date(timeIntervalSince1970: 1_764_504_000))
        let store = StateStore(directory: directory.path)
        let monitor = try Monitor(
            configuration: configuration, store: store, emitter: Events().emitter, logger: quietLogger,
            now: { clock.withLock { $0 } })
        await monitor.startDelivery()
        let file = directory.appendingPathComponent("incidents.json").path
        let stamp = Date(timeIntervalSince1970: 946_684_800)
        func markWritten() throws { try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: file) }
        func rewritten() throws -> Bool {
            try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date != stamp
        }
        func incidents() throws -> IncidentDetector {
            var setAside: [StateStore.SetAside] = []
            return try store.loadIncidents(setAside: &setAside)
        }
        func poll(_ health: [String: HealthName]) async {
            await monitor.ingest(
                .success(Listing(items: health.sorted { $0.key < $1.key }.map { Self.connection($0.key, in: Self.first, $0.value) })),
                organization: Self.first)
        }
        await poll(["a": .healthy, "b": .healthy, "c": .healthy, "d": .healthy])
        #expect(FileManager.default.fileExists(atPath: file))
        try markWritten()
        // A new problem moves the window: not saved again within 10 s.
        await poll(["a": .unauthorized, "b": .healthy, "c": .healthy, "d": .healthy])
        #expect(try !rewritten(), "the window was saved again within 10 s")
        clock.withLock { $0 += 11 }
        await poll(["a": .unauthorized, "b": .unauthorized, "c": .healthy, "d": .healthy])
        #expect(try rewritten(), "the window was not saved 11 s on")
        let window = try incidents()
        // a, confirmed at its first poll and seen again, is one onset, not two: two connections are no storm
        // of three (counted twice, they were one, a false incident).
        #expect(window.recent.map(\.identifier).sorted() == ["a", "b"])
        #expect(window.open.isEmpty)
        // An incident starting is saved with its poll, whatever the time since the last save.
        try markWritten()
        await poll(["a": .unauthorized, "b": .unauthorized, "c": .unauthorized, "d": .healthy])
        #expect(try rewritten())
        #expect(try incidents().open.map(\.members.count) == [3])
        // A connection joining the open incident is a detail: saved 10 s on, not at once.
        try markWritten()
        await poll(["a": .unauthorized, "b": .unauthorized, "c": .unauthorized, "d": .unauthorized])
        #expect(await monitor.incidents.open.map(\.members.count) == [4])
        #expect(try !rewritten(), "a member joining was saved within 10 s")
        clock.withLock { $0 += 11 }
        await poll(["a": .unauthorized, "b": .unauthorized, "c": .unauthorized, "d": .unauthorized])
        #expect(try rewritten(), "a member joining was not saved 11 s on")
        #expect(try incidents().open.map(\.members.count) == [4])
        // One leaving is a detail too; left unsaved, it is saved at shutdown.
        try markWritten()
        await poll(["a": .unauthorized, "b": .unauthorized, "c": .unauthorized, "d": .healthy])
        #expect(try !rewritten(), "a member leaving was saved within 10 s")
        await monitor.finishDelivery(grace: .seconds(5))
        #expect(try rewritten(), "a member leaving was not saved at shutdown")
        let saved = try incidents()
        #expect(saved.open.map(\.members.count) == [3])
        #expect(saved == (await monitor.incidents))
        // The end of the incident is saved with its poll, whatever the time since the last save.
        try markWritten()
        await poll(["a": .healthy, "b": .healthy, "c": .healthy, "d": .healthy])
        #expect(try rewritten(), "an incident's end was not saved with its poll")
        #expect(try incidents().open.isEmpty)
    }
}

extension MonitorAlertingTests.Events {
    var emitter: EventEmitter {
        EventEmitter(sink: NullSink(), fallback: NullSink(), observers: [{ event in self.all.withLock { $0.append(event) } }])
    }
}

