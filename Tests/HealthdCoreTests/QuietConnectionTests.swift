import Foundation
import LeenAPI
import Testing

@testable import HealthdCore

/// `PollProcessor` skips a connection listed as before when ``ConnectionAlerting/isQuiet(_:policy:now:)``
/// says so. That is right only if the rules it skips would change nothing and say nothing: checked here for
/// every combination of health, presence and alerting state, under flapping detection on and off.
@Suite("Quiet connections")
struct QuietConnectionTests {
    typealias F = Fixture

    @Test("a quiet connection listed unchanged: the alerting rules leave it as it is and make no event")
    func quietMeansNothingToDo() {
        let now = F.at(0)
        let minutesAgo = { (minutes: Double) in now.addingTimeInterval(-minutes * 60) }
        let healths: [ConnectionObservation.Health?] = [
            F.health(.healthy), F.health(.vendorServerError), nil, F.health("DEGRADED", "NEW_NAME", "SOMEONE"),
        ]
        var flappingOff = Configuration.Alerting()
        flappingOff.flapping = nil
        // Reminders every 5 minutes: due for every confirmed problem below.
        var reminding = Configuration.Alerting()
        reminding.remindEvery = .seconds(300)
        var quiet = 0
        var checked = 0
        var quietProblems = 0
        var quietSoftProblems = 0
        for policy in [Configuration.Alerting(), flappingOff, reminding] {
            for health in healths {
                for state in [ConnectionState.active, .paused] {
                    for missing in [false, true] {
                        for unlisted in [0, 1] {
                            for since in [nil, minutesAgo(60), minutesAgo(300)] {
                                for polls in [0, 2, 3] {
                                    for confirmed in [nil, minutesAgo(30)] {
                                        for reminded in [nil, minutesAgo(10)] {
                                            for flapping in [nil, minutesAgo(5)] {
                                                for changes in [
                                                    [], [minutesAgo(2000)], [minutesAgo(600)], [minutesAgo(1)],
                                                    [minutesAgo(2000), minutesAgo(1)], [minutesAgo(600), minutesAgo(1)],
                                                    (1...5).map { minutesAgo(Double($0)) },
                                                ] {
                                                    var alert = ConnectionAlertState()
                                                    alert.unhealthySince = since
                                                    alert.unhealthyPolls = polls
                                                    alert.confirmedAt = confirmed
                                                    alert.remindedAt = reminded
                                                    alert.flappingSince = flapping
                                                    alert.statusChanges = changes
                                                    var previous = TrackedConnection(
                                                        observation: F.observation(state: state, health: health),
                                                        healthSince: minutesAgo(700), changedAt: minutesAgo(700),
                                                        missing: missing, transitions: 3, alert: alert)
                                                    previous.unlistedPolls = unlisted
                                                    checked += 1
                                                    guard ConnectionAlerting.isQuiet(previous, policy: policy, now: now)
                                                    else { continue }
                                                    quiet += 1
                                                    if previous.alert.isConfirmed { quietProblems += 1 }
                                                    if previous.alert.unhealthySince != nil, !previous.alert.isConfirmed {
                                                        quietSoftProblems += 1
                                                    }
                                                    // What `PollProcessor` makes of an unchanged listing.
                                                    #expect(
                                                        ConnectionDiff.changes(
                                                            previous: previous.observation, current: previous.observation,
                                                            previouslyMissing: previous.missing).isEmpty)
                                                    var tracked = TrackedConnection(
                                                        observation: previous.observation,
                                                        healthSince: previous.healthSince, changedAt: previous.changedAt,
                                                        missing: false, transitions: previous.transitions)
                                                    let events = ConnectionAlerting.apply(
                                                        &tracked, previous: previous, events: [], policy: policy,
                                                        context: F.context(at: now))
                                                    #expect(events.isEmpty)
                                                    #expect(tracked == previous, "\(previous)")
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Listed, with no problem, and healthy, unknown or without health (active or paused), or paused while
        // unhealthy; with no status change kept, or (flapping detection on) one, or up to four within the 24 h
        // window (a fifth starts flapping): 7 × 5 with flapping detection on, 7 with it off. Or UNHEALTHY
        // and active with a problem counted as far as it goes, reminded or not: confirmed (counted to 2 or
        // more) with no reminder due (the default policies), or not confirmed yet (the vendor's rule: 3 polls
        // and 4 hours, counted to 3, UNHEALTHY for an hour but not for five; under every policy), each with the
        // same lists of changes.
        #expect(checked == 3 * 16_128)
        #expect(quietProblems == 2 * 2 * 2 * (5 + 1))
        #expect(quietSoftProblems == 2 * (5 + 1 + 5))
        #expect(quiet == (7 * 5 + 7) + 7 * 5 + quietProblems + quietSoftProblems)
    }

    @Test("a poll of an organization whose connections are all quiet leaves its connections as they were")
    func quietOrganization() {
        let listed = (0..<50).map { F.connection("c\($0)") }
        let declared = Set(listed.compactMap(\.identifier))
        let (first, _) = PollProcessor.apply(
            listed: listed, declared: declared, organizationID: F.organization, to: OrganizationState(),
            context: F.context(at: F.at(0)))
        let (second, events) = PollProcessor.apply(
            listed: listed, declared: declared, organizationID: F.organization, to: first,
            context: F.context(at: F.at(1)))
        #expect(events.isEmpty)
        #expect(second.connections == first.connections)
        #expect(second.lastSuccessfulPoll == F.at(1))
    }

    @Test("a lasting, confirmed problem listed as before is left as it is, until its reminder is due")
    func lastingProblem() {
        let listed = [F.connection("ok"), F.connection("revoked", health: .unauthorized)]
        let declared = Set(listed.compactMap(\.identifier))
        var policy = Configuration.Alerting()
        policy.remindEvery = .seconds(3600)
        var state = OrganizationState()
        var kinds: [[EventKind]] = []
        var states: [OrganizationState] = []
        // Every 10 minutes: the first poll confirms it (UNAUTHORIZED confirms at once), the second counts it
        // to 2, later ones find nothing to do until an hour after the confirmation.
        for minute in stride(from: 0, through: 60, by: 10) {
            let events: [HealthEvent]
            (state, events) = PollProcessor.apply(
                listed: listed, declared: declared, organizationID: F.organization, to: state, policy: policy,
                context: F.context(at: F.at(Double(minute))))
            kinds.append(events.map(\.kind))
            states.append(state)
        }
        #expect(kinds.first?.contains(.connectionUnhealthyConfirmed) == true)
        #expect(kinds[1...5].allSatisfy { $0.isEmpty })
        #expect(kinds[6] == [.connectionStillUnhealthy])
        let revoked = states.map { $0.connections["revoked"]! }
        #expect(revoked[1].alert.unhealthyPolls == 2)
        // Polls 3 to 6 kept the very same connection (skipped, not made again and compared).
        #expect(revoked[2...5].allSatisfy { $0.sharesFields(with: revoked[1]) })
        #expect(!revoked[6].sharesFields(with: revoked[5]) && revoked[6].alert.remindedAt == F.at(60))
    }
}
