import Foundation
@testable import HealthdCore
import LeenAPI
import Testing

/// A transition that must make exactly one event: its kind, priority and what its MESSAGE must mention.
struct ExpectedEvent: Sendable {
    var kind: EventKind
    var priority: EventPriority
    var mentions: [String]

    init(_ kind: EventKind, _ priority: EventPriority, _ mentions: [String]) {
        (self.kind, self.priority, self.mentions) = (kind, priority, mentions)
    }
}

typealias SingleEventCase = TransitionCase<ExpectedEvent>

@Suite("Event builder")
struct EventBuilderTests {
    typealias F = Fixture
    static let healthy = F.observation()
    static let alerts = F.detail("/alerts")

    static func observation(_ health: ConnectionObservation.Health?) -> ConnectionObservation {
        F.observation(health: health)
    }

    static func observation(state: ConnectionState, isActive: Bool = true) -> ConnectionObservation {
        F.observation(state: state, isActive: isActive)
    }

    static let cases: [SingleEventCase] = [
        // A status, name or owner change in one poll is one event.
        SingleEventCase(
            name: "recovered", previous: observation(F.health(.unauthorized, details: [alerts])), current: healthy,
            expected: .init(
                .connectionRecovered, .notice, ["recovered: HEALTHY", "was UNHEALTHY: UNAUTHORIZED (owner CUSTOMER"])),
        SingleEventCase(
            name: "unhealthy, CUSTOMER owned", previous: healthy, current: observation(F.health(.unauthorized)),
            expected: .init(
                .connectionUnhealthy, .error,
                ["became UNHEALTHY: UNAUTHORIZED (owner CUSTOMER)", "CUSTOMER must act", "was HEALTHY"])),
        SingleEventCase(
            name: "unhealthy, LEEN owned", previous: healthy, current: observation(F.health(.executionTimeout)),
            expected: .init(
                .connectionUnhealthy, .warning,
                ["became UNHEALTHY: EXECUTION_TIMEOUT (owner LEEN)", "LEEN-side", "was HEALTHY"])),
        SingleEventCase(
            name: "unhealthy, VENDOR owned", previous: healthy, current: observation(F.health(.vendorServerError)),
            expected: .init(
                .connectionUnhealthy, .warning,
                ["became UNHEALTHY: VENDOR_SERVER_ERROR (owner VENDOR)", "VENDOR-side", "was HEALTHY"])),
        SingleEventCase(
            name: "first health is unhealthy", previous: F.observation(state: .active, health: nil),
            current: observation(F.health(.unauthorized)),
            expected: .init(.connectionUnhealthy, .error, ["became UNHEALTHY: UNAUTHORIZED", "CUSTOMER must act"])),
        SingleEventCase(
            name: "unknown status", previous: observation(F.health(.executionTimeout)),
            current: observation(F.health("DEGRADED", "QUOTA_EXHAUSTED", .vendor)),
            expected: .init(
                .connectionUnhealthy, .warning,
                ["DEGRADED: QUOTA_EXHAUSTED (owner VENDOR)", "was UNHEALTHY: EXECUTION_TIMEOUT"])),
        SingleEventCase(
            name: "reason and owner changed", previous: observation(F.health(.executionTimeout)),
            current: observation(F.health(.unauthorized, details: [alerts])),
            expected: .init(
                .connectionReasonChanged, .error,
                ["is now UNHEALTHY: UNAUTHORIZED", "CUSTOMER must act", "was UNHEALTHY: EXECUTION_TIMEOUT"])),
        SingleEventCase(
            name: "reason changed, same owner", previous: observation(F.health(.executionTimeout)),
            current: observation(F.health(.rateLimitExceeded)),
            expected: .init(
                .connectionReasonChanged, .warning,
                ["is now UNHEALTHY: RATE_LIMIT_EXCEEDED (owner LEEN)", "was UNHEALTHY: EXECUTION_TIMEOUT"])),
        SingleEventCase(
            name: "owner changed", previous: observation(F.health(.unhealthy, .vendorClientError, .leen)),
            current: observation(F.health(.unhealthy, .vendorClientError, .vendor)),
            expected: .init(
                .connectionOwnerChanged, .warning, ["resolution owner is now VENDOR", "VENDOR-side", "(owner LEEN)"])),
        SingleEventCase(
            name: "owner changed to CUSTOMER", previous: observation(F.health(.unhealthy, "QUOTA_EXHAUSTED", .leen)),
            current: observation(F.health(.unhealthy, "QUOTA_EXHAUSTED", .customer)),
            expected: .init(.connectionOwnerChanged, .error, ["resolution owner is now CUSTOMER", "CUSTOMER must act"])),
        // Details alone.
        SingleEventCase(
            name: "details added", previous: observation(F.health(.unauthorized, details: [alerts])),
            current: observation(F.health(.unauthorized, details: [alerts, F.detail("/vulns", "vulnerabilities")])),
            expected: .init(
                .connectionDetailsChanged, .warning,
                ["1 failing endpoint(s) added, 0 cleared", "now UNHEALTHY: UNAUTHORIZED", "2 failing endpoint(s)"])),
        SingleEventCase(
            name: "details cleared", previous: observation(F.health(.unauthorized, details: [alerts])),
            current: observation(F.health(.unauthorized)),
            expected: .init(.connectionDetailsChanged, .notice, ["0 failing endpoint(s) added, 1 cleared"])),
        // State, OAuth and appearance.
        SingleEventCase(
            name: "state -> DELETED", previous: healthy, current: observation(state: .deleted, isActive: false),
            expected: .init(.connectionStateChanged, .warning, ["state ACTIVE -> DELETED"])),
        SingleEventCase(
            name: "state -> PAUSED", previous: healthy, current: observation(state: .paused, isActive: false),
            expected: .init(.connectionStateChanged, .notice, ["state ACTIVE -> PAUSED"])),
        SingleEventCase(
            name: "is_active flipped", previous: healthy, current: observation(state: .active, isActive: false),
            expected: .init(.connectionStateChanged, .notice, ["is_active true -> false"])),
        SingleEventCase(
            name: "OAuth pending", previous: F.observation(state: .pending, isActive: false, health: nil),
            current: F.observation(state: .pending, isActive: false, health: nil, oauthURL: F.oauthURL),
            expected: .init(.connectionOAuthPending, .warning, ["administrator must open", F.oauthURL])),
        SingleEventCase(
            name: "OAuth completed",
            previous: F.observation(state: .active, isActive: false, health: nil, oauthURL: F.oauthURL),
            current: F.observation(state: .active, isActive: false, health: nil),
            expected: .init(.connectionOAuthCompleted, .notice, ["OAuth authorisation completed"])),
        SingleEventCase(
            name: "monitored, healthy", previous: nil, current: healthy,
            expected: .init(.connectionMonitored, .info, ["now monitored: HEALTHY"])),
        SingleEventCase(
            name: "monitored, unhealthy", previous: nil, current: observation(F.health(.unauthorized)),
            expected: .init(.connectionMonitored, .error, ["now monitored: UNHEALTHY: UNAUTHORIZED"])),
        SingleEventCase(
            name: "disappeared", previous: observation(F.health(.executionTimeout)), current: nil,
            expected: .init(
                .connectionDisappeared, .warning, ["no longer listed", "last seen UNHEALTHY: EXECUTION_TIMEOUT"])),
        SingleEventCase(
            name: "reappeared", previous: healthy, current: healthy, previouslyMissing: true,
            expected: .init(.connectionReappeared, .notice, ["listed again: HEALTHY"])),
    ]

    @Test(arguments: cases)
    func oneEvent(_ row: SingleEventCase) throws {
        let events = row.events
        #expect(events.map(\.kind) == [row.expected.kind])
        let event = try #require(events.first)
        #expect(event.priority == row.expected.priority)
        #expect(event[field: "LEEN_EVENT"] == row.expected.kind.rawValue)
        for text in ["tenable-prod (TENABLE, \(F.organizationLabel))"] + row.expected.mentions {
            #expect(event.message.contains(text), "\(text) not in: \(event.message)")
        }
    }

    @Test func healthAndDetailsInOnePollAreOneEventCarryingTheDetails() throws {
        let vulns = F.detail("/vulns", "vulnerabilities")
        let events = F.events(
            from: Self.healthy, to: Self.observation(F.health(.unauthorized, details: [vulns, Self.alerts])))
        let event = try #require(events.count == 1 ? events.first : nil)
        #expect(event.kind == .connectionUnhealthy)
        #expect(
            event[field: "LEEN_DETAILS_ADDED"]
                == #"[{"endpoint":"/alerts","data_export_type":"alerts"},{"endpoint":"/vulns","data_export_type":"vulnerabilities"}]"#
        )
        #expect(event[field: "LEEN_DETAILS_ADDED_COUNT"] == "2")
        #expect(event[field: "LEEN_DETAILS_REMOVED"] == "[]")
        #expect(event[field: "LEEN_DETAILS_REMOVED_COUNT"] == "0")
    }

    @Test func fieldsOfAnUnhealthyEventInOrder() throws {
        let event = try #require(
            F.events(from: Self.healthy, to: Self.observation(F.health(.unauthorized, details: [Self.alerts]))).first)
        let alerts = #"[{"endpoint":"/alerts","data_export_type":"alerts"}]"#
        let expected: [(String, String)] = [
            ("LEEN_EVENT", "connection_unhealthy"),
            ("LEEN_OBSERVED_AT", "2023-11-14T22:13:20.000Z"), ("LEEN_ORGANIZATION_ID", F.organization.rawValue),
            ("LEEN_CONNECTION_ID", "conn-tenable-prod"), ("LEEN_IDENTIFIER", "tenable-prod"),
            ("LEEN_VENDOR", "TENABLE"), ("LEEN_EFFECTIVE_STATUS", "UNHEALTHY"), ("LEEN_STATE", "ACTIVE"),
            ("LEEN_IS_ACTIVE", "true"),
            ("LEEN_STATUS", "UNHEALTHY"), ("LEEN_HEALTH_NAME", "UNAUTHORIZED"), ("LEEN_RESOLUTION_OWNER", "CUSTOMER"),
            ("LEEN_HEALTH_DESCRIPTION", "Connection is unauthorized"), ("LEEN_DETAILS", alerts),
            ("LEEN_DETAILS_COUNT", "1"), ("LEEN_PREVIOUS_STATE", "ACTIVE"), ("LEEN_PREVIOUS_STATUS", "HEALTHY"),
            ("LEEN_PREVIOUS_HEALTH_NAME", "HEALTHY"), ("LEEN_PREVIOUS_RESOLUTION_OWNER", "LEEN"),
            ("LEEN_DETAILS_ADDED", alerts), ("LEEN_DETAILS_ADDED_COUNT", "1"), ("LEEN_DETAILS_REMOVED", "[]"),
            ("LEEN_DETAILS_REMOVED_COUNT", "0"),
        ]
        #expect(event.fields == expected.map { EventField($0.0, $0.1) })
        #expect(
            event.journalFields.prefix(4).map(\.name) == ["MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER"])
        #expect(event.journalFields[1].value == EventKind.connectionUnhealthy.messageID)
        #expect(event.journalFields[2].value == "3")
        #expect(event.journalFields[3].value == "leen-healthd")
    }

    @Test func detailsAreSortedCompactJSON() throws {
        let details: Set<HealthDetail> = [
            F.detail("/z"), F.detail("/a", "users"), F.detail("/a", "alerts"), F.detail("/q\"uote ü", "issues"),
        ]
        let event = try #require(
            F.events(from: Self.healthy, to: Self.observation(F.health(.unauthorized, details: details))).first)
        let json = try #require(event[field: "LEEN_DETAILS_ADDED"])
        #expect(
            json == #"[{"endpoint":"/a","data_export_type":"alerts"},{"endpoint":"/a","data_export_type":"users"},"#
                + #"{"endpoint":"/q\"uote ü","data_export_type":"issues"},{"endpoint":"/z","data_export_type":"alerts"}]"#
        )
        #expect(try JSONDecoder().decode([HealthDetail].self, from: Data(json.utf8)) == details.sorted())
        #expect(event[field: "LEEN_DETAILS"] == json)
        #expect(event[field: "LEEN_DETAILS_COUNT"] == "4")
    }

    @Test func detailsAreCutAtTheByteLimitAsAValidArrayWithTheFullCount() throws {
        let details = Set((0..<100).map { F.detail("/api/v2/organizations/endpoint-\($0 + 100)", "vulnerabilities") })
        let sorted = details.sorted()
        let event = try #require(
            F.events(
                from: Self.observation(F.health(.unauthorized)),
                to: Self.observation(F.health(.unauthorized, details: details))
            ).first)
        #expect(event.kind == .connectionDetailsChanged)
        for name in ["LEEN_DETAILS_ADDED", "LEEN_DETAILS"] {
            let json = try #require(event[field: name])
            #expect(json.utf8.count <= EventBuilder.detailsByteLimit)
            let kept = try JSONDecoder().decode([HealthDetail].self, from: Data(json.utf8))
            #expect(kept.count > 0 && kept.count < sorted.count)
            #expect(kept == Array(sorted.prefix(kept.count)))
            // Nothing was cut early: one more item would not have fitted.
            let next = String(decoding: try JSONEncoder.compact.encode(sorted[kept.count]), as: UTF8.self)
            #expect(json.utf8.count + 1 + next.utf8.count > EventBuilder.detailsByteLimit)
            #expect(event[field: "\(name)_COUNT"] == "100")
        }
        #expect(event.message.contains("100 failing endpoint(s) added"))
    }

    @Test func aSingleDetailLargerThanTheLimitLeavesAnEmptyArray() throws {
        let huge = F.detail("/" + String(repeating: "x", count: EventBuilder.detailsByteLimit))
        let event = try #require(
            F.events(from: Self.healthy, to: Self.observation(F.health(.unauthorized, details: [huge]))).first)
        #expect(event[field: "LEEN_DETAILS_ADDED"] == "[]")
        #expect(event[field: "LEEN_DETAILS_ADDED_COUNT"] == "1")
    }

    @Test func eachChangeOfAKindOtherThanHealthGetsItsOwnEvent() {
        let previous = F.observation(state: .pending, isActive: false, health: F.health(.executionTimeout))
        let current = F.observation(
            state: .paused, isActive: false, health: F.health(.unauthorized, details: [Self.alerts]),
            oauthURL: F.oauthURL)
        var events = F.events(from: previous, to: current, previouslyMissing: true)
        #expect(
            events.map(\.kind) == [
                .connectionReappeared, .connectionReasonChanged, .connectionStateChanged, .connectionOAuthPending,
            ])
        #expect(events[3][field: "LEEN_OAUTH_URL"] == F.oauthURL)
        // Each gets its own id and the next number in the connection's sequence when committed.
        var stream = EventStream(id: "s")
        stream.stamp(&events)
        #expect(events.map { $0[field: "LEEN_EVENT_SEQUENCE"] } == ["1", "2", "3", "4"])
        #expect(Set(events.compactMap { $0[field: "LEEN_EVENT_ID"] }).count == 4)
    }

    // MARK: API and other events

    @Test(arguments: [
        (EventKind.apiUnreachable, PollFailure.Kind.timeout, Optional<Int>.none, "unknown (stale)"),
        (.apiUnreachable, .server, 503, "unknown (stale)"),
        (.apiRejected, .unauthorized, 401, "check the API key and region"),
    ])
    func apiFailureEvents(_ kind: EventKind, _ error: PollFailure.Kind, _ status: Int?, _ mention: String) {
        let failure = PollFailure(
            kind: error, status: status, detail: status.map { "HTTP \($0) from Leen" },
            summary: "list_connections failed")
        let event = EventBuilder.apiEvent(
            kind, organizationID: F.organization, failure: failure, since: F.at(-5), context: F.context())
        #expect(event.kind == kind)
        #expect(event.priority == .error)
        #expect(event.message.contains(F.organizationLabel))
        #expect(event.message.contains("list_connections failed"))
        #expect(event.message.contains(mention))
        #expect(event[field: "LEEN_ORGANIZATION_ID"] == F.organization.rawValue)
        #expect(event[field: "LEEN_API_ERROR"] == error.rawValue)
        #expect(event[field: "LEEN_HTTP_STATUS"] == status.map(String.init))
        #expect(event[field: "LEEN_API_DETAIL"] == status.map { "HTTP \($0) from Leen" })
        #expect(event[field: "LEEN_FAILING_SINCE"] == "2023-11-14T22:08:20.000Z")
        #expect(event[field: "LEEN_CONNECTION_ID"] == nil)
    }

    @Test func apiRecoveredIsNotice() {
        let event = EventBuilder.apiEvent(
            .apiRecovered, organizationID: F.organization, failure: nil, since: F.at(-5), context: F.context())
        #expect(event.priority == .notice)
        #expect(event.message == "Polling \(F.organizationLabel) works again (failing since 2023-11-14T22:08:20.000Z)")
        #expect(event[field: "LEEN_API_ERROR"] == nil)
    }

    @Test func everyFieldNameIsValidAndNamespaced() {
        var events = ConnectionDiffTests.cases.flatMap(\.events) + Self.cases.flatMap(\.events)
        let failure = PollFailure(kind: .forbidden, status: 403, detail: "Forbidden", summary: "403")
        for kind in [EventKind.apiUnreachable, .apiRejected, .apiRecovered] {
            events.append(
                EventBuilder.apiEvent(
                    kind, organizationID: F.organization, failure: failure, since: F.time, context: F.context()))
        }
        events.append(
            EventBuilder.configReloadFailed(reason: "/etc/x:3:1: unknown key", context: F.context()))
        // Every connection kind, the three API kinds and one other.
        #expect(Set(events.map(\.kind)).count == 15)
        for event in events {
            let names = event.fields.map(\.name)
            #expect(names.allSatisfy { EventField.isValidName($0) && $0.hasPrefix("LEEN_") }, "\(names)")
            #expect(Set(names).count == names.count, "repeated field in \(names)")
            #expect(Array(names.prefix(2)) == ["LEEN_EVENT", "LEEN_OBSERVED_AT"], "ids come from EventStream.stamp")
            #expect(event.journalFields.allSatisfy { EventField.isValidName($0.name) })
            #expect(Array(event.journalFields.dropFirst(4)) == event.fields)
        }
    }

    @Test func messageIDsAreUnique128BitLowerCaseHex() {
        let ids = EventKind.allCases.map(\.messageID)
        #expect(Set(ids).count == EventKind.allCases.count)
        for id in ids {
            #expect(
                id.utf8.count == 32 && id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }, "\(id)"
            )
        }
    }

    @Test(arguments: [
        ("LEEN_STATUS", true), ("MESSAGE", true), ("A", true), ("LEEN_2", true), ("X_", true),
        (String(repeating: "A", count: 64), true), (String(repeating: "A", count: 65), false),
        ("", false), ("leen_status", false), ("Leen_Status", false), ("_LEEN", false), ("_SYSTEMD_UNIT", false),
        ("1LEEN", false), ("LEEN-STATUS", false), ("LEEN.STATUS", false), ("LEEN STATUS", false),
        ("LEEN=X", false), ("LEEN_É", false),
    ])
    func fieldNameValidity(_ name: String, _ valid: Bool) {
        #expect(EventField.isValidName(name) == valid)
    }
}

extension EventBuilderTests {
    @Test("a quoted text is what JSONEncoder writes, with or without escapes")
    func quotedTextsAreJSONEncoders() throws {
        var texts = [
            "", "plain", "https://api.vendor.example/v1/alerts?a=1&b=2", "é ✓ 😀", "\u{7F}", "\u{2028}\u{2029}", "\u{FEFF}",
            "a\"b", "a\\b", "tab\there", "line\nbreak", "\r\u{8}\u{C}", "</script>",
        ]
        texts += (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }
        for text in texts {
            let encoded = String(decoding: try JSONEncoder.compact.encode(text), as: UTF8.self)
            #expect(EventBuilder.quoted(text) == encoded, "\(text.debugDescription)")
        }
    }
}
