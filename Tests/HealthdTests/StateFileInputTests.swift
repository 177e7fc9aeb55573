import Foundation
import Healthd
import HealthdCore
import LeenAPI
import Testing

/// State files whose contents trapped the daemon after it read them (Fuzz/, target `state-file`): a file is
/// written by the daemon, but a damaged or edited one must give an error or a working state, never a trap.
@Suite("State file inputs")
struct StateFileInputTests {
    /// The committed seed: a real organization file written by a daemon run against leen-sim.
    static func seed() throws -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/state-file/organization-1.json")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    /// Counters at their largest values: the next polls used to add one to each and trap on the overflow.
    @Test("counters at their maximum saturate instead of trapping on the next polls")
    func countersAtMaximum() throws {
        var file = try Self.seed()
        var state = try #require(file["state"] as? [String: Any])
        state["consecutiveFailures"] = Int.max
        var connections = try #require(state["connections"] as? [String: Any])
        for (identifier, value) in connections {
            var tracked = try #require(value as? [String: Any])
            tracked["transitions"] = Int.max
            var alert = try #require(tracked["alert"] as? [String: Any])
            alert["unhealthyPolls"] = Int.max
            tracked["alert"] = alert
            connections[identifier] = tracked
        }
        state["connections"] = connections
        file["state"] = state
        var delivery = try #require(file["delivery"] as? [String: Any])
        var stream = try #require(delivery["stream"] as? [String: Any])
        stream["sequences"] = Dictionary(uniqueKeysWithValues: connections.keys.map { ($0, UInt64.max) })
        delivery["stream"] = stream
        file["delivery"] = delivery

        let (id, stored) = try StateStore.readOrganization(
            try JSONSerialization.data(withJSONObject: file), path: "organizations/x.json")
        #expect(stored.state.consecutiveFailures == .max)
        let context = EventContext(organizationLabel: "x", observedAt: Date(timeIntervalSince1970: 1_900_000_000))
        var events: [HealthEvent] = []
        var (next, failed) = PollProcessor.apply(
            failure: PollFailure(kind: .timeout, summary: "t"), organizationID: id, to: stored.state, context: context)
        #expect(next.consecutiveFailures == .max)
        events += failed
        let listed: [Connection] = []
        let declared = Set(stored.state.connections.keys)
        (next, failed) = PollProcessor.apply(
            listed: listed, declared: declared, organizationID: id, to: next, context: context)
        events += failed
        var sequences = stored.delivery.stream
        sequences.stamp(&events)
        #expect(!events.isEmpty)
        #expect(declared.allSatisfy { sequences.sequences[$0] == .max })
    }
}
