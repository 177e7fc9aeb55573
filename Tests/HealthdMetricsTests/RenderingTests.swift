import Foundation
import HealthdBenchmarks
import HealthdCore
import HealthdMetrics
import LeenAPI
import NIOCore
import Testing

@Suite("Rendering /metrics")
struct RenderingTests {
    @Test("One healthy connection renders exactly its per-connection lines (as a set)")
    func healthyConnectionLines() {
        let text = render(metricsInput([organization([tracked("tenable-prod", transitions: 2)])]))
        let labels =
            "organization_id=\"\(organizationA)\",connection_id=\"conn-tenable-prod\",identifier=\"tenable-prod\",vendor=\"TENABLE\""
        let expected: Set<String> = [
            "leen_connection_healthy{\(labels)} 1",
            "leen_connection_status{\(labels),status=\"HEALTHY\"} 1",
            "leen_connection_status{\(labels),status=\"UNHEALTHY\"} 0",
            "leen_connection_status{\(labels),status=\"UNKNOWN\"} 0",
            "leen_connection_reason{\(labels),health_name=\"HEALTHY\",resolution_owner=\"LEEN\"} 1",
            "leen_connection_state{\(labels),state=\"PENDING\"} 0",
            "leen_connection_state{\(labels),state=\"ACTIVE\"} 1",
            "leen_connection_state{\(labels),state=\"PAUSED\"} 0",
            "leen_connection_state{\(labels),state=\"DELETED\"} 0",
            "leen_connection_failing_details{\(labels)} 0",
            "leen_connection_oauth_pending{\(labels)} 0",
            "leen_connection_health_transitions_total{\(labels)} 2",
            "leen_connection_health_change_timestamp_seconds{\(labels)} 1764460200",
            "leen_connection_last_change_timestamp_seconds{\(labels)} 1764460740",
            "leen_connection_unhealthy_confirmed{\(labels)} 0",
            "leen_connection_flapping{\(labels)} 0",
        ]
        let connectionLines = Set(lines(text).filter { $0.hasPrefix("leen_connection_") })
        #expect(connectionLines == expected)
    }

    @Test("Confirmed problems and flapping are 1 only while the connection counts as UNHEALTHY; confirmed outages per organization")
    func alertingGauges() {
        let unauthorized = ConnectionObservation.Health(status: .unhealthy, name: .unauthorized, resolutionOwner: .customer)
        func problem(_ identifier: String, confirmed: Bool, flapping: Bool = false, state: ConnectionState = .active)
            -> TrackedConnection
        {
            var connection = tracked(identifier, state: state, health: unauthorized)
            connection.alert.unhealthySince = referenceNow
            connection.alert.confirmedAt = confirmed ? referenceNow : nil
            connection.alert.flappingSince = flapping ? referenceNow : nil
            return connection
        }
        var outage = organization(
            organizationB, api: .unreachable(since: referenceNow, reason: "timeout"),
            [problem("stale", confirmed: true)])
        outage.state.apiConfirmedAt = referenceNow
        let text = render(
            metricsInput([
                organization([
                    problem("hard", confirmed: true), problem("soft", confirmed: false, flapping: true),
                    problem("paused", confirmed: true, state: .paused),
                ]),
                outage,
            ]))
        func value(_ family: String, _ identifier: String) -> String? {
            samples(text).first { $0.name == family && $0.labels["identifier"] == identifier }?.value
        }
        #expect(value("leen_connection_unhealthy_confirmed", "hard") == "1")
        #expect(value("leen_connection_unhealthy_confirmed", "soft") == "0")
        // Paused, or in an organization whose polls fail, the connection is UNKNOWN: never confirmed there.
        #expect(value("leen_connection_unhealthy_confirmed", "paused") == "0")
        #expect(value("leen_connection_unhealthy_confirmed", "stale") == "0")
        #expect(value("leen_connection_flapping", "soft") == "1")
        #expect(value("leen_connection_flapping", "hard") == "0")
        let down = samples(text).filter { $0.name == "leen_api_down_confirmed" }
        #expect(down.first { $0.labels["organization_id"] == organizationA.rawValue }?.value == "0")
        #expect(down.first { $0.labels["organization_id"] == organizationB.rawValue }?.value == "1")
    }

    @Test("Label values escape backslash, double quote and line feed, and keep UTF-8 as is")
    func labelEscaping() throws {
        let identifiers = ["quo\"ted", "back\\slash", "two\nlines", "überprüfung-東京-🚀", "all\\\"\n\"\\"]
        let input = metricsInput([organization(identifiers.map { tracked($0) })])
        let text = render(input)
        #expect(text.contains("identifier=\"quo\\\"ted\""))
        #expect(text.contains("identifier=\"back\\\\slash\""))
        #expect(text.contains("identifier=\"two\\nlines\""))
        #expect(text.contains("identifier=\"überprüfung-東京-🚀\""))
        #expect(text.contains("identifier=\"all\\\\\\\"\\n\\\"\\\\\""))
        // The bytes are valid UTF-8 and every line parses back to the original identifiers.
        let bytes = Array(MetricsRenderer.render(input, process: fixedProcess).readableBytesView)
        #expect(String(validating: bytes, as: UTF8.self) != nil)
        let parsed = samples(text).filter { $0.name == "leen_connection_healthy" }.compactMap { $0.labels["identifier"] }
        #expect(Set(parsed) == Set(identifiers))
        // No raw line feed inside a sample: every line is a comment or a well-formed sample.
        for line in lines(text) where !line.hasPrefix("#") {
            #expect(Sample(line: line) != nil, "malformed line: \(line)")
        }
    }

    @Test("Status and state are one-hot: exactly one member is 1 for every connection")
    func oneHotSets() {
        var connections = (0..<40).map { tracked("c\($0)") }
        connections.append(tracked("undocumented-state", state: "ARCHIVED"))
        connections.append(tracked("no-state", state: nil))
        connections.append(tracked("no-health", health: nil))
        connections.append(tracked("new-status", health: .init(status: "DEGRADED", name: "NEW_REASON", resolutionOwner: "VENDOR")))
        let fleet = SyntheticFleet.input(connections: 700)
        let input = metricsInput(fleet.organizations + [organization(organizationB, connections)])
        let all = samples(render(input))
        for family in ["leen_connection_status", "leen_connection_state"] {
            var sums: [String: Double] = [:]
            var members: [String: Int] = [:]
            for sample in all where sample.name == family {
                let key = "\(sample.labels["organization_id"]!)/\(sample.labels["connection_id"]!)"
                sums[key, default: 0] += sample.number!
                members[key, default: 0] += 1
                #expect(sample.value == "0" || sample.value == "1")
            }
            #expect(sums.count == all.filter { $0.name == "leen_connection_healthy" }.count)
            #expect(sums.values.allSatisfy { $0 == 1 }, "\(family) does not sum to 1")
            #expect(Set(members.values).isSubset(of: family == "leen_connection_status" ? [3] : [4, 5]))
        }
        let state = all.filter { $0.name == "leen_connection_state" && $0.number == 1 }
        #expect(state.first { $0.labels["identifier"] == "undocumented-state" }?.labels["state"] == "UNKNOWN")
        #expect(state.first { $0.labels["identifier"] == "no-state" }?.labels["state"] == "UNKNOWN")
        #expect(state.first { $0.labels["identifier"] == "c1" }?.labels["state"] == "ACTIVE")
    }

    @Test("UNKNOWN while the organization's API fails, before the first health, and for an undocumented status")
    func unknownStatus() {
        let stale = organization(
            organizationA, api: .unreachable(since: referenceNow.addingTimeInterval(-900), reason: "timeout"),
            [tracked("was-unhealthy", health: unauthorized), tracked("was-healthy")])
        let fresh = organization(
            organizationB,
            [
                tracked("no-health", organization: organizationB, health: nil),
                tracked(
                    "new-status", organization: organizationB,
                    health: .init(status: "DEGRADED", name: "NEW_REASON", resolutionOwner: "VENDOR")),
                tracked("sick", organization: organizationB, health: unauthorized),
            ])
        let all = samples(render(metricsInput([stale, fresh])))
        func status(_ identifier: String) -> String? {
            all.first { $0.name == "leen_connection_status" && $0.labels["identifier"] == identifier && $0.value == "1" }?
                .labels["status"]
        }
        func value(_ family: String, _ identifier: String) -> String? {
            all.first { $0.name == family && $0.labels["identifier"] == identifier }?.value
        }
        #expect(status("was-unhealthy") == "UNKNOWN")
        #expect(status("was-healthy") == "UNKNOWN")
        #expect(status("no-health") == "UNKNOWN")
        #expect(status("new-status") == "UNKNOWN")
        #expect(status("sick") == "UNHEALTHY")
        #expect(value("leen_connection_healthy", "was-healthy") == "0")
        #expect(value("leen_connection_healthy", "sick") == "0")
        // The last known reason stays while the API fails; there is none before the first job.
        let reason = all.first { $0.name == "leen_connection_reason" && $0.labels["identifier"] == "was-unhealthy" }
        #expect(reason?.labels["health_name"] == "UNAUTHORIZED")
        #expect(reason?.labels["resolution_owner"] == "CUSTOMER")
        #expect(value("leen_connection_reason", "no-health") == nil)
        #expect(value("leen_connection_failing_details", "sick") == "2")
        #expect(all.contains { $0.name == "leen_api_up" && $0.labels["organization_id"] == organizationA.rawValue && $0.value == "0" })
        #expect(all.contains { $0.name == "leen_api_up" && $0.labels["organization_id"] == organizationB.rawValue && $0.value == "1" })
    }

    @Test("A removed, disappeared or unconfigured connection has no series at the next scrape")
    func seriesDisappear() {
        var daemon = daemonCounters()
        daemon.polls[.init(organization: organizationB, result: "success")] = 3
        daemon.polls[.init(organization: organizationB, result: "timeout")] = 1
        daemon.pollDurations[organizationB] = Histogram()
        let before = render(
            metricsInput(
                [
                    organization([tracked("stays"), tracked("removed"), tracked("disappears")]),
                    organization(organizationB, [tracked("other-org", organization: organizationB)]),
                ], daemon: daemon))
        #expect(before.contains("identifier=\"removed\""))
        #expect(before.contains("identifier=\"disappears\""))
        #expect(before.contains("organization_id=\"\(organizationB)\""))

        let after = render(
            metricsInput([organization([tracked("stays"), tracked("disappears", missing: true)])], daemon: daemon))
        #expect(after.contains("identifier=\"stays\""))
        #expect(!after.contains("identifier=\"removed\""))
        #expect(!after.contains("identifier=\"disappears\""))
        // The organization no longer configured takes its per-organization series with it.
        #expect(!after.contains(organizationB.rawValue))
    }

    @Test("Long run with churn: the series count follows the live connections, nothing accumulates")
    func noCardinalityLeak() {
        var generator = SeededGenerator(seed: 42)
        var live: [String: TrackedConnection] = [:]
        for generation in 0..<60 {
            for _ in 0..<25 {
                let identifier = "conn-\(Int.random(in: 0..<10_000, using: &generator))"
                live[identifier] = tracked(identifier, transitions: generation)
            }
            for key in live.keys.shuffled(using: &generator).prefix(20) { live[key] = nil }
            let missingKey = live.keys.sorted().first
            var connections = Array(live.values)
            if let missingKey, let index = connections.firstIndex(where: { $0.observation.identifier == missingKey }) {
                connections[index].missing = true
            }
            let all = samples(render(metricsInput([organization(connections)])))
            let exported = Set(connections.filter { !$0.missing }.map(\.observation.identifier))
            let perConnection = all.filter { $0.name.hasPrefix("leen_connection_") }
            #expect(Set(perConnection.compactMap { $0.labels["identifier"] }) == exported)
            // 1 healthy + 3 status + 1 reason + 4 state + details + oauth + transitions + 2 timestamps
            // + confirmed + flapping.
            #expect(perConnection.count == exported.count * 16)
        }
    }

    @Test("No label named owner or details anywhere; per-connection label sets are exactly the documented ones")
    func labelNames() {
        let text = render(SyntheticFleet.input(connections: 300))
        let all = samples(text)
        #expect(!all.isEmpty)
        for sample in all {
            #expect(sample.labels["owner"] == nil)
            #expect(sample.labels["details"] == nil)
        }
        #expect(!text.contains(",owner=") && !text.contains("{owner="))
        let base = MetricFamily.connectionLabels
        for sample in all where sample.name.hasPrefix("leen_connection_") {
            let extra: [String] =
                switch sample.name {
                case "leen_connection_status": ["status"]
                case "leen_connection_state": ["state"]
                case "leen_connection_reason": ["health_name", "resolution_owner"]
                default: []
                }
            #expect(sample.labelOrder == base + extra, "\(sample.name): \(sample.labelOrder)")
        }
    }

    @Test("Histogram buckets are cumulative, end with +Inf, and +Inf equals _count")
    func histogramBuckets() throws {
        var daemon = daemonCounters()
        var histogram = Histogram()
        for value in [0.003, 0.02, 0.02, 0.7, 3, 45, 120] { histogram.observe(value) }
        daemon.pollDurations[organizationA] = histogram
        let all = samples(render(metricsInput([organization([tracked("x")])], daemon: daemon)))
        let buckets = all.filter { $0.name == "leen_poll_duration_seconds_bucket" }
        let bounds = buckets.map { $0.labels["le"]! }
        #expect(bounds.last == "+Inf")
        #expect(bounds.dropLast().map { Double($0)! } == Histogram.pollDurationBounds)
        #expect(bounds.contains("1.0") && bounds.contains("0.005"))
        let counts = buckets.map { $0.number! }
        #expect(counts == counts.sorted(), "buckets must be cumulative")
        #expect(counts.last == 7)
        #expect(counts.first == 1)
        #expect(all.first { $0.name == "leen_poll_duration_seconds_count" }?.number == 7)
        let sum = try #require(all.first { $0.name == "leen_poll_duration_seconds_sum" }?.number)
        #expect(abs(sum - 168.743) < 1e-9)
    }

    @Test("HELP and TYPE come once per family, before its samples, and each family is one contiguous group")
    func familyGrouping() throws {
        var daemon = SyntheticFleet.input(connections: 250).daemon
        daemon.pollInterval = .seconds(300)
        let text = render(metricsInput(SyntheticFleet.input(connections: 250).organizations, daemon: daemon))
        var seen: [String] = []
        var current: (name: String, type: String)?
        var helpNames: [String] = []
        for line in lines(text) {
            if line.hasPrefix("# HELP ") {
                helpNames.append(String(line.split(separator: " ")[2]))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                current = (String(parts[2]), String(parts[3]))
                #expect(helpNames.last == current?.name, "HELP must precede TYPE for \(parts[2])")
                seen.append(String(parts[2]))
            } else {
                let sample = Sample(line: line)!
                let family = try #require(current)
                var base = sample.name
                if family.type == "histogram" || family.type == "summary" {
                    for suffix in ["_bucket", "_sum", "_count"] where base.hasSuffix(suffix) {
                        base = String(base.dropLast(suffix.count))
                    }
                }
                #expect(base == family.name, "\(sample.name) outside its family (in \(family.name))")
            }
        }
        #expect(seen.count == Set(seen).count, "a family appears twice")
        #expect(helpNames.count == seen.count)
        // leen_shard_info is only written by a sharded instance (ShardLabelTests).
        #expect(Set(seen) == Set(MetricFamily.all.filter { $0 != .shardInfo }.map(\.name)))
    }

    @Test("Per-organization, API and daemon families carry the counters")
    func daemonFamilies() {
        var daemon = daemonCounters()
        daemon.polls = [
            .init(organization: organizationA, result: "success"): 10,
            .init(organization: organizationA, result: "timeout"): 2,
            .init(organization: organizationA, result: "unauthorized"): 1,
        ]
        daemon.requests = [.init(operation: "list_connections", code: "200"): 30, .init(operation: "list_connections", code: "429"): 4]
        daemon.retries = ["list_connections": 4]
        daemon.retryAfterWaits = 3
        daemon.retryAfterSeconds = 7.5
        daemon.pollInterval = .seconds(300)
        daemon.lastReloadSuccessful = false
        daemon.lastReloadSuccess = referenceNow.addingTimeInterval(-120.25)
        daemon.reloads = ["success": 2, "failure": 1]
        daemon.eventsEmitted = [.connectionUnhealthy: 5, .apiUnreachable: 1]
        daemon.journalSendErrors = 2
        daemon.eventsSuppressed = 6
        let lines = Set(lines(render(metricsInput([organization([tracked("x")])], daemon: daemon))))
        let org = "organization_id=\"\(organizationA)\""
        let expected: Set<String> = [
            "leen_api_up{\(org)} 1",
            "leen_poll_last_success_timestamp_seconds{\(org)} 1764460770",
            "leen_polls_total{\(org)} 13",
            "leen_poll_failures_total{\(org),reason=\"timeout\"} 2",
            "leen_poll_failures_total{\(org),reason=\"unauthorized\"} 1",
            "leen_poll_interval_seconds 300",
            "leen_api_requests_total{operation=\"list_connections\",code=\"200\"} 30",
            "leen_api_requests_total{operation=\"list_connections\",code=\"429\"} 4",
            "leen_api_retries_total{operation=\"list_connections\"} 4",
            "leen_api_retry_after_wait_seconds_sum 7.5",
            "leen_api_retry_after_wait_seconds_count 3",
            "leen_build_info{version=\"1.2.3-test\",swift_version=\"\(BuildInfo.swiftVersion)\"} 1",
            "leen_config_last_reload_successful 0",
            "leen_config_last_reload_success_timestamp_seconds 1764460679.75",
            "leen_config_reloads_total 3",
            "leen_config_reload_failures_total 1",
            "leen_events_total{event=\"connection_unhealthy\"} 5",
            "leen_events_total{event=\"api_unreachable\"} 1",
            "leen_events_total{event=\"daemon_stopping\"} 0",
            "leen_journal_send_errors_total 2",
            "leen_events_suppressed_total 6",
            "process_cpu_seconds_total 12.5",
            "process_resident_memory_bytes 52428800",
            "process_virtual_memory_bytes 1073741824",
            "process_open_fds 17",
            "process_max_fds 1024",
            "process_start_time_seconds 1764457200",
        ]
        #expect(expected.subtracting(lines).isEmpty, "missing: \(expected.subtracting(lines).sorted())")
        // Every event type is exported, 0 when none was written.
        #expect(lines.filter { $0.hasPrefix("leen_events_total{") }.count == EventKind.allCases.count)
        #expect(BuildInfo.swiftVersion.hasPrefix("6.") || BuildInfo.swiftVersion.hasPrefix("7"))
    }

    @Test("OpenMetrics: # EOF last, counters' families without _total, info and UNIT lines")
    func openMetrics() throws {
        let input = SyntheticFleet.input(connections: 120)
        let text = render(input, .openMetrics)
        #expect(text.hasSuffix("\n# EOF\n"))
        #expect(lines(text).filter { $0 == "# EOF" }.count == 1)
        let all = lines(text)
        #expect(all.contains("# TYPE leen_polls counter"))
        #expect(all.contains("# TYPE leen_connection_health_transitions counter"))
        #expect(all.contains("# TYPE process_cpu_seconds counter"))
        #expect(all.contains("# UNIT process_cpu_seconds seconds"))
        #expect(all.contains("# TYPE leen_build info"))
        #expect(all.contains("# TYPE leen_poll_duration_seconds histogram"))
        #expect(all.contains("# UNIT leen_poll_duration_seconds seconds"))
        #expect(!all.contains { $0.hasPrefix("# TYPE") && $0.split(separator: " ")[2].hasSuffix("_total") })
        // Every UNIT names a family whose name ends with it.
        for line in all where line.hasPrefix("# UNIT ") {
            let parts = line.split(separator: " ")
            #expect(parts[2].hasSuffix("_" + parts[3]))
        }
        // Counter samples keep _total; the info sample keeps _info.
        let parsed = samples(text)
        #expect(parsed.contains { $0.name == "leen_polls_total" })
        #expect(parsed.contains { $0.name == "leen_build_info" && $0.value == "1" })
        // Same samples as text 0.0.4.
        #expect(Set(parsed) == Set(samples(render(input))))
    }

    @Test("The synthetic fleet exports the mix it promises")
    func syntheticFleet() {
        let all = samples(render(SyntheticFleet.input(connections: 1_000)))
        let healthyLines = all.filter { $0.name == "leen_connection_healthy" }
        #expect(healthyLines.count == 1_000 - 10)  // every 97th is missing
        let customer = all.filter { $0.name == "leen_connection_reason" && $0.labels["resolution_owner"] == "CUSTOMER" }
        #expect(customer.count == 49)  // of 50, index 96 is also missing
        #expect(all.contains { $0.name == "leen_connection_oauth_pending" && $0.value == "1" })
    }
}

/// A small deterministic generator (SplitMix64) for churn tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
