import Foundation
import LeenAPI
import Testing

@testable import HealthdCore

@Suite("Configuration: alerting")
struct ConfigAlertingTests {
    /// A valid configuration whose `alerting:` section is `section` (indented under it, from line 6).
    static func yaml(_ section: String) -> String {
        """
        api: {region: us, key: {credential: leen-api-key}}
        organizations:
          - id: 3c90c3cc-0d44-4b50-8888-8dd25736052a
            connections: []
        alerting:
        \(section.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    static func issues(_ yaml: String) -> [String] {
        do {
            _ = try ConfigParser.parse(yaml, path: "t.yaml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test func defaults() throws {
        let alerting = try ConfigParser.parse(Self.yaml(""), path: "t.yaml").alerting
        #expect(alerting == Configuration.Alerting())
        #expect(alerting.customer == .immediate)
        #expect(alerting.leen == .init(polls: 2, minimum: .seconds(3600)))
        #expect(alerting.vendor == .init(polls: 3, minimum: .seconds(14_400)))
        #expect(alerting.healthNames == [.unauthorized: .immediate])
        #expect(alerting.api == .init(polls: 3, after: .seconds(600)))
        #expect(alerting.flapping == .init(changes: 4, window: .seconds(86_400), stableFor: .seconds(28_800)))
        #expect(alerting.remindEvery == .seconds(86_400))
        #expect(alerting.heartbeat == .seconds(3600))
    }

    @Test func everyKeyParses() throws {
        let alerting = try ConfigParser.parse(
            Self.yaml(
                """
                confirm:
                  customer: {polls: 2}
                  leen: {polls: 1, for: 0}
                  vendor: {polls: 4, for: 8h}
                  health_names:
                    VENDOR_SERVER_ERROR: {polls: 5, for: 12h}
                    UNAUTHORIZED: {polls: 1}
                api: {polls: 5, after: 30m}
                flapping: {changes: 6, window: 12h, stable_for: 2h}
                incidents: {min_connections: 20, min_share: 25%, min_organization_size: 8}
                remind_every: 6h
                heartbeat: 15m
                """), path: "t.yaml"
        ).alerting
        #expect(alerting.customer == .init(polls: 2))
        #expect(alerting.leen == .immediate)
        #expect(alerting.vendor == .init(polls: 4, minimum: .seconds(28_800)))
        #expect(alerting.healthNames == [.vendorServerError: .init(polls: 5, minimum: .seconds(43_200)), .unauthorized: .immediate])
        #expect(alerting.api == .init(polls: 5, after: .seconds(1800)))
        #expect(alerting.flapping == .init(changes: 6, window: .seconds(43_200), stableFor: .seconds(7200)))
        #expect(alerting.incidents == .init(minimumConnections: 20, minimumShare: 0.25, minimumOrganizationSize: 8))
        #expect(alerting.remindEvery == .seconds(21_600))
        #expect(alerting.heartbeat == .seconds(900))
        // The rule for a health name beats the owner's; an unknown owner takes LEEN's.
        #expect(alerting.rule(for: .init(status: .unhealthy, name: .vendorServerError, resolutionOwner: .vendor)).polls == 5)
        #expect(alerting.rule(for: .init(status: .unhealthy, name: "NEW_NAME", resolutionOwner: "SOMEONE")) == .immediate)
    }

    @Test(arguments: ["off", "false", "~"])
    func switchesTurnOff(_ word: String) throws {
        let alerting = try ConfigParser.parse(
            Self.yaml("flapping: \(word)\nincidents: \(word)\nremind_every: \(word)\nheartbeat: \(word)"), path: "t.yaml"
        ).alerting
        #expect(alerting.flapping == nil)
        #expect(alerting.incidents == nil)
        #expect(alerting.remindEvery == nil)
        #expect(alerting.heartbeat == nil)
    }

    static let errorCases: [(String, String, [String])] = [
        (
            "unknown key", "remind_evry: 1h",
            ["t.yaml:6:3: alerting: unknown key 'remind_evry'; did you mean 'remind_every'?"]
        ),
        (
            "unknown owner", "confirm: {customers: {polls: 1}}",
            ["t.yaml:6:13: alerting.confirm: unknown key 'customers'; did you mean 'customer'?"]
        ),
        (
            "unknown rule key", "confirm: {leen: {poll: 1}}",
            ["t.yaml:6:20: alerting.confirm.leen: unknown key 'poll'; did you mean 'polls'?"]
        ),
        (
            "unknown health name", "confirm: {health_names: {UNAUTHORISED: {polls: 1}}}",
            [
                "t.yaml:6:28: alerting.confirm.health_names: unknown health name 'UNAUTHORISED'; expected one of "
                    + "EXECUTION_TIMEOUT, RATE_LIMIT_EXCEEDED, VENDOR_CLIENT_ERROR, INTERNAL_ERROR, "
                    + "VENDOR_SERVER_ERROR, UNAUTHORIZED"
            ]
        ),
        ("zero polls", "api: {polls: 0}", ["t.yaml:6:16: alerting.api.polls: must be at least 1, found 0"]),
        (
            "bad duration", "heartbeat: hourly",
            [
                "t.yaml:6:14: alerting.heartbeat: expected a duration such as 30s, 5m, 1h30m or 250ms, found "
                    + "'hourly'"
            ]
        ),
        (
            "share above 100%", "incidents: {min_share: 150%}",
            ["t.yaml:6:26: alerting.incidents.min_share: must be more than 0 and at most 100%, found 150%"]
        ),
        (
            "incident of one", "incidents: {min_connections: 1}",
            ["t.yaml:6:32: alerting.incidents.min_connections: must be at least 2, found 1"]
        ),
    ]

    @Test(arguments: errorCases)
    func reportsError(_ name: String, _ yaml: String, _ expected: [String]) {
        #expect(Self.issues(Self.yaml(yaml)) == expected, "\(name)")
    }
}
