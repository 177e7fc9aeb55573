import Foundation
import LeenAPI

/// The identifiers a configuration declares for one organization, sorted (the order a poll's events follow),
/// with a lookup by binary search. Made once per configuration by the monitor: a set of 100 identifiers built
/// and sorted at every poll was about 1% of the daemon's CPU at 100k connections (perf). No `Set` beside the
/// array: its table of 256 slots per organization was 5 MB at 100k connections (jemalloc's heap profile),
/// and seven comparisons per lookup cost little next to the rest of a connection's poll.
public struct DeclaredIdentifiers: Sendable, Hashable {
    public let sorted: [String]

    public init(_ identifiers: some Sequence<String>) {
        var sorted = Array(identifiers)
        sorted.sort()
        // Duplicates are the configuration's error to report, not this list's: one of each.
        sorted.removeAdjacentDuplicates()
        self.sorted = sorted
    }

    public func contains(_ identifier: String) -> Bool { index(of: identifier) != nil }

    /// Where `identifier` is in ``sorted``.
    public func index(of identifier: String) -> Int? {
        let index = sorted.boundary { $0 >= identifier }
        return index < sorted.count && sorted[index] == identifier ? index : nil
    }
}

extension Array where Element: Equatable {
    fileprivate mutating func removeAdjacentDuplicates() {
        guard count > 1 else { return }
        var kept = 1
        for index in 1..<count where self[index] != self[kept - 1] {
            self[kept] = self[index]
            kept += 1
        }
        removeLast(count - kept)
    }
}

/// Applies one poll's outcome to an organization's state and says which events that makes. Pure.
public enum PollProcessor {
    /// How many complete listings in a row must miss a connection before it is declared gone: one miss can
    /// be a listing that shifted under the walk (a deletion elsewhere moves every later offset).
    public static let unlistedPollsToDisappear = 2

    /// A successful poll: every declared identifier is diffed against its last observation.
    ///
    /// - Parameters:
    ///   - listed: all connections the organization's pages returned.
    ///   - unreadable: listed items that did not decode. A connection among them keeps its last observation;
    ///     while one of them has no readable identifier, no connection is declared gone.
    ///   - declared: the identifiers the config declares for this organization.
    ///   - policy: when problems are confirmed, flapping, reminders (``ConnectionAlerting``).
    public static func apply(
        listed: [Connection], unreadable: [UndecodableItem] = [], declared: Set<String>, organizationID: OrganizationID,
        to state: OrganizationState, policy: Configuration.Alerting = Configuration.Alerting(), context: EventContext
    ) -> (OrganizationState, [HealthEvent]) {
        apply(
            listed: listed, unreadable: unreadable, declared: DeclaredIdentifiers(declared), organizationID: organizationID,
            to: state, policy: policy, context: context)
    }

    /// As above, with the declared identifiers made once for the configuration (the monitor's way).
    public static func apply(
        listed: [Connection], unreadable: [UndecodableItem] = [], declared: DeclaredIdentifiers,
        organizationID: OrganizationID, to state: OrganizationState, policy: Configuration.Alerting = Configuration.Alerting(),
        context: EventContext
    ) -> (OrganizationState, [HealthEvent]) {
        var next = state
        var events: [HealthEvent] = []
        let now = context.observedAt
        if let since = state.api.failingSince {
            var recovered = EventBuilder.apiEvent(
                .apiRecovered, organizationID: organizationID, failure: nil, since: since, context: context)
            recovered.fields.append(EventBuilder.confirmedField(state.apiConfirmedAt != nil))
            events.append(recovered)
        }
        next.api = .ok
        next.apiConfirmedAt = nil
        next.lastSuccessfulPoll = now
        next.lastAttempt = now
        next.consecutiveFailures = 0

        let matched = match(listed, declared: declared)
        let unreadableIdentifiers = Set(unreadable.compactMap(\.identifier))
        let anyoneMayBeUnreadable = unreadable.contains { $0.identifier == nil }
        // The declared connections' events, which follow those of connections no longer declared (below).
        var declaredEvents: [HealthEvent] = []
        // Tracked connections that are declared: when that is all of them, none was removed from the config.
        var trackedAndDeclared = 0
        for (declaredIndex, identifier) in declared.sorted.enumerated() {
            let position = matched[declaredIndex].map(Int.init)
            let index = state.connections.index(forKey: identifier)
            if index != nil { trackedAndDeclared += 1 }
            // Listed as before and quiet (see `ConnectionAlerting.isQuiet`): the steps below would leave it
            // exactly as it is and make no event. Most connections of most polls are like this. Read in place
            // from `state` (which `next` still equals for this identifier: each is visited once), not copied
            // out of `next`, which this loop mutates: the copies of the tracked connection and of the listed
            // one, every reference in them retained and released, were a tenth of a quiet poll's CPU (perf).
            if let position, let index,
                listed.withUnsafeBufferPointer({ listed in
                    Self.isUnchangedAndQuiet(
                        state.connections.values[index], listed: listed.baseAddress! + position, identifier: identifier,
                        policy: policy, now: now)
                })
            {
                continue
            }
            let previous = index.map { state.connections.values[$0] }
            let observation = position.map { ConnectionObservation(listed[$0], identifier: identifier) }
            if observation == nil, var tracked = previous, !tracked.missing {
                // Listed but unreadable, or maybe so: what is known of it stays as it was.
                if unreadableIdentifiers.contains(identifier) || anyoneMayBeUnreadable { continue }
                tracked.unlistedPolls += 1
                if tracked.unlistedPolls < unlistedPollsToDisappear {
                    next.connections[identifier] = tracked
                    continue
                }
            }
            let changes = ConnectionDiff.changes(
                previous: previous?.observation, current: observation, previouslyMissing: previous?.missing ?? false)
            guard !changes.isEmpty || observation != nil else { continue }
            let connectionEvents = EventBuilder.connectionEvents(
                changes: changes, previous: previous?.observation, current: observation, context: context)
            if let observation {
                let healthChanged = changes.contains {
                    switch $0 {
                    case .status, .name, .resolutionOwner: true
                    default: false
                    }
                }
                var tracked = TrackedConnection(
                    observation: observation,
                    healthSince: healthChanged || previous == nil ? now : previous!.healthSince,
                    changedAt: changes.isEmpty ? previous?.changedAt ?? now : now, missing: false,
                    transitions: (previous?.transitions ?? 0).saturatingAdd(healthChanged && previous != nil ? 1 : 0))
                declaredEvents += ConnectionAlerting.apply(
                    &tracked, previous: previous, events: connectionEvents, policy: policy, context: context)
                if let previous, observation.state == .deleted, previous.observation.state != .deleted {
                    declaredEvents.append(EventBuilder.connectionUntracked(previous, reason: .deleted, context: context))
                }
                // Assigned only when it changed: a poll that changes no connection then shares the last state's
                // storage instead of copying every connection (for the state, and for readers that hold the
                // last one, such as the metrics cache).
                if tracked != previous { next.connections[identifier] = tracked }
            } else if var gone = previous, !gone.missing {
                declaredEvents += connectionEvents
                declaredEvents.append(EventBuilder.connectionUntracked(gone, reason: .notListed, context: context))
                gone.missing = true
                gone.changedAt = now
                gone.alert.endProblem()
                next.connections[identifier] = gone
            }
        }
        // Connections removed from the config say so once (one already missing said so when it went), before
        // the declared ones' events. Looked for only when some tracked connection is not declared (the count
        // above), and by key: sorting, or filtering (which copies), every tracked connection at every poll was
        // a cost that grew with the fleet, and so was looking each one up in the declared list.
        if trackedAndDeclared < state.connections.count {
            let undeclared = state.connections.keys.filter { !declared.contains($0) }
            for identifier in undeclared.sorted() {
                if let tracked = next.connections.removeValue(forKey: identifier), !tracked.missing {
                    events.append(EventBuilder.connectionUntracked(tracked, reason: .removedFromConfig, context: context))
                }
            }
        }
        events += declaredEvents
        return (next, events)
    }

    /// Whether `listed` is `tracked`'s connection listed as before, and `tracked` quiet: a poll would then
    /// leave it exactly as it is.
    ///
    /// `listed` by its address (``ConnectionObservation/matches(listedAt:identifier:)``).
    private static func isUnchangedAndQuiet(
        _ tracked: borrowing TrackedConnection, listed: UnsafePointer<Connection>, identifier: String,
        policy: Configuration.Alerting, now: Date
    ) -> Bool {
        tracked.observation.matches(listedAt: listed, identifier: identifier)
            && ConnectionAlerting.isQuiet(tracked, policy: policy, now: now)
    }

    /// A failed poll: the organization's connections become stale, and one API event is made when the
    /// API's status changes (ok -> unreachable, unreachable -> rejected, …). Never a connection event.
    ///
    /// The first event is at notice until the outage is confirmed by ``Configuration/APIRule`` (so many
    /// failures in a row, or so long); the poll that confirms it writes the event again, at err, with
    /// `LEEN_CONFIRMED=true`. A rejected key is confirmed at once.
    public static func apply(
        failure: PollFailure, organizationID: OrganizationID, to state: OrganizationState,
        policy: Configuration.Alerting = Configuration.Alerting(), context: EventContext
    ) -> (OrganizationState, [HealthEvent]) {
        var next = state
        let now = context.observedAt
        next.lastAttempt = now
        // Saturating: the count comes from a state file, which may hold anything.
        next.consecutiveFailures = state.consecutiveFailures.saturatingAdd(1)
        let since = state.api.failingSince ?? now
        let status: APIStatus =
            failure.isRejection
            ? .rejected(since: since, reason: failure.summary) : .unreachable(since: since, reason: failure.summary)
        let confirmedNow =
            state.apiConfirmedAt == nil
            && (failure.isRejection
                || policy.api.isMet(failures: next.consecutiveFailures, elapsed: .seconds(now.timeIntervalSince(since))))
        next.apiConfirmedAt = state.apiConfirmedAt ?? (confirmedNow ? now : nil)
        var events: [HealthEvent] = []
        if state.api.name != status.name || confirmedNow {
            var event = EventBuilder.apiEvent(
                failure.isRejection ? .apiRejected : .apiUnreachable, organizationID: organizationID,
                failure: failure, since: since, context: context)
            event.fields.append(EventBuilder.confirmedField(next.apiConfirmedAt != nil))
            if next.apiConfirmedAt == nil { event.priority = .notice }
            events.append(event)
        }
        next.api = status
        return (next, events)
    }

    /// Where each declared connection is in `listed`: for each of `declared.sorted`, the position of its
    /// item, or nil when none is listed. When several share an identifier, a connection that is not DELETED
    /// wins, then the most recently created.
    ///
    /// Positions, not copies: a dictionary of `Connection`s copied every listed connection once more, and one
    /// of their observations was a second dictionary per poll (7% of the daemon's allocated bytes at 100k
    /// connections, jemalloc's heap profile); the caller makes each observation as it reaches it. Found by
    /// the declared list's binary search, in an array beside it: a dictionary by identifier hashed every
    /// listed identifier again (1% of the daemon's CPU at 100k connections, perf).
    static func match(_ listed: [Connection], declared: DeclaredIdentifiers) -> [Int32?] {
        var best = [Int32?](repeating: nil, count: declared.sorted.count)
        for index in listed.indices {
            guard let identifier = listed[index].identifier, let slot = declared.index(of: identifier) else { continue }
            if let existing = best[slot], rank(listed[Int(existing)]) >= rank(listed[index]) { continue }
            best[slot] = Int32(index)
        }
        return best
    }

    static func rank(_ connection: Connection) -> (Int, Double) {
        (connection.state == .deleted ? 0 : 1, connection.createdAt?.date?.timeIntervalSince1970 ?? 0)
    }
}
