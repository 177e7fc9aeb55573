import Foundation
import HealthdMetrics
import Testing

/// The alert rules, dashboard and docs name only metrics `/metrics` exports, and cover all of them.
@Suite("Shipped alert rules, dashboard and docs")
struct ShippedFilesTests {
    static func read(_ path: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every sample name the families produce, and their OpenMetrics family names.
    static let exportedNames = Set(
        MetricFamily.all.flatMap {
            [$0.name, $0.name + "_bucket", $0.name + "_sum", $0.name + "_count", $0.openMetricsName]
        })

    static func metricNames(in text: String) -> Set<String> {
        Set(text.matches(of: /\b((?:leen|process)_[a-z_]+[a-z])\b/).map { String($0.1) })
    }

    @Test("Every alert has firing and quiet test cases and uses only exported metrics")
    func alertRules() throws {
        let rules = try Self.read("packaging/prometheus/alerts.yml")
        let tests = try Self.read("packaging/prometheus/alerts_test.yml")
        let alerts = rules.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
        }
        #expect(
            Set(alerts).isSuperset(of: [
                "LeenConnectionUnhealthyCustomer", "LeenConnectionUnhealthyVendor", "LeenConnectionUnhealthyLeen",
                "LeenAPIDown", "LeenPollsStale", "LeenOAuthPendingTooLong", "LeenHealthdDown",
            ]))
        for alert in alerts {
            let cases = tests.components(separatedBy: "alertname: \(alert)\n").count - 1
            #expect(cases >= 2, "\(alert) needs firing and quiet cases in alerts_test.yml (has \(cases))")
        }
        let names = Self.metricNames(in: rules)
        #expect(!names.isEmpty)
        #expect(names.subtracting(Self.exportedNames).isEmpty, "\(names.subtracting(Self.exportedNames).sorted())")
    }

    @Test("The Grafana dashboard is valid JSON with a datasource variable and only exported metrics")
    func dashboard() throws {
        let text = try Self.read("packaging/grafana/leen-healthd.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let variables = try #require((json["templating"] as? [String: Any])?["list"] as? [[String: Any]])
        #expect(variables.contains { $0["type"] as? String == "datasource" && $0["query"] as? String == "prometheus" })
        let panels = try #require(json["panels"] as? [[String: Any]])
        #expect(panels.count >= 6)
        let titles = panels.compactMap { $0["title"] as? String }.joined(separator: "|").lowercased()
        for word in ["owner", "connections", "api up", "poll duration", "requests", "events", "paused", "credential verifications"] {
            #expect(titles.contains(word), "no panel about \(word)")
        }
        let names = Self.metricNames(in: text)
        #expect(names.subtracting(Self.exportedNames).isEmpty, "\(names.subtracting(Self.exportedNames).sorted())")
    }

    @Test("docs/metrics.md documents every family and every shipped alert")
    func docs() throws {
        let docs = try Self.read("docs/metrics.md")
        for family in MetricFamily.all {
            #expect(docs.contains("`\(family.name)`"), "\(family.name) is not documented")
        }
        let rules = try Self.read("packaging/prometheus/alerts.yml")
        for line in rules.split(separator: "\n") where line.contains("- alert: ") {
            let alert = line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
            #expect(docs.contains(alert), "\(alert) is not explained")
        }
        let names = Self.metricNames(in: docs)
        #expect(names.subtracting(Self.exportedNames).isEmpty, "\(names.subtracting(Self.exportedNames).sorted())")
    }
}
