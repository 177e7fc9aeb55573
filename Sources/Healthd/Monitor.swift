import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI
import Logging

/// Holds what is known about every monitored organization and turns poll outcomes into events.
///
/// The one owner of poll state and of the poll and event counters: pollers hand it outcomes, it diffs, then
/// writes the events and the organization's file on the blocking-I/O thread. Readers (the STATUS line,
/// `/status`, `/metrics`) get a ``MonitorSnapshot``, a value.
public actor Monitor {
    public private(set) var configuration: Configuration
    var organizations: [OrganizationID: OrganizationState]
    var credentials: StateStore.AppliedCredentials
    /// Storms across organizations (`Monitor+Alerting.swift`), persisted in their own file.
    var incidents: IncidentDetector
    private var credentialsDirty = false
    private var lastCredentialsSave: Date?
    let store: StateStore
    let emitter: EventEmitter
    let io: BlockingIO
    let logger: Logger
    let now: @Sendable () -> Date
    private var counters = Counters()

    /// What the monitor counts for metrics.
    struct Counters {
        var polls: [DaemonCounters.PollKey: Int] = [:]
        var pollDurations: [OrganizationID: Histogram] = [:]
        var eventsEmitted: [EventKind: Int] = [:]
        var journalSendErrors = 0
        var eventsSuppressed = 0
    }

    public init(
        configuration: Configuration, store: StateStore, emitter: EventEmitter, io: BlockingIO = BlockingIO(),
        logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.configuration = configuration
        self.store = store
        self.emitter = emitter
        self.io = io
        self.logger = logger
        self.now = now
        organizations = try store.loadOrganizations()
        credentials = try store.loadCredentials()
        incidents = try store.loadIncidents()
    }

    public var appliedCredentials: StateStore.AppliedCredentials { credentials }

    /// Replaces the configuration; organizations no longer configured are forgotten (and their files removed),
    /// each with an `organization_untracked` event.
    public func setConfiguration(_ configuration: Configuration) async {
        let untracked = untrackedOrganizations(leaving: configuration)
        self.configuration = configuration
        await emit(untracked)
        let configured = Set(configuration.organizations.map(\.id))
        let removed = organizations.keys.filter { !configured.contains($0) }
        for id in removed { organizations[id] = nil }
        guard !removed.isEmpty else { return }
        let store = store
        await io.run { for id in removed { try? store.remove(id) } }
    }

    /// Records credentials applied by provisioning and persists them, at most once a second: rewriting
    /// `credentials.json` after each organization made adopting 100,000 connections in 1,000 organizations
    /// take minutes (the file grows to megabytes). ``flushAppliedCredentials()`` ends a provisioning pass.
    /// Should the daemon die in between, the next start sends those credentials again (PATCH is idempotent).
    public func recordApplied(_ applied: [String: String], organization: OrganizationID) async {
        guard !applied.isEmpty else { return }
        for (identifier, hash) in applied {
            credentials.applied[StateStore.AppliedCredentials.key(organization, identifier)] = hash
        }
        credentialsDirty = true
        if let last = lastCredentialsSave, now().timeIntervalSince(last) < 1 { return }
        await flushAppliedCredentials()
    }

    /// Writes the applied credentials if any were recorded since the last write.
    public func flushAppliedCredentials() async {
        guard credentialsDirty else { return }
        credentialsDirty = false
        lastCredentialsSave = now()
        let (store, credentials, logger) = (store, credentials, logger)
        let saved = await io.run { () -> Bool in
            do {
                try store.save(credentials)
                return true
            } catch {
                logger.error("cannot save applied credentials", metadata: ["error": "\(error)"])
                return false
            }
        }
        if !saved { credentialsDirty = true }
    }

    /// Applies a poll, writes its events and the organization's file, and counts it. Returns the
    /// organization's new state and how many events the poll made; nil for an organization no longer
    /// configured.
    @discardableResult
    public func ingest(
        _ outcome: PollOutcome, organization: OrganizationID, duration: Duration = .zero
    ) async -> (state: OrganizationState, events: Int)? {
        guard let config = configuration.organizations.first(where: { $0.id == organization }) else { return nil }
        let context = EventContext(organizationLabel: config.label, observedAt: now())
        let previous = organizations[organization] ?? OrganizationState()
        let (next, polled) =
            switch outcome {
            case .success(let listed):
                PollProcessor.apply(
                    listed: listed, declared: Set(config.connections.map(\.identifier)), organizationID: organization,
                    to: previous, policy: configuration.alerting, context: context)
            case .failure(let failure):
                PollProcessor.apply(
                    failure: failure, organizationID: organization, to: previous, policy: configuration.alerting,
                    context: context)
            }
        organizations[organization] = next
        let events = await correlate(polled, state: next, organization: organization, at: context.observedAt)
        let result: String
        switch outcome {
        case .success: result = "success"
        case .failure(let failure):
            result = failure.kind.rawValue
            // A failure that made no event is a repeat of an outage already reported.
            if events.isEmpty { counters.eventsSuppressed += 1 }
        }
        counters.polls[DaemonCounters.PollKey(organization: organization, result: result), default: 0] += 1
        counters.pollDurations[organization, default: Histogram()].observe(duration.seconds)
        await write(events, saving: (next, organization))
        return (next, events.count)
    }

    /// Writes events that do not come from a poll (provisioning, reload, lifecycle).
    public func emit(_ events: [HealthEvent]) async {
        await write(events, saving: nil)
    }

    /// Sends `events` to the journal, then saves the organization's state, on the blocking-I/O thread.
    private func write(_ events: [HealthEvent], saving state: (OrganizationState, OrganizationID)?) async {
        guard !events.isEmpty || state != nil else { return }
        let (emitter, store, logger) = (emitter, store, logger)
        let failedSends = await io.run { () -> Int in
            let failed = emitter.emit(events)
            if let (state, organization) = state {
                do {
                    try store.save(state, for: organization)
                } catch {
                    logger.error("cannot save state", metadata: ["organization": "\(organization)", "error": "\(error)"])
                }
            }
            return failed
        }
        for event in events { counters.eventsEmitted[event.kind, default: 0] += 1 }
        counters.journalSendErrors += failedSends
    }

    /// Persists every organization (on shutdown).
    public func persistAll() async {
        let (store, organizations) = (store, organizations)
        await io.run {
            for (id, state) in organizations { try? store.save(state, for: id) }
        }
    }

    /// Everything known, with the monitor's counters and, when given, the recorder's (HTTP requests,
    /// reloads, readiness). Cheap: a copy.
    public func snapshot(recorder: MetricsRecorder? = nil) -> MonitorSnapshot {
        var daemon = recorder?.counters ?? DaemonCounters(startTime: now(), version: "")
        daemon.polls = counters.polls
        daemon.pollDurations = counters.pollDurations
        daemon.eventsEmitted = counters.eventsEmitted
        daemon.journalSendErrors = counters.journalSendErrors
        daemon.eventsSuppressed = counters.eventsSuppressed
        daemon.openIncidents = incidents.open.count
        return MonitorSnapshot(
            takenAt: now(),
            organizations: configuration.organizations.map {
                MonitorSnapshot.Organization(id: $0.id, name: $0.name, state: organizations[$0.id] ?? OrganizationState())
            },
            daemon: daemon)
    }
}
