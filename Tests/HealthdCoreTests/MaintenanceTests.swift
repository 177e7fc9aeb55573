import Foundation
import HealthdCore
import LeenAPI
import Testing

/// The pure parts of issue #13's maintenance and remediation: paused connections, the credential tests an
/// UNAUTHORIZED change calls for, the credential-file watch and its debounce, provisioning on request, and
/// the rotation and test events.
@Suite("Maintenance and credential rotation (pure parts)")
struct MaintenanceTests {
    typealias F = Fixture
    typealias Harness = ConnectionAlertingTests.Harness

    // MARK: Paused connections

    @Test("a paused connection's health events are info and it is never confirmed; its state change stays a notice")
    func pausedConnectionDoesNotAlert() {
        var harness = Harness()
        _ = harness.poll(.healthy, at: 0)
        let paused = harness.poll(.healthy, state: .paused, at: 1)
        #expect(paused.map(\.kind) == [.connectionStateChanged])
        #expect(paused.first?.priority == .notice)
        #expect(paused.first?[field: "LEEN_EFFECTIVE_STATUS"] == "PAUSED")
        // Health that changes while paused (a job that was running, Leen's own view) pages nobody.
        let unauthorized = harness.poll(.unauthorized, state: .paused, at: 2)
        #expect(unauthorized.map(\.kind) == [.connectionUnhealthy])
        #expect(unauthorized.allSatisfy { $0.priority == .info })
        #expect(!harness.alert.isConfirmed)
        #expect(harness.poll(.unauthorized, state: .paused, at: 300).isEmpty, "no confirmation, no reminder")
        // Resumed and still UNAUTHORIZED: the rules apply again (CUSTOMER is confirmed at once).
        let resumed = harness.poll(.unauthorized, state: .active, at: 301)
        #expect(resumed.map(\.kind) == [.connectionStateChanged, .connectionUnhealthyConfirmed])
        #expect(resumed.last?.priority == .error)
    }

    // MARK: Credential tests for UNAUTHORIZED

    static func stamped(_ events: [HealthEvent]) -> [HealthEvent] {
        var events = events
        var stream = EventStream()
        stream.stamp(&events)
        return events
    }

    @Test("an UNAUTHORIZED change calls for one credential test that names its event; other changes none")
    func credentialTestRequests() throws {
        var harness = Harness()
        #expect(CredentialTestRequest.requests(for: Self.stamped(harness.poll(.healthy, at: 0))).isEmpty)
        let events = Self.stamped(harness.poll(.unauthorized, at: 1))
        let requests = CredentialTestRequest.requests(for: events)
        let unhealthy = try #require(events.first { $0.kind == .connectionUnhealthy })
        #expect(
            requests == [
                CredentialTestRequest(
                    organizationID: F.organization, connectionID: F.connectionID("a"), identifier: "a", vendor: .tenable,
                    relatedEventID: try #require(unhealthy[field: "LEEN_EVENT_ID"]))
            ])
        // Still UNAUTHORIZED (only details change), or a reason change away from it: no new test.
        #expect(CredentialTestRequest.requests(for: Self.stamped(harness.poll(.unauthorized, at: 2))).isEmpty)
        #expect(CredentialTestRequest.requests(for: Self.stamped(harness.poll(.vendorServerError, at: 3))).count == 0)
        // A reason change into UNAUTHORIZED does call for one.
        #expect(CredentialTestRequest.requests(for: Self.stamped(harness.poll(.unauthorized, at: 4))).count == 1)
        // First seen UNAUTHORIZED (a start): not a change.
        var fresh = Harness()
        #expect(CredentialTestRequest.requests(for: Self.stamped(fresh.poll(.unauthorized, at: 0))).isEmpty)
        // Unstamped events (no id) are never asked about.
        var unstamped = Harness()
        _ = unstamped.poll(.healthy, at: 0)
        #expect(CredentialTestRequest.requests(for: unstamped.poll(.unauthorized, at: 1)).isEmpty)
    }

    @Test("credentials_tested: the answer, sanitised, and the event it completes")
    func credentialsTestedEvent() {
        let request = CredentialTestRequest(
            organizationID: F.organization, connectionID: F.connectionID("a"), identifier: "a", vendor: .tenable,
            relatedEventID: "3f1c0a4e-0000-4000-8000-000000000001")
        let secret = "password=hunter2-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
        let verification = CredentialVerification(isValid: false, message: "Vendor said 401 for \(secret)")
        #expect(verification.result == "invalid")
        let event = EventBuilder.credentialsTested(request, verification, context: F.context())
        #expect(event.kind == .credentialsTested && event.priority == .notice)
        #expect(event[field: "LEEN_RELATED_EVENT_ID"] == request.relatedEventID)
        #expect(event[field: "LEEN_CREDENTIALS_VALID"] == "false")
        #expect(event[field: "LEEN_VERIFICATION"] == "invalid")
        let message = event[field: "LEEN_CREDENTIALS_TEST_MESSAGE"] ?? ""
        #expect(message.hasPrefix("Vendor said 401 for"))
        #expect(!message.contains("hunter2") && !event.message.contains("hunter2"))
        // A failed call still makes the event, with the API failure instead of an answer.
        let failed = EventBuilder.credentialsTested(
            request, .failed(PollFailure(kind: .timeout, summary: "test_connection_by_id timed out")), context: F.context())
        #expect(failed[field: "LEEN_CREDENTIALS_VALID"] == nil && failed[field: "LEEN_API_ERROR"] == "timeout")
        #expect(failed[field: "LEEN_VERIFICATION"] == "error")
    }

    // MARK: Rotation events

    static let subject = EventBuilder.ProvisioningSubject(
        organization: OrganizationConfig(id: F.organization, name: "Acme", connections: []), identifier: "a",
        vendor: .tenable, connectionID: F.connectionID("a"))

    @Test(
        "credentials_rotated: notice when valid, err when invalid (said loudly), warning when the test could not run",
        arguments: [
            (CredentialVerification.valid(message: "Credentials are valid"), EventPriority.notice, "true"),
            (.invalid(message: "The vendor rejected the credentials"), .error, "false"),
            (.failed(PollFailure(kind: .server, status: 503, summary: "test_connection_by_id answered HTTP 503")), .warning, nil),
        ] as [(CredentialVerification, EventPriority, String?)])
    func credentialsRotatedEvent(verification: CredentialVerification, priority: EventPriority, valid: String?) {
        let event = EventBuilder.credentialsRotated(Self.subject, verification, context: F.context())
        #expect(event.kind == .credentialsRotated)
        #expect(event.priority == priority)
        #expect(event[field: "LEEN_CREDENTIALS_VALID"] == valid)
        #expect(event[field: "LEEN_VERIFICATION"] == verification.result)
        #expect(event[field: "LEEN_IDENTIFIER"] == "a" && event[field: "LEEN_CONNECTION_ID"] == "conn-a")
        // Never claims the connection is fixed: only Leen's next health says so.
        #expect(!event.message.lowercased().contains("fixed") && !event.message.contains("HEALTHY"))
        if priority == .error { #expect(event.message.contains("FAILED")) }
    }

    @Test("operator pause and resume events say who, and the states")
    func operatorEvents() {
        let paused = EventBuilder.connectionStateSetByOperator(
            Self.subject, paused: true, previous: .active, operator: "alice", context: F.context())
        #expect(paused.kind == .connectionPausedByOperator && paused.priority == .notice)
        #expect(paused[field: "LEEN_OPERATOR"] == "alice")
        #expect(paused[field: "LEEN_STATE"] == "PAUSED" && paused[field: "LEEN_PREVIOUS_STATE"] == "ACTIVE")
        #expect(paused.message.hasPrefix("alice paused a (TENABLE) in Acme"))
        let resumed = EventBuilder.connectionStateSetByOperator(
            Self.subject, paused: false, previous: .paused, operator: "uid 0", context: F.context())
        #expect(resumed.kind == .connectionResumedByOperator && resumed[field: "LEEN_STATE"] == "ACTIVE")
        #expect(EventKind.connectionPausedByOperator.messageID != EventKind.connectionResumedByOperator.messageID)
    }

    @Test("the operator is SUDO_USER, else USER, else the uid")
    func operatorIdentity() {
        #expect(OperatorIdentity.describe(environment: ["SUDO_USER": "alice", "USER": "root"], uid: 0) == "alice")
        #expect(OperatorIdentity.describe(environment: ["SUDO_USER": "", "USER": "bob"], uid: 1000) == "bob")
        #expect(OperatorIdentity.describe(environment: [:], uid: 1000) == "uid 1000")
    }

    // MARK: Watching credential files

    static func configuration() throws -> Configuration {
        try ConfigParser.parse(
            """
            api:
              base_url: http://127.0.0.1:1/v1
              key: { file: /etc/leen/api-key }
            organizations:
              - id: aaaaaaaa-0000-4000-8000-000000000001
                connections:
                  - identifier: t1
                    vendor: TENABLE
                    credentials:
                      client_key: { file: /etc/leen/secrets/t1-client }
                      secret_key: { file: /etc/leen/secrets/t1-secret }
                  - identifier: q1
                    vendor: QUALYS
                    credentials:
                      username: svc
                      password: { credential: qualys-password }
              - id: bbbbbbbb-0000-4000-8000-000000000002
                connections:
                  - identifier: t2
                    vendor: TENABLE
                    credentials:
                      client_key: { file: /etc/leen/secrets/t1-client }
                      secret_key: { file: /srv/other/t2-secret }
            """, path: "test.yaml")
    }

    static let orgA = OrganizationID("aaaaaaaa-0000-4000-8000-000000000001")
    static let orgB = OrganizationID("bbbbbbbb-0000-4000-8000-000000000002")

    @Test("watch the directories of {file:} credentials; a change concerns the organizations that read the file")
    func credentialWatch() throws {
        let watch = CredentialWatch(try Self.configuration())
        // The API key is not a connection credential; systemd credentials are not files the config names.
        #expect(watch.directories == ["/etc/leen/secrets", "/srv/other"])
        #expect(watch.organizations(changedIn: "/etc/leen/secrets", names: ["t1-secret"]) == [Self.orgA])
        #expect(watch.organizations(changedIn: "/etc/leen/secrets/", names: ["t1-client"]) == [Self.orgA, Self.orgB])
        #expect(watch.organizations(changedIn: "/srv/other", names: ["t2-secret", ".t2-secret.swp"]) == [Self.orgB])
        // An editor's temporary file, or a file of another directory with the same name: nothing.
        #expect(watch.organizations(changedIn: "/etc/leen/secrets", names: [".t1-secret.swp", "4913"]).isEmpty)
        #expect(watch.organizations(changedIn: "/srv/other", names: ["t1-secret"]).isEmpty)
        // A `..data` symlink swap (or an overflow) replaces every file of the directory.
        #expect(watch.organizations(changedIn: "/etc/leen/secrets", names: ["..data"]) == [Self.orgA, Self.orgB])
    }

    @Test("debounce: a burst of changes is taken once, when it has been quiet long enough")
    func debounce() {
        let t0 = ContinuousClock.now
        func at(_ ms: Int64) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }
        var debouncer = Debouncer<String>(quiet: .milliseconds(500))
        #expect(debouncer.deadline == nil && debouncer.isEmpty)
        #expect(debouncer.note(["a"], now: at(0)) == at(500))
        _ = debouncer.note(["a", "b"], now: at(300))
        #expect(debouncer.take(now: at(500)).isEmpty, "a changed again at 300 ms")
        #expect(debouncer.deadline == at(800))
        #expect(debouncer.take(now: at(800)) == ["a", "b"])
        #expect(debouncer.isEmpty && debouncer.take(now: at(5_000)).isEmpty)
        _ = debouncer.note(["a"], now: at(1_000))
        _ = debouncer.note(["b"], now: at(1_400))
        #expect(debouncer.take(now: at(1_500)) == ["a"])
        #expect(debouncer.take(now: at(1_900)) == ["b"])
    }

    // MARK: Provisioning on request

    typealias Machine = SchedulerStateMachine
    static let a = OrganizationID("org-a")
    static let b = OrganizationID("org-b")

    @Test("changed credential files provision their organizations again, in a slot, once more when already provisioning")
    func provisioningRequested() {
        typealias S = SchedulerStateMachineTests
        var machine = Machine(poll: S.poll(interval: .seconds(60), concurrency: 2))
        _ = machine.startProvisioned(organizations: [Self.a, Self.b], now: S.at(0))
        _ = machine.pollFinished(Self.a, .succeeded, jitter: 0.5, now: S.at(1))
        // org-a is idle: provisioned at once. org-b is polling: provisioned when its poll is done.
        #expect(S.provisioned(machine.provisioningRequested([Self.a], now: S.at(2))) == [Self.a])
        #expect(S.provisioned(machine.provisioningRequested([Self.b], now: S.at(2))).isEmpty)
        #expect(S.provisioned(machine.pollFinished(Self.b, .succeeded, jitter: 0.5, now: S.at(3))) == [Self.b])
        // Files change again while org-a is being provisioned: it may have read them before, so once more.
        #expect(S.provisioned(machine.provisioningRequested([Self.a], now: S.at(4))).isEmpty)
        #expect(S.provisioned(machine.provisioningFinished(Self.a, succeeded: true, jitter: 0.5, now: S.at(5))) == [Self.a])
        #expect(S.provisioned(machine.provisioningFinished(Self.a, succeeded: true, jitter: 0.5, now: S.at(6))).isEmpty)
        #expect(machine.provisioningFailures(of: Self.a) == nil)
        // Unknown organizations are ignored.
        #expect(machine.provisioningRequested([OrganizationID("org-z")], now: S.at(6)).allSatisfy {
            if case .startProvisioning = $0 { return false }
            return true
        })
    }
}
