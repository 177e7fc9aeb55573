import HealthdTestSupport
import Foundation
import HealthdCore
import Testing

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

    @Test("an 8-second demo provisions, monitors, reports health changes and ends with the status table")
    func eightSecondDemo() async throws {
        let output = Lines()
        let started = ContinuousClock.now
        try await Demo.run(Demo.Options(duration: .seconds(8)), logger: quietLogger) { output.append($0) }
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
        let rows = Array(tail[(header + 1)...])
        #expect(rows.count == 11, "\(rows)")
        let identifiers = Set(
            rows.compactMap { row in
                row.split(separator: " ").map(String.init).first { Self.declared.contains($0) }
            })
        #expect(identifiers == Self.declared)
    }
}
