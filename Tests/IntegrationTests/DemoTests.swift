import HealthdTestSupport
import Foundation
import HealthdCore
import Testing
import AsyncHTTPClient
import NIOCore

@testable import Healthd
import HealthdDemo

@Suite("leen-healthd demo")
struct DemoTests {
    /// One printed event line: `TIME  PRIORITY  KIND  MESSAGE`.
    struct EventLine {
        var kind: EventKind
        var message: String
        /// The message's first word: the connection's identifier for connection events.
        var subject: String { String(message.prefix { $0 != " " }) }

        init?(_ line: String) {
            let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
            guard words.count == 4, let kind = EventKind(rawValue: String(words[2])) else { return nil }
            self.kind = kind
            message = String(words[3]).trimmingCharacters(in: .whitespaces)
        }
    }

    static let declared: Set<String> = [
        "tenable-prod", "entra", "aws-inspector", "insightvm", "crowdstrike-spotlight", "defender-vms",
        "sentinelone-vms", "qualys", "wiz", "github", "okta",
    ]

    @Test("an 8-second demo provisions, monitors, reports health changes, serves /metrics and /status, and ends with the status table")
    func eightSecondDemo() async throws {
        let output = Lines()
        let started = ContinuousClock.now
        let demo = Task { try await Demo.run(Demo.Options(duration: .seconds(8)), logger: quietLogger) { output.append($0) } }
        // The banner says where the daemon serves its endpoints; both answer while the demo runs.
        var base: String?
        for _ in 0..<100 where base == nil {
            base = output.all.lazy.compactMap { $0.firstMatch(of: /curl (http:\S+)\/metrics/).map { String($0.1) } }.first
            if base == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let endpoint = try #require(base, "no metrics line in \(output.all)")
        try await Task.sleep(for: .seconds(4))
        let metrics = try await Self.get(endpoint + "/metrics")
        #expect(metrics.contains("leen_connection_status{"), "\(metrics.prefix(500))")
        try Self.promtoolCheck(metrics)
        let status = try JSONSerialization.jsonObject(with: Data(try await Self.get(endpoint + "/status").utf8))
        #expect("\(status)".contains("tenable-prod"))
        try await demo.value
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .seconds(8))
        #expect(elapsed < .seconds(20), "the demo took \(elapsed)")

        let lines = output.all.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines.first?.hasPrefix("leen-sim listening on http://127.0.0.1:") == true)
        let events = lines.compactMap(EventLine.init)
        func subjects(_ kind: EventKind) -> [String] { events.filter { $0.kind == kind }.map(\.subject) }

        // "Created IDENTIFIER (VENDOR) in ORGANIZATION as connection ID"
        let created = events.filter { $0.kind == .connectionCreated }.map { $0.message.split(separator: " ")[1] }
        #expect(created.count == 10, "\(created)")
        #expect(Set(created.map(String.init)) == Self.declared.subtracting(["tenable-prod"]))
        let adopted = events.filter { $0.kind == .connectionAdopted }.map(\.message)
        #expect(adopted.count == 1)
        #expect(adopted.first?.contains(" as tenable-prod (TENABLE)") == true)
        let unmanaged = events.filter { $0.kind == .connectionUnmanaged }.map(\.message)
        #expect(unmanaged.count == 1)
        #expect(unmanaged.first?.contains("identifier legacy-qualys") == true)

        let monitored = subjects(.connectionMonitored)
        #expect(monitored.count == 11)
        #expect(Set(monitored) == Self.declared)
        #expect(Set(subjects(.connectionOAuthPending)) == ["entra", "defender-vms"])
        let transitions = events.filter { $0.kind == .connectionUnhealthy || $0.kind == .connectionRecovered }
        #expect(!transitions.isEmpty, "no health transition in \(events.map(\.kind.rawValue))")
        #expect(!events.contains { $0.kind == .provisioningFailed })

        // The summary: a separator, the one-line summary, then the table's header and one row per connection.
        let separator = try #require(lines.lastIndex { $0.hasPrefix("-----") })
        let tail = lines[(separator + 1)...].filter { !$0.isEmpty }
        #expect(tail.first?.hasPrefix("11 connections: ") == true)
        let header = try #require(tail.firstIndex { $0.hasPrefix("ORGANIZATION") })
        let rows = Array(tail[(header + 1)...].prefix { $0 != "What to do:" })
        #expect(rows.count == 11, "\(rows)")
        let identifiers = Set(
            rows.compactMap { row in
                row.split(separator: " ").map(String.init).first { Self.declared.contains($0) }
            })
        #expect(identifiers == Self.declared)
    }

    @Test("A longer demo: the customer replaces rejected credentials, the daemon rotates them, the connection recovers, and the fleet stays mostly healthy")
    func customerFixesCredentials() async throws {
        let output = Lines()
        var options = Demo.Options(duration: .seconds(45))
        options.customerDelay = .seconds(5)
        try await Demo.run(options, logger: quietLogger) { output.append($0) }
        let lines = output.all.flatMap { $0.split(separator: "\n").map(String.init) }
        // The demo scripts a credential failure of tenable-prod 20 s in (simulated 16 h): what follows it, in order.
        func index(after start: Int, _ match: (String) -> Bool) -> Int? {
            lines.indices.first { $0 > start && match(lines[$0]) }
        }
        let rejected = try #require(
            index(after: -1) {
                $0.contains("connection_unhealthy ") && $0.contains("tenable-prod") && $0.contains("UNAUTHORIZED")
            }, "\(lines)")
        let tested = try #require(index(after: rejected) { $0.contains("credentials_tested") && $0.contains("tenable-prod") })
        let fixed = try #require(index(after: rejected) { $0.hasPrefix("customer: new credentials for tenable-prod") })
        let rotated = try #require(
            index(after: fixed) { $0.contains("credentials_rotated") && $0.contains("tenable-prod") }, "\(lines)")
        #expect(lines[rotated].contains("valid"))
        #expect(!lines[rotated].contains("INVALID"))
        #expect(tested < rotated)
        let recovered = try #require(
            index(after: rotated) { $0.contains("connection_recovered") && $0.contains("tenable-prod") }, "\(lines)")
        #expect(recovered > rotated)

        // Transient failures come and go; most of the fleet is healthy at the end.
        let summary = try #require(lines.last { $0.hasPrefix("11 connections: ") })
        let healthy = try #require(summary.firstMatch(of: /([0-9]+) healthy/).flatMap { Int($0.1) })
        #expect(healthy >= 5, "\(summary)")
    }

    static func get(_ url: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        return String(buffer: try await response.body.collect(upTo: 16 << 20))
    }

    /// `promtool check metrics` on an exposition (a missing promtool fails in CI, skips elsewhere).
    static func promtoolCheck(_ exposition: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard SystemTool.find("promtool") != nil else {
            SystemTool.missing("promtool is not installed (Debian package prometheus)", sourceLocation: sourceLocation)
            return
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("leen-demo-metrics-\(UUID().uuidString)")
        try exposition.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try SystemTool.spawn(["sh", "-c", "promtool check metrics < '\(file.path)'"])
        #expect(result.status == 0, "promtool: \(result.output)", sourceLocation: sourceLocation)
    }
}
