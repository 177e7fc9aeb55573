import Foundation
import HealthdCore
import LeenAPI
import Testing

@Suite("Heartbeat event")
struct DaemonHeartbeatTests {
    typealias F = Fixture

    @Test func carriesTheSummaryCountsAndThePendingEvents() {
        var state = OrganizationState()
        state.api = .ok
        for (identifier, health) in [("a", F.health(.healthy)), ("b", F.health(.unauthorized)), ("c", F.health(.internalError))] {
            state.connections[identifier] = TrackedConnection(
                observation: F.observation(identifier, health: health), healthSince: F.time, changedAt: F.time)
        }
        var failing = OrganizationState()
        failing.api = .unreachable(since: F.time, reason: "timeout")
        let summary = StatusSummary([
            .init(id: F.organization, name: "Acme", state: state),
            .init(id: "7f1e2d3c-4b5a-4968-8776-655443322110", name: nil, state: failing),
        ])
        let event = EventBuilder.daemonHeartbeat(summary, openIncidents: 1, pendingEvents: 7, context: F.context())
        #expect(event.kind == .daemonHeartbeat && event.priority == .info)
        #expect(event.message == "leen-healthd is running: \(summary.line)")
        let fields = Dictionary(event.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(fields["LEEN_CONNECTIONS"] == "3")
        #expect(fields["LEEN_HEALTHY"] == "1")
        #expect(fields["LEEN_UNHEALTHY"] == "2")
        #expect(fields["LEEN_UNHEALTHY_CUSTOMER"] == "1")
        #expect(fields["LEEN_ORGANIZATIONS"] == "2")
        #expect(fields["LEEN_FAILING_ORGANIZATIONS"] == "1")
        #expect(fields["LEEN_OPEN_INCIDENTS"] == "1")
        #expect(fields["LEEN_PENDING_EVENTS"] == "7")
        #expect(fields["LEEN_EVENT"] == "daemon_heartbeat")
    }
}
