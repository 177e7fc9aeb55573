import AsyncHTTPClient
import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import LeenAPIClient
import Logging
import Synchronization
import SystemdSupport
import Testing

@testable import Healthd
@testable import LeenSimulator

/// One daemon against leen-sim, next to a real private journald, taken through every fault the API, the
/// network or a buggy server can produce, one after the other. For each: the daemon keeps running, writes no
/// connection event the fault did not cause, at most one API event per organization, honours `Retry-After`
/// within its bounds, and once the fault clears writes exactly the real change made then, within one poll
/// interval (plus the longest backoff). The table it prints is the one in docs/reliability.md.
@Suite(
    "Fault matrix against a real journald", .serialized,
    .enabled(if: journalEndToEnd, "needs a private journald: run through scripts/with-journald.sh (make test does)"))
struct FaultMatrixTests {
    /// One connection per row, so that no connection changes often enough to count as flapping.
    static let identifiers = (0..<20).map { String(format: "f%02d", $0) }
    static let interval = Duration.milliseconds(500)
    static let maximumBackoff = Duration.seconds(1)

    /// What the emitter and the client's observer saw, with when.
    final class Record: Sendable {
        let events = Mutex<[(at: ContinuousClock.Instant, event: HealthEvent)]>([])
        let requests = Mutex<[(at: ContinuousClock.Instant, event: LeenClient.RequestEvent)]>([])

        func events(since: ContinuousClock.Instant) -> [HealthEvent] {
            events.withLock { $0.filter { $0.at >= since }.map(\.event) }
        }
    }

    enum Fault: Sendable {
        /// Queued one-shot faults on the connections listing.
        case queued([QueuedFault])
        /// The daemon is reloaded onto another base URL (closed port, unresolvable host) for a while.
        case baseURL(String)
        /// The key is expired in leen-sim; a reload with a new key ends it.
        case expiredKey
    }

    struct Row: Sendable {
        var name: String
        var fault: Fault
        /// How long the fault is left in place before the real change is made.
        var hold: Duration = .seconds(2)
        /// Whether the fault must make the organization's API fail (one API event), or must pass unseen.
        var apiFailure: Bool
        /// A `Retry-After` the client must wait out before its next attempt (in-line, at most 60 s).
        var retryAfter: Duration?
    }

    static func rows() -> [Row] {
        func listing(_ kind: QueuedFault.ListingFault, times: Int = 1) -> Fault {
            .queued(Array(repeating: QueuedFault(kind: .listing, pathContains: "/connections", listing: kind), count: times))
        }
        func status(_ code: Int, retryAfter: String? = nil, times: Int) -> Fault {
            .queued(Array(repeating: QueuedFault(kind: .status, status: code, retryAfter: retryAfter, pathContains: "/connections"), count: times))
        }
        return [
            Row(name: "5xx burst (8 × 503)", fault: status(503, times: 8), apiFailure: true),
            Row(name: "429, Retry-After: 2", fault: status(429, retryAfter: "2", times: 1), apiFailure: false, retryAfter: .seconds(2)),
            Row(name: "429, Retry-After: 99999999999999999", fault: status(429, retryAfter: "99999999999999999", times: 2), apiFailure: true),
            Row(name: "429, Retry-After: a date in 9999", fault: status(429, retryAfter: "Fri, 31 Dec 9999 23:59:59 GMT", times: 2), apiFailure: true),
            Row(name: "429, Retry-After: garbage", fault: status(429, retryAfter: "soon", times: 2), apiFailure: true),
            Row(name: "slow past the timeout (2 s, timeout 1 s)", fault: .queued(Array(repeating: QueuedFault(kind: .hang, hangSecs: 2, pathContains: "/connections"), count: 2)), hold: .seconds(3), apiFailure: true),
            Row(name: "hanging (600 s)", fault: .queued(Array(repeating: QueuedFault(kind: .hang, hangSecs: 600, pathContains: "/connections"), count: 2)), hold: .seconds(3), apiFailure: true),
            Row(name: "connection reset", fault: .queued(Array(repeating: QueuedFault(kind: .close, pathContains: "/connections"), count: 2)), apiFailure: true),
            Row(name: "truncated JSON", fault: .queued(Array(repeating: QueuedFault(kind: .truncate, pathContains: "/connections"), count: 2)), apiFailure: true),
            Row(name: "wrong types in one item (3 listings)", fault: listing(.nullField, times: 3), apiFailure: false),
            Row(name: "401: key expired, new key by reload", fault: .expiredKey, apiFailure: true),
            Row(name: "closed port", fault: .baseURL("http://127.0.0.1:1/v1"), hold: .seconds(5), apiFailure: true),
            Row(name: "unresolvable host", fault: .baseURL("http://leen-sim.invalid/v1"), hold: .seconds(5), apiFailure: true),
            Row(name: "failure in the middle of pagination", fault: .queued([
                QueuedFault(kind: .status, status: 500, pathContains: "/connections", skip: 1),
                QueuedFault(kind: .status, status: 500, pathContains: "/connections"),
            ]), apiFailure: true),
            Row(name: "cursor loop", fault: listing(.cursorLoop), apiFailure: true),
            Row(name: "total larger than listed", fault: listing(.inflatedTotal, times: 6), apiFailure: true),
            Row(name: "an empty successful listing", fault: listing(.empty), apiFailure: false),
            Row(name: "the same connection twice in one listing", fault: listing(.duplicateItem), apiFailure: true),
        ]
    }

    @Test("Every fault: the daemon runs on, writes no false event, one API event at most, then exactly the real change")
    func matrix() async throws {
        let organization = OrganizationID(UUID().uuidString.lowercased())
        let workspace = try Workspace()
        defer { workspace.remove() }
        var simulatorConfig = SimulatorConfiguration()
        simulatorConfig.apiKeys = [workspace.apiKey]
        simulatorConfig.timeScale = 0
        simulatorConfig.firstJobDelaySecs = 0
        let scenario = Scenario(
            randomEvolution: false, organizations: [.init(id: organization.rawValue, name: "Faults", identifier: "faults")],
            connections: Self.identifiers.map { .init(organization: "faults", vendor: .tenable, identifier: $0) })
        let record = Record()
        let started = Date()
        var table: [String] = []
        try await LeenSimulator.withRunning(configuration: simulatorConfig, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            for identifier in Self.identifiers {
                _ = try simulator.state.setHealth(identifier, try #require(ConnectionHealthStatus(documented: .healthy, details: nil)))
            }
            let target = Mutex("\(baseURL)/v1")
            let key = Mutex(workspace.apiKey)
            func writeConfiguration() throws {
                try workspace.write("api-key", key.withLock { $0 })
                try workspace.write("config.yaml", Self.configuration(workspace, baseURL: target.withLock { $0 }, organization: organization))
            }
            try writeConfiguration()
            let configuration = try ConfigLoader.load(path: workspace.path("config.yaml"), environment: [:])
            let emitter = EventEmitter(
                sink: SystemdJournalSink(), fallback: NullSink(),
                observers: [{ event in record.events.withLock { $0.append((.now, event)) } }])
            let monitor = try Monitor(
                configuration: configuration, store: StateStore(directory: configuration.stateDirectory), emitter: emitter,
                logger: quietLogger)
            let reloads = Mutex(0)
            var hooks = HealthDaemon.Hooks()
            hooks.reloaded = { _ in reloads.withLock { $0 += 1 } }
            let daemon = HealthDaemon(
                monitor: monitor, loadConfiguration: { try ConfigLoader.load(path: workspace.path("config.yaml"), environment: [:]) },
                makeClient: { configuration in
                    var client = DaemonRunner.clientConfiguration(configuration, key: try String(contentsOfFile: workspace.path("api-key"), encoding: .utf8))
                    client.userAgent = "fault-matrix"
                    return LeenClient(
                        configuration: client, httpClient: HTTPClient.shared, logger: quietLogger,
                        observer: { event in record.requests.withLock { $0.append((.now, event)) } })
                },
                readSecret: { try SecretReader(environment: [:]).read($0) }, hooks: hooks, logger: quietLogger)
            let running = Task { try await daemon.run() }
            func reload() async throws {
                let before = reloads.withLock { $0 }
                daemon.requestReload()
                try await eventually("the reload") { reloads.withLock { $0 } > before }
            }

            // Baseline: every connection monitored, once.
            try await eventually("the first poll") {
                record.events(since: .now - .seconds(3600)).filter { $0.kind == .connectionMonitored }.count == Self.identifiers.count
            }
            var flip = 0
            for row in Self.rows() {
                try await Task.sleep(for: Self.interval * 2)
                let rowStart = ContinuousClock.now
                switch row.fault {
                case .queued(let faults):
                    simulator.state.enqueueFaults(faults)
                case .baseURL(let url):
                    target.withLock { $0 = url }
                    try writeConfiguration()
                    try await reload()
                case .expiredKey:
                    simulator.state.expireAPIKey(key.withLock { $0 })
                }
                try await Task.sleep(for: row.hold)
                #expect(!running.isCancelled, "\(row.name): the daemon stopped")

                // The fault ends.
                switch row.fault {
                case .queued:
                    simulator.state.resetFaults()
                case .baseURL:
                    target.withLock { $0 = "\(baseURL)/v1" }
                    try writeConfiguration()
                    try await reload()
                case .expiredKey:
                    let fresh = "lk_fault_matrix_\(UUID().uuidString.prefix(8))"
                    simulator.state.addAPIKey(fresh)
                    key.withLock { $0 = fresh }
                    try writeConfiguration()
                    try await reload()
                }
                // The API answers again (when it had stopped), then one real change.
                if row.apiFailure {
                    try await eventually("\(row.name): api_recovered") {
                        record.events(since: rowStart).contains { $0.kind == .apiRecovered }
                    }
                }
                let identifier = Self.identifiers[flip % Self.identifiers.count]
                flip += 1
                let changedAt = ContinuousClock.now
                _ = try simulator.state.setHealth(identifier, try #require(ConnectionHealthStatus(documented: .vendorServerError, details: nil)))
                try await eventually("\(row.name): the real change") {
                    record.events(since: changedAt).contains { $0.kind == .connectionUnhealthy && $0[field: "LEEN_IDENTIFIER"] == identifier }
                }
                let seenAt = record.events.withLock {
                    $0.last { $0.event.kind == .connectionUnhealthy && $0.event[field: "LEEN_IDENTIFIER"] == identifier }?.at
                } ?? .now
                let latency = seenAt - changedAt
                // And back, so the next row starts from an all-healthy fleet.
                _ = try simulator.state.setHealth(identifier, try #require(ConnectionHealthStatus(documented: .healthy, details: nil)))
                try await eventually("\(row.name): the change back") {
                    record.events(since: changedAt).contains { $0.kind == .connectionRecovered && $0[field: "LEEN_IDENTIFIER"] == identifier }
                }

                let during = record.events.withLock { $0.filter { $0.at >= rowStart && $0.at < changedAt }.map(\.event) }
                let falseEvents = during.filter { $0.kind.rawValue.hasPrefix("connection_") }
                let apiEvents = during.filter { [.apiUnreachable, .apiRejected].contains($0.kind) }
                let after = record.events(since: changedAt).filter { $0.kind.rawValue.hasPrefix("connection_") }
                let real = after.filter { $0[field: "LEEN_IDENTIFIER"] == identifier }
                let other = after.filter { $0[field: "LEEN_IDENTIFIER"] != identifier }
                #expect(falseEvents.isEmpty, "\(row.name): connection events during the fault: \(falseEvents.map(\.message))")
                #expect(other.isEmpty, "\(row.name): events about connections that did not change: \(other.map(\.message))")
                #expect(
                    apiEvents.count == (row.apiFailure ? 1 : 0),
                    "\(row.name): API events \(apiEvents.map(\.message)); all events: \(during.map(\.message))")
                #expect(latency <= Self.interval + Self.maximumBackoff + .seconds(1), "\(row.name): the change took \(latency)")
                var retryAfterNote = "-"
                if let wanted = row.retryAfter {
                    let requests = record.requests.withLock { $0.filter { $0.at >= rowStart && $0.event.operation == "list_connections" } }
                    let honoured = requests.first { $0.event.honouredRetryAfter }
                    #expect(honoured?.event.retryDelay == wanted, "\(row.name): Retry-After not waited out in-line")
                    if let honoured, let next = requests.first(where: { $0.at > honoured.at }) {
                        #expect(next.at - honoured.at >= wanted, "\(row.name): retried before Retry-After")
                        retryAfterNote = "next try after \(Self.seconds(next.at - honoured.at))"
                    }
                }
                if case .queued(let faults) = row.fault, faults.first?.retryAfter != nil, row.retryAfter == nil {
                    retryAfterNote = "clamped to max_backoff (1 s)"
                }
                let others = Set(during.map(\.kind.rawValue).filter { !$0.hasPrefix("connection_") && !$0.hasPrefix("api_") })
                table.append(
                    "| \(row.name) | \(apiEvents.map(\.kind.rawValue).joined(separator: ", ").ifEmpty("none")) | "
                        + "\(others.sorted().joined(separator: ", ").ifEmpty("none")) | \(falseEvents.count) | \(retryAfterNote) | "
                        + "\(real.map(\.kind.rawValue).joined(separator: ", ")) in \(Self.seconds(latency)) |")
            }
            #expect(!running.isCancelled)
            running.cancel()
            try await running.value
        }
        // Everything the daemon wrote is in the journal, once.
        let ids = Set(record.events.withLock { $0.compactMap { $0.event[field: "LEEN_EVENT_ID"] } })
        let present = try JournalQuery.present(ids, field: "LEEN_EVENT_ID", identifier: "leen-healthd", since: started.addingTimeInterval(-1))
        #expect(present == ids, "\(ids.count - present.count) events missing from the journal")
        print(
            (["| Fault | API events | other events | false connection events | Retry-After | after it clears: the real change |", "|---|---|---|---:|---|---|"] + table)
                .joined(separator: "\n"))
    }

    static func seconds(_ duration: Duration) -> String { String(format: "%.2f s", duration.seconds) }

    func eventually(_ what: String, _ condition: () throws -> Bool) async throws {
        let end = ContinuousClock.now + .seconds(60)
        while try !condition() {
            guard ContinuousClock.now < end else {
                Issue.record("timed out waiting for \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func configuration(_ workspace: Workspace, baseURL: String, organization: OrganizationID) -> String {
        """
        api:
          base_url: \(baseURL)
          allow_insecure_http: true
          key: { file: \(workspace.path("api-key")) }
          timeout: 1s
          attempts: 2
        poll:
          interval: \(Int(interval.seconds * 1000))ms
          jitter: 0%
          concurrency: 1
          page_size: 5
          pagination: cursor
          max_backoff: \(Int(maximumBackoff.seconds))s
        alerting:
          api: { polls: 1000, after: 24h }
        state_directory: \(workspace.path("state"))
        metrics:
          listen: off
        organizations:
          - id: \(organization)
            name: Faults
            connections:
        """ + identifiers.map {
            """

                  - identifier: \($0)
                    vendor: TENABLE
                    credentials:
                      client_key: { file: \(workspace.path("tenable-client")) }
                      secret_key: { file: \(workspace.path("tenable-secret")) }
            """
        }.joined()
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
