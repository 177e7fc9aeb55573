import Foundation
import LeenAPI

/// The alerting rules for one connection after one successful poll: soft and hard problems, reminders and
/// flapping. Pure: the time is the context's.
///
/// - Every health change is still written; while the problem is soft its health events are at most notice,
///   and `LEEN_CONFIRMED` says which it is.
/// - The poll that confirms a problem writes `connection_unhealthy_confirmed` (err for CUSTOMER, warning
///   otherwise): the one event that pages. Later changes of a confirmed problem (reason, owner, details) keep
///   their usual priority: they change what the paged person must do.
/// - A flapping connection's events are all written at info, `connection_flapping` (warning) and
///   `connection_flapping_ended` apart.
public enum ConnectionAlerting {
    /// Events whose priority a soft problem lowers (they describe the problem itself).
    static let problemKinds: Set<EventKind> = [
        .connectionMonitored, .connectionUnhealthy, .connectionReasonChanged, .connectionOwnerChanged,
        .connectionDetailsChanged,
    ]
    /// Events that carry `LEEN_CONFIRMED`.
    static let healthKinds = problemKinds.union([.connectionRecovered])

    /// Updates `tracked.alert` from `previous` and returns this poll's events of the connection, adjusted,
    /// followed by the alerting events it earned.
    public static func apply(
        _ tracked: inout TrackedConnection, previous: TrackedConnection?, events: [HealthEvent],
        policy: Configuration.Alerting, context: EventContext
    ) -> [HealthEvent] {
        let now = context.observedAt
        let observation = tracked.observation
        var alert = previous?.alert ?? ConnectionAlertState()
        let wasConfirmed = alert.isConfirmed

        var newlyConfirmed = false
        let effective = EffectiveStatus(observation, missing: false, organizationStale: false)
        if effective == .unhealthy, observation.state != .deleted, let health = observation.health {
            let since = alert.unhealthySince ?? now
            alert.unhealthySince = since
            let rule = policy.rule(for: health)
            // Counted only while the count can still decide something: up to the rule's `polls` until
            // confirmed, and to 2 even once confirmed (the incident detector takes a count of 1 for a problem's first poll: a problem
            // confirmed at its first poll and left at 1 was a new onset at every poll). A count that grew at
            // every poll of a lasting problem made every poll rewrite its organization's state file (the
            // daemon's profile at 20k connections).
            if alert.unhealthyPolls < countLimit(confirmed: wasConfirmed, rule: rule) {
                alert.unhealthyPolls = alert.unhealthyPolls.saturatingAdd(1)
            }
            let elapsed = Duration.seconds(now.timeIntervalSince(since))
            if !wasConfirmed, rule.isMet(polls: alert.unhealthyPolls, elapsed: elapsed) {
                alert.confirmedAt = now
                newlyConfirmed = true
            }
        } else {
            alert.endProblem()
        }

        var remind = false
        if !newlyConfirmed, reminderDue(alert, policy: policy, now: now) {
            alert.remindedAt = now
            remind = true
        }

        let (flappingStarted, flappingEnded) = updateFlapping(
            &alert, previous: previous?.observation.health?.status, current: observation.health?.status,
            rule: policy.flapping, now: now)
        tracked.alert = alert

        var result = events.map { event in
            var event = event
            if healthKinds.contains(event.kind) {
                // A recovery says whether the problem that ended had paged.
                event.fields.append(
                    EventBuilder.confirmedField(event.kind == .connectionRecovered ? wasConfirmed : alert.isConfirmed))
            }
            if problemKinds.contains(event.kind), !(wasConfirmed && alert.isConfirmed) {
                event.priority = max(event.priority, .notice)
            }
            return event
        }
        if newlyConfirmed { result.append(EventBuilder.connectionUnhealthyConfirmed(tracked, context: context)) }
        if remind { result.append(EventBuilder.connectionStillUnhealthy(tracked, context: context)) }
        // A paused connection runs no jobs (an operator chose it): its health events say nothing to act on.
        // Its state change stays a notice.
        let paused = effective == .paused
        if alert.flappingSince != nil || paused {
            result = result.map { event in
                var event = event
                if alert.flappingSince != nil || healthKinds.contains(event.kind) {
                    event.priority = max(event.priority, .info)
                }
                return event
            }
        }
        if flappingStarted, let rule = policy.flapping {
            result.append(EventBuilder.connectionFlapping(tracked, rule: rule, context: context))
        }
        if flappingEnded { result.append(EventBuilder.connectionFlappingEnded(tracked, context: context)) }
        return result
    }

    /// How far a problem's poll count goes (see ``apply(_:previous:events:policy:context:)``).
    static func countLimit(confirmed: Bool, rule: Configuration.ConfirmationRule) -> Int {
        confirmed ? 2 : max(rule.polls, 2)
    }

    /// Whether a confirmed problem's reminder is due at `now`: `policy.remindEvery` after it was confirmed or
    /// last reminded.
    static func reminderDue(_ alert: borrowing ConnectionAlertState, policy: Configuration.Alerting, now: Date) -> Bool {
        guard let every = policy.remindEvery, let confirmedAt = alert.confirmedAt else { return false }
        return now.timeIntervalSince(alert.remindedAt ?? confirmedAt) >= every.seconds
    }

    /// True when a poll that lists `tracked` with the same observation would change nothing and make no
    /// event: listed last time, not flapping, no kept status change that ``updateFlapping`` would drop now or
    /// count towards flapping, and either no problem at all, or one whose count went as far as it goes
    /// (``countLimit(confirmed:rule:)``) and that is confirmed with no reminder due, or not yet confirmable.
    ///
    /// A lasting problem is common (a revoked credential stays so for days, a vendor's problem is confirmed
    /// after 4 hours), and the rules' full path for it (a new observation, the diff, a new tracked
    /// connection compared with the last) was 3% of the daemon's CPU at 100k connections when polls found
    /// nothing new, a tenth of them UNHEALTHY (perf), besides the copies it made.
    static func isQuiet(_ tracked: TrackedConnection, policy: Configuration.Alerting, now: Date) -> Bool {
        // `tracked.alert.…` read in place each time, not copied out once (which retained its list of changes).
        guard !tracked.missing, tracked.unlistedPolls == 0, tracked.alert.flappingSince == nil else { return false }
        // The observation's fields read in place: the observation or its health handed on whole were copied
        // (1% of the daemon's CPU at 100k connections on a quiet fleet, perf).
        if EffectiveStatus(tracked, organizationStale: false) == .unhealthy {
            guard let since = tracked.alert.unhealthySince, tracked.observation.state != .deleted,
                let name = tracked.observation.healthName, let owner = tracked.observation.healthResolutionOwner
            else { return false }
            let rule = policy.rule(name: name, owner: owner)
            let confirmed = tracked.alert.isConfirmed
            guard tracked.alert.unhealthyPolls >= countLimit(confirmed: confirmed, rule: rule),
                confirmed
                    ? !reminderDue(tracked.alert, policy: policy, now: now)
                    : !rule.isMet(polls: tracked.alert.unhealthyPolls, elapsed: .seconds(now.timeIntervalSince(since)))
            else { return false }
        } else {
            guard tracked.alert.unhealthySince == nil, tracked.alert.unhealthyPolls == 0,
                tracked.alert.confirmedAt == nil, tracked.alert.remindedAt == nil
            else { return false }
        }
        guard let rule = policy.flapping else { return tracked.alert.statusChanges.isEmpty }
        // Fewer changes than flapping needs, and none the window drops now (a single one stays past it).
        let count = tracked.alert.statusChanges.count
        return count <= rule.changes
            && (count <= 1 || tracked.alert.statusChanges.allSatisfy { now.timeIntervalSince($0) < rule.window.seconds })
    }

    /// Records a status change and says whether flapping started or ended. Only changes between two known
    /// statuses count (a first health result is not a flap).
    static func updateFlapping(
        _ alert: inout ConnectionAlertState, previous: HealthStatus?, current: HealthStatus?,
        rule: Configuration.Flapping?, now: Date
    ) -> (started: Bool, ended: Bool) {
        guard let rule else {
            // Turned off by a reload: a connection that flapped stops being held at info, and says so.
            let ended = alert.flappingSince != nil
            alert.flappingSince = nil
            alert.statusChanges = []
            return (false, ended)
        }
        let changed = previous != nil && current != nil && previous != current
        if changed { alert.statusChanges.append(now) }
        // Only the last `changes + 1` matter (more than `changes` within the window starts flapping): a
        // connection that changes at every poll must not grow its state for a whole window (the soak found
        // 17 MiB in 10 minutes at 10k connections).
        let recent = alert.statusChanges.filter { now.timeIntervalSince($0) < rule.window.seconds }.suffix(rule.changes + 1)
        // The last change is kept past the window: stability is measured from it.
        alert.statusChanges = recent.isEmpty ? Array(alert.statusChanges.suffix(1)) : Array(recent)
        if alert.flappingSince == nil {
            guard recent.count > rule.changes else { return (false, false) }
            alert.flappingSince = now
            return (true, false)
        }
        guard !changed, let last = alert.statusChanges.last, now.timeIntervalSince(last) >= rule.stableFor.seconds
        else { return (false, false) }
        alert.flappingSince = nil
        return (false, true)
    }
}
