import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI
import Logging
import Synchronization

/// Holds what is known about every monitored organization and turns poll outcomes into events.
///
/// The one owner of poll state, of each stream's event ids and of the poll counters: pollers hand it
/// outcomes, it diffs, stamps the events, commits them with the organization's state to its file (on the
/// blocking-I/O thread) and only then releases them to the ``JournalWriter`` (see ``Outbox``). Readers (the
/// STATUS line, `/status`, `/metrics`) get a ``MonitorSnapshot``, a value.
public actor Monitor {
    public private(set) var configuration: Configuration {
        didSet {
            configured = Self.index(configuration)
            snapshotList = Self.snapshotList(configuration, organizations)
        }
    }
    /// Each configured organization by id, with its declared identifiers: made once per configuration, not
    /// at every poll (a search of every organization and a sorted set of its identifiers per poll).
    private var configured: [OrganizationID: (config: OrganizationConfig, declared: DeclaredIdentifiers)]

    private static func index(
        _ configuration: Configuration
    ) -> [OrganizationID: (config: OrganizationConfig, declared: DeclaredIdentifiers)] {
        Dictionary(
            configuration.organizations.map { ($0.id, ($0, DeclaredIdentifiers($0.connections.map(\.identifier)))) },
            uniquingKeysWith: { first, _ in first })
    }
    /// Set through ``setState(_:for:)``, which keeps ``summaries`` and ``snapshotList`` with it.
    private(set) var organizations: [OrganizationID: OrganizationState]
    /// The configured organizations with their states, as ``snapshot(recorder:)`` gives them, and where each
    /// one is. Kept up to date as states change, not made at each snapshot: `/metrics` takes one every
    /// second, and copying every organization's state into it was about 2% of the daemon's CPU at 100k
    /// connections on a fleet that did not change (perf). The array is copied only when a poll changes a
    /// state while a reader still holds the last snapshot.
    private var snapshotList: (organizations: [MonitorSnapshot.Organization], index: [OrganizationID: Int])
    /// Each organization's share of the STATUS line, kept with its state (see ``statusSummary()``).
    private var summaries: [OrganizationID: StatusSummary]
    /// Event ids per stream (each organization, and the daemon).
    var streams: [Outbox.Stream: EventStream]
    /// Unsent events the state files held at start, until ``startDelivery()`` hands the rest to the outbox.
    var recovered: [Outbox.Stream: [Outbox.Pending]]
    var credentials: StateStore.AppliedCredentials
    /// Storms across organizations (`Monitor+Alerting.swift`), persisted in their own file.
    var incidents: IncidentDetector
    /// An incident started or ended, or the detector was forgotten in part: save after this poll's commit.
    var incidentsChanged = false
    /// Only details moved (the window of recent onsets, an open incident's members or peak): saved at most
    /// every ``incidentDetailsSavePeriod`` (and at shutdown). Rewriting the detector after every poll that saw
    /// a new problem was 12% of the daemon's CPU at 10k connections in a changing fleet, and after every
    /// change of an open incident's members 20% (docs/benchmarks.md). A crash loses at most that much: a
    /// storm that straddles it may go unrecognised, a connection that joined an incident then is reported on
    /// its own, one that left leaves again at its organization's next poll; no incident start or end, and no
    /// event, is lost or repeated.
    var incidentDetailsChanged = false
    var lastIncidentsSave: Date?
    static let incidentDetailsSavePeriod: TimeInterval = 10
    private var credentialsDirty = false
    private var lastCredentialsSave: Date?
    let store: StateStore
    public let outbox: Outbox
    let writer: JournalWriter
    let landed: OutboxRecovery.Check?
    let io: BlockingIO
    /// Releases the events of commits whose record waits for the change log's next sync; nil: every commit
    /// syncs before it returns.
    let groupCommit: GroupCommit?
    let logger: Logger
    let now: @Sendable () -> Date
    private var counters = Counters()
    /// Organization streams whose file holds the state in memory, give or take poll times, and no unsent
    /// event: a poll that changes nothing else need not rewrite it. Encoding every organization's state after
    /// every poll was the largest share of the daemon's CPU at 10k connections (issue #12's profile).
    private var filesUpToDate: Set<Outbox.Stream> = []
    /// State files the start could not use and moved aside, reported once delivery starts.
    private var setAside: [StateStore.SetAside]

    /// What the monitor counts for metrics.
    struct Counters {
        var polls: [DaemonCounters.PollKey: Int] = [:]
        var pollDurations: [OrganizationID: Histogram] = [:]
        var eventsSuppressed = 0
        var stateWriteErrors = 0
        var unreadableItems = 0
        var credentialVerifications: [String: Int] = [:]
    }

    /// - Parameters:
    ///   - pacer: the journal write budget.
    ///   - landed: asks the journal which recovered events it already holds (nil: no journal to ask, so
    ///     recovered events are all sent again, with their ids).
    ///   - commitWindow: how long a commit's events may wait for others to share the change log's sync
    ///     (``GroupCommit``); nil: each commit syncs before it returns.
    public init(
        configuration: Configuration, store: StateStore, emitter: EventEmitter,
        pacer: JournalPacer = JournalPacer(burst: 40_000, interval: 10), outboxLimit: Int = 50_000,
        landed: OutboxRecovery.Check? = nil, io: BlockingIO = BlockingIO(), commitWindow: Duration? = nil,
        logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.configuration = configuration
        configured = Self.index(configuration)
        self.store = store
        self.io = io
        self.logger = logger
        self.now = now
        self.landed = landed
        outbox = Outbox(limit: outboxLimit)
        let outbox = outbox
        groupCommit = commitWindow.map { window in
            GroupCommit(store: store, io: io, outbox: outbox, window: window) { error in
                logger.error("cannot sync the state's change log", metadata: ["error": "\(error)"])
            }
        }
        writer = JournalWriter(outbox: outbox, emitter: emitter, pacer: pacer)
        // A file that cannot be used is moved aside and reported (``startDelivery()``): one bad file must not
        // stop the monitoring of everything else.
        var setAside: [StateStore.SetAside] = []
        // credentials.json, the largest file after the organizations' (a hash per connection), is decoded
        // beside them rather than after: a restart at 100k connections waited 0.7 s for it (perf).
        // Nil until read, and after it when there is no file: read only after `decoding.wait()`.
        let credentialsAttempt = Mutex<Result<StateStore.AppliedCredentials, StateStore.LoadFailure>?>(nil)
        let decoding = DispatchGroup()
        DispatchQueue.global().async(group: decoding) { [store] in
            let attempt = store.attemptCredentials()
            credentialsAttempt.withLock { $0 = attempt }
        }
        let stored: [OrganizationID: StateStore.StoredOrganization]
        do {
            stored = try store.loadStoredOrganizations(unusable: .setAside, setAside: &setAside)
        } catch {
            decoding.wait()
            throw error
        }
        let daemon = try store.loadDaemon(unusable: .setAside, setAside: &setAside)
        organizations = stored.mapValues(\.state)
        summaries = organizations.mapValues(StatusSummary.init)
        snapshotList = Self.snapshotList(configuration, organizations)
        var streams: [Outbox.Stream: EventStream] = [.daemon: daemon.stream]
        var recovered: [Outbox.Stream: [Outbox.Pending]] = [.daemon: daemon.outbox]
        for (id, organization) in stored {
            streams[.organization(id)] = organization.delivery.stream
            recovered[.organization(id)] = organization.delivery.outbox
        }
        self.streams = streams
        self.recovered = recovered.filter { !$0.value.isEmpty }
        decoding.wait()
        credentials = try store.loadCredentials(
            credentialsAttempt.withLock { $0 }, unusable: .setAside, setAside: &setAside)
        incidents = try store.loadIncidents(unusable: .setAside, setAside: &setAside)
        self.setAside = setAside
    }

    /// Hands the events the state files held at start to the writer, except those the journal already has,
    /// and starts writing. Call once, before anything is emitted.
    public func startDelivery() async {
        let recovered = self.recovered
        self.recovered = [:]
        if !recovered.isEmpty {
            let pending = recovered.values.flatMap { $0 }
            let (landed, logger) = (self.landed, logger)
            let present = await io.run { () -> Set<String> in
                guard let landed else { return [] }
                do {
                    return try landed(pending)
                } catch {
                    logger.warning(
                        "cannot ask the journal which unsent events landed before the restart; sending all again",
                        metadata: ["error": "\(error)", "events": "\(pending.count)"])
                    return []
                }
            }
            var resent = 0
            for (stream, events) in recovered {
                let unsent = events.filter { !present.contains($0.event[field: "LEEN_EVENT_ID"] ?? "") }
                resent += unsent.count
                outbox.restore(unsent, in: stream)
            }
            logger.notice(
                "recovered unsent events from the state directory",
                metadata: ["committed": "\(pending.count)", "already_in_journal": "\(pending.count - resent)",
                    "sending": "\(resent)"])
        }
        writer.start()
        if !setAside.isEmpty {
            let context = EventContext(organizationLabel: "", observedAt: now())
            await emit(setAside.map { EventBuilder.stateFileSetAside(path: $0.path, movedTo: $0.movedTo, reason: $0.reason, context: context) })
            setAside = []
        }
    }

    /// Returns once every committed event was written (the writer must be running). For tests and tools that
    /// read what a poll wrote.
    public func waitUntilWritten() async {
        while outbox.status.pending > 0 { try? await Task.sleep(for: .milliseconds(2)) }
    }

    /// Sends what is left for up to `grace`, then saves every stream (their unsent events included) for the
    /// next start. Shutdown.
    public func finishDelivery(grace: Duration) async {
        // Events waiting for a shared sync go now, within the grace like the rest.
        await flushCommits()
        await writer.finish(grace: grace)
        await persistAll()
    }

    /// Syncs the change log now and releases the events that waited for it (``GroupCommit``).
    public func flushCommits() async {
        await groupCommit?.flush()
    }

    public var appliedCredentials: StateStore.AppliedCredentials { credentials }

    /// The identifiers the configuration in force declares for `organization`, sorted: the list each poll's
    /// diff searches, which the organization's `PageMemo` shares rather than sorting a copy of its own.
    public func declaredIdentifiers(of organization: OrganizationID) -> DeclaredIdentifiers? {
        configured[organization]?.declared
    }

    /// Replaces the configuration; organizations no longer configured are forgotten, each with an
    /// `organization_untracked` event, and their files removed once none of their events waits for the journal
    /// (until then ``persistAll()`` keeps them).
    public func setConfiguration(_ configuration: Configuration) async {
        let untracked = untrackedOrganizations(leaving: configuration)
        self.configuration = configuration
        await emit(untracked)
        let configured = Set(configuration.organizations.map(\.id))
        let removed = organizations.keys.filter { !configured.contains($0) }
        for id in removed { setState(nil, for: id) }
        await removeFinishedFiles()
    }

    /// Removes the files of organizations no longer configured whose events were all sent.
    private func removeFinishedFiles() async {
        let configured = Set(configuration.organizations.map(\.id))
        let finished = streams.keys.compactMap { stream -> OrganizationID? in
            guard case .organization(let id) = stream, !configured.contains(id), !outbox.hasUnsent(stream),
                recovered[stream] == nil
            else { return nil }
            return id
        }
        guard !finished.isEmpty else { return }
        for id in finished { streams[.organization(id)] = nil }
        let store = store
        await io.run { for id in finished { try? store.remove(id) } }
    }

    /// Records credentials applied by provisioning and persists them, at most every
    /// ``credentialsSavePeriod``; ``flushAppliedCredentials()`` saves the rest when no provisioning is in
    /// flight (``SchedulerStateMachine/Action/provisioningSettled``) and at shutdown. Rewriting
    /// `credentials.json` after each organization made a fresh start with 100,000 connections in 1,000
    /// organizations take minutes: the file grows to megabytes, and its writes held up the state files of
    /// the polls on the blocking-I/O thread. Should the daemon die in between, the next start adopts those
    /// connections or sends those credentials again (PATCH is idempotent).
    public func recordApplied(_ applied: [String: String], organization: OrganizationID) async {
        guard !applied.isEmpty else { return }
        for (identifier, hash) in applied {
            credentials[organization, identifier] = hash
        }
        credentialsDirty = true
        if let last = lastCredentialsSave, now().timeIntervalSince(last) < Self.credentialsSavePeriod { return }
        await flushAppliedCredentials()
    }

    static let credentialsSavePeriod: TimeInterval = 5

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
    /// organization's new state, how many events the poll made, and the credential tests its events call
    /// for (connections that turned UNAUTHORIZED); nil for an organization no longer configured.
    @discardableResult
    public func ingest(
        _ outcome: PollOutcome, organization: OrganizationID, duration: Duration = .zero
    ) async -> (state: OrganizationState, events: Int, credentialTests: [CredentialTestRequest])? {
        guard let (config, declared) = configured[organization] else { return nil }
        let context = EventContext(organizationLabel: config.label, observedAt: now())
        let previous = organizations[organization] ?? OrganizationState()
        let (next, polled) =
            switch outcome {
            case .success(let listed):
                PollProcessor.apply(
                    listed: listed.items, unreadable: listed.undecodable, declared: declared, organizationID: organization,
                    to: previous, policy: configuration.alerting, context: context)
            case .failure(let failure):
                PollProcessor.apply(
                    failure: failure, organizationID: organization, to: previous, policy: configuration.alerting,
                    context: context)
            }
        setState(next, for: organization)
        if case .success(let listing) = outcome, let first = listing.undecodable.first {
            counters.unreadableItems += listing.undecodable.count
            logger.warning(
                "Leen listed items that cannot be read; their connections keep their last known state",
                metadata: [
                    "organization": "\(organization)", "unreadable": "\(listing.undecodable.count)",
                    "first": "\(first.id ?? "item \(first.index)"): \(first.reason)",
                ])
        }
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
        let committed = await commit(events, to: .organization(organization), state: next, previous: previous)
        await saveIncidentsIfChanged()
        return (next, events.count, CredentialTestRequest.requests(for: committed))
    }

    /// Writes the answer of a credential test run for a connection that turned UNAUTHORIZED, in its
    /// organization's stream, and counts it.
    ///
    /// A follow-up event rather than fields of the UNAUTHORIZED event: that event is committed with the
    /// poll's state before it is sent (``Outbox``), so waiting for a call to Leen would hold the poll's commit
    /// (and the journal) for up to the client's timeouts, and a crash in between would make the event again
    /// with another answer. The follow-up names the event it completes (`LEEN_RELATED_EVENT_ID`).
    public func recordCredentialTest(_ request: CredentialTestRequest, _ verification: CredentialVerification) async {
        counters.credentialVerifications[verification.result, default: 0] += 1
        guard let config = configured[request.organizationID]?.config, let state = organizations[request.organizationID]
        else { return }
        let event = EventBuilder.credentialsTested(
            request, verification, context: EventContext(organizationLabel: config.label, observedAt: now()))
        await commit([event], to: .organization(request.organizationID), state: state)
    }

    /// Counts credential tests run elsewhere (after the PATCHes of a provisioning).
    public func recordVerifications(_ results: [String: Int]) {
        for (result, count) in results { counters.credentialVerifications[result, default: 0] += count }
    }

    /// Writes events that do not come from a poll: an organization's (provisioning) in its stream, with its
    /// state as it stands; the daemon's own (reload, lifecycle) in the daemon's stream.
    ///
    /// Provisioning events went to the daemon's stream once: its file then held a sequence for every
    /// connection ever adopted and was written again after every organization's provisioning, which made a
    /// fresh start with 100,000 connections take minutes.
    public func emit(_ events: [HealthEvent], organization: OrganizationID? = nil) async {
        guard !events.isEmpty else { return }
        if let organization {
            await commit(events, to: .organization(organization), state: organizations[organization])
        } else {
            await commit(events, to: .daemon, state: nil)
        }
    }

    /// Stamps `events` with their ids, stages them, writes the stream's file (an organization's with its new
    /// `state`) on the blocking-I/O thread, then releases them to the writer: the order of ``Outbox``.
    /// When the file cannot be written the events are still released (the journal is the output an operator
    /// watches): the error is logged and counted, and delivery for them is at-least-once, by the same ids.
    ///
    /// A poll with no event whose state differs from `previous` only in poll times leaves an up-to-date file
    /// as it is.
    @discardableResult
    private func commit(
        _ events: [HealthEvent], to stream: Outbox.Stream, state: OrganizationState?,
        previous: OrganizationState? = nil
    ) async -> [HealthEvent] {
        if events.isEmpty, filesUpToDate.contains(stream), let state, let previous,
            state.differsOnlyInPollTimes(from: previous)
        {
            return []
        }
        var events = events
        var eventStream = streams[stream] ?? EventStream()
        eventStream.stamp(&events)
        streams[stream] = eventStream
        let delivery = StateStore.Delivery(stream: eventStream, outbox: outbox.stage(events, in: stream, now: now()))
        // Durable before events go out; a commit that releases none may stay in the page cache.
        let saved = await save(stream, state: state, delivery: delivery, durable: !events.isEmpty)
        if saved == nil { counters.stateWriteErrors += 1 }
        if saved != nil, delivery.outbox.isEmpty {
            filesUpToDate.insert(stream)
        } else {
            filesUpToDate.remove(stream)
        }
        if saved == .awaitingSync, let groupCommit {
            groupCommit.release(stream, count: events.count)
        } else {
            outbox.release(stream, count: events.count)
        }
        return events
    }

    /// Saves every stream with its unsent events (on shutdown), and removes the files of organizations no
    /// longer configured whose events were all sent.
    public func persistAll() async {
        await flushAppliedCredentials()
        await saveIncidentsIfChanged(force: true)
        await removeFinishedFiles()
        var files: [(Outbox.Stream, OrganizationState?, StateStore.Delivery)] = []
        for (stream, eventStream) in streams {
            let unsent = outbox.unsent(stream) + (recovered[stream] ?? [])
            switch stream {
            case .daemon:
                files.append((stream, nil, StateStore.Delivery(stream: eventStream, outbox: unsent)))
            case .organization(let id):
                guard let state = organizations[id] ?? (unsent.isEmpty ? nil : OrganizationState()) else { continue }
                files.append((stream, state, StateStore.Delivery(stream: eventStream, outbox: unsent)))
            }
        }
        // Whole files, without logs, so that the next start reads each organization's file alone; the change
        // log then holds only records of files replaced, and is emptied.
        var allSaved = true
        for (stream, state, delivery) in files {
            allSaved = await save(stream, state: state, delivery: delivery, compact: true) != nil && allSaved
        }
        guard allSaved else { return }
        let (store, logger) = (store, logger)
        await io.run {
            do { try store.checkpointChanges() } catch {
                logger.error("cannot empty the state's change log", metadata: ["error": "\(error)"])
            }
        }
    }

    /// How a stream's file was written.
    enum Saved {
        /// As durably as asked.
        case written
        /// Appended; durable once the change log's next sync is done (``GroupCommit``).
        case awaitingSync
    }

    /// Encodes and writes a stream's file on the blocking-I/O thread (``StateStore/save(_:delivery:for:compact:durable:deferSync:)``);
    /// nil, with the error logged, when it cannot be written.
    @discardableResult
    private func save(
        _ stream: Outbox.Stream, state: OrganizationState?, delivery: StateStore.Delivery, compact: Bool = false,
        durable: Bool = true
    ) async -> Saved? {
        let (store, logger, deferSync) = (store, logger, groupCommit != nil)
        return await io.run { () -> Saved? in
            do {
                switch stream {
                case .daemon:
                    try store.saveDaemon(delivery)
                    return .written
                case .organization(let id):
                    let awaiting = try store.save(
                        state ?? OrganizationState(), delivery: delivery, for: id, compact: compact, durable: durable,
                        deferSync: deferSync)
                    return awaiting ? .awaitingSync : .written
                }
            } catch {
                logger.error("cannot save state", metadata: ["stream": "\(stream)", "error": "\(error)"])
                return nil
            }
        }
    }

    /// Organizations whose state says their last poll succeeded less than `interval` ago: after a restart,
    /// as current as a first poll would make them.
    public func organizationsPolled(within interval: Duration) -> Set<OrganizationID> {
        let since = now().addingTimeInterval(-interval.seconds)
        return Set(organizations.filter { _, state in
            !state.isStale && (state.lastSuccessfulPoll.map { $0 > since } ?? false)
        }.keys)
    }

    private func setState(_ state: OrganizationState?, for id: OrganizationID) {
        let previous = organizations[id]
        organizations[id] = state
        let sameShare = state.flatMap { state in previous.map { StatusSummary.sameShare(state, $0) } } ?? false
        if !sameShare || summaries[id] == nil { summaries[id] = state.map(StatusSummary.init) }
        if let index = snapshotList.index[id] { snapshotList.organizations[index].state = state ?? OrganizationState() }
    }

    /// ``snapshotList``, made for a configuration.
    private static func snapshotList(
        _ configuration: Configuration, _ organizations: [OrganizationID: OrganizationState]
    ) -> (organizations: [MonitorSnapshot.Organization], index: [OrganizationID: Int]) {
        let listed = configuration.organizations.map {
            MonitorSnapshot.Organization(id: $0.id, name: $0.name, state: organizations[$0.id] ?? OrganizationState())
        }
        // The first of a repeated id, as the rest of the monitor takes it (``index(_:)``).
        let index = Dictionary(listed.indices.map { (listed[$0].id, $0) }, uniquingKeysWith: { first, _ in first })
        return (listed, index)
    }

    /// The counts the STATUS line and the heartbeat give: the configured organizations' shares added up, so
    /// the cost after a poll is one organization's connections plus one addition per organization.
    public func statusSummary() -> StatusSummary {
        var total = StatusSummary()
        for organization in configuration.organizations {
            total.add(summaries[organization.id] ?? StatusSummary(OrganizationState()))
        }
        return total
    }

    /// Everything known, with the monitor's counters and, when given, the recorder's (HTTP requests,
    /// reloads, readiness). Cheap: a copy.
    public func snapshot(recorder: MetricsRecorder? = nil) -> MonitorSnapshot {
        var daemon = recorder?.counters ?? DaemonCounters(startTime: now(), version: "")
        daemon.polls = counters.polls
        daemon.pollDurations = counters.pollDurations
        let delivery = outbox.status
        daemon.eventsEmitted = delivery.written
        daemon.eventsPending = delivery.pending
        daemon.oldestPendingEventAge = delivery.oldest.map { max(0, now().timeIntervalSince($0)) } ?? 0
        daemon.journalSendErrors = writer.sendErrors
        daemon.eventsSuppressed = counters.eventsSuppressed
        daemon.stateWriteErrors = counters.stateWriteErrors + (groupCommit?.failures ?? 0)
        daemon.unreadableItems = counters.unreadableItems
        daemon.openIncidents = incidents.open.count
        daemon.credentialVerifications = counters.credentialVerifications
        return MonitorSnapshot(
            takenAt: now(),
            organizations: snapshotList.organizations,
            daemon: daemon)
    }
}
