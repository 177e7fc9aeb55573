import Benchmark
import Foundation
import HealthdCore
import LeenAPI

/// A page of `count` connections as Leen lists them: one in twenty UNHEALTHY with failing details.
func fleet(_ count: Int, organization: OrganizationID, unhealthyEvery: Int = 20) -> [Connection] {
    let vendors: [Vendor] = [.tenable, .qualys, .crowdStrikeSpotlight, .wizVMS, .msEntra]
    return (0..<count).map { index in
        let unhealthy = index % unhealthyEvery == 0
        let health =
            unhealthy
            ? ConnectionHealthStatus(
                documented: .vendorServerError,
                details: [HealthDetail(endpoint: "https://api.vendor.example/v1/alerts", dataExportType: .alerts)])
            : ConnectionHealthStatus(documented: .healthy)
        return Connection(
            id: ConnectionID(String(format: "00000000-0000-4000-8000-%012d", index)),
            vendor: vendors[index % vendors.count], isActive: true, refreshIntervalSecs: 14_400, timeoutSecs: 1_800,
            organizationID: organization, state: .active, identifier: "connection-\(index)",
            createdAt: Timestamp(rawValue: "2026-01-01T00:00:00Z"), updatedAt: Timestamp(rawValue: "2026-11-30T12:00:00Z"),
            health: health)
    }
}

let benchmarks: @Sendable () -> Void = {
    let organization = OrganizationID("3c90c3cc-0d44-4b50-8888-8dd25736052a")
    let connections = fleet(1_000, organization: organization)
    let declared = Set(connections.compactMap(\.identifier))
    let context = EventContext(organizationLabel: "Acme", observedAt: Date(timeIntervalSince1970: 1_764_504_000))
    let page = try! JSONEncoder.compact.encode(Page(items: connections, count: 1_000, total: 1_000))
    let (baseline, _) = PollProcessor.apply(
        listed: connections, declared: declared, organizationID: organization, to: OrganizationState(), context: context)
    // The next poll with 97 connections in 1,000 changed (healthy ones fail, failing ones recover).
    let changed = fleet(1_000, organization: organization, unhealthyEvery: 19)

    let metrics: [BenchmarkMetric] = [.instructions, .mallocCountTotal, .cpuTotal, .wallClock]
    Benchmark.defaultConfiguration = .init(metrics: metrics, maxDuration: .seconds(3), maxIterations: 1_000)

    Benchmark("Decode a List Connections page of 1,000") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try JSONDecoder().decode(Page<Connection>.self, from: page))
        }
    }
    // The daemon's way: a memo of the last walk, so only items whose bytes changed are decoded.
    let changedPage = try! JSONEncoder.compact.encode(Page(items: changed, count: 1_000, total: 1_000))
    Benchmark("Decode a page of 1,000 with the last walk's memo, none changed") { benchmark in
        let memo = PageMemo()
        _ = try memo.decode(page)
        memo.finishWalk()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try memo.decode(page))
        }
    }
    // Without a walk to compare with (the first poll): every item read by hand (ConnectionReader).
    Benchmark("Decode a page of 1,000 with an empty memo (every item read)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try PageMemo().decode(page))
        }
    }
    Benchmark("Decode a page of 1,000 with the last walk's memo, 1 in 10 changed") { benchmark in
        let memo = PageMemo()
        _ = try memo.decode(page)
        memo.finishWalk()
        benchmark.startMeasurement()
        // Walks alternate between the two pages, so each finds the 97 items that differ changed.
        for (iteration, _) in benchmark.scaledIterations.enumerated() {
            blackHole(try memo.decode(iteration.isMultiple(of: 2) ? changedPage : page))
            memo.finishWalk()
        }
    }
    Benchmark("Diff 1,000 connections, none changed") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(
                PollProcessor.apply(
                    listed: connections, declared: declared, organizationID: organization, to: baseline,
                    context: context))
        }
    }
    Benchmark("Diff 1,000 connections, 1 in 10 changed") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(
                PollProcessor.apply(
                    listed: changed, declared: declared, organizationID: organization, to: baseline, context: context))
        }
    }
    // What the monitor asks after a poll that made no event: may the state file stay as it is?
    let (unchanged, _) = PollProcessor.apply(
        listed: connections, declared: declared, organizationID: organization, to: baseline,
        context: EventContext(organizationLabel: "Acme", observedAt: context.observedAt.addingTimeInterval(60)))
    Benchmark("Compare 1,000 connections' state with the last poll's") { benchmark in
        let next = unchanged
        for _ in benchmark.scaledIterations {
            blackHole(next.differsOnlyInPollTimes(from: baseline))
        }
    }
    // A storm: 50 organizations of 100 connections turned UNHEALTHY the same way, one incident of 4,950
    // members (`fleet` lists each organization's first connection UNHEALTHY from the start). Each organization's poll while it lasts passes over all of them.
    let stormOrganizations = (0..<50).map { OrganizationID(String(format: "00000000-0000-4000-9000-%012d", $0)) }
    var detector = IncidentDetector()
    var stormStates: [OrganizationState] = []
    for (index, id) in stormOrganizations.enumerated() {
        var state = OrganizationState()
        for (poll, unhealthyEvery) in [1_000, 1, 1].enumerated() {
            let at = EventContext(organizationLabel: "", observedAt: context.observedAt.addingTimeInterval(Double(poll * 20)))
            let listed = fleet(100, organization: id, unhealthyEvery: unhealthyEvery)
            state = PollProcessor.apply(
                listed: listed, declared: Set(listed.compactMap(\.identifier)), organizationID: id, to: state,
                context: at).0
            if poll == 1 {
                _ = detector.observe(
                    organization: id, state: state, rule: .init(), window: .seconds(20), now: at.observedAt,
                    makeID: { "incident-\(index)" })
            }
        }
        stormStates.append(state)
    }
    precondition(detector.open.count == 1 && detector.open[0].members.count == 4_950)
    Benchmark("Incidents: an organization's poll during a storm of 4,950 connections") { benchmark in
        var detector = detector
        let at = context.observedAt.addingTimeInterval(40)
        for _ in benchmark.scaledIterations {
            blackHole(
                detector.observe(
                    organization: stormOrganizations[0], state: stormStates[0], rule: .init(), window: .seconds(20),
                    now: at, makeID: { "unused" }))
        }
    }
    Benchmark("Encode 1,000 connections' state (JSON)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try JSONEncoder.compact.encode(baseline))
        }
    }
}
