import Foundation
import HealthdBenchmarks
import HealthdCore
import HealthdMetrics
import LeenAPI
import Testing

/// Runs when promtool is installed; with `LEEN_REQUIRE_REAL_PARTS=1` it runs anyway and fails without it.
private let promtoolTrait = Testing.ConditionTrait.enabled(
    if: promtoolPath != nil || requireRealParts,
    "promtool is not installed (apt-get install prometheus); set LEEN_REQUIRE_REAL_PARTS=1 to make this a failure")

@Suite("promtool accepts the exposition and the shipped rules", promtoolTrait)
struct PromtoolTests {
    func promtool() throws -> String {
        try #require(promtoolPath, "promtool is required (LEEN_REQUIRE_REAL_PARTS=1) but not installed")
    }

    /// A rich snapshot: the synthetic fleet (every health, owner, state, stale organizations, missing
    /// connections) plus identifiers that need escaping, an undocumented status and state, and every
    /// daemon counter set.
    static func richInput() -> MonitorSnapshot {
        var input = SyntheticFleet.input(connections: 3_000)
        input.organizations.append(
            organization(
                organizationB,
                [
                    tracked("quo\"te", organization: organizationB),
                    tracked("back\\slash\nnewline", organization: organizationB, health: unauthorized),
                    tracked("überprüfung-東京-🚀", organization: organizationB, vendor: "NEW_VENDOR", state: "ARCHIVED"),
                    tracked(
                        "future", organization: organizationB,
                        health: .init(status: "DEGRADED", name: "NEW_REASON", resolutionOwner: "PARTNER")),
                ]))
        input.daemon.journalSendErrors = 3
        input.daemon.lastReloadSuccessful = false
        return input
    }

    @Test("promtool check metrics: no errors and no lint problems")
    func checkMetrics() throws {
        let promtool = try promtool()
        let text = MetricsRenderer.renderString(Self.richInput(), process: ProcessMetrics.current() ?? fixedProcess)
        let result = try runProcess(promtool, ["check", "metrics"], stdin: Data(text.utf8))
        #expect(result.status == 0, "promtool check metrics:\n\(result.output)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(result.output)")
    }

    @Test("promtool check metrics: a sharded instance's exposition (shard label on every sample, leen_shard_info)")
    func checkShardedMetrics() throws {
        let promtool = try promtool()
        var input = Self.richInput()
        input.daemon.shard = Shard(index: 2, count: 4)
        let text = MetricsRenderer.renderString(input, process: ProcessMetrics.current() ?? fixedProcess)
        #expect(text.contains("leen_shard_info{shard=\"2\",shards=\"4\"} 1"))
        let result = try runProcess(promtool, ["check", "metrics"], stdin: Data(text.utf8))
        #expect(result.status == 0, "promtool check metrics:\n\(result.output)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(result.output)")
    }

    @Test("promtool check rules packaging/prometheus/alerts.yml")
    func checkRules() throws {
        let promtool = try promtool()
        let rules = packageRoot.appendingPathComponent("packaging/prometheus/alerts.yml").path
        let result = try runProcess(promtool, ["check", "rules", rules])
        #expect(result.status == 0, "promtool check rules:\n\(result.output)")
        #expect(result.output.contains("SUCCESS"), "\(result.output)")
    }

    @Test("promtool test rules packaging/prometheus/alerts_test.yml: every alert fires and stays quiet")
    func testRules() throws {
        let promtool = try promtool()
        let directory = packageRoot.appendingPathComponent("packaging/prometheus")
        let result = try runProcess(promtool, ["test", "rules", "alerts_test.yml"], directory: directory)
        #expect(result.status == 0, "promtool test rules:\n\(result.output)")
        #expect(result.output.contains("SUCCESS"), "\(result.output)")
    }

    @Test("Every Grafana dashboard query is valid PromQL (as recording rules for promtool check rules)")
    func dashboardQueries() throws {
        let promtool = try promtool()
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("packaging/grafana/leen-healthd.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.count >= 10)
        var rules = "groups:\n  - name: dashboard\n    rules:\n"
        for (index, expression) in expressions.enumerated() {
            let concrete = expression.replacingOccurrences(of: "$__rate_interval", with: "5m")
                .replacingOccurrences(of: "$job", with: ".*").replacingOccurrences(of: "$instance", with: ".*")
                .replacingOccurrences(of: "$organization", with: ".*")
            let quoted = String(decoding: try JSONSerialization.data(withJSONObject: [concrete], options: .withoutEscapingSlashes), as: UTF8.self)
            rules += "      - record: dashboard:query\(index)\n        expr: \(quoted.dropFirst().dropLast())\n"
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("leen-dashboard-\(UUID()).yml")
        try rules.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runProcess(promtool, ["check", "rules", file.path])
        #expect(result.status == 0, "promtool check rules (dashboard queries):\n\(result.output)")
    }
}
