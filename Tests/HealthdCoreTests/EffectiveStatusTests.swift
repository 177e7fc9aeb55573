import Foundation
import LeenAPI
import Testing

@testable import HealthdCore

/// The connection view's rules, in order of precedence.
@Suite("Effective status")
struct EffectiveStatusTests {
    static let healthy = ConnectionObservation.Health(status: .healthy, name: .healthy, resolutionOwner: .leen)
    static let unhealthy = ConnectionObservation.Health(status: .unhealthy, name: .unauthorized, resolutionOwner: .customer)

    static func observation(
        state: ConnectionState? = .active, health: ConnectionObservation.Health?, oauthPending: Bool = false
    ) -> ConnectionObservation {
        ConnectionObservation(
            organizationID: "org", connectionID: "id", identifier: "x", vendor: .tenable, state: state,
            isActive: state == .active, health: health, oauthPending: oauthPending)
    }

    @Test(
        "precedence: missing, stale organization, paused, OAuth pending, then the documented health",
        arguments: [
            (observation(health: healthy), false, false, EffectiveStatus.healthy),
            (observation(health: unhealthy), false, false, .unhealthy),
            (observation(health: nil), false, false, .unknown),
            (observation(health: .init(status: "DEGRADED", name: "X", resolutionOwner: "Y")), false, false, .unknown),
            (observation(state: "ARCHIVED", health: unhealthy), false, false, .unhealthy),
            (observation(state: .paused, health: unhealthy), false, false, .paused),
            (observation(state: .pending, health: nil, oauthPending: true), false, false, .oauthPending),
            (observation(state: .paused, health: healthy, oauthPending: true), false, false, .paused),
            (observation(health: healthy), false, true, .unknown),
            (observation(state: .paused, health: healthy), false, true, .unknown),
            (observation(health: healthy), true, true, .missing),
            (observation(health: unhealthy), true, false, .missing),
        ])
    func precedence(observation: ConnectionObservation, missing: Bool, stale: Bool, expected: EffectiveStatus) {
        #expect(EffectiveStatus(observation, missing: missing, organizationStale: stale) == expected)
        let tracked = TrackedConnection(observation: observation, healthSince: .now, changedAt: .now, missing: missing)
        #expect(EffectiveStatus(tracked, organizationStale: stale) == expected)
    }

    @Test("only HEALTHY and UNHEALTHY are exported as themselves; everything else is UNKNOWN")
    func exported() {
        for status in EffectiveStatus.allCases {
            let expected: EffectiveStatus.Exported =
                status == .healthy ? .healthy : status == .unhealthy ? .unhealthy : .unknown
            #expect(status.exported == expected)
        }
    }

    @Test("an organization not polled yet is not failing; one whose poll failed is")
    func failingOrganizations() {
        var failing = OrganizationState()
        failing.api = .unreachable(since: .now, reason: "timeout")
        let summary = StatusSummary([
            .init(id: "new", name: nil, state: OrganizationState()), .init(id: "down", name: nil, state: failing),
        ])
        #expect(summary.line == "0 connections: 0 healthy, 0 unhealthy (0 CUSTOMER), 0 unknown; API failing for 1 of 2 organizations")
    }

    @Test("a summary counts each connection once by its effective status, with only the statuses present")
    func summaryCounts() {
        #expect(EffectiveStatus.allCases.enumerated().allSatisfy { $0.element.position == $0.offset })
        var state = OrganizationState()
        let kinds: [(ConnectionObservation.Health?, ConnectionState)] = [
            (Self.healthy, .active), (Self.healthy, .active), (Self.unhealthy, .active), (nil, .active),
            (Self.unhealthy, .paused),
        ]
        for (index, kind) in kinds.enumerated() {
            state.connections["c\(index)"] = TrackedConnection(
                observation: Self.observation(state: kind.1, health: kind.0), healthSince: Date(),
                changedAt: Date())
        }
        state.api = .ok
        let summary = StatusSummary(state)
        #expect(summary.counts == [.healthy: 2, .unhealthy: 1, .unknown: 1, .paused: 1])
        #expect(summary.unhealthyCustomer == 1)
    }

    @Test("a share counted once stands for states that differ only in what it does not count")
    func sameShare() {
        var state = OrganizationState()
        for (index, health) in [Self.healthy, Self.unhealthy, nil].enumerated() {
            state.connections["c\(index)"] = TrackedConnection(
                observation: Self.observation(state: .active, health: health), healthSince: Date(), changedAt: Date())
        }
        state.api = .ok
        var polledAgain = state
        polledAgain.lastSuccessfulPoll = Date()
        polledAgain.lastAttempt = Date()
        var failing = state
        failing.api = .unreachable(since: Date(), reason: "timeout")
        var rejected = failing
        rejected.api = .rejected(since: Date(), reason: "401")
        var changed = state
        changed.connections["c0"] = TrackedConnection(
            observation: Self.observation(state: .paused, health: Self.healthy), healthSince: Date(), changedAt: Date())
        var fewer = state
        fewer.connections["c2"] = nil
        // The same connections in other storage: compared one by one.
        var rebuilt = OrganizationState()
        rebuilt.api = .ok
        for (key, tracked) in state.connections { rebuilt.connections[key] = tracked }
        #expect(StatusSummary.sameShare(polledAgain, state))
        #expect(StatusSummary.sameShare(rebuilt, state))
        #expect(StatusSummary.sameShare(rejected, failing))
        #expect(!StatusSummary.sameShare(failing, state))
        #expect(!StatusSummary.sameShare(changed, state))
        #expect(!StatusSummary.sameShare(fewer, state))
        let states = [state, polledAgain, failing, rejected, changed, fewer, rebuilt, OrganizationState()]
        for a in states {
            for b in states where StatusSummary.sameShare(a, b) {
                #expect(StatusSummary(a) == StatusSummary(b))
            }
        }
    }
}
