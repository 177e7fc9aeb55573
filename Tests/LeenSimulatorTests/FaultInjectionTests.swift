import Foundation
import LeenAPI
import LeenSimulator
import NIOCore
import Testing

@Suite("Fault injection")
struct FaultInjectionTests {
    static func faults(_ configure: (inout FaultSettings) -> Void) -> FaultSettings {
        var settings = FaultSettings()
        configure(&settings)
        return settings
    }

    @Test("A queued 429 carries Retry-After exactly as queued, in seconds", arguments: ["17", "0", "120"])
    func queued429Seconds(retryAfter: String) async throws {
        try await withSimulator { sim async throws in
            sim.state.enqueueFaults([QueuedFault(kind: .status, status: 429, retryAfter: retryAfter)])
            let reply = try await sim.get(organizationsPath)
            #expect(try detailMessage(reply, status: 429) == "Too Many Requests")
            #expect(reply.header("Retry-After") == retryAfter)
            // One-shot: the next request is normal.
            let next = try await sim.get(organizationsPath)
            #expect(next.status == 200)
            #expect(next.header("Retry-After") == nil)
        }
    }

    @Test("A queued empty listing waits for a first page: a later page of a walk in progress is served as usual")
    func emptyListingWaitsForAFirstPage() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            for index in 0..<3 { _ = try await sim.createTenable(organization, identifier: "t\(index)") }
            sim.state.enqueueFaults([QueuedFault(kind: .listing, pathContains: "/connections", listing: .empty)])
            func read(_ query: String) async throws -> Page<Connection> {
                let reply = try await sim.get(connectionsPath(organization) + query)
                return try JSONDecoder().decode(Page<Connection>.self, from: reply.body)
            }
            let second = try await read("?limit=2&offset=2")
            #expect(second.items.count == 1 && second.total == 3)
            let first = try await read("?limit=2")
            #expect(first.items.isEmpty && first.total == 0)
            let next = try await read("?limit=2")
            #expect(next.items.count == 2 && next.total == 3, "one-shot")
        }
    }

    @Test("A queued 429 carries an HTTP-date Retry-After verbatim")
    func queued429Date() async throws {
        try await withSimulator { sim async throws in
            let date = "Wed, 21 Oct 2015 07:28:00 GMT"
            sim.state.enqueueFaults([QueuedFault(kind: .status, status: 429, retryAfter: date)])
            let reply = try await sim.get(organizationsPath)
            #expect(reply.status == 429)
            #expect(reply.header("Retry-After") == date)
        }
    }

    @Test("A queued 503 is answered with 503 and no Retry-After; queued faults fire in order")
    func queued503() async throws {
        try await withSimulator { sim async throws in
            sim.state.enqueueFaults([
                QueuedFault(kind: .status, status: 503), QueuedFault(kind: .status, status: 429, retryAfter: "2"),
                QueuedFault(kind: .status),
            ])
            let first = try await sim.get(organizationsPath)
            #expect(try detailMessage(first, status: 503) == "Service Unavailable")
            #expect(first.header("Retry-After") == nil)
            #expect(try await sim.get(organizationsPath).status == 429)
            // A status fault without a status is a 503.
            #expect(try await sim.get(organizationsPath).status == 503)
            #expect(try await sim.get(organizationsPath).status == 200)
            #expect(sim.state.summary().queuedFaults.isEmpty)
        }
    }

    @Test("Faults come before authentication, as from a proxy in front")
    func faultBeforeAuth() async throws {
        try await withSimulator { sim async throws in
            sim.state.enqueueFaults([QueuedFault(kind: .status, status: 503)])
            #expect(try await sim.get(organizationsPath, key: nil).status == 503)
            #expect(try await sim.get(organizationsPath, key: nil).status == 401)
        }
    }

    @Test("A queued close is a transport error, not a response; the server carries on")
    func queuedClose() async throws {
        try await withSimulator { sim async throws in
            sim.state.enqueueFaults([QueuedFault(kind: .close)])
            await #expect(throws: (any Error).self) {
                let reply = try await sim.get(organizationsPath)
                Issue.record("got a response instead of a transport error: \(reply)")
            }
            #expect(try await sim.get(organizationsPath).status == 200)
        }
    }

    @Test("A queued truncate is 200 with the JSON cut to half its length")
    func queuedTruncate() async throws {
        try await withSimulator(.frozen { $0.organizations = 5 }) { sim async throws in
            let full = try await sim.get(organizationsPath)
            #expect(full.isValidJSON)
            sim.state.enqueueFaults([QueuedFault(kind: .truncate)])
            let cut = try await sim.get(organizationsPath)
            #expect(cut.status == 200)
            #expect(cut.body.count == full.body.count / 2)
            #expect(full.body.starts(with: cut.body))
            #expect(!cut.isValidJSON)
            #expect(try await sim.get(organizationsPath).body == full.body)
        }
    }

    @Test("A queued malformed response is 200 with a body that is not JSON")
    func queuedMalformed() async throws {
        try await withSimulator { sim async throws in
            sim.state.enqueueFaults([QueuedFault(kind: .malformed)])
            let reply = try await sim.get(organizationsPath)
            #expect(reply.status == 200)
            #expect(!reply.body.isEmpty)
            #expect(!reply.isValidJSON)
            #expect(try await sim.get(organizationsPath).isValidJSON)
        }
    }

    @Test("A hanging request times out the client, and the simulator still stops promptly")
    func hang() async throws {
        let clock = ContinuousClock()
        let bodyEnded = try await withSimulator { sim async throws in
            sim.state.enqueueFaults([QueuedFault(kind: .hang, hangSecs: 120)])
            let start = clock.now
            await #expect(throws: (any Error).self) {
                _ = try await sim.send("GET", organizationsPath, timeout: .seconds(1))
            }
            let waited = clock.now - start
            #expect(waited >= .milliseconds(900))
            #expect(waited < .seconds(10))
            // The hang is one-shot; another request is served while the first still hangs.
            #expect(try await sim.get(organizationsPath).status == 200)
            return clock.now
        }
        let shutdown = clock.now - bodyEnded
        // Promptly means "not after hang_secs (30 s here)"; a loaded 2-core machine needs a few seconds.
        #expect(shutdown < .seconds(10), "withRunning took \(shutdown) to return")
    }

    @Test("A short hang delays a normal answer")
    func shortHang() async throws {
        try await withSimulator { sim async throws in
            sim.state.enqueueFaults([QueuedFault(kind: .hang, hangSecs: 0.4)])
            let clock = ContinuousClock()
            let start = clock.now
            let reply = try await sim.get(organizationsPath)
            #expect(clock.now - start >= .milliseconds(400))
            #expect(reply.status == 200)
            #expect(reply.isValidJSON)
        }
    }

    @Test("latencyMs adds at least that delay to every /v1 request")
    func latency() async throws {
        try await withSimulator(.frozen { $0.faults.latencyMs = 300 }) { sim async throws in
            let clock = ContinuousClock()
            for _ in 0..<2 {
                let start = clock.now
                let reply = try await sim.get(organizationsPath)
                #expect(clock.now - start >= .milliseconds(300))
                #expect(reply.status == 200)
            }
            sim.state.setFaults(Self.faults { $0.latencyMs = 150; $0.latencyJitterMs = 100 })
            let start = clock.now
            #expect(try await sim.get(organizationsPath).status == 200)
            #expect(clock.now - start >= .milliseconds(150))
        }
    }

    @Test("pathContains limits rate faults to matching paths")
    func pathContainsRates() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            sim.state.setFaults(Self.faults { $0.errorRate = 1; $0.errorStatus = 500; $0.pathContains = "/connections" })
            for _ in 0..<3 {
                #expect(try await sim.get(organizationPath(organization)).status == 200)
                #expect(try await sim.get(organizationsPath).status == 200)
                #expect(try await sim.get(connectionsPath(organization)).status == 500)
                #expect(try await sim.post(connectionsPath(organization), tenableBody()).status == 500)
            }
        }
    }

    @Test("pathContains on a queued fault waits for a matching request")
    func pathContainsQueued() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let connection = try await sim.createTenable(organization)
            sim.state.enqueueFaults([QueuedFault(kind: .status, status: 418, pathContains: "/test")])
            #expect(try await sim.get(organizationPath(organization)).status == 200)
            #expect(try await sim.get(connectionPath(organization, connection)).status == 200)
            #expect(sim.state.summary().queuedFaults.count == 1)
            #expect(try await sim.get(connectionPath(organization, connection) + "/test").status == 418)
            #expect(try await sim.get(connectionPath(organization, connection) + "/test").status == 200)
        }
    }

    @Test("Rates of 1.0 always fire")
    func ratesOfOne() async throws {
        try await withSimulator { sim async throws in
            sim.state.setFaults(Self.faults { $0.errorRate = 1 })
            for _ in 0..<6 { #expect(try await sim.get(organizationsPath).status == 503) }

            sim.state.setFaults(Self.faults { $0.errorRate = 1; $0.errorStatus = 502 })
            for _ in 0..<6 {
                #expect(try detailMessage(try await sim.get(organizationsPath), status: 502) == "Bad Gateway")
            }

            sim.state.setFaults(Self.faults { $0.rateLimitRate = 1; $0.retryAfterSecs = 9 })
            for _ in 0..<6 {
                let reply = try await sim.get(organizationsPath)
                #expect(reply.status == 429)
                #expect(reply.header("Retry-After") == "9")
            }

            sim.state.setFaults(Self.faults { $0.truncateRate = 1 })
            for _ in 0..<6 {
                let reply = try await sim.get(organizationsPath)
                #expect(reply.status == 200)
                #expect(!reply.isValidJSON)
            }

            sim.state.setFaults(Self.faults { $0.malformedRate = 1 })
            for _ in 0..<6 {
                let reply = try await sim.get(organizationsPath)
                #expect(reply.status == 200)
                #expect(!reply.isValidJSON)
            }

            sim.state.setFaults(Self.faults { $0.closeRate = 1 })
            for _ in 0..<4 {
                await #expect(throws: (any Error).self) { _ = try await sim.get(organizationsPath) }
            }

            sim.state.resetFaults()
            for _ in 0..<3 { #expect(try await sim.get(organizationsPath).status == 200) }
        }
    }

    @Test("Rates of 0 never fire, and a mixed rate fires sometimes")
    func partialRates() async throws {
        try await withSimulator(.frozen { $0.faults.errorRate = 0.5 }) { sim async throws in
            var statuses: [Int] = []
            for _ in 0..<40 { statuses.append(try await sim.get(organizationsPath).status) }
            #expect(Set(statuses) == [200, 503])
        }
    }

    @Test("Faults never apply to /_sim, and /_sim requests do not consume queued faults")
    func neverOnControlAPI() async throws {
        try await withSimulator { sim async throws in
            sim.state.setFaults(Self.faults { $0.errorRate = 1; $0.latencyMs = 0 })
            for path in ["/_sim/state", "/_sim/faults", "/_sim/organizations"] {
                let reply = try await sim.get(path, key: nil)
                #expect(reply.status == 200, "\(path)")
                #expect(reply.isValidJSON, "\(path)")
            }
            sim.state.setFaults(Self.faults { $0.truncateRate = 1 })
            #expect(try await sim.get("/_sim/state", key: nil).isValidJSON)
            sim.state.setFaults(Self.faults { $0.closeRate = 1 })
            #expect(try await sim.get("/_sim/state", key: nil).status == 200)

            sim.state.resetFaults()
            sim.state.enqueueFaults([QueuedFault(kind: .status, status: 500)])
            for _ in 0..<3 { #expect(try await sim.get("/_sim/state", key: nil).status == 200) }
            let state = try #require(try await sim.get("/_sim/state", key: nil).json)
            #expect(state["queued_faults"]?.arrayValue?.count == 1)
            #expect(try await sim.get(organizationsPath).status == 500)
        }
    }

    @Test("Faults configured at start are active from the first request")
    func faultsFromConfiguration() async throws {
        try await withSimulator(.frozen { $0.faults.rateLimitRate = 1; $0.faults.retryAfterSecs = 4 }) { sim async throws in
            let reply = try await sim.get(organizationsPath)
            #expect(reply.status == 429)
            #expect(reply.header("Retry-After") == "4")
        }
    }

    @Test("Faults set and queued through the control API")
    func faultsThroughControlAPI() async throws {
        try await withSimulator { sim async throws in
            let put = try await sim.send(
                "PUT", "/_sim/faults", body: #"{"error_rate":1,"error_status":504,"path_contains":"/organizations"}"#,
                key: nil)
            #expect(put.status == 200)
            #expect(put.json?["error_status"]?.intValue == 504)
            #expect(put.json?["rate_limit_rate"]?.doubleValue == 0)
            let shown = try #require(try await sim.get("/_sim/faults", key: nil).json)
            #expect(shown["path_contains"]?.stringValue == "/organizations")
            #expect(try await sim.get(organizationsPath).status == 504)

            #expect(try await sim.delete("/_sim/faults", key: nil).status == 200)
            #expect(try await sim.get(organizationsPath).status == 200)

            // One fault or an array of them.
            let one = try await sim.post(
                "/_sim/faults/queue", #"{"kind":"status","status":429,"retry_after":"30"}"#, key: nil)
            #expect(one.status == 200)
            let many = try await sim.post(
                "/_sim/faults/queue", #"[{"kind":"status","status":502},{"kind":"malformed"}]"#, key: nil)
            #expect(many.status == 200)
            let limited = try await sim.get(organizationsPath)
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") == "30")
            #expect(try await sim.get(organizationsPath).status == 502)
            let malformed = try await sim.get(organizationsPath)
            #expect(malformed.status == 200 && !malformed.isValidJSON)

            let bad = try await sim.post("/_sim/faults/queue", #"{"kind":"explode"}"#, key: nil)
            #expect(try detailMessage(bad, status: 400).hasPrefix("invalid body"))
        }
    }
}
