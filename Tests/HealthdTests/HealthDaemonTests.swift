import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import LeenAPIClient
import Synchronization
import SystemdSupport
import Testing

@testable import Healthd
@testable import LeenSimulator

/// `HealthDaemon` in process against leen-sim: the driver carries out the state machine's actions (polls,
/// READY, STATUS, reload beside the loop, shutdown) and feeds the watchdog's notion of progress.
@Suite("HealthDaemon in process")
struct HealthDaemonTests {
    /// What the hooks and the emitter saw.
    final class Recorder: Sendable {
        let events = Mutex<[HealthEvent]>([])
        let ready = Mutex<[String]>([])
        let reloads = Mutex<[String?]>([])
        let statuses = Mutex(0)

        var kinds: [EventKind] { events.withLock { $0.map(\.kind) } }
        func count(_ kind: EventKind) -> Int { kinds.filter { $0 == kind }.count }
    }

    /// Waits for `condition`: up to a minute, for a loaded machine (this is not a timing test).
    func eventually(_ what: String, _ condition: () async -> Bool) async throws {
        let end = ContinuousClock.now + .seconds(60)
        while await !condition() {
            guard ContinuousClock.now < end else {
                Issue.record("timed out waiting for \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("READY after the first cycle, polls go on, a reload runs beside the loop, a refused one is reported, shutdown stops")
    func lifecycle() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let organization = OrganizationID(UUID().uuidString.lowercased())
        let (simulatorConfig, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: simulatorConfig, scenario: scenario, logger: quietLogger) {
            _, baseURL in
            try workspace.write("config.yaml", workspace.configuration(baseURL: baseURL, organization: organization))
            let configuration = try ConfigLoader.load(path: workspace.path("config.yaml"), environment: [:])
            let recorder = Recorder()
            let emitter = EventEmitter(
                sink: NullSink(), fallback: NullSink(),
                observers: [{ event in recorder.events.withLock { $0.append(event) } }])
            let monitor = try Monitor(
                configuration: configuration, store: StateStore(directory: configuration.stateDirectory),
                emitter: emitter, logger: quietLogger)
            let refuseReload = Atomic(false)
            var hooks = HealthDaemon.Hooks()
            hooks.ready = { summary in recorder.ready.withLock { $0.append(summary) } }
            hooks.progress = { _ in recorder.statuses.withLock { $0 += 1 } }
            hooks.reloaded = { error in recorder.reloads.withLock { $0.append(error) } }
            let daemon = HealthDaemon(
                monitor: monitor,
                loadConfiguration: {
                    if refuseReload.load(ordering: .relaxed) { throw StateError(path: "config.yaml", reason: "refused by the test") }
                    return try ConfigLoader.load(path: workspace.path("config.yaml"), environment: [:])
                },
                makeClient: { _ in simulatorClient(baseURL: baseURL, apiKey: workspace.apiKey) },
                readSecret: { try SecretReader(environment: [:]).read($0) }, hooks: hooks, logger: quietLogger)

            let running = Task { try await daemon.run() }
            try await eventually("READY") { !recorder.ready.withLock { $0.isEmpty } }
            #expect(daemon.isReady)
            #expect(recorder.ready.withLock { $0 }.first?.hasPrefix("2 connections:") == true)
            try await eventually("daemon_started") { recorder.count(.daemonStarted) >= 1 }
            #expect(recorder.count(.daemonStarted) == 1)
            #expect(recorder.count(.connectionAdopted) == 1, "provisioning ran before the loop")

            // The loop answers pings: progress since a moment ago.
            let before = ContinuousClock.now
            daemon.ping()
            try await eventually("the loop to handle a ping") { daemon.isMakingProgress(since: before) }
            #expect(daemon.activity.withLock { $0.stall } == HealthDaemon.stallLimit(configuration))

            // Polls go on (interval 300 ms): more snapshots' worth of polls.
            let polls = await monitor.snapshot().daemon.polls.values.reduce(0, +)
            try await eventually("more polls") {
                await monitor.snapshot().daemon.polls.values.reduce(0, +) >= polls + 2
            }

            // The reloaded configuration declares one more connection: the reload provisions it.
            try workspace.write(
                "config.yaml",
                workspace.configuration(baseURL: baseURL, organization: organization)
                    + "\n      - identifier: entra-reload\n        vendor: MS_ENTRA\n")
            daemon.requestReload()
            try await eventually("the reload") { recorder.reloads.withLock { $0.count } == 1 }
            #expect(recorder.reloads.withLock { $0 } == [nil])
            // Events reach the journal writer's thread after the hook: wait for them, then count exactly.
            try await eventually("config_reloaded") { recorder.count(.configReloaded) >= 1 }
            #expect(recorder.count(.configReloaded) == 1)
            // Provisioning follows the reload as the scheduler's own step: the new connection is created once.
            try await eventually("the new connection to be created") {
                recorder.events.withLock { $0 }.of(.connectionCreated, "entra-reload").count >= 1
            }
            try await eventually("the new connection to be monitored") {
                recorder.events.withLock { $0 }.of(.connectionMonitored, "entra-reload").count == 1
            }

            refuseReload.store(true, ordering: .relaxed)
            daemon.requestReload()
            try await eventually("the refused reload") { recorder.reloads.withLock { $0.count } == 2 }
            #expect(recorder.events.withLock { $0 }.of(.connectionCreated, "entra-reload").count == 1)
            #expect(recorder.reloads.withLock { $0.last ?? nil }?.contains("refused by the test") == true)
            try await eventually("config_reload_failed") { recorder.count(.configReloadFailed) >= 1 }
            #expect(recorder.count(.configReloadFailed) == 1)

            running.cancel()
            try await running.value
            #expect(recorder.count(.daemonStopping) == 1)
            #expect(recorder.ready.withLock { $0.count } == 1, "READY is reported once")
            #expect(recorder.statuses.withLock { $0 } >= 1)
        }
    }

    @Test("The stall limit covers the slowest legitimate page: every attempt timing out, Retry-After waited between")
    func stallLimitCoversTheSlowestPage() {
        for (timeout, attempts) in [(30, 4), (5, 1), (120, 10)] {
            let api = Configuration.API(
                endpoint: .us, key: .file("/k"), requestTimeout: .seconds(timeout), maximumAttempts: attempts)
            let policy = RetryPolicy.forDaemon(api)
            let slowest = api.requestTimeout * attempts + policy.maximumRetryAfter * (attempts - 1)
            #expect(HealthDaemon.stallLimit(api: api) > slowest, "timeout \(timeout) s, \(attempts) attempts")
        }
        // The defaults: 4 attempts of 30 s and three Retry-After waits of up to 60 s, plus a minute.
        let defaults = Configuration.API(endpoint: .us, key: .file("/k"))
        #expect(HealthDaemon.stallLimit(api: defaults) == .seconds(360))
    }

    @Test("Leen down at start: polls go on, provisioning is retried with backoff and creates what is missing, reported once")
    func provisioningIsRetriedUntilItSucceeds() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let organization = OrganizationID(UUID().uuidString.lowercased())
        let (simulatorConfig, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: simulatorConfig, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            try workspace.write(
                "config.yaml",
                workspace.configuration(baseURL: baseURL, organization: organization)
                    + "\n      - identifier: entra-late\n        vendor: MS_ENTRA\n")
            let configuration = try ConfigLoader.load(path: workspace.path("config.yaml"), environment: [:])
            // The provisioning listing's two attempts (api.attempts: 2) both get 503, twice in a row.
            simulator.state.enqueueFaults(
                Array(repeating: QueuedFault(kind: .status, status: 503, pathContains: "/connections"), count: 4))
            let recorder = Recorder()
            let emitter = EventEmitter(
                sink: NullSink(), fallback: NullSink(),
                observers: [{ event in recorder.events.withLock { $0.append(event) } }])
            let monitor = try Monitor(
                configuration: configuration, store: StateStore(directory: configuration.stateDirectory),
                emitter: emitter, logger: quietLogger)
            var hooks = HealthDaemon.Hooks()
            hooks.ready = { summary in recorder.ready.withLock { $0.append(summary) } }
            let daemon = HealthDaemon(
                monitor: monitor, loadConfiguration: { configuration },
                makeClient: { _ in simulatorClient(baseURL: baseURL, apiKey: workspace.apiKey) },
                readSecret: { try SecretReader(environment: [:]).read($0) }, hooks: hooks, logger: quietLogger)
            let running = Task { try await daemon.run() }
            try await eventually("the late connection to be created") {
                recorder.events.withLock { $0 }.of(.connectionCreated, "entra-late").count >= 1
            }
            try await eventually("the late connection to be monitored") {
                recorder.events.withLock { $0 }.of(.connectionMonitored, "entra-late").count >= 1
            }
            running.cancel()
            try await running.value
            let events = recorder.events.withLock { $0 }
            #expect(!recorder.ready.withLock { $0 }.isEmpty, "READY did not wait for provisioning to succeed")
            #expect(events.of(.provisioningFailed).count == 1, "the repeated failure is not reported again")
            #expect(events.of(.connectionCreated, "entra-late").count == 1)
            #expect(events.of(.connectionAdopted, "tenable-e2e").count == 1)
            let listed = try await simulatorClient(baseURL: baseURL, apiKey: workspace.apiKey)
                .allConnections(organizationID: organization).items
            let created = listed.filter { $0.identifier == "entra-late" }
            #expect(created.count == 1, "created once, not once per attempt")
        }
    }

    @Test("A start lists an organization once when provisioning writes nothing: its listing is the first poll")
    func provisioningListingIsTheFirstPoll() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let organization = OrganizationID(UUID().uuidString.lowercased())
        let (simulatorConfig, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: simulatorConfig, scenario: scenario, logger: quietLogger) {
            _, baseURL in
            // Only the connection leen-sim already has: adopted, nothing to create or PATCH.
            let text = workspace.configuration(baseURL: baseURL, organization: organization)
                .replacingOccurrences(of: "\n      - identifier: entra-e2e\n        vendor: MS_ENTRA", with: "")
                .replacingOccurrences(of: "interval: 300ms", with: "interval: 1h")
            try workspace.write("config.yaml", text)
            let configuration = try ConfigLoader.load(path: workspace.path("config.yaml"), environment: [:])
            #expect(configuration.organizations.first?.connections.count == 1)
            let recorder = Recorder()
            let emitter = EventEmitter(
                sink: NullSink(), fallback: NullSink(), observers: [{ event in recorder.events.withLock { $0.append(event) } }])
            let monitor = try Monitor(
                configuration: configuration, store: StateStore(directory: configuration.stateDirectory),
                emitter: emitter, logger: quietLogger)
            let lists = Atomic(0)
            let listsAtReady = Mutex<Int?>(nil)
            var hooks = HealthDaemon.Hooks()
            hooks.ready = { summary in
                listsAtReady.withLock { $0 = lists.load(ordering: .relaxed) }
                recorder.ready.withLock { $0.append(summary) }
            }
            /// A daemon on `monitor` whose client counts its `list_connections` requests.
            func countingDaemon(_ monitor: Monitor) -> HealthDaemon {
                HealthDaemon(
                    monitor: monitor, loadConfiguration: { configuration },
                    makeClient: { _ in
                        simulatorClient(baseURL: baseURL, apiKey: workspace.apiKey) { request in
                            if request.operation == "list_connections" { lists.add(1, ordering: .relaxed) }
                        }
                    },
                    readSecret: { try SecretReader(environment: [:]).read($0) }, hooks: hooks, logger: quietLogger)
            }
            let daemon = countingDaemon(monitor)
            let running = Task { try await daemon.run() }
            try await eventually("READY") { !recorder.ready.withLock { $0.isEmpty } }
            try await eventually("connection_monitored") { recorder.count(.connectionMonitored) >= 1 }
            running.cancel()
            try await running.value
            #expect(listsAtReady.withLock { $0 } == 1, "the organization was listed again before READY")
            #expect(lists.load(ordering: .relaxed) == 1, "the first poll listed it again")
            #expect(recorder.ready.withLock { $0 }.first?.hasPrefix("1 connections: 1 healthy") == true)
            #expect(recorder.count(.connectionAdopted) == 1)
            #expect(recorder.count(.connectionMonitored) == 1)
            let polls = await monitor.snapshot().daemon.polls
            #expect(polls.values.reduce(0, +) == 1, "the listing counts as the organization's poll")
            // The adoption is the connection's first event in its organization's stream, not the daemon's
            // (whose file would hold a sequence for every connection ever adopted).
            let store = StateStore(directory: configuration.stateDirectory)
            var setAside: [StateStore.SetAside] = []
            let identifier = try #require(configuration.organizations.first?.connections.first?.identifier)
            #expect(try store.loadDaemon(setAside: &setAside).stream.sequences[identifier] == nil)
            let stream = try #require(try store.loadStoredOrganizations()[organization]).delivery.stream
            #expect(stream.sequences[identifier] == 2)
            let sequences = recorder.events.withLock { $0 }.filter { $0[field: "LEEN_IDENTIFIER"] == identifier }
                .map { "\($0.kind.rawValue)#\($0[field: "LEEN_EVENT_SEQUENCE"] ?? "")" }
            #expect(sequences == ["connection_adopted#1", "connection_monitored#2"])

            // A restart with that state (polled less than an interval ago) is ready before it lists anything.
            let restarted = try Monitor(
                configuration: configuration, store: StateStore(directory: configuration.stateDirectory),
                emitter: emitter, logger: quietLogger)
            lists.store(0, ordering: .relaxed)
            listsAtReady.withLock { $0 = nil }
            recorder.ready.withLock { $0 = [] }
            let again = countingDaemon(restarted)
            let rerun = Task { try await again.run() }
            try await eventually("READY after the restart") { !recorder.ready.withLock { $0.isEmpty } }
            #expect(listsAtReady.withLock { $0 } == 0, "a restart with a current state waited for a listing")
            #expect(recorder.ready.withLock { $0 }.first?.hasPrefix("1 connections: 1 healthy") == true)
            // It still provisions (and so lists) the organization.
            try await eventually("the restart's provisioning listing") { lists.load(ordering: .relaxed) >= 1 }
            rerun.cancel()
            try await rerun.value
        }
    }
}
