import Foundation
import LeenAPI
import Synchronization

/// One simulated connection: what the API shows plus what drives its evolution.
struct ConnectionRecord: Sendable {
    var connection: Connection
    var credentials: VendorCredentials?
    /// Seeds this connection's random stream.
    var key: UInt64
    /// Simulated time of job 0; job `n` runs at `jobBase + n * refresh_interval_secs`.
    var jobBase: Double
    /// The next job not yet run.
    var nextJob: Int = 0
    /// An OAuth connection waiting for authorisation: no jobs run.
    var oauthPending: Bool = false
    /// Whether `oauth2_authorize_url` is shown.
    var showsAuthorizeURL: Bool = false
    /// A CUSTOMER failure waiting for new credentials.
    var customerLatched: Bool = false
    /// New credentials since the last job: the next job starts afresh.
    var freshCredentials: Bool = false
    /// The credentials hold a value the vendor refuses (``SimulatorConfiguration/rejectedCredentialValues``).
    var credentialsRejected: Bool = false
    /// Credential changes received by PATCH.
    var credentialUpdates: Int = 0
    /// Health changes only by script or control API.
    var scripted: Bool = false
    /// The JSON of ``jsonSource``. List pages are assembled from these bytes: encoding 100 connections with
    /// `JSONEncoder` on every request cost about 16 µs per connection and capped the 100-item list at ~540
    /// requests/s (docs/benchmarks.md); re-encoding only when the view changes removes that cost.
    var json: [UInt8] = []
    var jsonSource: Connection?

    /// The view's JSON, re-encoded only when the view differs from the one encoded last.
    mutating func encoded(_ view: Connection) -> [UInt8] {
        if jsonSource != view {
            json = SimulatorHTTP.encodeBytes(view)
            jsonSource = view
        }
        return json
    }
}

struct OrganizationRecord: Sendable {
    var organization: Organization
    /// Connection ids in creation order (the list order).
    var connectionIDs: [ConnectionID] = []
    var deleted = false
    /// The JSON of ``jsonSource`` (see ``ConnectionRecord/json``).
    var json: [UInt8] = []
    var jsonSource: Organization?

    init(organization: Organization) { self.organization = organization }

    mutating func encoded() -> [UInt8] {
        if jsonSource != organization {
            json = SimulatorHTTP.encodeBytes(organization)
            jsonSource = organization
        }
        return json
    }
}

/// Everything the simulator holds, guarded by ``SimulatorState``'s lock.
struct SimulatorData: Sendable {
    var organizations: [OrganizationID: OrganizationRecord] = [:]
    var organizationOrder: [OrganizationID] = []
    var connections = ConnectionStore()
    var ids: SeededRandom
    var faultRandom: SeededRandom
    var clock: SimulatedClock
    var startTime: Double
    var apiKeys: Set<String>
    var expiredKeys: Set<String> = []
    var faults: FaultSettings
    var faultQueue: [QueuedFault] = []
    var steps: [Scenario.Step] = []
    var nextStep = 0
    var randomEvolution = true
    var responses: [Int: Int] = [:]
    var rejectedCredentialValues: Set<String> = []
    var publicBaseURL: String = "http://127.0.0.1"
    var stopping = false
}

/// The simulated Leen backend: organizations, connections, health evolution, API keys, faults.
///
/// A lock, not an actor: requests are served concurrently on NIO's event loops, every critical section is
/// short and synchronous (a page of 100 connections is copied out in microseconds), and JSON encoding
/// happens outside it. `Mutex` makes the class `Sendable` without `@unchecked`.
public final class SimulatorState: Sendable {
    public let configuration: SimulatorConfiguration
    let model: HealthModel
    let data: Mutex<SimulatorData>

    public init(configuration: SimulatorConfiguration, scenario: Scenario? = nil) throws {
        self.configuration = configuration
        model = HealthModel(
            seed: configuration.seed, failureRate: configuration.failureRate,
            persistence: configuration.failurePersistence)
        let start = (configuration.startTime ?? Date()).timeIntervalSince1970.rounded(.down)
        var initial = SimulatorData(
            ids: SeededRandom(seed: configuration.seed),
            faultRandom: SeededRandom(seed: SeededRandom.mix(configuration.seed ^ 0xFA17)),
            clock: SimulatedClock(start: Date(timeIntervalSince1970: start), timeScale: configuration.timeScale),
            startTime: start, apiKeys: Set(configuration.apiKeys), faults: configuration.faults)
        initial.rejectedCredentialValues = configuration.rejectedCredentialValues
        Self.populate(&initial, configuration: configuration, start: start)
        if let scenario {
            try Self.load(scenario, into: &initial, configuration: configuration, start: start)
        }
        data = Mutex(initial)
    }

    /// Runs `body` with the data at the current simulated time, after the scenario steps that are due.
    func withData<T>(_ body: (inout SimulatorData, Double) throws -> T) rethrows -> T {
        try data.withLock { data in
            let now = data.clock.now
            applyDueSteps(&data, now: now)
            return try body(&data, now)
        }
    }

    // MARK: - Evolution

    /// Runs every job of `record` due by `now`.
    func advance(_ record: inout ConnectionRecord, to now: Double, randomEvolution: Bool) {
        if record.oauthPending, let after = configuration.oauthAutoAuthorizeAfterSecs,
            let created = record.connection.createdAt?.date?.timeIntervalSince1970, now >= created + after
        {
            authorize(&record, at: created + after)
        }
        guard !record.oauthPending, let state = record.connection.state, state == .active || state == .pending
        else { return }
        let interval = Double(max(1, record.connection.refreshIntervalSecs))
        var runs = 0
        while record.jobBase + Double(record.nextJob) * interval <= now {
            let jobTime = record.jobBase + Double(record.nextJob) * interval
            let before = record.connection.health
            if record.credentialsRejected {
                // The vendor refuses the credentials: every job ends as Leen reports that, scripted or not.
                record.connection.health = Self.health(.unauthorized, details: nil)
                record.customerLatched = true
                record.freshCredentials = false
            } else if record.scripted || !randomEvolution {
                if before == nil {
                    record.connection.health = ConnectionHealthStatus(documented: .healthy)
                } else if record.freshCredentials, let before, before.status == .unhealthy,
                    before.resolutionOwner == .customer
                {
                    // A scripted credential failure ends as a real one does: the next job runs with the new
                    // credentials, which the vendor accepts (refused values are `credentialsRejected`).
                    record.connection.health = ConnectionHealthStatus(documented: .healthy)
                    record.customerLatched = false
                }
                record.freshCredentials = false
            } else {
                let next = model.health(
                    key: record.key, job: record.nextJob, vendor: record.connection.vendor,
                    previous: record.freshCredentials ? nil : before, customerLatched: record.customerLatched)
                record.connection.health = next
                record.customerLatched = next.resolutionOwner == .customer && next.status == .unhealthy
                record.freshCredentials = false
            }
            if record.connection.state == .pending { setState(&record, .active, at: jobTime) }
            if record.connection.health != before { record.connection.updatedAt = Timestamp(date(jobTime)) }
            record.nextJob += 1
            runs += 1
            if runs >= 10_000 {
                // Far behind (a huge time scale): skip to the present rather than replay every job.
                record.nextJob = Int(((now - record.jobBase) / interval).rounded(.down)) + 1
                break
            }
        }
    }

    func setState(_ record: inout ConnectionRecord, _ state: ConnectionState, at time: Double) {
        let previous = record.connection.state
        record.connection.state = state
        record.connection.isActive = state == .active
        record.connection.updatedAt = Timestamp(date(time))
        if previous == .paused, state == .active {
            // Resume: the next job is the next one on the schedule; jobs skipped while paused never ran.
            let interval = Double(max(1, record.connection.refreshIntervalSecs))
            record.nextJob = max(record.nextJob, Int(((time - record.jobBase) / interval).rounded(.up)))
        }
    }

    func authorize(_ record: inout ConnectionRecord, at time: Double) {
        guard record.oauthPending else { return }
        record.oauthPending = false
        if configuration.clearOAuthURLWhenAuthorized { record.showsAuthorizeURL = false }
        record.jobBase = time + Double(configuration.firstJobDelaySecs)
        record.nextJob = 0
        record.connection.updatedAt = Timestamp(date(time))
    }

    /// The connection as the API shows it now.
    func view(_ record: ConnectionRecord, publicBaseURL: String) -> Connection {
        var connection = record.connection
        connection.oauth2AuthorizeURL =
            record.showsAuthorizeURL
            ? "\(publicBaseURL)/_sim/oauth/authorize?connection_id=\(connection.id.rawValue)" : nil
        return connection
    }

    func date(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    // MARK: - Scenario steps

    func applyDueSteps(_ data: inout SimulatorData, now: Double) {
        guard data.nextStep < data.steps.count, data.startTime + data.steps[data.nextStep].at <= now else { return }
        var removed: [OrganizationID: Set<ConnectionID>] = [:]
        while data.nextStep < data.steps.count, data.startTime + data.steps[data.nextStep].at <= now {
            let step = data.steps[data.nextStep]
            data.nextStep += 1
            apply(step, to: &data, at: data.startTime + step.at, removed: &removed)
        }
        // The organizations' lists lose the batch's removed connections in one pass each: one pass per removal
        // made a batch of removals in a large organization quadratic.
        for (organizationID, ids) in removed {
            data.organizations[organizationID]?.connectionIDs.removeAll { ids.contains($0) }
        }
    }

    /// Applies one step; a removed connection is left in its organization's list and added to `removed`.
    func apply(
        _ step: Scenario.Step, to data: inout SimulatorData, at time: Double,
        removed: inout [OrganizationID: Set<ConnectionID>]
    ) {
        if let faults = step.faults { data.faults = faults }
        if let queue = step.queue { data.faultQueue += queue }
        guard let reference = step.connection, let id = Self.find(reference, in: data) else { return }
        if step.remove == true {
            if let record = data.connections.remove(id) {
                removed[record.connection.organizationID, default: []].insert(id)
            }
            return
        }
        let random = data.randomEvolution
        data.connections.update(id) { record in
            advance(&record, to: time, randomEvolution: random)
            if step.authorize == true { authorize(&record, at: time) }
            if let state = step.state { setState(&record, state, at: time) }
            if let name = step.health {
                record.connection.health = Self.health(name, details: step.details)
                record.connection.updatedAt = Timestamp(date(time))
            }
        }
    }

    /// A health value for a name, filled from Leen's table when the name is documented.
    static func health(_ name: HealthName, details: [HealthDetail]?) -> ConnectionHealthStatus {
        ConnectionHealthStatus(documented: name, details: details)
            ?? ConnectionHealthStatus(
                name: name, status: .unhealthy, description: name.rawValue, resolutionOwner: .leen, details: details)
    }

    /// A connection by id, or else by identifier (the smallest id when several have it).
    static func find(_ reference: String, in data: SimulatorData) -> ConnectionID? {
        let id = ConnectionID(reference)
        if data.connections.contains(id) { return id }
        return data.connections.first(withIdentifier: reference)
    }

    static func remove(_ id: ConnectionID, from data: inout SimulatorData) {
        guard let record = data.connections.remove(id) else { return }
        data.organizations[record.connection.organizationID]?.connectionIDs.removeAll { $0 == id }
    }
}
