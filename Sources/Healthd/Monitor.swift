import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI
import Logging

/// Holds what is known about every monitored organization and turns poll outcomes into events.
///
/// The one owner of poll state: pollers hand it results, it diffs, emits and persists. Readers (the
/// `status` endpoint, metrics) get value snapshots.
public actor Monitor {
    public private(set) var configuration: Configuration
    var organizations: [OrganizationID: OrganizationState]
    var credentials: StateStore.AppliedCredentials
    private var credentialsDirty = false
    private var lastCredentialsSave: ContinuousClock.Instant?
    let store: StateStore
    let emitter: EventEmitter
    let logger: Logger
    let now: @Sendable () -> Date
    /// Completed polls (successful or not) since start: the watchdog's measure of progress.
    public private(set) var completedPolls = 0
    public private(set) var lastPollCompleted: Date?
    /// True once every organization has been polled at least once since start.
    public private(set) var firstCycleComplete = false
    var polledSinceStart: Set<OrganizationID> = []

    public init(
        configuration: Configuration, store: StateStore, emitter: EventEmitter, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.configuration = configuration
        self.store = store
        self.emitter = emitter
        self.logger = logger
        self.now = now
        organizations = try store.loadOrganizations()
        credentials = try store.loadCredentials()
    }

    public var appliedCredentials: StateStore.AppliedCredentials { credentials }

    /// Replaces the configuration; organizations no longer configured are forgotten (and their files removed).
    public func setConfiguration(_ configuration: Configuration) {
        self.configuration = configuration
        let configured = Set(configuration.organizations.map(\.id))
        for id in organizations.keys where !configured.contains(id) {
            organizations[id] = nil
            try? store.remove(id)
        }
        polledSinceStart.formIntersection(configured)
        firstCycleComplete = configured.isSubset(of: polledSinceStart)
    }

    /// Records credentials applied by provisioning and persists them, at most once a second: rewriting
    /// `credentials.json` after each organization made adopting 100,000 connections in 1,000 organizations
    /// take minutes (the file grows to megabytes). ``flushAppliedCredentials()`` ends a provisioning pass.
    /// Should the daemon die in between, the next start sends those credentials again (PATCH is idempotent).
    public func recordApplied(_ applied: [String: String], organization: OrganizationID) {
        guard !applied.isEmpty else { return }
        for (identifier, hash) in applied {
            credentials.applied[StateStore.AppliedCredentials.key(organization, identifier)] = hash
        }
        credentialsDirty = true
        if let last = lastCredentialsSave, ContinuousClock.now - last < .seconds(1) { return }
        flushAppliedCredentials()
    }

    /// Writes the applied credentials if any were recorded since the last write.
    public func flushAppliedCredentials() {
        guard credentialsDirty else { return }
        do {
            try store.save(credentials)
            credentialsDirty = false
            lastCredentialsSave = .now
        } catch {
            logger.error("cannot save applied credentials", metadata: ["error": "\(error)"])
        }
    }

    /// The outcome of polling one organization.
    public enum PollResult: Sendable {
        case success([Connection])
        case failure(LeenAPIError)
    }

    /// Applies a poll, emits its events, persists the organization. Returns the organization's new state
    /// and how many events the poll made; nil for an organization no longer configured.
    @discardableResult
    public func ingest(_ result: PollResult, organization: OrganizationID) -> (state: OrganizationState, events: Int)? {
        guard let config = configuration.organizations.first(where: { $0.id == organization }) else { return nil }
        let context = EventContext(organizationLabel: config.label, observedAt: now())
        let previous = organizations[organization] ?? OrganizationState()
        let (next, events) =
            switch result {
            case .success(let listed):
                PollProcessor.apply(
                    listed: listed, declared: Set(config.connections.map(\.identifier)), organizationID: organization,
                    to: previous, context: context)
            case .failure(let error):
                PollProcessor.apply(
                    failure: EventBuilder.PollFailure(error), organizationID: organization, to: previous,
                    context: context)
            }
        organizations[organization] = next
        emitter.emit(events)
        do {
            try store.save(next, for: organization)
        } catch {
            logger.error("cannot save state", metadata: ["organization": "\(organization)", "error": "\(error)"])
        }
        completedPolls += 1
        lastPollCompleted = context.observedAt
        polledSinceStart.insert(organization)
        if !firstCycleComplete, Set(configuration.organizations.map(\.id)).isSubset(of: polledSinceStart) {
            firstCycleComplete = true
        }
        return (next, events.count)
    }

    /// Emits events that do not come from a poll (provisioning, reload, lifecycle).
    public func emit(_ events: [HealthEvent]) { emitter.emit(events) }

    /// Persists every organization (on shutdown).
    public func persistAll() {
        for (id, state) in organizations {
            try? store.save(state, for: id)
        }
    }

    /// What a scrape renders: the organizations' state and the daemon's counters. Cheap: a copy.
    public func metricsInput(recorder: MetricsRecorder, emitter: EventEmitter) -> MetricsInput {
        let events = emitter.counts
        recorder.recordEvents(emitted: events.emitted, sendErrors: events.sendErrors)
        return MetricsInput(
            organizations: configuration.organizations.map {
                MetricsInput.Organization(id: $0.id, name: $0.name, state: organizations[$0.id] ?? OrganizationState())
            },
            daemon: recorder.counters)
    }

    /// A copy of everything known, for status output and metrics.
    public func snapshot() -> MonitorSnapshot {
        MonitorSnapshot(
            takenAt: now(),
            organizations: configuration.organizations.map {
                MonitorSnapshot.Organization(
                    id: $0.id, name: $0.name, state: organizations[$0.id] ?? OrganizationState())
            })
    }
}

/// Everything the monitor knows at one instant.
public struct MonitorSnapshot: Sendable {
    public var takenAt: Date
    public var organizations: [Organization]

    public struct Organization: Sendable {
        public var id: OrganizationID
        public var name: String?
        public var state: OrganizationState
    }

    /// `412 connections: 405 healthy, 6 unhealthy (4 CUSTOMER), 1 unknown; API ok`.
    public var summary: String {
        var healthy = 0
        var unhealthy = 0
        var customer = 0
        var unknown = 0
        var apiProblems = 0
        for organization in organizations {
            if !organization.state.api.isOK { apiProblems += 1 }
            for tracked in organization.state.connections.values where !tracked.missing {
                if organization.state.isStale || tracked.observation.health == nil {
                    unknown += 1
                } else if tracked.observation.health?.status == .healthy {
                    healthy += 1
                } else {
                    unhealthy += 1
                    if tracked.observation.health?.resolutionOwner == .customer { customer += 1 }
                }
            }
        }
        let total = healthy + unhealthy + unknown
        let api = apiProblems == 0 ? "API ok" : "API failing for \(apiProblems) of \(organizations.count) organizations"
        return "\(total) connections: \(healthy) healthy, \(unhealthy) unhealthy (\(customer) CUSTOMER), "
            + "\(unknown) unknown; \(api)"
    }
}
