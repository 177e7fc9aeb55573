import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import Testing

@testable import Healthd

/// The monitor keeps each organization's share of the STATUS line with its state; the sum must always be what
/// counting every connection again gives.
@Suite("The monitor's STATUS counts")
struct MonitorSummaryTests {
    @Test("The kept counts equal a full count after polls, failures, restarts and a configuration change")
    func keptCountsMatchAFullCount() async throws {
        let delivery = DeliveryTests()
        let other: OrganizationID = "7d1e5b2a-4c3f-4e8a-9b6d-2f0a1c3e5d7b"
        try await delivery.withDirectory { directory in
            var config = delivery.configuration(directory, identifiers: ["a", "b", "c"])
            config.organizations.append(
                OrganizationConfig(id: other, name: "Globex", connections: [ConnectionConfig(identifier: "x", vendor: .tenable)]))
            let store = StateStore(directory: config.stateDirectory)
            var monitor = try Monitor(
                configuration: config, store: store, emitter: DeliveryTests.Recorded().emitter, logger: quietLogger)
            func check(_ expected: String, sourceLocation: SourceLocation = #_sourceLocation) async {
                let kept = await monitor.statusSummary()
                let snapshot = await monitor.snapshot().organizations
                let counted = StatusSummary(snapshot)
                #expect(kept == counted, sourceLocation: sourceLocation)
                #expect(kept.line == expected, sourceLocation: sourceLocation)
                // The snapshot's list, kept as states change, is the configuration's organizations with their
                // states now.
                let (configured, states) = (await monitor.configuration.organizations, await monitor.organizations)
                #expect(snapshot.map(\.id) == configured.map(\.id), sourceLocation: sourceLocation)
                #expect(snapshot.map(\.name) == configured.map(\.name), sourceLocation: sourceLocation)
                #expect(
                    snapshot.map(\.state) == configured.map { states[$0.id] ?? OrganizationState() },
                    sourceLocation: sourceLocation)
            }
            await check("0 connections: 0 healthy, 0 unhealthy (0 CUSTOMER), 0 unknown; API ok")
            await monitor.ingest(
                delivery.listing(["a": .healthy, "b": .unauthorized, "c": .vendorServerError]),
                organization: delivery.organization)
            await check("3 connections: 1 healthy, 2 unhealthy (1 CUSTOMER), 0 unknown; API ok")
            await monitor.ingest(.failure(PollFailure(kind: .timeout, summary: "timed out")), organization: delivery.organization)
            await check("3 connections: 0 healthy, 0 unhealthy (0 CUSTOMER), 3 unknown; API failing for 1 of 2 organizations")
            await monitor.ingest(delivery.listing(["x": .healthy]), organization: other)
            await check("4 connections: 1 healthy, 0 unhealthy (0 CUSTOMER), 3 unknown; API failing for 1 of 2 organizations")
            // c, no longer listed, keeps its last known health until it is confirmed missing.
            await monitor.ingest(delivery.listing(["a": .healthy, "b": .healthy]), organization: delivery.organization)
            await check("4 connections: 3 healthy, 1 unhealthy (0 CUSTOMER), 0 unknown; API ok")

            // A restart starts from the state files.
            await monitor.finishDelivery(grace: .seconds(5))
            monitor = try Monitor(
                configuration: config, store: store, emitter: DeliveryTests.Recorded().emitter, logger: quietLogger)
            await check("4 connections: 3 healthy, 1 unhealthy (0 CUSTOMER), 0 unknown; API ok")

            // An organization leaves the configuration: its connections leave the counts.
            config.organizations.removeLast()
            await monitor.startDelivery()
            await monitor.setConfiguration(config)
            await check("3 connections: 2 healthy, 1 unhealthy (0 CUSTOMER), 0 unknown; API ok")
            // It comes back, listed first: known again from its next poll on.
            config.organizations.insert(
                OrganizationConfig(id: other, name: "Globex", connections: [ConnectionConfig(identifier: "x", vendor: .tenable)]),
                at: 0)
            await monitor.setConfiguration(config)
            await check("3 connections: 2 healthy, 1 unhealthy (0 CUSTOMER), 0 unknown; API ok")
            await monitor.ingest(delivery.listing(["x": .unauthorized]), organization: other)
            await check("4 connections: 2 healthy, 2 unhealthy (1 CUSTOMER), 0 unknown; API ok")
            await monitor.finishDelivery(grace: .seconds(5))
        }
    }
}
