import AsyncHTTPClient
import Foundation
import LeenAPI
import LeenAPIClient
import LeenSimulator
import Testing

@Suite("LeenClient against leen-sim")
struct ClientTests {
    @Test("organizations: create, list, get, delete")
    func organizations() async throws {
        try await withClient(frozenFleet(organizations: 0, connections: 0)) { client, _, _ in
            let created = try await client.createOrganization(.init(name: "Acme", identifier: "acme"))
            #expect(created.name == "Acme")
            #expect(created.identifier == "acme")
            let page = try await client.listOrganizations()
            #expect(page.items.map(\.id) == [created.id])
            #expect(page.total == 1)
            #expect(try await client.getOrganization(created.id) == created)
            let deleted = try await client.deleteOrganization(created.id)
            #expect(deleted?.id == created.id)
            let error = await apiError { _ = try await client.getOrganization(created.id) }
            #expect(error?.kind == .notFound)
            #expect(error?.status == 404)
            #expect(error?.detail == "Organization cannot be found")
        }
    }

    @Test("connections: create, get, patch, test, delete")
    func connectionLifecycle() async throws {
        try await withClient { client, simulator, _ in
            let org = simulator.state.organizationIDs()[0]
            let created = try await client.createConnection(
                organizationID: org,
                .init(
                    vendor: .tenable, credentials: VendorCredentials(["client_key": "ck", "secret_key": "sk"]),
                    identifier: "tenable-prod"))
            #expect(created.state == .pending)
            #expect(created.isActive == false)
            #expect(created.identifier == "tenable-prod")
            #expect(created.health == nil)

            simulator.state.advanceClock(by: 61)
            let fetched = try await client.getConnection(organizationID: org, connectionID: created.id)
            #expect(fetched.state == .active)
            #expect(fetched.health != nil)
            #expect(fetched.organizationName == "Simulated Organization 1")

            let paused = try await client.updateConnection(
                organizationID: org, connectionID: created.id, .init(state: .paused))
            #expect(paused.state == .paused)
            #expect(paused.isActive == false)

            let test = try await client.testConnectionCredentials(organizationID: org, connectionID: created.id)
            #expect(test.isValid == (fetched.health?.name != .unauthorized))

            let deleted = try await client.deleteConnection(organizationID: org, connectionID: created.id)
            #expect(deleted.state == .deleted)
            #expect(deleted.isActive == false)
            #expect(try await client.findConnection(organizationID: org, identifier: "tenable-prod") == nil)
        }
    }

    @Test("OAuth vendors come back PENDING with an authorize URL", arguments: [Vendor.msEntra, .msDefenderVMS])
    func oauthCreate(vendor: Vendor) async throws {
        try await withClient { client, simulator, _ in
            let org = simulator.state.organizationIDs()[0]
            let created = try await client.createConnection(
                organizationID: org, .init(vendor: vendor, identifier: "oauth-\(vendor)"))
            #expect(created.state == .pending)
            let url = try #require(created.oauth2AuthorizeURL)
            #expect(url.contains("/_sim/oauth/authorize?connection_id=\(created.id)"))
        }
    }

    @Test("offset and cursor walks return every connection exactly once", arguments: PaginationMode.allCases)
    func pagination(mode: PaginationMode) async throws {
        try await withClient(frozenFleet(organizations: 1, connections: 23)) { client, simulator, recorder in
            let org = simulator.state.organizationIDs()[0]
            var pages: [Page<Connection>] = []
            for try await page in client.connectionPages(organizationID: org, pageSize: 5, mode: mode) {
                pages.append(page)
            }
            #expect(pages.map(\.items.count) == [5, 5, 5, 5, 3])
            let ids = pages.flatMap(\.items).map(\.id)
            #expect(ids.count == 23)
            #expect(Set(ids).count == 23)
            #expect(pages.allSatisfy { $0.isCursorPage == (mode == .cursor) })
            #expect(recorder.count("list_connections") == 5)
        }
    }

    @Test("cursor mode still walks everything when the server ignores enableCursor")
    func cursorFallback() async throws {
        var config = frozenFleet(organizations: 1, connections: 12)
        config.cursorSupport = false
        try await withClient(config) { client, simulator, _ in
            let org = simulator.state.organizationIDs()[0]
            let all = try await client.allConnections(organizationID: org, pageSize: 5, mode: .cursor).items
            #expect(Set(all.map(\.id)).count == 12)
        }
    }

    @Test("minimal cursor envelope (items and cursors only) is walked to the end")
    func minimalCursorEnvelope() async throws {
        var config = frozenFleet(organizations: 1, connections: 11)
        config.cursorEnvelope = .minimal
        try await withClient(config) { client, simulator, _ in
            let org = simulator.state.organizationIDs()[0]
            var counts: [Int?] = []
            var total = 0
            for try await page in client.connectionPages(organizationID: org, pageSize: 4, mode: .cursor) {
                counts.append(page.count)
                total += page.items.count
            }
            #expect(total == 11)
            #expect(counts == [nil, nil, nil])
        }
    }

    @Test("401 maps to .unauthorized with Leen's detail")
    func unauthorized() async throws {
        try await withClient(key: "wrong-key") { client, _, recorder in
            let error = try #require(await apiError { _ = try await client.listOrganizations() })
            #expect(error.kind == .unauthorized)
            #expect(error.status == 401)
            #expect(error.detail == "Invalid API key")
            #expect(error.attempts == 1)
            #expect(recorder.all.count == 1)
        }
    }

    @Test("expired key maps to .unauthorized and is not retried")
    func expiredKey() async throws {
        try await withClient { client, simulator, recorder in
            simulator.state.expireAPIKey(testKey)
            let error = try #require(await apiError { _ = try await client.listOrganizations() })
            #expect(error.kind == .unauthorized)
            #expect(error.detail == "API key has expired")
            #expect(recorder.all.count == 1)
        }
    }

    @Test("404 for an unknown connection")
    func notFound() async throws {
        try await withClient { client, simulator, _ in
            let org = simulator.state.organizationIDs()[0]
            let error = try #require(
                await apiError {
                    _ = try await client.getConnection(
                        organizationID: org, connectionID: "3c90c3cc-0d44-4b50-8888-8dd25736052a")
                })
            #expect(error.kind == .notFound)
            #expect(error.detail == "Connection cannot be found")
            #expect(error.operation == "get_connection_by_id")
        }
    }

    @Test("422 carries field locations")
    func validation() async throws {
        try await withClient { client, simulator, _ in
            let org = simulator.state.organizationIDs()[0]
            let error = try #require(
                await apiError {
                    _ = try await client.createConnection(
                        organizationID: org,
                        .init(vendor: .tenable, credentials: VendorCredentials(["client_key": "only-this"])))
                })
            #expect(error.kind == .validation)
            #expect(error.validationIssues.map(\.description) == ["body.credentials.secret_key: Field required"])
            #expect(error.description.contains("body.credentials.secret_key: Field required"))

            let badID = try #require(await apiError { _ = try await client.getOrganization("not-a-uuid") })
            #expect(badID.kind == .validation)
            #expect(badID.validationIssues.first?.loc == ["path", "organization_id"])
            #expect(badID.validationIssues.first?.type == "uuid_parsing")
        }
    }

    @Test("429 with Retry-After is waited out, then the call succeeds")
    func retryAfter429() async throws {
        try await withClient { client, simulator, recorder in
            simulator.state.enqueueFaults([QueuedFault(kind: .status, status: 429, retryAfter: "1")])
            let started = ContinuousClock.now
            let page = try await client.listOrganizations()
            let elapsed = ContinuousClock.now - started
            #expect(page.items.count == 2)
            #expect(elapsed >= .seconds(1))
            let events = recorder.all
            #expect(events.map(\.status) == [429, 200])
            #expect(events[0].retryDelay == .seconds(1))
            #expect(events[0].honouredRetryAfter)
        }
    }

    @Test("Retry-After as an HTTP date is honoured")
    func retryAfterDate() async throws {
        try await withClient { client, simulator, recorder in
            // Whole seconds: the header cannot say less than 1 s more or less. The date is far enough ahead that
            // a loaded machine (a parallel run on 2 cores was seen to delay the request by over 9 s) still
            // parses it as in the future; the delay is then between 1 s and the whole offset.
            let date = Date().addingTimeInterval(30)
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            simulator.state.enqueueFaults([
                QueuedFault(kind: .status, status: 503, retryAfter: formatter.string(from: date))
            ])
            _ = try await client.listOrganizations()
            let delay = try #require(recorder.all.first?.retryDelay)
            #expect(delay >= .seconds(1) && delay <= .seconds(31), "delay \(delay)")
            #expect(recorder.all.first?.honouredRetryAfter == true)
        }
    }

    @Test("a Retry-After beyond the policy's limit fails at once, carrying the delay")
    func retryAfterTooLong() async throws {
        try await withClient(retry: RetryPolicy(maximumRetryAfter: .seconds(5))) { client, simulator, recorder in
            simulator.state.enqueueFaults([QueuedFault(kind: .status, status: 429, retryAfter: "3600")])
            let error = try #require(await apiError { _ = try await client.listOrganizations() })
            #expect(error.kind == .rateLimited)
            #expect(error.retryAfter == .seconds(3600))
            #expect(recorder.all.count == 1)
        }
    }

    @Test("5xx is retried with backoff; attempts are bounded")
    func serverErrors() async throws {
        try await withClient(retry: RetryPolicy(maximumAttempts: 3, baseDelay: .milliseconds(5))) {
            client, simulator, recorder in
            simulator.state.enqueueFaults([
                QueuedFault(kind: .status, status: 503), QueuedFault(kind: .status, status: 502),
            ])
            _ = try await client.listOrganizations()
            #expect(recorder.all.map(\.status) == [503, 502, 200])

            simulator.state.enqueueFaults(Array(repeating: QueuedFault(kind: .status, status: 500), count: 3))
            let error = try #require(await apiError { _ = try await client.listOrganizations() })
            #expect(error.kind == .server)
            #expect(error.status == 500)
            #expect(error.attempts == 3)
        }
    }

    @Test("a closed connection is a transport error, retried for GET")
    func closedConnection() async throws {
        try await withClient { client, simulator, recorder in
            simulator.state.enqueueFaults([QueuedFault(kind: .close)])
            _ = try await client.listOrganizations()
            #expect(recorder.all.map(\.errorKind) == [.transport, nil])
        }
    }

    @Test("truncated and non-JSON bodies are .malformedResponse", arguments: [QueuedFault.Kind.truncate, .malformed])
    func malformed(kind: QueuedFault.Kind) async throws {
        try await withClient { client, simulator, _ in
            simulator.state.enqueueFaults([QueuedFault(kind: kind)])
            let error = try #require(await apiError { _ = try await client.listOrganizations() })
            #expect(error.kind == .malformedResponse)
            #expect(error.status == 200)
        }
    }

    @Test(
        "a response that never comes, or stalls after its head and half its body, times out within the request timeout",
        arguments: [QueuedFault.Kind.hang, .stallBody])
    func stalledResponse(kind: QueuedFault.Kind) async throws {
        try await withClient(retry: .none, timeout: .milliseconds(500)) { client, simulator, _ in
            simulator.state.enqueueFaults([QueuedFault(kind: kind, hangSecs: 30)])
            let started = ContinuousClock.now
            let error = try #require(await apiError { _ = try await client.listOrganizations() })
            let elapsed = ContinuousClock.now - started
            #expect(error.kind == .timeout)
            // Not a timing test: the deadline ends the call long before the 30 s stall would, however loaded
            // the machine (a parallel test run on 2 cores was seen to delay it by seconds).
            #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(20))
        }
    }

    @Test("a create whose response was lost is found by identifier, not made twice")
    func createLostResponse() async throws {
        try await withClient { client, simulator, recorder in
            let org = simulator.state.organizationIDs()[0]
            simulator.state.enqueueFaults([QueuedFault(kind: .dropResponse, pathContains: "/connections")])
            let created = try await client.createConnection(
                organizationID: org, .init(vendor: .msEntra, identifier: "entra-once"))
            #expect(created.identifier == "entra-once")
            #expect(recorder.count("create_connection") == 1)
            let all = try await client.allConnections(organizationID: org).items
            #expect(all.filter { $0.identifier == "entra-once" }.count == 1)
        }
    }

    @Test("a create that failed with 503 is looked up, then sent again once")
    func createRetriedAfterLookup() async throws {
        try await withClient { client, simulator, recorder in
            let org = simulator.state.organizationIDs()[0]
            simulator.state.enqueueFaults([QueuedFault(kind: .status, status: 503, pathContains: "/connections")])
            let created = try await client.createConnection(
                organizationID: org, .init(vendor: .msEntra, identifier: "entra-retry"))
            #expect(created.identifier == "entra-retry")
            #expect(recorder.count("create_connection") == 2)
            #expect(recorder.count("list_connections") >= 1)
            let all = try await client.allConnections(organizationID: org).items
            #expect(all.filter { $0.identifier == "entra-retry" }.count == 1)
        }
    }

    @Test("a create without identifier is never retried")
    func createWithoutIdentifier() async throws {
        try await withClient { client, simulator, recorder in
            let org = simulator.state.organizationIDs()[0]
            simulator.state.enqueueFaults([QueuedFault(kind: .status, status: 503, pathContains: "/connections")])
            let error = try #require(
                await apiError {
                    _ = try await client.createConnection(organizationID: org, .init(vendor: .msEntra))
                })
            #expect(error.kind == .server)
            #expect(error.attempts == 1)
            #expect(recorder.count("create_connection") == 1)
            #expect(recorder.count("list_connections") == 0)
        }
    }

    @Test("unknown health names from the server are kept")
    func unknownValues() async throws {
        try await withClient { client, simulator, _ in
            let org = simulator.state.organizationIDs()[0]
            let first = try await client.listConnections(organizationID: org).items[0]
            try simulator.state.setHealth(
                first.id.rawValue,
                ConnectionHealthStatus(
                    name: "QUOTA_EXHAUSTED", status: "DEGRADED", description: "new", resolutionOwner: "PARTNER",
                    details: [HealthDetail(endpoint: "https://x.example", dataExportType: "posture")]))
            let fetched = try await client.getConnection(organizationID: org, connectionID: first.id)
            let health = try #require(fetched.health)
            #expect(health.name.rawValue == "QUOTA_EXHAUSTED")
            #expect(!health.name.isDocumented)
            #expect(health.status.rawValue == "DEGRADED")
            #expect(health.resolutionOwner.rawValue == "PARTNER")
            #expect(health.details?.first?.dataExportType.rawValue == "posture")
        }
    }

    @Test("the API key appears in no error, description or event")
    func keyNeverLeaks() async throws {
        var descriptions: [String] = []
        try await withClient(retry: RetryPolicy(maximumAttempts: 2, baseDelay: .milliseconds(1))) {
            client, simulator, recorder in
            let org = simulator.state.organizationIDs()[0]
            simulator.state.enqueueFaults([
                QueuedFault(kind: .status, status: 500), QueuedFault(kind: .status, status: 500),
                QueuedFault(kind: .close), QueuedFault(kind: .close), QueuedFault(kind: .truncate),
            ])
            var errors: [LeenAPIError] = []
            for _ in 0..<3 {
                if let error = await apiError({ _ = try await client.listOrganizations() }) { errors.append(error) }
            }
            if let error = await apiError({ _ = try await client.getOrganization("nope") }) { errors.append(error) }
            if let error = await apiError({
                _ = try await client.createConnection(organizationID: org, .init(vendor: .tenable))
            }) { errors.append(error) }
            #expect(errors.count == 5)
            simulator.state.expireAPIKey(testKey)
            if let error = await apiError({ _ = try await client.listOrganizations() }) { errors.append(error) }
            for error in errors {
                descriptions += [error.description, String(reflecting: error), "\(error)"]
                var dumped = ""
                dump(error, to: &dumped)
                descriptions.append(dumped)
            }
            descriptions += recorder.all.map { String(reflecting: $0) }
            var dumpedConfig = ""
            dump(client.configuration, to: &dumpedConfig)
            descriptions += [dumpedConfig, String(reflecting: client.configuration)]
        }
        #expect(descriptions.count > 20)
        for text in descriptions {
            #expect(!text.contains(testKey), "key leaked in: \(text)")
        }
    }
}
